/* dkim-canon - header and body canonicalization (RFC 6376 3.4) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dkim.h"
#include "xalloc.h"

static const char *const alg_names[] = { "rsa-sha256", "ed25519-sha256" };
static const char *const canon_names[] = { "simple", "relaxed" };

const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg_names[alg];
}

/* dkim_alg_parse - a= value; case-insensitive like every DKIM token */
int
dkim_alg_parse(const char *s, size_t len, enum dkim_alg *alg_r)
{
	for (size_t i = 0; i < 2; i++)
		if (strlen(alg_names[i]) == len && strncasecmp(s, alg_names[i], len) == 0) {
			*alg_r = (enum dkim_alg)i;
			return 0;
		}
	return -1;
}

const char *
dkim_canon_name(enum dkim_canon c)
{
	return canon_names[c];
}

int
dkim_canon_parse(const char *s, size_t len, enum dkim_canon *c_r)
{
	for (size_t i = 0; i < 2; i++)
		if (strlen(canon_names[i]) == len && strncasecmp(s, canon_names[i], len) == 0) {
			*c_r = (enum dkim_canon)i;
			return 0;
		}
	return -1;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* dkim_canon_header - one field in canonical form, with its CRLF */
void
dkim_canon_header(enum dkim_canon c, const char *f, size_t len,
		  struct buf *out)
{
	size_t i = 0;

	if (c == DKIM_SIMPLE) {
		/* as it is, line ends as sent (a bare LF goes out as CRLF) */
		for (i = 0; i < len; i++) {
			if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r'))
				buf_putc(out, '\r');
			buf_putc(out, f[i]);
		}
		if (len == 0 || f[len - 1] != '\n')
			buf_append(out, "\r\n", 2);
		return;
	}
	/* relaxed: lower-case name, no white space around the colon,
	 * unfolded, runs of WSP as one SP, none at the end */
	while (i < len && f[i] != ':' && !is_wsp(f[i]) && f[i] != '\r' &&
	    f[i] != '\n') {
		buf_putc(out, (char)tolower((unsigned char)f[i]));
		i++;
	}
	while (i < len && f[i] != ':')
		i++;
	buf_putc(out, ':');
	if (i < len)
		i++;
	bool wsp = false, any = false;
	for (; i < len; i++) {
		char ch = f[i];
		if (ch == '\r' && i + 1 < len && f[i + 1] == '\n')
			continue;
		if (ch == '\n')
			continue;           /* unfold */
		if (is_wsp(ch)) {
			wsp = true;
			continue;
		}
		if (wsp && any)
			buf_putc(out, ' ');
		wsp = false;
		any = true;
		buf_putc(out, ch);
	}
	buf_append(out, "\r\n", 2);
}

/* -- body ---------------------------------------------------------- */

void
dkim_body_init(struct dkim_body *b, enum dkim_canon c, int64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		abort();
}

void
dkim_body_deinit(struct dkim_body *b)
{
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}

/* emit - canonical bytes: counted, hashed up to the limit, copied */
static void
emit(struct dkim_body *b, const char *p, size_t n)
{
	size_t h = n;

	b->total += n;
	if (b->limit >= 0) {
		uint64_t room = (uint64_t)b->limit > b->hashed ?
		    (uint64_t)b->limit - b->hashed : 0;
		if (h > room)
			h = (size_t)room;
	}
	if (h > 0) {
		EVP_DigestUpdate(b->md, p, h);
		b->hashed += h;
	}
	if (b->copy != NULL)
		buf_append(b->copy, p, n);
}

/* flush_eols - held back line ends turn out not to be trailing */
static void
flush_eols(struct dkim_body *b)
{
	for (; b->eols > 0; b->eols--)
		emit(b, "\r\n", 2);
}

/* content - one byte of line content (not a line end) */
static void
content(struct dkim_body *b, char ch)
{
	if (b->c == DKIM_RELAXED && is_wsp(ch)) {
		b->wsp = true;
		return;
	}
	flush_eols(b);
	if (b->wsp)
		emit(b, " ", 1);
	b->wsp = false;
	b->content = true;
	emit(b, &ch, 1);
}

static void
eol(struct dkim_body *b)
{
	b->wsp = false;     /* relaxed: white space at the end of a line goes */
	b->eols++;
}

void
dkim_body_update(struct dkim_body *b, const void *data, size_t len)
{
	const char *d = data;

	for (size_t i = 0; i < len; i++) {
		char ch = d[i];
		if (!b->cr) {
			/* a run of plain line content goes in one piece, as
			 * the byte at a time path below would put it */
			size_t j = i;
			while (j < len && d[j] != '\r' && d[j] != '\n' &&
			    !(b->c == DKIM_RELAXED && is_wsp(d[j])))
				j++;
			if (j > i + 1) {
				flush_eols(b);
				if (b->wsp)
					emit(b, " ", 1);
				b->wsp = false;
				b->content = true;
				emit(b, d + i, j - i);
				i = j - 1;
				continue;
			}
		}
		if (b->cr) {
			b->cr = false;
			if (ch == '\n') {
				eol(b);
				continue;
			}
			content(b, '\r');
		}
		if (ch == '\r')
			b->cr = true;
		else if (ch == '\n')
			eol(b);
		else
			content(b, ch);
	}
}

/* dkim_body_final - trailing empty lines go; simple keeps one CRLF (an
 * empty body is CRLF), relaxed ends a non-empty body with one CRLF */
void
dkim_body_final(struct dkim_body *b, unsigned char hash[32])
{
	unsigned int n = 32;

	if (b->cr) {
		b->cr = false;
		content(b, '\r');
	}
	/* white space held back on the last, unterminated line: relaxed
	 * drops it (trailing) */
	b->wsp = false;
	if (b->c == DKIM_SIMPLE || b->content)
		emit(b, "\r\n", 2);
	b->eols = 0;
	EVP_DigestFinal_ex(b->md, hash, &n);
}
