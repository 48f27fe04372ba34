#ifndef POSTERN_ADMIN_QADMIN_H
#define POSTERN_ADMIN_QADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "queue.h"

/* qadmin - the operator's view of the connector queues and bad mail,
 * shared by `postern queue` and the web admin's Queue methods: find,
 * describe, retry, delete, release. Only items waiting in new/ or bad
 * mail are changed: an item a service holds (active) is left alone, so
 * nothing races a delivery in progress. */

struct qadm_ref {
	char *qpath;        /* the queue directory, or the bad mail directory */
	char *label;        /* "smtp/outgoing", "badmail" */
	const char *state;  /* "queued", "active" (claimed), "badmail" */
	char id[QUEUE_ID_MAX + 1];
};

void qadm_ref_free(struct qadm_ref *r);
/* qadm_queue_valid - "badmail" or "<conn>/inbound|outgoing" */
bool qadm_queue_valid(const char *name);
/* qadm_each - fn for every item of every queue and bad mail, until fn
 * returns non-zero (returned) */
int qadm_each(const char *root, int (*fn)(const struct qadm_ref *, void *),
	      void *ctx);
/* qadm_labels - the queues' labels as qadm_each gives them, in the order
 * qadm_count counts them; NULL terminated */
extern const char *const qadm_labels[];
/* qadm_count - the items of each queue (queued and active) and of bad
 * mail into counts (one per qadm_labels): names only, no file is read */
void qadm_count(const char *root, int64_t *counts);
/* qadm_find - the item id: 1 found (*r filled; free it), 0 none */
int qadm_find(const char *root, const char *id, struct qadm_ref *r);
/* qadm_item_json - {id, queue, state, arrival, sender, size, recipients
 * [{address, status, attempts, next_attempt, last_error}]}; detail adds
 * auth_user, client, origin, headers and (bad mail) reason */
json_t *qadm_item_json(const struct qadm_ref *ref, bool detail);
/* qadm_msg_size - the message's bytes, or -1 */
long long qadm_msg_size(const struct qadm_ref *ref);
/* qadm_act - "retry" (deferred recipients now; bad mail back to the
 * MTA), "delete" or "release" (bad mail back to the MTA): ADM_OK, or
 * ADM_BUSY (a service holds it), ADM_INVALID (release of an item that
 * is not bad mail), ADM_FAIL, with the message */
int qadm_act(const char *root, const struct qadm_ref *ref, const char *verb,
	     const char **error_r);
/* qadm_sendlimit_release - send the held item id (bad mail) on without
 * holding it again for the outbound limits (sendlimit_release, then
 * release): ADM_OK, ADM_NOTFOUND, ADM_INVALID (not bad mail), ADM_BUSY
 * or ADM_FAIL with the message. `postern sendlimit release` and the
 * admin API's SendLimit/set. */
struct sendlimit;
int qadm_sendlimit_release(const char *root, struct sendlimit *sl,
			   const char *id, time_t now, const char **error_r);

/* qadm_track - one message's path: the queue ids key names (a queue id,
 * or every id on a log line mentioning key: a Message-ID or an
 * address), the log lines of every service (rotated ones too, each file
 * read up to log_max bytes) naming them in time order, and where they
 * are queued now (queue_root NULL: not looked at): {ids, log, queued},
 * or NULL when root has no logs */
#define QADM_TRACK_LOG_MAX (512 * 1024 * 1024)
json_t *qadm_track(const char *root, const char *queue_root, const char *key,
		   size_t log_max, const char **error_r);

#endif
