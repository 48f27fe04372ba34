/* db-copy - move a SQLite config store to PostgreSQL (postern db
 * migrate-to): every table, row for row, in one PostgreSQL transaction,
 * counts compared before the commit; the data root is pointed at
 * PostgreSQL (config/database.conf) only after it. Re-runnable: an
 * interrupted run leaves nothing behind (its transaction is rolled back),
 * and a second run replaces what a first one committed. Values move as
 * they are (password hashes stay hashes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db-int.h"
#include "fsutil.h"
#include "schema.h"
#include "xalloc.h"

#define COPY_MAX_COLS 128

/* quote_ident - "name" for PostgreSQL */
static void
quote_ident(struct buf *b, const char *name)
{
	buf_putc(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static int
pg_do(struct db *dst, const char *sql, const char **error_r)
{
	PGresult *res = PQexec(dst->pg, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		r = db_errorf(dst, error_r, "%s: %s", sql,
		    PQresultErrorMessage(res));
	PQclear(res);
	return r;
}

static int64_t
pg_count(struct db *dst, const char *table, const char **error_r)
{
	struct buf q;
	PGresult *res;
	int64_t n = -1;

	buf_init(&q, 0);
	buf_puts(&q, "SELECT count(*) FROM ");
	quote_ident(&q, table);
	res = PQexec(dst->pg, q.data);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		db_errorf(dst, error_r, "count of %s: %s", table,
		    PQresultErrorMessage(res));
	PQclear(res);
	buf_free(&q);
	return n;
}

/* copy_table - every row of table from src into dst */
static int
copy_table(struct db *src, struct db *dst, const char *table,
	   int64_t *rows_r, const char **error_r)
{
	struct buf q, ins;
	struct db_stmt *st;
	const char *values[COPY_MAX_COLS];
	int ncols, r;

	*rows_r = 0;
	buf_init(&q, 0);
	buf_puts(&q, "SELECT * FROM ");
	quote_ident(&q, table);
	st = db_query(src, error_r, q.data, "");
	buf_free(&q);
	if (st == NULL)
		return -1;
	ncols = db_col_count(st);
	if (ncols > COPY_MAX_COLS) {
		db_stmt_free(&st);
		return db_errorf(dst, error_r, "%s: %d columns (at most %d)",
		    table, ncols, COPY_MAX_COLS);
	}
	buf_init(&ins, 0);
	buf_puts(&ins, "INSERT INTO ");
	quote_ident(&ins, table);
	buf_puts(&ins, " (");
	for (int i = 0; i < ncols; i++) {
		if (i > 0)
			buf_puts(&ins, ", ");
		quote_ident(&ins, db_col_name(st, i));
	}
	buf_puts(&ins, ") VALUES (");
	for (int i = 0; i < ncols; i++)
		buf_printf(&ins, "%s$%d", i > 0 ? ", " : "", i + 1);
	buf_puts(&ins, ")");
	while ((r = db_step(st, error_r)) == DB_ROW) {
		for (int i = 0; i < ncols; i++)
			values[i] = db_col_text(st, i);
		PGresult *res = PQexecParams(dst->pg, ins.data, ncols, NULL,
		    values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_errorf(dst, error_r, "%s row %lld: %s", table,
			    (long long)*rows_r + 1, PQresultErrorMessage(res));
			PQclear(res);
			r = -1;
			break;
		}
		PQclear(res);
		(*rows_r)++;
	}
	db_stmt_free(&st);
	buf_free(&ins);
	return r < 0 ? -1 : 0;
}

/* copy_all - inside dst's transaction */
static int
copy_all(struct db *src, struct db *dst, void (*progress)(void *,
	 const char *, int64_t), void *ctx, const char **error_r)
{
	struct db_stmt *st;
	char **tables = NULL;
	size_t n = 0;
	int r = 0;

	st = db_query(src, error_r, "SELECT name FROM sqlite_master WHERE "
	    "type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", "");
	if (st == NULL)
		return -1;
	while (db_step(st, error_r) == DB_ROW) {
		/* not the tables of a migration for SQLite only (v14's
		 * full-text index and its shadow tables; see pg_migrate) */
		if (schema_table_engine_own(db_col_text(st, 0)))
			continue;
		tables = xreallocarray(tables, n + 1, sizeof(*tables));
		tables[n++] = db_col_dup(st, 0);
	}
	db_stmt_free(&st);
	/* rows in any order: the references are checked at the commit */
	if (pg_do(dst, "SET CONSTRAINTS ALL DEFERRED", error_r) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct buf q;
		buf_init(&q, 0);
		buf_puts(&q, "DELETE FROM ");
		quote_ident(&q, tables[i]);
		r = pg_do(dst, q.data, error_r);
		buf_free(&q);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		int64_t rows, want, got;
		if (copy_table(src, dst, tables[i], &rows, error_r) < 0) {
			r = -1;
			break;
		}
		struct buf q;
		buf_init(&q, 0);
		buf_puts(&q, "SELECT count(*) FROM \"");
		buf_puts(&q, tables[i]);
		buf_puts(&q, "\"");
		r = db_query_int(src, &want, 0, error_r, q.data, "");
		buf_free(&q);
		if (r < 0)
			break;
		if ((got = pg_count(dst, tables[i], error_r)) < 0) {
			r = -1;
			break;
		}
		if (got != want || rows != want) {
			r = db_errorf(dst, error_r, "%s: %lld rows in SQLite, %lld "
			    "in PostgreSQL: nothing was changed", tables[i],
			    (long long)want, (long long)got);
			break;
		}
		if (progress != NULL)
			progress(ctx, tables[i], rows);
	}
	/* the next id of every serial column follows the copied rows */
	if (r == 0)
		r = pg_do(dst, "DO $$ DECLARE r record; m bigint; BEGIN "
		    "FOR r IN SELECT table_name, column_name FROM "
		    "information_schema.columns WHERE table_schema = "
		    "current_schema() AND column_default LIKE 'nextval%' LOOP "
		    "EXECUTE format('SELECT coalesce(max(%I), 0) FROM %I', "
		    "r.column_name, r.table_name) INTO m; PERFORM setval("
		    "pg_get_serial_sequence(quote_ident(r.table_name), "
		    "r.column_name), m + 1, false); END LOOP; END $$", error_r);
	for (size_t i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	return r;
}

int
db_copy_to_postgresql(const char *root, const char *url,
		      void (*progress)(void *, const char *, int64_t),
		      void *ctx, char *err, size_t errsize)
{
	struct db *src = NULL, *dst;
	const char *e = NULL;
	char *have = NULL;
	int r = -1;

	if (db_conf_url(root, &have, err, errsize) < 0)
		return -1;
	if (have != NULL) {
		snprintf(err, errsize, "this data root already uses PostgreSQL "
		    "(%s/config/database.conf)", root);
		free(have);
		return -1;
	}
	if (db_open(root, false, &src, &e) < 0) {
		snprintf(err, errsize, "%s", e);
		return -1;
	}
	dst = xcalloc(1, sizeof(*dst));
	dst->root = xstrdup(root);
	if (pg_open(dst, url, &e) < 0) {   /* makes the schema, same version */
		snprintf(err, errsize, "%s", e);
		goto out;
	}
	/* the SQLite store stays as it is while it is read: writers wait */
	if (db_begin(src, &e) < 0) {
		snprintf(err, errsize, "%s", e);
		goto out;
	}
	PQclear(PQexec(dst->pg, "SET application_name = 'postern-migrate'"));
	if (pg_do(dst, "BEGIN", &e) < 0 ||
	    copy_all(src, dst, progress, ctx, &e) < 0 ||
	    pg_do(dst, "NOTIFY postern_config", &e) < 0 ||
	    pg_do(dst, "COMMIT", &e) < 0) {
		snprintf(err, errsize, "%s", e);
		PQclear(PQexec(dst->pg, "ROLLBACK"));
		db_rollback(src);
		goto out;
	}
	db_rollback(src);
	/* from now on every program opens PostgreSQL; the URL may hold a
	 * password: readable by the data root's owner only */
	char *path = xasprintf("%s/config/database.conf", root);
	char *text = xasprintf("# the config store (docs/CLUSTER.md); remove "
	    "this file to go back to config/postern.db\nurl = %s\n", url);
	if (file_write_atomic(path, text, strlen(text), 0600) < 0)
		snprintf(err, errsize, "copied, but %s could not be written: the "
		    "data root still uses SQLite", path);
	else
		r = 0;
	free(text);
	free(path);
out:
	db_close(&src);
	db_close(&dst);
	return r;
}
