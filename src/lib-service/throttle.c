/* throttle - failed logins per client address, for every login service */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netaddr.h"
#include "settings.h"
#include "throttle.h"
#include "xalloc.h"

#define BUCKETS 1024

struct fail_entry {
	struct fail_entry *next;
	char addr[64];
	int count;
	time_t last;
};

static struct fail_entry *table[BUCKETS];
static size_t entries;

/* find - the slot of addr's entry (or where it would go); drops expired
 * entries of the bucket on the way */
static struct fail_entry **
find(const struct sockaddr *sa, char *addr, size_t size)
{
	unsigned h = 2166136261u;
	time_t now = time(NULL);
	struct fail_entry **pp;

	sockaddr_ntop(sa, addr, size);
	for (const char *c = addr; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	pp = &table[h % BUCKETS];
	while (*pp != NULL) {
		struct fail_entry *e = *pp;
		if (now - e->last > THROTTLE_WINDOW) {
			*pp = e->next;
			free(e);
			entries--;
			continue;
		}
		if (strcmp(e->addr, addr) == 0)
			return pp;
		pp = &e->next;
	}
	return pp;
}

/* forget_stalest - make room in a full table */
static void
forget_stalest(void)
{
	struct fail_entry **oldest = NULL;

	for (size_t b = 0; b < BUCKETS; b++)
		for (struct fail_entry **pp = &table[b]; *pp; pp = &(*pp)->next)
			if (oldest == NULL || (*pp)->last < (*oldest)->last)
				oldest = pp;
	if (oldest != NULL) {
		struct fail_entry *e = *oldest;
		*oldest = e->next;
		free(e);
		entries--;
	}
}

bool
throttle_blocked(struct service *svc, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = find(sa, addr, sizeof(addr));
	int max = (int)settings_get_int(svc->db, "auth.max_failures", 10);

	return *pp != NULL && (*pp)->count >= max;
}

void
throttle_failed(struct service *svc, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = find(sa, addr, sizeof(addr));

	if (*pp == NULL) {
		if (entries >= THROTTLE_MAX) {
			forget_stalest();
			pp = find(sa, addr, sizeof(addr));
		}
		*pp = xcalloc(1, sizeof(**pp));
		snprintf((*pp)->addr, sizeof((*pp)->addr), "%s", addr);
		entries++;
	}
	(*pp)->count++;
	(*pp)->last = time(NULL);
}

void
throttle_ok(struct service *svc, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp = find(sa, addr, sizeof(addr));

	if (*pp != NULL) {
		struct fail_entry *e = *pp;
		*pp = e->next;
		free(e);
		entries--;
	}
}

void
throttle_reset(void)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		while (table[b] != NULL) {
			struct fail_entry *e = table[b];
			table[b] = e->next;
			free(e);
		}
	}
	entries = 0;
}
