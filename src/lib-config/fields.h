#ifndef POSTERN_FIELDS_H
#define POSTERN_FIELDS_H

#include <stdbool.h>

/* Every setting of Postern, global or per object, is one row of a field
 * table: its name, type, default, range and help. The tables drive
 * validation, `postern ... set|show`, `config list` and the docs. */

enum field_type {
	FT_BOOL,      /* stored 0/1; yes/no/true/false/on/off/1/0 */
	FT_INT,       /* stored integer within [min, max] */
	FT_SIZE,      /* stored in KB; input "100" (MB), "512K", "2G" */
	FT_DURATION,  /* stored in seconds; input "90s", "15m", "30h", "2d" */
	FT_TEXT,      /* free text (bounded) */
	FT_ENUM,      /* one of choices "a|b|c" */
	FT_ADDRESS,   /* empty or an e-mail address */
	FT_HOSTPORT,  /* empty or host[:port] */
	FT_LISTEN,    /* addr:port[,addr:port...] with numeric addresses */
	FT_TIME,      /* stored unix time; input "YYYY-MM-DD[ HH:MM]" or 0 */
};

#define FIELD_SECRET     0x01  /* shown as ******** */
#define FIELD_UNLIMITED0 0x02  /* a value of 0 means unlimited */
#define FIELD_MULTILINE  0x04  /* text may contain newlines */
#define FIELD_UNBUILT    0x08  /* stored, but no code acts on it yet: help,
				* show and config list say "(not built yet)" */
#define FIELD_COUNTRIES  0x10  /* text: ISO 3166 codes, comma separated
				* (loginsec.h), stored upper case */
#define FIELD_MILTERS    0x20  /* text: a milter list (milterspec.h) */

struct field_def {
	const char *name;     /* the name users type */
	const char *column;   /* storage column; NULL: same as name */
	enum field_type type;
	const char *def;      /* default, stored form */
	long long min, max;
	const char *choices;  /* FT_ENUM */
	const char *help;
	unsigned flags;
};

extern const struct field_def settings_fields[];
extern const struct field_def postoffice_fields[];
extern const struct field_def domain_fields[];
extern const struct field_def mailbox_fields[];
extern const struct field_def group_fields[];
extern const struct field_def list_fields[];

/* field_find - the row named name (NULL terminated table), or NULL. */
const struct field_def *field_find(const struct field_def *defs,
				   const char *name);
static inline const char *
field_column(const struct field_def *f)
{
	return f->column ? f->column : f->name;
}
/* field_parse - validate input, giving the stored form (new string). */
char *field_parse(const struct field_def *f, const char *input,
		  const char **error_r);
/* field_format - the stored form as people read it (new string). */
char *field_format(const struct field_def *f, const char *stored);
/* field_json_name - the key in --json output: sizes get "_kb", durations
 * "_s", times stay as unix seconds. Returns a static buffer. */
const char *field_json_name(const struct field_def *f);
bool field_is_numeric(const struct field_def *f);
/* parse_duration - "90", "90s", "15m", "30h", "2d" to seconds, or -1. */
long long parse_duration(const char *s);

#endif
