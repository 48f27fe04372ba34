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
/* worker_setup - first thing in a worker: signal handlers, death signal;
 * exits if the parent is already gone. */
void worker_setup(pid_t parent);

#endif
