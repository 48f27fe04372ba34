/* fuzz-arc - ARC chains of arbitrary messages: the set collection, the
 * ARC-Seal and ARC-Message-Signature parsers and verification */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arc.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
lookup(void *ctx, const char *selector, const char *domain, bool *tempfail)
{
	(void)ctx;
	(void)selector;
	*tempfail = false;
	if (strcmp(domain, "none.test") == 0)
		return NULL;
	return xstrdup("v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arc_verdict v;
	enum arc_result r = arc_verify((const char *)data, size, lookup, NULL, &v);

	if (r != v.result || (r == ARC_FAIL && v.why == NULL) ||
	    v.instances > ARC_MAX_INSTANCES ||
	    strlen(v.chain) >= sizeof(v.chain))
		__builtin_trap();
	return 0;
}
