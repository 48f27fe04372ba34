/* deliver-rcpt - one recipient of an item: the header read once,
 * its route (dir_resolve), a mailbox's redirection, catch-all and the
 * store */
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

/* ------------------------------------------------------------ helpers */

static void
strv_add_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (str_eq_ci((*v)[i], s))
			return;
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* rs_set - record a recipient's outcome (the first failure wins) */
void
rs_set(struct rcpt_state *rs, enum oc oc, const char *status, const char *diag)
{
	/* status and diag may be rs's own or another recipient's: copy
	 * them before anything is overwritten or freed */
	char st[sizeof(rs->status)];
	char *dg = diag ? xstrdup(diag) : NULL;
	snprintf(st, sizeof(st), "%s", status ? status : "");
	rs->oc = oc;
	memcpy(rs->status, st, sizeof(st));
	free(rs->diag);
	rs->diag = dg;
}

/* on_hdr_field - count Received, collect Delivered-To */
static void
on_hdr_field(void *ctx, const struct msghdr_field *f)
{
	struct job *j = ctx;
	post_msg_field(j->pm, f);
	if (str_eq_ci(f->name, "Received")) {
		j->hops++;
	} else if (str_eq_ci(f->name, "X-Postern-Quarantine")) {
		j->junk = true;    /* mta/authres.h AUTHRES_QUARANTINE */
	} else if (str_eq_ci(f->name, "X-Spam-Score") && !j->spam_scored) {
		j->spam_scored = true;   /* the MTA's, on top (lib-filter) */
		j->spam_score = strtod(f->value, NULL);
	} else if (str_eq_ci(f->name, "Delivered-To") && j->ndt < DELIVER_DT_MAX) {
		char **v = NULL;
		size_t n = 0;
		msghdr_addresses(f->value, &v, &n);
		for (size_t i = 0; i < n; i++)
			strv_add_unique(&j->dt, &j->ndt, v[i]);
		msghdr_addresses_free(v, n);
	}
}

/* job_scan_header - the one read of the message's header per delivery:
 * hop count, Delivered-To, and what the auto responder needs
 * (postdeliver.h); -1 if the message cannot be read */
int
job_scan_header(struct job *j)
{
	const char *err = NULL;
	int r;

	j->pm = post_item_msg(j->d->svc->db, j->item->id);
	r = msghdr_scan_file(j->item->msg_path, on_hdr_field, j, &err);
	if (r > 0)
		log_warnx("%s: header: %s (hop count from what was read)",
		    j->item->id, err);
	return r < 0 ? -1 : 0;
}

bool
job_seen_dt(const struct job *j, const char *address)
{
	for (size_t i = 0; i < j->ndt; i++)
		if (str_eq_ci(j->dt[i], address))
			return true;
	return false;
}

/* job_forward - send address on through the MTA; cause is the local
 * address that forwards (a Delivered-To line of the copy), or NULL */
void
job_forward(struct job *j, size_t ri, const char *address, const char *cause)
{
	strv_add_unique(&j->fwd, &j->nfwd, address);
	if (cause != NULL)
		strv_add_unique(&j->fwd_dt, &j->nfwd_dt, cause);
	for (size_t i = 0; i < j->nfwd_rcpts; i++)
		if (j->fwd_rcpts[i] == ri)
			return;
	j->fwd_rcpts = xreallocarray(j->fwd_rcpts, j->nfwd_rcpts + 1,
	    sizeof(*j->fwd_rcpts));
	j->fwd_rcpts[j->nfwd_rcpts++] = ri;
}

/* deliver_store - write the message into a mailbox's INBOX */
static enum oc
deliver_store(struct job *j, const struct dir_mailbox *mb, const char *address,
	      const char *extra_hdr, struct rcpt_state *rs)
{
	struct deliver *d = j->d;
	struct store_delivery sd;
	struct buf prefix;
	const char *err = NULL;
	char *file = NULL;
	char *root = dir_mailbox_path(d->svc->db, mb);
	int fd = open(j->item->msg_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		rs_set(rs, OC_DEFERRED, "4.3.0", "cannot open the queued message");
		free(root);
		return OC_DEFERRED;
	}
	buf_init(&prefix, 0);
	buf_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    j->env->sender ? j->env->sender : "", address);
	if (extra_hdr != NULL)
		buf_puts(&prefix, extra_hdr);
	store_delivery_init(&sd);
	sd.batch = d->batch;
	sd.batch_tag = j->tag;
	sd.prefix = prefix.data;
	sd.prefix_len = prefix.len;
	sd.src_fd = fd;
	sd.quota_kb = mb->quota_kb;
	if (j->junk) {
		/* DMARC p=quarantine enforced by the MTA */
		sd.folder = "Junk";
		sd.create_folder = true;
	} else if (j->spam_scored && spam_junk_wanted(d->svc->db,
	    mb->postoffice_id, j->spam_score)) {
		/* spam by its post office's score: Junk unless Sieve says else */
		sd.folder = "Junk";
		sd.create_folder = true;
		log_info("%s: to=<%s> spam score %.2f: Junk", j->item->id,
		    address, j->spam_score);
	}
	/* a Sieve fileinto makes a missing folder: not past the limit (a
	 * script filing by a header's value would let senders make them) */
	sd.max_folders = (size_t)settings_current(d->svc->db)->mailbox_max_folders;
	/* the mailbox's Sieve script (sieve-deliver.h) may file, forward,
	 * reject or discard; a keep comes back here with its flags */
	bool vacation = false;
	struct sieve_deliver_args sa = { d->svc->db, d->inbound, j->item->id,
	    j->env, j->item->msg_path, mb, root, address, &vacation, &sd };
	enum sieve_deliver_result sv = sieve_deliver(&sa, &err);
	enum store_deliver_result r = sv == SIEVE_DELIVER_DONE ? STORE_DELIVER_OK :
	    sv == SIEVE_DELIVER_DEFER ? STORE_DELIVER_ERROR :
	    store_deliver(root, &sd, &file, &err);
	close(fd);
	buf_free(&prefix);
	enum oc oc;
	switch (r) {
	case STORE_DELIVER_OK:
		log_info("%s: to=<%s> mailbox=%s@%s delivered (%s)", j->item->id,
		    address, mb->name, mb->postoffice, file ? file : "");
		j->done_mb = xreallocarray(j->done_mb, j->ndone_mb + 1,
		    sizeof(*j->done_mb));
		j->done_mb[j->ndone_mb++] = mb->id;
		workers_count(&d->n->delivered, 1);
		traffic_add(TRAFFIC_DELIVERED, 1);
		rs_set(rs, OC_DELIVERED, "2.0.0", NULL);
		oc = OC_DELIVERED;
		/* auto reply, usage notice; the delivery event runs when
		 * the item is finished (postdeliver.h). Not when the
		 * mailbox's Sieve script handled the message itself
		 * (discard, reject, redirect, fileinto): no auto reply to
		 * mail the owner's own filter threw away or sent on. */
		if (sv != SIEVE_DELIVER_DONE)
			post_delivered(d->svc->db, d->inbound, j->item, mb, address,
			    root, file, vacation);
		break;
	case STORE_DELIVER_OVER_QUOTA: {
		char *why = xasprintf("mailbox %s@%s is over its quota of %lld KB",
		    mb->name, mb->postoffice, (long long)mb->quota_kb);
		log_info("%s: to=<%s> failed 5.2.2: %s", j->item->id, address, why);
		rs_set(rs, OC_FAILED, "5.2.2", why);
		free(why);
		oc = OC_FAILED;
		break;
	}
	default:
		log_warnx("%s: to=<%s> deferred: %s", j->item->id, address,
		    err ? err : "store error");
		rs_set(rs, OC_DEFERRED, "4.3.0", err ? err : "store error");
		oc = OC_DEFERRED;
		break;
	}
	free(file);
	free(root);
	return oc;
}

/* deliver_mailbox - a mailbox target: disabled, redirection, store */
enum oc
deliver_mailbox(struct job *j, size_t ri, int64_t mailbox_id,
		const char *address, const char *extra_hdr,
		struct rcpt_state *rs)
{
	struct dir_mailbox mb;
	const char *err = NULL;
	int r = dir_mailbox_get(j->d->svc->db, mailbox_id, &mb, &err);

	if (r < 0) {
		rs_set(rs, OC_DEFERRED, "4.3.0", err);
		return OC_DEFERRED;
	}
	if (r == 0) {
		rs_set(rs, OC_FAILED, "5.1.1", "no such mailbox");
		return OC_FAILED;
	}
	if (mb.disabled || mb.postoffice_disabled) {
		log_info("%s: to=<%s> failed 5.2.1: mailbox %s@%s disabled",
		    j->item->id, address, mb.name, mb.postoffice);
		rs_set(rs, OC_FAILED, "5.2.1", mb.disabled ? "mailbox disabled" :
		    "post office disabled");
		return OC_FAILED;
	}
	for (size_t i = 0; i < j->ndone_mb; i++)
		if (j->done_mb[i] == mb.id) {
			rs_set(rs, OC_DELIVERED, "2.0.0", NULL);
			return OC_DELIVERED;   /* one copy per mailbox */
		}
	if (mb.redirect_enabled) {
		struct dir_strings rd = { 0 };
		if (dir_mailbox_redirects(j->d->svc->db, mb.id, &rd, &err) < 0) {
			rs_set(rs, OC_DEFERRED, "4.3.0", err);
			return OC_DEFERRED;
		}
		for (size_t i = 0; i < rd.n; i++) {
			log_info("%s: to=<%s> mailbox=%s@%s redirected to <%s>%s",
			    j->item->id, address, mb.name, mb.postoffice, rd.v[i],
			    mb.redirect_keep_copy ? " (copy kept)" : "");
			job_forward(j, ri, rd.v[i], address);
		}
		size_t n = rd.n;
		dir_strings_free(&rd);
		if (n > 0 && !mb.redirect_keep_copy) {
			j->done_mb = xreallocarray(j->done_mb, j->ndone_mb + 1,
			    sizeof(*j->done_mb));
			j->done_mb[j->ndone_mb++] = mb.id;
			rs_set(rs, OC_FORWARDED, "2.0.0", NULL);
			return OC_FORWARDED;
		}
	}
	return deliver_store(j, &mb, address, extra_hdr, rs);
}

/* deliver_route - deliver one resolved target */
enum oc
deliver_route(struct job *j, size_t ri, const struct dir_route *route,
	      const char *extra_hdr, int depth, struct rcpt_state *rs)
{
	const char *err = NULL;

	if (route->disabled) {
		if (route->kind == DIR_KIND_GROUP) {
			rs_set(rs, OC_FAILED, "5.1.1", "invalid address (group disabled)");
		} else {
			rs_set(rs, OC_FAILED, "5.2.1",
			    "mailbox, domain or post office disabled");
		}
		log_info("%s: to=<%s> failed %s: %s", j->item->id, route->address,
		    rs->status, rs->diag);
		return OC_FAILED;
	}
	switch (route->kind) {
	case DIR_KIND_MAILBOX:
		return deliver_mailbox(j, ri, route->target_id, route->address,
		    extra_hdr, rs);
	case DIR_KIND_REDIRECT:
		log_info("%s: to=<%s> mapped to <%s>", j->item->id,
		    route->address, route->target);
		job_forward(j, ri, route->target, route->address);
		rs_set(rs, OC_FORWARDED, "2.0.0", NULL);
		return OC_FORWARDED;
	case DIR_KIND_LIST:
		/* lists belong to the list server: back through the MTA */
		job_forward(j, ri, route->address, NULL);
		rs_set(rs, OC_FORWARDED, "2.0.0", NULL);
		return OC_FORWARDED;
	case DIR_KIND_GROUP:
		break;
	}
	struct dir_strings mem = { 0 };
	if (dir_group_members(j->d->svc->db, route->target_id, &mem, &err) < 0) {
		rs_set(rs, OC_DEFERRED, "4.3.0", err);
		return OC_DEFERRED;
	}
	enum oc res = OC_DELIVERED;
	log_info("%s: to=<%s> group of %zu members", j->item->id,
	    route->address, mem.n);
	for (size_t i = 0; i < mem.n && res != OC_DEFERRED; i++) {
		struct dir_route mr;
		struct rcpt_state ms = { OC_NONE, "", NULL };
		enum dir_resolve_result rr = dir_resolve(j->d->svc->db, mem.v[i],
		    &mr, &err);
		if (rr == DIR_RESOLVE_ERROR) {
			rs_set(rs, OC_DEFERRED, "4.3.0", err);
			res = OC_DEFERRED;
		} else if (rr == DIR_RESOLVE_LOCAL && !mr.catchall &&
		    (mr.kind == DIR_KIND_MAILBOX ||
		    (mr.kind == DIR_KIND_GROUP && depth < DELIVER_GROUP_DEPTH))) {
			if (job_seen_dt(j, mr.address)) {
				log_info("%s: group member <%s> skipped: "
				    "already in Delivered-To", j->item->id,
				    mr.address);
				continue;
			}
			enum oc o = deliver_route(j, ri, &mr, NULL, depth + 1, &ms);
			if (o == OC_DEFERRED) {
				rs_set(rs, OC_DEFERRED, ms.status, ms.diag);
				res = OC_DEFERRED;
			} else if (o == OC_FAILED) {
				/* bounced to the sender with Final-Recipient
				 * the member (RFC 3461 6.2: expansion) */
				log_info("%s: group <%s> member <%s> failed %s: %s",
				    j->item->id, route->address, mem.v[i],
				    ms.status, ms.diag ? ms.diag : "");
				j->mfail = xreallocarray(j->mfail, j->nmfail + 1,
				    sizeof(*j->mfail));
				struct member_fail *mf = &j->mfail[j->nmfail++];
				mf->address = xstrdup(mem.v[i]);
				mf->notify = j->env->rcpts[ri].notify;
				snprintf(mf->status, sizeof(mf->status), "%s",
				    ms.status);
				mf->diag = ms.diag ? xstrdup(ms.diag) : NULL;
			}
		} else {
			/* external members, lists, unknown or deeper
			 * groups: through the MTA */
			job_forward(j, ri, mem.v[i], route->address);
		}
		free(ms.diag);
	}
	dir_strings_free(&mem);
	if (res != OC_DEFERRED)
		rs_set(rs, OC_DELIVERED, "2.0.0", NULL);
	return res;
}

/* ---------------------------------------------------------- catch-all */

bool
catchall_same(const struct dir_route *a, const struct dir_route *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == DIR_KIND_REDIRECT)
		return str_eq_ci(a->target, b->target);
	return a->target_id == b->target_id;
}
