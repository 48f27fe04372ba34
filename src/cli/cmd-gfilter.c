/* cmd-gfilter - postern filter global add|list|del|move: the global MTA
 * filter rules (src/mta/gfilter.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-gfilter.h"
#include "gfilter.h"
#include "strutil.h"
#include "xalloc.h"

static int
help(int code)
{
	printf("usage: postern filter global add --if CRITERION [--header NAME] "
	    "[--match PATTERN]\n"
	    "                                    --then ACTION [--arg ARG] "
	    "[--position N] [--disabled]\n"
	    "       postern filter global list\n"
	    "       postern filter global del ID\n"
	    "       postern filter global move ID POSITION\n\n"
	    "Rules run in the MTA, in position order, once per message entering\n"
	    "the system (SMTP, POP retrieval, pickup); every matching rule acts.\n"
	    "CRITERION: all, sender GLOB, recipient GLOB, header NAME GLOB,\n"
	    "  size-over SIZE, size-under SIZE (K default; K M G), attachment GLOB\n"
	    "  (globs are case-insensitive shell patterns: *@spam.test, *.exe)\n"
	    "ACTION: add-header 'Name: value', redirect ADDRESS, copy ADDRESS,\n"
	    "  quarantine (bad mail), delete, reject (bounce 5.7.1 to the sender)\n");
	return code;
}

/* option - the option of a spec field, for the CLI's messages */
static const char *
option(const char *field)
{
	static const char *const map[][2] = { { "criterion", "--if" },
	    { "action", "--then" }, { "pattern", "--match" },
	    { "header", "--header" }, { "argument", "--arg" },
	    { "position", "--position" } };
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (field != NULL && strcmp(map[i][0], field) == 0)
			return map[i][1];
	return "";
}

static int
gf_add(struct cli *cli, const struct cli_args *a)
{
	const char *pos = cli_opt(a, "position"), *err = NULL, *field;
	long long p = 0;
	int64_t id;

	if (pos != NULL && parse_long(pos, 1, 1000000, &p) < 0)
		return cli_usage("--position must be a number from 1");
	struct adm_gfilter_spec spec = {
		.criterion = cli_opt(a, "if"), .header = cli_opt(a, "header"),
		.pattern = cli_opt(a, "match"), .action = cli_opt(a, "then"),
		.argument = cli_opt(a, "arg"), .disabled = cli_flag(a, "disabled"),
		.position = p,
	};
	int r = adm_gfilter_add(cli->db, &spec, &id, &field, &err);
	if (r == ADM_INVALID && field != NULL)
		return cli_usage("%s: %s", option(field), err);
	if (r != ADM_OK)
		return cli_adm_exit(r, err);
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(id));
		cli_json_print(o);
	} else {
		printf("global filter %lld added\n", (long long)id);
	}
	return 0;
}

static int
gf_list(struct cli *cli)
{
	static const char *const hdr[] = { "ID", "POS", "ON", "IF", "HEADER",
	    "MATCH", "THEN", "ARG" };
	static const char *const keys[] = { "id", "position", "enabled",
	    "criterion", "header", "pattern", "action", "argument" };
	const char *err = NULL;
	struct db_stmt *st = db_query(cli->db, &err, "SELECT id, position, enabled, "
	    "criterion, header, pattern, action, argument FROM global_filter "
	    "ORDER BY position, id", "");
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	return cli_print_query(cli, st, 8, hdr, keys);
}

/* cmd_filter_global - postern filter global ... */
int
cmd_filter_global(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "if=", "header=", "match=", "then=",
	    "arg=", "position=", "disabled", NULL };
	struct cli_args a;
	const char *err = NULL;
	long long id = 0, pos = 0;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "add") == 0) {
		if (a.npos != 1)
			return cli_usage("filter global add takes options only");
		return gf_add(cli, &a);
	}
	if (strcmp(verb, "list") == 0)
		return gf_list(cli);
	if ((strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) &&
	    a.npos == 2 && parse_long(a.pos[1], 1, INT64_MAX, &id) == 0) {
		r = adm_gfilter_del(cli->db, (int64_t)id, &err);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	if (strcmp(verb, "move") == 0 && a.npos == 3 &&
	    parse_long(a.pos[1], 1, INT64_MAX, &id) == 0 &&
	    parse_long(a.pos[2], 1, 1000000, &pos) == 0) {
		r = adm_gfilter_move(cli->db, (int64_t)id, (int64_t)pos, &err);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	return cli_usage("usage: postern filter global add|list|del ID|move ID "
	    "POSITION (see postern filter global --help)");
}
