#ifndef POSTERN_DB_INT_H
#define POSTERN_DB_INT_H

/* db-int - what db.c (SQLite, and the dispatch) and db-pg.c (PostgreSQL)
 * share; nothing outside src/lib-config includes it. */

#include <sqlite3.h>
#include "pq-load.h"     /* libpq-fe.h, its calls loaded on first use */

#include "db.h"

/* SQLite: prepared statements kept for db_query_cached and the one-row
 * helpers */
#define DB_STMT_CACHE 32

struct db_cached {
	char *sql;
	sqlite3_stmt *st;
	bool busy;
};

struct db {
	sqlite3 *h;          /* the SQLite store, or NULL */
	PGconn *pg;          /* the PostgreSQL store, or NULL */
	char *url;           /* PostgreSQL: the connection URL */
	char *root;
	char err[512];
	int last_code;
	int changes;
	int64_t notices;     /* PostgreSQL: change notifications seen */
	struct db_cached cache[DB_STMT_CACHE];
	unsigned cache_next;
};

struct db_stmt {
	struct db *db;
	sqlite3_stmt *st;    /* SQLite */
	PGresult *res;       /* PostgreSQL: the whole result, read row by row */
	int row, nrows;
	unsigned char *blob; /* PostgreSQL: the last bytea decoded */
	char buf[2];         /* PostgreSQL: a boolean as "1"/"0" */
};


/* settings.c: a connection closes (its settings snapshots go) */
void settings_db_closed(struct db *db);

/* db-pg.c: the PostgreSQL side of each db_* function */
int pg_open(struct db *db, const char *url, const char **error_r);
void pg_close(struct db *db);
int pg_exec(struct db *db, const char **error_r, const char *sql,
	    const char *types, va_list ap);
struct db_stmt *pg_query(struct db *db, const char **error_r,
			 const char *sql, const char *types, va_list ap);
int pg_begin(struct db *db, const char **error_r);
int pg_commit(struct db *db, const char **error_r);
void pg_rollback(struct db *db);
bool pg_in_transaction(struct db *db);
int pg_step(struct db_stmt *s, const char **error_r);
const char *pg_col_text(struct db_stmt *s, int col);
const void *pg_col_blob(struct db_stmt *s, int col, size_t *len_r);
bool pg_col_isint(struct db_stmt *s, int col);
int64_t pg_last_id(struct db *db);
int pg_data_version(struct db *db, int64_t *v, const char **error_r);
/* pg_exec_ddl - run a schema migration written for SQLite, translated */
int pg_exec_ddl(struct db *db, const char *sql, const char **error_r);
/* pg_sql - the PostgreSQL text of a statement written for SQLite (new
 * string); ddl also translates column types. */
char *pg_sql(const char *sql, bool ddl);
/* db_conf_url - the url of <root>/config/database.conf (new string), NULL
 * when there is none (SQLite); -1 on an unreadable or bad file */
int db_conf_url(const char *root, char **url_r, char *err, size_t errsize);

#endif
