/* commit - durable queue commits on a lib-service workpool (worker
 * threads), completions on the event loop */
#include <stdio.h>
#include <stdlib.h>

#include "commit.h"
#include "log.h"
#include "rspamd.h"

static struct workpool *pool;

/* spam_check - rspamd about the written message: -1 refused (the
 * reject score reached), else 0 with the verdict's fields kept for the
 * MTA (verdict.h spam_fields_save; empty when rspamd did not answer) */
static int
spam_check(struct commit_job *job)
{
	const char *err = NULL;
	struct buf fields;

	buf_init(&fields, 0);
	job->spam_rc = rspamd_check(job->spam.rspamd, job->spam.timeout_ms,
	    queue_writer_path(job->qw), job->env, &job->spam_res, &err) == 0 ?
	    1 : -1;
	if (job->spam_rc < 0)
		snprintf(job->spam_reason, sizeof(job->spam_reason), "%s",
		    err ? err : "rspamd failed");
	else if (spam_verdict(&job->spam, &job->spam_res, &fields,
	    job->spam_reason, sizeof(job->spam_reason))) {
		buf_free(&fields);
		return -1;
	}
	/* lost, the MTA asks again: no harm */
	if (spam_fields_save(job->qroot, job->env->id,
	    fields.data ? fields.data : "", &err) < 0)
		log_warnx("%s: spam verdict for the MTA: %s", job->env->id, err);
	buf_free(&fields);
	return 0;
}

/* commit_run - open if needed, write, commit (worker thread) */
static void
commit_run(struct work *w)
{
	struct commit_job *job = (struct commit_job *)w;
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
		/* antivirus before the 250, bounded by antivirus.timeout */
		if (job->av.enabled) {
			av_scan_file(&job->av, queue_writer_path(job->qw),
			    &job->av_res);
			if (job->av_res.verdict == AV_VIRUS ||
			    job->av_res.verdict == AV_UNSCANNED_DEFER) {
				queue_writer_abort(&job->qw);
				job->av_refused = true;
				job->rc = COMMIT_REFUSED;
				return;
			}
		}
		/* spam before the 250, bounded by spam.timeout */
		if (job->spam.enabled && spam_check(job) < 0) {
			queue_writer_abort(&job->qw);
			job->rc = COMMIT_REFUSED;
			return;
		}
		job->rc = queue_writer_commit(&job->qw, job->env, &err);
		if (job->rc < 0 && job->spam_rc != 0)
			spam_fields_drop(job->qroot, job->env->id);
	}
	snprintf(job->error, sizeof(job->error), "%s", err ? err : "");
}

/* commit_work_done - back on the loop: the caller's done() */
static void
commit_work_done(struct work *w)
{
	struct commit_job *job = (struct commit_job *)w;

	job->done(job);
}

int
commit_pool_start(struct event_base *base, int nthreads)
{
	const char *err = NULL;

	pool = workpool_create(base, nthreads, NULL, &err);
	if (pool == NULL) {
		log_warnx("commit threads: %s", err ? err : "cannot start");
		return -1;
	}
	return 0;
}

void
commit_submit(struct commit_job *job)
{
	if (pool == NULL)
		return;   /* the process is ending: the caller aborts it */
	job->work.run = commit_run;
	job->work.done = commit_work_done;
	workpool_submit(pool, &job->work);
}

void
commit_pool_stop(void)
{
	/* every submitted commit still runs: its client was promised an
	 * answer, and a commit may already be half done */
	workpool_free(&pool, true);
}
