#ifndef POSTERN_CONN_H
#define POSTERN_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "directory.h"
#include "service.h"
#include "settings.h"

/* conn - one client connection of a service, from accept to teardown, the
 * same for every protocol (smtpd, imapd, pop3d, managesieve, httpd, and a
 * future xmppd), as Dovecot's login-common and OpenSMTPD's smtp.c do it:
 *
 * - accept: the client address as text, the per-address limit (and a
 *   total limit) with the protocol's refusal line, TCP_NODELAY;
 * - plain or implicit TLS (the listener named tls_listener), STARTTLS
 *   once the protocol's "go ahead" has left, with everything pipelined
 *   after the command dropped (RFC 3207 5, CVE-2011-0411);
 * - one session id format, "<letter><6 hex><4 hex of the pid>"
 *   (s0000a13f2c: the 10th session of smtpd process 0x3f2c), in every
 *   log line of the session;
 * - timeouts: the idle timeout (read and write) before and after login,
 *   the login deadline from connect (a client trickling bytes is cut off
 *   too), a handshake that times out is dropped at once;
 * - reading paused while the client does not read its answers;
 * - close once the output has left (bounded), teardown in one place;
 * - password checks off the event loop on one pool per process
 *   (conn_auth), cancelled with the connection.
 *
 * The service keeps its protocol state in ctx and is called back through
 * conn_ops. */

struct conn;
struct conn_server;

enum conn_timeout {
	CONN_TIMEOUT_IDLE,      /* no byte read or written for too long */
	CONN_TIMEOUT_LOGIN,     /* no login within the login timeout */
};

struct conn_ops {
	/* open - a new connection (c->busy set: over the per-address limit
	 * on a service with answer_busy); send the greeting */
	void (*open)(struct conn *c);
	/* read - input is buffered, or reading resumed (conn_resume) */
	void (*read)(struct conn *c);
	/* drained - the output buffer became empty (may be NULL) */
	void (*drained)(struct conn *c);
	/* timeout - queue the goodbye and return true: the layer closes
	 * (NULL: close silently); false: the service keeps the connection
	 * (it closes later itself). Not called in a TLS handshake, where
	 * no reply can leave. */
	bool (*timeout)(struct conn *c, enum conn_timeout why);
	/* tls_started - STARTTLS: the TLS layer is on; forget what was said
	 * in the clear (may be NULL) */
	void (*tls_started)(struct conn *c);
	/* teardown - the connection goes: free the session (c->ctx) */
	void (*teardown)(struct conn *c);
};

/* One service's connection settings: the settings are read at each
 * accept, so a change applies to new connections at once. A limit or
 * timeout comes from its setting (SETTING_<id>, its default is the
 * table's), or when that is SETTING_NONE from the _default beside it. */
struct conn_def {
	char sid_letter;                /* 's' smtpd, 'i' imapd, ... */
	const char *protocol;           /* "smtp", "imap", "pop3", "sieve",
					 * "http": for the password checks */
	const char *tls_listener;       /* implicit TLS: "imaps"; NULL none */
	enum setting_id limit_setting;  /* per address, e.g. pop3.max_... */
	int limit_default;
	enum setting_id total_setting;  /* connections of the process */
	int total_default;              /* 0: no limit */
	/* timeouts in seconds; 0: none */
	enum setting_id login_timeout_setting;
	int login_timeout_default;      /* neither: no login phase */
	enum setting_id idle_timeout_setting;
	int idle_timeout_default;
	int write_timeout;              /* 0: as the idle timeout */
	size_t in_high;                 /* input buffered at most; 0: any */
	size_t out_high;                /* answers queued before reading
					 * pauses (conn_out_full) */
	bool answer_busy;               /* over the limit: open() with
					 * c->busy (http answers 503) */
	bool linger;                    /* close: shut our side, read and
					 * discard until the client closes */
	bool quiet;                     /* connect and disconnect logged at
					 * debug level (httpd: one access
					 * line a request says enough) */
	const struct conn_ops *ops;
};

struct conn {
	struct conn *prev, *next;       /* the server's */
	struct conn_server *srv;
	struct bufferevent *bev;        /* replaced by STARTTLS */
	int fd;
	struct sockaddr_storage sa;
	char addr[64];                  /* the client's address as text */
	char sid[24];                   /* "s0000a13f2c" */
	unsigned long seq;              /* its number in the process (0xa) */
	const struct service_listener *listener;
	bool implicit_tls;              /* came in on tls_listener */
	bool tls;                       /* TLS is on (implicit or STARTTLS) */
	char tls_info[128];             /* "TLSv1.3 TLS_AES_..." once up */
	bool busy;                      /* over the limit (answer_busy) */
	bool logged_in;                 /* conn_logged_in: idle timeout */
	bool closing;
	bool starttls;                  /* waiting for the output to leave */
	bool paused;                    /* the client does not read */
	bool counted;
	bool in_auth;                   /* conn_auth under way */
	void *ctx;                      /* the service's session */
	/* the layer's */
	struct event *deadline;
	struct event *linger_ev;
	size_t linger_bytes;
	struct auth_req *auth;
	struct login_pending *handoff;        /* login.h: a login handed over */
	struct bufferevent *peer;       /* conn_proxy: the post-login side */
	bool adopted;                   /* conn_adopt: from a pre-login
					 * process */
	void (*auth_cb)(struct conn *c, enum dir_auth_result r,
			const struct dir_mailbox *mb, const char *error);
};

/* conn_server_new - the connection layer of a service: TLS from
 * tls_server_ctx (NULL and logged when there is no certificate). */
struct conn_server *conn_server_new(struct service *svc,
				    const struct conn_def *def, void *ctx);
/* conn_server_ctx - the ctx given to conn_server_new (the service's) */
void *conn_server_ctx(const struct conn_server *srv);
/* conn_server_free - end every connection (teardown each), free. */
void conn_server_free(struct conn_server **srv);
/* conn_server_tls - the TLS context; NULL: no STARTTLS, TLS port shut */
SSL_CTX *conn_server_tls(const struct conn_server *srv);
struct service *conn_server_service(const struct conn_server *srv);
/* conn_server_busy_text - the line written to a client refused over the
 * per-address (or total) limit on a plain listener; copied */
void conn_server_busy_text(struct conn_server *srv, const char *per_addr,
			   const char *total);
/* conn_accept - take a connection on srv (from a service's own accept);
 * conn_service_accept - service_def.accept for a service whose only
 * accept is the layer's (svc->conns) */
void conn_accept(struct conn_server *srv, struct service_listener *l, int fd,
		 const struct sockaddr *sa, socklen_t salen);
void conn_service_accept(struct service *svc, struct service_listener *l,
			 int fd, const struct sockaddr *sa, socklen_t salen);

/* conn_adopt - main process of a service with a pre-login process
 * (login.h): a connection handed over, fd the socketpair to the pre-login
 * process, which holds the client (and its TLS); no greeting, no login
 * deadline, and no open() call: the caller makes the session (c->ctx).
 * NULL when the bufferevent cannot be made (fd closed). */
struct conn *conn_adopt(struct conn_server *srv, int fd,
			const struct sockaddr *sa, socklen_t salen,
			const char *sid, const char *tls_info);
/* conn_proxy - pre-login process: from now on copy the client's bytes to
 * fd (the post-login process) and back, input already buffered first;
 * the service is called no more but for teardown. The post-login side
 * closing closes the client once its output has left. -1: not set up */
int conn_proxy(struct conn *c, int fd);

/* conn_printf, conn_write - queue output */
void conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void conn_write(struct conn *c, const void *data, size_t len);
struct evbuffer *conn_input(struct conn *c);
struct evbuffer *conn_output(struct conn *c);
/* conn_out_full - true (and reading paused until the output has drained
 * to half) when more than out_high bytes are queued */
bool conn_out_full(struct conn *c);
/* conn_suspend, conn_resume - stop reading; read again and call read()
 * for what is buffered (not while closing) */
void conn_suspend(struct conn *c);
void conn_resume(struct conn *c);
/* conn_logged_in - the session logged in: the idle timeout replaces the
 * login one and the login deadline is off */
void conn_logged_in(struct conn *c);
/* conn_logged_out - back to the login phase (ManageSieve UNAUTHENTICATE):
 * the login timeout and a new login deadline */
void conn_logged_out(struct conn *c);
/* conn_set_idle_timeout - another idle timeout (seconds) from now on */
void conn_set_idle_timeout(struct conn *c, int seconds);
/* conn_starttls - the protocol's "begin TLS" is queued: drop what was
 * pipelined, read nothing more, and put TLS on the connection once the
 * reply has left; then tls_started(). Returns the bytes dropped. */
size_t conn_starttls(struct conn *c);
/* conn_handshaking - a TLS handshake is under way */
bool conn_handshaking(const struct conn *c);
/* conn_close - read nothing more; teardown once the output has left (at
 * most wait_seconds, 0: 5 s) */
void conn_close(struct conn *c, int wait_seconds);
/* conn_free - teardown now */
void conn_free(struct conn *c);

/* conn_auth - check a password on the process's password pool (one per
 * process, every login service), off the event loop: c->in_auth is set
 * (the service reads no command meanwhile; the layer still reads, a
 * little, to notice a hangup), cb runs on the loop with the answer (mb
 * valid during the call), unless the connection went first. The
 * password is copied and wiped after use. */
void conn_auth(struct conn *c, const char *login, const char *password,
	       void (*cb)(struct conn *c, enum dir_auth_result r,
			  const struct dir_mailbox *mb, const char *error));

#endif
