/* imap-match - LIST patterns as a bit-parallel NFA (see imap-match.h).
 * State i means "pattern[0..i) matched"; bit i of a word vector holds
 * it. On a name octet c: a '*' state stays, a '%' state stays unless c is
 * the separator, a literal state moves to i + 1 when pattern[i] == c.
 * After each step the wildcards' empty match adds i + 1 to every active
 * wildcard state i. Runs of wildcards are folded first ("**", "*%" and
 * "%*" are "*", "%%" is "%"), so no wildcard follows another and that
 * closure is a single shift. */
#include <stdlib.h>
#include <string.h>

#include "imap-match.h"
#include "xalloc.h"

struct imap_match {
	size_t k;              /* states 0..k; k accepts */
	size_t nw;             /* 64-bit words per state vector */
	char sep;
	uint64_t *star, *pct, *wild;
	uint64_t *lits;        /* per slot: the states whose octet it is */
	uint8_t slot[256];     /* octet -> slot; 0: in no literal */
};

#define WORD(i) ((i) / 64)
#define BIT(i) ((uint64_t)1 << ((i) % 64))

/* imap_match_compile - see imap-match.h */
struct imap_match *
imap_match_compile(const char *pattern, size_t len, char sep)
{
	struct imap_match *m = xcalloc(1, sizeof(*m));
	char *p = xmalloc(len + 1);
	size_t k = 0, nslots = 0;

	for (size_t i = 0; i < len; i++) {
		char c = pattern[i];
		if ((c == '*' || c == '%') && k > 0 &&
		    (p[k - 1] == '*' || p[k - 1] == '%')) {
			if (c == '*')
				p[k - 1] = '*';
			continue;
		}
		p[k++] = c;
	}
	m->k = k;
	m->nw = WORD(k) + 1;
	m->sep = sep;
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c != '*' && c != '%' && m->slot[c] == 0)
			m->slot[c] = (uint8_t)++nslots;
	}
	m->star = xcalloc(m->nw, sizeof(uint64_t));
	m->pct = xcalloc(m->nw, sizeof(uint64_t));
	m->wild = xcalloc(m->nw, sizeof(uint64_t));
	m->lits = xcalloc((nslots + 1) * m->nw, sizeof(uint64_t));
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '*')
			m->star[WORD(i)] |= BIT(i);
		else if (c == '%')
			m->pct[WORD(i)] |= BIT(i);
		else
			m->lits[m->slot[c] * m->nw + WORD(i)] |= BIT(i);
	}
	for (size_t w = 0; w < m->nw; w++)
		m->wild[w] = m->star[w] | m->pct[w];
	free(p);
	return m;
}

/* closure - add i + 1 for each active wildcard state i */
static void
closure(const struct imap_match *m, uint64_t *s)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < m->nw; w++) {
		uint64_t x = s[w] & m->wild[w];
		s[w] |= (x << 1) | carry;
		carry = x >> 63;
	}
}

#define MATCH_STACK_WORDS 32   /* patterns up to 2047 octets: no malloc */

/* imap_match - see imap-match.h */
bool
imap_match(const struct imap_match *m, const char *name, size_t len)
{
	uint64_t stack[2 * MATCH_STACK_WORDS], *s = stack, *n;
	bool r;

	if (m->nw > MATCH_STACK_WORDS)
		s = xcalloc(2 * m->nw, sizeof(uint64_t));
	n = s + m->nw;
	memset(s, 0, m->nw * sizeof(uint64_t));
	s[0] = 1;
	closure(m, s);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		const uint64_t *lit = m->lits + m->slot[c] * m->nw;
		uint64_t carry = 0, any = 0;
		for (size_t w = 0; w < m->nw; w++) {
			uint64_t x = s[w] & lit[w];
			n[w] = (s[w] & m->star[w]) | (x << 1) | carry;
			if (c != (unsigned char)m->sep)
				n[w] |= s[w] & m->pct[w];
			carry = x >> 63;
		}
		closure(m, n);
		for (size_t w = 0; w < m->nw; w++)
			any |= n[w];
		uint64_t *t = s;
		s = n;
		n = t;
		if (any == 0)
			break;
	}
	r = (s[WORD(m->k)] & BIT(m->k)) != 0;
	if (s != stack && n != stack)
		free(s < n ? s : n);
	return r;
}

/* imap_match_free - see imap-match.h */
void
imap_match_free(struct imap_match **mp)
{
	struct imap_match *m = *mp;

	if (m == NULL)
		return;
	free(m->star);
	free(m->pct);
	free(m->wild);
	free(m->lits);
	free(m);
	*mp = NULL;
}
