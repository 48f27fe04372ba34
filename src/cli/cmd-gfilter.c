/* cmd-gfilter - postern filter global add|list|del|move: the global MTA
 * filter rules (src/mta/gfilter.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-gfilter.h"
#include "strutil.h"
#include "xalloc.h"

static const char *const criteria[] = { "all", "sender", "recipient", "header",
    "size-over", "size-under", "attachment", NULL };
static const char *const actions[] = { "add-header", "redirect", "copy",
    "quarantine", "delete", "reject", NULL };

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

static bool
in_list(const char *const *l, const char *s)
{
	for (size_t i = 0; l[i] != NULL; i++)
		if (strcmp(l[i], s) == 0)
			return true;
	return false;
}

/* renumber - positions 1..n in the current order, id moved to pos (0:
 * no move) */
static int
renumber(struct cli *cli, int64_t move_id, int64_t pos, const char **err)
{
	struct db_stmt *st = db_query(cli->db, err, "SELECT id FROM global_filter "
	    "ORDER BY position, id", "");
	int64_t *ids = NULL;
	size_t n = 0;

	if (st == NULL)
		return -1;
	while (db_step(st, NULL) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		if (id == move_id)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = id;
	}
	db_stmt_free(&st);
	if (move_id > 0) {
		size_t at = pos < 1 ? 0 : (size_t)pos - 1 > n ? n : (size_t)pos - 1;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		memmove(ids + at + 1, ids + at, (n - at) * sizeof(*ids));
		ids[at] = move_id;
		n++;
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = db_exec(cli->db, err, "UPDATE global_filter SET position = ? "
		    "WHERE id = ?", "ii", (int64_t)(i + 1), ids[i]);
	free(ids);
	return r;
}

static int
gf_add(struct cli *cli, const struct cli_args *a)
{
	const char *crit = cli_opt(a, "if"), *act = cli_opt(a, "then");
	const char *hdr = cli_opt(a, "header"), *pat = cli_opt(a, "match");
	const char *arg = cli_opt(a, "arg"), *pos = cli_opt(a, "position");
	const char *err = NULL;
	long long p = 0;

	if (crit == NULL || !in_list(criteria, crit))
		return cli_usage("--if must be one of all, sender, recipient, header, "
		    "size-over, size-under, attachment");
	if (act == NULL || !in_list(actions, act))
		return cli_usage("--then must be one of add-header, redirect, copy, "
		    "quarantine, delete, reject");
	if (strcmp(crit, "all") != 0 && (pat == NULL || *pat == '\0'))
		return cli_usage("--if %s needs --match", crit);
	if (strcmp(crit, "header") == 0 && (hdr == NULL || *hdr == '\0' ||
	    strpbrk(hdr, ": \t\r\n") != NULL))
		return cli_usage("--if header needs --header NAME (a field name)");
	if (strncmp(crit, "size-", 5) == 0 && parse_size_kb(pat, 'K') < 0)
		return cli_usage("'%s' is not a size (K, or with K, M, G)", pat);
	if (strcmp(act, "add-header") == 0 && (arg == NULL ||
	    strchr(arg, ':') == NULL || *arg == ':' || strpbrk(arg, "\r\n")))
		return cli_usage("--then add-header needs --arg 'Name: value'");
	if (strcmp(act, "redirect") == 0 || strcmp(act, "copy") == 0) {
		char *n = arg ? address_normalize(arg, &err) : NULL;
		if (n == NULL)
			return cli_usage("--then %s needs --arg ADDRESS%s%s", act,
			    err ? ": " : "", err ? err : "");
		free(n);
	}
	if (pos != NULL && parse_long(pos, 1, 1000000, &p) < 0)
		return cli_usage("--position must be a number from 1");
	if (db_begin(cli->db, &err) < 0)
		return cli_error(EXIT_BUSY, "%s", err);
	int64_t next = 0;
	if (db_query_int(cli->db, &next, 0, &err, "SELECT coalesce(max(position), "
	    "0) + 1 FROM global_filter", "") < 0 ||
	    db_exec(cli->db, &err, "INSERT INTO global_filter (position, enabled, "
	    "criterion, header, pattern, action, argument, created) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)", "iittttti", next,
	    (int64_t)!cli_flag(a, "disabled"), crit, hdr ? hdr : "",
	    pat ? pat : "", act, arg ? arg : "", (int64_t)time(NULL)) < 0) {
		db_rollback(cli->db);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	int64_t id = db_last_id(cli->db);
	if (renumber(cli, p > 0 ? id : 0, p, &err) < 0 ||
	    db_commit(cli->db, &err) < 0) {
		db_rollback(cli->db);
		return cli_error(EXIT_FAIL, "%s", err);
	}
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
		if (db_exec(cli->db, &err, "DELETE FROM global_filter WHERE id = ?",
		    "i", (int64_t)id) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		if (db_changes(cli->db) == 0)
			return cli_error(EXIT_NOTFOUND, "no global filter %lld", id);
		if (renumber(cli, 0, 0, &err) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		return 0;
	}
	if (strcmp(verb, "move") == 0 && a.npos == 3 &&
	    parse_long(a.pos[1], 1, INT64_MAX, &id) == 0 &&
	    parse_long(a.pos[2], 1, 1000000, &pos) == 0) {
		int64_t have = 0;
		if (db_query_int(cli->db, &have, 0, &err, "SELECT count(*) FROM "
		    "global_filter WHERE id = ?", "i", (int64_t)id) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		if (have == 0)
			return cli_error(EXIT_NOTFOUND, "no global filter %lld", id);
		if (db_begin(cli->db, &err) < 0 ||
		    renumber(cli, (int64_t)id, pos, &err) < 0 ||
		    db_commit(cli->db, &err) < 0) {
			db_rollback(cli->db);
			return cli_error(EXIT_FAIL, "%s", err);
		}
		return 0;
	}
	return cli_usage("usage: postern filter global add|list|del ID|move ID "
	    "POSITION (see postern filter global --help)");
}
