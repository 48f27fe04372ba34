/* fuzz-dnsbl - what smtpd takes from DNS block lists and their settings:
 * the TXT reason of a listing (remote data), the zone list, the query
 * name built from an address and a zone, the classification of answers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/smtpd/dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[DNSBL_REASON_MAX + 1];
	char zones[DNSBL_MAX_ZONES][DNSBL_ZONE_MAX + 1];
	char *text = malloc(size + 1);
	const char *bad;
	size_t n, len;

	memcpy(text, data, size);
	text[size] = '\0';
	len = dnsbl_reason_clean((const char *)data, size, reason);
	if (len > DNSBL_REASON_MAX || strlen(reason) != len)
		abort();
	for (size_t i = 0; i < len; i++)
		if (reason[i] < 0x20 || reason[i] > 0x7e)
			abort();
	n = dnsbl_zones_parse(text, zones, DNSBL_MAX_ZONES, &bad);
	if (n > DNSBL_MAX_ZONES)
		abort();
	/* every zone makes a query name for both families */
	struct sockaddr_storage ss[4];
	memset(ss, 0, sizeof(ss));
	for (int i = 0; i < 4; i++) {
		if (i % 2 == 0) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss[i];
			a->sin_family = AF_INET;
			memcpy(&a->sin_addr, size >= 4 * (size_t)(i + 1) ?
			    data + 4 * i : (const uint8_t *)"\177\0\0\2", 4);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss[i];
			a->sin6_family = AF_INET6;
			if (size >= 16)
				memcpy(&a->sin6_addr, data + size - 16, 16);
		}
	}
	for (size_t z = 0; z < n; z++) {
		for (int i = 0; i < 4; i++) {
			char q[256];
			if (dnsbl_query_name((struct sockaddr *)&ss[i], zones[z], q,
			    sizeof(q)) == 0 && strlen(q) >= sizeof(q))
				abort();
		}
	}
	char code[16];
	(void)dnsbl_classify(ss, 4, code, sizeof(code));
	free(text);
	return 0;
}
