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

#include "fetch.h"
#include "imapd.h"
#include "log.h"
#include "view.h"
#include "workpool.h"
#include "xalloc.h"

#define WRITER_THREADS 4      /* APPENDs whose flushes can overlap */
#define WRITER_STORES 8       /* index connections kept per thread */

enum write_kind { W_APPEND, W_COPY, W_CHECKPOINT, W_FLAGS, W_GROUP };

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
	/* W_FLAGS (one STORE, uids above; src its folder): queued on the
	 * mailbox, run by a W_GROUP (first: its STOREs) */
	struct write_job *next, *first;
	enum store_flag_op fop;
	unsigned flags;
	char *kw;
	uint64_t unchanged;
	bool silent;
	bool expunge;               /* EXPUNGE (uids, or all if nuids 0) */
	struct fetch_job *fetch;    /* a FETCH's implicit \Seen: its job */
	uint32_t *failed;
	size_t nfailed;
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

/* flags_apply - one STORE or EXPUNGE job on folder f (of the thread's
 * connection, or of the loop's) */
static void
flags_apply(struct write_job *j, struct store_folder *f, const char **e)
{
	if (j->expunge)
		j->rc = store_expunge(f, j->nuids ? j->uids : NULL, j->nuids,
		    NULL, NULL, e) < 0 ? -1 : 0;
	else
		j->rc = store_flags_update(f, j->uids, j->nuids, j->fop,
		    j->flags, j->kw, j->unchanged,
		    j->unchanged ? &j->failed : NULL,
		    j->unchanged ? &j->nfailed : NULL, e);
}

/* group_run - the STOREs of a group in one write transaction: each is a
 * savepoint of it (one failing is undone alone), the lock is taken and
 * the WAL written once */
static void
group_run(struct write_job *g, struct store *st, const char *err)
{
	struct store_folder *f;

	if (st != NULL && store_writes_begin(st, &err) < 0)
		st = NULL;
	for (struct write_job *j = g->first; j != NULL; j = j->next) {
		const char *e = err;
		if (st == NULL) {
			j->rc = -1;
		} else if ((f = store_folder_open(st, j->src, &e)) == NULL) {
			j->rc = -1;
		} else {
			flags_apply(j, f, &e);
			store_folder_close(&f);
		}
		snprintf(j->error, sizeof(j->error), "%s", e != NULL ? e : "");
	}
	if (st != NULL && store_writes_commit(st, &err) < 0)
		for (struct write_job *j = g->first; j != NULL; j = j->next) {
			j->rc = -1;
			snprintf(j->error, sizeof(j->error), "%s", err);
		}
}

static void
job_run(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	const char *err = NULL;
	struct store *st = thread_store(j->root, &err);
	struct store_folder *f;

	if (j->kind == W_GROUP) {
		group_run(j, st, err);
		return;
	}
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
	free(j->kw);
	free(j->failed);
	free(j->tag);
	fetch_job_free(&j->fetch);
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

static void group_start(struct imapd *d, struct imapd_mbox *m);

/* flags_reply - the tagged answer of a STORE or EXPUNGE job */
static void
flags_reply(struct session *s, struct write_job *j)
{
	if (j->fetch != NULL) {
		struct fetch_job *fj = j->fetch;
		j->fetch = NULL;
		fetch_seen_done(s, fj, j->rc, j->error);
		return;
	}
	if (j->expunge)
		expunge_reply(s, j->tag, j->rc, j->error);
	else
		store_reply(s, j->tag, j->uid, j->silent, j->unchanged,
		    j->uids, j->nuids, j->rc, j->failed, j->nfailed, j->error);
}

/* group_done - answer each STORE of a group, start the next group */
static void
group_done(struct write_job *g)
{
	struct write_job *j, *next;

	for (j = g->first; j != NULL; j = next) {
		next = j->next;
		struct session *s = j->s;
		if (s != NULL) {
			s->wjob = NULL;
			session_hold(s);
			flags_reply(s, j);
			session_resume(s);
			(void)session_release(s);
		}
		job_free(j);
	}
	g->first = NULL;
	g->m->flags_busy = false;
	if (g->m->flags_q != NULL)
		group_start(g->d, g->m);
	imapd_mbox_put(g->d, &g->m);
	job_free(g);
}

static void
job_done(struct work *w)
{
	struct write_job *j = (struct write_job *)w;
	struct session *s = j->s;

	if (j->kind == W_GROUP) {
		group_done(j);
		return;
	}
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

/* group_start - hand the STOREs queued on m to a worker, as one group */
static void
group_start(struct imapd *d, struct imapd_mbox *m)
{
	struct write_job *g = xcalloc(1, sizeof(*g));

	g->kind = W_GROUP;
	g->w.run = job_run;
	g->w.done = job_done;
	g->d = d;
	g->m = m;
	m->refs++;
	g->root = xstrdup(m->root);
	g->first = m->flags_q;
	m->flags_q = NULL;
	m->flags_tail = &m->flags_q;
	m->flags_busy = true;
	workpool_submit(pool, &g->w);
}

/* flags_job - a STORE or EXPUNGE of uids of the session's folder */
static struct write_job *
flags_job(struct session *s, const char *tag, const uint32_t *uids, size_t n)
{
	struct write_job *j = xcalloc(1, sizeof(*j));

	j->kind = W_FLAGS;
	j->s = s;
	j->tag = xstrdup(tag);
	snprintf(j->src, sizeof(j->src), "%s", store_folder_name(s->folder));
	j->uids = xcalloc(n ? n : 1, sizeof(*j->uids));
	if (n > 0)
		memcpy(j->uids, uids, n * sizeof(*uids));
	j->nuids = n;
	return j;
}

/* flags_inline - run j on the loop's own connection when the write lock
 * is free and no group is out (no thread hand-off: a STORE costs no
 * wake-up of a worker and of the loop again); false if it is taken:
 * then the group waits for it, not the loop */
static bool
flags_inline(struct session *s, struct write_job *j)
{
	const char *err = NULL;

	if (s->mbox->flags_busy || store_writes_try(s->mbox->st, &err) != 1)
		return false;
	flags_apply(j, s->folder, &err);
	snprintf(j->error, sizeof(j->error), "%s", err != NULL ? err : "");
	if (store_writes_commit(s->mbox->st, &err) < 0) {
		j->rc = -1;
		snprintf(j->error, sizeof(j->error), "%s", err);
	}
	flags_reply(s, j);
	job_free(j);
	return true;
}

/* flags_queue - run j at once if the lock is free, else queue it on the
 * session's mailbox and suspend the session; a group starts now if none
 * is out */
static void
flags_queue(struct session *s, struct write_job *j)
{
	struct imapd_mbox *m = s->mbox;

	if (flags_inline(s, j))
		return;

	s->wjob = j;
	session_suspend(s);
	if (m->flags_tail == NULL)
		m->flags_tail = &m->flags_q;
	*m->flags_tail = j;
	m->flags_tail = &j->next;
	if (!m->flags_busy)
		group_start(s->d, m);
}

/* writer_store - see imapd.h */
void
writer_store(struct session *s, const char *tag, const uint32_t *uids,
	     size_t n, enum store_flag_op op, unsigned flags, const char *kw,
	     uint64_t unchanged, bool uid, bool silent)
{
	if (pool == NULL) {
		/* no threads (writer_init failed): inline, as before */
		uint32_t *failed = NULL;
		size_t nfailed = 0;
		const char *err = NULL;
		int r = store_flags_update(s->folder, uids, n, op, flags, kw,
		    unchanged, unchanged ? &failed : NULL,
		    unchanged ? &nfailed : NULL, &err);
		store_reply(s, tag, uid, silent, unchanged, uids, n, r, failed,
		    nfailed, err);
		free(failed);
		return;
	}
	struct write_job *j = flags_job(s, tag, uids, n);
	j->fop = op;
	j->flags = flags;
	j->kw = kw != NULL ? xstrdup(kw) : NULL;
	j->unchanged = unchanged;
	j->uid = uid;
	j->silent = silent;
	flags_queue(s, j);
}

/* writer_seen - see imapd.h */
void
writer_seen(struct session *s, struct fetch_job *fj, const uint32_t *uids,
	    size_t n)
{
	if (pool == NULL) {
		const char *err = NULL;
		int r = store_flags_update(s->folder, uids, n, STORE_FLAGS_ADD,
		    STORE_SEEN, NULL, 0, NULL, NULL, &err);
		fetch_seen_done(s, fj, r < 0 ? -1 : 0, err);
		return;
	}
	struct write_job *j = flags_job(s, fj->tag, uids, n);
	j->fop = STORE_FLAGS_ADD;
	j->flags = STORE_SEEN;
	j->fetch = fj;
	flags_queue(s, j);
}

/* writer_expunge - see imapd.h */
void
writer_expunge(struct session *s, const char *tag, const uint32_t *uids,
	       size_t n)
{
	if (pool == NULL) {
		const char *err = NULL;
		int r = store_expunge(s->folder, n ? uids : NULL, n, NULL, NULL,
		    &err);
		expunge_reply(s, tag, r < 0 ? -1 : 0, err);
		return;
	}
	struct write_job *j = flags_job(s, tag, uids, n);
	j->expunge = true;
	flags_queue(s, j);
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
