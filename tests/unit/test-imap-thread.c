/* test-imap-thread - base subjects, Message IDs, ORDEREDSUBJECT and
 * REFERENCES threading, SORT/THREAD argument parsing */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-parser.h"
#include "imap-spec.h"
#include "imap-thread.h"
#include "test.h"

static void
base(const char *in, const char *want, bool want_reply)
{
	struct buf b;
	bool reply = !want_reply;

	buf_init(&b, 0);
	imap_base_subject(in, strlen(in), &b, &reply);
	buf_putc(&b, '\0');
	CHECK_STREQ(b.data, want);
	if (reply != want_reply)
		fprintf(stderr, "  reply flag wrong for \"%s\"\n", in);
	CHECK(reply == want_reply);
	buf_free(&b);
}

static void
test_base_subject(void)
{
	base("Re: hello", "HELLO", true);
	base("Fwd: Re: [list] hello (fwd)", "HELLO", true);
	base("[fwd: Re: test]", "TEST", true);
	base("[Fwd: [fwd: x]]", "X", true);
	base("[tag]", "[TAG]", false);
	base("Re: [tag]", "[TAG]", true);
	base("RE [x]: foo", "FOO", true);
	base("  multiple   spaces\there  ", "MULTIPLE SPACES HERE", false);
	base("Re:Re:re: x", "X", true);
	base("Really: x", "REALLY: X", false);
	base("fw: fwd:x", "X", true);
	base("", "", false);
	base("re: (fwd)", "", true);
	base("[a][b] Re: c", "C", true);
	base("[a] [b] c", "C", false);
	base("Re: [PATCH 1/2] fix", "FIX", true);
	base("x (fwd) (FWD)  ", "X", true);
	base("caf\xc3\xa9 au lait", "CAF\xc3\xa9 AU LAIT", false);
	base("[unclosed subject", "[UNCLOSED SUBJECT", false);
	base("Re :x", "X", true);
	/* runs of blobs: all go but one that would leave nothing */
	base("[a][b][c]", "[C]", false);
	base("[a] [b] [c] ", "[C]", false);
	base("[a][b][c] d", "D", false);
	base("[a][b]re[c]:[d] e", "E", true);
	base("[a][b] [fwd: [c] x]", "X", true);
	base("[a][b[c] x", "[B[C] X", false);
	base("[a][b] re x", "RE X", false);
	base("[a]re: [b][c]", "[C]", true);
}

/* the base subject is linear in the subject: 20,000 leading blobs (the
 * former extraction rescanned the run for each one it removed: seconds) */
static void
test_base_subject_linear(void)
{
	const size_t n = 20000;
	char *s = malloc(n * 3 + 3);
	struct buf b;
	bool reply;
	struct timespec t0, t1;

	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 3, "[x]", 3);
	memcpy(s + n * 3, "hi", 3);
	buf_init(&b, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	imap_base_subject(s, n * 3 + 2, &b, &reply);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	buf_putc(&b, '\0');
	CHECK_STREQ(b.data, "HI");
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 0.5);
	buf_free(&b);
	free(s);
}

static void
test_msgid(void)
{
	struct buf b;
	const char *p = "  <a@b> junk <no-at> <c @ d>(comment)<x@y";
	buf_init(&b, 0);
	CHECK(imap_msgid_next(&p, &b) == 1);
	buf_putc(&b, '\0');
	CHECK_STREQ(b.data, "a@b");
	CHECK(imap_msgid_next(&p, &b) == 1);
	buf_putc(&b, '\0');
	CHECK_STREQ(b.data, "c@d");
	CHECK(imap_msgid_next(&p, &b) == 0);
	p = "<@x> <a@> <<q@r>";
	CHECK(imap_msgid_next(&p, &b) == 1);
	buf_putc(&b, '\0');
	CHECK_STREQ(b.data, "q@r");
	buf_free(&b);
}

struct tm_in {
	const char *subject, *id, *refs;
	int64_t date;
};

static void
thread_check(enum imap_thread_alg alg, const struct tm_in *in, size_t n,
	     const char *want)
{
	struct imap_thread_msg *m = calloc(n, sizeof(*m));
	char ***refs = calloc(n, sizeof(*refs));
	struct buf *subj = calloc(n, sizeof(*subj)), out, id;

	buf_init(&out, 0);
	buf_init(&id, 0);
	for (size_t i = 0; i < n; i++) {
		buf_init(&subj[i], 0);
		imap_base_subject(in[i].subject, strlen(in[i].subject), &subj[i],
		    &m[i].reply);
		buf_putc(&subj[i], '\0');
		m[i].subject = subj[i].data;
		m[i].id = (uint32_t)i + 1;
		m[i].sent = in[i].date;
		const char *p = in[i].id;
		if (p != NULL && imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			m[i].msgid = strdup(id.data);
		}
		p = in[i].refs ? in[i].refs : "";
		refs[i] = calloc(16, sizeof(char *));
		size_t k = 0;
		while (k < 16 && imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			refs[i][k++] = strdup(id.data);
		}
		m[i].refs = (const char *const *)refs[i];
		m[i].nrefs = k;
	}
	imap_thread(alg, m, n, &out);
	buf_putc(&out, '\0');
	CHECK_STREQ(out.data, want);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < m[i].nrefs; k++)
			free(refs[i][k]);
		free(refs[i]);
		free((char *)m[i].msgid);
		buf_free(&subj[i]);
	}
	free(refs);
	free(subj);
	free(m);
	buf_free(&out);
	buf_free(&id);
}

static void
test_orderedsubject(void)
{
	static const struct tm_in in[] = {
		{ "A", NULL, NULL, 10 },
		{ "B", NULL, NULL, 5 },
		{ "Re: A", NULL, NULL, 20 },
		{ "a", NULL, NULL, 15 },
		{ "[x] b", NULL, NULL, 6 },
		{ "A", NULL, NULL, 15 },
	};
	thread_check(IMAP_THREAD_ORDEREDSUBJECT, in, 6,
	    "(2 5)(1 (4)(6)(3))");
	thread_check(IMAP_THREAD_ORDEREDSUBJECT, in, 0, "");
	thread_check(IMAP_THREAD_ORDEREDSUBJECT, in, 1, "(1)");
}

static void
test_references(void)
{
	static const struct tm_in in[] = {
		{ "x", "<a@x>", NULL, 1 },
		{ "Re: x", "<b@x>", "<a@x>", 2 },
		{ "Re: x", "<c@x>", "<a@x> <b@x>", 3 },
		{ "Re: x", "<d@x>", "<a@x>", 4 },
		{ "other", "<e@x>", "<zz@x>", 5 },
		{ "other two", "<f@x>", "<zz@x>", 6 },
		{ "Re: x", "<g@x>", NULL, 7 },
		{ "unrelated", "<a@x>", NULL, 8 },
		{ "loop one", "<h@x>", "<i@x>", 9 },
		{ "loop two", "<i@x>", "<h@x>", 10 },
	};
	thread_check(IMAP_THREAD_REFERENCES, in, 10,
	    "(1 (2 3)(4)(7))((5)(6))(8)(10 9)");
	/* a References chain through missing messages: the dummies go */
	static const struct tm_in chain[] = {
		{ "s", "<3@x>", "<1@x> <2@x>", 3 },
		{ "t", "<4@x>", "<1@x> <2@x> <3@x>", 4 },
		{ "u", "<5@x>", "<1@x>", 5 },
	};
	thread_check(IMAP_THREAD_REFERENCES, chain, 3, "((1 2)(3))");
	/* same subject, no references: gathered under a dummy; a reply
	 * goes under the original */
	static const struct tm_in subj[] = {
		{ "hello", "<1@x>", NULL, 1 },
		{ "Hello", "<2@x>", NULL, 2 },
		{ "Re: other", "<3@x>", NULL, 3 },
		{ "other", "<4@x>", NULL, 4 },
		{ "", "<5@x>", NULL, 0 },
	};
	thread_check(IMAP_THREAD_REFERENCES, subj, 5, "(5)((1)(2))(4 3)");
	/* missing sent dates sort by sequence */
	static const struct tm_in same[] = {
		{ "a", "<1@x>", NULL, 0 },
		{ "b", "<2@x>", NULL, 0 },
		{ "c", "<3@x>", "<1@x>", 0 },
	};
	thread_check(IMAP_THREAD_REFERENCES, same, 3, "(1 3)(2)");
}

static int
parse_line(struct imap_parser *p, const char *line)
{
	size_t used;

	imap_parser_reset(p);
	return imap_parser_feed(p, line, strlen(line), &used);
}

static void
test_sort_parse(void)
{
	struct imap_parser p;
	struct imap_sort so;
	struct imap_search se;
	enum imap_thread_alg alg;
	const char *err;
	bool bad;

	imap_parser_init(&p, 8192, 8192, 16);
	CHECK(parse_line(&p, "a SORT (REVERSE DATE subject) UTF-8 ALL\r\n") ==
	    IMAP_PARSE_DONE);
	CHECK(imap_sort_parse(p.args, p.nargs, &so, &se, &bad, &err) == 0);
	CHECK_INTEQ(so.n, 2);
	CHECK(so.keys[0].key == IMAP_SORT_DATE && so.keys[0].reverse);
	CHECK(so.keys[1].key == IMAP_SORT_SUBJECT && !so.keys[1].reverse);
	CHECK(!so.esort);
	imap_search_free(&se);
	CHECK(parse_line(&p, "a SORT RETURN (MIN COUNT) (DISPLAYFROM) "
	    "us-ascii UNSEEN\r\n") == IMAP_PARSE_DONE);
	CHECK(imap_sort_parse(p.args, p.nargs, &so, &se, &bad, &err) == 0);
	CHECK(so.esort && so.ret == (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT));
	CHECK(so.keys[0].key == IMAP_SORT_DISPLAYFROM);
	imap_search_free(&se);
	static const char *const bad_lines[] = {
		"a SORT () UTF-8 ALL\r\n",
		"a SORT (REVERSE) UTF-8 ALL\r\n",
		"a SORT (REVERSE REVERSE DATE) UTF-8 ALL\r\n",
		"a SORT (BOGUS) UTF-8 ALL\r\n",
		"a SORT (DATE) UTF-8\r\n",
		"a SORT DATE UTF-8 ALL\r\n",
		"a SORT (DATE) UTF-8 CHARSET UTF-8 ALL\r\n",
		"a SORT (DATE (SIZE)) UTF-8 ALL\r\n",
	};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(*bad_lines); i++) {
		CHECK(parse_line(&p, bad_lines[i]) == IMAP_PARSE_DONE);
		CHECK(imap_sort_parse(p.args, p.nargs, &so, &se, &bad, &err) < 0);
		CHECK(!bad);
	}
	/* no charset: "ALL" taken for one */
	CHECK(parse_line(&p, "a SORT (DATE) ALL\r\n") == IMAP_PARSE_DONE);
	CHECK(imap_sort_parse(p.args, p.nargs, &so, &se, &bad, &err) < 0);
	CHECK(parse_line(&p, "a SORT (DATE) KOI8-R ALL\r\n") == IMAP_PARSE_DONE);
	CHECK(imap_sort_parse(p.args, p.nargs, &so, &se, &bad, &err) < 0 && bad);

	CHECK(parse_line(&p, "a THREAD REFERENCES UTF-8 SINCE 1-Jan-2020\r\n") ==
	    IMAP_PARSE_DONE);
	CHECK(imap_thread_parse(p.args, p.nargs, &alg, &se, &bad, &err) == 0);
	CHECK(alg == IMAP_THREAD_REFERENCES);
	imap_search_free(&se);
	CHECK(parse_line(&p, "a THREAD orderedsubject utf-8 ALL\r\n") ==
	    IMAP_PARSE_DONE);
	CHECK(imap_thread_parse(p.args, p.nargs, &alg, &se, &bad, &err) == 0);
	CHECK(alg == IMAP_THREAD_ORDEREDSUBJECT);
	imap_search_free(&se);
	CHECK(parse_line(&p, "a THREAD REFS UTF-8 ALL\r\n") == IMAP_PARSE_DONE);
	CHECK(imap_thread_parse(p.args, p.nargs, &alg, &se, &bad, &err) < 0);
	CHECK(parse_line(&p, "a THREAD REFERENCES ALL\r\n") == IMAP_PARSE_DONE);
	CHECK(imap_thread_parse(p.args, p.nargs, &alg, &se, &bad, &err) < 0);
	CHECK(parse_line(&p, "a THREAD REFERENCES X-BAD ALL\r\n") ==
	    IMAP_PARSE_DONE);
	CHECK(imap_thread_parse(p.args, p.nargs, &alg, &se, &bad, &err) < 0 && bad);
	imap_parser_free(&p);
}

/* a deep chain and a deep branching tree: no recursion to overflow */
static void
test_deep(void)
{
	size_t n = 20000;
	struct imap_thread_msg *m = calloc(n, sizeof(*m));
	char **ids = calloc(n, sizeof(*ids));
	const char ***refs = calloc(n, sizeof(*refs));
	struct buf out;

	for (size_t i = 0; i < n; i++) {
		ids[i] = malloc(32);
		snprintf(ids[i], 32, "%zu@x", i);
		m[i].id = (uint32_t)i + 1;
		m[i].sent = (int64_t)i;
		m[i].msgid = ids[i];
		m[i].subject = "S";
		refs[i] = calloc(1, sizeof(char *));
		if (i > 0) {
			/* odd: a reply to the one before; even: to two back
			 * (a branch at each level) */
			refs[i][0] = ids[i % 2 ? i - 1 : (i >= 2 ? i - 2 : 0)];
			m[i].refs = refs[i];
			m[i].nrefs = 1;
		}
	}
	buf_init(&out, 0);
	imap_thread(IMAP_THREAD_REFERENCES, m, n, &out);
	CHECK(out.len > n * 2);
	CHECK(out.data[0] == '(' && out.data[out.len - 1] == ')');
	size_t depth = 0, maxd = 0;
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '(' && ++depth > maxd)
			maxd = depth;
		if (out.data[i] == ')')
			depth--;
	}
	CHECK(depth == 0 && maxd > 1000);
	buf_reset(&out);
	imap_thread(IMAP_THREAD_ORDEREDSUBJECT, m, n, &out);
	CHECK(strncmp(out.data, "(1 (2)(3)", 9) == 0);
	buf_free(&out);
	for (size_t i = 0; i < n; i++) {
		free(ids[i]);
		free(refs[i]);
	}
	free(ids);
	free(refs);
	free(m);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_base_subject),
		TEST(test_base_subject_linear),
		TEST(test_msgid),
		TEST(test_orderedsubject),
		TEST(test_references),
		TEST(test_sort_parse),
		TEST(test_deep),
		{ 0 },
	};
	return test_run(tests);
}
