#ifndef POSTERN_IMAPD_NOTIFY_H
#define POSTERN_IMAPD_NOTIFY_H

/* notify - NOTIFY (RFC 5465, notify.c) */

#include "imapd.h"

struct notify_set;

/* cmd_notify - NOTIFY SET [STATUS] (filter events)... | NOTIFY NONE */
cmd_fn cmd_notify;
/* notify_free - the session's NOTIFY is over (NONE, logout) */
void notify_free(struct session *s);
/* notify_reselect - the selected folder changed (SELECT, CLOSE...): the
 * folder left is watched as any other, the new one by SELECTED */
void notify_reselect(struct session *s);

#endif
