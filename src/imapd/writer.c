/* writer - the store writes that wait for the disk (APPEND: the message
 * file's fsync, the index insert, the directory's fsync), done on worker
 * threads (lib-service workpool) so that the event loop keeps serving
 * every other session meanwhile, and so that the flushes of concurrent
 * APPENDs overlap. The session that asked reads no further command until
 * its answer is in (session_resume): replies stay in order.
 *
 * SQLite connections belong to one thread: each worker opens its own
 * index connection per mailbox, and keeps the last WRITER_STORES open.
 * Everything the job needs is copied into it; the loop's session may go
 * away meanwhile (job->s is then NULL and the answer is dropped; the
 * message is stored all the same, as if the client had died a moment
 * after the OK). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"
#include "workpool.h"
#include "xalloc.h"

#define WRITER_THREADS 4      /* APPENDs whose flushes can overlap */
#define WRITER_STORES 8       /* index connections kept per thread */

struct write_job {
	struct work w;
	struct session *s;          /* NULL once the session is gone */
	char *tag;
	char *root;                 /* the mailbox: the worker's own index */
	char folder[STORE_FOLDER_MAX + 1];
	char *data;
	size_t len;
	unsigned flags;
	char *kw;                   /* NULL: none */
	time_t idate;
	int64_t quota_kb;
	/* the outcome */
	int rc;                     /* store_append's */
	uint32_t uid, uidvalidity;
	char error[512];
};

static struct workpool *pool;

/* ---- on the worker threads --------------------------------------------- */

static __thread struct thread_store {
	char *root;
	struct store *st;
	unsigned long used;
} stores[WRITER_STORES];
static __thread unsigned long stores_tick;

/* thread_store - this thread's connection to the index of root */
static struct store *
thread_store(const char *root, const char **error_r)
{
	struct thread_store *victim = &stores[0];

	for (size_t i = 0; i < WRITER_STORES; i++) {
		struct thread_store *t = &stores[i];
		if (t->st != NULL && strcmp(t->root, root) == 0) {
			t->used = ++stores_tick;
			return t->st;
		}
		if (t->st == NULL || t->used < victim->used)
			victim = t;
	}
	if (victim->st != NULL) {
		store_close(&victim->st);
		free(victim->root);
		victim->root = NULL;
	}
	victim->st = store_open(root, error_r);
	if (victim->st == NULL)
		return NULL;
	victim->root = xstrdup(root);
	victim->used = ++stores_tick;
	return victim->st;
}

/* thread_end - close this thread's index connections */
static void
thread_end(void)
{
	for (size_t i = 0; i < WRITER_STORES; i++) {
		store_close(&stores[i].st);
		free(stores[i].root);
		stores[i].root = NULL;
	}
}

static void
append_run(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	const char *err = NULL;
	struct store *st = thread_store(j->root, &err);

	if (st == NULL) {
		j->rc = -1;
	} else {
		j->rc = store_append(st, j->folder, j->data, j->len, j->flags,
		    j->kw, j->idate, j->quota_kb, &j->uid, &j->uidvalidity, &err);
	}
	/* error texts of lib-store live in a per-thread buffer */
	snprintf(j->error, sizeof(j->error), "%s", err != NULL ? err : "");
	/* the message is stored: no need to hold it until done() */
	free(j->data);
	j->data = NULL;
}

/* ---- on the loop ---------------------------------------------------------- */

static void
job_free(struct write_job *j)
{
	free(j->tag);
	free(j->root);
	free(j->data);
	free(j->kw);
	free(j);
}

/* append_reply - the tagged answer of an APPEND */
static void
append_reply(struct session *s, struct write_job *j)
{
	if (j->rc == 1) {
		session_tagged(s, j->tag, "NO", "[OVERQUOTA] Quota exceeded");
	} else if (j->rc < 0) {
		log_warnx("%s: APPEND to %s: %s", s->sid, j->folder, j->error);
		session_tagged(s, j->tag, "NO", "[SERVERBUG] Cannot store the "
		    "message");
	} else {
		if (s->state == ST_SELECTED)
			view_sync(s, true, NULL, 0);
		session_tagged(s, j->tag, "OK", "[APPENDUID %u %u] APPEND "
		    "completed", j->uidvalidity, j->uid);
	}
}

static void
append_done(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	struct session *s = j->s;

	if (s == NULL) {
		job_free(j);
		return;
	}
	s->wjob = NULL;
	append_reply(s, j);
	job_free(j);
	session_resume(s);
}

/* writer_append - see imapd.h */
void
writer_append(struct session *s, const char *tag, const char *folder,
	      const char *data, size_t len, unsigned flags, const char *kw,
	      time_t idate, int64_t quota_kb)
{
	struct write_job *j = xcalloc(1, sizeof(*j));

	j->w.run = append_run;
	j->w.done = append_done;
	j->s = s;
	j->tag = xstrdup(tag);
	j->root = xstrdup(s->mbox->root);
	snprintf(j->folder, sizeof(j->folder), "%s", folder);
	j->data = xmalloc(len + 1);
	memcpy(j->data, data, len);
	j->len = len;
	j->flags = flags;
	j->kw = kw != NULL ? xstrdup(kw) : NULL;
	j->idate = idate;
	j->quota_kb = quota_kb;
	if (pool == NULL) {
		/* no threads (writer_init failed): inline, as before */
		append_run(&j->w);
		append_reply(s, j);
		job_free(j);
		return;
	}
	s->wjob = j;
	session_suspend(s);
	workpool_submit(pool, &j->w);
}

/* writer_forget - see imapd.h */
void
writer_forget(struct session *s)
{
	if (s->wjob != NULL)
		s->wjob->s = NULL;
	s->wjob = NULL;
}

/* writer_init - see imapd.h */
int
writer_init(struct imapd *d, const char **error_r)
{
	pool = workpool_create(d->svc->base, WRITER_THREADS, thread_end,
	    error_r);
	return pool != NULL ? 0 : -1;
}

/* writer_shutdown - see imapd.h */
void
writer_shutdown(void)
{
	workpool_free(&pool);
}
