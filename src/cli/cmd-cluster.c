/* cmd-cluster - the nodes of a cluster sharing a PostgreSQL config store
 * and their mailbox leases (docs/CLUSTER.md, lib-config/cluster.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cluster.h"
#include "settings.h"
#include "xalloc.h"

static int
cluster_help(int code)
{
	printf("usage: postern cluster status\n"
	    "       postern cluster drain NODE [--yes]\n\n"
	    "status: the nodes (each posternd on the PostgreSQL store: name,\n"
	    "address, last heartbeat, alive or dead after cluster.node_timeout)\n"
	    "and the mailbox leases (which node serves a mailbox, its fence).\n"
	    "drain: release every lease of NODE; the next use of each of its\n"
	    "mailboxes gives it to a live node (the fence grows by one).\n"
	    "On the SQLite store there is one host and no cluster.\n");
	return code;
}

static int
cluster_status(struct cli *cli)
{
	const char *err;
	int64_t now, timeout = settings_current(cli->db)->cluster_node_timeout;
	json_t *nodes = json_array(), *leases = json_array();
	struct db_stmt *st;
	int s;

	if (cluster_now(cli->db, &now, &err) < 0)
		goto fail;
	st = db_query(cli->db, &err, "SELECT n.name, n.address, n.started, "
	    "n.heartbeat, (SELECT count(*) FROM mailbox_lease l WHERE "
	    "l.instance = n.instance) FROM node n ORDER BY n.name", "");
	if (st == NULL)
		goto fail;
	while ((s = db_step(st, &err)) == DB_ROW) {
		int64_t beat = db_col_int(st, 3);
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}",
		    "name", db_col_text(st, 0), "address", db_col_text(st, 1),
		    "state", beat >= now - timeout ? "alive" : "dead",
		    "heartbeat_age", (json_int_t)(now - beat),
		    "started", (json_int_t)db_col_int(st, 2),
		    "leases", (json_int_t)db_col_int(st, 4)));
	}
	db_stmt_free(&st);
	if (s < 0)
		goto fail;
	st = db_query(cli->db, &err, "SELECT m.name, p.name, l.node, l.fence, "
	    "l.since, CASE WHEN l.instance = '' THEN 'released' WHEN EXISTS "
	    "(SELECT 1 FROM node n WHERE n.instance = l.instance AND "
	    "n.heartbeat >= ?) THEN 'held' ELSE 'expired' END "
	    "FROM mailbox_lease l JOIN mailbox m ON m.id = l.mailbox_id "
	    "JOIN postoffice p ON p.id = m.postoffice_id ORDER BY p.name, m.name",
	    "i", now - timeout);
	if (st == NULL)
		goto fail;
	while ((s = db_step(st, &err)) == DB_ROW)
		json_array_append_new(leases, json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}",
		    "mailbox", db_col_text(st, 0), "postoffice", db_col_text(st, 1),
		    "node", db_col_text(st, 2), "fence", (json_int_t)db_col_int(st, 3),
		    "since", (json_int_t)db_col_int(st, 4), "state",
		    db_col_text(st, 5)));
	db_stmt_free(&st);
	if (s < 0)
		goto fail;
	if (cli->json) {
		cli_json_print(json_pack("{s:s,s:I,s:o,s:o}", "store",
		    db_is_postgresql(cli->db) ? "postgresql" : "sqlite",
		    "node_timeout", (json_int_t)timeout, "nodes", nodes,
		    "leases", leases));
		return 0;
	}
	if (!db_is_postgresql(cli->db))
		printf("store: SQLite (one host, no cluster: docs/CLUSTER.md)\n");
	printf("nodes (dead after %llds without a heartbeat):\n",
	    (long long)timeout);
	if (json_array_size(nodes) == 0)
		printf("  none running\n");
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		json_t *n = json_array_get(nodes, i);
		printf("  %-20s %-24s %-5s heartbeat %llds ago, %lld leases\n",
		    json_string_value(json_object_get(n, "name")),
		    json_string_value(json_object_get(n, "address")),
		    json_string_value(json_object_get(n, "state")),
		    (long long)json_integer_value(json_object_get(n,
		    "heartbeat_age")),
		    (long long)json_integer_value(json_object_get(n, "leases")));
	}
	printf("leases:\n");
	if (json_array_size(leases) == 0)
		printf("  none\n");
	for (size_t i = 0; i < json_array_size(leases); i++) {
		json_t *l = json_array_get(leases, i);
		printf("  %s/%s  node %s  fence %lld  %s\n",
		    json_string_value(json_object_get(l, "postoffice")),
		    json_string_value(json_object_get(l, "mailbox")),
		    json_string_value(json_object_get(l, "node")),
		    (long long)json_integer_value(json_object_get(l, "fence")),
		    json_string_value(json_object_get(l, "state")));
	}
	json_decref(nodes);
	json_decref(leases);
	return 0;
fail:
	json_decref(nodes);
	json_decref(leases);
	return cli_error(EXIT_FAIL, "%s", err);
}

int
cmd_cluster(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "yes", NULL };
	struct cli_args a;
	const char *verb, *err;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return cluster_help(a.help ? 0 : EXIT_USAGE);
	if (strcmp(verb, "status") == 0) {
		if (a.npos != 1)
			return cli_usage("usage: postern cluster status");
		if ((r = cli_open(cli)) != 0)
			return r;
		return cluster_status(cli);
	}
	if (strcmp(verb, "drain") == 0) {
		int64_t n, known;
		if (a.npos != 2)
			return cli_usage("usage: postern cluster drain NODE [--yes]");
		const char *node = a.pos[1];
		if ((r = cli_open(cli)) != 0)
			return r;
		if (db_query_int(cli->db, &known, 0, &err, "SELECT count(*) FROM "
		    "mailbox_lease WHERE node = ?", "t", node) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		if (db_query_int(cli->db, &n, 0, &err, "SELECT count(*) FROM "
		    "node WHERE name = ?", "t", node) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		if (known == 0 && n == 0)
			return cli_error(EXIT_NOTFOUND, "no node '%s' (postern cluster "
			    "status lists them)", node);
		if (!cli_flag(&a, "yes")) {
			char line[16];
			if (!isatty(0))
				return cli_usage("the leases of node '%s' are released: "
				    "add --yes", node);
			printf("Release every mailbox lease of node '%s'? [y/N] ", node);
			fflush(stdout);
			if (fgets(line, sizeof(line), stdin) == NULL ||
			    (line[0] != 'y' && line[0] != 'Y'))
				return cli_error(EXIT_FAIL, "nothing changed");
		}
		if (cluster_drain(cli->db, node, &n, &err) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		if (cli->json)
			cli_json_print(json_pack("{s:s,s:I}", "node", node, "released",
			    (json_int_t)n));
		else
			printf("node '%s': %lld leases released\n", node, (long long)n);
		return 0;
	}
	return cli_usage("unknown cluster command '%s' (see postern cluster "
	    "--help)", verb);
}
