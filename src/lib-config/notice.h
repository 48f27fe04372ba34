#ifndef POSTERN_NOTICE_H
#define POSTERN_NOTICE_H

#include "db.h"

/* notice - a system notice mail to a user (a login code, a login from a
 * new country): a short text/plain message from smtp.notification_address
 * (or postmaster@<server.hostname>), null envelope sender, Auto-Submitted,
 * dropped into the pickup directory (<queue root>/pickup, the local
 * submission path: mta/pickup.c queues it durably as client "local",
 * from the post office of the From domain, and delivers or relays it).
 * The file is written under a dot name, fsynced and renamed into place.
 * to: one address (checked: no CR/LF, no list); subject: one line;
 * text: UTF-8, lines ending in \n. 0, or -1 with *error_r. */
int notice_send(struct db *db, const char *to, const char *subject,
		const char *text, const char **error_r);

#endif
