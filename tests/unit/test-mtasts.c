/* test-mtasts - MTA-STS records, policies and MX matching (mtasts.h) */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "buf.h"
#include "mtasts.h"
#include "test.h"

static void
test_txt(void)
{
	char id[MTASTS_ID_MAX + 1];
	const char *err = NULL;

	CHECK_INTEQ(mtasts_txt_parse("v=STSv1; id=20161231T000000;", id, &err), 1);
	CHECK_STREQ(id, "20161231T000000");
	CHECK_INTEQ(mtasts_txt_parse("v=STSv1;id=abc ; ext=1", id, &err), 1);
	CHECK_STREQ(id, "abc");
	CHECK_INTEQ(mtasts_txt_parse("v=spf1 -all", id, &err), 0);
	CHECK_INTEQ(mtasts_txt_parse("id=1; v=STSv1", id, &err), 0);
	CHECK_INTEQ(mtasts_txt_parse("v=STSv1", id, &err), -1);
	CHECK_INTEQ(mtasts_txt_parse("v=STSv1; id=a-b", id, &err), -1);
	CHECK_INTEQ(mtasts_txt_parse("v=STSv1; id=123456789012345678901234567890123",
	    id, &err), -1);
}

static void
pol(const char *s, int want, struct mtasts_policy *p)
{
	const char *err = NULL;

	CHECK_INTEQ(mtasts_policy_parse(s, strlen(s), p, &err), want);
	if (want < 0)
		CHECK(err != NULL);
}

static void
test_policy(void)
{
	struct mtasts_policy p;

	pol("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	    "max_age: 604800\r\n", 0, &p);
	CHECK_INTEQ(p.mode, MTASTS_ENFORCE);
	CHECK_INTEQ(p.max_age, 604800);
	CHECK_INTEQ(p.nmx, 3);
	CHECK(mtasts_mx_match(&p, "MAIL.example.com."));
	CHECK(mtasts_mx_match(&p, "a.example.net"));
	CHECK(!mtasts_mx_match(&p, "a.b.example.net"));
	CHECK(!mtasts_mx_match(&p, "example.net"));
	CHECK(!mtasts_mx_match(&p, "mail.example.com.evil.test"));
	pol("version: STSv1\nmode: testing\nmx: mx.test\nmax_age: 99999999999\n"
	    "future: x\n", -1, &p);   /* over 10 digits */
	pol("version: STSv1\nmode: testing\nmx: mx.test\nmax_age: 999999999\n"
	    "future: x\n", 0, &p);
	CHECK_INTEQ(p.max_age, MTASTS_MAX_AGE);
	pol("version: STSv1\nmode: none\nmax_age: 1\n", 0, &p);
	pol("version: STSv1\nmode: enforce\nmax_age: 1\n", -1, &p);
	pol("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n", -1, &p);
	pol("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", -1, &p);
	pol("version: STSv1\nmode: enforce\nmx: a b\nmax_age: 1\n", -1, &p);
	pol("version: STSv1\nmode: enforce\nmx: a\n", -1, &p);
	pol("<html>not a policy</html>\n", -1, &p);
	char *big = malloc(MTASTS_POLICY_MAX + 2);
	memset(big, '\n', MTASTS_POLICY_MAX + 1);
	big[MTASTS_POLICY_MAX + 1] = '\0';
	pol(big, -1, &p);
	free(big);
}

/* the published policy and its id */
static void
test_publish(void)
{
	struct buf a, b;
	const char *err = NULL;
	char id1[MTASTS_ID_MAX + 1], id2[MTASTS_ID_MAX + 1];

	buf_init(&a, MTASTS_POLICY_MAX);
	buf_init(&b, MTASTS_POLICY_MAX);
	CHECK_INTEQ(mtasts_policy_text("enforce", "mx1.test, *.b.test", 86400,
	    &a, &err), 0);
	CHECK_STREQ(a.data, "version: STSv1\r\nmode: enforce\r\nmx: mx1.test"
	    "\r\nmx: *.b.test\r\nmax_age: 86400\r\n");
	mtasts_policy_id(a.data, a.len, id1);
	CHECK_INTEQ((int)strlen(id1), 20);
	char txt[64];
	snprintf(txt, sizeof(txt), "v=STSv1; id=%s", id1);
	CHECK_INTEQ(mtasts_txt_parse(txt, id2, &err), 1);
	CHECK_INTEQ(mtasts_policy_text("enforce", "mx1.test, *.b.test", 86401,
	    &b, &err), 0);
	mtasts_policy_id(b.data, b.len, id2);
	CHECK(strcmp(id1, id2) != 0);
	buf_reset(&b);
	CHECK_INTEQ(mtasts_policy_text("enforce", "", 86400, &b, &err), -1);
	buf_free(&a);
	buf_free(&b);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_txt),
		TEST(test_policy),
		TEST(test_publish),
		{ NULL, NULL },
	};
	return test_run(tests);
}
