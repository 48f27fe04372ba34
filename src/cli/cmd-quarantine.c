/* cmd-quarantine - postern quarantine list|show|release|delete: mail the
 * content filters held back (lib-filter/quarantine.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-quarantine.h"
#include "quarantine.h"
#include "settings.h"
#include "xalloc.h"

static int
help(int code)
{
	printf("usage: postern quarantine list\n"
	    "       postern quarantine show ID\n"
	    "       postern quarantine release ID\n"
	    "       postern quarantine delete ID --yes\n\n"
	    "Mail the content filters held back (a virus found after the SMTP\n"
	    "250, a milter's quarantine answer). It is never bounced: the sender\n"
	    "of such mail is usually forged; the recipients were told. release\n"
	    "puts it back where it came from and the MTA routes it without the\n"
	    "content filters; delete removes it for good.\n");
	return code;
}

static void
fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int
q_list(struct cli *cli, const char *qroot)
{
	struct quarantine_entry *v;
	size_t n;
	const char *err;

	if (quarantine_list(qroot, &v, &n, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	if (cli->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, quarantine_entry_json(qroot, &v[i]));
		cli_json_print(a);
	} else if (n == 0) {
		printf("the quarantine is empty\n");
	} else {
		static const char *const hdr[] = { "ID", "TIME (UTC)", "FROM",
		    "SENDER", "RECIPIENTS", "SIZE", "REASON" };
		struct cli_table *t = cli_table_new(7, hdr);
		for (size_t i = 0; i < n; i++) {
			char when[32], size[32];
			fmt_time(v[i].when, when, sizeof(when));
			snprintf(size, sizeof(size), "%lld", (long long)v[i].size);
			const char *row[] = { v[i].id, when, v[i].conn,
			    *v[i].sender ? v[i].sender : "<>", v[i].rcpts, size,
			    v[i].reason };
			cli_table_row(t, row);
		}
		cli_table_print(t);
		cli_table_free(&t);
	}
	quarantine_list_free(v, n);
	return 0;
}

/* q_show - the entry and its message's header */
static int
q_show(struct cli *cli, const char *qroot, const char *id)
{
	struct quarantine_entry *v;
	size_t n;
	const char *err;
	int rc = EXIT_NOTFOUND;

	if (quarantine_list(qroot, &v, &n, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) != 0)
			continue;
		char when[32];
		fmt_time(v[i].when, when, sizeof(when));
		if (cli->json) {
			cli_json_print(quarantine_entry_json(qroot, &v[i]));
		} else {
			printf("id:         %s\ntime:       %s UTC\nfrom:       %s\n"
			    "sender:     <%s>\nrecipients: %s\nsize:       %lld\n"
			    "reason:     %s\n\n", v[i].id, when, v[i].conn,
			    v[i].sender, v[i].rcpts, (long long)v[i].size,
			    v[i].reason);
			char *h = quarantine_header(qroot, id, 1024 * 1024);
			if (h != NULL)
				fputs(h, stdout);
			free(h);
		}
		rc = 0;
		break;
	}
	quarantine_list_free(v, n);
	if (rc != 0)
		return cli_error(rc, "%s: no such quarantined message", id);
	return 0;
}

int
cmd_quarantine(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { CLI_YES_OPTION, NULL };
	struct cli_args a;
	const char *err;
	int rc;

	if (cli_parse(argc, argv, opts, &a) < 0)
		return help(EXIT_USAGE);
	if (a.help || a.npos == 0)
		return help(a.help ? 0 : EXIT_USAGE);
	if ((rc = cli_open(cli)) != 0)
		return rc;
	char *qroot = settings_queue_path(cli->db);
	const char *verb = a.pos[0];
	if (strcmp(verb, "list") == 0 && a.npos == 1) {
		rc = q_list(cli, qroot);
	} else if (strcmp(verb, "show") == 0 && a.npos == 2) {
		rc = q_show(cli, qroot, a.pos[1]);
	} else if (strcmp(verb, "release") == 0 && a.npos == 2) {
		if (quarantine_release(qroot, a.pos[1], &err) < 0)
			rc = cli_error(strstr(err, "no such") ? EXIT_NOTFOUND :
			    EXIT_FAIL, "%s", err);
		else if (cli->json)
			cli_json_print(json_pack("{s:s, s:s}", "released",
			    a.pos[1], "status", "queued"));
		else
			printf("%s: released; the MTA routes it now\n", a.pos[1]);
	} else if (strcmp(verb, "delete") == 0 && a.npos == 2) {
		char *path = quarantine_msg_path(qroot, a.pos[1]);
		FILE *f = path ? fopen(path, "r") : NULL;
		free(path);
		if (f == NULL) {
			rc = cli_error(EXIT_NOTFOUND, "%s: no such quarantined "
			    "message", a.pos[1]);
		} else {
			fclose(f);
			json_t *o = cli_removal_new("quarantined message", a.pos[1]);
			cli_removal_count(o, "messages", 1);
			rc = cli_confirm(cli, &a, o);
			if (rc != 0)
				json_decref(o);
			else if (quarantine_delete(qroot, a.pos[1], &err) < 0) {
				json_decref(o);
				rc = cli_error(EXIT_FAIL, "%s", err);
			} else
				cli_removed(cli, o);
		}
	} else {
		rc = help(EXIT_USAGE);
	}
	free(qroot);
	return rc;
}
