#ifndef POSTERN_WS_FRAME_H
#define POSTERN_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ws-frame - the WebSocket framing of RFC 6455 5, server side, without
 * I/O: a reader that takes the client's bytes in chunks and gives whole
 * messages (fragments joined) and control frames, and a writer of the
 * server's (unmasked) frames.
 *
 * The reader refuses (an event WS_EV_ERROR with the close code to send,
 * RFC 6455 7.4.1): an unmasked frame (5.1: 1002), RSV bits without an
 * extension (1002), an unknown opcode (1002), a fragmented or over-125-
 * byte control frame (1002), a length not in its shortest form or with
 * the top bit set (1002), a continuation without a message or a new
 * message inside one (1002), a message over the reader's limit (1009,
 * known from the header: nothing that large is buffered), a text message
 * that is not UTF-8 (1007), a binary message (1003: RFC 7395 3.2 uses
 * text frames only). After an error every call gives the same error. */

#define WS_CONTROL_MAX 125

enum ws_op {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,     /* never sent: a close without code */
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
};

enum ws_event {
	WS_EV_MORE,             /* all input taken; feed more */
	WS_EV_TEXT,             /* a whole text message in r->msg */
	WS_EV_PING,             /* payload in r->ctl (answer with a pong) */
	WS_EV_PONG,             /* payload in r->ctl */
	WS_EV_CLOSE,            /* r->close_code (1005: none given) */
	WS_EV_ERROR,            /* r->close_code to send, r->error */
};

struct ws_reader {
	size_t max;             /* bytes of one message */
	/* the frame being read */
	unsigned char hdr[14];
	size_t hlen;            /* header bytes held */
	size_t need;            /* header length once known */
	bool in_payload;
	uint8_t op;
	bool fin;
	uint8_t key[4];
	uint64_t plen, got;
	/* the message being joined */
	bool in_msg;
	struct buf msg;
	unsigned char ctl[WS_CONTROL_MAX];
	size_t ctl_len;
	uint16_t close_code;
	const char *error;
	bool failed;
};

void ws_reader_init(struct ws_reader *r, size_t max);
void ws_reader_free(struct ws_reader *r);
/* ws_reader_feed - read from data (*used_r: bytes taken) up to the first
 * event; WS_EV_MORE when all was taken without one. r->msg and r->ctl
 * hold until the next call. */
enum ws_event ws_reader_feed(struct ws_reader *r, const unsigned char *data,
			     size_t len, size_t *used_r);

/* ws_frame_write - append one final, unmasked frame */
void ws_frame_write(struct buf *out, enum ws_op op, const void *data,
		    size_t len);
/* ws_close_write - a close frame with a code and a short reason */
void ws_close_write(struct buf *out, uint16_t code, const char *reason);
/* ws_utf8_valid - whether s[0..len) is UTF-8 (RFC 3629: no overlongs,
 * surrogates or code points past U+10FFFF) */
bool ws_utf8_valid(const unsigned char *s, size_t len);

#endif
