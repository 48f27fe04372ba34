/* commit - durable queue commits on worker threads, completions on the
 * event loop */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "commit.h"
#include "log.h"
#include "xalloc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct commit_job *pending_head, **pending_tail = &pending_head;
static struct commit_job *done_head, **done_tail = &done_head;
static bool stopping;
static pthread_t *threads;
static int nthreads_running;
static int efd = -1;
static struct event *ev;

/* worker - take jobs, commit, hand them back */
static void *
worker(void *arg)
{
	pthread_mutex_lock(&lock);
	for (;;) {
		while (pending_head == NULL && !stopping)
			pthread_cond_wait(&cond, &lock);
		struct commit_job *job = pending_head;
		if (job == NULL)
			break;
		pending_head = job->next;
		if (pending_head == NULL)
			pending_tail = &pending_head;
		pthread_mutex_unlock(&lock);

		const char *err = NULL;
		if (job->qw == NULL)
			job->qw = queue_writer_open(job->qpath, job->env->id, &err);
		if (job->qw == NULL) {
			job->rc = -1;
		} else {
			/* a failed write is reported by the commit */
			if (job->data != NULL && job->data->len > 0)
				(void)queue_writer_write(job->qw, job->data->data,
				    job->data->len);
			job->rc = queue_writer_commit(&job->qw, job->env, &err);
		}
		snprintf(job->error, sizeof(job->error), "%s", err ? err : "");

		pthread_mutex_lock(&lock);
		job->next = NULL;
		*done_tail = job;
		done_tail = &job->next;
		uint64_t one = 1;
		ssize_t n = write(efd, &one, sizeof(one));
		(void)n;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* run_done - call done() of the finished jobs (event loop thread) */
static void
run_done(void)
{
	struct commit_job *list;

	pthread_mutex_lock(&lock);
	list = done_head;
	done_head = NULL;
	done_tail = &done_head;
	pthread_mutex_unlock(&lock);
	while (list != NULL) {
		struct commit_job *next = list->next;
		list->done(list);
		list = next;
	}
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;
	ssize_t n = read(efd, &v, sizeof(v));

	(void)n;
	run_done();
}

int
commit_pool_start(struct event_base *base, int nthreads)
{
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -1;
	ev = event_new(base, efd, EV_READ | EV_PERSIST, on_done, NULL);
	if (ev == NULL || event_add(ev, NULL) < 0)
		return -1;
	threads = xcalloc((size_t)nthreads, sizeof(*threads));
	for (int i = 0; i < nthreads; i++) {
		int e = pthread_create(&threads[i], NULL, worker, NULL);
		if (e != 0) {
			errno = e;
			log_warn("pthread_create");
			break;
		}
		nthreads_running++;
	}
	return nthreads_running > 0 ? 0 : -1;
}

void
commit_submit(struct commit_job *job)
{
	pthread_mutex_lock(&lock);
	if (stopping) {
		/* the process is ending: the caller aborts what never ran */
		pthread_mutex_unlock(&lock);
		return;
	}
	job->next = NULL;
	*pending_tail = job;
	pending_tail = &job->next;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void
commit_pool_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads_running; i++)
		pthread_join(threads[i], NULL);
	nthreads_running = 0;
	free(threads);
	threads = NULL;
	run_done();
	if (ev != NULL)
		event_free(ev);
	ev = NULL;
	if (efd >= 0)
		close(efd);
	efd = -1;
}
