/* fuzz-smtp-reply - the SMTP client's reply parser and EHLO extension scan */
#include <stdint.h>
#include <string.h>

#include "smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_parser p;
	struct smtp_ext ext;
	char sum[600];
	size_t pos = 0, chunk = 1;

	/* fed in growing chunks: the result must not depend on the split */
	smtp_reply_parser_init(&p);
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk, used = 0;
		const char *err = NULL;
		int r = smtp_reply_parse(&p, (const char *)data + pos, n, &used, &err);

		if (used == 0 && r != 1)
			__builtin_trap();
		pos += used;
		if (r < 0)
			break;
		if (r == 1) {
			smtp_reply_summary(&p.reply, sum, sizeof(sum));
			smtp_ext_parse(&p.reply, &ext);
			if (p.reply.code < 200 || p.reply.code > 599 ||
			    strlen(sum) >= sizeof(sum))
				__builtin_trap();
		}
		chunk = chunk * 2 + 1;
	}
	smtp_reply_parser_free(&p);
	return 0;
}
