/* test-workpool - jobs run on worker threads, done() on the loop thread,
 * every job exactly once, and workpool_free finishes what was submitted */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "test.h"
#include "workpool.h"

#define NJOBS 500

struct job {
	struct work w;
	int n;
	pthread_t ran_on;
	int runs, dones;
	bool done_on_loop;
};

static pthread_t loop_thread;
static int done_count;
static struct event_base *base;
static int thread_end_calls;

static void
job_run(struct work *w)
{
	struct job *j = (struct job *)w;

	j->ran_on = pthread_self();
	j->runs++;
	if (j->n % 50 == 0) {
		struct timespec ts = { 0, 1000000 }; /* a slow one: 1 ms */
		nanosleep(&ts, NULL);
	}
}

static void
job_done(struct work *w)
{
	struct job *j = (struct job *)w;

	j->dones++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	if (++done_count == NJOBS)
		event_base_loopbreak(base);
}

static void
thread_end(void)
{
	__atomic_add_fetch(&thread_end_calls, 1, __ATOMIC_RELAXED);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_jobs_run_off_loop_done_on_loop(void)
{
	static struct job jobs[NJOBS];
	const char *err = NULL;

	loop_thread = pthread_self();
	base = event_base_new();
	struct workpool *p = workpool_create(base, 3, thread_end, &err);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (int i = 0; i < NJOBS; i++) {
		jobs[i].w.run = job_run;
		jobs[i].w.done = job_done;
		jobs[i].n = i;
		workpool_submit(p, &jobs[i].w);
	}
	CHECK(workpool_pending(p) > 0);
	struct timeval tv = { 30, 0 }; /* bound: never hang the test run */
	struct event *guard = evtimer_new(base, on_guard, base);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
	CHECK_INTEQ(done_count, NJOBS);
	CHECK_INTEQ(workpool_pending(p), 0);
	for (int i = 0; i < NJOBS; i++) {
		CHECK_INTEQ(jobs[i].runs, 1);
		CHECK_INTEQ(jobs[i].dones, 1);
		CHECK(jobs[i].done_on_loop);
		CHECK(!pthread_equal(jobs[i].ran_on, loop_thread));
	}
	workpool_free(&p, true);
	CHECK(p == NULL);
	CHECK_INTEQ(thread_end_calls, 3);
	event_base_free(base);
}

static void
test_free_finishes_submitted(void)
{
	static struct job jobs[NJOBS];
	const char *err = NULL;

	done_count = 0;
	base = event_base_new();
	struct workpool *p = workpool_create(base, 2, NULL, &err);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (int i = 0; i < NJOBS; i++) {
		jobs[i].w.run = job_run;
		jobs[i].w.done = job_done;
		jobs[i].n = i + 1;
		workpool_submit(p, &jobs[i].w);
	}
	/* no loop ran: free runs every job and calls each done() */
	workpool_free(&p, true);
	CHECK_INTEQ(done_count, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		CHECK_INTEQ(jobs[i].runs, 1);
		CHECK_INTEQ(jobs[i].dones, 1);
		CHECK(jobs[i].done_on_loop);
	}
	event_base_free(base);
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void
gated_run(struct work *w)
{
	struct job *j = (struct job *)w;

	pthread_mutex_lock(&gate);   /* held by the test: the worker waits */
	pthread_mutex_unlock(&gate);
	j->runs++;
}

static void
test_free_skips_pending(void)
{
	static struct job jobs[20];
	const char *err = NULL;

	done_count = 0;
	base = event_base_new();
	pthread_mutex_lock(&gate);
	struct workpool *p = workpool_create(base, 1, NULL, &err);
	CHECK(p != NULL);
	if (p == NULL) {
		pthread_mutex_unlock(&gate);
		return;
	}
	for (int i = 0; i < 20; i++) {
		jobs[i].w.run = gated_run;
		jobs[i].w.done = job_done;
		workpool_submit(p, &jobs[i].w);
	}
	/* let the worker take the first job and block on the gate */
	for (int i = 0; i < 1000; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		if (workpool_pending(p) == 20 && i > 20)
			break;
	}
	pthread_mutex_unlock(&gate);
	workpool_free(&p, false);
	CHECK_INTEQ(done_count, 20);
	int ran = 0, skipped = 0;
	for (int i = 0; i < 20; i++) {
		CHECK_INTEQ(jobs[i].dones, 1);
		CHECK(jobs[i].runs == (jobs[i].w.skipped ? 0 : 1));
		ran += jobs[i].runs;
		skipped += jobs[i].w.skipped;
	}
	CHECK(ran >= 1);        /* the one in progress finished */
	CHECK(skipped >= 1);    /* the rest were not started */
	CHECK_INTEQ(ran + skipped, 20);
	event_base_free(base);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_jobs_run_off_loop_done_on_loop),
		TEST(test_free_finishes_submitted),
		TEST(test_free_skips_pending),
		{ 0 },
	};

	return test_run(tests);
}
