#ifndef POSTERN_PASSKEY_H
#define POSTERN_PASSKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "directory.h"

/* passkey - WebAuthn (Level 2) credentials of the web login: as the
 * second factor of a two-factor mailbox, and for a passwordless login
 * (auth.passkey_login; user verification required then).
 *
 * - registration: attestation "none" (any other statement is refused:
 *   we ask for none and never trust an authenticator's maker); the
 *   credential's public key (COSE: ES256, EdDSA/Ed25519, RS256) is kept
 *   as DER SubjectPublicKeyInfo with its algorithm and sign counter;
 * - assertion: clientDataJSON's type, challenge and origin, the
 *   authenticator data's rpIdHash and flags, the signature over
 *   authenticatorData || SHA-256(clientDataJSON), and the sign counter
 *   (a counter that does not grow, when either is non-zero, means a
 *   cloned authenticator: refused);
 * - challenges: 256 random bits, single use (deleted when used, right
 *   or wrong), PASSKEY_CHALLENGE_TTL seconds, bound to their purpose, rp
 *   id and mailbox (0: a passwordless login);
 * - the relying party id is auth.passkey_rp_id, or the host name the
 *   browser used (the request's Host without its port); the origins
 *   accepted are the request's own (scheme://Host) and http.public_url's.
 *
 * CBOR input (attestation object, COSE key, extensions) is checked by a
 * bounded walk (definite lengths only, depth PASSKEY_CBOR_DEPTH, every
 * declared length within what is left) before libcbor builds it. */

#define PASSKEY_MAX 20                 /* per mailbox */
#define PASSKEY_CHALLENGE_TTL 300
#define PASSKEY_INPUT_MAX 16384        /* a decoded field */
#define PASSKEY_CRED_ID_MAX 1023       /* WebAuthn's limit */
#define PASSKEY_CBOR_DEPTH 8
#define PASSKEY_NAME_MAX 64

/* authenticator data flags (WebAuthn 6.1) */
#define PASSKEY_UP 0x01
#define PASSKEY_UV 0x04
#define PASSKEY_AT 0x40
#define PASSKEY_ED 0x80

/* COSE algorithms */
#define PASSKEY_ES256 (-7)
#define PASSKEY_EDDSA (-8)
#define PASSKEY_RS256 (-257)

struct passkey_site {
	char rp_id[256];
	char origin[300];           /* scheme://Host of the request */
	char public_origin[300];    /* http.public_url's origin, or "" */
};

struct passkey_authdata {
	unsigned char rp_id_hash[32];
	uint8_t flags;
	uint32_t sign_count;
	const unsigned char *cred_id;   /* with PASSKEY_AT, into the input */
	size_t cred_id_len;
	const unsigned char *cose_key;
	size_t cose_key_len;
};

/* passkey_cbor_check - the bounded walk of one CBOR item at p; *len_r
 * its length. 0 or -1 (*error_r). */
int passkey_cbor_check(const unsigned char *p, size_t n, size_t *len_r,
		       const char **error_r);
/* passkey_authdata_parse - authenticator data (WebAuthn 6.1), the
 * pointers into p. 0 or -1. */
int passkey_authdata_parse(const unsigned char *p, size_t n,
			   struct passkey_authdata *ad, const char **error_r);
/* passkey_attestation_parse - an attestation object of format "none":
 * a copy of its authenticator data (new, *len_r bytes). 0 or -1. */
int passkey_attestation_parse(const unsigned char *p, size_t n,
			      unsigned char **authdata_r, size_t *len_r,
			      const char **error_r);
/* passkey_cose_key - a COSE public key as DER SubjectPublicKeyInfo
 * (new, *der_len_r bytes) and its algorithm. 0 or -1. */
int passkey_cose_key(const unsigned char *p, size_t n, unsigned char **der_r,
		     size_t *der_len_r, int *alg_r, const char **error_r);

/* passkey_site_make - the relying party of a request to host ("name" or
 * "name:port") over TLS or not. 0, or -1 when no rp id can be made. */
int passkey_site_make(struct db *db, const char *host, bool tls,
		      struct passkey_site *s, const char **error_r);

/* passkey_register_options - PublicKeyCredentialCreationOptions (as
 * JSON, binary fields base64url) for mb, with a new challenge. NULL on
 * error. */
json_t *passkey_register_options(struct db *db, const struct dir_mailbox *mb,
				 const struct passkey_site *s,
				 const char **error_r);
/* passkey_login_options - PublicKeyCredentialRequestOptions: for the
 * second factor of mailbox_id (its credentials allowed), or with
 * mailbox_id 0 for a passwordless login (discoverable credentials). */
json_t *passkey_login_options(struct db *db, int64_t mailbox_id,
			      const struct passkey_site *s,
			      const char **error_r);
/* passkey_register - verify a registration (cred: {"id", "response":
 * {"clientDataJSON", "attestationObject"}}) and keep it as name. ADM_OK,
 * ADM_INVALID (*error_r says why), ADM_EXISTS, ADM_FAIL. */
int passkey_register(struct db *db, const struct dir_mailbox *mb,
		     const char *name, json_t *cred,
		     const struct passkey_site *s, const char **error_r);
/* passkey_assert - verify an assertion (cred: {"id", "response":
 * {"clientDataJSON", "authenticatorData", "signature", "userHandle"}});
 * mailbox_id 0: a passwordless login (user verification needed), else
 * the credential must be that mailbox's. 1 with *mailbox_r, 0 refused
 * (*error_r; *mailbox_r the credential's owner when it is known, else
 * 0), -1 error. */
int passkey_assert(struct db *db, json_t *cred, int64_t mailbox_id,
		   const struct passkey_site *s, int64_t *mailbox_r,
		   const char **error_r);

/* passkey_count - how many passkeys mailbox_id has (0 on error) */
int passkey_count(struct db *db, int64_t mailbox_id);
/* passkey_list - the passkeys of mailbox_id: [{id, name, alg, created,
 * lastUsed, signCount}] (NULL on error) */
json_t *passkey_list(struct db *db, int64_t mailbox_id, const char **error_r);
/* passkey_rename, passkey_remove - one passkey of mailbox_id by its row
 * id. ADM_OK, ADM_NOTFOUND, ADM_INVALID, ADM_EXISTS, ADM_FAIL. */
int passkey_rename(struct db *db, int64_t mailbox_id, int64_t id,
		   const char *name, const char **error_r);
int passkey_remove(struct db *db, int64_t mailbox_id, int64_t id,
		   const char **error_r);
/* passkey_reset - remove every passkey of mailbox_id; *n_r how many */
int passkey_reset(struct db *db, int64_t mailbox_id, int *n_r,
		  const char **error_r);

#endif
