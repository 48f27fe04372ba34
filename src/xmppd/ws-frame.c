/* ws-frame - RFC 6455 framing without I/O (ws-frame.h) */
#include <string.h>

#include "ws-frame.h"

void
ws_reader_init(struct ws_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	buf_init(&r->msg, 0);
}

void
ws_reader_free(struct ws_reader *r)
{
	buf_free(&r->msg);
}

static enum ws_event
fail(struct ws_reader *r, uint16_t code, const char *error)
{
	r->failed = true;
	r->close_code = code;
	r->error = error;
	return WS_EV_ERROR;
}

bool
ws_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* header - the frame header is whole in r->hdr: check it */
static enum ws_event
header(struct ws_reader *r)
{
	unsigned char b0 = r->hdr[0], b1 = r->hdr[1];
	size_t lb = r->need - 6;      /* length bytes after the first two */

	r->fin = (b0 & 0x80) != 0;
	r->op = b0 & 0x0f;
	if (lb == 0)
		r->plen = b1 & 0x7f;
	else {
		r->plen = 0;
		for (size_t i = 0; i < lb; i++)
			r->plen = (r->plen << 8) | r->hdr[2 + i];
		if ((lb == 2 && r->plen < 126) || (lb == 8 && (r->plen >> 63 ||
		    r->plen <= 0xffff)))
			return fail(r, WS_CLOSE_PROTOCOL, "frame length not in "
			    "its shortest form");
	}
	memcpy(r->key, r->hdr + r->need - 4, 4);
	r->got = 0;
	if (r->op >= 0x8) {
		if (!r->fin || r->plen > WS_CONTROL_MAX)
			return fail(r, WS_CLOSE_PROTOCOL, "control frame "
			    "fragmented or over 125 bytes");
		if (r->op > WS_OP_PONG)
			return fail(r, WS_CLOSE_PROTOCOL, "unknown opcode");
		r->ctl_len = 0;
	} else if (r->op == WS_OP_CONT) {
		if (!r->in_msg)
			return fail(r, WS_CLOSE_PROTOCOL, "continuation "
			    "without a message");
	} else if (r->op == WS_OP_TEXT || r->op == WS_OP_BINARY) {
		if (r->in_msg)
			return fail(r, WS_CLOSE_PROTOCOL, "a new message "
			    "inside a fragmented one");
		if (r->op == WS_OP_BINARY)
			return fail(r, WS_CLOSE_UNSUPPORTED, "binary frames "
			    "are not XMPP (RFC 7395 3.2: text only)");
		r->in_msg = true;
		buf_reset(&r->msg);
	} else
		return fail(r, WS_CLOSE_PROTOCOL, "unknown opcode");
	if (r->op < 0x8 && r->plen > r->max - r->msg.len)
		return fail(r, WS_CLOSE_TOO_BIG, "message over the size limit");
	r->in_payload = true;
	return WS_EV_MORE;
}

/* frame_end - the payload is in: the event it makes */
static enum ws_event
frame_end(struct ws_reader *r)
{
	r->in_payload = false;
	r->hlen = 0;
	r->need = 0;
	switch (r->op) {
	case WS_OP_PING:
		return WS_EV_PING;
	case WS_OP_PONG:
		return WS_EV_PONG;
	case WS_OP_CLOSE:
		if (r->ctl_len == 1)
			return fail(r, WS_CLOSE_PROTOCOL, "close frame of one "
			    "byte");
		r->close_code = r->ctl_len >= 2 ? (uint16_t)(r->ctl[0] << 8 |
		    r->ctl[1]) : WS_CLOSE_NO_STATUS;
		if (r->ctl_len > 2 && !ws_utf8_valid(r->ctl + 2,
		    r->ctl_len - 2))
			return fail(r, WS_CLOSE_BAD_DATA, "close reason is not "
			    "UTF-8");
		r->failed = true;   /* nothing may follow a close */
		r->error = "closed";
		return WS_EV_CLOSE;
	default:
		if (!r->fin)
			return WS_EV_MORE;
		r->in_msg = false;
		if (!ws_utf8_valid((unsigned char *)r->msg.data, r->msg.len))
			return fail(r, WS_CLOSE_BAD_DATA, "text message is "
			    "not UTF-8");
		return WS_EV_TEXT;
	}
}

enum ws_event
ws_reader_feed(struct ws_reader *r, const unsigned char *data, size_t len,
	       size_t *used_r)
{
	size_t used = 0;
	enum ws_event ev = WS_EV_MORE;

	*used_r = 0;
	if (r->failed)
		return r->error != NULL && strcmp(r->error, "closed") == 0 ?
		    WS_EV_CLOSE : WS_EV_ERROR;
	while (used < len || (r->in_payload && r->got == r->plen)) {
		if (!r->in_payload) {
			r->hdr[r->hlen++] = data[used++];
			if (r->hlen == 2) {
				if (r->hdr[0] & 0x70) {
					ev = fail(r, WS_CLOSE_PROTOCOL, "RSV "
					    "bits without an extension");
					break;
				}
				if (!(r->hdr[1] & 0x80)) {
					ev = fail(r, WS_CLOSE_PROTOCOL, "an "
					    "unmasked frame from the client");
					break;
				}
				unsigned l7 = r->hdr[1] & 0x7f;
				r->need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 :
				    0) + 4;
			}
			if (r->hlen >= 2 && r->hlen == r->need) {
				ev = header(r);
				if (ev != WS_EV_MORE)
					break;
			}
			continue;
		}
		if (r->got < r->plen) {
			size_t n = len - used;
			if (n > r->plen - r->got)
				n = (size_t)(r->plen - r->got);
			unsigned char *dst;
			if (r->op >= 0x8)
				dst = r->ctl + r->ctl_len;
			else {
				if (buf_reserve(&r->msg, n + 1) < 0) {
					ev = fail(r, WS_CLOSE_TOO_BIG,
					    "message over the size limit");
					break;
				}
				dst = (unsigned char *)r->msg.data + r->msg.len;
			}
			for (size_t i = 0; i < n; i++)
				dst[i] = data[used + i] ^
				    r->key[(r->got + i) & 3];
			if (r->op >= 0x8)
				r->ctl_len += n;
			else {
				r->msg.len += n;
				r->msg.data[r->msg.len] = '\0';
			}
			r->got += n;
			used += n;
		}
		if (r->got == r->plen) {
			ev = frame_end(r);
			if (ev != WS_EV_MORE)
				break;
		}
	}
	*used_r = used;
	return ev;
}

void
ws_frame_write(struct buf *out, enum ws_op op, const void *data, size_t len)
{
	unsigned char h[10];
	size_t hl = 2;

	h[0] = 0x80 | (unsigned char)op;
	if (len < 126)
		h[1] = (unsigned char)len;
	else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		uint64_t l = len;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)(l >> (56 - 8 * i));
		hl = 10;
	}
	buf_append(out, h, hl);
	if (len > 0)
		buf_append(out, data, len);
}

void
ws_close_write(struct buf *out, uint16_t code, const char *reason)
{
	unsigned char p[WS_CONTROL_MAX];
	size_t rl = reason != NULL ? strlen(reason) : 0;

	if (rl > WS_CONTROL_MAX - 2)
		rl = WS_CONTROL_MAX - 2;
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	if (rl > 0)
		memcpy(p + 2, reason, rl);
	ws_frame_write(out, WS_OP_CLOSE, p, rl + 2);
}
