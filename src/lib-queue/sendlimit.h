#ifndef POSTERN_SENDLIMIT_H
#define POSTERN_SENDLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "db.h"

/* Outbound abuse limits (issue 19 item 5): messages and recipients per
 * hour of each mailbox's authenticated submissions and of its post
 * office's, counted in <data root>/config/limits.db (SQLite WAL, shared
 * by the MTA's processes; one transaction per message), with the
 * mailboxes whose sending is suspended. The MTA holds what is over a
 * limit (mta/limits.h); `postern sendlimit` shows and lifts. */

#define SENDLIMIT_WINDOW 3600     /* seconds: the counting window */

struct sendlimit;

/* The limits: 0 is no limit. */
struct sendlimit_limits {
	int64_t mb_messages, mb_recipients;
	int64_t po_messages, po_recipients;
};
/* sendlimit_limits_get - the settings limits.* */
void sendlimit_limits_get(struct db *db, struct sendlimit_limits *l);

int sendlimit_open(const char *root, struct sendlimit **sl_r,
		   const char **error_r);
void sendlimit_close(struct sendlimit **sl);

/* sendlimit_take - count a message of mailbox ("name@postoffice") to
 * rcpts recipients unless it is over a limit or the mailbox is
 * suspended (l NULL: count it whatever the limits and suspension say): 0 counted, 1 not (*why_r, new string, says why; *which_r
 * which: SENDLIMIT_MAILBOX, _POSTOFFICE, _SUSPENDED), -1 on a database
 * error (*why_r too). */
enum { SENDLIMIT_MAILBOX = 0, SENDLIMIT_POSTOFFICE, SENDLIMIT_SUSPENDED };
int sendlimit_take(struct sendlimit *sl, const struct sendlimit_limits *l,
		   const char *mailbox, size_t rcpts, time_t now,
		   char **why_r, int *which_r);

/* sendlimit_suspend - stop the mailbox's sending (0, -1) */
int sendlimit_suspend(struct sendlimit *sl, const char *mailbox,
		      const char *reason, time_t now);
/* sendlimit_unsuspend - lift it: 1 lifted, 0 was not suspended, -1 */
int sendlimit_unsuspend(struct sendlimit *sl, const char *mailbox);
/* sendlimit_alert_due - true once per window for key (the caller then
 * alerts the administrator) */
bool sendlimit_alert_due(struct sendlimit *sl, const char *key, time_t now);

/* sendlimit_release - mark the held queue item id as released by the
 * administrator (0, -1); sendlimit_released - true once (it unmarks)
 * when the item was marked; marks older than a week are forgotten */
int sendlimit_release(struct sendlimit *sl, const char *id, time_t now);
bool sendlimit_released(struct sendlimit *sl, const char *id);

/* sendlimit_each - fn for each counted key of the window ("mailbox" or
 * "postoffice", name, messages, recipients, suspended since or 0) and
 * each suspended mailbox without counts */
int sendlimit_each(struct sendlimit *sl, time_t now,
		   void (*fn)(void *ctx, const char *kind, const char *name,
			      int64_t messages, int64_t recipients,
			      time_t suspended, const char *reason),
		   void *ctx);

#endif
