#ifndef POSTERN_API_H
#define POSTERN_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "db.h"
#include "jmap.h"

/* The web administration API: JMAP (jmap.h) with Postern's objects under
 * the capability urn:postern:admin. api.c is the HTTP side (login,
 * logout, cookies, tokens, CSRF, the session resource, the request);
 * api-admin.c the methods, on lib-admin. */

#define API_CAPABILITY "urn:postern:admin"
#define API_ACCOUNT "admin"

/* who is calling, resolved for each request from its session or token */
struct api_actor {
	int64_t mailbox_id;
	int64_t postoffice_id;      /* the mailbox's */
	int64_t scope_po;           /* the post office it may see; 0: all */
	char login[160];            /* name@postoffice */
	char postoffice[64];        /* the mailbox's */
	char scope_name[64];        /* the scope's name ("" for all) */
	bool sysadmin;
	int64_t session_id;         /* the session, or 0 */
	int64_t token_id;           /* the token, or 0 */
};

/* a request's context for the methods (one worker thread) */
struct api_ctx {
	struct db *db;
	const struct api_actor *actor;
	const struct jmap_limits *lim;
	json_t *audit;              /* lines for the log, written on the loop */
	const char *client;         /* the client's address */
	sqlite3 *audit_db;          /* the audit store, opened when needed */
};

/* the admin's method tables (api-admin.c), NULL terminated */
extern const struct jmap_method *const api_admin_tables[];

/* api_audit - record a change: a row of the audit store (audit.h) with
 * the actor, which also moves type's state, and a line for the log.
 * postoffice: the post office the object belongs to (NULL: none);
 * fmt: what changed, secrets hidden. 0, or -1 when it could not be
 * stored (the caller fails the change). */
int api_audit(struct api_ctx *c, const char *type, const char *object,
	      const char *op, const char *postoffice, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* api_audit_db - the audit store of this request (opened once), or NULL */
sqlite3 *api_audit_db(struct api_ctx *c);

#endif
