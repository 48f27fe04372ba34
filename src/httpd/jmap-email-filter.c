/* jmap-email-filter - Email/query filters on a message's
 * bytes (jmap-email.h) */
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
