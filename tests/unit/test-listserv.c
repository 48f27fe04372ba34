/* test-listserv - the copies of a list post (src/listserv/listmsg.c) */
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "listmsg.h"
#include "test.h"
#include "xalloc.h"

static const struct listmsg_opts opts = {
	.list_address = "news@acme.test", .description = "Acme \"news\"",
	.subject_prefix = "[news]", .footer = "--\nleave: news-unsubscribe@acme.test",
	.reply_to_list = true,
};

static char *
copy_of(const char *msg, const struct listmsg_opts *o, bool *footer_r)
{
	struct listmsg m;
	struct buf out;
	const char *err;
	if (listmsg_prepare(msg, strlen(msg), o, &m, &err) < 0)
		return NULL;
	buf_init(&out, 0);
	listmsg_copy(&m, "news-unsubscribe+0123456789abcdef0123@acme.test", NULL, &out);
	if (footer_r != NULL)
		*footer_r = m.footer_added;
	listmsg_free(&m);
	return buf_steal(&out);
}

static void
test_headers(void)
{
	const char *msg = "From: a@b.test\r\nTo: news@acme.test\r\n"
	    "Subject: hello\r\n world\r\nList-Id: <other.list>\r\n"
	    "Reply-To: a@b.test\r\nPrecedence: bulk\r\n"
	    "Delivered-To: x@acme.test\r\n\r\nbody\r\n";
	bool f = false;
	char *c = copy_of(msg, &opts, &f);
	CHECK(c != NULL);
	CHECK(strstr(c, "Subject: [news] hello\r\n world\r\n") != NULL);
	CHECK(strstr(c, "List-Id: \"Acme news\" <news.acme.test>\r\n") != NULL);
	CHECK(strstr(c, "other.list") == NULL);
	CHECK(strstr(c, "Precedence: list\r\n") != NULL);
	CHECK(strstr(c, "Precedence: bulk") == NULL);
	CHECK(strstr(c, "Delivered-To") == NULL);
	CHECK(strstr(c, "Reply-To: <news@acme.test>\r\n") != NULL);
	CHECK(strstr(c, "Reply-To: a@b.test") == NULL);
	CHECK(strstr(c, "List-Post: <mailto:news@acme.test>\r\n") != NULL);
	CHECK(strstr(c, "List-Help: <mailto:news-request@acme.test?subject=help>") != NULL);
	CHECK(strstr(c, "List-Unsubscribe: <mailto:news-unsubscribe+0123456789abcdef0123"
	    "@acme.test?subject=unsubscribe>\r\n\r\nbody\r\n--\r\nleave: "
	    "news-unsubscribe@acme.test\r\n") != NULL);
	CHECK(strstr(c, "List-Unsubscribe-Post") == NULL);
	CHECK(f);
	free(c);
	/* the prefix only once, a missing subject gets one */
	c = copy_of("Subject: Re: [NEWS] hi\r\n\r\nx", &opts, NULL);
	CHECK(c != NULL && strstr(c, "Subject: Re: [NEWS] hi\r\n") != NULL);
	free(c);
	c = copy_of("From: a@b.test\r\n\r\nx", &opts, NULL);
	CHECK(c != NULL && strstr(c, "Subject: [news]\r\n") != NULL);
	free(c);
}

static void
test_one_click(void)
{
	struct listmsg m;
	struct buf out;
	const char *err;
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	CHECK(listmsg_prepare(msg, strlen(msg), &opts, &m, &err) == 0);
	buf_init(&out, 0);
	listmsg_copy(&m, "u@acme.test", "https://acme.test/u?k=1", &out);
	CHECK(strstr(out.data, "List-Unsubscribe: <https://acme.test/u?k=1>,\r\n "
	    "<mailto:u@acme.test?subject=unsubscribe>\r\n") != NULL);
	CHECK(strstr(out.data, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") != NULL);
	buf_free(&out);
	listmsg_free(&m);
}

static void
test_footer_mime(void)
{
	const char *mixed = "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/mixed; boundary=\"BB\"\r\n\r\npre\r\n--BB\r\n"
	    "Content-Type: text/plain\r\n\r\nhi\r\n--BB--\r\nepilogue\r\n";
	bool f = false;
	char *c = copy_of(mixed, &opts, &f);
	CHECK(f);
	CHECK(c != NULL && strstr(c, "hi\r\n--BB\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n") != NULL);
	CHECK(c != NULL && strstr(c, "\r\n--BB--\r\nepilogue\r\n") != NULL);
	/* base64 of "--\r\nleave: ..." */
	CHECK(c != NULL && strstr(c, "LS0NCmxlYXZl") != NULL);
	free(c);
	/* a base64 text or a signed message is left alone */
	const char *b64 = "Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n";
	c = copy_of(b64, &opts, &f);
	CHECK(!f);
	CHECK(c != NULL && strstr(c, "\r\n\r\naGk=\r\n") != NULL);
	free(c);
	const char *signed_ = "Subject: x\r\nContent-Type: multipart/signed; "
	    "boundary=S\r\n\r\n--S\r\n\r\na\r\n--S--\r\n";
	c = copy_of(signed_, &opts, &f);
	CHECK(!f);
	free(c);
	/* a UTF-8 footer needs a UTF-8 8bit text */
	struct listmsg_opts u = opts;
	u.footer = "caf\xc3\xa9";
	c = copy_of("Subject: x\r\n\r\nbody", &u, &f);
	CHECK(!f);
	free(c);
	c = copy_of("Subject: x\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\nbody", &u, &f);
	CHECK(f && c != NULL && strstr(c, "body\r\ncaf\xc3\xa9\r\n") != NULL);
	free(c);
}

static void
test_list_id_loop(void)
{
	const char *m = "From: a@b\r\nList-Id: Acme <news.acme.test>\r\n\r\nx";
	CHECK(listmsg_has_list_id(m, strlen(m), "news.acme.test"));
	CHECK(!listmsg_has_list_id(m, strlen(m), "news.acme.tes"));
	char *v = listmsg_header_value(m, strlen(m), "from");
	CHECK_STREQ(v, "a@b");
	free(v);
}

static const char dsn_head[] =
    "From: MAILER-DAEMON@mx.remote.test\r\n"
    "Content-Type: multipart/report; report-type=\"delivery-status\";\r\n"
    "\tboundary=\"B\"\r\nMIME-Version: 1.0\r\n\r\n"
    "--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\n";

static void
parse(const char *status_part, struct bounce_report *r)
{
	char *m = xasprintf("%s%s\r\n--B--\r\n", dsn_head, status_part);
	bounce_parse(m, strlen(m), r);
	free(m);
}

static void
test_bounce_dsn(void)
{
	struct bounce_report r;
	/* two recipients, one failed (folded field), one delayed */
	parse("Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.remote.test\r\n\r\n"
	    "Final-Recipient: rfc822;\r\n far@remote.test\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n\r\n"
	    "Final-Recipient: rfc822; slow@remote.test\r\n"
	    "Action: delayed\r\nStatus: 4.4.1\r\n", &r);
	CHECK(r.dsn);
	CHECK_INTEQ(r.nrcpts, 2);
	CHECK_INTEQ(r.nfailed, 1);
	CHECK_STREQ(r.failed[0], "far@remote.test");
	bounce_report_free(&r);
	/* base64 status part, LF only, global-delivery-status */
	parse("Content-Type: message/global-delivery-status\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    /* "Final-Recipient: rfc822; a@b.test\nAction: Failed\n" */
	    "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAYi50ZXN0CkFjdGlvbjogRmFpbGVkCg==\r\n",
	    &r);
	CHECK(r.dsn);
	CHECK_INTEQ(r.nfailed, 1);
	CHECK_STREQ(r.failed[0], "a@b.test");
	bounce_report_free(&r);
	/* a delay only */
	parse("Content-Type: message/delivery-status\r\n\r\n"
	    "Final-Recipient: rfc822; slow@remote.test\r\nAction: delayed\r\n",
	    &r);
	CHECK(r.dsn);
	CHECK_INTEQ(r.nfailed, 0);
	bounce_report_free(&r);
	/* a read receipt is no bounce */
	const char *mdn = "Content-Type: multipart/report; "
	    "report-type=disposition-notification; boundary=B\r\n\r\n--B\r\n"
	    "Content-Type: message/disposition-notification\r\n\r\n"
	    "Final-Recipient: rfc822; far@remote.test\r\nAction: failed\r\n"
	    "\r\n--B--\r\n";
	bounce_parse(mdn, strlen(mdn), &r);
	CHECK(r.report);
	CHECK(!r.dsn);
	CHECK_INTEQ(r.nfailed, 0);
	bounce_report_free(&r);
	/* a plain message that quotes DSN fields */
	const char *plain = "Subject: x\r\n\r\nFinal-Recipient: rfc822; far@"
	    "remote.test\r\nAction: failed\r\n";
	bounce_parse(plain, strlen(plain), &r);
	CHECK(!r.report);
	CHECK(!r.dsn);
	CHECK_INTEQ(r.nfailed, 0);
	bounce_report_free(&r);
	/* an over-long field is ignored, not cut */
	char *big = xmalloc(3000);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	char *part = xasprintf("Content-Type: message/delivery-status\r\n\r\n"
	    "Final-Recipient: rfc822; %s@x.test\r\nAction: failed\r\n", big);
	parse(part, &r);
	CHECK(r.dsn);
	CHECK_INTEQ(r.nfailed, 0);
	bounce_report_free(&r);
	free(part);
	free(big);
}

static void
test_bounce_probe_token(void)
{
	unsigned char key[32], other[32];
	char tok[BOUNCE_PROBE_LEN + 1], tok2[BOUNCE_PROBE_LEN + 1];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	bounce_probe_token(key, sizeof(key), 3, "Ghost@Acme.test", 1700000000, tok);
	CHECK_INTEQ(strlen(tok), BOUNCE_PROBE_LEN);
	CHECK(tok[0] == 'p');
	CHECK_INTEQ(bounce_probe_time(tok), 1700000000);
	CHECK(bounce_probe_ok(key, sizeof(key), 3, "ghost@acme.test", tok));
	CHECK(!bounce_probe_ok(key, sizeof(key), 4, "ghost@acme.test", tok));
	CHECK(!bounce_probe_ok(key, sizeof(key), 3, "alice@acme.test", tok));
	CHECK(!bounce_probe_ok(other, sizeof(other), 3, "ghost@acme.test", tok));
	/* another time, another token */
	bounce_probe_token(key, sizeof(key), 3, "ghost@acme.test", 1700000001, tok2);
	CHECK(strcmp(tok, tok2) != 0);
	/* forged: right time, wrong MAC */
	memcpy(tok2, tok, sizeof(tok));
	tok2[BOUNCE_PROBE_LEN - 1] = tok2[BOUNCE_PROBE_LEN - 1] == '0' ? '1' : '0';
	CHECK(!bounce_probe_ok(key, sizeof(key), 3, "ghost@acme.test", tok2));
	CHECK_INTEQ(bounce_probe_time("ghost=acme.test"), 0);
	CHECK_INTEQ(bounce_probe_time("P0123456789abcdef01234567"), 0);
	CHECK_INTEQ(bounce_probe_time("p0123456789abcdef0123456"), 0);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_headers),
		TEST(test_one_click),
		TEST(test_footer_mime),
		TEST(test_list_id_loop),
		TEST(test_bounce_dsn),
		TEST(test_bounce_probe_token),
		{ NULL, NULL },
	};
	return test_run(tests);
}
