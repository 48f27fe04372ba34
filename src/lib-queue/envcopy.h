#ifndef POSTERN_ENVCOPY_H
#define POSTERN_ENVCOPY_H

#include <stdbool.h>

#include "db.h"
#include "queue.h"

/* Helpers shared by the MTA and the post office connector to build new
 * envelopes from an item's one when they split or forward it. */

/* env_copy_meta - copy every envelope field but the id and recipients. */
void env_copy_meta(struct queue_env *dst, const struct queue_env *src);
/* env_copy_rcpt - append a copy of r (address, DSN fields, state). */
struct queue_rcpt *env_copy_rcpt(struct queue_env *dst,
				 const struct queue_rcpt *r);
/* env_split_id - "<id>.<n>" into out (QUEUE_ID_MAX + 1 bytes); when that
 * would be too long, a fresh id instead. Returns out. */
char *env_split_id(char *out, const char *id, unsigned n);

/* env_from_here - whether the item originated here: an authenticated
 * submission, a local program (client "local": pickup, deliver,
 * listserv...) or a client of smtp.relay_networks. Such mail may be
 * relayed (MTA) and signed (smtp-out DKIM); other mail is from outside
 * (DKIM verification). A forward keeps its original's client. */
bool env_from_here(struct db *db, const struct queue_env *env);

#endif
