/* fuzz-dmarc - the DMARC record parser and the tree walk on any input */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	const char *err = NULL;
	int rc = dmarc_record_parse((const char *)data, size, &r, &err);

	if (rc < 0 && err == NULL)
		__builtin_trap();
	if (rc == 1) {
		if (r.p == DMARC_P_UNSET || r.nrua > DMARC_URIS_MAX ||
		    r.pct > 100)
			__builtin_trap();
		for (size_t i = 0; i < r.nrua; i++)
			if (strlen(r.rua[i]) >= DMARC_URI_MAX ||
			    strncasecmp(r.rua[i], "mailto:", 7) != 0)
				__builtin_trap();
	}
	/* the input as a domain name: every name a suffix of it */
	if (size <= 300) {
		char *d = malloc(size + 1);
		const char *names[DMARC_WALK_MAX];
		struct dmarc_walked w;

		memcpy(d, data, size);
		d[size] = '\0';
		memset(&w, 0, sizeof(w));
		w.n = dmarc_walk(d, w.names);
		if (w.n > DMARC_WALK_MAX)
			__builtin_trap();
		for (size_t i = 0; i < w.n; i++) {
			size_t l = strlen(w.names[i]);
			if (l == 0 || l > strlen(d) ||
			    strcmp(d + strlen(d) - l, w.names[i]) != 0)
				__builtin_trap();
			if (rc == 1 && i % 2 == 1)
				w.recs[i] = &r;
		}
		const char *org = dmarc_org_domain(&w);
		if (w.n > 0 && (strlen(org) == 0 || strlen(org) > strlen(d)))
			__builtin_trap();
		(void)names;
		free(d);
	}
	return 0;
}
