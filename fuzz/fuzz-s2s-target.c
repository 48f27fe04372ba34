/* fuzz-s2s-target - the address path of an outgoing server-to-server
 * link: a raw DNS answer to the _xmpp-server._tcp SRV query parsed by
 * lib-dns (dns_srv_parse: bounds, host names, ports, order, the null
 * target), then the targets xmppd tries (s2s_targets: the SRV hosts, or
 * the domain on 5269). Input: one byte n, n bytes of the remote domain,
 * the rest the DNS answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "s2s-target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char domain[256];
	struct dns_srv srv[DNS_SRV_MAX], t[DNS_SRV_MAX];
	size_t n = 0, nt = 0, dl;
	const char *err;

	if (size == 0)
		return 0;
	dl = data[0];
	if (dl > size - 1)
		dl = size - 1;
	memcpy(domain, data + 1, dl);
	domain[dl] = '\0';
	data += 1 + dl;
	size -= 1 + dl;

	enum dns_status st = dns_srv_parse(data, size, srv, &n, &err);
	if (n > DNS_SRV_MAX || (st != DNS_OK && n != 0) || (st == DNS_OK &&
	    n == 0) || (st != DNS_OK && err == NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		/* host names with a port, lowercase, sorted (RFC 2782) */
		if (!dns_host_ok(srv[i].host) || strcmp(srv[i].host, ".") == 0
		    || srv[i].port == 0 || srv[i].port > 65535 ||
		    srv[i].host[strlen(srv[i].host) - 1] == '.')
			abort();
		for (const char *p = srv[i].host; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (i > 0 && (srv[i - 1].prio > srv[i].prio ||
		    (srv[i - 1].prio == srv[i].prio && srv[i - 1].weight <
		    srv[i].weight)))
			abort();
	}
	enum s2s_target_status ts = s2s_targets(domain, st, srv, n, t, &nt,
	    &err);
	if (ts == S2S_TARGET_OK) {
		if (nt == 0 || nt > DNS_SRV_MAX)
			abort();
		for (size_t i = 0; i < nt; i++)
			if (!dns_host_ok(t[i].host) || t[i].port == 0)
				abort();
		/* without SRV records: the domain itself, on 5269 */
		if (n == 0 && (nt != 1 || strcmp(t[0].host, domain) != 0 ||
		    t[0].port != S2S_PORT))
			abort();
	} else if (nt != 0 || err == NULL)
		abort();
	dns_srv_free(t, nt);
	dns_srv_free(srv, n);
	return 0;
}
