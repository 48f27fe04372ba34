/* writer - the store writes that wait for the disk (APPEND and
 * MULTIAPPEND: the message files' fsyncs, the index insert, the
 * directory's fsync; COPY and MOVE: the links and the fsync of the target
 * directory), done on worker
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imapd.h"
#include "log.h"
#include "view.h"
#include "workpool.h"
#include "xalloc.h"

#define WRITER_THREADS 4      /* APPENDs whose flushes can overlap */
#define WRITER_STORES 8       /* index connections kept per thread */

enum write_kind { W_APPEND, W_COPY, W_CHECKPOINT };

struct write_job {
	struct work w;
	struct session *s;          /* NULL once the session is gone */
	enum write_kind kind;
	struct imapd *d;            /* W_CHECKPOINT: its mailbox m */
	struct imapd_mbox *m;
	char *tag;
	char *root;                 /* the mailbox: the worker's own index */
	char folder[STORE_FOLDER_MAX + 1]; /* APPEND: target; COPY: to */
	int64_t quota_kb;
	/* APPEND: the messages (data and keywords are the job's copies) */
	struct store_append_msg *msgs;
	size_t n;
	/* COPY/MOVE: UIDs of the session's folder */
	char src[STORE_FOLDER_MAX + 1];
	uint32_t *uids;
	size_t nuids;
	bool move, uid;
	/* the outcome */
	int rc;                     /* the store call's */
	uint32_t uidvalidity;
	uint32_t *new_uids, *src_uids;
	size_t ncopied;
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

/* msgs_free - the job's copies of the messages: data, or the file */
static void
msgs_free(struct write_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free((void *)j->msgs[i].data);
		free((void *)j->msgs[i].keywords);
		if (j->msgs[i].data == NULL && j->msgs[i].fd >= 0)
			close(j->msgs[i].fd);
	}
	xfree(&j->msgs);
	j->n = 0;
}

static void
job_run(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	const char *err = NULL;
	struct store *st = thread_store(j->root, &err);
	struct store_folder *f;

	if (st == NULL) {
		j->rc = -1;
	} else if (j->kind == W_CHECKPOINT) {
		j->rc = store_checkpoint(st, &err);
	} else if (j->kind == W_APPEND && j->n == 1) {
		j->new_uids = xcalloc(1, sizeof(*j->new_uids));
		j->rc = store_append_one(st, j->folder, &j->msgs[0], j->quota_kb,
		    &j->new_uids[0], &j->uidvalidity, &err);
	} else if (j->kind == W_APPEND) {
		j->rc = store_append_multi(st, j->folder, j->msgs, j->n,
		    j->quota_kb, &j->new_uids, &j->uidvalidity, &err);
	} else if ((f = store_folder_open(st, j->src, &err)) == NULL) {
		j->rc = -1;
	} else {
		/* MOVE into the folder itself (RFC 6851 allows it: the
		 * messages get new UIDs): a copy, then the originals'
		 * expunge; the copies exist before anything goes */
		bool same = j->move && strcmp(j->src, j->folder) == 0;
		j->rc = store_copy(f, j->uids, j->nuids, j->folder,
		    j->move && !same, same ? 0 : j->quota_kb, &j->src_uids,
		    &j->new_uids, &j->ncopied, &j->uidvalidity, &err);
		if (same && j->rc == 0 && j->ncopied > 0)
			j->rc = store_expunge(f, j->src_uids, j->ncopied, NULL,
			    NULL, &err) < 0 ? -1 : 0;
		store_folder_close(&f);
	}
	/* error texts of lib-store live in a per-thread buffer */
	snprintf(j->error, sizeof(j->error), "%s", err != NULL ? err : "");
	/* the messages are stored: no need to hold them until done() */
	msgs_free(j);
}

/* ---- on the loop ---------------------------------------------------------- */

static void
job_free(struct write_job *j)
{
	msgs_free(j);
	free(j->uids);
	free(j->new_uids);
	free(j->src_uids);
	free(j->tag);
	free(j->root);
	free(j);
}

/* append_reply - the tagged answer of an APPEND (RFC 3502 MULTIAPPEND:
 * all or none) */
static void
append_reply(struct session *s, struct write_job *j, size_t n)
{
	bool multi = n > 1;

	if (j->rc == 1) {
		session_tagged(s, j->tag, "NO", "[OVERQUOTA] Quota exceeded%s",
		    multi ? ": nothing appended" : "");
	} else if (j->rc < 0) {
		log_warnx("%s: %sAPPEND to %s: %s", s->sid, multi ? "MULTI" : "",
		    j->folder, j->error);
		session_tagged(s, j->tag, "NO", "[SERVERBUG] Cannot store the "
		    "%s", multi ? "messages: nothing appended" : "message");
	} else {
		struct buf set;
		buf_init(&set, 0);
		imap_seqset_format(&set, j->new_uids, n);
		if (s->state == ST_SELECTED)
			view_sync(s, true, NULL, 0);
		session_tagged(s, j->tag, "OK", "[APPENDUID %u %s] APPEND "
		    "completed", j->uidvalidity, set.data);
		buf_free(&set);
	}
}

/* copy_reply - the answer of a COPY or MOVE (RFC 4315 COPYUID, RFC 6851) */
static void
copy_reply(struct session *s, struct write_job *j)
{
	const char *cmd = j->move ? "MOVE" : "COPY";

	if (j->rc == 1) {
		session_tagged(s, j->tag, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	if (j->rc < 0) {
		log_warnx("%s: %s to %s: %s", s->sid, cmd, j->folder, j->error);
		session_tagged(s, j->tag, "NO", "[SERVERBUG] %s failed", cmd);
		return;
	}
	struct buf code;
	buf_init(&code, 0);
	if (j->ncopied > 0) {
		buf_printf(&code, "[COPYUID %u ", j->uidvalidity);
		imap_seqset_format(&code, j->src_uids, j->ncopied);
		buf_putc(&code, ' ');
		imap_seqset_format(&code, j->new_uids, j->ncopied);
		buf_puts(&code, "] ");
	}
	if (j->move) {
		if (j->ncopied > 0)
			session_printf(s, "* OK %sMoved\r\n", code.data);
		view_sync(s, true, NULL, 0);
		session_tagged(s, j->tag, "OK", "MOVE completed");
	} else {
		if (s->folder != NULL &&
		    strcmp(j->folder, store_folder_name(s->folder)) == 0)
			view_sync(s, j->uid, NULL, 0);
		session_tagged(s, j->tag, "OK", "%sCOPY completed",
		    code.data ? code.data : "");
	}
	buf_free(&code);
}

static void
reply(struct session *s, struct write_job *j)
{
	if (j->kind == W_APPEND)
		append_reply(s, j, j->nuids);
	else
		copy_reply(s, j);
}

static void
job_done(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	struct session *s = j->s;

	if (j->kind == W_CHECKPOINT) {
		if (j->rc < 0)
			log_warnx("checkpoint of %s: %s", j->root, j->error);
		j->m->checkpointing = false;
		imapd_mbox_put(j->d, &j->m);
		job_free(j);
		return;
	}
	if (s == NULL) {
		job_free(j);
		return;
	}
	s->wjob = NULL;
	session_hold(s);
	reply(s, j);
	job_free(j);
	session_resume(s);
	(void)session_release(s);
}

/* submit - hand the job to a worker and suspend the session */
static void
submit(struct session *s, struct write_job *j)
{
	j->w.run = job_run;
	j->w.done = job_done;
	j->s = s;
	j->root = xstrdup(s->mbox->root);
	if (pool == NULL) {
		/* no threads (writer_init failed): inline, as before */
		job_run(&j->w);
		reply(s, j);
		job_free(j);
		return;
	}
	s->wjob = j;
	session_suspend(s);
	workpool_submit(pool, &j->w);
}

/* writer_append - see imapd.h */
void
writer_append(struct session *s, const char *tag, const char *folder,
	      const struct store_append_msg *msgs, size_t n, int64_t quota_kb)
{
	struct write_job *j = xcalloc(1, sizeof(*j));

	j->kind = W_APPEND;
	j->tag = xstrdup(tag);
	snprintf(j->folder, sizeof(j->folder), "%s", folder);
	j->msgs = xcalloc(n ? n : 1, sizeof(*j->msgs));
	for (size_t i = 0; i < n; i++) {
		j->msgs[i] = msgs[i];
		j->msgs[i].keywords = msgs[i].keywords != NULL ?
		    xstrdup(msgs[i].keywords) : NULL;
		j->n = i + 1;
		if (msgs[i].data == NULL) {
			/* a literal kept in a file (imap_parser_spill): the
			 * parser closes its descriptor at its reset */
			j->msgs[i].fd = dup(msgs[i].fd);
			if (j->msgs[i].fd < 0) {
				log_warnx("%s: APPEND: dup: %s", s->sid,
				    strerror(errno));
				session_tagged(s, tag, "NO", "[UNAVAILABLE] "
				    "Cannot store the message now, try again "
				    "later");
				job_free(j);
				return;
			}
			continue;
		}
		char *d = xmalloc(msgs[i].len + 1);
		memcpy(d, msgs[i].data, msgs[i].len);
		j->msgs[i].data = d;
	}
	j->nuids = n;       /* how many UIDs the answer lists */
	j->quota_kb = quota_kb;
	submit(s, j);
}

/* writer_copy - see imapd.h */
void
writer_copy(struct session *s, const char *tag, const char *to,
	    const uint32_t *uids, size_t n, bool move, bool uid,
	    int64_t quota_kb)
{
	struct write_job *j = xcalloc(1, sizeof(*j));

	j->kind = W_COPY;
	j->tag = xstrdup(tag);
	snprintf(j->folder, sizeof(j->folder), "%s", to);
	snprintf(j->src, sizeof(j->src), "%s", store_folder_name(s->folder));
	j->uids = xcalloc(n ? n : 1, sizeof(*j->uids));
	memcpy(j->uids, uids, n * sizeof(*uids));
	j->nuids = n;
	j->move = move;
	j->uid = uid;
	j->quota_kb = quota_kb;
	submit(s, j);
}

/* writer_checkpoint - see imapd.h */
void
writer_checkpoint(struct imapd *d, struct imapd_mbox *m)
{
	struct write_job *j;

	if (pool == NULL) {
		/* no threads: SQLite's own checkpoint, inline */
		m->checkpointing = false;
		store_checkpoint_by(m->st, NULL, NULL);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = W_CHECKPOINT;
	j->w.run = job_run;
	j->w.done = job_done;
	j->d = d;
	j->m = m;
	m->refs++;
	j->root = xstrdup(m->root);
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
	workpool_free(&pool, true); /* what was accepted gets written */
}
