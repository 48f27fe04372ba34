/* fuzz-milter - the milter reply parser (lib-filter/milter.c): a stream
 * of milter packets framed by their length, each parsed, modifications
 * recorded and applied to a small header block, as the MTA does at the
 * end of a message */
#include <stdint.h>
#include <string.h>

#include "milter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char hdr[] =
    "Received: from a by b;\r\n\tMon, 7 Dec 2026 06:00:00 +0000\r\n"
    "From: <x@remote.test>\r\nSubject: hello\r\n"
    "Subject: again\r\n folded\r\n\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_mods mods;
	size_t pos = 0;
	const char *err;

	milter_mods_init(&mods);
	while (pos < size) {
		uint32_t plen;
		int r = milter_frame(data + pos, size - pos, &plen, &err);
		if (r <= 0)
			break;
		struct milter_reply rep;
		const uint8_t *pkt = data + pos + 4;
		if (milter_reply_parse(pkt, plen, &rep, &err) == 0) {
			/* every string the parser gives lies in the packet */
			if (rep.name != NULL && (rep.name < (const char *)pkt ||
			    rep.name + strlen(rep.name) >= (const char *)pkt + plen))
				__builtin_trap();
			if (rep.value != NULL && (rep.value < (const char *)pkt ||
			    rep.value + strlen(rep.value) >= (const char *)pkt + plen))
				__builtin_trap();
			if (milter_mods_add(&mods, &rep, &err) < 0 &&
			    mods.nhdr + mods.naddrcpt + mods.ndelrcpt >=
			    MILTER_MAX_MODS)
				break;
		}
		pos += 4 + plen;
	}
	struct buf out;
	buf_init(&out, 0);
	milter_header_apply(hdr, sizeof(hdr) - 1, &mods, &out);
	/* the block still ends with its blank line */
	if (out.len < 2 || memcmp(out.data + out.len - 2, "\r\n", 2) != 0)
		__builtin_trap();
	buf_free(&out);
	milter_mods_free(&mods);
	return 0;
}
