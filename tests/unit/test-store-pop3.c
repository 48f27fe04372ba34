/* test-store-pop3 - POP3 line reader, command parser, SASL PLAIN, wire form */
#include <stdlib.h>
#include <string.h>

#include "pop3-parse.h"
#include "test.h"
#include "xalloc.h"

static void
test_reader_bytewise(void)
{
	const char *in = "USER alice@acme\r\nPASS a b\nSTAT\r\n";
	struct pop3_reader r;
	const char *lines[3] = { "USER alice@acme", "PASS a b", "STAT" };
	size_t got = 0, used;

	pop3_reader_init(&r);
	for (size_t i = 0; in[i] != '\0'; i++) {
		enum pop3_read_result res = pop3_reader_feed(&r, in + i, 1, &used);
		CHECK_INTEQ(used, 1);
		if (in[i] != '\n')
			CHECK_INTEQ(res, POP3_READ_MORE);
		else {
			CHECK_INTEQ(res, POP3_READ_LINE);
			if (got < 3)
				CHECK_STREQ(r.line.data, lines[got]);
			got++;
			buf_reset(&r.line);
		}
	}
	CHECK_INTEQ(got, 3);
	pop3_reader_free(&r);
}

static void
test_reader_too_long(void)
{
	struct pop3_reader r;
	char *big = xmalloc(POP3_LINE_MAX * 3);
	size_t used, pos = 0, len;
	int too_long = 0, lines = 0;

	memset(big, 'x', POP3_LINE_MAX * 3 - 7);
	memcpy(big + POP3_LINE_MAX * 3 - 7, "\nNOOP\n", 7);
	len = strlen(big);
	pop3_reader_init(&r);
	while (pos < len) {
		size_t chunk = len - pos < 100 ? len - pos : 100;
		enum pop3_read_result res = pop3_reader_feed(&r, big + pos, chunk,
		    &used);
		pos += used;
		if (res == POP3_READ_TOO_LONG)
			too_long++;
		if (res == POP3_READ_LINE) {
			CHECK_STREQ(r.line.data, "NOOP");
			lines++;
			buf_reset(&r.line);
		}
	}
	CHECK_INTEQ(too_long, 1);
	CHECK_INTEQ(lines, 1);
	pop3_reader_free(&r);
	free(big);
}

static void
test_cmd(void)
{
	struct pop3_cmd c;
	const char *err;
	char l1[] = "top 1 10", l2[] = "RETRIEVE 1", l3[] = "US", l4[] = "LIST",
	     l5[] = "A1B2 x", l6[] = "DELE 1 2 3 4 5";

	CHECK_INTEQ(pop3_cmd_parse(l1, &c, &err), 0);
	CHECK_STREQ(c.verb, "TOP");
	CHECK_INTEQ(c.argc, 2);
	CHECK_STREQ(c.argv[1], "10");
	CHECK(pop3_cmd_parse(l2, &c, &err) < 0);
	CHECK(pop3_cmd_parse(l3, &c, &err) < 0);
	CHECK_INTEQ(pop3_cmd_parse(l4, &c, &err), 0);
	CHECK_INTEQ(c.argc, 0);
	CHECK(pop3_cmd_parse(l5, &c, &err) < 0);
	CHECK(pop3_cmd_parse(l6, &c, &err) < 0);
	CHECK_INTEQ(pop3_msgnum("3", 3), 3);
	CHECK_INTEQ(pop3_msgnum("4", 3), 0);
	CHECK_INTEQ(pop3_msgnum("0", 3), 0);
	CHECK_INTEQ(pop3_msgnum("-1", 3), 0);
	CHECK_INTEQ(pop3_msgnum("99999999999", 3), 0);
}

static void
test_plain(void)
{
	char u[64], p[64];
	const char *err;

	/* "\0alice@acme\0alice-pw" */
	CHECK_INTEQ(pop3_sasl_plain("AGFsaWNlQGFjbWUAYWxpY2UtcHc=", u, sizeof(u),
	    p, sizeof(p), &err), 0);
	CHECK_STREQ(u, "alice@acme");
	CHECK_STREQ(p, "alice-pw");
	/* authzid other than authcid: refused */
	CHECK(pop3_sasl_plain("Ym9iAGFsaWNlAHB3", u, sizeof(u), p, sizeof(p),
	    &err) < 0);
	CHECK(pop3_sasl_plain("!!!!", u, sizeof(u), p, sizeof(p), &err) < 0);
	CHECK(pop3_sasl_plain("YWJj", u, sizeof(u), p, sizeof(p), &err) < 0);
	/* "\0alice@acme\0alice-pw\0": the right password and a NUL */
	CHECK_INTEQ(pop3_sasl_plain("AGFsaWNlQGFjbWUAYWxpY2UtcHcA", u,
	    sizeof(u), p, sizeof(p), &err), POP3_SASL_NUL);
}

static char *
wire(const char *msg, int64_t lines)
{
	struct pop3_stream s;
	struct buf b;

	buf_init(&b, 0);
	pop3_stream_init(&s, lines);
	/* byte at a time: state crosses chunk boundaries */
	for (size_t i = 0; msg[i] != '\0'; i++)
		pop3_stream_feed(&s, msg + i, 1, &b);
	pop3_stream_end(&s, &b);
	return buf_steal(&b);
}

static void
test_stream(void)
{
	char *w;

	w = wire("A: b\r\n\r\n.x\r\n..\r\nend\r\n", -1);
	CHECK_STREQ(w, "A: b\r\n\r\n..x\r\n...\r\nend\r\n.\r\n");
	free(w);
	w = wire("A: b\n\nline1\nline2\nline3", -1);
	CHECK_STREQ(w, "A: b\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n");
	free(w);
	w = wire("A: b\nC: d\n\nline1\nline2\nline3\n", 2);
	CHECK_STREQ(w, "A: b\r\nC: d\r\n\r\nline1\r\nline2\r\n.\r\n");
	free(w);
	w = wire("A: b\r\n\r\nline1\r\n", 0);
	CHECK_STREQ(w, "A: b\r\n\r\n.\r\n");
	free(w);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_reader_bytewise),
		TEST(test_reader_too_long),
		TEST(test_cmd),
		TEST(test_plain),
		TEST(test_stream),
		{ 0 },
	};
	return test_run(tests);
}
