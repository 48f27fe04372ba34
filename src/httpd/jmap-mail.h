#ifndef POSTERN_JMAP_MAIL_H
#define POSTERN_JMAP_MAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "jmap.h"

/* jmap-mail - the JMAP mail methods (RFC 8621, RFC 9425 quotas) on one
 * account: a mailbox of the config store, its Maildir++ through
 * jmap-store.h. jmap-http.c authenticates and runs them with jmap_run. */

#define JMAP_MAIL "urn:ietf:params:jmap:mail"
#define JMAP_QUOTA "urn:ietf:params:jmap:quota"

/* the account of a request (one worker thread) */
struct jmap_mail_ctx {
	struct db *db;
	int64_t mailbox_id;
	char account_id[32];          /* "a<mailbox id>" */
	char login[160];              /* name@postoffice */
	const char *root;             /* the Maildir++ root */
	int64_t quota_kb;
	struct jms *store;            /* opened on first use */
	const struct jmap_limits *lim;
	const char *store_error;      /* why it could not be opened */
	const char *client;           /* the client's address */
	int64_t web_session;          /* the cookie's session row, else 0 */
};

extern const struct jmap_method jmap_mail_methods[];
/* Identity, EmailSubmission, VacationResponse (jmap-submit.c) */
extern const struct jmap_method jmap_submit_methods[];

/* SieveScript (jmap-sieve.c, RFC 9661) */
extern const struct jmap_method jmap_sieve_methods[];
#define JMAP_SIEVE "urn:ietf:params:jmap:sieve"
/* jmap_sieve_blob - a script's blob ("V..."): 1, 0 not found */
int jmap_sieve_blob(struct jmap_mail_ctx *c, const char *blob_id,
		    struct buf *out, const char **error_r);

#define JMAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define JMAP_VACATION "urn:ietf:params:jmap:vacationresponse"

struct jms;
/* jmap_mail_account - the accountId is this account's and every
 * argument is in allowed: false with the error */
bool jmap_mail_account(struct jmap_mail_ctx *c, json_t *args,
		       const char *const *allowed, json_t **error_r);
/* jmap_mail_begin - a method's start: the accountId is this account's,
 * every argument is in allowed; the store (NULL with *error_r) */
struct jms *jmap_mail_begin(struct jmap_mail_ctx *c, json_t *args,
			    const char *const *allowed, json_t **error_r);
/* jmap_mail_state - a state string of kind 'E', 'M' or 'Q' */
json_t *jmap_mail_state(struct jms *j, char kind);
/* jmap_mail_email_update - apply an Email/set patch to Email id: 0, or
 * -1 with a SetError in *serr; new_id (32) gets the id after a move */
int jmap_mail_email_update(struct jms *j, const char *id, json_t *patch,
			   json_t **serr, char new_id[32]);

/* jmap_mail_store - the store of the context, opened on first use; NULL
 * when it cannot be (ctx->store_error says why) */
struct jms *jmap_mail_store(struct jmap_mail_ctx *c);
void jmap_mail_ctx_free(struct jmap_mail_ctx *c);

/* jmap_mail_blob - the bytes of a blob of the account into out: 1, 0
 * not found, -1 error */
int jmap_mail_blob(struct jmap_mail_ctx *c, const char *blob_id,
		   struct buf *out, const char **error_r);

/* jmap_mail_blob_fd - a blob as a file to send from (never read into
 * memory for a message or an upload; a body part is decoded into an
 * unlinked temporary file): 1 with *fd_r (the caller's) and its length,
 * 0 not found, -1 error */
int jmap_mail_blob_fd(struct jmap_mail_ctx *c, const char *blob_id,
		      int *fd_r, size_t *len_r, const char **error_r);

/* jmap_mail_max_attachments - maxSizeAttachmentsPerEmail (RFC 8621
 * 1.3.1): the decoded attachments that still fit, base64 encoded (57
 * bytes in 78) with room for the text, in the largest message the
 * submission path takes (smtp.max_message_size) */
size_t jmap_mail_max_attachments(struct db *db);

/* jmap_mail_states - the account's current states as a StateChange's
 * TypeState object {Mailbox, Email, Thread, Quota} (new reference), or
 * NULL on error */
json_t *jmap_mail_states(struct jmap_mail_ctx *c);

#endif
