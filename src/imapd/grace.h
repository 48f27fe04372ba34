#ifndef POSTERN_IMAPD_GRACE_H
#define POSTERN_IMAPD_GRACE_H

/* grace - messages a session of this process expunges stay readable for
 * the other sessions of the process for a while (RFC 2180 4.1.1): a
 * session that has not been told of the expunge yet still sees the
 * message, and a FETCH of it answers from the file it held open instead
 * of NO. A message expunged by another process is read from the file
 * the store keeps in the folder's tmp/ for a minute
 * (store_msg_open_expunged); after that, NO [EXPUNGEISSUED] (RFC 5530). */

#include <stddef.h>
#include <stdint.h>

#include "imapd.h"

#define GRACE_SECONDS 60        /* how long an expunged file stays open */
#define GRACE_MAX     4096      /* files held open by the process, at most,
				   and never more than a quarter of its
				   descriptor limit (RLIMIT_NOFILE) */

/* grace_hold - before s expunges uids (NULL: its view's \Deleted
 * messages) of its selected folder: open their files */
void grace_hold(struct session *s, const uint32_t *uids, size_t n);
/* grace_open - a descriptor (the caller's, to close) of the expunged
 * message uid of s's folder, or -1 */
int grace_open(struct session *s, uint32_t uid);

#endif
