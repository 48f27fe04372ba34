#ifndef POSTERN_MAINT_H
#define POSTERN_MAINT_H

/* maint - the administrator's mail put straight into INBOXes (manual
 * 5.3.9.5-9): the welcome message new mailboxes get (setting
 * welcome.message) and mail to users. One place for `postern welcome`,
 * `postern mailbox|postoffice email`, `postern mailbox add`, `users
 * import` and the admin API's Mailbox/set create and Users/import.
 * Messages go through lib-store (durable, counted in the quota usage,
 * not refused by it). In lib-diag because it sits above lib-store. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "directory.h"

/* maint_message - a text/plain message from the administrator (from NULL:
 * Postmaster <postmaster@server.hostname>) to `to`, appended to m */
void maint_message(struct db *db, struct buf *m, const char *from,
		   const char *to, const char *subject, const char *body,
		   size_t len);

/* maint_put_inbox - m into the mailbox's INBOX; 0 or -1 with error */
int maint_put_inbox(struct db *db, const struct dir_mailbox *mb,
		    const struct buf *m, const char **error_r);

/* maint_mailbox_address - the mailbox's first address, else name@po */
char *maint_mailbox_address(struct db *db, const struct dir_mailbox *mb);

/* maint_welcome_message - the welcome message for a mailbox as it would
 * be delivered (text of welcome.message: a message of its own when it
 * begins with a header field, else the body of one with the subject
 * "Welcome"); 0 with m filled, or 0 with m empty when none is set */
void maint_welcome_message(struct db *db, const struct dir_mailbox *mb,
			   struct buf *m);

/* maint_welcome_deliver - the welcome message into the new mailbox
 * NAME@postoffice: 1 delivered, 0 none set, -1 with error */
int maint_welcome_deliver(struct db *db, const char *postoffice,
			  const char *mailbox, const char **error_r);

/* maint_inbox_delete - expunge the INBOX messages of the mailbox whose
 * store is root received before cutoff (everything: all) through the
 * index (IMAP sessions see them expunged, the quota usage goes down);
 * their count in *n_r and bytes in *bytes_r; dry: only count. 0 or -1
 * (manual 5.3.9.7: `postern messages delete`, MailboxMessage/purge) */
int maint_inbox_delete(const char *root, time_t cutoff, bool everything,
		       bool dry, size_t *n_r, int64_t *bytes_r,
		       const char **error_r);

#endif
