#ifndef POSTERN_IMAP_URLAUTH_H
#define POSTERN_IMAP_URLAUTH_H

/* imap-urlauth - URLAUTH-authorized IMAP URLs (RFC 4467, RFC 5092 3.2):
 *
 *   imap://user[;AUTH=x]@host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n
 *     [/;SECTION=s][/;PARTIAL=o[.l]][;EXPIRE=datetime]
 *     ;URLAUTH=access[:mechanism:token]
 *
 * access is "submit+" user, "user+" user, "authuser" or "anonymous".
 * The "rump" is the URL up to and including the access identifier; the
 * INTERNAL mechanism's token is the hex HMAC-SHA256 of the rump under
 * the mailbox's key (kept by lib-store, store-urlauth.c). This module
 * only parses and computes: who may fetch what is imap-urlauth-check.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap-url.h"

#define IMAP_URLAUTH_KEY_LEN   32    /* bytes of a mailbox key */
#define IMAP_URLAUTH_TOKEN_LEN 64    /* hex digits of an INTERNAL token */

enum imap_urlauth_access {
	IMAP_URLAUTH_SUBMIT,     /* submit+<user>: a submission server
				    acting for <user> (BURL) */
	IMAP_URLAUTH_USER,       /* user+<user>: that user only */
	IMAP_URLAUTH_AUTHUSER,   /* any user logged in to this server */
	IMAP_URLAUTH_ANONYMOUS,  /* anyone */
};

struct imap_urlauth {
	struct imap_url url;          /* mailbox, UID, section, partial */
	char *owner;                  /* the URL's user, percent-decoded */
	char *host;                   /* lower case, no port */
	time_t expire;                /* 0: none */
	enum imap_urlauth_access access;
	char *access_user;            /* submit+/user+: decoded, else NULL */
	size_t rump_len;              /* the URL's first rump_len bytes */
	bool have_token;
	char mechanism[32];           /* upper case; "" without a token */
	char token[IMAP_URLAUTH_TOKEN_LEN * 2 + 1]; /* as given */
};

/* imap_urlauth_parse - parse url: with need_token (URLFETCH, BURL) it
 * must end in ":mechanism:token", without (GENURLAUTH) it must end with
 * the access identifier. 0, or -1 with *error_r (static text); free u
 * with imap_urlauth_free either way. */
int imap_urlauth_parse(const char *url, bool need_token,
		       struct imap_urlauth *u, const char **error_r);
void imap_urlauth_free(struct imap_urlauth *u);

/* imap_urlauth_token - the INTERNAL token (64 lower-case hex digits and
 * a NUL) of rump[0..len) under key */
void imap_urlauth_token(const unsigned char key[IMAP_URLAUTH_KEY_LEN],
			const char *rump, size_t len,
			char out[IMAP_URLAUTH_TOKEN_LEN + 1]);

/* imap_urlauth_verify - whether the token of url (parsed into u) is
 * right for key, in constant time; false for another mechanism */
bool imap_urlauth_verify(const struct imap_urlauth *u, const char *url,
			 const unsigned char key[IMAP_URLAUTH_KEY_LEN]);

/* imap_urlauth_datetime - an RFC 3339 date-time ("2026-12-07T15:00:00Z",
 * "...T17:00:00.5+02:00") as a time_t; -1 if malformed */
time_t imap_urlauth_datetime(const char *s, size_t len);

#endif
