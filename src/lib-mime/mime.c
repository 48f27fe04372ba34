/* mime - RFC 5322 / MIME part tree with byte offsets, header access,
 * transfer decoding, RFC 2047 words (see mime.h for why not GMime). */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "xalloc.h"

/* header_end - offset just past the blank line ending the header block
 * that starts at start (or end when there is none). */
static size_t
header_end(const char *d, size_t start, size_t end)
{
	size_t p = start;

	while (p < end) {
		const char *nl = memchr(d + p, '\n', end - p);
		size_t ll;
		if (nl == NULL)
			return end;
		ll = (size_t)(nl - (d + p));
		if (ll == 0 || (ll == 1 && d[p] == '\r'))
			return (size_t)(nl - d) + 1;
		p = (size_t)(nl - d) + 1;
	}
	return end;
}

/* count_lines - line breaks in d[start..end): a last line without one
 * does not count, as Dovecot and Cyrus count body-fld-lines */
static size_t
count_lines(const char *d, size_t start, size_t end)
{
	size_t n = 0;

	for (size_t i = start; i < end; i++)
		if (d[i] == '\n')
			n++;
	return n;
}

/* mime_header_get - see mime.h */
int
mime_header_get(const char *d, size_t start, size_t len, const char *name,
		struct buf *out)
{
	size_t end = start + len, nlen = strlen(name), p = start;

	while (p < end) {
		const char *nl = memchr(d + p, '\n', end - p);
		size_t le = nl ? (size_t)(nl - d) + 1 : end;
		if (le - p > nlen && strncasecmp(d + p, name, nlen) == 0) {
			size_t q = p + nlen;
			while (q < le && (d[q] == ' ' || d[q] == '\t'))
				q++;
			if (q < le && d[q] == ':') {
				q++;
				buf_reset(out);
				/* value with continuation lines, unfolded */
				for (;;) {
					for (size_t i = q; i < le; i++)
						if (d[i] != '\r' && d[i] != '\n')
							buf_putc(out, d[i]);
					if (le >= end || (d[le] != ' ' && d[le] != '\t'))
						break;
					q = le;
					nl = memchr(d + q, '\n', end - q);
					le = nl ? (size_t)(nl - d) + 1 : end;
				}
				/* trim */
				size_t s = 0;
				while (s < out->len && (out->data[s] == ' ' || out->data[s] == '\t'))
					s++;
				buf_consume(out, s);
				while (out->len > 0 && (out->data[out->len - 1] == ' ' ||
				    out->data[out->len - 1] == '\t'))
					buf_truncate(out, out->len - 1);
				return 1;
			}
		}
		p = le;
	}
	return 0;
}

/* mime_header_fields - see mime.h */
void
mime_header_fields(const char *d, size_t start, size_t len,
		   const char *const *names, bool not_, struct buf *out)
{
	size_t end = start + len, p = start;

	while (p < end) {
		const char *nl = memchr(d + p, '\n', end - p);
		size_t le = nl ? (size_t)(nl - d) + 1 : end;
		if (le - p <= 2 && (d[p] == '\r' || d[p] == '\n'))
			break; /* the blank line */
		const char *colon = memchr(d + p, ':', le - p);
		size_t fe = le;
		/* the field runs over its continuation lines */
		while (fe < end && (d[fe] == ' ' || d[fe] == '\t')) {
			nl = memchr(d + fe, '\n', end - fe);
			fe = nl ? (size_t)(nl - d) + 1 : end;
		}
		if (colon != NULL) {
			size_t nlen = (size_t)(colon - (d + p));
			while (nlen > 0 && (d[p + nlen - 1] == ' ' || d[p + nlen - 1] == '\t'))
				nlen--;
			bool match = false;
			for (size_t i = 0; names[i] != NULL; i++)
				if (strlen(names[i]) == nlen &&
				    strncasecmp(names[i], d + p, nlen) == 0)
					match = true;
			if (match != not_) {
				buf_append(out, d + p, fe - p);
				if (d[fe - 1] != '\n')
					buf_puts(out, "\r\n");
			}
		}
		p = fe;
	}
	buf_puts(out, "\r\n");
}

/* mime_skip_cfws - skip blanks and (nested) comments. */
const char *
mime_skip_cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		int depth = 0;
		while (*s != '\0') {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
			s++;
		}
	}
}

/* read_token - a MIME token or quoted string into out; NULL if none. */
static const char *
read_token(const char *s, struct buf *out)
{
	buf_reset(out);
	s = mime_skip_cfws(s);
	if (*s == '"') {
		s++;
		while (*s != '\0' && *s != '"') {
			if (*s == '\\' && s[1] != '\0')
				s++;
			buf_putc(out, *s++);
		}
		if (*s == '"')
			s++;
		return s;
	}
	while (*s != '\0' && !strchr(" \t\r\n()<>@,;:\\\"/[]?=", *s))
		buf_putc(out, *s++);
	return out->len > 0 ? s : NULL;
}

/* parse_params - "; a=b; c="d"" into a param array. */
static void
parse_params(const char *s, struct mime_param **params, size_t *n)
{
	struct buf name, val;

	buf_init(&name, 1024);
	buf_init(&val, 8192);
	for (;;) {
		s = mime_skip_cfws(s);
		if (*s != ';')
			break;
		s++;
		const char *t = read_token(s, &name);
		if (t == NULL)
			break;
		s = mime_skip_cfws(t);
		if (*s != '=')
			break;
		s++;
		t = read_token(s, &val);
		if (t == NULL) {
			buf_reset(&val);
			t = s;
		}
		s = t;
		if (*n < MIME_MAX_PARAMS) {
			*params = xreallocarray(*params, *n + 1, sizeof(**params));
			(*params)[*n].name = xstrdup(name.data ? name.data : "");
			(*params)[*n].value = xstrdup(val.data ? val.data : "");
			(*n)++;
		}
	}
	buf_free(&name);
	buf_free(&val);
}

/* param_get - the value of a parameter, or NULL. */
static const char *
param_get(const struct mime_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

static char *
header_dup(const char *d, size_t start, size_t len, const char *name,
	   struct buf *tmp)
{
	if (mime_header_get(d, start, len, name, tmp) <= 0)
		return NULL;
	return xstrdup(tmp->data ? tmp->data : "");
}

static void parse_part(struct mime_message *msg, struct mime_part *part,
		       size_t start, size_t end, int depth, bool digest);

/* parse_multipart - split the body of part at its boundary. */
static void
parse_multipart(struct mime_message *msg, struct mime_part *part,
		const char *boundary, int depth)
{
	const char *d = msg->data;
	size_t blen = strlen(boundary), p = part->body_start;
	size_t end = part->body_start + part->body_len;
	size_t child_start = 0;
	bool in_part = false, digest = strcasecmp(part->subtype, "digest") == 0;

	if (blen == 0 || blen > 200)
		return;
	while (p < end) {
		const char *nl = memchr(d + p, '\n', end - p);
		size_t le = nl ? (size_t)(nl - d) + 1 : end;
		if (le - p >= blen + 2 && d[p] == '-' && d[p + 1] == '-' &&
		    memcmp(d + p + 2, boundary, blen) == 0) {
			bool close = le - p >= blen + 4 && d[p + blen + 2] == '-' &&
			    d[p + blen + 3] == '-';
			if (in_part && msg->nparts < MIME_MAX_PARTS) {
				/* the CRLF before the delimiter belongs to it */
				size_t ce = p;
				if (ce > child_start && d[ce - 1] == '\n')
					ce--;
				if (ce > child_start && d[ce - 1] == '\r')
					ce--;
				part->children = xreallocarray(part->children,
				    part->nchildren + 1, sizeof(*part->children));
				struct mime_part *c = &part->children[part->nchildren++];
				memset(c, 0, sizeof(*c));
				parse_part(msg, c, child_start, ce, depth + 1, digest);
			}
			if (close)
				return;
			in_part = true;
			child_start = le;
		}
		p = le;
	}
	if (in_part && msg->nparts < MIME_MAX_PARTS) {
		/* no closing delimiter: the last part runs to the end */
		part->children = xreallocarray(part->children, part->nchildren + 1,
		    sizeof(*part->children));
		struct mime_part *c = &part->children[part->nchildren++];
		memset(c, 0, sizeof(*c));
		parse_part(msg, c, child_start < end ? child_start : end, end,
		    depth + 1, digest);
	}
}

/* parse_part - fill part from data[start..end). */
static void
parse_part(struct mime_message *msg, struct mime_part *part, size_t start,
	   size_t end, int depth, bool digest)
{
	const char *d = msg->data;
	struct buf tmp, tok;
	size_t he = header_end(d, start, end);

	msg->nparts++;
	part->hdr_start = start;
	part->hdr_len = he - start;
	part->body_start = he;
	part->body_len = end - he;
	part->body_lines = count_lines(d, he, end);

	buf_init(&tmp, 0);
	buf_init(&tok, 1024);
	if (mime_header_get(d, start, he - start, "Content-Type", &tmp) > 0 &&
	    tmp.data != NULL) {
		const char *s = read_token(tmp.data, &tok);
		if (s != NULL) {
			part->type = xstrdup(tok.data ? tok.data : "");
			s = mime_skip_cfws(s);
			if (*s == '/' && (s = read_token(s + 1, &tok)) != NULL) {
				part->subtype = xstrdup(tok.data ? tok.data : "");
				parse_params(s, &part->params, &part->nparams);
			}
		}
		if (part->subtype != NULL && strcasecmp(part->type, "text") == 0 &&
		    param_get(part->params, part->nparams, "charset") == NULL &&
		    part->nparams < MIME_MAX_PARAMS) {
			/* text without a charset is us-ascii (RFC 2045 5.2) */
			part->params = xreallocarray(part->params, part->nparams + 1,
			    sizeof(*part->params));
			part->params[part->nparams].name = xstrdup("charset");
			part->params[part->nparams].value = xstrdup("us-ascii");
			part->nparams++;
		}
		if (part->subtype == NULL) {
			/* unparsable: the default, as RFC 2045 5.2 says */
			free(part->type);
			part->type = NULL;
		}
	}
	if (part->type == NULL) {
		if (digest) {
			part->type = xstrdup("message");
			part->subtype = xstrdup("rfc822");
		} else {
			part->type = xstrdup("text");
			part->subtype = xstrdup("plain");
			part->params = xcalloc(1, sizeof(*part->params));
			part->params[0].name = xstrdup("charset");
			part->params[0].value = xstrdup("us-ascii");
			part->nparams = 1;
		}
	}
	part->id = header_dup(d, start, he - start, "Content-ID", &tmp);
	part->description = header_dup(d, start, he - start,
	    "Content-Description", &tmp);
	part->md5 = header_dup(d, start, he - start, "Content-MD5", &tmp);
	part->location = header_dup(d, start, he - start, "Content-Location",
	    &tmp);
	part->language = header_dup(d, start, he - start, "Content-Language",
	    &tmp);
	if (mime_header_get(d, start, he - start, "Content-Transfer-Encoding",
	    &tmp) > 0 && tmp.data != NULL && read_token(tmp.data, &tok) != NULL)
		part->encoding = xstrdup(tok.data ? tok.data : "");
	if (mime_header_get(d, start, he - start, "Content-Disposition",
	    &tmp) > 0 && tmp.data != NULL) {
		const char *s = read_token(tmp.data, &tok);
		if (s != NULL) {
			part->disposition = xstrdup(tok.data ? tok.data : "");
			parse_params(s, &part->disp_params, &part->ndisp_params);
		}
	}
	buf_free(&tok);
	buf_free(&tmp);

	if (depth >= MIME_MAX_DEPTH || msg->nparts >= MIME_MAX_PARTS)
		return;
	if (strcasecmp(part->type, "multipart") == 0) {
		const char *b = param_get(part->params, part->nparams, "boundary");
		part->multipart = true;
		if (b != NULL)
			parse_multipart(msg, part, b, depth);
	} else if (strcasecmp(part->type, "message") == 0 &&
	    (strcasecmp(part->subtype, "rfc822") == 0 ||
	    strcasecmp(part->subtype, "global") == 0)) {
		part->rfc822 = true;
		part->children = xcalloc(1, sizeof(*part->children));
		part->nchildren = 1;
		parse_part(msg, &part->children[0], part->body_start,
		    part->body_start + part->body_len, depth + 1, false);
	}
}

/* mime_parse - see mime.h */
void
mime_parse(struct mime_message *msg, const char *data, size_t len)
{
	memset(msg, 0, sizeof(*msg));
	msg->data = data;
	msg->len = len;
	parse_part(msg, &msg->root, 0, len, 0, false);
}

static void
params_free(struct mime_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static void
part_free(struct mime_part *p)
{
	for (size_t i = 0; i < p->nchildren; i++)
		part_free(&p->children[i]);
	free(p->children);
	free(p->type);
	free(p->subtype);
	params_free(p->params, p->nparams);
	params_free(p->disp_params, p->ndisp_params);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	free(p->language);
	free(p->location);
}

/* mime_free - see mime.h */
void
mime_free(struct mime_message *msg)
{
	part_free(&msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* mime_part_find - see mime.h */
const struct mime_part *
mime_part_find(const struct mime_message *msg, const unsigned *path, size_t n)
{
	const struct mime_part *p = &msg->root;
	bool message = true; /* p is a message (root or encapsulated) */

	for (size_t i = 0; i < n; i++) {
		if (p->multipart) {
			if (path[i] < 1 || path[i] > p->nchildren)
				return NULL;
			p = &p->children[path[i] - 1];
		} else if (!message || path[i] != 1) {
			/* a non-multipart message has only a part 1: itself */
			return NULL;
		}
		message = false;
		if (p->rfc822 && p->nchildren == 1 && i + 1 < n) {
			p = &p->children[0];
			message = true;
		}
	}
	return p;
}

/* mime_part_inner - see mime.h */
const struct mime_part *
mime_part_inner(const struct mime_part *part)
{
	return part->rfc822 && part->nchildren == 1 ? &part->children[0] : NULL;
}

/* ---- decoding ------------------------------------------------------ */

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* base64_decode - append the decoded bytes to out (NULL: only count
 * them); the count */
static size_t
base64_decode(const char *s, size_t len, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)s[i]);
		if (s[i] == '=')
			break;
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out != NULL)
				buf_putc(out, (char)((acc >> bits) & 0xff));
			n++;
		}
	}
	return n;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* qp_put - append len bytes to out (NULL: none); len */
static size_t
qp_put(struct buf *out, const char *s, size_t len)
{
	if (out != NULL)
		buf_append(out, s, len);
	return len;
}

/* qp_decode - quoted-printable; header mode turns '_' into a space.
 * Appends to out (NULL: only counts); the count. */
static size_t
qp_decode(const char *s, size_t len, bool header, struct buf *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=') {
			if (i + 2 < len + 0 && hexval((unsigned char)s[i + 1]) >= 0 &&
			    hexval((unsigned char)s[i + 2]) >= 0) {
				char ch = (char)(hexval((unsigned char)s[i + 1]) * 16 +
				    hexval((unsigned char)s[i + 2]));
				n += qp_put(out, &ch, 1);
				i += 2;
				continue;
			}
			/* soft line break: = [blanks] CRLF */
			size_t j = i + 1;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < len && s[j] == '\r')
				j++;
			if (j < len && s[j] == '\n') {
				i = j;
				continue;
			}
			if (j >= len) {
				i = j;
				continue;
			}
			n += qp_put(out, "=", 1);
		} else if (header && s[i] == '_') {
			n += qp_put(out, " ", 1);
		} else if (!header && (s[i] == ' ' || s[i] == '\t')) {
			/* trailing blanks before a hard line break are
			 * transport padding: removed (RFC 2045 6.7 rule 3) */
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < len && s[j] != '\r' && s[j] != '\n')
				n += qp_put(out, s + i, j - i);
			i = j - 1;
		} else {
			n += qp_put(out, s + i, 1);
		}
	}
	return n;
}

/* mime_charset_to_utf8 - see mime.h */
int
mime_charset_to_utf8(const char *charset, const char *in, size_t len,
		     struct buf *out)
{
	if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0) {
		buf_append(out, in, len);
		return 0;
	}
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	char *ip = (char *)in;
	size_t il = len;
	while (il > 0) {
		char tmp[1024], *op = tmp;
		size_t ol = sizeof(tmp);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		buf_append(out, tmp, (size_t)(op - tmp));
		if (r == (size_t)-1 && errno != E2BIG) {
			/* an invalid or cut sequence: mark it and go on */
			buf_putc(out, '?');
			ip++;
			il--;
		}
	}
	iconv_close(cd);
	return 0;
}

/* decode_word - one =?charset?enc?text?= at s; length used or 0. */
static size_t
decode_word(const char *s, size_t len, struct buf *out)
{
	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	const char *cs = s + 2, *e = s + len;
	const char *q1 = memchr(cs, '?', (size_t)(e - cs));
	if (q1 == NULL || q1 + 3 >= e || q1[2] != '?')
		return 0;
	char enc = (char)toupper((unsigned char)q1[1]);
	const char *txt = q1 + 3, *end = txt;
	while (end + 1 < e && !(end[0] == '?' && end[1] == '='))
		end++;
	if (end + 1 >= e || (enc != 'B' && enc != 'Q'))
		return 0;
	for (const char *c = txt; c < end; c++)
		if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
			return 0;
	char charset[64];
	size_t cl = (size_t)(q1 - cs);
	if (cl == 0 || cl >= sizeof(charset))
		return 0;
	memcpy(charset, cs, cl);
	charset[cl] = '\0';
	char *star = strchr(charset, '*'); /* RFC 2231 language */
	if (star != NULL)
		*star = '\0';
	struct buf raw;
	buf_init(&raw, 0);
	if (enc == 'B')
		base64_decode(txt, (size_t)(end - txt), &raw);
	else
		qp_decode(txt, (size_t)(end - txt), true, &raw);
	int r = mime_charset_to_utf8(charset, raw.data ? raw.data : "", raw.len,
	    out);
	buf_free(&raw);
	if (r < 0)
		return 0;
	return (size_t)(end + 2 - s);
}

/* mime_decode_words - see mime.h */
void
mime_decode_words(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	bool last_word = false;

	while (i < len) {
		size_t n = decode_word(in + i, len - i, out);
		if (n > 0) {
			i += n;
			last_word = true;
			/* blanks between two encoded words vanish */
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t' ||
			    in[j] == '\r' || in[j] == '\n'))
				j++;
			if (j > i && j < len && j + 1 < len && in[j] == '=' &&
			    in[j + 1] == '?') {
				struct buf probe;
				buf_init(&probe, 0);
				size_t m = decode_word(in + j, len - j, &probe);
				buf_free(&probe);
				if (m > 0)
					i = j;
			}
			continue;
		}
		(void)last_word;
		buf_putc(out, in[i++]);
	}
}

/* mime_decode_body - see mime.h */
int
mime_decode_body(const char *data, const struct mime_part *part,
		 struct buf *out)
{
	const char *s = data + part->body_start;
	const char *enc = part->encoding;

	if (enc == NULL || strcasecmp(enc, "7bit") == 0 ||
	    strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0) {
		buf_append(out, s, part->body_len);
		return 0;
	}
	if (strcasecmp(enc, "base64") == 0) {
		base64_decode(s, part->body_len, out);
		return 0;
	}
	if (strcasecmp(enc, "quoted-printable") == 0) {
		qp_decode(s, part->body_len, false, out);
		return 0;
	}
	return -1;
}

/* mime_decoded_size - see mime.h */
size_t
mime_decoded_size(const char *data, const struct mime_part *part)
{
	const char *s = data + part->body_start;
	const char *enc = part->encoding;

	if (enc != NULL && strcasecmp(enc, "base64") == 0) {
		/* what base64_decode gives: 6 bits for each letter of the
		 * alphabet before the first '=', in whole bytes; counted by a
		 * table (a 50 MB attachment's 70 MB in some 0.1 s; through
		 * b64val it took over a second) */
		static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned char letter[256] = { 0 };
		size_t n = 0;
		for (const char *a = alphabet; *a != '\0'; a++)
			letter[(unsigned char)*a] = 1;
		for (size_t i = 0; i < part->body_len && s[i] != '='; i++)
			n += letter[(unsigned char)s[i]];
		return n * 6 / 8;
	}
	if (enc != NULL && strcasecmp(enc, "quoted-printable") == 0)
		return qp_decode(s, part->body_len, false, NULL);
	return part->body_len;
}

/* mime_part_text - see mime.h */
void
mime_part_text(const char *data, const struct mime_part *part,
	       struct buf *out)
{
	struct buf raw;
	const char *cs = param_get(part->params, part->nparams, "charset");

	buf_init(&raw, 0);
	if (mime_decode_body(data, part, &raw) < 0)
		buf_append(&raw, data + part->body_start, part->body_len);
	if (cs == NULL || mime_charset_to_utf8(cs, raw.data ? raw.data : "",
	    raw.len, out) < 0)
		buf_append(out, raw.data ? raw.data : "", raw.len);
	buf_free(&raw);
}

/* ---- dates --------------------------------------------------------- */

/* mime_date_parse - see mime.h */
int
mime_date_parse(const char *s, time_t *utc_r, int *tz_r)
{
	static const char *const months[] = { "jan", "feb", "mar", "apr",
	    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	struct tm tm;
	int day, year, hh, mm, ss = 0, mon = -1, tz = 0;
	char *end;

	memset(&tm, 0, sizeof(tm));
	s = mime_skip_cfws(s);
	if (isalpha((unsigned char)*s)) { /* day of week */
		while (isalpha((unsigned char)*s))
			s++;
		s = mime_skip_cfws(s);
		if (*s == ',')
			s++;
		s = mime_skip_cfws(s);
	}
	day = (int)strtol(s, &end, 10);
	if (end == s || day < 1 || day > 31)
		return -1;
	s = mime_skip_cfws(end);
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, months[i], 3) == 0)
			mon = i;
	if (mon < 0)
		return -1;
	while (isalpha((unsigned char)*s))
		s++;
	s = mime_skip_cfws(s);
	year = (int)strtol(s, &end, 10);
	if (end == s)
		return -1;
	if (end - s <= 2)
		year += year < 50 ? 2000 : 1900;
	else if (end - s == 3)
		year += 1900;
	if (year < 1900 || year > 9999)
		return -1;
	s = mime_skip_cfws(end);
	hh = (int)strtol(s, &end, 10);
	if (end == s || *end != ':')
		return -1;
	s = end + 1;
	mm = (int)strtol(s, &end, 10);
	if (end == s)
		return -1;
	s = end;
	if (*s == ':') {
		ss = (int)strtol(s + 1, &end, 10);
		s = end;
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	s = mime_skip_cfws(s);
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		long z = strtol(s + 1, &end, 10);
		if (end - s != 5)
			return -1;
		tz = (int)(z / 100 * 60 + z % 100);
		if (*s == '-')
			tz = -tz;
	} else {
		static const struct { const char *n; int off; } zones[] = {
			{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -300 },
			{ "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
			{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 },
			{ "PDT", -420 } };
		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
			if (strncasecmp(s, zones[i].n, strlen(zones[i].n)) == 0)
				tz = zones[i].off;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*utc_r = timegm(&tm) - (time_t)tz * 60;
	*tz_r = tz;
	return 0;
}
