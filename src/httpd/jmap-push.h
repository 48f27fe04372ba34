#ifndef POSTERN_JMAP_PUSH_H
#define POSTERN_JMAP_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "httpd.h"

/* jmap-push - JMAP push over EventSource (RFC 8620 7.3), on httpd's
 * streams. One watch per account with listeners, whatever the number of
 * its clients: an inotify watch on the mailbox root (the store's index
 * and its write-ahead log live there: every change of the index, by
 * JMAP, IMAP or a Sieve delivery, writes it) and on each folder's new/
 * (a plain delivery by postern-deliver, another process, lands there
 * without touching the index). A change wakes the account (coalesced:
 * one check at a time, JMAP_PUSH_DELAY_MS after the first event); the
 * check runs on the work pool, opens the store (which indexes the new
 * deliveries: that is when they get their ids and change-log entries),
 * reads the change-log states and sends a StateChange to each client
 * whose types changed. Limits: JMAP_PUSH_PER_ACCOUNT clients per
 * account, httpd's HTTPD_MAX_STREAMS per process, HTTPD_STREAM_OUT_MAX
 * queued per client (a client that does not read is dropped). */

#define JMAP_PUSH_PER_ACCOUNT 16
#define JMAP_PUSH_DELAY_MS 150
#define JMAP_PUSH_PING_MIN 2      /* seconds; a smaller ping is raised */
#define JMAP_PUSH_PING_MAX 3600
#define JMAP_PUSH_TYPES_MAX 512   /* bytes of the types parameter */

struct jmap_push_req {
	int64_t mailbox_id;
	int64_t quota_kb;
	const char *account_id;
	const char *root;
	json_t *states;          /* the current TypeState (borrowed) */
	const char *types;       /* "*", NULL (all) or a comma list */
	bool closeafter;         /* closeafter=state */
	int ping;                /* seconds, 0: none */
	const char *last_event_id;   /* may be NULL */
};

/* jmap_push_attach - turn the deferred answer j into an event stream of
 * the account (in done(), on the loop): 1 ok (j->resp holds the first
 * piece), 0 over a limit (j->resp says which, 429 or 503) */
int jmap_push_attach(struct httpd_job *j, const struct jmap_push_req *r);
/* jmap_push_event - the text of one "state" event for states (its id a
 * digest of the data) into out */
void jmap_push_event(const char *account_id, json_t *states, struct buf *out,
		     char id_r[24]);
/* jmap_push_filter - states cut to the types asked for (new reference) */
json_t *jmap_push_filter(json_t *states, const char *types);

#endif
