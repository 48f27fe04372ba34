#ifndef POSTERN_ADMIN_AUDIT_H
#define POSTERN_ADMIN_AUDIT_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

/* audit - the log of every change made through the web admin API, with
 * its actor: <data root>/config/audit.db (SQLite WAL, synchronous=FULL,
 * versioned by PRAGMA user_version), apart from the config store so
 * that an ever-growing log neither bloats nor locks the store every
 * service reads, and so that it needs no config schema version. The
 * row numbers are also the API's object states: a type's state is the
 * number of its last change (Type/changes, ifInState). */

struct audit_entry {
	time_t at;
	const char *actor;       /* name@postoffice */
	const char *client;      /* the client's address */
	const char *type;        /* "Mailbox" */
	const char *object;      /* its id ("bob@acme") */
	const char *postoffice;  /* the post office it belongs to, or NULL */
	const char *op;          /* create, update, destroy, or a verb */
	const char *text;        /* what changed (secrets hidden) */
};

/* audit_open - open (creating) the audit store of root: 0 or -1 */
int audit_open(const char *root, sqlite3 **h_r, const char **error_r);
void audit_close(sqlite3 **h);
/* audit_add - append an entry: 0 with its number, or -1 */
int audit_add(sqlite3 *h, const struct audit_entry *e, int64_t *id_r,
	      const char **error_r);
/* audit_state - the number of type's last change (0: none): 0 or -1 */
int audit_state(sqlite3 *h, const char *type, int64_t *state_r,
		const char **error_r);

#endif
