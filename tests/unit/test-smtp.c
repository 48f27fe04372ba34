/* test-smtp - lib-smtp: line reader, commands, paths, parameters, xtext,
 * base64/PLAIN, replies, and the DATA reader fed one byte at a time */
#include <stdlib.h>
#include <string.h>

#include "smtp-data.h"
#include "smtp-parser.h"
#include "test.h"

/* feed_lines - feed input one byte at a time; collect each result */
static int
feed_lines(const char *in, size_t len, size_t max, char out[][600],
	   int *results, int nmax)
{
	struct smtp_line_reader r;
	int n = 0;

	smtp_line_init(&r, max);
	for (size_t i = 0; i < len && n < nmax; i++) {
		size_t used;
		enum smtp_line_result res = smtp_line_feed(&r, in + i, 1, &used);
		CHECK_INTEQ(used, 1);
		if (res == SMTP_LINE_MORE)
			continue;
		results[n] = res;
		snprintf(out[n], 600, "%s", res == SMTP_LINE_OK ? r.line.data : "");
		buf_reset(&r.line);
		n++;
	}
	smtp_line_free(&r);
	return n;
}

static void
test_line_reader(void)
{
	char out[8][600];
	int res[8];
	const char in[] = "EHLO a\r\nNOOP\nMAIL\0x\r\nRSET\r\n";
	int n = feed_lines(in, sizeof(in) - 1, 512, out, res, 8);

	CHECK_INTEQ(n, 4);
	CHECK_INTEQ(res[0], SMTP_LINE_OK);
	CHECK_STREQ(out[0], "EHLO a");
	CHECK_INTEQ(res[1], SMTP_LINE_BARE_LF);
	CHECK_INTEQ(res[2], SMTP_LINE_NUL);
	CHECK_INTEQ(res[3], SMTP_LINE_OK);
	CHECK_STREQ(out[3], "RSET");

	/* 510 bytes + CRLF = 512 fits, 511 + CRLF does not */
	char big[1200];
	memset(big, 'a', 510);
	memcpy(big + 510, "\r\n", 2);
	memset(big + 512, 'b', 511);
	memcpy(big + 1023, "\r\nQUIT\r\n", 8);
	n = feed_lines(big, 1031, 512, out, res, 8);
	CHECK_INTEQ(n, 3);
	CHECK_INTEQ(res[0], SMTP_LINE_OK);
	CHECK_INTEQ(strlen(out[0]), 510);
	CHECK_INTEQ(res[1], SMTP_LINE_TOO_LONG);
	CHECK_INTEQ(res[2], SMTP_LINE_OK);
	CHECK_STREQ(out[2], "QUIT");

	/* several lines in one chunk: one at a time */
	struct smtp_line_reader r;
	size_t used;
	smtp_line_init(&r, 512);
	CHECK_INTEQ(smtp_line_feed(&r, "A\r\nB\r\n", 6, &used), SMTP_LINE_OK);
	CHECK_INTEQ(used, 3);
	CHECK_STREQ(r.line.data, "A");
	smtp_line_free(&r);
}

static void
test_command(void)
{
	struct smtp_command c;
	const char *err;
	int code;

	CHECK_INTEQ(smtp_command_parse("ehlo x.test", 11, &c, &code, &err), 0);
	CHECK_INTEQ(c.verb, SMTP_CMD_EHLO);
	CHECK_STREQ(c.args, "x.test");
	CHECK_INTEQ(smtp_command_parse("MAIL FROM:<a@b>", 15, &c, &code, &err), 0);
	CHECK_STREQ(c.args, "<a@b>");
	CHECK_INTEQ(smtp_command_parse("rcpt to: <a@b>", 14, &c, &code, &err), 0);
	CHECK_STREQ(c.args, "<a@b>");
	CHECK_INTEQ(smtp_command_parse("MAIL <a@b>", 10, &c, &code, &err), -1);
	CHECK_INTEQ(code, 501);
	CHECK_INTEQ(smtp_command_parse("FOO bar", 7, &c, &code, &err), 0);
	CHECK_INTEQ(c.verb, SMTP_CMD_UNKNOWN);
	CHECK_INTEQ(smtp_command_parse("NO\xc3\xa9P", 6, &c, &code, &err), -1);
	/* NOOP line of 600 is too long; a RCPT of 600 is fine */
	char line[700];
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	CHECK_INTEQ(smtp_command_parse(line, 600, &c, &code, &err), -1);
	CHECK_INTEQ(code, 500);
	memcpy(line, "RCPT TO:<a@b> ", 14);
	line[600] = '\0';
	CHECK_INTEQ(smtp_command_parse(line, 600, &c, &code, &err), 0);
}

static void
test_path(void)
{
	struct smtp_path p;
	const char *rest, *err;

	CHECK_INTEQ(smtp_path_parse("<alice@Acme.TEST> SIZE=10", false, false, &p,
	    &rest, &err), 0);
	CHECK_STREQ(p.address, "alice@Acme.TEST");
	CHECK_STREQ(p.domain, "acme.test");
	CHECK_STREQ(rest, " SIZE=10");
	CHECK_INTEQ(smtp_path_parse("<>", true, false, &p, &rest, &err), 0);
	CHECK(p.null);
	CHECK_INTEQ(smtp_path_parse("<>", false, false, &p, &rest, &err), -1);
	CHECK_INTEQ(smtp_path_parse("<@r1.test,@r2.test:bob@x.test>", false,
	    false, &p, &rest, &err), 0);
	CHECK_STREQ(p.address, "bob@x.test");
	CHECK_INTEQ(smtp_path_parse("<\"john doe\\\"x\"@x.test>", false, false,
	    &p, &rest, &err), 0);
	CHECK(p.quoted);
	CHECK_STREQ(p.address, "\"john doe\\\"x\"@x.test");
	CHECK_INTEQ(smtp_path_parse("<j\xc3\xbcrgen@m\xc3\xbcnchen.test>", false,
	    false, &p, &rest, &err), 0);
	CHECK(p.utf8);
	CHECK_INTEQ(smtp_path_parse("<j\xc3rgen@x.test>", false, false, &p,
	    &rest, &err), -1);
	CHECK_INTEQ(smtp_path_parse("<a@[127.0.0.1]>", false, false, &p, &rest,
	    &err), 0);
	CHECK(p.literal);
	CHECK_INTEQ(smtp_path_parse("<Postmaster>", false, true, &p, &rest,
	    &err), 0);
	CHECK_STREQ(p.address, "Postmaster");
	CHECK_INTEQ(smtp_path_parse("<Postmaster>", false, false, &p, &rest,
	    &err), -1);
	static const char *const bad[] = { "a@b", "<a@b", "<a..b@c>", "<.a@c>",
	    "<a.@c>", "<a@-b>", "<a@b->", "<a@b..c>", "<a b@c>", "<@x:>",
	    "<\"a\x01\"@b>", "<a@>", "<@a>", "<abc", "<\"ab", "<a@b.c", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK_INTEQ(smtp_path_parse(bad[i], true, true, &p, &rest, &err), -1);
	char longlocal[100];
	snprintf(longlocal, sizeof(longlocal), "<%065d@x.test>", 0);
	CHECK_INTEQ(smtp_path_parse(longlocal, false, false, &p, &rest, &err), -1);
}

static void
test_params(void)
{
	struct smtp_params p;
	const char *err;

	CHECK_INTEQ(smtp_params_parse(" SIZE=1000 BODY=8bitmime SMTPUTF8 RET=hdrs"
	    " ENVID=QQ+2B1 AUTH=<>", SMTP_PARAMS_MAIL, &p, &err), SMTP_PARAMS_OK);
	CHECK(p.has_size);
	CHECK_INTEQ(p.size, 1000);
	CHECK_INTEQ(p.body, SMTP_BODY_8BITMIME);
	CHECK(p.smtputf8);
	CHECK_STREQ(p.ret, "HDRS");
	CHECK_STREQ(p.envid, "QQ+2B1");
	CHECK_STREQ(p.auth, "<>");
	CHECK_INTEQ(smtp_params_parse("", SMTP_PARAMS_MAIL, &p, &err),
	    SMTP_PARAMS_OK);
	CHECK_INTEQ(smtp_params_parse(" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b",
	    SMTP_PARAMS_RCPT, &p, &err), SMTP_PARAMS_OK);
	CHECK_INTEQ(p.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	CHECK_STREQ(p.orcpt, "rfc822;a+40b");
	CHECK_INTEQ(smtp_params_parse(" NOTIFY=NEVER,DELAY", SMTP_PARAMS_RCPT, &p,
	    &err), SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse(" SIZE=10", SMTP_PARAMS_RCPT, &p, &err),
	    SMTP_PARAMS_UNKNOWN);
	CHECK_INTEQ(smtp_params_parse(" FOO=1", SMTP_PARAMS_MAIL, &p, &err),
	    SMTP_PARAMS_UNKNOWN);
	CHECK_INTEQ(smtp_params_parse(" SIZE=1 SIZE=2", SMTP_PARAMS_MAIL, &p, &err),
	    SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse(" SIZE=x", SMTP_PARAMS_MAIL, &p, &err),
	    SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse(" SIZE=99999999999999999999999", SMTP_PARAMS_MAIL,
	    &p, &err), SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse(" ENVID=a+2", SMTP_PARAMS_MAIL, &p, &err),
	    SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse(" ORCPT=rfc822", SMTP_PARAMS_RCPT, &p, &err),
	    SMTP_PARAMS_INVALID);
	CHECK_INTEQ(smtp_params_parse("X", SMTP_PARAMS_RCPT, &p, &err),
	    SMTP_PARAMS_INVALID);
}

static void
test_xtext_base64(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INTEQ(smtp_xtext_decode("a+2Bb+3D", 8, &b), 0);
	CHECK_STREQ(b.data, "a+b=");
	buf_reset(&b);
	CHECK_INTEQ(smtp_xtext_decode("a+2b", 4, &b), -1);
	CHECK_INTEQ(smtp_xtext_decode("a+2", 3, &b), -1);
	buf_reset(&b);
	smtp_xtext_encode("a b+=\xff", 6, &b);
	CHECK_STREQ(b.data, "a+20b+2B+3D+FF");
	buf_reset(&b);
	CHECK_INTEQ(smtp_base64_decode("AGFsaWNlAHB3", 12, &b), 0);
	CHECK_INTEQ(b.len, 9);
	const char *z, *c, *pw;
	CHECK_INTEQ(smtp_sasl_plain(b.data, b.len, &z, &c, &pw), 0);
	CHECK_STREQ(z, "");
	CHECK_STREQ(c, "alice");
	CHECK_STREQ(pw, "pw");
	buf_reset(&b);
	/* "\0alice\0pw\0x": a NUL in the password, never "pw" */
	CHECK_INTEQ(smtp_base64_decode("AGFsaWNlAHB3AHg=", 16, &b), 0);
	CHECK_INTEQ(smtp_sasl_plain(b.data, b.len, &z, &c, &pw), SMTP_SASL_NUL);
	buf_reset(&b);
	CHECK_INTEQ(smtp_base64_decode("YQ==", 4, &b), 0);
	CHECK_STREQ(b.data, "a");
	buf_reset(&b);
	CHECK_INTEQ(smtp_base64_decode("YQ=a", 4, &b), -1);
	CHECK_INTEQ(smtp_base64_decode("YQ", 2, &b), -1);
	CHECK_INTEQ(smtp_base64_decode("Y*==", 4, &b), -1);
	buf_reset(&b);
	smtp_base64_encode("alice", 5, &b);
	CHECK_STREQ(b.data, "YWxpY2U=");
	buf_free(&b);

	uint64_t n;
	bool last;
	const char *err;
	CHECK_INTEQ(smtp_bdat_parse("100 LAST", &n, &last, &err), 0);
	CHECK_INTEQ(n, 100);
	CHECK(last);
	CHECK_INTEQ(smtp_bdat_parse("0", &n, &last, &err), 0);
	CHECK(!last);
	CHECK_INTEQ(smtp_bdat_parse("x", &n, &last, &err), -1);
	CHECK_INTEQ(smtp_bdat_parse("1 FIRST", &n, &last, &err), -1);
	CHECK_INTEQ(smtp_bdat_parse("99999999999999999999999", &n, &last, &err), -1);

	buf_init(&b, 0);
	smtp_reply(&b, 250, "2.0.0", "a\nb");
	CHECK_STREQ(b.data, "250-2.0.0 a\r\n250 2.0.0 b\r\n");
	buf_reset(&b);
	smtp_reply(&b, 500, NULL, "x\ry");
	CHECK_STREQ(b.data, "500 x?y\r\n");
	buf_free(&b);
}

/* data_run - feed a DATA stream one byte at a time; return consumed bytes
 * at the end of data (or -1 if it never ended) */
static long
data_run(const char *in, size_t len, struct buf *out, unsigned *flags_r,
	 uint64_t max)
{
	struct smtp_data d;
	long end = -1;

	smtp_data_init(&d, max);
	for (size_t i = 0; i < len; i++) {
		size_t used;
		int r = smtp_data_feed(&d, in + i, 1, &used, out);
		CHECK_INTEQ(used, 1);
		if (r == 1) {
			end = (long)i + 1;
			break;
		}
	}
	*flags_r = d.flags;
	/* the same input in one chunk gives the same result */
	struct smtp_data d2;
	struct buf out2;
	size_t used = 0;
	buf_init(&out2, 0);
	smtp_data_init(&d2, max);
	int r = smtp_data_feed(&d2, in, len, &used, &out2);
	CHECK_INTEQ(r, end >= 0 ? 1 : 0);
	if (end >= 0)
		CHECK_INTEQ(used, end);
	CHECK_INTEQ(d2.flags, d.flags);
	if (smtp_data_errors(&d) == 0)
		CHECK_INTEQ(out2.len, out->len);
	CHECK(out->len == 0 || smtp_data_errors(&d) != 0 || memcmp(out2.data, out->data, out->len) == 0);
	buf_free(&out2);
	return end;
}

static void
test_data(void)
{
	struct buf out;
	unsigned f;
	const char *in;

	buf_init(&out, 0);
	in = "Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
	CHECK_INTEQ(data_run(in, strlen(in), &out, &f, 0), 24);
	CHECK_STREQ(out.data, "Subject: x\r\n\r\n.dot\r\n");
	CHECK_INTEQ(f, 0);

	buf_reset(&out);
	CHECK_INTEQ(data_run(".\r\n", 3, &out, &f, 0), 3);
	CHECK_INTEQ(out.len, 0);

	/* smuggling shapes: none of these end the data */
	static const char *const smuggle[] = {
		"a\n.\nMAIL FROM:<x@y>\r\n",
		"a\n.\r\nMAIL FROM:<x@y>\r\n",
		"a\r.\r\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\rMAIL FROM:<x@y>\r\n",
		"a\r\r\n.\r\r\nMAIL\r\n",
		NULL
	};
	for (int i = 0; smuggle[i]; i++) {
		buf_reset(&out);
		CHECK_INTEQ(data_run(smuggle[i], strlen(smuggle[i]), &out, &f, 0), -1);
		CHECK(smtp_data_errors(&(struct smtp_data){ .flags = f }) != 0);
	}
	/* ...and the real end after them is found, the message flagged */
	buf_reset(&out);
	in = "a\n.\nb\r\n.\r\n";
	CHECK_INTEQ(data_run(in, strlen(in), &out, &f, 0), (long)strlen(in));
	CHECK(f & SMTP_DATA_BARE_LF);
	buf_reset(&out);
	in = "a\rb\r\n.\r\n";
	CHECK_INTEQ(data_run(in, strlen(in), &out, &f, 0), (long)strlen(in));
	CHECK(f & SMTP_DATA_BARE_CR);
	CHECK(!(f & SMTP_DATA_BARE_LF));

	/* line limit: 998 + CRLF ok, 999 + CRLF flagged, reading goes on */
	char *big = malloc(3000);
	memset(big, 'x', 998);
	memcpy(big + 998, "\r\n.\r\n", 5);
	buf_reset(&out);
	CHECK_INTEQ(data_run(big, 1003, &out, &f, 0), 1003);
	CHECK_INTEQ(f, 0);
	memset(big, 'x', 999);
	memcpy(big + 999, "\r\n.\r\n", 5);
	buf_reset(&out);
	CHECK_INTEQ(data_run(big, 1004, &out, &f, 0), 1004);
	CHECK(f & SMTP_DATA_LONG_LINE);
	free(big);

	/* size limit */
	buf_reset(&out);
	in = "0123456789\r\n.\r\n";
	CHECK_INTEQ(data_run(in, strlen(in), &out, &f, 10), (long)strlen(in));
	CHECK(f & SMTP_DATA_TOO_BIG);
	buf_reset(&out);
	CHECK_INTEQ(data_run(in, strlen(in), &out, &f, 12), (long)strlen(in));
	CHECK_INTEQ(f, 0);
	buf_free(&out);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_line_reader),
		TEST(test_command),
		TEST(test_path),
		TEST(test_params),
		TEST(test_xtext_base64),
		TEST(test_data),
		{ 0 },
	};
	return test_run(tests);
}
