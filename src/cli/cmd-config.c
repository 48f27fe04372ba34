/* cmd-config - postern init, postern config */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "dataroot.h"
#include "fields.h"
#include "settings.h"
#include "xalloc.h"

/* host_has_ipv6 - whether this host can listen on IPv6 (the kernel has
 * it and it is not disabled): a bind to [::] port 0 works */
static bool
host_has_ipv6(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* init_ipv6_listeners - on a host with IPv6, listeners still at their
 * IPv4-only defaults also get [::] ("0.0.0.0:25,[::]:25"; our IPv6
 * sockets are IPV6_V6ONLY, so both are needed); what is set stays */
static int
init_ipv6_listeners(struct cli *cli)
{
	const char *err;
	int r;

	if ((r = cli_open(cli)) != 0)
		return r;
	for (const struct field_def *f = settings_fields; f->name; f++) {
		if (f->type != FT_LISTEN || settings_is_set(cli->db, f->name) ||
		    strncmp(f->def, "0.0.0.0:", 8) != 0)
			continue;
		char *v = xasprintf("%s,[::]:%s", f->def, f->def + 8);
		r = settings_set(cli->db, f->name, v, &err);
		free(v);
		if (r < 0)
			return cli_error(EXIT_FAIL, "%s: %s", f->name, err);
	}
	return 0;
}

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "hostname=", "ipv4-only", NULL };
	struct cli_args a;
	const char *err;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos > 0) {
		printf("usage: postern -d DIR init [--hostname NAME] [--ipv4-only]\n\n"
		    "Creates the data root DIR: config store, queues, message store,\n"
		    "logs and a self-signed default certificate. Running it again on\n"
		    "an existing data root changes nothing that is there. On a host\n"
		    "with IPv6 the listeners also get [::] (0.0.0.0:25,[::]:25), but\n"
		    "with --ipv4-only.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if (cli->root == NULL)
		return cli_error(EXIT_NOROOT, "no data root: give -d DIR or set POSTERN_DIR");
	/* the IPv6 listeners are for a new data root only */
	char *conf = xasprintf("%s/host.conf", cli->root);
	bool fresh = access(conf, F_OK) != 0;
	free(conf);
	/* a data root that cannot be made usable (not a database, no
	 * permission) is exit 6, like every other command on it */
	if (dataroot_init(cli->root, cli_opt(&a, "hostname"), &err) < 0)
		return cli_error(strstr(err, "locked") ? EXIT_BUSY : EXIT_NOROOT, "%s", err);
	bool v6 = fresh && !cli_flag(&a, "ipv4-only") && host_has_ipv6();
	if (v6 && (r = init_ipv6_listeners(cli)) != 0)
		return r;
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "root", json_string(cli->root));
		cli_json_print(o);
	} else {
		printf("data root ready at %s\n", cli->root);
	}
	return 0;
}

static int
config_list(struct cli *cli)
{
	json_t *arr = cli->json ? json_array() : NULL;
	const char *hdr[] = { "setting", "value", "" };
	struct cli_table *t = cli->json ? NULL : cli_table_new(3, hdr);
	const char *err;

	for (const struct field_def *f = settings_fields; f->name; f++) {
		char *v;
		if (settings_get(cli->db, f->name, &v, &err) < 0) {
			free(v);
			if (arr)
				json_decref(arr);
			cli_table_free(&t);
			return cli_error(EXIT_FAIL, "%s", err);
		}
		bool set = settings_is_set(cli->db, f->name);
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(f->name));
			if (f->flags & FIELD_SECRET)
				json_object_set_new(o, "value", json_boolean(*v != '\0'));
			else if (field_is_numeric(f) && f->type != FT_BOOL)
				json_object_set_new(o, "value", json_integer(strtoll(v, NULL, 10)));
			else if (f->type == FT_BOOL)
				json_object_set_new(o, "value", json_boolean(strtoll(v, NULL, 10)));
			else
				json_object_set_new(o, "value", json_string(v));
			json_object_set_new(o, "default", json_boolean(!set));
			json_object_set_new(o, "help", json_string(f->help));
			if (f->flags & FIELD_UNBUILT)
				json_object_set_new(o, "built", json_false());
			json_array_append_new(arr, o);
		} else {
			char *shown = field_format(f, v);
			for (char *p = shown; *p; p++)
				if (*p == '\n' || *p == '\r')
					*p = ' ';
			const char *row[] = { f->name, shown,
			    (f->flags & FIELD_UNBUILT) ? (set ? "(not built yet)" :
			    "(default; not built yet)") : set ? "" : "(default)" };
			cli_table_row(t, row);
			free(shown);
		}
		free(v);
	}
	if (arr)
		cli_json_print(arr);
	else {
		cli_table_print(t);
		cli_table_free(&t);
	}
	return 0;
}

/* posternd_running - whether a posternd holds the data root's pid lock */
static bool
posternd_running(const char *root)
{
	char *path = xasprintf("%s/run/posternd.pid", root);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool running = false;

	free(path);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		running = true;
	close(fd);
	return running;
}

/* listen_note - listeners are bound once, as root, before a service
 * drops privileges: posternd restarts the service on SIGHUP to bind a
 * changed one; saying so beats a silent no-op (postern status repeats it
 * until then). Nothing to say while posternd is not running: its start
 * binds what is set. */
static void
listen_note(const struct cli *cli, const char *name)
{
	size_t n = strlen(name);

	if (n > 7 && strcmp(name + n - 7, ".listen") == 0 &&
	    posternd_running(cli->root))
		fprintf(stderr, "postern: %s takes effect when its service restarts: "
		    "systemctl reload postern (SIGHUP to posternd) restarts the "
		    "services whose listeners changed\n", name);
}

int
cmd_config(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	const char *err, *verb;
	int r;

	if ((r = cli_parse(argc, argv, NULL, &a)) != 0)
		return r;
	verb = a.npos > 0 ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		printf("usage: postern config list\n"
		    "       postern config get NAME\n"
		    "       postern config set NAME VALUE [NAME VALUE ...]\n"
		    "       postern config unset NAME\n\n"
		    "Global settings. Listeners are NAME.listen = addr:port[,addr:port]\n"
		    "for smtp, submission, smtps, pop3, pop3s, imap, imaps, http, https,\n"
		    "managesieve, xmpp, xmpps. Several pairs given to one `set` are\n"
		    "stored together or, if one is refused, not at all.\n");
		if (a.help)
			cli_fields_help(settings_fields);
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(verb, "list") == 0)
		return config_list(cli);
	if (strcmp(verb, "get") == 0) {
		if (a.npos != 2)
			return cli_usage("usage: postern config get NAME");
		const struct field_def *f = field_find(settings_fields, a.pos[1]);
		char *v;
		if (settings_get(cli->db, a.pos[1], &v, &err) < 0) {
			free(v);
			return cli_error(f ? EXIT_FAIL : EXIT_NOTFOUND, "%s", err);
		}
		/* a secret (smart host password) is never printed: it is
		 * kept only because it must be sent; `list` masks it too */
		bool secret = f != NULL && (f->flags & FIELD_SECRET);
		if (cli->json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(a.pos[1]));
			json_object_set_new(o, "value", secret ?
			    json_boolean(*v != '\0') : json_string(v));
			cli_json_print(o);
		} else if (secret) {
			char *m = field_format(f, v);
			puts(m);
			free(m);
		} else {
			puts(v);
		}
		free(v);
		return 0;
	}
	if (strcmp(verb, "set") == 0) {
		if (a.npos < 3 || a.npos % 2 != 1)
			return cli_usage("usage: postern config set NAME VALUE [NAME VALUE ...]");
		/* several pairs are one change: all of them or none */
		bool many = a.npos > 3;
		if (many && db_begin(cli->db, &err) < 0)
			return cli_error(db_last_error(cli->db) == DB_EBUSY ?
			    EXIT_BUSY : EXIT_FAIL, "%s", err);
		for (size_t i = 1; i + 1 < a.npos; i += 2) {
			if (settings_set(cli->db, a.pos[i], a.pos[i + 1], &err) < 0) {
				/* a storage failure (locked, read-only) is not a
				 * bad value */
				int dberr = db_last_error(cli->db);
				int code = dberr == DB_EBUSY ? EXIT_BUSY :
				    dberr != 0 ? EXIT_FAIL :
				    field_find(settings_fields, a.pos[i]) ?
				    EXIT_USAGE : EXIT_NOTFOUND;
				if (many) {
					db_rollback(cli->db);
					return cli_error(code, "%s (nothing was changed)", err);
				}
				return cli_error(code, "%s", err);
			}
		}
		if (many && db_commit(cli->db, &err) < 0)
			return cli_error(EXIT_FAIL, "%s (nothing was changed)", err);
		for (size_t i = 1; i + 1 < a.npos; i += 2)
			listen_note(cli, a.pos[i]);
		return 0;
	}
	if (strcmp(verb, "unset") == 0) {
		if (a.npos != 2)
			return cli_usage("usage: postern config unset NAME");
		if (settings_unset(cli->db, a.pos[1], &err) < 0) {
			int dberr = db_last_error(cli->db);
			return cli_error(dberr == DB_EBUSY ?
			    EXIT_BUSY : dberr != 0 ? EXIT_FAIL : EXIT_NOTFOUND, "%s", err);
		}
		listen_note(cli, a.pos[1]);
		return 0;
	}
	return cli_usage("unknown config command '%s' (see postern config --help)", verb);
}
