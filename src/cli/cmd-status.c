/* cmd-status - postern status: what posternd reports in run/status.json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "diag.h"
#include "fsutil.h"
#include "netaddr.h"
#include "settings.h"
#include "xalloc.h"

static char *
uptime_text(long long started)
{
	long long s = started > 0 ? (long long)time(NULL) - started : 0;

	if (s < 0)
		s = 0;
	if (s >= 86400)
		return xasprintf("%lldd%lldh", s / 86400, s % 86400 / 3600);
	if (s >= 3600)
		return xasprintf("%lldh%lldm", s / 3600, s % 3600 / 60);
	if (s >= 60)
		return xasprintf("%lldm%llds", s / 60, s % 60);
	return xasprintf("%llds", s);
}

/* restart_needed - the listeners of a running service whose setting
 * changed since it bound them ("imap.listen is now 127.0.0.1:1143"); NULL
 * when none did. Listeners are bound at start only. */
static char *
restart_needed(struct cli *cli, json_t *svc)
{
	struct buf out;
	size_t i, j;
	json_t *l, *names;

	if (cli->db == NULL || json_integer_value(json_object_get(svc, "pid")) <= 0)
		return NULL;
	names = json_object();
	/* what it listens on, by listener name */
	json_array_foreach(json_object_get(svc, "listen"), i, l) {
		const char *e = json_string_value(l), *eq = e ? strchr(e, '=') : NULL;
		if (eq == NULL)
			continue;
		char *name = xstrndup(e, (size_t)(eq - e));
		json_t *set = json_object_get(names, name);
		if (set == NULL) {
			set = json_object();
			json_object_set_new(names, name, set);
		}
		json_object_set_new(set, eq + 1, json_true());
		free(name);
	}
	buf_init(&out, 0);
	const char *name;
	json_t *running;
	json_object_foreach(names, name, running) {
		char *key = xasprintf("%s.listen", name), *spec = NULL;
		const char *err;
		struct netaddr *list = NULL;
		size_t n = 0;
		bool same = false;
		if (settings_get(cli->db, key, &spec, &err) == 0 &&
		    netaddr_parse_list(spec, &list, &n, &err) == 0) {
			same = n == json_object_size(running);
			for (j = 0; same && j < n; j++) {
				char a[96];
				netaddr_format(&list[j], a, sizeof(a));
				same = json_object_get(running, a) != NULL;
			}
		}
		if (!same)
			buf_printf(&out, "%s%s is now '%s'", out.len ? "; " : "", key,
			    spec ? spec : "");
		free(list);
		free(spec);
		free(key);
	}
	json_decref(names);
	if (out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	char *r = xasprintf("restart needed: %s", out.data);
	buf_free(&out);
	return r;
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, NULL, &a)) != 0)
		return r;
	if (a.help || a.npos > 0) {
		printf("usage: postern status [--json]\n\n"
		    "Shows whether posternd runs and, for each service, its state\n"
		    "(running, idle, restarting, failed), PID, uptime, restarts and\n"
		    "listening addresses. Exit 0 when posternd runs, 1 when not.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if (cli->root == NULL)
		return cli_error(EXIT_NOROOT, "no data root: give -d DIR or set POSTERN_DIR");
	bool running;
	json_t *st = diag_services_status(cli->root, &running);
	json_int_t pid = json_integer_value(json_object_get(
	    json_object_get(st, "posternd"), "pid"));
	if (!running) {
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "running", json_false());
			json_object_set_new(o, "services", json_array());
			cli_json_print(o);
		} else {
			printf("posternd is not running (data root %s)\n", cli->root);
		}
		json_decref(st);
		return EXIT_FAIL;
	}
	/* listeners changed since the services bound them (the settings are
	 * read only when some service reports named listeners) */
	size_t i, k;
	json_t *svc, *ln;
	bool named = false;
	json_array_foreach(json_object_get(st, "services"), i, svc)
		json_array_foreach(json_object_get(svc, "listen"), k, ln)
			if (json_string_value(ln) && strchr(json_string_value(ln), '='))
				named = true;
	if (named && cli_open(cli) != 0)
		fprintf(stderr, "postern: listener settings not compared\n");
	json_array_foreach(json_object_get(st, "services"), i, svc) {
		char *rn = restart_needed(cli, svc);
		if (rn == NULL)
			continue;
		const char *note = json_string_value(json_object_get(svc, "note"));
		char *both = note && *note ? xasprintf("%s; %s", rn, note) : xstrdup(rn);
		json_object_set_new(svc, "restart_needed", json_string(rn));
		json_object_set_new(svc, "note", json_string(both));
		free(both);
		free(rn);
	}
	if (cli->json) {
		json_object_set_new(st, "running", json_true());
		cli_json_print(st);
		return 0;
	}
	json_t *pd = json_object_get(st, "posternd");
	char *up = uptime_text(json_integer_value(json_object_get(pd, "started")));
	printf("posternd running, pid %lld, up %s, data root %s\n\n", (long long)pid,
	    up, cli->root);
	free(up);
	const char *hdr[] = { "SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "LISTENING", "NOTE" };
	struct cli_table *t = cli_table_new(7, hdr);
	json_array_foreach(json_object_get(st, "services"), i, svc) {
		char spid[24], rs[24];
		struct buf listen;
		size_t j;
		json_t *l;
		buf_init(&listen, 0);
		json_array_foreach(json_object_get(svc, "listen"), j, l)
			buf_printf(&listen, "%s%s", j ? " " : "", json_string_value(l));
		json_int_t p = json_integer_value(json_object_get(svc, "pid"));
		snprintf(spid, sizeof(spid), "%lld", (long long)p);
		snprintf(rs, sizeof(rs), "%lld",
		    (long long)json_integer_value(json_object_get(svc, "restarts")));
		char *u = p > 0 ? uptime_text(json_integer_value(json_object_get(svc, "started"))) :
		    xstrdup("-");
		const char *note = json_string_value(json_object_get(svc, "note"));
		const char *row[] = {
			json_string_value(json_object_get(svc, "name")),
			json_string_value(json_object_get(svc, "state")),
			p > 0 ? spid : "-", u, rs, listen.data ? listen.data : "",
			note ? note : "",
		};
		cli_table_row(t, row);
		free(u);
		buf_free(&listen);
	}
	cli_table_print(t);
	cli_table_free(&t);
	json_decref(st);
	return 0;
}
