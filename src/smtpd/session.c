/* session - one inbound SMTP connection: the command state machine, DATA
 * and BDAT into the queue, STARTTLS, AUTH, relay rules */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "checks.h"
#include "commit.h"
#include "db.h"
#include "directory.h"
#include "idn.h"
#include "log.h"
#include "msghdr.h"
#include "logins.h"
#include "netaddr.h"
#include "queue.h"
#include "settings.h"
#include "smtp-data.h"
#include "smtp-parser.h"
#include "smtpd.h"
#include "spf.h"
#include "srs.h"
#include "store.h"
#include "strutil.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"

#define MAX_ERRORS 10          /* bad commands before we hang up */
#define MAX_AUTH_FAILURES 3    /* failed AUTH in one session */
#define MAX_JUNK 100           /* NOOP, RSET, VRFY, EXPN, HELP per message:
				  beyond, each counts as an error */
#define MAX_HOPS 50            /* Received headers: a mail loop beyond */
#define WRITE_CHUNK (64 * 1024)
/* a message up to this size stays in memory until its end, and a worker
 * thread creates, writes and commits its queue item: the event loop never
 * waits on the file system for it */
#define MEM_MAX (1024 * 1024)
#define OUT_HIGH (64 * 1024)   /* replies queued: stop reading commands */
#define IN_HIGH (256 * 1024)   /* input buffered by libevent at most */

enum state {
	S_CMD,
	S_AUTH,             /* waiting for a SASL response line */
	S_DATA,             /* reading DATA */
	S_BDAT,             /* reading a BDAT chunk */
	S_STARTTLS,         /* 220 sent, handshake after it is flushed */
	S_COMMIT,           /* the message is being made durable */
	S_WAIT,             /* a command waits for the client's DNS checks */
	S_CLOSING,          /* last reply being flushed */
};

enum mech { MECH_PLAIN = 1, MECH_LOGIN };

struct session {
	struct session *prev, *next;    /* all sessions, for shutdown */
	struct smtpd *sd;
	struct db *db;
	struct bufferevent *bev;
	int fd;
	bool ssl_bev;               /* bev owns the fd and SSL */
	char sid[24];
	struct sockaddr_storage ss;
	char addr[64];
	const char *listener;
	bool submission, smtps;
	bool tls;
	char tls_info[128];
	bool relay_net;             /* client in smtp.relay_networks */
	struct checks *checks;      /* DNS block lists, reverse DNS */
	char *parked;               /* the command line waiting for them */
	struct spf *spf;            /* SPF of this transaction's sender */
	bool spf_wait;              /* SPF starts once the checks are in */
	char *helo;
	bool esmtp;
	char *auth_user;
	int64_t auth_mailbox;       /* its mailbox id (sender policy) */
	struct service_login *auth_reg; /* logins.h: limit and revocation */
	int errors, auth_failures;
	int junk;                   /* NOOP/RSET/VRFY/EXPN/HELP since a message */
	struct event *life_ev;      /* smtp.max_session_time */
	struct event *data_ev;      /* smtp.data_timeout of one message */
	bool expired;               /* a time limit hit during a commit */
	bool revoked;               /* credentials revoked during a commit */
	enum state state;
	enum mech mech;
	int auth_step;              /* LOGIN: 0 user, 1 password */
	char *auth_login;
	struct smtp_line_reader lr;
	int timeout;
	time_t line_started;        /* monotonic s: first byte of a partial line */
	bool read_paused;           /* client does not read its replies */
	bool dead;                  /* gone during a commit: free after it */
	struct commit_job job;
	off_t commit_size;

	/* the transaction */
	bool in_tx;
	struct queue_env env;
	char sender_domain[SMTP_PATH_MAX];
	uint64_t declared_size;     /* MAIL FROM SIZE=, 0 if none */
	uint64_t max_size;
	int max_rcpts;
	struct queue_writer *qw;
	bool write_failed;
	char write_error[160];
	struct smtp_data dr;
	struct buf out;             /* message bytes waiting for the writer */
	uint64_t msg_size;
	bool too_big;
	bool bdat_mode;
	uint64_t bdat_left;
	bool bdat_last;
	int bdat_err_code;          /* nonzero: the chunk is read and refused */
	char bdat_err[200];
	/* counting Received headers of the message */
	int hops;
	bool hdr_done;
	size_t hdr_linelen;
	char hdr_prefix[9];
	/* the header of submitted mail (sender policy, RFC 6409 8) */
	bool hp_on;                 /* the header is being parsed */
	bool hp_done, hp_failed;
	bool hp_from_check;         /* From:/Sender: must be the login's */
	bool hp_add_fields;         /* add a missing Date:/Message-ID: */
	bool has_date, has_msgid;
	bool hp_lookup_failed;
	char *bad_from;             /* first From:/Sender: address refused */
	struct msghdr_parser hp;
};

static struct session *sessions;

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void session_timeout(struct session *s);
static void spf_checked(void *arg);
static void auth_revoked_close(struct session *s);
static bool auth_still_valid(struct session *s);

/* reply - send one (possibly multi-line, "\n" separated) reply */
static void
reply(struct session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void
reply(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	struct buf text, out;
	va_list ap;

	buf_init(&text, 0);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	buf_init(&out, 0);
	smtp_reply(&out, code, enh, "%s", text.data);
	bufferevent_write(s->bev, out.data, out.len);
	log_debug("%s: > %.*s", s->sid, (int)(out.len > 2 ? out.len - 2 : 0), out.data);
	buf_free(&out);
	buf_free(&text);
}

/* session_close - flush what is queued, then drop the connection */
static void
session_close(struct session *s)
{
	s->state = S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
}

/* --- sender policy of submitted mail -------------------------------------
 * An authenticated client (not from smtp.relay_networks) may use as MAIL
 * FROM, From: and Sender: only the addresses dir_send_as allows its
 * mailbox (post office and mailbox setting send_as); the null sender is
 * allowed (MDNs and DSNs made by clients), its From: is still checked.
 * Mail from authenticated and relay-network clients without Date: or
 * Message-ID: gets them here (RFC 6409 8.2, 8.3). */

/* sender_allowed - whether the login may send as address; *error_r
 * set (and false) when the directory could not tell */
static bool
sender_allowed(struct session *s, const char *address, bool *error_r)
{
	const char *err;
	int r = dir_send_as(s->db, s->auth_mailbox, address, &err);

	*error_r = r < 0;
	if (r < 0)
		log_error("%s: directory: %s", s->sid, err);
	return r > 0;
}

/* header_field - one header field of submitted mail */
static void
header_field(void *ctx, const struct msghdr_field *f)
{
	struct session *s = ctx;

	if (strcasecmp(f->name, "Date") == 0) {
		s->has_date = true;
	} else if (strcasecmp(f->name, "Message-ID") == 0) {
		s->has_msgid = true;
	} else if (s->hp_from_check && s->bad_from == NULL &&
	    !s->hp_lookup_failed && (strcasecmp(f->name, "From") == 0 ||
	    strcasecmp(f->name, "Sender") == 0)) {
		char **list = NULL;
		size_t n = 0;
		bool failed;
		msghdr_addresses(f->value, &list, &n);
		for (size_t i = 0; i < n; i++) {
			if (!sender_allowed(s, list[i], &failed)) {
				if (failed)
					s->hp_lookup_failed = true;
				else
					s->bad_from = xasprintf("%s: %s", f->name, list[i]);
				break;
			}
		}
		msghdr_addresses_free(list, n);
	}
}

/* header_policy_reset - forget the header of the last message */
static void
header_policy_reset(struct session *s)
{
	if (s->hp_on)
		msghdr_parser_deinit(&s->hp);
	s->hp_on = s->hp_done = s->hp_failed = false;
	s->hp_from_check = s->hp_add_fields = false;
	s->has_date = s->has_msgid = s->hp_lookup_failed = false;
	free(s->bad_from);
	s->bad_from = NULL;
}

/* header_policy_start - at DATA/BDAT: parse the header of submitted mail */
static void
header_policy_start(struct session *s)
{
	header_policy_reset(s);
	s->hp_from_check = s->auth_user != NULL && !s->relay_net;
	s->hp_add_fields = s->auth_user != NULL || s->relay_net;
	if (!s->hp_from_check && !s->hp_add_fields)
		return;
	msghdr_parser_init(&s->hp, 0, header_field, s);
	s->hp_on = true;
}

/* header_missing_fields - Date: and Message-ID: the message lacks */
static void
header_missing_fields(struct session *s, struct buf *b)
{
	if (!s->hp_add_fields)
		return;
	if (!s->has_date) {
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		buf_printf(b, "Date: %s\r\n", date);
	}
	if (!s->has_msgid)
		buf_printf(b, "Message-ID: <%s.%lld@%s>\r\n", s->env.id,
		    (long long)time(NULL), s->sd->hostname);
	if (!s->has_date || !s->has_msgid)
		log_info("%s: %s: added%s%s", s->sid, s->env.id,
		    s->has_date ? "" : " Date:", s->has_msgid ? "" : " Message-ID:");
}

/* header_policy_feed - the message bytes from offset before of s->out
 * were just added: parse them, and at the end of the header put the
 * missing fields in front of the blank line */
static void
header_policy_feed(struct session *s, size_t before)
{
	size_t used;
	const char *err;

	if (!s->hp_on || s->hp_done || s->hp_failed)
		return;
	int r = msghdr_parser_feed(&s->hp, s->out.data + before,
	    s->out.len - before, &used, &err);
	if (r < 0) {
		log_info("%s: %s: header not checked: %s", s->sid, s->env.id, err);
		s->hp_failed = true;
		return;
	}
	if (r == 0)
		return;
	s->hp_done = true;
	size_t end = before + used;     /* after the blank line (CRLF) */
	if (end < 2 || s->out.data[end - 2] != '\r' || s->out.data[end - 1] != '\n')
		return;     /* a bare LF: the message is refused at its end */
	struct buf add;
	buf_init(&add, 0);
	header_missing_fields(s, &add);
	if (add.len > 0) {
		size_t tail = s->out.len - (end - 2);
		char *rest = xmalloc(tail);
		memcpy(rest, s->out.data + end - 2, tail);
		buf_truncate(&s->out, end - 2);
		buf_append(&s->out, add.data, add.len);
		buf_append(&s->out, rest, tail);
		free(rest);
	}
	buf_free(&add);
}

/* header_policy_finish - the message is complete: a header without a
 * body gets its missing fields at the end. Returns false after replying
 * a refusal (From:/Sender: not the login's). */
static bool
header_policy_finish(struct session *s, int *code_r, const char **enh_r,
		     char *text, size_t textlen)
{
	if (!s->hp_on)
		return true;
	if (!s->hp_done && !s->hp_failed) {
		msghdr_parser_finish(&s->hp);
		s->hp_done = true;
		if (s->out.len == 0 || s->out.data[s->out.len - 1] == '\n')
			header_missing_fields(s, &s->out);
	}
	if (!s->hp_from_check)
		return true;
	if (s->hp_lookup_failed) {
		*code_r = 451; *enh_r = "4.3.0";
		snprintf(text, textlen, "Temporary lookup failure");
		return false;
	}
	if (s->bad_from != NULL) {
		*code_r = 550; *enh_r = "5.7.1";
		snprintf(text, textlen, "Sender address rejected: %s is not owned "
		    "by user %s", s->bad_from, s->auth_user);
		return false;
	}
	if (s->hp_failed) {
		*code_r = 552; *enh_r = "5.3.4";
		snprintf(text, textlen, "Header section too large to check its "
		    "From: and Sender: (at most %d bytes)", MSGHDR_HEADER_MAX);
		return false;
	}
	return true;
}

/* tx_reset - forget the transaction; a started queue item is removed */
static void
tx_reset(struct session *s)
{
	if (s->qw != NULL)
		queue_writer_abort(&s->qw);
	if (s->data_ev != NULL)
		evtimer_del(s->data_ev);
	spf_free(&s->spf);
	s->spf_wait = false;
	if (s->in_tx)
		queue_env_free(&s->env);
	s->in_tx = false;
	s->sender_domain[0] = '\0';
	s->write_failed = false;
	s->write_error[0] = '\0';
	if (s->out.cap > 4 * WRITE_CHUNK) {
		buf_free(&s->out);
		buf_init(&s->out, 0);
	}
	buf_reset(&s->out);
	s->msg_size = 0;
	s->too_big = false;
	s->bdat_mode = false;
	s->hops = 0;
	s->hdr_done = false;
	s->hdr_linelen = 0;
	header_policy_reset(s);
	s->declared_size = 0;
}

static void
session_free(struct session *s)
{
	log_info("%s: disconnect from [%s]", s->sid, s->addr);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	tx_reset(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (!s->ssl_bev)
		close(s->fd);
	service_conn_release(s->sd->svc, (struct sockaddr *)&s->ss);
	checks_free(&s->checks);
	free(s->parked);
	if (s->life_ev != NULL)
		event_free(s->life_ev);
	if (s->data_ev != NULL)
		event_free(s->data_ev);
	smtp_line_free(&s->lr);
	buf_free(&s->out);
	free(s->helo);
	free(s->auth_user);
	service_login_end(&s->auth_reg);
	free(s->auth_login);
	free(s);
}

/* session_end - free now, or once an in-flight commit has come back */
static void
session_end(struct session *s)
{
	if (s->state == S_COMMIT) {
		s->dead = true;
		if (s->bev != NULL)
			bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_free(s);
}

/* error_count - one more bad command; hang up after too many */
static bool
error_count(struct session *s)
{
	if (++s->errors < MAX_ERRORS)
		return false;
	log_warnx("%s: too many errors from [%s], disconnecting", s->sid, s->addr);
	reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
	    s->sd->hostname);
	session_close(s);
	return true;
}

/* junk_count - commands that move no mail: past MAX_JUNK since the last
 * message, each one is an error (Postfix's smtpd_junk_command_limit), so
 * a client cannot keep a session alive on NOOPs */
static void
junk_count(struct session *s)
{
	if (++s->junk <= MAX_JUNK)
		return;
	if (s->junk == MAX_JUNK + 1)
		log_info("%s: more than %d NOOP/RSET/VRFY/EXPN/HELP from [%s]: "
		    "counted as errors", s->sid, MAX_JUNK, s->addr);
	error_count(s);
}

static void
set_timeouts(struct session *s)
{
	struct timeval tv = { s->timeout, 0 };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IN_HIGH);
}

/* --- message writing ----------------------------------------------------- */

/* scan_headers - count Received: fields of the header section */
static void
scan_headers(struct session *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !s->hdr_done; i++) {
		char c = p[i];
		if (c == '\n') {
			if (s->hdr_linelen == 0 ||
			    (s->hdr_linelen == 1 && s->hdr_prefix[0] == '\r'))
				s->hdr_done = true;
			s->hdr_linelen = 0;
			continue;
		}
		if (s->hdr_linelen < sizeof(s->hdr_prefix)) {
			s->hdr_prefix[s->hdr_linelen++] = c;
			if (s->hdr_linelen == sizeof(s->hdr_prefix) &&
			    strncasecmp(s->hdr_prefix, "Received:", 9) == 0)
				s->hops++;
		} else {
			s->hdr_linelen++;
		}
	}
}

/* flush_out - hand buffered message bytes to the queue writer; a message
 * smaller than MEM_MAX waits in memory for the commit worker */
static void
flush_out(struct session *s, bool force)
{
	const char *err;

	if (s->out.len == 0)
		return;
	if (s->write_failed) {
		buf_reset(&s->out);
		return;
	}
	if (s->qw == NULL) {
		if (s->out.len < MEM_MAX)
			return;
		s->qw = queue_writer_open(s->sd->qpath, s->env.id, &err);
		if (s->qw == NULL) {
			s->write_failed = true;
			snprintf(s->write_error, sizeof(s->write_error), "%s", err);
			buf_reset(&s->out);
			return;
		}
	} else if (!force && s->out.len < WRITE_CHUNK) {
		return;
	}
	if (s->qw != NULL && !s->write_failed &&
	    queue_writer_write(s->qw, s->out.data, s->out.len) < 0) {
		s->write_failed = true;
		snprintf(s->write_error, sizeof(s->write_error), "%s",
		    strerror(errno));
	}
	buf_reset(&s->out);
}

/* received_header - RFC 5321 4.4 trace field of this hop */
static void
received_header(struct session *s, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (s->env.smtputf8)
		proto = s->tls ? (s->auth_user ? "UTF8SMTPSA" : "UTF8SMTPS") :
		    (s->auth_user ? "UTF8SMTPA" : "UTF8SMTP");
	else if (s->esmtp)
		proto = s->tls ? (s->auth_user ? "ESMTPSA" : "ESMTPS") :
		    (s->auth_user ? "ESMTPA" : "ESMTP");
	else
		proto = "SMTP";
	/* RFC 5321 4.4: the name the client gave, then its forward-confirmed
	 * reverse DNS name ("unknown" without one) and address */
	const char *rdns = s->checks != NULL ? checks_rdns(s->checks) : NULL;
	if (rdns == NULL && s->checks == NULL &&
	    smtpd_is_loopback((struct sockaddr *)&s->ss))
		rdns = "localhost";
	if (s->spf != NULL && spf_done(s->spf)) {
		/* RFC 7208 9.1: above our Received */
		char *spf = spf_header(s->spf, s->sd->hostname);
		buf_printf(b, "%s\r\n", spf);
		free(spf);
	}
	buf_printf(b, "Received: from %s (%s [%s])\r\n\tby %s (Postern) with %s "
	    "id %s", s->helo, rdns != NULL ? rdns : "unknown", s->addr,
	    s->sd->hostname, proto, s->env.id);
	if (s->tls)
		buf_printf(b, "\r\n\t(%s)", s->tls_info);
	if (s->env.nrcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", s->env.rcpts[0].address);
	buf_printf(b, ";\r\n\t%s\r\n", date);
}

static void commit_done(struct commit_job *job);

/* message_open - start the message (its queue item is created when it
 * outgrows memory, or by the commit worker) */
static bool
message_open(struct session *s)
{
	struct timeval tv = { settings_get_int(s->db, "smtp.data_timeout", 1200),
	    0 };

	evtimer_add(s->data_ev, &tv);
	buf_reset(&s->out);
	received_header(s, &s->out);
	s->msg_size = 0;
	s->hops = 1;    /* ours */
	s->hdr_done = false;
	s->hdr_linelen = 0;
	header_policy_start(s);
	return true;
}

/* message_finish - commit the item and answer; 250 only once durable */
static void
message_finish(struct session *s, unsigned data_flags)
{
	const char *bad = NULL;
	int code = 0;
	const char *enh = NULL;
	int hcode = 0;
	const char *henh = NULL;
	char htext[SMTP_PATH_MAX + 200];
	bool header_ok = header_policy_finish(s, &hcode, &henh, htext,
	    sizeof(htext));

	if (s->qw != NULL)
		flush_out(s, true);
	if (data_flags & (SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR)) {
		code = 550; enh = "5.6.11";
		bad = "Message refused: bare CR or LF in message text (lines must end with CRLF)";
	} else if (s->too_big || (data_flags & SMTP_DATA_TOO_BIG)) {
		code = 552; enh = "5.3.4";
		bad = "Message size exceeds fixed maximum message size";
	} else if (data_flags & SMTP_DATA_LONG_LINE) {
		code = 550; enh = "5.5.2";
		bad = "Message refused: text line longer than 1000 octets";
	} else if (s->hops > MAX_HOPS) {
		code = 554; enh = "5.4.6";
		bad = "Too many hops (Received headers): mail loop?";
	} else if (!header_ok) {
		code = hcode; enh = henh;
		bad = htext;
	} else if (s->write_failed) {
		log_error("%s: %s: writing the queue item failed: %s", s->sid,
		    s->env.id, s->write_error);
		code = 452; enh = "4.3.1";
		bad = "Insufficient system storage, try again later";
	}
	if (code != 0) {
		log_info("%s: %s: refused: %d %s %s", s->sid, s->env.id, code, enh, bad);
		reply(s, code, enh, "%s", bad);
		tx_reset(s);
		return;
	}
	evtimer_del(s->data_ev);    /* the commit is ours to wait for */
	s->env.hops = s->hops;
	s->env.arrival = time(NULL);
	s->commit_size = (s->qw != NULL ? queue_writer_size(s->qw) : 0) +
	    (off_t)s->out.len;
	/* the commit waits for the disk: on a worker, input held meanwhile */
	memset(&s->job, 0, sizeof(s->job));
	s->job.arg = s;
	s->job.qpath = s->sd->qpath;
	s->job.qw = s->qw;
	s->qw = NULL;
	s->job.data = &s->out;
	s->job.env = &s->env;
	s->job.done = commit_done;
	s->state = S_COMMIT;
	bufferevent_disable(s->bev, EV_READ);
	commit_submit(&s->job);
}

/* commit_done - the commit came back: now, and only now, say 250 */
static void
commit_done(struct commit_job *job)
{
	struct session *s = job->arg;
	off_t size = s->commit_size;

	s->state = S_CMD;
	if (job->rc < 0) {
		log_error("%s: %s: cannot commit queue item: %s", s->sid, s->env.id,
		    job->error);
		if (s->dead) {
			session_free(s);
			return;
		}
		reply(s, 452, "4.3.1", "Insufficient system storage, try again later");
		tx_reset(s);
		goto resume;
	}
	struct buf rcpts;
	buf_init(&rcpts, 0);
	for (size_t i = 0; i < s->env.nrcpts; i++)
		buf_printf(&rcpts, "%s<%s>", i ? "," : "", s->env.rcpts[i].address);
	log_info("%s: %s: accepted from=<%s> to=%s size=%lld nrcpt=%zu%s%s",
	    s->sid, s->env.id, s->env.sender, rcpts.data, (long long)size,
	    s->env.nrcpts, s->auth_user ? " auth=" : "",
	    s->auth_user ? s->auth_user : "");
	buf_free(&rcpts);
	if (s->dead) {
		/* durable, but the client is gone: it may send it again */
		log_info("%s: %s: client left before the reply", s->sid, s->env.id);
		session_free(s);
		return;
	}
	reply(s, 250, "2.0.0", "Ok: queued as %s", s->env.id);
	tx_reset(s);
	s->junk = 0;
resume:
	if (s->expired) {
		/* the session time ran out during the commit */
		session_timeout(s);
		return;
	}
	if (s->revoked) {
		auth_revoked_close(s);
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	on_read(s->bev, s);
}

/* --- commands ------------------------------------------------------------- */

static void
cmd_helo(struct session *s, const char *args, bool ehlo)
{
	if (*args == '\0') {
		reply(s, 501, "5.5.4", "Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		error_count(s);
		return;
	}
	tx_reset(s);
	free(s->helo);
	s->helo = xstrdup(args);
	/* it goes into Received: printable text only */
	for (char *c = s->helo; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '(' || *c == ')')
			*c = '?';
	if (strlen(s->helo) > 255)
		s->helo[255] = '\0';
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, 250, NULL, "%s", s->sd->hostname);
		return;
	}
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s Hello %s [%s]\n", s->sd->hostname, s->helo, s->addr);
	buf_printf(&b, "PIPELINING\nSIZE %llu\n8BITMIME\nBINARYMIME\nCHUNKING\n"
	    "ENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\n",
	    (unsigned long long)s->max_size);
	if (!s->tls && s->sd->tls != NULL)
		buf_puts(&b, "STARTTLS\n");
	if (s->tls || !settings_get_int(s->db, "smtp.require_tls_for_auth", 1))
		buf_puts(&b, "AUTH PLAIN LOGIN\n");
	buf_puts(&b, "HELP");
	reply(s, 250, NULL, "%s", b.data);
	buf_free(&b);
}

/* spf_check_start - SPF (RFC 7208) of the sender of unauthenticated mail
 * from outside smtp.relay_networks; recorded in Received-SPF, never a
 * reason to refuse */
static void
spf_check_start(struct session *s)
{
	if (s->sd->dns == NULL || s->auth_user != NULL || s->relay_net ||
	    !settings_get_int(s->db, "smtp.spf", 1))
		return;
	if (smtpd_is_loopback((struct sockaddr *)&s->ss) &&
	    !settings_get_int(s->db, "smtp.check_loopback", 0))
		return;
	/* the ptr mechanism needs the client's confirmed name: wait for it */
	if (s->checks != NULL && !checks_finished(s->checks)) {
		s->spf_wait = true;
		return;
	}
	const char *validated = s->checks != NULL ?
	    checks_rdns(s->checks) : NULL;
	s->spf = spf_start(s->sd->dns, s->sd->svc->base,
	    (struct sockaddr *)&s->ss, s->env.sender, s->helo, validated,
	    (int)settings_get_int(s->db, "smtp.dns_timeout", 10), spf_checked, s);
	if (spf_done(s->spf))
		log_info("%s: %s: spf=%s: %s", s->sid, s->env.id,
		    spf_result_name(spf_result(s->spf)), spf_reason(s->spf));
}

static void
cmd_mail(struct session *s, const char *args)
{
	struct smtp_path path;
	struct smtp_params prm;
	const char *rest, *err;

	if (s->helo == NULL) {
		reply(s, 503, "5.5.1", "Send EHLO or HELO first");
		error_count(s);
		return;
	}
	if (s->in_tx) {
		reply(s, 503, "5.5.1", "Nested MAIL command");
		error_count(s);
		return;
	}
	if (s->submission && s->auth_user == NULL) {
		reply(s, 530, "5.7.0", "Authentication required");
		error_count(s);
		return;
	}
	if (!auth_still_valid(s))
		return;
	if (smtp_path_parse(args, true, false, &path, &rest, &err) < 0) {
		reply(s, 501, "5.1.7", "Bad sender address: %s", err);
		error_count(s);
		return;
	}
	switch (smtp_params_parse(rest, SMTP_PARAMS_MAIL, &prm, &err)) {
	case SMTP_PARAMS_OK:
		break;
	case SMTP_PARAMS_INVALID:
		reply(s, 501, "5.5.4", "%s", err);
		error_count(s);
		return;
	case SMTP_PARAMS_UNKNOWN:
		reply(s, 555, "5.5.4", "%s", err);
		error_count(s);
		return;
	}
	if (!s->esmtp && (prm.has_size || prm.body || prm.smtputf8 ||
	    prm.ret[0] || prm.envid[0] || prm.has_auth)) {
		reply(s, 555, "5.5.4", "ESMTP parameters need EHLO");
		error_count(s);
		return;
	}
	if (path.utf8 && !prm.smtputf8) {
		reply(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		error_count(s);
		return;
	}
	s->max_size = (uint64_t)settings_get_int(s->db, "smtp.max_message_size",
	    51200) * 1024;
	if (prm.has_size && prm.size > s->max_size) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	if (s->auth_user != NULL && !s->relay_net && !path.null) {
		/* the domain as the address map keeps it (A-labels) */
		char alabel[IDN_DOMAIN_MAX + 1];
		char address[SMTP_PATH_MAX + IDN_DOMAIN_MAX + 2];
		const char *at = strrchr(path.address, '@');
		if (at != NULL && !path.literal &&
		    idn_to_ascii(path.domain, alabel, sizeof(alabel), &err) == 0)
			snprintf(address, sizeof(address), "%.*s@%s",
			    (int)(at - path.address), path.address, alabel);
		else
			snprintf(address, sizeof(address), "%s", path.address);
		bool failed;
		if (!sender_allowed(s, address, &failed)) {
			if (failed) {
				reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			log_info("%s: sender <%s> refused: not owned by user %s",
			    s->sid, path.address, s->auth_user);
			reply(s, 553, "5.7.1", "<%s>: Sender address rejected: not "
			    "owned by user %s", path.address, s->auth_user);
			error_count(s);
			return;
		}
	}
	s->max_rcpts = (int)settings_get_int(s->db, "smtp.max_recipients", 500);
	char id[QUEUE_ID_MAX + 1];
	queue_new_id(id);
	queue_env_init(&s->env, id);
	s->in_tx = true;
	queue_env_set(&s->env.sender, path.null ? "" : path.address);
	/* the domain in A-label form for lookups (RFC 6531: an SMTPUTF8
	 * sender may give U-labels); the address itself is kept as given */
	if (idn_to_ascii(path.domain, s->sender_domain, sizeof(s->sender_domain),
	    &err) < 0)
		s->sender_domain[0] = '\0';
	queue_env_set(&s->env.auth_user, s->auth_user);
	queue_env_set(&s->env.client_addr, s->addr);
	s->env.relay_net = s->relay_net ? 1 : 0;
	queue_env_set(&s->env.client_helo, s->helo);
	queue_env_set(&s->env.body_type, prm.body == SMTP_BODY_7BIT ? "7BIT" :
	    prm.body == SMTP_BODY_8BITMIME ? "8BITMIME" :
	    prm.body == SMTP_BODY_BINARYMIME ? "BINARYMIME" : NULL);
	s->env.smtputf8 = prm.smtputf8;
	s->declared_size = prm.has_size ? prm.size : 0;
	queue_env_set(&s->env.envid, prm.envid[0] ? prm.envid : NULL);
	queue_env_set(&s->env.ret, prm.ret[0] ? prm.ret : NULL);
	log_info("%s: %s: from=<%s> size=%llu%s%s", s->sid, id, s->env.sender,
	    (unsigned long long)prm.size, prm.smtputf8 ? " smtputf8" : "",
	    prm.body ? (prm.body == SMTP_BODY_7BIT ? " body=7BIT" :
	    prm.body == SMTP_BODY_8BITMIME ? " body=8BITMIME" :
	    " body=BINARYMIME") : "");
	spf_check_start(s);
	reply(s, 250, "2.1.0", "Ok");
}

/* is_postmaster - <postmaster> or postmaster@domain (RFC 5321 4.5.1) */
static bool
is_postmaster(const struct smtp_path *path)
{
	const char *at = strrchr(path->address, '@');
	size_t len = at != NULL ? (size_t)(at - path->address) :
	    strlen(path->address);

	return len == 10 && strncasecmp(path->address, "postmaster", 10) == 0;
}

/* dnsbl_refused - a client listed by a DNS block list may only write to
 * postmaster (so that it can ask to be let in); AUTH and
 * smtp.relay_networks are exempt. Refused at RCPT, not at connect: that
 * is when the postmaster exception can be told. */
static bool
dnsbl_refused(struct session *s, const struct smtp_path *path)
{
	const struct checks_zone *z;

	if (s->checks == NULL || s->auth_user != NULL || s->relay_net)
		return false;
	z = checks_listed(s->checks);
	if (z == NULL)
		return false;
	if (is_postmaster(path)) {
		log_info("%s: %s: client [%s] listed by %s, but to=<%s> is the "
		    "postmaster: accepted", s->sid, s->env.id, s->addr, z->zone,
		    path->address);
		return false;
	}
	log_info("%s: %s: refused to=<%s>: client [%s] listed by %s (%s)%s%s",
	    s->sid, s->env.id, path->address, s->addr, z->zone, z->code,
	    z->reason[0] ? ": " : "", z->reason);
	reply(s, 554, "5.7.1", "Service unavailable; client [%s] blocked using "
	    "%s%s%s", s->addr, z->zone, z->reason[0] ? "; " : "", z->reason);
	return true;
}

/* policy_pending - DNS answers the next RCPT must wait for */
static bool
policy_pending(const struct session *s)
{
	return (s->checks != NULL && !checks_finished(s->checks)) ||
	    s->spf_wait || (s->spf != NULL && !spf_done(s->spf));
}

/* relay_allowed - may this client send to domains not hosted here */
static bool
relay_allowed(struct session *s)
{
	return s->auth_user != NULL || s->relay_net;
}

/* rcpt_srs - a bounce (or reply) to an SRS address made by deliver is
 * taken if its hash is ours and it is not older than srs.max_age; it is
 * queued as it is, and the MTA sends it on to the original sender. 1
 * taken, 0 not an SRS0 address, -1 after replying a refusal. */
static int
rcpt_srs(struct session *s, const char *address)
{
	const char *err;
	char orig[SRS_ADDRESS_MAX + 1];
	char *key = settings_secret(s->db, "srs.secret", &err);

	if (key == NULL) {
		log_error("%s: srs.secret: %s", s->sid, err);
		reply(s, 451, "4.3.0", "Temporary lookup failure");
		return -1;
	}
	int days = (int)(settings_get_int(s->db, "srs.max_age", 1814400) / 86400);
	enum srs_result r = srs_reverse(key, strlen(key), address, time(NULL),
	    days, orig, sizeof(orig), &err);
	explicit_bzero(key, strlen(key));
	free(key);
	if (r == SRS_NOT_SRS)
		return 0;
	if (r != SRS_OK) {
		log_info("%s: %s: refused to=<%s>: %s", s->sid, s->env.id,
		    address, err);
		reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: %s",
		    address, err);
		error_count(s);
		return -1;
	}
	log_info("%s: %s: to=<%s> is the SRS address of <%s>", s->sid,
	    s->env.id, address, orig);
	return 1;
}

/* rcpt_quota - a mailbox that is full, or that a message of the size
 * given in MAIL FROM would overfill, is refused now, not bounced after
 * the message is accepted (backscatter to forged senders). The usage is
 * the deliver path's: maildirsize (lib-store quota). 0, or -1 after
 * replying. */
static int
rcpt_quota(struct session *s, const struct dir_route *route,
	   const char *address)
{
	struct dir_mailbox mb;
	const char *err;
	int64_t bytes, count;

	if (route->kind != DIR_KIND_MAILBOX)
		return 0;
	if (dir_mailbox_get(s->db, route->target_id, &mb, &err) <= 0 ||
	    mb.quota_kb <= 0 || (mb.redirect_enabled && !mb.redirect_keep_copy))
		return 0;
	char *root = dir_mailbox_path(s->db, &mb);
	int r = store_quota_usage(root, &bytes, &count, &err);
	free(root);
	if (r < 0) {
		/* deliver decides then */
		log_warnx("%s: quota of <%s> not known: %s", s->sid, address, err);
		return 0;
	}
	int64_t limit = mb.quota_kb * 1024;
	if (bytes >= limit) {
		log_info("%s: %s: refused to=<%s>: mailbox full (%lld of %lld KB)",
		    s->sid, s->env.id, address, (long long)(bytes / 1024),
		    (long long)mb.quota_kb);
		reply(s, 452, "4.2.2", "<%s>: Mailbox full", address);
		return -1;
	}
	if (s->declared_size > 0 &&
	    (uint64_t)bytes + s->declared_size > (uint64_t)limit) {
		log_info("%s: %s: refused to=<%s>: %llu bytes would pass the "
		    "quota (%lld of %lld KB used)", s->sid, s->env.id, address,
		    (unsigned long long)s->declared_size, (long long)(bytes / 1024),
		    (long long)mb.quota_kb);
		reply(s, 552, "5.2.2", "<%s>: Mailbox full: the message would "
		    "exceed its quota", address);
		return -1;
	}
	return 0;
}

/* rcpt_local - a recipient in a hosted domain: known, enabled, not over
 * quota. 0, or -1 after replying. */
static int
rcpt_local(struct session *s, const char *address)
{
	struct dir_route route;
	const char *err;

	switch (dir_resolve(s->db, address, &route, &err)) {
	case DIR_RESOLVE_ERROR:
		log_error("%s: directory: %s", s->sid, err);
		reply(s, 451, "4.3.0", "Temporary lookup failure");
		return -1;
	case DIR_RESOLVE_UNKNOWN:
	case DIR_RESOLVE_REMOTE:
		log_info("%s: %s: unknown recipient <%s>", s->sid, s->env.id,
		    address);
		reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", address);
		error_count(s);
		return -1;
	case DIR_RESOLVE_LOCAL:
		break;
	}
	if (route.disabled) {
		reply(s, 550, "5.2.1", "<%s>: Mailbox disabled", address);
		error_count(s);
		return -1;
	}
	return rcpt_quota(s, &route, address);
}

static void
cmd_rcpt(struct session *s, const char *args)
{
	struct smtp_path path;
	struct smtp_params prm;
	const char *rest, *err;
	char address[SMTP_PATH_MAX + 64];

	if (!s->in_tx) {
		reply(s, 503, "5.5.1", "Need MAIL command first");
		error_count(s);
		return;
	}
	if ((int)s->env.nrcpts >= s->max_rcpts) {
		reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	if (smtp_path_parse(args, false, true, &path, &rest, &err) < 0) {
		reply(s, 501, "5.1.3", "Bad recipient address: %s", err);
		error_count(s);
		return;
	}
	switch (smtp_params_parse(rest, SMTP_PARAMS_RCPT, &prm, &err)) {
	case SMTP_PARAMS_OK:
		break;
	case SMTP_PARAMS_INVALID:
		reply(s, 501, "5.5.4", "%s", err);
		error_count(s);
		return;
	case SMTP_PARAMS_UNKNOWN:
		reply(s, 555, "5.5.4", "%s", err);
		error_count(s);
		return;
	}
	if (path.utf8 && !s->env.smtputf8) {
		reply(s, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
		error_count(s);
		return;
	}
	if (dnsbl_refused(s, &path))
		return;
	/* <postmaster> alone (RFC 5321 4.1.1.3, always accepted): the
	 * postmaster of server.hostname when that domain is hosted, else of
	 * the first hosted domain */
	if (path.domain[0] == '\0') {
		char *pm = NULL;
		if (db_query_text(s->db, &pm, &err, "SELECT name FROM domain "
		    "ORDER BY lower(name) = lower(?) DESC, id LIMIT 1", "t",
		    s->sd->hostname) < 0) {
			log_error("%s: directory: %s", s->sid, err);
			reply(s, 451, "4.3.0", "Temporary lookup failure");
			return;
		}
		if (pm == NULL) {
			reply(s, 550, "5.1.1", "<postmaster>: no hosted domain");
			error_count(s);
			return;
		}
		snprintf(address, sizeof(address), "postmaster@%s", pm);
		snprintf(path.domain, sizeof(path.domain), "%s", pm);
		free(pm);
	} else {
		snprintf(address, sizeof(address), "%s", path.address);
	}
	/* a domain in UTF-8 (SMTPUTF8, RFC 6531) is matched and queued in
	 * its A-label form (IDNA2008): the address map keeps A-labels, and
	 * the MTA and smtp-out look up what is queued. The local part stays
	 * as given. */
	if (!path.literal && idn_has_utf8(path.domain)) {
		char alabel[IDN_DOMAIN_MAX + 1];
		if (idn_to_ascii(path.domain, alabel, sizeof(alabel), &err) < 0) {
			reply(s, 553, "5.1.2", "Bad recipient address: invalid "
			    "internationalized domain name (%s)", err);
			error_count(s);
			return;
		}
		char *at = strrchr(address, '@');
		if (at != NULL)
			snprintf(at + 1, sizeof(address) - (size_t)(at + 1 - address),
			    "%s", alabel);
		snprintf(path.domain, sizeof(path.domain), "%s", alabel);
	}

	struct dir_domain dom;
	int dr = path.literal ? 0 : dir_domain_get(s->db, path.domain, &dom, &err);
	if (dr < 0) {
		log_error("%s: directory: %s", s->sid, err);
		reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	const char *kind = "local";
	if (dr == 0) {
		if (!relay_allowed(s)) {
			log_info("%s: %s: relay denied to=<%s> from [%s]", s->sid,
			    s->env.id, address, s->addr);
			reply(s, 554, "5.7.1", "<%s>: Relay access denied", address);
			error_count(s);
			return;
		}
		kind = "relay";
	} else {
		char *smarthost = NULL;
		if (dir_object_field(s->db, "domain", dom.id, "smarthost",
		    &smarthost, &err) < 0) {
			log_error("%s: directory: %s", s->sid, err);
			reply(s, 451, "4.3.0", "Temporary lookup failure");
			return;
		}
		bool relay_domain = smarthost != NULL && *smarthost != '\0';
		free(smarthost);
		if (dom.disabled || dom.postoffice_disabled) {
			reply(s, 550, "5.2.1", "<%s>: Domain disabled, mail not accepted",
			    address);
			error_count(s);
			return;
		}
		if (relay_domain) {
			/* manual 5.4.2 "act as smart host": all of the domain's mail
			 * goes on to that host, optionally only from our users */
			char *only = NULL;
			if (dir_object_field(s->db, "domain", dom.id,
			    "smarthost_auth_only", &only, &err) < 0) {
				log_error("%s: directory: %s", s->sid, err);
				reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			bool auth_only = only != NULL && strcmp(only, "1") == 0;
			free(only);
			if (auth_only && !relay_allowed(s)) {
				reply(s, 554, "5.7.1", "<%s>: Relay access denied "
				    "(authenticated users only)", address);
				error_count(s);
				return;
			}
			kind = "smarthost";
		} else {
			int sr = srs_is_srs(address) ? rcpt_srs(s, address) : 0;
			if (sr < 0)
				return;
			if (sr > 0)
				kind = "srs";
			else if (rcpt_local(s, address) < 0)
				return;
		}
		if (s->sender_domain[0] != '\0') {
			int bl = dir_sender_blacklisted(s->db, dom.id, s->sender_domain,
			    &err);
			if (bl < 0) {
				log_error("%s: directory: %s", s->sid, err);
				reply(s, 451, "4.3.0", "Temporary lookup failure");
				return;
			}
			if (bl > 0) {
				log_info("%s: %s: sender domain %s blacklisted by %s",
				    s->sid, s->env.id, s->sender_domain, path.domain);
				reply(s, 550, "5.7.1", "<%s>: Sender domain %s is not "
				    "accepted by this domain", address, s->sender_domain);
				return;
			}
		}
	}
	unsigned notify = 0;
	if (prm.notify & SMTP_NOTIFY_NEVER)
		notify |= DSN_NOTIFY_NEVER;
	if (prm.notify & SMTP_NOTIFY_SUCCESS)
		notify |= DSN_NOTIFY_SUCCESS;
	if (prm.notify & SMTP_NOTIFY_FAILURE)
		notify |= DSN_NOTIFY_FAILURE;
	if (prm.notify & SMTP_NOTIFY_DELAY)
		notify |= DSN_NOTIFY_DELAY;
	/* the same recipient twice gets one copy */
	for (size_t i = 0; i < s->env.nrcpts; i++) {
		if (strcasecmp(s->env.rcpts[i].address, address) == 0) {
			reply(s, 250, "2.1.5", "Ok (duplicate recipient)");
			return;
		}
	}
	queue_env_add_rcpt(&s->env, address, prm.orcpt[0] ? prm.orcpt : NULL,
	    notify);
	log_debug("%s: %s: to=<%s> (%s)", s->sid, s->env.id, address, kind);
	reply(s, 250, "2.1.5", "Ok");
}

/* tx_ready - a transaction with recipients; replies if not */
static bool
tx_ready(struct session *s, int *code_r, const char **enh_r,
	 const char **text_r)
{
	if (!s->in_tx) {
		*code_r = 503; *enh_r = "5.5.1"; *text_r = "Need MAIL command first";
		return false;
	}
	if (s->env.nrcpts == 0) {
		*code_r = 554; *enh_r = "5.5.1"; *text_r = "No valid recipients";
		return false;
	}
	return true;
}

static void
cmd_data(struct session *s, const char *args)
{
	int code;
	const char *enh, *text;

	if (*args != '\0') {
		reply(s, 501, "5.5.4", "Syntax: DATA");
		error_count(s);
		return;
	}
	if (!tx_ready(s, &code, &enh, &text)) {
		reply(s, code, enh, "%s", text);
		error_count(s);
		return;
	}
	if (s->bdat_mode || (s->env.body_type != NULL &&
	    strcmp(s->env.body_type, "BINARYMIME") == 0)) {
		reply(s, 503, "5.5.1", "Use BDAT for this transaction");
		error_count(s);
		return;
	}
	if (!message_open(s))
		return;
	smtp_data_init(&s->dr, s->max_size);
	s->state = S_DATA;
	reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static void
cmd_bdat(struct session *s, const char *args)
{
	uint64_t size;
	bool last;
	const char *err, *enh, *text;
	int code;

	if (smtp_bdat_parse(args, &size, &last, &err) < 0) {
		/* the chunk size is unknown: the stream cannot be trusted */
		reply(s, 501, "5.5.4", "%s", err);
		log_warnx("%s: bad BDAT (%s), closing", s->sid, err);
		session_close(s);
		return;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_err_code = 0;
	s->state = S_BDAT;
	if (!tx_ready(s, &code, &enh, &text)) {
		s->bdat_err_code = code;
		snprintf(s->bdat_err, sizeof(s->bdat_err), "%s %s", enh, text);
	} else if (!s->bdat_mode) {
		if (!message_open(s)) {
			/* message_open replied: swallow the chunk silently */
			s->bdat_err_code = -1;
			tx_reset(s);
		} else {
			s->bdat_mode = true;
		}
	}
	/* a chunk of 0 octets is finished by the read loop we are called
	 * from (never recurse into it: it may free the session) */
}

/* bdat_chunk_done - the last byte of a chunk was read */
static void
bdat_chunk_done(struct session *s)
{
	s->state = S_CMD;
	if (s->bdat_err_code != 0) {
		if (s->bdat_err_code > 0)
			reply(s, s->bdat_err_code, NULL, "%s", s->bdat_err);
		error_count(s);
		return;
	}
	if (s->too_big) {
		message_finish(s, 0);    /* replies 552 and resets */
		return;
	}
	if (s->bdat_last) {
		message_finish(s, 0);
		return;
	}
	flush_out(s, false);
	reply(s, 250, "2.0.0", "%llu octets received",
	    (unsigned long long)s->msg_size);
}

/* auth_failed_count - after a failed AUTH: hang up after too many */
static void
auth_failed_count(struct session *s)
{
	if (++s->auth_failures >= MAX_AUTH_FAILURES) {
		reply(s, 421, "4.7.0", "%s Too many authentication failures",
		    s->sd->hostname);
		session_close(s);
		return;
	}
	error_count(s);
}

/* on_revoked - the mailbox's password changed, or it (or its post office)
 * was disabled or deleted: 421 and close, after the message being
 * committed, if any, is answered (it was accepted before) */
static void
on_revoked(void *ctx)
{
	struct session *s = ctx;

	log_info("%s: %s: credentials revoked, closing", s->sid, s->auth_user);
	if (s->state == S_CLOSING || s->state == S_STARTTLS)
		return;     /* the handshake forgets the AUTH anyway */
	if (s->state == S_COMMIT) {
		s->revoked = true;
		return;
	}
	auth_revoked_close(s);
}

/* auth_revoked_close - 421 4.7.0 and close (a transaction not committed
 * is dropped) */
static void
auth_revoked_close(struct session *s)
{
	tx_reset(s);
	reply(s, 421, "4.7.0", "%s Your credentials were changed or revoked; "
	    "closing", s->sd->hostname);
	session_close(s);
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
}

/* auth_register - count the AUTH per mailbox and address
 * (smtp.max_userip_connections) and have it revoked with the mailbox's
 * credentials; false after replying */
static bool
auth_register(struct session *s, const struct dir_mailbox *mb)
{
	int limit = (int)settings_get_int(s->db, "smtp.max_userip_connections",
	    10);

	service_login_end(&s->auth_reg);
	if (service_login_start(s->sd->svc, &s->auth_reg,
	    (struct sockaddr *)&s->ss, mb, limit, on_revoked, s))
		return true;
	log_info("%s: auth refused: %s@%s over smtp.max_userip_connections (%d) "
	    "from [%s]", s->sid, mb->name, mb->postoffice, limit, s->addr);
	reply(s, 454, "4.7.0", "Too many sessions of this account from your "
	    "address (at most %d), try again later", limit);
	return false;
}

/* auth_still_valid - before a message: a session whose credentials were
 * revoked since its AUTH sends nothing more (421, closed); true when it
 * may go on (or did not authenticate) */
static bool
auth_still_valid(struct session *s)
{
	if (s->auth_user == NULL || service_login_valid(&s->auth_reg))
		return true;
	log_info("%s: %s: credentials revoked, refusing MAIL", s->sid,
	    s->auth_user);
	auth_revoked_close(s);
	return false;
}

/* auth_check - check the credentials and answer */
static void
auth_check(struct session *s, const char *login_raw, const char *password)
{
	struct dir_mailbox mb;
	const char *err;
	const char *mech = s->mech == MECH_PLAIN ? "PLAIN" : "LOGIN";
	char login[256];

	s->state = S_CMD;
	/* the login goes to the log: no control bytes, bounded */
	snprintf(login, sizeof(login), "%s", login_raw);
	for (char *c = login; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			reply(s, 501, "5.5.2", "Malformed user name");
			error_count(s);
			return;
		}
	}
	if (throttle_blocked(s->sd->svc, (struct sockaddr *)&s->ss)) {
		log_warnx("%s: auth refused: too many failures from [%s] "
		    "(auth.max_failures)", s->sid, s->addr);
		reply(s, 454, "4.7.0", "Too many failed logins from your address, "
		    "try again later");
		error_count(s);
		return;
	}
	enum dir_auth_result ar = dir_authenticate(s->db, login, password, &mb,
	    &err);
	if (ar == DIR_AUTH_OK)
		throttle_ok(s->sd->svc, (struct sockaddr *)&s->ss);
	else if (ar != DIR_AUTH_ERROR)
		throttle_failed(s->sd->svc, (struct sockaddr *)&s->ss);
	switch (ar) {
	case DIR_AUTH_OK:
		if (!auth_register(s, &mb))
			return;
		free(s->auth_user);
		s->auth_user = xasprintf("%s@%s", mb.name, mb.postoffice);
		s->auth_mailbox = mb.id;
		log_info("%s: auth ok: user=%s login=%s mech=%s", s->sid,
		    s->auth_user, login, mech);
		reply(s, 235, "2.7.0", "Authentication successful");
		return;
	case DIR_AUTH_ERROR:
		log_error("%s: auth: directory: %s", s->sid, err);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	case DIR_AUTH_FAILED:
		log_info("%s: auth failed: login=%s mech=%s from [%s]", s->sid,
		    login, mech, s->addr);
		reply(s, 535, "5.7.8", "Authentication credentials invalid");
		break;
	case DIR_AUTH_DISABLED:
		log_info("%s: auth refused: login=%s disabled", s->sid, login);
		reply(s, 535, "5.7.8", "Authentication refused: account disabled");
		break;
	case DIR_AUTH_PREVENTED:
		log_info("%s: auth refused: login=%s may not authenticate", s->sid,
		    login);
		reply(s, 535, "5.7.8", "Authentication refused for this account");
		break;
	}
	auth_failed_count(s);
}

/* auth_nul - a NUL byte in the user name or password: a failed login,
 * counted like one (cut at the NUL, a password could match a shorter
 * one) */
static void
auth_nul(struct session *s)
{
	s->state = S_CMD;
	throttle_failed(s->sd->svc, (struct sockaddr *)&s->ss);
	log_info("%s: auth failed: NUL byte in the user name or password from "
	    "[%s]", s->sid, s->addr);
	reply(s, 535, "5.7.8", "Authentication credentials invalid");
	auth_failed_count(s);
}

/* auth_response - one SASL response (base64, "=" for empty, "*" cancels) */
static void
auth_response(struct session *s, const char *line)
{
	struct buf dec;

	if (strcmp(line, "*") == 0) {
		s->state = S_CMD;
		free(s->auth_login);
		s->auth_login = NULL;
		reply(s, 501, "5.7.0", "Authentication cancelled");
		error_count(s);
		return;
	}
	buf_init(&dec, 8192);
	if (strcmp(line, "=") != 0 &&
	    smtp_base64_decode(line, strlen(line), &dec) < 0) {
		s->state = S_CMD;
		buf_free(&dec);
		reply(s, 501, "5.5.2", "Invalid base64 data");
		error_count(s);
		return;
	}
	if (s->mech == MECH_PLAIN) {
		const char *authz, *authc, *pw;
		int pr = smtp_sasl_plain(dec.data, dec.len, &authz, &authc, &pw);
		if (pr == SMTP_SASL_NUL) {
			auth_nul(s);
		} else if (pr < 0) {
			s->state = S_CMD;
			reply(s, 501, "5.5.2", "Malformed PLAIN response");
			error_count(s);
		} else if (*authz != '\0' && strcmp(authz, authc) != 0) {
			s->state = S_CMD;
			log_info("%s: auth refused: %s may not act as %s", s->sid,
			    authc, authz);
			reply(s, 535, "5.7.8", "Authorization identity refused");
			error_count(s);
		} else {
			auth_check(s, authc, pw);
		}
	} else if (s->auth_step == 0) {
		if (dec.len > 0 && memchr(dec.data, '\0', dec.len) != NULL) {
			auth_nul(s);
		} else if (dec.len == 0) {
			s->state = S_CMD;
			reply(s, 501, "5.5.2", "Malformed user name");
			error_count(s);
		} else {
			free(s->auth_login);
			s->auth_login = xstrdup(dec.data);
			s->auth_step = 1;
			reply(s, 334, NULL, "UGFzc3dvcmQ6");
		}
	} else {
		if (dec.len > 0 && memchr(dec.data, '\0', dec.len) != NULL) {
			auth_nul(s);
		} else {
			auth_check(s, s->auth_login, dec.data);
		}
		free(s->auth_login);
		s->auth_login = NULL;
	}
	explicit_bzero(dec.data, dec.len);
	buf_free(&dec);
}

static void
cmd_auth(struct session *s, const char *args)
{
	char mech[32];
	size_t n = strcspn(args, " ");

	if (!s->esmtp) {
		reply(s, 503, "5.5.1", "Send EHLO first");
		error_count(s);
		return;
	}
	if (s->auth_user != NULL) {
		reply(s, 503, "5.5.1", "Already authenticated");
		error_count(s);
		return;
	}
	if (s->in_tx) {
		reply(s, 503, "5.5.1", "AUTH not allowed during a mail transaction");
		error_count(s);
		return;
	}
	if (!s->tls && settings_get_int(s->db, "smtp.require_tls_for_auth", 1)) {
		reply(s, 538, "5.7.11", "Encryption required for requested "
		    "authentication mechanism (use STARTTLS)");
		error_count(s);
		return;
	}
	if (n == 0 || n >= sizeof(mech)) {
		reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		error_count(s);
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	const char *ir = args + n;
	while (*ir == ' ')
		ir++;
	if (strcasecmp(mech, "PLAIN") == 0)
		s->mech = MECH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		s->mech = MECH_LOGIN;
	else {
		reply(s, 504, "5.5.4", "Unrecognized authentication mechanism");
		error_count(s);
		return;
	}
	s->auth_step = 0;
	s->state = S_AUTH;
	if (*ir != '\0') {
		auth_response(s, ir);
		return;
	}
	reply(s, 334, NULL, "%s", s->mech == MECH_PLAIN ? "" : "VXNlcm5hbWU6");
}

static void
cmd_starttls(struct session *s, const char *args)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (*args != '\0') {
		reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		error_count(s);
		return;
	}
	if (s->tls) {
		reply(s, 503, "5.5.1", "TLS already active");
		error_count(s);
		return;
	}
	if (s->sd->tls == NULL) {
		reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	/* RFC 3207 5 / CVE-2011-0411: nothing pipelined after STARTTLS may
	 * be taken as a command once TLS is up */
	size_t junk = evbuffer_get_length(in);
	if (junk > 0) {
		log_warnx("%s: discarding %zu bytes sent after STARTTLS", s->sid,
		    junk);
		evbuffer_drain(in, junk);
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	s->state = S_STARTTLS;
	bufferevent_disable(s->bev, EV_READ);
}

/* start_tls - the 220 is out: put TLS on the connection and forget what
 * was said in the clear (RFC 3207 4.2) */
static void
start_tls(struct session *s)
{
	struct event_base *base = s->sd->svc->base;
	SSL *ssl = SSL_new(s->sd->tls);

	bufferevent_free(s->bev);
	s->bev = NULL;
	if (ssl == NULL) {
		log_warnx("%s: SSL_new failed", s->sid);
		session_free(s);
		return;
	}
	s->bev = bufferevent_openssl_socket_new(base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		log_warnx("%s: cannot start TLS", s->sid);
		session_free(s);
		return;
	}
	s->ssl_bev = true;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	tx_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = false;
	free(s->auth_user);     /* RFC 3207 4.2: forget AUTH too */
	s->auth_user = NULL;
	s->auth_mailbox = 0;
	service_login_end(&s->auth_reg);
	buf_reset(&s->lr.line);
	s->lr.overflow = false;
	s->state = S_CMD;
}

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	const char *err;
	int code;

	if (smtp_command_parse(line, len, &cmd, &code, &err) < 0) {
		reply(s, code, code == 501 ? "5.5.4" : "5.5.2", "%s", err);
		error_count(s);
		return;
	}
	log_debug("%s: < %s", s->sid, cmd.verb == SMTP_CMD_AUTH ? "AUTH ..." : line);
	switch (cmd.verb) {
	case SMTP_CMD_HELO: cmd_helo(s, cmd.args, false); break;
	case SMTP_CMD_EHLO: cmd_helo(s, cmd.args, true); break;
	case SMTP_CMD_MAIL: cmd_mail(s, cmd.args); break;
	case SMTP_CMD_RCPT:
		/* the verdict of the DNS checks applies from the first RCPT:
		 * wait for it (reading stops; pipelined input stays queued) */
		if (policy_pending(s)) {
			log_debug("%s: waiting for the DNS checks", s->sid);
			s->parked = xstrdup(line);
			s->state = S_WAIT;
			bufferevent_disable(s->bev, EV_READ);
			break;
		}
		cmd_rcpt(s, cmd.args);
		break;
	case SMTP_CMD_DATA: cmd_data(s, cmd.args); break;
	case SMTP_CMD_BDAT: cmd_bdat(s, cmd.args); break;
	case SMTP_CMD_AUTH: cmd_auth(s, cmd.args); break;
	case SMTP_CMD_STARTTLS: cmd_starttls(s, cmd.args); break;
	case SMTP_CMD_RSET:
		tx_reset(s);
		reply(s, 250, "2.0.0", "Ok");
		junk_count(s);
		break;
	case SMTP_CMD_NOOP:
		reply(s, 250, "2.0.0", "Ok");
		junk_count(s);
		break;
	case SMTP_CMD_QUIT:
		reply(s, 221, "2.0.0", "Bye");
		session_close(s);
		break;
	case SMTP_CMD_VRFY:
		reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		junk_count(s);
		break;
	case SMTP_CMD_EXPN:
		reply(s, 502, "5.5.1", "EXPN not available");
		junk_count(s);
		break;
	case SMTP_CMD_HELP:
		reply(s, 214, "2.0.0", "Postern SMTP: see RFC 5321");
		junk_count(s);
		break;
	case SMTP_CMD_UNKNOWN:
		reply(s, 500, "5.5.2", "Syntax error, command unrecognized");
		error_count(s);
		break;
	}
}

/* on_line - a complete command or SASL line, or a line error */
static void
on_line(struct session *s, enum smtp_line_result r)
{
	const char *why = NULL;

	switch (r) {
	case SMTP_LINE_MORE:
		return;
	case SMTP_LINE_OK:
		break;
	case SMTP_LINE_TOO_LONG:
		why = "Line too long";
		break;
	case SMTP_LINE_BARE_LF:
		why = "Bare <LF> received: command lines must end with <CR><LF>";
		break;
	case SMTP_LINE_NUL:
		why = "NUL byte in command";
		break;
	}
	if (why != NULL) {
		if (s->state == S_AUTH) {
			s->state = S_CMD;
			free(s->auth_login);
			s->auth_login = NULL;
		}
		reply(s, 500, "5.5.2", "%s", why);
		error_count(s);
		return;
	}
	/* copy: the handler may reset the reader */
	char *line = xstrdup(s->lr.line.data);
	size_t len = s->lr.line.len;
	buf_reset(&s->lr.line);
	if (s->state == S_AUTH)
		auth_response(s, line);
	else
		dispatch(s, line, len);
	explicit_bzero(line, len);
	free(line);
}

/* mono_seconds - a monotonic clock in seconds */
static time_t
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* session_timeout - 421 and close; the reply gets 5 s to leave */
static void
session_timeout(struct session *s)
{
	log_info("%s: timeout from [%s]", s->sid, s->addr);
	reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->sd->hostname);
	session_close(s);
	/* the reply may not get out to a client that does not read */
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
}

/* data_timeout - smtp.data_timeout: the whole message (DATA, or BDAT
 * from the first chunk to the last) must arrive within it, however often
 * bytes come (a client trickling a byte per idle period) */
static void
data_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_COMMIT || s->state == S_CLOSING)
		return;
	log_info("%s: %s: message not complete within smtp.data_timeout from "
	    "[%s] (%llu bytes), closing", s->sid, s->in_tx ? s->env.id : "-",
	    s->addr, (unsigned long long)(s->msg_size + s->out.len));
	tx_reset(s);
	session_timeout(s);
}

/* life_timeout - smtp.max_session_time: a session ends at this age (after
 * the commit in progress, if any, is answered) */
static void
life_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_CLOSING)
		return;
	log_info("%s: session from [%s] reached smtp.max_session_time, closing",
	    s->sid, s->addr);
	if (s->state == S_COMMIT) {
		s->expired = true;
		return;
	}
	if (s->ssl_bev && !s->tls) {
		/* mid-handshake: no reply can leave */
		session_free(s);
		return;
	}
	tx_reset(s);
	session_timeout(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		if (s->state == S_CLOSING || s->state == S_STARTTLS ||
		    s->state == S_COMMIT || s->state == S_WAIT)
			break;
		/* a client that pipelines without reading its replies waits */
		if (evbuffer_get_length(bufferevent_get_output(bev)) > OUT_HIGH) {
			s->read_paused = true;
			bufferevent_disable(bev, EV_READ);
			break;
		}
		/* a BDAT chunk of 0 octets ends without input */
		if (s->state == S_BDAT && s->bdat_left == 0) {
			bdat_chunk_done(s);
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0;
		switch (s->state) {
		case S_CMD:
		case S_AUTH: {
			enum smtp_line_result r = smtp_line_feed(&s->lr, v.iov_base,
			    v.iov_len, &used);
			evbuffer_drain(in, used);
			/* each byte restarts the idle timeout: a line trickled in
			 * a byte at a time (slowloris) must still be complete
			 * within smtp.timeout */
			if (r != SMTP_LINE_MORE) {
				s->line_started = 0;
			} else if (s->line_started == 0) {
				s->line_started = mono_seconds();
			} else if (mono_seconds() - s->line_started >= s->timeout) {
				session_timeout(s);
				break;
			}
			on_line(s, r);
			break;
		}
		case S_DATA: {
			size_t before = s->out.len;
			int r = smtp_data_feed(&s->dr, v.iov_base, v.iov_len, &used,
			    &s->out);
			evbuffer_drain(in, used);
			if (!s->hdr_done)
				scan_headers(s, s->out.data + before, s->out.len - before);
			header_policy_feed(s, before);
			flush_out(s, false);
			if (r == 1) {
				s->state = S_CMD;
				message_finish(s, s->dr.flags);
			}
			break;
		}
		case S_BDAT: {
			used = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
			if (s->bdat_err_code == 0) {
				s->msg_size += used;
				if (s->msg_size > s->max_size)
					s->too_big = true;
				if (!s->too_big) {
					size_t before = s->out.len;
					buf_append(&s->out, v.iov_base, used);
					if (!s->hdr_done)
						scan_headers(s, s->out.data + before, used);
					header_policy_feed(s, before);
					flush_out(s, false);
				}
			}
			evbuffer_drain(in, used);
			s->bdat_left -= used;
			if (s->bdat_left == 0)
				bdat_chunk_done(s);
			break;
		}
		default:
			break;
		}
	}
	if (s->state == S_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (s->state == S_CLOSING)
		session_free(s);
	else if (s->state == S_STARTTLS)
		start_tls(s);
	else if (s->read_paused && s->state != S_COMMIT &&
	    s->state != S_WAIT) {
		s->read_paused = false;
		bufferevent_enable(bev, EV_READ);
		on_read(bev, s);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_COMMIT) {
		/* whatever happened, the commit finishes first */
		session_end(s);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl != NULL) {
			const char *sni = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
			s->tls = true;
			tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
			log_info("%s: TLS established: %s%s%s", s->sid, s->tls_info,
			    sni ? " sni=" : "", sni ? sni : "");
		}
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != S_CLOSING) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl != NULL && !SSL_is_init_finished(ssl)) {
			/* no reply can leave during a handshake, and the write
			 * timeout is not armed then: drop it now */
			log_info("%s: timeout in TLS handshake from [%s]", s->sid,
			    s->addr);
			session_free(s);
			return;
		}
		session_timeout(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e != 0) {
			char msg[256];
			ERR_error_string_n(e, msg, sizeof(msg));
			log_info("%s: TLS error from [%s]: %s", s->sid, s->addr, msg);
		} else if (errno != 0 && errno != ECONNRESET && errno != EPIPE) {
			log_info("%s: connection error from [%s]: %s", s->sid, s->addr,
			    strerror(errno));
		}
	} else if ((what & BEV_EVENT_EOF) && s->state != S_CLOSING) {
		log_info("%s: lost connection from [%s]%s", s->sid, s->addr,
		    s->state == S_DATA || s->state == S_BDAT ? " in message" : "");
	}
	session_free(s);
}

/* resume_parked - the DNS answers a command waits for are in: run it */
static void
resume_parked(struct session *s)
{
	if (s->state != S_WAIT || policy_pending(s))
		return;
	char *line = s->parked;
	s->parked = NULL;
	s->state = S_CMD;
	dispatch(s, line, strlen(line));
	free(line);
	if (s->state == S_CMD && !s->read_paused)
		bufferevent_enable(s->bev, EV_READ);
	on_read(s->bev, s);     /* may free s */
}

/* spf_checked - the SPF result of the sender is in */
static void
spf_checked(void *arg)
{
	struct session *s = arg;

	log_info("%s: %s: spf=%s from=<%s> [%s]%s%s", s->sid, s->env.id,
	    spf_result_name(spf_result(s->spf)), s->env.sender, s->addr,
	    spf_reason(s->spf)[0] ? ": " : "", spf_reason(s->spf));
	resume_parked(s);
}

/* checks_done - the client's DNS answers are in: run a waiting command */
static void
checks_done(void *arg)
{
	struct session *s = arg;
	const struct checks_zone *z = checks_listed(s->checks);

	if (z != NULL)
		log_info("%s: client [%s] listed by %s (%s)%s%s", s->sid, s->addr,
		    z->zone, z->code, z->reason[0] ? ": " : "", z->reason);
	log_info("%s: reverse DNS of [%s]: %s", s->sid, s->addr,
	    checks_rdns(s->checks) ? checks_rdns(s->checks) :
	    "unknown (none, or not forward-confirmed)");
	if (s->spf_wait) {
		s->spf_wait = false;
		if (s->in_tx)
			spf_check_start(s);
	}
	resume_parked(s);
}

/* client_checks_start - ask DNS about the client (smtpd.h) */
static void
client_checks_start(struct session *s)
{
	struct smtpd *sd = s->sd;
	char zones[DNSBL_MAX_ZONES][DNSBL_ZONE_MAX + 1];
	size_t nzones = 0;
	const char *bad;

	if (sd->dns == NULL)
		return;
	if (smtpd_is_loopback((struct sockaddr *)&s->ss) &&
	    !settings_get_int(s->db, "smtp.check_loopback", 0))
		return;
	if (!s->relay_net) {
		char *list = settings_get_str(s->db, "smtp.dnsbl");
		nzones = dnsbl_zones_parse(list, zones, DNSBL_MAX_ZONES, &bad);
		if (bad != NULL)
			log_warnx("smtp.dnsbl: %s (entry skipped)", bad);
		free(list);
	}
	s->checks = checks_start(sd->dns, sd->svc->base,
	    (struct sockaddr *)&s->ss, s->sid, zones, nzones, true,
	    (int)settings_get_int(s->db, "smtp.dns_timeout", 10), checks_done, s);
}

void
session_start(struct smtpd *sd, struct service_listener *l, int fd,
	      const struct sockaddr *sa, socklen_t salen)
{
	struct service *svc = sd->svc;
	struct session *s = xcalloc(1, sizeof(*s));
	const char *bad;

	s->sd = sd;
	s->db = svc->db;
	s->fd = fd;
	memcpy(&s->ss, sa, salen < sizeof(s->ss) ? salen : sizeof(s->ss));
	sockaddr_ntop(sa, s->addr, sizeof(s->addr));
	snprintf(s->sid, sizeof(s->sid), "s%06lx%04x", ++sd->sessions,
	    (unsigned)getpid() & 0xffff);
	s->listener = l->name;
	s->submission = strcmp(l->name, "submission") == 0;
	s->smtps = strcmp(l->name, "smtps") == 0;
	s->timeout = (int)settings_get_int(s->db, "smtp.timeout", 300);
	s->max_size = (uint64_t)settings_get_int(s->db, "smtp.max_message_size",
	    51200) * 1024;
	char *nets = settings_get_str(s->db, "smtp.relay_networks");
	s->relay_net = smtpd_cidr_match(nets, sa, &bad);
	if (bad != NULL)
		log_warnx("smtp.relay_networks: %s (entry skipped)", bad);
	free(nets);
	smtp_line_init(&s->lr, SMTP_LINE_AUTH_MAX);
	buf_init(&s->out, 0);
	s->next = sessions;
	if (sessions != NULL)
		sessions->prev = s;
	sessions = s;
	s->state = S_CMD;
	log_info("%s: connect from [%s] on %s%s", s->sid, s->addr, l->name,
	    s->relay_net ? " (relay network)" : "");
	client_checks_start(s);
	struct timeval life = { settings_get_int(s->db, "smtp.max_session_time",
	    3600), 0 };
	s->life_ev = evtimer_new(svc->base, life_timeout, s);
	s->data_ev = evtimer_new(svc->base, data_timeout, s);
	evtimer_add(s->life_ev, &life);

	if (s->smtps) {
		SSL *ssl = SSL_new(sd->tls);
		if (ssl != NULL)
			s->bev = bufferevent_openssl_socket_new(svc->base, fd, ssl,
			    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL) {
			if (ssl != NULL)
				SSL_free(ssl);
			log_warnx("%s: cannot start TLS", s->sid);
			session_free(s);
			return;
		}
		s->ssl_bev = true;
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	} else {
		s->bev = bufferevent_socket_new(svc->base, fd, 0);
		if (s->bev == NULL) {
			log_warnx("%s: bufferevent_socket_new failed", s->sid);
			session_free(s);
			return;
		}
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	reply(s, 220, NULL, "%s ESMTP Postern", sd->hostname);
}

void
session_shutdown_all(struct smtpd *sd)
{
	while (sessions != NULL) {
		struct session *s = sessions;
		/* a message being received is not accepted: the client retries */
		if (s->bev != NULL && s->state != S_CLOSING &&
		    s->state != S_STARTTLS &&
		    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
			struct buf out;
			buf_init(&out, 0);
			smtp_reply(&out, 421, "4.3.2", "%s Service shutting down",
			    sd->hostname);
			/* best effort, the socket is non-blocking */
			ssize_t n = s->ssl_bev ? 0 : write(s->fd, out.data, out.len);
			(void)n;
			buf_free(&out);
		}
		if (s->state == S_COMMIT) {
			/* submitted after the workers stopped: never committed */
			if (s->job.qw != NULL)
				queue_writer_abort(&s->job.qw);
			s->state = S_CLOSING;
		}
		session_free(s);
	}
}
