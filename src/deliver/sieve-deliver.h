#ifndef POSTERN_SIEVE_DELIVER_H
#define POSTERN_SIEVE_DELIVER_H

#include <stdbool.h>

#include "db.h"
#include "directory.h"
#include "queue.h"
#include "store.h"

/* The mailbox filter of the post office connector: before a message is
 * stored for a local mailbox, its active Sieve script (lib-sieve, kept in
 * <mailbox root>/sieve/) runs and its actions are carried out here:
 *   keep      -> left to the caller's INBOX delivery, with the flags
 *   fileinto  -> store_deliver into the folder (created when missing)
 *   imap4flags keywords ($Label...) -> keep/fileinto through the index
 *                (store_append): Maildir names hold system flags only
 *   discard   -> nothing stored
 *   redirect  -> a new item in sf inbound (the MTA routes it) with the
 *                original envelope sender and a Delivered-To: line; not
 *                when the target already is in the message's
 *                Delivered-To lines (a loop): kept instead
 *   reject    -> an MDN (RFC 8098, "deleted", the reason; RFC 5429 2.2)
 *   ereject   -> a DSN (5.7.1, the reason): the message was accepted
 *                already, so no SMTP refusal (RFC 5429 2.1.1)
 *                Neither goes to the null sender or for bulk mail
 *   vacation  -> a reply (RFC 5230, RFC 3834): null sender, bulk,
 *                Auto-Submitted: auto-replied; once per sender and handle
 *                per :days, remembered in <root>/sieve/.vacation/; From
 *                :from only when it is an address of the mailbox (else
 *                the recipient address, logged), no control characters
 *                in :from/:subject, only Content-* fields from a :mime
 *                reason; origin the mailbox's post office (DKIM)
 * A script that does not compile or fails at run time keeps the message
 * (logged). */

enum sieve_deliver_result {
	SIEVE_DELIVER_KEEP,      /* store into INBOX as the caller would */
	SIEVE_DELIVER_DONE,      /* handled: nothing for the INBOX */
	SIEVE_DELIVER_DEFER,     /* temporary failure: retry the recipient */
};

struct sieve_deliver_args {
	struct db *db;
	const char *inbound;          /* sf inbound queue path */
	const char *qid;              /* the item's queue id, for logs */
	const struct queue_env *env;
	const char *msg_path;
	const struct dir_mailbox *mb;
	const char *root;             /* the mailbox root */
	const char *address;          /* the recipient address */
	bool *vacation_r;             /* set when the script has a vacation
				       * action or ran noautoreply (the
				       * mailbox auto responder then stays
				       * quiet); may be NULL */
	struct store_delivery *sd;    /* the caller's INBOX delivery (its
				       * prefix and quota are used for
				       * folders; flags set for keep) */
};

/* sieve_deliver - run the mailbox's script for one message */
enum sieve_deliver_result sieve_deliver(const struct sieve_deliver_args *a,
					const char **error_r);

#endif
