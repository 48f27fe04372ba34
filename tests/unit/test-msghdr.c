/* test-msghdr - the header block scanner and address-list extraction */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msghdr.h"
#include "test.h"

struct seen {
	struct buf out;
	int n;
};

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct seen *s = ctx;
	buf_printf(&s->out, "[%s=%s@%zu-%zu]", f->name, f->value, f->raw_start,
	    f->raw_end);
	s->n++;
}

static const char msg1[] =
	"Received: from a\r\n\tby b; Mon\r\n"
	"To: Alice <alice@acme.test>, bob@acme.test\r\n"
	"Subject: hi\r\n"
	"\r\n"
	"Body: not a header\r\n";

#define EXPECT1 "[Received=from a\tby b; Mon@0-30]" \
	"[To=Alice <alice@acme.test>, bob@acme.test@30-74]" \
	"[Subject=hi@74-87]"

static void
test_msghdr_whole(void)
{
	struct msghdr_parser p;
	struct seen s = { .n = 0 };
	size_t used;
	const char *err;

	buf_init(&s.out, 0);
	msghdr_parser_init(&p, 0, on_field, &s);
	CHECK_INTEQ(msghdr_parser_feed(&p, msg1, sizeof(msg1) - 1, &used, &err), 1);
	CHECK_INTEQ(used, 89);
	CHECK_STREQ(s.out.data, EXPECT1);
	CHECK(strncmp(msg1 + used, "Body:", 5) == 0);
	msghdr_parser_deinit(&p);
	buf_free(&s.out);
}

/* must return 0 until the blank line is read, one byte at a time */
static void
test_msghdr_bytewise(void)
{
	struct msghdr_parser p;
	struct seen s = { .n = 0 };
	size_t used, i;
	const char *err;
	int r = 0;

	buf_init(&s.out, 0);
	msghdr_parser_init(&p, 0, on_field, &s);
	for (i = 0; i < sizeof(msg1) - 1; i++) {
		r = msghdr_parser_feed(&p, msg1 + i, 1, &used, &err);
		if (r != 0)
			break;
		CHECK_INTEQ(used, 1);
	}
	CHECK_INTEQ(r, 1);
	CHECK_INTEQ(i, 88);   /* the byte completing the blank line */
	CHECK_STREQ(s.out.data, EXPECT1);
	msghdr_parser_deinit(&p);
	buf_free(&s.out);
}

static void
test_msghdr_lf_and_eof(void)
{
	static const char lf[] = "From: x@y\nX-Postern-Recipients: a@b,\n c@d\n\nbody";
	static const char nobody[] = "Subject: only";
	struct msghdr_parser p;
	struct seen s = { .n = 0 };
	size_t used;
	const char *err;

	buf_init(&s.out, 0);
	msghdr_parser_init(&p, 0, on_field, &s);
	CHECK_INTEQ(msghdr_parser_feed(&p, lf, strlen(lf), &used, &err), 1);
	CHECK_STREQ(lf + used, "body");
	CHECK_STREQ(s.out.data, "[From=x@y@0-10][X-Postern-Recipients=a@b, c@d@10-42]");
	msghdr_parser_deinit(&p);

	buf_reset(&s.out);
	msghdr_parser_init(&p, 0, on_field, &s);
	CHECK_INTEQ(msghdr_parser_feed(&p, nobody, strlen(nobody), &used, &err), 0);
	CHECK_INTEQ(s.n, 2);   /* nothing new yet */
	msghdr_parser_finish(&p);
	CHECK_INTEQ(s.n, 3);
	msghdr_parser_deinit(&p);
	buf_free(&s.out);
}

static void
test_msghdr_limits(void)
{
	struct msghdr_parser p;
	size_t used;
	const char *err = NULL;
	char *big = malloc(MSGHDR_FIELD_MAX + 100);

	memcpy(big, "X: ", 3);
	memset(big + 3, 'a', MSGHDR_FIELD_MAX + 90);
	msghdr_parser_init(&p, 0, NULL, NULL);
	CHECK_INTEQ(msghdr_parser_feed(&p, big, MSGHDR_FIELD_MAX + 93, &used, &err), -1);
	CHECK_STREQ(err, "header field too long");
	msghdr_parser_deinit(&p);

	/* a block limit: many short fields */
	msghdr_parser_init(&p, 100, NULL, NULL);
	int r = 0;
	for (int i = 0; i < 50 && r == 0; i++)
		r = msghdr_parser_feed(&p, "A: b\r\n", 6, &used, &err);
	CHECK_INTEQ(r, -1);
	CHECK_STREQ(err, "header block too large");
	msghdr_parser_deinit(&p);
	free(big);
}

static void
test_msghdr_addresses(void)
{
	char **v = NULL;
	size_t n = 0;

	CHECK_INTEQ(msghdr_addresses("\"Doe, John\" <john@x.test>, (c) bob@y.test "
	    "(Bob), Team: a@t.test, b@t.test;, <@r1,@r2:c@z.test>, junk, "
	    "\"q u\"@q.test, <>", &v, &n), 6);
	CHECK_INTEQ(n, 6);
	if (n == 6) {
		CHECK_STREQ(v[0], "john@x.test");
		CHECK_STREQ(v[1], "bob@y.test");
		CHECK_STREQ(v[2], "a@t.test");
		CHECK_STREQ(v[3], "b@t.test");
		CHECK_STREQ(v[4], "c@z.test");
		CHECK_STREQ(v[5], "\"q u\"@q.test");
	}
	CHECK_INTEQ(msghdr_addresses("undisclosed-recipients:;", &v, &n), 0);
	CHECK_INTEQ(msghdr_addresses("<sender@acme.test>", &v, &n), 1);
	CHECK_STREQ(v[6], "sender@acme.test");
	msghdr_addresses_free(v, n);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_msghdr_whole),
		TEST(test_msghdr_bytewise),
		TEST(test_msghdr_lf_and_eof),
		TEST(test_msghdr_limits),
		TEST(test_msghdr_addresses),
		{ 0 },
	};
	return test_run(tests);
}
