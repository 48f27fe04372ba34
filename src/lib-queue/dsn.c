/* dsn - RFC 3464 delivery status notifications, queued as new items */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dsn.h"
#include "envcopy.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define DSN_HEADER_MAX (256 * 1024)   /* original header kept at most */

/* dsn_wanted - whether NOTIFY asks for this kind of notice */
bool dsn_wanted(unsigned notify, enum dsn_action action)
{
	if (notify & DSN_NOTIFY_NEVER)
		return false;
	switch (action) {
	case DSN_ACTION_FAILED:
		return notify == 0 || (notify & DSN_NOTIFY_FAILURE);
	case DSN_ACTION_DELAYED:
		return notify == 0 || (notify & DSN_NOTIFY_DELAY);
	default:
		return (notify & DSN_NOTIFY_SUCCESS) != 0;
	}
}

/* dsn_returnable - may a notice go back to this sender */
bool dsn_returnable(const struct queue_env *env)
{
	return env->sender != NULL && env->sender[0] != '\0' && !env->bulk;
}

/* dsn_status_from_reply - x.y.z from a reply's enhanced code or class */
void dsn_status_from_reply(const char *reply, char *out, size_t size)
{
	const char *p = reply ? reply : "";
	char cls = '4';

	if (p[0] >= '2' && p[0] <= '5' && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2])) {
		cls = p[0] == '3' ? '4' : p[0];
		if (p[3] == ' ' || p[3] == '-') {
			const char *e = p + 4;
			size_t i = 0;
			int dots = 0, digits = 0;

			/* c.sss.ddd with the reply's class; 3 is no DSN
			 * class (RFC 3463: 2, 4, 5) */
			if (e[0] == p[0] && p[0] != '3' && e[1] == '.') {
				for (i = 1; e[i] != '\0' && e[i] != ' '; i++) {
					if (e[i] == '.') {
						if (digits == 0 && i > 1)
							break;
						dots++;
						digits = 0;
					} else if (isdigit((unsigned char)e[i]) &&
						   digits < 3) {
						digits++;
					} else {
						break;
					}
				}
				if (dots == 2 && digits > 0 &&
				    (e[i] == '\0' || e[i] == ' ') && i < size) {
					memcpy(out, e, i);
					out[i] = '\0';
					return;
				}
			}
		}
	}
	snprintf(out, size, "%c.0.0", cls);
}

/* put_clean - append s with CR, LF and non-ASCII replaced (header safe) */
static void put_clean(struct buf *out, const char *s, size_t max)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\r' || c == '\n' || c == '\t')
			buf_putc(out, ' ');
		else if (c < 0x20 || c > 0x7e)
			buf_putc(out, '?');
		else
			buf_putc(out, (char)c);
	}
}

static void put_date(struct buf *out, time_t t)
{
	char s[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_puts(out, s);
}

static const char *action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED: return "failed";
	case DSN_ACTION_DELAYED: return "delayed";
	case DSN_ACTION_DELIVERED: return "delivered";
	case DSN_ACTION_RELAYED: return "relayed";
	case DSN_ACTION_EXPANDED: return "expanded";
	}
	return "failed";
}

/* rcpt_status - the Status value of one recipient */
static void rcpt_status(const struct dsn_rcpt *r, char *out, size_t size)
{
	if (r->status != NULL && r->status[0] != '\0') {
		snprintf(out, size, "%s", r->status);
		return;
	}
	if (r->diagnostic != NULL && isdigit((unsigned char)r->diagnostic[0])) {
		dsn_status_from_reply(r->diagnostic, out, size);
		/* a "failed" action must not carry a 2.x or 4.x from a stale
		 * reply unless given explicitly: keep what the reply says */
		return;
	}
	switch (r->action) {
	case DSN_ACTION_FAILED: snprintf(out, size, "5.0.0"); break;
	case DSN_ACTION_DELAYED: snprintf(out, size, "4.0.0"); break;
	default: snprintf(out, size, "2.0.0"); break;
	}
}

/* copy_original - the original message or its header into out (CRLF) */
static int copy_original(const char *path, bool headers_only, struct buf *out,
			 const char **error_r)
{
	static char err[512];
	FILE *f = fopen(path, "r");
	char line[8192];
	size_t hdr = 0;
	bool at_start = true;

	if (f == NULL) {
		snprintf(err, sizeof(err), "open %s: %s", path, strerror(errno));
		*error_r = err;
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t l = strlen(line);
		bool whole = l > 0 && line[l - 1] == '\n';

		if (headers_only && at_start &&
		    (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0))
			break;
		if (headers_only) {
			hdr += l;
			if (hdr > DSN_HEADER_MAX)
				break;
		}
		/* normalise line ends to CRLF */
		if (whole) {
			l--;
			if (l > 0 && line[l - 1] == '\r')
				l--;
			buf_append(out, line, l);
			buf_puts(out, "\r\n");
		} else {
			buf_append(out, line, l);
		}
		at_start = whole;
	}
	if (!at_start)
		buf_puts(out, "\r\n");
	fclose(f);
	return 0;
}

/* dsn_build - the notice as a message */
int dsn_build(const struct dsn_report *rep, const char *reporting_mta,
	      const char *from, const char *message_id, time_t now,
	      struct buf *out, const char **error_r)
{
	const struct queue_env *env = rep->env;
	enum dsn_action kind = DSN_ACTION_DELIVERED;
	char boundary[64], status[32];
	size_t i, n = 0;
	bool any_failed = false, any_delayed = false, headers_only;

	for (i = 0; i < rep->nrcpts; i++) {
		if (!dsn_wanted(rep->rcpts[i].notify, rep->rcpts[i].action))
			continue;
		n++;
		if (rep->rcpts[i].action == DSN_ACTION_FAILED)
			any_failed = true;
		else if (rep->rcpts[i].action == DSN_ACTION_DELAYED)
			any_delayed = true;
	}
	if (n == 0)
		return 0;
	kind = any_failed ? DSN_ACTION_FAILED :
	       any_delayed ? DSN_ACTION_DELAYED : DSN_ACTION_DELIVERED;
	/* RET=HDRS, and delay/success notices, return only the header */
	headers_only = kind != DSN_ACTION_FAILED ||
		       (env->ret != NULL && str_eq_ci(env->ret, "HDRS"));
	snprintf(boundary, sizeof(boundary), "%s/%lld/%s", env->id,
		 (long long)now, reporting_mta);

	buf_puts(out, "From: Mail Delivery System <");
	put_clean(out, from, 300);
	buf_puts(out, ">\r\nTo: <");
	put_clean(out, env->sender, 300);
	buf_puts(out, ">\r\nSubject: ");
	buf_puts(out, kind == DSN_ACTION_FAILED ?
		 "Undelivered Mail Returned to Sender" :
		 kind == DSN_ACTION_DELAYED ?
		 "Delayed Mail (still being retried)" :
		 "Successful Mail Delivery Report");
	buf_puts(out, "\r\nDate: ");
	put_date(out, now);
	buf_printf(out, "\r\nMessage-ID: <%s>\r\n", message_id);
	buf_puts(out, "Auto-Submitted: auto-replied\r\n");
	buf_printf(out, "X-Postern-Original-Queue-Id: %s\r\n", env->id);
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; "
		   "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
		   boundary);
	buf_puts(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	/* 1. human readable */
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
		   "Content-Description: Notification\r\n\r\n", boundary);
	buf_puts(out, "This is the mail system at host ");
	put_clean(out, reporting_mta, 253);
	buf_puts(out, ".\r\n\r\n");
	if (kind == DSN_ACTION_FAILED)
		buf_puts(out, "Your message could not be delivered to one or more "
			 "recipients.\r\nIt is attached below.\r\n\r\n");
	else if (kind == DSN_ACTION_DELAYED)
		buf_puts(out, "Your message could not be delivered yet. The mail "
			 "system will keep trying;\r\nyou do not need to send it "
			 "again.\r\n\r\n");
	else
		buf_puts(out, "Your message was delivered or relayed as "
			 "requested.\r\n\r\n");
	for (i = 0; i < rep->nrcpts; i++) {
		const struct dsn_rcpt *r = &rep->rcpts[i];

		if (!dsn_wanted(r->notify, r->action))
			continue;
		buf_puts(out, "<");
		put_clean(out, r->address, 300);
		buf_printf(out, ">: %s", action_name(r->action));
		if (r->remote_mta != NULL) {
			buf_puts(out, " (host ");
			put_clean(out, r->remote_mta, 300);
			buf_puts(out, ")");
		}
		if (r->diagnostic != NULL) {
			buf_puts(out, ": ");
			put_clean(out, r->diagnostic, 1000);
		}
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");

	/* 2. machine readable (RFC 3464 2.2, 2.3) */
	buf_printf(out, "--%s\r\nContent-Type: message/delivery-status\r\n"
		   "Content-Description: Delivery report\r\n\r\n", boundary);
	buf_puts(out, "Reporting-MTA: dns; ");
	put_clean(out, reporting_mta, 253);
	buf_puts(out, "\r\n");
	if (env->envid != NULL) {
		buf_puts(out, "Original-Envelope-Id: ");
		put_clean(out, env->envid, 100);
		buf_puts(out, "\r\n");
	}
	buf_printf(out, "X-Postern-Queue-ID: %s\r\n", env->id);
	buf_puts(out, "Arrival-Date: ");
	put_date(out, env->arrival);
	buf_puts(out, "\r\n");
	for (i = 0; i < rep->nrcpts; i++) {
		const struct dsn_rcpt *r = &rep->rcpts[i];

		if (!dsn_wanted(r->notify, r->action))
			continue;
		buf_puts(out, "\r\n");
		if (r->orcpt != NULL && strchr(r->orcpt, ';') != NULL) {
			buf_puts(out, "Original-Recipient: ");
			put_clean(out, r->orcpt, 600);
			buf_puts(out, "\r\n");
		}
		buf_puts(out, "Final-Recipient: rfc822; ");
		put_clean(out, r->address, 300);
		buf_printf(out, "\r\nAction: %s\r\n", action_name(r->action));
		rcpt_status(r, status, sizeof(status));
		buf_printf(out, "Status: %s\r\n", status);
		if (r->remote_mta != NULL) {
			buf_puts(out, "Remote-MTA: dns; ");
			put_clean(out, r->remote_mta, 253);
			buf_puts(out, "\r\n");
		}
		if (r->diagnostic != NULL) {
			bool smtp = isdigit((unsigned char)r->diagnostic[0]) &&
				    r->remote_mta != NULL;

			buf_puts(out, smtp ? "Diagnostic-Code: smtp; " :
				 "Diagnostic-Code: x-postern; ");
			put_clean(out, r->diagnostic, 1000);
			buf_puts(out, "\r\n");
		}
		if (r->last_attempt != 0) {
			buf_puts(out, "Last-Attempt-Date: ");
			put_date(out, r->last_attempt);
			buf_puts(out, "\r\n");
		}
		if (r->action == DSN_ACTION_DELAYED && r->will_retry_until != 0) {
			buf_puts(out, "Will-Retry-Until: ");
			put_date(out, r->will_retry_until);
			buf_puts(out, "\r\n");
		}
	}
	buf_puts(out, "\r\n");

	/* 3. the original */
	buf_printf(out, "--%s\r\nContent-Type: %s\r\n", boundary,
		   headers_only ? "text/rfc822-headers" : "message/rfc822");
	buf_printf(out, "Content-Description: %s\r\n\r\n",
		   headers_only ? "Header of the original message" :
		   "Undelivered message");
	if (copy_original(rep->msg_path, headers_only, out, error_r) < 0)
		return -1;
	buf_printf(out, "\r\n--%s--\r\n", boundary);
	return 1;
}

/* dsn_send - build and queue a notice */
enum dsn_result dsn_send(struct db *db, const char *qpath,
			 const struct dsn_report *rep, char *new_id_r,
			 const char **error_r)
{
	static char err[512];
	const struct queue_env *oenv = rep->env;
	struct queue_env env;
	struct queue_writer *w;
	struct queue_rcpt *qr;
	struct buf msg;
	char id[QUEUE_ID_MAX + 1], *host, *from, *mid, *nfy;
	bool wanted = false, failed = false;
	size_t i;
	int r;

	for (i = 0; i < rep->nrcpts; i++)
		if (dsn_wanted(rep->rcpts[i].notify, rep->rcpts[i].action)) {
			wanted = true;
			if (rep->rcpts[i].action == DSN_ACTION_FAILED)
				failed = true;
		}
	if (!dsn_returnable(oenv)) {
		/* never bounce a bounce: for failures the caller quarantines */
		for (i = 0; i < rep->nrcpts; i++)
			if (rep->rcpts[i].action == DSN_ACTION_FAILED)
				return DSN_UNRETURNABLE;
		return DSN_SUPPRESSED;
	}
	if (!wanted)
		return DSN_SUPPRESSED;
	(void)failed;

	host = settings_hostname(db);
	nfy = xstrdup(settings_current(db)->smtp_notification_address);
	from = nfy[0] != '\0' ? xstrdup(nfy) : xasprintf("postmaster@%s", host);
	free(nfy);
	queue_new_id(id);
	mid = xasprintf("%s.dsn.%lld@%s", id, (long long)time(NULL), host);

	buf_init(&msg, 0);
	r = dsn_build(rep, host, from, mid, time(NULL), &msg, error_r);
	free(mid);
	if (r <= 0) {
		buf_free(&msg);
		free(host);
		free(from);
		return r == 0 ? DSN_SUPPRESSED : DSN_ERROR;
	}

	queue_env_init(&env, id);
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	/* a system notice: from the post office hosting its From domain */
	env_origin_of_address(db, &env, from);
	free(from);
	queue_env_set(&env.client_helo, host);
	free(host);
	/* the full original may be 8-bit or need SMTPUTF8 */
	if (oenv->body_type != NULL && !str_eq_ci(oenv->body_type, "7BIT"))
		queue_env_set(&env.body_type, oenv->body_type);
	env.smtputf8 = oenv->smtputf8;
	env.bulk = true;
	qr = queue_env_add_rcpt(&env, oenv->sender, NULL, DSN_NOTIFY_NEVER);
	(void)qr;

	if (queue_ensure(qpath) < 0) {
		snprintf(err, sizeof(err), "create queue %s: %s", qpath,
			 strerror(errno));
		*error_r = err;
		goto fail;
	}
	w = queue_writer_open(qpath, id, error_r);
	if (w == NULL)
		goto fail;
	if (queue_writer_write(w, msg.data, msg.len) < 0) {
		queue_writer_abort(&w);
		snprintf(err, sizeof(err), "write notice: %s", strerror(errno));
		*error_r = err;
		goto fail;
	}
	if (queue_writer_commit(&w, &env, error_r) < 0)
		goto fail;
	if (new_id_r != NULL)
		snprintf(new_id_r, QUEUE_ID_MAX + 1, "%s", id);
	queue_env_free(&env);
	buf_free(&msg);
	return DSN_QUEUED;
fail:
	queue_env_free(&env);
	buf_free(&msg);
	return DSN_ERROR;
}
