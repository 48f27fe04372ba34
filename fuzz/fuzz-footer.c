/* fuzz-footer - footer_apply on any message: never crashes, and what it
 * makes parses again */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "footer.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const footers[][2] = {
		{ "Sent from Postern.\nSecond line.", "" },
		{ "", "<p>Disclaimer &amp; notice</p>" },
		{ "Caf\xc3\xa9 footer", "<b>Caf\xc3\xa9</b></body>" },
	};
	if (size > 256 * 1024)
		return 0;
	for (size_t k = 0; k < sizeof(footers) / sizeof(footers[0]); k++) {
		struct buf out;
		struct mime_message msg;
		buf_init(&out, 0);
		enum footer_result r = footer_apply((const char *)data, size,
		    footers[k][0], footers[k][1], &out);
		if (r == FOOTER_NONE || out.len < size / 2)
			__builtin_trap();
		mime_parse(&msg, out.data, out.len);
		mime_free(&msg);
		buf_free(&out);
	}
	return 0;
}
