#ifndef POSTERN_ADDRTAB_H
#define POSTERN_ADDRTAB_H

/* addrtab - per client address counters in shared memory, so that the
 * pre-forked processes of a service (service_def.processes_setting) count
 * together: connections per address (service.c) and failed logins
 * (throttle.c). A fixed table mapped before the fork, one process-shared
 * mutex; an address lives in one of ADDRTAB_PROBE slots from its hash.
 * A dead process restarts the whole service, so nothing held by it
 * outlives the table. */

#include <stdbool.h>
#include <time.h>

#define ADDRTAB_SLOTS 16384
#define ADDRTAB_PROBE 64
#define ADDRTAB_KEY_MAX 96   /* an address, or "m<mailbox id>/<address>" */

struct addrtab_ent {
	char addr[ADDRTAB_KEY_MAX]; /* "" : never used */
	int n;               /* the caller's count; 0: free for reuse */
	time_t last;         /* the caller's time */
};

struct addrtab;

/* addrtab_create - a shared table (MAP_SHARED | MAP_ANONYMOUS): create
 * it before fork. NULL on failure. */
struct addrtab *addrtab_create(void);
void addrtab_lock(struct addrtab *t);
void addrtab_unlock(struct addrtab *t);
/* addrtab_find - (locked) the entry of addr; with create, a free one for
 * it (n 0) when it has none: a slot with n 0, else the one that
 * reusable() picks (may be NULL: none), else NULL (all probed slots
 * busy). */
struct addrtab_ent *addrtab_find(struct addrtab *t, const char *addr,
				 bool create,
				 bool (*reusable)(const struct addrtab_ent *e));

#endif
