/* footer - footers / disclaimers on mail for external addresses (see
 * footer.h for the rules) */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "directory.h"
#include "footer.h"
#include "fsutil.h"
#include "log.h"
#include "mime.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define FOOTER_TARGETS_MAX 16

/* ------------------------------------------------------------ helpers */

static bool
ascii_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* crlf_text - s with every line ending CRLF (bare CR dropped), ending
 * with CRLF unless empty, into out */
static void
crlf_text(struct buf *out, const char *s)
{
	size_t start = out->len;
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			buf_puts(out, "\r\n");
		else
			buf_putc(out, *s);
	}
	if (out->len > start && out->data[out->len - 1] != '\n')
		buf_puts(out, "\r\n");
}

/* html_from_text - the text footer escaped, lines as <br> */
static void
html_from_text(struct buf *out, const char *s)
{
	buf_puts(out, "<div class=\"postern-footer\">");
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\r': break;
		case '\n': buf_puts(out, "<br>\r\n"); break;
		default: buf_putc(out, *s); break;
		}
	}
	buf_puts(out, "</div>\r\n");
}

/* text_from_html - the HTML footer without its tags (a few entities) */
static void
text_from_html(struct buf *out, const char *s)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' }, { "&nbsp;", ' ' }, { NULL, 0 },
	};
	struct buf t;
	buf_init(&t, 0);
	bool tag = false;
	for (; *s != '\0'; s++) {
		if (tag) {
			tag = *s != '>';
			continue;
		}
		if (*s == '<') {
			/* a <br> or a block end is a line break */
			if (strncasecmp(s, "<br", 3) == 0 || strncasecmp(s, "</p", 3) == 0 ||
			    strncasecmp(s, "</div", 5) == 0)
				buf_putc(&t, '\n');
			tag = true;
			continue;
		}
		size_t k;
		for (k = 0; ents[k].e != NULL; k++)
			if (strncasecmp(s, ents[k].e, strlen(ents[k].e)) == 0)
				break;
		if (ents[k].e != NULL) {
			buf_putc(&t, ents[k].c);
			s += strlen(ents[k].e) - 1;
		} else {
			buf_putc(&t, *s);
		}
	}
	crlf_text(out, t.data ? t.data : "");
	buf_free(&t);
}

/* b64_encode - base64 in lines of 76 with CRLF */
static void
b64_encode(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = { tab[(v >> 18) & 63], tab[(v >> 12) & 63],
		    i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '=' };
		buf_append(out, q, 4);
		col += 4;
		if (col >= 76) {
			buf_puts(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_puts(out, "\r\n");
}

/* qp_encode - quoted-printable (RFC 2045 6.7): CRLF line breaks kept,
 * soft breaks before 76 columns, blanks before a break encoded */
static void
qp_encode(struct buf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
			buf_puts(out, "\r\n");
			i++;
			col = 0;
			continue;
		}
		if (c == '\n') {
			buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		bool at_eol = i + 1 == n || p[i + 1] == '\r' || p[i + 1] == '\n';
		bool lit = (c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !at_eol);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			buf_puts(out, "=\r\n");
			col = 0;
		}
		if (lit) {
			buf_putc(out, (char)c);
		} else {
			char e[3] = { '=', hex[c >> 4], hex[c & 15] };
			buf_append(out, e, 3);
		}
		col += w;
	}
}

static const char *
part_param(const struct mime_part *p, const char *name)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (p->params[i].name && strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

static bool
is_type(const struct mime_part *p, const char *type, const char *sub)
{
	return p->type && strcasecmp(p->type, type) == 0 &&
	    (sub == NULL || (p->subtype && strcasecmp(p->subtype, sub) == 0));
}

/* ------------------------------------------------------------ targets */

struct targets {
	const struct mime_part *v[FOOTER_TARGETS_MAX];
	size_t n;
};

static bool
is_attachment(const struct mime_part *p)
{
	return p->disposition != NULL &&
	    strcasecmp(p->disposition, "attachment") == 0;
}

/* find_targets - the body text parts of p (rules in footer.h) */
static void
find_targets(const struct mime_part *p, struct targets *t, int depth)
{
	if (depth > 8 || t->n >= FOOTER_TARGETS_MAX)
		return;
	if (p->multipart) {
		if (p->nchildren == 0 || is_type(p, "multipart", "signed") ||
		    is_type(p, "multipart", "encrypted"))
			return;
		if (is_type(p, "multipart", "alternative")) {
			for (size_t i = 0; i < p->nchildren; i++)
				find_targets(&p->children[i], t, depth + 1);
			return;
		}
		find_targets(&p->children[0], t, depth + 1);
		return;
	}
	if (p->rfc822 || is_attachment(p))
		return;
	if (is_type(p, "text", "plain") || is_type(p, "text", "html"))
		t->v[t->n++] = p;
}

/* charset_ok - an ASCII compatible charset (footer ASCII), or utf-8 */
static bool
charset_ok(const struct mime_part *p, bool footer_ascii)
{
	const char *cs = part_param(p, "charset");
	if (cs == NULL || strcasecmp(cs, "us-ascii") == 0)
		return footer_ascii;
	if (strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0)
		return true;
	return footer_ascii && (strncasecmp(cs, "iso-8859-", 9) == 0 ||
	    strncasecmp(cs, "windows-", 8) == 0);
}

/* b64_clean - whether a base64 body decodes without dropping anything:
 * only the alphabet and white space, '=' only at the end, whole quanta.
 * Re-encoding a lenient decode of anything else would lose bytes. */
static bool
b64_clean(const char *s, size_t n)
{
	size_t chars = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
		} else if (pad == 0 && (isalnum(c) || c == '+' || c == '/')) {
			chars++;
		} else {
			return false;
		}
	}
	return pad <= 2 && (chars + pad) % 4 == 0;
}

/* editable - whether p can take this footer without becoming invalid */
static bool
editable(const char *data, const struct mime_part *p, const char *footer)
{
	bool fa = ascii_only(footer, strlen(footer));
	const char *enc = p->encoding;
	if (!charset_ok(p, fa))
		return false;
	if (enc == NULL || strcasecmp(enc, "7bit") == 0)
		return fa;
	return strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0 ||
	    (strcasecmp(enc, "base64") == 0 &&
	    b64_clean(data + p->body_start, p->body_len)) ||
	    strcasecmp(enc, "quoted-printable") == 0;
}

/* find_ci_last - the last case-insensitive occurrence of needle */
static const char *
find_ci_last(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	if (n < k)
		return NULL;
	for (size_t i = n - k + 1; i-- > 0;)
		if (strncasecmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

/* edit_part - the new body of a target part */
static void
edit_part(const char *data, const struct mime_part *p, const char *ftext,
	  const char *fhtml, struct buf *out)
{
	struct buf raw, ed;
	bool html = is_type(p, "text", "html");
	const char *enc = p->encoding;

	buf_init(&raw, 0);
	buf_init(&ed, 0);
	if (mime_decode_body(data, p, &raw) < 0)
		buf_append(&raw, data + p->body_start, p->body_len);
	const char *r = raw.data ? raw.data : "";
	if (html) {
		const char *at = find_ci_last(r, raw.len, "</body");
		if (at == NULL)
			at = find_ci_last(r, raw.len, "</html");
		size_t pos = at ? (size_t)(at - r) : raw.len;
		buf_append(&ed, r, pos);
		if (at == NULL && pos > 0 && r[pos - 1] != '\n')
			buf_puts(&ed, "\r\n");
		if (*fhtml != '\0')
			crlf_text(&ed, fhtml);
		else
			html_from_text(&ed, ftext);
		buf_append(&ed, r + pos, raw.len - pos);
	} else {
		buf_append(&ed, r, raw.len);
		if (raw.len > 0 && r[raw.len - 1] != '\n')
			buf_puts(&ed, "\r\n");
		buf_puts(&ed, "\r\n");
		if (*ftext != '\0')
			crlf_text(&ed, ftext);
		else
			text_from_html(&ed, fhtml);
	}
	const unsigned char *e = (const unsigned char *)(ed.data ? ed.data : "");
	if (enc != NULL && strcasecmp(enc, "base64") == 0)
		b64_encode(out, e, ed.len);
	else if (enc != NULL && strcasecmp(enc, "quoted-printable") == 0)
		qp_encode(out, e, ed.len);
	else
		buf_append(out, e, ed.len);
	buf_free(&raw);
	buf_free(&ed);
}

/* ------------------------------------------------------------ wrapping */

static bool
is_content_field(const char *name, size_t n)
{
	return (n >= 8 && strncasecmp(name, "Content-", 8) == 0) ||
	    (n == 12 && strncasecmp(name, "MIME-Version", 12) == 0);
}

/* wrap - a multipart/mixed of the original body and the footer part */
static void
wrap(const char *data, size_t len, const struct mime_part *root,
     const char *ftext, const char *fhtml, struct buf *out)
{
	struct buf content;
	char bnd[64], rnd[8];
	size_t hend = root->hdr_start + root->hdr_len;

	for (int tries = 0; tries < 4; tries++) {
		random_bytes(rnd, sizeof(rnd));
		int k = snprintf(bnd, sizeof(bnd), "=_postern-footer-");
		for (size_t i = 0; i < sizeof(rnd); i++)
			k += snprintf(bnd + k, sizeof(bnd) - (size_t)k, "%02x",
			    (unsigned char)rnd[i]);
		if (memmem(data, len, bnd, strlen(bnd)) == NULL)
			break;
	}
	buf_init(&content, 0);
	/* the header block: fields split between the outer and inner */
	size_t i = root->hdr_start;
	while (i < hend) {
		size_t s = i;
		const char *colon = NULL;
		/* one field: up to a line end not followed by a blank */
		while (i < hend) {
			if (data[i] == ':' && colon == NULL)
				colon = data + i;
			if (data[i++] == '\n' && (i >= hend ||
			    (data[i] != ' ' && data[i] != '\t')))
				break;
		}
		size_t fl = i - s;
		bool blank = fl <= 2 && (data[s] == '\r' || data[s] == '\n');
		if (blank)
			continue;   /* the blank line ending the header */
		size_t nl = colon ? (size_t)(colon - (data + s)) : 0;
		struct buf *dst = colon && is_content_field(data + s, nl) ? &content : out;
		if (nl == 12 && strncasecmp(data + s, "MIME-Version", 12) == 0)
			continue;   /* written anew */
		buf_append(dst, data + s, fl);
		if (data[i - 1] != '\n')
			buf_puts(dst, "\r\n");
	}
	buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n"
	    "\tboundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME "
	    "format.\r\n\r\n--%s\r\n", bnd, bnd);
	buf_append(out, content.data ? content.data : "", content.len);
	buf_puts(out, "\r\n");
	size_t bs = root->body_start <= len ? root->body_start : len;
	buf_append(out, data + bs, len - bs);
	if (len > bs && data[len - 1] != '\n')
		buf_puts(out, "\r\n");
	buf_printf(out, "\r\n--%s\r\n", bnd);
	bool html_only = *ftext == '\0';
	const char *f = html_only ? fhtml : ftext;
	bool fa = ascii_only(f, strlen(f));
	buf_printf(out, "Content-Type: text/%s; charset=%s\r\n"
	    "Content-Disposition: inline\r\nContent-Transfer-Encoding: %s\r\n\r\n",
	    html_only ? "html" : "plain", fa ? "us-ascii" : "utf-8",
	    fa ? "7bit" : "base64");
	struct buf fb;
	buf_init(&fb, 0);
	crlf_text(&fb, f);
	if (fa)
		buf_append(out, fb.data ? fb.data : "", fb.len);
	else
		b64_encode(out, (const unsigned char *)fb.data, fb.len);
	buf_free(&fb);
	buf_printf(out, "\r\n--%s--\r\n", bnd);
	buf_free(&content);
}

/* footer_apply - see footer.h */
enum footer_result
footer_apply(const char *data, size_t len, const char *text, const char *html,
	     struct buf *out)
{
	struct mime_message msg;
	struct targets t = { .n = 0 };
	enum footer_result res;

	if (*text == '\0' && *html == '\0')
		return FOOTER_NONE;
	mime_parse(&msg, data, len);
	find_targets(&msg.root, &t, 0);
	size_t ok = 0;
	for (size_t i = 0; i < t.n; i++) {
		const char *f = is_type(t.v[i], "text", "html") ?
		    (*html ? html : text) : (*text ? text : html);
		if (editable(data, t.v[i], f))
			t.v[ok++] = t.v[i];
	}
	t.n = ok;
	if (t.n == 0) {
		wrap(data, len, &msg.root, text, html, out);
		res = FOOTER_WRAPPED;
	} else {
		size_t pos = 0;
		for (size_t i = 0; i < t.n; i++) {
			const struct mime_part *p = t.v[i];
			if (p->body_start < pos || p->body_start + p->body_len > len)
				continue;   /* never seen: parts are in order */
			buf_append(out, data + pos, p->body_start - pos);
			edit_part(data, p, text, html, out);
			pos = p->body_start + p->body_len;
		}
		buf_append(out, data + pos, len - pos);
		res = FOOTER_EDITED;
	}
	mime_free(&msg);
	return res;
}

/* ------------------------------------------------------------ the MTA */

/* footers_of - the footers of scope for a sender of post office po_id */
static void
footers_of(struct db *db, const char *scope, int64_t po_id, struct buf *text,
	   struct buf *html)
{
	bool po = strncmp(scope, "postoffice", 10) == 0;
	bool gl = strcmp(scope, "global") == 0 ||
	    strcmp(scope, "postoffice+global") == 0;
	const char *err = NULL;

	if (po && po_id > 0) {
		char *t = NULL, *h = NULL;
		if (dir_object_field(db, "postoffice", po_id, "footer_text", &t,
		    &err) == 0 && t != NULL && *t != '\0')
			buf_puts(text, t);
		if (dir_object_field(db, "postoffice", po_id, "footer_html", &h,
		    &err) == 0 && h != NULL && *h != '\0')
			buf_puts(html, h);
		free(t);
		free(h);
	}
	if (gl) {
		const char *t = settings_current(db)->footer_text;
		const char *h = settings_current(db)->footer_html;
		if (*t != '\0') {
			if (text->len > 0)
				buf_puts(text, "\n");
			buf_puts(text, t);
		}
		if (*h != '\0') {
			if (html->len > 0)
				buf_puts(html, "\n");
			buf_puts(html, h);
		}
	}
}

/* footer_prepare - see footer.h */
int
footer_prepare(struct db *db, const struct queue_env *env, const char *msg_path,
	       const char *dir, char **path_r)
{
	const char *scope = settings_text(settings_current(db), SETTING_footer_scope);
	struct buf text, html, data, out;
	struct dir_domain dom;
	const char *err = NULL;
	int r = 0;

	*path_r = NULL;
	buf_init(&text, 0);
	buf_init(&html, 0);
	buf_init(&data, FOOTER_MESSAGE_MAX);
	buf_init(&out, 0);
	if (strcmp(scope, "none") == 0 || *scope == '\0' || env->sender == NULL ||
	    *env->sender == '\0' || env->bulk)
		goto out;
	const char *at = strrchr(env->sender, '@');
	if (at == NULL || dir_domain_get(db, at + 1, &dom, &err) <= 0)
		goto out;   /* not a local sender */
	footers_of(db, scope, dom.postoffice_id, &text, &html);
	if (text.len == 0 && html.len == 0)
		goto out;
	if (file_read(msg_path, &data) < 0) {
		log_warn("%s: footer: cannot read the message (%s); sent without",
		    env->id, errno == EFBIG ? "too large" : "error");
		r = -1;
		goto out;
	}
	enum footer_result fr = footer_apply(data.data ? data.data : "", data.len,
	    text.data ? text.data : "", html.data ? html.data : "", &out);
	if (fr == FOOTER_NONE)
		goto out;
	char rnd[6];
	random_bytes(rnd, sizeof(rnd));
	char *path = xasprintf("%s/%s.footer.%02x%02x%02x%02x%02x%02x", dir,
	    env->id, (unsigned char)rnd[0], (unsigned char)rnd[1],
	    (unsigned char)rnd[2], (unsigned char)rnd[3], (unsigned char)rnd[4],
	    (unsigned char)rnd[5]);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
		log_warn("%s: footer: cannot write %s; sent without", env->id, path);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		r = -1;
		goto out;
	}
	close(fd);
	log_info("%s: footer (%s) %s", env->id, scope,
	    fr == FOOTER_EDITED ? "added to the body text" :
	    "added as a new MIME part");
	*path_r = path;
out:
	buf_free(&text);
	buf_free(&html);
	buf_free(&data);
	buf_free(&out);
	return r;
}
