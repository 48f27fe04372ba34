#ifndef POSTERN_MILTERSPEC_H
#define POSTERN_MILTERSPEC_H

#include <stddef.h>
#include <stdint.h>

/* The setting milter.list (lib-filter/milter.h runs the milters): an
 * ordered, comma separated list of
 *   ADDRESS[;timeout=DURATION][;default=tempfail|accept|reject]
 * with ADDRESS unix:/path or inet:host:port; timeout 1s..1h (30s),
 * default tempfail; at most 32 milters. */

enum milter_default { MILTER_DEF_TEMPFAIL, MILTER_DEF_ACCEPT, MILTER_DEF_REJECT };

struct milter_spec {
	char *addr;               /* unix:/path or inet:host:port (fnet.h) */
	int64_t timeout_s;        /* per answer, and to connect */
	enum milter_default dflt;
};

/* milter_spec_parse - "ADDR[;timeout=30s][;default=tempfail], ...";
 * 0, or -1 with an error naming the bad entry. */
int milter_spec_parse(const char *list, struct milter_spec **v_r, size_t *n_r,
		      const char **error_r);
void milter_spec_free(struct milter_spec *v, size_t n);
const char *milter_default_name(enum milter_default d);

#endif
