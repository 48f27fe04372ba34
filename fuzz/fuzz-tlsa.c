/* fuzz-tlsa - lib-dns's parser of TLSA answers (the AD bit, rcode and
 * records of a raw DNS message) on any input */
#include <stdint.h>
#include <stdlib.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tlsa t[DNS_TLSA_MAX];
	size_t n = 0, bad = 0;
	int rcode = 0;
	bool ad = false;

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
