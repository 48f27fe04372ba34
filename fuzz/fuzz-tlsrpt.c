/* fuzz-tlsrpt - the TLS-RPT record parser and the report row parser on
 * any input, and the JSON report of the rows that parse */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_record rec;
	struct tlsrpt_row row;
	const char *err = NULL;
	char *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	int r = tlsrpt_record_parse(s, &rec, &err);
	if ((r < 0 && err == NULL) || rec.nrua > TLSRPT_RUA_MAX ||
	    (r == 1 && rec.nrua == 0))
		__builtin_trap();
	for (size_t i = 0; i < rec.nrua; i++)
		if (strlen(rec.rua[i]) >= TLSRPT_URI_MAX ||
		    (strncmp(rec.rua[i], "mailto:", 7) != 0 &&
		    strncasecmp(rec.rua[i], "https://", 8) != 0 &&
		    strncasecmp(rec.rua[i], "mailto:", 7) != 0))
			__builtin_trap();
	/* a decoded mailto: address is printable ASCII with an '@' */
	for (size_t i = 0; i < rec.nrua; i++) {
		if (strncasecmp(rec.rua[i], "mailto:", 7) != 0)
			continue;
		if (strchr(rec.rua[i] + 7, '@') == NULL)
			__builtin_trap();
		for (const char *c = rec.rua[i]; *c != '\0'; c++)
			if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
				__builtin_trap();
	}
	if (tlsrpt_row_parse(s, size, &row) == 0) {
		/* a row that parses formats to a line that parses to the
		 * same row */
		struct tlsrpt_row again;
		struct buf b;
		buf_init(&b, 0);
		tlsrpt_row_format(&row, &b);
		if (b.len == 0 || tlsrpt_row_parse(b.data, b.len - 1, &again) < 0 ||
		    memcmp(&row, &again, sizeof(row)) != 0)
			__builtin_trap();
		buf_free(&b);
		struct tlsrpt_meta m = { "o", "c", "id", 0, 86399 };
		free(tlsrpt_report_json(&m, &row, 1));
	}
	free(s);
	return 0;
}
