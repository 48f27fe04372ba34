/* audit - the web admin's change log (audit.h) */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "xalloc.h"

#define AUDIT_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  client TEXT NOT NULL DEFAULT '',"
	"  type TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  postoffice TEXT,"
	"  op TEXT NOT NULL,"
	"  text TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS audit_type ON audit (type, id);"
	"CREATE INDEX IF NOT EXISTS audit_po ON audit (postoffice, id);"
	"PRAGMA user_version = 1;";

int
audit_open(const char *root, sqlite3 **h_r, const char **error_r)
{
	char *path = xasprintf("%s/config/audit.db", root);
	sqlite3 *h = NULL;
	int r = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	free(path);
	if (r != SQLITE_OK) {
		*error_r = "the audit store cannot be opened";
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 10000);
	sqlite3_stmt *st;
	int version = -1;
	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > AUDIT_VERSION) {
		*error_r = "the audit store is of a newer version";
		sqlite3_close(h);
		return -1;
	}
	if (sqlite3_exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = "
	    "FULL", NULL, NULL, NULL) != SQLITE_OK || (version < AUDIT_VERSION &&
	    sqlite3_exec(h, schema, NULL, NULL, NULL) != SQLITE_OK)) {
		*error_r = "the audit store cannot be set up";
		sqlite3_close(h);
		return -1;
	}
	*h_r = h;
	return 0;
}

void
audit_close(sqlite3 **h)
{
	if (*h != NULL)
		sqlite3_close(*h);
	*h = NULL;
}

int
audit_add(sqlite3 *h, const struct audit_entry *e, int64_t *id_r,
	  const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h, "INSERT INTO audit (at, actor, client, type, "
	    "object, postoffice, op, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1,
	    &st, NULL) != SQLITE_OK) {
		*error_r = sqlite3_errmsg(h);
		return -1;
	}
	sqlite3_bind_int64(st, 1, e->at);
	sqlite3_bind_text(st, 2, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->client ? e->client : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->object, -1, SQLITE_STATIC);
	if (e->postoffice != NULL)
		sqlite3_bind_text(st, 6, e->postoffice, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e->op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, e->text ? e->text : "", -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(h);
		return -1;
	}
	*id_r = sqlite3_last_insert_rowid(h);
	return 0;
}

int
audit_state(sqlite3 *h, const char *type, int64_t *state_r,
	    const char **error_r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h, "SELECT coalesce(max(id), 0) FROM audit "
	    "WHERE type = ?", -1, &st, NULL) != SQLITE_OK) {
		*error_r = sqlite3_errmsg(h);
		return -1;
	}
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	*state_r = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (r != SQLITE_ROW) {
		*error_r = sqlite3_errmsg(h);
		return -1;
	}
	return 0;
}
