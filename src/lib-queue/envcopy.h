#ifndef POSTERN_ENVCOPY_H
#define POSTERN_ENVCOPY_H

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

#endif
