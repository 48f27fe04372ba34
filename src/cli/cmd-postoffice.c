/* cmd-postoffice - postern postoffice */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli-password.h"
#include "cmd-maint.h"
#include "cmd-usage.h"
#include "fields.h"
#include "remove.h"
#include "strutil.h"
#include "xalloc.h"

static int
postoffice_help(int code)
{
	printf("usage: postern postoffice add NAME --password PW\n"
	    "       postern postoffice list\n"
	    "       postern postoffice show NAME\n"
	    "       postern postoffice set NAME setting=value...\n"
	    "       postern postoffice set-quota NAME SIZE   (every current mailbox)\n"
	    "       postern postoffice usage NAME   (sum of the mailboxes' usage)\n"
	    "       postern postoffice email NAME --subject S --body-file F   (every mailbox)\n"
	    "       postern postoffice del NAME [--keep-data] [--yes]\n\n"
	    "A post office is a tenant: it owns domains, mailboxes, groups and\n"
	    "lists. 'add' also creates its postmaster mailbox (type ADMIN) with\n"
	    "the given password (--password-file FILE, - for stdin, or\n"
	    "--random-password also work). SIZE is in MB, or with K, M, G.\n"
	    "'del' removes the post office with its domains, mailboxes and\n"
	    "their mail (--keep-data keeps the store); it says what it will\n"
	    "remove and asks, or needs --yes without a terminal.\n");
	if (code == 0)
		cli_fields_help(postoffice_fields);
	return code;
}

static int
postoffice_list(struct cli *cli)
{
	const char *err;
	struct db_stmt *st = db_query(cli->db, &err,
	    "SELECT p.id, p.name, p.disabled, "
	    "(SELECT count(*) FROM domain d WHERE d.postoffice_id = p.id), "
	    "(SELECT count(*) FROM mailbox m WHERE m.postoffice_id = p.id), "
	    "(SELECT group_concat(name, ' ') FROM (SELECT name FROM domain d "
	    "WHERE d.postoffice_id = p.id ORDER BY name) AS s) "
	    "FROM postoffice p ORDER BY p.name", "");
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	json_t *arr = cli->json ? json_array() : NULL;
	const char *hdr[] = { "POSTOFFICE", "STATUS", "DOMAINS", "MAILBOXES" };
	struct cli_table *t = cli->json ? NULL : cli_table_new(4, hdr);
	while (db_step(st, NULL) == DB_ROW) {
		const char *name = db_col_text(st, 1);
		const char *doms = db_col_text(st, 5);
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(name));
			json_object_set_new(o, "disabled", json_boolean(db_col_int(st, 2)));
			json_object_set_new(o, "domains", json_integer(db_col_int(st, 3)));
			json_object_set_new(o, "mailboxes", json_integer(db_col_int(st, 4)));
			json_array_append_new(arr, o);
		} else {
			char nm[32];
			snprintf(nm, sizeof(nm), "%lld", (long long)db_col_int(st, 4));
			const char *row[] = { name, db_col_int(st, 2) ? "disabled" : "enabled",
			    doms ? doms : "", nm };
			cli_table_row(t, row);
		}
	}
	db_stmt_free(&st);
	if (arr)
		cli_json_print(arr);
	else {
		cli_table_print(t);
		cli_table_free(&t);
	}
	return 0;
}

int
cmd_postoffice(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { CLI_PASSWORD_OPTIONS, "keep-data", CLI_YES_OPTION, NULL };
	struct cli_args a;
	const char *err, *verb;
	int r;

	if (argc > 1 && strcmp(argv[1], "email") == 0)   /* cmd-maint.c */
		return cmd_maint_email(cli, "postoffice", argc - 1, argv + 1);
	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return postoffice_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0)
		return postoffice_list(cli);
	if (a.npos < 2)
		return cli_usage("postoffice %s needs a post office name", verb);
	const char *name = a.pos[1];
	if (strcmp(verb, "add") == 0) {
		char *pw;
		bool generated;
		if (a.npos != 2)
			return cli_usage("usage: postern postoffice add NAME --password PW");
		if ((r = cli_password(&a, true, &pw, &generated)) != 0)
			return r;
		r = adm_postoffice_add(cli->db, name, pw, &err);
		if (r == ADM_OK && generated && !cli->json)
			printf("postmaster@%s password: %s\n", name, pw);
		if (r == ADM_OK)
			r = cli_created(cli, ADM_POSTOFFICE, name, generated ? pw : NULL);
		else
			r = cli_adm_exit(r, err);
		free(pw);
		return r;
	}
	/* one object per command: "del a b" must not quietly delete only a */
	if (a.npos > 2 && strcmp(verb, "set") != 0 && strcmp(verb, "set-quota") != 0)
		return cli_usage("%s %s takes one name; '%s' is one too many",
		    argv[0], verb, a.pos[2]);
	if (strcmp(verb, "show") == 0)
		return cli_object_show(cli, ADM_POSTOFFICE, name);
	if (strcmp(verb, "set") == 0)
		return cli_object_set(cli, ADM_POSTOFFICE, name, &a, 2);
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) {
		return cli_delete_object(cli, ADM_POSTOFFICE, name, &a);
	}
	if (strcmp(verb, "usage") == 0)
		return cli_postoffice_usage(cli, name);
	if (strcmp(verb, "set-quota") == 0) {
		long long kb;
		int count;
		if (a.npos != 3)
			return cli_usage("usage: postern postoffice set-quota NAME SIZE");
		kb = strcmp(a.pos[2], "unlimited") == 0 ? 0 : parse_size_kb(a.pos[2], 'M');
		if (kb < 0)
			return cli_usage("'%s' is not a size (MB, or with K, M, G)", a.pos[2]);
		r = adm_postoffice_set_quota(cli->db, name, kb, &count, &err);
		if (r != ADM_OK)
			return cli_adm_exit(r, err);
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "mailboxes", json_integer(count));
			json_object_set_new(o, "quota_kb", json_integer(kb));
			cli_json_print(o);
		} else {
			printf("quota set on %d mailbox%s\n", count, count == 1 ? "" : "es");
		}
		return 0;
	}
	return cli_usage("unknown postoffice command '%s' (see postern postoffice --help)", verb);
}
