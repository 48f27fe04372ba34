#ifndef POSTERN_WORKERS_H
#define POSTERN_WORKERS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Worker processes for the queue consumers (MTA, post office connector).
 * Queue items are claimed by rename, so several processes can work one
 * queue without sharing an item; their fsyncs run in parallel and the file
 * system commits them together. A worker is forked from the main process
 * after queue_recover, runs its own poll loop (no libevent, its own
 * database connection: see the callers) and dies with the main process
 * (PR_SET_PDEATHSIG SIGKILL): what it had claimed goes back to new/ at the
 * next start, so a crash can duplicate but never lose. */

typedef void worker_fn(void *ctx, pid_t parent);  /* must not return */

struct workers {
	pid_t *pids;
	size_t n;
	worker_fn *fn;
	void *ctx;
};

/* set in a worker by SIGTERM/SIGINT (stop after the current item) and
 * SIGHUP (reopen the log) */
extern volatile sig_atomic_t worker_stop, worker_hup;

/* workers_start - fork n workers running fn(ctx, parent pid). */
void workers_start(struct workers *w, size_t n, worker_fn *fn, void *ctx);
/* workers_reap - reap dead workers and fork replacements (call from the
 * main process's timer). */
void workers_reap(struct workers *w);
/* workers_stop - SIGTERM every worker, SIGKILL after 5 s; frees. */
void workers_stop(struct workers *w);
/* workers_signal - send sig to every worker of this process (the service
 * forwards SIGHUP: each worker reopens its log). */
void workers_signal(int sig);
/* workers_shared_alloc - size zeroed bytes shared with the workers forked
 * after it (counters the main process reports for all: update them with
 * __atomic builtins); NULL on failure. Never freed: it lives as long as
 * the service. */
void *workers_shared_alloc(size_t size);
/* workers_count - add v to a counter in workers_shared_alloc memory */
static inline void
workers_count(unsigned long *counter, unsigned long v)
{
	__atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}
/* worker_setup - first thing in a worker: signal handlers, death signal;
 * exits if the parent is already gone. */
void worker_setup(pid_t parent);

#endif
