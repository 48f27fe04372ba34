/* chat-room - the chat store's persistent rooms (XEP-0045) and their
 * affiliations */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "xalloc.h"

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
