/* fuzz-msghdr - the header block scanner (pickup, deliver) and the
 * address-list extraction run on every field it reports */
#include <stdint.h>
#include <string.h>

#include "msghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	char **v = NULL;
	size_t n = 0;
	size_t *total = ctx;

	if (f->raw_end < f->raw_start)
		__builtin_trap();
	msghdr_addresses(f->value, &v, &n);
	for (size_t i = 0; i < n; i++)
		*total += strlen(v[i]);
	msghdr_addresses_free(v, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msghdr_parser p;
	size_t total = 0, used, pos = 0;
	const char *err;
	int r = 0;

	/* feed in uneven pieces to exercise resumption */
	msghdr_parser_init(&p, 4096, on_field, &total);
	while (pos < size) {
		size_t chunk = 1 + (data[pos] % 7);
		if (chunk > size - pos)
			chunk = size - pos;
		r = msghdr_parser_feed(&p, data + pos, chunk, &used, &err);
		if (used > chunk)
			__builtin_trap();
		pos += used;
		if (r != 0)
			break;
	}
	if (r == 0)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
	return 0;
}
