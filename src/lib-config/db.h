#ifndef POSTERN_DB_H
#define POSTERN_DB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

/* The config store: one SQLite database (WAL) at <root>/config/postern.db.
 * Errors come back through error_r as text owned by the db handle, valid
 * until the next call on it. Functions return 0 on success, -1 on error. */

#define DB_SCHEMA_VERSION 14

struct db;

/* db_open - open the data root's database. With create, make it (and run
 * migrations); without, a missing data root is an error. Read-only opens
 * (readonly true) never migrate. */
int db_open(const char *root, bool create, struct db **db_r,
	    const char **error_r);
void db_close(struct db **db);
sqlite3 *db_handle(struct db *db);
const char *db_root(struct db *db);
/* db_path - the database file for a data root (new string). */
char *db_path(const char *root);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. A database locked by another writer
 * for longer than the busy timeout gives a clear error. */
int db_begin(struct db *db, const char **error_r);
int db_commit(struct db *db, const char **error_r);
void db_rollback(struct db *db);

/* db_exec - run one statement. types names each argument:
 *   't' const char * (NULL binds NULL), 'i' int64_t, 'b' bool (int). */
int db_exec(struct db *db, const char **error_r, const char *sql,
	    const char *types, ...);
/* db_query - prepare and bind; the caller steps and finalizes. NULL on
 * error. */
sqlite3_stmt *db_query(struct db *db, const char **error_r, const char *sql,
		       const char *types, ...);
/* db_query_int - first column of the first row as int64 (def if none). */
int db_query_int(struct db *db, int64_t *out, int64_t def,
		 const char **error_r, const char *sql, const char *types, ...);
/* db_query_text - first column of the first row as a new string, or NULL
 * in *out when there is no row. */
int db_query_text(struct db *db, char **out, const char **error_r,
		  const char *sql, const char *types, ...);
int64_t db_last_id(struct db *db);
int db_changes(struct db *db);
/* db_fail - set the handle's error text from sqlite's and return -1. */
int db_fail(struct db *db, const char **error_r, const char *what);
/* db_last_error - the SQLite primary code of the last failure (SQLITE_BUSY,
 * SQLITE_CONSTRAINT, ...) or 0, and clear it. */
int db_last_error(struct db *db);
/* db_errorf - set a formatted error text on the handle, return -1. */
int db_errorf(struct db *db, const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
