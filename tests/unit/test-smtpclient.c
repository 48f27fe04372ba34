/* test-smtpclient - the SMTP client's reply parser and EHLO scan */
#include <stdlib.h>
#include <string.h>

#include "smtp-reply.h"
#include "test.h"

/* parse_all - feed s in pieces of step bytes; the replies' summaries */
static int parse_all(const char *s, size_t step, char out[][128], int max)
{
	struct smtp_reply_parser p;
	size_t len = strlen(s), pos = 0;
	int n = 0;

	smtp_reply_parser_init(&p);
	while (pos < len && n < max) {
		size_t chunk = len - pos < step ? len - pos : step, used;
		const char *err = NULL;
		int r = smtp_reply_parse(&p, s + pos, chunk, &used, &err);

		pos += used;
		if (r < 0) {
			snprintf(out[n++], 128, "ERR %s", err);
			break;
		}
		if (r == 1) {
			smtp_reply_summary(&p.reply, out[n], 128);
			if (p.reply.enhanced[0] != '\0') {
				size_t l = strlen(out[n]);
				snprintf(out[n] + l, 128 - l, " [%s]", p.reply.enhanced);
			}
			n++;
		}
	}
	smtp_reply_parser_free(&p);
	return n;
}

static void test_replies_bytewise(void)
{
	const char *in = "220 mx.example ESMTP\r\n"
			 "250-mx.example\r\n250-SIZE 100\r\n250 DSN\r\n"
			 "550 5.1.1 no such user\r\n"
			 "451-4.7.1 one\n451 4.7.1 two\r\n"
			 "354 go ahead\r\n";
	char out[8][128];

	/* one byte at a time, then in bigger pieces: same result */
	for (size_t step = 1; step <= 64; step *= 4) {
		int n = parse_all(in, step, out, 8);

		CHECK_INTEQ(n, 5);
		CHECK_STREQ(out[0], "220 mx.example ESMTP");
		CHECK_STREQ(out[1], "250 mx.example");
		CHECK_STREQ(out[2], "550 5.1.1 no such user [5.1.1]");
		CHECK_STREQ(out[3], "451 4.7.1 one [4.7.1]");
		CHECK_STREQ(out[4], "354 go ahead");
	}
}

static void test_need_more(void)
{
	struct smtp_reply_parser p;
	size_t used;
	const char *err;

	smtp_reply_parser_init(&p);
	CHECK_INTEQ(smtp_reply_parse(&p, "250-a\r\n250", 10, &used, &err), 0);
	CHECK_INTEQ(used, 10);
	CHECK_INTEQ(smtp_reply_parse(&p, " b\r", 3, &used, &err), 0);
	/* a reply ends at its last line: what follows is not consumed */
	CHECK_INTEQ(smtp_reply_parse(&p, "\n220 x\r\n", 8, &used, &err), 1);
	CHECK_INTEQ(used, 1);
	CHECK_INTEQ(p.reply.code, 250);
	CHECK_INTEQ(p.reply.nlines, 2);
	CHECK_STREQ(p.reply.text.data, "a\nb");
	smtp_reply_parser_free(&p);
}

static void test_malformed(void)
{
	char out[4][128];
	char *big;

	CHECK_INTEQ(parse_all("2x0 bad\r\n", 1, out, 4), 1);
	CHECK(strncmp(out[0], "ERR", 3) == 0);
	CHECK_INTEQ(parse_all("250-a\r\n251 b\r\n", 3, out, 4), 1);
	CHECK(strncmp(out[0], "ERR", 3) == 0);
	CHECK_INTEQ(parse_all("250_x\r\n", 1, out, 4), 1);
	CHECK(strncmp(out[0], "ERR", 3) == 0);
	CHECK_INTEQ(parse_all("150 no\r\n", 1, out, 4), 1);
	CHECK(strncmp(out[0], "ERR", 3) == 0);
	/* an over-long line is an error, not unbounded memory */
	big = malloc(SMTP_REPLY_LINE_MAX + 100);
	memset(big, 'a', SMTP_REPLY_LINE_MAX + 99);
	memcpy(big, "250 ", 4);
	big[SMTP_REPLY_LINE_MAX + 99] = '\0';
	CHECK_INTEQ(parse_all(big, 1000, out, 4), 1);
	CHECK_STREQ(out[0], "ERR reply line too long");
	free(big);
	/* bad enhanced codes are ignored, the reply stands */
	CHECK_INTEQ(parse_all("550 4.1.1 wrong class\r\n", 1, out, 4), 1);
	CHECK_STREQ(out[0], "550 4.1.1 wrong class");
	/* control bytes never reach logs */
	CHECK_INTEQ(parse_all("250 a\x1b[31mb\r\n", 1, out, 4), 1);
	CHECK_STREQ(out[0], "250 a?[31mb");
}

static void test_ehlo_ext(void)
{
	struct smtp_reply_parser p;
	struct smtp_ext e;
	size_t used;
	const char *err, *s = "250-mx.example hello\r\n250-pipelining\r\n"
		"250-SIZE 10240000\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
		"250-AUTH LOGIN PLAIN\r\n250-SMTPUTF8\r\n250 DSN\r\n";

	smtp_reply_parser_init(&p);
	CHECK_INTEQ(smtp_reply_parse(&p, s, strlen(s), &used, &err), 1);
	smtp_ext_parse(&p.reply, &e);
	CHECK(e.pipelining && e.eightbit && e.starttls && e.smtputf8 && e.dsn);
	CHECK(e.auth_plain && e.auth_login && e.size_given);
	CHECK_INTEQ(e.size, 10240000);
	s = "250 mx.example\r\n";
	CHECK_INTEQ(smtp_reply_parse(&p, s, strlen(s), &used, &err), 1);
	smtp_ext_parse(&p.reply, &e);
	CHECK(!e.pipelining && !e.starttls && !e.dsn && !e.size_given);
	/* the greeting line's text is not an extension */
	s = "250-STARTTLS\r\n250 SIZE\r\n";
	CHECK_INTEQ(smtp_reply_parse(&p, s, strlen(s), &used, &err), 1);
	smtp_ext_parse(&p.reply, &e);
	CHECK(!e.starttls && e.size_given && e.size == 0);
	smtp_reply_parser_free(&p);
}

int main(void)
{
	static const struct test tests[] = {
		TEST(test_replies_bytewise),
		TEST(test_need_more),
		TEST(test_malformed),
		TEST(test_ehlo_ext),
		{ NULL, NULL },
	};
	return test_run(tests);
}
