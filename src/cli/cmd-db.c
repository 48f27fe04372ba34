/* cmd-db - the config store itself: which engine (status) and the move
 * from SQLite to PostgreSQL (migrate-to; docs/CLUSTER.md) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xalloc.h"

static int
db_help(int code)
{
	printf("usage: postern db status\n"
	    "       postern db migrate-to postgresql URL [--yes]\n\n"
	    "status: the engine of the config store (SQLite file or PostgreSQL),\n"
	    "its schema version.\n"
	    "migrate-to: copy every object of the SQLite store (post offices,\n"
	    "domains, mailboxes with their password hashes, groups, lists,\n"
	    "settings, tokens...) into the PostgreSQL database URL\n"
	    "(postgresql://USER[:PASSWORD]@HOST[:PORT]/DB) in one transaction,\n"
	    "compare the row counts, then point the data root at it\n"
	    "(config/database.conf). The Postern tables of that database are\n"
	    "replaced (--yes, or answer on a terminal). Interrupted, it changes\n"
	    "nothing: run it again. Restart posternd afterwards: a running\n"
	    "service keeps the store it opened.\n");
	return code;
}

static void
progress(void *ctx, const char *table, int64_t rows)
{
	struct cli *cli = ctx;

	if (!cli->json)
		printf("  %-28s %lld\n", table, (long long)rows);
}

int
cmd_db(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "yes", NULL };
	struct cli_args a;
	const char *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return db_help(a.help ? 0 : EXIT_USAGE);
	if (strcmp(verb, "status") == 0) {
		int64_t version = 0;
		const char *err;
		if ((r = cli_open(cli)) != 0)
			return r;
		char *url = db_url(cli->db);
		if ((r = db_schema_version(cli->db, &version, &err)) < 0) {
			free(url);
			return cli_error(EXIT_FAIL, "%s", err);
		}
		if (cli->json) {
			json_t *o = json_pack("{s:s,s:I}", "engine", url ?
			    "postgresql" : "sqlite", "schema", (json_int_t)version);
			json_object_set_new(o, "location", json_string(url ? url :
			    "config/postern.db"));
			cli_json_print(o);
		} else
			printf("engine: %s\nlocation: %s\nschema: %lld\n",
			    url ? "PostgreSQL" : "SQLite", url ? url :
			    "config/postern.db", (long long)version);
		free(url);
		return 0;
	}
	if (strcmp(verb, "migrate-to") == 0) {
		char err[512];
		if (a.npos != 3 || strcmp(a.pos[1], "postgresql") != 0)
			return cli_usage("usage: postern db migrate-to postgresql URL "
			    "[--yes] (the only target is postgresql)");
		const char *url = a.pos[2];
		if (strncmp(url, "postgresql://", 13) != 0 &&
		    strncmp(url, "postgres://", 11) != 0)
			return cli_usage("URL '%s': expected postgresql://USER@HOST"
			    "[:PORT]/DATABASE", url);
		if (!cli_flag(&a, "yes")) {
			char line[16];
			if (!isatty(0))
				return cli_usage("the Postern tables of %s are replaced: "
				    "add --yes", url);
			printf("Replace the Postern tables of %s with this data "
			    "root's store? [y/N] ", url);
			fflush(stdout);
			if (fgets(line, sizeof(line), stdin) == NULL ||
			    (line[0] != 'y' && line[0] != 'Y'))
				return cli_error(EXIT_FAIL, "nothing changed");
		}
		if (!cli->json)
			printf("copying %s to PostgreSQL:\n", cli->root);
		if (db_copy_to_postgresql(cli->root, url, progress, cli, err,
		    sizeof(err)) < 0)
			return cli_error(EXIT_FAIL, "migration: %s", err);
		if (cli->json)
			cli_json_print(json_pack("{s:s,s:b}", "engine",
			    "postgresql", "migrated", 1));
		else
			printf("done: the data root now uses PostgreSQL; restart "
			    "posternd\n");
		return 0;
	}
	return cli_usage("unknown db command '%s' (see postern db --help)",
	    verb);
}
