/* fuzz-login-msg - the pre-login process's messages (lib-service
 * login-msg.c): a datagram parses only when packing its fields again
 * gives the same bytes */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "login-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[LOGIN_MSG_MAX];
	struct login_msg m;

	if (login_msg_parse(data, size, &m) < 0)
		return 0;
	if (m.n > LOGIN_MSG_FIELDS)
		__builtin_trap();
	for (size_t i = 0; i < m.n; i++)
		if ((const uint8_t *)m.f[i] < data ||
		    (const uint8_t *)m.f[i] + m.len[i] > data + size)
			__builtin_trap();
	size_t n = login_msg_pack(out, m.type, m.id, m.n, m.f, m.len);
	if (n != size || memcmp(out, data, size) != 0)
		__builtin_trap();
	return 0;
}
