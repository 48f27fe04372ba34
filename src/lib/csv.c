/* csv - bounded RFC 4180 record reader and field writer */
#include <string.h>

#include "csv.h"

static void
skip_record(const char *data, size_t len, size_t *pos, size_t *line)
{
	while (*pos < len && data[*pos] != '\n')
		(*pos)++;
	if (*pos < len) {
		(*pos)++;
		(*line)++;
	}
}

int
csv_next(const char *data, size_t len, size_t *pos, size_t *line,
	 char sep, struct csv_record *rec, const char **error_r)
{
	size_t start_field;
	int quoted;

	/* skip blank lines */
	while (*pos < len && (data[*pos] == '\n' || data[*pos] == '\r')) {
		if (data[*pos] == '\n')
			(*line)++;
		(*pos)++;
	}
	if (*pos >= len)
		return 0;
	if (rec->storage.max == 0)
		buf_init(&rec->storage, CSV_MAX_RECORD);
	buf_reset(&rec->storage);
	rec->n = 0;
	rec->line = *line;
	size_t offsets[CSV_MAX_FIELDS];

	for (;;) {
		if (rec->n == CSV_MAX_FIELDS) {
			*error_r = "too many fields";
			skip_record(data, len, pos, line);
			return -1;
		}
		start_field = rec->storage.len;
		offsets[rec->n] = start_field;
		quoted = *pos < len && data[*pos] == '"';
		if (quoted)
			(*pos)++;
		for (;;) {
			if (*pos >= len) {
				if (quoted) {
					*error_r = "unterminated quoted field";
					return -1;
				}
				break;
			}
			char c = data[*pos];
			if (quoted) {
				if (c == '"') {
					if (*pos + 1 < len && data[*pos + 1] == '"') {
						*pos += 2;
						c = '"';
					} else {
						(*pos)++;
						quoted = 0;
						if (*pos < len && data[*pos] != sep &&
						    data[*pos] != '\n' && data[*pos] != '\r') {
							*error_r = "text after closing quote";
							skip_record(data, len, pos, line);
							return -1;
						}
						continue;
					}
				} else {
					if (c == '\n')
						(*line)++;
					(*pos)++;
				}
			} else {
				if (c == sep || c == '\n' || c == '\r')
					break;
				if (c == '"') {
					*error_r = "quote inside an unquoted field";
					skip_record(data, len, pos, line);
					return -1;
				}
				(*pos)++;
			}
			if (c == '\0') {
				*error_r = "NUL byte in record";
				skip_record(data, len, pos, line);
				return -1;
			}
			if (buf_putc(&rec->storage, c) < 0) {
				*error_r = "record too long";
				skip_record(data, len, pos, line);
				return -1;
			}
		}
		if (buf_putc(&rec->storage, '\0') < 0) {
			*error_r = "record too long";
			skip_record(data, len, pos, line);
			return -1;
		}
		rec->n++;
		if (*pos < len && data[*pos] == sep) {
			(*pos)++;
			continue;
		}
		if (*pos < len && data[*pos] == '\r')
			(*pos)++;
		if (*pos < len && data[*pos] == '\n') {
			(*pos)++;
			(*line)++;
		}
		break;
	}
	for (size_t i = 0; i < rec->n; i++)
		rec->fields[i] = rec->storage.data + offsets[i];
	return 1;
}

void
csv_record_free(struct csv_record *rec)
{
	buf_free(&rec->storage);
	rec->n = 0;
}

void
csv_put_field(struct buf *out, const char *field, char sep)
{
	if (strchr(field, sep) == NULL && strpbrk(field, "\"\r\n") == NULL) {
		buf_puts(out, field);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = field; *p; p++) {
		if (*p == '"')
			buf_putc(out, '"');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}
