/* out-8bit - 8BITMIME downgrade to quoted-printable (out-8bit.h) */
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "out-8bit.h"

static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
			return true;
	return false;
}

int
qp_encode(const char *data, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;   /* the LF ends the line */
		if (c == '\n') {
			r = buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		/* blanks stay literal unless they end a line */
		bool eol = i + 1 == len || data[i + 1] == '\n' ||
		    (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n');
		bool lit = (c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			r = buf_puts(out, "=\r\n");
			col = 0;
		}
		if (lit)
			r |= buf_putc(out, (char)c);
		else {
			char e[3] = { '=', hex[c >> 4], hex[c & 15] };
			r |= buf_append(out, e, 3);
		}
		col += w;
	}
	return r < 0 ? -1 : 0;
}

/* header_cte - the header [s, s+n) (with its blank line) without its
 * Content-Transfer-Encoding fields, then "Content-Transfer-Encoding:
 * cte" before the blank line */
static int
header_cte(const char *s, size_t n, const char *cte, struct buf *out)
{
	size_t i = 0, end = n;
	int r = 0;

	/* the blank line that ends it */
	if (end >= 2 && s[end - 2] == '\r' && s[end - 1] == '\n')
		end -= 2;
	else if (end >= 1 && s[end - 1] == '\n')
		end -= 1;
	bool skip = false;
	while (i < end && r == 0) {
		const char *nl = memchr(s + i, '\n', end - i);
		size_t le = nl ? (size_t)(nl - s) + 1 : end;
		bool cont = s[i] == ' ' || s[i] == '\t';
		if (!cont)
			skip = le - i >= 26 && strncasecmp(s + i,
			    "Content-Transfer-Encoding:", 26) == 0;
		if (!skip)
			r = buf_append(out, s + i, le - i);
		i = le;
	}
	if (r == 0 && end > 0 && s[end - 1] != '\n')
		r = buf_puts(out, "\r\n");   /* a header without a line end */
	if (r == 0)
		r = buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n", cte);
	return r < 0 ? -1 : 0;
}

static bool
cte_is(const struct mime_part *p, const char *v)
{
	return p->encoding != NULL && strcasecmp(p->encoding, v) == 0;
}

/* walk - copy data[*pos..) up to each part that changes, then its new
 * form; *changed tells whether anything did */
static int
walk(const char *data, const struct mime_part *p, size_t *pos,
     struct buf *out, bool *changed)
{
	bool container = p->multipart || p->rfc822;
	const char *body = data + p->body_start;

	if (container) {
		if (cte_is(p, "8bit") || cte_is(p, "binary")) {
			if (buf_append(out, data + *pos, p->hdr_start - *pos) < 0 ||
			    header_cte(data + p->hdr_start, p->hdr_len, "7bit",
			    out) < 0)
				return -1;
			*pos = p->hdr_start + p->hdr_len;
			*changed = true;
		}
		for (size_t i = 0; i < p->nchildren; i++)
			if (walk(data, &p->children[i], pos, out, changed) < 0)
				return -1;
		return 0;
	}
	if (!has_8bit(body, p->body_len) || cte_is(p, "base64") ||
	    cte_is(p, "quoted-printable"))
		return 0;
	if (buf_append(out, data + *pos, p->hdr_start - *pos) < 0 ||
	    header_cte(data + p->hdr_start, p->hdr_len, "quoted-printable",
	    out) < 0 || qp_encode(body, p->body_len, out) < 0)
		return -1;
	*pos = p->body_start + p->body_len;
	*changed = true;
	return 0;
}

int
downgrade_8bit(const char *data, size_t len, struct buf *out)
{
	struct mime_message m;
	size_t pos = 0, mark = out->len;
	bool changed = false;

	if (!has_8bit(data, len))
		return 0;
	mime_parse(&m, data, len);
	int r = walk(data, &m.root, &pos, out, &changed);
	if (r == 0 && changed && pos < len)
		r = buf_append(out, data + pos, len - pos);
	mime_free(&m);
	if (r < 0)
		return -1;
	if (!changed) {
		out->len = mark;   /* 8-bit bytes only in headers */
		if (out->data != NULL)
			out->data[mark] = '\0';
		return 0;
	}
	return 1;
}
