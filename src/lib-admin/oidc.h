#ifndef POSTERN_OIDC_H
#define POSTERN_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "directory.h"

/* oidc - OpenID Connect login per post office (issue 17 item 6, manual
 * 5.3.8 in today's form): the authorization code flow with PKCE (S256)
 * against the post office's oauth_issuer with oauth_client_id and
 * oauth_client_secret (client_secret_basic), when oauth_enabled.
 *
 * - Discovery: <issuer>/.well-known/openid-configuration, whose issuer
 *   must be the configured one; every endpoint https, or http to a
 *   loopback host (127.0.0.0/8, ::1, localhost) only.
 * - The state is "<po id>.<expires>.<random>.<mac>" (HMAC under a key of
 *   config/totp.key, 10 minutes); the nonce and the PKCE verifier are
 *   derived from it under other keys, so nothing is stored; the browser
 *   must bring the state back both in the query and in its cookie.
 * - The ID token (from the token endpoint, never from the browser) must
 *   be a JWS with alg RS256 signed by a key of the issuer's JWKS (kid
 *   matched), iss the issuer, aud (or azp) the client id, exp in the
 *   future (60 s leeway), iat not in the future, nonce ours, and carry
 *   email with email_verified true; the address must be a mailbox's
 *   address in that post office. *mfa_r says whether the token's amr
 *   (RFC 8176) holds "mfa": a mailbox with two-factor login on needs it
 *   (login-http.c), so the outside login is never weaker than its own.
 * Outside requests (libcurl) are bounded: 10 s, 256 KB, no redirects. */

#define OIDC_STATE_MAX 200
#define OIDC_TOKEN_MAX 16384       /* an ID token's length */
#define OIDC_STATE_LIFETIME 600

/* oidc_start - the URL to send the browser to for a login at post office
 * po_name, whose callback is redirect_uri; *state_r (new string) goes
 * into the browser's cookie too. 1, 0 refused (*why_r tells the user),
 * -1 error (*error_r). */
int oidc_start(struct db *db, const char *po_name, const char *redirect_uri,
	       char **location_r, char **state_r, const char **why_r,
	       const char **error_r);

/* oidc_offered - whether the login page should offer this login for the
 * name typed (login): the part after its last '@' names a hosted domain
 * or a post office; the mailbox part is never looked at, so the answer
 * is the same whether the mailbox exists. 1 offered (po_r the post
 * office's name, provider_r the issuer's host, for "Sign in with ..."),
 * 0 not (an unknown or disabled domain or post office too), -1 error. */
int oidc_offered(struct db *db, const char *login, char *po_r, size_t po_size,
		 char *provider_r, size_t provider_size, const char **error_r);

/* oidc_finish - the callback: state (from the query) must equal
 * cookie_state and be valid; code is exchanged at the token endpoint;
 * the ID token checked; the mailbox found into mb. 1, 0 refused (why
 * says why, for the log and the user), -1 error. */
int oidc_finish(struct db *db, const char *code, const char *state,
		const char *cookie_state, const char *redirect_uri,
		struct dir_mailbox *mb, bool *mfa_r, char *why,
		size_t why_size, const char **error_r);

/* oidc_id_token_check - verify an ID token (compact JWS) against a JWKS
 * document: 1 valid (*email_r the verified address, new string), 0 not
 * (*why_r static). No I/O: the fuzz target's entry. */
int oidc_id_token_check(const char *jwt, json_t *jwks, const char *issuer,
			const char *client_id, const char *nonce, int64_t now,
			char **email_r, bool *mfa_r, const char **why_r);

#endif
