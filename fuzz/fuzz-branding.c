/* fuzz-branding - the logo checker (lib-admin branding.c): any bytes as a
 * PNG, JPEG or SVG (the first byte picks); an SVG it accepts holds no
 * script, no event handler attribute and no javascript: URL */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "branding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "image/png", "image/jpeg",
	    "image/svg+xml", "image/gif" };
	const char *why = NULL;

	if (size < 1)
		return 0;
	const char *type = types[data[0] % 4];
	int r = brand_check(type, data + 1, size - 1, &why);
	if (r < 0 && why == NULL)
		__builtin_trap();
	if (r == 0 && strcmp(type, "image/svg+xml") == 0) {
		char *low = malloc(size);
		for (size_t i = 1; i < size; i++)
			low[i - 1] = (char)tolower(data[i]);
		low[size - 1] = '\0';
		if (strlen(low) != size - 1 || strstr(low, "<script") != NULL ||
		    strstr(low, "javascript:") != NULL)
			__builtin_trap();
		/* no on<letters>= after anything but a name's character */
		for (const char *p = strstr(low, "on"); p != NULL;
		    p = strstr(p + 2, "on")) {
			const char *q = p + 2;
			if (p > low && (isalnum((unsigned char)p[-1]) ||
			    strchr("-_:.", p[-1]) != NULL))
				continue;
			while (isalpha((unsigned char)*q))
				q++;
			while (isspace((unsigned char)*q))
				q++;
			if (q > p + 2 && *q == '=')
				__builtin_trap();
		}
		free(low);
	}
	return 0;
}
