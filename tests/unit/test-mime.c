/* test-mime - the MIME tree, offsets, ENVELOPE, BODYSTRUCTURE, decoders */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "test.h"

static const char simple[] =
	"From: \"Alice A.\" <alice@acme.test>\r\n"
	"To: bob@acme.test, Team: carol@x.test, <dave@y.test>;\r\n"
	"Subject: =?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?4A==?=\r\n"
	" folded\r\n"
	"Date: Mon, 23 Nov 2026 23:07:47 +0100\r\n"
	"Message-ID: <m1@acme.test>\r\n"
	"\r\n"
	"Hello\r\n"
	"world\r\n";

static const char multi[] =
	"From: a@b.test\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=E9 =\r\n"
	"ok\r\n"
	"--XX\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
	"\r\n"
	"AAEC\r\n"
	"--XX\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"\r\n"
	"in\r\n"
	"--XX--\r\n"
	"epilogue\r\n";

static void
test_simple(void)
{
	struct mime_message m;
	struct buf b;

	mime_parse(&m, simple, strlen(simple));
	buf_init(&b, 0);
	CHECK_INTEQ(m.root.body_len, 14);
	CHECK_INTEQ(m.root.body_lines, 2);
	CHECK(memcmp(simple + m.root.body_start, "Hello", 5) == 0);
	CHECK(mime_header_get(simple, 0, m.root.hdr_len, "subject", &b) == 1);
	CHECK_STREQ(b.data, "=?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?4A==?= folded");
	struct buf u;
	buf_init(&u, 0);
	mime_decode_words(b.data, b.len, &u);
	CHECK_STREQ(u.data, "caf\xc3\xa9\xc3\xa0 folded");
	buf_free(&u);
	buf_reset(&b);
	mime_envelope(simple, 0, m.root.hdr_len, &b);
	CHECK_STREQ(b.data, "(\"Mon, 23 Nov 2026 23:07:47 +0100\" "
	    "\"=?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?4A==?= folded\" "
	    "((\"Alice A.\" NIL \"alice\" \"acme.test\")) "
	    "((\"Alice A.\" NIL \"alice\" \"acme.test\")) "
	    "((\"Alice A.\" NIL \"alice\" \"acme.test\")) "
	    "((NIL NIL \"bob\" \"acme.test\")(NIL NIL \"Team\" NIL)"
	    "(NIL NIL \"carol\" \"x.test\")(NIL NIL \"dave\" \"y.test\")"
	    "(NIL NIL NIL NIL)) NIL NIL NIL \"<m1@acme.test>\")");
	buf_reset(&b);
	mime_bodystructure(simple, &m.root, true, &b);
	CHECK_STREQ(b.data, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 14 2 NIL NIL NIL NIL)");
	buf_reset(&b);
	mime_bodystructure(simple, &m.root, false, &b);
	CHECK_STREQ(b.data, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 14 2)");
	buf_free(&b);
	mime_free(&m);
}

static void
test_multipart(void)
{
	struct mime_message m;
	struct buf b;
	static const unsigned p1[] = { 1 }, p2[] = { 2 }, p3[] = { 3 },
	    p31[] = { 3, 1 };

	mime_parse(&m, multi, strlen(multi));
	buf_init(&b, 0);
	CHECK(m.root.multipart);
	CHECK_INTEQ(m.root.nchildren, 3);
	const struct mime_part *a = mime_part_find(&m, p1, 1);
	CHECK(a != NULL && strcmp(a->subtype, "plain") == 0);
	static const unsigned p11[] = { 1, 1 }, p32[] = { 3, 2 };
	CHECK(mime_part_find(&m, p11, 2) == NULL);  /* a leaf has no 1.1 */
	CHECK(mime_part_find(&m, p32, 2) == NULL);
	CHECK(memcmp(multi + a->body_start, "caf=E9 =\r\nok", 12) == 0);
	CHECK_INTEQ(a->body_len, 12);
	mime_part_text(multi, a, &b);
	CHECK_STREQ(b.data, "caf\xc3\xa9 ok");
	buf_reset(&b);
	const struct mime_part *bin = mime_part_find(&m, p2, 1);
	CHECK(mime_decode_body(multi, bin, &b) == 0);
	CHECK_INTEQ(b.len, 3);
	CHECK(memcmp(b.data, "\0\1\2", 3) == 0);
	/* the decoded sizes (JMAP's EmailBodyPart size), without a copy */
	CHECK_INTEQ(mime_decoded_size(multi, bin), 3);
	CHECK_INTEQ(mime_decoded_size(multi, a), 7);      /* "caf\xe9 ok" */
	CHECK_INTEQ(mime_decoded_size(multi, mime_part_find(&m, p3, 1)), 20);
	const struct mime_part *msg = mime_part_find(&m, p3, 1);
	CHECK(msg->rfc822);
	const struct mime_part *in = mime_part_find(&m, p31, 2);
	CHECK(in != NULL && memcmp(multi + in->body_start, "in", 2) == 0);
	buf_reset(&b);
	mime_bodystructure(multi, &m.root, true, &b);
	CHECK_STREQ(b.data,
	    "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL "
	    "\"quoted-printable\" 12 1 NIL NIL NIL NIL)"
	    "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4 NIL "
	    "(\"attachment\" (\"filename\" \"a.bin\")) NIL NIL)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 "
	    "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 "
	    "NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
	buf_reset(&b);
	static const char *const names[] = { "content-type", NULL };
	mime_header_fields(multi, a->hdr_start, a->hdr_len, names, false, &b);
	CHECK_STREQ(b.data, "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n");
	buf_free(&b);
	mime_free(&m);
}

static void
test_date(void)
{
	time_t t;
	int tz;

	CHECK(mime_date_parse("Mon, 23 Nov 2026 23:07:47 +0100", &t, &tz) == 0);
	CHECK_INTEQ(tz, 60);
	CHECK_INTEQ(t, 1795475267 - 3600);
	CHECK(mime_date_parse("1 Jan 70 00:00 GMT", &t, &tz) == 0);
	CHECK_INTEQ(t, 0);
	CHECK(mime_date_parse("garbage", &t, &tz) == -1);
}

static void
test_limits(void)
{
	/* nesting past the depth limit stops, it does not recurse forever */
	struct buf b;
	struct mime_message m;

	buf_init(&b, 0);
	for (int i = 0; i < 200; i++)
		buf_puts(&b, "Content-Type: message/rfc822\r\n\r\n");
	mime_parse(&m, b.data, b.len);
	CHECK(m.nparts <= MIME_MAX_DEPTH + 1);
	mime_free(&m);
	buf_free(&b);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_simple), TEST(test_multipart), TEST(test_date),
		TEST(test_limits), { 0 } };
	return test_run(tests);
}
