/* jmap-email - RFC 8621 Email objects and filters (jmap-email.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "hfield.h"
#include "jmap-email.h"
#include "jmap.h"
#include "strutil.h"
#include "xalloc.h"
#include "jmap-email-private.h"
/* ------------------------------------------------------------- headers */

/* The fields of the header block: lib-mime's hfield.h (the store's query
 * index reads a header the same way). */

/* header_end - the end of the header block within JE_HEADER_MAX bytes */
size_t
header_end(const char *d, size_t len)
{
	size_t end;

	(void)hfield_block_end(d, len < JE_HEADER_MAX ? len : JE_HEADER_MAX,
	    &end);
	return end;
}

/* field_get - the value of the first (or, last, the last) field name */
bool
field_get(const char *d, size_t hend, const char *name, bool last,
	  struct hfield *out)
{
	size_t p = 0;
	struct hfield f;
	bool found = false;

	while (hfield_next(d, &p, hend, &f)) {
		if (f.nlen == strlen(name) && strncasecmp(f.name, name, f.nlen) == 0) {
			*out = f;
			found = true;
			if (!last)
				break;
		}
	}
	return found;
}

/* ----------------------------------------------------------- addresses */

/* strip_comments - s without (comments), quotes kept */
static void
addr_push(json_t *list, const char *name, size_t nl, const char *email,
	  size_t el)
{
	struct buf n, e, dn;

	if (json_array_size(list) >= JE_ADDR_MAX)
		return;
	buf_init(&n, 0);
	buf_init(&e, 0);
	buf_init(&dn, 0);
	for (size_t i = 0; i < nl; i++)       /* unquote */
		if (name[i] == '\\' && i + 1 < nl)
			buf_putc(&n, name[++i]);
		else if (name[i] != '"')
			buf_putc(&n, name[i]);
	for (size_t i = 0; i < el; i++)
		if (!isspace((unsigned char)email[i]))
			buf_putc(&e, email[i]);
	struct buf u;
	buf_init(&u, 0);
	hfield_unfold(n.data != NULL ? n.data : "", n.len, &u);
	mime_decode_words(u.data, u.len, &dn);
	buf_free(&u);
	json_array_append_new(list, json_pack("{s:s?,s:s}", "name",
	    dn.len > 0 ? dn.data : NULL, "email", e.data != NULL ? e.data : ""));
	buf_free(&n);
	buf_free(&e);
	buf_free(&dn);
}

/* one_address - "Name <a@b>", "a@b (Name)" or "a@b" */
static void
one_address(const char *s, size_t n, json_t *list)
{
	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return;
	const char *lt = NULL, *gt = NULL;
	bool q = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == '<' && lt == NULL)
			lt = s + i;
		else if (!q && s[i] == '>' && lt != NULL)
			gt = s + i;
	}
	if (lt != NULL && gt != NULL && gt > lt) {
		addr_push(list, s, (size_t)(lt - s), lt + 1, (size_t)(gt - lt - 1));
		return;
	}
	const char *par = memchr(s, '(', n);
	if (par != NULL) {
		const char *end = memchr(par, ')', n - (size_t)(par - s));
		addr_push(list, par + 1, end != NULL ? (size_t)(end - par - 1) :
		    n - (size_t)(par - s) - 1, s, (size_t)(par - s));
		return;
	}
	addr_push(list, "", 0, s, n);
}

/* addresses - an address-list (groups flattened, asAddresses) */
static json_t *
addresses(const char *v, size_t n)
{
	json_t *list = json_array();
	size_t start = 0;
	bool q = false;
	int angle = 0, paren = 0;

	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? v[i] : ',';
		if (i < n && c == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (q) {
			if (c == '"')
				q = false;
			if (i < n)
				continue;
		}
		if (c == '"')
			q = true;
		else if (c == '(')
			paren++;
		else if (c == ')' && paren > 0)
			paren--;
		else if (c == '<' && paren == 0)
			angle = 1;
		else if (c == '>' && paren == 0)
			angle = 0;
		else if (paren == 0 && angle == 0 && c == ':') {
			start = i + 1;          /* a group's display name */
		} else if ((paren == 0 && angle == 0 && (c == ',' || c == ';')) ||
		    i == n) {
			one_address(v + start, i - start, list);
			start = i + 1;
		}
	}
	return list;
}

static json_t *
message_ids(const char *v, size_t n)
{
	json_t *list = json_array();
	const char *p = v, *end = v + n;

	while (p < end && json_array_size(list) < JE_ADDR_MAX) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			break;
		const char *gt = memchr(lt, '>', (size_t)(end - lt));
		if (gt == NULL)
			break;
		struct buf b;
		buf_init(&b, 0);
		for (const char *c = lt + 1; c < gt; c++)
			if (!isspace((unsigned char)*c))
				buf_putc(&b, *c);
		if (b.len > 0)
			json_array_append_new(list, json_string(b.data));
		buf_free(&b);
		p = gt + 1;
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return json_null();
	}
	return list;
}

void
je_rfc3339(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
je_parse_date(const char *s, time_t *t_r)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (e == NULL)
		return -1;
	if (*e == '.')
		for (e++; isdigit((unsigned char)*e); e++)
			;
	long off = 0;
	if (*e == 'Z' || *e == 'z')
		e++;
	else if ((*e == '+' || *e == '-') && isdigit((unsigned char)e[1]) &&
	    isdigit((unsigned char)e[2]) && e[3] == ':' &&
	    isdigit((unsigned char)e[4]) && isdigit((unsigned char)e[5])) {
		off = ((e[1] - '0') * 10 + (e[2] - '0')) * 3600 +
		    ((e[4] - '0') * 10 + (e[5] - '0')) * 60;
		if (*e == '-')
			off = -off;
		e += 6;
	} else
		return -1;
	if (*e != '\0')
		return -1;
	*t_r = timegm(&tm) - off;
	return 0;
}

/* header_form - a header field in a parsed form (4.1.2) */
static json_t *
header_form(const char *v, size_t n, const char *form)
{
	struct buf b;
	json_t *r;

	buf_init(&b, 0);
	if (form == NULL || strcmp(form, "asRaw") == 0) {
		buf_append(&b, v, n);
		r = json_stringn(b.data != NULL ? b.data : "", b.len);
	} else if (strcmp(form, "asText") == 0) {
		hfield_text(v, n, &b);
		r = json_stringn(b.data, b.len);
	} else if (strcmp(form, "asAddresses") == 0) {
		hfield_unfold(v, n, &b);
		r = addresses(b.data, b.len);
	} else if (strcmp(form, "asGroupedAddresses") == 0) {
		hfield_unfold(v, n, &b);
		r = json_pack("[{s:n,s:o}]", "name", "addresses",
		    addresses(b.data, b.len));
	} else if (strcmp(form, "asMessageIds") == 0) {
		r = message_ids(v, n);
	} else if (strcmp(form, "asDate") == 0) {
		time_t t;
		int tz;
		char d[32];
		hfield_unfold(v, n, &b);
		if (mime_date_parse(b.data, &t, &tz) < 0)
			r = json_null();
		else {
			je_rfc3339(t, d, sizeof(d));
			r = json_string(d);
		}
	} else {                                     /* asURLs */
		r = message_ids(v, n);
	}
	buf_free(&b);
	return r != NULL ? r : json_null();
}

static bool
form_valid(const char *f)
{
	static const char *const forms[] = { "asRaw", "asText", "asAddresses",
	    "asGroupedAddresses", "asMessageIds", "asDate", "asURLs", NULL };
	for (size_t i = 0; forms[i] != NULL; i++)
		if (strcmp(forms[i], f) == 0)
			return true;
	return false;
}

/* header_prop - "header:Name[:form][:all]": the value of the property */
static json_t *
header_prop(const char *d, size_t hend, const char *prop)
{
	char name[256], form[32] = "";
	bool all = false;
	const char *p = prop + 7;
	size_t n = strcspn(p, ":");

	snprintf(name, sizeof(name), "%.*s", (int)(n < 255 ? n : 255), p);
	p += n;
	if (*p == ':') {
		p++;
		size_t k = strcspn(p, ":");
		if (k == 3 && strncmp(p, "all", 3) == 0)
			all = true;
		else
			snprintf(form, sizeof(form), "%.*s", (int)(k < 31 ? k : 31), p);
		p += k;
		if (*p == ':' && strcmp(p + 1, "all") == 0)
			all = true;
	}
	size_t pos = 0;
	struct hfield f;
	json_t *list = all ? json_array() : NULL, *last = NULL;
	while (hfield_next(d, &pos, hend, &f)) {
		if (f.nlen != strlen(name) || strncasecmp(f.name, name, f.nlen) != 0)
			continue;
		json_t *v = header_form(f.value, f.vlen, form[0] ? form : NULL);
		if (all)
			json_array_append_new(list, v);
		else {
			json_decref(last);
			last = v;           /* the last instance (4.1.3) */
		}
	}
	if (all)
		return list;
	return last != NULL ? last : json_null();
}

bool
je_props_check(json_t *props, json_t *body_props, json_t **error_r)
{
	static const char *const known[] = { "id", "blobId", "threadId",
	    "mailboxIds", "keywords", "size", "receivedAt", "messageId",
	    "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
	    "replyTo", "subject", "sentAt", "hasAttachment", "preview",
	    "bodyStructure", "bodyValues", "textBody", "htmlBody",
	    "attachments", "headers", NULL };
	static const char *const bknown[] = { "partId", "blobId", "size",
	    "headers", "name", "type", "charset", "disposition", "cid",
	    "language", "location", "subParts", NULL };
	json_t *lists[2] = { props, body_props };

	for (int l = 0; l < 2; l++) {
		size_t i;
		json_t *v;
		if (lists[l] == NULL || json_is_null(lists[l]))
			continue;
		if (!json_is_array(lists[l]))
			goto bad;
		json_array_foreach(lists[l], i, v) {
			const char *s = json_string_value(v);
			bool ok = false;
			if (s == NULL)
				goto bad;
			for (size_t k = 0; (l ? bknown : known)[k] != NULL && !ok; k++)
				ok = strcmp((l ? bknown : known)[k], s) == 0;
			if (!ok && strncmp(s, "header:", 7) == 0 && s[7] != '\0' &&
			    s[7] != ':') {
				const char *f = strchr(s + 7, ':');
				ok = f == NULL || strcmp(f, ":all") == 0;
				if (!ok) {
					char form[32];
					size_t k = strcspn(f + 1, ":");
					snprintf(form, sizeof(form), "%.*s", (int)(k < 31 ?
					    k : 31), f + 1);
					ok = form_valid(form) && (f[1 + k] == '\0' ||
					    strcmp(f + 1 + k, ":all") == 0);
				}
			}
			if (!ok) {
				*error_r = jmap_error("invalidArguments", "unknown "
				    "property %.200s", s);
				return false;
			}
		}
	}
	return true;
bad:
	*error_r = jmap_error("invalidArguments", "properties must be an array "
	    "of strings");
	return false;
}

/* --------------------------------------------------------------- bodies */

static const char *
param(const struct mime_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

struct ectx {
	const char *data;
	size_t len;
	const char *blob_id;
	const struct je_props *p;
	json_t *text, *html, *att;  /* lists of parts */
	json_t *values;             /* bodyValues */
	json_t *body_props;
};

static bool
bp_wanted(const struct ectx *c, const char *name)
{
	size_t i;
	json_t *v;

	if (c->body_props == NULL || json_is_null(c->body_props)) {
		static const char *const def[] = { "partId", "blobId", "size",
		    "name", "type", "charset", "disposition", "cid", "language",
		    "location", "subParts", NULL };
		for (size_t k = 0; def[k] != NULL; k++)
			if (strcmp(def[k], name) == 0)
				return true;
		return false;
	}
	json_array_foreach(c->body_props, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static char *
mime_type(const struct mime_part *pt)
{
	char *t = xasprintf("%s/%s", pt->type != NULL ? pt->type : "text",
	    pt->subtype != NULL ? pt->subtype : "plain");
	str_lower(t);
	return t;
}

/* part_json - an EmailBodyPart (path: "1.2") */
static json_t *
part_json(struct ectx *c, const struct mime_part *pt, const char *path,
	  bool with_sub)
{
	json_t *o = json_object();
	char *type = mime_type(pt);
	struct buf b;

	buf_init(&b, 0);
	if (bp_wanted(c, "partId"))
		json_object_set_new(o, "partId", pt->multipart ? json_null() :
		    json_string(path));
	if (bp_wanted(c, "blobId")) {
		if (pt->multipart)
			json_object_set_new(o, "blobId", json_null());
		else {
			char *bid = xasprintf("%s_%s", c->blob_id, path);
			for (char *q = bid; *q != '\0'; q++)
				if (*q == '.')
					*q = '-';
			json_object_set_new(o, "blobId", json_string(bid));
			free(bid);
		}
	}
	if (bp_wanted(c, "size"))
		/* RFC 8621 4.1.4: the size after the transfer decoding,
		 * that of the blob the user downloads */
		json_object_set_new(o, "size", json_integer(pt->multipart ? 0 :
		    (json_int_t)mime_decoded_size(c->data, pt)));
	if (bp_wanted(c, "headers")) {
		json_t *h = json_array();
		size_t pos = pt->hdr_start, end = pt->hdr_start + pt->hdr_len;
		struct hfield f;
		while (hfield_next(c->data, &pos, end, &f))
			json_array_append_new(h, json_pack("{s:s%,s:s%}", "name",
			    f.name, f.nlen, "value", f.value, f.vlen));
		json_object_set_new(o, "headers", h);
	}
	const char *fname = param(pt->disp_params, pt->ndisp_params, "filename");
	if (fname == NULL)
		fname = param(pt->params, pt->nparams, "name");
	if (bp_wanted(c, "name")) {
		if (fname != NULL) {
			mime_decode_words(fname, strlen(fname), &b);
			json_object_set_new(o, "name", json_string(b.data != NULL ?
			    b.data : ""));
		} else
			json_object_set_new(o, "name", json_null());
	}
	if (bp_wanted(c, "type"))
		json_object_set_new(o, "type", json_string(type));
	if (bp_wanted(c, "charset")) {
		const char *cs = param(pt->params, pt->nparams, "charset");
		json_object_set_new(o, "charset", cs != NULL ? json_string(cs) :
		    strncmp(type, "text/", 5) == 0 ? json_string("us-ascii") :
		    json_null());
	}
	if (bp_wanted(c, "disposition"))
		json_object_set_new(o, "disposition", pt->disposition != NULL ?
		    json_string(pt->disposition) : json_null());
	if (bp_wanted(c, "cid")) {
		if (pt->id != NULL) {
			json_t *ids = message_ids(pt->id, strlen(pt->id));
			json_object_set(o, "cid", json_is_array(ids) ?
			    json_array_get(ids, 0) : json_null());
			json_decref(ids);
		} else
			json_object_set_new(o, "cid", json_null());
	}
	if (bp_wanted(c, "language"))
		json_object_set_new(o, "language", pt->language != NULL ?
		    json_pack("[s]", pt->language) : json_null());
	if (bp_wanted(c, "location"))
		json_object_set_new(o, "location", pt->location != NULL ?
		    json_string(pt->location) : json_null());
	if (with_sub && bp_wanted(c, "subParts") && pt->multipart) {
		json_t *subs = json_array();
		for (size_t i = 0; i < pt->nchildren; i++) {
			char *sp = path[0] == '\0' ? xasprintf("%zu", i + 1) :
			    xasprintf("%s.%zu", path, i + 1);
			json_array_append_new(subs, part_json(c, &pt->children[i],
			    sp, true));
			free(sp);
		}
		json_object_set_new(o, "subParts", subs);
	}
	free(type);
	buf_free(&b);
	return o;
}

static bool
is_inline_media(const char *type)
{
	return strncmp(type, "image/", 6) == 0 || strncmp(type, "audio/", 6) == 0 ||
	    strncmp(type, "video/", 6) == 0;
}

/* parse_structure - RFC 8621 4.1.4's algorithm over the MIME tree */
static void
parse_structure(struct ectx *c, const struct mime_part *pt, const char *path,
		const char *multipart_type, bool in_alternative, json_t *html,
		json_t *text, json_t *att, int depth)
{
	if (depth > MIME_MAX_DEPTH)
		return;
	bool is_alt = multipart_type != NULL && strcmp(multipart_type,
	    "alternative") == 0;
	bool is_related = multipart_type != NULL && strcmp(multipart_type,
	    "related") == 0;
	(void)is_alt;
	if (pt->multipart) {
		char sub[64];
		snprintf(sub, sizeof(sub), "%s", pt->subtype != NULL ? pt->subtype :
		    "mixed");
		str_lower(sub);
		bool alt = strcmp(sub, "alternative") == 0;
		size_t th = json_array_size(text), hh = json_array_size(html);
		for (size_t i = 0; i < pt->nchildren; i++) {
			char *sp = path[0] == '\0' ? xasprintf("%zu", i + 1) :
			    xasprintf("%s.%zu", path, i + 1);
			parse_structure(c, &pt->children[i], sp, sub,
			    in_alternative || alt, html, text, att, depth + 1);
			free(sp);
		}
		if (alt) {
			/* an alternative with only one kind: the other list
			 * takes the same parts */
			if (json_array_size(text) == th && json_array_size(html) > hh)
				for (size_t i = hh; i < json_array_size(html); i++)
					json_array_append(text, json_array_get(html, i));
			if (json_array_size(html) == hh && json_array_size(text) > th)
				for (size_t i = th; i < json_array_size(text); i++)
					json_array_append(html, json_array_get(text, i));
		}
		return;
	}
	char *type = mime_type(pt);
	bool is_inline = pt->disposition == NULL ||
	    strcasecmp(pt->disposition, "attachment") != 0;
	bool is_text = strcmp(type, "text/plain") == 0 ||
	    strcmp(type, "text/html") == 0;
	const char *fname = param(pt->disp_params, pt->ndisp_params, "filename");
	if (fname == NULL)
		fname = param(pt->params, pt->nparams, "name");
	json_t *pj = part_json(c, pt, path[0] != '\0' ? path : "1", false);
	if (is_inline && (is_text || is_inline_media(type)) &&
	    (fname == NULL || !is_text) && !(is_related && !is_text &&
	    strcmp(path, "1") != 0 && !is_inline_media(type))) {
		if (is_text && fname == NULL) {
			bool html_part = strcmp(type, "text/html") == 0;
			if (!in_alternative || html_part)
				json_array_append(html, pj);
			if (!in_alternative || !html_part)
				json_array_append(text, pj);
		} else if (is_inline_media(type)) {
			if (!in_alternative) {
				json_array_append(text, pj);
				json_array_append(html, pj);
			}
			if (is_related || in_alternative)
				json_array_append(att, pj);
			else
				json_array_append(att, pj);
		} else
			json_array_append(att, pj);
	} else
		json_array_append(att, pj);
	json_decref(pj);
	free(type);
}

/* body_value - the decoded text of a part as an EmailBodyValue */
static json_t *
body_value(struct ectx *c, const struct mime_part *pt)
{
	struct buf raw, out;
	bool problem = false, trunc = false;
	const char *cs = param(pt->params, pt->nparams, "charset");

	buf_init(&raw, 0);
	buf_init(&out, 0);
	if (mime_decode_body(c->data, pt, &raw) < 0) {
		buf_append(&raw, c->data + pt->body_start, pt->body_len);
		problem = true;
	}
	if (cs == NULL || mime_charset_to_utf8(cs, raw.data != NULL ?
	    raw.data : "", raw.len, &out) < 0) {
		if (cs != NULL)
			problem = true;
		buf_append(&out, raw.data != NULL ? raw.data : "", raw.len);
	}
	/* 4.1.4: any CRLF replaced with a single LF */
	size_t o = 0;
	for (size_t i = 0; i < out.len; i++)
		if (!(out.data[i] == '\r' && i + 1 < out.len &&
		    out.data[i + 1] == '\n'))
			out.data[o++] = out.data[i];
	if (o < out.len)
		buf_truncate(&out, o);
	size_t n = out.len, max = c->p->max_body_value_bytes;
	if (max > 0 && n > max) {
		n = max;
		while (n > 0 && ((unsigned char)out.data[n] & 0xc0) == 0x80)
			n--;            /* not inside a UTF-8 sequence */
		trunc = true;
	}
	json_t *s = json_stringn(out.data != NULL ? out.data : "", n);
	if (s == NULL) {                  /* not UTF-8: replace bytes */
		struct buf fix;
		buf_init(&fix, 0);
		for (size_t i = 0; i < n; i++)
			buf_putc(&fix, (unsigned char)out.data[i] < 0x80 ?
			    out.data[i] : '?');
		s = json_stringn(fix.data != NULL ? fix.data : "", fix.len);
		buf_free(&fix);
		problem = true;
	}
	buf_free(&raw);
	buf_free(&out);
	return json_pack("{s:o,s:b,s:b}", "value", s, "isEncodingProblem",
	    problem, "isTruncated", trunc);
}

/* part_at - the leaf part of a partId path */
static const struct mime_part *
part_at(const struct mime_message *m, const char *path)
{
	unsigned v[MIME_MAX_DEPTH + 1];
	size_t n = 0;

	for (const char *p = path; *p != '\0' && n <= MIME_MAX_DEPTH; ) {
		char *end;
		unsigned long x = strtoul(p, &end, 10);
		if (end == p || x == 0 || x > MIME_MAX_PARTS)
			return NULL;
		v[n++] = (unsigned)x;
		p = *end == '.' ? end + 1 : end;
		if (*end != '.' && *end != '\0')
			return NULL;
	}
	const struct mime_part *pt = &m->root;
	for (size_t i = 0; i < n; i++) {
		if (!pt->multipart) {
			if (i == 0 && v[0] == 1 && n == 1)
				return pt;
			return NULL;
		}
		if (v[i] > pt->nchildren)
			return NULL;
		pt = &pt->children[v[i] - 1];
	}
	return pt;
}

bool
want(const struct je_props *p, const char *name)
{
	size_t i;
	json_t *v;

	if (p->props == NULL || json_is_null(p->props)) {
		static const char *const def[] = { "id", "blobId", "threadId",
		    "mailboxIds", "keywords", "size", "receivedAt", "messageId",
		    "inReplyTo", "references", "sender", "from", "to", "cc",
		    "bcc", "replyTo", "subject", "sentAt", "hasAttachment",
		    "preview", "bodyValues", "textBody", "htmlBody",
		    "attachments", NULL };
		for (size_t k = 0; def[k] != NULL; k++)
			if (strcmp(def[k], name) == 0)
				return true;
		return false;
	}
	json_array_foreach(p->props, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static void
preview(struct ectx *c, const struct mime_message *mm, json_t *text,
	struct buf *out)
{
	size_t i;
	json_t *pj;

	json_array_foreach(text, i, pj) {
		const char *pid = json_string_value(json_object_get(pj, "partId"));
		const struct mime_part *pt = pid != NULL ? part_at(mm, pid) : NULL;
		if (pt == NULL || pt->subtype == NULL ||
		    strcasecmp(pt->subtype, "plain") != 0)
			continue;
		struct buf t;
		buf_init(&t, 0);
		mime_part_text(c->data, pt, &t);
		bool sp = false;
		for (size_t k = 0; k < t.len && out->len < JE_PREVIEW_MAX; k++) {
			unsigned char ch = (unsigned char)t.data[k];
			if (isspace(ch)) {
				sp = out->len > 0;
				continue;
			}
			if (sp)
				buf_putc(out, ' ');
			sp = false;
			buf_putc(out, (char)ch);
		}
		buf_free(&t);
		break;
	}
	while (out->len > 0 && ((unsigned char)out->data[out->len - 1] & 0x80))
		buf_truncate(out, out->len - 1);  /* no cut UTF-8 sequence */
}

json_t *
je_email(const char *data, size_t len, const struct je_meta *meta,
	 const struct je_props *p)
{
	struct mime_message mm;
	json_t *o = json_object();
	size_t hend = header_end(data, len);
	struct hfield f;
	char d[32];

	mime_parse(&mm, data, len);
	struct ectx c = { .data = data, .len = len, .blob_id = meta->blob_id,
	    .p = p, .body_props = p->body_props };
	if (want(p, "id"))
		json_object_set_new(o, "id", meta->id != NULL ?
		    json_string(meta->id) : json_null());
	if (want(p, "blobId"))
		json_object_set_new(o, "blobId", json_string(meta->blob_id));
	if (want(p, "threadId"))
		json_object_set_new(o, "threadId", meta->thread_id != NULL ?
		    json_string(meta->thread_id) : json_null());
	if (want(p, "mailboxIds"))
		json_object_set(o, "mailboxIds", meta->mailbox_ids != NULL ?
		    meta->mailbox_ids : json_null());
	if (want(p, "keywords"))
		json_object_set_new(o, "keywords", meta->keywords != NULL ?
		    json_incref(meta->keywords) : json_object());
	if (want(p, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)meta->size));
	if (want(p, "receivedAt")) {
		je_rfc3339(meta->received, d, sizeof(d));
		json_object_set_new(o, "receivedAt", json_string(d));
	}
	static const struct { const char *prop, *field, *form; } hp[] = {
		{ "messageId", "Message-ID", "asMessageIds" },
		{ "inReplyTo", "In-Reply-To", "asMessageIds" },
		{ "references", "References", "asMessageIds" },
		{ "sender", "Sender", "asAddresses" },
		{ "from", "From", "asAddresses" },
		{ "to", "To", "asAddresses" },
		{ "cc", "Cc", "asAddresses" },
		{ "bcc", "Bcc", "asAddresses" },
		{ "replyTo", "Reply-To", "asAddresses" },
		{ "subject", "Subject", "asText" },
		{ "sentAt", "Date", "asDate" },
	};
	for (size_t i = 0; i < sizeof(hp) / sizeof(hp[0]); i++)
		if (want(p, hp[i].prop))
			json_object_set_new(o, hp[i].prop, field_get(data, hend,
			    hp[i].field, true, &f) ? header_form(f.value, f.vlen,
			    hp[i].form) : json_null());
	if (want(p, "headers")) {
		json_t *h = json_array();
		size_t pos = 0;
		while (hfield_next(data, &pos, hend, &f))
			json_array_append_new(h, json_pack("{s:s%,s:s%}", "name",
			    f.name, f.nlen, "value", f.value, f.vlen));
		json_object_set_new(o, "headers", h);
	}
	if (p->props != NULL && json_is_array(p->props)) {
		size_t i;
		json_t *v;
		json_array_foreach(p->props, i, v) {
			const char *s = json_string_value(v);
			if (strncmp(s, "header:", 7) == 0)
				json_object_set_new(o, s, header_prop(data, hend, s));
		}
	}
	json_t *text = json_array(), *html = json_array(), *att = json_array();
	parse_structure(&c, &mm.root, "", NULL, false, html, text, att, 0);
	if (want(p, "bodyStructure"))
		json_object_set_new(o, "bodyStructure", part_json(&c, &mm.root,
		    mm.root.multipart ? "" : "1", true));
	if (want(p, "textBody"))
		json_object_set(o, "textBody", text);
	if (want(p, "htmlBody"))
		json_object_set(o, "htmlBody", html);
	if (want(p, "attachments"))
		json_object_set(o, "attachments", att);
	if (want(p, "hasAttachment"))
		json_object_set_new(o, "hasAttachment",
		    json_boolean(json_array_size(att) > 0));
	if (want(p, "preview")) {
		struct buf b;
		buf_init(&b, 0);
		preview(&c, &mm, text, &b);
		json_object_set_new(o, "preview", json_stringn(b.data != NULL ?
		    b.data : "", b.len));
		if (json_object_get(o, "preview") == NULL)
			json_object_set_new(o, "preview", json_string(""));
		buf_free(&b);
	}
	if (want(p, "bodyValues")) {
		json_t *vals = json_object();
		json_t *lists[3] = { p->fetch_text || p->fetch_all ? text : NULL,
		    p->fetch_html || p->fetch_all ? html : NULL, NULL };
		for (int l = 0; l < 2; l++) {
			size_t i;
			json_t *pj;
			if (lists[l] == NULL)
				continue;
			json_array_foreach(lists[l], i, pj) {
				const char *pid = json_string_value(json_object_get(pj,
				    "partId"));
				const struct mime_part *pt = pid != NULL ?
				    part_at(&mm, pid) : NULL;
				if (pt == NULL || json_object_get(vals, pid) != NULL ||
				    (pt->type != NULL && strcasecmp(pt->type, "text") != 0))
					continue;
				json_object_set_new(vals, pid, body_value(&c, pt));
			}
		}
		json_object_set_new(o, "bodyValues", vals);
	}
	json_decref(text);
	json_decref(html);
	json_decref(att);
	mime_free(&mm);
	return o;
}

int
je_part_blob(const char *data, size_t len, const char *path, struct buf *out)
{
	struct mime_message mm;
	char *p = xstrdup(path);

	for (char *q = p; *q != '\0'; q++)
		if (*q == '-')
			*q = '.';
	mime_parse(&mm, data, len);
	const struct mime_part *pt = part_at(&mm, p);
	int r = -1;
	if (pt != NULL && !pt->multipart) {
		if (mime_decode_body(data, pt, out) < 0)
			buf_append(out, data + pt->body_start, pt->body_len);
		r = 0;
	}
	mime_free(&mm);
	free(p);
	return r;
}

void
je_thread_root(const char *data, size_t len, struct buf *out)
{
	size_t hend = header_end(data, len);
	struct hfield f;
	static const char *const fields[] = { "References", "In-Reply-To",
	    "Message-ID" };

	buf_reset(out);
	for (size_t i = 0; i < 3; i++) {
		if (!field_get(data, hend, fields[i], false, &f))
			continue;
		json_t *ids = message_ids(f.value, f.vlen);
		if (json_is_array(ids)) {
			buf_puts(out, json_string_value(json_array_get(ids, 0)));
			json_decref(ids);
			return;
		}
		json_decref(ids);
	}
}

void
je_header_text(const char *data, size_t len, const char *name,
	       struct buf *out)
{
	size_t hend = header_end(data, len);
	struct hfield f;

	buf_reset(out);
	if (field_get(data, hend, name, true, &f))
		hfield_text(f.value, f.vlen, out);
	if (out->data == NULL)
		buf_puts(out, "");
}

void
je_sort_address(const char *data, size_t len, const char *name,
		struct buf *out)
{
	size_t hend = header_end(data, len);
	struct hfield f;
	struct buf u;

	buf_reset(out);
	buf_init(&u, 0);
	if (field_get(data, hend, name, true, &f)) {
		hfield_unfold(f.value, f.vlen, &u);
		json_t *a = addresses(u.data, u.len);
		json_t *first = json_array_get(a, 0);
		const char *s = json_string_value(json_object_get(first, "name"));
		if (s == NULL)
			s = json_string_value(json_object_get(first, "email"));
		if (s != NULL)
			buf_puts(out, s);
		json_decref(a);
	}
	buf_free(&u);
	if (out->data == NULL)
		buf_puts(out, "");
	for (size_t i = 0; i < out->len; i++)
		out->data[i] = (char)tolower((unsigned char)out->data[i]);
}

time_t
je_sent_at(const char *data, size_t len)
{
	size_t hend = header_end(data, len);
	struct hfield f;
	struct buf u;
	time_t t = 0;
	int tz;

	if (!field_get(data, hend, "Date", true, &f))
		return 0;
	buf_init(&u, 0);
	hfield_unfold(f.value, f.vlen, &u);
	if (mime_date_parse(u.data, &t, &tz) < 0)
		t = 0;
	buf_free(&u);
	return t;
}
