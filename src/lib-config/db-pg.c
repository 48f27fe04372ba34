/* db-pg - the config store on PostgreSQL (libpq): the same db_* API as the
 * SQLite store. Statements are written once, for SQLite; pg_sql translates
 * the few differences (placeholders, INSERT OR IGNORE, LIKE's case, rowid,
 * COLLATE NOCASE, a few functions; in schema migrations the column types),
 * and the compat functions below give PostgreSQL SQLite's datetime(),
 * strftime() and two-argument max()/min(). The schema version lives in
 * the table postern_schema (SQLite: PRAGMA user_version). Every committed
 * change is announced with NOTIFY postern_config; each connection LISTENs,
 * so db_data_version sees a change made by any process on any host.
 *
 * A statement that fails inside a transaction does not abort it (as in
 * SQLite): each one runs under a savepoint there. A lost connection is
 * reset before the next statement; while PostgreSQL is unreachable every
 * call fails with a clear error and nothing is retried behind the
 * caller's back. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db-int.h"
#include "schema.h"
#include "xalloc.h"

#define PG_MAX_PARAMS 64
#define PG_BOOLOID 16
#define PG_BYTEAOID 17
#define PG_INT8OID 20
#define PG_INT2OID 21
#define PG_INT4OID 23
#define PG_TEXTOID 25
#define PG_NUMERICOID 1700

/* what PostgreSQL needs to run SQLite's SQL (created once, idempotent) */
static const char pg_compat[] =
"CREATE EXTENSION IF NOT EXISTS citext;"
"CREATE TABLE IF NOT EXISTS postern_schema (version INTEGER NOT NULL);"
"INSERT INTO postern_schema SELECT 0 WHERE NOT EXISTS "
"  (SELECT 1 FROM postern_schema);"
"CREATE OR REPLACE FUNCTION datetime(t BIGINT, unit TEXT) RETURNS TEXT "
"  LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(to_timestamp(t) AT TIME ZONE "
"  'UTC', 'YYYY-MM-DD HH24:MI:SS') $$;"
"CREATE OR REPLACE FUNCTION datetime(t NUMERIC, unit TEXT) RETURNS TEXT "
"  LANGUAGE sql IMMUTABLE AS $$ SELECT datetime(t::BIGINT, unit) $$;"
"CREATE OR REPLACE FUNCTION strftime(f TEXT, t BIGINT, unit TEXT) "
"  RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(to_timestamp(t) "
"  AT TIME ZONE 'UTC', replace(replace(replace(replace(replace(replace(f, "
"  '%Y', 'YYYY'), '%m', 'MM'), '%d', 'DD'), '%H', 'HH24'), '%M', 'MI'), "
"  '%S', 'SS')) $$;"
"CREATE OR REPLACE FUNCTION strftime(f TEXT, t TEXT) RETURNS BIGINT "
"  LANGUAGE sql STABLE AS $$ SELECT extract(epoch FROM now())::BIGINT $$;"
"CREATE OR REPLACE FUNCTION max(a BIGINT, b BIGINT) RETURNS BIGINT "
"  LANGUAGE sql IMMUTABLE AS $$ SELECT greatest(a, b) $$;"
"CREATE OR REPLACE FUNCTION min(a BIGINT, b BIGINT) RETURNS BIGINT "
"  LANGUAGE sql IMMUTABLE AS $$ SELECT least(a, b) $$;";

/* pg_error - the handle's error text from a failed result (or the
 * connection), with the kind in last_code; returns -1 */
static int
pg_error(struct db *db, PGresult *res, const char **error_r)
{
	const char *state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	char text[400];

	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(db->pg);
	snprintf(text, sizeof(text), "%s", msg);
	text[strcspn(text, "\n")] = '\0';
	db->last_code = 0;
	if (PQstatus(db->pg) != CONNECTION_OK ||
	    (state != NULL && strncmp(state, "08", 2) == 0)) {
		db->last_code = DB_EBUSY;
		return db_errorf(db, error_r, "the config database (PostgreSQL) "
		    "is unreachable: %s", text);
	}
	if (state != NULL && strncmp(state, "23", 2) == 0) {
		db->last_code = DB_ECONSTRAINT;
		return db_errorf(db, error_r, "already exists or conflicts: %s",
		    text);
	}
	if (state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "57014") == 0)) {
		db->last_code = DB_EBUSY;
		return db_errorf(db, error_r, "the config database is busy (%s); "
		    "try again", text);
	}
	return db_errorf(db, error_r, "%s", text);
}

/* word_is - s starts with the keyword w (any case) as a whole word */
static bool
word_is(const char *s, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(s, w, n) == 0 && !isalnum((unsigned char)s[n]) &&
	    s[n] != '_';
}

static const char *
skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

char *
pg_sql(const char *sql, bool ddl)
{
	struct buf out;
	const char *p = sql;
	int param = 0, depth = 0;
	bool ignore = false, refs = false;
	size_t coltype = (size_t)-1;   /* where the column's type word starts */

	buf_init(&out, 0);
	while (*p != '\0') {
		char c = *p;
		if (c == '\'' || c == '"') {   /* a literal or quoted name */
			const char *q = p + 1;
			while (*q != '\0' && !(*q == c && q[1] != c))
				q += *q == c ? 2 : 1;
			if (*q == c)
				q++;
			buf_append(&out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		if (c == '-' && p[1] == '-') {   /* a comment */
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (c == '?') {
			p++;
			if (isdigit((unsigned char)*p)) {
				buf_putc(&out, '$');
				while (isdigit((unsigned char)*p))
					buf_putc(&out, *p++);
			} else
				buf_printf(&out, "$%d", ++param);
			continue;
		}
		if (ddl && (c == '(' || c == ',' || c == ')' || c == ';')) {
			if (c == '(')
				depth++;
			if ((c == ',' && depth == 1) || (c == ')' && depth == 1)) {
				if (refs)   /* a copy may load rows in any order */
					buf_puts(&out, " DEFERRABLE INITIALLY IMMEDIATE");
				refs = false;
			}
			if (c == ')')
				depth--;
			buf_putc(&out, c);
			p++;
			if (c == '(' || c == ',')
				coltype = (size_t)-1;
			continue;
		}
		if (!isalpha((unsigned char)c) && c != '_') {
			if (c == ';' && ignore) {
				buf_puts(&out, " ON CONFLICT DO NOTHING");
				ignore = false;
			}
			buf_putc(&out, c);
			p++;
			continue;
		}
		/* a word */
		const char *w = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		size_t n = (size_t)(p - w);
		if (word_is(w, "INSERT")) {
			const char *q = skip_space(p);
			if (word_is(q, "OR")) {
				q = skip_space(q + 2);
				if (word_is(q, "IGNORE")) {
					ignore = true;
					p = q + 6;
				} else if (word_is(q, "REPLACE"))
					p = q + 7;   /* callers use ON CONFLICT instead */
			}
			buf_puts(&out, "INSERT");
		} else if (word_is(w, "COLLATE") &&
		    word_is(skip_space(p), "NOCASE")) {
			p = skip_space(p) + 6;
			if (ddl && coltype != (size_t)-1 &&
			    strncasecmp(out.data + coltype, "TEXT", 4) == 0) {
				/* TEXT ... COLLATE NOCASE: a case-blind type */
				char *rest = xstrdup(out.data + coltype + 4);
				out.len = coltype;
				out.data[out.len] = '\0';
				buf_puts(&out, "CITEXT");
				buf_puts(&out, rest);
				free(rest);
			}
			/* in a query the column's type compares case-blind */
		} else if (word_is(w, "IMMEDIATE") || word_is(w, "AUTOINCREMENT")) {
			;
		} else if (word_is(w, "LIKE")) {
			buf_puts(&out, "ILIKE");   /* SQLite's LIKE ignores case */
		} else if (word_is(w, "window")) {   /* a column name here */
			buf_puts(&out, "\"window\"");
		} else if (word_is(w, "rowid")) {
			buf_puts(&out, "ctid");
		} else if (word_is(w, "group_concat")) {
			buf_puts(&out, "string_agg");
		} else if (word_is(w, "instr")) {
			buf_puts(&out, "strpos");
		} else if (ddl && word_is(w, "INTEGER") &&
		    word_is(skip_space(p), "PRIMARY")) {
			buf_puts(&out, "BIGSERIAL");
		} else if (ddl && depth == 1 && coltype == (size_t)-1 &&
		    out.len > 0 && isspace((unsigned char)out.data[out.len - 1]) &&
		    (word_is(w, "INTEGER") || word_is(w, "TEXT") ||
		    word_is(w, "BLOB") || word_is(w, "REAL"))) {
			coltype = out.len;
			buf_puts(&out, word_is(w, "INTEGER") ? "BIGINT" :
			    word_is(w, "BLOB") ? "BYTEA" :
			    word_is(w, "REAL") ? "DOUBLE PRECISION" : "TEXT");
		} else if (ddl && word_is(w, "INTEGER")) {
			buf_puts(&out, "BIGINT");
		} else {
			if (ddl && word_is(w, "REFERENCES"))
				refs = true;
			buf_append(&out, w, n);
		}
	}
	if (ignore)
		buf_puts(&out, " ON CONFLICT DO NOTHING");
	return buf_steal(&out);
}

/* pg_reset - connect again; LISTEN again, and count a change: some may
 * have been missed meanwhile */
static void
pg_reset(struct db *db)
{
	PQreset(db->pg);
	if (PQstatus(db->pg) == CONNECTION_OK) {
		PQclear(PQexec(db->pg, "SET statement_timeout = 15000"));
		PQclear(PQexec(db->pg, "LISTEN postern_config"));
		db->notices++;
	}
}

/* pg_alive - reset a lost connection before the next statement */
static int
pg_alive(struct db *db, const char **error_r)
{
	if (PQstatus(db->pg) == CONNECTION_OK)
		return 0;
	pg_reset(db);
	if (PQstatus(db->pg) != CONNECTION_OK)
		return pg_error(db, NULL, error_r);
	return 0;
}

/* pg_simple - one command without parameters */
static int
pg_simple(struct db *db, const char *sql, const char **error_r)
{
	PGresult *res;
	int r = 0;

	if (pg_alive(db, error_r) < 0)
		return -1;
	res = PQexec(db->pg, sql);
	if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    PQstatus(db->pg) == CONNECTION_BAD &&
	    strcmp(sql, "BEGIN") == 0) {   /* as in pg_run */
		PQclear(res);
		pg_reset(db);
		res = PQexec(db->pg, sql);
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		r = pg_error(db, res, error_r);
	PQclear(res);
	return r;
}

/* pg_run - translate, bind and run one statement; the result or NULL */
static PGresult *
pg_run(struct db *db, const char **error_r, const char *sql,
       const char *types, va_list ap)
{
	const char *values[PG_MAX_PARAMS];
	char *owned[PG_MAX_PARAMS];
	Oid oids[PG_MAX_PARAMS];
	int n = 0;
	PGresult *res;
	bool sp;

	for (const char *t = types; *t; t++, n++) {
		if (n == PG_MAX_PARAMS) {
			for (int i = 0; i < n; i++)
				free(owned[i]);
			db_errorf(db, error_r, "internal: too many parameters");
			return NULL;
		}
		owned[n] = NULL;
		switch (*t) {
		case 't':
			values[n] = va_arg(ap, const char *);
			oids[n] = PG_TEXTOID;
			break;
		case 'i':
			owned[n] = xasprintf("%lld", (long long)va_arg(ap, int64_t));
			values[n] = owned[n];
			oids[n] = PG_INT8OID;
			break;
		case 'b':
			values[n] = va_arg(ap, int) ? "1" : "0";
			oids[n] = PG_INT8OID;
			break;
		default:
			for (int i = 0; i < n; i++)
				free(owned[i]);
			db_errorf(db, error_r, "internal: bad bind type '%c'", *t);
			return NULL;
		}
	}
	if (pg_alive(db, error_r) < 0) {
		res = NULL;
		goto out;
	}
	char *text = pg_sql(sql, false);
	/* inside a transaction a failed statement must not abort it; the
	 * caller's own SAVEPOINT/RELEASE/ROLLBACK TO run bare (under ours,
	 * RELEASE db_stmt would take theirs with it) */
	const char *verb = skip_space(text);
	sp = PQtransactionStatus(db->pg) == PQTRANS_INTRANS &&
	    !word_is(verb, "SAVEPOINT") && !word_is(verb, "RELEASE") &&
	    !word_is(verb, "ROLLBACK");
	if (sp)
		PQclear(PQexec(db->pg, "SAVEPOINT db_stmt"));
	/* PostgreSQL infers each parameter's type from where it is used (so
	 * a name compares case-blind with a CITEXT column); where it cannot
	 * ("? IS NULL"), the type the caller bound it with */
	res = PQexecParams(db->pg, text, n, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && !sp &&
	    PQstatus(db->pg) == CONNECTION_BAD) {
		/* the server went away since the last statement (a restart):
		 * once more on a new connection, outside a transaction only */
		PQclear(res);
		pg_reset(db);
		res = PQexecParams(db->pg, text, n, NULL, values, NULL, NULL, 0);
	}
	const char *state = PQresultStatus(res) == PGRES_FATAL_ERROR ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && (strcmp(state, "42P18") == 0 ||
	    strcmp(state, "42P08") == 0)) {   /* indeterminate, ambiguous */
		PQclear(res);
		if (sp)
			PQclear(PQexec(db->pg, "ROLLBACK TO db_stmt"));
		res = PQexecParams(db->pg, text, n, oids, values, NULL, NULL, 0);
	}
	free(text);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_error(db, res, error_r);
		PQclear(res);
		res = NULL;
		if (sp)
			PQclear(PQexec(db->pg, "ROLLBACK TO db_stmt; RELEASE db_stmt"));
		goto out;
	}
	if (sp)
		PQclear(PQexec(db->pg, "RELEASE db_stmt"));
	/* a change: announced at its commit (at once outside a transaction) */
	const char *tag = PQcmdStatus(res);
	if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
	    strncmp(tag, "DELETE", 6) == 0)
		PQclear(PQexec(db->pg, "NOTIFY postern_config"));
out:
	for (int i = 0; i < n; i++)
		free(owned[i]);
	return res;
}

int
pg_exec(struct db *db, const char **error_r, const char *sql,
	const char *types, va_list ap)
{
	PGresult *res = pg_run(db, error_r, sql, types, ap);

	if (res == NULL)
		return -1;
	db->changes = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

struct db_stmt *
pg_query(struct db *db, const char **error_r, const char *sql,
	 const char *types, va_list ap)
{
	PGresult *res = pg_run(db, error_r, sql, types, ap);
	struct db_stmt *s;

	if (res == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->db = db;
	s->res = res;
	s->row = -1;
	s->nrows = PQntuples(res);
	db->changes = atoi(PQcmdTuples(res));
	return s;
}

int
pg_step(struct db_stmt *s, const char **error_r)
{
	if (s->row < s->nrows)
		s->row++;
	return s->row < s->nrows ? DB_ROW : DB_DONE;
}

const char *
pg_col_text(struct db_stmt *s, int col)
{
	if (s->row < 0 || s->row >= s->nrows || col < 0 ||
	    col >= PQnfields(s->res) || PQgetisnull(s->res, s->row, col))
		return NULL;
	const char *v = PQgetvalue(s->res, s->row, col);
	if (PQftype(s->res, col) == PG_BOOLOID) {   /* SQLite has 1 and 0 */
		s->buf[0] = *v == 't' ? '1' : '0';
		s->buf[1] = '\0';
		return s->buf;
	}
	return v;
}

const void *
pg_col_blob(struct db_stmt *s, int col, size_t *len_r)
{
	const char *v = pg_col_text(s, col);

	*len_r = 0;
	if (v == NULL)
		return NULL;
	if (PQftype(s->res, col) != PG_BYTEAOID) {
		*len_r = strlen(v);
		return v;
	}
	if (s->blob != NULL)
		PQfreemem(s->blob);
	s->blob = PQunescapeBytea((const unsigned char *)v, len_r);
	return s->blob;
}

bool
pg_col_isint(struct db_stmt *s, int col)
{
	unsigned t = PQftype(s->res, col);
	const char *v = pg_col_text(s, col);

	if (v == NULL)
		return false;
	if (t == PG_INT8OID || t == PG_INT4OID || t == PG_INT2OID ||
	    t == PG_BOOLOID)
		return true;
	return t == PG_NUMERICOID && strchr(v, '.') == NULL;
}

int64_t
pg_last_id(struct db *db)
{
	PGresult *res;
	int64_t id = 0;
	bool sp = PQtransactionStatus(db->pg) == PQTRANS_INTRANS;

	/* lastval() fails when nothing took a number: not in the caller's
	 * transaction */
	if (sp)
		PQclear(PQexec(db->pg, "SAVEPOINT db_id"));
	res = PQexec(db->pg, "SELECT lastval()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (sp)
		PQclear(PQexec(db->pg, PQresultStatus(res) == PGRES_TUPLES_OK ?
		    "RELEASE db_id" : "ROLLBACK TO db_id; RELEASE db_id"));
	PQclear(res);
	return id;
}

int
pg_begin(struct db *db, const char **error_r)
{
	return pg_simple(db, "BEGIN", error_r);
}

int
pg_commit(struct db *db, const char **error_r)
{
	if (pg_simple(db, "COMMIT", error_r) < 0) {
		pg_rollback(db);
		return -1;
	}
	return 0;
}

void
pg_rollback(struct db *db)
{
	if (PQtransactionStatus(db->pg) != PQTRANS_IDLE)
		PQclear(PQexec(db->pg, "ROLLBACK"));
}

bool
pg_in_transaction(struct db *db)
{
	PGTransactionStatusType t = PQtransactionStatus(db->pg);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

int
pg_data_version(struct db *db, int64_t *v, const char **error_r)
{
	PGnotify *n;

	if (pg_alive(db, error_r) < 0)
		return -1;
	if (!PQconsumeInput(db->pg))
		return pg_error(db, NULL, error_r);
	while ((n = PQnotifies(db->pg)) != NULL) {
		if (n->be_pid != PQbackendPID(db->pg))   /* not our own */
			db->notices++;
		PQfreemem(n);
	}
	*v = db->notices;
	return 0;
}

int
pg_exec_ddl(struct db *db, const char *sql, const char **error_r)
{
	char *text = pg_sql(sql, true);
	int r = pg_simple(db, text, error_r);

	free(text);
	return r;
}

/* pg_migrate - bring the schema to DB_SCHEMA_VERSION: the same migrations
 * as SQLite's, translated; one process at a time (an advisory lock) */
static int
pg_migrate(struct db *db, const char **error_r)
{
	int64_t version;

	if (pg_simple(db, "BEGIN", error_r) < 0)
		return -1;
	if (pg_simple(db, "SELECT pg_advisory_xact_lock(7262230)", error_r) < 0 ||
	    pg_simple(db, pg_compat, error_r) < 0 ||
	    db_query_int(db, &version, 0, error_r,
	    "SELECT version FROM postern_schema", "") < 0)
		goto fail;
	if (version < 0)
		version = 0;
	if (version > DB_SCHEMA_VERSION) {
		db_errorf(db, error_r, "config database schema %lld is newer "
		    "than this program (%d)", (long long)version,
		    DB_SCHEMA_VERSION);
		goto fail;
	}
	for (int v = (int)version; v < DB_SCHEMA_VERSION; v++) {
		const struct schema_migration *m = &schema_migrations[v];
		/* one for other engines only moves the version on (v14:
		 * SQLite's full-text index, schema.c) */
		if (schema_migration_runs(m, SCHEMA_ENGINE_PG) &&
		    pg_exec_ddl(db, m->sql, error_r) < 0) {
			char was[sizeof(db->err)];
			snprintf(was, sizeof(was), "%s", db->err);
			db_errorf(db, error_r, "migration to schema %d: %s", v + 1,
			    was);
			goto fail;
		}
		if (db_exec(db, error_r, "UPDATE postern_schema SET version = ?",
		    "i", (int64_t)v + 1) < 0)
			goto fail;
	}
	return pg_commit(db, error_r);
fail:
	pg_rollback(db);
	return -1;
}

int
pg_open(struct db *db, const char *url, const char **error_r)
{
	/* the URL's own settings win over these defaults */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const vals[] = { "5", "postern", url, NULL };

	if (pq_load(error_r) < 0)
		return db_errorf(db, error_r, "%s", *error_r);
	db->url = xstrdup(url);
	db->pg = PQconnectdbParams(keys, vals, 1);
	if (db->pg == NULL)
		return db_errorf(db, error_r, "PostgreSQL: out of memory");
	if (PQstatus(db->pg) != CONNECTION_OK) {
		char text[400];
		snprintf(text, sizeof(text), "%s", PQerrorMessage(db->pg));
		text[strcspn(text, "\n")] = '\0';
		db->last_code = DB_EBUSY;
		return db_errorf(db, error_r, "the config database (PostgreSQL) "
		    "is unreachable: %s", text);
	}
	/* a slow server: a statement gives up rather than hang a service */
	if (pg_simple(db, "SET statement_timeout = 15000", error_r) < 0 ||
	    pg_simple(db, "SET client_min_messages = warning", error_r) < 0 ||
	    pg_migrate(db, error_r) < 0 ||
	    pg_simple(db, "LISTEN postern_config", error_r) < 0)
		return -1;
	return 0;
}

void
pg_close(struct db *db)
{
	PQfinish(db->pg);
	db->pg = NULL;
}

int
db_conf_url(const char *root, char **url_r, char *err, size_t errsize)
{
	char *path = xasprintf("%s/config/database.conf", root);
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0, r = 0;

	*url_r = NULL;
	if (f == NULL) {
		free(path);
		return 0;   /* none: the SQLite store */
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *s = line, *e;
		s[strcspn(s, "\r\n")] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		e = strchr(s, '=');
		if (e == NULL || strncmp(s, "url", 3) != 0 ||
		    strspn(s + 3, " \t") != (size_t)(e - s - 3)) {
			snprintf(err, errsize, "%s line %d: expected 'url = "
			    "postgresql://...'", path, lineno);
			r = -1;
			break;
		}
		e = (char *)skip_space(e + 1);
		if (strncmp(e, "postgresql://", 13) != 0 &&
		    strncmp(e, "postgres://", 11) != 0) {
			snprintf(err, errsize, "%s line %d: url must start with "
			    "postgresql:// (SQLite is the default: remove the file "
			    "to use config/postern.db)", path, lineno);
			r = -1;
			break;
		}
		free(*url_r);
		*url_r = xstrdup(e);
	}
	fclose(f);
	if (r == 0 && *url_r == NULL) {
		snprintf(err, errsize, "%s: no url line", path);
		r = -1;
	}
	if (r < 0) {
		free(*url_r);
		*url_r = NULL;
	}
	free(path);
	return r;
}
