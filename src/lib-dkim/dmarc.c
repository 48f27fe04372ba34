/* dmarc - DMARC records, the DNS tree walk and alignment (dmarc.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "dmarc.h"
#include "mailto.h"

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_NONE: return "none";
	case DMARC_P_QUARANTINE: return "quarantine";
	case DMARC_P_REJECT: return "reject";
	default: return "unset";
	}
}

/* is - the tag value equals word (case-insensitive) */
static bool
is(const struct dkim_tag *t, const char *word)
{
	return t->value_len == strlen(word) &&
	    strncasecmp(t->value, word, t->value_len) == 0;
}

/* tag_is - the tag's name */
static bool
tag_is(const struct dkim_tag *t, const char *name)
{
	return t->name_len == strlen(name) &&
	    strncasecmp(t->name, name, t->name_len) == 0;
}

static enum dmarc_policy
policy_value(const struct dkim_tag *t)
{
	if (is(t, "none"))
		return DMARC_P_NONE;
	if (is(t, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (is(t, "reject"))
		return DMARC_P_REJECT;
	return DMARC_P_UNSET;
}

/* uri_add - one rua URI (white space around removed, a "!size" suffix
 * of RFC 7489 6.2 dropped); only mailto: URIs with a valid address are
 * kept, %-decoded (a '!', ',' or ';' in the address comes %-encoded) */
static void
uri_add(struct dmarc_record *r, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	const char *bang = memchr(s, '!', len);
	if (bang != NULL)
		len = (size_t)(bang - s);
	if (r->nrua == DMARC_URIS_MAX ||
	    !mailto_uri_decode(s, len, r->rua[r->nrua], DMARC_URI_MAX))
		return;
	r->nrua++;
}

/* starts_dmarc - the text starts with the v=DMARC1 tag */
static bool
starts_dmarc(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len || s[i] != 'v')
		return false;
	i++;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len || s[i] != '=')
		return false;
	i++;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == len || s[i] == ';';
}

int
dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
		   const char **error_r)
{
	struct dkim_tag tags[DMARC_TAGS_MAX];
	size_t n;
	bool p_seen = false;

	memset(r, 0, sizeof(*r));
	r->pct = -1;
	if (!starts_dmarc(txt, len > 64 ? 64 : len))
		return 0;
	if (len > DMARC_RECORD_MAX) {
		*error_r = "DMARC record over 4096 bytes";
		return -1;
	}
	if (dkim_tags_parse(txt, len, tags, DMARC_TAGS_MAX, &n, error_r) < 0)
		return -1;
	for (size_t i = 1; i < n; i++) {
		const struct dkim_tag *t = &tags[i];

		if (tag_is(t, "p")) {
			r->p = policy_value(t);
			p_seen = true;
		} else if (tag_is(t, "sp"))
			r->sp = policy_value(t);
		else if (tag_is(t, "np"))
			r->np = policy_value(t);
		else if (tag_is(t, "adkim"))
			r->adkim_strict = is(t, "s");
		else if (tag_is(t, "aspf"))
			r->aspf_strict = is(t, "s");
		else if (tag_is(t, "t"))
			r->testing = r->testing || is(t, "y");
		else if (tag_is(t, "psd"))
			r->psd = is(t, "y") ? DMARC_PSD_Y :
			    is(t, "n") ? DMARC_PSD_N : DMARC_PSD_U;
		else if (tag_is(t, "pct")) {
			/* RFC 7489; RFC 9989 maps pct=0 to t=y */
			int v = 0;
			size_t k = 0;
			for (; k < t->value_len && k < 4 &&
			    isdigit((unsigned char)t->value[k]); k++)
				v = v * 10 + (t->value[k] - '0');
			if (k > 0 && k == t->value_len && v <= 100) {
				r->pct = v;
				if (v == 0)
					r->testing = true;
			}
		} else if (tag_is(t, "rua")) {
			const char *s = t->value, *end = t->value + t->value_len;
			while (s <= end) {
				const char *c = memchr(s, ',', (size_t)(end - s));
				if (c == NULL)
					c = end;
				uri_add(r, s, (size_t)(c - s));
				s = c + 1;
			}
		}
		/* ruf, fo, rf, ri and unknown tags: ignored (4.7) */
	}
	if (r->p == DMARC_P_UNSET) {
		if (r->nrua == 0) {
			*error_r = p_seen ? "invalid p= and no valid rua=" :
			    "no p= and no valid rua=";
			return -1;
		}
		r->p = DMARC_P_NONE;
	}
	return 1;
}

/* labels - the number of labels of a domain */
static size_t
labels(const char *d)
{
	size_t n = 1;
	for (; *d != '\0'; d++)
		if (*d == '.')
			n++;
	return n;
}

/* suffix - the last k labels of d */
static const char *
suffix(const char *d, size_t k)
{
	size_t n = labels(d);
	while (n > k) {
		d = strchr(d, '.') + 1;
		n--;
	}
	return d;
}

size_t
dmarc_walk(const char *domain, const char *names[DMARC_WALK_MAX])
{
	size_t len = strlen(domain), n = 0;

	if (len == 0 || len > DMARC_DOMAIN_MAX || domain[0] == '.' ||
	    domain[len - 1] == '.' || strstr(domain, "..") != NULL)
		return 0;
	names[n++] = domain;
	size_t k = labels(domain);
	if (k >= 8)
		k = 8;    /* the next name has 7 labels */
	while (--k >= 1 && n < DMARC_WALK_MAX)
		names[n++] = suffix(domain, k);
	return n;
}

int
dmarc_policy_domain(const struct dmarc_walked *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->recs[i] != NULL)
			return (int)i;
	return -1;
}

const char *
dmarc_org_domain(const struct dmarc_walked *w)
{
	const char *fewest = NULL;

	if (w->n == 0)
		return "";
	for (size_t i = 0; i < w->n; i++) {
		const struct dmarc_record *r = w->recs[i];
		if (r == NULL)
			continue;
		if (r->psd == DMARC_PSD_N)
			return w->names[i];
		if (r->psd == DMARC_PSD_Y && i > 0)
			return suffix(w->names[0], labels(w->names[i]) + 1);
		fewest = w->names[i];   /* later names have fewer labels */
	}
	return fewest != NULL ? fewest : w->names[0];
}

bool
dmarc_aligned(const char *a, const char *a_org, const char *b,
	      const char *b_org, bool strict)
{
	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return false;
	if (strict)
		return strcasecmp(a, b) == 0;
	return a_org != NULL && b_org != NULL && *a_org != '\0' &&
	    strcasecmp(a_org, b_org) == 0;
}

enum dmarc_policy
dmarc_applied(const struct dmarc_record *r, const char *from_domain,
	      const char *rec_domain, bool from_exists)
{
	if (strcasecmp(from_domain, rec_domain) == 0)
		return r->p;
	if (!from_exists && r->np != DMARC_P_UNSET)
		return r->np;
	if (r->sp != DMARC_P_UNSET)
		return r->sp;
	return r->p;
}
