/* test-filter - lib-filter's parsers: clamd answers, the milter list
 * setting, milter packets (framed a byte at a time), header edits; the
 * spam verdict and the fields smtpd keeps for the MTA */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clamd.h"
#include "milter.h"
#include "test.h"
#include "verdict.h"
#include "xalloc.h"

static void
test_clamd_reply(void)
{
	char v[64];
	const char *err = NULL;

	CHECK_INTEQ(clamd_reply_parse("stream: OK", v, sizeof(v), &err), CLAMD_CLEAN);
	CHECK_INTEQ(clamd_reply_parse("stream: Eicar-Test-Signature FOUND", v,
	    sizeof(v), &err), CLAMD_FOUND);
	CHECK_STREQ(v, "Eicar-Test-Signature");
	CHECK_INTEQ(clamd_reply_parse("1: stream: X.Y FOUND", v, sizeof(v), &err),
	    CLAMD_FOUND);
	CHECK_STREQ(v, "X.Y");
	CHECK_INTEQ(clamd_reply_parse("INSTREAM size limit exceeded. ERROR", v,
	    sizeof(v), &err), CLAMD_ERROR);
	CHECK(strstr(err, "StreamMaxLength") != NULL);
	CHECK_INTEQ(clamd_reply_parse("stream: FOUND", v, sizeof(v), &err),
	    CLAMD_ERROR);
	CHECK_INTEQ(clamd_reply_parse("", v, sizeof(v), &err), CLAMD_ERROR);
	CHECK_INTEQ(clamd_reply_parse("OK", v, sizeof(v), &err), CLAMD_ERROR);
	/* a long name is cut to the buffer */
	char small[4];
	CHECK_INTEQ(clamd_reply_parse("stream: ABCDEFG FOUND", small,
	    sizeof(small), &err), CLAMD_FOUND);
	CHECK_STREQ(small, "ABC");
}

static void
test_milter_spec(void)
{
	struct milter_spec *v;
	size_t n;
	const char *err;

	CHECK(milter_spec_parse(" unix:/run/a.sock , inet:127.0.0.1:11332;"
	    "timeout=2m;default=accept,inet:[::1]:9;default=reject", &v, &n,
	    &err) == 0);
	CHECK_INTEQ(n, 3);
	if (n == 3) {
		CHECK_STREQ(v[0].addr, "unix:/run/a.sock");
		CHECK_INTEQ(v[0].timeout_s, 30);
		CHECK_INTEQ(v[0].dflt, MILTER_DEF_TEMPFAIL);
		CHECK_INTEQ(v[1].timeout_s, 120);
		CHECK_INTEQ(v[1].dflt, MILTER_DEF_ACCEPT);
		CHECK_INTEQ(v[2].dflt, MILTER_DEF_REJECT);
	}
	milter_spec_free(v, n);
	CHECK(milter_spec_parse("", &v, &n, &err) == 0 && n == 0);
	milter_spec_free(v, n);
	static const char *const bad[] = { "tcp:1.2.3.4:5", "inet:host",
	    "unix:/a;timeout=0", "unix:/a;default=maybe", "unix:/a;x=1",
	    "/no/prefix", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		CHECK(milter_spec_parse(bad[i], &v, &n, &err) < 0);
		CHECK(v == NULL && n == 0);
	}
}

/* pkt - a framed packet into out, returns its length */
static size_t
pkt(uint8_t *out, char cmd, const void *data, size_t len)
{
	uint32_t be = htonl((uint32_t)(len + 1));
	memcpy(out, &be, 4);
	out[4] = (uint8_t)cmd;
	memcpy(out + 5, data, len);
	return len + 5;
}

static void
test_milter_frame(void)
{
	uint8_t b[64];
	uint32_t plen;
	const char *err;
	size_t n = pkt(b, 'y', "550 5.7.1 no\0", 13);

	/* incomplete until the last byte */
	for (size_t i = 0; i < n; i++)
		CHECK_INTEQ(milter_frame(b, i, &plen, &err), 0);
	CHECK_INTEQ(milter_frame(b, n, &plen, &err), 1);
	CHECK_INTEQ(plen, 14);
	struct milter_reply r;
	CHECK(milter_reply_parse(b + 4, plen, &r, &err) == 0);
	CHECK_INTEQ(r.kind, MR_REPLYCODE);
	CHECK_STREQ(r.value, "550 5.7.1 no");
	uint32_t huge = htonl(MILTER_PACKET_MAX + 1), zero = 0;
	CHECK_INTEQ(milter_frame((uint8_t *)&huge, 4, &plen, &err), -1);
	CHECK_INTEQ(milter_frame((uint8_t *)&zero, 4, &plen, &err), -1);
	/* malformed answers */
	CHECK(milter_reply_parse((const uint8_t *)"y250 ok", 8, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"hName", 5, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"hBad:Name\0v", 12, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"m\0\0", 3, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"Z", 1, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"+\0", 2, &r, &err) < 0);
	CHECK(milter_reply_parse((const uint8_t *)"O\0\0\0\6", 5, &r, &err) < 0);
}

static void
test_milter_header_apply(void)
{
	static const char hdr[] = "Received: x\r\n\ty\r\nSubject: one\r\n"
	    "To: a\r\nSubject: two\r\n\r\n";
	struct milter_mods m;
	struct milter_reply r;
	const char *err;
	struct buf out;

	milter_mods_init(&m);
	memset(&r, 0, sizeof(r));
	r.kind = MR_CHGHEADER;
	r.index = 2;
	r.name = "subject";
	r.value = "second\nfolded";
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	r.kind = MR_CHGHEADER;
	r.index = 1;
	r.name = "To";
	r.value = "";
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	r.kind = MR_INSHEADER;
	r.index = 0;
	r.name = "X-Top";
	r.value = "1";
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	r.kind = MR_ADDHEADER;
	r.name = "X-End";
	r.value = "2";
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	buf_init(&out, 0);
	milter_header_apply(hdr, sizeof(hdr) - 1, &m, &out);
	CHECK_STREQ(out.data, "X-Top: 1\r\nReceived: x\r\n\ty\r\n"
	    "Subject: one\r\nsubject: second\r\n\tfolded\r\nX-End: 2\r\n\r\n");
	buf_free(&out);
	/* envelope changes keep plain addresses; bad ones refused */
	r.kind = MR_ADDRCPT;
	r.name = "<bob@acme.test>";
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	CHECK_STREQ(m.addrcpt[0], "bob@acme.test");
	r.name = "<a b@c>";
	CHECK(milter_mods_add(&m, &r, &err) < 0);
	r.kind = MR_REPLBODY;
	r.data = (const uint8_t *)"a\nb\r\n";
	r.len = 5;
	CHECK(milter_mods_add(&m, &r, &err) == 0);
	CHECK(m.body_replaced && m.body.len == 6 &&
	    memcmp(m.body.data, "a\r\nb\r\n", 6) == 0);
	milter_mods_free(&m);
}

static void
test_spam_verdict(void)
{
	struct spam_config cfg = { .enabled = true, .reject = 15, .junk = 6 };
	struct spam_result res = { .score = 5.99, .required = 15 };
	char why[200] = "";
	struct buf f;

	snprintf(res.action, sizeof(res.action), "no action");
	buf_init(&f, 0);
	CHECK(!spam_verdict(&cfg, &res, &f, why, sizeof(why)));
	CHECK(strstr(f.data, "X-Spam-Score: 5.99 / 15.00\r\n") == f.data);
	CHECK(strstr(f.data, "X-Spam-Status: No, score=5.99") != NULL);
	CHECK(strstr(f.data, "X-Spam-Symbols") == NULL);
	buf_reset(&f);
	res.score = 6;       /* the Junk score itself: Yes */
	snprintf(res.symbols, sizeof(res.symbols), "A(6.00)");
	CHECK(!spam_verdict(&cfg, &res, &f, why, sizeof(why)));
	CHECK(strstr(f.data, "X-Spam-Status: Yes") != NULL);
	CHECK(strstr(f.data, "X-Spam-Symbols: A(6.00)\r\n") != NULL);
	buf_reset(&f);
	res.score = 15;      /* the reject score itself: refused */
	CHECK(spam_verdict(&cfg, &res, &f, why, sizeof(why)));
	CHECK(strstr(why, "reaches the reject score 15") != NULL);
	buf_reset(&f);
	cfg.reject = 0;      /* never */
	res.score = 1000;
	CHECK(!spam_verdict(&cfg, &res, &f, why, sizeof(why)));
	buf_free(&f);
}

static void
test_spam_fields(void)
{
	char dir[] = "/tmp/test-filter-XXXXXX";
	const char *err = NULL;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(spam_fields_save(dir, "Q1", "X-Spam-Score: 1.00 / 15.00\r\n",
	    &err) == 0);
	char *f = spam_fields_take(dir, "Q1");
	CHECK(f != NULL && strcmp(f, "X-Spam-Score: 1.00 / 15.00\r\n") == 0);
	free(f);
	CHECK(spam_fields_take(dir, "Q1") == NULL);     /* taken once */
	CHECK(spam_fields_save(dir, "Q2", "", &err) == 0);
	f = spam_fields_take(dir, "Q2");                /* asked, no answer */
	CHECK(f != NULL && *f == '\0');
	free(f);
	/* what is not an X-Spam-* block is not used */
	CHECK(spam_fields_save(dir, "Q3", "Received: x\r\n", &err) == 0);
	CHECK(spam_fields_take(dir, "Q3") == NULL);
	CHECK(spam_fields_save(dir, "Q4", "X-Spam-Score: 1\r\nX-Bad\r\n",
	    &err) == 0);
	CHECK(spam_fields_take(dir, "Q4") == NULL);
	CHECK(spam_fields_save(dir, "Q5", "X-Spam-Score: 1", &err) == 0);
	CHECK(spam_fields_take(dir, "Q5") == NULL);
	CHECK(spam_fields_save(dir, "../x", "X-Spam-A: 1\r\n", &err) < 0);
	CHECK(spam_fields_take(dir, "../x") == NULL);
	CHECK(spam_fields_save(dir, "Q6", "X-Spam-A: 1\r\n", &err) == 0);
	spam_fields_expire(dir, -1);                    /* all of them */
	CHECK(spam_fields_take(dir, "Q6") == NULL);
	char *sub = xasprintf("%s/spamverdict", dir);
	CHECK(rmdir(sub) == 0 && rmdir(dir) == 0);
	free(sub);
}

int
main(void)
{
	static const struct test t[] = {
		TEST(test_clamd_reply), TEST(test_milter_spec),
		TEST(test_milter_frame), TEST(test_milter_header_apply),
		TEST(test_spam_verdict), TEST(test_spam_fields),
		{ 0 },
	};
	return test_run(t);
}
