/* chat-store - the chat store (SQLite) of xmppd, postern chat, the admin API */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store.h"
#include "fsutil.h"
#include "xalloc.h"

#define CHAT_SCHEMA_VERSION 6

/* the statements, prepared once (SQLITE_PREPARE_PERSISTENT) and reset
 * after each use */
enum chat_stmt {
	ST_ROSTER_LOAD, ST_ROSTER_GET, ST_ROSTER_COUNT, ST_ROSTER_PUT,
	ST_ROSTER_DELETE, ST_OFFLINE_COUNT, ST_OFFLINE_ADD, ST_OFFLINE_LIST,
	ST_OFFLINE_DELETE, ST_BLOCK_LIST, ST_BLOCK_COUNT, ST_BLOCK_ADD,
	ST_BLOCK_DELETE, ST_BLOCK_CLEAR, ST_BLOCKED, ST_VCARD_GET,
	ST_VCARD_SET, ST_ARCHIVE_ADD, ST_ARCHIVE_TRIM, ST_ARCHIVE_COUNT,
	ST_ARCHIVE_BACK, ST_ARCHIVE_FORWARD,
	ST_PEP_NODE_GET, ST_PEP_NODE_PUT, ST_PEP_NODE_COUNT, ST_PEP_ITEM_PUT,
	ST_PEP_ITEM_TRIM, ST_PEP_ITEMS, ST_PEP_ITEM_DEL, ST_PEP_NODE_DEL,
	ST_PEP_NODE_DEL_ITEMS, ST_PEP_LAST, ST_PEP_OWNERS,
	ST_MUC_PUT, ST_MUC_DEL, ST_MUC_DEL_AFF, ST_MUC_DEL_ARCHIVE, ST_MUC_LOAD,
	ST_MUC_AFF_PUT, ST_MUC_AFF_DEL, ST_MUC_AFF_LOAD, ST_GUEST_GET,
	ST_COUNT
};

struct chat_store {
	sqlite3 *h;
	bool blocks_any;          /* a blocklist row may exist (checks of
				   * every stanza skip SQL while none does) */
	bool in_txn;              /* a batch is open (chat_store_batch) */
	void (*batch_fn)(void *ctx);
	void *batch_ctx;
	sqlite3_stmt *st[ST_COUNT];
	char err[256];
	int64_t data_version;     /* chat_store_changed */
};

static const char chat_schema_v1[] =
"CREATE TABLE IF NOT EXISTS roster ("
"  owner TEXT NOT NULL,"
"  jid TEXT NOT NULL,"
"  name TEXT NOT NULL DEFAULT '',"
"  groups TEXT NOT NULL DEFAULT '',"
"  sub INTEGER NOT NULL DEFAULT 0,"
"  ask INTEGER NOT NULL DEFAULT 0,"
"  pending_in INTEGER NOT NULL DEFAULT 0,"
"  listed INTEGER NOT NULL DEFAULT 1,"
"  PRIMARY KEY (owner, jid));"
"CREATE TABLE IF NOT EXISTS offline ("
"  id INTEGER PRIMARY KEY,"
"  owner TEXT NOT NULL,"
"  stamp INTEGER NOT NULL,"
"  stanza TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS offline_owner ON offline(owner, id);";

/* version 2: blocking (XEP-0191) */
static const char chat_schema_v2[] =
"CREATE TABLE IF NOT EXISTS blocklist ("
"  owner TEXT NOT NULL,"
"  jid TEXT NOT NULL,"
"  PRIMARY KEY (owner, jid));";

/* version 3: vCards (XEP-0054), the message archive (XEP-0313) */
static const char chat_schema_v3[] =
"CREATE TABLE IF NOT EXISTS vcard ("
"  owner TEXT PRIMARY KEY,"
"  xml TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS archive ("
"  id INTEGER PRIMARY KEY,"
"  owner TEXT NOT NULL,"
"  with_jid TEXT NOT NULL,"
"  stamp INTEGER NOT NULL,"
"  stanza TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS archive_owner ON archive(owner, id);";

/* version 4: PEP (XEP-0163): each user's nodes and their items */
static const char chat_schema_v4[] =
"CREATE TABLE IF NOT EXISTS pep_node ("
"  owner TEXT NOT NULL,"
"  node TEXT NOT NULL,"
"  access TEXT NOT NULL,"
"  max_items INTEGER NOT NULL,"
"  PRIMARY KEY (owner, node));"
"CREATE TABLE IF NOT EXISTS pep_item ("
"  seq INTEGER PRIMARY KEY,"
"  owner TEXT NOT NULL,"
"  node TEXT NOT NULL,"
"  item_id TEXT NOT NULL,"
"  xml TEXT NOT NULL,"
"  UNIQUE (owner, node, item_id));"
"CREATE INDEX IF NOT EXISTS pep_item_node ON pep_item(owner, node, seq);";

/* version 5: persistent chat rooms (XEP-0045) and affiliations */
static const char chat_schema_v5[] =
"CREATE TABLE IF NOT EXISTS muc_room ("
"  jid TEXT PRIMARY KEY,"
"  po_id INTEGER NOT NULL,"
"  name TEXT NOT NULL DEFAULT '',"
"  subject TEXT NOT NULL DEFAULT '',"
"  members_only INTEGER NOT NULL DEFAULT 0,"
"  password TEXT NOT NULL DEFAULT '');"
"CREATE TABLE IF NOT EXISTS muc_aff ("
"  room TEXT NOT NULL,"
"  owner TEXT NOT NULL,"
"  aff TEXT NOT NULL,"
"  PRIMARY KEY (room, owner));";

/* version 6: external contacts (guest.h): one row per invitation, kept
 * after it ends (postern chat guest list) until chat_guest_prune */
static const char chat_schema_v6[] =
"CREATE TABLE IF NOT EXISTS guest ("
"  owner TEXT PRIMARY KEY,"
"  jid TEXT NOT NULL,"
"  po_id INTEGER NOT NULL,"
"  inviter TEXT NOT NULL,"
"  inviter_jid TEXT NOT NULL,"
"  address TEXT NOT NULL,"
"  secret TEXT NOT NULL,"
"  created INTEGER NOT NULL,"
"  expires INTEGER NOT NULL,"
"  ended INTEGER NOT NULL DEFAULT 0,"
"  reason TEXT NOT NULL DEFAULT '',"
"  announced INTEGER NOT NULL DEFAULT 0);"
"CREATE INDEX IF NOT EXISTS guest_inviter ON guest(inviter);";

static int
cs_fail(struct chat_store *cs, const char **error_r, const char *what)
{
	snprintf(cs->err, sizeof(cs->err), "chat store: %s: %s", what,
	    sqlite3_errmsg(cs->h));
	*error_r = cs->err;
	return -1;
}

int
chat_store_open(const char *root, struct chat_store **cs_r,
		const char **error_r)
{
	static char err[512];
	struct chat_store *cs;
	char *dir = path_join(root, "chat"), *path;
	int v = 0;

	*cs_r = NULL;
	if (mkdir_p(dir, 0700) < 0) {
		snprintf(err, sizeof(err), "chat store: cannot create %s", dir);
		free(dir);
		*error_r = err;
		return -1;
	}
	path = path_join(dir, "chat.db");
	free(dir);
	cs = xcalloc(1, sizeof(*cs));
	if (sqlite3_open_v2(path, &cs->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, sizeof(err), "chat store: %s: %s", path,
		    cs->h ? sqlite3_errmsg(cs->h) : "cannot open");
		free(path);
		sqlite3_close(cs->h);
		free(cs);
		*error_r = err;
		return -1;
	}
	free(path);
	sqlite3_busy_timeout(cs->h, 10000);
	sqlite3_stmt *st;
	if (sqlite3_exec(cs->h, "PRAGMA journal_mode=WAL; "
	    "PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(cs->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		cs_fail(cs, error_r, "open");
		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
		chat_store_close(&cs);
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > CHAT_SCHEMA_VERSION) {
		snprintf(err, sizeof(err), "chat store: schema version %d is "
		    "newer than this xmppd (%d)", v, CHAT_SCHEMA_VERSION);
		*error_r = err;
		chat_store_close(&cs);
		return -1;
	}
	if ((v < 1 && (sqlite3_exec(cs->h, chat_schema_v1, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 1", NULL, NULL, NULL) != SQLITE_OK)) ||
	    (v < 2 && (sqlite3_exec(cs->h, chat_schema_v2, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 2", NULL, NULL, NULL) != SQLITE_OK)) ||
	    (v < 3 && (sqlite3_exec(cs->h, chat_schema_v3, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 3", NULL, NULL, NULL) != SQLITE_OK)) ||
	    (v < 4 && (sqlite3_exec(cs->h, chat_schema_v4, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 4", NULL, NULL, NULL) != SQLITE_OK)) ||
	    (v < 5 && (sqlite3_exec(cs->h, chat_schema_v5, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 5", NULL, NULL, NULL) != SQLITE_OK)) ||
	    (v < 6 && (sqlite3_exec(cs->h, chat_schema_v6, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(cs->h,
	    "PRAGMA user_version = 6", NULL, NULL, NULL) != SQLITE_OK))) {
		cs_fail(cs, error_r, "schema");
		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
		chat_store_close(&cs);
		return -1;
	}
	cs->blocks_any = true;
	if (sqlite3_prepare_v2(cs->h, "SELECT EXISTS (SELECT 1 FROM blocklist)",
	    -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			cs->blocks_any = sqlite3_column_int(st, 0) != 0;
		sqlite3_finalize(st);
	}
	*cs_r = cs;
	return 0;
}

void
chat_store_close(struct chat_store **csp)
{
	struct chat_store *cs = *csp;

	if (cs == NULL)
		return;
	const char *err;
	(void)chat_store_flush(cs, &err);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(cs->st[i]);
	sqlite3_close(cs->h);
	free(cs);
	*csp = NULL;
}

/* prep - statement slot of cs, prepared on first use (sql is the same
 * text for a slot every time); done() makes it ready for the next use */
static sqlite3_stmt *
prep(struct chat_store *cs, enum chat_stmt slot, const char *sql,
     const char **error_r)
{
	if (cs->st[slot] == NULL && sqlite3_prepare_v3(cs->h, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &cs->st[slot], NULL) != SQLITE_OK) {
		cs->st[slot] = NULL;
		cs_fail(cs, error_r, "prepare");
		return NULL;
	}
	return cs->st[slot];
}

static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* write_begin - before a write: with batching on, the first write of a
 * batch opens its transaction and asks for a flush (chat_store_batch) */
static int
write_begin(struct chat_store *cs, const char **error_r)
{
	if (cs->batch_fn == NULL || cs->in_txn)
		return 0;
	if (sqlite3_exec(cs->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return cs_fail(cs, error_r, "begin");
	cs->in_txn = true;
	cs->batch_fn(cs->batch_ctx);
	return 0;
}

void
chat_store_batch(struct chat_store *cs, void (*fn)(void *ctx), void *ctx)
{
	cs->batch_fn = fn;
	cs->batch_ctx = ctx;
}

int
chat_store_flush(struct chat_store *cs, const char **error_r)
{
	if (!cs->in_txn)
		return 0;
	cs->in_txn = false;
	if (sqlite3_exec(cs->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	cs_fail(cs, error_r, "commit");
	sqlite3_exec(cs->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static char *
col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return xstrdup(t ? (const char *)t : "");
}

static void
item_from_row(sqlite3_stmt *st, struct roster_item *it)
{
	it->jid = col_text(st, 0);
	it->name = col_text(st, 1);
	it->groups = col_text(st, 2);
	it->sub = sqlite3_column_int(st, 3) & CHAT_SUB_BOTH;
	it->ask = sqlite3_column_int(st, 4) != 0;
	it->pending_in = sqlite3_column_int(st, 5) != 0;
	it->listed = sqlite3_column_int(st, 6) != 0;
	it->stored = true;
}

void
chat_roster_item_clear(struct roster_item *it)
{
	free(it->jid);
	free(it->name);
	free(it->groups);
	memset(it, 0, sizeof(*it));
}

void
chat_roster_free(struct roster_item **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		chat_roster_item_clear(&(*items)[i]);
	free(*items);
	*items = NULL;
}

int
chat_roster_load(struct chat_store *cs, const char *owner,
		 struct roster_item **items_r, size_t *n_r,
		 const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ROSTER_LOAD, "SELECT jid, name, groups, "
	    "sub, ask, pending_in, listed FROM roster WHERE owner = ? ORDER BY "
	    "jid", error_r);
	int r;

	*items_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*items_r = xreallocarray(*items_r, *n_r + 1, sizeof(**items_r));
		memset(&(*items_r)[*n_r], 0, sizeof(**items_r));
		item_from_row(st, &(*items_r)[(*n_r)++]);
	}
	done(st);
	if (r != SQLITE_DONE) {
		chat_roster_free(items_r, *n_r);
		*n_r = 0;
		return cs_fail(cs, error_r, "roster");
	}
	return 0;
}

int
chat_roster_get(struct chat_store *cs, const char *owner, const char *jid,
		struct roster_item *it, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ROSTER_GET, "SELECT jid, name, groups, "
	    "sub, ask, pending_in, listed FROM roster WHERE owner = ? AND "
	    "jid = ?", error_r);
	int r;

	memset(it, 0, sizeof(*it));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		item_from_row(st, it);
	done(st);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return cs_fail(cs, error_r, "roster");
}

int
chat_roster_count(struct chat_store *cs, const char *owner,
		  const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ROSTER_COUNT, "SELECT count(*) FROM "
	    "roster WHERE owner = ?", error_r);
	int r, n = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	done(st);
	return r == SQLITE_ROW ? n : cs_fail(cs, error_r, "roster count");
}

int
chat_roster_put(struct chat_store *cs, const char *owner,
		const struct roster_item *it, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ROSTER_PUT, "INSERT OR REPLACE INTO "
	    "roster (owner, jid, name, groups, sub, ask, pending_in, listed) "
	    "VALUES (?,?,?,?,?,?,?,?)", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, it->jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, it->name ? it->name : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, it->groups ? it->groups : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, it->sub & CHAT_SUB_BOTH);
	sqlite3_bind_int(st, 6, it->ask);
	sqlite3_bind_int(st, 7, it->pending_in);
	sqlite3_bind_int(st, 8, it->listed);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "roster write");
}

int
chat_roster_delete(struct chat_store *cs, const char *owner, const char *jid,
		   const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ROSTER_DELETE, "DELETE FROM roster WHERE "
	    "owner = ? AND jid = ?", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "roster delete");
}

int
chat_offline_add(struct chat_store *cs, const char *owner, const char *stanza,
		 const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_OFFLINE_COUNT, "SELECT count(*) FROM "
	    "offline WHERE owner = ?", error_r);
	int r, n = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	done(st);
	if (n >= CHAT_OFFLINE_MAX)
		return 1;
	st = prep(cs, ST_OFFLINE_ADD, "INSERT INTO offline (owner, stamp, "
	    "stanza) VALUES (?,?,?)", error_r);
	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, stanza, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "offline write");
}

int
chat_offline_each(struct chat_store *cs, const char *owner,
		  void (*fn)(void *ctx, const char *stanza, int64_t stamp),
		  void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_OFFLINE_LIST, "SELECT id, stamp, stanza "
	    "FROM offline WHERE owner = ? ORDER BY id", error_r);
	sqlite3_int64 last = -1;
	struct row { int64_t stamp; char *stanza; } *rows = NULL;
	size_t n = 0;
	int r;

	if (st == NULL)
		return -1;
	/* read them all first: fn may write to the store (the archive),
	 * which must not happen while this statement is stepping */
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		rows[n].stamp = sqlite3_column_int64(st, 1);
		rows[n++].stanza = col_text(st, 2);
	}
	done(st);
	for (size_t i = 0; i < n; i++) {
		if (r == SQLITE_DONE)
			fn(ctx, rows[i].stanza, rows[i].stamp);
		free(rows[i].stanza);
	}
	free(rows);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "offline");
	if (last < 0)
		return 0;
	st = prep(cs, ST_OFFLINE_DELETE, "DELETE FROM offline WHERE owner = ? "
	    "AND id <= ?", error_r);
	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, last);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "offline delete");
}

int
chat_block_list(struct chat_store *cs, const char *owner, char ***jids_r,
		size_t *n_r, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_BLOCK_LIST, "SELECT jid FROM blocklist "
	    "WHERE owner = ? ORDER BY jid", error_r);
	int r;

	*jids_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*jids_r = xreallocarray(*jids_r, *n_r + 1, sizeof(char *));
		(*jids_r)[(*n_r)++] = col_text(st, 0);
	}
	done(st);
	if (r != SQLITE_DONE) {
		for (size_t i = 0; i < *n_r; i++)
			free((*jids_r)[i]);
		xfree(jids_r);
		*n_r = 0;
		return cs_fail(cs, error_r, "blocklist");
	}
	return 0;
}

int
chat_block_set(struct chat_store *cs, const char *owner, const char *jid,
	       bool add, const char **error_r)
{
	sqlite3_stmt *st;
	int r;

	if (add) {
		st = prep(cs, ST_BLOCK_COUNT, "SELECT count(*) FROM blocklist "
		    "WHERE owner = ?", error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) :
		    0;
		done(st);
		if (r >= CHAT_BLOCK_MAX)
			return 1;
		cs->blocks_any = true;
		st = prep(cs, ST_BLOCK_ADD, "INSERT OR IGNORE INTO blocklist "
		    "(owner, jid) VALUES (?, ?)", error_r);
	} else if (jid != NULL)
		st = prep(cs, ST_BLOCK_DELETE, "DELETE FROM blocklist WHERE "
		    "owner = ? AND jid = ?", error_r);
	else
		st = prep(cs, ST_BLOCK_CLEAR, "DELETE FROM blocklist WHERE "
		    "owner = ?", error_r);
	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	if (jid != NULL)
		sqlite3_bind_text(st, 2, jid, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "blocklist write");
}

int
chat_blocked(struct chat_store *cs, const char *owner, const char *full,
	     const char **error_r)
{
	if (!cs->blocks_any)
		return 0;
	const char *slash = strchr(full, '/');
	size_t bl = slash ? (size_t)(slash - full) : strlen(full);
	const char *at = memchr(full, '@', bl);
	char *bare = xstrndup(full, bl);
	char *domain = at ? xstrndup(at + 1, bl - (size_t)(at + 1 - full)) :
	    xstrdup(bare);
	sqlite3_stmt *st = prep(cs, ST_BLOCKED, "SELECT count(*) FROM blocklist "
	    "WHERE owner = ? AND jid IN (?, ?, ?)", error_r);
	int r, n = 0;

	if (st == NULL) {
		free(bare);
		free(domain);
		return -1;
	}
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, full, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, bare, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, domain, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	done(st);
	free(bare);
	free(domain);
	return r == SQLITE_ROW ? n > 0 : cs_fail(cs, error_r, "blocklist");
}

int
chat_vcard_get(struct chat_store *cs, const char *owner, char **xml_r,
	       const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_VCARD_GET, "SELECT xml FROM vcard WHERE "
	    "owner = ?", error_r);
	int r;

	*xml_r = NULL;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*xml_r = col_text(st, 0);
	done(st);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "vcard");
}

int
chat_vcard_set(struct chat_store *cs, const char *owner, const char *xml,
	       const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_VCARD_SET, "INSERT OR REPLACE INTO vcard "
	    "(owner, xml) VALUES (?, ?)", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, xml, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "vcard write");
}

int
chat_archive_add(struct chat_store *cs, const char *owner, const char *with,
		 const char *stanza, int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ARCHIVE_ADD, "INSERT INTO archive "
	    "(owner, with_jid, stamp, stanza) VALUES (?,?,?,?)", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, with, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, stanza, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "archive write");
	*id_r = (int64_t)sqlite3_last_insert_rowid(cs->h);
	if (*id_r % 100 != 0)
		return 0;
	/* now and then: keep the newest CHAT_ARCHIVE_MAX of the owner */
	st = prep(cs, ST_ARCHIVE_TRIM, "DELETE FROM archive WHERE owner = ?1 "
	    "AND id <= (SELECT id FROM archive WHERE owner = ?1 ORDER BY id "
	    "DESC LIMIT 1 OFFSET ?2)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, CHAT_ARCHIVE_MAX);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "archive trim");
}

#define ARCHIVE_WHERE "WHERE owner = ?1 AND (?2 IS NULL OR with_jid = ?2) " \
	"AND stamp >= ?3 AND stamp <= ?4"

static void
archive_bind(sqlite3_stmt *st, const char *owner,
	     const struct chat_archive_query *q)
{
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	if (q->with != NULL)
		sqlite3_bind_text(st, 2, q->with, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, q->start);
	sqlite3_bind_int64(st, 4, q->end > 0 ? q->end : INT64_MAX);
}

int
chat_archive_find(struct chat_store *cs, const char *owner,
		  const struct chat_archive_query *q,
		  void (*fn)(void *ctx, int64_t id, int64_t stamp,
			     const char *stanza),
		  void *ctx, int64_t *count_r, bool *complete_r,
		  const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_ARCHIVE_COUNT, "SELECT count(*) FROM "
	    "archive " ARCHIVE_WHERE, error_r);
	bool back = q->before != 0;
	int r, n = 0;
	struct row { int64_t id, stamp; char *stanza; } *rows;

	if (st == NULL)
		return -1;
	archive_bind(st, owner, q);
	r = sqlite3_step(st);
	*count_r = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	done(st);
	if (r != SQLITE_ROW)
		return cs_fail(cs, error_r, "archive count");
	st = back ? prep(cs, ST_ARCHIVE_BACK,
	    "SELECT id, stamp, stanza FROM archive " ARCHIVE_WHERE
	    " AND (?5 < 0 OR id < ?5) ORDER BY id DESC LIMIT ?6", error_r) :
	    prep(cs, ST_ARCHIVE_FORWARD,
	    "SELECT id, stamp, stanza FROM archive " ARCHIVE_WHERE
	    " AND id > ?5 ORDER BY id ASC LIMIT ?6", error_r);
	if (st == NULL)
		return -1;
	archive_bind(st, owner, q);
	sqlite3_bind_int64(st, 5, back ? q->before : q->after);
	sqlite3_bind_int(st, 6, q->max + 1);
	rows = xcalloc((size_t)q->max + 1, sizeof(*rows));
	while ((r = sqlite3_step(st)) == SQLITE_ROW && n <= q->max) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].stamp = sqlite3_column_int64(st, 1);
		rows[n].stanza = col_text(st, 2);
		n++;
	}
	done(st);
	*complete_r = n <= q->max;
	if (n > q->max) {
		free(rows[q->max].stanza);
		n = q->max;
	}
	for (int i = 0; i < n; i++) {
		int k = back ? n - 1 - i : i;
		fn(ctx, rows[k].id, rows[k].stamp, rows[k].stanza);
	}
	for (int i = 0; i < n; i++)
		free(rows[i].stanza);
	free(rows);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return cs_fail(cs, error_r, "archive");
	return 0;
}

/* ------------------------------------------------------------ PEP */

int
chat_pep_node_get(struct chat_store *cs, const char *owner, const char *node,
		  struct pep_node *n, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_NODE_GET, "SELECT access, max_items "
	    "FROM pep_node WHERE owner = ? AND node = ?", error_r);
	int r;

	memset(n, 0, sizeof(*n));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		snprintf(n->access, sizeof(n->access), "%s", a ? a : "");
		n->max_items = sqlite3_column_int(st, 1);
	}
	done(st);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep node");
}

int
chat_pep_publish(struct chat_store *cs, const char *owner, const char *node,
		 const struct pep_node *cfg, const char *item_id,
		 const char *xml, const char **error_r)
{
	struct pep_node cur;
	sqlite3_stmt *st;
	int r = chat_pep_node_get(cs, owner, node, &cur, error_r);

	if (r < 0)
		return -1;
	if (r == 0) {
		st = prep(cs, ST_PEP_NODE_COUNT, "SELECT count(*) FROM pep_node "
		    "WHERE owner = ?", error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
		int n = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int(st, 0) : 0;
		done(st);
		if (n >= CHAT_PEP_NODES_MAX)
			return 1;
	}
	if (write_begin(cs, error_r) < 0)
		return -1;
	st = prep(cs, ST_PEP_NODE_PUT, "INSERT OR REPLACE INTO pep_node (owner, "
	    "node, access, max_items) VALUES (?,?,?,?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, cfg->access, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, cfg->max_items);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep node write");
	/* a new seq even when the id is reused: the newest is last */
	st = prep(cs, ST_PEP_ITEM_PUT, "INSERT OR REPLACE INTO pep_item (owner, "
	    "node, item_id, xml) VALUES (?,?,?,?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, item_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, xml, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep item write");
	st = prep(cs, ST_PEP_ITEM_TRIM, "DELETE FROM pep_item WHERE owner = ?1 "
	    "AND node = ?2 AND seq <= (SELECT seq FROM pep_item WHERE owner = "
	    "?1 AND node = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, cfg->max_items);
	r = sqlite3_step(st);
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep trim");
}

int
chat_pep_items(struct chat_store *cs, const char *owner, const char *node,
	       int max, void (*fn)(void *ctx, const char *id, const char *xml),
	       void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_ITEMS, "SELECT item_id, xml FROM "
	    "(SELECT seq, item_id, xml FROM pep_item WHERE owner = ? AND "
	    "node = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq", error_r);
	struct row { char *id, *xml; } *rows = NULL;
	size_t n = 0;
	int r;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, max);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		rows[n].id = col_text(st, 0);
		rows[n++].xml = col_text(st, 1);
	}
	done(st);
	for (size_t i = 0; i < n; i++) {
		if (r == SQLITE_DONE)
			fn(ctx, rows[i].id, rows[i].xml);
		free(rows[i].id);
		free(rows[i].xml);
	}
	free(rows);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep items");
}

int
chat_pep_retract(struct chat_store *cs, const char *owner, const char *node,
		 const char *item_id, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_ITEM_DEL, "DELETE FROM pep_item WHERE "
	    "owner = ? AND node = ? AND item_id = ?", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, item_id, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep retract");
	return sqlite3_changes(cs->h) > 0;
}

int
chat_pep_delete(struct chat_store *cs, const char *owner, const char *node,
		const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_NODE_DEL_ITEMS, "DELETE FROM pep_item "
	    "WHERE owner = ? AND node = ?", error_r);
	int r;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep delete");
	st = prep(cs, ST_PEP_NODE_DEL, "DELETE FROM pep_node WHERE owner = ? "
	    "AND node = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	done(st);
	if (r != SQLITE_DONE)
		return cs_fail(cs, error_r, "pep delete");
	return sqlite3_changes(cs->h) > 0;
}

int
chat_pep_last(struct chat_store *cs, const char *owner,
	      void (*fn)(void *ctx, const char *node, const char *access,
			 const char *id, const char *xml),
	      void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_LAST, "SELECT n.node, n.access, "
	    "i.item_id, i.xml FROM pep_node n JOIN pep_item i ON i.seq = "
	    "(SELECT max(seq) FROM pep_item WHERE owner = n.owner AND "
	    "node = n.node) WHERE n.owner = ? ORDER BY n.node", error_r);
	struct row { char *node, *access, *id, *xml; } *rows = NULL;
	size_t n = 0;
	int r;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	while ((r = sqlite3_step(st)) == SQLITE_ROW &&
	    n < CHAT_PEP_NODES_MAX) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		rows[n].node = col_text(st, 0);
		rows[n].access = col_text(st, 1);
		rows[n].id = col_text(st, 2);
		rows[n++].xml = col_text(st, 3);
	}
	done(st);
	for (size_t i = 0; i < n; i++) {
		if (r == SQLITE_DONE || r == SQLITE_ROW)
			fn(ctx, rows[i].node, rows[i].access, rows[i].id,
			    rows[i].xml);
		free(rows[i].node);
		free(rows[i].access);
		free(rows[i].id);
		free(rows[i].xml);
	}
	free(rows);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 :
	    cs_fail(cs, error_r, "pep last");
}

int
chat_pep_owners(struct chat_store *cs, const char *po, char ***owners_r,
		size_t *n_r, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_PEP_OWNERS, "SELECT DISTINCT owner FROM "
	    "pep_node WHERE owner LIKE '%@' || ? ESCAPE '\\' LIMIT 10000",
	    error_r);
	int r;

	*owners_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	char *esc = xmalloc(2 * strlen(po) + 1), *e = esc;
	for (const char *p = po; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			*e++ = '\\';
		*e++ = *p;
	}
	*e = '\0';
	sqlite3_bind_text(st, 1, esc, -1, SQLITE_TRANSIENT);
	free(esc);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*owners_r = xreallocarray(*owners_r, *n_r + 1, sizeof(char *));
		(*owners_r)[(*n_r)++] = col_text(st, 0);
	}
	done(st);
	return r == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "pep owners");
}

/* ------------------------------------------------------------ rooms */

int
chat_muc_put(struct chat_store *cs, const struct muc_row *r,
	     const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_MUC_PUT, "INSERT OR REPLACE INTO muc_room "
	    "(jid, po_id, name, subject, members_only, password) VALUES "
	    "(?,?,?,?,?,?)", error_r);
	int rc;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, r->jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, r->po_id);
	sqlite3_bind_text(st, 3, r->name ? r->name : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, r->subject ? r->subject : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, r->members_only);
	sqlite3_bind_text(st, 6, r->password ? r->password : "", -1,
	    SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	done(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "room write");
}

int
chat_muc_delete(struct chat_store *cs, const char *jid, const char **error_r)
{
	static const struct { enum chat_stmt slot; const char *sql; } q[] = {
		{ ST_MUC_DEL, "DELETE FROM muc_room WHERE jid = ?" },
		{ ST_MUC_DEL_AFF, "DELETE FROM muc_aff WHERE room = ?" },
		{ ST_MUC_DEL_ARCHIVE, "DELETE FROM archive WHERE owner = ?" },
	};

	if (write_begin(cs, error_r) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		sqlite3_stmt *st = prep(cs, q[i].slot, q[i].sql, error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, jid, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		done(st);
		if (rc != SQLITE_DONE)
			return cs_fail(cs, error_r, "room delete");
	}
	return 0;
}

int
chat_muc_load(struct chat_store *cs,
	      void (*fn)(void *ctx, const struct muc_row *r), void *ctx,
	      const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_MUC_LOAD, "SELECT jid, po_id, name, "
	    "subject, members_only, password FROM muc_room ORDER BY jid",
	    error_r);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct muc_row r = {
			.jid = (const char *)sqlite3_column_text(st, 0),
			.po_id = sqlite3_column_int64(st, 1),
			.name = (const char *)sqlite3_column_text(st, 2),
			.subject = (const char *)sqlite3_column_text(st, 3),
			.members_only = sqlite3_column_int(st, 4) != 0,
			.password = (const char *)sqlite3_column_text(st, 5),
		};
		if (r.jid != NULL)
			fn(ctx, &r);
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "rooms");
}

int
chat_muc_aff_set(struct chat_store *cs, const char *room, const char *owner,
		 const char *aff, const char **error_r)
{
	sqlite3_stmt *st = aff != NULL ? prep(cs, ST_MUC_AFF_PUT, "INSERT OR "
	    "REPLACE INTO muc_aff (room, owner, aff) VALUES (?,?,?)", error_r) :
	    prep(cs, ST_MUC_AFF_DEL, "DELETE FROM muc_aff WHERE room = ? AND "
	    "owner = ?", error_r);
	int rc;

	if (st == NULL || write_begin(cs, error_r) < 0)
		return -1;
	sqlite3_bind_text(st, 1, room, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
	if (aff != NULL)
		sqlite3_bind_text(st, 3, aff, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	done(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "affiliation");
}

int
chat_muc_aff_load(struct chat_store *cs, const char *room,
		  void (*fn)(void *ctx, const char *owner, const char *aff),
		  void *ctx, const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_MUC_AFF_LOAD, "SELECT owner, aff FROM "
	    "muc_aff WHERE room = ? ORDER BY owner", error_r);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, room, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *o = (const char *)sqlite3_column_text(st, 0);
		const char *a = (const char *)sqlite3_column_text(st, 1);
		if (o != NULL && a != NULL)
			fn(ctx, o, a);
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "affiliations");
}

bool
chat_store_changed(struct chat_store *cs)
{
	sqlite3_stmt *st;
	int64_t v = cs->data_version;

	if (sqlite3_prepare_v2(cs->h, "PRAGMA data_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (v == cs->data_version)
		return false;
	bool first = cs->data_version == 0;
	cs->data_version = v;
	return !first;
}

int
chat_archive_prune(struct chat_store *cs, int64_t before, int64_t *n_r,
		   const char **error_r)
{
	sqlite3_stmt *st;
	int rc;

	*n_r = 0;
	if (write_begin(cs, error_r) < 0)
		return -1;
	/* room archives too: their owners are room JIDs */
	if (sqlite3_prepare_v2(cs->h, "DELETE FROM archive WHERE stamp < ?",
	    -1, &st, NULL) != SQLITE_OK)
		return cs_fail(cs, error_r, "archive prune");
	sqlite3_bind_int64(st, 1, before);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cs_fail(cs, error_r, "archive prune");
	*n_r = sqlite3_changes(cs->h);
	return 0;
}

int
chat_archive_stats(struct chat_store *cs, int64_t *count_r,
		   int64_t *oldest_r, int64_t *owners_r, const char **error_r)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(cs->h, "SELECT count(*), coalesce(min(stamp), "
	    "0), count(DISTINCT owner) FROM archive", -1, &st, NULL) !=
	    SQLITE_OK)
		return cs_fail(cs, error_r, "archive");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count_r = sqlite3_column_int64(st, 0);
		*oldest_r = sqlite3_column_int64(st, 1);
		*owners_r = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : cs_fail(cs, error_r, "archive");
}

int64_t
chat_muc_archived(struct chat_store *cs, const char *room)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (sqlite3_prepare_v2(cs->h, "SELECT count(*) FROM archive WHERE "
	    "owner = ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, room, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int64_t
chat_archive_older(struct chat_store *cs, int64_t before)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (sqlite3_prepare_v2(cs->h, "SELECT count(*) FROM archive WHERE "
	    "stamp < ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* ------------------------------------------------------------ guests */

#define GUEST_COLS "owner, jid, po_id, inviter, inviter_jid, address, " \
	"secret, created, expires, ended, reason, announced"

static void
guest_from_row(sqlite3_stmt *st, struct chat_guest *g)
{
	g->owner = col_text(st, 0);
	g->jid = col_text(st, 1);
	g->po_id = sqlite3_column_int64(st, 2);
	g->inviter = col_text(st, 3);
	g->inviter_jid = col_text(st, 4);
	g->address = col_text(st, 5);
	g->secret = col_text(st, 6);
	g->created = sqlite3_column_int64(st, 7);
	g->expires = sqlite3_column_int64(st, 8);
	g->ended = sqlite3_column_int64(st, 9);
	g->reason = col_text(st, 10);
	g->announced = sqlite3_column_int(st, 11) != 0;
}

void
chat_guest_clear(struct chat_guest *g)
{
	free(g->owner);
	free(g->jid);
	free(g->inviter);
	free(g->inviter_jid);
	free(g->address);
	if (g->secret != NULL)
		explicit_bzero(g->secret, strlen(g->secret));
	free(g->secret);
	free(g->reason);
	memset(g, 0, sizeof(*g));
}

int
chat_guest_add(struct chat_store *cs, const struct chat_guest *g,
	       const char **error_r)
{
	sqlite3_stmt *st;
	int rc;

	if (write_begin(cs, error_r) < 0)
		return -1;
	if (sqlite3_prepare_v2(cs->h, "INSERT INTO guest (" GUEST_COLS ") "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', 0)", -1, &st, NULL) !=
	    SQLITE_OK)
		return cs_fail(cs, error_r, "guest add");
	sqlite3_bind_text(st, 1, g->owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, g->jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, g->po_id);
	sqlite3_bind_text(st, 4, g->inviter, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, g->inviter_jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, g->address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, g->secret, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, g->created);
	sqlite3_bind_int64(st, 9, g->expires);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "guest add");
}

int
chat_guest_get(struct chat_store *cs, const char *owner, struct chat_guest *g,
	       const char **error_r)
{
	sqlite3_stmt *st = prep(cs, ST_GUEST_GET, "SELECT " GUEST_COLS
	    " FROM guest WHERE owner = ?", error_r);
	int rc;

	memset(g, 0, sizeof(*g));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		guest_from_row(st, g);
	done(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "guest get");
}

/* guest_rows - every row of a query with text parameters p1, p2 (NULL:
 * unbound) into *g_r */
static int
guest_rows(struct chat_store *cs, const char *sql, const char *p1,
	   int64_t i2, struct chat_guest **g_r, size_t *n_r,
	   const char **error_r)
{
	sqlite3_stmt *st;
	int rc;

	*g_r = NULL;
	*n_r = 0;
	if (sqlite3_prepare_v2(cs->h, sql, -1, &st, NULL) != SQLITE_OK)
		return cs_fail(cs, error_r, "guest list");
	if (p1 != NULL)
		sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, i2);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*g_r = xreallocarray(*g_r, *n_r + 1, sizeof(**g_r));
		guest_from_row(st, &(*g_r)[(*n_r)++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		chat_guest_free(g_r, *n_r);
		*n_r = 0;
		return cs_fail(cs, error_r, "guest list");
	}
	return 0;
}

int
chat_guest_list(struct chat_store *cs, const char *inviter,
		struct chat_guest **g_r, size_t *n_r, const char **error_r)
{
	if (inviter != NULL)
		return guest_rows(cs, "SELECT " GUEST_COLS " FROM guest WHERE "
		    "inviter = ? ORDER BY created, owner", inviter, 0, g_r,
		    n_r, error_r);
	return guest_rows(cs, "SELECT " GUEST_COLS " FROM guest WHERE ? = 0 "
	    "ORDER BY created, owner", NULL, 0, g_r, n_r, error_r);
}

void
chat_guest_free(struct chat_guest **g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		chat_guest_clear(&(*g)[i]);
	free(*g);
	*g = NULL;
}

int
chat_guest_active(struct chat_store *cs, const char *inviter, int64_t now,
		  const char **error_r)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(cs->h, "SELECT count(*) FROM guest WHERE "
	    "inviter = ? AND ended = 0 AND expires > ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return cs_fail(cs, error_r, "guest count");
	sqlite3_bind_text(st, 1, inviter, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
chat_guest_recent(struct chat_store *cs, const char *inviter, int64_t since,
		  const char **error_r)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(cs->h, "SELECT count(*) FROM guest WHERE "
	    "inviter = ? AND created >= ?", -1, &st, NULL) != SQLITE_OK)
		return cs_fail(cs, error_r, "guest count");
	sqlite3_bind_text(st, 1, inviter, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, since);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* exec_bound - one statement with text parameters (NULL ends them) */
static int
exec_bound(struct chat_store *cs, const char *sql, const char **error_r,
	   const char *a, const char *b, const char *c)
{
	const char *p[] = { a, b, c };
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(cs->h, sql, -1, &st, NULL) != SQLITE_OK)
		return cs_fail(cs, error_r, "guest end");
	for (int i = 0; i < 3 && p[i] != NULL; i++)
		sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cs_fail(cs, error_r, "guest end");
}

int
chat_guest_end(struct chat_store *cs, const char *owner, const char *reason,
	       int64_t now, const char **error_r)
{
	struct chat_guest g;
	char stamp[32];
	int r = chat_guest_get(cs, owner, &g, error_r);

	if (r <= 0)
		return r;
	if (g.ended != 0) {
		chat_guest_clear(&g);
		return 0;
	}
	snprintf(stamp, sizeof(stamp), "%lld", (long long)(now > 0 ? now : 1));
	if (write_begin(cs, error_r) < 0 ||
	    exec_bound(cs, "UPDATE guest SET ended = CAST(? AS INTEGER), "
	    "reason = ?, announced = 0 WHERE owner = ?", error_r, stamp,
	    reason, owner) < 0 ||
	    /* the inviter's item, and all the guest leaves behind */
	    exec_bound(cs, "DELETE FROM roster WHERE owner = ? AND jid = ?",
	    error_r, g.inviter, g.jid, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM roster WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM offline WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM archive WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM vcard WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM blocklist WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM pep_item WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0 ||
	    exec_bound(cs, "DELETE FROM pep_node WHERE owner = ?", error_r,
	    owner, NULL, NULL) < 0) {
		chat_guest_clear(&g);
		return -1;
	}
	chat_guest_clear(&g);
	return 1;
}

int
chat_guest_due(struct chat_store *cs, int64_t now, struct chat_guest **g_r,
	       size_t *n_r, const char **error_r)
{
	struct chat_guest *exp;
	size_t nexp;

	*g_r = NULL;
	*n_r = 0;
	if (guest_rows(cs, "SELECT " GUEST_COLS " FROM guest WHERE ended = 0 "
	    "AND expires <= ?", NULL, now, &exp, &nexp, error_r) < 0)
		return -1;
	for (size_t i = 0; i < nexp; i++)
		if (chat_guest_end(cs, exp[i].owner, "expired", now,
		    error_r) < 0) {
			chat_guest_free(&exp, nexp);
			return -1;
		}
	chat_guest_free(&exp, nexp);
	if (guest_rows(cs, "SELECT " GUEST_COLS " FROM guest WHERE announced "
	    "= ?", NULL, 0, g_r, n_r, error_r) < 0)
		return -1;
	if (*n_r > 0 && (write_begin(cs, error_r) < 0 ||
	    exec_bound(cs, "UPDATE guest SET announced = 1 WHERE announced = "
	    "0", error_r, NULL, NULL, NULL) < 0)) {
		chat_guest_free(g_r, *n_r);
		*n_r = 0;
		return -1;
	}
	return 0;
}

int
chat_guest_prune(struct chat_store *cs, int64_t before, const char **error_r)
{
	char stamp[32];

	snprintf(stamp, sizeof(stamp), "%lld", (long long)before);
	if (write_begin(cs, error_r) < 0)
		return -1;
	return exec_bound(cs, "DELETE FROM guest WHERE ended > 0 AND ended < "
	    "CAST(? AS INTEGER)", error_r, stamp, NULL, NULL);
}
