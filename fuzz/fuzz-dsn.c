/* fuzz-dsn - the status code taken from a remote server's reply text
 * (smtp-out copies it into bounces and delay notices). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *reply = malloc(size + 1);
	char out[16];

	if (size > 0)
		memcpy(reply, data, size);
	reply[size] = '\0';
	memset(out, 0x55, sizeof(out));
	dsn_status_from_reply(reply, out, sizeof(out));
	/* always a terminated x.y.z of the classes 2, 4 or 5 */
	if (memchr(out, '\0', sizeof(out)) == NULL ||
	    (out[0] != '2' && out[0] != '4' && out[0] != '5') || out[1] != '.')
		abort();
	free(reply);
	return 0;
}
