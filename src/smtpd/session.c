/* session - one inbound SMTP session on the connection layer
 * (lib-service/conn.h): the command loop and dispatch, HELO, STARTTLS,
 * the time limits, the client's DNS checks. MAIL and RCPT are in
 * smtpd-policy.c, DATA and BDAT in smtpd-data.c, AUTH in smtpd-auth.c;
 * smtpd-session.h has the session and its transaction. */
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
#include "smtpd-session.h"
#include "smtpd.h"
#include "spf.h"
#include "srs.h"
#include "store.h"
#include "strutil.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"

static struct session *sessions;

/* session_reply - see smtpd-session.h */
void
session_reply(struct session *s, int code, const char *enh, const char *fmt, ...)
{
	struct buf text, out;
	va_list ap;

	buf_init(&text, 0);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	buf_init(&out, 0);
	smtp_reply(&out, code, enh, "%s", text.data);
	if (s->c != NULL)
		conn_write(s->c, out.data, out.len);
	log_debug("%s: > %.*s", s->sid, (int)(out.len > 2 ? out.len - 2 : 0), out.data);
	buf_free(&out);
	buf_free(&text);
}

/* session_close - flush what is queued, then drop the connection */
void
session_close(struct session *s)
{
	s->state = S_CLOSING;
	conn_close(s->c, 0);    /* the reply gets 5 s to leave */
}

/* tx_reset - forget the transaction; a started queue item is removed */
void
tx_reset(struct session *s)
{
	if (s->tx.qw != NULL)
		queue_writer_abort(&s->tx.qw);
	if (s->data_ev != NULL)
		evtimer_del(s->data_ev);
	spf_free(&s->tx.spf);
	s->tx.spf_wait = false;
	if (s->in_tx)
		queue_env_free(&s->tx.env);
	s->in_tx = false;
	s->tx.sender_domain[0] = '\0';
	s->tx.write_failed = false;
	s->tx.write_error[0] = '\0';
	if (s->tx.out.cap > 4 * WRITE_CHUNK) {
		buf_free(&s->tx.out);
		buf_init(&s->tx.out, 0);
	}
	buf_reset(&s->tx.out);
	s->tx.msg_size = 0;
	s->tx.too_big = false;
	s->tx.bdat_mode = false;
	s->tx.burl_urls = 0;
	s->tx.burl_read = 0;
	s->tx.hops = 0;
	s->tx.hdr_done = false;
	s->tx.hdr_linelen = 0;
	header_policy_reset(s);
	s->tx.declared_size = 0;
}

void
session_free(struct session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	tx_reset(s);
	if (s->c != NULL)
		s->c->ctx = NULL;
	checks_free(&s->checks);
	free(s->parked);
	if (s->life_ev != NULL)
		event_free(s->life_ev);
	if (s->data_ev != NULL)
		event_free(s->data_ev);
	smtp_line_free(&s->lr);
	buf_free(&s->tx.out);
	free(s->helo);
	free(s->auth_user);
	service_login_end(&s->auth_reg);
	free(s->auth_login);
	free(s->auth_checking);
	free(s);
}

/* session_error - one more bad command; hang up after too many */
bool
session_error(struct session *s)
{
	if (++s->errors < MAX_ERRORS)
		return false;
	log_warnx("%s: too many errors from [%s], disconnecting", s->sid, s->addr);
	session_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
	    s->sd->hostname);
	session_close(s);
	return true;
}

/* session_junk - commands that move no mail: past MAX_JUNK since the last
 * message, each one is an error (Postfix's smtpd_junk_command_limit), so
 * a client cannot keep a session alive on NOOPs */
void
session_junk(struct session *s)
{
	if (++s->junk <= MAX_JUNK)
		return;
	if (s->junk == MAX_JUNK + 1)
		log_info("%s: more than %d NOOP/RSET/VRFY/EXPN/HELP from [%s]: "
		    "counted as errors", s->sid, MAX_JUNK, s->addr);
	session_error(s);
}

/* --- commands ------------------------------------------------------------- */

static void
cmd_helo(struct session *s, const char *args, bool ehlo)
{
	if (*args == '\0') {
		session_reply(s, 501, "5.5.4", "Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		session_error(s);
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
		session_reply(s, 250, NULL, "%s", s->sd->hostname);
		return;
	}
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s Hello %s [%s]\n", s->sd->hostname, s->helo, s->addr);
	buf_printf(&b, "PIPELINING\nSIZE %llu\n8BITMIME\nBINARYMIME\nCHUNKING\n"
	    "ENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\n",
	    (unsigned long long)s->max_size);
	if (s->submission || s->smtps)
		buf_puts(&b, "BURL imap\n");   /* RFC 4468, smtpd-burl.c */
	if (!s->c->tls && s->sd->tls != NULL)
		buf_puts(&b, "STARTTLS\n");
	if (s->c->tls || !settings_current(s->db)->smtp_require_tls_for_auth)
		buf_puts(&b, "AUTH PLAIN LOGIN\n");
	buf_puts(&b, "HELP");
	session_reply(s, 250, NULL, "%s", b.data);
	buf_free(&b);
}

static void
cmd_starttls(struct session *s, const char *args)
{
	if (*args != '\0') {
		session_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		session_error(s);
		return;
	}
	if (s->c->tls) {
		session_reply(s, 503, "5.5.1", "TLS already active");
		session_error(s);
		return;
	}
	if (s->sd->tls == NULL) {
		session_reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	session_reply(s, 220, "2.0.0", "Ready to start TLS");
	s->state = S_STARTTLS;
	/* RFC 3207 5 / CVE-2011-0411: what was pipelined after STARTTLS is
	 * dropped; TLS goes on once the 220 has left */
	conn_starttls(s->c);
}

/* tls_started - TLS is on: forget what was said in the clear (RFC 3207
 * 4.2) */
static void
tls_started(struct conn *c)
{
	struct session *s = c->ctx;

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
		session_reply(s, code, code == 501 ? "5.5.4" : "5.5.2", "%s", err);
		session_error(s);
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
			conn_suspend(s->c);
			break;
		}
		cmd_rcpt(s, cmd.args);
		break;
	case SMTP_CMD_DATA: cmd_data(s, cmd.args); break;
	case SMTP_CMD_BDAT: cmd_bdat(s, cmd.args); break;
	case SMTP_CMD_BURL: cmd_burl(s, cmd.args); break;
	case SMTP_CMD_AUTH: cmd_auth(s, cmd.args); break;
	case SMTP_CMD_STARTTLS: cmd_starttls(s, cmd.args); break;
	case SMTP_CMD_RSET:
		tx_reset(s);
		session_reply(s, 250, "2.0.0", "Ok");
		session_junk(s);
		break;
	case SMTP_CMD_NOOP:
		session_reply(s, 250, "2.0.0", "Ok");
		session_junk(s);
		break;
	case SMTP_CMD_QUIT:
		session_reply(s, 221, "2.0.0", "Bye");
		session_close(s);
		break;
	case SMTP_CMD_VRFY:
		session_reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		session_junk(s);
		break;
	case SMTP_CMD_EXPN:
		session_reply(s, 502, "5.5.1", "EXPN not available");
		session_junk(s);
		break;
	case SMTP_CMD_HELP:
		session_reply(s, 214, "2.0.0", "Postern SMTP: see RFC 5321");
		session_junk(s);
		break;
	case SMTP_CMD_UNKNOWN:
		session_reply(s, 500, "5.5.2", "Syntax error, command unrecognized");
		session_error(s);
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
		session_reply(s, 500, "5.5.2", "%s", why);
		session_error(s);
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
void
session_timeout(struct session *s)
{
	log_info("%s: timeout from [%s]", s->sid, s->addr);
	session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->sd->hostname);
	session_close(s);       /* the reply gets 5 s to leave */
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
	    "[%s] (%llu bytes), closing", s->sid, s->in_tx ? s->tx.env.id : "-",
	    s->addr, (unsigned long long)(s->tx.msg_size + s->tx.out.len));
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
	if (conn_handshaking(s->c)) {
		/* mid-handshake: no reply can leave */
		conn_free(s->c);
		return;
	}
	tx_reset(s);
	session_timeout(s);
}

void
session_read(struct conn *c)
{
	struct session *s = c->ctx;
	struct evbuffer *in = conn_input(c);

	for (;;) {
		if (s->state == S_CLOSING || s->state == S_STARTTLS ||
		    s->state == S_COMMIT || s->state == S_WAIT ||
		    s->state == S_PASSWORD)
			break;
		/* a client that pipelines without reading its replies waits */
		if (conn_out_full(c))
			break;
		/* a BDAT chunk of 0 octets ends without input */
		if (s->state == S_BDAT && s->tx.bdat_left == 0) {
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
			size_t before = s->tx.out.len;
			int r = smtp_data_feed(&s->tx.dr, v.iov_base, v.iov_len, &used,
			    &s->tx.out);
			evbuffer_drain(in, used);
			if (!s->tx.hdr_done)
				scan_headers(s, s->tx.out.data + before, s->tx.out.len - before);
			header_policy_feed(s, before);
			flush_out(s, false);
			if (r == 1) {
				s->state = S_CMD;
				message_finish(s, s->tx.dr.flags);
			}
			break;
		}
		case S_BDAT: {
			used = v.iov_len < s->tx.bdat_left ? v.iov_len : (size_t)s->tx.bdat_left;
			if (s->tx.bdat_err_code == 0) {
				s->tx.msg_size += used;
				if (s->tx.msg_size > s->max_size)
					s->tx.too_big = true;
				if (!s->tx.too_big) {
					size_t before = s->tx.out.len;
					buf_append(&s->tx.out, v.iov_base, used);
					if (!s->tx.hdr_done)
						scan_headers(s, s->tx.out.data + before, used);
					header_policy_feed(s, before);
					flush_out(s, false);
				}
			}
			evbuffer_drain(in, used);
			s->tx.bdat_left -= used;
			if (s->tx.bdat_left == 0)
				bdat_chunk_done(s);
			break;
		}
		default:
			break;
		}
	}
}

/* on_timeout - smtp.timeout of silence: 421; during a commit the reply
 * to the message comes first */
static bool
on_timeout(struct conn *c, enum conn_timeout why)
{
	struct session *s = c->ctx;

	if (s->state == S_COMMIT) {
		s->expired = true;
		return false;
	}
	tx_reset(s);
	session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->sd->hostname);
	s->state = S_CLOSING;
	return true;
}

/* on_teardown - the connection goes; a session whose message is being
 * committed stays until the commit is done (then freed unanswered) */
static void
on_teardown(struct conn *c)
{
	struct session *s = c->ctx;

	if (s == NULL)
		return;
	if (!c->closing && s->state != S_CLOSING)
		log_info("%s: lost connection from [%s]%s", s->sid, s->addr,
		    s->state == S_DATA || s->state == S_BDAT ? " in message" : "");
	s->c = NULL;
	c->ctx = NULL;
	if (s->state == S_COMMIT) {
		s->dead = true;
		return;
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
	conn_resume(s->c);      /* may free s */
}

/* spf_checked - the SPF result of the sender is in */
void
spf_checked(void *arg)
{
	struct session *s = arg;

	log_info("%s: %s: spf=%s from=<%s> [%s]%s%s", s->sid, s->tx.env.id,
	    spf_result_name(spf_result(s->tx.spf)), s->tx.env.sender, s->addr,
	    spf_reason(s->tx.spf)[0] ? ": " : "", spf_reason(s->tx.spf));
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
	if (s->tx.spf_wait) {
		s->tx.spf_wait = false;
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
	const struct settings *st = settings_current(s->db);

	if (sd->dns == NULL)
		return;
	if (smtpd_is_loopback((struct sockaddr *)&s->ss) &&
	    !st->smtp_check_loopback)
		return;
	if (!s->relay_net) {
		nzones = dnsbl_zones_parse(st->smtp_dnsbl, zones, DNSBL_MAX_ZONES,
		    &bad);
		if (bad != NULL)
			log_warnx("smtp.dnsbl: %s (entry skipped)", bad);
	}
	s->checks = checks_start(sd->dns, sd->svc->base,
	    (struct sockaddr *)&s->ss, s->sid, zones, nzones, true,
	    (int)st->smtp_dns_timeout, checks_done, s);
}

/* session_open - a new connection (conn_ops.open) */
static void
session_open(struct conn *c)
{
	struct smtpd *sd = conn_server_ctx(c->srv);
	struct service *svc = sd->svc;
	struct session *s = xcalloc(1, sizeof(*s));
	const char *bad;
	const struct settings *st = settings_current(svc->db);

	c->ctx = s;
	s->c = c;
	s->sd = sd;
	s->db = svc->db;
	memcpy(&s->ss, &c->sa, sizeof(s->ss));
	snprintf(s->addr, sizeof(s->addr), "%s", c->addr);
	snprintf(s->sid, sizeof(s->sid), "%s", c->sid);
	s->listener = c->listener->name;
	s->submission = strcmp(s->listener, "submission") == 0;
	s->smtps = c->implicit_tls;
	s->timeout = (int)st->smtp_timeout;
	s->max_size = (uint64_t)st->smtp_max_message_size * 1024;
	s->relay_net = smtpd_cidr_match(st->smtp_relay_networks,
	    (struct sockaddr *)&s->ss, &bad);
	if (bad != NULL)
		log_warnx("smtp.relay_networks: %s (entry skipped)", bad);
	smtp_line_init(&s->lr, SMTP_LINE_AUTH_MAX);
	buf_init(&s->tx.out, 0);
	s->next = sessions;
	if (sessions != NULL)
		sessions->prev = s;
	sessions = s;
	s->state = S_CMD;
	if (s->relay_net)
		log_info("%s: [%s] is in smtp.relay_networks", s->sid, s->addr);
	client_checks_start(s);
	struct timeval life = { st->smtp_max_session_time, 0 };
	s->life_ev = evtimer_new(svc->base, life_timeout, s);
	s->data_ev = evtimer_new(svc->base, data_timeout, s);
	evtimer_add(s->life_ev, &life);
	session_reply(s, 220, NULL, "%s ESMTP Postern", sd->hostname);
}

const struct conn_ops session_ops = {
	.open = session_open,
	.read = session_read,
	.timeout = on_timeout,
	.tls_started = tls_started,
	.teardown = on_teardown,
};

void
session_shutdown_all(struct smtpd *sd)
{
	while (sessions != NULL) {
		struct session *s = sessions;
		struct conn *c = s->c;
		/* a message being received is not accepted: the client retries */
		if (c != NULL && !c->closing && !c->starttls && !c->tls &&
		    c->fd >= 0 && evbuffer_get_length(conn_output(c)) == 0) {
			struct buf out;
			buf_init(&out, 0);
			smtp_reply(&out, 421, "4.3.2", "%s Service shutting down",
			    sd->hostname);
			/* best effort, the socket is non-blocking */
			ssize_t n = write(c->fd, out.data, out.len);
			(void)n;
			buf_free(&out);
		}
		if (s->state == S_COMMIT) {
			/* submitted after the workers stopped: never committed */
			if (s->job.qw != NULL)
				queue_writer_abort(&s->job.qw);
			s->state = S_CLOSING;
		}
		if (c != NULL)
			conn_free(c);   /* its teardown frees s */
		else
			session_free(s);
	}
}
