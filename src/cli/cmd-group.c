/* cmd-group - postern group, postern list */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "directory.h"
#include "fields.h"
#include "fsutil.h"
#include "lists.h"
#include "members.h"
#include "remove.h"
#include "strutil.h"
#include "xalloc.h"

#define MEMBER_FILE_MAX (64L * 1024 * 1024)

/* import_bad - a refused line of the member file, on stderr */
static void
import_bad(void *ctx, size_t line, const char *why)
{
	fprintf(stderr, "postern: %s line %zu: %s\n", (const char *)ctx, line,
	    why);
}

/* import_members - add the members of a CSV file (lib-admin members.h:
 * bad lines are reported by number and skipped, or with atomic nothing
 * is kept) */
static int
import_members(struct cli *cli, enum adm_kind kind, const char *target,
	       const char *file, bool atomic)
{
	struct buf data;
	const char *err;
	size_t ok, bad;
	int r;

	buf_init(&data, MEMBER_FILE_MAX);
	if (file_read(file, &data) < 0) {
		buf_free(&data);
		return cli_error(EXIT_USAGE, "cannot read %s: %s", file,
		    errno == EFBIG ? "larger than 64 MB" : strerror(errno));
	}
	r = adm_members_import(cli->db, kind, target, data.data ? data.data : "",
	    data.len, atomic, import_bad, (void *)file, &ok, &bad, &err);
	buf_free(&data);
	if (r != ADM_OK)
		return cli_adm_exit(r, err);
	if (atomic && bad > 0)
		return cli_error(EXIT_PARTIAL, "%zu bad line%s: nothing imported (--atomic)",
		    bad, bad == 1 ? "" : "s");
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "imported", json_integer((json_int_t)ok));
		json_object_set_new(o, "failed", json_integer((json_int_t)bad));
		cli_json_print(o);
	} else {
		printf("%zu member%s imported, %zu failed\n", ok, ok == 1 ? "" : "s", bad);
	}
	return bad ? EXIT_PARTIAL : 0;
}

static int
member_list(struct cli *cli, enum adm_kind kind, const char *target, bool csv)
{
	const char *err;
	int64_t id;
	int r;

	if ((r = adm_object_id(cli->db, kind, target, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	struct db_stmt *st = kind == ADM_GROUP ?
	    db_query(cli->db, &err, "SELECT address FROM grp_member WHERE group_id = ? "
	    "ORDER BY address", "i", id) :
	    db_query(cli->db, &err, "SELECT address, name, status, bounces FROM "
	    "list_member WHERE list_id = ? ORDER BY address", "i", id);
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	if (csv) {
		struct buf out;
		buf_init(&out, 0);
		while (db_step(st, NULL) == DB_ROW) {
			csv_put_field(&out, db_col_text(st, 0), ',');
			if (kind == ADM_LIST) {
				buf_putc(&out, ',');
				csv_put_field(&out, db_col_text(st, 1), ',');
			}
			buf_puts(&out, "\n");
		}
		db_stmt_free(&st);
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		buf_free(&out);
		return 0;
	}
	static const char *const ghdr[] = { "MEMBER" };
	static const char *const gkeys[] = { "address" };
	static const char *const lhdr[] = { "MEMBER", "NAME", "STATUS", "BOUNCES" };
	static const char *const lkeys[] = { "address", "name", "status", "bounces" };
	return kind == ADM_GROUP ? cli_print_query(cli, st, 1, ghdr, gkeys) :
	    cli_print_query(cli, st, 4, lhdr, lkeys);
}

static int
member_command(struct cli *cli, enum adm_kind kind, const struct cli_args *a)
{
	const char *err, *sub = a->npos > 1 ? a->pos[1] : NULL;
	int r;

	if (sub == NULL || a->npos < 3)
		return cli_usage("usage: postern %s member add|del|list|import|export ...",
		    kind == ADM_GROUP ? "group" : "list");
	const char *target = a->pos[2];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "export") == 0)
		return member_list(cli, kind, target, strcmp(sub, "export") == 0);
	if (strcmp(sub, "import") == 0) {
		if (a->npos != 4)
			return cli_usage("usage: ... member import ADDRESS FILE");
		return import_members(cli, kind, target, a->pos[3], cli_flag(a, "atomic"));
	}
	if (a->npos != 4)
		return cli_usage("usage: ... member %s ADDRESS MEMBER", sub);
	if (strcmp(sub, "add") == 0)
		r = kind == ADM_GROUP ? adm_group_member_add(cli->db, target, a->pos[3], &err) :
		    adm_list_member_add(cli->db, target, a->pos[3], cli_opt(a, "name"), &err);
	else if (strcmp(sub, "del") == 0)
		r = kind == ADM_GROUP ? adm_group_member_del(cli->db, target, a->pos[3], &err) :
		    adm_list_member_del(cli->db, target, a->pos[3], &err);
	else
		return cli_usage("unknown member command '%s'", sub);
	return r == ADM_OK ? 0 : cli_adm_exit(r, err);
}

/* group_show - the settings and the members of a group (a list's members
 * can be many: postern list member list) */
static int
group_show(struct cli *cli, const char *addr)
{
	struct dir_strings m = { 0 };
	const char *err;
	int64_t id;
	int r;

	if ((r = adm_object_id(cli->db, ADM_GROUP, addr, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	if (dir_group_members(cli->db, id, &m, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	if (cli->json) {
		json_t *o = cli_object_json(cli, ADM_GROUP, id), *arr = json_array();
		json_object_set_new(o, "id", json_integer(id));
		json_object_set_new(o, "address", json_string(addr));
		for (size_t i = 0; i < m.n; i++)
			json_array_append_new(arr, json_string(m.v[i]));
		json_object_set_new(o, "members", arr);
		cli_json_print(o);
	} else if ((r = cli_object_show(cli, ADM_GROUP, addr)) == 0) {
		printf("\nmembers (%zu):\n", m.n);
		for (size_t i = 0; i < m.n; i++)
			printf("  %s\n", m.v[i]);
	}
	dir_strings_free(&m);
	return r;
}

static int
object_list(struct cli *cli, enum adm_kind kind, const char *po)
{
	const char *err;
	struct db_stmt *st = kind == ADM_GROUP ?
	    db_query(cli->db, &err,
	    "SELECT g.address, g.name, p.name, CASE WHEN g.disabled <> 0 THEN 'disabled' "
	    "ELSE 'enabled' END, (SELECT count(*) FROM grp_member x WHERE x.group_id = g.id) "
	    "FROM grp g JOIN postoffice p ON p.id = g.postoffice_id "
	    "WHERE ? IS NULL OR p.name = ? ORDER BY g.address", "tt", po, po) :
	    db_query(cli->db, &err,
	    "SELECT l.address, l.owner, p.name, CASE WHEN l.disabled <> 0 THEN 'disabled' "
	    "WHEN l.moderated <> 0 THEN 'moderated' ELSE 'open' END, "
	    "(SELECT count(*) FROM list_member x WHERE x.list_id = l.id) "
	    "FROM list l JOIN postoffice p ON p.id = l.postoffice_id "
	    "WHERE ? IS NULL OR p.name = ? ORDER BY l.address", "tt", po, po);
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	static const char *const ghdr[] = { "GROUP", "NAME", "POSTOFFICE", "STATUS", "MEMBERS" };
	static const char *const gkeys[] = { "address", "name", "postoffice", "status", "members" };
	static const char *const lhdr[] = { "LIST", "OWNER", "POSTOFFICE", "STATUS", "MEMBERS" };
	static const char *const lkeys[] = { "address", "owner", "postoffice", "status", "members" };
	return cli_print_query(cli, st, 5, kind == ADM_GROUP ? ghdr : lhdr,
	    kind == ADM_GROUP ? gkeys : lkeys);
}

/* list_moderation - postern list held|approve|reject (the list server
 * acts on the decision: src/listserv) */
static int
list_moderation(struct cli *cli, const char *verb, const struct cli_args *a)
{
	const char *err;
	int r;

	if (strcmp(verb, "held") == 0) {
		struct list_held *v;
		size_t n;
		if (a->npos != 2)
			return cli_usage("usage: postern list held ADDRESS");
		if ((r = adm_list_held(cli->db, a->pos[1], &v, &n, &err)) != ADM_OK)
			return cli_adm_exit(r, err);
		json_t *arr = cli->json ? json_array() : NULL;
		static const char *const hdr[] = { "TOKEN", "HELD", "FROM", "SUBJECT" };
		struct cli_table *t = cli->json ? NULL : cli_table_new(4, hdr);
		for (size_t i = 0; i < n; i++) {
			char when[32];
			struct tm tm;
			gmtime_r(&v[i].held, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			if (arr != NULL) {
				json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
				    "token", v[i].token, "held", when, "from", v[i].from,
				    "sender", v[i].sender, "subject", v[i].subject,
				    "queue_id", v[i].queue_id));
			} else {
				const char *row[] = { v[i].token, when, v[i].from, v[i].subject };
				cli_table_row(t, row);
			}
			list_held_free(&v[i]);
		}
		free(v);
		if (arr != NULL) {
			cli_json_print(arr);
		} else {
			cli_table_print(t);
			cli_table_free(&t);
		}
		return 0;
	}
	if (a->npos != 3)
		return cli_usage("usage: postern list %s ADDRESS TOKEN", verb);
	r = adm_list_moderate(cli->db, a->pos[1], a->pos[2],
	    strcmp(verb, "approve") == 0, &err);
	if (r != ADM_OK)
		return cli_adm_exit(r, err);
	if (!cli->json)
		printf("%s: the list server %s it shortly\n", a->pos[2],
		    strcmp(verb, "approve") == 0 ? "posts" : "discards");
	return 0;
}

static int
group_or_list(struct cli *cli, enum adm_kind kind, int argc, char **argv)
{
	static const char *const opts[] = {
		"postoffice=", "name=", "owner=", "atomic", CLI_YES_OPTION, NULL
	};
	const char *word = kind == ADM_GROUP ? "group" : "list";
	struct cli_args a;
	const char *err, *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		if (kind == ADM_GROUP)
			printf("usage: postern group add ADDRESS --postoffice PO [--name NAME]\n"
			    "       postern group list [--postoffice PO]\n"
			    "       postern group show ADDRESS\n"
			    "       postern group del ADDRESS [--yes]\n"
			    "       postern group set ADDRESS setting=value...\n"
			    "       postern group member add|del ADDRESS MEMBER\n"
			    "       postern group member list ADDRESS\n"
			    "       postern group import ADDRESS FILE [--atomic]\n\n"
			    "A group is an address whose mail goes to every member, local or\n"
			    "external (manual 5.6). FILE has one member address per line.\n");
		else
			printf("usage: postern list add ADDRESS --postoffice PO --owner EMAIL\n"
			    "       postern list list [--postoffice PO]\n"
			    "       postern list show ADDRESS\n"
			    "       postern list del ADDRESS [--yes]\n"
			    "       postern list set ADDRESS setting=value...\n"
			    "       postern list member add ADDRESS MEMBER [--name NAME]\n"
			    "       postern list member del ADDRESS MEMBER\n"
			    "       postern list member list|export ADDRESS\n"
			    "       postern list member import ADDRESS FILE [--atomic]\n"
			    "       postern list held ADDRESS\n"
			    "       postern list approve|reject ADDRESS TOKEN\n\n"
			    "A list is a discussion or announcement list (manual 5.7). The\n"
			    "owner is also the moderator and cannot be the system\n"
			    "notification address. FILE: address[,name] per line.\n"
			    "Posts to a moderated list are held; held shows them with their\n"
			    "tokens, approve posts one, reject discards it (the poster is told).\n"
			    "'members' is an alias of 'member'.\n");
		if (a.help)
			cli_fields_help(kind == ADM_GROUP ? group_fields : list_fields);
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0 && a.npos == 1)
		return object_list(cli, kind, cli_opt(&a, "postoffice"));
	if (strcmp(verb, "member") == 0 || strcmp(verb, "members") == 0)
		return member_command(cli, kind, &a);
	if (strcmp(verb, "import") == 0) {
		if (a.npos != 3)
			return cli_usage("usage: postern %s import ADDRESS FILE", word);
		return import_members(cli, kind, a.pos[1], a.pos[2], cli_flag(&a, "atomic"));
	}
	if (kind == ADM_LIST && (strcmp(verb, "held") == 0 ||
	    strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0))
		return list_moderation(cli, verb, &a);
	if (a.npos < 2)
		return cli_usage("%s %s needs the %s's address", word, verb, word);
	const char *addr = a.pos[1];
	if (strcmp(verb, "add") == 0) {
		const char *po = cli_opt(&a, "postoffice");
		if (po == NULL || a.npos != 2)
			return cli_usage("usage: postern %s add ADDRESS --postoffice PO", word);
		if (kind == ADM_GROUP)
			r = adm_group_add(cli->db, addr, po, cli_opt(&a, "name"), &err);
		else
			r = adm_list_add(cli->db, addr, po, cli_opt(&a, "owner"), &err);
		return r == ADM_OK ? cli_created(cli, kind, addr, NULL) :
		    cli_adm_exit(r, err);
	}
	/* one object per command: "del a b" must not quietly delete only a */
	if (a.npos > 2 && strcmp(verb, "set") != 0)
		return cli_usage("%s %s takes one name; '%s' is one too many",
		    argv[0], verb, a.pos[2]);
	if (strcmp(verb, "show") == 0)
		return kind == ADM_GROUP ? group_show(cli, addr) :
		    cli_object_show(cli, kind, addr);
	if (strcmp(verb, "set") == 0)
		return cli_object_set(cli, kind, addr, &a, 2);
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) {
		return cli_delete_object(cli, kind, addr, &a);
	}
	return cli_usage("unknown %s command '%s' (see postern %s --help)", word, verb, word);
}

int
cmd_group(struct cli *cli, int argc, char **argv)
{
	return group_or_list(cli, ADM_GROUP, argc, argv);
}

int
cmd_list(struct cli *cli, int argc, char **argv)
{
	return group_or_list(cli, ADM_LIST, argc, argv);
}
