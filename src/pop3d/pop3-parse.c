/* pop3-parse - POP3 command lines, SASL PLAIN, the wire form of messages */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "pop3-parse.h"

void
pop3_reader_init(struct pop3_reader *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->line, POP3_LINE_MAX);
}

void
pop3_reader_free(struct pop3_reader *r)
{
	buf_free(&r->line);
}

/* pop3_reader_feed - collect one line, bounded */
enum pop3_read_result
pop3_reader_feed(struct pop3_reader *r, const char *data, size_t len,
		 size_t *used_r)
{
	const char *lf = memchr(data, '\n', len);
	size_t take = lf ? (size_t)(lf - data) + 1 : len;

	*used_r = take;
	if (r->skipping) {
		if (lf != NULL) {
			r->skipping = false;
			buf_reset(&r->line);
			return POP3_READ_TOO_LONG;
		}
		return POP3_READ_MORE;
	}
	if (buf_append(&r->line, data, take) < 0) {
		buf_reset(&r->line);
		if (lf != NULL)
			return POP3_READ_TOO_LONG;
		r->skipping = true;
		return POP3_READ_MORE;
	}
	if (lf == NULL)
		return POP3_READ_MORE;
	buf_truncate(&r->line, r->line.len - 1);
	if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r')
		buf_truncate(&r->line, r->line.len - 1);
	return POP3_READ_LINE;
}

/* pop3_cmd_parse - keyword and arguments */
int
pop3_cmd_parse(char *line, struct pop3_cmd *cmd, const char **error_r)
{
	char *p = line, *sp;
	size_t n;

	memset(cmd, 0, sizeof(*cmd));
	sp = strchr(p, ' ');
	n = sp ? (size_t)(sp - p) : strlen(p);
	if (n < 3 || n > 4) {
		*error_r = "unknown command";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalpha((unsigned char)p[i])) {
			*error_r = "unknown command";
			return -1;
		}
		cmd->verb[i] = (char)toupper((unsigned char)p[i]);
	}
	cmd->verb[n] = '\0';
	if (sp == NULL)
		return 0;
	p = sp + 1;
	while (*p != '\0') {
		if (cmd->argc == POP3_ARGS_MAX) {
			*error_r = "too many arguments";
			return -1;
		}
		cmd->argv[cmd->argc++] = p;
		sp = strchr(p, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	for (size_t i = 0; i < cmd->argc; i++) {
		for (const unsigned char *q = (const unsigned char *)cmd->argv[i];
		     *q; q++) {
			if (*q < 0x20 || *q == 0x7f) {
				*error_r = "control character in argument";
				return -1;
			}
		}
	}
	return 0;
}

/* pop3_msgnum - a message number in 1..max, else 0 */
uint32_t
pop3_msgnum(const char *arg, uint32_t max)
{
	uint64_t v = 0;

	if (arg == NULL || *arg == '\0' || strlen(arg) > 10)
		return 0;
	for (const char *p = arg; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v == 0 || v > max)
		return 0;
	return (uint32_t)v;
}

/* pop3_sasl_plain - decode authzid\0authcid\0passwd */
int
pop3_sasl_plain(const char *b64, char *user, size_t user_size, char *pass,
		size_t pass_size, const char **error_r)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char dec[POP3_LINE_MAX];
	int n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(dec)) {
		*error_r = "invalid base64";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = b64[i];
		if (c == '=') {
			if (i < len - 2) {
				*error_r = "invalid base64";
				return -1;
			}
			pad++;
		} else if (!isalnum((unsigned char)c) && c != '+' && c != '/') {
			*error_r = "invalid base64";
			return -1;
		} else if (pad > 0) {
			*error_r = "invalid base64";
			return -1;
		}
	}
	n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		*error_r = "invalid base64";
		return -1;
	}
	n -= (int)pad;
	const unsigned char *z1 = memchr(dec, 0, (size_t)n);
	if (z1 == NULL) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	const unsigned char *authc = z1 + 1;
	const unsigned char *z2 = memchr(authc, 0, (size_t)(dec + n - authc));
	if (z2 == NULL) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	const unsigned char *pw = z2 + 1;
	size_t ulen = (size_t)(z2 - authc), plen = (size_t)(dec + n - pw);
	size_t zlen = (size_t)(z1 - dec);
	if (ulen > 0 && memchr(pw, 0, plen) != NULL) {
		explicit_bzero(dec, sizeof(dec));
		*error_r = "NUL byte in the password";
		return POP3_SASL_NUL;
	}
	if (ulen == 0 || ulen >= user_size || plen >= pass_size) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	if (zlen != 0 && (zlen != ulen || memcmp(dec, authc, ulen) != 0)) {
		*error_r = "authorization identity not allowed";
		return -1;
	}
	memcpy(user, authc, ulen);
	user[ulen] = '\0';
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	explicit_bzero(dec, sizeof(dec));
	return 0;
}

void
pop3_stream_init(struct pop3_stream *s, int64_t body_lines)
{
	memset(s, 0, sizeof(*s));
	s->at_line_start = true;
	s->body_lines = body_lines;
}

/* end_line - a line ended: count it for TOP */
static void
end_line(struct pop3_stream *s)
{
	bool empty = s->line_len == 0 || (s->line_len == 1 && s->last_cr);

	if (!s->in_body) {
		if (empty) {
			s->in_body = true;
			if (s->body_lines == 0)
				s->done = true;
		}
	} else if (s->body_lines > 0) {
		if (--s->body_lines == 0)
			s->done = true;
	}
	s->at_line_start = true;
	s->line_len = 0;
	s->last_cr = false;
}

/* pop3_stream_feed - CRLF and dot-stuffing, a line span at a time */
int
pop3_stream_feed(struct pop3_stream *s, const char *data, size_t len,
		 struct buf *out)
{
	size_t i = 0;

	if (buf_reserve(out, len + len / 8 + 16) < 0)
		return -1;
	while (i < len && !s->done) {
		if (s->at_line_start) {
			if (data[i] == '.' && buf_putc(out, '.') < 0)
				return -1;
			s->at_line_start = false;
		}
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		if (end > i) {
			if (buf_append(out, data + i, end - i) < 0)
				return -1;
			s->line_len += end - i;
			s->last_cr = data[end - 1] == '\r';
		}
		if (nl == NULL)
			break;
		if (!s->last_cr && buf_putc(out, '\r') < 0)
			return -1;
		if (buf_putc(out, '\n') < 0)
			return -1;
		end_line(s);
		i = end + 1;
	}
	return 0;
}

/* pop3_stream_end - final CRLF and the terminating dot */
int
pop3_stream_end(struct pop3_stream *s, struct buf *out)
{
	if (!s->done && !s->at_line_start) {
		if (!s->last_cr && buf_putc(out, '\r') < 0)
			return -1;
		if (buf_putc(out, '\n') < 0)
			return -1;
	}
	return buf_puts(out, ".\r\n");
}
