/* cluster - nodes and mailbox leases in the shared config store
 * (cluster.h, docs/CLUSTER.md). Every decision is one statement on the
 * database's clock, so two nodes racing for a name or a mailbox are
 * ordered by PostgreSQL, not by their own clocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cluster.h"
#include "xalloc.h"

int
cluster_now(struct db *db, int64_t *now_r, const char **error_r)
{
	return db_query_int(db, now_r, 0, error_r,
	    "SELECT strftime('%s', 'now')", "");
}

/* instance_new - 16 random bytes in hex: this run of a node */
static char *
instance_new(void)
{
	unsigned char raw[16];
	char *out = xmalloc(sizeof(raw) * 2 + 1);

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort();   /* no randomness: nothing safe to do */
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + i * 2, 3, "%02x", raw[i]);
	return out;
}

int
cluster_join(struct db *db, const char *name, const char *address,
	     const char *ident, int64_t timeout, char **instance_r,
	     const char **error_r)
{
	char *instance = instance_new(), *holder = NULL, *where = NULL;
	int64_t now, beat = 0;
	struct db_stmt *st;

	*instance_r = NULL;
	if (cluster_now(db, &now, error_r) < 0)
		goto fail;
	/* a new name, a dead node's row, or our own data root's last run */
	if (db_exec(db, error_r,
	    "INSERT INTO node (name, address, ident, instance, started, "
	    "heartbeat) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
	    "ON CONFLICT (name) DO UPDATE SET address = excluded.address, "
	    "ident = excluded.ident, instance = excluded.instance, "
	    "started = excluded.started, heartbeat = excluded.heartbeat "
	    "WHERE node.heartbeat < ?6 OR node.ident = excluded.ident",
	    "ttttii", name, address, ident, instance, now, now - timeout) < 0)
		goto fail;
	st = db_query(db, error_r, "SELECT instance, ident, heartbeat FROM node "
	    "WHERE name = ?", "t", name);
	if (st == NULL)
		goto fail;
	if (db_step(st, error_r) == DB_ROW) {
		holder = db_col_dup(st, 0);
		where = db_col_dup(st, 1);
		beat = db_col_int(st, 2);
	}
	db_stmt_free(&st);
	if (holder == NULL || strcmp(holder, instance) != 0) {
		db_errorf(db, error_r, "node name '%s' is taken by a running node "
		    "(%s, last heartbeat %llds ago): give this one another name "
		    "(host.conf: node = NAME), or stop that one; a stopped "
		    "node's name is free %llds after its last heartbeat", name,
		    where != NULL ? where : "?", (long long)(now - beat),
		    (long long)timeout);
		goto fail;
	}
	free(holder);
	free(where);
	*instance_r = instance;
	return 0;
fail:
	free(holder);
	free(where);
	free(instance);
	return -1;
}

int
cluster_beat(struct db *db, const char *name, const char *instance,
	     const char **error_r)
{
	if (db_exec(db, error_r, "UPDATE node SET heartbeat = "
	    "strftime('%s', 'now') WHERE name = ? AND instance = ?", "tt",
	    name, instance) < 0)
		return -1;
	return db_changes(db) > 0 ? 1 : 0;
}

int
cluster_leave(struct db *db, const char *name, const char *instance,
	      const char **error_r)
{
	/* released, not deleted: the fence keeps counting */
	if (db_exec(db, error_r, "UPDATE mailbox_lease SET instance = '' "
	    "WHERE instance = ?", "t", instance) < 0)
		return -1;
	return db_exec(db, error_r, "DELETE FROM node WHERE name = ? AND "
	    "instance = ?", "tt", name, instance);
}

int
cluster_lease_take(struct db *db, int64_t mailbox_id, const char *node,
		   const char *instance, int64_t timeout, int64_t *fence_r,
		   char **holder_r, const char **error_r)
{
	int64_t now;
	struct db_stmt *st;
	int r = -1;

	*fence_r = 0;
	*holder_r = NULL;
	if (cluster_now(db, &now, error_r) < 0)
		return -1;
	/* free, ours already, or its holder's instance is no longer alive
	 * (a dead node, or an earlier run): a takeover adds one to the fence */
	if (db_exec(db, error_r,
	    "INSERT INTO mailbox_lease (mailbox_id, node, instance, fence, since) "
	    "VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (mailbox_id) DO UPDATE SET "
	    "node = excluded.node, instance = excluded.instance, "
	    "fence = mailbox_lease.fence + 1, since = excluded.since "
	    "WHERE mailbox_lease.instance <> excluded.instance AND NOT EXISTS "
	    "(SELECT 1 FROM node n WHERE n.instance = mailbox_lease.instance "
	    "AND n.heartbeat >= ?5)", "itttii", mailbox_id, node, instance,
	    now, now - timeout) < 0)
		return -1;
	st = db_query(db, error_r, "SELECT node, instance, fence FROM "
	    "mailbox_lease WHERE mailbox_id = ?", "i", mailbox_id);
	if (st == NULL)
		return -1;
	int s = db_step(st, error_r);
	if (s == DB_ROW) {
		if (strcmp(db_col_text(st, 1), instance) == 0) {
			*fence_r = db_col_int(st, 2);
			r = 1;
		} else {
			*holder_r = db_col_dup(st, 0);
			r = 0;
		}
	} else if (s == DB_DONE)   /* the mailbox went meanwhile */
		db_errorf(db, error_r, "no mailbox %lld", (long long)mailbox_id);
	db_stmt_free(&st);
	return r;
}

int
cluster_lease_check(struct db *db, int64_t mailbox_id, const char *instance,
		    int64_t fence, const char **error_r)
{
	int64_t n;

	if (db_query_int(db, &n, 0, error_r, "SELECT count(*) FROM "
	    "mailbox_lease WHERE mailbox_id = ? AND instance = ? AND fence = ?",
	    "iti", mailbox_id, instance, fence) < 0)
		return -1;
	return n > 0 ? 1 : 0;
}

int
cluster_drain(struct db *db, const char *node, int64_t *count_r,
	      const char **error_r)
{
	*count_r = 0;
	if (db_exec(db, error_r, "UPDATE mailbox_lease SET instance = '' "
	    "WHERE node = ? AND instance <> ''", "t", node) < 0)
		return -1;
	*count_r = db_changes(db);
	return 0;
}
