/* throttle - failed logins per client address, for every login service */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrtab.h"
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
static struct addrtab *shared;   /* pre-forked processes: one table */

/* throttle_share - see throttle.h */
int
throttle_share(void)
{
	shared = addrtab_create();
	return shared != NULL ? 0 : -1;
}

/* expired - a shared entry whose failures are forgotten */
static bool
expired(const struct addrtab_ent *e)
{
	return time(NULL) - e->last > THROTTLE_WINDOW;
}

enum shared_op { SH_BLOCKED, SH_FAILED, SH_OK };

/* shared_update - blocked, failed and ok on the shared table */
static bool
shared_update(const struct sockaddr *sa, enum shared_op op, int max)
{
	char addr[64];
	bool blocked = false;
	struct addrtab_ent *e;

	sockaddr_ntop(sa, addr, sizeof(addr));
	addrtab_lock(shared);
	e = addrtab_find(shared, addr, op == SH_FAILED, expired);
	if (e != NULL && e->n > 0 && expired(e))
		e->n = 0;
	if (e != NULL && op == SH_BLOCKED) {
		blocked = e->n > 0 && e->n >= max;
	} else if (e != NULL && op == SH_FAILED) {
		e->n++;
		e->last = time(NULL);
	} else if (e != NULL) {
		e->n = 0;
	}
	addrtab_unlock(shared);
	return blocked;
}

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
	struct fail_entry **pp;
	int max = (int)service_settings(svc)->auth_max_failures;

	if (shared != NULL)
		return shared_update(sa, SH_BLOCKED, max);
	pp = find(sa, addr, sizeof(addr));

	return *pp != NULL && (*pp)->count >= max;
}

void
throttle_failed(struct service *svc, const struct sockaddr *sa)
{
	char addr[64];
	struct fail_entry **pp;

	if (shared != NULL) {
		(void)shared_update(sa, SH_FAILED, 0);
		return;
	}
	pp = find(sa, addr, sizeof(addr));

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
	struct fail_entry **pp;

	if (shared != NULL) {
		(void)shared_update(sa, SH_OK, 0);
		return;
	}
	pp = find(sa, addr, sizeof(addr));

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
