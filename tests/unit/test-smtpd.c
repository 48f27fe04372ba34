/* test-smtpd - smtpd helpers: relay network matching, DNS block lists */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../src/smtpd/dnsbl.h"
#include "../../src/smtpd/smtpd.h"
#include "test.h"

static struct sockaddr_storage ss;

static const struct sockaddr *
addr(const char *text)
{
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	return (const struct sockaddr *)&ss;
}

static void
test_cidr(void)
{
	const char *bad;

	CHECK(!smtpd_cidr_match("", addr("127.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("127.0.0.0/8", addr("127.1.2.3"), &bad));
	CHECK(!smtpd_cidr_match("127.0.0.0/8", addr("128.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("10.0.0.0/8, 192.0.2.7", addr("192.0.2.7"), &bad));
	CHECK(!smtpd_cidr_match("192.0.2.7", addr("192.0.2.8"), &bad));
	CHECK(smtpd_cidr_match("192.0.2.0/25", addr("192.0.2.127"), &bad));
	CHECK(!smtpd_cidr_match("192.0.2.0/25", addr("192.0.2.128"), &bad));
	CHECK(smtpd_cidr_match("0.0.0.0/0", addr("203.0.113.9"), &bad));
	CHECK(smtpd_cidr_match("::1/128", addr("::1"), &bad));
	CHECK(!smtpd_cidr_match("::1/128", addr("127.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("2001:db8::/32", addr("2001:db8:1::5"), &bad));
	/* v4-mapped v6 clients match v4 networks */
	CHECK(smtpd_cidr_match("127.0.0.0/8", addr("::ffff:127.0.0.1"), &bad));
	/* bad entries are skipped and reported */
	CHECK(smtpd_cidr_match("nonsense 127.0.0.1", addr("127.0.0.1"), &bad));
	CHECK(!smtpd_cidr_match("10.0.0.0/33", addr("10.0.0.1"), &bad));
	CHECK(bad != NULL);
	CHECK(!smtpd_cidr_match("10.0.0.0/", addr("10.0.0.1"), &bad));
	CHECK(bad != NULL);
}

static void
test_loopback(void)
{
	CHECK(smtpd_is_loopback(addr("127.0.0.1")));
	CHECK(smtpd_is_loopback(addr("127.9.8.7")));
	CHECK(smtpd_is_loopback(addr("::1")));
	CHECK(smtpd_is_loopback(addr("::ffff:127.0.0.1")));
	CHECK(!smtpd_is_loopback(addr("128.0.0.1")));
	CHECK(!smtpd_is_loopback(addr("::2")));
}

static void
test_dnsbl_query_name(void)
{
	char q[256];

	/* RFC 5782 2.1 */
	CHECK(dnsbl_query_name(addr("192.0.2.99"), "bad.example.com", q,
	    sizeof(q)) == 0);
	CHECK_STREQ(q, "99.2.0.192.bad.example.com");
	CHECK(dnsbl_query_name(addr("::ffff:192.0.2.99"), "bl.test", q,
	    sizeof(q)) == 0);
	CHECK_STREQ(q, "99.2.0.192.bl.test");
	/* RFC 5782 2.4: nibbles, least significant first */
	CHECK(dnsbl_query_name(addr("2001:db8:1:2:3:4:567:89ab"),
	    "ugly.example.com", q, sizeof(q)) == 0);
	CHECK_STREQ(q, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0."
	    "1.0.0.2.ugly.example.com");
	CHECK(dnsbl_query_name(addr("::1"), "bl.test", q, sizeof(q)) == 0);
	CHECK_STREQ(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.bl.test");
	/* too small: refused, not cut */
	CHECK(dnsbl_query_name(addr("192.0.2.99"), "bl.test", q, 12) < 0);
	CHECK(dnsbl_query_name(addr("::1"), "bl.test", q, 70) < 0);
}

static struct sockaddr_storage answers[4];

static size_t
set_answers(const char *a, const char *b)
{
	size_t n = 0;
	const char *list[2] = { a, b };

	memset(answers, 0, sizeof(answers));
	for (int i = 0; i < 2; i++) {
		if (list[i] == NULL)
			continue;
		memcpy(&answers[n++], addr(list[i]), sizeof(answers[0]));
	}
	return n;
}

static void
test_dnsbl_classify(void)
{
	char code[16];
	size_t n;

	n = set_answers("127.0.0.2", NULL);
	CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)), DNSBL_LISTED);
	CHECK_STREQ(code, "127.0.0.2");
	/* Spamhaus error codes: refused query, public resolver, typo */
	for (int last = 252; last <= 255; last++) {
		char a[32];
		snprintf(a, sizeof(a), "127.255.255.%d", last);
		n = set_answers(a, NULL);
		CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)),
		    DNSBL_LIST_ERROR);
		CHECK_STREQ(code, a);
	}
	/* outside 127/8: a hijacked NXDOMAIN, not a listing */
	n = set_answers("10.1.2.3", NULL);
	CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)), DNSBL_BOGUS);
	n = set_answers("::1", NULL);
	CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)), DNSBL_BOGUS);
	/* a listing code wins, whatever the order */
	n = set_answers("127.255.255.254", "127.0.0.4");
	CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)), DNSBL_LISTED);
	CHECK_STREQ(code, "127.0.0.4");
	n = set_answers("10.0.0.1", "127.0.0.10");
	CHECK_INTEQ(dnsbl_classify(answers, n, code, sizeof(code)), DNSBL_LISTED);
	CHECK_INTEQ(dnsbl_classify(answers, 0, code, sizeof(code)),
	    DNSBL_NOT_LISTED);
}

static void
test_dnsbl_reason(void)
{
	char out[DNSBL_REASON_MAX + 1];
	char big[1000];

	const char *t = "  Listed\tby \r\n SBL  ";
	CHECK_INTEQ(dnsbl_reason_clean(t, strlen(t), out), 13);
	CHECK_STREQ(out, "Listed by SBL");
	CHECK(dnsbl_reason_clean("a\x01" "b\xc3\xa9", 5, out) == 5);
	CHECK_STREQ(out, "a?b??");
	CHECK(dnsbl_reason_clean("", 0, out) == 0);
	CHECK_STREQ(out, "");
	memset(big, 'x', sizeof(big));
	CHECK_INTEQ(dnsbl_reason_clean(big, sizeof(big), out), DNSBL_REASON_MAX);
	CHECK(strcmp(out + DNSBL_REASON_MAX - 3, "...") == 0);
	/* byte at a time: the same result as whole (no state) */
	CHECK_INTEQ(dnsbl_reason_clean("ab", 1, out), 1);
}

static void
test_dnsbl_zones(void)
{
	char z[DNSBL_MAX_ZONES][DNSBL_ZONE_MAX + 1];
	const char *bad;

	CHECK_INTEQ(dnsbl_zones_parse("zen.spamhaus.org, BL.SpamCop.net.", z,
	    DNSBL_MAX_ZONES, &bad), 2);
	CHECK(bad == NULL);
	CHECK_STREQ(z[0], "zen.spamhaus.org");
	CHECK_STREQ(z[1], "bl.spamcop.net");
	CHECK_INTEQ(dnsbl_zones_parse("ok.test bad..test x/y.test", z,
	    DNSBL_MAX_ZONES, &bad), 1);
	CHECK(bad != NULL);
	CHECK_INTEQ(dnsbl_zones_parse("a.t b.t c.t d.t e.t f.t g.t h.t i.t", z,
	    DNSBL_MAX_ZONES, &bad), DNSBL_MAX_ZONES);
	CHECK(bad != NULL);
	CHECK_INTEQ(dnsbl_zones_parse("", z, DNSBL_MAX_ZONES, &bad), 0);
}

int
main(void)
{
	static const struct test tests[] = { TEST(test_cidr),
	    TEST(test_loopback), TEST(test_dnsbl_query_name),
	    TEST(test_dnsbl_classify), TEST(test_dnsbl_reason),
	    TEST(test_dnsbl_zones), { 0 } };
	return test_run(tests);
}
