/* throttle - failed AUTH attempts per client address (auth.max_failures) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netaddr.h"
#include "settings.h"
#include "smtpd.h"
#include "xalloc.h"

#define FAIL_BUCKETS 1024
#define FAIL_WINDOW (15 * 60)   /* failures are forgotten after this */

struct fail_entry {
	struct fail_entry *next;
	char addr[64];
	int count;
	time_t last;
};

static struct fail_entry *fail_table[FAIL_BUCKETS];

/* fail_find - the slot of addr's entry (or where it would go); drops
 * expired entries on the way */
static struct fail_entry **
fail_find(const struct sockaddr *sa, char *addr, size_t size)
{
	unsigned h = 2166136261u;
	time_t now = time(NULL);

	sockaddr_ntop(sa, addr, size);
	for (const char *c = addr; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	struct fail_entry **pp = &fail_table[h % FAIL_BUCKETS];
	while (*pp != NULL) {
		struct fail_entry *e = *pp;
		if (now - e->last > FAIL_WINDOW) {
			*pp = e->next;
			free(e);
			continue;
		}
		if (strcmp(e->addr, addr) == 0)
			return pp;
		pp = &e->next;
	}
	return pp;
}

bool
smtpd_auth_throttled(struct smtpd *sd, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = fail_find(sa, addr, sizeof(addr));
	int max = (int)settings_get_int(sd->svc->db, "auth.max_failures", 10);

	return *pp != NULL && (*pp)->count >= max;
}

void
smtpd_auth_failed(struct smtpd *sd, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = fail_find(sa, addr, sizeof(addr));

	if (*pp == NULL) {
		*pp = xcalloc(1, sizeof(**pp));
		snprintf((*pp)->addr, sizeof((*pp)->addr), "%s", addr);
	}
	(*pp)->count++;
	(*pp)->last = time(NULL);
}

void
smtpd_auth_ok(struct smtpd *sd, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = fail_find(sa, addr, sizeof(addr));

	if (*pp != NULL) {
		struct fail_entry *e = *pp;
		*pp = e->next;
		free(e);
	}
}
