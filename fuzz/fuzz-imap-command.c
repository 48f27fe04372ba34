/* fuzz-imap-command - the IMAP command reader, then the FETCH, SEARCH,
 * SORT, THREAD, STORE flag and sequence-set parsers on whatever
 * arguments came out; each string argument also as a LIST pattern (on the
 * others as names) and as a SEARCH substring (in the whole input) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-match.h"
#include "imap-spec.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* try_list - the string arguments as LIST patterns, matched against
 * each string argument and a few usual names */
static void
try_list(struct imap_parser *p, const uint8_t *data, size_t size)
{
	static const char *const names[] = { "INBOX", "INBOX.Sent", "a.b.c",
	    "" };

	for (size_t i = 0; i < p->nargs; i++) {
		const char *pat = imap_arg_astring(&p->args[i]);
		if (pat == NULL)
			continue;
		struct imap_match *m = imap_match_compile(pat, strlen(pat), '.');
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			(void)imap_match(m, names[k], strlen(names[k]));
		for (size_t k = 0; k < p->nargs; k++) {
			const char *n = imap_arg_astring(&p->args[k]);
			if (n != NULL)
				(void)imap_match(m, n, strlen(n));
		}
		imap_match_free(&m);
		(void)mem_contains_ci((const char *)data, size, pat, strlen(pat));
	}
}

static void
try_specs(struct imap_parser *p)
{
	const char *err;
	struct imap_fetch f;
	struct imap_search s;
	struct imap_seqset set;
	unsigned flags;
	char *kw;
	bool bad;
	struct buf b;

	buf_init(&b, 0);
	/* SORT and THREAD take the whole argument list */
	struct imap_sort so;
	enum imap_thread_alg alg;
	if (imap_sort_parse(p->args, p->nargs, &so, &s, &bad, &err) == 0)
		imap_search_free(&s);
	if (imap_thread_parse(p->args, p->nargs, &alg, &s, &bad, &err) == 0)
		imap_search_free(&s);
	for (size_t i = 0; i < p->nargs; i++) {
		if (imap_fetch_parse(&p->args[i], &f, &err) == 0)
			imap_fetch_free(&f);
		if (imap_flags_parse(&p->args[i], &flags, &kw, &err) == 0)
			free(kw);
		if (imap_search_parse(p->args + i, p->nargs - i, &s, &bad, &err) == 0)
			imap_search_free(&s);
		const char *str = imap_arg_astring(&p->args[i]);
		if (str != NULL) {
			if (imap_seqset_parse(str, &set, &err) == 0) {
				(void)imap_seqset_contains(&set, 5, 10);
				imap_seqset_free(&set);
			}
			buf_reset(&b);
			(void)imap_mutf7_to_utf8(str, &b);
			buf_reset(&b);
			(void)imap_utf8_to_mutf7(str, &b);
			time_t t;
			int tz;
			(void)imap_datetime_parse(str, &t, &tz);
		}
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser p;
	size_t pos = 0, used;
	int guard = 0;

	/* small limits so that they are reached; APPEND literals from 64
	 * bytes go to unnamed files, past 512 in memory too */
	imap_parser_init(&p, 256, 4096, 8);
	imap_parser_spill(&p, "/tmp", 64, 512);
	while (pos < size && guard++ < 100000) {
		/* uneven chunks: the first byte picks the chunking */
		size_t chunk = size > 0 ? (size_t)(data[0] % 7) + 1 : 1;
		if (chunk > size - pos)
			chunk = size - pos;
		int r = imap_parser_feed(&p, (const char *)data + pos, chunk, &used);
		pos += used;
		if (r == IMAP_PARSE_DONE) {
			try_specs(&p);
			try_list(&p, data, size);
		}
		if (r == IMAP_PARSE_DONE || r == IMAP_PARSE_ERROR) {
			(void)imap_parser_tag(&p);
			bool fatal = p.fatal;
			imap_parser_reset(&p);
			if (fatal)
				break;
		}
		if (used == 0 && r == IMAP_PARSE_MORE)
			break;
	}
	imap_parser_free(&p);
	return 0;
}
