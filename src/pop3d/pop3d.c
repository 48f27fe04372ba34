/* pop3d - the POP3 service (RFC 1939, 2449 CAPA, 2595 STLS, 3206 response
 * codes, 5034 SASL PLAIN) on the message store */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "directory.h"
#include "fsutil.h"
#include "log.h"
#include "login.h"
#include "logins.h"
#include "netaddr.h"
#include "conn.h"
#include "pop3-parse.h"
#include "service.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"

#define MAX_ERRORS 10            /* bad commands before we hang up */
#define FAIL_DELAY_MS 500        /* answer to a failed login comes late */
#define OUT_HIGH 262144          /* output buffered before we pause RETR */

enum pop3_state { ST_AUTH, ST_TRANS };

/* the connection layer (lib-service/conn.h) of the process */
static struct conn_server *server;

struct session {
	struct conn *c;          /* the connection: address, TLS, timeouts */
	enum pop3_state state;
	bool sasl_wait;          /* AUTH PLAIN waiting for the response */
	bool have_user;
	bool busy;               /* RETR/TOP streaming, login check or delay */
	char user[ADDRESS_MAX_LEN + 1];
	int errors;
	struct pop3_reader rd;
	/* the maildrop */
	char *login;
	struct service_login *reg;     /* logins.h: limit and revocation */
	struct store *st;
	struct store_folder *f;
	int lock_fd;
	struct store_msg *msgs;
	size_t nmsgs;
	bool *deleted;
	/* RETR/TOP in progress */
	int out_fd;
	struct pop3_stream stream;
	struct buf out;
	/* a failed login answered after a delay */
	struct event *delay_ev;
	char *delay_reply;
	/* handed over by the pre-login process (login.h): until the login
	 * succeeds, the replies are held for it (a failed login goes back
	 * there) */
	bool adopted;
	uint32_t handoff_id;
	struct buf held;
};

static void session_input(struct session *s);

/* srv_svc - the service */
static struct service *
srv_svc(void)
{
	return conn_server_service(server);
}

/* reply - one line to the client */
static void
reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	struct evbuffer *o = conn_output(s->c);
	va_list ap;

	va_start(ap, fmt);
	if (s->adopted && s->state == ST_AUTH) {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		(void)buf_append(&s->held, line, strlen(line));
		(void)buf_append(&s->held, "\r\n", 2);
		return;
	}
	evbuffer_add_vprintf(o, fmt, ap);
	va_end(ap);
	evbuffer_add(o, "\r\n", 2);
}

/* session_close - answer sent: close once the output is written */
static void
session_close(struct session *s)
{
	/* every caller has queued a reply: the layer frees the session once
	 * it is sent (never here, the caller still holds s) */
	conn_close(s->c, 0);
}

/* ------------------------------------------------------------ throttling */

static bool
throttled(struct session *s)
{
	return throttle_blocked(srv_svc(), (struct sockaddr *)&s->c->sa);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	reply(s, "%s", s->delay_reply);
	xfree(&s->delay_reply);
	s->busy = false;
	conn_resume(s->c);
}

/* login_failed - count the failure, answer after a delay */
static void
login_failed(struct session *s, const char *text)
{
	struct timeval tv = { 0, FAIL_DELAY_MS * 1000 };

	throttle_failed(srv_svc(), (struct sockaddr *)&s->c->sa);
	s->busy = true;
	free(s->delay_reply);
	s->delay_reply = xstrdup(text);
	if (s->delay_ev == NULL)
		s->delay_ev = evtimer_new(srv_svc()->base, on_delay, s);
	evtimer_add(s->delay_ev, &tv);
}

/* login_nul - a NUL byte in a user name or password: a failed login,
 * counted like one (cut at the NUL, a password could match a shorter
 * one) */
static void handed(struct conn *c, bool ok, const char *text);

static void
login_nul(struct session *s)
{
	s->have_user = false;
	if (login_side(srv_svc())) {
		/* the main process counts it, as any failed login */
		s->busy = true;
		login_submit(s->c, "", 1, "", 0, NULL, handed);
		return;
	}
	log_info("%s: [%s]: login failed: NUL byte in the user "
	    "name or password", s->c->sid, s->c->addr);
	login_failed(s, "-ERR [AUTH] invalid user name or password");
}

/* ------------------------------------------------------------ maildrop */

static uint64_t
drop_size(struct session *s, uint32_t *count_r)
{
	uint64_t size = 0;
	uint32_t count = 0;

	for (size_t i = 0; i < s->nmsgs; i++) {
		if (s->deleted[i])
			continue;
		size += s->msgs[i].size;
		count++;
	}
	*count_r = count;
	return size;
}

/* uidl_of - the unique id: the Maildir base name, which survives an index
 * rebuild, when it fits RFC 1939 (1-70 chars 0x21-0x7e); else
 * UIDVALIDITY and UID in hex */
static void
uidl_of(struct session *s, const struct store_msg *m, char *out, size_t size)
{
	const char *colon = strchr(m->file, ':');
	size_t n = colon ? (size_t)(colon - m->file) : strlen(m->file);
	bool ok = n > 0 && n <= 70;

	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)m->file[i] < 0x21 ||
		    (unsigned char)m->file[i] > 0x7e)
			ok = false;
	if (ok) {
		snprintf(out, size, "%.*s", (int)n, m->file);
		return;
	}
	struct store_folder_status fs;
	const char *err;
	if (store_folder_status(s->f, &fs, &err) < 0)
		fs.uidvalidity = 0;
	snprintf(out, size, "%08" PRIx32 "%08" PRIx32, fs.uidvalidity, m->uid);
}

static void
drop_release(struct session *s)
{
	store_msgs_free(s->msgs, s->nmsgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	xfree(&s->deleted);
	store_folder_close(&s->f);
	store_close(&s->st);
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
		s->lock_fd = -1;
	}
}

/* drop_open - lock and load the maildrop; reply on failure */
static int
drop_open(struct session *s, const struct dir_mailbox *mb)
{
	char *root = dir_mailbox_path(srv_svc()->db, mb);
	char *lock = path_join(root, "postern-pop3.lock");
	const char *err;

	(void)mkdir_p(root, 0700);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (s->lock_fd < 0) {
		log_warn("%s: %s: lock", s->c->sid, root);
		reply(s, "-ERR [SYS/TEMP] cannot open the maildrop");
		free(root);
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close(s->lock_fd);
		s->lock_fd = -1;
		free(root);
		reply(s, "-ERR [IN-USE] maildrop is locked by another POP3 "
		    "session");
		return -1;
	}
	s->st = store_open(root, &err);
	if (s->st != NULL)
		s->f = store_folder_open(s->st, "INBOX", &err);
	if (s->f == NULL || store_msgs_load(s->f, &s->msgs, &s->nmsgs,
	    &err) < 0) {
		log_warnx("%s: %s: %s", s->c->sid, root, err);
		reply(s, "-ERR [SYS/TEMP] cannot open the maildrop");
		drop_release(s);
		free(root);
		return -1;
	}
	free(root);
	s->deleted = xcalloc(s->nmsgs ? s->nmsgs : 1, sizeof(bool));
	return 0;
}

static void login_done(struct conn *c, enum dir_auth_result r,
		       const struct dir_mailbox *mb, const char *err);

/* on_revoked - the mailbox's password changed, or it (or its post office)
 * was disabled or deleted: end the session, deleting nothing (no UPDATE
 * without QUIT) */
static void
on_revoked(void *ctx)
{
	struct session *s = ctx;

	if (s->c->closing)
		return;
	log_info("%s: [%s]: %s: credentials revoked, closing",
	    s->c->sid, s->c->addr, s->login);
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
		s->busy = false;
	}
	reply(s, "-ERR [AUTH] your credentials were changed or revoked; "
	    "log in again");
	session_close(s);   /* the reply gets 5 s to leave */
}

/* login_register - count the login per mailbox and address
 * (pop3.max_userip_connections) and have it revoked with the mailbox's
 * credentials; false after replying */
static bool
login_register(struct session *s, const struct dir_mailbox *mb)
{
	int limit = (int)settings_current(srv_svc()->db)->pop3_max_userip_connections;

	if (service_login_start(srv_svc(), &s->reg,
	    (struct sockaddr *)&s->c->sa, mb, limit, on_revoked, s))
		return true;
	log_info("%s: [%s]: login refused user=%s: over "
	    "pop3.max_userip_connections (%d)", s->c->sid, s->c->addr, s->user, limit);
	reply(s, "-ERR [IN-USE] too many sessions of this mailbox from your "
	    "address (at most %d)", limit);
	return false;
}

/* do_login - check credentials (on an auth thread), then login_done */
static void
do_login(struct session *s, const char *user, const char *pass)
{
	if (login_side(srv_svc())) {
		/* the main process checks it and opens the maildrop */
		if (user != s->user)
			snprintf(s->user, sizeof(s->user), "%s", user);
		s->busy = true;
		login_submit(s->c, user, strlen(user), pass, strlen(pass),
		    NULL, handed);
		return;
	}
	if (throttled(s)) {
		log_info("%s: [%s]: login refused: too many "
		    "failures", s->c->sid, s->c->addr);
		login_failed(s, "-ERR [AUTH] too many failed logins from your "
		    "address; try again later");
		return;
	}
	if (user != s->user)
		snprintf(s->user, sizeof(s->user), "%s", user);
	s->busy = true;
	conn_auth(s->c, user, pass, login_done);
}

/* login_done - the answer of the password check: open the maildrop */
static void
login_done(struct conn *c, enum dir_auth_result r, const struct dir_mailbox *mb,
	   const char *err)
{
	struct session *s = c->ctx;
	const char *user = s->user;
	uint32_t n;

	s->busy = false;
	switch (r) {
	case DIR_AUTH_OK:
		break;
	case DIR_AUTH_FAILED:
		log_info("%s: [%s]: login failed user=%s", s->c->sid,
		    s->c->addr, user);
		login_failed(s, "-ERR [AUTH] invalid user name or password");
		return; /* input resumes after the delay */
	case DIR_AUTH_DISABLED:
		log_info("%s: [%s]: login refused user=%s: "
		    "disabled", s->c->sid, s->c->addr, user);
		reply(s, "-ERR [SYS/PERM] this mailbox is disabled");
		conn_resume(s->c);
		return;
	case DIR_AUTH_PREVENTED:
		log_info("%s: [%s]: login refused user=%s: "
		    "authentication prevented", s->c->sid, s->c->addr, user);
		reply(s, "-ERR [AUTH] logins are not allowed for this mailbox");
		conn_resume(s->c);
		return;
	default:
		log_warnx("%s: authenticate: %s", s->c->sid,
		    err ? err : "error");
		reply(s, "-ERR [SYS/TEMP] authentication is unavailable; try "
		    "again later");
		conn_resume(s->c);
		return;
	}
	if (!login_register(s, mb)) {
		conn_resume(s->c);
		return;
	}
	if (drop_open(s, mb) < 0) {
		service_login_end(&s->reg);
		conn_resume(s->c);
		return;
	}
	throttle_ok(srv_svc(), (struct sockaddr *)&s->c->sa);
	s->login = xasprintf("%s@%s", mb->name, mb->postoffice);
	s->state = ST_TRANS;
	conn_logged_in(s->c);
	uint64_t size = drop_size(s, &n);
	log_info("%s: [%s]: login %s%s, %" PRIu32 " messages",
	    s->c->sid, s->c->addr, s->login, s->c->tls ? " (TLS)" : "", n);
	reply(s, "+OK maildrop has %" PRIu32 " messages (%" PRIu64 " octets)",
	    n, size);
	if (s->adopted)
		login_result(srv_svc(), s->handoff_id, true, NULL);
	conn_resume(s->c);
}

/* ------------------------------------------------------------ RETR / TOP */

static void
stream_pump(struct session *s)
{
	struct evbuffer *o = conn_output(s->c);
	char chunk[65536];

	while (s->out_fd >= 0 && evbuffer_get_length(o) < OUT_HIGH) {
		ssize_t n = s->stream.done ? 0 : read(s->out_fd, chunk,
		    sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		buf_reset(&s->out);
		if (n <= 0) {
			if (n < 0)
				log_warn("%s: read message",
				    s->c->sid);
			/* XXX on a read error the message is cut short; the
			 * client sees a truncated message, we log it */
			pop3_stream_end(&s->stream, &s->out);
			evbuffer_add(o, s->out.data, s->out.len);
			close(s->out_fd);
			s->out_fd = -1;
			s->busy = false;
			break;
		}
		if (pop3_stream_feed(&s->stream, chunk, (size_t)n, &s->out) < 0)
			log_fatalx("pop3 stream buffer overflow");
		evbuffer_add(o, s->out.data, s->out.len);
	}
}

static void
send_message(struct session *s, size_t i, int64_t lines)
{
	const char *err;
	int fd = store_msg_open(s->f, &s->msgs[i], &err);

	if (fd < 0) {
		reply(s, "-ERR message %zu was removed by another session",
		    i + 1);
		return;
	}
	if (lines < 0)
		reply(s, "+OK %" PRIu64 " octets", s->msgs[i].size);
	else
		reply(s, "+OK top of message follows");
	s->out_fd = fd;
	pop3_stream_init(&s->stream, lines);
	s->busy = true;
	stream_pump(s);
}

/* ------------------------------------------------------------ commands */

static bool
need_args(struct session *s, const struct pop3_cmd *c, size_t min, size_t max)
{
	if (c->argc < min || c->argc > max) {
		reply(s, "-ERR wrong number of arguments for %s", c->verb);
		s->errors++;
		return false;
	}
	return true;
}

/* msg_arg - index of a non-deleted message, or -1 after replying */
static ssize_t
msg_arg(struct session *s, const char *arg)
{
	uint32_t n = pop3_msgnum(arg, (uint32_t)s->nmsgs);

	if (n == 0) {
		reply(s, "-ERR no such message");
		return -1;
	}
	if (s->deleted[n - 1]) {
		reply(s, "-ERR message %" PRIu32 " is deleted", n);
		return -1;
	}
	return (ssize_t)n - 1;
}

/* plaintext_ok - whether a password may be sent on this connection: over
 * TLS, from a loopback client (auth.loopback_secure), or anywhere with
 * pop3.allow_plaintext_auth; the same rule as imapd's */
static bool
plaintext_ok(struct session *s)
{
	const struct settings *st = service_settings(srv_svc());

	if (s->c->tls || st->pop3_allow_plaintext_auth)
		return true;
	return sockaddr_is_loopback((struct sockaddr *)&s->c->sa) &&
	    st->auth_loopback_secure;
}

/* plaintext_refuse - -ERR before a password can be sent in clear */
static bool
plaintext_refuse(struct session *s)
{
	if (plaintext_ok(s))
		return false;
	log_info("%s: plaintext login refused from [%s]: no TLS",
	    s->c->sid, s->c->addr);
	reply(s, "-ERR [AUTH] Plaintext authentication is disabled on non-TLS "
	    "connections: use STLS or POP3S");
	return true;
}

static void
cmd_capa(struct session *s)
{
	bool plain = s->state != ST_AUTH || plaintext_ok(s);

	reply(s, "+OK capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	if (plain)
		reply(s, "USER");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	if (s->state == ST_AUTH) {
		if (plain)
			reply(s, "SASL PLAIN");
		if (!s->c->tls && conn_server_tls(server) != NULL)
			reply(s, "STLS");
	}
	reply(s, "EXPIRE NEVER");
	reply(s, "IMPLEMENTATION Postern");
	reply(s, ".");
}

/* tls_started - STLS: the TLS layer is on (RFC 2595 4: a new USER) */
static void
tls_started(struct conn *c)
{
	struct session *s = c->ctx;

	s->have_user = false;
}

static void
cmd_auth_state(struct session *s, struct pop3_cmd *c)
{
	const char *err;

	if (strcmp(c->verb, "USER") == 0) {
		if (!need_args(s, c, 1, 1) || plaintext_refuse(s))
			return;
		if (strlen(c->argv[0]) > ADDRESS_MAX_LEN) {
			reply(s, "-ERR [AUTH] user name too long");
			return;
		}
		snprintf(s->user, sizeof(s->user), "%s", c->argv[0]);
		s->have_user = true;
		reply(s, "+OK send PASS");
	} else if (strcmp(c->verb, "PASS") == 0) {
		if (!s->have_user) {
			reply(s, "-ERR USER first");
			s->errors++;
			return;
		}
		s->have_user = false;
		if (c->argc == 0) {
			reply(s, "-ERR [AUTH] invalid user name or password");
			return;
		}
		do_login(s, s->user, c->argv[0]);
	} else if (strcmp(c->verb, "AUTH") == 0) {
		if (c->argc == 0) {
			reply(s, "+OK SASL mechanisms follow");
			if (plaintext_ok(s))
				reply(s, "PLAIN");
			reply(s, ".");
			return;
		}
		if (!need_args(s, c, 1, 2))
			return;
		if (strcasecmp(c->argv[0], "PLAIN") != 0) {
			reply(s, "-ERR [AUTH] unsupported SASL mechanism");
			return;
		}
		if (plaintext_refuse(s))
			return;
		if (c->argc == 1) {
			s->sasl_wait = true;
			reply(s, "+ ");
			return;
		}
		char user[ADDRESS_MAX_LEN + 1], pass[1024];
		int pr = strcmp(c->argv[1], "=") == 0 ? -1 :
		    pop3_sasl_plain(c->argv[1], user, sizeof(user), pass,
		    sizeof(pass), &err);
		if (pr == POP3_SASL_NUL) {
			login_nul(s);
			return;
		}
		if (pr < 0) {
			reply(s, "-ERR [AUTH] %s", strcmp(c->argv[1], "=") == 0 ?
			    "empty PLAIN response" : err);
			return;
		}
		do_login(s, user, pass);
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(s->rd.line.data, s->rd.line.len);
	} else if (strcmp(c->verb, "STLS") == 0) {
		if (s->c->tls) {
			reply(s, "-ERR TLS is already active");
			return;
		}
		if (conn_server_tls(server) == NULL) {
			reply(s, "-ERR [SYS/TEMP] TLS is not available");
			return;
		}
		reply(s, "+OK begin TLS negotiation");
		conn_starttls(s->c);
	} else if (strcmp(c->verb, "APOP") == 0) {
		reply(s, "-ERR APOP is not supported: passwords are stored "
		    "hashed; use USER/PASS or AUTH PLAIN over TLS");
	} else if (strcmp(c->verb, "QUIT") == 0) {
		reply(s, "+OK Postern POP3 server signing off");
		session_close(s);
	} else if (strcmp(c->verb, "CAPA") == 0) {
		cmd_capa(s);
	} else if (strcmp(c->verb, "NOOP") == 0) {
		reply(s, "-ERR log in first");
	} else {
		reply(s, "-ERR unknown command or not allowed before login");
		s->errors++;
	}
}

static void
cmd_sasl_response(struct session *s, const char *line)
{
	char user[ADDRESS_MAX_LEN + 1], pass[1024];
	const char *err;

	s->sasl_wait = false;
	if (strcmp(line, "*") == 0) {
		reply(s, "-ERR [AUTH] authentication cancelled");
		return;
	}
	int pr = pop3_sasl_plain(line, user, sizeof(user), pass, sizeof(pass),
	    &err);
	if (pr == POP3_SASL_NUL) {
		login_nul(s);
		return;
	}
	if (pr < 0) {
		reply(s, "-ERR [AUTH] %s", err);
		return;
	}
	do_login(s, user, pass);
	explicit_bzero(pass, sizeof(pass));
}

static void
cmd_quit_trans(struct session *s)
{
	uint32_t *uids = NULL, n = 0, left;
	size_t nd = 0;
	const char *err;

	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->deleted[i])
			nd++;
	if (nd > 0) {
		uids = xreallocarray(NULL, nd, sizeof(*uids));
		for (size_t i = 0; i < s->nmsgs; i++)
			if (s->deleted[i])
				uids[n++] = s->msgs[i].uid;
		if (store_expunge(s->f, uids, n, NULL, NULL, &err) < 0) {
			free(uids);
			log_warnx("%s: %s: expunge: %s", s->c->sid,
			    s->login, err);
			reply(s, "-ERR [SYS/TEMP] some deleted messages were "
			    "not removed");
			session_close(s);
			return;
		}
		free(uids);
	}
	drop_size(s, &left);
	log_info("%s: %s: logout, %zu deleted, %" PRIu32
	    " left", s->c->sid, s->login, nd, left);
	reply(s, "+OK Postern POP3 server signing off (%" PRIu32
	    " messages left)", left);
	session_close(s);
}

static void
cmd_trans_state(struct session *s, struct pop3_cmd *c)
{
	ssize_t i;
	uint32_t n;
	char uidl[80];

	if (strcmp(c->verb, "STAT") == 0) {
		if (!need_args(s, c, 0, 0))
			return;
		uint64_t size = drop_size(s, &n);
		reply(s, "+OK %" PRIu32 " %" PRIu64, n, size);
	} else if (strcmp(c->verb, "LIST") == 0 || strcmp(c->verb, "UIDL") == 0) {
		bool list = c->verb[0] == 'L';
		if (!need_args(s, c, 0, 1))
			return;
		if (c->argc == 1) {
			if ((i = msg_arg(s, c->argv[0])) < 0)
				return;
			if (list)
				reply(s, "+OK %zd %" PRIu64, i + 1,
				    s->msgs[i].size);
			else {
				uidl_of(s, &s->msgs[i], uidl, sizeof(uidl));
				reply(s, "+OK %zd %s", i + 1, uidl);
			}
			return;
		}
		uint64_t size = drop_size(s, &n);
		if (list)
			reply(s, "+OK %" PRIu32 " messages (%" PRIu64
			    " octets)", n, size);
		else
			reply(s, "+OK unique-id listing follows");
		for (size_t k = 0; k < s->nmsgs; k++) {
			if (s->deleted[k])
				continue;
			if (list)
				reply(s, "%zu %" PRIu64, k + 1, s->msgs[k].size);
			else {
				uidl_of(s, &s->msgs[k], uidl, sizeof(uidl));
				reply(s, "%zu %s", k + 1, uidl);
			}
		}
		reply(s, ".");
	} else if (strcmp(c->verb, "RETR") == 0) {
		if (!need_args(s, c, 1, 1) || (i = msg_arg(s, c->argv[0])) < 0)
			return;
		send_message(s, (size_t)i, -1);
	} else if (strcmp(c->verb, "TOP") == 0) {
		long long lines;
		if (!need_args(s, c, 2, 2) || (i = msg_arg(s, c->argv[0])) < 0)
			return;
		if (parse_long(c->argv[1], 0, 1000000000, &lines) < 0) {
			reply(s, "-ERR invalid number of lines");
			return;
		}
		send_message(s, (size_t)i, lines);
	} else if (strcmp(c->verb, "DELE") == 0) {
		if (!need_args(s, c, 1, 1) || (i = msg_arg(s, c->argv[0])) < 0)
			return;
		s->deleted[i] = true;
		reply(s, "+OK message %zd deleted", i + 1);
	} else if (strcmp(c->verb, "RSET") == 0) {
		memset(s->deleted, 0, s->nmsgs * sizeof(bool));
		uint64_t size = drop_size(s, &n);
		reply(s, "+OK maildrop has %" PRIu32 " messages (%" PRIu64
		    " octets)", n, size);
	} else if (strcmp(c->verb, "NOOP") == 0) {
		reply(s, "+OK");
	} else if (strcmp(c->verb, "QUIT") == 0) {
		cmd_quit_trans(s);
	} else if (strcmp(c->verb, "CAPA") == 0) {
		cmd_capa(s);
	} else if (strcmp(c->verb, "USER") == 0 ||
	    strcmp(c->verb, "PASS") == 0 || strcmp(c->verb, "AUTH") == 0 ||
	    strcmp(c->verb, "STLS") == 0 || strcmp(c->verb, "APOP") == 0) {
		reply(s, "-ERR already logged in");
	} else {
		reply(s, "-ERR unknown command");
		s->errors++;
	}
}

/* line_nul - a command line holding a NUL byte (line is cut at it): in
 * a login, a failed login; else a bad command */
static void
line_nul(struct session *s, const char *line)
{
	if (s->state == ST_AUTH && (s->sasl_wait ||
	    strncasecmp(line, "USER", 4) == 0 ||
	    strncasecmp(line, "PASS", 4) == 0 ||
	    strncasecmp(line, "AUTH", 4) == 0)) {
		s->sasl_wait = false;
		login_nul(s);
		return;
	}
	reply(s, "-ERR NUL byte in the command line");
	s->errors++;
}

static void
session_line(struct session *s, char *line, bool nul)
{
	struct pop3_cmd c;
	const char *err;

	if (nul) {
		line_nul(s, line);
	} else if (s->sasl_wait) {
		cmd_sasl_response(s, line);
		explicit_bzero(line, strlen(line));
		return;
	} else if (s->state == ST_AUTH && strncasecmp(line, "PASS ", 5) == 0) {
		/* the password is the rest of the line, spaces and all
		 * (RFC 1939 7) */
		c = (struct pop3_cmd){ .verb = "PASS", .argc = 1,
		    .argv = { line + 5 } };
		cmd_auth_state(s, &c);
	} else if (pop3_cmd_parse(line, &c, &err) < 0) {
		reply(s, "-ERR %s", err);
		s->errors++;
	} else if (s->state == ST_AUTH)
		cmd_auth_state(s, &c);
	else
		cmd_trans_state(s, &c);
	if (s->errors >= MAX_ERRORS && !s->c->closing) {
		reply(s, "-ERR too many bad commands; closing");
		session_close(s);
	}
}

/* session_input - handle the buffered command lines, one at a time while
 * an answer is being streamed (pipelining keeps its order) */
static void
session_input(struct session *s)
{
	struct evbuffer *in = conn_input(s->c);

	if (s->adopted && s->state == ST_AUTH) {
		/* handed over with a login that failed (its answer given,
		 * after the delay): the pre-login process takes the client
		 * back with the answer */
		if (!s->busy && !s->c->closing) {
			login_result(srv_svc(), s->handoff_id, false,
			    s->held.data != NULL ? s->held.data : "");
			conn_close(s->c, 0);
		}
		return;
	}

	while (!s->busy && !s->c->closing && !s->c->starttls &&
	    evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used;
		/* a client pipelining without reading its replies: stop
		 * reading it until they have left */
		if (conn_out_full(s->c))
			break;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		enum pop3_read_result r = pop3_reader_feed(&s->rd, v.iov_base,
		    v.iov_len, &used);
		evbuffer_drain(in, used);
		if (r == POP3_READ_TOO_LONG) {
			reply(s, "-ERR line too long");
			if (++s->errors >= MAX_ERRORS) {
				reply(s, "-ERR too many bad commands; closing");
				session_close(s);
			}
			continue;
		}
		if (r == POP3_READ_MORE)
			continue;
		char *line = xstrndup(s->rd.line.data, s->rd.line.len);
		bool nul = s->rd.line.len > 0 && memchr(s->rd.line.data, '\0',
		    s->rd.line.len) != NULL;
		if (s->rd.line.len > 0)
			explicit_bzero(s->rd.line.data, s->rd.line.len);
		buf_reset(&s->rd.line);
		size_t linelen = strlen(line);
		session_line(s, line, nul);
		explicit_bzero(line, linelen); /* may hold a password */
		free(line);
	}
}

/* ------------------------------------------------------------ events */

static void
on_read(struct conn *c)
{
	session_input(c->ctx);
}

static void
on_drained(struct conn *c)
{
	struct session *s = c->ctx;

	if (s->out_fd >= 0) {
		stream_pump(s);
		if (!s->busy)
			session_input(s);
	}
}

/* on_timeout - pop3.login_timeout from connect (a client trickling bytes
 * goes too), pop3.idle_timeout after the login (RFC 1939 3: at least 10
 * minutes) */
static bool
on_timeout(struct conn *c, enum conn_timeout why)
{
	struct session *s = c->ctx;

	(void)why;
	reply(s, "-ERR autologout: idle for too long");
	return true;
}

/* on_teardown - a connection lost in TRANSACTION state deletes nothing
 * (RFC 1939 6: no UPDATE without QUIT) */
static void
on_teardown(struct conn *c)
{
	struct session *s = c->ctx;

	if (s == NULL)
		return;
	if (s->out_fd >= 0)
		close(s->out_fd);
	drop_release(s);
	service_login_end(&s->reg);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	free(s->delay_reply);
	free(s->login);
	buf_free(&s->out);
	buf_free(&s->held);
	pop3_reader_free(&s->rd);
	free(s);
	c->ctx = NULL;
}

/* session_new - a session on c */
static struct session *
session_new(struct conn *c)
{
	struct session *s = xcalloc(1, sizeof(*s));

	c->ctx = s;
	s->c = c;
	s->lock_fd = -1;
	s->out_fd = -1;
	pop3_reader_init(&s->rd);
	buf_init(&s->out, 0);
	buf_init(&s->held, 4096);
	return s;
}

static void
on_open(struct conn *c)
{
	struct session *s = session_new(c);

	/* no APOP timestamp: passwords are hashed, APOP cannot work */
	reply(s, "+OK Postern POP3 server ready");
}

/* handed - pre-login process: the main process's answer to a login;
 * ok: the connection is the main process's (proxied); else its answer
 * goes to the client and the session goes on here */
static void
handed(struct conn *c, bool ok, const char *text)
{
	struct session *s = c->ctx;

	if (ok) {
		s->state = ST_TRANS;   /* nothing more is parsed here */
		return;
	}
	if (text != NULL && *text != '\0')
		conn_write(c, text, strlen(text));
	else
		reply(s, "-ERR [SYS/TEMP] authentication is unavailable; try "
		    "again later");
	s->busy = false;
	conn_resume(c);
}

/* pop3_adopt - main process: a login from the pre-login process */
static void
pop3_adopt(struct service *svc, const struct login_request *r)
{
	struct conn *c = conn_adopt(server, r->fd, (struct sockaddr *)&r->sa,
	    r->salen, r->sid, r->tls_info);

	(void)svc;
	if (c == NULL) {
		login_result(svc, r->id, false, "-ERR [SYS/TEMP] "
		    "authentication is unavailable; try again later\r\n");
		return;
	}
	struct session *s = session_new(c);
	s->adopted = true;
	s->handoff_id = r->id;
	if (r->nul) {
		login_nul(s);
		return;
	}
	do_login(s, r->user, r->password);
}

static const struct conn_ops pop3_ops = {
	.open = on_open,
	.read = on_read,
	.drained = on_drained,
	.timeout = on_timeout,
	.tls_started = tls_started,
	.teardown = on_teardown,
};

static const struct conn_def pop3_conn = {
	.sid_letter = 'p',
	.protocol = "pop3",
	.tls_listener = "pop3s",
	.limit_setting = SETTING_pop3_max_connections_per_ip,
	.login_timeout_setting = SETTING_pop3_login_timeout,
	.idle_timeout_setting = SETTING_pop3_idle_timeout,
	.out_high = OUT_HIGH,
	.ops = &pop3_ops,
};

/* pop3_login_init - the pre-login process: the connection layer with
 * TLS, the POP3 of the AUTHORIZATION state */
static int
pop3_login_init(struct service *svc)
{
	server = conn_server_new(svc, &pop3_conn, NULL);
	conn_server_busy_text(server, "-ERR [SYS/TEMP] too many connections "
	    "from your address\r\n", NULL);
	return 0;
}

static int
pop3_init(struct service *svc)
{
	server = conn_server_new(svc, &pop3_conn, NULL);
	conn_server_busy_text(server, "-ERR [SYS/TEMP] too many connections "
	    "from your address\r\n", NULL);
	service_set_state(svc, "running", NULL);
	return 0;
}

/* pop3_shutdown - SIGTERM: drop every session (no UPDATE without QUIT) */
static void
pop3_shutdown(struct service *svc)
{
	(void)svc;
	conn_server_free(&server);
	throttle_reset();
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "pop3", "pop3s", NULL };
	/* what the AUTHORIZATION state reads (conn_def and plaintext_ok) */
	static const enum setting_id login_settings[] = {
		SETTING_pop3_max_connections_per_ip, SETTING_pop3_login_timeout,
		SETTING_pop3_idle_timeout, SETTING_pop3_allow_plaintext_auth,
		SETTING_auth_loopback_secure, SETTING_NONE,
	};
	static const struct login_def login = {
		.name = "pop3-login",
		.settings = login_settings,
		.init = pop3_login_init,
		.adopt = pop3_adopt,
	};
	static const struct service_def def = {
		.name = "pop3d",
		.listeners = listeners,
		.init = pop3_init,
		.accept = conn_service_accept,
		.shutdown = pop3_shutdown,
		.login = &login,
	};
	store_library_init();
	return service_main(argc, argv, &def);
}
