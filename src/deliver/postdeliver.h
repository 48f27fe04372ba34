#ifndef POSTERN_DELIVER_POSTDELIVER_H
#define POSTERN_DELIVER_POSTDELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "directory.h"
#include "msghdr.h"
#include "queue.h"

/* What the post office connector does after a message is durably in a
 * mailbox (manual 5.5.6, 5.3.5):
 *  - the auto responder (autoreply.c, RFC 3834),
 *  - the post office usage notification (usage.c),
 *  - the delivery event (postdeliver.c): remembered here and run by
 *    post_item_finished() once the queue item is done or released, so a
 *    slow, hanging or crashing program can neither delay the item's
 *    removal nor make it be delivered twice. The program gets the full
 *    path of the delivered Maildir file (in new/, or cur/ when a client
 *    already moved it) and the connector type "SF".
 * None of them can change the outcome of the delivery; their failures are
 * logged with the queue id. */

/* the header fields of the delivered message that these decisions need */
struct post_msg {
	char *subject;
	char *message_id;
	char *references;
	char *auto_submitted;
	char *precedence;
	char *x_auto_response_suppress;
	bool list;                /* a List-* field is present */
	bool read;                /* scanned */
};

/* post_item_msg - the header record of item id, for a scan the caller
 * makes once per delivery (post_msg_field for each field); post_delivered
 * then reads no header of its own. Valid until post_item_finished. */
struct post_msg *post_item_msg(struct db *db, const char *id);
/* post_msg_field - one header field into pm */
void post_msg_field(struct post_msg *pm, const struct msghdr_field *f);
void post_msg_free(struct post_msg *pm);
/* post_msg_is_bulk - list, bulk, junk or automatic mail (RFC 3834 2,
 * manual 5.5.6: "bulk or system generated"), or env bulk / null sender. */
bool post_msg_is_bulk(const struct post_msg *pm, const struct queue_env *env);

/* post_delivered - one message was delivered into mailbox mb (Maildir
 * root, file name in new/) for recipient address. inbound is the sf
 * inbound queue where replies go. */
void post_delivered(struct db *db, const char *inbound,
		    const struct queue_item *item, const struct dir_mailbox *mb,
		    const char *address, const char *root, const char *file,
		    bool no_autoreply);
/* post_item_finished - the item is done or released: run the delivery
 * events remembered for it, and forget its header. */
void post_item_finished(struct db *db, const char *id);

/* autoreply.c: autoreply_consider - send the auto reply of mb to the
 * sender of item when every rule allows it. */
void autoreply_consider(struct db *db, const char *inbound,
			const struct queue_item *item, const struct post_msg *pm,
			const struct dir_mailbox *mb, const char *address,
			const char *root);
/* autoreply_sender_is_system - MAILER-DAEMON, postmaster, -request,
 * owner-, noreply... (RFC 3834 2 and common practice). */
bool autoreply_sender_is_system(const char *sender);
/* mailbox_owns_address - whether addr is an address of mailbox mb: the
 * address the mail was delivered for, one of its addresses, or one that
 * resolves to it (subaddress, postmaster@...), not through a catch-all. */
bool mailbox_owns_address(struct db *db, const struct dir_mailbox *mb,
			  const char *addr, const char *address);
/* post_header_clean - s into out with control characters (CR, LF, ...)
 * as blanks: for text a setting, a script or a message puts in a header
 * field of a message made here. */
void post_header_clean(struct buf *out, const char *s);
/* post_header_text - an unstructured field value: cleaned, and RFC 2047
 * encoded words (UTF-8, base64) when it is not ASCII. */
void post_header_text(struct buf *out, const char *s);
/* post_header_mailbox - a From value: "name" <address> (name cleaned,
 * quoted, encoded when not ASCII), or <address> when name is NULL or "". */
void post_header_mailbox(struct buf *out, const char *name,
			 const char *address);

/* usage.c: usage_postoffice_bytes - the sum of the incremental quota
 * usage (maildirsize) of every mailbox of a post office; 0 or -1. */
int usage_postoffice_bytes(struct db *db, int64_t postoffice_id,
			   int64_t *bytes_r, int64_t *messages_r,
			   const char **error_r);
/* usage_check - after a delivery into post office po: notify once when
 * its usage reaches the threshold, re-arm when it is below. */
void usage_check(struct db *db, const char *id, int64_t postoffice_id);

#endif
