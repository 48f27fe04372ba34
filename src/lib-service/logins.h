#ifndef POSTERN_LOGINS_H
#define POSTERN_LOGINS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "directory.h"
#include "service.h"

/* logins - the logged-in sessions of a service process, in one place for
 * every service that takes passwords (imapd, pop3d, managesieve, smtpd
 * AUTH):
 *
 * - counted per mailbox and client address across the service's
 *   processes (Dovecot's mail_max_userip_connections), so that a limit
 *   per user, not per address, keeps one account from taking a shared
 *   NAT address's connections;
 * - revoked: once a second (LOGINS_SWEEP_MS) the process asks SQLite
 *   whether the config store changed (PRAGMA data_version: a commit by
 *   any other connection: CLI, web admin, another service); when it did,
 *   or when a session logged in since the last look, it checks each
 *   mailbox holding sessions once (dir_login_current) and ends the
 *   sessions whose password changed, or whose mailbox or post office was
 *   disabled, prevented from authenticating or deleted. The service says
 *   its protocol's goodbye in the callback.
 *
 * A service registers a session at login and ends it at logout or close;
 * it does nothing else. */

#define LOGINS_SWEEP_MS 1000

struct service_login;

/* service_revoke_cb - the session's credentials were revoked: say goodbye
 * and close. The registration is already gone (*owner is NULL). */
typedef void service_revoke_cb(void *ctx);

/* service_login_start - register a session logged in as mb (credential
 * from dir_authenticate) from sa into *owner. With limit > 0, refuses
 * (false, nothing registered) when the mailbox already has limit
 * logged-in sessions from that address in this service. */
bool service_login_start(struct service *svc, struct service_login **owner,
			 const struct sockaddr *sa,
			 const struct dir_mailbox *mb, int limit,
			 service_revoke_cb *cb, void *ctx);
/* service_login_end - logout or close: release and NULL *owner (NULL
 * safe). */
void service_login_end(struct service_login **owner);
/* service_login_valid - check now, not at the next sweep (SMTP before
 * each message). false: revoked; the registration is released and
 * *owner NULLed, the callback not called: the caller says goodbye. A
 * config store error keeps the session (logged). */
bool service_login_valid(struct service_login **owner);
/* service_logins_end_all - shutdown: release every registration without
 * callbacks. */
void service_logins_end_all(void);

#endif
