/* s2s-target - the hosts to try for a remote XMPP domain (RFC 6120
 * 3.2): SRV targets, else the domain on the default port */
#include <string.h>

#include "s2s-target.h"
#include "xalloc.h"

enum s2s_target_status
s2s_targets(const char *domain, enum dns_status st, const struct dns_srv *srv,
	    size_t n, struct dns_srv out[DNS_SRV_MAX], size_t *n_r,
	    const char **error_r)
{
	*n_r = 0;
	*error_r = NULL;
	if (st == DNS_TEMPFAIL) {
		*error_r = "DNS failure";
		return S2S_TARGET_TEMPFAIL;
	}
	if (st == DNS_NULLMX) {
		*error_r = "the domain offers no XMPP server-to-server service";
		return S2S_TARGET_NONE;
	}
	if (st == DNS_OK && n > 0) {
		for (size_t i = 0; i < n && *n_r < DNS_SRV_MAX; i++) {
			/* dns_srv_parse checked them; kept honest here */
			if (srv[i].host == NULL || srv[i].port == 0 ||
			    srv[i].port > 65535 || !dns_host_ok(srv[i].host) ||
			    strcmp(srv[i].host, ".") == 0)
				continue;
			out[*n_r] = srv[i];
			out[*n_r].host = xstrdup(srv[i].host);
			(*n_r)++;
		}
		if (*n_r > 0)
			return S2S_TARGET_OK;
	}
	/* RFC 6120 3.2.2: no SRV records, the domain itself on 5269 (a
	 * domain that is no host name, e.g. an IP literal, is not tried) */
	if (!dns_host_ok(domain) || strcmp(domain, ".") == 0) {
		*error_r = "the domain is not a host name";
		return S2S_TARGET_NONE;
	}
	out[0].host = xstrdup(domain);
	out[0].prio = out[0].weight = 0;
	out[0].port = S2S_PORT;
	*n_r = 1;
	return S2S_TARGET_OK;
}
