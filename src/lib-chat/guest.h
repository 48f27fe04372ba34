#ifndef POSTERN_GUEST_H
#define POSTERN_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "chat-store.h"
#include "db.h"

/* guest - external contacts (manual 2.4, issue 18 item 3). A user (by
 * the IQ of guest.c in xmppd) or an administrator (postern chat guest
 * invite) invites an outside address: it gets a mail, through the pickup
 * directory (notice.h), with a temporary chat login "guest~<hex>" on the
 * inviter's domain, a password and the inviter's xmpp: URL. Only the
 * SHA-256 of the password is stored (it is 100 random bits: a slow hash
 * would add nothing but time on xmppd's loop). The guest logs in to
 * xmppd only (the directory does not know it: IMAP, POP3, SMTP and the
 * web refuse it), sees and is seen by the inviter only, and both are in
 * each other's roster until the invitation expires or is revoked.
 * guest-invite.c (lib-chat) is shared by xmppd, httpd and the CLI. */

#define GUEST_PREFIX "guest~"      /* no mailbox name has '~' */
#define GUEST_DAYS_MAX 90
#define GUEST_ADDRESS_MAX 254
#define GUEST_KEEP_DAYS 30         /* ended invitations listed so long */

/* guest_is_local - whether a JID local part is a guest's */
bool guest_is_local(const char *local);
/* guest_secret_hash - hex SHA-256 of a password (new string) */
char *guest_secret_hash(const char *password);
/* guest_secret_ok - whether password matches a stored hash */
bool guest_secret_ok(const char *password, const char *hash);

struct guest_inviter {
	const char *owner;        /* "mailbox@postoffice", lower case */
	const char *jid;          /* its bare JID on domain */
	const char *domain;       /* the guest's domain too */
	const char *postoffice;
	int64_t po_id;
};

/* guest_invite - invite address for days (1..GUEST_DAYS_MAX): checks the
 * address (one plain outside address: a domain of this server is
 * refused), the inviter's limits (xmpp.guests_per_user active ones, 0:
 * guests off; twice that many made in the last 24 hours),
 * stores the invitation and both roster items, commits, then mails the
 * login; *g_r is the stored row. 0, or -1 with *error_r (a sentence for
 * the user; *internal_r true when it is the server's fault). */
int guest_invite(struct db *db, struct chat_store *cs,
		 const struct guest_inviter *inv, const char *address,
		 int days, struct chat_guest *g_r, bool *internal_r,
		 const char **error_r);

#endif
