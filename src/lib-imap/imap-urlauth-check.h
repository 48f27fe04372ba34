#ifndef POSTERN_IMAP_URLAUTH_CHECK_H
#define POSTERN_IMAP_URLAUTH_CHECK_H

/* imap-urlauth-check - who may use a URLAUTH URL (RFC 4467 6, 7), for
 * imapd (GENURLAUTH, URLFETCH) and smtpd (BURL, RFC 4468): the mailbox
 * its user names (the directory), whether its access identifier admits
 * the requester, and whether its token is right under the folder's key
 * (lib-store's store-urlauth.c). */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "directory.h"
#include "imap-urlauth.h"
#include "store.h"

/* imap_urlauth_host_ours - whether a URL's host (lower case, no port) is
 * a name of this server: server.hostname, a domain it hosts or the name
 * of one of its post offices (the realm of "user@postoffice" logins),
 * not disabled. 1 yes, 0 no, -1 error. */
int imap_urlauth_host_ours(struct db *db, const char *host,
			   const char **error_r);

/* imap_urlauth_owner - the mailbox the URL's user names: the user as
 * given when it holds an '@' ("imap://bob%40example.org@mail.example.org/
 * ..."), else user@host ("imap://bob@example.org/..."). 0 as well when
 * the host is not one of this server's names (imap_urlauth_host_ours).
 * 1 found (and enabled), 0 none, -1 error. */
int imap_urlauth_owner(struct db *db, const struct imap_urlauth *u,
		       struct dir_mailbox *mb, const char **error_r);

/* imap_urlauth_allowed - whether u's access identifier admits the
 * requester: the mailbox logged in (0: nobody), fetching as itself over
 * IMAP (submit false) or through the submission server (submit true,
 * BURL). "submit+x" admits only the submission server for x, "user+x"
 * only x over IMAP, "authuser" any logged-in user, "anonymous" anyone.
 * 1 yes, 0 no, -1 error. */
int imap_urlauth_allowed(struct db *db, const struct imap_urlauth *u,
			 int64_t requester, bool submit,
			 const char **error_r);

/* imap_urlauth_check_folder - the URL (text url, parsed into u) is valid
 * for its folder f: the folder has a key and the token is right under it,
 * UIDVALIDITY (if given) is f's, and it is not past EXPIRE at now.
 * 1 valid, 0 not (*error_r says why), -1 error. */
int imap_urlauth_check_folder(struct store_folder *f,
			      const struct imap_urlauth *u, const char *url,
			      time_t now, const char **error_r);

#endif
