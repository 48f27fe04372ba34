/* fuzz-smtp-command - the command side of lib-smtp: line reader, verb
 * split, paths, ESMTP parameters, BDAT arguments, base64 and PLAIN */
#include <stdint.h>
#include <string.h>

#include "smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_line_reader r;
	size_t off = 0;

	smtp_line_init(&r, SMTP_LINE_AUTH_MAX);
	while (off < size) {
		size_t used;
		/* vary the chunking with the data itself */
		size_t chunk = 1 + data[off] % 64;
		if (chunk > size - off)
			chunk = size - off;
		enum smtp_line_result res = smtp_line_feed(&r, data + off, chunk, &used);
		off += used;
		if (res != SMTP_LINE_OK) {
			buf_reset(&r.line);
			continue;
		}
		struct smtp_command cmd;
		const char *err, *rest;
		int code;
		if (smtp_command_parse(r.line.data, r.line.len, &cmd, &code, &err) == 0) {
			struct smtp_path p;
			struct smtp_params prm;
			uint64_t n;
			bool last;
			struct buf b;
			switch (cmd.verb) {
			case SMTP_CMD_MAIL:
			case SMTP_CMD_RCPT:
				if (smtp_path_parse(cmd.args, cmd.verb == SMTP_CMD_MAIL,
				    cmd.verb == SMTP_CMD_RCPT, &p, &rest, &err) == 0)
					(void)smtp_params_parse(rest, cmd.verb == SMTP_CMD_MAIL ?
					    SMTP_PARAMS_MAIL : SMTP_PARAMS_RCPT, &prm, &err);
				break;
			case SMTP_CMD_BDAT:
				(void)smtp_bdat_parse(cmd.args, &n, &last, &err);
				break;
			case SMTP_CMD_AUTH:
				buf_init(&b, 8192);
				if (smtp_base64_decode(cmd.args, strlen(cmd.args), &b) == 0) {
					const char *z, *c, *pw;
					(void)smtp_sasl_plain(b.data, b.len, &z, &c, &pw);
				}
				buf_reset(&b);
				(void)smtp_xtext_decode(cmd.args, strlen(cmd.args), &b);
				smtp_xtext_encode(cmd.args, strlen(cmd.args), &b);
				buf_free(&b);
				break;
			default:
				break;
			}
			buf_init(&b, 0);
			smtp_reply(&b, 250, "2.0.0", "%s", cmd.args);
			buf_free(&b);
		}
		buf_reset(&r.line);
	}
	smtp_line_free(&r);
	return 0;
}
