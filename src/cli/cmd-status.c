/* cmd-status - postern status: what posternd reports in run/status.json */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsutil.h"
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

/* merge_reports - take each running service's own report (run/<name>.json)
 * when it is newer than posternd's last status.json, which is rewritten
 * only once a second: a service that just said "idle" shows as idle. */
static void
merge_reports(const char *root, json_t *services)
{
	size_t i;
	json_t *svc;

	json_array_foreach(services, i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));
		json_int_t pid = json_integer_value(json_object_get(svc, "pid"));
		json_error_t jerr;
		struct buf b;

		if (name == NULL || pid <= 0 || strchr(name, '/') != NULL)
			continue;
		char *path = xasprintf("%s/run/%s.json", root, name);
		buf_init(&b, 65536);
		json_t *rep = file_read(path, &b) == 0 ?
		    json_loadb(b.data ? b.data : "", b.len, 0, &jerr) : NULL;
		buf_free(&b);
		free(path);
		if (rep != NULL && json_integer_value(json_object_get(rep, "pid")) == pid) {
			json_t *state = json_object_get(rep, "state");
			json_t *note = json_object_get(rep, "note");
			json_t *listen = json_object_get(rep, "listen");
			if (json_is_string(state))
				json_object_set(svc, "state", state);
			if (json_is_string(note) && *json_string_value(note) != '\0')
				json_object_set(svc, "note", note);
			if (json_is_array(listen))
				json_object_set(svc, "listen", listen);
		}
		json_decref(rep);
	}
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct buf b;
	json_error_t jerr;
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
	char *path = path_join(cli->root, "run/status.json");
	buf_init(&b, 16 * 1024 * 1024);
	r = file_read(path, &b);
	free(path);
	json_t *st = r == 0 ? json_loadb(b.data ? b.data : "", b.len, 0, &jerr) : NULL;
	buf_free(&b);
	json_int_t pid = st ? json_integer_value(json_object_get(
	    json_object_get(st, "posternd"), "pid")) : 0;
	/* posternd holds a lock on its pid file while it runs: that survives
	 * stale files, zombies and reused PIDs */
	bool running = false;
	char *pidpath = path_join(cli->root, "run/posternd.pid");
	int lfd = open(pidpath, O_RDONLY | O_CLOEXEC);
	free(pidpath);
	if (lfd >= 0) {
		running = flock(lfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(lfd);
	}
	running = running && pid > 0;
	if (running)
		merge_reports(cli->root, json_object_get(st, "services"));
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
	size_t i;
	json_t *svc;
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
