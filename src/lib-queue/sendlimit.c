/* sendlimit - outbound abuse limits: counts and suspensions (sendlimit.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sendlimit.h"
#include "settings.h"
#include "xalloc.h"

struct sendlimit {
	sqlite3 *h;
};

void
sendlimit_limits_get(struct db *db, struct sendlimit_limits *l)
{
	l->mb_messages = settings_current(db)->limits_mailbox_messages;
	l->mb_recipients = settings_current(db)->limits_mailbox_recipients;
	l->po_messages = settings_current(db)->limits_postoffice_messages;
	l->po_recipients = settings_current(db)->limits_postoffice_recipients;
}

int
sendlimit_open(const char *root, struct sendlimit **sl_r, const char **error_r)
{
	static const char schema[] =
	    "PRAGMA journal_mode=WAL;"
	    "CREATE TABLE IF NOT EXISTS sent (key TEXT NOT NULL, "
	    "  at INTEGER NOT NULL, rcpts INTEGER NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS sent_key ON sent (key, at);"
	    "CREATE INDEX IF NOT EXISTS sent_at ON sent (at);"
	    "CREATE TABLE IF NOT EXISTS suspended (mailbox TEXT PRIMARY KEY, "
	    "  since INTEGER NOT NULL, reason TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS alerted (key TEXT PRIMARY KEY, "
	    "  at INTEGER NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS released (id TEXT PRIMARY KEY, "
	    "  at INTEGER NOT NULL);";
	char *path = xasprintf("%s/config/limits.db", root);
	sqlite3 *h = NULL;

	*sl_r = NULL;
	int r = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	free(path);
	if (r != SQLITE_OK) {
		*error_r = "cannot open config/limits.db";
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 10000);
	if (sqlite3_exec(h, schema, NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = "cannot set up config/limits.db";
		sqlite3_close(h);
		return -1;
	}
	*sl_r = xcalloc(1, sizeof(**sl_r));
	(*sl_r)->h = h;
	return 0;
}

void
sendlimit_close(struct sendlimit **slp)
{
	if (*slp == NULL)
		return;
	sqlite3_close((*slp)->h);
	free(*slp);
	*slp = NULL;
}

/* counts - messages and recipients of key in the window */
static int
counts(struct sendlimit *sl, const char *key, time_t now, int64_t *msgs,
       int64_t *rcpts)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(sl->h, "SELECT count(*), coalesce(sum(rcpts), 0) "
	    "FROM sent WHERE key = ? AND at > ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now - SENDLIMIT_WINDOW));
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*msgs = sqlite3_column_int64(st, 0);
		*rcpts = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : -1;
}

static int
exec1(struct sendlimit *sl, const char *sql, const char *a, int64_t b,
      int64_t c)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(sl->h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int n = sqlite3_bind_parameter_count(st);
	if (n >= 1)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (n >= 2)
		sqlite3_bind_int64(st, 2, b);
	if (n >= 3)
		sqlite3_bind_int64(st, 3, c);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : -1;
}

/* suspended_since - 0 when not suspended */
static time_t
suspended_since(struct sendlimit *sl, const char *mailbox, char **reason_r)
{
	sqlite3_stmt *st;
	time_t since = 0;

	if (sqlite3_prepare_v2(sl->h, "SELECT since, reason FROM suspended "
	    "WHERE mailbox = ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		since = (time_t)sqlite3_column_int64(st, 0);
		if (reason_r != NULL)
			*reason_r = xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	return since;
}

int
sendlimit_take(struct sendlimit *sl, const struct sendlimit_limits *l,
	       const char *mailbox, size_t rcpts, time_t now, char **why_r,
	       int *which_r)
{
	const char *at = strrchr(mailbox, '@');
	char *keys[2];
	const char *kinds[2] = { "mailbox", "post office" };
	int64_t lm[2] = { l ? l->mb_messages : 0, l ? l->po_messages : 0 };
	int64_t lr[2] = { l ? l->mb_recipients : 0, l ? l->po_recipients : 0 };
	int rc = 0;

	*why_r = NULL;
	*which_r = -1;
	if (at == NULL) {
		*why_r = xstrdup("not a mailbox name");
		return -1;
	}
	keys[0] = xasprintf("mb:%s", mailbox);
	keys[1] = xasprintf("po:%s", at + 1);
	if (sqlite3_exec(sl->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		*why_r = xstrdup(sqlite3_errmsg(sl->h));
		rc = -1;
		goto out;
	}
	char *reason = NULL;
	time_t since = l == NULL ? 0 : suspended_since(sl, mailbox, &reason);
	if (since != 0) {
		*why_r = xasprintf("sending of %s is suspended (%s)", mailbox,
		    reason ? reason : "");
		free(reason);
		*which_r = SENDLIMIT_SUSPENDED;
		rc = 1;
		goto end;
	}
	for (int k = 0; k < 2 && l != NULL; k++) {
		int64_t m = 0, r = 0;
		if (counts(sl, keys[k], now, &m, &r) < 0) {
			*why_r = xstrdup(sqlite3_errmsg(sl->h));
			rc = -1;
			goto end;
		}
		if (lm[k] > 0 && m + 1 > lm[k]) {
			*why_r = xasprintf("%s %s sent %lld messages in the last "
			    "hour (limit %lld)", kinds[k], k == 0 ? mailbox :
			    at + 1, (long long)m, (long long)lm[k]);
			*which_r = k;
			rc = 1;
			goto end;
		}
		if (lr[k] > 0 && r + (int64_t)rcpts > lr[k]) {
			*why_r = xasprintf("%s %s sent to %lld recipients in the "
			    "last hour, %zu more is over the limit of %lld",
			    kinds[k], k == 0 ? mailbox : at + 1, (long long)r,
			    rcpts, (long long)lr[k]);
			*which_r = k;
			rc = 1;
			goto end;
		}
	}
	for (int k = 0; k < 2 && rc == 0; k++)
		if (exec1(sl, "INSERT INTO sent (key, at, rcpts) VALUES (?, ?, ?)",
		    keys[k], now, (int64_t)rcpts) < 0) {
			*why_r = xstrdup(sqlite3_errmsg(sl->h));
			rc = -1;
		}
	if (rc == 0)
		exec1(sl, "DELETE FROM sent WHERE at <= ?2", "", now -
		    SENDLIMIT_WINDOW, 0);
end:
	if (rc == 0 && sqlite3_exec(sl->h, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		*why_r = xstrdup(sqlite3_errmsg(sl->h));
		rc = -1;
	}
	if (rc != 0)
		sqlite3_exec(sl->h, "ROLLBACK", NULL, NULL, NULL);
out:
	free(keys[0]);
	free(keys[1]);
	return rc;
}

int
sendlimit_suspend(struct sendlimit *sl, const char *mailbox, const char *reason,
		  time_t now)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(sl->h, "INSERT OR IGNORE INTO suspended "
	    "(mailbox, since, reason) VALUES (?, ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -1;
}

int
sendlimit_unsuspend(struct sendlimit *sl, const char *mailbox)
{
	if (exec1(sl, "DELETE FROM suspended WHERE mailbox = ?", mailbox, 0,
	    0) < 0)
		return -1;
	return sqlite3_changes(sl->h) > 0 ? 1 : 0;
}

bool
sendlimit_alert_due(struct sendlimit *sl, const char *key, time_t now)
{
	if (exec1(sl, "INSERT INTO alerted (key, at) VALUES (?1, ?2) "
	    "ON CONFLICT (key) DO UPDATE SET at = ?2 WHERE at <= ?2 - 3600",
	    key, now, 0) < 0)
		return false;
	return sqlite3_changes(sl->h) > 0;
}

int
sendlimit_each(struct sendlimit *sl, time_t now,
	       void (*fn)(void *ctx, const char *kind, const char *name,
			  int64_t messages, int64_t recipients,
			  time_t suspended, const char *reason),
	       void *ctx)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(sl->h,
	    "SELECT k, sum(m), sum(r), max(since), max(reason) FROM ("
	    " SELECT key AS k, count(*) AS m, sum(rcpts) AS r, NULL AS since, "
	    "  NULL AS reason FROM sent WHERE at > ? GROUP BY key"
	    " UNION ALL SELECT 'mb:' || mailbox, 0, 0, since, reason "
	    "  FROM suspended) GROUP BY k ORDER BY k", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - SENDLIMIT_WINDOW));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		if (k == NULL || strlen(k) < 3)
			continue;
		fn(ctx, k[0] == 'm' ? "mailbox" : "postoffice", k + 3,
		    sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		    (time_t)sqlite3_column_int64(st, 3),
		    (const char *)sqlite3_column_text(st, 4));
	}
	sqlite3_finalize(st);
	return 0;
}

int
sendlimit_release(struct sendlimit *sl, const char *id, time_t now)
{
	if (exec1(sl, "DELETE FROM released WHERE at < ?2", "", now -
	    7 * 86400, 0) < 0)
		return -1;
	return exec1(sl, "INSERT OR REPLACE INTO released (id, at) "
	    "VALUES (?, ?)", id, now, 0);
}

bool
sendlimit_released(struct sendlimit *sl, const char *id)
{
	if (exec1(sl, "DELETE FROM released WHERE id = ?", id, 0, 0) < 0)
		return false;
	return sqlite3_changes(sl->h) > 0;
}
