/* node - posternd's row in the cluster's node table (node.h, cluster.h) */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "dataroot.h"
#include "db.h"
#include "log.h"
#include "node.h"
#include "settings.h"
#include "xalloc.h"

static struct db *db;       /* kept open while posternd runs */
static char *name, *instance;
static time_t beat_at;      /* the last heartbeat sent (or tried) */
static bool failing;        /* the last one failed (logged once) */

int
node_start(const char *root)
{
	const char *err;
	char host[HOST_NAME_MAX + 1] = "", *address = NULL;

	if (db_open(root, false, &db, &err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (!db_is_postgresql(db)) {   /* one host: nothing to register */
		db_close(&db);
		return 0;
	}
	(void)gethostname(host, sizeof(host) - 1);
	if (dataroot_host_value(root, "node", &name, &err) < 0 ||
	    dataroot_host_value(root, "node_address", &address, &err) < 0) {
		log_error("%s", err);
		goto fail;
	}
	if (*name == '\0') {
		free(name);
		name = xstrdup(*host != '\0' ? host : "localhost");
	}
	char *ident = xasprintf("%s:%s", host, root);
	int r = cluster_join(db, name, *address != '\0' ? address : name,
	    ident, settings_current(db)->cluster_node_timeout, &instance, &err);
	free(ident);
	if (r < 0) {
		log_error("cluster: %s", err);
		goto fail;
	}
	log_info("cluster: node '%s' (%s) joined", name,
	    *address != '\0' ? address : name);
	free(address);
	beat_at = time(NULL);
	return 0;
fail:
	free(address);
	free(name);
	name = NULL;
	db_close(&db);
	return -1;
}

int
node_tick(time_t now)
{
	const char *err;

	if (db == NULL)
		return 0;
	int64_t every = settings_current(db)->cluster_node_timeout / 3;
	if (now - beat_at < (every > 0 ? every : 1))
		return 0;
	beat_at = now;
	int r = cluster_beat(db, name, instance, &err);
	if (r < 0) {
		if (!failing)
			log_warnx("cluster: heartbeat of node '%s' failed: %s", name,
			    err);
		failing = true;
		return 0;
	}
	if (failing)
		log_info("cluster: heartbeat of node '%s' renewed", name);
	failing = false;
	if (r == 0) {
		log_error("cluster: node '%s' was taken over by another posternd "
		    "(this one missed its heartbeats for cluster.node_timeout); "
		    "stopping", name);
		return -1;
	}
	return 0;
}

void
node_stop(void)
{
	const char *err;

	if (db != NULL && cluster_leave(db, name, instance, &err) < 0)
		log_warnx("cluster: node '%s' could not leave: %s", name, err);
	db_close(&db);
	free(name);
	free(instance);
	name = instance = NULL;
}
