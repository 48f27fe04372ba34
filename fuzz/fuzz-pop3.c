/* fuzz-pop3 - POP3 command lines, SASL PLAIN and the message wire form */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3-parse.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_reader r;
	struct pop3_stream st;
	struct buf out;
	size_t pos = 0, used;
	const char *err;

	pop3_reader_init(&r);
	while (pos < size) {
		enum pop3_read_result res = pop3_reader_feed(&r,
		    (const char *)data + pos, size - pos, &used);
		if (used == 0 || used > size - pos)
			__builtin_trap();
		pos += used;
		if (res != POP3_READ_LINE)
			continue;
		if (r.line.len > POP3_LINE_MAX)
			__builtin_trap();
		char *line = xstrndup(r.line.data, r.line.len);
		struct pop3_cmd c;
		char user[256], pass[1024];
		if (pop3_cmd_parse(line, &c, &err) == 0) {
			for (size_t i = 0; i < c.argc; i++) {
				(void)pop3_msgnum(c.argv[i], 100);
				(void)pop3_sasl_plain(c.argv[i], user,
				    sizeof(user), pass, sizeof(pass), &err);
			}
		}
		free(line);
		buf_reset(&r.line);
	}
	pop3_reader_free(&r);

	/* the wire form: no line may start with a lone dot */
	buf_init(&out, 0);
	pop3_stream_init(&st, size > 0 ? data[0] % 4 - 1 : -1);
	(void)pop3_stream_feed(&st, (const char *)data, size, &out);
	(void)pop3_stream_end(&st, &out);
	if (out.len < 3 || memcmp(out.data + out.len - 3, ".\r\n", 3) != 0)
		__builtin_trap();
	for (size_t i = 0; i + 3 < out.len; i++) {
		if ((i == 0 || out.data[i - 1] == '\n') && out.data[i] == '.' &&
		    (out.data[i + 1] == '\r' || out.data[i + 1] == '\n'))
			__builtin_trap();
		if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r'))
			__builtin_trap();
	}
	buf_free(&out);
	return 0;
}
