/* fuzz-fields - field_parse of setting values, for every field of every
 * table: the first byte picks the field, the rest is the value. A value
 * that parses must parse again to itself where the stored form is also an
 * input form, and must format without trouble. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct field_def *
pick(unsigned idx)
{
	const struct field_def *const tables[] = {
		settings_fields, postoffice_fields, domain_fields, mailbox_fields,
		group_fields, list_fields,
	};
	size_t total = 0;

	for (size_t t = 0; t < 6; t++)
		for (const struct field_def *f = tables[t]; f->name; f++)
			total++;
	idx %= total;
	for (size_t t = 0; t < 6; t++)
		for (const struct field_def *f = tables[t]; f->name; f++)
			if (idx-- == 0)
				return f;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct field_def *f;
	const char *err = NULL;
	char *input, *stored;

	if (size < 1 || size > 70000)
		return 0;
	f = pick(data[0]);
	input = malloc(size);
	memcpy(input, data + 1, size - 1);
	input[size - 1] = '\0';
	stored = field_parse(f, input, &err);
	if (stored == NULL) {
		if (err == NULL || *err == '\0')
			__builtin_trap();
	} else {
		char *shown = field_format(f, stored);
		free(shown);
		/* sizes are stored in KB and times as unix seconds: their
		 * stored form is not an input form */
		if (f->type != FT_SIZE && f->type != FT_TIME) {
			char *again = field_parse(f, stored, &err);
			if (again == NULL || strcmp(again, stored) != 0)
				__builtin_trap();
			free(again);
		}
		if (field_is_numeric(f)) {
			char *end;
			long long v = strtoll(stored, &end, 10);
			if (*end != '\0' || (f->type != FT_TIME &&
			    (v < f->min || v > f->max)))
				__builtin_trap();
		}
	}
	free(stored);
	free(input);
	return 0;
}
