/* fuzz-tlsa - lib-dns's parsers of raw DNS answers on any input: the
 * TLSA records (with the AD bit and rcode), and the CNAME chain that
 * gives DANE its TLSA base domain (RFC 7672 2.2.3) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tlsa t[DNS_TLSA_MAX];
	size_t n = 0, bad = 0;
	int rcode = 0;
	bool ad = false;

	char cname[256];
	int c = dns_answer_cname(data, size, "mx.example", cname,
	    sizeof(cname));

	if (c < -1 || c > 1 || (c == 1 && (cname[0] == '\0' ||
	    strlen(cname) >= sizeof(cname))))
		abort();
	if (dns_tlsa_parse(data, size, &rcode, &ad, t, &n, &bad) < 0)
		return 0;
	if (n > DNS_TLSA_MAX || rcode < 0 || rcode > 15)
		abort();
	for (size_t i = 0; i < n; i++) {
		/* every record lies inside the message */
		if (t[i].data < data || t[i].len == 0 ||
		    t[i].len > DNS_TLSA_DATA_MAX ||
		    t[i].data + t[i].len > data + size)
			abort();
		volatile unsigned char last = t[i].data[t[i].len - 1];
		(void)last;
	}
	return 0;
}
