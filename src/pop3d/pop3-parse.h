#ifndef POSTERN_POP3_PARSE_H
#define POSTERN_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* POP3 command lines (RFC 1939 3, RFC 2449 4): a keyword of 3-4
 * printable characters, arguments separated by single spaces, CRLF
 * (a bare LF is accepted). Lines are bounded: a longer line is skipped
 * up to its LF and reported once as too long. */

#define POP3_LINE_MAX 2048       /* AUTH initial responses fit; RFC 2449
				  * asks for 255 for other commands */
#define POP3_ARGS_MAX 4

struct pop3_reader {
	struct buf line;
	bool skipping;           /* inside an over-long line */
};

enum pop3_read_result {
	POP3_READ_MORE = 0,      /* need more bytes */
	POP3_READ_LINE = 1,      /* r->line holds a line (without CRLF) */
	POP3_READ_TOO_LONG = -1, /* an over-long line was dropped */
};

void pop3_reader_init(struct pop3_reader *r);
void pop3_reader_free(struct pop3_reader *r);
/* pop3_reader_feed - consume bytes of data up to and including the first
 * LF (or all of it); *used_r tells how many. Call again with the rest. */
enum pop3_read_result pop3_reader_feed(struct pop3_reader *r,
				       const char *data, size_t len,
				       size_t *used_r);

struct pop3_cmd {
	char verb[5];            /* uppercased keyword */
	size_t argc;
	const char *argv[POP3_ARGS_MAX]; /* point into the line (NUL split) */
};

/* pop3_cmd_parse - split a line (modified in place) into a command.
 * 0, or -1 with *error_r for a bad keyword or too many arguments. */
int pop3_cmd_parse(char *line, struct pop3_cmd *cmd, const char **error_r);
/* pop3_msgnum - parse a message number argument 1..max; 0 if invalid. */
uint32_t pop3_msgnum(const char *arg, uint32_t max);

/* pop3_sasl_plain - decode an AUTH PLAIN response (RFC 4616):
 * base64 of authzid NUL authcid NUL passwd. 0, or -1 with *error_r, or
 * POP3_SASL_NUL when the password holds a NUL byte (a failed login for
 * the caller, never a shorter password). authzid must be empty or equal
 * to authcid. */
#define POP3_SASL_NUL (-2)
int pop3_sasl_plain(const char *b64, char *user, size_t user_size,
		    char *pass, size_t pass_size, const char **error_r);

/* pop3_stream - converts a stored message to its POP3 wire form: CRLF
 * line ends, dot-stuffed; with a line limit (TOP) it stops after that
 * many body lines. Feed file bytes, get wire bytes in out. */
struct pop3_stream {
	bool at_line_start;
	bool in_body;
	size_t line_len;        /* bytes of the current line so far */
	bool done;              /* TOP limit reached */
	bool last_cr;           /* previous input byte was CR */
	int64_t body_lines;     /* -1: no limit */
};

void pop3_stream_init(struct pop3_stream *s, int64_t body_lines);
/* pop3_stream_feed - convert data, appending to out; -1 if out is full. */
int pop3_stream_feed(struct pop3_stream *s, const char *data, size_t len,
		     struct buf *out);
/* pop3_stream_end - finish: CRLF if the message did not end with one,
 * then the terminating ".\r\n". */
int pop3_stream_end(struct pop3_stream *s, struct buf *out);

#endif
