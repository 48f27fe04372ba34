/* fuzz-smtp-data - the DATA reader: chunked feeding must agree with
 * feeding it all at once, and the output never grows past the input */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data a, b;
	struct buf oa, ob;
	size_t used_a = 0, off = 0;
	int ra, rb = 0;

	buf_init(&oa, 0);
	buf_init(&ob, 0);
	smtp_data_init(&a, size > 0 ? data[0] * 16u : 0);
	smtp_data_init(&b, size > 0 ? data[0] * 16u : 0);
	ra = smtp_data_feed(&a, data, size, &used_a, &oa);
	while (off < size) {
		size_t used, chunk = 1 + (size_t)(data[off] % 7);
		if (chunk > size - off)
			chunk = size - off;
		rb = smtp_data_feed(&b, data + off, chunk, &used, &ob);
		off += used;
		if (rb == 1)
			break;
	}
	if (ra != rb || (ra == 1 && used_a != off) || a.flags != b.flags ||
	    oa.len > size)
		abort();
	/* a flagged message's partial output is thrown away: compare clean ones */
	if (smtp_data_errors(&a) == 0 && (oa.len != ob.len ||
	    (oa.len > 0 && memcmp(oa.data, ob.data, oa.len) != 0)))
		abort();
	buf_free(&oa);
	buf_free(&ob);
	return 0;
}
