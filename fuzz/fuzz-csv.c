/* fuzz-csv - the CSV record reader (users import, member import) */
#include <stdint.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_record rec = { 0 };
	size_t pos = 0, line = 1;
	const char *err;
	int r, guard = 0;

	for (char sep = ','; ; sep = '\t') {
		pos = 0;
		line = 1;
		while ((r = csv_next((const char *)data, size, &pos, &line, sep, &rec,
		    &err)) != 0) {
			if (r == 1)
				for (size_t i = 0; i < rec.n; i++)
					(void)strlen(rec.fields[i]);
			if (r < 0 && pos >= size)
				break;
			if (++guard > 1000000)
				__builtin_trap();
		}
		if (sep == '\t')
			break;
	}
	csv_record_free(&rec);
	return 0;
}
