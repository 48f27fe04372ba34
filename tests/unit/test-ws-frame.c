/* test-ws-frame - the WebSocket frame reader and writer of XMPP over
 * WebSocket (src/xmppd/ws-frame.c), fed whole and one byte at a time */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ws-frame.h"

/* frame - a masked client frame into out; its length */
static size_t
frame(unsigned char *out, int b0, const char *payload, size_t n)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = 0;

	out[h++] = (unsigned char)b0;
	if (n < 126)
		out[h++] = 0x80 | (unsigned char)n;
	else if (n <= 0xffff) {
		out[h++] = 0x80 | 126;
		out[h++] = (unsigned char)(n >> 8);
		out[h++] = (unsigned char)n;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (unsigned char)((unsigned long long)n >> (8 * i));
	}
	memcpy(out + h, key, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		out[h + i] = (unsigned char)payload[i] ^ key[i & 3];
	return h + n;
}

/* feed - all of data, one byte at a time when trickle; the events in
 * order into ev (at most 8), the text messages joined with '|' */
static int
feed(struct ws_reader *r, const unsigned char *data, size_t len, bool trickle,
     enum ws_event *ev, char *texts)
{
	int n = 0;
	size_t off = 0;

	texts[0] = '\0';
	while (off < len && n < 8) {
		size_t step = trickle ? 1 : len - off, used;
		enum ws_event e = ws_reader_feed(r, data + off, step, &used);
		if (e == WS_EV_MORE && used != step)
			return -1;     /* must take all when no event */
		off += used;
		if (e == WS_EV_MORE)
			continue;
		ev[n++] = e;
		if (e == WS_EV_TEXT) {
			if (*texts)
				strcat(texts, "|");
			strcat(texts, r->msg.data);
		}
		if (e == WS_EV_ERROR || e == WS_EV_CLOSE)
			break;
	}
	return n;
}

static void
test_messages(void)
{
	unsigned char buf[1024];
	size_t n = 0;
	n += frame(buf + n, 0x81, "<open/>", 7);
	n += frame(buf + n, 0x01, "<message>", 9);         /* fragment 1 */
	n += frame(buf + n, 0x89, "hi", 2);                /* ping between */
	n += frame(buf + n, 0x80, "h\xc3\xa9</message>", 13);
	n += frame(buf + n, 0x8a, "", 0);                  /* empty pong */
	n += frame(buf + n, 0x88, "\x03\xe8" "bye", 5);    /* close 1000 */
	for (int trickle = 0; trickle < 2; trickle++) {
		struct ws_reader r;
		enum ws_event ev[8];
		char texts[256];
		ws_reader_init(&r, 1000);
		int k = feed(&r, buf, n, trickle, ev, texts);
		CHECK_INTEQ(k, 5);
		CHECK_INTEQ(ev[0], WS_EV_TEXT);
		CHECK_INTEQ(ev[1], WS_EV_PING);
		CHECK_INTEQ(ev[2], WS_EV_TEXT);
		CHECK_INTEQ(ev[3], WS_EV_PONG);
		CHECK_INTEQ(ev[4], WS_EV_CLOSE);
		CHECK_INTEQ(r.close_code, 1000);
		CHECK_STREQ(texts, "<open/>|<message>h\xc3\xa9</message>");
		ws_reader_free(&r);
	}
}

static void
test_lengths(void)
{
	static char big[70000];
	static unsigned char buf[70100];
	memset(big, 'x', sizeof(big));
	for (size_t len = 125; len <= 70000; len = len == 125 ? 126 : len == 126 ? 65535 : len == 65535 ? 65536 : 70001) {
		struct ws_reader r;
		size_t n = frame(buf, 0x81, big, len), used;
		ws_reader_init(&r, 70000);
		CHECK_INTEQ(ws_reader_feed(&r, buf, n, &used), WS_EV_TEXT);
		CHECK_INTEQ(used, n);
		CHECK_INTEQ(r.msg.len, len);
		ws_reader_free(&r);
	}
	/* a 126-byte length field saying 100: not its shortest form */
	unsigned char bad[] = { 0x81, 0x80 | 126, 0, 100, 1, 2, 3, 4 };
	struct ws_reader r;
	size_t used;
	ws_reader_init(&r, 1000);
	CHECK_INTEQ(ws_reader_feed(&r, bad, sizeof(bad), &used), WS_EV_ERROR);
	CHECK_INTEQ(r.close_code, WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);
	/* over the limit: known from the header, before any payload */
	ws_reader_init(&r, 1000);
	size_t n = frame(buf, 0x81, big, 1001);
	CHECK_INTEQ(ws_reader_feed(&r, buf, 8, &used), WS_EV_ERROR);
	CHECK_INTEQ(r.close_code, WS_CLOSE_TOO_BIG);
	CHECK_INTEQ(ws_reader_feed(&r, buf + 8, n - 8, &used), WS_EV_ERROR);
	CHECK_INTEQ(used, 0);
	ws_reader_free(&r);
	/* fragments adding up past the limit */
	ws_reader_init(&r, 1000);
	n = frame(buf, 0x01, big, 600);
	n += frame(buf + n, 0x80, big, 600);
	CHECK_INTEQ(ws_reader_feed(&r, buf, n, &used), WS_EV_ERROR);
	CHECK_INTEQ(r.close_code, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
}

static void
test_refusals(void)
{
	static const struct {
		unsigned char data[16];
		size_t len;
		int code;
	} cases[] = {
		{ { 0x81, 0x03, 'a', 'b', 'c' }, 5, WS_CLOSE_PROTOCOL },    /* unmasked */
		{ { 0xc1, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_PROTOCOL },       /* RSV1 */
		{ { 0x83, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_PROTOCOL },       /* opcode 3 */
		{ { 0x8b, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_PROTOCOL },       /* opcode 11 */
		{ { 0x82, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_UNSUPPORTED },    /* binary */
		{ { 0x09, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_PROTOCOL },       /* fragmented ping */
		{ { 0x89, 0xfe, 0, 126, 0, 0, 0, 0 }, 8, WS_CLOSE_PROTOCOL }, /* long ping */
		{ { 0x80, 0x80, 0, 0, 0, 0 }, 6, WS_CLOSE_PROTOCOL },       /* lone continuation */
		{ { 0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28 }, 8, WS_CLOSE_BAD_DATA }, /* bad UTF-8 */
		{ { 0x81, 0x83, 0, 0, 0, 0, 0xed, 0xa0, 0x80 }, 9, WS_CLOSE_BAD_DATA }, /* surrogate */
		{ { 0x81, 0x82, 0, 0, 0, 0, 0xc0, 0x80 }, 8, WS_CLOSE_BAD_DATA }, /* overlong */
		{ { 0x88, 0x81, 0, 0, 0, 0, 3 }, 7, WS_CLOSE_PROTOCOL },    /* 1-byte close */
		{ { 0x01, 0x80, 0, 0, 0, 0, 0x81, 0x80, 0, 0, 0, 0 }, 12, WS_CLOSE_PROTOCOL }, /* text in text */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int trickle = 0; trickle < 2; trickle++) {
			struct ws_reader r;
			enum ws_event ev[8];
			char texts[64];
			ws_reader_init(&r, 1000);
			int k = feed(&r, cases[i].data, cases[i].len, trickle, ev,
			    texts);
			CHECK(k >= 1 && ev[k - 1] == WS_EV_ERROR);
			if (r.close_code != cases[i].code)
				fprintf(stderr, "  case %zu\n", i);
			CHECK_INTEQ(r.close_code, cases[i].code);
			CHECK(r.error != NULL);
			ws_reader_free(&r);
		}
	}
}

static void
test_write(void)
{
	struct buf b;
	buf_init(&b, 0);
	ws_frame_write(&b, WS_OP_TEXT, "abc", 3);
	CHECK_INTEQ(b.len, 5);
	CHECK(memcmp(b.data, "\x81\x03" "abc", 5) == 0);
	buf_reset(&b);
	ws_close_write(&b, 1009, "too big");
	CHECK_INTEQ(b.len, 11);
	CHECK(memcmp(b.data, "\x88\x09\x03\xf1too big", 11) == 0);
	buf_reset(&b);
	char *big = calloc(1, 70000);
	ws_frame_write(&b, WS_OP_TEXT, big, 300);
	CHECK(memcmp(b.data, "\x81\x7e\x01\x2c", 4) == 0);
	buf_reset(&b);
	ws_frame_write(&b, WS_OP_TEXT, big, 70000);
	CHECK(memcmp(b.data, "\x81\x7f\0\0\0\0\0\x01\x11\x70", 10) == 0);
	free(big);
	buf_free(&b);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_messages),
		TEST(test_lengths),
		TEST(test_refusals),
		TEST(test_write),
		{ 0 },
	};
	return test_run(tests);
}
