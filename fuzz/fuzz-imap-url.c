/* fuzz-imap-url - the IMAP URLs of CATENATE (lib-imap imap-url.c): any
 * input parses or is refused with an error text; what parses keeps the
 * invariants the caller relies on (a mailbox, a UID, no brackets in the
 * section). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct imap_url u;
	const char *err = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (imap_url_parse(s, &u, &err) == 0) {
		assert(u.mailbox != NULL && u.uid != 0);
		assert(u.section == NULL || strpbrk(u.section, "[]") == NULL);
		assert(!u.partial_len || u.length > 0);
	} else {
		assert(err != NULL);
	}
	imap_url_free(&u);
	free(s);
	return 0;
}
