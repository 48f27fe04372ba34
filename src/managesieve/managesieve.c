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
#include "login.h"
#include "logins.h"
#include "managesieve-parse.h"
#include "conn.h"
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
	struct conn *c;            /* the connection (lib-service/conn.h) */
	enum ms_state state;
	bool sasl_wait;            /* AUTHENTICATE waiting for the response */
	int errors;
	int auth_fails;
	char *login;
	char *root;                /* mailbox root after login */
	struct event *close_ev;    /* waiting for TLS output to leave */
	struct auth_req *auth_req; /* a password check under way */
	struct service_login *reg; /* logins.h: revocation */
	bool in_auth;              /* a password check under way */
	uint32_t handoff_id;       /* post-login process: the login handed
				    * over (login.h), until answered */
};

static struct conn_server *server;

static void session_read(struct conn *c);

/* ---------------------------------------------------------- output */

static void
out(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(conn_output(s->c), fmt, ap);
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
	struct evbuffer *o = conn_output(s->c);
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
	if (s->c->tls || conn_server_tls(server) == NULL)
		out(s, "\"SASL\" \"%s\"\r\n", s->c->tls ? "PLAIN" : "");
	else
		out(s, "\"SASL\" \"\"\r\n");
	if (!s->c->tls && conn_server_tls(server) != NULL && s->state == ST_AUTH)
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
	/* every caller has queued a reply: the layer frees s once it is out */
	conn_close(s->c, 0);
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

	if (s->c->closing)
		return;
	log_info("%s: [%s]: %s: credentials revoked, closing",
	    s->c->sid, s->c->addr, s->login);
	reply(s, "BYE", NULL, "your credentials were changed or revoked; log "
	    "in again");
	session_close(s);   /* the BYE gets 5 s to leave */
}

/* login_failed - a failed login, counted per session and per address */
static void
login_failed(struct session *s, const char *why)
{
	log_info("%s: [%s]: login failed%s%s", s->c->sid,
	    s->c->addr, why ? ": " : "", why ? why : "");
	throttle_failed(conn_server_service(server), (struct sockaddr *)&s->c->sa);
	reply(s, "NO", NULL, "Authentication failed");
	s->auth_fails++;
}

/* adopted_answer - post-login process, a login handed over (login.h)
 * answered: logged in, the pre-login process proxies the client to us
 * from now on; else the NO goes back to it, where the session goes on */
static void
adopted_answer(struct session *s)
{
	uint32_t id = s->handoff_id;

	s->handoff_id = 0;
	if (s->state == ST_TRANS) {
		login_result(conn_server_service(server), id, true, NULL);
		conn_resume(s->c);
	} else {
		login_result_queued(conn_server_service(server), id, s->c);
	}
}

/* login_done - the answer of the password check, in the loop */
static void
login_done(struct conn *c, enum dir_auth_result r, const struct dir_mailbox *mb,
	   const char *error)
{
	struct session *s = c->ctx;

	s->in_auth = false;
	if (r == DIR_AUTH_ERROR) {
		log_warnx("%s: %s", s->c->sid,
		    error ? error : "directory error");
		reply(s, "NO", "TRYLATER", "Authentication is unavailable");
	} else if (r != DIR_AUTH_OK) {
		login_failed(s, NULL);
	} else if (!service_login_start(conn_server_service(server), &s->reg,
	    (struct sockaddr *)&s->c->sa, mb, 0, on_revoked, s)) {
		reply(s, "NO", "TRYLATER", "Authentication is unavailable");
	} else {
		throttle_ok(conn_server_service(server), (struct sockaddr *)&s->c->sa);
		s->login = xasprintf("%s@%s", mb->name, mb->postoffice);
		s->root = dir_mailbox_path(conn_server_service(server)->db, mb);
		s->state = ST_TRANS;
		conn_logged_in(s->c);
		log_info("%s: [%s]: login %s", s->c->sid, s->c->addr,
		    s->login);
		reply(s, "OK", NULL, "Logged in");
	}
	if (s->handoff_id != 0) {
		adopted_answer(s);
		return;
	}
	if (s->auth_fails >= MS_MAX_AUTH_FAILS) {
		reply(s, "BYE", NULL, "too many errors");
		session_close(s);
		return;
	}
	/* what the client sent meanwhile */
	conn_resume(s->c);
}

static void check_password(struct session *s, const char *user,
			   const char *pass);

/* handed - pre-login process: the post-login process's answer to a
 * login; ok: the connection is proxied to it (it said OK), nothing more
 * is parsed here; else its NO goes to the client and the session goes
 * on (every refusal counts towards MS_MAX_AUTH_FAILS) */
static void
handed(struct conn *c, bool ok, const char *text)
{
	struct session *s = c->ctx;

	s->in_auth = false;
	if (ok) {
		s->state = ST_TRANS;
		return;
	}
	if (text != NULL && *text != '\0')
		conn_write(c, text, strlen(text));
	else
		reply(s, "NO", "TRYLATER", "Authentication is unavailable");
	if (++s->auth_fails >= MS_MAX_AUTH_FAILS) {
		reply(s, "BYE", NULL, "too many errors");
		session_close(s);
		return;
	}
	conn_resume(c);
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
	bool nul = memchr(p2 + 1, '\0', (size_t)n - (size_t)(p2 + 1 -
	    (const char *)dec)) != NULL;
	const char *user = p1 + 1, *pass = p2 + 1;
	if (!nul && *authz != '\0' && strcmp(authz, user) != 0) {
		reply(s, "NO", NULL, "authorization identity differs");
		s->auth_fails++;
		return;
	}
	if (login_side(conn_server_service(server))) {
		/* pre-login process: the post-login process checks it (and
		 * counts a NUL as a failed login) and answers (login.h) */
		s->in_auth = true;
		if (nul)
			login_submit(s->c, "", 1, "", 0, NULL, handed);
		else
			login_submit(s->c, user, strlen(user), pass, strlen(pass),
			    NULL, handed);
		OPENSSL_cleanse(dec, sizeof(dec));
		return;
	}
	if (nul) {
		/* cut at it, the password could match a shorter one */
		OPENSSL_cleanse(dec, sizeof(dec));
		login_failed(s, "NUL byte in the password");
		return;
	}
	check_password(s, user, pass);
	OPENSSL_cleanse(dec, sizeof(dec));
}

/* check_password - the throttle, then the password pool (login_done) */
static void
check_password(struct session *s, const char *user, const char *pass)
{
	if (throttle_blocked(conn_server_service(server), (struct sockaddr *)&s->c->sa)) {
		log_info("%s: [%s]: login refused: too many "
		    "failures", s->c->sid, s->c->addr);
		reply(s, "NO", "TRYLATER", "too many failed logins from your "
		    "address; try again later");
		s->auth_fails++;
		return;
	}
	/* the hash runs on the pool's threads (authpool.h); input waits */
	s->in_auth = true;
	conn_auth(s->c, user, pass, login_done);
}

static void
cmd_authenticate(struct session *s, struct ms_cmd *c)
{
	if (!need(s, c, 1, 2))
		return;
	if (!s->c->tls) {
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

/* tls_started - TLS is on: RFC 5804 2.2, the capabilities again */
static void
tls_started(struct conn *c)
{
	struct session *s = c->ctx;

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
		log_info("%s: [%s]: script %s stored (%zu "
		    "bytes)", s->c->sid, s->login, c->argv[0], c->argl[1]);
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
		evbuffer_add(conn_output(s->c), text, len);
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
		conn_logged_out(s->c);
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
		if (s->c->tls || conn_server_tls(server) == NULL || s->state != ST_AUTH) {
			reply(s, "NO", NULL, "STARTTLS not available");
			return;
		}
		reply(s, "OK", NULL, "Begin TLS negotiation now");
		conn_starttls(s->c);
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
session_read(struct conn *conn)
{
	struct session *s = conn->ctx;
	struct evbuffer *in = conn_input(conn);

	while (!conn->closing && !conn->starttls && !s->in_auth) {
		size_t len = evbuffer_get_length(in);
		if (conn_out_full(conn))
			return;   /* resumed by the layer */
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
		if (s->c->closing)
			return;
		if (s->errors >= MS_MAX_ERRORS || s->auth_fails >= MS_MAX_AUTH_FAILS) {
			reply(s, "BYE", NULL, "too many errors");
			session_close(s);
			return;
		}
	}
}

/* on_timeout - MS_LOGIN_TIMEOUT for the whole login phase (a client
 * trickling bytes too), MS_IDLE_TIMEOUT of silence after */
static bool
on_timeout(struct conn *c, enum conn_timeout why)
{
	struct session *s = c->ctx;

	reply(s, "BYE", NULL, why == CONN_TIMEOUT_LOGIN ?
	    "login took too long" : "idle for too long");
	return true;
}

static void
on_teardown(struct conn *c)
{
	struct session *s = c->ctx;

	if (s == NULL)
		return;
	service_login_end(&s->reg);
	free(s->login);
	free(s->root);
	free(s);
	c->ctx = NULL;
}

static struct session *
session_new(struct conn *c)
{
	struct session *s = xcalloc(1, sizeof(*s));

	c->ctx = s;
	s->c = c;
	return s;
}

static void
on_open(struct conn *c)
{
	struct session *s = session_new(c);

	capabilities(s);
	reply(s, "OK", NULL, "Postern ManageSieve ready");
}

static const struct conn_ops ms_ops = {
	.open = on_open,
	.read = session_read,
	.timeout = on_timeout,
	.tls_started = tls_started,
	.teardown = on_teardown,
};

static const struct conn_def ms_conn = {
	.sid_letter = 'm',
	.protocol = "sieve",
	.limit_default = MS_CONN_PER_IP,
	.login_timeout_default = MS_LOGIN_TIMEOUT,
	.idle_timeout_default = MS_IDLE_TIMEOUT,
	.out_high = MS_OUT_HIGH,
	.ops = &ms_ops,
};

/* ms_adopt - post-login process: a login handed over by the pre-login
 * process (login.h) */
static void
ms_adopt(struct service *svc, const struct login_request *r)
{
	struct conn *c = conn_adopt(server, r->fd, (struct sockaddr *)&r->sa,
	    r->salen, r->sid, r->tls_info);

	if (c == NULL) {
		login_result(svc, r->id, false, "NO (TRYLATER) \"Authentication "
		    "is unavailable\"\r\n");
		return;
	}
	struct session *s = session_new(c);
	s->handoff_id = r->id;
	if (r->nul)
		login_failed(s, "NUL byte in the password");
	else
		check_password(s, r->user, r->password);
	if (!s->in_auth && s->handoff_id != 0)
		adopted_answer(s);   /* refused at once */
}

/* ms_login_init - the pre-login process: the connection layer with TLS,
 * the commands before login */
static int
ms_login_init(struct service *svc)
{
	server = conn_server_new(svc, &ms_conn, NULL);
	conn_server_busy_text(server, "BYE \"too many connections from your "
	    "address\"\r\n", NULL);
	if (conn_server_tls(server) == NULL)
		log_warnx("no STARTTLS, so no login");
	return 0;
}

static int
ms_init(struct service *svc)
{
	server = conn_server_new(svc, &ms_conn, NULL);
	conn_server_busy_text(server, "BYE \"too many connections from your "
	    "address\"\r\n", NULL);
	service_set_state(svc, "running", NULL);
	return 0;
}

static void
ms_shutdown(struct service *svc)
{
	(void)svc;
	conn_server_free(&server);
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "managesieve", NULL };
	/* the limits and timeouts are constants (ms_conn): no settings */
	static const struct login_def login = {
		.name = "sieve-login",
		.init = ms_login_init,
		.adopt = ms_adopt,
	};
	static const struct service_def def = {
		.name = "managesieve",
		.listeners = listeners,
		.init = ms_init,
		.accept = conn_service_accept,
		.shutdown = ms_shutdown,
		.login = &login,
	};
	return service_main(argc, argv, &def);
}
