/* addrtab - per address counters shared by a service's processes (see
 * addrtab.h) */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "addrtab.h"

struct addrtab {
	pthread_mutex_t lock;
	struct addrtab_ent ent[ADDRTAB_SLOTS];
};

/* addrtab_create - see addrtab.h */
struct addrtab *
addrtab_create(void)
{
	pthread_mutexattr_t attr;
	struct addrtab *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return NULL;
	/* the mapping comes zeroed: every slot unused */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (pthread_mutex_init(&t->lock, &attr) != 0) {
		pthread_mutexattr_destroy(&attr);
		munmap(t, sizeof(*t));
		return NULL;
	}
	pthread_mutexattr_destroy(&attr);
	return t;
}

void
addrtab_lock(struct addrtab *t)
{
	pthread_mutex_lock(&t->lock);
}

void
addrtab_unlock(struct addrtab *t)
{
	pthread_mutex_unlock(&t->lock);
}

/* addrtab_find - see addrtab.h */
struct addrtab_ent *
addrtab_find(struct addrtab *t, const char *addr, bool create,
	     bool (*reusable)(const struct addrtab_ent *e))
{
	unsigned h = 2166136261u;
	struct addrtab_ent *free_ent = NULL, *victim = NULL;

	for (const char *c = addr; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (unsigned i = 0; i < ADDRTAB_PROBE; i++) {
		struct addrtab_ent *e = &t->ent[(h + i) % ADDRTAB_SLOTS];
		if (e->addr[0] != '\0' && strcmp(e->addr, addr) == 0)
			return e;
		if (free_ent == NULL && (e->addr[0] == '\0' || e->n == 0))
			free_ent = e;
		if (victim == NULL && reusable != NULL && e->addr[0] != '\0' &&
		    reusable(e))
			victim = e;
	}
	if (!create)
		return NULL;
	if (free_ent == NULL)
		free_ent = victim;
	if (free_ent != NULL) {
		snprintf(free_ent->addr, sizeof(free_ent->addr), "%s", addr);
		free_ent->n = 0;
		free_ent->last = 0;
	}
	return free_ent;
}
