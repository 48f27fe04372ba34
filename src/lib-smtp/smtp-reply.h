#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Parser of SMTP server replies (RFC 5321 4.2), bounded and resumable:
 * feed it bytes as they arrive; it returns 1 when a whole (possibly
 * multi-line) reply is complete. Lines end in CRLF (a bare LF is taken
 * too: we are the client, leniency costs nothing here). */

#define SMTP_REPLY_LINE_MAX 2048    /* RFC 5321 says 512; be generous */
#define SMTP_REPLY_LINES_MAX 200

struct smtp_reply {
	int code;                 /* 3 digits: 250 */
	char enhanced[16];        /* "2.1.0" from the first line, or "" */
	struct buf text;          /* the lines without codes, joined by '\n' */
	size_t nlines;
};

struct smtp_reply_parser {
	struct buf line;          /* the current partial line */
	struct smtp_reply reply;  /* the reply being assembled */
	bool complete;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);
void smtp_reply_parser_free(struct smtp_reply_parser *p);
/* smtp_reply_parse - consume bytes from data; *used_r tells how many.
 * 1: a reply is complete in p->reply (valid until the next call; bytes
 * after it are not consumed), 0: need more (all consumed), -1: malformed
 * (error_r), the connection should be dropped. */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len,
		     size_t *used_r, const char **error_r);
/* smtp_reply_first_line - "250 2.1.0 Ok" form of the reply's first line
 * (for logs and Diagnostic-Code), into out. */
void smtp_reply_summary(const struct smtp_reply *r, char *out, size_t size);

/* EHLO extensions found in a 250 reply to EHLO. */
struct smtp_ext {
	bool starttls, pipelining, eightbit, smtputf8, dsn, size_given;
	bool auth_plain, auth_login;
	unsigned long long size;   /* 0: no limit announced */
};
void smtp_ext_parse(const struct smtp_reply *r, struct smtp_ext *ext);

#endif
