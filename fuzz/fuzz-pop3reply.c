/* fuzz-pop3reply - the POP3 client reply parser (popretr): replies in
 * uneven pieces, single and multi-line, with a UIDL split of the data */
#include <stdint.h>
#include <string.h>

#include "pop3reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_reply p;
	size_t pos = 0, used;
	const char *err;

	if (size == 0)
		return 0;
	pop3_reply_init(&p, 4096);
	pop3_reply_start(&p, (data[0] & 1) != 0);
	pos = 1;
	while (pos < size) {
		size_t chunk = 1 + (data[pos] % 13);
		if (chunk > size - pos)
			chunk = size - pos;
		int r = pop3_reply_feed(&p, data + pos, chunk, &used, &err);
		if (used > chunk)
			__builtin_trap();
		pos += used;
		if (r < 0)
			break;
		if (r > 0) {
			/* split the data like the UIDL listing */
			const char *d = p.data.data ? p.data.data : "";
			const char *e;
			while ((e = strstr(d, "\r\n")) != NULL) {
				unsigned long n;
				char uid[72];
				(void)pop3_uidl_line(d, (size_t)(e - d), &n, uid, sizeof(uid));
				d = e + 2;
			}
			char stamp[128];
			(void)pop3_apop_stamp(p.text.data ? p.text.data : "", stamp,
			    sizeof(stamp));
			pop3_reply_start(&p, (pos & 1) != 0);
		}
	}
	pop3_reply_deinit(&p);
	return 0;
}
