#ifndef POSTERN_DATAROOT_H
#define POSTERN_DATAROOT_H

#include <stdbool.h>
#include <sys/types.h>

/* The data root:
 *   config/postern.db   config store (SQLite, WAL)
 *   host.conf           which services run on this host (posternd)
 *   store/              message store (setting path.store)
 *   queue/              connector queues, bad mail (setting path.queue)
 *   certs/              default.crt, default.key, <domain>.crt/.key (SNI)
 *   log/                one log per service
 *   run/                posternd.pid, status files of the services */

#define DATAROOT_ALL_SERVICES \
	"smtpd mta deliver smtp-out pop3d imapd managesieve httpd listserv popretr " \
	"xmppd"

/* dataroot_init - create the layout, the database and a self-signed
 * default certificate. Existing parts are kept (idempotent). */
int dataroot_init(const char *root, const char *hostname,
		  const char **error_r);
/* dataroot_make_cert - write a self-signed RSA certificate and key for
 * hostname. */
int dataroot_make_cert(const char *crt_path, const char *key_path,
		       const char *hostname, const char **error_r);
/* dataroot_host_services - the "services = a b c" line of
 * <root>/host.conf (new string, as written); -1 with an error when the
 * file cannot be read. A file without that line gives "". */
int dataroot_host_services(const char *root, char **list_r,
			   const char **error_r);
/* dataroot_host_value - the "key = value" line of <root>/host.conf (new
 * string, trimmed; "" without one): services, node (cluster.h). */
int dataroot_host_value(const char *root, const char *key, char **value_r,
			const char **error_r);
/* dataroot_resolve - the data root from -d or POSTERN_DIR, made absolute
 * (new string); NULL if neither is given. */
char *dataroot_resolve(const char *arg);

/* dataroot_become_owner - act as the owner of the data root, so that what
 * we create there is theirs. Run as root on a root owned by another user:
 * switch to that user (setgroups, setresgid, setresuid, then
 * no-new-privileges), 1. Nothing to do (the root is missing, we own it, or
 * root owns it and we are root): 0. Run as a third, non-root user, or the
 * switch failed: -1 with an error naming the owner. *uid_r and *gid_r get
 * the owner (or our own ids when the root is missing). */
int dataroot_become_owner(const char *root, uid_t *uid_r, gid_t *gid_r,
			  const char **error_r);

/* The system user of the pre-login processes (lib-service/login.h): it
 * owns nothing and is in no group of the data root, so it can open none
 * of its files. */
#define DATAROOT_LOGIN_USER "postern-login"
/* dataroot_login_user - the uid and gid of DATAROOT_LOGIN_USER; with
 * create, run as root, the system user (its own group, no home, no
 * shell) is made first when missing, by useradd: `postern init` and
 * posternd do, nobody by hand. -1 with an error naming the user. */
int dataroot_login_user(bool create, uid_t *uid_r, gid_t *gid_r,
			const char **error_r);

#endif
