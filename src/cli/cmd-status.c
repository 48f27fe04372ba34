/* cmd-status - postern status: what posternd reports in run/status.json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "diag.h"
#include "fsutil.h"
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
 * changed since it bound them ("restart needed: imap.listen changed");
 * NULL when none did. posternd applies them on SIGHUP (reload). */
static char *
restart_needed(struct cli *cli, json_t *svc)
{
	json_t *names = json_object_get(svc, "listeners");
	json_t *bound = json_object_get(svc, "listen"), *x;
	size_t i, nn = 0, nb = 0;

	if (cli->db == NULL || json_integer_value(json_object_get(svc, "pid")) <= 0 ||
	    !json_is_array(names))
		return NULL;
	const char **nv = xcalloc(json_array_size(names) + 1, sizeof(char *));
	const char **bv = xcalloc(json_array_size(bound) + 1, sizeof(char *));
	json_array_foreach(names, i, x)
		if (json_is_string(x))
			nv[nn++] = json_string_value(x);
	json_array_foreach(bound, i, x)
		if (json_is_string(x))
			bv[nb++] = json_string_value(x);
	char *changed = settings_listen_changes(cli->db, nv, nn, bv, nb);
	free(nv);
	free(bv);
	if (changed == NULL)
		return NULL;
	char *r = xasprintf("restart needed: %s changed (systemctl reload "
	    "postern, or SIGHUP to posternd, restarts it)", changed);
	free(changed);
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
	 * read only when some service serves listeners) */
	size_t i;
	json_t *svc;
	bool named = false;
	json_array_foreach(json_object_get(st, "services"), i, svc)
		if (json_array_size(json_object_get(svc, "listeners")) > 0)
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
