/* cmd-loginsec - postern mailbox app-password|twofactor|logins|
 * failed-logins: login security (lib-admin/twofactor.h,
 * lib-config/loginsec.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-loginsec.h"
#include "loginsec.h"
#include "passkey.h"
#include "twofactor.h"
#include "xalloc.h"

static int
loginsec_help(int code)
{
	printf("usage: postern mailbox app-password add NAME@PO APPNAME\n"
	    "       postern mailbox app-password list NAME@PO\n"
	    "       postern mailbox app-password remove NAME@PO APPNAME [--yes]\n"
	    "       postern mailbox twofactor show NAME@PO\n"
	    "       postern mailbox twofactor reset NAME@PO [--yes]\n"
	    "       postern mailbox twofactor forget-devices NAME@PO [--yes]\n"
	    "       postern mailbox passkey list NAME@PO\n"
	    "       postern mailbox passkey rename NAME@PO ID NEWNAME\n"
	    "       postern mailbox passkey remove NAME@PO ID [--yes]\n"
	    "       postern mailbox passkey reset NAME@PO [--yes]\n"
	    "       postern mailbox logins NAME@PO\n"
	    "       postern mailbox failed-logins [--postoffice PO] [--mailbox NAME@PO]\n"
	    "                  [--by address|mailbox]\n\n"
	    "App passwords are what mail clients use (IMAP, POP3, SMTP AUTH,\n"
	    "ManageSieve) when the mailbox has two-factor login on\n"
	    "(twofactor_mode): the main password then works only at the web\n"
	    "login, with a TOTP code. 'add' prints the new password once.\n"
	    "'twofactor reset' forgets the TOTP enrolment, recovery codes and\n"
	    "remembered devices ('forget-devices': only these):\n"
	    "the next web login enrols again. 'logins' lists where the mailbox\n"
	    "logged in from (protocol, address, country, first and last time,\n"
	    "count); 'failed-logins' the failures per login name and address,\n"
	    "or summed per client address or per mailbox with --by.\n"
	    "Passkeys (WebAuthn) are registered by their owner at the web\n"
	    "login; 'passkey reset' removes them all (a lost authenticator).\n");
	return code;
}

static int
app_password(struct cli *cli, const struct cli_args *a)
{
	const char *verb = a->npos > 1 ? a->pos[1] : "", *err;
	int64_t id;
	int r;

	if (a->npos < 3)
		return cli_usage("usage: postern mailbox app-password "
		    "add|list|remove NAME@PO [APPNAME]");
	const char *ident = a->pos[2];
	if (strcmp(verb, "add") == 0) {
		char *pw;
		if (a->npos != 4)
			return cli_usage("usage: postern mailbox app-password add "
			    "NAME@PO APPNAME");
		r = tf_app_password_add(cli->db, ident, a->pos[3], &pw, &err);
		if (r != ADM_OK)
			return cli_adm_exit(r, err);
		if (cli->json)
			cli_json_print(json_pack("{s:s,s:s,s:s}", "mailbox", ident,
			    "name", a->pos[3], "password", pw));
		else
			printf("app password '%s' of %s (shown once):\n%s\n",
			    a->pos[3], ident, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		return 0;
	}
	if (strcmp(verb, "list") == 0) {
		if (a->npos != 3)
			return cli_usage("usage: postern mailbox app-password list "
			    "NAME@PO");
		if ((r = adm_object_id(cli->db, ADM_MAILBOX, ident, &id, &err)) < 0)
			return cli_adm_exit(r, err);
		struct db_stmt *st = db_query(cli->db, &err, "SELECT name, "
		    "datetime(created, 'unixepoch'), CASE last_used WHEN 0 THEN "
		    "'never' ELSE datetime(last_used, 'unixepoch') END, "
		    "last_protocol, last_address FROM app_password WHERE "
		    "mailbox_id = ? ORDER BY name", "i", id);
		static const char *const hdr[] = { "NAME", "CREATED", "LAST USED",
		    "PROTOCOL", "ADDRESS" };
		static const char *const keys[] = { "name", "created", "last_used",
		    "last_protocol", "last_address" };
		return st ? cli_print_query(cli, st, 5, hdr, keys) :
		    cli_error(EXIT_FAIL, "%s", err);
	}
	if (strcmp(verb, "remove") == 0 || strcmp(verb, "del") == 0) {
		if (a->npos != 4)
			return cli_usage("usage: postern mailbox app-password "
			    "remove NAME@PO APPNAME");
		if ((r = adm_object_id(cli->db, ADM_MAILBOX, ident, &id, &err)) < 0)
			return cli_adm_exit(r, err);
		char *what = xasprintf("%s of %s", a->pos[3], ident);
		json_t *rm = cli_removal_new("app password", what);
		free(what);
		if ((r = cli_confirm(cli, a, rm)) != 0) {
			json_decref(rm);
			return r;
		}
		r = tf_app_password_remove(cli->db, ident, a->pos[3], &err);
		if (r != ADM_OK) {
			json_decref(rm);
			return cli_adm_exit(r, err);
		}
		cli_removed(cli, rm);
		return 0;
	}
	return cli_usage("unknown app-password command '%s' (add, list, "
	    "remove)", verb);
}

static int
twofactor(struct cli *cli, const struct cli_args *a)
{
	const char *verb = a->npos > 1 ? a->pos[1] : "", *err;
	int64_t id;
	int r;

	if (a->npos != 3)
		return cli_usage("usage: postern mailbox twofactor show|reset|"
		    "forget-devices "
		    "NAME@PO");
	const char *ident = a->pos[2];
	if ((r = adm_object_id(cli->db, ADM_MAILBOX, ident, &id, &err)) < 0)
		return cli_adm_exit(r, err);
	if (strcmp(verb, "show") == 0) {
		struct tf_status st;
		if (tf_status(cli->db, id, &st, &err) < 0)
			return cli_error(EXIT_FAIL, "%s", err);
		const char *ad = st.code_address;
		if (cli->json) {
			cli_json_print(json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I,"
			    "s:I}", "mailbox", ident, "challenge", st.challenge,
			    "type", st.type, "code_address", ad, "totp_enrolled",
			    st.totp_enrolled, "recovery_codes_left",
			    (json_int_t)st.recovery_codes_left, "app_passwords",
			    (json_int_t)st.app_passwords, "passkeys",
			    (json_int_t)st.passkeys, "remembered_devices",
			    (json_int_t)st.remembered_devices));
		} else {
			printf("mailbox: %s\nchallenge: %s%s\ntype: %s%s%s\n"
			    "totp enrolled: %s\nrecovery codes left: %lld\n"
			    "app passwords: %lld\npasskeys: %lld\n"
			    "remembered devices: %lld\n",
			    ident, st.challenge, strcmp(st.challenge, "never") != 0 ?
			    " (mail protocols take only app passwords)" : "",
			    st.type, *ad ? ", codes mailed to " : "", ad,
			    st.totp_enrolled ? "yes" : "no",
			    (long long)st.recovery_codes_left,
			    (long long)st.app_passwords, (long long)st.passkeys,
			    (long long)st.remembered_devices);
		}
		return 0;
	}
	if (strcmp(verb, "reset") == 0) {
		json_t *rm = cli_removal_new("two-factor enrolment", ident);
		if ((r = cli_confirm(cli, a, rm)) != 0) {
			json_decref(rm);
			return r;
		}
		if ((r = tf_reset(cli->db, ident, &err)) != ADM_OK) {
			json_decref(rm);
			return cli_adm_exit(r, err);
		}
		cli_removed(cli, rm);
		return 0;
	}
	if (strcmp(verb, "forget-devices") == 0) {
		int n = 0;
		json_t *rm = cli_removal_new("remembered devices of", ident);
		if ((r = cli_confirm(cli, a, rm)) != 0) {
			json_decref(rm);
			return r;
		}
		if ((r = tf_device_forget(cli->db, id, &n, &err)) != ADM_OK) {
			json_decref(rm);
			return cli_adm_exit(r, err);
		}
		json_object_set_new(rm, "devices", json_integer(n));
		cli_removed(cli, rm);
		return 0;
	}
	return cli_usage("unknown twofactor command '%s' (show, reset, "
	    "forget-devices)", verb);
}

static int
passkey(struct cli *cli, const struct cli_args *a)
{
	const char *verb = a->npos > 1 ? a->pos[1] : "", *err;
	int64_t mid, id = 0;
	int r, n = 0;

	if (a->npos < 3)
		return cli_usage("usage: postern mailbox passkey "
		    "list|rename|remove|reset NAME@PO [ID [NEWNAME]]");
	const char *ident = a->pos[2];
	if ((r = adm_object_id(cli->db, ADM_MAILBOX, ident, &mid, &err)) < 0)
		return cli_adm_exit(r, err);
	if ((strcmp(verb, "rename") == 0 && a->npos == 5) ||
	    (strcmp(verb, "remove") == 0 && a->npos == 4)) {
		char *end;
		id = strtoll(a->pos[3], &end, 10);
		if (*end != '\0' || id <= 0)
			return cli_usage("a passkey is named by its ID (postern "
			    "mailbox passkey list %s)", ident);
	}
	if (strcmp(verb, "list") == 0 && a->npos == 3) {
		json_t *l = passkey_list(cli->db, mid, &err);
		if (l == NULL)
			return cli_error(EXIT_FAIL, "%s", err);
		if (cli->json) {
			cli_json_print(l);
			return 0;
		}
		size_t i;
		json_t *v;
		printf("%-6s %-24s %-6s %-10s %s\n", "ID", "NAME", "ALG",
		    "SIGNCOUNT", "LAST USED");
		json_array_foreach(l, i, v) {
			char when[32] = "never";
			time_t t = (time_t)json_integer_value(json_object_get(v,
			    "lastUsed"));
			if (t > 0)
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M",
				    gmtime(&t));
			printf("%-6lld %-24s %-6s %-10lld %s\n",
			    (long long)json_integer_value(json_object_get(v, "id")),
			    json_string_value(json_object_get(v, "name")),
			    json_string_value(json_object_get(v, "alg")),
			    (long long)json_integer_value(json_object_get(v,
			    "signCount")), when);
		}
		json_decref(l);
		return 0;
	}
	if (strcmp(verb, "rename") == 0 && a->npos == 5) {
		if ((r = passkey_rename(cli->db, mid, id, a->pos[4], &err)) !=
		    ADM_OK)
			return cli_adm_exit(r, err);
		if (!cli->json)
			printf("passkey %lld of %s renamed\n", (long long)id,
			    ident);
		return 0;
	}
	if ((strcmp(verb, "remove") == 0 && a->npos == 4) ||
	    (strcmp(verb, "reset") == 0 && a->npos == 3)) {
		json_t *rm = cli_removal_new(id ? "passkey" : "every passkey of",
		    ident);
		if ((r = cli_confirm(cli, a, rm)) != 0) {
			json_decref(rm);
			return r;
		}
		r = id ? passkey_remove(cli->db, mid, id, &err) :
		    passkey_reset(cli->db, mid, &n, &err);
		if (r != ADM_OK) {
			json_decref(rm);
			return cli_adm_exit(r, err);
		}
		cli_removed(cli, rm);
		return 0;
	}
	return cli_usage("usage: postern mailbox passkey list|rename|remove|"
	    "reset NAME@PO [ID [NEWNAME]]");
}

static int
logins(struct cli *cli, const struct cli_args *a)
{
	const char *err;
	int64_t id;
	int r;

	if (a->npos != 2)
		return cli_usage("usage: postern mailbox logins NAME@PO");
	if ((r = adm_object_id(cli->db, ADM_MAILBOX, a->pos[1], &id, &err)) < 0)
		return cli_adm_exit(r, err);
	const char *const *keys;
	struct db_stmt *st = loginsec_logins(cli->db, id, 200, &keys, &err);
	static const char *const hdr[] = { "LAST", "PROTOCOL", "ADDRESS",
	    "COUNTRY", "FIRST", "COUNT" };
	return st ? cli_print_query(cli, st, LOGINSEC_LOGIN_COLUMNS, hdr, keys) :
	    cli_error(EXIT_FAIL, "%s", err);
}

static int
failed_logins(struct cli *cli, const struct cli_args *a)
{
	const char *po = cli_opt(a, "postoffice"), *mb = cli_opt(a, "mailbox");
	const char *err;
	int64_t poid = 0, mid = 0;
	int r;

	if (po != NULL && (r = adm_object_id(cli->db, ADM_POSTOFFICE, po, &poid,
	    &err)) < 0)
		return cli_adm_exit(r, err);
	if (mb != NULL && (r = adm_object_id(cli->db, ADM_MAILBOX, mb, &mid,
	    &err)) < 0)
		return cli_adm_exit(r, err);
	const char *by = cli_opt(a, "by");
	if (by != NULL && strcmp(by, "address") != 0 &&
	    strcmp(by, "mailbox") != 0)
		return cli_usage("--by takes address or mailbox");
	enum loginsec_by kind = by == NULL ? LOGINSEC_BY_NONE :
	    strcmp(by, "address") == 0 ? LOGINSEC_BY_ADDRESS :
	    LOGINSEC_BY_MAILBOX;
	size_t ncols;
	const char *const *keys;
	struct db_stmt *st = loginsec_failures(cli->db, kind, poid, mid, &ncols,
	    &keys, &err);
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	const char *hdr[LOGINSEC_FAILURE_COLUMNS];
	char up[LOGINSEC_FAILURE_COLUMNS][16];
	for (size_t i = 0; i < ncols; i++) {
		size_t k;
		for (k = 0; keys[i][k] != '\0' && k + 1 < sizeof(up[i]); k++)
			up[i][k] = (char)toupper((unsigned char)keys[i][k]);
		up[i][k] = '\0';
		hdr[i] = up[i];
	}
	return cli_print_query(cli, st, ncols, hdr, keys);
}

int
cmd_loginsec(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "postoffice=", "mailbox=", "by=",
		CLI_YES_OPTION, NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help)
		return loginsec_help(0);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (a.npos == 0)
		return loginsec_help(EXIT_USAGE);
	if (strcmp(a.pos[0], "app-password") == 0)
		return app_password(cli, &a);
	if (strcmp(a.pos[0], "twofactor") == 0)
		return twofactor(cli, &a);
	if (strcmp(a.pos[0], "passkey") == 0)
		return passkey(cli, &a);
	if (strcmp(a.pos[0], "logins") == 0)
		return logins(cli, &a);
	return failed_logins(cli, &a);
}
