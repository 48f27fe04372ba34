#ifndef POSTERN_OUT_8BIT_H
#define POSTERN_OUT_8BIT_H

/* out-8bit - 8BITMIME downgrade (RFC 6152 3: a server that does not
 * announce 8BITMIME gets 7-bit data): every MIME leaf part whose body
 * holds 8-bit bytes is re-encoded as quoted-printable (RFC 2045 6.7,
 * lines of at most 76 characters) with its Content-Transfer-Encoding
 * replaced; multipart and message/rfc822 containers labelled 8bit or
 * binary become 7bit. Headers are left as they are (8-bit header text
 * needs SMTPUTF8, which smtp-out checks apart). */

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* downgrade_8bit - the message data[0..len) converted into out: 1
 * converted, 0 nothing to do (no 8-bit body byte; out untouched), -1
 * out's limit reached */
int downgrade_8bit(const char *data, size_t len, struct buf *out);

/* qp_encode - data as quoted-printable body lines (CRLF) into out */
int qp_encode(const char *data, size_t len, struct buf *out);

#endif
