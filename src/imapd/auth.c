/* auth - password checks off the event loop. A password hash (yescrypt)
 * costs tens of milliseconds: done inline, a burst of logins would stall
 * every IDLE client of the process. Two worker threads of a lib-service
 * workpool run dir_authenticate(), each with its own connection to the
 * config store (opened on first use, closed as the thread ends); results
 * come back to the loop through the pool. The loop never shares a
 * struct db or libevent object with the workers. */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"
#include "xalloc.h"

#define AUTH_WORKERS 2

static struct workpool *pool;
static const char *config_root;   /* the data root, for db_open */

static __thread struct db *thread_db;
static __thread bool thread_db_tried;

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

/* auth_run - one password check (worker thread) */
static void
auth_run(struct work *w)
{
	struct auth_job *j = (struct auth_job *)w;
	const char *err = NULL;

	if (!thread_db_tried) {
		thread_db_tried = true;
		if (db_open(config_root, false, &thread_db, &err) < 0)
			thread_db = NULL;
	}
	if (thread_db == NULL) {
		j->result = DIR_AUTH_ERROR;
		j->error = xstrdup("cannot open the config store");
	} else {
		j->result = dir_authenticate_client(thread_db, j->login,
		    j->password, &(struct dir_client){ "imap", j->addr },
		    &j->mb, &err);
		if (err != NULL)
			j->error = xstrdup(err);
	}
	explicit_bzero(j->password, strlen(j->password));
}

/* auth_done - the answer, on the loop */
static void
auth_done(struct work *w)
{
	struct auth_job *j = (struct auth_job *)w;

	if (w->skipped) {
		/* the service stops: never checked */
		j->result = DIR_AUTH_ERROR;
		j->error = xstrdup("service stopping");
	}
	if (j->s != NULL)
		session_auth_done(j->s, j);
	else
		auth_job_free(j);
}

static void
thread_end(void)
{
	if (thread_db != NULL)
		db_close(&thread_db);
	thread_db_tried = false;
}

/* auth_init - start the workers (after privileges are dropped) */
int
auth_init(struct imapd *d, const char **error_r)
{
	config_root = d->svc->root;
	pool = workpool_create(d->svc->base, AUTH_WORKERS, thread_end, error_r);
	return pool != NULL ? 0 : -1;
}

/* auth_submit - queue a password check; the session hears back through
 * session_auth_done() */
void
auth_submit(struct auth_job *j)
{
	j->w.run = auth_run;
	j->w.done = auth_done;
	workpool_submit(pool, &j->w);
}

/* auth_shutdown - stop the workers; checks not started are dropped */
void
auth_shutdown(void)
{
	workpool_free(&pool, false);
}
