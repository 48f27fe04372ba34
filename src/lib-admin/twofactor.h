#ifndef POSTERN_TWOFACTOR_H
#define POSTERN_TWOFACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "directory.h"

/* twofactor - what administrators and the web login do with a mailbox's
 * login security (the rules every protocol follows are in
 * lib-config/loginsec.h):
 *
 * - app passwords: added (random, shown once, stored hashed with
 *   password.scheme), listed with their last use, removed (a removed one
 *   ends the sessions that logged in with it: dir_login_current);
 * - TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) as the second
 *   factor of the web login. The secret is stored sealed (AES-256-GCM)
 *   with a key kept in <data root>/config/totp.key (0600, made at the
 *   first enrolment), so that a copy of the config database alone does
 *   not give the secrets away. Each code is taken once (the last step
 *   used is kept; a code of that step or an older one is refused), only
 *   the steps now-1, now, now+1 are accepted;
 * - recovery codes: TWOFACTOR_RECOVERY_CODES made at enrolment, shown
 *   once, stored as SHA-256 (80 random bits each), each taken once;
 * - reset by an administrator: the TOTP secret, recovery codes, pending
 *   mailed code and remembered devices go; the next web login enrols
 *   again. */

#define TWOFACTOR_RECOVERY_CODES 10
#define TWOFACTOR_CODE_MAX 64

/* App passwords (adm_status results). ident is NAME@PO. */
int tf_app_password_add(struct db *db, const char *ident, const char *name,
			char **password_r, const char **error_r);
int tf_app_password_remove(struct db *db, const char *ident, const char *name,
			   const char **error_r);
/* tf_reset - forget the TOTP enrolment and recovery codes of ident. */
int tf_reset(struct db *db, const char *ident, const char **error_r);

/* tf_status - what an administrator sees of a mailbox's login security
 * (postern mailbox twofactor show, the web admin's TwoFactor/get): the
 * challenge in force (loginsec_twofactor_mode), the second factor's type
 * and mail address, and the counts. 0, or -1 with *error_r. */
struct tf_status {
	char challenge[16];            /* never, always, new_ip, new_country */
	char type[16];                 /* totp or smtp */
	char code_address[320];        /* smtp: where codes are mailed */
	bool totp_enrolled;
	int64_t recovery_codes_left, app_passwords, passkeys;
	int64_t remembered_devices;    /* not expired */
	bool admin_set;                /* the mailbox's own challenge (not
					* inherited) was set by an
					* administrator: the user may not
					* undo it */
};
int tf_status(struct db *db, int64_t mailbox_id, struct tf_status *st,
	      const char **error_r);

/* tf_totp - the RFC 6238 code of key for time step step (digits 6..8) */
uint32_t tf_totp(const unsigned char *key, size_t keylen, uint64_t step,
		 int digits);
/* tf_base32 - RFC 4648 base32 of n bytes (no padding) into out */
void tf_base32(const unsigned char *in, size_t n, char *out, size_t size);

/* tf_mail_fn - send a notice mail (lib-queue's notice_send: lib-admin
 * sits below the queue) */
typedef int tf_mail_fn(struct db *db, const char *to, const char *subject,
		       const char *text, const char **error_r);

#define TWOFACTOR_MASKED_MAX 340
/* tf_mask_address - "b***@example.org" of an address, for answers */
void tf_mask_address(const char *a, char *out, size_t size);

/* tf_web_login - the second factor of a web login of mb from addr whose
 * password was right; code is what the client sent ("" or NULL: none),
 * passkey what its passkey assertion gave (-1 none sent, 0 refused, 1
 * satisfied by a passkey or a remembered device). A mailbox with
 * passkeys, or with twofactor_type smtp and a twofactor_address, counts
 * as enrolled. With twofactor_type smtp, a login without a code mails
 * one (8 digits, once, 10 minutes; at most one a minute and 5 an hour)
 * through mail, and the answer says where ("codeSentTo", masked).
 * 1: logged in (recorded in the login record); *answer_r may hold
 * fields to add to the answer (the recovery codes after an enrolment).
 * 0: not yet: *status_r and *answer_r are the answer (a problem: 401
 * secondFactorRequired, 401 totpEnrolment with the secret, otpauth URI
 * and QR code, 401 secondFactorFailed), *failed_r says whether a wrong
 * code was sent (throttled like a wrong password). -1: error. */
int tf_web_login(struct db *db, const struct dir_mailbox *mb,
		 const char *addr, const char *code, int passkey,
		 tf_mail_fn *mail, int *status_r, json_t **answer_r,
		 bool *failed_r, const char **error_r);

/* tf_key_mac - hex HMAC-SHA256 of text under a key derived for purpose
 * (a fixed string naming its use) from the data root's sealing key
 * (config/totp.key, made when missing): 0 or -1 */
int tf_key_mac(struct db *db, const char *purpose, const char *text,
	       char out[65], const char **error_r);

/* Remembered devices (auth.remember_device_days; 0: off): after a login
 * that passed the second factor and asked for it, the browser gets a
 * cookie "<mailbox>.<expires>.<secret>.<mac>": signed (HMAC-SHA256 under
 * a key derived from config/totp.key) and revocable (the SHA-256 of the
 * secret is a row of remembered_device; tf_reset and tf_device_forget
 * delete them). A valid one skips the second factor of its mailbox.
 *
 * tf_device_make - a new device cookie value (new string; *max_age_r its
 * lifetime in seconds), or NULL when the setting is off or on error. */
char *tf_device_make(struct db *db, int64_t mailbox_id, const char *client,
		     const char *user_agent, int *max_age_r,
		     const char **error_r);
/* tf_device_check - is cookie a remembered device of mailbox_id? 1, 0, -1 */
int tf_device_check(struct db *db, int64_t mailbox_id, const char *cookie,
		    const char **error_r);
/* tf_device_forget - revoke every remembered device of mailbox_id */
int tf_device_forget(struct db *db, int64_t mailbox_id, int *n_r,
		     const char **error_r);

/* The mailbox owner's own enrolment (webmail settings; the caller
 * checks that the post office's rule lets them):
 * tf_self_enrol - a new pending TOTP secret (replacing an unconfirmed
 * one): *answer_r {secret, otpauthUri, qrSvg}. 0 or -1.
 * tf_self_confirm - the first code of the pending secret: enrolled, the
 * mailbox's challenge "always", *answer_r {challenge, recoveryCodes}
 * (shown once). 1 done, 0 refused (*error_r says why: no pending
 * secret, wrong code, too many wrong codes), -1 error.
 * tf_self_disable - the mailbox's own challenge back to "inherit" and
 * its TOTP enrolment and recovery codes forgotten. 0 or -1. */
int tf_self_enrol(struct db *db, const struct dir_mailbox *mb,
		  json_t **answer_r, const char **error_r);
int tf_self_confirm(struct db *db, int64_t mailbox_id, const char *code,
		    json_t **answer_r, const char **error_r);
int tf_self_disable(struct db *db, int64_t mailbox_id, const char **error_r);

#endif
