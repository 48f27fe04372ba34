/* test-listserv - the copies of a list post (src/listserv/listmsg.c) */
#include <stdlib.h>
#include <string.h>

#include "listmsg.h"
#include "test.h"

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

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_headers),
		TEST(test_one_click),
		TEST(test_footer_mime),
		TEST(test_list_id_loop),
		{ NULL, NULL },
	};
	return test_run(tests);
}
