/* imap-spec - FETCH attributes, SEARCH keys, STORE flags (imap-spec.h) */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-spec.h"
#include "xalloc.h"

/* ---- FETCH --------------------------------------------------------- */

static void
item_free(struct imap_fetch_item *it)
{
	for (size_t i = 0; i < it->nfields; i++)
		free(it->fields[i]);
	free(it->fields);
	free(it->name);
}

/* imap_fetch_free - see imap-spec.h */
void
imap_fetch_free(struct imap_fetch *f)
{
	for (size_t i = 0; i < f->n; i++)
		item_free(&f->items[i]);
	xfree(&f->items);
	f->n = 0;
}

static struct imap_fetch_item *
item_add(struct imap_fetch *f, enum imap_fetch_type type, const char *name)
{
	f->items = xreallocarray(f->items, f->n + 1, sizeof(*f->items));
	struct imap_fetch_item *it = &f->items[f->n++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->name = xstrdup(name);
	return it;
}

/* parse_section - "1.2.HEADER.FIELDS (A B)" between the brackets */
static int
parse_section(const char *s, size_t len, struct imap_fetch_item *it,
	      bool binary, struct buf *name, const char **error_r)
{
	const char *e = s + len;

	while (s < e && isdigit((unsigned char)*s)) {
		unsigned long v = 0;
		while (s < e && isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > 100000)
				goto bad;
			s++;
		}
		if (v == 0 || it->npath >= IMAP_SECTION_MAX_PATH)
			goto bad;
		it->path[it->npath++] = (unsigned)v;
		buf_printf(name, "%s%lu", it->npath > 1 ? "." : "", v);
		if (s < e && *s == '.') {
			s++;
			if (s < e && !isdigit((unsigned char)*s))
				break;
		} else if (s < e) {
			goto bad;
		}
	}
	if (s >= e) {
		it->spec = IMAP_SECTION_ALL;
		return 0;
	}
	if (binary)
		goto bad;
	if (it->npath > 0)
		buf_putc(name, '.');
	size_t rest = (size_t)(e - s);
	if (rest == 6 && strncasecmp(s, "HEADER", 6) == 0) {
		it->spec = IMAP_SECTION_HEADER;
		buf_puts(name, "HEADER");
	} else if (rest == 4 && strncasecmp(s, "TEXT", 4) == 0) {
		it->spec = IMAP_SECTION_TEXT;
		buf_puts(name, "TEXT");
	} else if (rest == 4 && strncasecmp(s, "MIME", 4) == 0 && it->npath > 0) {
		it->spec = IMAP_SECTION_MIME;
		buf_puts(name, "MIME");
	} else if (rest > 14 && strncasecmp(s, "HEADER.FIELDS", 13) == 0) {
		s += 13;
		if (e - s > 4 && strncasecmp(s, ".NOT", 4) == 0) {
			it->spec = IMAP_SECTION_HEADER_FIELDS_NOT;
			buf_puts(name, "HEADER.FIELDS.NOT (");
			s += 4;
		} else {
			it->spec = IMAP_SECTION_HEADER_FIELDS;
			buf_puts(name, "HEADER.FIELDS (");
		}
		if (e - s < 3 || s[0] != ' ' || s[1] != '(' || e[-1] != ')')
			goto bad;
		s += 2;
		e--;
		while (s < e) {
			while (s < e && *s == ' ')
				s++;
			const char *st = s;
			bool quoted = s < e && *s == '"';
			if (quoted) {
				st = ++s;
				while (s < e && *s != '"')
					s++;
				if (s >= e)
					goto bad;
			} else {
				while (s < e && *s != ' ')
					s++;
			}
			if (s == st && !quoted)
				break;
			if (it->nfields >= 100)
				goto bad;
			it->fields = xreallocarray(it->fields, it->nfields + 2,
			    sizeof(*it->fields));
			it->fields[it->nfields] = xstrndup(st, (size_t)(s - st));
			for (char *c = it->fields[it->nfields]; *c; c++)
				if (*c <= ' ' || *c == ':' || (unsigned char)*c >= 0x7f) {
					it->nfields++;
					it->fields[it->nfields] = NULL;
					goto bad;
				}
			if (it->nfields > 0)
				buf_putc(name, ' ');
			/* echoed upper case, as Dovecot and Cyrus do */
			for (const char *c = it->fields[it->nfields]; *c; c++)
				buf_putc(name, (char)toupper((unsigned char)*c));
			it->nfields++;
			it->fields[it->nfields] = NULL;
			if (quoted)
				s++;
		}
		if (it->nfields == 0)
			goto bad;
		buf_putc(name, ')');
	} else {
		goto bad;
	}
	return 0;
bad:
	*error_r = "Invalid section";
	return -1;
}

/* parse_item - one attribute atom */
static int
parse_item(const char *s, struct imap_fetch *f, const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_fetch_type type;
	} simple[] = {
		{ "FLAGS", IMAP_FETCH_FLAGS },
		{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
		{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
		{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
		{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
		{ "BODY", IMAP_FETCH_BODY },
		{ "UID", IMAP_FETCH_UID },
		{ "MODSEQ", IMAP_FETCH_MODSEQ },
		{ "EMAILID", IMAP_FETCH_EMAILID },
		{ "THREADID", IMAP_FETCH_THREADID },
	};

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcasecmp(s, simple[i].name) == 0) {
			item_add(f, simple[i].type, simple[i].name);
			if (simple[i].type == IMAP_FETCH_ENVELOPE ||
			    simple[i].type == IMAP_FETCH_BODYSTRUCTURE ||
			    simple[i].type == IMAP_FETCH_BODY)
				f->wants_body = true;
			return 0;
		}
	if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0 ||
	    strcasecmp(s, "RFC822.TEXT") == 0) {
		struct imap_fetch_item *it = item_add(f, IMAP_FETCH_SECTION, "");
		free(it->name);
		it->name = xstrdup(s);
		for (char *c = it->name; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		if (strcasecmp(s, "RFC822.HEADER") == 0) {
			it->spec = IMAP_SECTION_HEADER;
			it->peek = true;
		} else {
			it->spec = strcasecmp(s, "RFC822") == 0 ?
			    IMAP_SECTION_ALL : IMAP_SECTION_TEXT;
			f->sets_seen = true;
		}
		f->wants_body = true;
		return 0;
	}
	const char *br = strchr(s, '[');
	if (br == NULL) {
		*error_r = "Unknown FETCH attribute";
		return -1;
	}
	size_t plen = (size_t)(br - s);
	enum imap_fetch_type type;
	bool peek = false;
	const char *prefix;
	if (plen == 4 && strncasecmp(s, "BODY", 4) == 0) {
		type = IMAP_FETCH_SECTION;
		prefix = "BODY";
	} else if (plen == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		type = IMAP_FETCH_SECTION;
		prefix = "BODY";
		peek = true;
	} else if (plen == 6 && strncasecmp(s, "BINARY", 6) == 0) {
		type = IMAP_FETCH_BINARY;
		prefix = "BINARY";
	} else if (plen == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		type = IMAP_FETCH_BINARY;
		prefix = "BINARY";
		peek = true;
	} else if (plen == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		type = IMAP_FETCH_BINARY_SIZE;
		prefix = "BINARY.SIZE";
		peek = true;
	} else {
		*error_r = "Unknown FETCH attribute";
		return -1;
	}
	const char *cb = strchr(br, ']');
	if (cb == NULL) {
		*error_r = "Invalid section";
		return -1;
	}
	struct buf name;
	buf_init(&name, 4096);
	buf_printf(&name, "%s[", prefix);
	struct imap_fetch_item *it = item_add(f, type, "");
	it->peek = peek;
	if (parse_section(br + 1, (size_t)(cb - br - 1), it,
	    type != IMAP_FETCH_SECTION, &name, error_r) < 0) {
		buf_free(&name);
		return -1;
	}
	buf_putc(&name, ']');
	const char *p = cb + 1;
	if (*p == '<') {
		if (type == IMAP_FETCH_BINARY_SIZE)
			goto badpartial;
		char *end;
		unsigned long long off, len;
		if (!isdigit((unsigned char)p[1]))
			goto badpartial;
		off = strtoull(p + 1, &end, 10);
		if (*end != '.' || !isdigit((unsigned char)end[1]))
			goto badpartial;
		len = strtoull(end + 1, &end, 10);
		if (*end != '>' || end[1] != '\0' || off > UINT32_MAX ||
		    len > UINT32_MAX || len == 0)
			goto badpartial;
		it->partial = true;
		it->offset = (uint32_t)off;
		it->length = (uint32_t)len;
		buf_printf(&name, "<%llu>", off);
	} else if (*p != '\0') {
		goto badpartial;
	}
	free(it->name);
	it->name = buf_steal(&name);
	if (!peek)
		f->sets_seen = true;
	f->wants_body = true;
	return 0;
badpartial:
	buf_free(&name);
	*error_r = "Invalid partial";
	return -1;
}

/* imap_fetch_parse - see imap-spec.h */
int
imap_fetch_parse(const struct imap_arg *arg, struct imap_fetch *f,
		 const char **error_r)
{
	memset(f, 0, sizeof(*f));
	if (arg->type == IMAP_ARG_ATOM) {
		static const char *const all[] = { "FLAGS", "INTERNALDATE",
		    "RFC822.SIZE", "ENVELOPE", NULL };
		static const char *const fast[] = { "FLAGS", "INTERNALDATE",
		    "RFC822.SIZE", NULL };
		static const char *const full[] = { "FLAGS", "INTERNALDATE",
		    "RFC822.SIZE", "ENVELOPE", "BODY", NULL };
		const char *const *macro = NULL;
		if (strcasecmp(arg->str, "ALL") == 0)
			macro = all;
		else if (strcasecmp(arg->str, "FAST") == 0)
			macro = fast;
		else if (strcasecmp(arg->str, "FULL") == 0)
			macro = full;
		if (macro != NULL) {
			for (size_t i = 0; macro[i] != NULL; i++)
				(void)parse_item(macro[i], f, error_r);
			return 0;
		}
		if (parse_item(arg->str, f, error_r) < 0)
			goto fail;
		return 0;
	}
	if (arg->type != IMAP_ARG_LIST || arg->count == 0) {
		*error_r = "Invalid FETCH attributes";
		return -1;
	}
	for (size_t i = 0; i < arg->count; i++) {
		if (arg->list[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid FETCH attribute";
			goto fail;
		}
		if (parse_item(arg->list[i].str, f, error_r) < 0)
			goto fail;
	}
	return 0;
fail:
	imap_fetch_free(f);
	return -1;
}

/* ---- SEARCH -------------------------------------------------------- */

static void
key_free(struct imap_search_key *k)
{
	for (size_t i = 0; i < k->nsub; i++)
		key_free(&k->sub[i]);
	free(k->sub);
	free(k->str);
	free(k->str2);
	imap_seqset_free(&k->set);
}

/* imap_search_free - see imap-spec.h */
void
imap_search_free(struct imap_search *s)
{
	key_free(&s->root);
	memset(s, 0, sizeof(*s));
}

struct sctx {
	const struct imap_arg *a;
	size_t n, i;
	const char *error;
	unsigned depth;
	bool modseq;
	size_t *nstrings;          /* string keys so far, the whole command */
};

static struct imap_search_key *
sub_add(struct imap_search_key *k)
{
	k->sub = xreallocarray(k->sub, k->nsub + 1, sizeof(*k->sub));
	memset(&k->sub[k->nsub], 0, sizeof(*k->sub));
	return &k->sub[k->nsub++];
}

static const char *
next_str(struct sctx *c)
{
	if (c->i >= c->n || c->a[c->i].type == IMAP_ARG_LIST) {
		c->error = "Missing search argument";
		return NULL;
	}
	return c->a[c->i++].str;
}

/* search_string - the substring argument of BODY, TEXT, HEADER, FROM...:
 * at most IMAP_SEARCH_STRING_MAX octets, IMAP_SEARCH_MAX_STRINGS per
 * command */
static const char *
search_string(struct sctx *c)
{
	static char err[96];
	const char *v = next_str(c);
	size_t len;

	if (v == NULL)
		return NULL;
	if ((len = strlen(v)) > IMAP_SEARCH_STRING_MAX) {
		snprintf(err, sizeof(err), "Search string too long (%zu octets, "
		    "at most %u)", len, IMAP_SEARCH_STRING_MAX);
		c->error = err;
		return NULL;
	}
	if (++*c->nstrings > IMAP_SEARCH_MAX_STRINGS) {
		snprintf(err, sizeof(err), "Too many search strings (at most "
		    "%u in one command)", IMAP_SEARCH_MAX_STRINGS);
		c->error = err;
		return NULL;
	}
	return v;
}

static int parse_key(struct sctx *c, struct imap_search_key *k);

static int
parse_date_arg(struct sctx *c, struct imap_search_key *k)
{
	const char *s = next_str(c);
	int y, m, d;

	if (s == NULL)
		return -1;
	if (imap_date_parse(s, &y, &m, &d) < 0) {
		c->error = "Invalid date";
		return -1;
	}
	k->date = y * 10000 + m * 100 + d;
	return 0;
}

static int
parse_number_arg(struct sctx *c, uint64_t *v)
{
	const char *s = next_str(c);
	char *end;

	if (s == NULL)
		return -1;
	if (!isdigit((unsigned char)*s)) {
		c->error = "Invalid number";
		return -1;
	}
	*v = strtoull(s, &end, 10);
	if (*end != '\0') {
		c->error = "Invalid number";
		return -1;
	}
	return 0;
}

/* parse_key - one search key at c->i */
static int
parse_key(struct sctx *c, struct imap_search_key *k)
{
	static const struct {
		const char *name;
		unsigned flag;
		bool neg;
	} flags[] = {
		{ "ANSWERED", IMAP_FLAG_ANSWERED, false },
		{ "DELETED", IMAP_FLAG_DELETED, false },
		{ "DRAFT", IMAP_FLAG_DRAFT, false },
		{ "FLAGGED", IMAP_FLAG_FLAGGED, false },
		{ "SEEN", IMAP_FLAG_SEEN, false },
		{ "UNANSWERED", IMAP_FLAG_ANSWERED, true },
		{ "UNDELETED", IMAP_FLAG_DELETED, true },
		{ "UNDRAFT", IMAP_FLAG_DRAFT, true },
		{ "UNFLAGGED", IMAP_FLAG_FLAGGED, true },
		{ "UNSEEN", IMAP_FLAG_SEEN, true },
	};
	static const struct {
		const char *name;
		enum imap_search_type type;
		const char *header;
	} strs[] = {
		{ "BCC", IMAP_SEARCH_HEADER, "Bcc" },
		{ "CC", IMAP_SEARCH_HEADER, "Cc" },
		{ "FROM", IMAP_SEARCH_HEADER, "From" },
		{ "TO", IMAP_SEARCH_HEADER, "To" },
		{ "SUBJECT", IMAP_SEARCH_HEADER, "Subject" },
		{ "BODY", IMAP_SEARCH_BODY, NULL },
		{ "TEXT", IMAP_SEARCH_TEXT, NULL },
	};
	static const struct {
		const char *name;
		enum imap_search_type type;
	} dates[] = {
		{ "BEFORE", IMAP_SEARCH_BEFORE }, { "ON", IMAP_SEARCH_ON },
		{ "SINCE", IMAP_SEARCH_SINCE },
		{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE },
		{ "SENTON", IMAP_SEARCH_SENTON },
		{ "SENTSINCE", IMAP_SEARCH_SENTSINCE },
	};

	if (c->i >= c->n) {
		c->error = "Missing search key";
		return -1;
	}
	const struct imap_arg *a = &c->a[c->i++];
	if (a->type == IMAP_ARG_LIST) {
		if (++c->depth > 32) {
			c->error = "Too deep search nesting";
			return -1;
		}
		struct sctx sub = { .a = a->list, .n = a->count, .depth = c->depth,
		    .nstrings = c->nstrings };
		k->type = IMAP_SEARCH_AND;
		if (a->count == 0) {
			c->error = "Empty search list";
			return -1;
		}
		while (sub.i < sub.n)
			if (parse_key(&sub, sub_add(k)) < 0) {
				c->error = sub.error;
				return -1;
			}
		c->modseq |= sub.modseq;
		c->depth--;
		return 0;
	}
	if (a->type != IMAP_ARG_ATOM) {
		c->error = "Invalid search key";
		return -1;
	}
	const char *s = a->str;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcasecmp(s, flags[i].name) == 0) {
			k->type = IMAP_SEARCH_FLAG;
			k->num = flags[i].flag;
			k->neg = flags[i].neg;
			return 0;
		}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strcasecmp(s, strs[i].name) == 0) {
			const char *v = search_string(c);
			if (v == NULL)
				return -1;
			k->type = strs[i].type;
			if (strs[i].header != NULL) {
				k->str = xstrdup(strs[i].header);
				k->str2 = xstrdup(v);
			} else {
				k->str = xstrdup(v);
			}
			return 0;
		}
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
		if (strcasecmp(s, dates[i].name) == 0) {
			k->type = dates[i].type;
			return parse_date_arg(c, k);
		}
	if (strcasecmp(s, "ALL") == 0) {
		k->type = IMAP_SEARCH_ALL;
	} else if (strcasecmp(s, "NEW") == 0) {
		k->type = IMAP_SEARCH_NEW;
	} else if (strcasecmp(s, "OLD") == 0) {
		k->type = IMAP_SEARCH_OLD;
	} else if (strcasecmp(s, "RECENT") == 0) {
		k->type = IMAP_SEARCH_RECENT;
	} else if (strcasecmp(s, "KEYWORD") == 0 ||
	    strcasecmp(s, "UNKEYWORD") == 0) {
		const char *v = next_str(c);
		if (v == NULL)
			return -1;
		k->type = IMAP_SEARCH_KEYWORD;
		k->neg = toupper((unsigned char)s[0]) == 'U';
		k->str = xstrdup(v);
	} else if (strcasecmp(s, "EMAILID") == 0 ||
	    strcasecmp(s, "THREADID") == 0) {
		/* RFC 8474: objectid = 1*255 (ALPHA / DIGIT / "_" / "-") */
		const char *v = next_str(c);
		if (v == NULL)
			return -1;
		size_t l = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
		    "opqrstuvwxyz0123456789_-");
		if (l == 0 || l > 255 || v[l] != '\0') {
			c->error = "Bad objectid";
			return -1;
		}
		k->type = toupper((unsigned char)s[0]) == 'E' ?
		    IMAP_SEARCH_EMAILID : IMAP_SEARCH_THREADID;
		k->str = xstrdup(v);
	} else if (strcasecmp(s, "HEADER") == 0) {
		const char *f = next_str(c), *v;
		if (f == NULL || (v = search_string(c)) == NULL)
			return -1;
		k->type = IMAP_SEARCH_HEADER;
		k->str = xstrdup(f);
		k->str2 = xstrdup(v);
	} else if (strcasecmp(s, "LARGER") == 0 || strcasecmp(s, "SMALLER") == 0) {
		k->type = toupper((unsigned char)s[0]) == 'L' ?
		    IMAP_SEARCH_LARGER : IMAP_SEARCH_SMALLER;
		return parse_number_arg(c, &k->num);
	} else if (strcasecmp(s, "NOT") == 0) {
		k->type = IMAP_SEARCH_NOT;
		if (++c->depth > 32) {
			c->error = "Too deep search nesting";
			return -1;
		}
		int r = parse_key(c, sub_add(k));
		c->depth--;
		return r;
	} else if (strcasecmp(s, "OR") == 0) {
		k->type = IMAP_SEARCH_OR;
		if (++c->depth > 32) {
			c->error = "Too deep search nesting";
			return -1;
		}
		if (parse_key(c, sub_add(k)) < 0 || parse_key(c, sub_add(k)) < 0)
			return -1;
		c->depth--;
	} else if (strcasecmp(s, "UID") == 0) {
		const char *v = next_str(c);
		if (v == NULL)
			return -1;
		k->type = IMAP_SEARCH_UID;
		if (imap_seqset_parse(v, &k->set, &c->error) < 0)
			return -1;
	} else if (strcasecmp(s, "MODSEQ") == 0) {
		/* MODSEQ [entry-name entry-type] mod-sequence-valzer */
		k->type = IMAP_SEARCH_MODSEQ;
		c->modseq = true;
		if (c->i + 1 < c->n && c->a[c->i].type == IMAP_ARG_STRING)
			c->i += 2;
		return parse_number_arg(c, &k->num);
	} else if (isdigit((unsigned char)*s) || *s == '*') {
		k->type = IMAP_SEARCH_SEQSET;
		return imap_seqset_parse(s, &k->set, &c->error);
	} else {
		c->error = "Unknown search key";
		return -1;
	}
	return 0;
}

/* partial_num - a nz-number of a PARTIAL range, with its sign if neg */
static const char *
partial_num(const char *s, bool neg, uint32_t *v)
{
	char *end;

	if (neg) {
		if (*s != '-')
			return NULL;
		s++;
	}
	if (*s < '1' || *s > '9')
		return NULL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || n > UINT32_MAX || end - s > 10)
		return NULL;
	*v = (uint32_t)n;
	return end;
}

/* parse_partial - "lo:hi" or "-lo:-hi" (RFC 9394 partial-range); either
 * order means the same range */
static int
parse_partial(const struct imap_arg *a, struct imap_partial *p)
{
	const char *s = a->type == IMAP_ARG_ATOM ? a->str : NULL;
	uint32_t x, y;

	if (s == NULL || strlen(s) >= sizeof(p->text))
		return -1;
	bool neg = *s == '-';
	const char *e = partial_num(s, neg, &x);
	if (e == NULL || *e != ':')
		return -1;
	e = partial_num(e + 1, neg, &y);
	if (e == NULL || *e != '\0')
		return -1;
	p->lo = x < y ? x : y;
	p->hi = x < y ? y : x;
	p->last = neg;
	/* answered in order (4:2 is 2:4, as Dovecot answers it); a range
	 * from the end as sent */
	if (neg)
		snprintf(p->text, sizeof(p->text), "%s", s);
	else
		snprintf(p->text, sizeof(p->text), "%u:%u", p->lo, p->hi);
	return 0;
}

/* imap_partial_slice - see imap-spec.h */
void
imap_partial_slice(const struct imap_partial *p, size_t nres, size_t *from,
		   size_t *to)
{
	size_t lo = p->lo, hi = p->hi;

	*from = *to = 0;
	if (lo > nres)
		return;
	if (hi > nres)
		hi = nres;
	if (p->last) {
		*from = nres - hi;
		*to = nres - lo + 1;
	} else {
		*from = lo - 1;
		*to = hi;
	}
}

/* parse_return - "RETURN (options)" at args[*i] (ESEARCH, ESORT): the
 * IMAP_SEARCH_RET_* bits, ALL when the list is empty (UPDATE: RFC 5267).
 * 1 if there was one, 0 if not, -1 bad. */
static int
parse_return(const struct imap_arg *args, size_t n, size_t *i,
	     unsigned *ret_r, struct imap_partial *partial,
	     const char **error_r)
{
	*ret_r = 0;
	if (*i >= n || !imap_arg_is_atom(&args[*i], "RETURN"))
		return 0;
	(*i)++;
	if (*i >= n || args[*i].type != IMAP_ARG_LIST) {
		*error_r = "Invalid RETURN options";
		return -1;
	}
	const struct imap_arg *l = &args[(*i)++];
	for (size_t k = 0; k < l->count; k++) {
		const struct imap_arg *o = &l->list[k];
		if (imap_arg_is_atom(o, "MIN"))
			*ret_r |= IMAP_SEARCH_RET_MIN;
		else if (imap_arg_is_atom(o, "MAX"))
			*ret_r |= IMAP_SEARCH_RET_MAX;
		else if (imap_arg_is_atom(o, "ALL"))
			*ret_r |= IMAP_SEARCH_RET_ALL;
		else if (imap_arg_is_atom(o, "COUNT"))
			*ret_r |= IMAP_SEARCH_RET_COUNT;
		else if (imap_arg_is_atom(o, "UPDATE"))
			*ret_r |= IMAP_SEARCH_RET_UPDATE;
		else if (imap_arg_is_atom(o, "PARTIAL") &&
		    !(*ret_r & IMAP_SEARCH_RET_PARTIAL)) {
			if (k + 1 >= l->count ||
			    parse_partial(&l->list[++k], partial) < 0) {
				*error_r = "Invalid PARTIAL range";
				return -1;
			}
			*ret_r |= IMAP_SEARCH_RET_PARTIAL;
		} else {
			/* SAVE (SEARCHRES, RFC 5182) is not offered */
			*error_r = "Unknown RETURN option";
			return -1;
		}
	}
	if ((*ret_r & IMAP_SEARCH_RET_ALL) && (*ret_r & IMAP_SEARCH_RET_PARTIAL)) {
		*error_r = "ALL and PARTIAL are mutually exclusive";
		return -1;
	}
	if ((*ret_r & IMAP_SEARCH_RET_UPDATE) &&
	    (*ret_r & IMAP_SEARCH_RET_PARTIAL)) {
		/* RFC 5267 4.4's windowed updates are not offered */
		*error_r = "UPDATE with PARTIAL is not supported";
		return -1;
	}
	if (*ret_r == 0)
		*ret_r = IMAP_SEARCH_RET_ALL;
	return 1;
}

/* charset_check - a charset argument: UTF-8 and US-ASCII only */
static int
charset_check(const struct imap_arg *a, bool *badcharset_r,
	      const char **error_r)
{
	const char *cs = imap_arg_astring(a);

	if (cs == NULL) {
		*error_r = "Missing charset";
		return -1;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		*badcharset_r = true;
		*error_r = "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset";
		return -1;
	}
	return 0;
}

/* imap_search_parse - see imap-spec.h */
int
imap_search_parse(const struct imap_arg *args, size_t n, struct imap_search *s,
		  bool *badcharset_r, const char **error_r)
{
	size_t nstrings = 0;
	struct sctx c = { .a = args, .n = n, .nstrings = &nstrings };

	memset(s, 0, sizeof(*s));
	*badcharset_r = false;
	s->root.type = IMAP_SEARCH_AND;
	int r = parse_return(args, n, &c.i, &s->ret, &s->partial, error_r);
	if (r < 0)
		return -1;
	s->esearch = r > 0;
	if (c.i < n && imap_arg_is_atom(&args[c.i], "CHARSET")) {
		c.i++;
		if (c.i >= n || args[c.i].type == IMAP_ARG_LIST) {
			*error_r = "Missing charset";
			return -1;
		}
		if (charset_check(&args[c.i++], badcharset_r, error_r) < 0)
			return -1;
	}
	if (c.i >= n) {
		*error_r = "Missing search keys";
		return -1;
	}
	while (c.i < n)
		if (parse_key(&c, sub_add(&s->root)) < 0) {
			*error_r = c.error ? c.error : "Invalid search";
			imap_search_free(s);
			return -1;
		}
	s->uses_modseq = c.modseq;
	return 0;
}

/* ---- SORT and THREAD ----------------------------------------------- */

/* imap_sort_parse - see imap-spec.h */
int
imap_sort_parse(const struct imap_arg *args, size_t n, struct imap_sort *sort,
		struct imap_search *srch, bool *badcharset_r,
		const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	size_t i = 0;
	bool reverse = false;

	memset(sort, 0, sizeof(*sort));
	*badcharset_r = false;
	int r = parse_return(args, n, &i, &sort->ret, &sort->partial, error_r);
	if (r < 0)
		return -1;
	sort->esort = r > 0;
	if (i >= n || args[i].type != IMAP_ARG_LIST || args[i].count == 0) {
		*error_r = "Syntax: SORT [RETURN (options)] (criteria) charset "
		    "search-keys";
		return -1;
	}
	const struct imap_arg *l = &args[i++];
	for (size_t k = 0; k < l->count; k++) {
		const struct imap_arg *o = &l->list[k];
		if (imap_arg_is_atom(o, "REVERSE")) {
			if (reverse) {
				*error_r = "REVERSE twice";
				return -1;
			}
			reverse = true;
			continue;
		}
		size_t j;
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (imap_arg_is_atom(o, keys[j].name))
				break;
		if (j == sizeof(keys) / sizeof(keys[0])) {
			*error_r = "Unknown sort criterion";
			return -1;
		}
		if (sort->n == IMAP_SORT_MAX_KEYS) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		sort->keys[sort->n].key = keys[j].key;
		sort->keys[sort->n++].reverse = reverse;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE without a criterion";
		return -1;
	}
	if (i >= n || args[i].type == IMAP_ARG_LIST) {
		*error_r = "Missing charset";
		return -1;
	}
	if (charset_check(&args[i++], badcharset_r, error_r) < 0)
		return -1;
	if (i >= n || imap_arg_is_atom(&args[i], "RETURN") ||
	    imap_arg_is_atom(&args[i], "CHARSET")) {
		*error_r = "Missing search keys";
		return -1;
	}
	return imap_search_parse(args + i, n - i, srch, badcharset_r, error_r);
}

/* imap_thread_parse - see imap-spec.h */
int
imap_thread_parse(const struct imap_arg *args, size_t n,
		  enum imap_thread_alg *alg_r, struct imap_search *srch,
		  bool *badcharset_r, const char **error_r)
{
	*badcharset_r = false;
	if (n < 3 || args[0].type != IMAP_ARG_ATOM) {
		*error_r = "Syntax: THREAD algorithm charset search-keys";
		return -1;
	}
	if (imap_arg_is_atom(&args[0], "ORDEREDSUBJECT"))
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_arg_is_atom(&args[0], "REFERENCES"))
		*alg_r = IMAP_THREAD_REFERENCES;
	else {
		*error_r = "Unknown threading algorithm";
		return -1;
	}
	if (args[1].type == IMAP_ARG_LIST ||
	    charset_check(&args[1], badcharset_r, error_r) < 0) {
		if (!*badcharset_r)
			*error_r = "Missing charset";
		return -1;
	}
	if (imap_arg_is_atom(&args[2], "RETURN") ||
	    imap_arg_is_atom(&args[2], "CHARSET")) {
		*error_r = "Invalid search keys";
		return -1;
	}
	return imap_search_parse(args + 2, n - 2, srch, badcharset_r, error_r);
}

/* ---- STORE flags --------------------------------------------------- */

static int
flag_one(const char *s, unsigned *flags, struct buf *kw, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned flag;
	} sys[] = {
		{ "\\Seen", IMAP_FLAG_SEEN }, { "\\Answered", IMAP_FLAG_ANSWERED },
		{ "\\Flagged", IMAP_FLAG_FLAGGED }, { "\\Deleted", IMAP_FLAG_DELETED },
		{ "\\Draft", IMAP_FLAG_DRAFT },
	};

	if (s[0] == '\\') {
		for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strcasecmp(s, sys[i].name) == 0) {
				*flags |= sys[i].flag;
				return 0;
			}
		*error_r = "Invalid system flag";
		return -1;
	}
	for (const char *c = s; *c; c++)
		if (strchr("(){ %*\"\\]", *c) || (unsigned char)*c <= 0x20 ||
		    (unsigned char)*c >= 0x7f) {
			*error_r = "Invalid keyword";
			return -1;
		}
	if (*s == '\0' || strlen(s) > 100) {
		*error_r = "Invalid keyword";
		return -1;
	}
	if (kw->len > 0)
		buf_putc(kw, ' ');
	if (buf_puts(kw, s) < 0) {
		*error_r = "Too many keywords";
		return -1;
	}
	return 0;
}

/* imap_flags_parse - see imap-spec.h */
int
imap_flags_parse(const struct imap_arg *arg, unsigned *flags_r,
		 char **keywords_r, const char **error_r)
{
	struct buf kw;

	*flags_r = 0;
	buf_init(&kw, 1000);
	if (arg->type == IMAP_ARG_ATOM) {
		if (flag_one(arg->str, flags_r, &kw, error_r) < 0)
			goto fail;
	} else if (arg->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < arg->count; i++) {
			if (arg->list[i].type != IMAP_ARG_ATOM) {
				*error_r = "Invalid flag";
				goto fail;
			}
			if (flag_one(arg->list[i].str, flags_r, &kw, error_r) < 0)
				goto fail;
		}
	} else {
		*error_r = "Invalid flags";
		goto fail;
	}
	*keywords_r = buf_steal(&kw);
	return 0;
fail:
	buf_free(&kw);
	return -1;
}
