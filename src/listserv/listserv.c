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
 * list.held_expire (14 days), then are discarded and their posters told.
 * Bounces (RFC 3464
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
 * copy: staging cut short starts over, a hand-over cut short finishes.
 *
 * Files (listserv.h): this one (the service, routing by address, posts,
 * notices), subscribe.c, moderate.c, bounces.c; bounce.c reads DSNs and
 * makes probe tokens, posting.c stages copies, listmsg.c builds them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "directory.h"
#include "dsn.h"
#include "envcopy.h"
#include "fsutil.h"
#include "listkey.h"
#include "listmsg.h"
#include "listserv.h"
#include "lists.h"
#include "log.h"
#include "msghdr.h"
#include "posting.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"


void
ls_list_row_free(struct list_row *l)
{
	free(l->name);
	free(l->address);
	free(l->domain);
	free(l->owner);
	free(l->description);
	free(l->prefix);
	free(l->footer);
	free(l->postoffice);
	memset(l, 0, sizeof(*l));
}

/* list_load - a list row by id: 1, 0 gone, -1 error */
static int
list_load(struct db *db, int64_t id, struct list_row *l, const char **error_r)
{
	memset(l, 0, sizeof(*l));
	struct db_stmt *st = db_query(db, error_r,
	    "SELECT name, address, owner, description, subject_prefix, footer, "
	    "moderated, members_only, disabled, reply_to_list, verp, (SELECT "
	    "p.name FROM postoffice p WHERE p.id = list.postoffice_id) FROM "
	    "list WHERE id = ?", "i", id);
	if (st == NULL)
		return -1;
	int r = db_step(st, NULL);
	if (r != DB_ROW) {
		db_stmt_free(&st);
		return r == DB_DONE ? 0 : db_fail(db, error_r, "list");
	}
	l->id = id;
	l->name = db_col_dup(st, 0);
	l->address = db_col_dup(st, 1);
	l->owner = db_col_dup(st, 2);
	l->description = db_col_dup(st, 3);
	l->prefix = db_col_dup(st, 4);
	l->footer = db_col_dup(st, 5);
	l->moderated = db_col_int(st, 6);
	l->members_only = db_col_int(st, 7);
	l->disabled = db_col_int(st, 8);
	l->reply_to_list = db_col_int(st, 9);
	l->verp = db_col_int(st, 10);
	l->postoffice = db_col_dup(st, 11);
	db_stmt_free(&st);
	const char *at = strrchr(l->address, '@');
	l->domain = xstrdup(at != NULL ? at + 1 : "");
	str_lower(l->name);
	snprintf(l->list_id, sizeof(l->list_id), "%s.%s", l->name, l->domain);
	return 1;
}

/* ls_list_find - a list by its address or one of its auxiliary addresses */
int
ls_list_find(struct db *db, const char *address, struct list_row *l,
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

/* ls_aux - "<name><suffix>[+tag]@<domain>" (new string) */
char *
ls_aux(const struct list_row *l, const char *suffix, const char *tag)
{
	return xasprintf("%s%s%s%s@%s", l->name, suffix, tag ? "+" : "",
	    tag ? tag : "", l->domain);
}

void
ls_token_new(char *out)
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

int
ls_msg_read(const char *path, struct buf *b)
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

/* commit_msg_to - one item of list l into the queue qpath (its origin:
 * the list's post office); 0 or -1 */
static int
commit_msg_to(const char *qpath, const struct list_row *l, const char *id,
	      const char *sender, const char *rcpt, bool bulk, const char *data,
	      size_t len)
{
	struct queue_env env;
	const char *err = NULL;
	int r = -1;

	queue_env_init(&env, id);
	queue_env_set(&env.sender, sender);
	queue_env_set(&env.client_addr, "local");
	queue_env_set(&env.origin, l->postoffice);
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

/* ls_commit_msg - one item of list l into ls/inbound; 0 or -1 */
int
ls_commit_msg(struct ls *s, const struct list_row *l, const char *id,
	      const char *sender, const char *rcpt, bool bulk, const char *data,
	      size_t len)
{
	return commit_msg_to(s->inbound, l, id, sender, rcpt, bulk, data, len);
}

/* ls_notice_send_from - a message from the list server to one address with
 * the envelope sender <name>-bounces[+tag]@; bulk unless it is a probe,
 * whose bounce is what it asks for */
int
ls_notice_send_from(struct ls *s, const struct list_row *l, const char *tag,
		    const char *to, const char *subject, const char *reply_to,
		 const char *body)
{
	char id[QUEUE_ID_MAX + 1], date[64], tok[LIST_TOKEN_LEN + 1];
	struct buf m;
	char *from = ls_aux(l, "-request", NULL);
	char *bounces = ls_aux(l, "-bounces", tag);
	char *host = settings_hostname(s->svc->db);

	queue_new_id(id);
	ls_token_new(tok);
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
	int r = ls_commit_msg(s, l, id, bounces, to, tag == NULL, m.data,
	    m.len);
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

/* ls_notice_send - a notice (confirmation, moderation request, welcome):
 * bulk, sender <name>-bounces@ */
int
ls_notice_send(struct ls *s, const struct list_row *l, const char *to,
	       const char *subject, const char *reply_to, const char *body)
{
	return ls_notice_send_from(s, l, NULL, to, subject, reply_to, body);
}

/* ls_members - the active members of a list */
int
ls_members(struct ls *s, const struct list_row *l, bool active_only,
	   struct dir_strings *out)
{
	const char *err;
	memset(out, 0, sizeof(*out));
	struct db_stmt *st = db_query(s->svc->db, &err,
	    active_only ? "SELECT address FROM list_member WHERE list_id = ? AND "
	    "status = 'active' ORDER BY address" :
	    "SELECT address FROM list_member WHERE list_id = ? ORDER BY address",
	    "i", l->id);
	if (st == NULL) {
		log_warnx("%s: members: %s", l->address, err);
		return -1;
	}
	while (db_step(st, NULL) == DB_ROW) {
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = db_col_dup(st, 0);
	}
	db_stmt_free(&st);
	return 0;
}

/* ls_is_member - whether address is an active member */
bool
ls_is_member(struct ls *s, const struct list_row *l, const char *address)
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

/* ls_post_copies - one copy of msg per active member, ids "<base>.<n>",
 * staged then handed over (posting.h): each member's copy reaches
 * ls/inbound exactly once, whenever a crash comes; 0 or -1 (retry) */
int
ls_post_copies(struct ls *s, const struct list_row *l, const char *msg,
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
	if (ls_members(s, l, true, &mem) < 0) {
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
	char *plain_sender = ls_aux(l, "-bounces", NULL);
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
				sender = ls_aux(l, "-bounces", tag);
			free(tag);
		}
		if (sender == NULL)
			sender = xstrdup(plain_sender);
		member_key(s, l, m, key);
		char *unsub = ls_aux(l, "-unsubscribe", key);
		char *https = url != NULL ? list_unsubscribe_url(url, l->address, m,
		    key) : NULL;
		struct buf copy;
		buf_init(&copy, 0);
		listmsg_copy(&lm, unsub, https, &copy);
		r = commit_msg_to(stage, l, id, sender, m, false, copy.data,
		    copy.len);
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

/* ls_from_addresses - the addresses of the From field of msg */
void
ls_from_addresses(const struct buf *msg, struct dir_strings *out)
{
	memset(out, 0, sizeof(*out));
	char *from = listmsg_header_value(msg->data, msg->len, "From");
	if (from != NULL)
		msghdr_addresses(from, &out->v, &out->n);
	free(from);
}

/* ls_is_owner - whether the sender or a From address is the list's owner */
bool
ls_is_owner(const struct list_row *l, const char *sender,
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
		return ls_post_copies(s, l, NULL, 0, base);   /* hand over the rest */

	if (ls_msg_read(item->msg_path, &msg) < 0) {
		log_warn("%s: cannot read the message", item->id);
		buf_free(&msg);
		return -1;
	}
	ls_from_addresses(&msg, &from);
	if (*sender == '\0') {
		log_info("%s: %s: post with the null sender dropped", item->id,
		    l->address);
	} else if (listmsg_has_list_id(msg.data, msg.len, l->list_id)) {
		log_info("%s: %s: loop (the post has our List-Id), dropped",
		    item->id, l->address);
	} else if (l->disabled) {
		r = bounce_rcpt(s, item, q, "5.2.1", "the list is disabled");
	} else if (ls_subject_word(&msg) != 0 && !ls_auto_submitted(&msg)) {
		/* "subscribe" or "unsubscribe" alone in the subject: a request
		 * sent to the list address by mistake, not for the members */
		bool sub = ls_subject_word(&msg) == 1;
		log_info("%s: %s: \"%s\" in the subject of a post: handled as a "
		    "request", item->id, l->address, sub ? "subscribe" : "unsubscribe");
		r = ls_request_sub(s, l, sender, sub);
	} else {
		bool owner = ls_is_owner(l, sender, &from);
		bool member = owner || ls_is_member(s, l, sender);
		for (size_t i = 0; i < from.n && !member; i++)
			member = ls_is_member(s, l, from.v[i]);
		if (l->members_only && !member)
			r = bounce_rcpt(s, item, q, "5.7.1",
			    "only members may post to this list");
		else if (l->moderated && !owner)
			r = ls_hold(s, item, l, &msg, &from, base);
		else
			r = ls_post_copies(s, l, msg.data, msg.len, base);
	}
	dir_strings_free(&from);
	buf_free(&msg);
	return r;
}


/* ls_owner_forward - mail to <name>-owner@ goes to the owner */
int
ls_owner_forward(struct ls *s, struct queue_item *item,
		 const struct list_row *l)
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

	int f = ls_list_find(s->svc->db, q->address, &l, &err);
	if (f < 0) {
		log_warnx("%s: to=<%s>: %s", item->id, q->address, err);
		return -1;
	}
	if (f == 0 || address_split(q->address, local, sizeof(local), domain,
	    sizeof(domain), &err) < 0) {
		if (f > 0)
			ls_list_row_free(&l);
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
		r = ls_request(s, item, &l, tag);
	else if (strcmp(sfx, "-subscribe") == 0 || (strcmp(sfx, "-unsubscribe") == 0
	    && tag == NULL)) {
		r = ls_human_request(item, &l);
		if (r > 0)
			r = ls_request_sub(s, &l, item->env.sender, sfx[1] == 's');
	} else if (strcmp(sfx, "-unsubscribe") == 0)
		r = ls_unsubscribe_key(s, &l, tag);
	else if (strcmp(sfx, "-confirm") == 0) {
		r = tag != NULL ? ls_human_request(item, &l) : 0;
		if (r > 0)
			r = ls_confirm(s, &l, tag);
	}
	else if (strcmp(sfx, "-bounces") == 0)
		r = ls_bounces(s, item, &l, tag);
	else if (strcmp(sfx, "-owner") == 0)
		r = ls_owner_forward(s, item, &l);
	else
		r = bounce_rcpt(s, item, q, "5.1.1", "no such list address");
	ls_list_row_free(&l);
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

/* skip_item - while a retry wait runs, or when stopping */
static bool
skip_item(void *ctx, const char *id)
{
	struct ls *s = ctx;
	(void)id;
	return s->svc->stopping || s->waiting;
}

static void
handle_item(void *ctx, struct queue_item *item)
{
	item_handle(ctx, item);
}

/* ls_process - every item of ls/outgoing */
static void
ls_process(void *ctx)
{
	struct ls *s = ctx;
	s->waiting = time(NULL) < s->retry_at;
	consumer_pass(&s->c);
}

/* on_tick - the periodic scan: held posts, a pass, expiry, status */
static void
on_tick(void *arg)
{
	struct ls *s = arg;
	char note[200];
	ls_held_scan(s);
	ls_process(s);
	if (time(NULL) - s->expired_at >= LS_EXPIRE_INTERVAL) {
		s->expired_at = time(NULL);
		ls_held_expire(s);
		ls_pending_expire(s);
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
	s->c.watch_fd = -1;
	s->qroot = settings_queue_path(svc->db);
	s->qpath = queue_path(s->qroot, "ls", QUEUE_OUTGOING);
	s->inbound = queue_path(s->qroot, "ls", QUEUE_INBOUND);
	s->held = xasprintf("%s/ls/held", s->qroot);
	s->pending = xasprintf("%s/ls/pending", s->qroot);
	s->posting = xasprintf("%s/ls/posting", s->qroot);
	if (queue_ensure(s->qpath) < 0 || queue_ensure(s->inbound) < 0 ||
	    queue_recover(s->qpath) < 0 || mkdir_p(s->held, 0770) < 0 ||
	    mkdir_p(s->pending, 0770) < 0 || mkdir_p(s->posting, 0770) < 0 ||
	    secret_load(s) < 0) {
		log_warn("cannot prepare %s", s->qpath);
		return -1;
	}
	s->c = (struct consumer){ .qpath = s->qpath, .qroot = s->qroot,
	    .name = "ls outgoing", .skip = skip_item, .handle = handle_item,
	    .pass = ls_process, .tick = on_tick, .first_tick = true, .ctx = s,
	    .watch_fd = -1 };
	if (consumer_start(&s->c, svc->base, LS_SCAN_INTERVAL) < 0)
		return -1;
	log_info("list server: consuming %s", s->qpath);
	return 0;
}

static void
ls_shutdown(struct service *svc)
{
	struct ls *s = svc->ctx;
	if (s == NULL)
		return;
	consumer_stop(&s->c);
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
