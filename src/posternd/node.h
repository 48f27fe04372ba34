/* node - posternd as a node of a cluster (a PostgreSQL config store,
 * docs/CLUSTER.md): its row in the node table, renewed while it runs. */
#ifndef POSTERN_NODE_H
#define POSTERN_NODE_H

#include <time.h>

/* node_start - on a PostgreSQL store, register this node: its name is
 * host.conf's "node = NAME" (the host name without it), its address
 * "node_address = ADDR" (the name without it). 0 (also on SQLite, where
 * nothing registers), or -1 with the reason logged: another live node
 * has the name, the store cannot be reached. */
int node_start(const char *root);

/* node_tick - each second: renew the heartbeat every third of
 * cluster.node_timeout. -1 when the row is no longer ours (this node
 * stalled past the timeout and another took its name): stop. */
int node_tick(time_t now);

/* node_stop - a clean stop: the row goes, the leases are released */
void node_stop(void);

#endif
