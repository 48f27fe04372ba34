/* test-downgrade - the 8BITMIME downgrade of smtp-out (out-8bit.h) */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "out-8bit.h"
#include "test.h"

static char *
qp(const char *in)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INTEQ(qp_encode(in, strlen(in), &b), 0);
	char *s = strdup(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static void
test_qp(void)
{
	char *s;

	/* literal text, '=' and 8-bit bytes encoded, CRLF kept */
	CHECK_STREQ(s = qp("a=b \xc3\xbc\r\nnext"), "a=3Db =C3=BC\r\nnext");
	free(s);
	/* a blank ending a line (or the text) is encoded */
	CHECK_STREQ(s = qp("end \r\ntab\t"), "end=20\r\ntab=09");
	free(s);
	/* bare LF becomes CRLF */
	CHECK_STREQ(s = qp("x\ny"), "x\r\ny");
	free(s);
	/* soft breaks keep lines under 77 characters, never splitting =XX */
	char in[200];
	memset(in, 'a', 100);
	memcpy(in + 73, "\xff", 1);
	in[100] = '\0';
	s = qp(in);
	CHECK(strstr(s, "=\r\n") != NULL);
	for (char *l = s; l != NULL; ) {
		char *nl = strstr(l, "\r\n");
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		CHECK(n <= 76);
		l = nl ? nl + 2 : NULL;
	}
	CHECK(strstr(s, "=F\r\n") == NULL && strstr(s, "=FF") != NULL);
	free(s);
}

static void
test_message(void)
{
	static const char msg[] =
	    "From: a@x.test\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8BIT\r\n\r\n"
	    "K\xc3\xb6ln\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nascii\r\n"
	    "--b--\r\n";
	struct buf b;

	buf_init(&b, 0);
	CHECK_INTEQ(downgrade_8bit(msg, strlen(msg), &b), 1);
	CHECK(b.data != NULL);
	for (size_t i = 0; i < b.len; i++)
		CHECK((unsigned char)b.data[i] < 0x80);
	/* the container says 7bit, the part quoted-printable, once */
	CHECK(strstr(b.data, "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n--b\r\n") != NULL);
	CHECK(strstr(b.data, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=B6ln") != NULL);
	CHECK(strstr(b.data, "8BIT") == NULL && strstr(b.data, "8bit") == NULL);
	/* the ASCII part and the end are kept as they were */
	CHECK(strstr(b.data, "--b\r\nContent-Type: text/plain\r\n\r\nascii\r\n"
	    "--b--\r\n") != NULL);
	buf_free(&b);
	/* nothing 8-bit: nothing to do */
	buf_init(&b, 0);
	static const char plain[] = "Subject: x\r\n\r\nhi\r\n";
	CHECK_INTEQ(downgrade_8bit(plain, strlen(plain), &b), 0);
	CHECK_INTEQ(b.len, 0);
	/* 8-bit only in the header: not ours to change (SMTPUTF8) */
	static const char hdr8[] = "Subject: \xc3\xbc\r\n\r\nhi\r\n";
	CHECK_INTEQ(downgrade_8bit(hdr8, strlen(hdr8), &b), 0);
	CHECK_INTEQ(b.len, 0);
	/* a limit too small: -1, never a partial message */
	buf_free(&b);
	buf_init(&b, 20);
	CHECK_INTEQ(downgrade_8bit(msg, strlen(msg), &b), -1);
	buf_free(&b);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_qp),
		TEST(test_message),
		{ NULL, NULL },
	};
	return test_run(tests);
}
