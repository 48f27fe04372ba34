/* fuzz-rspamd - rspamd's /checkv2 answer (lib-filter/rspamd.c): an HTTP
 * response with a JSON body, any bytes */
#include <stdint.h>
#include <string.h>

#include "rspamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spam_result res;
	const char *err;

	if (size > RSPAMD_REPLY_MAX)
		return 0;
	if (rspamd_reply_parse((const char *)data, size, &res, &err) == 0) {
		if (strlen(res.action) >= sizeof(res.action) ||
		    strlen(res.symbols) >= sizeof(res.symbols))
			__builtin_trap();
	} else if (err == NULL) {
		__builtin_trap();
	}
	return 0;
}
