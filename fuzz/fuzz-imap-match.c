/* fuzz-imap-match - LIST pattern matching (lib-imap imap-match.c). The
 * first line of the input is the pattern, each further line a mailbox
 * name; every name is matched by the NFA and by a plain dynamic program
 * (the reference: O(pattern * name)), which must agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_MAX 4096   /* the reference allocates pattern * name */

/* ref_match - row[i][j]: pattern[0..i) matches name[0..j) */
static bool
ref_match(const char *p, size_t pl, const char *name, size_t nl, char sep)
{
	bool *row = calloc((pl + 1) * (nl + 1), sizeof(bool)), r;
#define AT(i, j) row[(i) * (nl + 1) + (j)]

	AT(0, 0) = true;
	for (size_t i = 1; i <= pl; i++) {
		char c = p[i - 1];
		AT(i, 0) = AT(i - 1, 0) && (c == '*' || c == '%');
		for (size_t j = 1; j <= nl; j++) {
			if (c == '*')
				AT(i, j) = AT(i - 1, j) || AT(i, j - 1);
			else if (c == '%')
				AT(i, j) = AT(i - 1, j) ||
				    (AT(i, j - 1) && name[j - 1] != sep);
			else
				AT(i, j) = AT(i - 1, j - 1) && c == name[j - 1];
		}
	}
	r = AT(pl, nl);
#undef AT
	free(row);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data, *end = d + size;
	const char *nl = memchr(d, '\n', size);
	size_t pl = nl ? (size_t)(nl - d) : size;
	struct imap_match *m = imap_match_compile(d, pl, '.');

	for (const char *p = nl ? nl + 1 : end; p < end; ) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
		bool got = imap_match(m, p, len);
		if (pl <= REF_MAX && len <= REF_MAX &&
		    got != ref_match(d, pl, p, len, '.')) {
			fprintf(stderr, "pattern \"%.*s\" name \"%.*s\": %d\n",
			    (int)pl, d, (int)len, p, got);
			abort();
		}
		p = e ? e + 1 : end;
	}
	imap_match_free(&m);
	return 0;
}
