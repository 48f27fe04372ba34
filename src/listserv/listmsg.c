/* listmsg - build the copies of a list post (see listmsg.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "listmsg.h"
#include "msghdr.h"
#include "strutil.h"
#include "xalloc.h"

struct field {
	char *name;
	char *value;
	size_t start, end;
};

struct fields {
	struct field *v;
	size_t n;
};

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct fields *fs = ctx;
	fs->v = xreallocarray(fs->v, fs->n + 1, sizeof(*fs->v));
	fs->v[fs->n].name = xstrdup(f->name);
	fs->v[fs->n].value = xstrdup(f->value);
	fs->v[fs->n].start = f->raw_start;
	fs->v[fs->n].end = f->raw_end;
	fs->n++;
}

static void
fields_free(struct fields *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].name);
		free(fs->v[i].value);
	}
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

/* fields_parse - the header fields of msg; *body_r the body offset */
static int
fields_parse(const char *msg, size_t len, struct fields *fs, size_t *body_r,
	     const char **error_r)
{
	struct msghdr_parser p;
	size_t used = 0;
	int r;

	memset(fs, 0, sizeof(*fs));
	msghdr_parser_init(&p, 0, on_field, fs);
	r = msghdr_parser_feed(&p, msg, len, &used, error_r);
	if (r == 0) {
		msghdr_parser_finish(&p);
		used = len;
	}
	msghdr_parser_deinit(&p);
	if (r < 0) {
		fields_free(fs);
		return -1;
	}
	*body_r = used;
	return 0;
}

static const struct field *
fields_find(const struct fields *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++)
		if (str_eq_ci(fs->v[i].name, name))
			return &fs->v[i];
	return NULL;
}

/* owned_field - fields the list server replaces */
static bool
owned_field(const char *name, const struct listmsg_opts *o)
{
	static const char *const drop[] = {
		"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post",
		"List-Post", "List-Subscribe", "List-Owner", "List-Archive",
		"Precedence", "Return-Path", "Delivered-To",
	};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (str_eq_ci(name, drop[i]))
			return true;
	if (o->reply_to_list && str_eq_ci(name, "Reply-To"))
		return true;
	return false;
}

/* ci_contains - case-insensitive substring */
static bool
ci_contains(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);
	if (nl == 0)
		return true;
	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, nl) == 0)
			return true;
	return false;
}

/* put_phrase - text as a quoted string without CR, LF, quote, backslash */
static void
put_phrase(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++)
		if (*s != '\r' && *s != '\n' && *s != '"' && *s != '\\')
			buf_putc(b, *s);
	buf_putc(b, '"');
}

/* put_text_crlf - text with every line end made CRLF, ending in CRLF */
static void
put_text_crlf(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			buf_puts(b, "\r\n");
		else
			buf_putc(b, *s);
	}
	if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		buf_puts(b, "\r\n");
}

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* ct_param - a parameter of a Content-Type value (new string) or NULL */
static char *
ct_param(const char *value, const char *param)
{
	size_t pl = strlen(param);
	const char *s = strchr(value, ';');

	while (s != NULL) {
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, param, pl) == 0 && s[pl] == '=') {
			const char *v = s + pl + 1, *e;
			if (*v == '"') {
				v++;
				e = strchr(v, '"');
				if (e == NULL)
					return NULL;
			} else {
				e = v + strcspn(v, "; \t");
			}
			if (e == v || e - v > 200)
				return NULL;
			return xstrndup(v, (size_t)(e - v));
		}
		s = strchr(s, ';');
	}
	return NULL;
}

/* add_footer - footer into the body when the body's type allows it */
static bool
add_footer(const struct fields *fs, const char *body, size_t blen,
	   const char *footer, struct buf *out)
{
	const struct field *ct = fields_find(fs, "Content-Type");
	const struct field *cte = fields_find(fs, "Content-Transfer-Encoding");
	const char *type = ct != NULL ? ct->value : "text/plain";
	const char *enc = cte != NULL ? cte->value : "7bit";
	bool plain_enc = strncasecmp(enc, "7bit", 4) == 0 ||
	    strncasecmp(enc, "8bit", 4) == 0;

	if (strncasecmp(type, "text/plain", 10) == 0 && plain_enc) {
		char *cs = ct != NULL ? ct_param(type, "charset") : NULL;
		bool ok = is_ascii(footer) || (cs != NULL &&
		    (strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0));
		free(cs);
		if (!ok || (!is_ascii(footer) && strncasecmp(enc, "7bit", 4) == 0))
			return false;
		buf_append(out, body, blen);
		if (blen > 0 && (blen < 2 || memcmp(body + blen - 2, "\r\n", 2) != 0))
			buf_puts(out, "\r\n");
		put_text_crlf(out, footer);
		return true;
	}
	if (strncasecmp(type, "multipart/mixed", 15) == 0) {
		char *bd = ct_param(type, "boundary");
		if (bd == NULL)
			return false;
		/* the close delimiter: CRLF "--" boundary "--", the last one */
		char *close = xasprintf("\r\n--%s--", bd);
		size_t cl = strlen(close);
		const char *pos = NULL;
		for (size_t i = 0; i + cl <= blen; i++)
			if (memcmp(body + i, close, cl) == 0)
				pos = body + i;
		free(close);
		if (pos == NULL) {
			free(bd);
			return false;
		}
		struct buf t;
		buf_init(&t, 0);
		put_text_crlf(&t, footer);
		unsigned char *b64 = xmalloc(4 * ((t.len + 2) / 3) + 1);
		int n = EVP_EncodeBlock(b64, (const unsigned char *)t.data, (int)t.len);
		buf_append(out, body, (size_t)(pos - body));
		buf_printf(out, "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: base64\r\nContent-Disposition: inline"
		    "\r\n\r\n", bd);
		for (int i = 0; i < n; i += 76) {
			buf_append(out, b64 + i, (size_t)(n - i < 76 ? n - i : 76));
			buf_puts(out, "\r\n");
		}
		out->len -= 2;   /* the close delimiter brings its own CRLF */
		out->data[out->len] = '\0';
		buf_append(out, pos, blen - (size_t)(pos - body));
		free(b64);
		buf_free(&t);
		free(bd);
		return true;
	}
	return false;
}

int
listmsg_prepare(const char *msg, size_t len, const struct listmsg_opts *o,
		struct listmsg *out, const char **error_r)
{
	struct fields fs;
	size_t body;
	const char *at = strrchr(o->list_address, '@');

	memset(out, 0, sizeof(*out));
	buf_init(&out->head, 0);
	buf_init(&out->body, 0);
	if (fields_parse(msg, len, &fs, &body, error_r) < 0)
		return -1;
	/* RFC 2919: the list address with '@' made '.' */
	snprintf(out->list_id, sizeof(out->list_id), "%.*s.%s",
	    (int)(at != NULL ? at - o->list_address : 0), o->list_address,
	    at != NULL ? at + 1 : o->list_address);
	bool have_subject = false;
	for (size_t i = 0; i < fs.n; i++) {
		const struct field *f = &fs.v[i];
		if (owned_field(f->name, o))
			continue;
		if (str_eq_ci(f->name, "Subject") && *o->subject_prefix != '\0') {
			have_subject = true;
			if (!ci_contains(f->value, o->subject_prefix)) {
				/* keep the raw value (folding, encoded words) */
				const char *v = memchr(msg + f->start, ':', f->end - f->start);
				const char *e = msg + f->end;
				v = v != NULL ? v + 1 : e;
				while (v < e && (*v == ' ' || *v == '\t'))
					v++;
				buf_printf(&out->head, "Subject: %s ", o->subject_prefix);
				buf_append(&out->head, v, (size_t)(e - v));
				continue;
			}
		}
		buf_append(&out->head, msg + f->start, f->end - f->start);
		if (f->end > f->start && msg[f->end - 1] != '\n')
			buf_puts(&out->head, "\r\n");
	}
	if (!have_subject && *o->subject_prefix != '\0' &&
	    fields_find(&fs, "Subject") == NULL)
		buf_printf(&out->head, "Subject: %s\r\n", o->subject_prefix);
	buf_puts(&out->head, "List-Id: ");
	if (*o->description != '\0') {
		put_phrase(&out->head, o->description);
		buf_putc(&out->head, ' ');
	}
	buf_printf(&out->head, "<%s>\r\n", out->list_id);
	if (at != NULL) {
		int ll = (int)(at - o->list_address);
		buf_printf(&out->head, "List-Post: <mailto:%s>\r\n", o->list_address);
		buf_printf(&out->head, "List-Help: <mailto:%.*s-request%s?subject=help>\r\n",
		    ll, o->list_address, at);
		buf_printf(&out->head, "List-Subscribe: <mailto:%.*s-subscribe%s>\r\n",
		    ll, o->list_address, at);
		buf_printf(&out->head, "List-Owner: <mailto:%.*s-owner%s>\r\n",
		    ll, o->list_address, at);
	}
	buf_puts(&out->head, "Precedence: list\r\n");
	if (o->reply_to_list)
		buf_printf(&out->head, "Reply-To: <%s>\r\n", o->list_address);

	const char *b = body <= len ? msg + body : msg + len;
	size_t blen = body <= len ? len - body : 0;
	if (*o->footer != '\0')
		out->footer_added = add_footer(&fs, b, blen, o->footer, &out->body);
	if (!out->footer_added) {
		buf_reset(&out->body);
		buf_append(&out->body, b, blen);
	}
	fields_free(&fs);
	return 0;
}

void
listmsg_copy(const struct listmsg *m, const char *unsub_mailto,
	     const char *unsub_https, struct buf *out)
{
	buf_append(out, m->head.data ? m->head.data : "", m->head.len);
	if (unsub_https != NULL) {
		buf_printf(out, "List-Unsubscribe: <%s>,\r\n <mailto:%s?subject=unsubscribe>\r\n",
		    unsub_https, unsub_mailto);
		buf_puts(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	} else {
		buf_printf(out, "List-Unsubscribe: <mailto:%s?subject=unsubscribe>\r\n",
		    unsub_mailto);
	}
	buf_puts(out, "\r\n");
	buf_append(out, m->body.data ? m->body.data : "", m->body.len);
}

void
listmsg_free(struct listmsg *m)
{
	buf_free(&m->head);
	buf_free(&m->body);
}

char *
listmsg_header_value(const char *msg, size_t len, const char *name)
{
	struct fields fs;
	size_t body;
	const char *err;
	char *v = NULL;

	if (fields_parse(msg, len, &fs, &body, &err) < 0)
		return NULL;
	const struct field *f = fields_find(&fs, name);
	if (f != NULL)
		v = xstrdup(f->value);
	fields_free(&fs);
	return v;
}

bool
listmsg_has_list_id(const char *msg, size_t len, const char *list_id)
{
	struct fields fs;
	size_t body;
	const char *err;
	bool found = false;

	if (fields_parse(msg, len, &fs, &body, &err) < 0)
		return false;
	for (size_t i = 0; i < fs.n && !found; i++) {
		if (!str_eq_ci(fs.v[i].name, "List-Id"))
			continue;
		const char *lt = strrchr(fs.v[i].value, '<');
		const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
		if (gt != NULL && (size_t)(gt - lt - 1) == strlen(list_id) &&
		    strncasecmp(lt + 1, list_id, strlen(list_id)) == 0)
			found = true;
	}
	fields_free(&fs);
	return found;
}
