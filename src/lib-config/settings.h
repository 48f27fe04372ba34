#ifndef POSTERN_SETTINGS_H
#define POSTERN_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "fields.h"

/* Global settings (the "setting" table), typed by settings_fields[].
 * Unset keys read as their default. Services read them on use, so a
 * change by the CLI takes effect without a restart. */

/* settings_get - the stored form of key (new string); -1 for an unknown
 * key or a database error. */
int settings_get(struct db *db, const char *key, char **value_r,
		 const char **error_r);
/* settings_get_int - a numeric setting; def on any error. */
int64_t settings_get_int(struct db *db, const char *key, int64_t def);
/* settings_get_str - a text setting (new string, "" on error). */
char *settings_get_str(struct db *db, const char *key);
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
