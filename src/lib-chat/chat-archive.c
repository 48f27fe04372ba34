/* chat-archive - the chat store's message archive (XEP-0313): adding,
 * paged queries, retention and counts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "xalloc.h"

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
