/* fuzz-chat-upload - the XEP-0363 upload URL path (lib-config/
 * chatupload.c): whatever it accepts has a positive mailbox id, a slot
 * of 32 hex digits and a name fit for a file in the slot's directory */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chatupload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1), slot[CHATUPLOAD_SLOT_LEN + 1];
	char name[CHATUPLOAD_NAME_MAX + 1];
	int64_t id;

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	p[size] = '\0';
	if (chatupload_path_parse(p, &id, slot, name)) {
		if (id <= 0 || !chatupload_slot_ok(slot) ||
		    !chatupload_name_ok(name) || strchr(name, '/') != NULL ||
		    strcmp(name, "..") == 0)
			abort();
	}
	chatupload_name_ok(p);
	chatupload_slot_ok(p);
	free(p);
	return 0;
}
