#ifndef POSTERN_WEBLOGIN_H
#define POSTERN_WEBLOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "directory.h"
#include "twofactor.h"
#include "webauth.h"

/* weblogin - the one web login of every web endpoint (the web admin's
 * POST /api/login and the webmail's POST /jmap/mail/login): the password
 * checked as protocol "web" (dir_authenticate_client: country policies,
 * the login record), the endpoint's own admission (which mailbox types
 * may log in there), then the two-factor policy (tf_web_login: TOTP
 * enrolment, code, recovery codes, throttled wrong codes), then a web
 * session (webauth). The answers are the same on both endpoints: 401
 * with a problem type urn:postern:error:loginFailed, :totpEnrolment,
 * :secondFactorRequired or :secondFactorFailed, 429 :secondFactorLocked,
 * 403 :forbidden, 503 :unavailable; a passkey refused: 401
 * :passkeyFailed. A remembered device (twofactor.h) skips the second
 * factor; a login that passed it with "remember" gets a device cookie.
 * The cookie names are WEBLOGIN_SESSION_COOKIE and
 * WEBLOGIN_DEVICE_COOKIE. */

#define WEBLOGIN_SESSION_COOKIE "postern_session"
#define WEBLOGIN_DEVICE_COOKIE "postern_device"

/* how the login counts for the per-address throttle (throttle.c) */
enum weblogin_count {
	WEBLOGIN_COUNT_NONE,    /* nothing to count (a second factor asked) */
	WEBLOGIN_COUNT_FAILED,  /* a wrong password or a wrong code */
	WEBLOGIN_COUNT_OK,      /* a whole login: clears the failures */
};

/* weblogin_admit_fn - may mb log in at this endpoint? 1 yes, 0 no
 * (*why_r: the answer's detail, 403), -1 error */
typedef int weblogin_admit_fn(struct db *db, const struct dir_mailbox *mb,
			      void *ctx, const char **why_r);

struct weblogin {
	/* in */
	const char *login, *password;
	const char *code;               /* a TOTP or recovery code, or NULL */
	json_t *passkey;                /* a passkey assertion, or NULL */
	const char *host;               /* the request's Host (passkeys) */
	bool tls;
	const char *client;             /* the client's address as text */
	const char *user_agent;
	const char *device;             /* the device cookie, or NULL */
	bool remember;                  /* remember this device (when the
					 * policy allows) */
	tf_mail_fn *mail;               /* sends mailed codes (notice.h) */
	weblogin_admit_fn *admit;       /* NULL: every mailbox */
	void *admit_ctx;
	/* out */
	struct dir_mailbox mb;          /* valid when the password was right */
	enum weblogin_count count;
	int status;                     /* the HTTP status of the answer */
	json_t *answer;                 /* refused: the problem; logged in:
					 * fields to add (recovery codes) or
					 * NULL. The caller owns it. */
	char sid[WEBAUTH_SESSION_LEN + 1];  /* the cookie's session id */
	int64_t session_id;             /* its row */
	char note[256];                 /* for the access log */
	char *device_cookie;            /* a new device cookie to set, or
					 * NULL (twofactor.h) */
	int device_max_age;
};

/* weblogin_password - the login w describes (w->password is wiped);
 * w->passkey, when sent, is the second factor. When a second factor is
 * asked and the mailbox has passkeys, the answer holds "passkey": the
 * request options with a new challenge (passkey.h).
 * 1 logged in (w->sid, w->mb), 0 refused (w->status, w->answer), and
 * never -1: an error is a 503 answer. */
int weblogin_password(struct db *db, struct weblogin *w);
/* weblogin_passkey - a passwordless login with the assertion w->passkey
 * (w->login and w->password unused): the mailbox is the passkey's; the
 * country policies, the endpoint's admission and the login record apply
 * as to a password; no second factor is asked (a passkey with user
 * verification is two factors). Returns as weblogin_password. */
int weblogin_passkey(struct db *db, struct weblogin *w);

/* weblogin_clear - wipe the session id and free the answer */
void weblogin_clear(struct weblogin *w);

#endif
