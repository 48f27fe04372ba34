/* imap-url - IMAP URLs of a message or section (see imap-url.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-url.h"
#include "xalloc.h"

/* pct_decode - %XX escapes of s[0..n) into a new string; NULL if
 * malformed or it decodes to a NUL */
static char *
pct_decode(const char *s, size_t n)
{
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			buf_putc(&out, s[i]);
			continue;
		}
		if (i + 2 >= n + 0 || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2])) {
			buf_free(&out);
			return NULL;
		}
		char hex[3] = { s[i + 1], s[i + 2], 0 };
		char c = (char)strtol(hex, NULL, 16);
		if (c == '\0') {
			buf_free(&out);
			return NULL;
		}
		buf_putc(&out, c);
		i += 2;
	}
	if (out.data == NULL)
		buf_puts(&out, "");
	return buf_steal(&out);
}

/* key_value - "KEY=value" (case-insensitive key) of a segment */
static const char *
key_value(const char *seg, size_t n, const char *key, size_t *vlen_r)
{
	size_t kl = strlen(key);

	if (n <= kl || strncasecmp(seg, key, kl) != 0)
		return NULL;
	*vlen_r = n - kl;
	return seg + kl;
}

static bool
parse_u32(const char *s, size_t n, uint32_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* imap_url_parse - see imap-url.h */
int
imap_url_parse(const char *url, struct imap_url *u, const char **error_r)
{
	const char *p = url;

	memset(u, 0, sizeof(*u));
	if (strlen(url) > IMAP_URL_MAX) {
		*error_r = "URL too long";
		return -1;
	}
	if (strncasecmp(p, "imap://", 7) == 0) {
		p = strchr(p + 7, '/');
		if (p == NULL) {
			*error_r = "URL names no message";
			return -1;
		}
	}
	if (*p != '/') {
		*error_r = "Not an IMAP URL";
		return -1;
	}
	p++;
	/* segments split at "/;"; the first is the mailbox */
	const char *seg = p;
	for (bool first = true;; first = false) {
		const char *e = strstr(seg, "/;");
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		size_t vl;
		const char *v;
		if (first) {
			const char *uv = NULL;
			for (size_t i = 0; i + 13 <= n && uv == NULL; i++)
				if (strncasecmp(seg + i, ";UIDVALIDITY=", 13) == 0)
					uv = seg + i;
			size_t ml = uv ? (size_t)(uv - seg) : n;
			if (ml == 0 || (u->mailbox = pct_decode(seg, ml)) == NULL ||
			    (uv != NULL && (!parse_u32(uv + 13, n - ml - 13,
			    &u->uidvalidity) || u->uidvalidity == 0))) {
				*error_r = "Bad mailbox in URL";
				return -1;
			}
		} else if ((v = key_value(seg, n, "UID=", &vl)) != NULL) {
			if (u->uid != 0 || !parse_u32(v, vl, &u->uid) ||
			    u->uid == 0) {
				*error_r = "Bad UID in URL";
				return -1;
			}
		} else if ((v = key_value(seg, n, "SECTION=", &vl)) != NULL) {
			if (u->section != NULL ||
			    (u->section = pct_decode(v, vl)) == NULL ||
			    strpbrk(u->section, "[]") != NULL) {
				*error_r = "Bad SECTION in URL";
				return -1;
			}
		} else if ((v = key_value(seg, n, "PARTIAL=", &vl)) != NULL) {
			const char *dot = memchr(v, '.', vl);
			size_t ol = dot ? (size_t)(dot - v) : vl;
			if (u->partial || !parse_u32(v, ol, &u->offset) ||
			    (dot != NULL && (!parse_u32(dot + 1, vl - ol - 1,
			    &u->length) || u->length == 0))) {
				*error_r = "Bad PARTIAL in URL";
				return -1;
			}
			u->partial = true;
			u->partial_len = dot != NULL;
		} else {
			*error_r = "Unsupported URL (URLAUTH, EXPIRE, search)";
			return -1;
		}
		if (e == NULL)
			break;
		seg = e + 2;
	}
	if (u->uid == 0) {
		*error_r = "URL names no message";
		return -1;
	}
	return 0;
}

/* imap_url_free - see imap-url.h */
void
imap_url_free(struct imap_url *u)
{
	xfree(&u->mailbox);
	xfree(&u->section);
}

/* imap_url_resp_text - see imap-url.h */
void
imap_url_resp_text(struct buf *out, const char *url, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	if (len > IMAP_URL_MAX)
		len = IMAP_URL_MAX;
	buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
		    c == '[' || c == ']') {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		} else {
			buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}
