/* catenate - APPEND's CATENATE (RFC 4469): a message made of literal
 * TEXT parts and URL parts, IMAP URLs (RFC 5092) of a message or one of
 * its sections in a mailbox of the same user */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catenate.h"
#include "content.h"
#include "fetch.h"
#include "imap-spec.h"
#include "xalloc.h"

/* pct_decode - %XX escapes of s[0..n) into out; -1 if malformed */
static int
pct_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			buf_putc(out, s[i]);
			continue;
		}
		if (i + 2 >= n + 0 || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]))
			return -1;
		char hex[3] = { s[i + 1], s[i + 2], 0 };
		buf_putc(out, (char)strtol(hex, NULL, 16));
		i += 2;
	}
	return 0;
}

/* key_value - "KEY=value" (case-insensitive key) of a URL segment */
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

/* url_part - append what an IMAP URL names to out; -1 with *error_r */
static int
url_part(struct session *s, const char *url, struct buf *out,
	 const char **error_r)
{
	const char *p = url;
	struct buf mbox, sect;
	uint32_t uidvalidity = 0, uid = 0, off = 0, plen = 0;
	bool have_partial = false, have_plen = false;
	int rc = -1;

	buf_init(&mbox, 0);
	buf_init(&sect, 0);
	if (strncasecmp(p, "imap://", 7) == 0) {
		p = strchr(p + 7, '/');
		if (p == NULL) {
			*error_r = "URL names no message";
			goto out;
		}
	}
	if (*p != '/') {
		*error_r = "Not an IMAP URL";
		goto out;
	}
	p++;
	/* segments split at "/;" */
	const char *seg = p;
	bool first = true;
	for (;;) {
		const char *e = strstr(seg, "/;");
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		size_t vl;
		const char *v;
		if (first) {
			const char *uv = NULL;
			for (size_t i = 0; i + 13 <= n; i++)
				if (strncasecmp(seg + i, ";UIDVALIDITY=", 13) == 0) {
					uv = seg + i;
					break;
				}
			size_t ml = uv ? (size_t)(uv - seg) : n;
			if (ml == 0 || pct_decode(seg, ml, &mbox) < 0 ||
			    (uv != NULL && !parse_u32(uv + 13,
			    n - ml - 13, &uidvalidity))) {
				*error_r = "Bad mailbox in URL";
				goto out;
			}
			first = false;
		} else if ((v = key_value(seg, n, "UID=", &vl)) != NULL) {
			if (!parse_u32(v, vl, &uid) || uid == 0) {
				*error_r = "Bad UID in URL";
				goto out;
			}
		} else if ((v = key_value(seg, n, "SECTION=", &vl)) != NULL) {
			if (pct_decode(v, vl, &sect) < 0) {
				*error_r = "Bad SECTION in URL";
				goto out;
			}
		} else if ((v = key_value(seg, n, "PARTIAL=", &vl)) != NULL) {
			const char *dot = memchr(v, '.', vl);
			size_t ol = dot ? (size_t)(dot - v) : vl;
			have_partial = true;
			if (!parse_u32(v, ol, &off) || (dot != NULL &&
			    (!parse_u32(dot + 1, vl - ol - 1, &plen) ||
			    plen == 0))) {
				*error_r = "Bad PARTIAL in URL";
				goto out;
			}
			have_plen = dot != NULL;
		} else {
			*error_r = "Unsupported URL (URLAUTH, EXPIRE...)";
			goto out;
		}
		if (e == NULL)
			break;
		seg = e + 2;
	}
	if (uid == 0) {
		*error_r = "URL names no message";
		goto out;
	}
	/* the mailbox as a client would name it */
	char name[STORE_FOLDER_MAX + 1];
	struct imap_arg ma = { .type = IMAP_ARG_STRING, .str = mbox.data,
	    .len = mbox.len };
	if (mailbox_name(s, &ma, name, sizeof(name), error_r) == NULL)
		goto out;
	struct store_folder *f = store_folder_open(s->mbox->st, name, error_r);
	if (f == NULL)
		goto out;
	struct store_folder_status st;
	struct store_msg m;
	memset(&m, 0, sizeof(m));
	if (store_sync(f, error_r) < 0 ||
	    store_folder_status(f, &st, error_r) < 0) {
		store_folder_close(&f);
		goto out;
	}
	if (uidvalidity != 0 && uidvalidity != st.uidvalidity) {
		store_folder_close(&f);
		*error_r = "UIDVALIDITY changed";
		goto out;
	}
	int fd = -1;
	if (store_msg_get(f, uid, &m, error_r) == 1) {
		fd = store_msg_open(f, &m, error_r);
		store_msg_clear(&m);
	}
	store_folder_close(&f);
	if (fd < 0) {
		*error_r = "No such message";
		goto out;
	}
	struct content c;
	memset(&c, 0, sizeof(c));
	content_load_fd(fd, &c);
	close(fd);
	const char *d = c.data.data ? c.data.data : "";
	size_t len = c.data.len;
	struct buf tmp;
	buf_init(&tmp, 0);
	struct imap_fetch fi;
	memset(&fi, 0, sizeof(fi));
	bool have_fi = false;
	if (sect.len > 0) {
		char *item = xasprintf("BODY.PEEK[%s]", sect.data);
		struct imap_arg ia = { .type = IMAP_ARG_ATOM, .str = item,
		    .len = strlen(item) };
		const char *perr;
		int r = imap_fetch_parse(&ia, &fi, &perr);
		free(item);
		if (r < 0 || fi.n != 1) {
			if (r == 0)
				imap_fetch_free(&fi);
			content_free(&c);
			buf_free(&tmp);
			*error_r = "Bad SECTION in URL";
			goto out;
		}
		have_fi = true;
		if (fetch_section(&c, &fi.items[0], &tmp, &d, &len) < 0) {
			imap_fetch_free(&fi);
			content_free(&c);
			buf_free(&tmp);
			*error_r = "Unknown Content-Transfer-Encoding";
			goto out;
		}
	}
	if (have_partial) {
		if (off >= len) {
			len = 0;
		} else {
			d += off;
			len -= off;
			if (have_plen && len > plen)
				len = plen;
		}
	}
	if (out->len + len > IMAP_MAX_LITERAL) {
		*error_r = "Message too big";
	} else {
		buf_append(out, d, len);
		rc = 0;
	}
	if (have_fi)
		imap_fetch_free(&fi);
	content_free(&c);
	buf_free(&tmp);
out:
	buf_free(&mbox);
	buf_free(&sect);
	return rc;
}

/* text_part - a TEXT literal, in memory or in a file */
static int
text_part(const struct imap_arg *a, struct buf *out, const char **error_r)
{
	if (!a->in_file) {
		if (out->len + a->len > IMAP_MAX_LITERAL) {
			*error_r = "Message too big";
			return -1;
		}
		buf_append(out, a->str, a->len);
		return 0;
	}
	if (out->len + a->file_len > IMAP_MAX_LITERAL) {
		*error_r = "Message too big";
		return -1;
	}
	char tmp[65536];
	for (uint64_t off = 0; off < a->file_len; ) {
		ssize_t r = pread(a->fd, tmp, sizeof(tmp), (off_t)off);
		if (r <= 0) {
			*error_r = "Cannot read the literal";
			return -1;
		}
		buf_append(out, tmp, (size_t)r);
		off += (uint64_t)r;
	}
	return 0;
}

/* catenate_build - see catenate.h */
int
catenate_build(struct session *s, const struct imap_arg *list,
	       struct buf *out, char **why_r)
{
	const char *err = NULL;

	if (list->type != IMAP_ARG_LIST || list->count == 0 ||
	    list->count % 2 != 0) {
		*why_r = xstrdup("BAD Syntax: CATENATE (TEXT literal / URL url"
		    " ...)");
		return -1;
	}
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *k = &list->list[i], *v = &list->list[i + 1];
		if (imap_arg_is_atom(k, "TEXT") && v->type == IMAP_ARG_LITERAL) {
			if (text_part(v, out, &err) < 0) {
				*why_r = xasprintf("NO [TOOBIG] %s", err);
				return -1;
			}
		} else if (imap_arg_is_atom(k, "URL") &&
		    imap_arg_astring(v) != NULL) {
			if (url_part(s, v->str, out, &err) < 0) {
				*why_r = xasprintf("NO [BADURL \"%s\"] %s",
				    strlen(v->str) < 200 ? v->str : "", err);
				return -1;
			}
		} else {
			*why_r = xstrdup("BAD Syntax: CATENATE (TEXT literal / "
			    "URL url ...)");
			return -1;
		}
	}
	if (out->len == 0) {
		*why_r = xstrdup("NO Empty message");
		return -1;
	}
	return 0;
}
