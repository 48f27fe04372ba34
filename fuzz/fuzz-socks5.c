/* fuzz-socks5 - the SOCKS5 messages of the XEP-0065 proxy
 * (src/xmppd/socks5-parse.c): a greeting, then a request, from the
 * input; an accepted request always gives 40 lower-case hex digits and
 * uses no more than it was given */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks5-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	const char *why = NULL;
	char hash[S5_HASH_LEN + 1];
	unsigned char code = 0;
	int r = s5_greeting(data, size, &used, &why);

	if (r < 0 && why == NULL)
		abort();
	if (r <= 0)
		return 0;
	if (used > size || used < 3)
		abort();
	r = s5_request(data + used, size - used, hash, &code, &why);
	if (r < 0 && (why == NULL || code == 0))
		abort();
	if (r > 0) {
		if (size - used < S5_REQUEST_LEN || strlen(hash) != S5_HASH_LEN)
			abort();
		for (int i = 0; i < S5_HASH_LEN; i++)
			if (!((hash[i] >= '0' && hash[i] <= '9') ||
			    (hash[i] >= 'a' && hash[i] <= 'f')))
				abort();
	}
	return 0;
}
