#ifndef POSTERN_WORKPOOL_H
#define POSTERN_WORKPOOL_H

/* workpool - blocking work on worker threads, completions on the event
 * loop. A service's event loop serves every connection of its process:
 * anything that waits for the disk (an fsync) or burns CPU (a password
 * hash) stalls them all when done inline. Hand it to a pool instead: run()
 * is called on one of the pool's threads, then done() on the loop's
 * thread, in the order the jobs finish. Many jobs in flight also let the
 * file system group their flushes.
 *
 * run() must not touch libevent objects or anything the loop owns (a
 * struct db or SQLite connection belongs to one thread: open your own on
 * the worker, see thread_end). The job is the caller's memory: the pool
 * only links it. A caller whose owner goes away while the job runs marks
 * the job (e.g. a NULL session pointer) and frees it in done(). */

#include <stdbool.h>

#include <event2/event.h>

struct work {
	struct work *next;                 /* the pool's */
	void (*run)(struct work *w);       /* on a worker thread */
	void (*done)(struct work *w);      /* on the loop thread, after run */
	bool skipped;                      /* done() without run(): the pool
					    * stopped first (workpool_free) */
};

struct workpool;

/* workpool_create - nthreads workers whose completions come back through
 * base. thread_end (may be NULL) runs on each worker thread as it stops,
 * to close what the thread opened for itself. NULL with *error_r. */
struct workpool *workpool_create(struct event_base *base, int nthreads,
				 void (*thread_end)(void),
				 const char **error_r);
/* workpool_submit - queue a job; its done() is called later on the loop.
 * Jobs start in submission order. */
void workpool_submit(struct workpool *p, struct work *w);
/* workpool_pending - jobs submitted whose done() has not run yet */
unsigned workpool_pending(const struct workpool *p);
/* workpool_free - stop the threads (each runs thread_end) and free the
 * pool. Jobs already submitted are run first when run_pending, else
 * those not started are skipped (w->skipped); either way each gets its
 * done(). */
void workpool_free(struct workpool **p, bool run_pending);

#endif
