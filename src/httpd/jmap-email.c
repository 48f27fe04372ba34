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

/* ------------------------------------------------------------- headers */

/* The fields of the header block: lib-mime's hfield.h (the store's query
 * index reads a header the same way). */

/* header_end - the end of the header block within JE_HEADER_MAX bytes */
static size_t
header_end(const char *d, size_t len)
{
	size_t end;

	(void)hfield_block_end(d, len < JE_HEADER_MAX ? len : JE_HEADER_MAX,
	    &end);
	return end;
}

/* field_get - the value of the first (or, last, the last) field name */
static bool
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

static bool
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

/* -------------------------------------------------------------- filters */

static void
filter_clear(struct je_filter *f)
{
	free(f->str);
	free(f->str2);
	for (size_t i = 0; i < f->nids; i++)
		free(f->ids[i]);
	free(f->ids);
	for (size_t i = 0; i < f->nsub; i++)
		filter_clear(&f->sub[i]);
	free(f->sub);
}

void
je_filter_free(struct je_filter **fp)
{
	if (*fp == NULL)
		return;
	filter_clear(*fp);
	free(*fp);
	*fp = NULL;
}

static int
cond_parse(json_t *v, struct je_filter *f, size_t *count, int depth,
	   json_t **error_r)
{
	static const struct { const char *name; enum je_fkind kind; char type; }
	conds[] = {
		{ "inMailbox", JF_IN_MAILBOX, 's' },
		{ "inMailboxOtherThan", JF_IN_MAILBOX_OTHER, 'a' },
		{ "before", JF_BEFORE, 'd' }, { "after", JF_AFTER, 'd' },
		{ "minSize", JF_MIN_SIZE, 'n' }, { "maxSize", JF_MAX_SIZE, 'n' },
		{ "hasKeyword", JF_HAS_KEYWORD, 's' },
		{ "notKeyword", JF_NOT_KEYWORD, 's' },
		{ "hasAttachment", JF_HAS_ATTACHMENT, 'b' },
		{ "text", JF_TEXT, 's' }, { "from", JF_FROM, 's' },
		{ "to", JF_TO, 's' }, { "cc", JF_CC, 's' }, { "bcc", JF_BCC, 's' },
		{ "subject", JF_SUBJECT, 's' }, { "body", JF_BODY, 's' },
		{ "header", JF_HEADER, 'h' },
	};
	const char *key;
	json_t *val;

	if (!json_is_object(v) || depth > JE_FILTER_DEPTH ||
	    ++*count > JE_FILTER_MAX) {
		*error_r = jmap_error("unsupportedFilter", "a filter must be an "
		    "object, at most %d deep with at most %d conditions",
		    JE_FILTER_DEPTH, JE_FILTER_MAX);
		return -1;
	}
	json_t *op = json_object_get(v, "operator");
	if (op != NULL) {
		const char *o = json_string_value(op);
		json_t *conds_v = json_object_get(v, "conditions");
		if (o == NULL || !json_is_array(conds_v) || json_object_size(v) != 2 ||
		    (strcmp(o, "AND") != 0 && strcmp(o, "OR") != 0 &&
		    strcmp(o, "NOT") != 0)) {
			*error_r = jmap_error("unsupportedFilter", "a FilterOperator "
			    "is {operator: AND|OR|NOT, conditions: [...]}");
			return -1;
		}
		f->kind = o[0] == 'A' ? JF_AND : o[0] == 'O' ? JF_OR : JF_NOT;
		size_t n = json_array_size(conds_v);
		if (n > JE_FILTER_MAX) {
			*error_r = jmap_error("unsupportedFilter", "too many "
			    "conditions");
			return -1;
		}
		f->sub = xcalloc(n > 0 ? n : 1, sizeof(*f->sub));
		for (size_t i = 0; i < n; i++) {
			f->nsub++;
			if (cond_parse(json_array_get(conds_v, i), &f->sub[i], count,
			    depth + 1, error_r) < 0)
				return -1;
		}
		return 0;
	}
	/* a FilterCondition: every property must hold (an implicit AND) */
	size_t n = json_object_size(v);
	f->kind = JF_AND;
	f->sub = xcalloc(n > 0 ? n : 1, sizeof(*f->sub));
	json_object_foreach(v, key, val) {
		size_t k;
		for (k = 0; k < sizeof(conds) / sizeof(conds[0]); k++)
			if (strcmp(conds[k].name, key) == 0)
				break;
		if (k == sizeof(conds) / sizeof(conds[0])) {
			*error_r = jmap_error("unsupportedFilter", "unknown filter "
			    "condition %.100s", key);
			return -1;
		}
		struct je_filter *c = &f->sub[f->nsub++];
		c->kind = conds[k].kind;
		bool ok = true;
		switch (conds[k].type) {
		case 's':
			ok = json_is_string(val) && json_string_length(val) < 1024;
			if (ok)
				c->str = xstrdup(json_string_value(val));
			break;
		case 'n':
			ok = json_is_integer(val) && json_integer_value(val) >= 0;
			if (ok)
				c->num = json_integer_value(val);
			break;
		case 'b':
			ok = json_is_boolean(val);
			c->flag = json_is_true(val);
			break;
		case 'd': {
			time_t t;
			ok = json_is_string(val) &&
			    je_parse_date(json_string_value(val), &t) == 0;
			c->num = ok ? (int64_t)t : 0;
			break;
		}
		case 'a': {
			size_t i;
			json_t *x;
			ok = json_is_array(val) && json_array_size(val) <= JE_FILTER_MAX;
			if (!ok)
				break;
			c->ids = xcalloc(json_array_size(val) + 1, sizeof(char *));
			json_array_foreach(val, i, x) {
				if (!json_is_string(x)) {
					ok = false;
					break;
				}
				c->ids[c->nids++] = xstrdup(json_string_value(x));
			}
			break;
		}
		case 'h':
			ok = json_is_array(val) && json_array_size(val) >= 1 &&
			    json_array_size(val) <= 2 &&
			    json_is_string(json_array_get(val, 0)) &&
			    (json_array_size(val) == 1 ||
			    json_is_string(json_array_get(val, 1)));
			if (ok) {
				c->str = xstrdup(json_string_value(json_array_get(val, 0)));
				if (json_array_size(val) == 2)
					c->str2 = xstrdup(json_string_value(
					    json_array_get(val, 1)));
			}
			break;
		}
		if (!ok) {
			*error_r = jmap_error("invalidArguments", "the filter "
			    "condition %s has a value of the wrong type", key);
			return -1;
		}
	}
	return 0;
}

int
je_filter_parse(json_t *v, struct je_filter **f_r, json_t **error_r)
{
	size_t count = 0;

	*f_r = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	struct je_filter *f = xcalloc(1, sizeof(*f));
	if (cond_parse(v, f, &count, 0, error_r) < 0) {
		je_filter_free(&f);
		return -1;
	}
	*f_r = f;
	return 0;
}

bool
je_filter_needs_bytes(const struct je_filter *f)
{
	if (f == NULL)
		return false;
	switch (f->kind) {
	case JF_AND: case JF_OR: case JF_NOT:
		for (size_t i = 0; i < f->nsub; i++)
			if (je_filter_needs_bytes(&f->sub[i]))
				return true;
		return false;
	case JF_HAS_ATTACHMENT: case JF_TEXT: case JF_FROM: case JF_TO:
	case JF_CC: case JF_BCC: case JF_SUBJECT: case JF_BODY: case JF_HEADER:
		return true;
	default:
		return false;
	}
}

static bool
has_keyword(const char *list, const char *kw)
{
	size_t n = strlen(kw);

	for (const char *p = list; *p != '\0'; ) {
		while (*p == ' ')
			p++;
		size_t k = strcspn(p, " ");
		if (k == n && k > 0 && strncasecmp(p, kw, n) == 0)
			return true;
		p += k;
	}
	return false;
}

/* text_of - the text of the header fields or the text parts */
static bool
field_contains(const struct je_match *m, const char *field, const char *s)
{
	struct buf b;
	size_t hend = header_end(m->data, m->len), pos = 0;
	struct hfield f;
	bool found = false;

	buf_init(&b, 0);
	while (!found && hfield_next(m->data, &pos, hend, &f)) {
		if (f.nlen != strlen(field) || strncasecmp(f.name, field, f.nlen) != 0)
			continue;
		hfield_text(f.value, f.vlen, &b);
		found = mem_contains_ci(b.data, b.len, s, strlen(s));
	}
	buf_free(&b);
	return found;
}

static bool
body_contains(const struct je_match *m, const char *s)
{
	struct mime_message mm;
	bool found = false;

	mime_parse(&mm, m->data, m->len);
	/* every text leaf, depth first */
	const struct mime_part *stack[MIME_MAX_DEPTH + 2];
	size_t idx[MIME_MAX_DEPTH + 2], sp = 0;
	stack[0] = &mm.root;
	idx[0] = 0;
	sp = 1;
	while (sp > 0 && !found) {
		const struct mime_part *pt = stack[sp - 1];
		if (!pt->multipart) {
			sp--;
			if (pt->type == NULL || strcasecmp(pt->type, "text") == 0) {
				struct buf t;
				buf_init(&t, 0);
				mime_part_text(m->data, pt, &t);
				found = mem_contains_ci(t.data, t.len, s, strlen(s));
				buf_free(&t);
			}
			continue;
		}
		if (idx[sp - 1] >= pt->nchildren || sp > MIME_MAX_DEPTH) {
			sp--;
			continue;
		}
		stack[sp] = &pt->children[idx[sp - 1]++];
		idx[sp] = 0;
		sp++;
	}
	mime_free(&mm);
	return found;
}

static bool
has_attachment(const struct je_match *m)
{
	struct je_props p = { 0 };
	struct je_meta meta = { .blob_id = "x" };
	json_t *props = json_pack("[s]", "hasAttachment");
	p.props = props;
	json_t *e = je_email(m->data, m->len, &meta, &p);
	bool r = json_is_true(json_object_get(e, "hasAttachment"));
	json_decref(e);
	json_decref(props);
	return r;
}

bool
je_filter_match(const struct je_filter *f, const struct je_match *m)
{
	if (f == NULL)
		return true;
	switch (f->kind) {
	case JF_AND:
		for (size_t i = 0; i < f->nsub; i++)
			if (!je_filter_match(&f->sub[i], m))
				return false;
		return true;
	case JF_OR:
		for (size_t i = 0; i < f->nsub; i++)
			if (je_filter_match(&f->sub[i], m))
				return true;
		return false;
	case JF_NOT:
		for (size_t i = 0; i < f->nsub; i++)
			if (je_filter_match(&f->sub[i], m))
				return false;
		return true;
	case JF_IN_MAILBOX:
		return strcmp(m->mailbox_id, f->str) == 0;
	case JF_IN_MAILBOX_OTHER:
		for (size_t i = 0; i < f->nids; i++)
			if (strcmp(m->mailbox_id, f->ids[i]) == 0)
				return false;
		return true;
	case JF_BEFORE:
		return (int64_t)m->received < f->num;
	case JF_AFTER:
		return (int64_t)m->received >= f->num;
	case JF_MIN_SIZE:
		return (int64_t)m->size >= f->num;
	case JF_MAX_SIZE:
		return (int64_t)m->size < f->num;
	case JF_HAS_KEYWORD:
		return has_keyword(m->keywords, f->str);
	case JF_NOT_KEYWORD:
		return !has_keyword(m->keywords, f->str);
	case JF_HAS_ATTACHMENT:
		return m->data != NULL && has_attachment(m) == f->flag;
	case JF_FROM: case JF_TO: case JF_CC: case JF_BCC: case JF_SUBJECT: {
		const char *field = f->kind == JF_FROM ? "From" : f->kind == JF_TO ?
		    "To" : f->kind == JF_CC ? "Cc" : f->kind == JF_BCC ? "Bcc" :
		    "Subject";
		return m->data != NULL && field_contains(m, field, f->str);
	}
	case JF_HEADER:
		if (m->data == NULL)
			return false;
		if (f->str2 == NULL) {
			size_t hend = header_end(m->data, m->len);
			struct hfield h;
			return field_get(m->data, hend, f->str, false, &h);
		}
		return field_contains(m, f->str, f->str2);
	case JF_BODY:
		return m->data != NULL && body_contains(m, f->str);
	case JF_TEXT: {
		static const char *const fields[] = { "From", "To", "Cc", "Bcc",
		    "Subject", NULL };
		if (m->data == NULL)
			return false;
		for (size_t i = 0; fields[i] != NULL; i++)
			if (field_contains(m, fields[i], f->str))
				return true;
		return body_contains(m, f->str);
	}
	}
	return false;
}

/* ------------------------------------------------------------- compose */

#define COMPOSE_FIELD_MAX 998

/* b64 - base64 in lines of 76 */
static void
b64(const unsigned char *in, size_t len, struct buf *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = { t[(v >> 18) & 63], t[(v >> 12) & 63],
		    i + 1 < len ? t[(v >> 6) & 63] : '=',
		    i + 2 < len ? t[v & 63] : '=' };
		buf_append(out, q, 4);
		if ((col += 4) >= 76) {
			buf_puts(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_puts(out, "\r\n");
}

static bool
is_ascii_text(const char *s, size_t n, bool one_line)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || c == 0 || (one_line && (c == '\r' || c == '\n')))
			return false;
		line = c == '\n' ? 0 : line + 1;
		if (line > COMPOSE_FIELD_MAX - 2)
			return false;
	}
	return true;
}

/* encoded_word - s as itself when plain ASCII, else one or more RFC 2047
 * B words */
static void
encoded_word(const char *s, struct buf *out)
{
	size_t n = strlen(s);

	if (is_ascii_text(s, n, true)) {
		buf_append(out, s, n);
		return;
	}
	for (size_t i = 0; i < n; ) {
		size_t k = n - i > 45 ? 45 : n - i;
		while (k < n - i && k > 0 && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;                      /* whole UTF-8 sequences */
		if (k == 0)
			k = n - i;
		struct buf w;
		buf_init(&w, 0);
		b64((const unsigned char *)s + i, k, &w);
		while (w.len > 0 && (w.data[w.len - 1] == '\n' ||
		    w.data[w.len - 1] == '\r'))
			buf_truncate(&w, w.len - 1);
		buf_printf(out, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", w.data);
		buf_free(&w);
		i += k;
	}
}

static bool
addr_valid(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
		return false;
	for (const char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || strchr("<>(),;:\"\\", *p) != NULL)
			return false;
	return true;
}

/* addr_field - "Name: a <b>, ..." from EmailAddress objects */
static int
addr_field(const char *name, json_t *list, struct buf *out)
{
	size_t i;
	json_t *v;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > JE_ADDR_MAX)
		return -1;
	buf_printf(out, "%s: ", name);
	json_array_foreach(list, i, v) {
		const char *email = json_string_value(json_object_get(v, "email"));
		json_t *nm = json_object_get(v, "name");
		if (!addr_valid(email) || (nm != NULL && !json_is_null(nm) &&
		    !json_is_string(nm)))
			return -1;
		if (i > 0)
			buf_puts(out, ",\r\n ");
		const char *n = json_string_value(nm);
		if (n != NULL && *n != '\0') {
			if (is_ascii_text(n, strlen(n), true)) {
				buf_putc(out, '"');
				for (const char *p = n; *p != '\0'; p++) {
					if (*p == '"' || *p == '\\')
						buf_putc(out, '\\');
					buf_putc(out, *p);
				}
				buf_putc(out, '"');
			} else
				encoded_word(n, out);
			buf_printf(out, " <%s>", email);
		} else
			buf_puts(out, email);
	}
	buf_puts(out, "\r\n");
	return 0;
}

/* ids_field - "Name: <a> <b>" from a list of message ids */
static int
ids_field(const char *name, json_t *list, struct buf *out)
{
	size_t i;
	json_t *v;

	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > JE_ADDR_MAX)
		return -1;
	buf_printf(out, "%s:", name);
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(v);
		if (!addr_valid(id))
			return -1;
		buf_printf(out, "%s<%s>", i > 0 ? "\r\n " : " ", id);
	}
	buf_puts(out, "\r\n");
	return 0;
}

/* body_part - one leaf text part from a body part object and bodyValues */
static int
text_part(json_t *part, json_t *values, const char *want, struct buf *out)
{
	const char *pid = json_string_value(json_object_get(part, "partId"));
	const char *type = json_string_value(json_object_get(part, "type"));
	const char *val = json_string_value(json_object_get(json_object_get(
	    values, pid != NULL ? pid : ""), "value"));

	if (pid == NULL || val == NULL || (type != NULL &&
	    strcasecmp(type, want) != 0) || json_object_get(part, "blobId") != NULL)
		return -1;
	struct buf crlf;
	buf_init(&crlf, 0);
	for (const char *p = val; *p != '\0'; p++) {
		if (*p == '\n' && (p == val || p[-1] != '\r'))
			buf_putc(&crlf, '\r');
		buf_putc(&crlf, *p);
	}
	buf_printf(out, "Content-Type: %s; charset=utf-8\r\n", want);
	if (crlf.len == 0 || is_ascii_text(crlf.data, crlf.len, false)) {
		buf_puts(out, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		if (crlf.len > 0)
			buf_append(out, crlf.data, crlf.len);
		if (crlf.len == 0 || crlf.data[crlf.len - 1] != '\n')
			buf_puts(out, "\r\n");
	} else {
		buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
		b64((const unsigned char *)crlf.data, crlf.len, out);
	}
	buf_free(&crlf);
	return 0;
}

static void
boundary(struct buf *out, int n)
{
	unsigned char r[8];

	random_bytes(r, sizeof(r));
	buf_printf(out, "=_postern_%d_", n);
	for (size_t i = 0; i < sizeof(r); i++)
		buf_printf(out, "%02x", r[i]);
}

int
je_compose(json_t *email, je_blob_fn *blob, void *ctx, const char *host,
	   struct buf *out, const char **why_r, const char **prop_r)
{
	static const char *const known[] = { "mailboxIds", "keywords",
	    "receivedAt", "from", "sender", "replyTo", "to", "cc", "bcc",
	    "subject", "sentAt", "messageId", "inReplyTo", "references",
	    "textBody", "htmlBody", "bodyValues", "attachments", NULL };
	const char *key;
	json_t *v;
	char date[64];
	time_t now = time(NULL);

	*why_r = "invalid value";
	json_object_foreach(email, key, v) {
		bool ok = strncmp(key, "header:", 7) == 0 && json_is_string(v) &&
		    strchr(key + 7, ':') == NULL && key[7] != '\0' &&
		    strlen(key) < 80 && json_string_length(v) < COMPOSE_FIELD_MAX &&
		    is_ascii_text(json_string_value(v), json_string_length(v), true);
		for (size_t i = 0; known[i] != NULL && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		for (const char *p = key + 7; ok && strncmp(key, "header:", 7) == 0 &&
		    *p != '\0'; p++)
			ok = *p > ' ' && *p < 127 && *p != ':';
		if (!ok) {
			*prop_r = key;
			*why_r = "not a property an Email can be created with (or "
			    "a header:Name that is not plain text)";
			return -1;
		}
	}
	static const struct { const char *prop, *field; } addrs[] = {
		{ "from", "From" }, { "sender", "Sender" }, { "replyTo", "Reply-To" },
		{ "to", "To" }, { "cc", "Cc" }, { "bcc", "Bcc" },
	};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		if (addr_field(addrs[i].field, json_object_get(email,
		    addrs[i].prop), out) < 0) {
			*prop_r = addrs[i].prop;
			return -1;
		}
	json_t *subj = json_object_get(email, "subject");
	if (subj != NULL && !json_is_null(subj)) {
		if (!json_is_string(subj) || json_string_length(subj) > 4000) {
			*prop_r = "subject";
			return -1;
		}
		buf_puts(out, "Subject: ");
		encoded_word(json_string_value(subj), out);
		buf_puts(out, "\r\n");
	}
	const char *sent = json_string_value(json_object_get(email, "sentAt"));
	time_t st = now;
	if (sent != NULL && je_parse_date(sent, &st) < 0) {
		*prop_r = "sentAt";
		return -1;
	}
	struct tm tm;
	gmtime_r(&st, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out, "Date: %s\r\n", date);
	if (json_object_get(email, "messageId") != NULL) {
		if (json_array_size(json_object_get(email, "messageId")) != 1 ||
		    ids_field("Message-ID", json_object_get(email, "messageId"),
		    out) < 0) {
			*prop_r = "messageId";
			return -1;
		}
	} else {
		unsigned char r[12];
		random_bytes(r, sizeof(r));
		buf_puts(out, "Message-ID: <");
		for (size_t i = 0; i < sizeof(r); i++)
			buf_printf(out, "%02x", r[i]);
		buf_printf(out, "@%s>\r\n", host);
	}
	if (ids_field("In-Reply-To", json_object_get(email, "inReplyTo"),
	    out) < 0) {
		*prop_r = "inReplyTo";
		return -1;
	}
	if (ids_field("References", json_object_get(email, "references"),
	    out) < 0) {
		*prop_r = "references";
		return -1;
	}
	json_object_foreach(email, key, v)
		if (strncmp(key, "header:", 7) == 0)
			buf_printf(out, "%s: %s\r\n", key + 7, json_string_value(v));
	buf_puts(out, "MIME-Version: 1.0\r\n");
	/* the body: text, html (alternative), attachments (mixed) */
	json_t *tb = json_object_get(email, "textBody");
	json_t *hb = json_object_get(email, "htmlBody");
	json_t *att = json_object_get(email, "attachments");
	json_t *values = json_object_get(email, "bodyValues");
	if ((tb != NULL && (!json_is_array(tb) || json_array_size(tb) > 1)) ||
	    (hb != NULL && (!json_is_array(hb) || json_array_size(hb) > 1)) ||
	    (att != NULL && !json_is_array(att)) ||
	    json_array_size(att) > MIME_MAX_PARTS / 2) {
		*prop_r = tb != NULL && json_array_size(tb) > 1 ? "textBody" :
		    hb != NULL && json_array_size(hb) > 1 ? "htmlBody" :
		    "attachments";
		*why_r = "textBody and htmlBody hold at most one part each";
		return -1;
	}
	struct buf text, html;
	buf_init(&text, 0);
	buf_init(&html, 0);
	int ret = 0;
	if (json_array_size(tb) == 1 && text_part(json_array_get(tb, 0), values,
	    "text/plain", &text) < 0) {
		*prop_r = "textBody";
		*why_r = "a text/plain part whose partId is in bodyValues";
		ret = -1;
	}
	if (ret == 0 && json_array_size(hb) == 1 && text_part(json_array_get(hb,
	    0), values, "text/html", &html) < 0) {
		*prop_r = "htmlBody";
		*why_r = "a text/html part whose partId is in bodyValues";
		ret = -1;
	}
	if (ret == 0 && text.len == 0 && html.len == 0)
		buf_puts(&text, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	struct buf main_part, bd1, bd2;
	buf_init(&main_part, 0);
	buf_init(&bd1, 0);
	buf_init(&bd2, 0);
	boundary(&bd1, 1);
	boundary(&bd2, 2);
	if (ret == 0) {
		if (text.len > 0 && html.len > 0)
			buf_printf(&main_part, "Content-Type: multipart/alternative; "
			    "boundary=\"%s\"\r\n\r\n--%s\r\n%s\r\n--%s\r\n%s\r\n--%s--\r\n",
			    bd2.data, bd2.data, text.data, bd2.data, html.data, bd2.data);
		else
			buf_puts(&main_part, text.len > 0 ? text.data : html.data);
	}
	if (ret == 0 && json_array_size(att) == 0)
		buf_append(out, main_part.data, main_part.len);
	else if (ret == 0) {
		buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
		    "\r\n--%s\r\n", bd1.data, bd1.data);
		buf_append(out, main_part.data, main_part.len);
		size_t i;
		json_array_foreach(att, i, v) {
			const char *bid = json_string_value(json_object_get(v, "blobId"));
			const char *type = json_string_value(json_object_get(v, "type"));
			const char *name = json_string_value(json_object_get(v, "name"));
			const char *disp = json_string_value(json_object_get(v,
			    "disposition"));
			const char *cid = json_string_value(json_object_get(v, "cid"));
			struct buf data;
			buf_init(&data, 0);
			if (bid == NULL || (type != NULL && (strchr(type, '/') == NULL ||
			    !is_ascii_text(type, strlen(type), true) ||
			    strpbrk(type, "\";\\ ") != NULL)) ||
			    (cid != NULL && !addr_valid(cid)) ||
			    blob(ctx, bid, &data) <= 0) {
				buf_free(&data);
				*prop_r = "attachments";
				*why_r = "an attachment needs the blobId of an uploaded "
				    "blob (and a plain type)";
				ret = -1;
				break;
			}
			buf_printf(out, "\r\n--%s\r\nContent-Type: %s\r\n", bd1.data,
			    type != NULL ? type : "application/octet-stream");
			buf_printf(out, "Content-Disposition: %s",
			    disp != NULL && strcmp(disp, "inline") == 0 ? "inline" :
			    "attachment");
			if (name != NULL) {
				buf_puts(out, ";\r\n filename=\"");
				struct buf enc;
				buf_init(&enc, 0);
				for (const char *p = name; *p != '\0'; p++)
					if (*p != '"' && *p != '\\' && *p != '\r' &&
					    *p != '\n')
						buf_putc(&enc, *p);
				if (enc.len > 0 && is_ascii_text(enc.data, enc.len, true))
					buf_append(out, enc.data, enc.len);
				else if (enc.len > 0)
					encoded_word(enc.data, out);
				buf_puts(out, "\"");
				buf_free(&enc);
			}
			buf_puts(out, "\r\n");
			if (cid != NULL)
				buf_printf(out, "Content-ID: <%s>\r\n", cid);
			buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
			b64((const unsigned char *)(data.data != NULL ? data.data : ""),
			    data.len, out);
			buf_free(&data);
		}
		if (ret == 0)
			buf_printf(out, "\r\n--%s--\r\n", bd1.data);
	}
	buf_free(&text);
	buf_free(&html);
	buf_free(&main_part);
	buf_free(&bd1);
	buf_free(&bd2);
	return ret;
}
