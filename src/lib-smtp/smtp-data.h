#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The DATA reader: removes dot-stuffing and finds the end of data.
 *
 * End of data is recognised ONLY as <CR><LF>.<CR><LF> (the leading CRLF
 * may be the one that ended the DATA command, so "." CRLF right away is
 * an empty message). A line starts only after CRLF: a bare LF or a bare
 * CR never starts a line, so "\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n"
 * and friends are message content, never an end of data.
 *
 * Policy (Postfix smtpd_forbid_bare_newline = reject, in spirit): a
 * message containing a bare LF or a bare CR is flagged and smtpd rejects
 * it as a whole with 550 5.6.11 after its end, so nothing the client sent
 * after a bare-newline "end" can ever be taken as a second message or as
 * commands by us or by any server we relay to. Lines longer than 1000
 * octets (CRLF included) and messages over max_size are flagged too; once
 * anything is flagged nothing more is written to out, but the reader
 * keeps consuming to the real end of data. */

#define SMTP_DATA_BARE_LF   0x01
#define SMTP_DATA_BARE_CR   0x02
#define SMTP_DATA_LONG_LINE 0x04
#define SMTP_DATA_TOO_BIG   0x08
#define SMTP_DATA_NUL       0x10   /* a NUL byte (not flagged as an error
					by smtpd: counted for logs) */

struct smtp_data {
	int state;
	unsigned flags;
	uint64_t size;      /* unstuffed bytes of the message seen */
	uint64_t max_size;  /* 0: no limit */
	size_t line_len;    /* octets of the current line as sent */
};

void smtp_data_init(struct smtp_data *d, uint64_t max_size);
/* smtp_data_feed - consume input; append message bytes (CRLF lines,
 * unstuffed) to out unless flagged. 1 at the end of data (*consumed_r
 * counts up to and including its final LF), 0 when all input was
 * consumed and more is needed. */
int smtp_data_feed(struct smtp_data *d, const void *data, size_t len,
		   size_t *consumed_r, struct buf *out);
/* smtp_data_errors - the flags that make the message unacceptable. */
static inline unsigned
smtp_data_errors(const struct smtp_data *d)
{
	return d->flags & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR |
	    SMTP_DATA_LONG_LINE | SMTP_DATA_TOO_BIG);
}

#endif
