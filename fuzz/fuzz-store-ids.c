/* fuzz-store-ids - what lib-store reads from a message it indexes: the
 * thread root (References, In-Reply-To, Message-ID) and the From and
 * Subject sort keys (store-email.c) */
#include <stdint.h>
#include <string.h>

#include "store-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct email_meta m;

	email_meta_parse(data, size, "1.M1P1.fuzz,S=1,W=1", &m);
	if (strlen(m.emailid) != 17 || strlen(m.threadid) != 17 ||
	    m.sfrom == NULL || m.ssubject == NULL)
		__builtin_trap();
	/* the keys are bounded (a few bytes past SORT_KEY_MAX at most) */
	if (strlen(m.sfrom) > 210 || strlen(m.ssubject) > 210)
		__builtin_trap();
	email_meta_clear(&m);
	return 0;
}
