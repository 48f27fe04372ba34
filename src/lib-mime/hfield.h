#ifndef POSTERN_HFIELD_H
#define POSTERN_HFIELD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The fields of a header block held in memory, read the way JMAP's Email
 * properties and the store's query index both read them (one reading, so
 * a filter on the index answers as one on the file): a field is a line
 * with a colon and its continuation lines, lines without a colon are
 * skipped, the header ends at the first blank line (CRLF or bare LF). */

/* one raw header field: name (blanks before the colon trimmed) and value
 * (after the colon, folding kept, the last line end dropped) */
struct hfield {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* hfield_block_end - the end of the header block in d[0..len) (after the
 * line end before the blank line) into *end_r: true when the blank line
 * is there, else false with *end_r = len */
bool hfield_block_end(const char *d, size_t len, size_t *end_r);

/* hfield_next - the next field of the header block d[*p..end): 1 with *f
 * and *p moved past it, or 0 at the blank line or end */
int hfield_next(const char *d, size_t *p, size_t end, struct hfield *f);

/* hfield_unfold - a value v[0..n) without its CR and LF bytes, outer
 * blanks trimmed, into out (reset first; data never NULL after) */
void hfield_unfold(const char *v, size_t n, struct buf *out);

/* hfield_text - hfield_unfold with RFC 2047 words decoded (JMAP's asText)
 * into out (reset first; data never NULL after) */
void hfield_text(const char *v, size_t n, struct buf *out);

#endif
