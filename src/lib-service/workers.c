/* workers - forked worker processes of a queue consumer */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "workers.h"
#include "xalloc.h"

volatile sig_atomic_t worker_stop, worker_hup;

/* the worker sets of this process, for workers_signal */
#define WORKER_SETS 4
static struct workers *worker_sets[WORKER_SETS];

void
workers_signal(int sig)
{
	for (size_t s = 0; s < WORKER_SETS; s++)
		for (size_t i = 0; worker_sets[s] != NULL && i < worker_sets[s]->n; i++)
			if (worker_sets[s]->pids[i] > 0)
				kill(worker_sets[s]->pids[i], sig);
}

void *
workers_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;   /* zeroed by the kernel */
}

/* worker_on_signal - stop after the current item, or reopen the log */
static void
worker_on_signal(int sig)
{
	if (sig == SIGHUP)
		worker_hup = 1;
	else
		worker_stop = 1;
}

/* worker_setup - signals and the death signal of a new worker */
void
worker_setup(pid_t parent)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
}

/* worker_spawn - fork slot i */
static void
worker_spawn(struct workers *w, size_t i)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("cannot fork a worker");
		w->pids[i] = -1;
		return;
	}
	if (pid == 0) {
		/* a worker has no workers of its own to signal */
		memset(worker_sets, 0, sizeof(worker_sets));
		w->fn(w->ctx, parent);
		_exit(1);
	}
	w->pids[i] = pid;
}

/* workers_start - fork n workers */
void
workers_start(struct workers *w, size_t n, worker_fn *fn, void *ctx)
{
	w->n = n;
	w->fn = fn;
	w->ctx = ctx;
	w->pids = xcalloc(n ? n : 1, sizeof(*w->pids));
	for (size_t s = 0; s < WORKER_SETS; s++)
		if (worker_sets[s] == NULL) {
			worker_sets[s] = w;
			break;
		}
	for (size_t i = 0; i < n; i++)
		worker_spawn(w, i);
}

/* workers_reap - replace dead workers */
void
workers_reap(struct workers *w)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < w->n; i++) {
			if (w->pids[i] != pid)
				continue;
			log_warnx("worker %d %s %d; starting another", (int)pid,
			    WIFSIGNALED(st) ? "killed by signal" : "exited with",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			w->pids[i] = -1;
		}
	}
	for (size_t i = 0; i < w->n; i++)
		if (w->pids[i] < 0)
			worker_spawn(w, i);
}

/* workers_stop - stop every worker, politely first */
void
workers_stop(struct workers *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->pids[i] > 0)
			kill(w->pids[i], SIGTERM);
	for (int tries = 0; tries < 100; tries++) {
		size_t alive = 0;
		for (size_t i = 0; i < w->n; i++) {
			if (w->pids[i] <= 0)
				continue;
			if (waitpid(w->pids[i], NULL, WNOHANG) == w->pids[i])
				w->pids[i] = 0;
			else
				alive++;
		}
		if (alive == 0)
			break;
		usleep(50000);
	}
	for (size_t i = 0; i < w->n; i++)
		if (w->pids[i] > 0) {
			kill(w->pids[i], SIGKILL);
			waitpid(w->pids[i], NULL, 0);
		}
	for (size_t s = 0; s < WORKER_SETS; s++)
		if (worker_sets[s] == w)
			worker_sets[s] = NULL;
	free(w->pids);
	memset(w, 0, sizeof(*w));
}
