/* test-sieve-managesieve - the ManageSieve command reader: whole
 * commands, literals, byte by byte, errors and limits */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "managesieve-parse.h"
#include "test.h"

static void
test_commands(void)
{
	struct ms_cmd c;
	size_t used;
	const char *err = NULL;
	static const char in[] = "PUTSCRIPT \"a \\\"b\\\"\" {5+}\r\nkeep;\r\nNOOP\r\n";

	CHECK_INTEQ(ms_parse(in, strlen(in), 100, &c, &used, &err), 1);
	CHECK_STREQ(c.verb, "PUTSCRIPT");
	CHECK_INTEQ(c.argc, 2);
	CHECK_STREQ(c.argv[0], "a \"b\"");
	CHECK_STREQ(c.argv[1], "keep;");
	CHECK_INTEQ(used, strlen(in) - 6);
	cmd_clear(&c);
	CHECK_INTEQ(ms_parse(in + used, 6, 100, &c, &used, &err), 1);
	CHECK_STREQ(c.verb, "NOOP");
	CHECK_INTEQ(c.argc, 0);
	cmd_clear(&c);
	/* a SASL response: no verb, one string; a bare LF */
	CHECK_INTEQ(ms_parse("\"AGEAYg==\"\n", 11, 100, &c, &used, &err), 1);
	CHECK_STREQ(c.verb, "");
	CHECK_STREQ(c.argv[0], "AGEAYg==");
	cmd_clear(&c);
	/* a literal with a NUL inside: binary safe */
	CHECK_INTEQ(ms_parse("CHECKSCRIPT {3}\r\na\0b\r\n", 22, 100, &c, &used,
	    &err), 1);
	CHECK_INTEQ(c.argl[0], 3);
	CHECK(memcmp(c.argv[0], "a\0b", 3) == 0);
	cmd_clear(&c);
	/* an atom with a NUL: its length covers it (fuzz) */
	CHECK_INTEQ(ms_parse("NOOP a\0b\r\n", 10, 100, &c, &used, &err), 1);
	CHECK_INTEQ(c.argl[0], 3);
	cmd_clear(&c);
	CHECK_INTEQ(ms_parse("HAVESPACE \"x\" 1000\r\n", 20, 100, &c, &used,
	    &err), 1);
	CHECK_STREQ(c.argv[1], "1000");
	cmd_clear(&c);
}

/* every prefix of a command needs more; the whole is one command */
static void
test_byte_by_byte(void)
{
	static const char in[] = "PUTSCRIPT \"name\" {12+}\r\nkeep;\r\nstop;\r\n";
	struct ms_cmd c;
	size_t used;
	const char *err = NULL;

	for (size_t n = 0; n < strlen(in); n++) {
		int r = ms_parse(in, n, 100, &c, &used, &err);
		if (r != 0)
			fprintf(stderr, "  prefix %zu: %d\n", n, r);
		CHECK_INTEQ(r, 0);
	}
	CHECK_INTEQ(ms_parse(in, strlen(in), 100, &c, &used, &err), 1);
	CHECK_INTEQ(used, strlen(in));
	CHECK_STREQ(c.argv[1], "keep;\r\nstop;");
	cmd_clear(&c);
}

static void
test_errors(void)
{
	struct ms_cmd c;
	size_t used;
	const char *err = NULL;

	CHECK_INTEQ(ms_parse("PUTSCRIPT {99999}\r\n", 19, 100, &c, &used, &err), -2);
	CHECK_STREQ(err, "literal too large");
	CHECK_INTEQ(ms_parse("A \"x\" \"y\" \"z\" \"w\" \"v\"\r\nNOOP\r\n", 29, 100,
	    &c, &used, &err), -1);
	CHECK_STREQ(err, "too many arguments");
	CHECK_INTEQ(used, 23);
	CHECK_INTEQ(ms_parse("A {x}\r\n", 7, 100, &c, &used, &err), -1);
	CHECK_INTEQ(ms_parse("A {1x\r\n", 7, 100, &c, &used, &err), -1);
	CHECK_INTEQ(ms_parse("A \"x\r\n", 6, 100, &c, &used, &err), -1);
	CHECK_STREQ(err, "unterminated string");
	CHECK_INTEQ(ms_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", 42, 100,
	    &c, &used, &err), -1);
	CHECK_STREQ(err, "command too long");
	/* a quoted string past the limit */
	char *big = malloc(MS_LINE_MAX + 20);
	memcpy(big, "A \"", 3);
	memset(big + 3, 'x', MS_LINE_MAX + 10);
	memcpy(big + MS_LINE_MAX + 13, "\"\r\n", 3);
	CHECK_INTEQ(ms_parse(big, MS_LINE_MAX + 16, 100, &c, &used, &err), -1);
	CHECK_STREQ(err, "string too long");
	free(big);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_commands),
		TEST(test_byte_by_byte),
		TEST(test_errors),
		{ 0 },
	};
	return test_run(tests);
}
