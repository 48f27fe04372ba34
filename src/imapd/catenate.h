#ifndef POSTERN_IMAPD_CATENATE_H
#define POSTERN_IMAPD_CATENATE_H

#include "buf.h"
#include "imapd.h"

/* catenate_build - the message of an APPEND CATENATE list (RFC 4469):
 * its TEXT literals and the messages or sections its IMAP URLs (RFC
 * 5092: the user's own mailboxes, no URLAUTH) name, in order, into out.
 * 0, or -1 with *why_r (to free) "BAD ..." or "NO [BADURL "url"] ..." */
int catenate_build(struct session *s, const struct imap_arg *list,
		   struct buf *out, char **why_r);

#endif
