/* test-dmarc - DMARC records, the tree walk, alignment (dmarc.h) */
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"
#include "test.h"

static int
parse(const char *s, struct dmarc_record *r, const char **err)
{
	*err = NULL;
	return dmarc_record_parse(s, strlen(s), r, err);
}

static void
test_record(void)
{
	struct dmarc_record r;
	const char *err;

	CHECK_INTEQ(parse("v=DMARC1; p=reject; sp=quarantine; np=none; "
	    "adkim=s; aspf=r; rua=mailto:a@x.test!10m, mailto:b@y.test, "
	    "https://z.test; ruf=mailto:f@x.test; fo=1; future=yes", &r, &err), 1);
	CHECK_INTEQ(r.p, DMARC_P_REJECT);
	CHECK_INTEQ(r.sp, DMARC_P_QUARANTINE);
	CHECK_INTEQ(r.np, DMARC_P_NONE);
	CHECK(r.adkim_strict && !r.aspf_strict && !r.testing);
	CHECK_INTEQ(r.nrua, 2);
	CHECK_STREQ(r.rua[0], "mailto:a@x.test");
	CHECK_STREQ(r.rua[1], "mailto:b@y.test");
	CHECK_INTEQ(r.pct, -1);
	/* case of values, t=y, the old pct=0 */
	CHECK_INTEQ(parse("v=DMARC1;p=Quarantine;t=y", &r, &err), 1);
	CHECK(r.p == DMARC_P_QUARANTINE && r.testing);
	CHECK_INTEQ(parse("v=DMARC1; p=reject; pct=0", &r, &err), 1);
	CHECK(r.testing && r.pct == 0);
	CHECK_INTEQ(parse("v=DMARC1; p=reject; pct=100", &r, &err), 1);
	CHECK(!r.testing && r.pct == 100);
	/* p= missing or invalid: p=none with a valid rua, else not valid */
	CHECK_INTEQ(parse("v=DMARC1; rua=mailto:r@x.test", &r, &err), 1);
	CHECK_INTEQ(r.p, DMARC_P_NONE);
	CHECK_INTEQ(parse("v=DMARC1; p=bogus", &r, &err), -1);
	CHECK(err != NULL);
	CHECK_INTEQ(parse("v=DMARC1; sp=reject", &r, &err), -1);
	/* not DMARC: other TXT data, a wrong version, v= not first */
	CHECK_INTEQ(parse("v=spf1 -all", &r, &err), 0);
	CHECK_INTEQ(parse("v=DMARC2; p=reject", &r, &err), 0);
	CHECK_INTEQ(parse("p=reject; v=DMARC1", &r, &err), 0);
	CHECK_INTEQ(parse("v=DMARC10; p=reject", &r, &err), 0);
	CHECK_INTEQ(parse("", &r, &err), 0);
	/* malformed */
	CHECK_INTEQ(parse("v=DMARC1; p=reject; p=none", &r, &err), -1);
	CHECK_INTEQ(parse("v=DMARC1; p", &r, &err), -1);
	CHECK_INTEQ(parse("v=DMARC1; p=reject\x01", &r, &err), -1);
	/* over the size limit, and too many tags */
	size_t big = DMARC_RECORD_MAX + 10;
	char *s = malloc(big + 1);
	strcpy(s, "v=DMARC1; p=reject; x=");
	memset(s + strlen(s), 'a', big - strlen(s));
	s[big] = '\0';
	CHECK_INTEQ(parse(s, &r, &err), -1);
	CHECK_STREQ(err, "DMARC record over 4096 bytes");
	strcpy(s, "v=DMARC1; p=reject");
	for (int i = 0; i < 40; i++)
		sprintf(s + strlen(s), "; x%d=1", i);
	CHECK_INTEQ(parse(s, &r, &err), -1);
	free(s);
	/* more rua URIs than kept */
	CHECK_INTEQ(parse("v=DMARC1; p=none; rua=mailto:1@a.t,mailto:2@a.t,"
	    "mailto:3@a.t,mailto:4@a.t,mailto:5@a.t,mailto:6@a.t,mailto:7@a.t,"
	    "mailto:8@a.t,mailto:9@a.t,mailto:@a.t,mailto:x@", &r, &err), 1);
	CHECK_INTEQ(r.nrua, DMARC_URIS_MAX);
	/* RFC 7489 6.2: '!', ',' and ';' in an address are %-encoded; the
	 * kept URI is the decoded address; a bad escape or a decoded control
	 * byte drops the URI, '?' header fields are ignored */
	CHECK_INTEQ(parse("v=DMARC1; p=none; rua=mailto:%22dmarc%2Cr%21x%22@"
	    "a.test!10m,mailto:b%40@a.test,mailto:c%4@a.test,"
	    "mailto:d%0A@a.test,mailto:e@a.test?subject=x", &r, &err), 1);
	CHECK_INTEQ(r.nrua, 2);
	CHECK_STREQ(r.rua[0], "mailto:\"dmarc,r!x\"@a.test");
	CHECK_STREQ(r.rua[1], "mailto:e@a.test");
}

static void
test_walk(void)
{
	const char *names[DMARC_WALK_MAX];

	CHECK_INTEQ(dmarc_walk("a.b.example.com", names), 4);
	CHECK_STREQ(names[0], "a.b.example.com");
	CHECK_STREQ(names[1], "b.example.com");
	CHECK_STREQ(names[3], "com");
	/* 9 labels: the second query has 7 (4.10.1), 8 in all */
	CHECK_INTEQ(dmarc_walk("a.b.c.d.e.f.g.h.test", names), 8);
	CHECK_STREQ(names[1], "c.d.e.f.g.h.test");
	CHECK_STREQ(names[7], "test");
	CHECK_INTEQ(dmarc_walk("test", names), 1);
	CHECK_INTEQ(dmarc_walk("", names), 0);
	CHECK_INTEQ(dmarc_walk("a..b", names), 0);
	CHECK_INTEQ(dmarc_walk(".a", names), 0);
}

static void
test_org_domain(void)
{
	struct dmarc_record org = { .p = DMARC_P_REJECT }, psd_y = { .p =
	    DMARC_P_NONE, .psd = DMARC_PSD_Y }, psd_n = { .p = DMARC_P_NONE,
	    .psd = DMARC_PSD_N };
	struct dmarc_walked w;

	memset(&w, 0, sizeof(w));
	w.n = dmarc_walk("mail.dept.example.test", w.names);
	CHECK_INTEQ(w.n, 4);
	/* no record anywhere: the domain itself */
	CHECK_STREQ(dmarc_org_domain(&w), "mail.dept.example.test");
	CHECK_INTEQ(dmarc_policy_domain(&w), -1);
	/* a record at example.test: the one with the fewest labels */
	w.recs[2] = &org;
	CHECK_STREQ(dmarc_org_domain(&w), "example.test");
	CHECK_INTEQ(dmarc_policy_domain(&w), 2);
	w.recs[1] = &org;
	CHECK_STREQ(dmarc_org_domain(&w), "example.test");
	CHECK_INTEQ(dmarc_policy_domain(&w), 1);
	/* psd=n at dept: that is the organization */
	w.recs[1] = &psd_n;
	CHECK_STREQ(dmarc_org_domain(&w), "dept.example.test");
	/* a public suffix domain's psd=y: one label below it */
	w.recs[1] = NULL;
	w.recs[2] = NULL;
	w.recs[3] = &psd_y;
	CHECK_STREQ(dmarc_org_domain(&w), "example.test");
	w.recs[2] = &psd_y;
	CHECK_STREQ(dmarc_org_domain(&w), "dept.example.test");
	/* psd=y at the starting name itself is passed over */
	memset(&w, 0, sizeof(w));
	w.n = dmarc_walk("example.test", w.names);
	w.recs[0] = &psd_y;
	CHECK_STREQ(dmarc_org_domain(&w), "example.test");
}

static void
test_alignment_and_policy(void)
{
	struct dmarc_record r = { .p = DMARC_P_REJECT, .sp = DMARC_P_QUARANTINE,
	    .np = DMARC_P_NONE };

	CHECK(dmarc_aligned("mail.example.test", "example.test",
	    "example.test", "example.test", false));
	CHECK(!dmarc_aligned("mail.example.test", "example.test",
	    "example.test", "example.test", true));
	CHECK(dmarc_aligned("Example.Test", "example.test", "example.test",
	    "example.test", true));
	CHECK(!dmarc_aligned("a.test", "a.test", "b.test", "b.test", false));
	CHECK(!dmarc_aligned("", "", "", "", false));
	CHECK_INTEQ(dmarc_applied(&r, "example.test", "example.test", true),
	    DMARC_P_REJECT);
	CHECK_INTEQ(dmarc_applied(&r, "a.example.test", "example.test", true),
	    DMARC_P_QUARANTINE);
	CHECK_INTEQ(dmarc_applied(&r, "a.example.test", "example.test", false),
	    DMARC_P_NONE);
	r.sp = DMARC_P_UNSET;
	r.np = DMARC_P_UNSET;
	CHECK_INTEQ(dmarc_applied(&r, "a.example.test", "example.test", false),
	    DMARC_P_REJECT);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_record),
		TEST(test_walk),
		TEST(test_org_domain),
		TEST(test_alignment_and_policy),
		{ NULL, NULL },
	};
	return test_run(tests);
}
