#ifndef POSTERN_DELIVER_PRIVATE_H
#define POSTERN_DELIVER_PRIVATE_H

/* deliver-private - what deliver.c (the items, the queue, the service) and
 * deliver-rcpt.c (one recipient: header checks, the route, the store)
 * share */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include "directory.h"
#include "consumer.h"
#include "crashpoint.h"
#include "dsn.h"
#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "msghdr.h"
#include "postdeliver.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "sieve-deliver.h"
#include "verdict.h"
#include "srs.h"
#include "srs-forward.h"
#include "store.h"
#include "strutil.h"
#include "traffic.h"
#include "workers.h"
#include "xalloc.h"

#define DELIVER_SCAN_INTERVAL 5
#define DELIVER_MAX_HOPS 50
#define DELIVER_GROUP_DEPTH 5
#define DELIVER_DT_MAX 100        /* Delivered-To fields remembered */

struct retry {
	char id[QUEUE_ID_MAX + 1];
	time_t at;
	ino_t ino;   /* of the envelope as released (queue_env_ino) */
};

struct deliver {
	struct service *svc;
	char *qroot;
	char *qpath;               /* sf outgoing: what we consume */
	char *inbound;             /* sf inbound: forwards and DSNs */
	struct consumer c;         /* sf outgoing: watch, timer, passes */
	struct retry *retries;
	size_t nretries;
	time_t hold_until;
	bool worker;               /* a forked worker, not the main process */
	struct workers workers;    /* the main process's workers */
	struct deliver_counts *n;  /* every process's, in shared memory */
	/* group commit (delivery.batch): the mailbox files of the held
	 * items, staged in batch, committed by the pass's flush */
	struct store_batch *batch;
	struct job **held;
	size_t nheld, batch_max;
};

/* counts of the service's processes together (`postern status`) */
struct deliver_counts {
	unsigned long delivered, forwarded, bounced, deferred, badmail;
};

/* outcome of one recipient in this pass */
enum oc { OC_NONE, OC_DELIVERED, OC_FORWARDED, OC_FAILED, OC_DEFERRED };

struct rcpt_state {
	enum oc oc;
	char status[16];
	char *diag;
};

/* a group member's permanent failure, bounced with the item's failures */
struct member_fail {
	char *address;
	unsigned notify;
	char status[16];
	char *diag;
};

/* per item work; held from its deliveries to the batch's commit */
struct job {
	struct deliver *d;
	struct queue_item own;     /* the item, taken over from the pass */
	int tag;                   /* its deliveries in d->batch */
	size_t tried;              /* recipients due in this pass */
	time_t now;
	struct post_msg *pm;       /* the header for postdeliver.h */
	struct queue_item *item;
	struct queue_env *env;
	struct rcpt_state *rs;
	int hops;
	bool junk;                 /* the MTA marked it for Junk (DMARC) */
	char **dt;                 /* Delivered-To addresses of the message */
	size_t ndt;
	int64_t *done_mb;          /* mailboxes delivered to in this item */
	size_t ndone_mb;
	char **fwd;                /* forward addresses */
	size_t nfwd;
	char **fwd_dt;             /* Delivered-To lines for the forward copy */
	size_t nfwd_dt;
	size_t *fwd_rcpts;         /* recipients whose outcome is a forward */
	size_t nfwd_rcpts;
	struct member_fail *mfail; /* group members that failed for good */
	size_t nmfail;
	double spam_score;         /* X-Spam-Score the MTA wrote (scan.c) */
	bool spam_scored;
};

/* the recipients of an item that hit one catch-all target */
struct catchall {
	struct dir_route route;     /* of the first recipient */
	size_t *rcpts;
	size_t n;
};

void strv_free(char **v, size_t n);

/* rs_set - record a recipient's outcome (the first failure wins) */
void rs_set(struct rcpt_state *rs, enum oc oc, const char *status, const char *diag);

/* job_scan_header - the one read of the message's header per delivery:
 * hop count, Delivered-To, and what the auto responder needs
 * (postdeliver.h); -1 if the message cannot be read */
int job_scan_header(struct job *j);

bool job_seen_dt(const struct job *j, const char *address);

/* job_forward - send address on through the MTA; cause is the local
 * address that forwards (a Delivered-To line of the copy), or NULL */
void job_forward(struct job *j, size_t ri, const char *address, const char *cause);

/* deliver_mailbox - a mailbox target: disabled, redirection, store */
enum oc deliver_mailbox(struct job *j, size_t ri, int64_t mailbox_id,
		const char *address, const char *extra_hdr,
		struct rcpt_state *rs);

/* deliver_route - deliver one resolved target */
enum oc deliver_route(struct job *j, size_t ri, const struct dir_route *route,
	      const char *extra_hdr, int depth, struct rcpt_state *rs);

bool catchall_same(const struct dir_route *a, const struct dir_route *b);

#endif
