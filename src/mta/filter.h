#ifndef POSTERN_MTA_FILTER_H
#define POSTERN_MTA_FILTER_H

#include "db.h"
#include "queue.h"

/* The MTA's global filter hook (manual 3.2: the agent runs global filters,
 * antivirus and spam checks). Every item the MTA takes from an inbound
 * queue, and every pickup file, passes through the chain in order before
 * its recipients are routed. The chain is empty today; a later issue adds
 * its filters to filter_chain[] in filter.c.
 *
 * A filter sees the envelope and the message file (read only: a filter
 * that needs to change the message writes a new file and sets
 * ctx->msg_path to it; the MTA then queues that file and removes it). */

enum filter_result {
	FILTER_CONTINUE = 0,  /* pass to the next filter, then route */
	FILTER_DEFER,         /* temporary trouble: retry the item later */
	FILTER_REJECT,        /* quarantine the item in bad mail (reason) */
	FILTER_DISCARD,       /* drop the item on purpose (reason logged) */
	FILTER_QUARANTINE,    /* hold it in the quarantine, recipients told
			       * (lib-filter/quarantine.h; never a bounce) */
};

struct filter_ctx {
	struct db *db;
	const char *queue_root;
	const char *conn;          /* inbound queue it came from, or "pickup" */
	struct queue_env *env;     /* may be changed (recipients, sender) */
	const char *msg_path;      /* the message file */
	char *new_msg_path;        /* set by a filter that rewrote the message */
	const char *reason;        /* set with DEFER, REJECT, DISCARD */
	bool released;             /* released from the quarantine: the
				    * content filters (scan.c) pass it */
	char reason_buf[512];      /* room for a reason the filter formats */
};

struct filter {
	const char *name;
	enum filter_result (*run)(struct filter_ctx *ctx);
};

/* filter_chain_run - run the filters in order until one returns other
 * than FILTER_CONTINUE; *filter_r names it (NULL for CONTINUE). */
enum filter_result filter_chain_run(struct filter_ctx *ctx,
				    const char **filter_r);
/* filter_chain_count - how many filters are installed. */
size_t filter_chain_count(void);

#endif
