/* cmd-domain - postern domain */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-autodiscover.h"
#include "fields.h"
#include "remove.h"
#include "xalloc.h"

static int
domain_help(int code)
{
	printf("usage: postern domain add DOMAIN --postoffice PO\n"
	    "       postern domain list [--postoffice PO]\n"
	    "       postern domain show DOMAIN\n"
	    "       postern domain set DOMAIN setting=value...\n"
	    "       postern domain del DOMAIN [--yes]\n"
	    "       postern domain blacklist add|del DOMAIN SENDER-DOMAIN\n"
	    "       postern domain blacklist list DOMAIN\n"
	    "       postern domain autodiscover list|detect DOMAIN\n"
	    "       postern domain autodiscover add DOMAIN imap|pop3|smtp HOST [PORT]\n"
	    "                                   [--security tls|starttls|none]\n"
	    "       postern domain autodiscover del DOMAIN PROTOCOL [HOST [PORT]]\n\n"
	    "Every domain answers for postmaster@ and abuse@ (by default the\n"
	    "post office's postmaster mailbox). Targets (postmaster_address,\n"
	    "abuse_address, catchall_address) are a mailbox name of the post\n"
	    "office or an e-mail address.\n");
	if (code == 0)
		cli_fields_help(domain_fields);
	return code;
}

static int
print_rows(struct cli *cli, struct db_stmt *st, size_t ncols,
	   const char *const *hdr, const char *const *keys)
{
	json_t *arr = cli->json ? json_array() : NULL;
	struct cli_table *t = cli->json ? NULL : cli_table_new(ncols, hdr);
	int r;

	while ((r = db_step(st, NULL)) == DB_ROW) {
		const char *cells[16];
		for (size_t i = 0; i < ncols && i < 16; i++) {
			const char *v = db_col_text(st, (int)i);
			cells[i] = v ? v : "";
		}
		if (arr) {
			json_t *o = json_object();
			for (size_t i = 0; i < ncols; i++) {
				if (db_col_isint(st, (int)i))
					json_object_set_new(o, keys[i],
					    json_integer(db_col_int(st, (int)i)));
				else
					json_object_set_new(o, keys[i], json_string(cells[i]));
			}
			json_array_append_new(arr, o);
		} else {
			cli_table_row(t, cells);
		}
	}
	db_stmt_free(&st);
	if (arr)
		cli_json_print(arr);
	else {
		cli_table_print(t);
		cli_table_free(&t);
	}
	return r == DB_DONE ? 0 : cli_error(EXIT_FAIL, "listing failed");
}

int
cli_print_query(struct cli *cli, struct db_stmt *st, size_t ncols,
		const char *const *hdr, const char *const *keys)
{
	return print_rows(cli, st, ncols, hdr, keys);
}

int
cmd_domain(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "postoffice=", "security=", CLI_YES_OPTION, NULL };
	struct cli_args a;
	const char *err, *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return domain_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0) {
		const char *po = cli_opt(&a, "postoffice");
		struct db_stmt *st = db_query(cli->db, &err,
		    "SELECT d.name, p.name, CASE WHEN d.disabled <> 0 THEN 'disabled' ELSE "
		    "'enabled' END, (SELECT count(*) FROM address x WHERE x.domain_id = d.id) "
		    "FROM domain d JOIN postoffice p ON p.id = d.postoffice_id "
		    "WHERE ? IS NULL OR p.name = ? ORDER BY d.name", "tt", po, po);
		if (st == NULL)
			return cli_error(EXIT_FAIL, "%s", err);
		static const char *const hdr[] = { "DOMAIN", "POSTOFFICE", "STATUS", "ADDRESSES" };
		static const char *const keys[] = { "name", "postoffice", "status", "addresses" };
		return print_rows(cli, st, 4, hdr, keys);
	}
	if (strcmp(verb, "blacklist") == 0) {
		if (a.npos >= 3 && strcmp(a.pos[1], "list") == 0) {
			int64_t id;
			if ((r = adm_object_id(cli->db, ADM_DOMAIN, a.pos[2], &id, &err)) < 0)
				return cli_adm_exit(r, err);
			struct db_stmt *st = db_query(cli->db, &err,
			    "SELECT sender_domain FROM domain_blacklist WHERE domain_id = ? "
			    "ORDER BY sender_domain", "i", id);
			if (st == NULL)
				return cli_error(EXIT_FAIL, "%s", err);
			static const char *const hdr[] = { "BLACKLISTED" };
			static const char *const keys[] = { "domain" };
			return print_rows(cli, st, 1, hdr, keys);
		}
		if (a.npos != 4)
			return cli_usage("usage: postern domain blacklist add|del DOMAIN SENDER-DOMAIN");
		if (strcmp(a.pos[1], "add") == 0)
			r = adm_blacklist_add(cli->db, a.pos[2], a.pos[3], &err);
		else if (strcmp(a.pos[1], "del") == 0)
			r = adm_blacklist_del(cli->db, a.pos[2], a.pos[3], &err);
		else
			return cli_usage("usage: postern domain blacklist add|del|list ...");
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	if (strcmp(verb, "autodiscover") == 0)
		return cmd_domain_autodiscover(cli, &a);
	if (a.npos < 2)
		return cli_usage("domain %s needs a domain name", verb);
	const char *name = a.pos[1];
	if (strcmp(verb, "add") == 0) {
		const char *po = cli_opt(&a, "postoffice");
		if (po == NULL || a.npos != 2)
			return cli_usage("usage: postern domain add DOMAIN --postoffice PO");
		r = adm_domain_add(cli->db, name, po, &err);
		return r == ADM_OK ? cli_created(cli, ADM_DOMAIN, name, NULL) :
		    cli_adm_exit(r, err);
	}
	/* one object per command: "del a b" must not quietly delete only a */
	if (a.npos > 2 && strcmp(verb, "set") != 0)
		return cli_usage("%s %s takes one name; '%s' is one too many",
		    argv[0], verb, a.pos[2]);
	if (strcmp(verb, "show") == 0)
		return cli_object_show(cli, ADM_DOMAIN, name);
	if (strcmp(verb, "set") == 0)
		return cli_object_set(cli, ADM_DOMAIN, name, &a, 2);
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) {
		return cli_delete_object(cli, ADM_DOMAIN, name, &a);
	}
	return cli_usage("unknown domain command '%s' (see postern domain --help)", verb);
}
