#ifndef POSTERN_SMTPD_COMMIT_H
#define POSTERN_SMTPD_COMMIT_H

#include <event2/event.h>

#include "queue.h"
#include "verdict.h"
#include "workpool.h"

/* commit - queue_writer_open/write/commit() on worker threads (a
 * lib-service workpool). A commit waits for
 * fsync; run on the event loop it would stall every other session, and
 * one at a time the disk would see one flush per message. Many commits in
 * flight at once let the file system's journal group them, so concurrent
 * messages share flushes while each still gets its 250 only once its own
 * files and directory entry are on stable storage. */

struct commit_job {
	struct work work;               /* first: the pool's */
	void *arg;                      /* the caller's (the session) */
	const char *qpath;              /* the queue */
	struct queue_writer *qw;        /* consumed; NULL: opened by the worker */
	const struct buf *data;         /* written first (may be NULL) */
	const struct queue_env *env;    /* untouched by the caller meanwhile */
	struct av_config av;            /* av.enabled: scan before the
					 * commit (lib-filter verdict.h) */
	struct av_result av_res;        /* a virus or an unscanned deferral:
					 * rc COMMIT_REFUSED, nothing queued */
	bool av_refused;                /* COMMIT_REFUSED by the antivirus
					 * (else by the spam verdict) */
	struct spam_config spam;        /* spam.enabled: rspamd before the
					 * commit (spam.at_smtp) */
	const char *qroot;              /* the queue root (spam_fields_save) */
	int spam_rc;                    /* 1 checked, 0 not asked, -1 no
					 * answer (passed unchecked) */
	struct spam_result spam_res;
	char spam_reason[300];          /* refused (COMMIT_REFUSED), or why
					 * rspamd did not answer */
	int rc;                         /* queue_writer_commit's result */
	char error[512];
	void (*done)(struct commit_job *job); /* on the event loop thread */
};

#define COMMIT_REFUSED 1                /* rc: the scan refused it */

/* commit_pool_start - nthreads workers, completions through base. */
int commit_pool_start(struct event_base *base, int nthreads);
/* commit_submit - hand a job over; done() is called later on the loop. */
void commit_submit(struct commit_job *job);
/* commit_pool_stop - finish every submitted job, run their done(),
 * stop the workers. */
void commit_pool_stop(void);

#endif
