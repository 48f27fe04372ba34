/* test-smtpd - smtpd helpers: relay network matching, DNS block lists */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../src/smtpd/dnsbl.h"
#include "../../src/smtpd/smtpd.h"
#include "../../src/smtpd/spf-record.h"
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

static void
test_spf_parse(void)
{
	static struct spf_record rec;
	const char *err;

	CHECK(spf_record_is_spf("v=spf1"));
	CHECK(spf_record_is_spf("V=SPF1 -all"));
	CHECK(!spf_record_is_spf("v=spf10 -all"));
	CHECK(!spf_record_is_spf("v=spf2.0/pra -all"));
	CHECK(spf_record_parse("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "a mx:mail.example.com/26//64 ~include:_spf.example.net "
	    "exists:%{ir}.bl.example.org ptr ?ptr:example.org "
	    "redirect=_spf.example.com exp=exp.example.com foo=%{d}bar -all",
	    &rec, &err) == 0);
	CHECK_INTEQ(rec.nterms, 9);
	CHECK_INTEQ(rec.terms[0].mech, SPF_IP4);
	CHECK_INTEQ(rec.terms[0].cidr4, 24);
	CHECK_INTEQ(rec.terms[0].qualifier, SPF_PASS);
	CHECK_INTEQ(rec.terms[1].mech, SPF_IP6);
	CHECK_INTEQ(rec.terms[1].cidr6, 32);
	CHECK_INTEQ(rec.terms[2].mech, SPF_A);
	CHECK(rec.terms[2].domain == NULL);
	CHECK_INTEQ(rec.terms[3].mech, SPF_MX);
	CHECK_INTEQ(rec.terms[3].cidr4, 26);
	CHECK_INTEQ(rec.terms[3].cidr6, 64);
	CHECK_INTEQ((int)rec.terms[3].domain_len, 16);
	CHECK_INTEQ(rec.terms[4].qualifier, SPF_SOFTFAIL);
	CHECK_INTEQ(rec.terms[4].mech, SPF_INCLUDE);
	CHECK_INTEQ(rec.terms[6].mech, SPF_PTR);
	CHECK_INTEQ(rec.terms[7].qualifier, SPF_NEUTRAL);
	CHECK_INTEQ(rec.terms[8].mech, SPF_ALL);
	CHECK_INTEQ(rec.terms[8].qualifier, SPF_FAIL);
	CHECK(rec.redirect != NULL && rec.redirect_len == 16);
	/* a//64 only an IPv6 prefix */
	CHECK(spf_record_parse("v=spf1 a//64", &rec, &err) == 0);
	CHECK_INTEQ(rec.terms[0].cidr4, 32);
	CHECK_INTEQ(rec.terms[0].cidr6, 64);
	/* permerrors (RFC 7208 4.6) */
	static const char *const bad[] = {
		"v=spf1 ip4:192.0.2.0/33", "v=spf1 ip4:192.0.2.0/024",
		"v=spf1 ip6:2001:db8::/129", "v=spf1 ip4:2001:db8::",
		"v=spf1 include", "v=spf1 include:", "v=spf1 include:example",
		"v=spf1 all:x", "v=spf1 foo", "v=spf1 a:%{x}.example.com",
		"v=spf1 a:%{d", "v=spf1 a:ex%ample.com",
		"v=spf1 redirect=a.example redirect=b.example",
		"v=spf1 exp=a.example exp=b.example", "v=spf1 ip4:1.2.3.4//64",
		"v=spf1 ptr/24", "v=spf1 exists:%{d}.%{c}", "spf1 -all", NULL };
	for (int i = 0; bad[i] != NULL; i++) {
		int r = spf_record_parse(bad[i], &rec, &err);
		/* %{c} is only refused at expansion */
		if (strstr(bad[i], "%{c}") != NULL)
			continue;
		if (r == 0)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(r < 0);
	}
	/* too many terms */
	char many[2000] = "v=spf1";
	for (int i = 0; i < SPF_TERMS_MAX + 1; i++)
		strcat(many, " a");
	CHECK(spf_record_parse(many, &rec, &err) < 0);
}

static void
test_spf_macros(void)
{
	/* RFC 7208 7.4 */
	struct sockaddr_storage ip4, ip6;
	char out[SPF_DOMAIN_MAX + 1];
	const char *err;

	memcpy(&ip4, addr("192.0.2.3"), sizeof(ip4));
	memcpy(&ip6, addr("2001:db8::cb01"), sizeof(ip6));
	struct spf_macro_ctx c = {
		.sender = "strong-bad@email.example.com", .local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com", .ip = (struct sockaddr *)&ip4,
		.helo = "mx.example.org", .validated = NULL,
	};
	static const char *const cases[][2] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		  "example.com.trusted-domains.example.net" },
		{ "%{p}.example.org", "unknown.example.org" },
		{ "a%%b%_c.example.org", "a%b c.example.org" },
		{ NULL, NULL } };
	for (int i = 0; cases[i][0] != NULL; i++) {
		int r = spf_macro_expand(cases[i][0], strlen(cases[i][0]), &c, out,
		    sizeof(out), &err);
		CHECK(r == 0);
		if (r == 0)
			CHECK_STREQ(out, cases[i][1]);
	}
	c.ip = (struct sockaddr *)&ip6;
	const char *v6 = "%{ir}.%{v}._spf.%{d2}";
	CHECK(spf_macro_expand(v6, strlen(v6), &c, out, sizeof(out), &err) == 0);
	CHECK_STREQ(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d."
	    "0.1.0.0.2.ip6._spf.example.com");
	/* c, r, t only in exp; a digit of 0 */
	CHECK(spf_macro_expand("%{c}", 4, &c, out, sizeof(out), &err) < 0);
	CHECK(spf_macro_expand("%{d0}", 5, &c, out, sizeof(out), &err) < 0);
	/* over 253 octets: labels cut from the left */
	char lab[80];
	memset(lab, 'x', 60);
	lab[60] = '\0';
	char local[300];
	snprintf(local, sizeof(local), "%s.%s.%s.%s.%s", lab, lab, lab, lab, lab);
	c.local = local;
	const char *spec = "%{l}.example.com";
	CHECK(spf_macro_expand(spec, strlen(spec), &c, out, sizeof(out), &err) == 0);
	CHECK(strlen(out) <= 253);
	CHECK(strcmp(out + strlen(out) - 12, ".example.com") == 0);
	CHECK(out[0] == 'x');
}

int
main(void)
{
	static const struct test tests[] = { TEST(test_cidr),
	    TEST(test_loopback), TEST(test_dnsbl_query_name),
	    TEST(test_dnsbl_classify), TEST(test_dnsbl_reason),
	    TEST(test_dnsbl_zones), TEST(test_spf_parse), TEST(test_spf_macros),
	    { 0 } };
	return test_run(tests);
}
