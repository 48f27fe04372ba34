#ifndef POSTERN_DATAROOT_H
#define POSTERN_DATAROOT_H

#include <stdbool.h>

/* The data root:
 *   config/postern.db   config store (SQLite, WAL)
 *   host.conf           which services run on this host (posternd)
 *   store/              message store (setting path.store)
 *   queue/              connector queues, bad mail (setting path.queue)
 *   certs/              default.crt, default.key, <domain>.crt/.key (SNI)
 *   log/                one log per service
 *   run/                posternd.pid, status files of the services */

#define DATAROOT_ALL_SERVICES \
	"smtpd mta deliver smtp-out pop3d imapd managesieve httpd listserv popretr"

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
/* dataroot_resolve - the data root from -d or POSTERN_DIR, made absolute
 * (new string); NULL if neither is given. */
char *dataroot_resolve(const char *arg);

#endif
