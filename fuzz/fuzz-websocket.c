/* fuzz-websocket - the WebSocket frame reader of XMPP over WebSocket
 * (src/xmppd/ws-frame.c): the input is the client's bytes, fed in
 * chunks whose sizes come from the first byte; a message given is never
 * over the limit and always UTF-8, a control payload never over 125
 * bytes, nothing is taken beyond what was given, and after an error or
 * a close every call gives the same event */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws-frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_reader r;
	size_t step, off = 1;
	enum ws_event last = WS_EV_MORE;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] & 0x3f) + 1;
	ws_reader_init(&r, 4096);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		enum ws_event ev = ws_reader_feed(&r, data + off, n, &used);
		if (used > n)
			abort();
		if ((last == WS_EV_ERROR || last == WS_EV_CLOSE) &&
		    (ev != last || used != 0))
			abort();
		if (ev == WS_EV_TEXT && (r.msg.len > 4096 ||
		    !ws_utf8_valid((unsigned char *)r.msg.data, r.msg.len)))
			abort();
		if ((ev == WS_EV_PING || ev == WS_EV_PONG) &&
		    r.ctl_len > WS_CONTROL_MAX)
			abort();
		if (ev == WS_EV_ERROR && (r.error == NULL ||
		    r.close_code < 1000))
			abort();
		if (ev == WS_EV_MORE && used != n)
			abort();
		last = ev;
		if (ev == WS_EV_ERROR || ev == WS_EV_CLOSE) {
			/* once more: the same event, nothing taken */
			ev = ws_reader_feed(&r, data + off, n, &used);
			if (ev != last || used != 0)
				abort();
			break;
		}
		off += used;
	}
	ws_reader_free(&r);
	return 0;
}
