#ifndef POSTERN_DIRECTORY_H
#define POSTERN_DIRECTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "strutil.h"

/* The directory API: the narrow, read-mostly interface through which the
 * services see the administration model. Every call reads the database, so
 * changes from the CLI or web admin apply at once. */

struct dir_postoffice {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	bool disabled;
	bool allow_address_login;
};

struct dir_domain {
	int64_t id;
	int64_t postoffice_id;
	char name[DOMAIN_MAX_LEN + 1];
	char postoffice[NAME_MAX_LEN + 1];
	bool disabled;
	bool postoffice_disabled;
};

struct dir_mailbox {
	int64_t id;
	int64_t postoffice_id;
	char name[NAME_MAX_LEN + 1];
	char postoffice[NAME_MAX_LEN + 1];
	char type[10];                    /* USER, ADMIN, SYSADMIN */
	int64_t quota_kb;                 /* 0: unlimited */
	bool disabled;
	bool prevent_auth;
	bool postoffice_disabled;
	bool redirect_enabled;
	bool redirect_keep_copy;
	uint64_t credential;              /* dir_authenticate: see below */
};

enum dir_kind {
	DIR_KIND_MAILBOX,
	DIR_KIND_GROUP,
	DIR_KIND_LIST,
	DIR_KIND_REDIRECT,  /* target holds a remote address */
};

struct dir_route {
	enum dir_kind kind;
	int64_t postoffice_id;
	int64_t domain_id;
	int64_t target_id;                /* mailbox, group or list id */
	char target[ADDRESS_MAX_LEN + 1]; /* remote address for REDIRECT */
	char address[ADDRESS_MAX_LEN + 1];/* the address that matched */
	bool catchall;                    /* reached through the catch-all */
	bool disabled;                    /* domain, post office or target off */
};

enum dir_resolve_result {
	DIR_RESOLVE_ERROR = -1,
	DIR_RESOLVE_REMOTE = 0,   /* the domain is not hosted here */
	DIR_RESOLVE_LOCAL = 1,    /* route filled in */
	DIR_RESOLVE_UNKNOWN = 2,  /* hosted domain, no such address */
};

/* dir_resolve - route one recipient address. Tries the exact address,
 * then without a +subaddress, then postmaster@/abuse@ of the domain, then
 * the catch-all. */
enum dir_resolve_result dir_resolve(struct db *db, const char *address,
				    struct dir_route *route,
				    const char **error_r);

enum dir_auth_result {
	DIR_AUTH_ERROR = -1,
	DIR_AUTH_OK = 0,
	DIR_AUTH_FAILED,        /* unknown user or wrong password */
	DIR_AUTH_DISABLED,      /* mailbox or post office disabled */
	DIR_AUTH_PREVENTED,     /* prevent-authentication is set */
};

/* dir_login_lookup - find the mailbox for a login name: mailbox@postoffice,
 * or any address of the mailbox when its post office allows it.
 * 1 found, 0 not found, -1 error. */
int dir_login_lookup(struct db *db, const char *login, struct dir_mailbox *mb,
		     const char **error_r);
/* dir_authenticate - check a login and password. The password hash is
 * always computed, even for unknown users, so timing tells nothing. */
enum dir_auth_result dir_authenticate(struct db *db, const char *login,
				      const char *password,
				      struct dir_mailbox *mb,
				      const char **error_r);

/* The client of a login, for the login security of loginsec.h (app
 * passwords, two-factor, country policies, the login record). */
struct dir_client {
	const char *protocol;   /* "imap", "pop3", "smtp", "sieve", "xmpp", "api"
				 * (Basic), "web" (the web login: main
				 * password, TOTP asked by the caller) */
	const char *addr;       /* numeric client address; NULL: unknown */
};
/* dir_authenticate_client - dir_authenticate with the client: every
 * service passes it. A mailbox with two-factor on takes only app
 * passwords unless the protocol is "web"; a country policy refusal is
 * DIR_AUTH_FAILED (logged with the country), so that a refused client
 * does not learn whether the password was right. */
enum dir_auth_result dir_authenticate_client(struct db *db, const char *login,
					     const char *password,
					     const struct dir_client *client,
					     struct dir_mailbox *mb,
					     const char **error_r);
/* dir_credential_of - the fingerprint of a stored hash (see below) */
uint64_t dir_credential_of(const char *hash);

/* dir_authenticate sets mb->credential to a fingerprint of the stored
 * password hash. Hashes are salted, so every password set (passwd, set
 * password=, users import, web admin) changes it, whatever path wrote it.
 * dir_login_current - whether a session logged in with that credential
 * may go on: the mailbox still exists, has the same password, is neither
 * disabled nor prevented from authenticating, and its post office is not
 * disabled. 1 yes, 0 revoked, -1 error. */
int dir_login_current(struct db *db, int64_t mailbox_id, uint64_t credential,
		      const char **error_r);
/* the credential of a login by web session sid (xmppd's SASL EXTERNAL
 * for the webmail's chat), dir_credential_web: no password was given,
 * but a new password ends it as it ends password logins (the low 16
 * bits of the stored hash's fingerprint, kept beside the session's row
 * id); current while the session's row is there (logout, a password
 * change from another session, or the administrator ending it, deletes
 * it), the session has not expired (dir_web_session_current), the
 * password is the one of the login, and the mailbox and post office
 * are enabled */
#define DIR_CREDENTIAL_WEB_TAG (UINT64_C(0xfeb5) << 48)
#define DIR_CREDENTIAL_IS_WEB(c) (((c) >> 48) == (DIR_CREDENTIAL_WEB_TAG >> 48))
/* dir_credential_web - that credential for web session sid of
 * mailbox_id: 1 with it in *credential_r, 0 no such mailbox or a
 * session id past 32 bits, -1 error */
int dir_credential_web(struct db *db, int64_t mailbox_id, int64_t sid,
		       uint64_t *credential_r, const char **error_r);

/* dir_web_session_expires - the time a web session (its row's created
 * and last_seen) expires: unused for http.session_idle, or
 * http.session_max after its login, whichever comes first; it is
 * expired from that second on. The one definition, for httpd's cookie
 * lookups (webauth.h) and the streams xmppd signed in by a session. */
int64_t dir_web_session_expires(struct db *db, int64_t created,
				int64_t last_seen);
/* dir_web_session_current - whether web session sid of mailbox_id is
 * there and not expired at now: 1 (with its expiry time in *expires_r
 * when not NULL), 0 gone or expired, -1 error */
int dir_web_session_current(struct db *db, int64_t sid, int64_t mailbox_id,
			    int64_t now, int64_t *expires_r,
			    const char **error_r);

/* dir_web_session_touch - web session sid of mailbox_id was used at now
 * (its last_seen; xmppd: the chat stream it signed in); 0 or -1 */
int dir_web_session_touch(struct db *db, int64_t sid, int64_t mailbox_id,
			  int64_t now, const char **error_r);

/* Loaders: 1 found, 0 not found, -1 error. */
int dir_mailbox_get(struct db *db, int64_t id, struct dir_mailbox *mb,
		    const char **error_r);
int dir_mailbox_find(struct db *db, const char *postoffice, const char *name,
		     struct dir_mailbox *mb, const char **error_r);
int dir_domain_get(struct db *db, const char *name, struct dir_domain *d,
		   const char **error_r);
int dir_postoffice_get(struct db *db, const char *name,
		       struct dir_postoffice *po, const char **error_r);
int dir_postoffice_get_id(struct db *db, int64_t id, struct dir_postoffice *po,
			  const char **error_r);
/* dir_object_field - one field of an object by its field name
 * ("mailbox", "domain", "postoffice", "group", "list"); stored form, new
 * string in *value_r. */
int dir_object_field(struct db *db, const char *kind, int64_t id,
		     const char *field, char **value_r, const char **error_r);

/* dir_strings - a list of strings returned by the list calls below. */
struct dir_strings {
	char **v;
	size_t n;
};
void dir_strings_free(struct dir_strings *s);
int dir_group_members(struct db *db, int64_t group_id, struct dir_strings *out,
		      const char **error_r);
int dir_mailbox_redirects(struct db *db, int64_t mailbox_id,
			  struct dir_strings *out, const char **error_r);
int dir_mailbox_addresses(struct db *db, int64_t mailbox_id,
			  struct dir_strings *out, const char **error_r);
/* dir_postoffice_mailboxes - the names of the enabled mailboxes of a post
 * office (xmppd's shared roster group) */
int dir_postoffice_mailboxes(struct db *db, int64_t postoffice_id,
			     struct dir_strings *out, const char **error_r);
/* dir_sender_blacklisted - whether sender_domain may not send to domain
 * (manual 5.4.3). 1 yes, 0 no, -1 error. */
int dir_sender_blacklisted(struct db *db, int64_t domain_id,
			   const char *sender_domain, const char **error_r);
/* dir_send_as - may the mailbox use address as the sender of mail it
 * submits (MAIL FROM, From:, Sender:)? By its send_as, or its post
 * office's when that is "inherit": "any" allows every address;
 * "postoffice" any address in a domain of its post office; "own" (the
 * default) its own addresses (local+detail@domain too) and those of the
 * groups and lists with members_send_as that have one of its addresses as
 * a member. Postfix's reject_sender_login_mismatch. 1 yes, 0 no, -1
 * error. */
int dir_send_as(struct db *db, int64_t mailbox_id, const char *address,
		const char **error_r);
/* dir_mailbox_path - the Maildir++ root of a mailbox (new string). */
char *dir_mailbox_path(struct db *db, const struct dir_mailbox *mb);
char *dir_mailbox_path_names(struct db *db, const char *postoffice,
			     const char *mailbox);

#endif
