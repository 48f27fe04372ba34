/* cmd-mailbox - postern mailbox, postern address */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-loginsec.h"
#include "cmd-maint.h"
#include "cli-password.h"
#include "directory.h"
#include "fields.h"
#include "remove.h"
#include "fsutil.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

static int
mailbox_help(int code)
{
	printf("usage: postern mailbox add NAME@PO --password PW [--quota SIZE]\n"
	    "                  [--type USER|ADMIN|SYSADMIN] [--friendly-name TEXT]\n"
	    "                  [--no-auto-address]\n"
	    "       postern mailbox list [--postoffice PO] [--sizes exact|cached|none]\n"
	    "       postern mailbox show NAME@PO\n"
	    "       postern mailbox set NAME@PO setting=value...\n"
	    "       postern mailbox passwd NAME@PO --password PW\n"
	    "       postern mailbox del NAME@PO [--keep-data] [--yes]\n"
	    "       postern mailbox redirect add|del NAME@PO ADDRESS\n"
	    "       postern mailbox app-password|twofactor|passkey|logins|failed-logins ...\n"
	    "                  (postern mailbox app-password --help)\n\n"
	    "A mailbox is named NAME@PO (mailbox@postoffice), which is also its\n"
	    "login. 'add' maps NAME@DOMAIN for every domain of the post office\n"
	    "when mailbox.auto_address is on. SIZE is in MB, or with K, M, G;\n"
	    "0 is unlimited. Passwords may also come from --password-file FILE\n"
	    "(- for stdin) or --random-password, which prints the new one.\n");
	if (code == 0)
		cli_fields_help(mailbox_fields);
	return code;
}

static char *
format_size(long long bytes)
{
	if (bytes < 0)
		return xstrdup("NA");
	if (bytes < 1024 * 1024)
		return xasprintf("%.1f KB", (double)bytes / 1024);
	if (bytes < 1024LL * 1024 * 1024)
		return xasprintf("%.1f MB", (double)bytes / (1024 * 1024));
	return xasprintf("%.2f GB", (double)bytes / (1024.0 * 1024 * 1024));
}

/* mailbox_size - bytes used by a mailbox in the given mode (manual 5.2.3):
 * exact walks the store (store_mailbox_size: what the quota counts), cached uses a figure younger than
 * mailbox.size_cache_age and refreshes it otherwise, none gives -1.
 * *walked tells whether the store was walked (the cache needs the new
 * figure). */
static long long
mailbox_size(struct cli *cli, const char *mode, const char *po,
	     const char *name, long long cached, long long cached_time,
	     bool *walked)
{
	long long size;
	char *path;

	*walked = false;
	if (strcmp(mode, "none") == 0)
		return -1;
	if (strcmp(mode, "cached") == 0) {
		long long age = settings_current(cli->db)->mailbox_size_cache_age;
		if (cached_time > 0 && time(NULL) - cached_time < age)
			return cached;
	}
	int64_t bytes, count;
	const char *err;
	path = dir_mailbox_path_names(cli->db, po, name);
	size = store_mailbox_size(path, &bytes, &count, &err) == 0 ? bytes : -1;
	free(path);
	*walked = size >= 0;
	return size;
}

/* cache_sizes - store the walked sizes in one short transaction. The cache
 * is best effort: a locked database is not waited for, so a listing never
 * blocks on (or holds up) a writer. */
static void
cache_sizes(struct cli *cli, const int64_t *ids, const long long *sizes,
	    size_t n)
{
	const char *err;

	if (n == 0)
		return;
	db_busy_timeout(cli->db, 0);
	if (db_begin(cli->db, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			(void)db_exec(cli->db, &err,
			    "UPDATE mailbox SET size_bytes = ?, size_time = ? WHERE id = ?",
			    "iii", (int64_t)sizes[i], (int64_t)time(NULL), ids[i]);
		if (db_commit(cli->db, &err) < 0)
			db_rollback(cli->db);
	}
	(void)db_last_error(cli->db);
	db_busy_timeout(cli->db, 5000);
}

static int
mailbox_list(struct cli *cli, const struct cli_args *a)
{
	const char *po = cli_opt(a, "postoffice");
	const char *mode = cli_opt(a, "sizes");
	char *setting = NULL;
	const char *err;
	int r;

	if (mode == NULL)
		mode = setting = xstrdup(settings_text(settings_current(cli->db), SETTING_mailbox_list_sizes));
	if (strcmp(mode, "exact") && strcmp(mode, "cached") && strcmp(mode, "none")) {
		free(setting);
		return cli_usage("--sizes takes exact, cached or none");
	}
	if (po != NULL) {
		int64_t id;
		if ((r = adm_object_id(cli->db, ADM_POSTOFFICE, po, &id, &err)) < 0) {
			free(setting);
			return cli_adm_exit(r, err);
		}
	}
	struct db_stmt *st = db_query(cli->db, &err,
	    "SELECT m.id, m.name, p.name, m.type, m.quota_kb, m.disabled, "
	    "m.prevent_auth, m.size_bytes, m.size_time, (SELECT count(*) FROM "
	    "address x WHERE x.kind = 'mailbox' AND x.target_id = m.id), "
	    "m.friendly_name FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "WHERE ? IS NULL OR p.name = ? ORDER BY p.name, m.name", "tt", po, po);
	if (st == NULL) {
		free(setting);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	json_t *arr = cli->json ? json_array() : NULL;
	const char *hdr[] = { "MAILBOX", "TYPE", "QUOTA", "SIZE", "STATUS", "ADDRESSES", "NAME" };
	struct cli_table *t = cli->json ? NULL : cli_table_new(7, hdr);
	/* sizes are computed after the rows are read: updating the cache
	 * while a statement is open on the same table is not allowed */
	struct row {
		int64_t id, quota, size, stime, naddr;
		char *name, *po, *type, *friendly;
		int disabled, noauth;
	} *rows = NULL;
	size_t n = 0;
	while ((r = db_step(st, NULL)) == DB_ROW) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		struct row *w = &rows[n++];
		w->id = db_col_int(st, 0);
		w->name = xstrdup(db_col_text(st, 1));
		w->po = xstrdup(db_col_text(st, 2));
		w->type = xstrdup(db_col_text(st, 3));
		w->quota = db_col_int(st, 4);
		w->disabled = db_col_int(st, 5);
		w->noauth = db_col_int(st, 6);
		w->size = db_col_int(st, 7);
		w->stime = db_col_int(st, 8);
		w->naddr = db_col_int(st, 9);
		w->friendly = xstrdup(db_col_text(st, 10));
	}
	db_stmt_free(&st);
	int64_t *walked_ids = xcalloc(n + 1, sizeof(int64_t));
	long long *walked_sizes = xcalloc(n + 1, sizeof(long long));
	size_t nwalked = 0;
	for (size_t i = 0; i < n; i++) {
		struct row *w = &rows[i];
		bool walked;
		long long size = mailbox_size(cli, mode, w->po, w->name,
		    w->size, w->stime, &walked);
		if (walked) {
			walked_ids[nwalked] = w->id;
			walked_sizes[nwalked++] = size;
		}
		char *ident = xasprintf("%s@%s", w->name, w->po);
		const char *status = w->disabled ? "disabled" : w->noauth ? "no-auth" : "enabled";
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "mailbox", json_string(ident));
			json_object_set_new(o, "name", json_string(w->name));
			json_object_set_new(o, "postoffice", json_string(w->po));
			json_object_set_new(o, "type", json_string(w->type));
			json_object_set_new(o, "quota_kb", json_integer(w->quota));
			json_object_set_new(o, "size_bytes", size < 0 ? json_null() : json_integer(size));
			json_object_set_new(o, "disabled", json_boolean(w->disabled));
			json_object_set_new(o, "prevent_auth", json_boolean(w->noauth));
			json_object_set_new(o, "addresses", json_integer(w->naddr));
			json_object_set_new(o, "friendly_name", json_string(w->friendly));
			json_array_append_new(arr, o);
		} else {
			char *q = w->quota ? format_size(w->quota * 1024) : xstrdup("unlimited");
			char *sz = format_size(size);
			char na[24];
			snprintf(na, sizeof(na), "%lld", (long long)w->naddr);
			const char *row[] = { ident, w->type, q, sz, status, na, w->friendly };
			cli_table_row(t, row);
			free(q);
			free(sz);
		}
		free(ident);
		free(w->name);
		free(w->po);
		free(w->type);
		free(w->friendly);
	}
	free(rows);
	free(setting);
	if (arr)
		cli_json_print(arr);
	else {
		cli_table_print(t);
		cli_table_free(&t);
	}
	fflush(stdout);
	cache_sizes(cli, walked_ids, walked_sizes, nwalked);
	free(walked_ids);
	free(walked_sizes);
	return 0;
}

static int
mailbox_show(struct cli *cli, const char *ident)
{
	struct dir_strings addrs, redirs;
	const char *err;
	int64_t id;
	int r;

	if ((r = adm_object_id(cli->db, ADM_MAILBOX, ident, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	if (dir_mailbox_addresses(cli->db, id, &addrs, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	if (dir_mailbox_redirects(cli->db, id, &redirs, &err) < 0) {
		dir_strings_free(&addrs);
		return cli_error(EXIT_FAIL, "%s", err);
	}
	if (cli->json) {
		json_t *o = cli_object_json(cli, ADM_MAILBOX, id);
		json_t *aa = json_array(), *ra = json_array();
		for (size_t i = 0; i < addrs.n; i++)
			json_array_append_new(aa, json_string(addrs.v[i]));
		for (size_t i = 0; i < redirs.n; i++)
			json_array_append_new(ra, json_string(redirs.v[i]));
		json_object_set_new(o, "mailbox", json_string(ident));
		json_object_set_new(o, "addresses", aa);
		json_object_set_new(o, "redirect_to", ra);
		cli_json_print(o);
	} else {
		printf("mailbox: %s\n", ident);
		printf("addresses:");
		for (size_t i = 0; i < addrs.n; i++)
			printf(" %s", addrs.v[i]);
		printf("\nredirect to:");
		for (size_t i = 0; i < redirs.n; i++)
			printf(" %s", redirs.v[i]);
		printf("\n\n");
		fflush(stdout);
		r = cli_object_show(cli, ADM_MAILBOX, ident);
	}
	dir_strings_free(&addrs);
	dir_strings_free(&redirs);
	return r;
}

int
cmd_mailbox(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = {
		CLI_PASSWORD_OPTIONS, "quota=", "type=", "friendly-name=",
		"no-auto-address", "postoffice=", "sizes=", "keep-data",
		CLI_YES_OPTION, NULL
	};
	struct cli_args a;
	const char *err, *verb;
	char name[NAME_MAX_LEN + 1];
	int r;

	if (argc > 1 && strcmp(argv[1], "email") == 0)   /* cmd-maint.c */
		return cmd_maint_email(cli, "mailbox", argc - 1, argv + 1);
	if (argc > 1 && cmd_loginsec_word(argv[1]))     /* cmd-loginsec.c */
		return cmd_loginsec(cli, argc, argv);
	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL)
		return mailbox_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0)
		return mailbox_list(cli, &a);
	if (strcmp(verb, "redirect") == 0) {
		if (a.npos >= 3 && strcmp(a.pos[1], "list") == 0) {
			int64_t id;
			if ((r = adm_object_id(cli->db, ADM_MAILBOX, a.pos[2], &id, &err)) < 0)
				return cli_adm_exit(r, err);
			struct db_stmt *st = db_query(cli->db, &err,
			    "SELECT address FROM redirect WHERE mailbox_id = ? ORDER BY address",
			    "i", id);
			static const char *const hdr[] = { "REDIRECT TO" };
			static const char *const keys[] = { "address" };
			return st ? cli_print_query(cli, st, 1, hdr, keys) :
			    cli_error(EXIT_FAIL, "%s", err);
		}
		if (a.npos != 4)
			return cli_usage("usage: postern mailbox redirect add|del|list NAME@PO ADDRESS");
		if (strcmp(a.pos[1], "add") == 0)
			r = adm_redirect_add(cli->db, a.pos[2], a.pos[3], &err);
		else if (strcmp(a.pos[1], "del") == 0)
			r = adm_redirect_del(cli->db, a.pos[2], a.pos[3], &err);
		else
			return cli_usage("usage: postern mailbox redirect add|del|list ...");
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	if (a.npos < 2)
		return cli_usage("mailbox %s needs a mailbox as NAME@POSTOFFICE", verb);
	const char *ident = a.pos[1];
	if (strcmp(verb, "add") == 0) {
		const char *at = strrchr(ident, '@');
		const char *q = cli_opt(&a, "quota");
		long long kb = -1;
		char *pw;
		bool generated;
		if (a.npos != 2 || at == NULL || (size_t)(at - ident) > NAME_MAX_LEN)
			return cli_usage("usage: postern mailbox add NAME@POSTOFFICE --password PW");
		memcpy(name, ident, (size_t)(at - ident));
		name[at - ident] = '\0';
		if (q != NULL) {
			kb = strcmp(q, "unlimited") == 0 ? 0 : parse_size_kb(q, 'M');
			if (kb < 0)
				return cli_usage("--quota '%s' is not a size (MB, or with K, M, G)", q);
		}
		if ((r = cli_password(&a, true, &pw, &generated)) != 0)
			return r;
		struct adm_mailbox_spec spec = {
			.postoffice = at + 1, .name = name, .password = pw, .quota_kb = kb,
			.type = cli_opt(&a, "type"),
			.friendly_name = cli_opt(&a, "friendly-name"),
			.no_auto_address = cli_flag(&a, "no-auto-address"),
		};
		r = adm_mailbox_add(cli->db, &spec, &err);
		if (r == ADM_OK)   /* the default message (manual 5.3.9.9) */
			cli_welcome_deliver(cli, at + 1, name);
		if (r == ADM_OK && generated && !cli->json)
			printf("%s password: %s\n", ident, pw);
		if (r == ADM_OK)
			r = cli_created(cli, ADM_MAILBOX, ident, generated ? pw : NULL);
		else
			r = cli_adm_exit(r, err);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		return r;
	}
	/* one object per command: "del a b" must not quietly delete only a */
	if (a.npos > 2 && strcmp(verb, "set") != 0)
		return cli_usage("%s %s takes one name; '%s' is one too many",
		    argv[0], verb, a.pos[2]);
	if (strcmp(verb, "show") == 0)
		return mailbox_show(cli, ident);
	if (strcmp(verb, "set") == 0)
		return cli_object_set(cli, ADM_MAILBOX, ident, &a, 2);
	if (strcmp(verb, "passwd") == 0 || strcmp(verb, "password") == 0) {
		char *pw;
		bool generated;
		if ((r = cli_password(&a, true, &pw, &generated)) != 0)
			return r;
		r = adm_mailbox_passwd(cli->db, ident, pw, NULL, &err);
		if (r == ADM_OK && generated)
			printf("%s password: %s\n", ident, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) {
		return cli_delete_object(cli, ADM_MAILBOX, ident, &a);
	}
	return cli_usage("unknown mailbox command '%s' (see postern mailbox --help)", verb);
}

int
cmd_address(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "mailbox=", "postoffice=", NULL };
	struct cli_args a;
	const char *err, *verb;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		printf("usage: postern address add ADDRESS --mailbox NAME@PO\n"
		    "       postern address del ADDRESS\n"
		    "       postern address list [--postoffice PO | --mailbox NAME@PO]\n\n"
		    "Maps an e-mail address to a mailbox. The address's domain must be\n"
		    "a domain of the mailbox's post office (manual 5.5.4).\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0) {
		const char *po = cli_opt(&a, "postoffice"), *mb = cli_opt(&a, "mailbox");
		int64_t mid = 0;
		if (mb != NULL && (r = adm_object_id(cli->db, ADM_MAILBOX, mb, &mid, &err)) < 0)
			return cli_adm_exit(r, err);
		struct db_stmt *st = db_query(cli->db, &err,
		    "SELECT a.address, a.kind, CASE a.kind "
		    "WHEN 'mailbox' THEN (SELECT m.name || '@' || p.name FROM mailbox m "
		    "  WHERE m.id = a.target_id) "
		    "WHEN 'group' THEN (SELECT g.name FROM grp g WHERE g.id = a.target_id) "
		    "WHEN 'list' THEN (SELECT l.name FROM list l WHERE l.id = a.target_id) "
		    "ELSE a.target END, p.name "
		    "FROM address a JOIN postoffice p ON p.id = a.postoffice_id "
		    "WHERE (? IS NULL OR p.name = ?) AND (? = 0 OR (a.kind = 'mailbox' "
		    "AND a.target_id = ?)) ORDER BY a.address", "ttii", po, po, mid, mid);
		if (st == NULL)
			return cli_error(EXIT_FAIL, "%s", err);
		static const char *const hdr[] = { "ADDRESS", "KIND", "TARGET", "POSTOFFICE" };
		static const char *const keys[] = { "address", "kind", "target", "postoffice" };
		return cli_print_query(cli, st, 4, hdr, keys);
	}
	if (a.npos != 2)
		return cli_usage("address %s needs one address", verb);
	if (strcmp(verb, "add") == 0) {
		const char *mb = cli_opt(&a, "mailbox");
		if (mb == NULL)
			return cli_usage("usage: postern address add ADDRESS --mailbox NAME@PO");
		r = adm_address_add(cli->db, a.pos[1], mb, &err);
		if (r != ADM_OK)
			return cli_adm_exit(r, err);
		if (cli->json)
			cli_json_print(json_pack("{s:s,s:s}", "address", a.pos[1],
			    "mailbox", mb));
		return 0;
	}
	if (strcmp(verb, "del") == 0 || strcmp(verb, "delete") == 0) {
		r = adm_address_del(cli->db, a.pos[1], &err);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	return cli_usage("unknown address command '%s' (see postern address --help)", verb);
}
