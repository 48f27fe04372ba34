/* sieve-match - comparing (RFC 5228 2.7: comparators, match types,
 * RFC 5231 relational) and address parts (RFC 5228 2.7.4) for the
 * interpreter */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime.h"
#include "sieve-private.h"
#include "strutil.h"
#include "xalloc.h"
#include "sieve-run-private.h"

/* ---------------------------------------------------------- comparing */

static int
fold(int c, int comp)
{
	/* i;ascii-casemap: a-z as A-Z (RFC 4790 9.2) */
	return comp == C_OCTET ? c : toupper(c);
}

/* numeric value of s for i;ascii-numeric: -1 = positive infinity */
static int
num_cmp(const char *a, const char *b)
{
	bool ia = !isdigit((unsigned char)*a), ib = !isdigit((unsigned char)*b);
	if (ia || ib)
		return ia && ib ? 0 : ia ? 1 : -1;
	while (*a == '0' && isdigit((unsigned char)a[1]))
		a++;
	while (*b == '0' && isdigit((unsigned char)b[1]))
		b++;
	size_t la = 0, lb = 0;
	while (isdigit((unsigned char)a[la]))
		la++;
	while (isdigit((unsigned char)b[lb]))
		lb++;
	if (la != lb)
		return la < lb ? -1 : 1;
	int c = strncmp(a, b, la);
	return c < 0 ? -1 : c > 0;
}

static int
str_cmp(const char *a, const char *b, int comp)
{
	if (comp == C_NUMERIC)
		return num_cmp(a, b);
	for (;; a++, b++) {
		int x = fold((unsigned char)*a, comp), y = fold((unsigned char)*b, comp);
		if (x != y)
			return x < y ? -1 : 1;
		if (x == 0)
			return 0;
	}
}

static bool
rel_ok(int c, int relop)
{
	switch (relop) {
	case R_GT: return c > 0;
	case R_GE: return c >= 0;
	case R_LT: return c < 0;
	case R_LE: return c <= 0;
	case R_EQ: return c == 0;
	default: return c != 0;
	}
}

static bool
contains(const char *hay, const char *needle, int comp, long *work)
{
	size_t hl = strlen(hay), nl = strlen(needle);
	if (nl == 0)
		return true;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t k;
		if ((*work -= (long)nl) < 0)
			return false;
		for (k = 0; k < nl; k++)
			if (fold((unsigned char)hay[i + k], comp) !=
			    fold((unsigned char)needle[k], comp))
				break;
		if (k == nl)
			return true;
	}
	return false;
}

/* glob - :matches with * and ? (and \ escapes); the wildcards' matches
 * go into caps (start, length) when not NULL. One backtrack point (the
 * last star): linear in practice, never exponential. */
struct cap {
	size_t start, len;
};

static bool
glob(const char *s, const char *p, int comp, struct cap *caps, size_t *ncaps,
     long *work)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0, nc = 0;
	size_t star_nc = 0;
	size_t slen = strlen(s), plen = strlen(p);

	while (si < slen || pi < plen) {
		if (--*work < 0)
			return false;
		if (pi < plen) {
			char c = p[pi];
			if (c == '*') {
				star_p = pi;
				star_s = si;
				star_nc = nc;
				if (nc < MATCH_VARS - 1) {
					caps[nc].start = si;
					caps[nc].len = 0;
				}
				nc++;
				pi++;
				continue;
			}
			if (c == '?' && si < slen) {
				if (nc < MATCH_VARS - 1) {
					caps[nc].start = si;
					caps[nc].len = 1;
				}
				nc++;
				pi++;
				si++;
				continue;
			}
			if (c != '?' && si < slen) {
				size_t q = pi;
				if (c == '\\' && pi + 1 < plen)
					q = pi + 1;
				if (fold((unsigned char)p[q], comp) ==
				    fold((unsigned char)s[si], comp)) {
					pi = q + 1;
					si++;
					continue;
				}
			}
		}
		/* mismatch: let the last star take one more byte */
		if (star_p != (size_t)-1 && star_s < slen) {
			star_s++;
			nc = star_nc;
			if (nc < MATCH_VARS - 1)
				caps[nc].len = star_s - caps[nc].start;
			nc++;
			pi = star_p + 1;
			si = star_s;
			continue;
		}
		return false;
	}
	*ncaps = nc < MATCH_VARS - 1 ? nc : MATCH_VARS - 1;
	return true;
}

void
sr_mv_clear(struct run *r)
{
	for (int i = 0; i < MATCH_VARS; i++) {
		free(r->mv[i]);
		r->mv[i] = NULL;
	}
}

/* match_one - one value against one key */
static bool
match_one(struct run *r, const struct sv_spec *sp, const char *value,
	  const char *key)
{
	switch (sp->match) {
	case M_IS:
		return str_cmp(value, key, sp->comp) == 0;
	case M_CONTAINS:
		return contains(value, key, sp->comp, &r->work);
	case M_VALUE:
		return rel_ok(str_cmp(value, key, sp->comp), sp->relop);
	case M_MATCHES: {
		struct cap caps[MATCH_VARS];
		size_t nc = 0;
		if (!glob(value, key, sp->comp, caps, &nc, &r->work))
			return false;
		if (r->s->exts & EXT_VARIABLES) {
			sr_mv_clear(r);
			r->mv[0] = xstrndup(value, SIEVE_VAR_VALUE_MAX);
			for (size_t i = 0; i < nc; i++)
				r->mv[i + 1] = xstrndup(value + caps[i].start,
				    caps[i].len);
		}
		return true;
	}
	}
	return false;
}

/* sr_match_values - any value against any key (keys expanded), or :count */
bool
sr_match_values(struct run *r, const struct sv_spec *sp, char **values,
	     size_t nvalues, const struct sv_strlist *keys)
{
	if (sp->match == M_COUNT) {
		char cnt[32];
		snprintf(cnt, sizeof(cnt), "%zu", nvalues);
		for (size_t k = 0; k < keys->n; k++) {
			char *key = sr_expand(r, keys->v[k]);
			bool ok = rel_ok(num_cmp(cnt, key), sp->relop);
			free(key);
			if (ok)
				return true;
		}
		return false;
	}
	for (size_t k = 0; k < keys->n; k++) {
		char *key = sr_expand(r, keys->v[k]);
		for (size_t i = 0; i < nvalues; i++)
			if (match_one(r, sp, values[i], key)) {
				free(key);
				return true;
			}
		free(key);
	}
	return false;
}

/* ---------------------------------------------------------- addresses */

void
sr_strv_push(char ***v, size_t *n, char *s)
{
	if (*n >= 4 * SIEVE_LIST_MAX) {
		free(s);
		return;
	}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

void
sr_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* sr_addr_list - the addr-specs of an address-list header value: for each
 * element the text in <>, else the element without comments and blanks */
void
sr_addr_list(const char *v, char ***out, size_t *n)
{
	struct buf plain, angle;
	bool in_angle = false, have_angle = false;
	int depth = 0;

	buf_init(&plain, 0);
	buf_init(&angle, 0);
	for (const char *p = v;; p++) {
		char c = *p;
		if (c == '\0' || (depth == 0 && !in_angle && (c == ',' || c == ';'))) {
			struct buf *b = have_angle ? &angle : &plain;
			char *a = xstrndup(b->data ? b->data : "", b->len);
			char *t = str_trim(a);
			if (*t != '\0')
				sr_strv_push(out, n, xstrdup(t));
			free(a);
			buf_reset(&plain);
			buf_reset(&angle);
			have_angle = false;
			if (c == '\0')
				break;
			continue;
		}
		if (c == '(' ) {
			depth++;
			continue;
		}
		if (depth > 0) {
			if (c == ')')
				depth--;
			else if (c == '\\' && p[1])
				p++;
			continue;
		}
		if (c == '"') {
			/* quoted string: part of a local part or a display name */
			struct buf *b = in_angle ? &angle : &plain;
			buf_putc(b, '"');
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(b, *p);
			}
			buf_putc(b, '"');
			if (*p == '\0')
				p--;
			continue;
		}
		if (c == '<') {
			in_angle = true;
			have_angle = true;
			buf_reset(&angle);
			continue;
		}
		if (c == '>') {
			in_angle = false;
			continue;
		}
		if (c == ':' && !in_angle) {
			/* a group name (or a source route): drop what came */
			buf_reset(&plain);
			continue;
		}
		if (c == ' ' || c == '\t') {
			if (!in_angle && !have_angle)
				buf_putc(&plain, ' ');
			continue;
		}
		buf_putc(in_angle ? &angle : &plain, c);
	}
	buf_free(&plain);
	buf_free(&angle);
	/* a "plain" element with blanks is a display name without <>:
	 * keep only what looks like an address */
	for (size_t i = 0; i < *n; i++) {
		char *sp = strrchr((*out)[i], ' ');
		if (sp != NULL && strchr(sp, '@') != NULL)
			memmove((*out)[i], sp + 1, strlen(sp + 1) + 1);
	}
}

/* sr_addr_part - the part of an address a test looks at; NULL when it has
 * none (:detail without a separator); new string */
char *
sr_addr_part(const char *a, int part)
{
	const char *at = strrchr(a, '@');
	size_t ll = at ? (size_t)(at - a) : strlen(a);

	switch (part) {
	case A_LOCAL:
		return xstrndup(a, ll);
	case A_DOMAIN:
		return xstrdup(at ? at + 1 : "");
	case A_USER:
	case A_DETAIL: {
		const char *plus = memchr(a, '+', ll);
		if (part == A_USER)
			return xstrndup(a, plus ? (size_t)(plus - a) : ll);
		if (plus == NULL)
			return NULL;
		return xstrndup(plus + 1, ll - (size_t)(plus + 1 - a));
	}
	default:
		return xstrdup(a);
	}
}
