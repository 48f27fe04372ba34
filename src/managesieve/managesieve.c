/* managesieve - the ManageSieve service (RFC 5804): mail clients edit the
 * Sieve scripts of their mailbox (lib-sieve script store, the same files
 * `postern filter` and deliver use). SASL PLAIN only after STARTTLS.
 *
 * Input is bounded: a command line (MS_LINE_MAX), a literal (the script
 * limit after login, MS_PREAUTH_MAX before), MS_MAX_ERRORS bad commands
 * and MS_MAX_AUTH_FAILS failed logins before BYE, a per-address
 * connection limit, a login and an idle timeout. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "directory.h"
#include "log.h"
#include "logins.h"
#include "managesieve-parse.h"
#include "authpool.h"
#include "postern-config.h"
#include "service.h"
#include "settings.h"
#include "sieve.h"
#include "strutil.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"

#define MS_PREAUTH_MAX 8192        /* a literal before login */
#define MS_MAX_ERRORS 10
#define MS_MAX_AUTH_FAILS 3
#define MS_MAX_SCRIPTS 100
#define MS_CONN_PER_IP 20
#define MS_LOGIN_TIMEOUT 60
#define MS_IDLE_TIMEOUT 1800
#define MS_OUT_HIGH (2 * 1024 * 1024) /* answers queued before we stop reading */

enum ms_state { ST_AUTH, ST_TRANS };

struct session {
	struct session *prev, *next;
	struct bufferevent *bev;
	struct sockaddr_storage sa;
	char addr[INET6_ADDRSTRLEN];
	uint64_t id;
	enum ms_state state;
	bool tls;
	bool closing;
	bool sasl_wait;            /* AUTHENTICATE waiting for the response */
	int errors;
	int auth_fails;
	char *login;
	char *root;                /* mailbox root after login */
	struct event *close_ev;    /* waiting for TLS output to leave */
	struct auth_req *auth_req; /* a password check under way */
	struct service_login *reg; /* logins.h: revocation */
	struct event *deadline;    /* the whole login phase, trickle or not */
	bool paused;               /* the client does not read its answers */
	int close_waits;
};

static struct {
	struct service *svc;
	SSL_CTX *ssl;
	const char *tls_error;
	struct session *sessions;
	uint64_t next_id;
	struct auth_pool *auth;
} server;

static void session_free(struct session *s);
static void set_callbacks(struct session *s);
static void on_read(struct bufferevent *bev, void *arg);

/* ---------------------------------------------------------- output */

static void
out(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

/* out_string - a quoted string, or a literal when it cannot be one */
static void
out_string(struct session *s, const char *v, size_t len)
{
	bool quoted = len < 1024;
	for (size_t i = 0; i < len && quoted; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0' || v[i] == '"' ||
		    v[i] == '\\')
			quoted = false;
	struct evbuffer *o = bufferevent_get_output(s->bev);
	if (quoted) {
		evbuffer_add(o, "\"", 1);
		evbuffer_add(o, v, len);
		evbuffer_add(o, "\"", 1);
	} else {
		evbuffer_add_printf(o, "{%zu}\r\n", len);
		evbuffer_add(o, v, len);
	}
}

/* reply - OK/NO/BYE [(code)] "text" */
static void
reply(struct session *s, const char *what, const char *code, const char *text)
{
	out(s, "%s", what);
	if (code != NULL)
		out(s, " (%s)", code);
	if (text != NULL) {
		out(s, " ");
		out_string(s, text, strlen(text));
	}
	out(s, "\r\n");
}

static void
capabilities(struct session *s)
{
	out(s, "\"IMPLEMENTATION\" \"Postern " POSTERN_VERSION "\"\r\n");
	out(s, "\"SIEVE\" \"%s\"\r\n", sieve_extensions());
	if (s->tls || server.ssl == NULL)
		out(s, "\"SASL\" \"%s\"\r\n", s->tls ? "PLAIN" : "");
	else
		out(s, "\"SASL\" \"\"\r\n");
	if (!s->tls && server.ssl != NULL && s->state == ST_AUTH)
		out(s, "\"STARTTLS\"\r\n");
	out(s, "\"MAXREDIRECTS\" \"%d\"\r\n", SIEVE_REDIRECTS_MAX);
	if (s->state == ST_TRANS && s->login != NULL) {
		out(s, "\"OWNER\" ");
		out_string(s, s->login, strlen(s->login));
		out(s, "\r\n");
	}
	out(s, "\"VERSION\" \"1.0\"\r\n");
}

static void
session_close(struct session *s)
{
	s->closing = true;
	/* every caller has queued a reply: on_write frees s once it is out */
	bufferevent_disable(s->bev, EV_READ);
}

static void
set_timeouts(struct session *s)
{
	struct timeval t = { s->state == ST_AUTH ? MS_LOGIN_TIMEOUT :
	    MS_IDLE_TIMEOUT, 0 };
	bufferevent_set_timeouts(s->bev, &t, &t);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->state != ST_AUTH || s->closing)
		return;
	log_info("managesieve s%" PRIu64 " %s: no login within %d s", s->id,
	    s->addr, MS_LOGIN_TIMEOUT);
	reply(s, "BYE", NULL, "login took too long");
	session_close(s);
}

/* arm_deadline - MS_LOGIN_TIMEOUT for the whole login phase: the idle
 * timeout alone restarts with every byte a slow client sends */
static void
arm_deadline(struct session *s)
{
	struct timeval tv = { MS_LOGIN_TIMEOUT, 0 };
	if (s->deadline == NULL)
		s->deadline = evtimer_new(server.svc->base, on_deadline, s);
	evtimer_add(s->deadline, &tv);
}

/* --------------------------------------------------------- commands */

static bool
need(struct session *s, const struct ms_cmd *c, size_t min, size_t max)
{
	if (c->argc < min || c->argc > max) {
		reply(s, "NO", NULL, "wrong number of arguments");
		s->errors++;
		return false;
	}
	for (size_t i = 0; i < c->argc; i++)
		if (strlen(c->argv[i]) != c->argl[i] && strcmp(c->verb, "PUTSCRIPT")
		    && strcmp(c->verb, "CHECKSCRIPT")) {
			reply(s, "NO", NULL, "NUL in an argument");
			s->errors++;
			return false;
		}
	return true;
}

static bool
name_ok(struct session *s, const char *name)
{
	const char *err;
	if (sieve_name_check(name, &err) < 0) {
		reply(s, "NO", NULL, err);
		return false;
	}
	return true;
}

/* on_revoked - the mailbox's password changed, or it (or its post office)
 * was disabled or deleted */
static void
on_revoked(void *ctx)
{
	struct session *s = ctx;

	if (s->closing)
		return;
	log_info("managesieve s%" PRIu64 " %s: %s: credentials revoked, closing",
	    s->id, s->addr, s->login);
	reply(s, "BYE", NULL, "your credentials were changed or revoked; log "
	    "in again");
	session_close(s);
	struct timeval tv = { 5, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
}

/* login_failed - a failed login, counted per session and per address */
static void
login_failed(struct session *s, const char *why)
{
	log_info("managesieve s%" PRIu64 " %s: login failed%s%s", s->id,
	    s->addr, why ? ": " : "", why ? why : "");
	throttle_failed(server.svc, (struct sockaddr *)&s->sa);
	reply(s, "NO", NULL, "Authentication failed");
	s->auth_fails++;
}

/* login_done - the answer of the password check, in the loop */
static void
login_done(void *ctx, enum dir_auth_result r, const struct dir_mailbox *mb,
	   const char *error)
{
	struct session *s = ctx;

	s->auth_req = NULL;
	if (r == DIR_AUTH_ERROR) {
		log_warnx("managesieve s%" PRIu64 ": %s", s->id,
		    error ? error : "directory error");
		reply(s, "NO", "TRYLATER", "Authentication is unavailable");
	} else if (r != DIR_AUTH_OK) {
		login_failed(s, NULL);
	} else if (!service_login_start(server.svc, &s->reg,
	    (struct sockaddr *)&s->sa, mb, 0, on_revoked, s)) {
		reply(s, "NO", "TRYLATER", "Authentication is unavailable");
	} else {
		throttle_ok(server.svc, (struct sockaddr *)&s->sa);
		s->login = xasprintf("%s@%s", mb->name, mb->postoffice);
		s->root = dir_mailbox_path(server.svc->db, mb);
		s->state = ST_TRANS;
		set_timeouts(s);
		evtimer_del(s->deadline);
		log_info("managesieve s%" PRIu64 " %s: login %s", s->id, s->addr,
		    s->login);
		reply(s, "OK", NULL, "Logged in");
	}
	if (s->auth_fails >= MS_MAX_AUTH_FAILS) {
		reply(s, "BYE", NULL, "too many errors");
		session_close(s);
		return;
	}
	/* what the client sent meanwhile */
	on_read(s->bev, s);
}

/* auth_plain - check a decoded SASL PLAIN response */
static void
auth_plain(struct session *s, const char *b64, size_t b64len)
{
	unsigned char dec[1024];

	if (b64len == 0 || b64len > 1300 || b64len % 4 != 0) {
		reply(s, "NO", NULL, "bad SASL response");
		s->auth_fails++;
		return;
	}
	int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)b64len);
	if (n < 0) {
		reply(s, "NO", NULL, "bad base64");
		s->auth_fails++;
		return;
	}
	/* padding decodes as NULs at the end: drop them */
	while (b64len > 0 && b64[b64len - 1] == '=') {
		b64len--;
		n--;
	}
	dec[n] = '\0';
	const char *authz = (const char *)dec;
	const char *p1 = memchr(dec, '\0', (size_t)n);
	const char *p2 = p1 ? memchr(p1 + 1, '\0', (size_t)n - (size_t)(p1 + 1 -
	    (const char *)dec)) : NULL;
	if (p1 == NULL || p2 == NULL) {
		reply(s, "NO", NULL, "bad SASL PLAIN response");
		s->auth_fails++;
		return;
	}
	if (memchr(p2 + 1, '\0', (size_t)n - (size_t)(p2 + 1 -
	    (const char *)dec)) != NULL) {
		/* cut at it, the password could match a shorter one */
		OPENSSL_cleanse(dec, sizeof(dec));
		login_failed(s, "NUL byte in the password");
		return;
	}
	const char *user = p1 + 1, *pass = p2 + 1;
	if (*authz != '\0' && strcmp(authz, user) != 0) {
		reply(s, "NO", NULL, "authorization identity differs");
		s->auth_fails++;
		return;
	}
	if (throttle_blocked(server.svc, (struct sockaddr *)&s->sa)) {
		OPENSSL_cleanse(dec, sizeof(dec));
		log_info("managesieve s%" PRIu64 " %s: login refused: too many "
		    "failures", s->id, s->addr);
		reply(s, "NO", "TRYLATER", "too many failed logins from your "
		    "address; try again later");
		s->auth_fails++;
		return;
	}
	/* the hash runs on the pool's threads (authpool.h); input waits */
	s->auth_req = auth_pool_submit_client(server.auth, user, pass,
	    &(struct dir_client){ "sieve", s->addr }, login_done, s);
	OPENSSL_cleanse(dec, sizeof(dec));
}

static void
cmd_authenticate(struct session *s, struct ms_cmd *c)
{
	if (!need(s, c, 1, 2))
		return;
	if (!s->tls) {
		reply(s, "NO", "ENCRYPT-NEEDED", "STARTTLS first");
		return;
	}
	if (!str_eq_ci(c->argv[0], "PLAIN")) {
		reply(s, "NO", NULL, "only PLAIN is supported");
		return;
	}
	if (c->argc == 2) {
		auth_plain(s, c->argv[1], c->argl[1]);
		return;
	}
	s->sasl_wait = true;
	out(s, "\"\"\r\n");
}

static void
start_tls(struct session *s)
{
	SSL *ssl = SSL_new(server.ssl);
	struct bufferevent *tb;

	/* nothing pipelined after STARTTLS is taken */
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	tb = bufferevent_openssl_filter_new(server.svc->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		session_close(s);
		return;
	}
	s->bev = tb;
	s->tls = true;
	set_callbacks(s);
	/* RFC 5804 2.2: the capabilities again, under TLS */
	capabilities(s);
	reply(s, "OK", NULL, "TLS active");
}

static void
list_scripts(struct session *s)
{
	char **names = NULL, *active = NULL;
	size_t n = 0;
	const char *err;

	if (sieve_store_list(s->root, &names, &n, &active, &err) < 0) {
		reply(s, "NO", NULL, err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		out_string(s, names[i], strlen(names[i]));
		if (active != NULL && strcmp(active, names[i]) == 0)
			out(s, " ACTIVE");
		out(s, "\r\n");
	}
	sieve_store_list_free(names, n);
	free(active);
	reply(s, "OK", NULL, "Listscripts completed");
}

static bool
script_exists(struct session *s, const char *name, size_t *count_r)
{
	char **names = NULL;
	size_t n = 0;
	const char *err;
	bool found = false;

	if (sieve_store_list(s->root, &names, &n, NULL, &err) == 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], name) == 0)
				found = true;
	sieve_store_list_free(names, n);
	if (count_r != NULL)
		*count_r = n;
	return found;
}

static void
cmd_trans(struct session *s, struct ms_cmd *c)
{
	const char *err = NULL;
	const char *v = c->verb;

	if (strcmp(v, "LISTSCRIPTS") == 0) {
		if (need(s, c, 0, 0))
			list_scripts(s);
	} else if (strcmp(v, "HAVESPACE") == 0) {
		if (!need(s, c, 2, 2) || !name_ok(s, c->argv[0]))
			return;
		char *end;
		unsigned long long size = strtoull(c->argv[1], &end, 10);
		size_t count = 0;
		bool exists = script_exists(s, c->argv[0], &count);
		if (*end != '\0' || end == c->argv[1])
			reply(s, "NO", NULL, "bad size");
		else if (size > SIEVE_SCRIPT_MAX)
			reply(s, "NO", "QUOTA/MAXSIZE", "script too large");
		else if (!exists && count >= MS_MAX_SCRIPTS)
			reply(s, "NO", "QUOTA/MAXSCRIPTS", "too many scripts");
		else
			reply(s, "OK", NULL, "Putscript would succeed");
	} else if (strcmp(v, "PUTSCRIPT") == 0) {
		if (!need(s, c, 2, 2) || !name_ok(s, c->argv[0]))
			return;
		char *cerr = NULL;
		size_t count = 0;
		if (!script_exists(s, c->argv[0], &count) && count >= MS_MAX_SCRIPTS) {
			reply(s, "NO", "QUOTA/MAXSCRIPTS", "too many scripts");
			return;
		}
		if (sieve_store_put(s->root, c->argv[0], c->argv[1], c->argl[1],
		    &cerr, &err) < 0) {
			reply(s, "NO", NULL, cerr != NULL ? cerr : err);
			free(cerr);
			return;
		}
		log_info("managesieve s%" PRIu64 " %s: script %s stored (%zu "
		    "bytes)", s->id, s->login, c->argv[0], c->argl[1]);
		reply(s, "OK", NULL, "Putscript completed");
	} else if (strcmp(v, "CHECKSCRIPT") == 0) {
		if (!need(s, c, 1, 1))
			return;
		char *cerr = NULL;
		struct sieve_script *sc = sieve_compile(c->argv[0], c->argl[0], &cerr);
		if (sc == NULL) {
			reply(s, "NO", NULL, cerr);
			free(cerr);
			return;
		}
		sieve_script_free(&sc);
		reply(s, "OK", NULL, "Script is valid");
	} else if (strcmp(v, "SETACTIVE") == 0) {
		if (!need(s, c, 1, 1))
			return;
		if (*c->argv[0] != '\0' && !name_ok(s, c->argv[0]))
			return;
		if (sieve_store_activate(s->root, c->argv[0], &err) < 0)
			reply(s, "NO", strcmp(err, "no such script") == 0 ?
			    "NONEXISTENT" : NULL, err);
		else
			reply(s, "OK", NULL, *c->argv[0] ? "Script activated" :
			    "No script active");
	} else if (strcmp(v, "GETSCRIPT") == 0) {
		if (!need(s, c, 1, 1) || !name_ok(s, c->argv[0]))
			return;
		char *text = NULL;
		size_t len = 0;
		if (sieve_store_get(s->root, c->argv[0], &text, &len, &err) < 0) {
			reply(s, "NO", strcmp(err, "no such script") == 0 ?
			    "NONEXISTENT" : NULL, err);
			return;
		}
		out(s, "{%zu}\r\n", len);
		evbuffer_add(bufferevent_get_output(s->bev), text, len);
		out(s, "\r\n");
		free(text);
		reply(s, "OK", NULL, "Getscript completed");
	} else if (strcmp(v, "DELETESCRIPT") == 0) {
		if (!need(s, c, 1, 1) || !name_ok(s, c->argv[0]))
			return;
		if (sieve_store_delete(s->root, c->argv[0], &err) < 0)
			reply(s, "NO", strcmp(err, "no such script") == 0 ?
			    "NONEXISTENT" : strcmp(err, "the script is active") == 0 ?
			    "ACTIVE" : NULL, err);
		else
			reply(s, "OK", NULL, "Deletescript completed");
	} else if (strcmp(v, "RENAMESCRIPT") == 0) {
		if (!need(s, c, 2, 2) || !name_ok(s, c->argv[0]) ||
		    !name_ok(s, c->argv[1]))
			return;
		if (sieve_store_rename(s->root, c->argv[0], c->argv[1], &err) < 0)
			reply(s, "NO", strcmp(err, "no such script") == 0 ?
			    "NONEXISTENT" : strcmp(err, "a script of that name "
			    "exists") == 0 ? "ALREADYEXISTS" : NULL, err);
		else
			reply(s, "OK", NULL, "Renamescript completed");
	} else if (strcmp(v, "UNAUTHENTICATE") == 0) {
		if (!need(s, c, 0, 0))
			return;
		free(s->login);
		free(s->root);
		s->login = s->root = NULL;
		service_login_end(&s->reg);
		s->state = ST_AUTH;
		set_timeouts(s);
		arm_deadline(s);
		reply(s, "OK", NULL, "Unauthenticated");
	} else {
		reply(s, "NO", NULL, "unknown command");
		s->errors++;
	}
}

static void
command(struct session *s, struct ms_cmd *c)
{
	const char *v = c->verb;

	if (strcmp(v, "CAPABILITY") == 0) {
		if (need(s, c, 0, 0)) {
			capabilities(s);
			reply(s, "OK", NULL, "Capability completed");
		}
	} else if (strcmp(v, "LOGOUT") == 0) {
		reply(s, "OK", NULL, "Logout completed");
		session_close(s);
	} else if (strcmp(v, "NOOP") == 0) {
		if (!need(s, c, 0, 1))
			return;
		if (c->argc == 1) {
			out(s, "OK (TAG ");
			out_string(s, c->argv[0], c->argl[0]);
			out(s, ") \"Done\"\r\n");
		} else {
			reply(s, "OK", NULL, "Done");
		}
	} else if (strcmp(v, "STARTTLS") == 0) {
		if (!need(s, c, 0, 0))
			return;
		if (s->tls || server.ssl == NULL || s->state != ST_AUTH) {
			reply(s, "NO", NULL, "STARTTLS not available");
			return;
		}
		reply(s, "OK", NULL, "Begin TLS negotiation now");
		start_tls(s);
	} else if (strcmp(v, "AUTHENTICATE") == 0) {
		if (s->state != ST_AUTH) {
			reply(s, "NO", NULL, "already authenticated");
			return;
		}
		cmd_authenticate(s, c);
	} else if (s->state == ST_TRANS) {
		cmd_trans(s, c);
	} else {
		reply(s, "NO", NULL, "authenticate first");
		s->errors++;
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!s->closing && s->auth_req == NULL) {
		size_t len = evbuffer_get_length(in);
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) >
		    MS_OUT_HIGH) {
			/* resumed by on_write */
			s->paused = true;
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		size_t max_lit = s->state == ST_TRANS ? SIEVE_SCRIPT_MAX :
		    MS_PREAUTH_MAX;
		struct ms_cmd c;
		size_t used;
		const char *err = NULL;

		if (len == 0)
			return;
		const char *data = (const char *)evbuffer_pullup(in, -1);
		int r = ms_parse(data, len, max_lit, &c, &used, &err);
		if (r == 0) {
			if (len > max_lit + MS_LINE_MAX) {
				reply(s, "BYE", NULL, "command too long");
				session_close(s);
			}
			return;
		}
		if (r == -2) {
			reply(s, "BYE", s->state == ST_TRANS ? "QUOTA/MAXSIZE" : NULL,
			    err);
			session_close(s);
			return;
		}
		if (r < 0) {
			if (used == 0) {
				if (len > MS_LINE_MAX) {
					reply(s, "BYE", NULL, "line too long");
					session_close(s);
				}
				return;
			}
			evbuffer_drain(in, used);
			reply(s, "NO", NULL, err);
			s->sasl_wait = false;
		} else {
			evbuffer_drain(in, used);
			if (s->sasl_wait) {
				/* the client's SASL response: a string, or
				 * "*" to cancel */
				s->sasl_wait = false;
				if (c.argc == 1 && c.verb[0] == '\0')
					auth_plain(s, c.argv[0], c.argl[0]);
				else
					reply(s, "NO", NULL, "authentication cancelled");
			} else if (c.verb[0] == '\0') {
				reply(s, "NO", NULL, "expected a command");
				s->errors++;
			} else {
				command(s, &c);
			}
			cmd_clear(&c);
		}
		if (s->closing)
			return;
		if (s->errors >= MS_MAX_ERRORS || s->auth_fails >= MS_MAX_AUTH_FAILS) {
			reply(s, "BYE", NULL, "too many errors");
			session_close(s);
			return;
		}
		if (s->tls && bev != s->bev)
			return;   /* STARTTLS replaced the bufferevent */
	}
}

static void session_finish(struct session *s);

static void
on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_finish(arg);
}

/* session_finish - free s once what the TLS filter passed on has left
 * (bounded: 5 s) */
static void
session_finish(struct session *s)
{
	struct bufferevent *u = bufferevent_get_underlying(s->bev);

	struct timeval tv = { 0, 10000 };

	if (u != NULL && evbuffer_get_length(bufferevent_get_output(u)) > 0 &&
	    s->close_waits++ < 500) {
		if (s->close_ev == NULL)
			s->close_ev = evtimer_new(server.svc->base, on_close_timer, s);
		evtimer_add(s->close_ev, &tv);
		return;
	}
	session_free(s);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	(void)bev;
	if (s->closing && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		session_finish(s);
		return;
	}
	if (s->paused && !s->closing &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) < MS_OUT_HIGH / 2) {
		s->paused = false;
		bufferevent_enable(s->bev, EV_READ);
		on_read(s->bev, s);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		log_info("managesieve s%" PRIu64 " %s: timeout", s->id, s->addr);
		reply(s, "BYE", NULL, "idle for too long");
		s->closing = true;
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_set_timeouts(s->bev, NULL, &(struct timeval){ 5, 0 });
		bufferevent_enable(s->bev, EV_WRITE);
		return;
	}
	session_free(s);
}

static void
set_callbacks(struct session *s)
{
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
session_free(struct session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		server.sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->auth_req != NULL)
		auth_req_cancel(server.auth, s->auth_req);
	service_login_end(&s->reg);
	if (s->close_ev != NULL)
		event_free(s->close_ev);
	if (s->deadline != NULL)
		event_free(s->deadline);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	service_conn_release(server.svc, (struct sockaddr *)&s->sa);
	log_info("managesieve s%" PRIu64 " %s: closed", s->id, s->addr);
	free(s->login);
	free(s->root);
	free(s);
}

static void
ms_accept(struct service *svc, struct service_listener *l, int fd,
	  const struct sockaddr *sa, socklen_t salen)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    addr, sizeof(addr));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    addr, sizeof(addr));
	if (!service_conn_acquire(svc, sa, MS_CONN_PER_IP)) {
		static const char msg[] = "BYE \"too many connections from your "
		    "address\"\r\n";
		log_info("managesieve %s: refused: over %d connections", addr,
		    MS_CONN_PER_IP);
		(void)!write(fd, msg, sizeof(msg) - 1);
		close(fd);
		return;
	}
	struct session *s = xcalloc(1, sizeof(*s));
	memcpy(&s->sa, sa, salen < sizeof(s->sa) ? salen : sizeof(s->sa));
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->id = ++server.next_id;
	s->next = server.sessions;
	if (s->next != NULL)
		s->next->prev = s;
	server.sessions = s;
	s->bev = bufferevent_socket_new(svc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		close(fd);
		session_free(s);
		return;
	}
	set_callbacks(s);
	arm_deadline(s);
	log_info("managesieve s%" PRIu64 " connect from %s on %s", s->id, addr,
	    l->name);
	capabilities(s);
	reply(s, "OK", NULL, "Postern ManageSieve ready");
}

static int
ms_init(struct service *svc)
{
	const char *err;

	server.svc = svc;
	server.auth = auth_pool_create(svc->base, svc->root, 2, &err);
	if (server.auth == NULL) {
		log_error("authentication threads: %s", err);
		return -1;
	}
	server.ssl = tls_server_ctx(svc, &server.tls_error);
	if (server.ssl == NULL)
		log_warnx("TLS unavailable (no STARTTLS, so no login): %s",
		    server.tls_error);
	service_set_state(svc, "running", NULL);
	return 0;
}

static void
ms_shutdown(struct service *svc)
{
	(void)svc;
	while (server.sessions != NULL)
		session_free(server.sessions);
	auth_pool_free(&server.auth);
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "managesieve", NULL };
	static const struct service_def def = {
		.name = "managesieve",
		.listeners = listeners,
		.init = ms_init,
		.accept = ms_accept,
		.shutdown = ms_shutdown,
	};
	return service_main(argc, argv, &def);
}
