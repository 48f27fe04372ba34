/* test-mtasts - MTA-STS records, policies and MX matching (mtasts.h) */
#include <stdlib.h>
#include <string.h>

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

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_txt),
		TEST(test_policy),
		{ NULL, NULL },
	};
	return test_run(tests);
}
