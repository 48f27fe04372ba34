#ifndef POSTERN_POP3REPLY_H
#define POSTERN_POP3REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* pop3reply - the client side parser of POP3 server replies (RFC 1939):
 * a status line "+OK text" or "-ERR text", and after +OK to a command
 * with a multi-line answer (UIDL, LIST, RETR, CAPA) data lines ending with
 * a line holding only ".". Bounded (a status line POP3_STATUS_MAX, a data
 * line POP3_DATA_LINE_MAX, all data data_max) and resumable: bytes come in
 * any pieces. Data lines are un-dot-stuffed and end in CRLF; a server's
 * bare LF line ends are taken as CRLF. */

#define POP3_STATUS_MAX 1024
#define POP3_DATA_LINE_MAX (1024 * 1024)

struct pop3_reply {
	bool multiline;          /* a multi-line answer follows +OK */
	int state;               /* 0 status, 1 data, 2 done */
	bool ok;                 /* +OK */
	struct buf line;         /* the line being read */
	struct buf text;         /* the status text (after +OK / -ERR) */
	struct buf data;         /* the data of a multi-line answer */
};

/* pop3_reply_init - a parser whose data may hold data_max bytes. */
void pop3_reply_init(struct pop3_reply *p, size_t data_max);
void pop3_reply_deinit(struct pop3_reply *p);
/* pop3_reply_start - expect the next reply (multi-line after +OK or not). */
void pop3_reply_start(struct pop3_reply *p, bool multiline);
/* pop3_reply_feed - parse more bytes: 1 when the reply is complete
 * (*used_r bytes of data were part of it: the rest belongs to the next
 * reply), 0 when all were used and more is needed, -1 for a malformed or
 * too large reply (error_r). */
int pop3_reply_feed(struct pop3_reply *p, const void *data, size_t len,
		    size_t *used_r, const char **error_r);

/* pop3_uidl_line - split a UIDL data line "n uid" (RFC 1939: uid is 1-70
 * characters 0x21-0x7E). 0 ok, -1 malformed. */
int pop3_uidl_line(const char *line, size_t len, unsigned long *n_r,
		   char *uid, size_t uid_size);
/* pop3_apop_stamp - the <...> timestamp of a greeting into out, or -1. */
int pop3_apop_stamp(const char *greeting, char *out, size_t size);

#endif
