/* fuzz-srs - the SRS address parser (src/lib-smtp/srs.h): any input as an
 * address to reverse must be refused or give an address; any input as a
 * sender that can be rewritten must come back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/lib-smtp/srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char key[] = "fuzz-key";
	char *text = malloc(size + 1);
	char out[SRS_ADDRESS_MAX + 1], back[SRS_ADDRESS_MAX + 1];
	const char *err = NULL;
	time_t now = 1700000000;

	memcpy(text, data, size);
	text[size] = '\0';
	enum srs_result r = srs_reverse(key, sizeof(key) - 1, text, now, 21, out,
	    sizeof(out), &err);
	if (r == SRS_OK && (strlen(out) > SRS_ADDRESS_MAX ||
	    strchr(out, '@') == NULL))
		abort();
	if (r < 0 && err == NULL)
		abort();
	(void)srs_is_srs(text);
	/* a round trip gives the sender back, on the same day and later */
	const char *at = strrchr(text, '@');
	if (strlen(text) == size && at != NULL && strchr(at, '=') == NULL &&
	    srs_forward(key, sizeof(key) - 1, text, "fwd.example", now, out,
	    sizeof(out), &err) == 0) {
		if (srs_reverse(key, sizeof(key) - 1, out, now + 86400 * 3, 21,
		    back, sizeof(back), &err) != SRS_OK || strcmp(back, text) != 0)
			abort();
		/* a changed hash is refused */
		char h0 = out[5];
		out[5] = h0 == 'A' ? 'B' : 'A';
		if (srs_reverse(key, sizeof(key) - 1, out, now, 21, back,
		    sizeof(back), &err) != SRS_BAD_HASH)
			abort();
		out[5] = h0;
		if (srs_reverse(key, sizeof(key) - 1, out, now + 86400 * 30, 21,
		    back, sizeof(back), &err) != SRS_EXPIRED)
			abort();
	}
	free(text);
	return 0;
}
