/* auth - password checks off the event loop. A password hash (yescrypt)
 * costs tens of milliseconds: done inline, a burst of logins would stall
 * every IDLE client of the process. Two worker threads, each with its own
 * connection to the config store, run dir_authenticate(); results come
 * back through a pipe that the event loop watches. The loop never shares
 * a struct db or libevent object with the workers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imapd.h"
#include "log.h"
#include "xalloc.h"

#define AUTH_WORKERS 2

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t auth_cond = PTHREAD_COND_INITIALIZER;
static struct auth_job *queue_head, *queue_tail;
static bool auth_stopping;
static pthread_t workers[AUTH_WORKERS];
static size_t nworkers;
static int done_pipe[2] = { -1, -1 };
static struct event *done_ev;

/* auth_job_free - wipe the password and free the job */
void
auth_job_free(struct auth_job *j)
{
	if (j == NULL)
		return;
	if (j->password != NULL) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->tag);
	free(j->login);
	free(j->error);
	free(j);
}

static void *
worker_main(void *arg)
{
	struct imapd *d = arg;
	struct db *db = NULL;
	const char *err;

	if (db_open(d->svc->root, false, &db, &err) < 0)
		db = NULL;
	for (;;) {
		pthread_mutex_lock(&auth_lock);
		while (queue_head == NULL && !auth_stopping)
			pthread_cond_wait(&auth_cond, &auth_lock);
		if (auth_stopping) {
			pthread_mutex_unlock(&auth_lock);
			break;
		}
		struct auth_job *j = queue_head;
		queue_head = j->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		pthread_mutex_unlock(&auth_lock);

		err = NULL;
		if (db == NULL) {
			j->result = DIR_AUTH_ERROR;
			j->error = xstrdup("cannot open the config store");
		} else {
			j->result = dir_authenticate(db, j->login, j->password,
			    &j->mb, &err);
			if (err != NULL)
				j->error = xstrdup(err);
		}
		explicit_bzero(j->password, strlen(j->password));
		ssize_t w;
		do {
			w = write(done_pipe[1], &j, sizeof(j));
		} while (w < 0 && errno == EINTR);
	}
	if (db != NULL)
		db_close(&db);
	return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth_job *jobs[64];

	for (int guard = 0; guard < 100; guard++) {
		ssize_t r = read(fd, jobs, sizeof(jobs));
		if (r <= 0)
			break;
		for (size_t i = 0; i < (size_t)r / sizeof(jobs[0]); i++) {
			struct auth_job *j = jobs[i];
			if (j->s != NULL)
				session_auth_done(j->s, j);
			else
				auth_job_free(j);
		}
	}
}

/* auth_init - start the workers (after privileges are dropped) */
int
auth_init(struct imapd *d, const char **error_r)
{
	if (pipe2(done_pipe, O_CLOEXEC) < 0) {
		*error_r = "pipe failed";
		return -1;
	}
	/* the workers block on a full pipe rather than lose a result; the
	 * loop end is non-blocking */
	(void)fcntl(done_pipe[0], F_SETFL, O_NONBLOCK);
	done_ev = event_new(d->svc->base, done_pipe[0], EV_READ | EV_PERSIST,
	    on_done, d);
	event_add(done_ev, NULL);
	for (size_t i = 0; i < AUTH_WORKERS; i++) {
		if (pthread_create(&workers[i], NULL, worker_main, d) != 0)
			break;
		nworkers++;
	}
	if (nworkers == 0) {
		*error_r = "cannot start authentication threads";
		return -1;
	}
	return 0;
}

/* auth_submit - queue a password check; the session hears back through
 * session_auth_done() */
void
auth_submit(struct auth_job *j)
{
	pthread_mutex_lock(&auth_lock);
	j->next = NULL;
	if (queue_tail != NULL)
		queue_tail->next = j;
	else
		queue_head = j;
	queue_tail = j;
	pthread_cond_signal(&auth_cond);
	pthread_mutex_unlock(&auth_lock);
}

/* auth_shutdown - stop the workers; jobs not started are dropped */
void
auth_shutdown(void)
{
	pthread_mutex_lock(&auth_lock);
	auth_stopping = true;
	pthread_cond_broadcast(&auth_cond);
	pthread_mutex_unlock(&auth_lock);
	for (size_t i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	nworkers = 0;
	while (queue_head != NULL) {
		struct auth_job *j = queue_head;
		queue_head = j->next;
		if (j->s != NULL)
			j->s->auth = NULL;
		auth_job_free(j);
	}
	queue_tail = NULL;
	/* results not read yet */
	if (done_pipe[0] >= 0) {
		struct auth_job *j;
		while (read(done_pipe[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
			if (j->s != NULL)
				j->s->auth = NULL;
			auth_job_free(j);
		}
	}
	if (done_ev != NULL)
		event_free(done_ev);
	done_ev = NULL;
	for (int i = 0; i < 2; i++)
		if (done_pipe[i] >= 0) {
			close(done_pipe[i]);
			done_pipe[i] = -1;
		}
}
