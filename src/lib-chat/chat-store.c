/* chat-store - the chat store (SQLite) of xmppd, postern chat, the admin
 * API: opening it, its schema and versions, batched writes, noticing
 * another connection's change. The data, one part a file: chat-roster.c
 * (rosters, offline messages, blocklists, vCards), chat-archive.c,
 * chat-pep.c, chat-room.c, chat-guest.c (chat-store-private.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "fsutil.h"
#include "xalloc.h"

#define CHAT_SCHEMA_VERSION 6

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
