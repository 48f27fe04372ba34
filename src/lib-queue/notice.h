#ifndef POSTERN_NOTICE_H
#define POSTERN_NOTICE_H

#include "db.h"

/* notice - a system notice mail to a user (a login code, a login from a
 * new country): a short text/plain message from smtp.notification_address
 * (or postmaster@<server.hostname>), null envelope sender, Auto-Submitted,
 * put durably into the SMTP inbound queue, from where the MTA delivers or
 * relays it as it does a DSN (docs/SECURITY.md "DKIM signing": its
 * origin is the post office hosting the From domain).
 * to: one address (no CR/LF; checked); subject: ASCII; text: UTF-8,
 * lines ending in \n. 0, or -1 with *error_r. */
int notice_send(struct db *db, const char *to, const char *subject,
		const char *text, const char **error_r);

#endif
