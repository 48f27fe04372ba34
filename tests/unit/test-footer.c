/* test-footer - footer_apply: plain, HTML before </body>, broken HTML,
 * quoted-printable and base64 parts re-encoded, alternative, attachment
 * only (wrapped), charsets, signed messages untouched */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "footer.h"
#include "mime.h"
#include "test.h"

static char *
apply(const char *msg, const char *text, const char *html, int *res)
{
	struct buf out;
	buf_init(&out, 0);
	*res = (int)footer_apply(msg, strlen(msg), text, html, &out);
	return out.data ? out.data : strdup("");
}

static void
test_footer_plain(void)
{
	int r;
	char *o = apply("Subject: x\r\n\r\nhello", "Foot\nline", "", &r);
	CHECK_INTEQ(r, FOOTER_EDITED);
	CHECK_STREQ(o, "Subject: x\r\n\r\nhello\r\n\r\nFoot\r\nline\r\n");
	free(o);
	o = apply("Subject: x\r\n\r\nhello\r\n", "", "", &r);
	CHECK_INTEQ(r, FOOTER_NONE);
	free(o);
}

static void
test_footer_html(void)
{
	int r;
	char *o = apply("Content-Type: text/html\r\n\r\n<html><BODY>hi</BODY></html>\r\n",
	    "", "<p>F</p>", &r);
	CHECK_INTEQ(r, FOOTER_EDITED);
	CHECK(strstr(o, "hi<p>F</p>\r\n</BODY></html>") != NULL);
	free(o);
	/* broken: no </body>, no </html> -> at the end */
	o = apply("Content-Type: text/html\r\n\r\n<div>unclosed", "a<b", "", &r);
	CHECK(strstr(o, "<div>unclosed\r\n<div class=\"postern-footer\">a&lt;b</div>")
	    != NULL);
	free(o);
}

static void
test_footer_encoded(void)
{
	int r;
	char *o = apply("Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n", "F\xc3\xa9", "", &r);
	CHECK_INTEQ(r, FOOTER_EDITED);
	/* "hi\r\n\r\nFé\r\n" */
	CHECK(strstr(o, "\r\n\r\naGkNCg0KRsOpDQo=\r\n") != NULL);
	free(o);
	o = apply("Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n",
	    "x=y \xc3\xa9", "", &r);
	CHECK(strstr(o, "a=3Db\r\n\r\nx=3Dy =C3=A9\r\n") != NULL);
	free(o);
}

static void
test_footer_wrap(void)
{
	int r;
	/* a 7bit us-ascii body cannot take a UTF-8 footer */
	char *o = apply("Subject: s\r\n\r\nbody\r\n", "\xc3\xa9", "", &r);
	CHECK_INTEQ(r, FOOTER_WRAPPED);
	CHECK(strstr(o, "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/mixed;") != NULL);
	CHECK(strstr(o, "charset=utf-8\r\nContent-Disposition: inline\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nw6kNCg==") != NULL);
	free(o);
	/* attachment only: wrapped, the original part kept with its fields */
	o = apply("MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n", "F", "", &r);
	CHECK_INTEQ(r, FOOTER_WRAPPED);
	CHECK(strstr(o, "Content-Type: application/pdf\r\nContent-Transfer-"
	    "Encoding: base64\r\n\r\nAAAA\r\n") != NULL);
	struct mime_message m;
	mime_parse(&m, o, strlen(o));
	CHECK(m.root.multipart && m.root.nchildren == 2);
	mime_free(&m);
	free(o);
	/* signed: never edited inside */
	o = apply("Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: text/plain\r\n\r\nsigned text\r\n--b\r\n"
	    "Content-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n",
	    "F", "", &r);
	CHECK_INTEQ(r, FOOTER_WRAPPED);
	CHECK(strstr(o, "signed text\r\n--b\r\n") != NULL);
	free(o);
}

static void
test_footer_alternative(void)
{
	int r;
	char *o = apply("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\n"
	    "Content-Type: text/html\r\n\r\n<body>h</body>\r\n--b--\r\n",
	    "T", "<i>H</i>", &r);
	CHECK_INTEQ(r, FOOTER_EDITED);
	CHECK(strstr(o, "plain\r\n\r\nT\r\n\r\n--b\r\n") != NULL);
	CHECK(strstr(o, "<body>h<i>H</i>\r\n</body>\r\n--b--") != NULL);
	free(o);
}

/* a base64 body that does not decode cleanly is not re-encoded (a
 * lenient decode drops bytes): the message is wrapped, every byte kept;
 * found by fuzz-footer */
static void
test_footer_bad_base64_kept(void)
{
	int r;
	const char *body = "AAAA\r\n--x=_junk-159 after padding\r\nmore text\r\n";
	char msg[256];
	snprintf(msg, sizeof(msg), "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s", body);
	char *o = apply(msg, "Foot", "", &r);
	CHECK_INTEQ(r, FOOTER_WRAPPED);
	CHECK(strstr(o, body) != NULL);
	free(o);
	/* clean base64 with padding is still edited */
	o = apply("Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n", "F", "", &r);
	CHECK_INTEQ(r, FOOTER_EDITED);
	free(o);
}

int
main(void)
{
	static const struct test t[] = {
		TEST(test_footer_plain), TEST(test_footer_html),
		TEST(test_footer_encoded), TEST(test_footer_wrap),
		TEST(test_footer_alternative), TEST(test_footer_bad_base64_kept),
		{ 0 },
	};
	return test_run(t);
}
