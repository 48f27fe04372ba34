#ifndef POSTERN_IMAPD_URL_CONTENT_H
#define POSTERN_IMAPD_URL_CONTENT_H

/* url-content - what an IMAP URL names (RFC 5092): a message, or one of
 * its sections, or a range of either, read from a mailbox's store. Used
 * by CATENATE (catenate.c, the user's own mailbox) and URLFETCH
 * (cmd-urlauth.c, the mailbox of the URL's owner). */

#include "imap-url.h"
#include "imapd.h"

/* url_folder_open - the folder u names in store st, synced; NULL with
 * *error_r if there is no such folder */
struct store_folder *url_folder_open(struct session *s, struct store *st,
				     const struct imap_url *u,
				     const char **error_r);

struct url_content_opts {
	bool binary;          /* RFC 5524 BINARY: the part decoded */
	struct buf *bps;      /* non-NULL: its BODYPARTSTRUCTURE (RFC 5524)
				 appended, NIL when the URL names no body
				 part */
	bool *has_nul_r;      /* with binary: whether the data holds NUL */
};

/* url_content - append what u names in f to out (at most
 * IMAP_MAX_LITERAL in all): 0, or -1 with *error_r (no such message,
 * bad section, UIDVALIDITY changed, too big, undecodable for BINARY) */
int url_content(struct store_folder *f, const struct imap_url *u,
		const struct url_content_opts *o, struct buf *out,
		const char **error_r);

/* url_content_auth - what a URLAUTH URL (RFC 4467) names, into out, if
 * its token is right and its access identifier admits the session's user
 * (URLFETCH; CATENATE's URLAUTH URLs): any user's mailbox. 0, or -1 with
 * *why_r (for the log: clients see NIL or a BADURL) */
int url_content_auth(struct session *s, const char *url,
		     const struct url_content_opts *o, struct buf *out,
		     const char **why_r);

#endif
