#ifndef POSTERN_SETTINGS_H
#define POSTERN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "fields.h"

/* Global settings (the "setting" table). Every setting is one row of
 * settings-fields.def, which makes both the runtime table settings_fields[]
 * (validation, postern config, --help, the web admin's forms) and the
 * typed struct settings below. Unset keys read as their default.
 *
 * Services read a snapshot: st = settings_current(db), then st->imap_
 * idle_timeout. A misspelt member is a compile error; the default is
 * written once, in the .def file. settings_current() asks the database
 * whether anything changed since the snapshot was loaded (PRAGMA
 * data_version, one step of a statement kept prepared, for commits of
 * other connections and processes; sqlite3_total_changes for writes of
 * this connection, raw SQL included), and reloads the setting rows when
 * it did, so a `postern config set` takes effect at the next read
 * without a restart, as a per-key read did.
 *
 * Who may hold a snapshot, and how long:
 * - a snapshot belongs to one db handle, so to the thread using that
 *   handle (a handle is used by one thread at a time: the password pool's
 *   threads and the workers each open their own); never hand it to
 *   another thread;
 * - read it where you use it: take st at the top of a function or of an
 *   event callback and drop it when that returns. Do not keep it in a
 *   session or across a return to the event loop, a wait or a fork (a
 *   forked child calls settings_current on its own handle). A string you
 *   keep longer is copied (xstrdup);
 * - a snapshot replaced by a change stays readable until SETTINGS_KEEP more
 *   changes were seen on the handle, so a caller whose callee took a newer
 *   snapshot is still safe; all of them end with db_close. */

enum setting_id {
	SETTING_NONE,   /* no setting: conn_def rows without one */
#define SETTING_STR(id, ...) SETTING_##id,
#define SETTING_INT(id, ...) SETTING_##id,
#define SETTING_BOOL(id, ...) SETTING_##id,
#define SETTING_ENUM(id, ...) SETTING_##id,
#include "settings-fields.def"
	SETTING_END
};

/* enum settings_<id> of each FT_ENUM row, in the order of its choices */
#define SETTING_STR(id, ...)
#define SETTING_INT(id, ...)
#define SETTING_BOOL(id, ...)
#define SETTING_CHOICE_ENUM(e, text) e,
#define SETTING_ENUM(id, name, def, choices, flags, help) \
	enum settings_##id { choices(SETTING_CHOICE_ENUM) };
#include "settings-fields.def"
#undef SETTING_CHOICE_ENUM

#define SETTINGS_KEEP 8

struct settings {
	/* the stored form of every setting as settings_get gives it
	 * (settings_text); [SETTING_NONE] is "" */
	const char *text[SETTING_END];
	/* numeric settings (bool, int, size, duration) and the index of an
	 * enum's choice (settings_num) */
	int64_t num[SETTING_END];
	/* one typed member per setting */
#define SETTING_STR(id, ...) const char *id;
#define SETTING_INT(id, ...) int64_t id;
#define SETTING_BOOL(id, ...) bool id;
#define SETTING_ENUM(id, ...) enum settings_##id id;
#include "settings-fields.def"
};

/* settings_current - db's global settings now (see above). Never NULL:
 * when the database cannot be read it is the last snapshot loaded, or
 * the defaults. */
const struct settings *settings_current(struct db *db);

/* settings_from_pairs - a snapshot of its own (no database) from n
 * strings name, value, name, value...: the stored forms as settings_text
 * gives them; unknown names are skipped, missing ones are defaults. For
 * a process without a database (the pre-login process of login.h).
 * Free with settings_free. */
struct settings *settings_from_pairs(const char *const *pairs, size_t n);
void settings_free(struct settings *st);
/* settings_text - the stored form of a setting, "" for SETTING_NONE */
static inline const char *
settings_text(const struct settings *st, enum setting_id id)
{
	return st->text[id];
}
/* settings_num - a numeric setting (0 for text) */
static inline int64_t
settings_num(const struct settings *st, enum setting_id id)
{
	return st->num[id];
}
/* settings_field - the table row of a setting (NULL for SETTING_NONE) */
const struct field_def *settings_field(enum setting_id id);
/* settings_id - the setting called name, or SETTING_NONE: for names made
 * at run time from a table in code ("<listener>.listen"). */
enum setting_id settings_id(const char *name);

/* settings_get - the stored form of key (new string); -1 for an unknown
 * key or a database error. By name, for keys users type (postern config
 * get, the admin API); code reads settings_current. */
int settings_get(struct db *db, const char *key, char **value_r,
		 const char **error_r);
/* settings_set - validate and store input; -1 with a message. */
int settings_set(struct db *db, const char *key, const char *input,
		 const char **error_r);
/* settings_unset - back to the default. */
int settings_unset(struct db *db, const char *key, const char **error_r);
/* settings_is_set - whether a value is stored (not the default). */
bool settings_is_set(struct db *db, const char *key);

/* settings_secret - a secret kept in the config store (srs.secret): its
 * value, or when empty a new random one (64 hex digits) stored first.
 * New string, or NULL with an error. */
char *settings_secret(struct db *db, const char *key, const char **error_r);

/* Paths derived from settings and the data root (new strings). */
/* settings_listen_changes - the listeners of a service whose setting
 * changed since it bound them: names are the listener names it serves
 * ("imap", "imaps"), bound its "name=addr:port" entries (as
 * netaddr_format writes them). A new string "imap.listen, imaps.listen",
 * or NULL when every <name>.listen names what is bound. A setting that
 * cannot be read or parsed counts as changed. */
char *settings_listen_changes(struct db *db, const char *const *names,
			      size_t nnames, const char *const *bound,
			      size_t nbound);
char *settings_store_path(struct db *db);
char *settings_queue_path(struct db *db);
char *settings_hostname(struct db *db);

#endif
