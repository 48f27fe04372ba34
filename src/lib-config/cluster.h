#ifndef POSTERN_CLUSTER_H
#define POSTERN_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

/* cluster - the nodes of a cluster that share one PostgreSQL config store,
 * and the leases that give each mailbox to one node at a time
 * (docs/CLUSTER.md). Tables node and mailbox_lease of the config store.
 *
 * A node is a running posternd: its name (host.conf "node = NAME", the
 * host name by default), its address, the data root it runs on (ident:
 * host name and path) and a random instance id of this run. Its heartbeat
 * (the database's clock) is renewed every third of cluster.node_timeout;
 * a node whose heartbeat is older than that is dead.
 *
 * A lease is valid while its holder instance is alive: one heartbeat
 * renews all the leases of a node. Taking a lease held by a dead instance
 * adds one to its fence: a node that comes back after a takeover finds
 * another fence (or another holder) and must stop touching the mailbox. */

/* cluster_now - the database's clock (seconds since 1970) */
int cluster_now(struct db *db, int64_t *now_r, const char **error_r);

/* cluster_join - register node name for this run. The row of a dead node
 * of that name, or of this same data root's previous run (ident), is
 * taken over; a live node of that name elsewhere refuses, naming it.
 * *instance_r: the new instance id (new string). 0, or -1 with error. */
int cluster_join(struct db *db, const char *name, const char *address,
		 const char *ident, int64_t timeout, char **instance_r,
		 const char **error_r);
/* cluster_beat - renew the heartbeat: 1, 0 when the row is no longer
 * this instance's (taken over after a stall: stop serving), -1 error */
int cluster_beat(struct db *db, const char *name, const char *instance,
		 const char **error_r);
/* cluster_leave - a clean stop: the node's row and leases go */
int cluster_leave(struct db *db, const char *name, const char *instance,
		  const char **error_r);

/* cluster_lease_take - give mailbox_id to this instance unless a live
 * instance holds it. 1: ours, *fence_r its fence; 0: held elsewhere,
 * *holder_r the node's name (new string); -1 error. */
int cluster_lease_take(struct db *db, int64_t mailbox_id, const char *node,
		       const char *instance, int64_t timeout, int64_t *fence_r,
		       char **holder_r, const char **error_r);
/* cluster_lease_check - this instance still holds mailbox_id at fence:
 * 1 yes, 0 no (taken over: stop touching it), -1 error */
int cluster_lease_check(struct db *db, int64_t mailbox_id,
			const char *instance, int64_t fence,
			const char **error_r);
/* cluster_drain - drop every lease of node (the next use of each mailbox
 * takes it on a live node); *count_r how many. 0 or -1. */
int cluster_drain(struct db *db, const char *node, int64_t *count_r,
		  const char **error_r);

#endif
