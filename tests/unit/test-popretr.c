/* test-popretr - the POP3 client reply parser (src/popretr/pop3reply.c) */
#include <stdlib.h>
#include <string.h>

#include "pop3reply.h"
#include "test.h"

/* feed_bytes - one byte at a time: 0 until the reply ends; returns the
 * result and the bytes used in total */
static int
feed_bytes(struct pop3_reply *p, const char *s, size_t len, size_t *total)
{
	const char *err;
	*total = 0;
	for (size_t i = 0; i < len; i++) {
		size_t used;
		int r = pop3_reply_feed(p, s + i, 1, &used, &err);
		*total += used;
		if (r != 0)
			return r;
	}
	return 0;
}

static void
test_status_bytewise(void)
{
	struct pop3_reply p;
	size_t used;
	const char *s = "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n-ERR next";

	pop3_reply_init(&p, 1024);
	pop3_reply_start(&p, false);
	/* 0 until the LF, then 1 with exactly the line used */
	CHECK_INTEQ(feed_bytes(&p, s, strlen(s), &used), 1);
	CHECK_INTEQ(used, strstr(s, "-ERR") - s);
	CHECK(p.ok);
	CHECK_STREQ(p.text.data, "POP3 ready <1896.697170952@dbc.mtview.ca.us>");
	char stamp[100];
	CHECK(pop3_apop_stamp(p.text.data, stamp, sizeof(stamp)) == 0);
	CHECK_STREQ(stamp, "<1896.697170952@dbc.mtview.ca.us>");
	CHECK(pop3_apop_stamp("no stamp", stamp, sizeof(stamp)) < 0);
	/* -ERR ends a multi-line command at once */
	pop3_reply_start(&p, true);
	CHECK_INTEQ(feed_bytes(&p, "-ERR no such message\r\n", 22, &used), 1);
	CHECK(!p.ok);
	CHECK_STREQ(p.text.data, "no such message");
	pop3_reply_start(&p, false);
	CHECK_INTEQ(feed_bytes(&p, "+OK\n", 4, &used), 1);
	CHECK(p.ok && p.text.len == 0);
	pop3_reply_deinit(&p);
}

static void
test_multiline_bytewise(void)
{
	struct pop3_reply p;
	size_t used;
	const char *s = "+OK 120 octets\r\nSubject: x\r\n\r\n..dot line\r\n"
	    ".\r\nnext\r\n";
	pop3_reply_init(&p, 1024);
	pop3_reply_start(&p, true);
	CHECK_INTEQ(feed_bytes(&p, s, strlen(s), &used), 1);
	CHECK_INTEQ(used, strstr(s, "next") - s);
	CHECK_STREQ(p.data.data, "Subject: x\r\n\r\n.dot line\r\n");
	/* bare LF lines become CRLF; a whole reply in one piece */
	const char *err;
	pop3_reply_start(&p, true);
	const char *lf = "+OK\n1 abc\n2 def\n.\n";
	CHECK_INTEQ(pop3_reply_feed(&p, lf, strlen(lf), &used, &err), 1);
	CHECK_INTEQ(used, strlen(lf));
	CHECK_STREQ(p.data.data, "1 abc\r\n2 def\r\n");
	pop3_reply_deinit(&p);
}

static void
test_limits_and_errors(void)
{
	struct pop3_reply p;
	size_t used;
	const char *err;
	pop3_reply_init(&p, 16);
	pop3_reply_start(&p, false);
	CHECK(pop3_reply_feed(&p, "HELLO\r\n", 7, &used, &err) < 0);
	pop3_reply_start(&p, false);
	CHECK(pop3_reply_feed(&p, "+OKAY\r\n", 7, &used, &err) < 0);
	/* a status line past the limit fails before its end */
	char *big = malloc(POP3_STATUS_MAX + 10);
	memset(big, 'a', POP3_STATUS_MAX + 10);
	memcpy(big, "+OK ", 4);
	pop3_reply_start(&p, false);
	CHECK(pop3_reply_feed(&p, big, POP3_STATUS_MAX + 10, &used, &err) < 0);
	free(big);
	/* data past data_max */
	pop3_reply_start(&p, true);
	const char *s = "+OK\r\n0123456789\r\n0123456789\r\n.\r\n";
	CHECK(pop3_reply_feed(&p, s, strlen(s), &used, &err) < 0);
	CHECK_STREQ(err, "multi-line answer too large");
	/* feeding after the end is an error, not a crash */
	pop3_reply_start(&p, false);
	CHECK_INTEQ(pop3_reply_feed(&p, "+OK\r\n", 5, &used, &err), 1);
	CHECK(pop3_reply_feed(&p, "+OK\r\n", 5, &used, &err) < 0);
	pop3_reply_deinit(&p);
}

static void
test_uidl_line(void)
{
	unsigned long n;
	char uid[72];
	CHECK(pop3_uidl_line("1 whqtswO00WBw418f9t5JxYwZ", 26, &n, uid, sizeof(uid)) == 0);
	CHECK_INTEQ(n, 1);
	CHECK_STREQ(uid, "whqtswO00WBw418f9t5JxYwZ");
	CHECK(pop3_uidl_line("12  abc ", 8, &n, uid, sizeof(uid)) == 0);
	CHECK_INTEQ(n, 12);
	CHECK(pop3_uidl_line("0 abc", 5, &n, uid, sizeof(uid)) < 0);
	CHECK(pop3_uidl_line("x abc", 5, &n, uid, sizeof(uid)) < 0);
	CHECK(pop3_uidl_line("1 ab c", 6, &n, uid, sizeof(uid)) < 0);
	CHECK(pop3_uidl_line("1", 1, &n, uid, sizeof(uid)) < 0);
	char l[100];
	memset(l, 'u', sizeof(l));
	l[0] = '1';
	l[1] = ' ';
	CHECK(pop3_uidl_line(l, 2 + 71, &n, uid, sizeof(uid)) < 0);
	CHECK(pop3_uidl_line(l, 2 + 70, &n, uid, sizeof(uid)) == 0);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_status_bytewise),
		TEST(test_multiline_bytewise),
		TEST(test_limits_and_errors),
		TEST(test_uidl_line),
		{ NULL, NULL },
	};
	return test_run(tests);
}
