/* chat-guest - the chat store's external contacts (guest.h): one row
 * per invitation */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "chat-store-private.h"
#include "xalloc.h"

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
