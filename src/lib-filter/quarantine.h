#ifndef POSTERN_QUARANTINE_H
#define POSTERN_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "db.h"
#include "queue.h"

/* quarantine - mail a content filter held back (a virus found after the
 * SMTP 250, a milter's quarantine): <queue root>/quarantine/<id>.msg and
 * <id>.env as the item was, with <id>.info (written first: the inbound
 * queue it came from, when, why). Never bounced (the sender may be
 * forged); the admin lists it and releases or deletes it (`postern
 * quarantine`). A released item goes back to its inbound queue with a
 * marker quarantine/released/<id> that makes the MTA skip the content
 * filters for it once (it still passes the relay rules and routing). */

struct quarantine_entry {
	char id[QUEUE_ID_MAX + 1];
	char *conn;               /* "smtp", "pr", "pickup"... */
	char *reason;
	time_t when;
	off_t size;
	char *sender;             /* "" for <> */
	char *rcpts;              /* comma separated */
};

/* quarantine_item - move a claimed item in; 0 or -1. */
int quarantine_item(struct queue_item *item, const char *qroot,
		    const char *conn, const char *reason, const char **error_r);
/* quarantine_list - every entry, oldest first; free with
 * quarantine_list_free. */
int quarantine_list(const char *qroot, struct quarantine_entry **v_r,
		    size_t *n_r, const char **error_r);
void quarantine_list_free(struct quarantine_entry *v, size_t n);
/* quarantine_release - back to its inbound queue; 0, -1 (*error_r);
 * unknown ids are an error. */
int quarantine_release(const char *qroot, const char *id, const char **error_r);
/* quarantine_delete - remove for good. */
int quarantine_delete(const char *qroot, const char *id, const char **error_r);
/* quarantine_msg_path - the message file of id (new string), for show. */
char *quarantine_msg_path(const char *qroot, const char *id);
/* quarantine_header - the message's header block (up to max bytes, cut
 * at the last whole line), a new string, or NULL for an unknown id. */
char *quarantine_header(const char *qroot, const char *id, size_t max);
/* quarantine_entry_json - an entry as `postern quarantine --json` and the
 * admin API's Quarantine/get show it: id, time, from (the connector it
 * came in by), sender, recipients, size, reason (the scanner's verdict)
 * and subject (decoded; "" without one). */
json_t *quarantine_entry_json(const char *qroot,
			      const struct quarantine_entry *e);
/* quarantine_take_release - true (and the marker removed) when the item
 * id was released from the quarantine: the content filters pass it. */
bool quarantine_take_release(const char *qroot, const char *id);
/* quarantine_notice - tell the local recipients of env (and the setting
 * antivirus.notify) that message id was quarantined, why, and how the
 * admin releases it: a short notice queued into sf/inbound with the null
 * sender. Never to the sender. 0, or -1 with an error. */
int quarantine_notice(struct db *db, const char *qroot,
		      const struct queue_env *env, const char *reason,
		      const char **error_r);

#endif
