#ifndef POSTERN_MTA_H
#define POSTERN_MTA_H

#include <stdbool.h>
#include <time.h>

#include <event2/event.h>

#include "consumer.h"
#include "db.h"
#include "service.h"
#include "workers.h"

/* The MTA agent (manual 3.2, 3.4): it takes items from every connector's
 * Inbound queue, runs the global filter chain (filter.h), routes each
 * recipient through the directory and commits the item, split by
 * destination, into the Outgoing queues of the post office (sf), list
 * server (ls) or SMTP (smtp) connectors. Only then is the inbound item
 * removed. It also injects the files dropped in the pickup directory
 * (pickup.c). */

#define MTA_SCAN_INTERVAL 5      /* seconds between fallback scans */
#define MTA_NINBOUND 4

struct mta;

struct mta_inbound {
	const char *conn;          /* "smtp", "sf", "ls", "pr" */
	char *qpath;
	struct consumer c;         /* its watch and passes */
	struct mta *m;
};

/* counts of the service's processes together (`postern status`) */
struct mta_counts {
	unsigned long routed, picked_up, badmail;
};

/* an item routed in the current batch, waiting for its commit */
struct mta_held {
	struct queue_item item;    /* taken over from the pass */
	size_t nbad;               /* recipients for bad mail (relay denied) */
	bool *bad;                 /* per recipient: one of those */
};

struct mta {
	struct service *svc;
	char *qroot;
	struct mta_inbound in[MTA_NINBOUND];
	char *out_smtp, *out_sf, *out_ls;
	char *pickup;              /* <queue root>/pickup */
	int pickup_fd;             /* inotify on pickup/ */
	struct event *pickup_ev;
	struct event *timer;
	time_t hold_until;         /* after a deferral: wake-ups wait */
	bool worker;               /* a forked worker (no pickup, no status) */
	struct workers workers;    /* the main process's workers */
	struct mta_counts *n;   /* every process's, in shared memory */
	/* group commit (delivery.batch): the outgoing items of the held
	 * inbound items, staged in batch, committed by the pass's flush */
	struct queue_batch *batch;
	struct mta_held *held;
	size_t nheld, batch_max;
};

/* pickup.c */
int pickup_init(struct mta *m);
/* pickup_scan - inject the files of pickup/: named ones (from inotify)
 * at once, others when at least 2 seconds old. */
void pickup_scan(struct mta *m, char **names, size_t n);
void pickup_on_event(evutil_socket_t fd, short what, void *arg);
/* mta_badmail_file - move a loose file (pickup) to bad mail with a
 * reason file; 0 or -1. */
int mta_badmail_file(struct mta *m, const char *path, const char *id,
		     const char *reason);

#endif
