/* listserv - the list server connector (manual 3.2, 5.7): consumes the ls
 * outgoing queue, into which the MTA routes every address of a list.
 *
 * Addresses of a list news@acme.test (routed here by dir_resolve):
 *   news@                     a post (a subject of only "subscribe" or
 *                             "unsubscribe" makes it a request, as in
 *                             Mailman: not sent to the members)
 *   news-request@             commands in the subject: subscribe,
 *                             unsubscribe, help, confirm TOKEN, approve
 *                             TOKEN, reject TOKEN
 *   news-request+approve-T@   the moderator's reply to a moderation
 *   news-request+reject-T@    request (From or sender must be the owner)
 *   news-subscribe@           a subscription request of the sender
 *   news-unsubscribe@         an unsubscription request of the sender
 *   news-unsubscribe+M@       unsubscribe the member whose key is M (the
 *                             List-Unsubscribe address of each copy)
 *   news-confirm+T@           confirms the request with token T
 *   news-bounces[+l=d]@       bounces; l=d decodes a VERP member l@d
 *   news-owner@               forwarded to the owner
 *
 * A post: a disabled list bounces it (5.2.1); a members-only list bounces
 * posts whose sender and From are not active members (5.7.1; not held);
 * a moderated list holds posts not from the owner (held/ of lists.h) and
 * sends the owner a request with a token; other posts go out as one copy
 * per active member, committed to ls/inbound for the MTA (local members to
 * sf, remote ones to smtp), envelope sender news-bounces@ (VERP
 * news-bounces+local=domain@ when the list's verp option is on), with the
 * headers of listmsg.h and a per-member List-Unsubscribe mailto address.
 * With list.unsubscribe_url or http.public_url the https one-click form
 * of RFC 8058 (List-Unsubscribe-Post) is added; httpd serves it.
 *
 * Subscription changes by mail are confirmed: the token goes to the
 * address being subscribed, and only mail to news-confirm+T@ (or "confirm
 * T" in the subject to news-request@) applies it, so nobody can subscribe
 * someone else; automatic mail (Auto-Submitted, Precedence bulk/junk/
 * list) and the null sender never confirm nor request anything, so an
 * auto responder answering the confirmation's Reply-To cannot confirm
 * it; an unanswered confirmation expires after
 * list.confirm_expire (7 days). Held posts wait for the moderator for
 * list.held_expire (14 days), then are discarded and their posters told. Bounces (RFC 3464
 * failure reports, or old-style null-sender bounces to a VERP address)
 * count per member, and counts older than list.bounce_stale_after are
 * forgotten; at bounce_limit the member is sent a probe with an
 * HMAC-signed VERP address (bounce.h) and disabled only if the probe
 * bounces too, so forged bounces cannot get a member disabled (Mailman's
 * VERP probes); the owner is told. Other mail to the bounce address goes
 * to the owner, not counted. Items are removed when every recipient is
 * handled; a crash reprocesses the item. The copies of a post are staged
 * in ls/posting/<id> and handed to the MTA only when all are written
 * (posting.h), so a crash at any point gives each member exactly one
 * copy: staging cut short starts over, a hand-over cut short finishes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "admin.h"
#include "bounce.h"
#include "directory.h"
#include "dsn.h"
#include "envcopy.h"
#include "fsutil.h"
#include "listkey.h"
#include "listmsg.h"
#include "lists.h"
#include "log.h"
#include "msghdr.h"
#include "posting.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define LS_SCAN_INTERVAL 2
#define LS_RETRY 60
#define LS_PENDING_MAX 4096
#define LS_EXPIRE_INTERVAL 10       /* seconds between expiry runs */
#define LS_CONFIRM_INTERVAL 3600    /* one confirmation per address, list
				       and kind within this time */

struct ls {
	struct service *svc;
	char *qroot;
	char *qpath;          /* ls/outgoing: what we consume */
	char *inbound;        /* ls/inbound: copies and notices */
	char *held;
	char *pending;
	char *posting;        /* ls/posting: copies staged (posting.h) */
	unsigned char secret[LIST_SECRET_LEN];
	int watch_fd;
	struct event *ev, *timer;
	time_t retry_at;      /* items released for a retry wait until then */
	time_t expired_at;    /* last expiry run (held posts, confirmations) */
	unsigned long posted, copies, held_n, bounced, notices;
	unsigned long bounces_counted, disabled;
};

struct list_row {
	int64_t id;
	char *name, *address, *domain, *owner, *description, *prefix, *footer;
	bool moderated, members_only, disabled, reply_to_list, verp;
	char list_id[300];
};

static void
list_row_free(struct list_row *l)
{
	free(l->name);
	free(l->address);
	free(l->domain);
	free(l->owner);
	free(l->description);
	free(l->prefix);
	free(l->footer);
	memset(l, 0, sizeof(*l));
}

static char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t != NULL ? (const char *)t : "");
}

/* list_load - a list row by id: 1, 0 gone, -1 error */
static int
list_load(struct db *db, int64_t id, struct list_row *l, const char **error_r)
{
	memset(l, 0, sizeof(*l));
	sqlite3_stmt *st = db_query(db, error_r,
	    "SELECT name, address, owner, description, subject_prefix, footer, "
	    "moderated, members_only, disabled, reply_to_list, verp FROM list "
	    "WHERE id = ?", "i", id);
	if (st == NULL)
		return -1;
	int r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(st);
		return r == SQLITE_DONE ? 0 : db_fail(db, error_r, "list");
	}
	l->id = id;
	l->name = col(st, 0);
	l->address = col(st, 1);
	l->owner = col(st, 2);
	l->description = col(st, 3);
	l->prefix = col(st, 4);
	l->footer = col(st, 5);
	l->moderated = sqlite3_column_int(st, 6);
	l->members_only = sqlite3_column_int(st, 7);
	l->disabled = sqlite3_column_int(st, 8);
	l->reply_to_list = sqlite3_column_int(st, 9);
	l->verp = sqlite3_column_int(st, 10);
	sqlite3_finalize(st);
	const char *at = strrchr(l->address, '@');
	l->domain = xstrdup(at != NULL ? at + 1 : "");
	str_lower(l->name);
	snprintf(l->list_id, sizeof(l->list_id), "%s.%s", l->name, l->domain);
	return 1;
}

/* list_find - a list by its address or one of its auxiliary addresses */
static int
list_find(struct db *db, const char *address, struct list_row *l,
	  const char **error_r)
{
	struct dir_route route;
	switch (dir_resolve(db, address, &route, error_r)) {
	case DIR_RESOLVE_ERROR:
		return -1;
	case DIR_RESOLVE_LOCAL:
		if (route.kind == DIR_KIND_LIST && !route.catchall)
			return list_load(db, route.target_id, l, error_r);
		return 0;
	default:
		return 0;
	}
}

/* aux - "<name><suffix>[+tag]@<domain>" (new string) */
static char *
aux(const struct list_row *l, const char *suffix, const char *tag)
{
	return xasprintf("%s%s%s%s@%s", l->name, suffix, tag ? "+" : "",
	    tag ? tag : "", l->domain);
}

static void
token_new(char *out)
{
	unsigned char b[LIST_TOKEN_LEN / 2];
	random_bytes(b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* member_key - the key of a member's unsubscribe address (listkey.h) */
static void
member_key(const struct ls *s, const struct list_row *l, const char *member,
	   char *out)
{
	list_member_key(s->secret, l->id, member, out);
}

static int
msg_read(const char *path, struct buf *b)
{
	buf_init(b, LISTMSG_MAX);
	return file_read(path, b);
}

static void
rfc5322_date(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* commit_msg_to - one item into the queue qpath; 0 or -1 */
static int
commit_msg_to(const char *qpath, const char *id, const char *sender,
	      const char *rcpt, bool bulk, const char *data, size_t len)
{
	struct queue_env env;
	const char *err = NULL;
	int r = -1;

	queue_env_init(&env, id);
	queue_env_set(&env.sender, sender);
	queue_env_set(&env.client_addr, "local");
	env.bulk = bulk;
	queue_env_add_rcpt(&env, rcpt, NULL, 0);
	struct queue_writer *w = queue_writer_open(qpath, id, &err);
	if (w != NULL) {
		if (queue_writer_write(w, data, len) < 0) {
			err = "write failed";
			queue_writer_abort(&w);
		} else if (queue_writer_commit(&w, &env, &err) == 0) {
			r = 0;
		}
	}
	if (r < 0)
		log_warnx("%s: cannot queue to <%s>: %s", id, rcpt, err ? err : "?");
	queue_env_free(&env);
	return r;
}

/* commit_msg - one item into ls/inbound; 0 or -1 */
static int
commit_msg(struct ls *s, const char *id, const char *sender, const char *rcpt,
	   bool bulk, const char *data, size_t len)
{
	return commit_msg_to(s->inbound, id, sender, rcpt, bulk, data, len);
}

/* notice_send_from - a message from the list server to one address with
 * the envelope sender <name>-bounces[+tag]@; bulk unless it is a probe,
 * whose bounce is what it asks for */
static int
notice_send_from(struct ls *s, const struct list_row *l, const char *tag,
		 const char *to, const char *subject, const char *reply_to,
		 const char *body)
{
	char id[QUEUE_ID_MAX + 1], date[64], tok[LIST_TOKEN_LEN + 1];
	struct buf m;
	char *from = aux(l, "-request", NULL), *bounces = aux(l, "-bounces", tag);
	char *host = settings_hostname(s->svc->db);

	queue_new_id(id);
	token_new(tok);
	rfc5322_date(date, sizeof(date));
	buf_init(&m, 0);
	buf_printf(&m, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.%s@%s>\r\n", from, to, subject, date, id, tok, host);
	if (reply_to != NULL)
		buf_printf(&m, "Reply-To: <%s>\r\n", reply_to);
	buf_printf(&m, "Auto-Submitted: auto-replied\r\nList-Id: <%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", l->list_id);
	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '\n')
			buf_puts(&m, "\r\n");
		else
			buf_putc(&m, *p);
	}
	int r = commit_msg(s, id, bounces, to, tag == NULL, m.data, m.len);
	if (r == 0) {
		log_info("%s: %s: notice \"%s\" to <%s>", id, l->address, subject, to);
		s->notices++;
	}
	buf_free(&m);
	free(from);
	free(bounces);
	free(host);
	return r;
}

/* notice_send - a notice (confirmation, moderation request, welcome):
 * bulk, sender <name>-bounces@ */
static int
notice_send(struct ls *s, const struct list_row *l, const char *to,
	    const char *subject, const char *reply_to, const char *body)
{
	return notice_send_from(s, l, NULL, to, subject, reply_to, body);
}

/* members - the active members of a list */
static int
members(struct ls *s, const struct list_row *l, bool active_only,
	struct dir_strings *out)
{
	const char *err;
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = db_query(s->svc->db, &err,
	    active_only ? "SELECT address FROM list_member WHERE list_id = ? AND "
	    "status = 'active' ORDER BY address" :
	    "SELECT address FROM list_member WHERE list_id = ? ORDER BY address",
	    "i", l->id);
	if (st == NULL) {
		log_warnx("%s: members: %s", l->address, err);
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = col(st, 0);
	}
	sqlite3_finalize(st);
	return 0;
}

/* is_member - whether address is an active member */
static bool
is_member(struct ls *s, const struct list_row *l, const char *address)
{
	int64_t n = 0;
	const char *err;
	if (db_query_int(s->svc->db, &n, 0, &err, "SELECT count(*) FROM "
	    "list_member WHERE list_id = ? AND address = ? AND status = 'active'",
	    "it", l->id, address) < 0)
		return false;
	return n > 0;
}

/* hand_over - move the staged copies of post base to the MTA */
static int
hand_over(struct ls *s, const struct list_row *l, const char *base)
{
	const char *err = NULL;
	size_t moved = 0;
	int r = posting_hand_over(s->posting, base, s->inbound, &moved, &err);
	if (r < 0)
		log_warn("%s: %s: %s", base, l->address, err);
	return r;
}

/* post_copies - one copy of msg per active member, ids "<base>.<n>",
 * staged then handed over (posting.h): each member's copy reaches
 * ls/inbound exactly once, whenever a crash comes; 0 or -1 (retry) */
static int
post_copies(struct ls *s, const struct list_row *l, const char *msg,
	    size_t len, const char *base)
{
	const char *qid = base;

	switch (posting_state(s->posting, base)) {
	case POSTING_COMPLETE:
		log_info("%s: %s: every copy was staged before a stop: handing "
		    "over what is left", base, l->address);
		return hand_over(s, l, base);
	case POSTING_PARTIAL:
		log_info("%s: %s: staging cut short before a stop: staging again "
		    "(nothing was handed over)", base, l->address);
		break;
	case POSTING_NONE:
		break;
	}
	struct listmsg_opts o = {
		.list_address = l->address, .description = l->description,
		.subject_prefix = l->prefix, .footer = l->footer,
		.reply_to_list = l->reply_to_list,
	};
	struct listmsg lm;
	struct dir_strings mem;
	const char *err;
	int r = 0;

	if (listmsg_prepare(msg, len, &o, &lm, &err) < 0) {
		log_warnx("%s: %s: the header cannot be parsed: %s", qid,
		    l->address, err);
		return 0;   /* nothing sensible can be posted */
	}
	if (members(s, l, true, &mem) < 0) {
		listmsg_free(&lm);
		return -1;
	}
	char *stage = posting_begin(s->posting, base, &err);
	if (stage == NULL) {
		log_warn("%s: %s: %s", qid, l->address, err);
		dir_strings_free(&mem);
		listmsg_free(&lm);
		return -1;
	}
	char *url = list_unsubscribe_base(s->svc->db);
	char *plain_sender = aux(l, "-bounces", NULL);
	for (size_t i = 0; i < mem.n && r == 0; i++) {
		char id[QUEUE_ID_MAX + 1], key[LIST_TOKEN_LEN + 1];
		const char *m = mem.v[i];
		char *sender = NULL;
		env_split_id(id, qid, (unsigned)(i + 1));
		if (l->verp) {
			const char *at = strrchr(m, '@');
			char *tag = at != NULL ? xasprintf("%.*s=%s", (int)(at - m), m,
			    at + 1) : NULL;
			if (tag != NULL && strlen(l->name) + 9 + strlen(tag) <=
			    LOCALPART_MAX_LEN)
				sender = aux(l, "-bounces", tag);
			free(tag);
		}
		if (sender == NULL)
			sender = xstrdup(plain_sender);
		member_key(s, l, m, key);
		char *unsub = aux(l, "-unsubscribe", key);
		char *https = url != NULL ? list_unsubscribe_url(url, l->address, m,
		    key) : NULL;
		struct buf copy;
		buf_init(&copy, 0);
		listmsg_copy(&lm, unsub, https, &copy);
		r = commit_msg_to(stage, id, sender, m, false, copy.data, copy.len);
		buf_free(&copy);
		free(https);
		free(unsub);
		free(sender);
	}
	if (r == 0 && posting_complete(s->posting, base, &err) < 0) {
		log_warn("%s: %s: %s", qid, l->address, err);
		r = -1;
	}
	if (r == 0)
		r = hand_over(s, l, base);
	if (r == 0) {
		s->copies += mem.n;
		log_info("%s: %s: posted to %zu members%s", qid, l->address, mem.n,
		    *l->footer != '\0' && !lm.footer_added ?
		    " (footer left out: body type)" : "");
		s->posted++;
	}
	free(plain_sender);
	free(url);
	free(stage);
	dir_strings_free(&mem);
	listmsg_free(&lm);
	return r;
}

/* bounce_rcpt - return the post to its sender; 0 or -1 (retry) */
static int
bounce_rcpt(struct ls *s, struct queue_item *item, struct queue_rcpt *q,
	    const char *status, const char *why)
{
	struct dsn_rcpt dr = {
		.address = q->address, .orcpt = q->orcpt, .notify = q->notify,
		.action = DSN_ACTION_FAILED, .status = status, .diagnostic = why,
		.last_attempt = time(NULL),
	};
	struct dsn_report rep = {
		.env = &item->env, .msg_path = item->msg_path, .rcpts = &dr,
		.nrcpts = 1,
	};
	char newid[QUEUE_ID_MAX + 1] = "";
	const char *err = NULL;

	log_info("%s: to=<%s> failed %s: %s", item->id, q->address, status, why);
	switch (dsn_send(s->svc->db, s->inbound, &rep, newid, &err)) {
	case DSN_QUEUED:
		log_info("%s: bounce %s queued to <%s>", item->id, newid,
		    item->env.sender);
		s->bounced++;
		return 0;
	case DSN_SUPPRESSED:
		return 0;
	case DSN_UNRETURNABLE:
		log_info("%s: not bounced: null sender or bulk mail", item->id);
		return 0;
	case DSN_ERROR:
	default:
		log_warnx("%s: cannot queue the bounce: %s", item->id, err ? err : "?");
		return -1;
	}
}

/* from_addresses - the addresses of the From field of msg */
static void
from_addresses(const struct buf *msg, struct dir_strings *out)
{
	memset(out, 0, sizeof(*out));
	char *from = listmsg_header_value(msg->data, msg->len, "From");
	if (from != NULL)
		msghdr_addresses(from, &out->v, &out->n);
	free(from);
}

/* is_owner - whether the sender or a From address is the list's owner */
static bool
is_owner(const struct list_row *l, const char *sender,
	 const struct dir_strings *from)
{
	if (*l->owner == '\0')
		return false;
	if (sender != NULL && str_eq_ci(sender, l->owner))
		return true;
	for (size_t i = 0; i < from->n; i++)
		if (str_eq_ci(from->v[i], l->owner))
			return true;
	return false;
}

/* hold - keep a post for the moderator and ask the owner */
static int
hold(struct ls *s, struct queue_item *item, const struct list_row *l,
     const struct buf *msg, const struct dir_strings *from, const char *base)
{
	char tok[LIST_TOKEN_LEN + 1];
	const char *err = NULL;

	token_new(tok);
	char *mpath = xasprintf("%s/%s.msg", s->held, tok);
	char *ipath = xasprintf("%s/%s.info", s->held, tok);
	char *subject = listmsg_header_value(msg->data, msg->len, "Subject");
	struct list_held h = {
		.list = l->address, .sender = item->env.sender,
		.queue_id = (char *)base, .held = time(NULL),
		.from = from->n > 0 ? from->v[0] : (char *)"",
		.subject = subject != NULL ? subject : (char *)"",
	};
	char *info = list_held_format(&h);
	int r = -1;
	if (file_write_atomic(mpath, msg->data, msg->len, 0640) < 0)
		err = "message";
	else if (file_write_atomic(ipath, info, strlen(info), 0640) < 0)
		err = "record";
	else
		r = 0;
	if (r < 0) {
		log_warn("%s: %s: cannot hold the post (%s)", item->id, l->address, err);
		unlink(mpath);
		goto out;
	}
	log_info("%s: %s: held for moderation, token %s", item->id, l->address, tok);
	s->held_n++;
	if (*l->owner == '\0') {
		log_warnx("%s: %s: moderated list without an owner: use postern "
		    "list approve", item->id, l->address);
		goto out;
	}
	char *approve_tag = xasprintf("approve-%s", tok);
	char *reject_tag = xasprintf("reject-%s", tok);
	char *approve = aux(l, "-request", approve_tag);
	char *reject = aux(l, "-request", reject_tag);
	char *subj = xasprintf("%s post from %s awaits approval [%s]", l->address,
	    h.from, tok);
	char *body = xasprintf(
	    "A post to the moderated list %s is held for your approval.\n\n"
	    "  From:    %s\n  Sender:  %s\n  Subject: %s\n  Token:   %s\n\n"
	    "To approve it, reply to this message (it goes to\n  %s)\n"
	    "To reject it, send a message to\n  %s\n"
	    "or run: postern list approve|reject %s %s\n",
	    l->address, h.from, *h.sender ? h.sender : "<>", h.subject, tok,
	    approve, reject, l->address, tok);
	/* the held post is durable: a lost request leaves it for the CLI */
	notice_send(s, l, l->owner, subj, approve, body);
	free(body);
	free(subj);
	free(approve);
	free(reject);
	free(approve_tag);
	free(reject_tag);
out:
	free(info);
	free(subject);
	free(mpath);
	free(ipath);
	return r;
}

/* post_base - the id the copies of a post are named after: the item's,
 * with ".<k>" for its k-th recipient when it has several (two lists in
 * one item must not share copy ids) */
static void
post_base(const struct queue_item *item, const struct queue_rcpt *q,
	  char *out)
{
	if (item->env.nrcpts > 1)
		env_split_id(out, item->id, (unsigned)(q - item->env.rcpts) + 1);
	else
		snprintf(out, QUEUE_ID_MAX + 1, "%s", item->id);
}

static bool auto_submitted(const struct buf *msg);
static int subject_word(const struct buf *msg);
static int request_sub(struct ls *s, const struct list_row *l,
		       const char *address, bool sub);

/* post - a message to the list address */
static int
post(struct ls *s, struct queue_item *item, struct queue_rcpt *q,
     const struct list_row *l)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	struct buf msg;
	struct dir_strings from;
	char base[QUEUE_ID_MAX + 1];
	int r = 0;

	post_base(item, q, base);
	if (posting_state(s->posting, base) == POSTING_COMPLETE)
		return post_copies(s, l, NULL, 0, base);   /* hand over the rest */

	if (msg_read(item->msg_path, &msg) < 0) {
		log_warn("%s: cannot read the message", item->id);
		buf_free(&msg);
		return -1;
	}
	from_addresses(&msg, &from);
	if (*sender == '\0') {
		log_info("%s: %s: post with the null sender dropped", item->id,
		    l->address);
	} else if (listmsg_has_list_id(msg.data, msg.len, l->list_id)) {
		log_info("%s: %s: loop (the post has our List-Id), dropped",
		    item->id, l->address);
	} else if (l->disabled) {
		r = bounce_rcpt(s, item, q, "5.2.1", "the list is disabled");
	} else if (subject_word(&msg) != 0 && !auto_submitted(&msg)) {
		/* "subscribe" or "unsubscribe" alone in the subject: a request
		 * sent to the list address by mistake, not for the members */
		bool sub = subject_word(&msg) == 1;
		log_info("%s: %s: \"%s\" in the subject of a post: handled as a "
		    "request", item->id, l->address, sub ? "subscribe" : "unsubscribe");
		r = request_sub(s, l, sender, sub);
	} else {
		bool owner = is_owner(l, sender, &from);
		bool member = owner || is_member(s, l, sender);
		for (size_t i = 0; i < from.n && !member; i++)
			member = is_member(s, l, from.v[i]);
		if (l->members_only && !member)
			r = bounce_rcpt(s, item, q, "5.7.1",
			    "only members may post to this list");
		else if (l->moderated && !owner)
			r = hold(s, item, l, &msg, &from, base);
		else
			r = post_copies(s, l, msg.data, msg.len, base);
	}
	dir_strings_free(&from);
	buf_free(&msg);
	return r;
}

/* pending_write - a subscription change waiting for its confirmation */
static int
pending_write(struct ls *s, const struct list_row *l, const char *kind,
	      const char *address, char *tok)
{
	token_new(tok);
	char *path = xasprintf("%s/%s", s->pending, tok);
	char *data = xasprintf("v1\n%s\n%s\n%s\n%lld\n", kind, l->address,
	    address, (long long)time(NULL));
	int r = file_write_atomic(path, data, strlen(data), 0640);
	if (r < 0)
		log_warn("%s: cannot record a pending request", l->address);
	free(path);
	free(data);
	return r;
}

/* sent_marker - pending/r<20 hex>: its time is when the last
 * confirmation of this kind for address on list l was sent (new string) */
static char *
sent_marker(struct ls *s, const struct list_row *l, const char *kind,
	    const char *address)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[LIST_TOKEN_LEN + 1];
	char *key = xasprintf("%lld\n%s\n%s", (long long)l->id, kind, address);
	str_lower(key);
	EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
	for (size_t i = 0; i < LIST_TOKEN_LEN / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(key);
	return xasprintf("%s/r%s", s->pending, hex);
}

/* request_sub - a subscription (or unsubscription) request of address;
 * at most one confirmation per address, list and kind an hour, so the
 * list cannot be used to flood somebody with confirmations */
static int
request_sub(struct ls *s, const struct list_row *l, const char *address,
	    bool sub)
{
	char tok[LIST_TOKEN_LEN + 1];
	struct stat st;

	if (!sub && !is_member(s, l, address)) {
		log_info("%s: unsubscribe request from <%s>, not a member: ignored",
		    l->address, address);
		return 0;
	}
	char *marker = sent_marker(s, l, sub ? "sub" : "unsub", address);
	if (stat(marker, &st) == 0 && time(NULL) - st.st_mtime <
	    LS_CONFIRM_INTERVAL) {
		log_info("%s: %s request from <%s>: a confirmation was sent less "
		    "than an hour ago: not sent again", l->address, sub ?
		    "subscribe" : "unsubscribe", address);
		free(marker);
		return 0;
	}
	if (pending_write(s, l, sub ? "sub" : "unsub", address, tok) < 0) {
		free(marker);
		return -1;
	}
	char *confirm = aux(l, "-confirm", tok);
	char *subj = xasprintf("confirm %s", tok);
	char *body = xasprintf(
	    "We received a request to %s %s %s the list %s.\n\n"
	    "To confirm, reply to this message, or send a message to\n  %s\n\n"
	    "If you did not ask for this, ignore this message: nothing changes.\n",
	    sub ? "subscribe" : "unsubscribe", address, sub ? "to" : "from",
	    l->address, confirm);
	log_info("%s: %s request from <%s>, confirmation %s", l->address,
	    sub ? "subscribe" : "unsubscribe", address, tok);
	int r = notice_send(s, l, address, subj, confirm, body);
	if (r == 0 && file_write_atomic(marker, "", 0, 0640) < 0)
		log_warn("%s: cannot write %s", l->address, marker);
	free(marker);
	free(body);
	free(subj);
	free(confirm);
	return r;
}

/* confirm - apply the pending request with token tok */
static int
confirm(struct ls *s, const struct list_row *l, const char *tok)
{
	struct buf b;
	char *lines[5];
	size_t n = 0;
	const char *err = NULL;
	int r;

	if (!list_token_valid(tok)) {
		log_info("%s: confirmation with a malformed token ignored", l->address);
		return 0;
	}
	char *path = xasprintf("%s/%s", s->pending, tok);
	buf_init(&b, LS_PENDING_MAX);
	if (file_read(path, &b) < 0) {
		log_info("%s: confirmation %s: no such request (done or expired)",
		    l->address, tok);
		free(path);
		buf_free(&b);
		return 0;
	}
	for (char *p = b.data; n < 5 && p != NULL && *p != '\0'; n++) {
		char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		lines[n] = p;
		p = nl + 1;
	}
	if (n != 5 || strcmp(lines[0], "v1") != 0 ||
	    strcasecmp(lines[2], l->address) != 0) {
		log_info("%s: confirmation %s is not for this list", l->address, tok);
		free(path);
		buf_free(&b);
		return 0;
	}
	const char *addr = lines[3];
	bool sub = strcmp(lines[1], "sub") == 0;
	if (sub) {
		r = adm_list_member_add(s->svc->db, l->address, addr, NULL, &err);
		if (r == ADM_EXISTS) {
			/* a disabled member comes back */
			r = db_exec(s->svc->db, &err, "UPDATE list_member SET status = "
			    "'active', bounces = 0, bounce_last = 0, probe_sent = 0 WHERE "
			    "list_id = ? AND address = ?",
			    "it", l->id, addr) < 0 ? ADM_FAIL : ADM_OK;
		}
	} else {
		r = adm_list_member_del(s->svc->db, l->address, addr, &err);
		if (r == ADM_NOTFOUND)
			r = ADM_OK;
	}
	if (r != ADM_OK) {
		log_warnx("%s: confirmation %s: %s", l->address, tok, err);
		free(path);
		buf_free(&b);
		return r == ADM_INVALID ? 0 : -1;
	}
	unlink(path);
	log_info("%s: <%s> %s (confirmed %s)", l->address, addr,
	    sub ? "subscribed" : "unsubscribed", tok);
	char *subj = xasprintf("%s %s", sub ? "Welcome to" : "You have left",
	    l->address);
	char *post_addr = l->address;
	char *leave = aux(l, "-unsubscribe", NULL);
	char *body = sub ? xasprintf("You are now a member of %s.\nPost to %s;"
	    " to leave, send a message to %s.\n", l->address, post_addr, leave) :
	    xasprintf("You are no longer a member of %s.\n", l->address);
	notice_send(s, l, addr, subj, NULL, body);
	free(body);
	free(leave);
	free(subj);
	free(path);
	buf_free(&b);
	return 0;
}

/* unsubscribe_key - unsubscribe the member whose key is key */
static int
unsubscribe_key(struct ls *s, const struct list_row *l, const char *key)
{
	struct dir_strings mem;
	const char *err;
	int r = 0;

	if (members(s, l, false, &mem) < 0)
		return -1;
	for (size_t i = 0; i < mem.n; i++) {
		char k[LIST_TOKEN_LEN + 1];
		member_key(s, l, mem.v[i], k);
		if (strcmp(k, key) != 0)
			continue;
		int a = adm_list_member_del(s->svc->db, l->address, mem.v[i], &err);
		if (a != ADM_OK && a != ADM_NOTFOUND) {
			log_warnx("%s: unsubscribe <%s>: %s", l->address, mem.v[i], err);
			r = -1;
			break;
		}
		log_info("%s: <%s> unsubscribed (List-Unsubscribe)", l->address,
		    mem.v[i]);
		char *subj = xasprintf("You have left %s", l->address);
		char *body = xasprintf("You are no longer a member of %s.\n",
		    l->address);
		notice_send(s, l, mem.v[i], subj, NULL, body);
		free(subj);
		free(body);
		dir_strings_free(&mem);
		return 0;
	}
	log_info("%s: unsubscribe key %s matches no member: ignored", l->address, key);
	dir_strings_free(&mem);
	return r;
}

/* decide - act on the moderator's decision about held post tok */
static int
decide(struct ls *s, const struct list_row *lin, const char *tok, bool approve,
       const char *by)
{
	struct list_held h;
	struct list_row lbuf, *l = NULL;
	const char *err = NULL;
	int r = 0;

	if (list_held_read(s->held, tok, &h) != 1) {
		log_info("moderation %s by %s: no such held post", tok, by);
		return 0;
	}
	if (lin != NULL) {
		if (strcasecmp(h.list, lin->address) != 0) {
			log_info("moderation %s by %s: held for another list", tok, by);
			list_held_free(&h);
			return 0;
		}
		l = (struct list_row *)lin;
	} else {
		int f = list_find(s->svc->db, h.list, &lbuf, &err);
		if (f < 0) {
			list_held_free(&h);
			return -1;
		}
		if (f > 0)
			l = &lbuf;
	}
	char *mpath = xasprintf("%s/%s.msg", s->held, tok);
	if (approve && l != NULL) {
		struct buf msg;
		if (msg_read(mpath, &msg) < 0) {
			log_warn("moderation %s: cannot read the held post", tok);
			r = -1;
		} else {
			r = post_copies(s, l, msg.data, msg.len, h.queue_id);
		}
		buf_free(&msg);
	} else if (l != NULL && *h.sender != '\0') {
		char *subj = xasprintf("Your post to %s was rejected", l->address);
		char *body = xasprintf("The moderator of %s rejected your post\n"
		    "  Subject: %s\n", l->address, h.subject);
		notice_send(s, l, h.sender, subj, NULL, body);
		free(subj);
		free(body);
	}
	if (r == 0) {
		static const char *const ext[] = { "info", "msg", "approve", "reject" };
		log_info("%s: %s: held post %s %s by %s", h.queue_id, h.list, tok,
		    approve ? "approved" : "rejected", by);
		for (size_t i = 0; i < 4; i++) {
			char *p = xasprintf("%s/%s.%s", s->held, tok, ext[i]);
			unlink(p);
			free(p);
		}
		fsync_dir(s->held);
		if (approve)
			posting_remove(s->posting, h.queue_id);
	}
	free(mpath);
	if (l == &lbuf)
		list_row_free(&lbuf);
	list_held_free(&h);
	return r;
}

/* subject_command - the command word and its argument in a subject
 * ("Re: confirm 0123..." -> "confirm", "0123...") */
static void
subject_command(const char *subject, char *cmd, size_t csize, char *arg,
		size_t asize)
{
	static const char *const cmds[] = { "subscribe", "unsubscribe", "confirm",
		"approve", "reject", "help" };
	char *copy = xstrdup(subject != NULL ? subject : ""), *save = NULL;
	*cmd = *arg = '\0';
	for (char *w = strtok_r(copy, " \t:[]()<>,", &save); w != NULL;
	    w = strtok_r(NULL, " \t:[]()<>,", &save)) {
		if (*cmd != '\0') {
			snprintf(arg, asize, "%s", w);
			break;
		}
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcasecmp(w, cmds[i]) == 0)
				snprintf(cmd, csize, "%s", cmds[i]);
	}
	str_lower(arg);
	free(copy);
}

/* auto_submitted - whether msg is automatic (RFC 3834 Auto-Submitted
 * other than "no", or Precedence bulk, junk or list): no commands, so an
 * auto responder answering a confirmation cannot confirm it */
static bool
auto_submitted(const struct buf *msg)
{
	char *v = listmsg_header_value(msg->data, msg->len, "Auto-Submitted");
	bool a = v != NULL && strncasecmp(str_trim(v), "no", 2) != 0;
	free(v);
	if (!a && (v = listmsg_header_value(msg->data, msg->len,
	    "Precedence")) != NULL) {
		const char *t = str_trim(v);
		a = strcasecmp(t, "bulk") == 0 || strcasecmp(t, "junk") == 0 ||
		    strcasecmp(t, "list") == 0;
		free(v);
	}
	return a;
}

/* human_request - whether a command mail (to -subscribe, -unsubscribe,
 * -confirm) comes from a person: not the null sender, not automatic.
 * 1 act on it, 0 ignore it (logged), -1 retry later */
static int
human_request(const struct queue_item *item, const struct list_row *l)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	struct buf msg;
	int r = 1;

	if (*sender == '\0') {
		log_info("%s: %s: request with the null sender ignored", item->id,
		    l->address);
		return 0;
	}
	if (msg_read(item->msg_path, &msg) < 0) {
		log_warn("%s: cannot read the message", item->id);
		r = -1;
	} else if (auto_submitted(&msg)) {
		log_info("%s: %s: automatic request (Auto-Submitted or Precedence) "
		    "ignored", item->id, l->address);
		r = 0;
	}
	buf_free(&msg);
	return r;
}

/* subject_word - the subject of msg when it is only "subscribe" or
 * "unsubscribe" (a request sent to the list address by mistake,
 * Mailman's administrivia): 1 subscribe, 2 unsubscribe, else 0 */
static int
subject_word(const struct buf *msg)
{
	char *v = listmsg_header_value(msg->data, msg->len, "Subject");
	int r = 0;
	if (v != NULL) {
		const char *t = str_trim(v);
		r = strcasecmp(t, "subscribe") == 0 ? 1 :
		    strcasecmp(t, "unsubscribe") == 0 ? 2 : 0;
	}
	free(v);
	return r;
}

/* request - mail to <name>-request[+tag]@ */
static int
request(struct ls *s, struct queue_item *item, const struct list_row *l,
	const char *tag)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	char cmd[16], arg[64];
	struct buf msg;
	struct dir_strings from;
	int r = 0;

	if (msg_read(item->msg_path, &msg) < 0) {
		buf_free(&msg);
		return -1;
	}
	from_addresses(&msg, &from);
	if (*sender == '\0' || auto_submitted(&msg)) {
		log_info("%s: %s: automatic mail to the request address ignored",
		    item->id, l->address);
		goto out;
	}
	if (tag != NULL && (str_has_prefix(tag, "approve-") ||
	    str_has_prefix(tag, "reject-"))) {
		snprintf(cmd, sizeof(cmd), "%s", tag[0] == 'a' ? "approve" : "reject");
		snprintf(arg, sizeof(arg), "%s", strchr(tag, '-') + 1);
	} else {
		char *subject = listmsg_header_value(msg.data, msg.len, "Subject");
		subject_command(subject, cmd, sizeof(cmd), arg, sizeof(arg));
		free(subject);
	}
	if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "reject") == 0) {
		if (!is_owner(l, sender, &from)) {
			log_info("%s: %s: %s from <%s>, not the owner: ignored",
			    item->id, l->address, cmd, sender);
			goto out;
		}
		char *by = xasprintf("<%s> by mail", sender);
		r = decide(s, l, arg, strcmp(cmd, "approve") == 0, by);
		free(by);
	} else if (strcmp(cmd, "subscribe") == 0 || strcmp(cmd, "unsubscribe") == 0) {
		r = request_sub(s, l, sender, strcmp(cmd, "subscribe") == 0);
	} else if (strcmp(cmd, "confirm") == 0) {
		r = confirm(s, l, arg);
	} else {
		char *sub = aux(l, "-subscribe", NULL), *uns = aux(l, "-unsubscribe", NULL);
		char *req = aux(l, "-request", NULL);
		char *body = xasprintf("List %s%s%s\n\nTo subscribe, send a message to "
		    "%s\nTo unsubscribe, send a message to %s\nOr write \"subscribe\" "
		    "or \"unsubscribe\" in the subject of a message to %s.\n"
		    "Each request is confirmed by a reply to the message you get.\n",
		    l->address, *l->description ? ": " : "", l->description, sub, uns,
		    req);
		char *subj = xasprintf("Help for %s", l->address);
		r = notice_send(s, l, sender, subj, NULL, body);
		free(subj);
		free(body);
		free(sub);
		free(uns);
		free(req);
	}
out:
	dir_strings_free(&from);
	buf_free(&msg);
	return r;
}

static int owner_forward(struct ls *s, struct queue_item *item,
			 const struct list_row *l);

/* owner_notice - tell the list's owner (when it has one) */
static void
owner_notice(struct ls *s, const struct list_row *l, const char *subject,
	     const char *body)
{
	if (*l->owner != '\0')
		notice_send(s, l, l->owner, subject, NULL, body);
}

/* probe_send - the probe of member (bounce.h): a notice whose envelope
 * sender carries the token of sent */
static int
probe_send(struct ls *s, const struct list_row *l, const char *member,
	   time_t sent)
{
	char tok[BOUNCE_PROBE_LEN + 1];

	bounce_probe_token(s->secret, sizeof(s->secret), l->id, member, sent, tok);
	if (strlen(l->name) + 9 + BOUNCE_PROBE_LEN > LOCALPART_MAX_LEN) {
		log_warnx("%s: the list name is too long for probe addresses: "
		    "<%s> is not probed and stays enabled", l->address, member);
		return 0;
	}
	char *subj = xasprintf("%s probe message", l->address);
	char *body = xasprintf(
	    "This is a probe message of the list %s. You can ignore it.\n\n"
	    "The list has received bounces of mail to your address %s. This\n"
	    "message checks that your address works: if it bounces too, your\n"
	    "membership will be disabled.\n", l->address, member);
	log_info("%s: <%s> reached the bounce limit: probe %s sent", l->address,
	    member, tok);
	int r = notice_send_from(s, l, tok, member, subj, NULL, body);
	free(body);
	free(subj);
	return r;
}

/* bounce_count - one bounce of member (a VERP address or a DSN's failed
 * recipient); at the limit the member is probed, not disabled */
static int
bounce_count(struct ls *s, struct queue_item *item, const struct list_row *l,
	     const char *member)
{
	const char *err = NULL;
	int count = 0;
	time_t probe = 0;
	time_t stale = (time_t)settings_get_int(s->svc->db,
	    "list.bounce_stale_after", 7 * 86400);
	int a = adm_list_member_bounce(s->svc->db, l->id, member, time(NULL),
	    stale, &count, &probe, &err);
	if (a == ADM_NOTFOUND) {
		log_info("%s: %s: bounce for <%s>, not a member", item->id,
		    l->address, member);
		return 0;
	}
	if (a != ADM_OK) {
		log_warnx("%s: %s: bounce count: %s", item->id, l->address, err);
		return -1;
	}
	if (count == 0) {
		log_info("%s: %s: bounce for <%s>, not an active member: ignored",
		    item->id, l->address, member);
		return 0;
	}
	log_info("%s: %s: bounce from <%s> counted (%d)", item->id, l->address,
	    member, count);
	s->bounces_counted++;
	return probe != 0 ? probe_send(s, l, member, probe) : 0;
}

/* probe_bounced - mail to <name>-bounces+TOKEN@: the probe of a member
 * bounced: disable it */
static int
probe_bounced(struct ls *s, struct queue_item *item, const struct list_row *l,
	      const char *tok)
{
	const char *err = NULL;
	time_t sent = bounce_probe_time(tok);
	char *who = NULL;
	sqlite3_stmt *st = db_query(s->svc->db, &err, "SELECT address FROM "
	    "list_member WHERE list_id = ? AND probe_sent = ? AND status = "
	    "'active'", "ii", l->id, (int64_t)sent);
	if (st == NULL) {
		log_warnx("%s: %s: %s", item->id, l->address, err);
		return -1;
	}
	while (who == NULL && sqlite3_step(st) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);
		if (m != NULL && bounce_probe_ok(s->secret, sizeof(s->secret), l->id,
		    m, tok))
			who = xstrdup(m);
	}
	sqlite3_finalize(st);
	if (who == NULL) {
		log_info("%s: %s: bounce to probe address %s, which matches no "
		    "pending probe: ignored", item->id, l->address, tok);
		return 0;
	}
	int a = adm_list_member_probe_failed(s->svc->db, l->id, who, sent, &err);
	if (a == ADM_OK) {
		log_info("%s: %s: the probe of <%s> bounced: member disabled",
		    item->id, l->address, who);
		s->disabled++;
		char *subj = xasprintf("%s: %s disabled (bounces)", l->address, who);
		char *body = xasprintf("Mail to %s, a member of %s, bounced, and so did "
		    "the probe\nmessage sent to check the address. The membership is "
		    "disabled:\nthe address gets no more posts. To enable it again, "
		    "the member\nsubscribes again, or remove it with\n  postern list "
		    "member del %s %s\n", who, l->address, l->address, who);
		owner_notice(s, l, subj, body);
		free(subj);
		free(body);
	} else if (a == ADM_NOTFOUND) {
		log_info("%s: %s: probe bounce for <%s>: no longer pending", item->id,
		    l->address, who);
	} else {
		log_warnx("%s: %s: %s", item->id, l->address, err);
		free(who);
		return -1;
	}
	free(who);
	return 0;
}

/* bounces - mail to <name>-bounces[+tag]@. What counts: an RFC 3464
 * report of a failure, or, to a VERP or probe address, a message with the
 * null sender that is no automatic reply (an old-style bounce). Reports
 * of delays and the like are dropped; anything else is a person's mail
 * and goes to the owner, never counted. */
static int
bounces(struct ls *s, struct queue_item *item, const struct list_row *l,
	const char *tag)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	struct bounce_report rep;
	struct buf msg;
	int r = 0;

	if (msg_read(item->msg_path, &msg) < 0) {
		buf_free(&msg);
		return -1;
	}
	bounce_parse(msg.data ? msg.data : "", msg.len, &rep);
	bool old_style = *sender == '\0' && !rep.report && !auto_submitted(&msg);
	bool failure = rep.dsn ? rep.nfailed > 0 : old_style;
	bool verp = tag != NULL && strchr(tag, '=') != NULL;
	bool probe = tag != NULL && bounce_probe_time(tag) != 0;

	if ((verp || probe) && failure) {
		if (probe) {
			r = probe_bounced(s, item, l, tag);
		} else {
			char *a = xstrdup(tag);   /* local=domain */
			*strrchr(a, '=') = '@';
			r = bounce_count(s, item, l, a);
			free(a);
		}
	} else if (!verp && !probe && tag == NULL && rep.dsn && rep.nfailed > 0) {
		for (size_t i = 0; i < rep.nfailed && r == 0; i++)
			r = bounce_count(s, item, l, rep.failed[i]);
	} else if (rep.report) {
		log_info("%s: %s: %s: dropped", item->id, l->address, rep.dsn ?
		    "delivery report without a failure (a delay?)" :
		    "a report that is no delivery report (a read receipt?)");
	} else if (*sender == '\0') {
		log_info("%s: %s: automatic mail with the null sender to the bounce "
		    "address: dropped", item->id, l->address);
	} else {
		log_info("%s: %s: mail from <%s> to the bounce address is no bounce: "
		    "forwarded to the owner, not counted", item->id, l->address,
		    sender);
		r = owner_forward(s, item, l);
	}
	bounce_report_free(&rep);
	buf_free(&msg);
	return r;
}

/* owner_forward - mail to <name>-owner@ goes to the owner */
static int
owner_forward(struct ls *s, struct queue_item *item, const struct list_row *l)
{
	struct queue_env env;
	char id[QUEUE_ID_MAX + 1];
	const char *err = NULL;

	if (*l->owner == '\0') {
		log_info("%s: %s: owner mail, but the list has no owner: dropped",
		    item->id, l->address);
		return 0;
	}
	queue_new_id(id);
	queue_env_init(&env, id);
	env_copy_meta(&env, &item->env);
	queue_env_add_rcpt(&env, l->owner, NULL, 0);
	int r = queue_put_file(s->inbound, item->msg_path, &env, &err);
	if (r < 0)
		log_warnx("%s: cannot forward to the owner: %s", item->id, err);
	else
		log_info("%s: %s: owner mail forwarded as %s to <%s>", item->id,
		    l->address, id, l->owner);
	queue_env_free(&env);
	return r;
}

/* rcpt_handle - one recipient of an item; 0 handled, -1 retry later */
static int
rcpt_handle(struct ls *s, struct queue_item *item, struct queue_rcpt *q)
{
	struct list_row l;
	char local[LOCALPART_MAX_LEN + 2], domain[DOMAIN_MAX_LEN + 2];
	const char *err = NULL;
	int r;

	int f = list_find(s->svc->db, q->address, &l, &err);
	if (f < 0) {
		log_warnx("%s: to=<%s>: %s", item->id, q->address, err);
		return -1;
	}
	if (f == 0 || address_split(q->address, local, sizeof(local), domain,
	    sizeof(domain), &err) < 0) {
		if (f > 0)
			list_row_free(&l);
		return bounce_rcpt(s, item, q, "5.1.1", "no such list");
	}
	str_lower(local);
	char *tag = strchr(local, '+');
	if (tag != NULL)
		*tag++ = '\0';
	size_t nl = strlen(l.name);
	const char *sfx = strncmp(local, l.name, nl) == 0 ? local + nl : "?";
	if (*sfx == '\0' && tag == NULL)
		r = post(s, item, q, &l);
	else if (strcmp(sfx, "-request") == 0)
		r = request(s, item, &l, tag);
	else if (strcmp(sfx, "-subscribe") == 0 || (strcmp(sfx, "-unsubscribe") == 0
	    && tag == NULL)) {
		r = human_request(item, &l);
		if (r > 0)
			r = request_sub(s, &l, item->env.sender, sfx[1] == 's');
	} else if (strcmp(sfx, "-unsubscribe") == 0)
		r = unsubscribe_key(s, &l, tag);
	else if (strcmp(sfx, "-confirm") == 0) {
		r = tag != NULL ? human_request(item, &l) : 0;
		if (r > 0)
			r = confirm(s, &l, tag);
	}
	else if (strcmp(sfx, "-bounces") == 0)
		r = bounces(s, item, &l, tag);
	else if (strcmp(sfx, "-owner") == 0)
		r = owner_forward(s, item, &l);
	else
		r = bounce_rcpt(s, item, q, "5.1.1", "no such list address");
	list_row_free(&l);
	return r;
}

/* item_handle - every recipient of a claimed item */
static void
item_handle(struct ls *s, struct queue_item *item)
{
	const char *err = NULL;
	size_t left = 0;

	for (size_t i = 0; i < item->env.nrcpts; i++) {
		struct queue_rcpt *q = &item->env.rcpts[i];
		if (q->status == RCPT_DELIVERED || q->status == RCPT_FAILED)
			continue;
		if (rcpt_handle(s, item, q) == 0) {
			q->status = RCPT_DELIVERED;
		} else {
			q->status = RCPT_DEFERRED;
			q->attempts++;
			left++;
		}
	}
	if (left == 0) {
		if (queue_item_done(item, &err) < 0) {
			log_warnx("%s: cannot remove: %s", item->id, err);
			return;
		}
		/* the staged posts of the item are done with (posting.h) */
		for (size_t i = 0; i < item->env.nrcpts; i++) {
			char base[QUEUE_ID_MAX + 1];
			post_base(item, &item->env.rcpts[i], base);
			posting_remove(s->posting, base);
		}
		return;
	}
	if (queue_item_update(item, &err) < 0)
		log_warnx("%s: cannot update the envelope: %s", item->id, err);
	if (queue_item_release(item, &err) < 0)
		log_warnx("%s: cannot release: %s", item->id, err);
	s->retry_at = time(NULL) + LS_RETRY;
	log_info("%s: %zu recipients deferred, retry in %d s", item->id, left,
	    LS_RETRY);
}

/* ls_process - every item of ls/outgoing */
static void
ls_process(struct ls *s)
{
	char **ids = NULL;
	size_t n = 0;
	const char *err = NULL;
	bool waiting = time(NULL) < s->retry_at;

	if (queue_scan(s->qpath, &ids, &n) < 0) {
		log_warnx("%s: scan failed", s->qpath);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_item item;
		if (!s->svc->stopping && !waiting) {
			int r = queue_claim(s->qpath, ids[i], &item, &err);
			if (r < 0) {
				log_warnx("%s: corrupt item: %s", ids[i], err);
				if (item.msg_path != NULL &&
				    queue_item_badmail(&item, s->qroot, err, &err) < 0)
					log_warnx("%s: bad mail: %s", ids[i], err);
			} else if (r > 0) {
				item_handle(s, &item);
			}
			queue_item_free(&item);
		}
		free(ids[i]);
	}
	free(ids);
}

/* held_scan - act on the decisions the CLI left in held/ */
static void
held_scan(struct ls *s)
{
	DIR *d = opendir(s->held);
	struct dirent *de;
	char **todo = NULL;
	size_t n = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strchr(de->d_name, '.');
		if (dot == NULL || dot - de->d_name != LIST_TOKEN_LEN)
			continue;
		if (strcmp(dot, ".approve") == 0 || strcmp(dot, ".reject") == 0) {
			todo = xreallocarray(todo, n + 1, sizeof(*todo));
			todo[n++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char tok[LIST_TOKEN_LEN + 1];
		memcpy(tok, todo[i], LIST_TOKEN_LEN);
		tok[LIST_TOKEN_LEN] = '\0';
		bool approve = strcmp(todo[i] + LIST_TOKEN_LEN, ".approve") == 0;
		char *info = xasprintf("%s/%s.info", s->held, tok);
		if (access(info, F_OK) != 0) {
			/* decided already (both files were left): drop it */
			char *p = xasprintf("%s/%s", s->held, todo[i]);
			unlink(p);
			free(p);
		} else {
			decide(s, NULL, tok, approve, "postern list");
		}
		free(info);
		free(todo[i]);
	}
	free(todo);
}

/* held_expire - held posts not decided within list.held_expire are
 * discarded, and their posters told (never the null sender) */
static void
held_expire(struct ls *s)
{
	time_t age = (time_t)settings_get_int(s->svc->db, "list.held_expire",
	    14 * 86400);
	DIR *d;
	struct dirent *de;
	char **toks = NULL;
	size_t n = 0;
	time_t now = time(NULL);

	if (age <= 0 || (d = opendir(s->held)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l != LIST_TOKEN_LEN + 5 || strcmp(de->d_name + LIST_TOKEN_LEN,
		    ".info") != 0)
			continue;
		toks = xreallocarray(toks, n + 1, sizeof(*toks));
		toks[n++] = xstrndup(de->d_name, LIST_TOKEN_LEN);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		struct list_held h;
		struct list_row l;
		const char *err = NULL;
		char *dec[2] = { xasprintf("%s/%s.approve", s->held, toks[i]),
		    xasprintf("%s/%s.reject", s->held, toks[i]) };
		bool decided = access(dec[0], F_OK) == 0 || access(dec[1], F_OK) == 0;
		if (!decided && list_held_read(s->held, toks[i], &h) == 1 &&
		    now - h.held > age) {
			int f = list_find(s->svc->db, h.list, &l, &err);
			if (f > 0 && *h.sender != '\0') {
				char *subj = xasprintf("Your post to %s expired", h.list);
				char *body = xasprintf("Your post to the moderated list %s "
				    "was not approved within\n%lld days and has been "
				    "discarded.\n  Subject: %s\n", h.list,
				    (long long)(age / 86400), h.subject);
				notice_send(s, &l, h.sender, subj, NULL, body);
				free(subj);
				free(body);
			}
			if (f > 0)
				list_row_free(&l);
			if (f >= 0) {
				/* the record first: without it the message is junk */
				char *ip = xasprintf("%s/%s.info", s->held, toks[i]);
				char *mp = xasprintf("%s/%s.msg", s->held, toks[i]);
				unlink(ip);
				unlink(mp);
				fsync_dir(s->held);
				free(ip);
				free(mp);
				log_info("%s: %s: held post %s expired undecided: discarded%s",
				    h.queue_id, h.list, toks[i], *h.sender ?
				    ", the poster told" : "");
			}
			list_held_free(&h);
		} else if (!decided) {
			list_held_free(&h);
		}
		free(dec[0]);
		free(dec[1]);
		free(toks[i]);
	}
	free(toks);
}

/* pending_expire - confirmations not answered within list.confirm_expire
 * go (their tokens no longer work) */
static void
pending_expire(struct ls *s)
{
	DIR *d = opendir(s->pending);
	struct dirent *de;
	time_t now = time(NULL);
	time_t age = (time_t)settings_get_int(s->svc->db, "list.confirm_expire",
	    7 * 86400);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		bool marker = de->d_name[0] == 'r' &&
		    list_token_valid(de->d_name + 1);
		if (!marker && !list_token_valid(de->d_name))
			continue;
		char *p = xasprintf("%s/%s", s->pending, de->d_name);
		if (stat(p, &st) == 0 && now - st.st_mtime > (marker ?
		    LS_CONFIRM_INTERVAL : age)) {
			if (!marker)
				log_info("confirmation %s expired", de->d_name);
			unlink(p);
		}
		free(p);
	}
	closedir(d);
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	queue_watch_drain(fd);
	ls_process(arg);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ls *s = arg;
	char note[200];
	(void)fd;
	(void)what;
	held_scan(s);
	ls_process(s);
	if (time(NULL) - s->expired_at >= LS_EXPIRE_INTERVAL) {
		s->expired_at = time(NULL);
		held_expire(s);
		pending_expire(s);
		posting_gc(s->posting, POSTING_GC_AGE);
	}
	snprintf(note, sizeof(note), "posted %lu (%lu copies), held %lu, "
	    "bounced %lu, notices %lu, member bounces %lu, disabled %lu",
	    s->posted, s->copies, s->held_n, s->bounced, s->notices,
	    s->bounces_counted, s->disabled);
	service_set_state(s->svc, "running", note);
}

/* secret_load - the key of the unsubscribe addresses (listkey.h) */
static int
secret_load(struct ls *s)
{
	const char *err;
	return list_secret_load(s->svc->db, s->secret, &err);
}

static struct ls the_ls;

static int
ls_init(struct service *svc)
{
	struct ls *s = &the_ls;

	s->svc = svc;
	svc->ctx = s;
	s->watch_fd = -1;
	s->qroot = settings_queue_path(svc->db);
	s->qpath = queue_path(s->qroot, "ls", QUEUE_OUTGOING);
	s->inbound = queue_path(s->qroot, "ls", QUEUE_INBOUND);
	s->held = xasprintf("%s/ls/held", s->qroot);
	s->pending = xasprintf("%s/ls/pending", s->qroot);
	s->posting = xasprintf("%s/ls/posting", s->qroot);
	if (queue_ensure(s->qpath) < 0 || queue_ensure(s->inbound) < 0 ||
	    queue_recover(s->qpath) < 0 || mkdir_p(s->held, 0770) < 0 ||
	    mkdir_p(s->pending, 0770) < 0 || mkdir_p(s->posting, 0770) < 0 || secret_load(s) < 0) {
		log_warn("cannot prepare %s", s->qpath);
		return -1;
	}
	s->watch_fd = queue_watch_open(s->qpath);
	if (s->watch_fd >= 0) {
		s->ev = event_new(svc->base, s->watch_fd, EV_READ | EV_PERSIST,
		    on_watch, s);
		event_add(s->ev, NULL);
	}
	s->timer = event_new(svc->base, -1, EV_PERSIST, on_timer, s);
	struct timeval tv = { LS_SCAN_INTERVAL, 0 };
	event_add(s->timer, &tv);
	struct timeval now = { 0, 0 };
	event_base_once(svc->base, -1, EV_TIMEOUT, on_timer, s, &now);
	log_info("list server: consuming %s", s->qpath);
	return 0;
}

static void
ls_shutdown(struct service *svc)
{
	struct ls *s = svc->ctx;
	if (s == NULL)
		return;
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s->qroot);
	free(s->qpath);
	free(s->inbound);
	free(s->held);
	free(s->pending);
	free(s->posting);
	memset(s, 0, sizeof(*s));
	svc->ctx = NULL;
}

int
main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "listserv",
		.init = ls_init,
		.shutdown = ls_shutdown,
	};
	return service_main(argc, argv, &def);
}
