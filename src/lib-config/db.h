#ifndef POSTERN_DB_H
#define POSTERN_DB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The config store: one SQLite database (WAL) at <root>/config/postern.db,
 * or PostgreSQL when <root>/config/database.conf names one (docs/CLUSTER.md).
 * No caller sees the engine: statements are written once in the common SQL
 * subset with '?' placeholders and read through the cursor below.
 * Errors come back through error_r as text owned by the db handle, valid
 * until the next call on it. Functions return 0 on success, -1 on error. */

#define DB_SCHEMA_VERSION 16

struct db;
/* a prepared and bound statement being stepped (opaque) */
struct db_stmt;

/* db_step results */
#define DB_ROW 1
#define DB_DONE 0

/* db_last_error codes */
#define DB_EBUSY 5
#define DB_ECONSTRAINT 19

/* db_open - open the data root's database. With create, make it (and run
 * migrations); without, a missing data root is an error. */
int db_open(const char *root, bool create, struct db **db_r,
	    const char **error_r);
void db_close(struct db **db);
const char *db_root(struct db *db);
/* db_sqlite_version - the SQLite library's version text */
const char *db_sqlite_version(void);
/* db_path - the SQLite database file for a data root (new string). */
char *db_path(const char *root);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. A database locked by another writer
 * for longer than the busy timeout gives a clear error. */
int db_begin(struct db *db, const char **error_r);
int db_commit(struct db *db, const char **error_r);
void db_rollback(struct db *db);
/* db_in_transaction - true inside db_begin .. db_commit/db_rollback */
bool db_in_transaction(struct db *db);
/* db_busy_timeout - how long a write waits for another writer (ms) */
void db_busy_timeout(struct db *db, int ms);

/* db_exec - run one statement. types names each argument:
 *   't' const char * (NULL binds NULL), 'i' int64_t, 'b' bool (int). */
int db_exec(struct db *db, const char **error_r, const char *sql,
	    const char *types, ...);
/* db_query - prepare and bind a statement; the caller steps it with db_step
 * and frees it with db_stmt_free. NULL on error. */
struct db_stmt *db_query(struct db *db, const char **error_r, const char *sql,
			 const char *types, ...);
/* db_query_cached - db_query for a statement run often (a lookup per
 * message): on SQLite it stays prepared on the connection, found again by
 * its SQL text (parsing it was most of the CPU of smtpd, mta and
 * deliver); db_stmt_free gives it back. */
struct db_stmt *db_query_cached(struct db *db, const char **error_r,
				const char *sql, const char *types, ...);
/* db_step - DB_ROW (1) with a row to read, DB_DONE (0) at the end, -1 on
 * error (text in *error_r when error_r is not NULL, and on the handle for
 * db_fail). */
int db_step(struct db_stmt *st, const char **error_r);
/* column readers for the current row, columns counted from 0.
 * db_col_text is NULL for NULL and valid until the next db_step. */
const char *db_col_text(struct db_stmt *st, int col);
/* db_col_dup - the text as a new string, "" for NULL */
char *db_col_dup(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
double db_col_double(struct db_stmt *st, int col);
const void *db_col_blob(struct db_stmt *st, int col, size_t *len_r);
bool db_col_isnull(struct db_stmt *st, int col);
/* db_col_isint - the value is an integer (for generic JSON output) */
bool db_col_isint(struct db_stmt *st, int col);
int db_col_count(struct db_stmt *st);
const char *db_col_name(struct db_stmt *st, int col);
/* db_stmt_free - finalize; NULLs the pointer, NULL is fine. */
void db_stmt_free(struct db_stmt **st);

/* db_query_int - first column of the first row as int64 (def if none). */
int db_query_int(struct db *db, int64_t *out, int64_t def,
		 const char **error_r, const char *sql, const char *types, ...);
/* db_query_text - first column of the first row as a new string, or NULL
 * in *out when there is no row. */
int db_query_text(struct db *db, char **out, const char **error_r,
		  const char *sql, const char *types, ...);
/* db_data_version - a number that changes when another process commits a
 * change to the store: services that cache what they read compare it (at
 * most once a second) and read again (PostgreSQL: LISTEN/NOTIFY). */
int db_data_version(struct db *db, int64_t *v, const char **error_r);
/* db_schema_version - the store's schema version (SQLite: user_version;
 * PostgreSQL: the row of postern_schema) */
int db_schema_version(struct db *db, int64_t *v, const char **error_r);
/* db_integrity - the engine's own check: "ok" or what is wrong (new
 * string; SQLite's quick_check; PostgreSQL is checked by its own tools,
 * pg_amcheck: "ok" once it answers) */
int db_integrity(struct db *db, char **result_r, const char **error_r);
/* db_is_postgresql - the store is PostgreSQL (not the SQLite file) */
bool db_is_postgresql(struct db *db);
/* db_last_id - the id the last INSERT gave its row */
int64_t db_last_id(struct db *db);
/* db_changes - rows changed by the last db_exec */
int db_changes(struct db *db);
/* db_fail - set the handle's error text from the engine's last error and
 * return -1. */
int db_fail(struct db *db, const char **error_r, const char *what);
/* db_last_error - the kind of the last failure (DB_EBUSY, DB_ECONSTRAINT)
 * or 0, and clear it. */
int db_last_error(struct db *db);
/* db_copy_to_postgresql - copy the data root's SQLite store into the
 * PostgreSQL database at url (made to this program's schema first) in one
 * transaction, compare the counts, and point the data root at it
 * (config/database.conf). progress (may be NULL) hears each table copied.
 * Re-runnable; 0 or -1 with the reason in err. */
int db_copy_to_postgresql(const char *root, const char *url,
			  void (*progress)(void *ctx, const char *table,
			  int64_t rows), void *ctx, char *err, size_t errsize);
/* db_url - the PostgreSQL URL of the store (password hidden, new string),
 * or NULL for SQLite */
char *db_url(struct db *db);
/* db_errorf - set a formatted error text on the handle, return -1. */
int db_errorf(struct db *db, const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* clang's analyzer reads one file at a time and cannot know that these two
 * always return -1, so it follows "return db_fail(...)" as if it could be
 * a success with the out-parameters unset; under the analyzer only, the
 * calls say so (db.c defines them with their names in parentheses) */
#ifdef __clang_analyzer__
#define db_fail(db, error_r, what) (db_fail((db), (error_r), (what)), -1)
#define db_errorf(db, error_r, ...) \
	(db_errorf((db), (error_r), __VA_ARGS__), -1)
#endif

#endif
