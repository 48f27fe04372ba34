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
 * (DKIM verification). A forward keeps its original's client. The relay
 * network verdict is smtpd's (env->relay_net), worked out once at
 * connect; only envelopes that lack it are matched here again. */
bool env_from_here(struct db *db, const struct queue_env *env);

/* The post office a message from here originated in (env->origin; the
 * signing rule of docs/SECURITY.md, "DKIM signing"). A program that makes
 * a message sets origin: the mailbox's post office for a Sieve or auto
 * responder reply, the list's for list mail, the post office hosting the
 * sender's domain for system notices (DSN, MDN) and pickup files. A copy
 * (forward, redirect, split) keeps its original's (env_copy_meta). */

/* env_origin_of_address - origin := the post office hosting the domain of
 * address; none (NULL) when it is not hosted here. */
void env_origin_of_address(struct db *db, struct queue_env *env,
			   const char *address);
/* env_origin - the post office of an item from here: 1 with *po_r (the
 * origin, else the AUTH user's post office); 0 for a client of
 * smtp.relay_networks (a trusted host: no post office); -1 with *why_r
 * when none is known (made here without an origin: an envelope queued
 * before origins existed, a POP retrieval; a post office or submitter
 * deleted since; not from here). */
int env_origin(struct db *db, const struct queue_env *env, int64_t *po_r,
	       const char **why_r);

#endif
