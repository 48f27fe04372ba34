/* workpool - jobs on worker threads, completions on the event loop
 * (see workpool.h) */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "workpool.h"
#include "xalloc.h"

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *pending_head, **pending_tail;
	struct work *done_head, **done_tail;
	bool stopping;
	pthread_t *threads;
	int nthreads;
	void (*thread_end)(void);
	unsigned in_flight;                /* submitted, done() not run */
	int efd;
	struct event *ev;
};

/* worker - take jobs in order, run them, queue them for done() */
static void *
worker(void *arg)
{
	struct workpool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->pending_head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		struct work *w = p->pending_head;
		if (w == NULL)
			break; /* stopping, and nothing left to run */
		p->pending_head = w->next;
		if (p->pending_head == NULL)
			p->pending_tail = &p->pending_head;
		pthread_mutex_unlock(&p->lock);

		w->run(w);

		pthread_mutex_lock(&p->lock);
		w->next = NULL;
		*p->done_tail = w;
		p->done_tail = &w->next;
		uint64_t one = 1;
		ssize_t n;
		do {
			n = write(p->efd, &one, sizeof(one));
		} while (n < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&p->lock);
	if (p->thread_end != NULL)
		p->thread_end();
	return NULL;
}

/* run_done - call done() of the finished jobs (loop thread) */
static void
run_done(struct workpool *p)
{
	struct work *list;

	pthread_mutex_lock(&p->lock);
	list = p->done_head;
	p->done_head = NULL;
	p->done_tail = &p->done_head;
	pthread_mutex_unlock(&p->lock);
	while (list != NULL) {
		struct work *next = list->next;
		p->in_flight--;
		list->done(list);
		list = next;
	}
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *p = arg;
	uint64_t v;
	ssize_t n = read(p->efd, &v, sizeof(v));

	(void)n;
	run_done(p);
}

/* workpool_create - see workpool.h */
struct workpool *
workpool_create(struct event_base *base, int nthreads,
		void (*thread_end)(void), const char **error_r)
{
	struct workpool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->pending_tail = &p->pending_head;
	p->done_tail = &p->done_head;
	p->thread_end = thread_end;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		*error_r = "eventfd failed";
		goto fail;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_done, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0) {
		*error_r = "cannot watch the eventfd";
		goto fail;
	}
	p->threads = xcalloc((size_t)(nthreads > 0 ? nthreads : 1),
	    sizeof(*p->threads));
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		*error_r = "cannot start worker threads";
		goto fail;
	}
	return p;
fail:
	workpool_free(&p, false);
	return NULL;
}

/* workpool_submit - see workpool.h */
void
workpool_submit(struct workpool *p, struct work *w)
{
	pthread_mutex_lock(&p->lock);
	w->next = NULL;
	*p->pending_tail = w;
	p->pending_tail = &w->next;
	p->in_flight++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* workpool_pending - see workpool.h */
unsigned
workpool_pending(const struct workpool *p)
{
	return p->in_flight;
}

/* workpool_free - see workpool.h */
void
workpool_free(struct workpool **pp, bool run_pending)
{
	struct workpool *p = *pp;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (!run_pending) {
		/* not started: to done() as skipped */
		while (p->pending_head != NULL) {
			struct work *w = p->pending_head;
			p->pending_head = w->next;
			w->skipped = true;
			w->next = NULL;
			*p->done_tail = w;
			p->done_tail = &w->next;
		}
		p->pending_tail = &p->pending_head;
	}
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* with no thread (a failed start) nothing can have been submitted */
	run_done(p);
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
	*pp = NULL;
}
