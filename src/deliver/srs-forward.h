#ifndef POSTERN_DELIVER_SRS_FORWARD_H
#define POSTERN_DELIVER_SRS_FORWARD_H

#include <stddef.h>

#include "db.h"

/* The envelope sender of the post office connector's forwards (redirects,
 * group members, a remote catch-all, Sieve redirect): a forward of mail
 * from an outside sender to an outside address leaves from an SRS address
 * (lib-smtp/srs.h), so it passes SPF at the next hop; the MTA sends mail
 * to that address back to the original sender. */

/* srs_forward_hosted - 1 if the domain of address is hosted here (a bare
 * name counts as hosted), 0 if not, -1 on a directory error. */
int srs_forward_hosted(struct db *db, const char *address);
/* srs_forward_sender - the SRS address into out (SRS_ADDRESS_MAX + 1
 * bytes) for sender when srs.enabled and the sender is from outside; its
 * domain is srs.domain, else that of forwarder (the local address that
 * forwards; may be NULL). 1 filled in, 0 the sender stays, -1 error (the
 * forward waits). qid is for the log. */
int srs_forward_sender(struct db *db, const char *qid, const char *sender,
		       const char *forwarder, char *out, size_t outlen);

#endif
