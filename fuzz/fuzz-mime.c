/* fuzz-mime - the MIME parser, ENVELOPE/BODYSTRUCTURE builders, decoders */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const char *d, const struct mime_part *p, struct buf *out, int depth)
{
	buf_reset(out);
	/* the counted size is what the decoder gives */
	if (mime_decode_body(d, p, out) == 0 &&
	    mime_decoded_size(d, p) != out->len)
		abort();
	buf_reset(out);
	mime_part_text(d, p, out);
	for (size_t i = 0; i < p->nchildren && depth < 64; i++)
		walk(d, &p->children[i], out, depth + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy without a terminator, so overreads show */
	char *d = malloc(size ? size : 1);
	struct mime_message msg;
	struct buf out;
	time_t t;
	int tz;
	static const unsigned paths[][3] = { {1, 0, 0}, {1, 2, 0}, {2, 1, 1} };

	memcpy(d, data, size);
	mime_parse(&msg, d, size);
	buf_init(&out, 0);
	mime_envelope(d, msg.root.hdr_start, msg.root.hdr_len, &out);
	buf_reset(&out);
	mime_bodystructure(d, &msg.root, true, &out);
	buf_reset(&out);
	mime_bodystructure(d, &msg.root, false, &out);
	walk(d, &msg.root, &out, 0);
	for (size_t i = 0; i < 3; i++)
		for (size_t n = 1; n <= 3; n++)
			(void)mime_part_find(&msg, paths[i], n);
	buf_reset(&out);
	mime_decode_words(d, size, &out);
	buf_reset(&out);
	{
		static const char *const names[] = { "subject", "from", NULL };
		mime_header_fields(d, msg.root.hdr_start, msg.root.hdr_len, names,
		    false, &out);
	}
	if (mime_header_get(d, 0, size, "Date", &out) > 0 && out.data != NULL)
		(void)mime_date_parse(out.data, &t, &tz);
	buf_free(&out);
	mime_free(&msg);
	free(d);
	return 0;
}
