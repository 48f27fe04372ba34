/* fuzz-downgrade - the 8BITMIME downgrade (smtp-out out-8bit.h) on any
 * message: the result is 7-bit in every body it changed, and lines of
 * quoted-printable are at most 76 characters */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "out-8bit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, qp;

	buf_init(&out, 8 * size + 4096);
	int r = downgrade_8bit((const char *)data, size, &out);
	if (r < 0 || (r == 0 && out.len != 0))
		__builtin_trap();
	buf_free(&out);
	/* quoted-printable alone: 7-bit, short lines */
	buf_init(&qp, 0);
	qp_encode((const char *)data, size, &qp);
	size_t col = 0;
	for (size_t i = 0; i < qp.len; i++) {
		unsigned char c = (unsigned char)qp.data[i];
		if (c >= 0x80 || c == 0)
			__builtin_trap();
		if (c == '\n')
			col = 0;
		else if (c != '\r' && ++col > 76)
			__builtin_trap();
	}
	buf_free(&qp);
	return 0;
}
