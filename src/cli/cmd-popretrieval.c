/* cmd-popretrieval - postern popretrieval (manual 5.5.8) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "popretr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* account_list - list (status false) or status (true) */
static int
account_list(struct cli *cli, bool status)
{
	const char *err;
	struct db_stmt *st = db_query(cli->db, &err,
	    "SELECT a.id, m.name || '@' || p.name, a.host, a.port, a.username, "
	    "a.tls, CASE WHEN a.apop <> 0 THEN 'yes' ELSE 'no' END, "
	    "CASE WHEN a.leave_on_server <> 0 THEN 'yes' ELSE 'no' END, "
	    "CASE WHEN a.enabled <> 0 THEN 'yes' ELSE 'no' END, "
	    "CASE WHEN a.last_run = 0 THEN 'never' ELSE "
	    "strftime('%Y-%m-%d %H:%M:%S', a.last_run, 'unixepoch') END, "
	    "a.last_status FROM pop_account a JOIN mailbox m ON m.id = a.mailbox_id "
	    "JOIN postoffice p ON p.id = m.postoffice_id ORDER BY a.id", "");
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	if (status) {
		/* the columns status shows: id, mailbox, host, last run, status */
		static const char *const hdr[] = { "ID", "MAILBOX", "SERVER", "ENABLED",
			"LAST RUN", "STATUS" };
		static const char *const keys[] = { "id", "mailbox", "host", "enabled",
			"last_run", "last_status" };
		json_t *arr = cli->json ? json_array() : NULL;
		struct cli_table *t = cli->json ? NULL : cli_table_new(6, hdr);
		while (db_step(st, NULL) == DB_ROW) {
			char id[32], server[300];
			const char *c[11];
			for (int i = 0; i < 11; i++) {
				c[i] = db_col_text(st, i);
				if (c[i] == NULL)
					c[i] = "";
			}
			snprintf(id, sizeof(id), "%s", c[0]);
			snprintf(server, sizeof(server), "%s:%s", c[2], c[3]);
			const char *row[] = { id, c[1], server, c[8], c[9], c[10] };
			if (arr != NULL) {
				json_t *o = json_object();
				for (int i = 0; i < 6; i++)
					json_object_set_new(o, keys[i], json_string(row[i]));
				json_object_set_new(o, "id", json_integer(
				    db_col_int(st, 0)));
				json_array_append_new(arr, o);
			} else {
				cli_table_row(t, row);
			}
		}
		db_stmt_free(&st);
		if (arr != NULL) {
			cli_json_print(arr);
		} else {
			cli_table_print(t);
			cli_table_free(&t);
		}
		return 0;
	}
	static const char *const hdr[] = { "ID", "MAILBOX", "HOST", "PORT", "USER",
		"TLS", "APOP", "LEAVE", "ENABLED", "LAST RUN", "STATUS" };
	static const char *const keys[] = { "id", "mailbox", "host", "port",
		"username", "tls", "apop", "leave_on_server", "enabled", "last_run",
		"last_status" };
	return cli_print_query(cli, st, 11, hdr, keys);
}

/* trigger - ask the popretr service to run now (lib-admin popretr.h) */
static int
trigger(struct cli *cli, const char *id)
{
	const char *err;
	long long v = 0;

	if (id != NULL && parse_long(id, 1, INT64_MAX / 2, &v) < 0)
		return cli_usage("usage: postern popretrieval run [ID]");
	int r = adm_pop_run(cli->db, (int64_t)v, &err);
	if (r != ADM_OK)
		return cli_adm_exit(r, err);
	if (!cli->json)
		printf("the POP retrieval service runs %s now; see postern "
		    "popretrieval status\n", id != NULL ? "the account" : "every account");
	return 0;
}

int
cmd_popretrieval(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = {
		"host=", "port=", "user=", "password=", "apop", "tls=",
		"leave-on-server", NULL
	};
	struct cli_args a;
	const char *err, *verb;
	long long v;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		printf("usage: postern popretrieval add MAILBOX@PO --host HOST [--port N]\n"
		    "           --user USER --password PW [--apop] [--tls none|starttls|tls]\n"
		    "           [--leave-on-server]\n"
		    "       postern popretrieval list\n"
		    "       postern popretrieval del|enable|disable ID\n"
		    "       postern popretrieval run [ID]\n"
		    "       postern popretrieval status\n\n"
		    "The popretr service fetches the mail of remote POP3 mailboxes into\n"
		    "local mailboxes (manual 5.5.8) every popretr.interval, through the\n"
		    "normal delivery path (filters, quotas). It remembers UIDLs, so a\n"
		    "message is fetched once, and deletes it on the server (unless\n"
		    "--leave-on-server) only after the local copy is durable. TLS\n"
		    "defaults to starttls; the port to 110 (995 with --tls tls). run\n"
		    "asks the service to fetch at once; status shows each account's\n"
		    "last run and its outcome (bad password, unreachable, ...).\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0 || strcmp(verb, "status") == 0) {
		if (a.npos != 1)
			return cli_usage("usage: postern popretrieval %s", verb);
		return account_list(cli, strcmp(verb, "status") == 0);
	}
	if (strcmp(verb, "run") == 0) {
		if (a.npos > 2 || (a.npos == 2 && parse_long(a.pos[1], 1, INT64_MAX / 2,
		    &v) < 0))
			return cli_usage("usage: postern popretrieval run [ID]");
		return trigger(cli, a.npos == 2 ? a.pos[1] : NULL);
	}
	if (strcmp(verb, "add") == 0) {
		struct adm_pop_spec spec = {
			.mailbox = a.npos == 2 ? a.pos[1] : NULL,
			.host = cli_opt(&a, "host"),
			.username = cli_opt(&a, "user"),
			.password = cli_opt(&a, "password"),
			.apop = cli_flag(&a, "apop"),
			.tls = cli_opt(&a, "tls"),
			.leave_on_server = cli_flag(&a, "leave-on-server"),
		};
		if (spec.mailbox == NULL || spec.host == NULL || spec.username == NULL)
			return cli_usage("usage: postern popretrieval add MAILBOX@PO "
			    "--host HOST --user USER --password PW");
		if (cli_opt(&a, "port") != NULL) {
			if (parse_long(cli_opt(&a, "port"), 1, 65535, &v) < 0)
				return cli_usage("--port: 1 to 65535");
			spec.port = (int)v;
		}
		int64_t id;
		r = adm_pop_add(cli->db, &spec, &id, &err);
		if (r != ADM_OK)
			return cli_adm_exit(r, err);
		if (cli->json)
			cli_json_print(json_pack("{s:I}", "id", (json_int_t)id));
		else
			printf("%lld\n", (long long)id);
		return 0;
	}
	if (a.npos != 2 || parse_long(a.pos[1], 1, INT64_MAX / 2, &v) < 0)
		return cli_usage("usage: postern popretrieval %s ID", verb);
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0)
		r = adm_pop_del(cli->db, v, &err);
	else if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0)
		r = adm_pop_set_enabled(cli->db, v, verb[0] == 'e', &err);
	else
		return cli_usage("unknown popretrieval command '%s' (see postern "
		    "popretrieval --help)", verb);
	return r == ADM_OK ? 0 : cli_adm_exit(r, err);
}
