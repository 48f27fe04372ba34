/* bounces - mail to a list's bounce addresses: counting, probes,
 * disabling, the owner told (listserv.h; the DSN reader is bounce.c) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "bounce.h"
#include "fsutil.h"
#include "listmsg.h"
#include "lists.h"
#include "listserv.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* ls_owner_notice - tell the list's owner (when it has one) */
void
ls_owner_notice(struct ls *s, const struct list_row *l, const char *subject,
		const char *body)
{
	if (*l->owner != '\0')
		ls_notice_send(s, l, l->owner, subject, NULL, body);
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
	int r = ls_notice_send_from(s, l, tok, member, subj, NULL, body);
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
	time_t stale = (time_t)settings_current(s->svc->db)->list_bounce_stale_after;
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
	if (probe == 0 || probe_send(s, l, member, probe) == 0)
		return 0;
	/* the probe is not queued: the retry of this bounce sends it */
	if (db_exec(s->svc->db, &err, "UPDATE list_member SET probe_sent = 0 "
	    "WHERE list_id = ? AND address = ? AND probe_sent = ?", "iti", l->id,
	    member, (int64_t)probe) < 0)
		log_warnx("%s: %s: %s", item->id, l->address, err);
	return -1;
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
	struct db_stmt *st = db_query(s->svc->db, &err, "SELECT address FROM "
	    "list_member WHERE list_id = ? AND probe_sent = ? AND status = "
	    "'active'", "ii", l->id, (int64_t)sent);
	if (st == NULL) {
		log_warnx("%s: %s: %s", item->id, l->address, err);
		return -1;
	}
	while (who == NULL && db_step(st, NULL) == DB_ROW) {
		const char *m = db_col_text(st, 0);
		if (m != NULL && bounce_probe_ok(s->secret, sizeof(s->secret), l->id,
		    m, tok))
			who = xstrdup(m);
	}
	db_stmt_free(&st);
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
		ls_owner_notice(s, l, subj, body);
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

/* ls_bounces - mail to <name>-bounces[+tag]@. What counts: an RFC 3464
 * report of a failure, or, to a VERP or probe address, a message with the
 * null sender that is no automatic reply (an old-style bounce). Reports
 * of delays and the like are dropped; anything else is a person's mail
 * and goes to the owner, never counted. */
int
ls_bounces(struct ls *s, struct queue_item *item, const struct list_row *l,
	   const char *tag)
{
	const char *sender = item->env.sender ? item->env.sender : "";
	struct bounce_report rep;
	struct buf msg;
	int r = 0;

	if (ls_msg_read(item->msg_path, &msg) < 0) {
		buf_free(&msg);
		return -1;
	}
	bounce_parse(msg.data ? msg.data : "", msg.len, &rep);
	bool old_style = *sender == '\0' && !rep.report && !ls_auto_submitted(&msg);
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
		r = ls_owner_forward(s, item, l);
	}
	bounce_report_free(&rep);
	buf_free(&msg);
	return r;
}
