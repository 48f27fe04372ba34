/* test-sieve - Sieve parser errors (line:col), limits, and the
 * interpreter over sample messages */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "sieve.h"
#include "test.h"
#include "xalloc.h"

static const char msg1[] =
	"Return-Path: <alice@example.org>\r\n"
	"From: \"Alice A.\" <alice@example.org>\r\n"
	"To: bob+lists@example.com, Carol <carol@example.com>\r\n"
	"Cc: dave@example.net\r\n"
	"Subject: =?UTF-8?Q?Caf=C3=A9?= meeting [urgent]\r\n"
	"X-Spam-Score: 7\r\n"
	"Received: a\r\n"
	"Received: b\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"Hello Bob,\r\n"
	"the quarterly report is attached.\r\n";

static const char msg2[] =
	"From: x@y.example\r\n"
	"Subject: parts\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/html\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PGI+c2VjcmV0IHdvcmQ8L2I+\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"binary invoice\r\n"
	"--b1--\r\n";

/* run - compile and run text over msg: the actions as a string like
 * "keep;fileinto:Work;redirect:x@y" (flags as "[flags|keywords]") */
static char *
run(const char *text, const char *msg, const char *from, const char *to)
{
	char *err = NULL;
	struct sieve_script *s = sieve_compile(text, strlen(text), &err);
	if (s == NULL) {
		char *r = xasprintf("ERROR %s", err);
		free(err);
		return r;
	}
	struct sieve_message m = { msg, strlen(msg), from, to };
	struct sieve_result res;
	struct buf b;
	buf_init(&b, 0);
	if (sieve_execute(s, &m, &res, &err) < 0) {
		buf_printf(&b, "RUNERR %s;", err);
		free(err);
	}
	static const char *const kinds[] = { "keep", "fileinto", "redirect",
	    "reject", "vacation" };
	for (size_t i = 0; i < res.nactions; i++) {
		struct sieve_action *a = &res.actions[i];
		buf_printf(&b, "%s%s", i ? ";" : "", kinds[a->kind]);
		if (a->arg)
			buf_printf(&b, ":%s", a->arg);
		if (a->flags || a->keywords)
			buf_printf(&b, "[%u|%s]", a->flags,
			    a->keywords ? a->keywords : "");
		if (a->kind == SIEVE_ACT_REJECT && a->ereject)
			buf_puts(&b, "(e)");
	}
	if (res.discarded)
		buf_puts(&b, "|discarded");
	if (res.no_autoreply)
		buf_puts(&b, "|noautoreply");
	sieve_result_free(&res);
	sieve_script_free(&s);
	char *out = buf_steal(&b);
	return out ? out : xstrdup("");
}

#define RUN_EQ(text, expect) do { \
	char *got_ = run(text, msg1, "alice@example.org", "bob+lists@example.com"); \
	CHECK_STREQ(got_, expect); \
	free(got_); \
} while (0)

static void
test_errors(void)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "keep", "ERROR 1:5: expected ';' or '{' after keep" },
		{ "\n\n  frobnicate;", "ERROR 3:3: unknown command \"frobnicate\"" },
		{ "require \"fileinto\";\nfileinto \"a\" \"b\";",
		  "ERROR 2:1: fileinto takes 1 positional argument, not 2" },
		{ "fileinto \"x\";", "ERROR 1:1: fileinto needs require \"fileinto\"" },
		{ "require [\"fileinto\", \"foo\"];",
		  "ERROR 1:9: unsupported extension \"foo\"" },
		{ "if true { keep;", "ERROR 1:16: missing '}' at end of script" },
		{ "if header :is \"a\" {}", "ERROR 1:4: header takes 2 positional "
		  "arguments, not 1" },
		{ "keep;\nrequire \"copy\";", "ERROR 2:1: require must come before "
		  "other commands" },
		{ "else { keep; }", "ERROR 1:1: else without if" },
		{ "if size :over 1X { }", "ERROR 1:15: bad number" },
		{ "redirect \"nobody\";", "ERROR 1:10: redirect: bad address \"nobody\"" },
		{ "\"str", "ERROR 1:1: unterminated string" },
		{ "/* open", "ERROR 1:1: unterminated comment" },
		{ "if header :value \"gt\" \"a\" \"b\" {}",
		  "ERROR 1:11: :value needs require \"relational\"" },
		{ "if header :comparator \"i;foo\" \"a\" \"b\" {}",
		  "ERROR 1:23: unknown comparator \"i;foo\"" },
		{ "if address :detail \"to\" \"x\" {}",
		  "ERROR 1:12: :detail needs require \"subaddress\"" },
		{ "keep :flags \"x\";", "ERROR 1:6: :flags needs require \"imap4flags\"" },
		{ "if size 5 {}", "ERROR 1:4: size needs :over or :under" },
		{ "if not { }", "ERROR 1:4: not needs one test" },
		{ "require \"variables\"; set \"1a\" \"x\";",
		  "ERROR 1:26: bad variable name \"1a\"" },
		{ "discard; \x01", "ERROR 1:10: unexpected byte 0x01" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = run(cases[i].text, msg1, "", "");
		CHECK_STREQ(got, cases[i].err);
		free(got);
	}
}

static void
test_limits(void)
{
	struct buf b;
	char *err = NULL;

	/* nesting */
	buf_init(&b, 0);
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "if true {\n");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "}\n");
	struct sieve_script *s = sieve_compile(b.data, b.len, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "nesting deeper than 32") != NULL);
	CHECK(err != NULL && strncmp(err, "33:", 3) == 0);
	if (err != NULL)
		printf("  deep nesting: %s\n", err);
	free(err);
	buf_free(&b);
	/* nested tests */
	buf_init(&b, 0);
	buf_puts(&b, "if ");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "not ");
	buf_puts(&b, "true {}");
	s = sieve_compile(b.data, b.len, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "nesting") != NULL);
	free(err);
	buf_free(&b);
	/* size */
	buf_init(&b, 0);
	while (b.len <= SIEVE_SCRIPT_MAX)
		buf_puts(&b, "# padding padding padding padding padding padding\n");
	s = sieve_compile(b.data, b.len, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "1:1: script larger than") != NULL);
	free(err);
	buf_free(&b);
	/* redirects */
	RUN_EQ("redirect \"a@x.org\"; redirect \"b@x.org\"; redirect \"c@x.org\";"
	    "redirect \"d@x.org\"; redirect \"e@x.org\";",
	    "RUNERR 1:80: too many redirects;keep");
	/* a list too long */
	buf_init(&b, 0);
	buf_puts(&b, "if header :is \"x\" [");
	for (int i = 0; i < 1100; i++)
		buf_printf(&b, "%s\"k\"", i ? "," : "");
	buf_puts(&b, "] {}");
	s = sieve_compile(b.data, b.len, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "more than 1024 strings") != NULL);
	free(err);
	buf_free(&b);
}

static void
test_base(void)
{
	RUN_EQ("", "keep");
	RUN_EQ("discard;", "|discarded");
	RUN_EQ("require \"fileinto\"; if header :contains \"subject\" \"café\" "
	    "{ fileinto \"Cafe\"; }", "fileinto:Cafe");
	RUN_EQ("require \"fileinto\"; if header :contains \"subject\" \"URGENT\" "
	    "{ fileinto \"Urgent\"; stop; } keep;", "fileinto:Urgent");
	RUN_EQ("if header :comparator \"i;octet\" :contains \"subject\" \"URGENT\" "
	    "{ discard; }", "keep");
	RUN_EQ("if address :domain :is \"from\" \"EXAMPLE.org\" { discard; }",
	    "|discarded");
	RUN_EQ("if address :localpart :is [\"to\",\"cc\"] \"carol\" { discard; }",
	    "|discarded");
	RUN_EQ("if address :all :is \"from\" \"alice@example.org\" { discard; }",
	    "|discarded");
	RUN_EQ("if address :matches \"to\" \"*@*.net\" { discard; }", "keep");
	RUN_EQ("if address :matches \"cc\" \"*@*.net\" { discard; }", "|discarded");
	RUN_EQ("if exists [\"x-spam-score\", \"subject\"] { discard; }", "|discarded");
	RUN_EQ("if exists [\"x-spam-score\", \"x-nope\"] { discard; }", "keep");
	RUN_EQ("if size :over 100 { discard; }", "|discarded");
	RUN_EQ("if size :under 1K { discard; }", "|discarded");
	RUN_EQ("if size :over 1M { discard; }", "keep");
	RUN_EQ("if allof (true, false) { discard; } elsif anyof (false, true) "
	    "{ redirect \"z@z.org\"; } else { discard; }", "redirect:z@z.org");
	RUN_EQ("require \"copy\"; if false {} elsif false {} else { redirect :copy \"z@z.org\"; }",
	    "redirect:z@z.org;keep");
	RUN_EQ("if not header :matches \"subject\" \"*meeting*\" { discard; }", "keep");
	RUN_EQ("require \"fileinto\"; fileinto \"A\"; fileinto \"A\"; keep; keep;",
	    "fileinto:A;keep");
	RUN_EQ("# comment\n/* block\n comment */ keep;", "keep");
	RUN_EQ("require \"reject\"; reject text:\nno thanks\n..dot\n.\n;",
	    "reject:no thanks\r\n.dot\r\n");
	RUN_EQ("require \"ereject\"; ereject \"go away\";", "reject:go away(e)");
	RUN_EQ("require [\"reject\", \"fileinto\"]; fileinto \"x\"; reject \"no\";",
	    "RUNERR reject cannot be combined with keep, fileinto, redirect or "
	    "vacation;keep");
	RUN_EQ("if header :is \"subject\" \"\" { discard; }", "keep");
	RUN_EQ("if header :contains \"x-none\" \"\" { discard; }", "keep");
}

static void
test_extensions(void)
{
	/* Postern's own: the mailbox auto responder stays quiet */
	RUN_EQ("require \"vnd.postern.noautoreply\"; noautoreply;",
	    "keep|noautoreply");
	RUN_EQ("require \"vnd.postern.noautoreply\"; if false { noautoreply; }",
	    "keep");
	RUN_EQ("noautoreply;", "ERROR 1:1: noautoreply needs require "
	    "\"vnd.postern.noautoreply\"");
	RUN_EQ("require \"vnd.postern.noautoreply\"; noautoreply \"x\";",
	    "ERROR 1:36: noautoreply takes 0 positional arguments, not 1");
	RUN_EQ("require \"envelope\"; if envelope :is \"from\" \"alice@example.org\" "
	    "{ discard; }", "|discarded");
	RUN_EQ("require [\"envelope\", \"subaddress\", \"fileinto\"]; "
	    "if envelope :detail \"to\" \"lists\" { fileinto \"Lists\"; }",
	    "fileinto:Lists");
	RUN_EQ("require \"subaddress\"; if address :user \"to\" \"bob\" "
	    "{ discard; }", "|discarded");
	RUN_EQ("require \"subaddress\"; if address :detail \"from\" \"\" "
	    "{ discard; }", "keep");
	RUN_EQ("require \"relational\"; if header :value \"ge\" :comparator "
	    "\"i;ascii-numeric\" \"x-spam-score\" \"5\" { discard; }",
	    "ERROR 1:57: comparator \"i;ascii-numeric\" needs require "
	    "\"comparator-i;ascii-numeric\"");
	RUN_EQ("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :value \"ge\" :comparator \"i;ascii-numeric\" "
	    "\"x-spam-score\" \"5\" { discard; }", "|discarded");
	RUN_EQ("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :value \"ge\" :comparator \"i;ascii-numeric\" "
	    "\"x-spam-score\" \"10\" { discard; }", "keep");
	RUN_EQ("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :count \"eq\" :comparator \"i;ascii-numeric\" "
	    "\"received\" \"2\" { discard; }", "|discarded");
	RUN_EQ("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if address :count \"ge\" :comparator \"i;ascii-numeric\" "
	    "[\"to\", \"cc\"] \"3\" { discard; }", "|discarded");
	RUN_EQ("require \"body\"; if body :contains \"quarterly REPORT\" "
	    "{ discard; }", "|discarded");
	RUN_EQ("require \"body\"; if body :raw :contains \"Hello\" { discard; }",
	    "|discarded");
	RUN_EQ("require \"copy\"; require \"fileinto\"; fileinto :copy \"C\";",
	    "fileinto:C;keep");
	RUN_EQ("require \"imap4flags\"; addflag \"\\\\Seen\"; addflag "
	    "[\"$Work\", \"\\\\flagged\"]; keep;", "keep[5|$Work]");
	RUN_EQ("require [\"imap4flags\", \"fileinto\"]; setflag \"\\\\Seen x\"; "
	    "removeflag \"\\\\seen\"; fileinto :flags \"\\\\Draft\" \"D\";",
	    "fileinto:D[16|]");
	RUN_EQ("require [\"imap4flags\"]; setflag \"a\"; if hasflag :is \"A\" "
	    "{ discard; }", "|discarded");
	RUN_EQ("require [\"variables\", \"fileinto\"]; if header :matches "
	    "\"subject\" \"* meeting [*]\" { set :upperfirst \"tag\" \"${2}\"; "
	    "fileinto \"Tags.${tag}\"; }", "fileinto:Tags.Urgent");
	RUN_EQ("require [\"variables\", \"envelope\", \"fileinto\", \"subaddress\"]; "
	    "if envelope :matches :detail \"to\" \"*\" { set :lower \"d\" \"${1}\"; }"
	    " fileinto \"L.${d}.${unknown}\";", "fileinto:L.lists.");
	RUN_EQ("require \"variables\"; set \"a\" \"x\"; set :length \"n\" \"${a}yz\"; "
	    "if string :is \"${n}\" \"3\" { discard; }", "|discarded");
	RUN_EQ("require \"variables\"; set :quotewildcard \"q\" \"a*b\"; "
	    "if string :matches \"a*b\" \"${q}\" { discard; }", "|discarded");
	RUN_EQ("require \"variables\"; set :quotewildcard \"q\" \"a*b\"; "
	    "if string :matches \"axxb\" \"${q}\" { discard; }", "keep");
	RUN_EQ("require \"vacation\"; vacation :days 3 :subject \"Away\" "
	    ":addresses [\"bob@example.com\"] \"I am away\";",
	    "vacation:I am away;keep");
	RUN_EQ("require \"vacation\"; vacation :handle \"h\" :from "
	    "\"nobody\" \"x\";", "ERROR 1:48: :from needs an address");
	/* :from and :subject become header fields: no line breaks */
	RUN_EQ("require \"vacation\"; vacation :from \"a@example.com\r\n"
	    "Bcc: x@example.net\" \"x\";", "ERROR 1:36: :from: no control "
	    "characters (line breaks) in a header field");
	RUN_EQ("require \"vacation\"; vacation :subject \"Away\nX: y\" \"x\";",
	    "ERROR 1:39: :subject: no control characters (line breaks) in a "
	    "header field");
	RUN_EQ("require \"vacation\"; vacation :subject \"Away\tnow\" \"x\";",
	    "vacation:x;keep");
	char *got = run("require \"body\"; if body :content \"text/html\" "
	    ":contains \"secret\" { discard; }", msg2, "", "");
	CHECK_STREQ(got, "|discarded");
	free(got);
	got = run("require \"body\"; if body :text :contains \"invoice\" "
	    "{ discard; }", msg2, "", "");
	CHECK_STREQ(got, "keep");
	free(got);
	got = run("require \"body\"; if body :content \"application\" "
	    ":contains \"invoice\" { discard; }", msg2, "", "");
	CHECK_STREQ(got, "|discarded");
	free(got);
}

static void
test_matches(void)
{
	RUN_EQ("if header :matches \"subject\" \"*\" { discard; }", "|discarded");
	RUN_EQ("if header :matches \"subject\" \"Caf? *\" { discard; }", "keep");
	RUN_EQ("if header :matches \"subject\" \"Caf?? *\" { discard; }",
	    "|discarded");   /* é is two bytes: octets, not characters */
	RUN_EQ("if header :matches \"subject\" \"*\\\\[urgent\\\\]\" { discard; }",
	    "|discarded");
	RUN_EQ("if header :matches \"x-spam-score\" \"?\" { discard; }",
	    "|discarded");
	/* a pattern that would be exponential with naive backtracking */
	static char text[4096], subj[8192];
	strcpy(text, "if header :matches \"subject\" \"");
	for (int i = 0; i < 200; i++)
		strcat(text, "*a");
	strcat(text, "b\" { discard; }");
	strcpy(subj, "Subject: ");
	for (int i = 0; i < 4000; i++)
		strcat(subj, "a");
	strcat(subj, "\r\n\r\nx\r\n");
	clock_t t0 = clock();
	char *got = run(text, subj, "", "");
	CHECK_STREQ(got, "keep");
	free(got);
	CHECK((clock() - t0) / CLOCKS_PER_SEC < 5);
}

static void
test_work_limit(void)
{
	/* :matches "*aaa...ab" (200 KB) over a 1 MB body of a: each step of
	 * the star compares the whole tail, 10^11 steps: cut off, kept */
	struct buf sc, msg;
	buf_init(&sc, 0);
	buf_init(&msg, 0);
	buf_puts(&sc, "require \"body\"; if body :raw :matches \"");
	buf_putc(&sc, '*');
	for (int i = 0; i < 200000; i++)
		buf_putc(&sc, 'a');
	buf_puts(&sc, "b\" { discard; }");
	buf_puts(&msg, "Subject: x\r\n\r\n");
	for (int i = 0; i < 1000000; i++)
		buf_putc(&msg, 'a');
	buf_putc(&msg, '\0');
	buf_putc(&sc, '\0');
	clock_t t0 = clock();
	char *got = run(sc.data, msg.data, "", "");
	CHECK_STREQ(got, "RUNERR 1:20: script runs too long (matching);keep");
	free(got);
	printf("  work limit reached in %.2f s\n",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);
	buf_free(&sc);
	buf_free(&msg);
}

static void
test_fuzz_regressions(void)
{
	static const char *const inputs[] = {
		"text:", "text:\n", "text:\nabc", "if", "if (", "[", "require [",
		"require [\"a\",", "x :", ":a", "if true", "9999999999999999999999",
		"require \"variables\"; set \"a\" \"${\";", "\"\\",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char *got = run(inputs[i], msg1, "", "");
		CHECK(got != NULL);
		free(got);
	}
}

static void
test_flags_parse(void)
{
	unsigned f;
	char *kw;
	sieve_flags_parse("\\Seen \\answered $Label1 bad\"kw \\Custom", &f, &kw);
	CHECK_INTEQ(f, 0x03);
	CHECK_STREQ(kw, "$Label1");
	free(kw);
}

static void
test_speed(void)
{
	/* re-parse at each delivery or cache? a 100-rule script */
	struct buf b;
	char *err = NULL;
	buf_init(&b, 0);
	buf_puts(&b, "require [\"fileinto\", \"variables\", \"body\"];\n");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "if header :contains \"subject\" \"word%d\" "
		    "{ fileinto \"F%d\"; stop; }\n", i, i);
	clock_t t0 = clock();
	for (int k = 0; k < 100; k++) {
		struct sieve_script *s = sieve_compile(b.data, b.len, &err);
		CHECK(s != NULL);
		sieve_script_free(&s);
	}
	double ms = (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC / 100;
	printf("  compile of a 100-rule script (%zu bytes): %.3f ms\n", b.len, ms);
	buf_free(&b);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_errors),
		TEST(test_limits),
		TEST(test_base),
		TEST(test_extensions),
		TEST(test_matches),
		TEST(test_work_limit),
		TEST(test_fuzz_regressions),
		TEST(test_flags_parse),
		TEST(test_speed),
		{ 0 },
	};
	return test_run(tests);
}
