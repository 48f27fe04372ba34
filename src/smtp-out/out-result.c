/* out-result - the recipients' results of a run: queue states, bounces,
 * delay and success notices (DSN), the retry schedule */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "directory.h"
#include "dkim-out.h"
#include "dsn.h"
#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "tls.h"
#include "traffic.h"
#include "xalloc.h"
#include "smtp-out.h"

/* retry_delay - the n-th (1-based) delay of queue.retry_schedule */
static long retry_delay(struct outsvc *o, int attempt)
{
	char *s = xstrdup(settings_current(o->svc->db)->queue_retry_schedule);
	char *save = NULL, *tok;
	long last = 300, v;
	int i = 0;

	for (tok = strtok_r(s, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *end;

		v = strtol(tok, &end, 10);
		if (end == tok || v < 0)
			continue;
		switch (tolower((unsigned char)*end)) {
		case 'm': v *= 60; break;
		case 'h': v *= 3600; break;
		case 'd': v *= 86400; break;
		default: break;
		}
		last = v > 0 ? v : 1;
		if (++i >= attempt)
			break;
	}
	free(s);
	return last;
}

/* -- item results --------------------------------------------------- */

void run_free(struct run *r)
{
	for (size_t i = 0; i < r->item.env.nrcpts; i++) {
		free(r->reply[i]);
		free(r->host[i]);
	}
	free(r->reply);
	free(r->host);
	free(r->res);
	free(r->next_dsn);
	free(r->dkim);
	if (r->path7 != NULL)
		unlink(r->path7);
	free(r->path7);
	free(r->dkim7);
	queue_item_free(&r->item);
	free(r);
}

static void run_unlink(struct outsvc *o, struct run *r)
{
	struct run **pp;

	for (pp = &o->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			o->nruns--;
			return;
		}
}

/* rcpt_result - record the outcome of one recipient in this run */
void rcpt_result(struct run *r, size_t i, enum rres res,
			const char *reply, const char *host)
{
	r->res[i] = res;
	if (res == RES_OK || res == RES_PERM)
		traffic_add(res == RES_OK ? TRAFFIC_OUT : TRAFFIC_BOUNCED, 1);
	free(r->reply[i]);
	r->reply[i] = xstrdup(reply);
	free(r->host[i]);
	r->host[i] = host ? xstrdup(host) : NULL;
}

/* notify_dsn - send one kind of notice for the marked recipients */
static enum dsn_result notify_dsn(struct outsvc *o, struct run *r,
				  const bool *mark, enum dsn_action action,
				  time_t retry_until)
{
	struct queue_env *env = &r->item.env;
	struct dsn_rcpt *rc = xcalloc(env->nrcpts, sizeof(*rc));
	struct dsn_report rep = { env, r->item.msg_path, rc, 0 };
	char newid[QUEUE_ID_MAX + 1];
	const char *err = NULL;
	enum dsn_result res;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];
		struct dsn_rcpt *d;

		if (!mark[i])
			continue;
		d = &rc[rep.nrcpts++];
		d->address = q->address;
		d->orcpt = q->orcpt;
		d->notify = q->notify;
		d->action = action;
		d->diagnostic = q->last_error;
		d->remote_mta = r->host[i];
		d->last_attempt = r->res[i] != RES_NONE ? time(NULL) : 0;
		d->will_retry_until = retry_until;
		if (action == DSN_ACTION_FAILED && q->last_error != NULL &&
		    strstr(q->last_error, "(gave up after") != NULL)
			d->status = NULL;
	}
	res = dsn_send(o->svc->db, o->inbound, &rep, newid, &err);
	switch (res) {
	case DSN_QUEUED:
		log_info("%s: %s notice queued as %s", env->id,
			 action == DSN_ACTION_FAILED ? "bounce" :
			 action == DSN_ACTION_DELAYED ? "delay" : "success",
			 newid);
		break;
	case DSN_SUPPRESSED:
		log_info("%s: %s notice not wanted (NOTIFY)", env->id,
			 action == DSN_ACTION_FAILED ? "bounce" :
			 action == DSN_ACTION_DELAYED ? "delay" : "success");
		break;
	case DSN_UNRETURNABLE:
		break;
	case DSN_ERROR:
		log_error("%s: cannot queue a notice: %s", env->id, err);
		break;
	}
	free(rc);
	return res;
}

/* run_finish - all jobs of an item are done: states, notices, requeue */
void run_finish(struct outsvc *o, struct run *r)
{
	struct queue_env *env = &r->item.env;
	time_t now = time(NULL), wake = 0;
	int64_t bounce_after = settings_current(o->svc->db)->queue_bounce_after;
	int64_t delay_after = settings_current(o->svc->db)->queue_delay_notice_after;
	bool *mark = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(bool));
	bool any = false, open_rcpts = false, unreturnable = false;
	const char *err = NULL;
	struct buf reason;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];

		if (r->res[i] == RES_NONE)
			continue;
		q->attempts++;
		queue_env_set(&q->last_error, r->reply[i]);
		if (r->res[i] == RES_OK) {
			q->status = RCPT_DELIVERED;
		} else if (r->res[i] == RES_PERM) {
			q->status = RCPT_FAILED;
			queue_env_set(&q->extra, NULL);
		} else if (now - env->arrival >= bounce_after) {
			char *e = xasprintf("%s (gave up after %lld hours)",
					    r->reply[i],
					    (long long)(now - env->arrival) / 3600);

			queue_env_set(&q->last_error, e);
			free(e);
			q->status = RCPT_FAILED;
			queue_env_set(&q->extra, NULL);
			log_info("%s: to=<%s> status=expired (in queue since "
				 "%lld s)", env->id, q->address,
				 (long long)(now - env->arrival));
		} else {
			q->status = RCPT_DEFERRED;
			q->next_attempt = now + retry_delay(o, q->attempts);
		}
	}

	/* bounces: failed recipients not yet reported */
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];

		mark[i] = q->status == RCPT_FAILED && q->extra == NULL;
		any |= mark[i];
	}
	if (any) {
		enum dsn_result res = notify_dsn(o, r, mark, DSN_ACTION_FAILED, 0);

		for (i = 0; i < env->nrcpts; i++) {
			if (!mark[i])
				continue;
			if (res == DSN_QUEUED || res == DSN_SUPPRESSED)
				queue_env_set(&env->rcpts[i].extra, "bounced");
			else if (res == DSN_UNRETURNABLE)
				queue_env_set(&env->rcpts[i].extra, "unreturnable");
		}
		if (res == DSN_ERROR)
			wake = now + 300;
	}

	/* success reports for a next hop without DSN (relayed) */
	any = false;
	for (i = 0; i < env->nrcpts; i++) {
		mark[i] = r->res[i] == RES_OK && !r->next_dsn[i] &&
			  (env->rcpts[i].notify & DSN_NOTIFY_SUCCESS);
		any |= mark[i];
	}
	if (any)
		notify_dsn(o, r, mark, DSN_ACTION_RELAYED, 0);

	/* one delay notice */
	any = false;
	for (i = 0; i < env->nrcpts; i++) {
		mark[i] = env->rcpts[i].status == RCPT_DEFERRED;
		any |= mark[i];
		if (env->rcpts[i].status == RCPT_PENDING ||
		    env->rcpts[i].status == RCPT_DEFERRED)
			open_rcpts = true;
		if (env->rcpts[i].status == RCPT_FAILED &&
		    env->rcpts[i].extra == NULL)
			open_rcpts = true;
		if (env->rcpts[i].extra != NULL &&
		    strcmp(env->rcpts[i].extra, "unreturnable") == 0)
			unreturnable = true;
	}
	if (any && delay_after > 0 && env->delay_notified == 0 &&
	    now - env->arrival >= delay_after) {
		enum dsn_result res = notify_dsn(o, r, mark, DSN_ACTION_DELAYED,
						 env->arrival + bounce_after);

		if (res != DSN_ERROR)
			env->delay_notified = now;
	}
	free(mark);

	if (!open_rcpts) {
		if (unreturnable) {
			buf_init(&reason, 0);
			buf_printf(&reason, "undeliverable and cannot be returned "
				   "(sender <%s>%s):", env->sender,
				   env->bulk ? ", bulk mail" : "");
			for (i = 0; i < env->nrcpts; i++)
				if (env->rcpts[i].extra != NULL &&
				    strcmp(env->rcpts[i].extra, "unreturnable") == 0)
					buf_printf(&reason, " <%s>: %s;",
						   env->rcpts[i].address,
						   env->rcpts[i].last_error ?
						   env->rcpts[i].last_error : "failed");
			if (queue_item_badmail(&r->item, o->qroot, reason.data, &err) < 0)
				log_error("%s: cannot move to bad mail: %s", env->id, err);
			else
				log_warnx("%s: moved to bad mail: %s", env->id, reason.data);
			buf_free(&reason);
		} else if (queue_item_done(&r->item, &err) < 0) {
			log_error("%s: cannot remove: %s", env->id, err);
		} else {
			log_info("%s: done", env->id);
		}
		sleeper_del(o, env->id);
	} else {
		for (i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].status == RCPT_DEFERRED &&
			    (wake == 0 || env->rcpts[i].next_attempt < wake))
				wake = env->rcpts[i].next_attempt;
		if (wake == 0)
			wake = now + 60;
		if (queue_item_update(&r->item, &err) < 0)
			log_error("%s: cannot update the envelope: %s", env->id, err);
		if (queue_item_release(&r->item, &err) < 0)
			log_error("%s: cannot release: %s", env->id, err);
		sleeper_set(o, env->id, wake);
	}
	run_unlink(o, r);
	run_free(r);
	wake_arm(o);
}

void job_done(struct outsvc *o, struct job *j)
{
	struct run *r = j->run;

	free(j->idx);
	free(j);
	if (--r->jobs_left == 0)
		run_finish(o, r);
}

/* job_fail - every undecided recipient of a job gets res/reply */
void job_fail(struct dest *d, struct job *j, enum rres res,
		     const char *reply)
{
	for (size_t k = 0; k < j->n; k++) {
		size_t i = j->idx[k];
		struct queue_rcpt *q = &j->run->item.env.rcpts[i];

		if (j->run->res[i] != RES_NONE)
			continue;
		rcpt_result(j->run, i, res, reply, d->peer[0] ? d->peer : NULL);
		log_info("%s: to=<%s> relay=%s status=%s (%s)",
			 j->run->item.env.id, q->address,
			 d->peer[0] ? d->peer : "none",
			 res == RES_PERM ? "bounced" : res == RES_OK ? "sent" : "deferred",
			 reply);
	}
}

/* dest_fail_all - finish every queued job of d with res/reply */
void dest_fail_all(struct dest *d, enum rres res, const char *reply)
{
	struct job *j;

	if (d->cur != NULL) {
		j = d->cur;
		d->cur = NULL;
		job_fail(d, j, res, reply);
		job_done(d->o, j);
	}
	while ((j = d->jobs) != NULL) {
		d->jobs = j->next;
		d->njobs--;
		job_fail(d, j, res, reply);
		job_done(d->o, j);
	}
	d->jobs_tail = NULL;
}

