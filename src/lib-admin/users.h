#ifndef POSTERN_USERS_H
#define POSTERN_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"

/* Import and export of users (manual 5.3.9.2, 5.3.9.4). The import format
 * is CSV: emailaddress[,password[,quota[,friendly name]]]. A password that
 * is a crypt hash ({CRYPT}$y$..., $2y$..., $6$...) is taken as a hash, so
 * an export (which writes hashes) imports back exactly. A row's own
 * address is mapped first and is the one the export writes as
 * emailaddress; the automatic name@domain addresses follow. */

#define USERS_IMPORT_MAX_BYTES (256L * 1024 * 1024)
#define USERS_EXPORT_FIELDS \
	"emailaddress,password,quota,friendly_name,mailbox,postoffice,addresses," \
	"type,disabled,prevent_auth,reply_to,created"
#define USERS_EXPORT_DEFAULT "emailaddress,password,quota,friendly_name"

struct users_import_opts {
	const char *postoffice;
	const char *password;     /* for rows without one; NULL: random */
	int64_t quota_kb;         /* for rows without one; -1: default quota */
	bool atomic;              /* all rows or none */
	bool create_domains;      /* add unknown domains to the post office;
				   * else such a row fails (a typo must not
				   * become a domain) */
	char sep;                 /* ',' or '\t' */
	void *ctx;
	void (*progress)(void *ctx, size_t done, size_t total);
	/* passwords hashed so far (the long part of an import) */
	void (*hash_progress)(void *ctx, size_t done, size_t total);
	void (*row_error)(void *ctx, size_t line, const char *message);
	/* a password was generated for address */
	void (*generated)(void *ctx, const char *address, const char *password);
	/* a mailbox was created and its store made (after the commit): the
	 * CLI delivers the default welcome message (manual 5.3.9.9) */
	void (*created)(void *ctx, const char *postoffice, const char *mailbox);
};

struct users_import_result {
	size_t total, imported, failed;
};

/* users_import - import the records of data. Returns ADM_OK when every row
 * imported; ADM_INVALID when some failed (reported through row_error;
 * with atomic, none were kept); another adm_status on a fatal error. */
int users_import(struct db *db, const char *data, size_t len,
		 const struct users_import_opts *opts,
		 struct users_import_result *res, const char **error_r);

/* users_export - append the post office's mailboxes to out, one line each,
 * with the comma separated fields (see USERS_EXPORT_FIELDS). The postmaster
 * mailbox is left out: `postoffice add` creates it, so an export imports
 * back into a new post office unchanged. */
int users_export(struct db *db, const char *postoffice, const char *fields,
		 char sep, bool header, struct buf *out, const char **error_r);

#endif
