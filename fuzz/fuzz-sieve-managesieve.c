/* fuzz-sieve-managesieve - the ManageSieve command reader, fed the input
 * whole and then in two pieces (the result must not depend on the cut) */
#include <stdint.h>
#include <string.h>

#include "managesieve-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	size_t pos = 0, guard = 0;

	while (pos < size && guard++ < 100000) {
		struct ms_cmd c;
		size_t used = 0;
		const char *err;
		int r = ms_parse(d + pos, size - pos, 4096, &c, &used, &err);
		if (r == 1) {
			for (size_t i = 0; i < c.argc; i++)
				if (c.argv[i][c.argl[i]] != '\0')
					__builtin_trap();
			cmd_clear(&c);
			if (used == 0 || used > size - pos)
				__builtin_trap();
			/* a prefix of a complete command is incomplete or bad,
			 * never a different complete command of the same end */
			if (used > 1) {
				size_t u2;
				int r2 = ms_parse(d + pos, used - 1, 4096, &c, &u2, &err);
				if (r2 == 1) {
					cmd_clear(&c);
					if (u2 >= used)
						__builtin_trap();
				}
			}
			pos += used;
		} else if (r == -1 && used > 0) {
			pos += used;
		} else {
			break;
		}
	}
	return 0;
}
