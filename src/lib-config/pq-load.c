/* pq-load - libpq on first use (pq-load.h says why) */
#define PQ_LOAD_SELF
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "pq-load.h"

struct pq_api pq_api;

int
pq_load(const char **error_r)
{
	static int state;   /* 0 not tried, 1 loaded, -1 failed */
	static char err[300];

	if (state != 0) {
		*error_r = err;
		return state > 0 ? 0 : -1;
	}
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, sizeof(err), "the config store is PostgreSQL but "
		    "libpq cannot be loaded (install the libpq5 package): %s",
		    dlerror());
		state = -1;
		*error_r = err;
		return -1;
	}
	/* dlsym's void * to a function pointer: POSIX allows it; the
	 * memcpy keeps -Wpedantic quiet */
#define PQ_RESOLVE(f) { \
		void *p = dlsym(h, #f); \
		if (p == NULL) { \
			snprintf(err, sizeof(err), "libpq.so.5 lacks %s", #f); \
			state = -1; \
			*error_r = err; \
			return -1; \
		} \
		memcpy(&pq_api.f, &p, sizeof(p)); \
	}
	PQ_FUNCS(PQ_RESOLVE)
#undef PQ_RESOLVE
	state = 1;
	return 0;
}
