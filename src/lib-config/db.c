/* db - the SQLite config store: open, migrate, bind helpers */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "db-int.h"
#include "fsutil.h"
#include "schema.h"
#include "xalloc.h"



const char *
db_sqlite_version(void)
{
	return sqlite3_libversion();
}

char *
db_path(const char *root)
{
	return xasprintf("%s/config/postern.db", root);
}

int
(db_errorf)(struct db *db, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	*error_r = db->err;
	return -1;
}

int
(db_fail)(struct db *db, const char **error_r, const char *what)
{
	int code;

	if (db->pg != NULL) {   /* the text is on the handle already */
		char was[sizeof(db->err)];
		snprintf(was, sizeof(was), "%s", db->err);
		return db_errorf(db, error_r, "%s: %s", what, was);
	}
	code = sqlite3_extended_errcode(db->h);
	db->last_code = (code & 0xff) == SQLITE_BUSY ||
	    (code & 0xff) == SQLITE_LOCKED ? DB_EBUSY :
	    (code & 0xff) == SQLITE_CONSTRAINT ? DB_ECONSTRAINT : code & 0xff;
	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		return db_errorf(db, error_r,
		    "%s: the config database is locked by another writer; try again",
		    what);
	if ((code & 0xff) == SQLITE_READONLY)
		return db_errorf(db, error_r,
		    "%s: the config database is read-only", what);
	if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
		return db_errorf(db, error_r,
		    "%s: the config database is corrupt (%s)", what,
		    sqlite3_errmsg(db->h));
	return db_errorf(db, error_r, "%s: %s", what, sqlite3_errmsg(db->h));
}

static int
db_migrate(struct db *db, const char **error_r)
{
	int64_t version;

	if (db_query_int(db, &version, 0, error_r, "PRAGMA user_version", "") < 0)
		return -1;
	if (version < 0)   /* user_version is signed: not one we wrote */
		return db_errorf(db, error_r,
		    "config database schema %lld is not valid", (long long)version);
	if (version > DB_SCHEMA_VERSION)
		return db_errorf(db, error_r,
		    "config database schema %lld is newer than this program (%d)",
		    (long long)version, DB_SCHEMA_VERSION);
	for (int v = (int)version + 1; v <= DB_SCHEMA_VERSION; v++) {
		char *err = NULL;
		if (db_begin(db, error_r) < 0)
			return -1;
		if (schema_migration_runs(&schema_migrations[v - 1],
		    SCHEMA_ENGINE_SQLITE) && sqlite3_exec(db->h,
		    schema_migrations[v - 1].sql, NULL, NULL, &err) !=
		    SQLITE_OK) {
			db_errorf(db, error_r, "migration to schema %d: %s", v,
			    err ? err : "?");
			sqlite3_free(err);
			db_rollback(db);
			return -1;
		}
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v);
		if (sqlite3_exec(db->h, pragma, NULL, NULL, NULL) != SQLITE_OK) {
			db_fail(db, error_r, "migration");
			db_rollback(db);
			return -1;
		}
		if (db_commit(db, error_r) < 0)
			return -1;
	}
	return 0;
}

int
db_open(const char *root, bool create, struct db **db_r, const char **error_r)
{
	static char err[512];
	struct db *db;
	struct stat st;
	char *path, *url = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*db_r = NULL;
	if (db_conf_url(root, &url, err, sizeof(err)) < 0) {
		*error_r = err;
		return -1;
	}
	if (url != NULL) {   /* PostgreSQL (docs/CLUSTER.md) */
		db = xcalloc(1, sizeof(*db));
		db->root = xstrdup(root);
		if (pg_open(db, url, error_r) < 0) {
			snprintf(err, sizeof(err), "%s", *error_r);
			*error_r = err;
			free(url);
			db_close(&db);
			return -1;
		}
		free(url);
		*db_r = db;
		return 0;
	}
	path = db_path(root);
	if (stat(path, &st) < 0) {
		if (!create || errno != ENOENT) {
			snprintf(err, sizeof(err),
			    "no Postern data root at %s (run 'postern -d %s init' first)",
			    root, root);
			*error_r = err;
			free(path);
			return -1;
		}
		flags |= SQLITE_OPEN_CREATE;
	}
	db = xcalloc(1, sizeof(*db));
	db->root = xstrdup(root);
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		snprintf(err, sizeof(err), "cannot open %s: %s", path,
		    db->h ? sqlite3_errmsg(db->h) : "out of memory");
		*error_r = err;
		free(path);
		db_close(&db);
		return -1;
	}
	free(path);
	sqlite3_busy_timeout(db->h, 5000);
	sqlite3_extended_result_codes(db->h, 1);
	/* WAL: readers never block the writer; synchronous=FULL so a committed
	 * change survives power loss. */
	char *e = NULL;
	if (sqlite3_exec(db->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;", NULL, NULL, &e) != SQLITE_OK) {
		int code = sqlite3_errcode(db->h) & 0xff;
		if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)
			snprintf(err, sizeof(err), "config database at %s is read-only "
			    "or its directory is not writable (%s): check the "
			    "permissions of config/", root, e ? e : "?");
		else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
			snprintf(err, sizeof(err), "config database at %s is locked "
			    "by another writer; try again", root);
		else
			snprintf(err, sizeof(err), "config database at %s is unusable: %s",
			    root, e ? e : "?");
		sqlite3_free(e);
		*error_r = err;
		db_close(&db);
		return -1;
	}
	if (db_migrate(db, error_r) < 0) {
		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
		db_close(&db);
		return -1;
	}
	*db_r = db;
	return 0;
}

void
db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	settings_db_closed(db);
	for (size_t i = 0; i < DB_STMT_CACHE; i++) {
		sqlite3_finalize(db->cache[i].st);
		free(db->cache[i].sql);
	}
	if (db->h != NULL)
		sqlite3_close_v2(db->h);
	if (db->pg != NULL)
		pg_close(db);
	free(db->url);
	free(db->root);
	free(db);
	*dbp = NULL;
}

const char *
db_root(struct db *db)
{
	return db->root;
}

int
db_begin(struct db *db, const char **error_r)
{
	if (db->pg != NULL)
		return pg_begin(db, error_r);
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, error_r, "begin");
	return 0;
}

int
db_commit(struct db *db, const char **error_r)
{
	if (db->pg != NULL)
		return pg_commit(db, error_r);
	if (sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(db, error_r, "commit");
		db_rollback(db);
		return -1;
	}
	return 0;
}

void
db_rollback(struct db *db)
{
	if (db->pg != NULL) {
		pg_rollback(db);
		return;
	}
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

bool
db_in_transaction(struct db *db)
{
	if (db->pg != NULL)
		return pg_in_transaction(db);
	return !sqlite3_get_autocommit(db->h);
}

void
db_busy_timeout(struct db *db, int ms)
{
	if (db->pg != NULL)   /* PostgreSQL: a row lock waits for its holder */
		return;
	sqlite3_busy_timeout(db->h, ms);
}

/* cache_get - the kept statement of this SQL text, or one prepared into a
 * free slot (the oldest idle one goes); a statement in use already (the
 * same lookup nested) is prepared apart, and finalized by stmt_release */
static sqlite3_stmt *
cache_get(struct db *db, const char *sql)
{
	struct db_cached *slot = NULL;
	sqlite3_stmt *st;

	for (size_t i = 0; i < DB_STMT_CACHE; i++) {
		struct db_cached *c = &db->cache[i];
		if (c->sql != NULL && strcmp(c->sql, sql) == 0) {
			if (c->busy)
				break;
			c->busy = true;
			return c->st;
		}
	}
	for (size_t n = 0; n < DB_STMT_CACHE && slot == NULL; n++) {
		struct db_cached *c = &db->cache[db->cache_next++ % DB_STMT_CACHE];
		if (!c->busy)
			slot = c;
	}
	if (slot == NULL) {
		if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
			return NULL;
		return st;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK)
		return NULL;
	sqlite3_finalize(slot->st);
	free(slot->sql);
	slot->sql = xstrdup(sql);
	slot->st = st;
	slot->busy = true;
	return st;
}

/* stmt_release - the end of a SQLite statement: a kept one is reset for
 * its next use, another finalized */
static void
stmt_release(struct db *db, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < DB_STMT_CACHE; i++)
		if (db->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			db->cache[i].busy = false;
			return;
		}
	sqlite3_finalize(st);
}

static sqlite3_stmt *
db_vquery(struct db *db, const char **error_r, bool cached, const char *sql,
	  const char *types, va_list ap)
{
	sqlite3_stmt *st;
	int i = 1;

	if (cached)
		st = cache_get(db, sql);
	else if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		st = NULL;
	if (st == NULL) {
		db_fail(db, error_r, "query");
		return NULL;
	}
	for (const char *t = types; *t; t++, i++) {
		switch (*t) {
		case 't': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				sqlite3_bind_null(st, i);
			else
				sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
			break;
		}
		case 'i':
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b':
			sqlite3_bind_int(st, i, va_arg(ap, int) ? 1 : 0);
			break;
		default:
			stmt_release(db, st);
			db_errorf(db, error_r, "internal: bad bind type '%c'", *t);
			return NULL;
		}
	}
	return st;
}

/* db_vstmt - prepare and bind on either engine */
static struct db_stmt *
db_vstmt(struct db *db, const char **error_r, bool cached, const char *sql,
	 const char *types, va_list ap)
{
	sqlite3_stmt *st;
	struct db_stmt *s;

	if (db->pg != NULL)
		return pg_query(db, error_r, sql, types, ap);
	st = db_vquery(db, error_r, cached, sql, types, ap);
	if (st == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->db = db;
	s->st = st;
	return s;
}

struct db_stmt *
db_query(struct db *db, const char **error_r, const char *sql,
	 const char *types, ...)
{
	va_list ap;
	struct db_stmt *s;

	va_start(ap, types);
	s = db_vstmt(db, error_r, false, sql, types, ap);
	va_end(ap);
	return s;
}

struct db_stmt *
db_query_cached(struct db *db, const char **error_r, const char *sql,
		const char *types, ...)
{
	va_list ap;
	struct db_stmt *s;

	va_start(ap, types);
	s = db_vstmt(db, error_r, true, sql, types, ap);
	va_end(ap);
	return s;
}

/* db_data_version - a number that changes when another connection commits
 * a change (SQLite: PRAGMA data_version; PostgreSQL: the NOTIFYs heard) */
int
db_data_version(struct db *db, int64_t *v, const char **error_r)
{
	if (db->pg != NULL)
		return pg_data_version(db, v, error_r);
	return db_query_int(db, v, -1, error_r, "PRAGMA data_version", "");
}

int
db_schema_version(struct db *db, int64_t *v, const char **error_r)
{
	if (db->pg != NULL)
		return db_query_int(db, v, -1, error_r,
		    "SELECT version FROM postern_schema", "");
	return db_query_int(db, v, -1, error_r, "PRAGMA user_version", "");
}

int
db_integrity(struct db *db, char **result_r, const char **error_r)
{
	struct db_stmt *q;
	struct buf res;

	*result_r = NULL;
	if (db->pg != NULL) {   /* its own tools check it (pg_amcheck) */
		int64_t one;
		if (db_query_int(db, &one, 0, error_r, "SELECT 1", "") < 0)
			return -1;
		*result_r = xstrdup("ok");
		return 0;
	}
	q = db_query(db, error_r, "PRAGMA quick_check", "");
	if (q == NULL)
		return -1;
	buf_init(&res, 4096);
	while (db_step(q, NULL) == DB_ROW)
		buf_printf(&res, "%s%s", res.len ? "; " : "", db_col_text(q, 0));
	db_stmt_free(&q);
	*result_r = res.data != NULL ? buf_steal(&res) : xstrdup("no answer");
	buf_free(&res);
	return 0;
}

char *
db_url(struct db *db)
{
	char *u, *at, *colon;

	if (db->pg == NULL)
		return NULL;
	u = xstrdup(db->url);
	/* postgresql://user:secret@host/... -> postgresql://user:***@host/... */
	at = strchr(u, '@');
	colon = strchr(u + strlen("postgresql://") - 1, ':');
	if (at != NULL && colon != NULL && colon < at) {
		char *v = xasprintf("%.*s:***%s", (int)(colon - u), u, at);
		free(u);
		u = v;
	}
	return u;
}

bool
db_is_postgresql(struct db *db)
{
	return db->pg != NULL;
}

int
db_step(struct db_stmt *s, const char **error_r)
{
	const char *err;
	int r;

	if (s == NULL) {   /* a failed db_query: its error is already set */
		if (error_r != NULL)
			*error_r = "query failed";
		return -1;
	}
	if (s->db->pg != NULL)
		return pg_step(s, error_r);
	r = sqlite3_step(s->st);
	if (r == SQLITE_ROW)
		return DB_ROW;
	if (r == SQLITE_DONE)
		return DB_DONE;
	return db_fail(s->db, error_r != NULL ? error_r : &err, "query");
}

const char *
db_col_text(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL)
		return pg_col_text(s, col);
	return (const char *)sqlite3_column_text(s->st, col);
}

char *
db_col_dup(struct db_stmt *s, int col)
{
	const char *t = db_col_text(s, col);

	return xstrdup(t != NULL ? t : "");
}

int64_t
db_col_int(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL) {
		const char *t = pg_col_text(s, col);
		return t != NULL ? strtoll(t, NULL, 10) : 0;
	}
	return sqlite3_column_int64(s->st, col);
}

double
db_col_double(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL) {
		const char *t = pg_col_text(s, col);
		return t != NULL ? strtod(t, NULL) : 0;
	}
	return sqlite3_column_double(s->st, col);
}

const void *
db_col_blob(struct db_stmt *s, int col, size_t *len_r)
{
	const void *p;

	if (s->db->pg != NULL)
		return pg_col_blob(s, col, len_r);
	p = sqlite3_column_blob(s->st, col);
	*len_r = (size_t)sqlite3_column_bytes(s->st, col);
	return p;
}

bool
db_col_isnull(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL)
		return pg_col_text(s, col) == NULL;
	return sqlite3_column_type(s->st, col) == SQLITE_NULL;
}

bool
db_col_isint(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL)
		return pg_col_isint(s, col);
	return sqlite3_column_type(s->st, col) == SQLITE_INTEGER;
}

int
db_col_count(struct db_stmt *s)
{
	if (s->db->pg != NULL)
		return PQnfields(s->res);
	return sqlite3_column_count(s->st);
}

const char *
db_col_name(struct db_stmt *s, int col)
{
	if (s->db->pg != NULL)
		return PQfname(s->res, col);
	return sqlite3_column_name(s->st, col);
}

void
db_stmt_free(struct db_stmt **sp)
{
	struct db_stmt *s = *sp;

	if (s == NULL)
		return;
	if (s->st != NULL)
		stmt_release(s->db, s->st);
	if (s->res != NULL)
		PQclear(s->res);
	if (s->blob != NULL)
		PQfreemem(s->blob);
	free(s);
	*sp = NULL;
}

int
db_exec(struct db *db, const char **error_r, const char *sql,
	const char *types, ...)
{
	va_list ap;
	sqlite3_stmt *st;
	int r;

	va_start(ap, types);
	if (db->pg != NULL) {
		r = pg_exec(db, error_r, sql, types, ap);
		va_end(ap);
		return r;
	}
	st = db_vquery(db, error_r, true, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (r != SQLITE_DONE) {
		int code = sqlite3_extended_errcode(db->h);
		stmt_release(db, st);
		if ((code & 0xff) == SQLITE_CONSTRAINT) {
			db->last_code = DB_ECONSTRAINT;
			return db_errorf(db, error_r, "already exists or conflicts: %s",
			    sqlite3_errmsg(db->h));
		}
		return db_fail(db, error_r, "update");
	}
	db->changes = sqlite3_changes(db->h);
	stmt_release(db, st);
	return 0;
}

int
db_query_int(struct db *db, int64_t *out, int64_t def, const char **error_r,
	     const char *sql, const char *types, ...)
{
	va_list ap;
	struct db_stmt *st;
	int r;

	va_start(ap, types);
	st = db_vstmt(db, error_r, true, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	r = db_step(st, error_r);
	if (r == DB_ROW)
		*out = db_col_int(st, 0);
	else if (r == DB_DONE)
		*out = def;
	db_stmt_free(&st);
	return r < 0 ? -1 : 0;
}

int
db_query_text(struct db *db, char **out, const char **error_r,
	      const char *sql, const char *types, ...)
{
	va_list ap;
	struct db_stmt *st;
	int r;

	*out = NULL;
	va_start(ap, types);
	st = db_vstmt(db, error_r, true, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	r = db_step(st, error_r);
	if (r == DB_ROW)
		*out = db_col_dup(st, 0);
	db_stmt_free(&st);
	return r < 0 ? -1 : 0;
}

int64_t
db_last_id(struct db *db)
{
	if (db->pg != NULL)
		return pg_last_id(db);
	return sqlite3_last_insert_rowid(db->h);
}

int
db_changes(struct db *db)
{
	return db->changes;
}

int
db_last_error(struct db *db)
{
	int c = db->last_code;

	db->last_code = 0;
	return c;
}
