#ifndef POSTERN_CSV_H
#define POSTERN_CSV_H

#include <stddef.h>

#include "buf.h"

#define CSV_MAX_FIELDS 32
#define CSV_MAX_RECORD 8192

/* One CSV record (RFC 4180: quoted fields, "" escapes, CRLF or LF). */
struct csv_record {
	char *fields[CSV_MAX_FIELDS];
	size_t n;
	size_t line;          /* 1-based line where the record starts */
	struct buf storage;
};

/* csv_next - parse the next record of data[0..len) from *pos with the
 * separator sep (',' or '\t'). Returns 1 with a record, 0 at the end, -1
 * with an error (the record is skipped: *pos moves past it so the caller
 * can report it and continue). Blank lines are skipped. *line counts lines
 * and must start at 1. */
int csv_next(const char *data, size_t len, size_t *pos, size_t *line,
	     char sep, struct csv_record *rec, const char **error_r);
void csv_record_free(struct csv_record *rec);
/* csv_put_field - append a field, quoted if it needs to be. */
void csv_put_field(struct buf *out, const char *field, char sep);

#endif
