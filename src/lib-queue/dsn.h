#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "db.h"
#include "queue.h"

/* Delivery status notifications: bounces, delay notices and success
 * reports as RFC 3464 multipart/report messages (RFC 3461 semantics),
 * queued durably as new items with the null sender <> and env.bulk set.
 *
 * The notice is a multipart/report; report-type=delivery-status with
 *   1. a human readable text/plain part,
 *   2. a message/delivery-status part: Reporting-MTA (server.hostname),
 *      Original-Envelope-Id (ENVID), Arrival-Date, then per recipient
 *      Original-Recipient (ORCPT), Final-Recipient, Action, Status,
 *      Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until,
 *   3. the original message (message/rfc822) or only its header
 *      (text/rfc822-headers) when RET=HDRS, and always only the header
 *      for delay and success notices.
 * Headers: From the system notification address (smtp.notification_address,
 * else postmaster@<server.hostname>), To the original sender,
 * Auto-Submitted: auto-replied, a fresh Message-ID and Date.
 *
 * Callers: smtp-out (remote failures, delays, relayed reports), the MTA
 * and deliver (local failures). */

enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,    /* handed to a next hop without DSN support */
	DSN_ACTION_EXPANDED,
};

/* One recipient of a notice. Strings are borrowed. */
struct dsn_rcpt {
	const char *address;       /* final recipient (the forward path) */
	const char *orcpt;         /* ORCPT "addr-type;xtext" or NULL */
	unsigned notify;           /* DSN_NOTIFY_* of the recipient; 0: not given */
	enum dsn_action action;
	const char *status;        /* "5.1.1"; NULL: derived from diagnostic,
				    * else 5.0.0 / 4.0.0 / 2.0.0 by action */
	const char *diagnostic;    /* the remote reply ("550 5.1.1 unknown")
				    * or a local reason; NULL: none */
	const char *remote_mta;    /* host name or address of the remote MTA
				    * that answered, or NULL (local failure) */
	time_t last_attempt;       /* 0: none */
	time_t will_retry_until;   /* delayed only; 0: not given */
};

struct dsn_report {
	const struct queue_env *env;   /* the original envelope */
	const char *msg_path;          /* the original message file */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
};

enum dsn_result {
	DSN_ERROR = -1,       /* nothing queued; error_r says why: retry later */
	DSN_QUEUED = 0,       /* a notice is durably queued (id in new_id_r) */
	DSN_SUPPRESSED,       /* NOTIFY of every recipient said no: nothing to do */
	DSN_UNRETURNABLE,     /* the original has the null sender (or is bulk
			       * mail): it must not be bounced. For failed
			       * recipients the caller moves the item to bad
			       * mail with the reason (queue_item_badmail);
			       * delay and success notices are just dropped. */
};

/* dsn_wanted - whether a recipient's NOTIFY asks for a notice of this
 * action: not given means FAILURE,DELAY (RFC 3461 4.1); NEVER means none;
 * DELIVERED/RELAYED/EXPANDED need SUCCESS. */
bool dsn_wanted(unsigned notify, enum dsn_action action);

/* dsn_returnable - false for the null sender and bulk mail. */
bool dsn_returnable(const struct queue_env *env);

/* dsn_status_from_reply - the status code x.y.z of a reply: its enhanced
 * status code (RFC 3463) when it has a valid one, else 5.0.0 / 4.0.0 /
 * 2.0.0 from the basic code's class. out gets at least 16 bytes. */
void dsn_status_from_reply(const char *reply, char *out, size_t size);

/* dsn_build - the notice as a message (CRLF lines) into out, for the
 * recipients of rep that dsn_wanted() selects; 0 when none is selected
 * (out untouched), 1 built, -1 error (unreadable original). from and
 * reporting_mta as resolved by dsn_send. Exposed for unit tests. */
int dsn_build(const struct dsn_report *rep, const char *reporting_mta,
	      const char *from, const char *message_id, time_t now,
	      struct buf *out, const char **error_r);

/* dsn_send - build the notice for rep and queue it durably into the queue
 * at qpath (normally the caller connector's inbound queue; the MTA routes
 * it like any mail) with the null sender, env.bulk and one recipient: the
 * original sender (NOTIFY=NEVER). The notice gets a fresh queue id, copied
 * to new_id_r (QUEUE_ID_MAX + 1 bytes) when not NULL: log both ids so
 * `postern track` can link them. The notice carries an
 * X-Postern-Original-Queue-Id header too. */
enum dsn_result dsn_send(struct db *db, const char *qpath,
			 const struct dsn_report *rep, char *new_id_r,
			 const char **error_r);

#endif
