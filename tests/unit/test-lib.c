/* test-lib - unit tests for src/lib */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"
#include "netaddr.h"
#include "passwd.h"
#include "strutil.h"
#include "test.h"
#include "xalloc.h"

static void
test_buf_limits(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK(buf_puts(&b, "12345678") == 0);
	CHECK(buf_putc(&b, 'x') < 0);
	CHECK(b.len == 8);
	CHECK_STREQ(b.data, "12345678");
	buf_consume(&b, 3);
	CHECK_STREQ(b.data, "45678");
	CHECK(buf_printf(&b, "%d", 123) == 0);
	CHECK_STREQ(b.data, "45678123");
	CHECK(buf_printf(&b, "%d", 4) < 0);
	buf_free(&b);

	/* byte by byte (buf_putc's own path): across growth, up to the
	 * bound exactly, NUL-terminated after each byte */
	buf_init(&b, 100);
	for (int i = 0; i < 100; i++) {
		CHECK(buf_putc(&b, (char)('a' + i % 26)) == 0);
		CHECK(b.data[b.len] == '\0');
	}
	CHECK(buf_putc(&b, 'x') < 0);
	CHECK(b.len == 100);
	CHECK(b.data[99] == 'a' + 99 % 26);
	CHECK(strlen(b.data) == 100);
	buf_free(&b);
}

static void
test_names(void)
{
	const char *err;

	CHECK(name_check("acme", &err) == 0);
	CHECK(name_check("a.b-c_d", &err) == 0);
	CHECK(name_check("", &err) < 0);
	CHECK(name_check("..", &err) < 0);
	CHECK(name_check("a/b", &err) < 0);
	CHECK(name_check(".hidden", &err) < 0);
	CHECK(name_check("a b", &err) < 0);
	char long_name[70];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	CHECK(name_check(long_name, &err) < 0);
	CHECK(domain_check("acme.test", &err) == 0);
	CHECK(domain_check("acme", &err) < 0);
	CHECK(domain_check("-a.test", &err) < 0);
	CHECK(domain_check("a..test", &err) < 0);
	CHECK(domain_check("a/b.test", &err) < 0);
	char *n = address_normalize("Bob.Smith@ACME.test", &err);
	CHECK_STREQ(n, "bob.smith@acme.test");
	free(n);
	CHECK(address_normalize("bob@", &err) == NULL);
	CHECK(address_normalize("b..ob@acme.test", &err) == NULL);
	CHECK(address_normalize("bob", &err) == NULL);
}

static void
test_sizes(void)
{
	CHECK_INTEQ(parse_size_kb("100", 'M'), 100 * 1024);
	CHECK_INTEQ(parse_size_kb("2G", 'M'), 2 * 1024 * 1024);
	CHECK_INTEQ(parse_size_kb("512K", 'M'), 512);
	CHECK_INTEQ(parse_size_kb("512KB", 'M'), 512);
	CHECK_INTEQ(parse_size_kb("x", 'M'), -1);
	CHECK_INTEQ(parse_size_kb("-5", 'M'), -1);
}

static void
test_passwd(void)
{
	const char *err;
	const char *schemes[] = { "yescrypt", "bcrypt", "sha512-crypt" };

	for (size_t i = 0; i < 3; i++) {
		char *h = passwd_hash("s3cret", schemes[i], &err);
		CHECK(h != NULL);
		if (h == NULL)
			continue;
		CHECK(passwd_verify("s3cret", h));
		CHECK(!passwd_verify("s3cre", h));
		CHECK(!passwd_verify("", h));
		free(h);
	}
	/* a Dovecot-style import */
	char *imp = passwd_import_hash(
	    "{SHA512-CRYPT}$6$saltsalt$5y8cbjUx0grm6.h2vGfTXmJD6rpz3QVyb6NsJKMyJfHyWjWbl5DVR2pR3rNt8gRlQm2eqh3UAe4CzWhSILM7E0", &err);
	CHECK(imp != NULL && imp[0] == '$');
	free(imp);
	CHECK(passwd_import_hash("plaintext", &err) == NULL);
	CHECK(!passwd_verify("x", "plaintext"));
	CHECK(!passwd_verify("x", NULL));
}

static void
test_netaddr(void)
{
	struct netaddr a, *list;
	size_t n;
	const char *err;
	char out[80];

	CHECK(netaddr_parse("127.0.0.1:2525", &a, &err) == 0);
	CHECK(a.port == 2525);
	CHECK(netaddr_parse("[::1]:143", &a, &err) == 0);
	netaddr_format(&a, out, sizeof(out));
	CHECK_STREQ(out, "[::1]:143");
	CHECK(netaddr_parse("localhost:25", &a, &err) < 0);
	CHECK(netaddr_parse("127.0.0.1:0", &a, &err) < 0);
	CHECK(netaddr_parse("127.0.0.1:70000", &a, &err) < 0);
	CHECK(netaddr_parse("127.0.0.1", &a, &err) < 0);
	CHECK(netaddr_parse_list("127.0.0.1:25, [::1]:25", &list, &n, &err) == 0);
	CHECK(n == 2);
	free(list);
	CHECK(netaddr_parse_list("", &list, &n, &err) == 0 && n == 0);
	free(list);
}

static void
test_csv(void)
{
	const char *data = "a@x.test,pw,10,\"Smith, Bob\"\r\n\nb@x.test\n"
	    "\"bad\"x,1\n\"multi\nline\",\"q\"\"q\"\n\"open";
	struct csv_record rec = { 0 };
	size_t pos = 0, line = 1;
	const char *err;

	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == 1);
	CHECK(rec.n == 4);
	CHECK_STREQ(rec.fields[3], "Smith, Bob");
	CHECK(rec.line == 1);
	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == 1);
	CHECK(rec.n == 1 && rec.line == 3);
	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == -1);
	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == 1);
	CHECK_STREQ(rec.fields[0], "multi\nline");
	CHECK_STREQ(rec.fields[1], "q\"q");
	CHECK(rec.line == 5);
	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == -1);
	CHECK(csv_next(data, strlen(data), &pos, &line, ',', &rec, &err) == 0);
	csv_record_free(&rec);

	struct buf out;
	buf_init(&out, 0);
	csv_put_field(&out, "Smith, \"B\"", ',');
	CHECK_STREQ(out.data, "\"Smith, \"\"B\"\"\"");
	buf_free(&out);
}

/* mem_contains_ci - edge cases and linear time on the naive worst case */
static void
test_contains_ci(void)
{
	CHECK(mem_contains_ci("Hello World", 11, "wORLD", 5));
	CHECK(mem_contains_ci("Hello", 5, "", 0));
	CHECK(mem_contains_ci("", 0, "", 0));
	CHECK(!mem_contains_ci("", 0, "a", 1));
	CHECK(!mem_contains_ci("Hell", 4, "hello", 5));
	CHECK(mem_contains_ci("aabaabaaab", 10, "AAAB", 4));
	CHECK(!mem_contains_ci("aabaabaab", 9, "aaab", 4));
	CHECK(mem_contains_ci("abababc", 7, "ababc", 5));
	CHECK(mem_contains_ci("x\0y\0z", 5, "Y\0Z", 3));
	CHECK(!mem_contains_ci("x\0y", 3, "xy", 2));
	/* only ASCII letters fold: bytes above 127 compare as they are */
	CHECK(mem_contains_ci("caf\xc3\xa9", 5, "CAF\xc3\xa9", 5));
	CHECK(!mem_contains_ci("CAF\xc3\x89", 5, "caf\xc3\xa9", 5));
	CHECK(!mem_contains_ci("[", 1, "{", 1));   /* not 'A' + 26 */
	/* needles beyond the stack table, and the hostile shape: "aaa...ab"
	 * in 4 MB of 'a' costs a pass, not 4 MB * 64 KB */
	size_t hl = 4u << 20, nl = 64u << 10;
	char *h = xmalloc(hl), *n = xmalloc(nl);
	memset(h, 'a', hl);
	memset(n, 'A', nl);
	n[nl - 1] = 'b';
	CHECK(!mem_contains_ci(h, hl, n, nl));
	h[hl - 1] = 'B';
	CHECK(mem_contains_ci(h, hl, n, nl));
	free(h);
	free(n);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_buf_limits), TEST(test_names), TEST(test_sizes),
		TEST(test_passwd), TEST(test_netaddr), TEST(test_csv),
		TEST(test_contains_ci),
		{ NULL, NULL }
	};
	return test_run(tests);
}
