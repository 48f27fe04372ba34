/* sieve-deliver - run a mailbox's Sieve script at delivery and carry out
 * its actions (see sieve-deliver.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "msghdr.h"
#include "postdeliver.h"
#include "settings.h"
#include "sieve-deliver.h"
#include "sieve.h"
#include "srs.h"
#include "srs-forward.h"
#include "strutil.h"
#include "xalloc.h"

#define SD_MSG_MAX (64 * 1024 * 1024)   /* larger messages are kept */
#define SD_HDR_MAX 200                   /* header fields looked at */

/* what the glue needs from the message header */
struct sd_hdr {
	char **dt;                /* Delivered-To addresses */
	size_t ndt;
	char **rcpts;             /* To, Cc, Bcc, Resent-To, Resent-Cc */
	size_t nrcpts;
	char *subject;
	char *message_id;
	char *references;
	bool auto_submitted;      /* Auto-Submitted other than "no" */
	bool list;                /* List-*, Precedence bulk/list/junk */
	size_t nfields;
};

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct sd_hdr *h = ctx;
	const char *n = f->name;

	if (++h->nfields > SD_HDR_MAX * 10)
		return;
	if (str_eq_ci(n, "Delivered-To")) {
		if (h->ndt < SD_HDR_MAX)
			msghdr_addresses(f->value, &h->dt, &h->ndt);
	} else if (str_eq_ci(n, "To") || str_eq_ci(n, "Cc") ||
	    str_eq_ci(n, "Bcc") || str_eq_ci(n, "Resent-To") ||
	    str_eq_ci(n, "Resent-Cc")) {
		if (h->nrcpts < SD_HDR_MAX * 5)
			msghdr_addresses(f->value, &h->rcpts, &h->nrcpts);
	} else if (str_eq_ci(n, "Subject") && h->subject == NULL) {
		h->subject = xstrndup(f->value, 998);
	} else if (str_eq_ci(n, "Message-ID") && h->message_id == NULL) {
		h->message_id = xstrndup(f->value, 998);
	} else if (str_eq_ci(n, "References") && h->references == NULL) {
		h->references = xstrndup(f->value, 4000);
	} else if (str_eq_ci(n, "Auto-Submitted")) {
		if (!str_has_prefix(f->value, "no") ||
		    (f->value[2] != '\0' && f->value[2] != ';' && f->value[2] != ' '))
			h->auto_submitted = true;
	} else if (str_has_prefix(n, "List-") || str_has_prefix(n, "list-")) {
		h->list = true;
	} else if (str_eq_ci(n, "Precedence")) {
		if (str_eq_ci(f->value, "bulk") || str_eq_ci(f->value, "list") ||
		    str_eq_ci(f->value, "junk"))
			h->list = true;
	}
}

static void
sd_hdr_scan(struct sd_hdr *h, const char *data, size_t len)
{
	struct msghdr_parser p;
	const char *err;
	size_t used;

	memset(h, 0, sizeof(*h));
	msghdr_parser_init(&p, 0, on_field, h);
	if (msghdr_parser_feed(&p, data, len, &used, &err) == 0)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
}

static void
sd_hdr_free(struct sd_hdr *h)
{
	msghdr_addresses_free(h->dt, h->ndt);
	msghdr_addresses_free(h->rcpts, h->nrcpts);
	free(h->subject);
	free(h->message_id);
	free(h->references);
}

static bool
in_list(char **v, size_t n, const char *a)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq_ci(v[i], a))
			return true;
	return false;
}

/* queue_new - one new item in sf inbound: prefix + message (or the
 * message only when data is NULL: body) with envelope env */
static int
queue_new(const struct sieve_deliver_args *a, struct queue_env *env,
	  const char *prefix, const char *data, size_t len, const char **error_r)
{
	struct queue_writer *w = queue_writer_open(a->inbound, env->id, error_r);
	if (w == NULL)
		return -1;
	if ((prefix != NULL && queue_writer_write(w, prefix, strlen(prefix)) < 0) ||
	    queue_writer_write(w, data, len) < 0) {
		*error_r = "cannot write the queue item";
		queue_writer_abort(&w);
		return -1;
	}
	return queue_writer_commit(&w, env, error_r);
}

/* do_redirect - forward with the original sender (or its SRS address);
 * 1 queued, 0 refused
 * (loop), -1 error */
static int
do_redirect(const struct sieve_deliver_args *a, const struct sd_hdr *h,
	    const char *to, const char *data, size_t len, const char **error_r)
{
	struct queue_env env;
	char id[QUEUE_ID_MAX + 1];

	if (in_list(h->dt, h->ndt, to) || str_eq_ci(to, a->address)) {
		log_info("%s: to=<%s> sieve: redirect to <%s> refused: the "
		    "message passed there already (Delivered-To)", a->qid,
		    a->address, to);
		return 0;
	}
	/* to an outside address, outside mail leaves from an SRS address
	 * (srs-forward.h) */
	char srs[SRS_ADDRESS_MAX + 1];
	int sr = srs_forward_hosted(a->db, to);
	if (sr == 0)
		sr = srs_forward_sender(a->db, a->qid, a->env->sender, a->address,
		    srs, sizeof(srs));
	else if (sr > 0)
		sr = 0;
	if (sr < 0) {
		*error_r = "directory error (SRS)";
		return -1;
	}
	queue_new_id(id);
	queue_env_init(&env, id);
	env_copy_meta(&env, a->env);
	env.delay_notified = 0;
	if (sr > 0)
		queue_env_set(&env.sender, srs);
	queue_env_add_rcpt(&env, to, NULL, 0);
	char *prefix = xasprintf("Delivered-To: %s\r\n", a->address);
	int r = queue_new(a, &env, prefix, data, len, error_r);
	free(prefix);
	queue_env_free(&env);
	if (r < 0)
		return -1;
	log_info("%s: to=<%s> sieve: redirected as %s to <%s>", a->qid,
	    a->address, id, to);
	return 1;
}

/* do_reject - ereject after acceptance (RFC 5429 2.1.1): a DSN to the
 * sender */
static int
do_reject(const struct sieve_deliver_args *a, const struct sieve_action *act,
	  const char **error_r)
{
	char newid[QUEUE_ID_MAX + 1] = "";
	char *diag = xasprintf("rejected by the recipient's filter: %s",
	    act->arg ? act->arg : "");
	/* one line of the reason in the DSN */
	for (char *p = diag; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	struct dsn_rcpt dr = {
		.address = a->address, .notify = 0, .action = DSN_ACTION_FAILED,
		.status = "5.7.1", .diagnostic = diag, .last_attempt = time(NULL),
	};
	struct dsn_report rep = { .env = a->env, .msg_path = a->msg_path,
	    .rcpts = &dr, .nrcpts = 1 };
	int r = 0;
	switch (dsn_send(a->db, a->inbound, &rep, newid, error_r)) {
	case DSN_QUEUED:
		log_info("%s: to=<%s> sieve: ereject, DSN %s queued to <%s>",
		    a->qid, a->address, newid, a->env->sender);
		break;
	case DSN_SUPPRESSED:
	case DSN_UNRETURNABLE:
		log_info("%s: to=<%s> sieve: %s: no notice (null sender, bulk "
		    "mail or NOTIFY=NEVER): message dropped", a->qid, a->address,
		    act->ereject ? "ereject" : "reject");
		break;
	default:
		r = -1;
		break;
	}
	free(diag);
	return r;
}

/* hdr_value - a value from the message into a header field of a
 * message made here: control characters as blanks, at most max bytes */
static void
hdr_value(struct buf *out, const char *v, size_t max)
{
	char *t = xstrndup(v, max);
	post_header_clean(out, t);
	free(t);
}

/* crlf_puts - text with CRLF line ends */
static void
crlf_puts(struct buf *out, const char *text)
{
	for (size_t i = 0; text[i] != '\0'; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			buf_putc(out, '\r');
		buf_putc(out, text[i]);
	}
}

/* log_text - text a script gave, for a log line: controls as blanks, cut */
static char *
log_text(const char *s)
{
	struct buf b;
	buf_init(&b, 0);
	hdr_value(&b, s, 200);
	return buf_steal(&b);
}

/* vacation_from - the From value of a vacation reply. RFC 5230 4.4: :from
 * only when the user may use it, here one address of the mailbox (the
 * one the mail came for, its addresses, one that resolves to it), as
 * "display name" <address>; anything else (another mailbox's, another
 * post office's, several addresses, control characters) falls back to
 * the address the mail was delivered for, and is logged. */
static void
vacation_from(const struct sieve_deliver_args *a, const char *from,
	      struct buf *out)
{
	const char *why = NULL, *lt;
	char **v = NULL;
	size_t n = 0;

	if (from == NULL) {
		buf_puts(out, a->address);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)from; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			why = "it holds control characters";
	if (why == NULL && msghdr_addresses(from, &v, &n) != 1)
		why = "it is not one address";
	else if (why == NULL && !mailbox_owns_address(a->db, a->mb, v[0],
	    a->address))
		why = "it is not an address of this mailbox";
	if (why != NULL) {
		char *t = log_text(from);
		log_info("%s: to=<%s> sieve: vacation :from \"%s\" not used (%s): "
		    "the reply is from <%s>", a->qid, a->address, t, why,
		    a->address);
		free(t);
		buf_puts(out, a->address);
		msghdr_addresses_free(v, n);
		return;
	}
	/* the display name: what stands before '<', without its quotes */
	char *name = NULL;
	if ((lt = strchr(from, '<')) != NULL) {
		const char *b = from, *e = lt;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - b >= 2 && *b == '"' && e[-1] == '"') {
			b++;
			e--;
		}
		name = xstrndup(b, (size_t)(e - b));
	}
	if (name != NULL && *name != '\0')
		post_header_mailbox(out, name, v[0]);
	else
		buf_puts(out, v[0]);
	free(name);
	msghdr_addresses_free(v, n);
}

/* content_field - a "Content-<name>:" field starts line l (length n) */
static bool
content_field(const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	if (colon == NULL || n < 9 || strncasecmp(l, "Content-", 8) != 0)
		return false;
	for (const char *p = l; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* vacation_mime - a :mime reason (RFC 5230 4.7: a MIME part, its header
 * fields and body) into the reply: of its header only the Content-*
 * fields (and their continuation lines) are kept, since they become
 * header fields of the reply; any other (From, Bcc, DKIM-Signature...)
 * is dropped and logged. CRLF line ends; a blank line ends the header. */
static void
vacation_mime(const struct sieve_deliver_args *a, const char *reason,
	      struct buf *out)
{
	const char *p = reason;
	bool keep = false;
	size_t dropped = 0;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		size_t len = n;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0) {
			p += nl != NULL ? n + 1 : n;    /* the blank line */
			break;
		}
		if (*p == ' ' || *p == '\t') {
			/* a continuation of the field before */
		} else {
			keep = content_field(p, len);
			if (!keep)
				dropped++;
		}
		if (keep) {
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)p[i];
				buf_putc(out, c < 0x20 && c != '\t' ? ' ' : (char)c);
			}
			buf_puts(out, "\r\n");
		}
		p += nl != NULL ? n + 1 : n;
	}
	if (dropped > 0)
		log_info("%s: to=<%s> sieve: vacation :mime: %zu header line(s) "
		    "other than Content-* dropped", a->qid, a->address, dropped);
	buf_puts(out, "\r\n");
	crlf_puts(out, p);
}

/* do_mdn - reject (RFC 5429 2.2): an MDN (RFC 8098) "deleted" to the
 * envelope sender, with the reason and the original header; never to the
 * null sender or for bulk mail. 0 or -1. */
static int
do_mdn(const struct sieve_deliver_args *a, const struct sd_hdr *h,
       const struct sieve_action *act, const char *data, size_t len,
       const char **error_r)
{
	const char *sender = a->env->sender ? a->env->sender : "";
	if (*sender == '\0' || a->env->bulk) {
		log_info("%s: to=<%s> sieve: reject: no notice (null sender or "
		    "bulk mail): message dropped", a->qid, a->address);
		return 0;
	}
	struct buf m;
	char date[64], id[QUEUE_ID_MAX + 1], bnd[64];
	struct tm tm;
	time_t now = time(NULL);
	char *host = settings_hostname(a->db);
	const char *hn = host ? host : "localhost";

	queue_new_id(id);
	snprintf(bnd, sizeof(bnd), "%s/mdn/%s", id, hn);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&m, 0);
	buf_printf(&m, "From: Mail Delivery Subsystem <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: Message rejected: ", hn, sender);
	hdr_value(&m, h->subject ? h->subject : "(no subject)", 200);
	buf_printf(&m, "\r\nDate: %s\r\nMessage-ID: <%s.mdn@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n", date, id, hn);
	if (h->message_id != NULL) {
		buf_puts(&m, "In-Reply-To: ");
		hdr_value(&m, h->message_id, 998);
		buf_puts(&m, "\r\n");
	}
	buf_printf(&m, "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=disposition-notification;\r\n\tboundary=\"%s\"\r\n"
	    "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\nYour message to <%s> was "
	    "rejected by the recipient's filter:\r\n\r\n", bnd, bnd, a->address);
	for (const char *p = act->arg ? act->arg : ""; *p; p++) {
		if (*p == '\n' && (p == act->arg || p[-1] != '\r'))
			buf_putc(&m, '\r');
		buf_putc(&m, *p);
	}
	buf_printf(&m, "\r\n\r\n--%s\r\nContent-Type: message/disposition-"
	    "notification\r\n\r\nReporting-UA: %s; Postern Sieve\r\n"
	    "Final-Recipient: rfc822; %s\r\n", bnd, hn, a->address);
	if (h->message_id != NULL)
		buf_printf(&m, "Original-Message-ID: %s\r\n", h->message_id);
	buf_printf(&m, "Disposition: automatic-action/MDN-sent-automatically; "
	    "deleted\r\n\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n",
	    bnd);
	/* the original header */
	size_t hl = 0;
	while (hl < len) {
		const char *nl = memchr(data + hl, '\n', len - hl);
		size_t ll = nl ? (size_t)(nl - (data + hl)) + 1 : len - hl;
		if (ll <= 2 && (data[hl] == '\n' || data[hl] == '\r'))
			break;
		hl += ll;
		if (hl > 256 * 1024)
			break;
	}
	for (size_t i = 0; i < hl; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf_putc(&m, '\r');
		buf_putc(&m, data[i]);
	}
	buf_printf(&m, "\r\n--%s--\r\n", bnd);

	struct queue_env env;
	queue_env_init(&env, id);
	env.arrival = now;
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	/* a system notice: from the post office hosting its From domain */
	char *mdfrom = xasprintf("MAILER-DAEMON@%s", hn);
	env_origin_of_address(a->db, &env, mdfrom);
	free(mdfrom);
	free(host);
	env.bulk = true;
	queue_env_add_rcpt(&env, sender, NULL, DSN_NOTIFY_NEVER);
	int r = queue_new(a, &env, NULL, m.data, m.len, error_r);
	queue_env_free(&env);
	buf_free(&m);
	if (r == 0)
		log_info("%s: to=<%s> sieve: reject, MDN %s queued to <%s>",
		    a->qid, a->address, id, sender);
	return r;
}

/* Vacation tracking files older than the longest :days (365, clamped by
 * the parser) can never suppress a reply again; once a day per mailbox
 * the directory is swept of them, so it does not grow forever. */
#define VACATION_KEEP ((time_t)366 * 86400)

/* vacation_prune - remove the expired tracking files of dir, at most
 * once a day (the stamp file's mtime says when it last ran) */
static void
vacation_prune(const char *dir, time_t now)
{
	char *stamp = xasprintf("%s/.pruned", dir);
	struct stat st;
	if (stat(stamp, &st) == 0 && st.st_mtime + 86400 > now) {
		free(stamp);
		return;
	}
	int fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0)
		close(fd);
	free(stamp);
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	size_t removed = 0, seen = 0;
	while ((de = readdir(d)) != NULL && seen < 1000000) {
		seen++;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime + VACATION_KEEP < now &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (removed > 0)
		log_info("%s: %zu expired vacation records removed", dir, removed);
}

/* hash64 - FNV-1a, for the vacation tracking file names */
static uint64_t
hash64(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) *
		    1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static bool
sender_is_automatic(const char *s)
{
	char local[256];
	const char *at = strrchr(s, '@');
	size_t l = at ? (size_t)(at - s) : strlen(s);
	if (l >= sizeof(local))
		l = sizeof(local) - 1;
	memcpy(local, s, l);
	local[l] = '\0';
	str_lower(local);
	size_t ll = strlen(local);
	return str_has_prefix(local, "owner-") || str_eq_ci(local, "mailer-daemon") ||
	    str_eq_ci(local, "listserv") || str_eq_ci(local, "majordomo") ||
	    str_eq_ci(local, "postmaster") ||
	    (ll > 8 && strcmp(local + ll - 8, "-request") == 0);
}

/* do_vacation - RFC 5230 4.5-4.7, RFC 3834; 0 done or not needed, -1
 * error */
static int
do_vacation(const struct sieve_deliver_args *a, const struct sd_hdr *h,
	    const struct sieve_action *act, const char **error_r)
{
	const char *sender = a->env->sender ? a->env->sender : "";
	const char *why = NULL;
	struct dir_strings mine = { 0 };

	if (*sender == '\0')
		why = "null sender";
	else if (a->env->bulk)
		why = "bulk mail";
	else if (sender_is_automatic(sender))
		why = "sender is a list or system address";
	else if (h->auto_submitted)
		why = "Auto-Submitted";
	else if (h->list)
		why = "list or bulk mail (List-*, Precedence)";
	if (why == NULL) {
		/* the recipient must be named in To/Cc/Bcc (RFC 5230 4.5) */
		bool named = in_list(h->rcpts, h->nrcpts, a->address);
		const char *e;
		if (!named && dir_mailbox_addresses(a->db, a->mb->id, &mine, &e) == 0)
			for (size_t i = 0; i < mine.n && !named; i++)
				named = in_list(h->rcpts, h->nrcpts, mine.v[i]);
		for (size_t i = 0; i < act->vac.naddresses && !named; i++)
			named = in_list(h->rcpts, h->nrcpts, act->vac.addresses[i]);
		dir_strings_free(&mine);
		if (!named)
			why = "the recipient is not in To/Cc/Bcc";
		else if (str_eq_ci(sender, a->address))
			why = "mail from the recipient";
	}
	if (why != NULL) {
		log_info("%s: to=<%s> sieve: vacation: no reply to <%s>: %s",
		    a->qid, a->address, sender, why);
		return 0;
	}
	/* :days tracking */
	char *dir = xasprintf("%s/sieve/.vacation", a->root);
	char *track = xasprintf("%s/%016llx", dir, (unsigned long long)
	    hash64(sender, act->vac.handle ? act->vac.handle : ""));
	struct stat st;
	time_t now = time(NULL);
	/* the check, the reply and the record under one lock per mailbox:
	 * deliver's workers run two messages of one sender side by side, and
	 * both would pass the check before either wrote the record */
	int lockfd = -1;
	if (mkdir_p(dir, 0750) == 0) {
		char *lp = xasprintf("%s/.lock", dir);
		lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
			log_warn("%s: vacation lock %s", a->qid, lp);
		free(lp);
	}
	if (stat(track, &st) == 0 && st.st_mtime + (time_t)act->vac.seconds > now) {
		log_info("%s: to=<%s> sieve: vacation: <%s> had a reply within "
		    "%llu days", a->qid, a->address, sender,
		    (unsigned long long)(act->vac.seconds / 86400));
		if (lockfd >= 0)
			close(lockfd);
		free(dir);
		free(track);
		return 0;
	}
	/* the reply */
	struct buf m;
	char date[64], id[QUEUE_ID_MAX + 1];
	struct tm tm;
	char *host = settings_hostname(a->db);
	buf_init(&m, 0);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	queue_new_id(id);
	buf_puts(&m, "From: ");
	vacation_from(a, act->vac.from, &m);
	buf_printf(&m, "\r\nTo: <%s>\r\nSubject: ", sender);
	if (act->vac.subject != NULL) {
		post_header_text(&m, act->vac.subject);
	} else {
		buf_puts(&m, "Auto: ");
		hdr_value(&m, h->subject ? h->subject : "", 998);
	}
	buf_printf(&m, "\r\nDate: %s\r\nMessage-ID: <%s.vacation@%s>\r\n"
	    "Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\n", date, id,
	    host ? host : "localhost");
	if (h->message_id != NULL) {
		buf_puts(&m, "In-Reply-To: ");
		hdr_value(&m, h->message_id, 998);
		buf_puts(&m, "\r\nReferences: ");
		if (h->references != NULL) {
			hdr_value(&m, h->references, 4000);
			buf_puts(&m, "\r\n ");
		}
		hdr_value(&m, h->message_id, 998);
		buf_puts(&m, "\r\n");
	}
	buf_puts(&m, "MIME-Version: 1.0\r\n");
	if (act->vac.mime) {
		/* the reason carries its own MIME header fields and blank
		 * line: only Content-* fields of it may join the header */
		vacation_mime(a, act->arg ? act->arg : "", &m);
	} else {
		buf_puts(&m, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
		crlf_puts(&m, act->arg ? act->arg : "");
	}
	if (m.len < 2 || m.data[m.len - 1] != '\n')
		buf_puts(&m, "\r\n");
	free(host);

	struct queue_env env;
	queue_env_init(&env, id);
	env.arrival = now;
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	/* from the mailbox's post office: DKIM signs it with a domain of
	 * that one only */
	queue_env_set(&env.origin, a->mb->postoffice);
	env.bulk = true;
	queue_env_add_rcpt(&env, sender, NULL, DSN_NOTIFY_NEVER);
	int r = queue_new(a, &env, NULL, m.data, m.len, error_r);
	queue_env_free(&env);
	buf_free(&m);
	if (r == 0) {
		log_info("%s: to=<%s> sieve: vacation reply %s queued to <%s>",
		    a->qid, a->address, id, sender);
		if (mkdir_p(dir, 0750) == 0) {
			int fd = open(track, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0640);
			if (fd >= 0) {
				(void)write_full(fd, sender, strlen(sender));
				close(fd);
			}
			vacation_prune(dir, now);
		}
	}
	if (lockfd >= 0)
		close(lockfd);   /* releases the flock */
	free(dir);
	free(track);
	return r;
}

/* store_keywords - a delivery with IMAP keywords (imap4flags): the same
 * store_deliver, whose keywords take it into the index at once */
static enum store_deliver_result
store_keywords(const struct sieve_deliver_args *a, const char *folder,
	       unsigned int flags, const char *keywords, const char *data,
	       size_t len, const char **error_r)
{
	struct store_delivery d = *a->sd;
	char *file = NULL;
	enum store_deliver_result res;

	d.folder = folder;
	d.create_folder = true;
	d.data = data;
	d.len = len;
	d.src_fd = -1;
	d.flags = flags;
	d.keywords = keywords;
	res = store_deliver(a->root, &d, &file, error_r);
	if (res == STORE_DELIVER_OK)
		log_info("%s: to=<%s> sieve: stored into %s (%s) with keywords "
		    "%s", a->qid, a->address, folder ? folder : "INBOX",
		    file ? file : "", keywords);
	free(file);
	return res;
}

enum sieve_deliver_result
sieve_deliver(const struct sieve_deliver_args *a, const char **error_r)
{
	char *text = NULL, *name = NULL, *cerr = NULL;
	size_t tlen = 0;
	const char *err = NULL;
	enum sieve_deliver_result res = SIEVE_DELIVER_KEEP;
	struct sieve_script *s = NULL;
	struct buf msg;

	int r = sieve_store_active(a->root, &text, &tlen, &name, &err);
	if (r <= 0) {
		if (r < 0)
			log_warnx("%s: to=<%s> sieve: %s: kept", a->qid,
			    a->address, err);
		return SIEVE_DELIVER_KEEP;
	}
	s = sieve_compile(text, tlen, &cerr);
	free(text);
	if (s == NULL) {
		log_warnx("%s: to=<%s> sieve: script %s: %s: kept", a->qid,
		    a->address, name, cerr);
		free(cerr);
		free(name);
		return SIEVE_DELIVER_KEEP;
	}
	buf_init(&msg, SD_MSG_MAX);
	if (file_read(a->msg_path, &msg) < 0) {
		if (errno == EFBIG) {
			log_info("%s: to=<%s> sieve: message larger than %d MB: "
			    "kept unfiltered", a->qid, a->address,
			    SD_MSG_MAX >> 20);
		} else {
			*error_r = "cannot read the queued message";
			res = SIEVE_DELIVER_DEFER;
		}
		goto out;
	}
	struct sieve_message sm = {
		.data = msg.data ? msg.data : "", .len = msg.len,
		.env_from = a->env->sender ? a->env->sender : "",
		.env_to = a->address,
	};
	struct sieve_result sr;
	char *rerr = NULL;
	if (sieve_execute(s, &sm, &sr, &rerr) < 0) {
		log_warnx("%s: to=<%s> sieve: script %s: %s: kept", a->qid,
		    a->address, name, rerr);
		free(rerr);
	}
	struct sd_hdr h;
	sd_hdr_scan(&h, sm.data, sm.len);
	bool keep = false;
	if (sr.discarded && sr.nactions == 0)
		log_info("%s: to=<%s> sieve: discarded", a->qid, a->address);
	/* vnd.postern.noautoreply: the mailbox's auto responder stays quiet */
	if (sr.no_autoreply) {
		log_info("%s: to=<%s> sieve: noautoreply: no auto reply", a->qid,
		    a->address);
		if (a->vacation_r != NULL)
			*a->vacation_r = true;
	}
	for (size_t i = 0; i < sr.nactions && res != SIEVE_DELIVER_DEFER; i++) {
		struct sieve_action *act = &sr.actions[i];
		switch (act->kind) {
		case SIEVE_ACT_KEEP:
		case SIEVE_ACT_FILEINTO: {
			const char *folder = act->kind == SIEVE_ACT_KEEP ? NULL :
			    act->arg;
			if (act->keywords != NULL) {
				switch (store_keywords(a, folder, act->flags,
				    act->keywords, sm.data, sm.len, &err)) {
				case STORE_DELIVER_OK:
					break;
				case STORE_DELIVER_ERROR:
					*error_r = err ? err : "store error";
					res = SIEVE_DELIVER_DEFER;
					break;
				default:
					/* over quota, bad folder: the caller's
					 * INBOX delivery decides */
					keep = true;
					break;
				}
				break;
			}
			if (folder == NULL || str_eq_ci(folder, "INBOX")) {
				keep = true;
				a->sd->flags |= act->flags;
				break;
			}
			struct store_delivery d = *a->sd;
			char *file = NULL;
			d.folder = act->arg;
			d.create_folder = true;
			d.data = sm.data;
			d.len = sm.len;
			d.src_fd = -1;
			d.flags = act->flags;
			switch (store_deliver(a->root, &d, &file, &err)) {
			case STORE_DELIVER_OK:
				log_info("%s: to=<%s> sieve: filed into %s (%s)",
				    a->qid, a->address, act->arg, file ? file : "");
				break;
			case STORE_DELIVER_ERROR:
				*error_r = err ? err : "store error";
				res = SIEVE_DELIVER_DEFER;
				break;
			default:
				log_info("%s: to=<%s> sieve: fileinto %s failed "
				    "(%s): kept", a->qid, a->address, act->arg,
				    err ? err : "over quota");
				keep = true;
				break;
			}
			free(file);
			break;
		}
		case SIEVE_ACT_REDIRECT:
			r = do_redirect(a, &h, act->arg, sm.data, sm.len, &err);
			if (r < 0) {
				*error_r = err ? err : "cannot queue the redirect";
				res = SIEVE_DELIVER_DEFER;
			} else if (r == 0) {
				keep = true;
			}
			break;
		case SIEVE_ACT_REJECT:
			if ((act->ereject ? do_reject(a, act, &err) :
			    do_mdn(a, &h, act, sm.data, sm.len, &err)) < 0) {
				*error_r = err ? err : "cannot queue the rejection";
				res = SIEVE_DELIVER_DEFER;
			}
			break;
		case SIEVE_ACT_VACATION:
			if (a->vacation_r != NULL)
				*a->vacation_r = true;
			if (do_vacation(a, &h, act, &err) < 0)
				log_warnx("%s: to=<%s> sieve: vacation reply not "
				    "queued: %s", a->qid, a->address,
				    err ? err : "error");
			break;
		}
	}
	sd_hdr_free(&h);
	sieve_result_free(&sr);
	if (res != SIEVE_DELIVER_DEFER)
		res = keep ? SIEVE_DELIVER_KEEP : SIEVE_DELIVER_DONE;
out:
	buf_free(&msg);
	sieve_script_free(&s);
	free(name);
	return res;
}
