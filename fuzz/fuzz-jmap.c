/* fuzz-jmap - the JMAP request envelope and back-references (jmap.c):
 * any bytes as a request against two methods, one echoing its arguments
 * (so references resolve into what an earlier call returned) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
echo(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	(void)ctx;
	if (json_object_get(args, "fail") != NULL)
		*error_r = jmap_error_props("invalidArguments", "fail", "fail", NULL);
	else
		*result_r = json_deep_copy(args);
}

static const struct jmap_method methods[] = {
	{ "Core/echo", JMAP_CORE, echo },
	{ "X/echo", "urn:x", echo },
	{ NULL, NULL, NULL },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const caps[] = { JMAP_CORE, "urn:x", NULL };
	const struct jmap_method *const tables[] = { methods, NULL };
	struct jmap_limits lim = JMAP_DEFAULT_LIMITS;
	json_t *out = NULL;

	int status = jmap_run((const char *)data, size, tables, caps, &lim, "s",
	    NULL, &out);
	if ((status != 200 && status != 400) || out == NULL)
		__builtin_trap();
	char *s = json_dumps(out, JSON_COMPACT);
	if (s == NULL)
		__builtin_trap();
	free(s);
	json_decref(out);
	return 0;
}
