/* mta - the MTA agent: inbound queues -> filters -> routing -> outgoing */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoint.h"
#include "directory.h"
#include "envcopy.h"
#include "filter.h"
#include "footer.h"
#include "fsutil.h"
#include "log.h"
#include "msghdr.h"
#include "mta.h"
#include "quarantine.h"
#include "queue.h"
#include "settings.h"
#include "srs.h"
#include "verdict.h"
#include "strutil.h"
#include "xalloc.h"

static const char *const inbound_conns[MTA_NINBOUND] = { "smtp", "sf", "ls", "pr" };

enum dest { DEST_SF, DEST_LS, DEST_SMTP, DEST_BAD, DEST_COUNT };
static const char *const dest_names[DEST_COUNT] = { "sf", "ls", "smtp", "badmail" };

/* relay_allowed - whether an item from conn may go to remote addresses:
 * anything made here (post office, list server, POP retrieval, pickup),
 * and from SMTP only an authenticated submission or a relay network */
static bool
relay_allowed(struct mta *m, const char *conn, const struct queue_env *env)
{
	return strcmp(conn, "smtp") != 0 || env_from_here(m->svc->db, env);
}

/* srs_reverse_rcpt - a recipient that is an SRS address made by deliver
 * (srs.h; smtpd checked it at RCPT) goes back to the original sender:
 * the address is replaced. true when it was; it may then be relayed
 * whoever sent it, since only we can make the hash. */
static bool
srs_reverse_rcpt(struct mta *m, const char *id, struct queue_rcpt *r)
{
	char orig[SRS_ADDRESS_MAX + 1];
	const char *err, *at = strrchr(r->address, '@');
	struct dir_domain dom;

	if (!srs_is_srs(r->address) || at == NULL ||
	    dir_domain_get(m->svc->db, at + 1, &dom, &err) != 1)
		return false;
	char *key = settings_secret(m->svc->db, "srs.secret", &err);
	if (key == NULL) {
		log_warnx("%s: srs.secret: %s", id, err);
		return false;
	}
	int days = (int)(settings_current(m->svc->db)->srs_max_age /
	    86400);
	enum srs_result res = srs_reverse(key, strlen(key), r->address,
	    time(NULL), days, orig, sizeof(orig), &err);
	explicit_bzero(key, strlen(key));
	free(key);
	if (res != SRS_OK) {
		if (res != SRS_NOT_SRS)
			log_info("%s: to=<%s>: %s", id, r->address, err);
		return false;
	}
	log_info("%s: to=<%s> is the SRS address of <%s>", id, r->address, orig);
	queue_env_set(&r->address, orig);
	return true;
}

/* route_rcpt - the destination of one recipient; -1 on a directory error */
static int
route_rcpt(struct mta *m, bool relay_ok, const char *address,
	   const char **why_r, const char **error_r)
{
	struct dir_route route;

	switch (dir_resolve(m->svc->db, address, &route, error_r)) {
	case DIR_RESOLVE_ERROR:
		return -1;
	case DIR_RESOLVE_REMOTE:
		if (!relay_ok) {
			*why_r = "remote, relaying denied";
			return DEST_BAD;
		}
		*why_r = "remote";
		return DEST_SMTP;
	case DIR_RESOLVE_UNKNOWN:
		/* the post office connector bounces it (5.1.1) */
		*why_r = "local, unknown address";
		return DEST_SF;
	case DIR_RESOLVE_LOCAL:
		break;
	}
	if (route.kind == DIR_KIND_LIST) {
		*why_r = "list";
		return DEST_LS;
	}
	*why_r = route.catchall ? "local, catch-all" :
	    route.kind == DIR_KIND_GROUP ? "local, group" :
	    route.kind == DIR_KIND_REDIRECT ? "local, redirect" : "local, mailbox";
	return DEST_SF;
}

/* item_defer - give an item back for a later try */
static void
item_defer(struct mta *m, struct queue_item *item, const char *why)
{
	const char *err;
	log_warnx("%s: deferred: %s", item->id, why);
	if (queue_item_release(item, &err) < 0)
		log_warnx("%s: cannot release: %s", item->id, err);
	m->hold_until = time(NULL) + MTA_SCAN_INTERVAL;
}

/* on_msgid - keep the first Message-ID field */
static void
on_msgid(void *ctx, const struct msghdr_field *f)
{
	char **id = ctx;

	if (*id == NULL && strcasecmp(f->name, "Message-ID") == 0)
		*id = xstrndup(f->value, 250);
}

/* log_message_id - "ID: message-id=<...>", the line `postern track
 * MESSAGE-ID` finds the queue id by. Every item passes here first (SMTP,
 * pickup, lists, POP retrieval, forwards); the header is read up to 64 KB. */
static void
log_message_id(const struct queue_item *item)
{
	struct msghdr_parser p;
	char chunk[16384], *id = NULL;
	const char *err;
	size_t used, total = 0;
	ssize_t n;
	int r = 0, fd = open(item->msg_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	msghdr_parser_init(&p, 0, on_msgid, &id);
	while (id == NULL && total < 65536 &&
	    (n = read(fd, chunk, sizeof(chunk))) > 0) {
		total += (size_t)n;
		if ((r = msghdr_parser_feed(&p, chunk, (size_t)n, &used, &err)) != 0)
			break;
	}
	if (r == 0 && id == NULL)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
	close(fd);
	log_info("%s: message-id=%s", item->id, id != NULL ? id : "(none)");
	free(id);
}

/* item_route - filter and route one claimed item and stage its parts
 * for the outgoing queues in the batch; true when the item is held for
 * the batch's commit (mta_flush retires it), false when it was finished
 * here (deferred, rejected, quarantined, discarded) */
static bool
item_route(struct mta *m, const char *conn, struct queue_item *item)
{
	int tag = (int)m->nheld;
	bool held = false;
	struct filter_ctx fc = {
		.db = m->svc->db, .queue_root = m->qroot, .conn = conn,
		.env = &item->env, .msg_path = item->msg_path,
	};
	const char *fname, *err, *why;
	struct queue_env *env = &item->env;
	int *dest = NULL;
	size_t i, nbad = 0;
	const char *msg;

	log_message_id(item);
	fc.released = quarantine_take_release(m->qroot, item->id);
	if (fc.released)
		log_info("%s: released from the quarantine: content filters "
		    "pass it", item->id);
	switch (filter_chain_run(&fc, &fname)) {
	case FILTER_CONTINUE:
		break;
	case FILTER_DEFER:
		item_defer(m, item, fc.reason);
		goto out;
	case FILTER_REJECT:
		log_info("%s: rejected by filter %s: %s", item->id, fname, fc.reason);
		if (queue_item_badmail(item, m->qroot, fc.reason, &err) < 0)
			log_warnx("%s: bad mail: %s", item->id, err);
		workers_count(&m->n->badmail, 1);
		goto out;
	case FILTER_QUARANTINE:
		/* never a bounce: the sender of a virus is forged */
		log_info("%s: quarantined by filter %s: %s", item->id, fname,
		    fc.reason);
		if (quarantine_item(item, m->qroot, conn, fc.reason, &err) < 0) {
			item_defer(m, item, err);
			goto out;
		}
		if (quarantine_notice(m->svc->db, m->qroot, env, fc.reason,
		    &err) < 0)
			log_warnx("%s: quarantine notice: %s", item->id, err);
		goto out;
	case FILTER_DISCARD:
		log_info("%s: discarded by filter %s: %s", item->id, fname, fc.reason);
		if (queue_item_done(item, &err) < 0)
			log_warnx("%s: %s", item->id, err);
		goto out;
	}
	msg = fc.new_msg_path != NULL ? fc.new_msg_path : item->msg_path;

	bool relay_ok = relay_allowed(m, conn, env);
	dest = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*dest));
	unsigned used[DEST_COUNT] = { 0 };
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		if (r->status != RCPT_PENDING) {
			dest[i] = -1;   /* done before it reached us */
			continue;
		}
		bool srs = srs_reverse_rcpt(m, item->id, r);
		dest[i] = route_rcpt(m, relay_ok || srs, r->address, &why, &err);
		if (dest[i] < 0) {
			item_defer(m, item, err);
			goto out;
		}
		used[dest[i]]++;
		if (dest[i] == DEST_BAD)
			nbad++;
		log_info("%s: from=<%s> to=<%s> -> %s (%s)", item->id,
		    env->sender ? env->sender : "", r->address,
		    dest_names[dest[i]], why);
	}
	unsigned nparts = (used[DEST_SF] > 0) + (used[DEST_LS] > 0) +
	    (used[DEST_SMTP] > 0);
	unsigned part = 0;
	for (int d = DEST_SF; d <= DEST_SMTP; d++) {
		if (used[d] == 0)
			continue;
		struct queue_env out;
		char id[QUEUE_ID_MAX + 1];
		if (nparts > 1)
			env_split_id(id, item->id, ++part);
		else
			snprintf(id, sizeof(id), "%s", item->id);
		queue_env_init(&out, id);
		env_copy_meta(&out, env);
		for (i = 0; i < env->nrcpts; i++)
			if (dest[i] == d)
				env_copy_rcpt(&out, &env->rcpts[i]);
		const char *qp = d == DEST_SF ? m->out_sf :
		    d == DEST_LS ? m->out_ls : m->out_smtp;
		/* external copies of local senders' mail get the footers
		 * (footer.h); a failure sends the message without */
		char *footered = NULL;
		if (d == DEST_SMTP) {
			char *tmpdir = xasprintf("%s/tmp", m->out_smtp);
			footer_prepare(m->svc->db, env, msg, tmpdir, &footered);
			free(tmpdir);
		}
		int r = queue_batch_put_file(m->batch, tag, qp,
		    footered ? footered : msg, &out, &err);
		if (footered != NULL) {
			unlink(footered);
			free(footered);
		}
		queue_env_free(&out);
		if (r < 0) {
			/* nothing of the item is published: all again later */
			queue_batch_drop(m->batch, tag);
			item_defer(m, item, err);
			goto out;
		}
		if (nparts > 1)
			log_info("%s: queued as %s for %s (%u recipients)",
			    item->id, id, dest_names[d], used[d]);
		workers_count(&m->n->routed, used[d]);
	}
	/* the item is retired once its parts are committed (mta_flush) */
	m->held = xreallocarray(m->held, m->nheld + 1, sizeof(*m->held));
	m->held[m->nheld].item = *item;
	m->held[m->nheld].nbad = nbad;
	m->held[m->nheld].bad = xcalloc(env->nrcpts ? env->nrcpts : 1,
	    sizeof(bool));
	for (i = 0; i < env->nrcpts; i++)
		m->held[m->nheld].bad[i] = dest[i] == DEST_BAD;
	m->nheld++;
	memset(item, 0, sizeof(*item));
	held = true;
out:
	/* a rewritten message (filters) was linked into the outgoing
	 * queues' tmp/: its own name can go */
	if (fc.new_msg_path != NULL) {
		unlink(fc.new_msg_path);
		free(fc.new_msg_path);
	}
	free(dest);
	return held;
}

/* item_retire - an inbound item whose parts are durable in the outgoing
 * queues: removed, or with its refused recipients to bad mail */
static void
item_retire(struct mta *m, struct mta_held *h)
{
	struct queue_item *item = &h->item;
	struct queue_env *env = &item->env;
	const char *err;
	size_t i;

	if (h->nbad == 0) {
		if (queue_item_done(item, &err) < 0)
			log_warnx("%s: cannot remove the inbound item: %s",
			    item->id, err);
		return;
	}
	/* keep only the refused recipients in the quarantined item */
	struct queue_rcpt *keep = xcalloc(h->nbad, sizeof(*keep));
	size_t k = 0;
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];
		if (h->bad[i] && k < h->nbad) {
			keep[k] = *r;
			keep[k].status = RCPT_FAILED;
			queue_env_set(&keep[k].last_error,
			    "relaying denied: the item came from an "
			    "unauthenticated SMTP client");
			k++;
		} else {
			free(r->address);
			free(r->orcpt);
			free(r->last_error);
			free(r->extra);
		}
	}
	free(env->rcpts);
	env->rcpts = keep;
	env->nrcpts = k;
	if (queue_item_update(item, &err) < 0 ||
	    queue_item_badmail(item, m->qroot, "relaying denied for "
	    "remote recipients of an unauthenticated SMTP client", &err) < 0)
		log_warnx("%s: bad mail: %s", item->id, err);
	workers_count(&m->n->badmail, 1);
}

/* mta_flush - the group commit of a pass's batch: every staged outgoing
 * item made durable with shared fsyncs (queue_batch_commit), then the
 * inbound items they came from retired; an item whose parts failed is
 * deferred whole */
static void
mta_flush(void *ctx)
{
	struct mta_inbound *in = ctx;
	struct mta *m = in->m;
	const char *err = "";
	size_t failed = 0;

	if (m->nheld == 0 && queue_batch_size(m->batch) == 0)
		return;
	/* the items simply removed go in the retire journal: a crash
	 * after the first move completes the batch, never redoes it */
	const char **retire = xcalloc(m->nheld ? m->nheld : 1, sizeof(*retire));
	for (size_t i = 0; i < m->nheld; i++)
		retire[i] = m->held[i].nbad == 0 ? m->held[i].item.id : NULL;
	struct queue_journal *jr = queue_journal_new(in->qpath);
	failed = queue_batch_commit(m->batch, jr, retire, m->nheld, &err);
	if (failed > 0)
		log_warnx("%zu outgoing items of a batch of %zu inbound items "
		    "not committed: %s", failed, m->nheld, err);
	for (size_t i = 0; i < m->nheld; i++) {
		struct mta_held *h = &m->held[i];
		if (i == m->nheld / 2)
			crashpoint("mta.batch.retiring");
		if (queue_batch_ok(m->batch, (int)i))
			item_retire(m, h);
		else
			item_defer(m, &h->item, err);
		queue_item_free(&h->item);
		free(h->bad);
	}
	queue_journal_free(&jr);   /* every item retired: it goes */
	free(retire);
	m->nheld = 0;
	queue_batch_free(&m->batch);
	m->batch = queue_batch_new();
}

static void
handle_item(void *ctx, struct queue_item *item)
{
	struct mta_inbound *in = ctx;
	(void)item_route(in->m, in->conn, item);
}

static void
count_corrupt(void *ctx, const char *id)
{
	struct mta_inbound *in = ctx;
	(void)id;
	workers_count(&in->m->n->badmail, 1);
}

/* inbound_pass - a change in one inbound queue: route its items unless
 * a deferral holds wake-ups (the timer retries then) */
static void
inbound_pass(void *ctx)
{
	struct mta_inbound *in = ctx;
	if (time(NULL) < in->m->hold_until)
		return;
	consumer_pass(&in->c);
}

/* mta_process_all - one pass over every inbound queue and pickup */
static void
mta_process_all(struct mta *m)
{
	for (int i = 0; i < MTA_NINBOUND; i++)
		consumer_pass(&m->in[i].c);
	if (!m->worker)
		pickup_scan(m, NULL, 0);
}

/* worker_main - a forked worker routing inbound items (pickup stays with
 * the main process): own database connection, own inotify watches, a poll
 * loop. Never returns. */
static void __attribute__((noreturn))
worker_main(void *ctx, pid_t parent)
{
	struct mta *m = ctx;

	m->svc = consumer_worker_service(m->svc, parent);
	m->worker = true;
	memset(&m->workers, 0, sizeof(m->workers));
	struct consumer *cs[MTA_NINBOUND];
	for (int i = 0; i < MTA_NINBOUND; i++)
		cs[i] = &m->in[i].c;
	log_info("worker started");
	consumer_worker_loop(cs, MTA_NINBOUND, MTA_SCAN_INTERVAL);
	log_info("worker stopping");
	_exit(0);
}

/* on_timer - the periodic fallback scan */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mta *m = arg;
	char note[160];
	(void)fd;
	(void)what;
	workers_reap(&m->workers);
	m->hold_until = 0;
	mta_process_all(m);
	/* Junk moves users made (imapd): rspamd's training, bounded */
	spam_learn_run(m->svc->db, m->qroot);
	/* smtpd's spam verdicts of items that went another way */
	spam_fields_expire(m->qroot, 86400);
	snprintf(note, sizeof(note), "%zu processes: routed %lu recipients, "
	    "picked up %lu, bad mail %lu; %zu global filters",
	    m->workers.n + 1, m->n->routed, m->n->picked_up, m->n->badmail,
	    filter_chain_count());
	service_set_state(m->svc, "running", note);
}

/* on_first - the first pass after the start */
static void
on_first(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mta_process_all(arg);
}

static struct mta the_mta;

/* mta_init - queues, watches, timer; first pass */
static int
mta_init(struct service *svc)
{
	struct mta *m = &the_mta;
	const char *err;

	m->svc = svc;
	svc->ctx = m;
	m->pickup_fd = -1;
	for (int i = 0; i < MTA_NINBOUND; i++)
		m->in[i].c.watch_fd = -1;
	m->qroot = settings_queue_path(svc->db);
	m->out_smtp = queue_path(m->qroot, "smtp", QUEUE_OUTGOING);
	m->out_sf = queue_path(m->qroot, "sf", QUEUE_OUTGOING);
	m->out_ls = queue_path(m->qroot, "ls", QUEUE_OUTGOING);
	if (queue_ensure(m->out_smtp) < 0 || queue_ensure(m->out_sf) < 0 ||
	    queue_ensure(m->out_ls) < 0) {
		log_warn("cannot create the outgoing queues under %s", m->qroot);
		return -1;
	}
	int64_t nb = settings_current(svc->db)->delivery_batch;
	m->batch_max = nb >= 1 && nb <= 256 ? (size_t)nb : 32;
	m->batch = queue_batch_new();
	for (int i = 0; i < MTA_NINBOUND; i++) {
		struct mta_inbound *in = &m->in[i];
		in->conn = inbound_conns[i];
		in->qpath = queue_path(m->qroot, in->conn, QUEUE_INBOUND);
		in->m = m;
		in->c = (struct consumer){ .qpath = in->qpath, .qroot = m->qroot,
		    .name = in->conn, .handle = handle_item, .flush = mta_flush,
		    .batch = m->batch_max,
		    .corrupt = count_corrupt, .pass = inbound_pass, .ctx = in,
		    .watch_fd = -1 };
		if (queue_ensure(in->qpath) < 0 || queue_recover(in->qpath) < 0) {
			log_warn("cannot prepare %s", in->qpath);
			return -1;
		}
	}
	/* counters every process adds to, mapped before the fork */
	static struct mta_counts unshared;
	m->n = workers_shared_alloc(sizeof(*m->n));
	if (m->n == NULL) {
		log_warn("cannot map the shared counters; status shows this "
		    "process's share");
		m->n = &unshared;
	}
	/* workers: after the recovery, before any watch of ours */
	int64_t nw = settings_current(svc->db)->delivery_workers;
	if (nw < 1 || nw > 64)
		nw = 4;
	workers_start(&m->workers, (size_t)(nw - 1), worker_main, m);
	for (int i = 0; i < MTA_NINBOUND; i++)
		consumer_start(&m->in[i].c, svc->base, 0);
	if (pickup_init(m) < 0)
		return -1;
	m->timer = event_new(svc->base, -1, EV_PERSIST, on_timer, m);
	struct timeval tv = { MTA_SCAN_INTERVAL, 0 };
	event_add(m->timer, &tv);
	(void)err;
	log_info("watching the inbound queues of smtp, sf, ls, pr and %s; "
	    "%zu global filters; %zu workers besides this process", m->pickup,
	    filter_chain_count(), m->workers.n);
	/* the first pass runs from the loop, so the start is reported first */
	struct timeval now = { 0, 0 };
	event_base_once(svc->base, -1, EV_TIMEOUT, on_first, m, &now);
	return 0;
}

/* mta_shutdown - free what init made */
static void
mta_shutdown(struct service *svc)
{
	struct mta *m = svc->ctx;
	if (m == NULL)
		return;
	workers_stop(&m->workers);
	for (int i = 0; i < MTA_NINBOUND; i++) {
		consumer_stop(&m->in[i].c);
		free(m->in[i].qpath);
	}
	if (m->pickup_ev != NULL)
		event_free(m->pickup_ev);
	if (m->pickup_fd >= 0)
		close(m->pickup_fd);
	if (m->timer != NULL)
		event_free(m->timer);
	queue_batch_free(&m->batch);
	free(m->held);
	free(m->pickup);
	free(m->out_smtp);
	free(m->out_sf);
	free(m->out_ls);
	free(m->qroot);
	memset(m, 0, sizeof(*m));
	svc->ctx = NULL;
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "mta",
		.init = mta_init,
		.shutdown = mta_shutdown,
	};
	return service_main(argc, argv, &def);
}
