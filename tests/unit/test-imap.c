/* test-imap - the IMAP command reader and the FETCH/SEARCH/STORE parsers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap-match.h"
#include "imap-spec.h"
#include "imap-urlauth.h"
#include "test.h"

/* feed_bytes - feed s one byte at a time; returns the last result and
 * how many CONTINUE results were seen */
static int
feed_bytes(struct imap_parser *p, const char *s, size_t len, int *conts)
{
	int r = IMAP_PARSE_MORE;
	size_t used;

	*conts = 0;
	for (size_t i = 0; i < len; i++) {
		r = imap_parser_feed(p, s + i, 1, &used);
		CHECK_INTEQ(used, 1);
		if (r == IMAP_PARSE_CONTINUE)
			(*conts)++;
		else if (r != IMAP_PARSE_MORE && i + 1 < len)
			return -100; /* finished early */
	}
	return r;
}

static void
test_bytewise(void)
{
	struct imap_parser p;
	int conts;
	static const char cmd[] = "a1 APPEND \"IN\\\"BOX\" (\\Seen $X) {5}\r\n"
	    "he\0lo ~{3+}\r\nabc (x (y)) NIL\r\n";

	imap_parser_init(&p, 1000, 1000, 10);
	CHECK_INTEQ(feed_bytes(&p, cmd, sizeof(cmd) - 1, &conts), IMAP_PARSE_DONE);
	CHECK_INTEQ(conts, 1);
	CHECK_STREQ(p.tag, "a1");
	CHECK_STREQ(p.cmd, "APPEND");
	CHECK_INTEQ(p.nargs, 6);
	CHECK(imap_arg_is_atom(&p.args[5], "nil"));
	CHECK(p.args[0].type == IMAP_ARG_STRING);
	CHECK_STREQ(p.args[0].str, "IN\"BOX");
	CHECK(p.args[1].type == IMAP_ARG_LIST && p.args[1].count == 2);
	CHECK_STREQ(p.args[1].list[0].str, "\\Seen");
	CHECK(p.args[2].type == IMAP_ARG_LITERAL && p.args[2].len == 5);
	CHECK(memcmp(p.args[2].str, "he\0lo", 5) == 0);
	CHECK(p.args[3].literal8 && p.args[3].len == 3);
	CHECK(p.args[4].type == IMAP_ARG_LIST);
	CHECK(p.args[4].list[1].type == IMAP_ARG_LIST);
	imap_parser_reset(&p);
	/* "need more" until the LF */
	size_t used;
	CHECK_INTEQ(imap_parser_feed(&p, "a2 NOOP\r", 8, &used), IMAP_PARSE_MORE);
	CHECK_INTEQ(imap_parser_feed(&p, "\n", 1, &used), IMAP_PARSE_DONE);
	CHECK_STREQ(p.cmd, "NOOP");
	imap_parser_reset(&p);
	/* two commands in one chunk: the first is returned, the rest left */
	const char two[] = "b1 NOOP\r\nb2 FETCH 1 BODY[HEADER.FIELDS (A B)]<0.5>\r\n";
	CHECK_INTEQ(imap_parser_feed(&p, two, sizeof(two) - 1, &used), IMAP_PARSE_DONE);
	CHECK_INTEQ(used, 9);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, two + used, sizeof(two) - 1 - used, &used),
	    IMAP_PARSE_DONE);
	CHECK_INTEQ(p.nargs, 2);
	CHECK_STREQ(p.args[1].str, "BODY[HEADER.FIELDS (A B)]<0.5>");
	imap_parser_free(&p);
}

/* APPEND literals from spill_min go to unnamed files; other commands'
 * literals stay in memory, bounded by max_memory; 16 files at most */
static void
test_spill(void)
{
	struct imap_parser p;
	size_t used;
	char buf[64];
	int r = IMAP_PARSE_MORE;

	imap_parser_init(&p, 1000, 100000, 4);
	imap_parser_spill(&p, "/tmp", 8, 32);
	/* a small one stays in memory, a large one (with a NUL) goes to a
	 * file, byte for byte */
	static const char cmd[] = "a APPEND INBOX {3+}\r\nabc {10+}\r\n"
	    "0123\0" "56789\r\n";
	CHECK_INTEQ(imap_parser_feed(&p, cmd, sizeof(cmd) - 1, &used),
	    IMAP_PARSE_DONE);
	CHECK_INTEQ(p.nargs, 3);
	CHECK(!p.args[1].in_file && p.args[1].len == 3);
	CHECK(p.args[2].in_file && p.args[2].file_len == 10 && p.args[2].nul);
	CHECK(p.args[2].len == 0 && imap_arg_astring(&p.args[2]) == NULL);
	CHECK(pread(p.args[2].fd, buf, sizeof(buf), 0) == 10 &&
	    memcmp(buf, "0123\0" "56789", 10) == 0);
	imap_parser_reset(&p);
	/* not APPEND: in memory, and refused past max_memory */
	CHECK_INTEQ(imap_parser_feed(&p, "b SEARCH TEXT {20}\r\n", 20, &used),
	    IMAP_PARSE_CONTINUE);
	CHECK(p.lits[0].fd < 0);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "c SEARCH TEXT {40}\r\n", 20, &used),
	    IMAP_PARSE_ERROR);
	CHECK(strstr(p.error, "TOOBIG") != NULL && !p.fatal);
	imap_parser_reset(&p);
	/* small APPEND literals spill once they pass max_memory together */
	CHECK_INTEQ(imap_parser_feed(&p, "d APPEND X {5+}\r\n12345 {5+}\r\n"
	    "12345 {5+}\r\n12345 {5+}\r\n12345 {5+}\r\n12345 {5+}\r\n"
	    "12345 {5+}\r\n12345\r\n", 96, &used), IMAP_PARSE_DONE);
	CHECK(!p.args[6].in_file && p.args[7].in_file);
	imap_parser_reset(&p);
	/* a 17th file in one command: [LIMIT] */
	for (int i = 0; i < 17; i++) {
		char line[40];
		int n = snprintf(line, sizeof(line), "%s {8}\r\n",
		    i == 0 ? "e APPEND X" : " ");
		r = imap_parser_feed(&p, line, (size_t)n, &used);
		if (r != IMAP_PARSE_CONTINUE)
			break;
		r = imap_parser_feed(&p, "12345678", 8, &used);
	}
	CHECK_INTEQ(r, IMAP_PARSE_ERROR);
	CHECK(strstr(p.error, "LIMIT") != NULL);
	imap_parser_reset(&p);
	/* a spill directory that cannot be used: the literal is read and
	 * dropped, the command refused at its end */
	imap_parser_spill(&p, "/nonexistent/dir", 8, 32);
	CHECK_INTEQ(imap_parser_feed(&p, "f APPEND X {10+}\r\n0123456789\r\n",
	    30, &used), IMAP_PARSE_ERROR);
	CHECK_INTEQ(used, 30);
	CHECK(strstr(p.error, "UNAVAILABLE") != NULL && !p.fatal);
	CHECK_STREQ(imap_parser_tag(&p), "f");
	imap_parser_free(&p);
}

static void
test_limits(void)
{
	struct imap_parser p;
	size_t used;
	static const char huge[] = "a1 APPEND INBOX {4294967296}\r\n";
	static const char huge_plus[] = "a1 APPEND INBOX {4294967296+}\r\n";

	imap_parser_init(&p, 100, 1000, 3);
	/* refused before allocation; synchronizing: the session goes on */
	CHECK_INTEQ(imap_parser_feed(&p, huge, sizeof(huge) - 1, &used),
	    IMAP_PARSE_ERROR);
	CHECK(!p.fatal);
	CHECK_STREQ(imap_parser_tag(&p), "a1");
	CHECK(p.nlits == 0); /* nothing allocated for it */
	imap_parser_reset(&p);
	/* an allowed but big announcement reserves little up front */
	p.max_literal = 100u << 20;
	CHECK_INTEQ(imap_parser_feed(&p, "a1 APPEND INBOX {50000000}\r\n", 28,
	    &used), IMAP_PARSE_CONTINUE);
	CHECK(p.lits[0].data.cap <= (1u << 18));
	CHECK_INTEQ(imap_parser_feed(&p, "abc", 3, &used), IMAP_PARSE_MORE);
	p.max_literal = 1000;
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, huge_plus, sizeof(huge_plus) - 1, &used),
	    IMAP_PARSE_ERROR);
	CHECK(p.fatal);
	imap_parser_reset(&p);
	/* the literals of one command are bounded together */
	CHECK_INTEQ(imap_parser_feed(&p, "a X {600+}\r\n", 12, &used),
	    IMAP_PARSE_MORE);
	char fill[600];
	memset(fill, 'f', sizeof(fill));
	CHECK_INTEQ(imap_parser_feed(&p, fill, sizeof(fill), &used), IMAP_PARSE_MORE);
	CHECK_INTEQ(imap_parser_feed(&p, " {600}\r\n", 8, &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	/* a 20-digit size does not overflow */
	CHECK_INTEQ(imap_parser_feed(&p, "a {99999999999999999999}\r\n", 26, &used),
	    IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	/* too long a line: error, skip to LF, then the next command works */
	char line[300];
	memset(line, 'x', sizeof(line));
	CHECK_INTEQ(imap_parser_feed(&p, line, sizeof(line), &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "yyy\r\nc1 NOOP\r\n", 14, &used), IMAP_PARSE_DONE);
	CHECK_STREQ(p.cmd, "NOOP");
	imap_parser_reset(&p);
	/* nesting */
	CHECK_INTEQ(imap_parser_feed(&p, "a X ((()))\r\n", 12, &used), IMAP_PARSE_DONE);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "a X (((())))\r\n", 14, &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "a X (a\r\n", 8, &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "a X \"a\r\n", 8, &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "\r\n", 2, &used), IMAP_PARSE_ERROR);
	imap_parser_reset(&p);
	CHECK_INTEQ(imap_parser_feed(&p, "+ NOOP\r\n", 8, &used), IMAP_PARSE_ERROR);
	imap_parser_free(&p);
}

static void
test_seqset(void)
{
	struct imap_seqset s;
	const char *err;
	struct buf b;

	CHECK(imap_seqset_parse("1:3,7,10:*", &s, &err) == 0);
	CHECK(imap_seqset_contains(&s, 2, 20));
	CHECK(!imap_seqset_contains(&s, 5, 20));
	CHECK(imap_seqset_contains(&s, 15, 20));
	CHECK(!imap_seqset_contains(&s, 15, 9) || true);
	imap_seqset_free(&s);
	CHECK(imap_seqset_parse("0", &s, &err) < 0);
	CHECK(imap_seqset_parse("1,", &s, &err) < 0);
	/* 4294967295 is a valid UID, not '*'; 4294967296 is no number */
	CHECK(imap_seqset_parse("1:4294967295", &s, &err) == 0);
	CHECK(imap_seqset_contains(&s, 4294967295u, 10));
	CHECK(imap_seqset_contains(&s, 11, 10));
	imap_seqset_free(&s);
	CHECK(imap_seqset_parse("4294967295", &s, &err) == 0);
	CHECK(!imap_seqset_contains(&s, 10, 10));
	imap_seqset_free(&s);
	CHECK(imap_seqset_parse("4294967296", &s, &err) < 0);
	CHECK(imap_seqset_parse("4294967296", &s, &err) < 0);
	static const uint32_t v[] = { 1, 2, 3, 5, 7, 8 };
	buf_init(&b, 0);
	imap_seqset_format(&b, v, 6);
	CHECK_STREQ(b.data, "1:3,5,7:8");
	buf_free(&b);
}

static void
parse_one(struct imap_parser *p, const char *line)
{
	size_t used;
	imap_parser_reset(p);
	CHECK_INTEQ(imap_parser_feed(p, line, strlen(line), &used), IMAP_PARSE_DONE);
}

static void
test_fetch(void)
{
	struct imap_parser p;
	struct imap_fetch f;
	const char *err;

	imap_parser_init(&p, 1000, 1000, 10);
	parse_one(&p, "a FETCH 1 (UID body.peek[1.2.HEADER.FIELDS.NOT (X-A \"Y\")]<10.20> "
	    "BINARY[2] BODY[] RFC822.SIZE BODY[1.MIME] BINARY.SIZE[1])\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) == 0);
	CHECK_INTEQ(f.n, 7);
	CHECK(f.items[1].peek && f.items[1].partial && f.items[1].offset == 10 &&
	    f.items[1].length == 20);
	CHECK_INTEQ(f.items[1].npath, 2);
	CHECK(f.items[1].spec == IMAP_SECTION_HEADER_FIELDS_NOT);
	CHECK_STREQ(f.items[1].name, "BODY[1.2.HEADER.FIELDS.NOT (X-A Y)]<10>");
	CHECK_STREQ(f.items[2].name, "BINARY[2]");
	CHECK_STREQ(f.items[3].name, "BODY[]");
	CHECK_STREQ(f.items[5].name, "BODY[1.MIME]");
	CHECK(f.sets_seen);
	imap_fetch_free(&f);
	parse_one(&p, "a FETCH 1 ALL\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) == 0);
	CHECK_INTEQ(f.n, 4);
	imap_fetch_free(&f);
	parse_one(&p, "a FETCH 1 (BODY[MIME])\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) < 0);
	parse_one(&p, "a FETCH 1 (BODY[1]<5>)\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) < 0);
	parse_one(&p, "a FETCH 1 (BINARY[HEADER])\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) < 0);
	parse_one(&p, "a FETCH 1 (FOO)\r\n");
	CHECK(imap_fetch_parse(&p.args[1], &f, &err) < 0);
	imap_parser_free(&p);
}

static void
test_search(void)
{
	struct imap_parser p;
	struct imap_search s;
	const char *err;
	bool bad;

	imap_parser_init(&p, 1000, 1000, 10);
	parse_one(&p, "a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM x SINCE "
	    "1-Feb-2020) NOT SEEN HEADER X-Y z UID 1:5 LARGER 10 2:4\r\n");
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) == 0);
	CHECK(s.esearch && s.ret == (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT));
	CHECK_INTEQ(s.root.nsub, 5);
	CHECK(s.root.sub[0].type == IMAP_SEARCH_OR);
	CHECK(s.root.sub[0].sub[0].type == IMAP_SEARCH_AND);
	CHECK_INTEQ(s.root.sub[0].sub[0].sub[1].date, 20200201);
	CHECK(s.root.sub[0].sub[1].type == IMAP_SEARCH_NOT);
	CHECK_STREQ(s.root.sub[1].str, "X-Y");
	CHECK(s.root.sub[4].type == IMAP_SEARCH_SEQSET);
	imap_search_free(&s);
	parse_one(&p, "a SEARCH CHARSET KOI8-R TEXT x\r\n");
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0 && bad);
	parse_one(&p, "a SEARCH FROM\r\n");
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0 && !bad);
	parse_one(&p, "a SEARCH SINCE 31-Foo-2020\r\n");
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0);
	parse_one(&p, "a SEARCH BOGUS\r\n");
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0);
	imap_parser_free(&p);
}

/* the string limits of SEARCH: length and count, across nested lists */
static void
test_search_limits(void)
{
	struct imap_parser p;
	struct imap_search s;
	const char *err;
	bool bad;
	struct buf line;

	imap_parser_init(&p, 1 << 20, 1 << 20, 10);
	buf_init(&line, 0);
	buf_printf(&line, "a SEARCH BODY {%u+}\r\n", IMAP_SEARCH_STRING_MAX);
	for (unsigned i = 0; i < IMAP_SEARCH_STRING_MAX; i++)
		buf_putc(&line, 'x');
	buf_puts(&line, "\r\n");
	parse_one(&p, line.data);
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) == 0);
	imap_search_free(&s);
	buf_reset(&line);
	buf_printf(&line, "a SEARCH HEADER X-A {%u+}\r\n", IMAP_SEARCH_STRING_MAX + 1);
	for (unsigned i = 0; i <= IMAP_SEARCH_STRING_MAX; i++)
		buf_putc(&line, 'x');
	buf_puts(&line, "\r\n");
	parse_one(&p, line.data);
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0 && !bad);
	CHECK(strstr(err, "too long") != NULL && strstr(err, "4097") != NULL);
	/* the count: 64 fine, 65 in nested lists not */
	buf_reset(&line);
	buf_puts(&line, "a SEARCH");
	for (unsigned i = 0; i < IMAP_SEARCH_MAX_STRINGS; i++)
		buf_puts(&line, " TEXT a");
	buf_puts(&line, "\r\n");
	parse_one(&p, line.data);
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) == 0);
	imap_search_free(&s);
	buf_reset(&line);
	buf_puts(&line, "a SEARCH (FROM a");
	for (unsigned i = 1; i < IMAP_SEARCH_MAX_STRINGS; i++)
		buf_puts(&line, " FROM a");
	buf_puts(&line, ") (OR SUBJECT b SEEN)\r\n");
	parse_one(&p, line.data);
	CHECK(imap_search_parse(p.args, p.nargs, &s, &bad, &err) < 0);
	CHECK(strstr(err, "Too many search strings") != NULL);
	buf_free(&line);
	imap_parser_free(&p);
}

static bool
lmatch(const char *pat, const char *name)
{
	struct imap_match *m = imap_match_compile(pat, strlen(pat), '.');
	bool r = imap_match(m, name, strlen(name));

	imap_match_free(&m);
	return r;
}

/* LIST patterns: '*', '%' (not across '.'), folded wildcard runs,
 * patterns past one 64-bit word, and the shape that makes a backtracking
 * matcher exponential */
static void
test_list_match(void)
{
	CHECK(lmatch("*", ""));
	CHECK(lmatch("*", "INBOX.a.b"));
	CHECK(lmatch("%", "INBOX"));
	CHECK(!lmatch("%", "INBOX.a"));
	CHECK(lmatch("INBOX.%", "INBOX.a"));
	CHECK(!lmatch("INBOX.%", "INBOX.a.b"));
	CHECK(lmatch("INBOX.%.b", "INBOX.a.b"));
	CHECK(lmatch("INBOX.%%", "INBOX."));
	CHECK(lmatch("%*", "a.b"));
	CHECK(lmatch("*%", "a.b"));
	CHECK(!lmatch("%%.", "a.b."));
	CHECK(lmatch("%.%.", "a.b."));
	CHECK(lmatch("", ""));
	CHECK(!lmatch("", "a"));
	CHECK(!lmatch("inbox", "INBOX"));        /* octets: case counts */
	CHECK(lmatch("a*b*c", "axxbyyc"));
	CHECK(!lmatch("a*b*c", "axxbyy"));
	CHECK(lmatch("Caf&AOk-*", "Caf&AOk-.x"));
	/* 200 octets: four words of states */
	char pat[256], name[256];
	memset(pat, 'x', 199);
	pat[199] = '\0';
	memset(name, 'x', 199);
	name[199] = '\0';
	CHECK(lmatch(pat, name));
	pat[150] = '%';
	CHECK(lmatch(pat, name));
	name[150] = '.';
	CHECK(!lmatch(pat, name));
	pat[150] = '*';
	CHECK(lmatch(pat, name));
	/* "*a*a*a...*b" on "aaaa...": a backtracking matcher tries every
	 * split; this is a pass of 40 octets */
	char hp[128];
	size_t k = 0;
	for (int i = 0; i < 30; i++) {
		hp[k++] = '*';
		hp[k++] = 'a';
	}
	hp[k++] = '*';
	hp[k++] = 'b';
	hp[k] = '\0';
	memset(name, 'a', 200);
	name[200] = '\0';
	CHECK(!lmatch(hp, name));
	name[199] = 'b';
	CHECK(lmatch(hp, name));
}

static void
test_flags(void)
{
	struct imap_parser p;
	unsigned flags;
	char *kw;
	const char *err;

	imap_parser_init(&p, 1000, 1000, 10);
	parse_one(&p, "a STORE 1 +FLAGS (\\Seen \\deleted $Junk Work)\r\n");
	CHECK(imap_flags_parse(&p.args[2], &flags, &kw, &err) == 0);
	CHECK_INTEQ(flags, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	CHECK_STREQ(kw, "$Junk Work");
	free(kw);
	parse_one(&p, "a STORE 1 +FLAGS (\\Recent)\r\n");
	CHECK(imap_flags_parse(&p.args[2], &flags, &kw, &err) < 0);
	imap_parser_free(&p);
}

static void
test_mutf7(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(imap_mutf7_to_utf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-", &b) == 0);
	CHECK_STREQ(b.data, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	buf_reset(&b);
	CHECK(imap_utf8_to_mutf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", &b) == 0);
	CHECK_STREQ(b.data, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	buf_reset(&b);
	CHECK(imap_utf8_to_mutf7("A&B", &b) == 0);
	CHECK_STREQ(b.data, "A&-B");
	buf_reset(&b);
	CHECK(imap_mutf7_to_utf8("&AGE-", &b) < 0); /* 'a' must not be encoded */
	buf_reset(&b);
	CHECK(imap_mutf7_to_utf8("&Jjo", &b) < 0);
	buf_reset(&b);
	CHECK(imap_utf8_to_mutf7("\xff", &b) < 0);
	buf_free(&b);
}

static void
test_dates(void)
{
	time_t t;
	int tz, y, m, d;
	struct buf b;

	CHECK(imap_datetime_parse("01-Feb-1994 21:10:00 +0100", &t, &tz) == 0);
	CHECK_INTEQ(t, 760137000 - 3600);
	CHECK_INTEQ(tz, 60);
	buf_init(&b, 0);
	imap_datetime_format(&b, t, tz);
	CHECK_STREQ(b.data, "\"01-Feb-1994 21:10:00 +0100\"");
	buf_free(&b);
	CHECK(imap_datetime_parse(" 1-Feb-1994 21:10:00 -0230", &t, &tz) == 0);
	CHECK_INTEQ(tz, -150);
	CHECK(imap_date_parse("1-Feb-1994", &y, &m, &d) == 0 && y == 1994 && m == 2);
	CHECK(imap_date_parse("1-Fox-1994", &y, &m, &d) < 0);
	CHECK(imap_datetime_parse("01-Feb-1994 25:10:00 +0100", &t, &tz) < 0);
}

/* test_urlauth - URLAUTH URLs (RFC 4467, RFC 5092 3.2): what parses, the
 * rump, the token, EXPIRE date-times, and a table of refusals */
static void
test_urlauth(void)
{
	struct imap_urlauth u;
	const char *err;
	const char *url = "imap://bob%40acme@mx.example:143/Work;UIDVALIDITY=9"
	    "/;UID=20/;SECTION=1.2/;PARTIAL=0.100;EXPIRE=2026-12-07T15:00:00Z"
	    ";URLAUTH=user+carol%40acme:internal:"
	    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";

	CHECK(imap_urlauth_parse(url, true, &u, &err) == 0);
	CHECK_STREQ(u.owner, "bob@acme");
	CHECK_STREQ(u.host, "mx.example");
	CHECK_STREQ(u.url.mailbox, "Work");
	CHECK_INTEQ(u.url.uidvalidity, 9);
	CHECK_INTEQ(u.url.uid, 20);
	CHECK_STREQ(u.url.section, "1.2");
	CHECK(u.url.partial && u.url.partial_len && u.url.length == 100);
	CHECK_INTEQ(u.expire, 1796655600);
	CHECK(u.access == IMAP_URLAUTH_USER);
	CHECK_STREQ(u.access_user, "carol@acme");
	CHECK_STREQ(u.mechanism, "INTERNAL");
	CHECK_INTEQ(u.rump_len, (size_t)(strstr(url, ":internal:") - url));
	/* the token: right under its key only, case-insensitive */
	unsigned char key[IMAP_URLAUTH_KEY_LEN] = { 7 }, other[IMAP_URLAUTH_KEY_LEN] = { 8 };
	char tok[IMAP_URLAUTH_TOKEN_LEN + 1];
	imap_urlauth_token(key, url, u.rump_len, tok);
	char *good = NULL;
	CHECK(asprintf(&good, "%.*s:INTERNAL:%s", (int)u.rump_len, url, tok) > 0);
	imap_urlauth_free(&u);
	CHECK(imap_urlauth_parse(good, true, &u, &err) == 0);
	CHECK(imap_urlauth_verify(&u, good, key));
	CHECK(!imap_urlauth_verify(&u, good, other));
	imap_urlauth_free(&u);
	for (char *p = good + strlen(good) - 64; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	CHECK(imap_urlauth_parse(good, true, &u, &err) == 0);
	CHECK(imap_urlauth_verify(&u, good, key));
	imap_urlauth_free(&u);
	free(good);
	/* the rump form GENURLAUTH takes */
	CHECK(imap_urlauth_parse("imap://a@h/INBOX/;uid=1;urlauth=anonymous",
	    false, &u, &err) == 0);
	CHECK(u.access == IMAP_URLAUTH_ANONYMOUS && u.access_user == NULL);
	imap_urlauth_free(&u);
	CHECK(imap_urlauth_parse("imap://a;AUTH=*@[::1]/INBOX/;UID=1;URLAUTH="
	    "submit+a", false, &u, &err) == 0);
	CHECK_STREQ(u.host, "[::1]");
	CHECK(u.access == IMAP_URLAUTH_SUBMIT);
	imap_urlauth_free(&u);
	/* date-times */
	CHECK_INTEQ(imap_urlauth_datetime("2026-12-07T17:00:00.25+02:00", 28),
	    1796655600);
	CHECK(imap_urlauth_datetime("2026-12-07 15:00:00Z", 20) == -1);
	CHECK(imap_urlauth_datetime("2026-13-07T15:00:00Z", 20) == -1);
	/* refused, with a reason */
	static const struct { const char *url; bool token; } bad[] = {
		{ "imap://a@h/INBOX/;UID=1", false },             /* no URLAUTH */
		{ "imap://h/INBOX/;UID=1;URLAUTH=anonymous", false }, /* no user */
		{ "http://a@h/INBOX/;UID=1;URLAUTH=anonymous", false },
		{ "imap://a@h/INBOX;URLAUTH=anonymous", false },  /* no UID */
		{ "imap://a@h/INBOX/;UID=0;URLAUTH=anonymous", false },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=friends", false },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=user+", false },
		{ "imap://a@h/INBOX/;UID=1;EXPIRE=soon;URLAUTH=authuser", false },
		{ "imap://a@h:99999/INBOX/;UID=1;URLAUTH=authuser", false },
		{ "imap://a%00b@h/INBOX/;UID=1;URLAUTH=authuser", false },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=authuser", true }, /* no token */
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:abc", true },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:"
		  "0123456789abcdef0123456789abcdefXX", true },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=authuser:IN TERNAL:"
		  "0123456789abcdef0123456789abcdef", true },
		{ "imap://a@h/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:"
		  "0123456789abcdef0123456789abcdef", false },  /* token given */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		CHECK(imap_urlauth_parse(bad[i].url, bad[i].token, &u, &err) < 0);
		CHECK(err != NULL);
		imap_urlauth_free(&u);
	}
	/* too long */
	char *big = malloc(IMAP_URL_MAX + 64);
	snprintf(big, IMAP_URL_MAX + 64, "imap://a@h/%0*d/;UID=1;URLAUTH=anonymous",
	    IMAP_URL_MAX, 0);
	CHECK(imap_urlauth_parse(big, false, &u, &err) < 0);
	CHECK_STREQ(err, "URL too long");
	imap_urlauth_free(&u);
	free(big);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_bytewise), TEST(test_limits), TEST(test_spill), TEST(test_seqset),
		TEST(test_fetch), TEST(test_search), TEST(test_search_limits), TEST(test_list_match), TEST(test_flags),
		TEST(test_mutf7), TEST(test_dates), TEST(test_urlauth), { 0 } };
	return test_run(tests);
}
