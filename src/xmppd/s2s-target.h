#ifndef POSTERN_S2S_TARGET_H
#define POSTERN_S2S_TARGET_H

#include <stddef.h>

#include "dns.h"

/* s2s-target - the hosts an outgoing server-to-server link tries for a
 * remote domain (RFC 6120 3.2.1): from the SRV lookup's answer (already
 * bounded and checked by dns_srv_parse), or the domain itself on 5269
 * when it has none. Pure, fuzzed with the SRV parser
 * (fuzz/fuzz-s2s-target.c). */

#define S2S_PORT 5269

enum s2s_target_status {
	S2S_TARGET_OK,
	S2S_TARGET_TEMPFAIL,    /* DNS failed: <remote-server-timeout/> */
	S2S_TARGET_NONE,        /* no server: <remote-server-not-found/> */
};

/* s2s_targets - the targets for domain after an SRV lookup that gave st
 * and srv[n]: into out (at most DNS_SRV_MAX, hosts copied: free with
 * dns_srv_free), *n_r of them; otherwise why, with *error_r */
enum s2s_target_status s2s_targets(const char *domain, enum dns_status st,
				   const struct dns_srv *srv, size_t n,
				   struct dns_srv out[DNS_SRV_MAX],
				   size_t *n_r, const char **error_r);

#endif
