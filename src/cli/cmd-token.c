/* cmd-token - postern token: API tokens of the web administration API
 * (lib-admin/webauth.h, docs/API.md) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "strutil.h"
#include "webauth.h"

static int
token_help(int code)
{
	printf("usage: postern token add NAME@PO [--name TEXT] [--postoffice PO]\n"
	    "                  [--expires YYYY-MM-DD]\n"
	    "       postern token list [--mailbox NAME@PO]\n"
	    "       postern token del ID\n\n"
	    "API tokens let scripts call the administration API (docs/API.md)\n"
	    "with 'Authorization: Bearer TOKEN'. A token acts as its mailbox\n"
	    "(type ADMIN or SYSADMIN) within one post office: an ADMIN's own;\n"
	    "a SYSADMIN's --postoffice, or every post office without it. 'add'\n"
	    "prints the token once: only its SHA-256 is kept.\n");
	return code;
}

int
cmd_token(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "name=", "postoffice=", "expires=",
		"mailbox=", NULL };
	struct cli_args a;
	const char *err, *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return token_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "add") == 0) {
		char tok[WEBAUTH_TOKEN_LEN + 1];
		const char *exp = cli_opt(&a, "expires");
		int64_t id, expires = 0;
		if (a.npos != 2)
			return cli_usage("usage: postern token add NAME@PO [--name TEXT]");
		if (exp != NULL) {
			struct tm tm = { 0 };
			const char *end = strptime(exp, "%Y-%m-%d", &tm);
			if (end == NULL || *end != '\0')
				return cli_usage("--expires '%s' is not a date "
				    "YYYY-MM-DD", exp);
			expires = (int64_t)timegm(&tm);
			if (expires <= time(NULL))
				return cli_usage("--expires %s is in the past", exp);
		}
		r = webauth_token_create(cli->db, a.pos[1], cli_opt(&a, "postoffice"),
		    cli_opt(&a, "name"), expires, tok, &id, &err);
		if (r != 0)
			return cli_adm_exit(r, err);
		if (cli->json)
			cli_json_print(json_pack("{s:I,s:s}", "id", (json_int_t)id,
			    "token", tok));
		else
			printf("token %lld (shown once, keep it secret):\n%s\n",
			    (long long)id, tok);
		explicit_bzero(tok, sizeof(tok));
		return 0;
	}
	if (strcmp(verb, "list") == 0) {
		const char *mb = cli_opt(&a, "mailbox");
		int64_t mid = 0;
		if (mb != NULL && (r = adm_object_id(cli->db, ADM_MAILBOX, mb, &mid,
		    &err)) < 0)
			return cli_adm_exit(r, err);
		struct db_stmt *st = db_query(cli->db, &err, "SELECT t.id, m.name || "
		    "'@' || mp.name, t.name, coalesce(p.name, '*'), "
		    "datetime(t.created, 'unixepoch'), CASE t.last_used WHEN 0 THEN "
		    "'never' ELSE datetime(t.last_used, 'unixepoch') END, CASE "
		    "t.expires WHEN 0 THEN 'never' ELSE datetime(t.expires, "
		    "'unixepoch') END FROM api_token t JOIN mailbox m ON m.id = "
		    "t.mailbox_id JOIN postoffice mp ON mp.id = m.postoffice_id LEFT "
		    "JOIN postoffice p ON p.id = t.postoffice_id WHERE ? = 0 OR "
		    "t.mailbox_id = ? ORDER BY t.id", "ii", mid, mid);
		static const char *const hdr[] = { "ID", "MAILBOX", "NAME",
		    "POSTOFFICE", "CREATED", "LAST USED", "EXPIRES" };
		static const char *const keys[] = { "id", "mailbox", "name",
		    "postoffice", "created", "last_used", "expires" };
		return st ? cli_print_query(cli, st, 7, hdr, keys) :
		    cli_error(EXIT_FAIL, "%s", err);
	}
	if (strcmp(verb, "del") == 0 || strcmp(verb, "revoke") == 0) {
		long long id;
		if (a.npos != 2 || parse_long(a.pos[1], 1, INT64_MAX, &id) < 0)
			return cli_usage("usage: postern token del ID (a number from "
			    "postern token list)");
		r = webauth_token_revoke(cli->db, id, 0, &err);
		return r == 0 ? 0 : cli_adm_exit(r, err);
	}
	return cli_usage("unknown token command '%s' (see postern token --help)",
	    verb);
}
