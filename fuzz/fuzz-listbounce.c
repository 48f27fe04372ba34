/* fuzz-listbounce - what the list server reads in mail to a bounce
 * address (src/listserv/bounce.c): RFC 3464 reports, their per-recipient
 * groups, folded and encoded fields, and probe tokens, on any message */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_report r;
	static const unsigned char key[32] = { 1, 2, 3 };

	bounce_parse((const char *)data, size, &r);
	if (r.nfailed > BOUNCE_RCPTS_MAX || r.nfailed > r.nrcpts ||
	    (!r.dsn && r.nfailed > 0))
		__builtin_trap();
	for (size_t i = 0; i < r.nfailed; i++)
		if (strchr(r.failed[i], '@') == NULL)
			__builtin_trap();
	bounce_report_free(&r);
	/* a token-shaped tail of the input */
	if (size >= BOUNCE_PROBE_LEN) {
		char *t = xstrndup((const char *)data + size - BOUNCE_PROBE_LEN,
		    BOUNCE_PROBE_LEN);
		if (bounce_probe_time(t) != 0)
			(void)bounce_probe_ok(key, sizeof(key), 1, "a@b.test", t);
		free(t);
	}
	return 0;
}
