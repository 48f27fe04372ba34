/* deliver - the post office connector (SF): consumes the sf outgoing queue
 * and delivers each recipient into its mailbox (manual 3.2, 5.5, 5.6).
 *
 * Per recipient, through the address map (dir_resolve):
 *   mailbox      -> its INBOX (store_deliver: durable, quota checked), with
 *                   Return-Path: and Delivered-To: on top; a mailbox with
 *                   redirection on (5.5.5) forwards to its redirect
 *                   addresses and keeps a copy only with keep-copy
 *   group        -> every member: mailboxes delivered here, the others
 *                   (external, lists, nested groups) go back to the MTA
 *   list         -> back to the MTA, which queues it for the list server
 *   redirect     -> (address mapped to a remote address) back to the MTA
 *   catch-all    -> one copy per message and target however many
 *                   recipients hit it; X-Postern-Catchall-Recipients: lists
 *                   them (manual 5.4.2 "alternate catchall header line")
 * Forwarded copies are new items in the sf inbound queue (the MTA routes
 * them) with the same sender and a Delivered-To: line per forwarding
 * address, so a redirect loop is caught by the Delivered-To check.
 *
 * Failures: unknown address 5.1.1, disabled group 5.1.1 (invalid address),
 * disabled mailbox/domain/post office 5.2.1, over quota 5.2.2, more than
 * 50 Received headers 5.4.6, Delivered-To already holding the address
 * 5.4.6. They go back to the sender as an RFC 3464 DSN (dsn.h) queued in
 * the sf inbound queue, never to the null sender or for bulk mail: those
 * go to bad mail with the reason. Temporary failures (I/O, directory)
 * leave the recipient deferred in the item's envelope and the item is
 * retried on the queue.retry_schedule until queue.bounce_after.
 * The item is removed only when every recipient is delivered, forwarded or
 * bounced durably. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "directory.h"
#include "consumer.h"
#include "crashpoint.h"
#include "dsn.h"
#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "msghdr.h"
#include "postdeliver.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "sieve-deliver.h"
#include "verdict.h"
#include "srs.h"
#include "srs-forward.h"
#include "store.h"
#include "strutil.h"
#include "traffic.h"
#include "workers.h"
#include "xalloc.h"
#include "deliver-private.h"
/* ------------------------------------------------------------- an item */

/* backoff - delay before retry number attempts (1-based): the entries of
 * queue.retry_schedule ("5m 10m 30m 1h ...", units s m h d, the last
 * repeats), the schedule outbound delivery uses too */
static time_t
backoff(struct db *db, int attempts)
{
	char *sched = xstrdup(settings_current(db)->queue_retry_schedule);
	char *save = NULL;
	time_t delay = 300, last = 300;
	int k = 0;

	for (char *t = strtok_r(sched, " \t,", &save); t != NULL;
	    t = strtok_r(NULL, " \t,", &save)) {
		char *end;
		long long v = strtoll(t, &end, 10);
		long long mul = *end == 'm' ? 60 : *end == 'h' ? 3600 :
		    *end == 'd' ? 86400 : 1;
		if (v <= 0 || end == t || (*end != '\0' && end[1] != '\0'))
			continue;
		last = (time_t)(v * mul);
		if (++k == attempts)
			break;
	}
	delay = last;
	free(sched);
	return delay;
}

/* job_send_copy - one new item in sf inbound for the forward addresses
 * marked in which, from sender (NULL: the item's); 0 or -1 */
static int
job_send_copy(struct job *j, const char *sender, const bool *which)
{
	struct queue_env env;
	char id[QUEUE_ID_MAX + 1];
	const char *err = NULL;
	struct queue_writer *w;
	struct buf hdr;
	char chunk[65536];
	ssize_t n;
	int fd, r = -1;

	/* "<id>.<n>", with n not in use in sf inbound (a later pass of the
	 * same item may forward again); a forward of a forward grows the id
	 * (X.1.1...) and past the limit env_split_id gives a fresh one */
	for (unsigned k = 1; k <= 100; k++) {
		env_split_id(id, j->item->id, k);
		char *a = xasprintf("%s/new/%s.env", j->d->inbound, id);
		char *b = xasprintf("%s/cur/%s.env", j->d->inbound, id);
		bool used = access(a, F_OK) == 0 || access(b, F_OK) == 0;
		free(a);
		free(b);
		if (!used)
			break;
	}
	queue_env_init(&env, id);
	env_copy_meta(&env, j->env);
	env.delay_notified = 0;
	if (sender != NULL)
		queue_env_set(&env.sender, sender);
	for (size_t i = 0; i < j->nfwd; i++)
		if (which[i])
			queue_env_add_rcpt(&env, j->fwd[i], NULL, 0);
	w = queue_writer_open(j->d->inbound, id, &err);
	if (w == NULL)
		goto out;
	buf_init(&hdr, 0);
	for (size_t i = 0; i < j->nfwd_dt; i++)
		buf_printf(&hdr, "Delivered-To: %s\r\n", j->fwd_dt[i]);
	fd = open(j->item->msg_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || queue_writer_write(w, hdr.data ? hdr.data : "", hdr.len) < 0) {
		err = "cannot copy the message";
		if (fd >= 0)
			close(fd);
		buf_free(&hdr);
		queue_writer_abort(&w);
		goto out;
	}
	buf_free(&hdr);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (queue_writer_write(w, chunk, (size_t)n) < 0)
			break;
	close(fd);
	if (n != 0) {
		err = "cannot copy the message";
		queue_writer_abort(&w);
		goto out;
	}
	if (queue_writer_commit(&w, &env, &err) < 0)
		goto out;
	for (size_t i = 0; i < j->nfwd; i++) {
		if (!which[i])
			continue;
		log_info("%s: forwarded as %s to <%s>%s%s", j->item->id, id,
		    j->fwd[i], sender ? " from " : "", sender ? sender : "");
		workers_count(&j->d->n->forwarded, 1);
	}
	r = 0;
out:
	if (r < 0)
		log_warnx("%s: cannot queue the forward copy: %s", j->item->id,
		    err ? err : "error");
	queue_env_free(&env);
	return r;
}

/* job_send_forwards - the forward copies: those to outside addresses from
 * the SRS address when srs_forward_sender gives one, the others (local
 * groups, lists) from the original sender; 0 or -1 */
static int
job_send_forwards(struct job *j)
{
	char srs[SRS_ADDRESS_MAX + 1];
	bool *remote = xcalloc(j->nfwd, sizeof(*remote));
	bool *local = xcalloc(j->nfwd, sizeof(*local));
	size_t nremote = 0;
	int r = srs_forward_sender(j->d->svc->db, j->item->id, j->env->sender,
	    j->nfwd_dt > 0 ? j->fwd_dt[0] : NULL, srs, sizeof(srs));

	for (size_t i = 0; i < j->nfwd; i++) {
		int h = r > 0 ? srs_forward_hosted(j->d->svc->db, j->fwd[i]) : 1;
		if (h < 0)
			r = -1;
		remote[i] = h == 0;
		local[i] = h != 0;
		nremote += h == 0;
	}
	if (r < 0) {
		free(remote);
		free(local);
		return -1;
	}
	int rc = 0;
	if (nremote > 0)
		rc = job_send_copy(j, srs, remote);
	if (rc == 0 && nremote < j->nfwd)
		rc = job_send_copy(j, NULL, local);
	free(remote);
	free(local);
	return rc;
}

/* job_badmail_copy - quarantine the failed recipients of an item that
 * cannot be bounced (null sender, bulk), as a copy, so the item itself
 * can go on; 0 or -1. The copy is built in tmp/ (queue_recover clears
 * what a crash leaves there), never in cur/, where it would pass for an
 * item after a restart. */
static int
job_badmail_copy(struct job *j, const size_t *failed, size_t nfailed,
		 const char *why)
{
	struct queue_item bad;
	struct queue_env *env = &bad.env;
	struct buf text;
	const char *err = NULL;
	int r = -1;

	memset(&bad, 0, sizeof(bad));
	snprintf(bad.id, sizeof(bad.id), "%s", j->item->id);
	bad.qpath = xstrdup(j->item->qpath);
	bad.msg_path = xasprintf("%s/tmp/%s.bad.msg", j->item->qpath, j->item->id);
	bad.env_path = xasprintf("%s/tmp/%s.bad.env", j->item->qpath, j->item->id);
	queue_env_init(env, j->item->id);
	env_copy_meta(env, j->env);
	buf_init(&text, 0);
	for (size_t i = 0; i < nfailed; i++) {
		struct queue_rcpt *q = env_copy_rcpt(env, &j->env->rcpts[failed[i]]);
		struct rcpt_state *rs = &j->rs[failed[i]];
		q->status = RCPT_FAILED;
		char *e = xasprintf("%s %s", rs->status, rs->diag ? rs->diag : "");
		queue_env_set(&q->last_error, e);
		free(e);
	}
	struct buf envtext;
	buf_init(&envtext, 0);
	queue_env_format(env, &envtext);
	unlink(bad.msg_path);
	if (link(j->item->msg_path, bad.msg_path) < 0 ||
	    file_write_atomic(bad.env_path, envtext.data, envtext.len, 0640) < 0) {
		log_warn("%s: cannot copy to bad mail", j->item->id);
		goto out;
	}
	for (size_t i = 0; i < nfailed; i++)
		buf_printf(&text, "%s<%s>: %s %s", i ? "; " : "",
		    j->env->rcpts[failed[i]].address, j->rs[failed[i]].status,
		    j->rs[failed[i]].diag ? j->rs[failed[i]].diag : "");
	char *reason = xasprintf("%s: %s", why, text.data ? text.data : "");
	if (queue_item_badmail(&bad, j->d->qroot, reason, &err) < 0)
		log_warnx("%s: bad mail: %s", j->item->id, err);
	else
		r = 0;
	log_info("%s: to bad mail: %s", j->item->id, reason);
	free(reason);
	workers_count(&j->d->n->badmail, 1);
out:
	unlink(bad.msg_path);
	unlink(bad.env_path);
	buf_free(&text);
	buf_free(&envtext);
	queue_item_free(&bad);
	return r;
}

/* job_bounce - return the failed recipients to the sender; 0 when they
 * are bounced (or quarantined) durably, -1 to retry */
static int
job_bounce(struct job *j, const size_t *failed, size_t nfailed)
{
	struct dsn_rcpt *dr = xcalloc(nfailed + j->nmfail, sizeof(*dr));
	time_t now = time(NULL);
	char newid[QUEUE_ID_MAX + 1] = "";
	const char *err = NULL;
	int r = 0;

	for (size_t i = 0; i < nfailed; i++) {
		struct queue_rcpt *q = &j->env->rcpts[failed[i]];
		struct rcpt_state *rs = &j->rs[failed[i]];
		dr[i].address = q->address;
		dr[i].orcpt = q->orcpt;
		dr[i].notify = q->notify;
		dr[i].action = DSN_ACTION_FAILED;
		dr[i].status = rs->status;
		dr[i].diagnostic = rs->diag;
		dr[i].last_attempt = now;
	}
	for (size_t i = 0; i < j->nmfail; i++) {
		struct dsn_rcpt *x = &dr[nfailed + i];
		x->address = j->mfail[i].address;
		x->notify = j->mfail[i].notify;
		x->action = DSN_ACTION_FAILED;
		x->status = j->mfail[i].status;
		x->diagnostic = j->mfail[i].diag;
		x->last_attempt = now;
	}
	struct dsn_report rep = {
		.env = j->env, .msg_path = j->item->msg_path,
		.rcpts = dr, .nrcpts = nfailed + j->nmfail,
	};
	switch (dsn_send(j->d->svc->db, j->d->inbound, &rep, newid, &err)) {
	case DSN_QUEUED:
		log_info("%s: bounce %s queued to <%s> for %zu recipients",
		    j->item->id, newid, j->env->sender, nfailed + j->nmfail);
		workers_count(&j->d->n->bounced, nfailed + j->nmfail);
		traffic_add(TRAFFIC_BOUNCED, nfailed + j->nmfail);
		break;
	case DSN_SUPPRESSED:
		log_info("%s: no bounce: NOTIFY of the recipients says never",
		    j->item->id);
		traffic_add(TRAFFIC_BOUNCED, nfailed + j->nmfail);
		break;
	case DSN_UNRETURNABLE:
		if (nfailed == 0) {
			log_info("%s: group member failures not bounced: "
			    "null sender or bulk mail", j->item->id);
			break;
		}
		r = job_badmail_copy(j, failed, nfailed, j->env->sender &&
		    *j->env->sender ? "undeliverable bulk mail" :
		    "undeliverable, null sender: no bounce");
		break;
	case DSN_ERROR:
	default:
		log_warnx("%s: cannot queue the bounce: %s", j->item->id,
		    err ? err : "error");
		r = -1;
		break;
	}
	free(dr);
	return r;
}

/* retry_set - remember when a released item is due again */
static void
retry_set(struct deliver *d, const char *id, time_t at)
{
	ino_t ino = queue_env_ino(d->qpath, id);

	for (size_t i = 0; i < d->nretries; i++)
		if (strcmp(d->retries[i].id, id) == 0) {
			d->retries[i].at = at;
			d->retries[i].ino = ino;
			return;
		}
	d->retries = xreallocarray(d->retries, d->nretries + 1,
	    sizeof(*d->retries));
	snprintf(d->retries[d->nretries].id, QUEUE_ID_MAX + 1, "%s", id);
	d->retries[d->nretries].ino = ino;
	d->retries[d->nretries++].at = at;
}

static void
retry_clear(struct deliver *d, const char *id)
{
	for (size_t i = 0; i < d->nretries; i++)
		if (strcmp(d->retries[i].id, id) == 0) {
			d->retries[i] = d->retries[--d->nretries];
			return;
		}
}

static bool
retry_wait(struct deliver *d, const char *id, time_t now)
{
	for (size_t i = 0; i < d->nretries; i++) {
		if (strcmp(d->retries[i].id, id) != 0)
			continue;
		if (d->retries[i].at <= now)
			return false;
		/* a rewritten envelope (postern queue retry) is due now */
		if (queue_env_ino(d->qpath, id) != d->retries[i].ino) {
			d->retries[i] = d->retries[--d->nretries];
			return false;
		}
		return true;
	}
	return false;
}

/* item_deliver - handle every due recipient of a claimed item, which it
 * takes over: its mailbox copies are staged in the batch, and the item
 * is held until item_finish after the batch's commit (deliver_flush) */
static void
item_deliver(struct deliver *d, struct queue_item *claimed)
{
	struct job *jp = xcalloc(1, sizeof(*jp));
	struct queue_item *item = &jp->own;
	struct queue_env *env = &item->env;
	struct catchall *ca = NULL;
	size_t nca = 0, i, tried = 0;
	time_t now = time(NULL);
	const char *err = NULL;

	*item = *claimed;
	memset(claimed, 0, sizeof(*claimed));
	jp->d = d;
	jp->item = item;
	jp->env = env;
	jp->now = now;
	jp->tag = (int)d->nheld;
	d->held = xreallocarray(d->held, d->nheld + 1, sizeof(*d->held));
	d->held[d->nheld++] = jp;
	jp->rs = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*jp->rs));
	if (job_scan_header(jp) < 0) {
		log_warn("%s: cannot read the message", item->id);
		for (i = 0; i < env->nrcpts; i++)
			rs_set(&jp->rs[i], OC_DEFERRED, "4.3.0",
			    "cannot read the queued message");
		jp->tried = env->nrcpts;
		return;
	}
	if (env->hops > jp->hops)
		jp->hops = env->hops;

	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];
		struct rcpt_state *rs = &jp->rs[i];
		struct dir_route route;

		if (q->status == RCPT_DELIVERED || q->status == RCPT_FAILED)
			continue;   /* done in an earlier pass */
		if (q->status == RCPT_DEFERRED && q->next_attempt > now)
			continue;
		tried++;
		if (jp->hops > DELIVER_MAX_HOPS) {
			char *why = xasprintf("mail loop: %d Received headers "
			    "(more than %d hops)", jp->hops, DELIVER_MAX_HOPS);
			log_info("%s: to=<%s> failed 5.4.6: %s", item->id,
			    q->address, why);
			rs_set(rs, OC_FAILED, "5.4.6", why);
			free(why);
			continue;
		}
		switch (dir_resolve(d->svc->db, q->address, &route, &err)) {
		case DIR_RESOLVE_ERROR:
			rs_set(rs, OC_DEFERRED, "4.3.0", err);
			continue;
		case DIR_RESOLVE_REMOTE:
			/* not ours (any more): the MTA sends it on */
			job_forward(jp, i, q->address, NULL);
			rs_set(rs, OC_FORWARDED, "2.0.0", NULL);
			continue;
		case DIR_RESOLVE_UNKNOWN:
			log_info("%s: to=<%s> failed 5.1.1: no such address",
			    item->id, q->address);
			rs_set(rs, OC_FAILED, "5.1.1", "no such user here");
			continue;
		case DIR_RESOLVE_LOCAL:
			break;
		}
		if (job_seen_dt(jp, route.address) ||
		    (route.catchall == false && job_seen_dt(jp, q->address))) {
			char *why = xasprintf("mail loop: Delivered-To: %s is "
			    "already in the message", route.address);
			log_info("%s: to=<%s> failed 5.4.6: %s", item->id,
			    q->address, why);
			rs_set(rs, OC_FAILED, "5.4.6", why);
			free(why);
			continue;
		}
		if (route.catchall && !route.disabled) {
			size_t k;
			for (k = 0; k < nca; k++)
				if (catchall_same(&ca[k].route, &route))
					break;
			if (k == nca) {
				ca = xreallocarray(ca, nca + 1, sizeof(*ca));
				memset(&ca[nca], 0, sizeof(*ca));
				ca[nca++].route = route;
			}
			ca[k].rcpts = xreallocarray(ca[k].rcpts, ca[k].n + 1,
			    sizeof(*ca[k].rcpts));
			ca[k].rcpts[ca[k].n++] = i;
			continue;
		}
		deliver_route(jp, i, &route, NULL, 0, rs);
	}

	/* catch-all: one copy per target, the recipients in a header */
	for (size_t k = 0; k < nca; k++) {
		struct buf h;
		buf_init(&h, 0);
		buf_puts(&h, "X-Postern-Catchall-Recipients: ");
		for (size_t m = 0; m < ca[k].n; m++)
			buf_printf(&h, "%s%s", m ? ",\r\n " : "",
			    env->rcpts[ca[k].rcpts[m]].address);
		buf_puts(&h, "\r\n");
		size_t first = ca[k].rcpts[0];
		log_info("%s: catch-all copy for %zu recipients", item->id, ca[k].n);
		if (ca[k].route.kind == DIR_KIND_REDIRECT) {
			/* a remote catch-all: one copy, the recipients are
			 * on its Delivered-To lines */
			for (size_t m = 0; m < ca[k].n; m++)
				job_forward(jp, ca[k].rcpts[m], ca[k].route.target,
				    env->rcpts[ca[k].rcpts[m]].address);
			rs_set(&jp->rs[first], OC_FORWARDED, "2.0.0", NULL);
		} else {
			struct dir_route r = ca[k].route;
			snprintf(r.address, sizeof(r.address), "%s",
			    env->rcpts[first].address);
			if (r.kind == DIR_KIND_MAILBOX)
				deliver_mailbox(jp, first, r.target_id, r.address,
				    h.data, &jp->rs[first]);
			else
				deliver_route(jp, first, &r, NULL, 0, &jp->rs[first]);
		}
		for (size_t m = 1; m < ca[k].n; m++)
			rs_set(&jp->rs[ca[k].rcpts[m]], jp->rs[first].oc,
			    jp->rs[first].status, jp->rs[first].diag);
		buf_free(&h);
		free(ca[k].rcpts);
	}
	free(ca);

	/* forwards: one new item to the MTA */
	if (jp->nfwd > 0 && job_send_forwards(jp) < 0)
		for (i = 0; i < jp->nfwd_rcpts; i++)
			rs_set(&jp->rs[jp->fwd_rcpts[i]], OC_DEFERRED, "4.3.0",
			    "cannot queue the forward copy");
	jp->tried = tried;
}

/* item_finish - after the batch's commit: bounces, the envelope, the
 * item removed or released for its deferred recipients, delivery
 * events; frees the job. committed: its mailbox copies are durable (else
 * whatever this pass delivered is deferred: retried whole) */
static void
item_finish(struct deliver *d, struct job *jp, bool committed,
	    const char *commit_err)
{
	struct queue_item *item = jp->item;
	struct queue_env *env = &item->env;
	size_t i, tried = jp->tried;
	time_t now = jp->now;
	const char *err = NULL;

	if (!committed)
		for (i = 0; i < env->nrcpts; i++)
			if (jp->rs[i].oc == OC_DELIVERED) {
				log_warnx("%s: to=<%s> deferred: the mailbox "
				    "copies were not committed: %s", item->id,
				    env->rcpts[i].address, commit_err);
				rs_set(&jp->rs[i], OC_DEFERRED, "4.3.0",
				    "cannot commit the mailbox copy");
			}
	/* failures: a bounce (or bad mail) for those failed in this pass */
	size_t *failed = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*failed));
	size_t nfailed = 0, ndeferred = 0;
	time_t next = 0;
	int64_t bounce_after = settings_current(d->svc->db)->queue_bounce_after;
	for (i = 0; i < env->nrcpts; i++) {
		struct rcpt_state *rs = &jp->rs[i];
		if (rs->oc == OC_DEFERRED && now - env->arrival > bounce_after) {
			char *why = xasprintf("delivery time expired: %s",
			    rs->diag ? rs->diag : "temporary failure");
			rs_set(rs, OC_FAILED, "4.4.7", why);
			free(why);
		}
		if (rs->oc == OC_FAILED)
			failed[nfailed++] = i;
	}
	if ((nfailed > 0 || jp->nmfail > 0) &&
	    job_bounce(jp, failed, nfailed) < 0)
		for (i = 0; i < nfailed; i++)
			rs_set(&jp->rs[failed[i]], OC_DEFERRED, "4.3.0",
			    "cannot queue the bounce");
	for (i = 0; i < env->nrcpts; i++) {
		struct rcpt_state *rs = &jp->rs[i];
		struct queue_rcpt *q = &env->rcpts[i];
		switch (rs->oc) {
		case OC_NONE:
			break;
		case OC_DELIVERED:
		case OC_FORWARDED:
			q->status = RCPT_DELIVERED;
			break;
		case OC_FAILED:
			q->status = RCPT_FAILED;
			queue_env_set(&q->last_error, rs->diag);
			break;
		case OC_DEFERRED:
			q->status = RCPT_DEFERRED;
			q->attempts++;
			q->next_attempt = now + backoff(d->svc->db, q->attempts);
			queue_env_set(&q->last_error, rs->diag);
			workers_count(&d->n->deferred, 1);
			break;
		}
		if (q->status == RCPT_DEFERRED || q->status == RCPT_PENDING) {
			ndeferred++;
			if (next == 0 || q->next_attempt < next)
				next = q->next_attempt;
		}
	}
	if (ndeferred == 0) {
		retry_clear(d, item->id);
		if (queue_item_done(item, &err) < 0)
			log_warnx("%s: cannot remove: %s", item->id, err);
	} else if (tried == 0) {
		/* nothing was due: another process deferred it and this one
		 * had not seen it yet. Back unchanged, logged once (there) */
		if (queue_item_release(item, &err) < 0)
			log_warnx("%s: cannot release: %s", item->id, err);
		retry_set(d, item->id, next > now ? next : now + backoff(d->svc->db, 1));
	} else {
		if (next <= now)
			next = now + backoff(d->svc->db, 1);
		if (queue_item_update(item, &err) < 0)
			log_warnx("%s: cannot update the envelope: %s", item->id, err);
		if (queue_item_release(item, &err) < 0)
			log_warnx("%s: cannot release: %s", item->id, err);
		retry_set(d, item->id, next);
		log_info("%s: %zu recipients deferred, next try in %lld s",
		    item->id, ndeferred, (long long)(next - now));
	}
	post_item_finished(d->svc->db, item->id);   /* delivery events */
	free(failed);
	for (i = 0; i < env->nrcpts; i++)
		free(jp->rs[i].diag);
	free(jp->rs);
	strv_free(jp->dt, jp->ndt);
	strv_free(jp->fwd, jp->nfwd);
	strv_free(jp->fwd_dt, jp->nfwd_dt);
	free(jp->fwd_rcpts);
	for (i = 0; i < jp->nmfail; i++) {
		free(jp->mfail[i].address);
		free(jp->mfail[i].diag);
	}
	free(jp->mfail);
	free(jp->done_mb);
	queue_item_free(item);
	free(jp);
}

/* job_simple - whether finishing the job is only removing its item:
 * every recipient delivered or forwarded now or done before, nothing to
 * bounce (what a retire journal may finish after a crash) */
static bool
job_simple(const struct job *jp)
{
	const struct queue_env *env = jp->env;

	if (jp->nmfail > 0)
		return false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		enum oc oc = jp->rs[i].oc;
		if (oc == OC_DELIVERED || oc == OC_FORWARDED)
			continue;
		if (oc == OC_NONE && (env->rcpts[i].status == RCPT_DELIVERED ||
		    env->rcpts[i].status == RCPT_FAILED))
			continue;
		return false;
	}
	return true;
}

static void
journal_move_nop(void *ctx, const char *tmp, const char *final)
{
	(void)ctx;
	(void)tmp;
	(void)final;
}

struct journal_ctx {
	struct deliver *d;
	struct queue_journal *jr;
};

static void
journal_move(void *ctx, const char *tmp, const char *final)
{
	queue_journal_move(ctx, tmp, final, false, true);
}

/* deliver_journal - the retire journal of the batch (queue.h): its
 * simple items with the moves of their mailbox copies; written before
 * the first move, rewritten without the failed ones after */
static void
deliver_journal(void *arg, bool after)
{
	struct journal_ctx *jc = arg;
	struct deliver *d = jc->d;
	const char *err;

	queue_journal_free(&jc->jr);
	jc->jr = queue_journal_new(d->qpath);
	for (size_t i = 0; i < d->nheld; i++) {
		struct job *jp = d->held[i];
		/* an item with a failed copy is not retired: left out (after
		 * a failure the journal is written again without it) */
		if (!job_simple(jp) ||
		    !store_batch_moves(d->batch, (int)i, journal_move_nop, NULL))
			continue;
		queue_journal_item(jc->jr, jp->item->id);
		(void)store_batch_moves(d->batch, (int)i, journal_move, jc->jr);
	}
	if (queue_journal_write(jc->jr, &err) < 0)
		log_warnx("retire journal%s: %s (a crash now may deliver this "
		    "batch twice)", after ? " (rewritten)" : "", err);
}

/* deliver_flush - the group commit of a pass's batch: every staged
 * mailbox copy made durable with shared fsyncs (store_batch_commit),
 * then the held items finished */
static void
deliver_flush(void *ctx)
{
	struct deliver *d = ctx;
	const char *err = "";
	size_t failed;

	if (d->nheld == 0)
		return;
	struct journal_ctx jc = { d, NULL };
	failed = store_batch_commit(d->batch, deliver_journal, &jc, &err);
	if (failed > 0)
		log_warnx("%zu mailbox copies of a batch of %zu items not "
		    "committed: %s", failed, d->nheld, err);
	for (size_t i = 0; i < d->nheld; i++) {
		if (i == d->nheld / 2)
			crashpoint("deliver.batch.retiring");
		item_finish(d, d->held[i], store_batch_ok(d->batch, (int)i),
		    err);
	}
	queue_journal_free(&jc.jr);   /* every item finished: it goes */
	d->nheld = 0;
	store_batch_free(&d->batch);
	d->batch = store_batch_new();
}

/* skip_item - not due yet (retry_wait), for consumer_pass */
static bool
skip_item(void *ctx, const char *id)
{
	return retry_wait(ctx, id, time(NULL));
}

static void
handle_item(void *ctx, struct queue_item *item)
{
	item_deliver(ctx, item);
}

static void
count_corrupt(void *ctx, const char *id)
{
	struct deliver *d = ctx;
	(void)id;
	workers_count(&d->n->badmail, 1);
}

/* worker_main - a forked worker: its own database connection, inotify
 * watch and poll loop (nothing of the parent's libevent base); it claims
 * items by rename like the main process, so the two never share one. It
 * dies with the main process (PR_SET_PDEATHSIG), which is safe: what it
 * had claimed goes back to new/ at the next start. Never returns. */
static void __attribute__((noreturn))
worker_main(void *ctx, pid_t parent)
{
	struct deliver *d = ctx;

	d->svc = consumer_worker_service(d->svc, parent);
	d->worker = true;
	memset(&d->workers, 0, sizeof(d->workers));
	d->nretries = 0;
	d->retries = NULL;
	struct consumer *cs[] = { &d->c };
	log_info("worker started");
	consumer_worker_loop(cs, 1, DELIVER_SCAN_INTERVAL);
	log_info("worker stopping");
	_exit(0);
}

/* on_tick - the periodic scan: reap workers, a pass, the status */
static void
on_tick(void *arg)
{
	struct deliver *d = arg;
	char note[240];
	workers_reap(&d->workers);
	consumer_pass(&d->c);
	snprintf(note, sizeof(note), "%zu processes: delivered %lu, forwarded "
	    "%lu, bounced %lu, deferred %lu, bad mail %lu", d->workers.n + 1,
	    d->n->delivered, d->n->forwarded, d->n->bounced, d->n->deferred,
	    d->n->badmail);
	service_set_state(d->svc, "running", note);
}

static struct deliver the_deliver;

/* deliver_init - queues, watch, timer, first pass */
static int
deliver_init(struct service *svc)
{
	struct deliver *d = &the_deliver;

	d->svc = svc;
	svc->ctx = d;
	d->c.watch_fd = -1;
	d->qroot = settings_queue_path(svc->db);
	d->qpath = queue_path(d->qroot, "sf", QUEUE_OUTGOING);
	d->inbound = queue_path(d->qroot, "sf", QUEUE_INBOUND);
	if (queue_ensure(d->qpath) < 0 || queue_ensure(d->inbound) < 0 ||
	    queue_recover(d->qpath) < 0) {
		log_warn("cannot prepare %s", d->qpath);
		return -1;
	}
	/* counters every process adds to, mapped before the fork */
	static struct deliver_counts unshared;
	d->n = workers_shared_alloc(sizeof(*d->n));
	if (d->n == NULL) {
		log_warn("cannot map the shared counters; status shows this "
		    "process's share");
		d->n = &unshared;
	}
	int64_t nb = settings_current(svc->db)->delivery_batch;
	d->batch_max = nb >= 1 && nb <= 256 ? (size_t)nb : 32;
	d->batch = store_batch_new();
	d->c = (struct consumer){ .qpath = d->qpath, .qroot = d->qroot,
	    .name = "sf outgoing", .skip = skip_item, .handle = handle_item,
	    .flush = deliver_flush, .batch = d->batch_max,
	    .corrupt = count_corrupt, .tick = on_tick, .ctx = d,
	    .watch_fd = -1 };
	/* workers: after the recovery, before our own watch */
	int64_t nw = settings_current(svc->db)->delivery_workers;
	if (nw < 1 || nw > 64)
		nw = 4;
	workers_start(&d->workers, (size_t)(nw - 1), worker_main, d);
	if (consumer_start(&d->c, svc->base, DELIVER_SCAN_INTERVAL) < 0)
		return -1;
	log_info("delivering from %s with %zu workers besides this process",
	    d->qpath, d->workers.n);
	return 0;
}

static void
deliver_shutdown(struct service *svc)
{
	struct deliver *d = svc->ctx;
	if (d == NULL)
		return;
	workers_stop(&d->workers);
	consumer_stop(&d->c);
	store_batch_free(&d->batch);
	free(d->held);
	free(d->retries);
	free(d->qroot);
	free(d->qpath);
	free(d->inbound);
	memset(d, 0, sizeof(*d));
	svc->ctx = NULL;
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "deliver",
		.init = deliver_init,
		.shutdown = deliver_shutdown,
	};
	return service_main(argc, argv, &def);
}
