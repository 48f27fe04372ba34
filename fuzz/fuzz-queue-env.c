/* fuzz-queue-env - the queue envelope parser (queue_env_parse): every
 * consumer reads .env files with it. An envelope it accepts must format
 * and parse back to the same text. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_env env, again;
	struct buf a, b;
	const char *err;

	memset(&env, 0, sizeof(env));
	memset(&again, 0, sizeof(again));
	if (queue_env_parse((const char *)data, size, &env, &err) < 0) {
		queue_env_free(&env);
		return 0;
	}
	buf_init(&a, 0);
	buf_init(&b, 0);
	queue_env_format(&env, &a);
	if (queue_env_parse(a.data, a.len, &again, &err) < 0)
		__builtin_trap();   /* we cannot read what we wrote */
	queue_env_format(&again, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		__builtin_trap();   /* the round trip changed it */
	buf_free(&a);
	buf_free(&b);
	queue_env_free(&env);
	queue_env_free(&again);
	return 0;
}
