/* cmd-queue - postern queue (list, show, retry, delete, release) and
 * postern track: the operator's view of the connector queues */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "fsutil.h"
#include "queue.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

static const char *const connectors[] = { "smtp", "sf", "ls", "pr", NULL };

struct qref {
	char *qpath;      /* the queue directory, or the bad mail directory */
	char *label;      /* "smtp/outgoing", "badmail" */
	const char *state;/* "queued", "active" (claimed), "badmail" */
	char id[QUEUE_ID_MAX + 1];
};

static void
qref_free(struct qref *r)
{
	free(r->qpath);
	free(r->label);
}

static const char *
status_word(enum rcpt_status s)
{
	switch (s) {
	case RCPT_PENDING: return "pending";
	case RCPT_DELIVERED: return "delivered";
	case RCPT_DEFERRED: return "deferred";
	case RCPT_FAILED: return "failed";
	}
	return "?";
}

/* load_env - read an envelope file */
static int
load_env(const char *path, struct queue_env *env, const char **error_r)
{
	struct buf b;
	int r;

	buf_init(&b, QUEUE_ENV_MAX);
	if (file_read(path, &b) < 0) {
		buf_free(&b);
		*error_r = strerror(errno);
		return -1;
	}
	r = queue_env_parse(b.data ? b.data : "", b.len, env, error_r);
	buf_free(&b);
	return r;
}

/* each_item - call fn for every item of every queue and bad mail */
static int
each_item(const char *root, int (*fn)(const struct qref *, void *), void *ctx)
{
	static const char *const subs[] = { "new", "cur" };
	int r = 0;

	for (const char *const *c = connectors; *c && r == 0; c++) {
		for (int d = 0; d < 2 && r == 0; d++) {
			char *qp = queue_path(root, *c, d == 0 ? QUEUE_INBOUND : QUEUE_OUTGOING);
			for (int s = 0; s < 2 && r == 0; s++) {
				char *dir = path_join(qp, subs[s]);
				DIR *dh = opendir(dir);
				struct dirent *e;
				while (dh != NULL && r == 0 && (e = readdir(dh)) != NULL) {
					size_t len = strlen(e->d_name);
					if (len < 5 || strcmp(e->d_name + len - 4, ".env") != 0 ||
					    len - 4 > QUEUE_ID_MAX)
						continue;
					struct qref ref = { 0 };
					ref.qpath = xstrdup(qp);
					ref.label = xasprintf("%s/%s", *c, d == 0 ? "inbound" : "outgoing");
					ref.state = s == 0 ? "queued" : "active";
					memcpy(ref.id, e->d_name, len - 4);
					ref.id[len - 4] = '\0';
					r = fn(&ref, ctx);
					qref_free(&ref);
				}
				if (dh != NULL)
					closedir(dh);
				free(dir);
			}
			free(qp);
		}
	}
	char *bad = path_join(root, "badmail");
	DIR *dh = opendir(bad);
	struct dirent *e;
	while (dh != NULL && r == 0 && (e = readdir(dh)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".env") != 0 ||
		    len - 4 > QUEUE_ID_MAX)
			continue;
		struct qref ref = { 0 };
		ref.qpath = xstrdup(bad);
		ref.label = xstrdup("badmail");
		ref.state = "badmail";
		memcpy(ref.id, e->d_name, len - 4);
		ref.id[len - 4] = '\0';
		r = fn(&ref, ctx);
		qref_free(&ref);
	}
	if (dh != NULL)
		closedir(dh);
	free(bad);
	return r;
}

static char *
env_path_of(const struct qref *ref)
{
	if (strcmp(ref->state, "badmail") == 0)
		return xasprintf("%s/%s.env", ref->qpath, ref->id);
	return xasprintf("%s/%s/%s.env", ref->qpath,
	    strcmp(ref->state, "active") == 0 ? "cur" : "new", ref->id);
}

static char *
msg_path_of(const struct qref *ref)
{
	if (strcmp(ref->state, "badmail") == 0)
		return xasprintf("%s/%s.msg", ref->qpath, ref->id);
	return xasprintf("%s/%s/%s.msg", ref->qpath,
	    strcmp(ref->state, "active") == 0 ? "cur" : "new", ref->id);
}

/* queue_name_valid - "badmail" or "<conn>/inbound|outgoing" */
static bool
queue_name_valid(const char *name)
{
	if (strcmp(name, "badmail") == 0)
		return true;
	for (const char *const *c = connectors; *c; c++) {
		size_t n = strlen(*c);
		if (strncmp(name, *c, n) == 0 && name[n] == '/' &&
		    (strcmp(name + n + 1, "inbound") == 0 ||
		    strcmp(name + n + 1, "outgoing") == 0))
			return true;
	}
	return false;
}

struct list_ctx {
	struct cli *cli;
	json_t *arr;
	struct cli_table *t;
	const char *filter;   /* only this queue label, or NULL */
	size_t count;
};

static int
list_one(const struct qref *ref, void *arg)
{
	struct list_ctx *c = arg;
	struct queue_env env;
	const char *err;
	char *path = env_path_of(ref), *mpath = msg_path_of(ref);
	struct stat st;
	long long size = stat(mpath, &st) == 0 ? (long long)st.st_size : -1;

	free(mpath);
	if (c->filter != NULL && strcmp(c->filter, ref->label) != 0 &&
	    !(strcmp(c->filter, "badmail") == 0 && strcmp(ref->state, "badmail") == 0)) {
		free(path);
		return 0;
	}
	int r = load_env(path, &env, &err);
	free(path);
	if (r < 0)
		queue_env_init(&env, ref->id);
	c->count++;
	if (c->arr != NULL) {
		json_t *o = json_object(), *rc = json_array();
		json_object_set_new(o, "id", json_string(ref->id));
		json_object_set_new(o, "queue", json_string(ref->label));
		json_object_set_new(o, "state", json_string(ref->state));
		json_object_set_new(o, "arrival", json_integer(env.arrival));
		json_object_set_new(o, "sender", json_string(env.sender ? env.sender : ""));
		json_object_set_new(o, "size", json_integer(size));
		if (r < 0)
			json_object_set_new(o, "error", json_string(err));
		for (size_t i = 0; i < env.nrcpts; i++) {
			json_t *x = json_object();
			json_object_set_new(x, "address", json_string(env.rcpts[i].address));
			json_object_set_new(x, "status", json_string(status_word(env.rcpts[i].status)));
			json_object_set_new(x, "attempts", json_integer(env.rcpts[i].attempts));
			json_object_set_new(x, "next_attempt", json_integer(env.rcpts[i].next_attempt));
			json_object_set_new(x, "last_error", env.rcpts[i].last_error ?
			    json_string(env.rcpts[i].last_error) : json_null());
			json_array_append_new(rc, x);
		}
		json_object_set_new(o, "recipients", rc);
		json_array_append_new(c->arr, o);
	} else {
		char when[32], sz[32], nr[16];
		time_t t = env.arrival;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(sz, sizeof(sz), "%lld", size);
		snprintf(nr, sizeof(nr), "%zu", env.nrcpts);
		const char *first = env.nrcpts ? env.rcpts[0].address : "";
		const char *last = env.nrcpts && env.rcpts[0].last_error ?
		    env.rcpts[0].last_error : r < 0 ? err : "";
		const char *row[] = { ref->id, ref->label, ref->state, when,
		    env.sender && *env.sender ? env.sender : "<>", first, nr, sz, last };
		cli_table_row(c->t, row);
	}
	queue_env_free(&env);
	return 0;
}

struct find_ctx {
	const char *id;
	struct qref found;
	bool ok;
};

static int
find_one(const struct qref *ref, void *arg)
{
	struct find_ctx *f = arg;

	if (strcmp(ref->id, f->id) != 0)
		return 0;
	f->found.qpath = xstrdup(ref->qpath);
	f->found.label = xstrdup(ref->label);
	f->found.state = ref->state;
	snprintf(f->found.id, sizeof(f->found.id), "%s", ref->id);
	f->ok = true;
	return 1;
}

static int
queue_show(struct cli *cli, const char *root, const char *id)
{
	struct find_ctx f = { .id = id };
	struct queue_env env;
	const char *err;

	each_item(root, find_one, &f);
	if (!f.ok)
		return cli_error(EXIT_NOTFOUND, "no queue item %s", id);
	char *ep = env_path_of(&f.found), *mp = msg_path_of(&f.found);
	if (load_env(ep, &env, &err) < 0) {
		int r = cli_error(EXIT_FAIL, "%s: %s", ep, err);
		free(ep);
		free(mp);
		qref_free(&f.found);
		return r;
	}
	struct buf head;
	buf_init(&head, 64 * 1024);
	FILE *m = fopen(mp, "r");
	char line[1024];
	while (m != NULL && fgets(line, sizeof(line), m) != NULL) {
		if (line[0] == '\r' || line[0] == '\n')
			break;
		if (buf_puts(&head, line) < 0)
			break;
	}
	if (m != NULL)
		fclose(m);
	char *reason = NULL;
	if (strcmp(f.found.state, "badmail") == 0) {
		char *rp = xasprintf("%s/%s.reason", f.found.qpath, id);
		struct buf rb;
		buf_init(&rb, 65536);
		if (file_read(rp, &rb) == 0)
			reason = buf_steal(&rb);
		buf_free(&rb);
		free(rp);
	}
	if (cli->json) {
		json_t *o = json_object(), *rc = json_array();
		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "queue", json_string(f.found.label));
		json_object_set_new(o, "state", json_string(f.found.state));
		json_object_set_new(o, "sender", json_string(env.sender));
		json_object_set_new(o, "arrival", json_integer(env.arrival));
		json_object_set_new(o, "auth_user", env.auth_user ? json_string(env.auth_user) : json_null());
		json_object_set_new(o, "client", env.client_addr ? json_string(env.client_addr) : json_null());
		json_object_set_new(o, "origin", env.origin ? json_string(env.origin) : json_null());
		json_object_set_new(o, "headers", json_string(head.data ? head.data : ""));
		if (reason)
			json_object_set_new(o, "reason", json_string(reason));
		for (size_t i = 0; i < env.nrcpts; i++) {
			json_t *x = json_object();
			json_object_set_new(x, "address", json_string(env.rcpts[i].address));
			json_object_set_new(x, "status", json_string(status_word(env.rcpts[i].status)));
			json_object_set_new(x, "attempts", json_integer(env.rcpts[i].attempts));
			json_object_set_new(x, "last_error", env.rcpts[i].last_error ?
			    json_string(env.rcpts[i].last_error) : json_null());
			json_array_append_new(rc, x);
		}
		json_object_set_new(o, "recipients", rc);
		cli_json_print(o);
	} else {
		printf("id:       %s\nqueue:    %s (%s)\nsender:   <%s>\n", id,
		    f.found.label, f.found.state, env.sender);
		printf("client:   %s %s\nauth:     %s\n",
		    env.client_addr ? env.client_addr : "-",
		    env.client_helo ? env.client_helo : "",
		    env.auth_user ? env.auth_user : "-");
		if (env.origin != NULL)
			printf("origin:   %s\n", env.origin);
		if (reason)
			printf("reason:   %s", reason);
		for (size_t i = 0; i < env.nrcpts; i++)
			printf("rcpt:     %s  %s  attempts %d%s%s\n", env.rcpts[i].address,
			    status_word(env.rcpts[i].status), env.rcpts[i].attempts,
			    env.rcpts[i].last_error ? "  " : "",
			    env.rcpts[i].last_error ? env.rcpts[i].last_error : "");
		printf("\n%s", head.data ? head.data : "");
	}
	free(reason);
	buf_free(&head);
	queue_env_free(&env);
	free(ep);
	free(mp);
	qref_free(&f.found);
	return 0;
}

/* queue_act - retry, delete or release one item. Only items waiting in
 * new/ or bad mail are touched: an item a service holds (active) is left
 * alone with a message, so nothing races a delivery in progress. */
static int
queue_act(struct cli *cli, const struct cli_args *a, const char *root,
	  const char *verb, const char *id)
{
	struct find_ctx f = { .id = id };
	struct queue_item item;
	json_t *removal = NULL;
	const char *err;
	int r;

	each_item(root, find_one, &f);
	if (!f.ok)
		return cli_error(EXIT_NOTFOUND, "no queue item %s", id);
	if (strcmp(f.found.state, "active") == 0) {
		qref_free(&f.found);
		return cli_error(EXIT_FAIL, "%s is being processed right now; try again", id);
	}
	if (strcmp(verb, "delete") == 0) {
		/* the message is lost for every recipient still waiting: say
		 * so and ask (or --yes), like every command that removes mail */
		char *mp = msg_path_of(&f.found);
		struct stat st;
		removal = cli_removal_new("queue item", id);
		cli_removal_count(removal, "messages", 1);
		cli_removal_count(removal, "bytes", stat(mp, &st) == 0 ?
		    (long long)st.st_size : 0);
		free(mp);
		if ((r = cli_confirm(cli, a, removal)) != 0) {
			json_decref(removal);
			qref_free(&f.found);
			return r;
		}
	}
	bool bad = strcmp(f.found.state, "badmail") == 0;
	if (bad) {
		char *ep = env_path_of(&f.found), *mp = msg_path_of(&f.found);
		if (strcmp(verb, "delete") == 0) {
			char *rp = xasprintf("%s/%s.reason", f.found.qpath, id);
			unlink(ep);
			unlink(mp);
			unlink(rp);
			free(rp);
			cli_removed(cli, removal);
			removal = NULL;
			r = 0;
		} else {
			/* release or retry: back to the MTA through smtp/inbound */
			struct queue_env env;
			if (load_env(ep, &env, &err) < 0) {
				r = cli_error(EXIT_FAIL, "%s: %s", ep, err);
			} else {
				for (size_t i = 0; i < env.nrcpts; i++)
					if (env.rcpts[i].status != RCPT_DELIVERED) {
						env.rcpts[i].status = RCPT_PENDING;
						env.rcpts[i].next_attempt = 0;
					}
				char *q = queue_path(root, "smtp", QUEUE_INBOUND);
				r = queue_put_file(q, mp, &env, &err);
				free(q);
				if (r < 0)
					r = cli_error(EXIT_FAIL, "release %s: %s", id, err);
				else {
					char *rp = xasprintf("%s/%s.reason", f.found.qpath, id);
					unlink(ep);
					unlink(mp);
					unlink(rp);
					free(rp);
				}
				queue_env_free(&env);
			}
		}
		free(ep);
		free(mp);
		qref_free(&f.found);
		return r;
	}
	r = queue_claim(f.found.qpath, id, &item, &err);
	if (r <= 0) {
		qref_free(&f.found);
		if (r == 0)
			return cli_error(EXIT_FAIL, "%s was taken by a service; try again", id);
		/* unreadable: put it back where it was for its consumer to
		 * quarantine, unless the order was to delete it */
		int code = cli_error(EXIT_FAIL, "%s: %s", id, err);
		const char *e2;
		if (strcmp(verb, "delete") == 0 && queue_item_done(&item, &e2) == 0) {
			code = 0;
			cli_removed(cli, removal);
			removal = NULL;
		} else
			queue_item_release(&item, &e2);
		queue_item_free(&item);
		json_decref(removal);
		return code;
	}
	if (strcmp(verb, "delete") == 0) {
		if ((r = queue_item_done(&item, &err)) == 0) {
			cli_removed(cli, removal);
			removal = NULL;
		}
	} else if (strcmp(verb, "retry") == 0) {
		for (size_t i = 0; i < item.env.nrcpts; i++)
			if (item.env.rcpts[i].status == RCPT_DEFERRED)
				item.env.rcpts[i].next_attempt = 0;
		r = queue_item_update(&item, &err);
		if (r == 0)
			r = queue_item_release(&item, &err);
	} else {
		/* release applies to bad mail only */
		queue_item_release(&item, &err);
		queue_item_free(&item);
		qref_free(&f.found);
		return cli_error(EXIT_USAGE, "release takes an item in bad mail; %s is queued", id);
	}
	queue_item_free(&item);
	qref_free(&f.found);
	json_decref(removal);
	if (r < 0)
		return cli_error(EXIT_FAIL, "%s %s: %s", verb, id, err);
	return 0;
}

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "queue=", CLI_YES_OPTION, NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	const char *verb = a.npos ? a.pos[0] : NULL;
	if (a.help || verb == NULL) {
		printf("usage: postern queue list [QUEUE]   (QUEUE: badmail, smtp/outgoing, ...;\n"
		    "                                     also --queue QUEUE)\n"
		    "       postern queue show ID\n"
		    "       postern queue retry ID     (deferred recipients: now)\n"
		    "       postern queue delete ID [--yes]   (asks on a terminal)\n"
		    "       postern queue release ID   (bad mail back to the MTA)\n\n"
		    "The connector queues (smtp, sf = post office, ls = list server,\n"
		    "pr = POP retrieval; inbound and outgoing, relative to the MTA)\n"
		    "and the bad-mail quarantine. Items a service is processing are\n"
		    "shown as active and are not changed.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	char *root = settings_queue_path(cli->db);
	if (strcmp(verb, "list") == 0) {
		const char *hdr[] = { "ID", "QUEUE", "STATE", "ARRIVED (UTC)", "SENDER",
		    "RECIPIENT", "RCPTS", "SIZE", "LAST ERROR" };
		struct list_ctx c = { .cli = cli, .filter = cli_opt(&a, "queue") };
		/* `queue list badmail` (what diag advises) = --queue badmail */
		if (c.filter == NULL && a.npos == 2)
			c.filter = a.pos[1];
		if (a.npos > 2 || (a.npos == 2 && cli_opt(&a, "queue") != NULL)) {
			free(root);
			return cli_usage("usage: postern queue list [QUEUE | --queue QUEUE]");
		}
		if (c.filter != NULL && !queue_name_valid(c.filter)) {
			free(root);
			return cli_usage("unknown queue '%s': give badmail or CONN/inbound "
			    "or CONN/outgoing with CONN one of smtp, sf, ls, pr", c.filter);
		}
		if (cli->json)
			c.arr = json_array();
		else
			c.t = cli_table_new(9, hdr);
		each_item(root, list_one, &c);
		if (c.arr)
			cli_json_print(c.arr);
		else {
			if (c.count)
				cli_table_print(c.t);
			else
				printf("the queues are empty\n");
			cli_table_free(&c.t);
		}
		free(root);
		return 0;
	}
	if (a.npos != 2) {
		free(root);
		return cli_usage("usage: postern queue %s ID", verb);
	}
	if (strcmp(verb, "show") == 0)
		r = queue_show(cli, root, a.pos[1]);
	else if (!strcmp(verb, "retry") || !strcmp(verb, "delete") || !strcmp(verb, "release"))
		r = queue_act(cli, &a, root, verb, a.pos[1]);
	else
		r = cli_usage("unknown queue command '%s' (see postern queue --help)", verb);
	free(root);
	return r;
}

/* ---- track ---- */

struct track_line {
	char *text;
};

static int
cmp_line(const void *a, const void *b)
{
	/* lines start with an ISO time: text order is time order */
	return strcmp(((const struct track_line *)a)->text,
	    ((const struct track_line *)b)->text);
}

/* base_id - the queue id without a split suffix */
static void
base_id(const char *id, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(id, "."), id);
}

static bool
looks_like_id(const char *s)
{
	if (strlen(s) < QUEUE_ID_LEN)
		return false;
	for (int i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[QUEUE_ID_LEN] == '\0' || s[QUEUE_ID_LEN] == '.';
}

/* ids_in - queue ids (16 upper-case hex digits) mentioned in a line */
static void
ids_in(const char *line, char ***ids, size_t *n)
{
	for (const char *p = line; *p; p++) {
		if (p != line && ((p[-1] >= '0' && p[-1] <= '9') || (p[-1] >= 'A' && p[-1] <= 'F')))
			continue;
		int k = 0;
		while (k < QUEUE_ID_LEN && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'A' && p[k] <= 'F')))
			k++;
		if (k != QUEUE_ID_LEN || (p[k] >= '0' && p[k] <= '9') || (p[k] >= 'A' && p[k] <= 'F'))
			continue;
		bool seen = false;
		for (size_t i = 0; i < *n; i++)
			if (strncmp((*ids)[i], p, QUEUE_ID_LEN) == 0)
				seen = true;
		if (!seen && *n < 1000) {
			*ids = xreallocarray(*ids, *n + 1, sizeof(char *));
			(*ids)[(*n)++] = xstrndup(p, QUEUE_ID_LEN);
		}
	}
}

#define TRACK_LOG_MAX (512 * 1024 * 1024)

/* is_log_name - a service log or a rotated one: X.log, X.log.1,
 * X.log.2.gz, X.log-20261207(.gz) */
static bool
is_log_name(const char *name)
{
	const char *p = strstr(name, ".log");

	if (p == NULL || p == name)
		return false;
	return p[4] == '\0' || p[4] == '.' || p[4] == '-';
}

/* read_gzip - a compressed log, through gzip -dc (no shell), bounded by
 * b's limit */
static int
read_gzip(const char *path, struct buf *b)
{
	int fds[2];
	pid_t pid;
	char chunk[65536];
	ssize_t n;
	int st, r = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -1;
			break;
		}
		if (r == 0 && buf_append(b, chunk, (size_t)n) < 0)
			r = -1;   /* over the bound: keep draining */
	}
	close(fds[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		r = b->len > 0 ? r : -1;
	return r;
}

int
cmd_track(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, NULL, &a)) != 0)
		return r;
	if (a.help || a.npos != 1) {
		printf("usage: postern track QUEUE-ID | MESSAGE-ID | ADDRESS\n\n"
		    "Prints a message's path through every service (smtpd, mta,\n"
		    "deliver, smtp-out, ...) from their logs, in time order, and\n"
		    "where it is now if it is still queued. A Message-ID or an\n"
		    "address finds every queue id it appears with.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if (cli->root == NULL)
		return cli_error(EXIT_NOROOT, "no data root: give -d DIR or set POSTERN_DIR");
	const char *key = a.pos[0];
	char **ids = NULL;
	size_t nids = 0;
	char *logdir = path_join(cli->root, "log");
	DIR *d = opendir(logdir);
	if (d == NULL) {
		free(logdir);
		return cli_error(EXIT_NOROOT, "no logs under %s", cli->root);
	}
	/* read every service log once, rotated ones too */
	struct buf all;
	buf_init(&all, 0);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_log_name(e->d_name))
			continue;
		char *p = path_join(logdir, e->d_name);
		struct buf b;
		buf_init(&b, TRACK_LOG_MAX);
		size_t len = strlen(e->d_name);
		int rr = len > 3 && strcmp(e->d_name + len - 3, ".gz") == 0 ?
		    read_gzip(p, &b) : file_read(p, &b);
		if (rr == 0 && b.len > 0) {
			buf_append(&all, b.data, b.len);
			if (b.data[b.len - 1] != '\n')
				buf_putc(&all, '\n');
		}
		buf_free(&b);
		free(p);
	}
	closedir(d);
	free(logdir);
	if (looks_like_id(key)) {
		char bid[QUEUE_ID_MAX + 1];
		base_id(key, bid, sizeof(bid));
		ids = xcalloc(1, sizeof(char *));
		ids[nids++] = xstrdup(bid);
	} else {
		/* a Message-ID or an address: the ids on lines that mention it */
		for (char *line = all.data; line && *line; ) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (strcasestr(line, key) != NULL)
				ids_in(line, &ids, &nids);
			if (nl)
				*nl = '\n';
			line = nl ? nl + 1 : NULL;
		}
	}
	struct track_line *lines = NULL;
	size_t nlines = 0;
	for (char *line = all.data; line && *line; ) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		for (size_t i = 0; i < nids; i++) {
			if (memmem(line, len, ids[i], strlen(ids[i])) != NULL) {
				lines = xreallocarray(lines, nlines + 1, sizeof(*lines));
				lines[nlines++].text = xstrndup(line, len);
				break;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	buf_free(&all);
	if (nlines > 1)
		qsort(lines, nlines, sizeof(*lines), cmp_line);
	/* where it is now */
	json_t *now = json_array();
	if ((r = cli_open(cli)) == 0) {
		char *root = settings_queue_path(cli->db);
		for (size_t i = 0; i < nids; i++) {
			struct list_ctx c = { .cli = cli, .arr = json_array() };
			each_item(root, list_one, &c);
			size_t k;
			json_t *it;
			json_array_foreach(c.arr, k, it) {
				char bid[QUEUE_ID_MAX + 1];
				base_id(json_string_value(json_object_get(it, "id")), bid, sizeof(bid));
				if (strcmp(bid, ids[i]) == 0)
					json_array_append(now, it);
			}
			json_decref(c.arr);
		}
		free(root);
	}
	bool found = nlines > 0 || json_array_size(now) > 0;
	if (cli->json) {
		json_t *o = json_object(), *ia = json_array(), *la = json_array();
		for (size_t i = 0; i < nids; i++)
			json_array_append_new(ia, json_string(ids[i]));
		for (size_t i = 0; i < nlines; i++)
			json_array_append_new(la, json_string(lines[i].text));
		json_object_set_new(o, "ids", ia);
		json_object_set_new(o, "log", la);
		json_object_set_new(o, "queued", now);
		cli_json_print(o);
	} else {
		for (size_t i = 0; i < nlines; i++)
			printf("%s\n", lines[i].text);
		size_t k;
		json_t *it;
		json_array_foreach(now, k, it)
			printf("now: %s in %s (%s)\n",
			    json_string_value(json_object_get(it, "id")),
			    json_string_value(json_object_get(it, "queue")),
			    json_string_value(json_object_get(it, "state")));
	}
	if (!cli->json)
		json_decref(now);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].text);
	free(lines);
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	if (!found)
		return cli_error(EXIT_NOTFOUND, "%s not found: no log line (rotated "
		    "logs included) and no queued item mentions it", key);
	return 0;
}
