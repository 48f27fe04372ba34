#ifndef POSTERN_LOGINSEC_H
#define POSTERN_LOGINSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "directory.h"

/* loginsec - login security that applies to every protocol (issue 17,
 * manual 5.3.7 and 5.5.9), called by dir_authenticate_client():
 *
 * - the two-factor challenge of a mailbox (never, always, new_ip,
 *   new_country): the mailbox's twofactor_mode, or when it is "inherit"
 *   its post office's, or when that is "inherit" the setting
 *   auth.twofactor_mode. Any but "never" means the mailbox has two-factor
 *   on: web logins ask for a TOTP code (lib-admin/twofactor.h) and the
 *   mail protocols (IMAP, POP3, SMTP AUTH, ManageSieve, API Basic) accept
 *   only its app passwords, never the main password, so no protocol
 *   bypasses the second factor;
 * - app passwords: named, random, stored as password hashes
 *   (password.scheme), at most LOGINSEC_APP_PASSWORDS per mailbox;
 * - country policies: global (auth.policy_mode, auth.policy_countries),
 *   post office and mailbox (authpolicy_mode, authpolicy_countries);
 *   each level that is not "off" must let the login through: "block"
 *   refuses the listed countries, "allow" refuses every other country
 *   and addresses the database does not know. The country comes from
 *   auth.geoip_db (geo.h); when a policy needs it and the database is
 *   missing or corrupt the login is refused (fail closed); with no policy
 *   on, logins never depend on it;
 * - the login record: per mailbox, protocol and address the first and
 *   last login, their count and country (login_seen); per login name and
 *   address the failures (login_failure), kept auth.login_record_days.
 *
 * Refusals by policy are logged here (with the country), since every
 * service reaches them through the one password check. */

#define LOGINSEC_APP_PASSWORDS 20
#define LOGINSEC_APP_PASSWORD_LEN 20    /* random characters */
#define LOGINSEC_NAME_MAX 64
#define LOGINSEC_RECORD_MAX 50000       /* login_failure rows kept */

/* loginsec_decide - after the main password was checked (main_ok):
 * the app passwords, the two-factor rule and the country policies for a
 * login of mb. DIR_AUTH_OK (mb->credential set to the credential used,
 * cc_r the client's country or ""), DIR_AUTH_FAILED (recorded, and
 * logged when a policy refused a right password) or DIR_AUTH_ERROR. */
enum dir_auth_result loginsec_decide(struct db *db, const char *login,
				     const char *password,
				     const struct dir_client *client,
				     struct dir_mailbox *mb, bool main_ok,
				     char cc_r[3], const char **error_r);

/* loginsec_pam_autocreate - a login of an unknown NAME@PO whose post
 * office has pam_enabled and pam_autocreate: when PAM takes the
 * password, the mailbox is made (no Postern password, its store
 * directories) and loaded into mb. 1 made, 0 not, -1 error. */
int loginsec_pam_autocreate(struct db *db, const char *login,
			    const char *password, struct dir_mailbox *mb,
			    const char **error_r);

/* loginsec_twofactor_mode - the challenge that applies to a mailbox
 * ("never", "always", "new_ip", "new_country") into mode. 0 or -1. */
int loginsec_twofactor_mode(struct db *db, int64_t mailbox_id, char mode[16],
			    const char **error_r);
/* loginsec_twofactor_rule - the same; inherited: what the mailbox gets
 * from its post office (or the global setting) without its own value */
int loginsec_twofactor_rule(struct db *db, int64_t mailbox_id, bool inherited,
			    char mode[16], const char **error_r);

/* loginsec_app_password_check - whether password is one of the
 * mailbox's app passwords; on a match its use is recorded and
 * *credential_r is the fingerprint of its hash (dir_login_current).
 * 1 match, 0 none, -1 error. */
int loginsec_app_password_check(struct db *db, int64_t mailbox_id,
				const char *password,
				const struct dir_client *client,
				uint64_t *credential_r, const char **error_r);
/* loginsec_credential_current - is credential still good for a mail
 * protocol session of the mailbox whose main password hash is main_hash:
 * the main password's while two-factor is off, or an app password's that
 * still exists. 1 yes, 0 no, -1 error. */
int loginsec_credential_current(struct db *db, int64_t mailbox_id,
				const char *main_hash, uint64_t credential,
				const char **error_r);

/* loginsec_country_check - the country policies for a login of mb from
 * client->addr. *cc_r gets the country ("" unknown or no database).
 * 1 allowed, 0 refused (why_r says why, static or in the buffer), -1
 * error. */
int loginsec_country_check(struct db *db, const struct dir_mailbox *mb,
			   const struct dir_client *client, char cc_r[3],
			   char *why, size_t why_size, const char **error_r);
/* loginsec_country_of - the country of addr from auth.geoip_db into cc
 * ("" when unknown). 1 found, 0 unknown, -1 no usable database. */
int loginsec_country_of(struct db *db, const char *addr, char cc[3],
			const char **error_r);
/* loginsec_countries_valid - check a policy's country list. 0 or -1. */
int loginsec_countries_valid(const char *list, const char **error_r);

/* loginsec_record_ok, loginsec_record_failure - the login record (best
 * effort: a busy config store loses the line, never the login). */
void loginsec_record_ok(struct db *db, int64_t mailbox_id,
			const struct dir_client *client, const char *cc);
void loginsec_record_failure(struct db *db, const char *login,
			     int64_t mailbox_id,
			     const struct dir_client *client, const char *cc,
			     const char *reason);
/* loginsec_failures - the failed-login statistics (at most 500 rows,
 * the most failures first): per login name and address (BY_NONE:
 * login, mailbox, address, country, protocol, failures, last, reason),
 * summed per client address (address, logins, failures, last) or per
 * mailbox (mailbox, addresses, failures, last); postoffice_id and
 * mailbox_id (0: any) narrow them. A statement to step (its column
 * count and names in *ncols_r, *keys_r; last is UTC text), or NULL. */
#define LOGINSEC_FAILURE_COLUMNS 8
enum loginsec_by { LOGINSEC_BY_NONE, LOGINSEC_BY_ADDRESS, LOGINSEC_BY_MAILBOX };
struct db_stmt *loginsec_failures(struct db *db, enum loginsec_by by,
				int64_t postoffice_id, int64_t mailbox_id,
				size_t *ncols_r, const char *const **keys_r,
				const char **error_r);
/* loginsec_logins - the mailbox's recent logins, newest first, at most
 * limit rows of LOGINSEC_LOGIN_COLUMNS (keys in *keys_r: last,
 * protocol, address, country, first, count; times UTC text): one row per
 * protocol and address. A statement to step, or NULL. A login from a
 * country the mailbox has not used before (while it has a known one) is
 * also mailed to the mailbox (auth.new_country_mail; notice.h). */
#define LOGINSEC_LOGIN_COLUMNS 6
struct db_stmt *loginsec_logins(struct db *db, int64_t mailbox_id, int limit,
			      const char *const **keys_r,
			      const char **error_r);
/* loginsec_as_last - is the mailbox's latest login with protocol from
 * addr (addr non-NULL), or from country cc (cc non-NULL: the country of
 * that latest login's address)? The two-factor "new IP address" and
 * "new country" challenges (manual 5.5.9: "than the last login"). 1, 0
 * (also: no login yet), -1. */
int loginsec_as_last(struct db *db, int64_t mailbox_id, const char *protocol,
		     const char *addr, const char *cc, const char **error_r);

#endif
