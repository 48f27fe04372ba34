#ifndef POSTERN_CONSUMER_H
#define POSTERN_CONSUMER_H

/* consumer - the skeleton every queue consumer runs on (mta, deliver,
 * smtp-out, listserv), in the manner of Postfix's trigger_server: one
 * place for "scan, claim, quarantine the corrupt, hand over", for the
 * inotify watch with its periodic fallback scan and the first pass from
 * the loop, and for a forked worker's poll loop (workers.h).
 *
 * The consumer decides only what happens to a claimed item: handle()
 * must finish it (queue_item_done, _release, _badmail...); the skeleton
 * frees it afterwards. A consumer that commits in groups (mta, deliver:
 * group commit) sets batch and flush: handle() then takes items over and
 * keeps them claimed, and flush() makes their results durable together
 * and finishes them; the pass calls it after every batch items it
 * handed over and at its end, so nothing stays claimed between passes. */

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "queue.h"
#include "service.h"

struct consumer {
	/* set by the caller */
	const char *qpath;      /* the queue consumed (queue_path) */
	const char *qroot;      /* its root: corrupt items go to bad mail */
	const char *name;       /* for log lines ("sf", "smtp inbound") */
	/* skip - true to leave item id alone this pass (due later, already
	 * in progress, stopping); NULL: take all */
	bool (*skip)(void *ctx, const char *id);
	/* handle - a claimed item; must finish it, or take it over (copy
	 * *item and zero it: smtp-out's runs outlive the pass) */
	void (*handle)(void *ctx, struct queue_item *item);
	/* flush - finish the items handle() kept (group commit); NULL:
	 * handle() finishes each item itself */
	void (*flush)(void *ctx);
	size_t batch;           /* with flush: items handed over per flush */
	/* corrupt - after a corrupt item went to bad mail (counters); NULL */
	void (*corrupt)(void *ctx, const char *id);
	/* pass - what the watch and the first pass run; NULL: consumer_pass */
	void (*pass)(void *ctx);
	/* tick - what the periodic timer runs; NULL: pass */
	void (*tick)(void *ctx);
	bool first_tick;        /* the first pass from the loop runs tick */
	void *ctx;
	/* the skeleton's */
	int watch_fd;
	struct event *watch_ev, *timer_ev;
};

/* consumer_pass - one pass over the queue: each committed item, oldest
 * first, claimed and handed to handle(); 0, or -1 when the queue cannot be
 * scanned (logged) */
int consumer_pass(struct consumer *c);
/* consumer_start - the inotify watch on qpath (runs pass), a timer every
 * interval seconds (runs tick), and a first pass from the loop, so that
 * the service reports its start first; interval 0: the watch only (the
 * caller scans several queues from a timer of its own). 0, or -1 (logged) when the timer
 * cannot be made; without inotify the timer remains (logged). */
int consumer_start(struct consumer *c, struct event_base *base, int interval);
/* consumer_stop - remove the watch and the timer (safe twice) */
void consumer_stop(struct consumer *c);
/* consumer_worker_loop - in a forked worker (workers.h): its own inotify
 * watches on the n (at most CONSUMER_MAX) queues and a poll loop running
 * the pass of each changed queue, and of all at least every interval
 * seconds, until worker_stop; reopens the log on SIGHUP. */
/* consumer_worker_service - first thing in a forked worker: worker_setup,
 * then the service as the worker sees it, with a database connection of
 * its own (exits when that cannot be opened). Never NULL. */
struct service *consumer_worker_service(const struct service *svc,
					pid_t parent);
#define CONSUMER_MAX 8
void consumer_worker_loop(struct consumer **cs, size_t n, int interval);

#endif
