#ifndef POSTERN_CHAT_STORE_PRIVATE_H
#define POSTERN_CHAT_STORE_PRIVATE_H

/* chat-store-private - what the chat store's files share (chat-store.c:
 * open, schema, batches; chat-roster.c, chat-archive.c, chat-pep.c,
 * chat-room.c, chat-guest.c: one part of the data each): the handle,
 * its statement slots and the helpers every query uses. Not for users
 * of the store (chat-store.h). */

#include <stdio.h>

#include <sqlite3.h>

#include "chat-store.h"
#include "xalloc.h"

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

static inline int
cs_fail(struct chat_store *cs, const char **error_r, const char *what)
{
	snprintf(cs->err, sizeof(cs->err), "chat store: %s: %s", what,
	    sqlite3_errmsg(cs->h));
	*error_r = cs->err;
	return -1;
}

/* prep - statement slot of cs, prepared on first use (sql is the same
 * text for a slot every time); done() makes it ready for the next use */
static inline sqlite3_stmt *
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

static inline void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* write_begin - before a write: with batching on, the first write of a
 * batch opens its transaction and asks for a flush (chat_store_batch) */
static inline int
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

static inline char *
col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return xstrdup(t ? (const char *)t : "");
}

#endif
