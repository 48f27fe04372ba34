#ifndef POSTERN_LOGIN_H
#define POSTERN_LOGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* login - privilege separation of a login service (issue 14 item 6), as
 * Dovecot's imap-login and pop3-login do it:
 *
 * - the service's main process binds the listeners as root, then forks
 *   the pre-login process, which keeps the listeners, loads the TLS
 *   certificates and keys, chroots to an empty directory (run/empty),
 *   becomes the user postern-login (no supplementary groups, no new
 *   privileges) and closes everything else: it holds no descriptor of
 *   the config store, the store or the queue and cannot open them;
 * - the pre-login process speaks the protocol until a client gives a
 *   user name and a password, then hands the connection to the main
 *   process (the post-login process, the data root's owner) over a
 *   SOCK_SEQPACKET pair: a LOGIN message carrying one end of a new
 *   socketpair (SCM_RIGHTS), the client's address, the session id, its
 *   TLS state, the user name, the password and the service's extra
 *   (IMAP: the command's tag); with several post-login processes
 *   (service_def.processes_setting: imapd), each has its own pair and
 *   the logins go to them in turn;
 * - the main process checks the password (conn_auth), opens the
 *   mailbox and answers on that socketpair as on a client connection
 *   (conn_adopt), and tells the pre-login process RESULT ok; or, on a
 *   failed login, RESULT fail with the line for the client, and forgets
 *   the connection;
 * - from RESULT ok the pre-login process copies bytes both ways between
 *   the client (TLS ended there) and the socketpair (conn_proxy): TLS
 *   stays in the process that holds the keys, the mailbox in the one
 *   that may open it;
 * - the pre-login process reads its settings from the main process
 *   (SETTINGS, asked for with SYNC before a batch of accepts is handled,
 *   sent when the config store changed), and gets a new log file
 *   descriptor on SIGHUP (LOGFD).
 *
 * Messages: login-msg.h (versioned, length-prefixed, an exact end);
 * anything else drops the peer (the main process exits, posternd
 * restarts the service). */

struct service;
struct conn;
struct conn_server;

#define LOGIN_USER "postern-login"

/* One connection handed over by the pre-login process (main side). */
struct login_request {
	uint32_t id;
	int fd;                         /* the socketpair end: the client */
	struct sockaddr_storage sa;     /* the client's address */
	socklen_t salen;
	char sid[24];                   /* the session id of the login side */
	char tls_info[128];             /* "" in clear */
	char user[384];
	char password[1024];
	char extra[256];                /* the service's own (IMAP: the tag
					 * of the login command), no NUL */
	bool nul;                       /* a NUL byte in user or password */
};

struct login_def {
	const char *name;               /* "pop3-login": log lines */
	/* settings the pre-login process reads (service_settings),
	 * SETTING_NONE terminated; log.level, tls.cert, tls.key and
	 * auth.max_failures are added */
	const enum setting_id *settings;
	/* init - in the pre-login process, chrooted and unprivileged: make
	 * the connection layer (svc->conns); -1 aborts */
	int (*init)(struct service *svc);
	/* adopt - in the main process: check the login of r and answer with
	 * login_result (r->fd is the callee's from here) */
	void (*adopt)(struct service *svc, const struct login_request *r);
};

/* login_start - in service_main, after binding and before dropping
 * privileges: fork the pre-login process (which never returns here),
 * with one channel to each of the nproc post-login processes the
 * service will have (processes_setting; they are forked afterwards, and
 * the pre-login process hands them the logins in turn). The main process
 * keeps the listeners' addresses, closes their sockets and gets the
 * child in svc->workers. -1 with an error. */
int login_start(struct service *svc, size_t nproc, const char **error_r);
/* login_worker - in each post-login process, once the processes are
 * forked (svc->worker set): keep its own channel, close the others */
void login_worker(struct service *svc);
/* login_attach - main process: serve the pre-login process's messages on
 * svc->base */
void login_attach(struct service *svc);
/* login_hup - main process, SIGHUP: a new log descriptor and the
 * settings to the pre-login process */
void login_hup(struct service *svc);
/* login_free - main process, at the end: the messages' event and socket */
void login_free(struct service *svc);
/* login_result - main process: the answer to request id; text is the
 * client's line on failure (with its CRLFs), NULL on success */
void login_result(struct service *svc, uint32_t id, bool ok,
		  const char *text);

/* login_result_queued - main process: a refused login whose answer the
 * service queued on c (conn_adopt's connection) as for a client: that
 * answer goes back with RESULT fail, and c is closed */
void login_result_queued(struct service *svc, uint32_t id, struct conn *c);

/* login_submit - pre-login process: hand c to a post-login process
 * with a user name, a password and extra (the service's own string, up
 * to 255 bytes without NUL: IMAP's tag; NULL: none, and
 * login_request.extra is ""); c reads nothing until cb: ok (the
 * connection is proxied from now, the service sees no more input) or
 * not (text: the lines to send the client). */
void login_submit(struct conn *c, const char *user, size_t ulen,
		  const char *password, size_t plen, const char *extra,
		  void (*cb)(struct conn *c, bool ok, const char *text));
/* login_side - true in a pre-login process */
bool login_side(const struct service *svc);
/* login_cancel - teardown of a connection with a login under way */
void login_cancel(struct conn *c);

#endif
