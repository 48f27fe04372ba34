/* fuzz-mtasts - the MTA-STS TXT record and policy parsers and the MX
 * matching on any input */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtasts_policy p;
	const char *err = NULL;
	char id[MTASTS_ID_MAX + 1];
	char *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	int r = mtasts_policy_parse(s, size, &p, &err);
	if (r < 0 && err == NULL)
		__builtin_trap();
	if (r == 0) {
		if (p.nmx > MTASTS_MX_MAX || p.max_age < 0 ||
		    p.max_age > MTASTS_MAX_AGE)
			__builtin_trap();
		/* every plain mx pattern matches itself */
		for (size_t i = 0; i < p.nmx; i++)
			if (strlen(p.mx[i]) > 255 || (p.mx[i][0] != '*' &&
			    !mtasts_mx_match(&p, p.mx[i])))
				__builtin_trap();
		/* the input's first line as an MX host */
		char *nl = strchr(s, '\n');
		if (nl != NULL)
			*nl = '\0';
		(void)mtasts_mx_match(&p, s);
	}
	err = NULL;
	r = mtasts_txt_parse(s, id, &err);
	if ((r < 0 && err == NULL) || strlen(id) > MTASTS_ID_MAX ||
	    (r == 1 && id[0] == '\0'))
		__builtin_trap();
	free(s);
	return 0;
}
