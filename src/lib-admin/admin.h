#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "fields.h"

/* The administration API: every change to the model goes through here, so
 * the CLI and the web admin enforce the same rules. Each call is one
 * transaction (a savepoint inside a caller's transaction): on failure
 * nothing of it remains. Returns ADM_OK or a negative status with a
 * message in *error_r. */

enum adm_status {
	ADM_OK = 0,
	ADM_FAIL = -1,      /* storage or system failure */
	ADM_INVALID = -2,   /* a bad name, address or value */
	ADM_NOTFOUND = -3,  /* the object does not exist */
	ADM_EXISTS = -4,    /* it exists already, or conflicts */
	ADM_BUSY = -5,      /* the database is locked by another writer */
};

/* Objects are named as people name them: post office "acme", domain
 * "acme.test", mailbox "bob@acme" (mailbox@postoffice), group and list by
 * their address. */
enum adm_kind { ADM_POSTOFFICE, ADM_DOMAIN, ADM_MAILBOX, ADM_GROUP, ADM_LIST };

const struct field_def *adm_kind_fields(enum adm_kind kind);
const char *adm_kind_name(enum adm_kind kind);
const char *adm_kind_table(enum adm_kind kind);

/* adm_object_id - the row id of a named object. */
int adm_object_id(struct db *db, enum adm_kind kind, const char *ident,
		  int64_t *id_r, const char **error_r);
/* adm_object_set - set one field by name to a value given as text. */
int adm_object_set(struct db *db, enum adm_kind kind, const char *ident,
		   const char *field, const char *value, const char **error_r);

int adm_postoffice_add(struct db *db, const char *name, const char *password,
		       const char **error_r);
int adm_postoffice_del(struct db *db, const char *name, bool keep_data,
		       const char **error_r);
/* adm_postoffice_set_quota - set every current mailbox's quota (5.3.9.8). */
int adm_postoffice_set_quota(struct db *db, const char *name, int64_t quota_kb,
			     int *count_r, const char **error_r);

int adm_domain_add(struct db *db, const char *name, const char *postoffice,
		   const char **error_r);
int adm_domain_del(struct db *db, const char *name, const char **error_r);
int adm_blacklist_add(struct db *db, const char *domain, const char *sender,
		      const char **error_r);
int adm_blacklist_del(struct db *db, const char *domain, const char *sender,
		      const char **error_r);

struct adm_mailbox_spec {
	const char *postoffice;
	const char *name;
	const char *password;       /* plain; or NULL with password_hash */
	const char *password_hash;  /* an imported crypt hash */
	int64_t quota_kb;           /* -1: mailbox.default_quota */
	const char *type;           /* NULL: USER */
	const char *friendly_name;  /* NULL: none */
	bool no_auto_address;       /* skip name@domain for each domain */
	bool no_store;              /* the caller makes the store once its
				     * transaction commits (imports) */
};
int adm_mailbox_add(struct db *db, const struct adm_mailbox_spec *spec,
		    const char **error_r);
/* adm_mailbox_make_store - create the Maildir++ of a mailbox (cur, new,
 * tmp); nothing if it exists. */
int adm_mailbox_make_store(struct db *db, const char *postoffice,
			   const char *name, const char **error_r);
/* adm_mailbox_passwd - set a new password (plain, or hash if plain NULL). */
int adm_mailbox_passwd(struct db *db, const char *ident, const char *password,
		       const char *hash, const char **error_r);
/* adm_mailbox_passwd_keep - the same, but web session keep_session (the
 * one the user changes it from) stays; the others end. */
int adm_mailbox_passwd_keep(struct db *db, const char *ident,
			    const char *password, const char *hash,
			    int64_t keep_session, const char **error_r);
int adm_mailbox_del(struct db *db, const char *ident, bool keep_data,
		    const char **error_r);
int adm_redirect_add(struct db *db, const char *ident, const char *address,
		     const char **error_r);
int adm_redirect_del(struct db *db, const char *ident, const char *address,
		     const char **error_r);

/* adm_address_add - map address to the mailbox ident; the address's domain
 * must belong to the mailbox's post office (manual 5.5.4). */
int adm_address_add(struct db *db, const char *address, const char *mailbox,
		    const char **error_r);
int adm_address_del(struct db *db, const char *address, const char **error_r);

int adm_group_add(struct db *db, const char *address, const char *postoffice,
		  const char *name, const char **error_r);
int adm_group_del(struct db *db, const char *address, const char **error_r);
int adm_group_member_add(struct db *db, const char *group, const char *member,
			 const char **error_r);
int adm_group_member_del(struct db *db, const char *group, const char *member,
			 const char **error_r);

int adm_list_add(struct db *db, const char *address, const char *postoffice,
		 const char *owner, const char **error_r);
int adm_list_del(struct db *db, const char *address, const char **error_r);
int adm_list_member_add(struct db *db, const char *list, const char *member,
			const char *name, const char **error_r);
int adm_list_member_del(struct db *db, const char *list, const char *member,
			const char **error_r);

/* Transactions spanning several calls (imports): begin opens one unless
 * the caller already has one; end commits (ok) or rolls back. */
int adm_tx_begin(struct db *db, bool *outer_r, const char **error_r);
int adm_tx_end(struct db *db, bool outer, bool ok, const char **error_r);

/* adm_password_check - the password policy for a new plain password of
 * mailbox@postoffice: at least password_min_length characters (the post
 * office's, or the global password.min_length, default 8), not only
 * spaces, and (password_reject_names / password.reject_names) not
 * containing the mailbox or post office name. adm_mailbox_add,
 * adm_postoffice_add and adm_mailbox_passwd call it for every plain
 * password (CLI, imports, web admin); imported hashes cannot be checked.
 * ADM_OK, or ADM_INVALID with the rule broken in *error_r. */
int adm_password_check(struct db *db, const char *postoffice,
		       const char *mailbox, const char *password,
		       const char **error_r);

/* adm_password_field_is_hash - whether an import field holds a hash. */
bool adm_password_field_is_hash(const char *field);

#endif
