/* fuzz-netaddr - the listen spec parser: "<name>.listen" values
 * (addr:port[,addr:port...], [v6]:port). A parsed list must format back
 * into a spec that parses to the same addresses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netaddr *list = NULL, *again = NULL, one;
	size_t n = 0, n2 = 0;
	const char *err;
	char *spec;

	if (size > 4096)
		return 0;
	spec = malloc(size + 1);
	memcpy(spec, data, size);
	spec[size] = '\0';
	(void)netaddr_parse(spec, &one, &err);
	if (netaddr_parse_list(spec, &list, &n, &err) == 0) {
		/* format, join, parse again: the same list */
		char *joined = calloc(n + 1, 96);
		size_t len = 0;
		for (size_t i = 0; i < n; i++) {
			char text[96];
			netaddr_format(&list[i], text, sizeof(text));
			if (i)
				joined[len++] = ',';
			memcpy(joined + len, text, strlen(text));
			len += strlen(text);
		}
		joined[len] = '\0';
		if (netaddr_parse_list(joined, &again, &n2, &err) < 0 || n2 != n)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (again[i].port != list[i].port ||
			    strcmp(again[i].host, list[i].host) != 0 ||
			    again[i].port < 1 || again[i].port > 65535)
				__builtin_trap();
		free(again);
		free(joined);
	} else if (err == NULL || *err == '\0') {
		__builtin_trap();
	}
	free(list);
	free(spec);
	return 0;
}
