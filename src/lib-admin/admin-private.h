#ifndef POSTERN_ADMIN_PRIVATE_H
#define POSTERN_ADMIN_PRIVATE_H

/* admin-private - what admin.c (objects, transactions, passwords, post
 * offices, domains, mailboxes) and admin-addr.c (addresses, groups,
 * lists) share */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include "admin.h"
#include "branding.h"
#include "directory.h"
#include "fsutil.h"
#include "idn.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* adm_status_of - the adm_status for a failed db call (always negative:
 * inline, so that clang's analyzer sees that no caller goes on with its
 * out-parameters unset after a failure) */
static inline int
adm_status_of(struct db *db)
{
	switch (db_last_error(db)) {
	case DB_EBUSY:
		return ADM_BUSY;
	case DB_ECONSTRAINT:
		return ADM_EXISTS;
	default:
		return ADM_FAIL;
	}
}

/* adm_invalid - ADM_INVALID with the message fmt (a, b) in *error_r */
static inline int
adm_invalid(struct db *db, const char **error_r, const char *fmt,
	    const char *a, const char *b)
{
	db_errorf(db, error_r, fmt, a, b);
	return ADM_INVALID;
}

/* adm_notification_address - smtp.notification_address, else
 * postmaster@ the host name (lower case); new string */
char *adm_notification_address(struct db *db);

/* TX - run body (which sets r) inside one transaction; when the
 * transaction cannot begin (locked), r is its status and body is skipped,
 * so the caller still frees what it holds. */
#define TX(body) do { \
	bool outer_; \
	r = adm_tx_begin(db, &outer_, error_r); \
	if (r == ADM_OK) { \
		body; \
		const char *e2_; \
		if (adm_tx_end(db, outer_, r == ADM_OK, \
		    r == ADM_OK ? error_r : &e2_) < 0 && r == ADM_OK) \
			r = adm_status_of(db); \
	} \
} while (0)

#endif
