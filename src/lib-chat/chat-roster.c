/* chat-roster - the chat store's per-user state: roster items,
 * offline messages, blocklists (XEP-0191), vCards (XEP-0054) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "xalloc.h"

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
