#ifndef POSTERN_WEBAUTH_H
#define POSTERN_WEBAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

/* webauth - the credentials of the web administration and its API:
 * browser sessions (a cookie holding a random 256-bit id) and API tokens
 * for scripts ("pt_" and 43 base64url characters, 256 bits). Only the
 * SHA-256 of a secret is stored (tables web_session and api_token), so a
 * copy of the config store logs nobody in. A session ends when unused for
 * http.session_idle or http.session_max after its login
 * (dir_web_session_expires); a token when
 * revoked, at its expiry, or with its mailbox. A token is scoped to one
 * post office (only a SYSADMIN's may be unscoped: every post office).
 *
 * Lookups hash the presented secret and find the row by its hash (an
 * index lookup on a value the client cannot steer to a near match). */

#define WEBAUTH_SESSION_LEN 64    /* hex characters of a session id */
#define WEBAUTH_TOKEN_LEN 46      /* "pt_" + 43 */

/* webauth_session_create - a new session for mailbox_id: its secret (for
 * the cookie) in id_out, its row id in *sid_r. ADM_OK or an adm_status. */
int webauth_session_create(struct db *db, int64_t mailbox_id,
			   const char *client, const char *user_agent,
			   char id_out[WEBAUTH_SESSION_LEN + 1], int64_t *sid_r,
			   const char **error_r);
/* webauth_session_lookup - the session of a cookie's id: 1 with its
 * mailbox and row id (last_seen refreshed at most once a minute), 0 when
 * unknown or expired (an expired row is deleted), -1 on error */
int webauth_session_lookup(struct db *db, const char *id, int64_t now,
			   int64_t *mailbox_id_r, int64_t *sid_r,
			   const char **error_r);
/* webauth_session_delete - end session sid of mailbox_id: ADM_OK or
 * ADM_NOTFOUND (also when it belongs to another mailbox) */
int webauth_session_delete(struct db *db, int64_t sid, int64_t mailbox_id,
			   const char **error_r);

/* webauth_token_create - a token for mailbox ident ("name@po", type ADMIN
 * or SYSADMIN), scoped to postoffice (NULL: the mailbox's own for an
 * ADMIN, every post office for a SYSADMIN); expires: unix time or 0 */
int webauth_token_create(struct db *db, const char *mailbox,
			 const char *postoffice, const char *name,
			 int64_t expires, char token_out[WEBAUTH_TOKEN_LEN + 1],
			 int64_t *id_r, const char **error_r);
/* webauth_token_lookup - 1 with the owner and the scope (0: every post
 * office), 0 unknown, revoked or expired, -1 error. last_used refreshed
 * at most once a minute. */
int webauth_token_lookup(struct db *db, const char *token, int64_t now,
			 int64_t *mailbox_id_r, int64_t *postoffice_id_r,
			 int64_t *id_r, const char **error_r);
/* webauth_token_revoke - delete token id; owner_id > 0 limits it to that
 * mailbox's tokens. ADM_OK or ADM_NOTFOUND. */
int webauth_token_revoke(struct db *db, int64_t id, int64_t owner_id,
			 const char **error_r);

#endif
