/* fuzz-clamd - clamd's INSTREAM answer parser (lib-filter/clamd.c): any
 * text, at most the 1 KB clamd_scan_fd reads */
#include <stdint.h>
#include <string.h>

#include "clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[CLAMD_REPLY_MAX], virus[32];
	const char *err;

	if (size >= sizeof(reply))
		size = sizeof(reply) - 1;
	memcpy(reply, data, size);
	reply[size] = '\0';
	enum clamd_result r = clamd_reply_parse(reply, virus, sizeof(virus), &err);
	if (r == CLAMD_FOUND && strlen(virus) >= sizeof(virus))
		__builtin_trap();
	if (r == CLAMD_ERROR && err == NULL)
		__builtin_trap();
	return 0;
}
