/* autoreply - the mailbox auto responder (manual 5.5.6, RFC 3834)
 *
 * A reply goes out only when all of these hold:
 *  - autoresponder_enabled, and the mailbox is not a postmaster mailbox
 *    (the admin refuses enabling it there too);
 *  - now is inside [autoresponder_start, autoresponder_end] (0: open);
 *  - the message is not bulk or system mail: non-null sender, env bulk
 *    off, no Auto-Submitted other than "no", no Precedence bulk/list/junk,
 *    no List-* field, no X-Auto-Response-Suppress asking for silence
 *    (post_msg_is_bulk);
 *  - the sender is not a system address (MAILER-DAEMON, postmaster,
 *    owner-*, *-request, noreply, ...) nor an address of this mailbox;
 *  - this sender got no reply from this mailbox in the last
 *    autoresponder_period_h hours (0: no limit). The record is the file
 *    <mailbox root>/postern-autoreply ("<epoch> <sender>" lines, the
 *    expired ones dropped at each rewrite, at most AUTOREPLY_SENDERS_MAX),
 *    under an flock of postern-autoreply.lock so concurrent workers send
 *    one reply; it survives restarts.
 * The reply: From the mailbox's friendly name and the address the mail
 * was delivered for, Reply-To the mailbox's reply_to, Subject the
 * configured one or "Auto: <original>", In-Reply-To/References, and
 * Auto-Submitted: auto-replied; the text, or with autoresponder_html
 * both as multipart/alternative (the HTML in lib/htmlsafe.h's subset);
 * it is queued into the sf inbound queue
 * with the null sender and env bulk for the MTA to route. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "htmlsafe.h"
#include "log.h"
#include "postdeliver.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define AUTOREPLY_SENDERS_MAX 5000
#define AUTOREPLY_FILE_MAX (1024 * 1024)

struct ar_settings {
	bool enabled;
	char *subject, *body, *friendly, *reply_to, *html;
	int64_t start, end, period_h;
};

static void
ar_settings_free(struct ar_settings *s)
{
	free(s->subject);
	free(s->body);
	free(s->friendly);
	free(s->reply_to);
	free(s->html);
}

/* ar_load - the auto responder settings of a mailbox; 1, 0 none, -1 */
static int
ar_load(struct db *db, int64_t mailbox_id, struct ar_settings *s)
{
	const char *err = NULL;
	struct db_stmt *st = db_query_cached(db, &err, "SELECT autoresponder_enabled, "
	    "autoresponder_subject, autoresponder_body, friendly_name, reply_to, "
	    "autoresponder_start, autoresponder_end, autoresponder_period_h, "
	    "autoresponder_html FROM mailbox WHERE id = ?", "i", mailbox_id);
	int r = 0;

	memset(s, 0, sizeof(*s));
	if (st == NULL)
		return -1;
	if (db_step(st, NULL) == DB_ROW) {
		s->enabled = db_col_int(st, 0) != 0;
		s->subject = db_col_dup(st, 1);
		s->body = db_col_dup(st, 2);
		s->friendly = db_col_dup(st, 3);
		s->reply_to = db_col_dup(st, 4);
		s->start = db_col_int(st, 5);
		s->end = db_col_int(st, 6);
		s->period_h = db_col_int(st, 7);
		s->html = db_col_dup(st, 8);
		r = 1;
	}
	db_stmt_free(&st);
	return r;
}

/* autoreply_sender_is_system - RFC 3834 2 and the usual robots */
bool
autoreply_sender_is_system(const char *sender)
{
	static const char *const exact[] = {
		"mailer-daemon", "postmaster", "listserv", "majordomo",
		"noreply", "no-reply", "donotreply", "do-not-reply", "bounce",
		"bounces", "root", "daemon", NULL,
	};
	const char *at = strrchr(sender, '@');
	size_t n = at ? (size_t)(at - sender) : strlen(sender);
	char local[256];

	if (n == 0 || n >= sizeof(local))
		return true;
	memcpy(local, sender, n);
	local[n] = '\0';
	str_lower(local);
	for (size_t i = 0; exact[i] != NULL; i++)
		if (strcmp(local, exact[i]) == 0)
			return true;
	if (str_has_prefix(local, "owner-") || str_has_prefix(local, "bounce-") ||
	    str_has_prefix(local, "bounces-") || str_has_prefix(local, "noreply"))
		return true;
	return n > 8 && strcmp(local + n - 8, "-request") == 0;
}

/* mailbox_owns_address - whether sender is an address of the mailbox */
bool
mailbox_owns_address(struct db *db, const struct dir_mailbox *mb,
		     const char *sender, const char *address)
{
	struct dir_strings a = { 0 };
	struct dir_route route;
	const char *err = NULL;
	bool own = str_eq_ci(sender, address);

	if (!own && dir_mailbox_addresses(db, mb->id, &a, &err) == 0)
		for (size_t i = 0; i < a.n && !own; i++)
			own = str_eq_ci(a.v[i], sender);
	dir_strings_free(&a);
	if (!own && dir_resolve(db, sender, &route, &err) == DIR_RESOLVE_LOCAL &&
	    !route.catchall && route.kind == DIR_KIND_MAILBOX &&
	    route.target_id == mb->id)
		own = true;
	return own;
}

/* post_header_clean - a header value from settings, a script or the
 * message: control characters (CR, LF...) become blanks */
void
post_header_clean(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
}

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* b64 - base64 of data into out */
static void
b64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		buf_putc(out, tab[(v >> 18) & 63]);
		buf_putc(out, tab[(v >> 12) & 63]);
		buf_putc(out, i + 1 < n ? tab[(v >> 6) & 63] : '=');
		buf_putc(out, i + 2 < n ? tab[v & 63] : '=');
	}
}

/* post_header_text - an unstructured value: RFC 2047 encoded words (UTF-8,
 * base64, 45 bytes each) when it is not ASCII */
void
post_header_text(struct buf *out, const char *s)
{
	struct buf c;
	buf_init(&c, 0);
	post_header_clean(&c, s);
	const char *v = c.data ? c.data : "";
	if (is_ascii(v)) {
		buf_puts(out, v);
	} else {
		size_t n = strlen(v);
		for (size_t i = 0; i < n;) {
			size_t k = n - i > 45 ? 45 : n - i;
			/* never split a UTF-8 sequence */
			while (i + k < n && k > 1 &&
			    ((unsigned char)v[i + k] & 0xc0) == 0x80)
				k--;
			buf_puts(out, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
			b64(out, (const unsigned char *)v + i, k);
			buf_puts(out, "?=");
			i += k;
		}
	}
	buf_free(&c);
}

/* post_header_mailbox - "name" <address>, or <address> for no name */
void
post_header_mailbox(struct buf *out, const char *name, const char *address)
{
	if (name != NULL && *name != '\0') {
		struct buf fn;
		buf_init(&fn, 0);
		post_header_clean(&fn, name);
		if (is_ascii(fn.data)) {
			buf_putc(out, '"');
			for (const char *c = fn.data; *c; c++) {
				if (*c == '"' || *c == '\\')
					buf_putc(out, '\\');
				buf_putc(out, *c);
			}
			buf_putc(out, '"');
		} else {
			post_header_text(out, fn.data);
		}
		buf_free(&fn);
		buf_putc(out, ' ');
	}
	buf_printf(out, "<%s>", address);
}

/* rate_check_and_record - under the mailbox's lock: 1 when sender got no
 * reply within period_h (and records it now), 0 when it did, -1 error.
 * record false: only check. */
static int
rate_lock(const char *root)
{
	char *lp = xasprintf("%s/postern-autoreply.lock", root);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	free(lp);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* rate_recent - whether sender had a reply within period_h hours */
static bool
rate_recent(const char *root, const char *sender, int64_t period_h, time_t now)
{
	char *path = xasprintf("%s/postern-autoreply", root);
	FILE *f = fopen(path, "re");
	char line[600];
	bool recent = false;

	free(path);
	if (f == NULL || period_h <= 0) {
		if (f != NULL)
			fclose(f);
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp++ = '\0';
		sp[strcspn(sp, "\r\n")] = '\0';
		long long t = strtoll(line, NULL, 10);
		if (str_eq_ci(sp, sender) && t + period_h * 3600 > (long long)now &&
		    t <= (long long)now + 60)
			recent = true;
	}
	fclose(f);
	return recent;
}

/* rate_record - rewrite the record: the unexpired entries and sender */
static int
rate_record(const char *root, const char *sender, int64_t period_h, time_t now)
{
	char *path = xasprintf("%s/postern-autoreply", root);
	FILE *f = fopen(path, "re");
	struct buf out;
	char line[600];
	size_t kept = 0;
	int r;

	buf_init(&out, AUTOREPLY_FILE_MAX);
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL &&
		    kept < AUTOREPLY_SENDERS_MAX - 1) {
			char *sp = strchr(line, ' ');
			if (sp == NULL || strchr(sp, '\n') == NULL)
				continue;
			long long t = strtoll(line, NULL, 10);
			char *s = sp + 1;
			s[strcspn(s, "\r\n")] = '\0';
			if (str_eq_ci(s, sender))
				continue;
			if (period_h > 0 && t + period_h * 3600 <= (long long)now)
				continue;
			buf_printf(&out, "%lld %s\n", t, s);
			kept++;
		}
		fclose(f);
	}
	buf_printf(&out, "%lld %s\n", (long long)now, sender);
	r = file_write_atomic(path, out.data, out.len, 0640);
	buf_free(&out);
	free(path);
	return r;
}

/* part_text - a text part's header fields and body, CRLF line ends and
 * no bare CR; it ends with CRLF */
static void
part_text(struct buf *m, const char *type, const char *text)
{
	buf_printf(m, "Content-Type: %s; charset=UTF-8\r\n", type);
	buf_puts(m, is_ascii(text) ? "Content-Transfer-Encoding: 7bit\r\n\r\n" :
	    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	for (const char *c = text; *c != '\0'; c++) {
		if (*c == '\r')
			continue;
		if (*c == '\n')
			buf_puts(m, "\r\n");
		else
			buf_putc(m, *c);
	}
	if (m->len < 2 || memcmp(m->data + m->len - 2, "\r\n", 2) != 0)
		buf_puts(m, "\r\n");
}

/* reply_build - the reply message */
static void
reply_build(struct db *db, struct buf *m, const struct ar_settings *s,
	    const struct post_msg *pm, const char *qid, const char *address,
	    const char *to)
{
	char date[64], rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	char *host = settings_hostname(db);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	random_bytes(rnd, sizeof(rnd));
	buf_puts(m, "From: ");
	post_header_mailbox(m, s->friendly, address);
	buf_puts(m, "\r\n");
	buf_printf(m, "To: <%s>\r\n", to);
	if (*s->reply_to != '\0')
		buf_printf(m, "Reply-To: <%s>\r\n", s->reply_to);
	buf_puts(m, "Subject: ");
	if (*s->subject != '\0') {
		post_header_text(m, s->subject);
	} else {
		buf_puts(m, "Auto: ");
		/* the original is 7-bit or already encoded words */
		post_header_clean(m, pm->subject ? pm->subject : "");
	}
	buf_printf(m, "\r\nDate: %s\r\n", date);
	buf_printf(m, "Message-ID: <%s.ar.", qid);
	for (size_t i = 0; i < sizeof(rnd); i++)
		buf_printf(m, "%02x", (unsigned char)rnd[i]);
	buf_printf(m, "@%s>\r\n", host);
	if (pm->message_id != NULL && strchr(pm->message_id, '<') != NULL) {
		buf_puts(m, "In-Reply-To: ");
		post_header_clean(m, pm->message_id);
		buf_puts(m, "\r\nReferences: ");
		if (pm->references != NULL && strlen(pm->references) < 900) {
			post_header_clean(m, pm->references);
			buf_puts(m, "\r\n ");
		}
		post_header_clean(m, pm->message_id);
		buf_puts(m, "\r\n");
	}
	buf_puts(m, "Auto-Submitted: auto-replied\r\n"
	    "X-Auto-Response-Suppress: All\r\n"
	    "MIME-Version: 1.0\r\n");
	/* with an HTML form: multipart/alternative, the text first (RFC
	 * 2046 5.1.4); the HTML as the safe subset, whoever stored it */
	struct buf hb;
	buf_init(&hb, 0);
	const char *err;
	if (*s->html != '\0' && htmlsafe_clean(s->html, strlen(s->html), &hb,
	    &err) == 0 && hb.len > 0) {
		char boundary[40];
		snprintf(boundary, sizeof(boundary), "=_ar_%02x%02x%02x%02x%02x%02x",
		    (unsigned char)rnd[0], (unsigned char)rnd[1],
		    (unsigned char)rnd[2], (unsigned char)rnd[3],
		    (unsigned char)rnd[4], (unsigned char)rnd[5]);
		buf_printf(m, "Content-Type: multipart/alternative; "
		    "boundary=\"%s\"\r\n\r\n--%s\r\n", boundary, boundary);
		part_text(m, "text/plain", s->body);
		buf_printf(m, "--%s\r\n", boundary);
		buf_putc(&hb, '\0');
		part_text(m, "text/html", hb.data);
		buf_printf(m, "--%s--\r\n", boundary);
	} else {
		part_text(m, "text/plain", s->body);
	}
	buf_free(&hb);
	free(host);
}

/* reply_queue - the reply as a new sf inbound item from the post office
 * postoffice (its origin); 0 or -1 */
static int
reply_queue(const char *inbound, const struct buf *m, const char *to,
	    const char *postoffice, bool eightbit, char *id,
	    const char **error_r)
{
	struct queue_env env;
	struct queue_writer *w;
	int r = -1;

	queue_new_id(id);
	queue_env_init(&env, id);
	env.arrival = time(NULL);
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	queue_env_set(&env.client_helo, "autoreply");
	queue_env_set(&env.origin, postoffice);
	if (eightbit)
		queue_env_set(&env.body_type, "8BITMIME");
	env.bulk = true;
	queue_env_add_rcpt(&env, to, NULL, DSN_NOTIFY_NEVER);
	w = queue_writer_open(inbound, id, error_r);
	if (w != NULL) {
		if (queue_writer_write(w, m->data, m->len) < 0) {
			*error_r = "cannot write the reply";
			queue_writer_abort(&w);
		} else if (queue_writer_commit(&w, &env, error_r) == 0) {
			r = 0;
		}
	}
	queue_env_free(&env);
	return r;
}

/* autoreply_consider - every rule, then the reply */
void
autoreply_consider(struct db *db, const char *inbound,
		   const struct queue_item *item, const struct post_msg *pm,
		   const struct dir_mailbox *mb, const char *address,
		   const char *root)
{
	const struct queue_env *env = &item->env;
	struct ar_settings s;
	const char *err = NULL, *why = NULL;
	time_t now = time(NULL);
	int lock = -1;

	if (ar_load(db, mb->id, &s) <= 0 || !s.enabled) {
		ar_settings_free(&s);
		return;
	}
	if (str_eq_ci(mb->name, "postmaster"))
		why = "the postmaster mailbox never auto replies";
	else if (s.start != 0 && now < s.start)
		why = "before autoresponder_start";
	else if (s.end != 0 && now > s.end)
		why = "after autoresponder_end";
	else if (env->sender == NULL || *env->sender == '\0')
		why = "null sender";
	else if (post_msg_is_bulk(pm, env))
		why = "bulk, list or automatic message";
	else if (pm->x_auto_response_suppress != NULL &&
	    (strcasestr(pm->x_auto_response_suppress, "all") ||
	    strcasestr(pm->x_auto_response_suppress, "oof") ||
	    strcasestr(pm->x_auto_response_suppress, "autoreply")))
		why = "X-Auto-Response-Suppress";
	else if (autoreply_sender_is_system(env->sender))
		why = "system sender";
	else if (mailbox_owns_address(db, mb, env->sender, address))
		why = "the sender is the mailbox itself";
	if (why != NULL) {
		log_info("%s: no auto reply from %s@%s to <%s>: %s", item->id,
		    mb->name, mb->postoffice, env->sender ? env->sender : "", why);
		ar_settings_free(&s);
		return;
	}
	lock = rate_lock(root);
	if (lock < 0) {
		log_warn("%s: auto reply of %s@%s: cannot lock its record: "
		    "not sent", item->id, mb->name, mb->postoffice);
		ar_settings_free(&s);
		return;
	}
	if (rate_recent(root, env->sender, s.period_h, now)) {
		log_info("%s: no auto reply from %s@%s to <%s>: one was sent in "
		    "the last %lld hours", item->id, mb->name, mb->postoffice,
		    env->sender, (long long)s.period_h);
	} else {
		struct buf m;
		char id[QUEUE_ID_MAX + 1];
		buf_init(&m, 0);
		reply_build(db, &m, &s, pm, item->id, address, env->sender);
		if (reply_queue(inbound, &m, env->sender, mb->postoffice,
		    !is_ascii(s.body) || !is_ascii(s.html), id, &err) < 0) {
			log_warnx("%s: cannot queue the auto reply of %s@%s: %s",
			    item->id, mb->name, mb->postoffice, err ? err : "error");
		} else {
			log_info("%s: auto reply %s queued from %s@%s to <%s>",
			    item->id, id, mb->name, mb->postoffice, env->sender);
			if (rate_record(root, env->sender, s.period_h, now) < 0)
				log_warn("%s: cannot record the auto reply to <%s>",
				    item->id, env->sender);
		}
		buf_free(&m);
	}
	close(lock);
	ar_settings_free(&s);
}
