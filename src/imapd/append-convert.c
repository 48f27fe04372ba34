/* append-convert - APPEND of a literal8 whose MIME parts carry NUL: those
 * parts are re-encoded as base64 (RFC 3516 4.3 allows the server to
 * convert), so that BODY[] never needs a NUL, which no IMAP string may
 * carry, while BINARY[] decodes them back to the bytes the client sent.
 * Dovecot does the same on APPEND. */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "append-convert.h"
#include "mime.h"

/* put_header - the header block h[0..n) without its
 * Content-Transfer-Encoding fields, and "Content-Transfer-Encoding:
 * base64" before the blank line that ends it */
static void
put_header(const char *h, size_t n, struct buf *out)
{
	static const char cte[] = "Content-Transfer-Encoding:";
	size_t pos = 0;
	bool skip = false;

	while (pos < n) {
		const char *nl = memchr(h + pos, '\n', n - pos);
		size_t end = nl != NULL ? (size_t)(nl - h) + 1 : n;
		const char *ln = h + pos;
		size_t ll = end - pos;
		if (ll <= 2 && (ll == 0 || ln[0] == '\n' ||
		    (ln[0] == '\r' && (ll == 1 || ln[1] == '\n'))))
			break;  /* the blank line */
		if (ln[0] != ' ' && ln[0] != '\t')
			skip = ll >= sizeof(cte) - 1 &&
			    strncasecmp(ln, cte, sizeof(cte) - 1) == 0;
		if (!skip)
			buf_append(out, ln, ll);
		pos = end;
	}
	buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
}

/* put_base64 - d[0..n) as base64 lines of 76 characters */
static void
put_base64(const char *d, size_t n, struct buf *out)
{
	unsigned char line[80];

	for (size_t i = 0; i < n; i += 57) {
		size_t k = n - i < 57 ? n - i : 57;
		int w = EVP_EncodeBlock(line, (const unsigned char *)d + i, (int)k);
		buf_append(out, (const char *)line, (size_t)w);
		buf_puts(out, "\r\n");
	}
}

/* convert - the leaves under p with NUL in their body, in order;
 * *pos the first byte of d not copied yet */
static bool
convert(const char *d, const struct mime_part *p, size_t *pos,
	struct buf *out, int depth)
{
	bool any = false;

	if (depth > MIME_MAX_DEPTH)
		return false;
	if (p->multipart || p->rfc822) {
		for (size_t i = 0; i < p->nchildren; i++)
			any |= convert(d, &p->children[i], pos, out, depth + 1);
		return any;
	}
	if (p->body_len == 0 || memchr(d + p->body_start, '\0',
	    p->body_len) == NULL || p->hdr_start < *pos)
		return false;
	buf_append(out, d + *pos, p->hdr_start - *pos);
	put_header(d + p->hdr_start, p->hdr_len, out);
	put_base64(d + p->body_start, p->body_len, out);
	*pos = p->body_start + p->body_len;
	return true;
}

/* append_binary_convert - see append-convert.h */
int
append_binary_convert(const char *d, size_t len, struct buf *out)
{
	struct mime_message mm;
	size_t pos = 0;

	if (memchr(d, '\0', len) == NULL)
		return 0;
	mime_parse(&mm, d, len);
	bool any = convert(d, &mm.root, &pos, out, 0);
	if (any && pos < len)
		buf_append(out, d + pos, len - pos);
	mime_free(&mm);
	if (!any)
		buf_reset(out);
	return any ? 1 : 0;
}
