/* mime-imap - the IMAP ENVELOPE and BODYSTRUCTURE of a parsed message
 * (RFC 3501 7.4.2, RFC 9051 7.5.2), built from the raw header text. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "xalloc.h"

/* mime_imap_nstring - see mime.h */
void
mime_imap_nstring(struct buf *out, const char *s, size_t len)
{
	bool quotable = len < 1024;

	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
			quotable = false;
	}
	if (!quotable) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

/* mime_imap_nstr - mime_imap_nstring of a C string (or NIL). */
void
mime_imap_nstr(struct buf *out, const char *s)
{
	mime_imap_nstring(out, s, s ? strlen(s) : 0);
}

/* ---- addresses (RFC 5322 3.4), lenient ----------------------------- */

/* read_word - an atom (dots allowed), quoted string or domain literal. */
static const char *
read_word(const char *s, struct buf *out)
{
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
	if (*s == '[') {
		while (*s != '\0' && *s != ']')
			buf_putc(out, *s++);
		if (*s == ']')
			buf_putc(out, *s++);
		return s;
	}
	while (*s != '\0' && !strchr(" \t\r\n()<>@,;:\\\"[]", *s))
		buf_putc(out, *s++);
	return s;
}

/* addr_text - with text set (mime_address_text), addr_emit writes
 * "name <mbox@host>, " instead of an IMAP address */
static bool addr_text;

static void
addr_emit(struct buf *out, bool *opened, const char *name, const char *adl,
	  const char *mbox, const char *host)
{
	if (addr_text) {
		if (name != NULL)
			buf_printf(out, "%s ", name);
		if (mbox != NULL)
			buf_printf(out, "<%s%s%s>", mbox, host ? "@" : "",
			    host ? host : "");
		buf_puts(out, ", ");
		return;
	}
	if (!*opened) {
		buf_putc(out, '(');
		*opened = true;
	}
	buf_putc(out, '(');
	mime_imap_nstr(out, name);
	buf_putc(out, ' ');
	mime_imap_nstr(out, adl);
	buf_putc(out, ' ');
	mime_imap_nstr(out, mbox);
	buf_putc(out, ' ');
	mime_imap_nstr(out, host);
	buf_putc(out, ')');
}

/* first_take - with first (mime_address_first), keep the first real
 * address; true when it has been taken and the walk can stop */
static bool
first_take(struct mime_address *first, const char *name, const char *mbox,
	   const char *host)
{
	if (first == NULL)
		return false;
	buf_puts(&first->name, name ? name : "");
	buf_puts(&first->mailbox, mbox ? mbox : "");
	buf_puts(&first->host, host ? host : "");
	first->found = true;
	return true;
}

/* addresses - an address-list field value as an IMAP address list, or
 * (first not NULL, out NULL) only its first address */
static void
addresses(const char *s, struct buf *out, struct mime_address *first)
{
	struct buf phrase, local, domain, route, w;
	bool opened = false, in_group = false;
	int guard = 0;

	buf_init(&phrase, 4096);
	buf_init(&local, 4096);
	buf_init(&domain, 4096);
	buf_init(&route, 4096);
	buf_init(&w, 4096);
	while (*s != '\0' && guard++ < 10000) {
		buf_reset(&phrase);
		buf_reset(&local);
		buf_reset(&domain);
		buf_reset(&route);
		/* a phrase or local part, up to a special */
		for (;;) {
			s = mime_skip_cfws(s);
			if (*s == '\0' || strchr("<>@,;:", *s))
				break;
			if (*s == ')' || *s == '\\' || *s == ']') {
				s++;
				continue;
			}
			buf_reset(&w);
			const char *n = read_word(s, &w);
			if (n == s) {
				s++;
				continue;
			}
			/* in a local part, words join without blanks */
			if (phrase.len > 0 && phrase.data[phrase.len - 1] != '.' &&
			    w.data != NULL && w.data[0] != '.')
				buf_putc(&phrase, ' ');
			if (w.data != NULL)
				buf_puts(&phrase, w.data);
			s = n;
		}
		if (*s == ':' && !in_group) {
			s++;
			in_group = true;
			/* as in ENVELOPE, the group itself comes first */
			if (first_take(first, NULL, phrase.data, NULL))
				break;
			addr_emit(out, &opened, NULL, NULL,
			    phrase.data ? phrase.data : "", NULL);
			continue;
		}
		if (*s == '<') {
			s = mime_skip_cfws(s + 1);
			if (*s == '@') {
				while (*s != '\0' && *s != ':' && *s != '>')
					buf_putc(&route, *s++);
				if (*s == ':')
					s++;
			}
			s = mime_skip_cfws(s);
			while (*s != '\0' && *s != '@' && *s != '>') {
				const char *n = read_word(s, &local);
				s = mime_skip_cfws(n == s ? s + 1 : n);
			}
			if (*s == '@') {
				s = mime_skip_cfws(s + 1);
				while (*s != '\0' && *s != '>') {
					const char *n = read_word(s, &domain);
					s = mime_skip_cfws(n == s ? s + 1 : n);
				}
			}
			if (*s == '>')
				s++;
			if ((local.len > 0 || domain.len > 0) &&
			    first_take(first, phrase.data, local.data,
			    domain.data))
				break;
			if (local.len > 0 || domain.len > 0)
				addr_emit(out, &opened,
				    phrase.len ? phrase.data : NULL,
				    route.len ? route.data : NULL,
				    local.data ? local.data : "",
				    domain.data ? domain.data : "");
			s = mime_skip_cfws(s);
		} else if (*s == '@') {
			const char *dstart = s;
			s = mime_skip_cfws(s + 1);
			while (*s != '\0' && !strchr(",;>", *s)) {
				const char *n = read_word(s, &domain);
				s = mime_skip_cfws(n == s ? s + 1 : n);
			}
			/* "user@domain (Real Name)": without a phrase the
			 * comment after the address is its name, as Dovecot
			 * and most clients show it */
			const char *cm = memchr(dstart, '(', (size_t)(s - dstart));
			if (cm != NULL) {
				const char *ce = memchr(cm, ')', (size_t)(s - cm));
				buf_reset(&w);
				if (ce != NULL && ce > cm + 1)
					buf_append(&w, cm + 1, (size_t)(ce - cm - 1));
			}
			const char *cname = cm != NULL && w.len > 0 ? w.data : NULL;
			if (first_take(first, cname, phrase.data, domain.data))
				break;
			addr_emit(out, &opened, cname, NULL,
			    phrase.data ? phrase.data : "",
			    domain.data ? domain.data : "");
		} else if (phrase.len > 0) {
			/* a local part without a domain */
			if (first_take(first, NULL, phrase.data, "MISSING_DOMAIN"))
				break;
			addr_emit(out, &opened, NULL, NULL, phrase.data,
			    "MISSING_DOMAIN");
		}
		/* skip to the next separator */
		while (*s != '\0' && *s != ',' && *s != ';')
			s++;
		if (*s == ';') {
			s++;
			if (in_group) {
				if (first == NULL)
					addr_emit(out, &opened, NULL, NULL, NULL,
					    NULL);
				in_group = false;
			}
		} else if (*s == ',') {
			s++;
		}
	}
	if (first == NULL && !addr_text) {
		if (in_group)
			addr_emit(out, &opened, NULL, NULL, NULL, NULL);
		if (opened)
			buf_putc(out, ')');
		else
			buf_puts(out, "NIL");
	}
	buf_free(&phrase);
	buf_free(&local);
	buf_free(&domain);
	buf_free(&route);
	buf_free(&w);
}

/* mime_address_first - see mime.h */
bool
mime_address_first(const char *value, struct mime_address *a)
{
	buf_reset(&a->name);
	buf_reset(&a->mailbox);
	buf_reset(&a->host);
	a->found = false;
	addresses(value, NULL, a);
	return a->found;
}

/* mime_address_text - see mime.h */
void
mime_address_text(const char *value, struct buf *out)
{
	addr_text = true;
	addresses(value, out, NULL);
	addr_text = false;
}

/* mime_envelope - see mime.h */
void
mime_envelope(const char *d, size_t start, size_t len, struct buf *out)
{
	static const char *const fields[] = { "Date", "Subject", "From",
	    "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	    "Message-ID" };
	struct buf v, from;

	buf_init(&v, 0);
	buf_init(&from, 0);
	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int found = mime_header_get(d, start, len, fields[i], &v);
		if (i > 0)
			buf_putc(out, ' ');
		if (i >= 2 && i <= 7) {
			/* Sender and Reply-To default to From */
			if (found <= 0 && (i == 3 || i == 4) && from.len > 0) {
				buf_append(out, from.data, from.len);
				continue;
			}
			size_t mark = out->len;
			if (found > 0)
				addresses(v.data ? v.data : "", out, NULL);
			else
				buf_puts(out, "NIL");
			if (i == 2)
				buf_append(&from, out->data + mark, out->len - mark);
			if (i == 2 && strcmp(out->data + mark, "NIL") == 0)
				buf_reset(&from);
			/* an empty Sender or Reply-To counts as absent
			 * (RFC 3501 7.4.2), as Dovecot has it */
			if ((i == 3 || i == 4) && from.len > 0 &&
			    strcmp(out->data + mark, "NIL") == 0) {
				buf_truncate(out, mark);
				buf_append(out, from.data, from.len);
			}
		} else if (found > 0) {
			mime_imap_nstring(out, v.data ? v.data : "", v.len);
		} else {
			buf_puts(out, "NIL");
		}
	}
	buf_putc(out, ')');
	buf_free(&v);
	buf_free(&from);
}

/* params - ("name" "value" ...) or NIL */
static void
params(struct buf *out, const struct mime_param *p, size_t n)
{
	if (n == 0) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		mime_imap_nstr(out, p[i].name);
		buf_putc(out, ' ');
		mime_imap_nstr(out, p[i].value);
	}
	buf_putc(out, ')');
}

/* ext_common - body-fld-dsp body-fld-lang body-fld-loc */
static void
ext_common(struct buf *out, const struct mime_part *p)
{
	buf_putc(out, ' ');
	if (p->disposition != NULL) {
		buf_putc(out, '(');
		mime_imap_nstr(out, p->disposition);
		buf_putc(out, ' ');
		params(out, p->disp_params, p->ndisp_params);
		buf_putc(out, ')');
	} else {
		buf_puts(out, "NIL");
	}
	buf_putc(out, ' ');
	if (p->language == NULL) {
		buf_puts(out, "NIL");
	} else {
		/* a comma separated list: one string, or a list of them */
		char *copy = xstrdup(p->language), *save = NULL;
		size_t n = 0;
		struct buf l;
		buf_init(&l, 0);
		for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
		    t = strtok_r(NULL, ", \t", &save)) {
			if (n++ > 0)
				buf_putc(&l, ' ');
			mime_imap_nstr(&l, t);
		}
		if (n == 0)
			buf_puts(out, "NIL");
		else if (n == 1)
			buf_append(out, l.data, l.len);
		else
			buf_printf(out, "(%s)", l.data);
		buf_free(&l);
		free(copy);
	}
	buf_putc(out, ' ');
	mime_imap_nstr(out, p->location);
}

/* mime_bodystructure - see mime.h */
void
mime_bodystructure(const char *d, const struct mime_part *p, bool extended,
		   struct buf *out)
{
	buf_putc(out, '(');
	if (p->multipart) {
		if (p->nchildren == 0)
			/* a body-type-mpart needs one part: an empty text */
			buf_puts(out, extended ?
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
			    "\"7bit\" 0 0 NIL NIL NIL NIL)" :
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
			    "\"7bit\" 0 0)");
		for (size_t i = 0; i < p->nchildren; i++)
			mime_bodystructure(d, &p->children[i], extended, out);
		buf_putc(out, ' ');
		mime_imap_nstr(out, p->subtype);
		if (extended) {
			buf_putc(out, ' ');
			params(out, p->params, p->nparams);
			ext_common(out, p);
		}
		buf_putc(out, ')');
		return;
	}
	mime_imap_nstr(out, p->type);
	buf_putc(out, ' ');
	mime_imap_nstr(out, p->subtype);
	buf_putc(out, ' ');
	params(out, p->params, p->nparams);
	buf_putc(out, ' ');
	mime_imap_nstr(out, p->id);
	buf_putc(out, ' ');
	mime_imap_nstr(out, p->description);
	buf_putc(out, ' ');
	mime_imap_nstr(out, p->encoding ? p->encoding : "7bit");
	buf_printf(out, " %zu", p->body_len);
	if (p->rfc822 && p->nchildren == 1) {
		const struct mime_part *in = &p->children[0];
		buf_putc(out, ' ');
		mime_envelope(d, in->hdr_start, in->hdr_len, out);
		buf_putc(out, ' ');
		mime_bodystructure(d, in, extended, out);
		buf_printf(out, " %zu", p->body_lines);
	} else if (strcasecmp(p->type, "text") == 0) {
		buf_printf(out, " %zu", p->body_lines);
	}
	if (extended) {
		buf_putc(out, ' ');
		mime_imap_nstr(out, p->md5);
		ext_common(out, p);
	}
	buf_putc(out, ')');
}
