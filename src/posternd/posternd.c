/* posternd - the supervisor: starts, watches and restarts the services */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "daily.h"
#include "dataroot.h"
#include "db.h"
#include "fsutil.h"
#include "log.h"
#include "node.h"
#include "postern-config.h"
#include "qadmin.h"
#include "settings.h"
#include "strutil.h"
#include "traffic.h"
#include "xalloc.h"

#define MAX_SERVICES 32
#define BACKOFF_MAX 60
#define STOP_GRACE 10

struct child {
	char name[32];
	char *path;          /* executable */
	pid_t pid;
	time_t started;
	time_t restart_at;   /* when to start again after a crash */
	int backoff;
	int restarts;
	const char *state;   /* starting, running, restarting, not-built, failed */
	bool reload;         /* stopped by us to bind changed listeners */
	char note[256];
};

static struct child children[MAX_SERVICES];
static size_t nchildren;
static char *root;
static char *bindir;
static bool stopping;
static time_t started_at;
static struct event_base *base;
static char *last_status;   /* the last status.json written */
static struct stat root_st; /* the data root: its owner owns what we make */
static char *queue_root;    /* path.queue, for the traffic samples */
static int64_t sampled;     /* the minute of the last traffic sample */

/* child_report - what service c (process pid) last wrote to
 * run/<name>.json, or NULL (another process's, or none) */
static json_t *
child_report(const struct child *c, pid_t pid)
{
	char *path = xasprintf("%s/run/%s.json", root, c->name);
	struct buf b;
	json_t *rep = NULL;
	json_error_t jerr;

	buf_init(&b, 65536);
	if (file_read(path, &b) == 0)
		rep = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	buf_free(&b);
	free(path);
	if (rep != NULL && json_integer_value(json_object_get(rep, "pid")) != pid) {
		json_decref(rep);
		rep = NULL;
	}
	return rep;
}

/* own - posternd runs as root (the services bind their ports before
 * switching user), but what it creates in the data root (its log, the
 * services' logs, run/) must be the owner's like everything else there:
 * the services reopen these files after a rotation as that user. */
static void
own(int fd, const char *path)
{
	if (geteuid() != 0 || root_st.st_uid == 0)
		return;
	if (fd >= 0)
		(void)!fchown(fd, root_st.st_uid, root_st.st_gid);
	else if (path != NULL)
		(void)!lchown(path, root_st.st_uid, root_st.st_gid);
}

static void
status_write(void)
{
	json_t *o = json_object(), *pd = json_object(), *arr = json_array();
	char *text, *path;

	json_object_set_new(pd, "pid", json_integer(getpid()));
	json_object_set_new(pd, "started", json_integer(started_at));
	json_object_set_new(pd, "version", json_string(POSTERN_VERSION));
	json_object_set_new(o, "posternd", pd);
	for (size_t i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		json_t *s = json_object();
		json_t *listen = json_array();
		const char *state = c->state;
		const char *note = c->note;
		json_t *rep = NULL;

		/* what the service itself reports: its state and addresses */
		if (c->pid > 0)
			rep = child_report(c, c->pid);
		if (rep != NULL) {
			const char *st = json_string_value(json_object_get(rep, "state"));
			const char *n = json_string_value(json_object_get(rep, "note"));
			if (st != NULL)
				state = st;
			if (n != NULL && *n)
				note = n;
			json_t *l = json_object_get(rep, "listen");
			if (json_is_array(l))
				json_array_extend(listen, l);
			l = json_object_get(rep, "listeners");
			if (json_is_array(l))
				json_object_set(s, "listeners", l);
		}
		json_object_set_new(s, "name", json_string(c->name));
		json_object_set_new(s, "state", json_string(state));
		json_object_set_new(s, "pid", json_integer(c->pid));
		json_object_set_new(s, "started", json_integer(c->pid > 0 ? c->started : 0));
		json_object_set_new(s, "restarts", json_integer(c->restarts));
		json_object_set_new(s, "listen", listen);
		json_object_set_new(s, "note", json_string(note));
		json_array_append_new(arr, s);
		json_decref(rep);
	}
	json_object_set_new(o, "services", arr);
	text = json_dumps(o, JSON_INDENT(1));
	json_decref(o);
	path = xasprintf("%s/run/status.json", root);
	/* written on every tick: only when it changed (each write syncs) */
	if (text != NULL && (last_status == NULL || strcmp(text, last_status) != 0 ||
	    access(path, F_OK) < 0)) {
		if (file_write_atomic(path, text, strlen(text), 0644) < 0)
			log_warn("cannot write %s", path);
		own(-1, path);
		free(last_status);
		last_status = text;
		text = NULL;
	}
	free(path);
	free(text);
}

static void
child_start(struct child *c)
{
	char *logpath;
	pid_t pid;
	int fd;

	if (access(c->path, X_OK) < 0) {
		c->state = "not-built";
		snprintf(c->note, sizeof(c->note), "%s is not built yet", c->path);
		c->pid = 0;
		return;
	}
	logpath = xasprintf("%s/log/%s.log", root, c->name);
	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	own(fd, NULL);
	free(logpath);
	pid_t parent = getpid();
	pid = fork();
	if (pid < 0) {
		log_warn("fork for %s", c->name);
		c->restart_at = time(NULL) + 1;
		return;
	}
	if (pid == 0) {
		/* a posternd that dies without stopping its services (kill -9)
		 * takes them with it, so a new one can bind their ports. (A
		 * service that switches user loses this, systemd's KillMode
		 * covers that case.) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		/* the child: stdin from /dev/null, stdout/stderr to its log, so
		 * crashes and sanitizer reports land beside its own lines */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setpgid(0, 0);
		execl(c->path, c->path, "-d", root, (char *)NULL);
		fprintf(stderr, "posternd: exec %s: %s\n", c->path, strerror(errno));
		_exit(127);
	}
	if (fd >= 0)
		close(fd);
	c->pid = pid;
	c->started = time(NULL);
	c->state = "running";
	c->note[0] = '\0';
	log_info("started %s, pid %ld", c->name, (long)pid);
}

/* child_reason - the error a service that died reported in its
 * run/<name>.json ("cannot listen on ... : Address already in use"), so
 * posternd's own output says why, not only "exited with status 1" */
static void
child_reason(const struct child *c, pid_t pid, char *out, size_t size)
{
	json_t *rep = child_report(c, pid);

	out[0] = '\0';
	if (rep != NULL) {
		const char *st = json_string_value(json_object_get(rep, "state"));
		const char *n = json_string_value(json_object_get(rep, "note"));
		if (st != NULL && strcmp(st, "failed") == 0 && n != NULL && *n)
			snprintf(out, size, "%s", n);
	}
	json_decref(rep);
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (daily_reaped(pid, status, time(NULL)))
			continue;
		for (size_t i = 0; i < nchildren; i++) {
			struct child *c = &children[i];
			if (c->pid != pid)
				continue;
			c->pid = 0;
			if (stopping) {
				c->state = "stopped";
				break;
			}
			if (c->reload) {
				/* stopped to bind its new listeners: at once */
				c->reload = false;
				log_info("%s stopped; starting it with its new listeners",
				    c->name);
				child_start(c);
				break;
			}
			char why[200];
			child_reason(c, pid, why, sizeof(why));
			if (WIFSIGNALED(status))
				snprintf(c->note, sizeof(c->note), "killed by signal %d",
				    WTERMSIG(status));
			else
				snprintf(c->note, sizeof(c->note), "exited with status %d%s%s",
				    WEXITSTATUS(status), *why ? ": " : "", why);
			/* restart with backoff; a service that ran for a while
			 * gets a fresh start */
			if (time(NULL) - c->started >= BACKOFF_MAX)
				c->backoff = 0;
			c->backoff = c->backoff ? c->backoff * 2 : 1;
			if (c->backoff > BACKOFF_MAX)
				c->backoff = BACKOFF_MAX;
			c->restart_at = time(NULL) + c->backoff;
			c->restarts++;
			c->state = "restarting";
			log_warnx("%s (pid %ld) %s; restarting in %ds", c->name,
			    (long)pid, c->note, c->backoff);
			break;
		}
	}
	status_write();
}

/* traffic_tick - once a minute, the services' counters and the queue
 * lengths into the traffic ring (traffic.h): the web admin's plots */
static void
traffic_tick(time_t now)
{
	int64_t minute = (int64_t)now / 60, q[TRAFFIC_NQUEUES];

	if (minute == sampled || queue_root == NULL)
		return;
	sampled = minute;
	for (size_t i = 0; i < TRAFFIC_NQUEUES; i++)
		q[i] = -1;
	qadm_count(queue_root, q);
	if (traffic_sample(root, minute, q) < 0)
		log_warn("cannot write the traffic sample in %s/run", root);
	char *path = xasprintf("%s/run/traffic.ring", root);
	own(-1, path);
	free(path);
}

static void on_stop(evutil_socket_t sig, short what, void *arg);

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	if (stopping) {
		bool alive = false;
		for (size_t i = 0; i < nchildren; i++)
			if (children[i].pid > 0)
				alive = true;
		if (!alive || now - (time_t)(intptr_t)arg >= STOP_GRACE) {
			for (size_t i = 0; i < nchildren; i++)
				if (children[i].pid > 0) {
					log_warnx("%s did not stop; killing it", children[i].name);
					kill(-children[i].pid, SIGKILL);
					kill(children[i].pid, SIGKILL);
				}
			event_base_loopexit(base, NULL);
		}
		return;
	}
	for (size_t i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		if (c->pid == 0 && c->restart_at != 0 && now >= c->restart_at) {
			c->restart_at = 0;
			child_start(c);
		}
	}
	daily_tick(now);
	if (node_tick(now) < 0) {
		on_stop(SIGTERM, 0, NULL);
		return;
	}
	status_write();
	traffic_tick(now);
}

static struct event *tick_event;

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	if (stopping)
		return;
	stopping = true;
	log_info("stopping all services (signal %d)", (int)sig);
	for (size_t i = 0; i < nchildren; i++)
		if (children[i].pid > 0)
			kill(children[i].pid, SIGTERM);
	/* from now on the tick counts the grace period */
	event_free(tick_event);
	struct timeval tv = { 0, 100000 };
	tick_event = event_new(base, -1, EV_PERSIST, on_tick,
	    (void *)(intptr_t)time(NULL));
	event_add(tick_event, &tv);
}

/* strv_of - the strings of a JSON array (pointers into it) */
static const char **
strv_of(json_t *arr, size_t *n_r)
{
	const char **v = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	size_t i, n = 0;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (json_is_string(x))
			v[n++] = json_string_value(x);
	*n_r = n;
	return v;
}

/* reload_listeners - SIGHUP: a service whose <name>.listen settings no
 * longer name what it bound is restarted (by us, as root, so it can bind
 * privileged ports again); the others keep running. */
static void
reload_listeners(void)
{
	struct db *db;
	const char *err;

	if (db_open(root, false, &db, &err) < 0) {
		log_warnx("reload: listeners not checked: %s", err);
		return;
	}
	for (size_t i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		json_t *rep = c->pid > 0 && !c->reload ? child_report(c, c->pid) : NULL;
		if (rep == NULL)
			continue;
		size_t nn, nb;
		const char **names = strv_of(json_object_get(rep, "listeners"), &nn);
		const char **bound = strv_of(json_object_get(rep, "listen"), &nb);
		char *changed = settings_listen_changes(db, names, nn, bound, nb);
		if (changed != NULL) {
			log_info("%s: %s changed; restarting it", c->name, changed);
			c->reload = true;
			kill(c->pid, SIGTERM);
			free(changed);
		}
		free(names);
		free(bound);
		json_decref(rep);
	}
	db_close(&db);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	char *logpath = xasprintf("%s/log/posternd.log", root);
	log_reopen();
	own(-1, logpath);
	free(logpath);
	for (size_t i = 0; i < nchildren; i++)
		if (children[i].pid > 0)
			kill(children[i].pid, SIGHUP);
	reload_listeners();
}

/* read_services - the service list from host.conf ("services = a b c"),
 * or from --services. */
static int
read_services(const char *list)
{
	char *copy, *save = NULL, *conf = NULL;
	const char *cerr;

	if (list == NULL) {
		if (dataroot_host_services(root, &conf, &cerr) < 0) {
			log_warnx("%s; running every service", cerr);
			conf = xstrdup(DATAROOT_ALL_SERVICES);
		}
		list = conf;
	}
	copy = xstrdup(list);
	free(conf);
	for (char *t = strtok_r(copy, " \t,", &save); t != NULL;
	     t = strtok_r(NULL, " \t,", &save)) {
		const char *err;
		if (name_check(t, &err) < 0 || strlen(t) >= sizeof(children[0].name)) {
			log_warnx("ignoring bad service name '%s'", t);
			continue;
		}
		if (nchildren == MAX_SERVICES)
			break;
		struct child *c = &children[nchildren++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", t);
		c->path = xasprintf("%s/postern-%s", bindir, t);
		c->state = "starting";
	}
	free(copy);
	return nchildren > 0 ? 0 : -1;
}

static char *
find_bindir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *env = getenv("POSTERN_LIBEXECDIR");

	if (env != NULL && *env)
		return xstrdup(env);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* a build directory: the services sit beside posternd */
			static const char *const probes[] = {
				"postern-smtpd", "postern-imapd", "postern-httpd", NULL
			};
			for (const char *const *p = probes; *p; p++) {
				char *probe = xasprintf("%s/%s", self, *p);
				bool here = access(probe, X_OK) == 0;
				free(probe);
				if (here)
					return xstrdup(self);
			}
		}
	}
	return xstrdup(POSTERN_LIBEXECDIR);
}

/* cli_path - the postern command: installed beside posternd (bindir),
 * and beside it in a build directory too */
static char *
cli_path(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			return xasprintf("%s/postern", self);
		}
	}
	return xstrdup("postern");
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *list = NULL, *err;
	struct db *db;
	int lockfd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--services") == 0 && i + 1 < argc)
			list = argv[++i];
		else if (strcmp(argv[i], "--version") == 0) {
			printf("posternd %s\n", POSTERN_VERSION);
			return 0;
		} else {
			fprintf(stderr,
			    "usage: posternd -d DIR [--services \"smtpd imapd ...\"]\n\n"
			    "Runs the services named in DIR/host.conf in the foreground,\n"
			    "restarts any that die (with backoff), and stops them all on\n"
			    "SIGTERM. SIGHUP makes every service reopen its log and\n"
			    "restarts those whose listener settings changed.\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	root = dataroot_resolve(dir);
	if (root == NULL) {
		fprintf(stderr, "posternd: no data root: give -d DIR or set POSTERN_DIR\n");
		return 2;
	}
	/* refuse a missing or corrupt data root before starting anything */
	if (db_open(root, false, &db, &err) < 0) {
		fprintf(stderr, "posternd: %s\n", err);
		return 6;
	}
	queue_root = settings_queue_path(db);
	db_close(&db);
	(void)stat(root, &root_st);
	/* log/ and run/ are made by init; recreate them if they went */
	for (const char *sub = "log\0run\0"; *sub; sub += strlen(sub) + 1) {
		char *p = path_join(root, sub);
		if (mkdir_p(p, 0750) == 0)
			own(-1, p);
		free(p);
	}
	char *logpath = xasprintf("%s/log/posternd.log", root);
	if (log_init("posternd", logpath, true) < 0) {
		fprintf(stderr, "posternd: cannot open %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	own(-1, logpath);
	free(logpath);
	char *pidpath = xasprintf("%s/run/posternd.pid", root);
	lockfd = open(pidpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	own(lockfd, NULL);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (lockfd < 0)
			log_error("cannot open %s: %s", pidpath, strerror(errno));
		else
			log_error("another posternd runs on %s", root);
		free(pidpath);
		free(root);
		return 1;
	}
	if (ftruncate(lockfd, 0) == 0)
		dprintf(lockfd, "%ld\n", (long)getpid());
	if (geteuid() == 0) {
		/* the pre-login processes' user (lib-service/login.h), for a
		 * data root made before there was one */
		uid_t luid;
		gid_t lgid;
		if (dataroot_login_user(true, &luid, &lgid, &err) < 0)
			log_warnx("%s", err);
	}
	bindir = find_bindir();
	started_at = time(NULL);
	char *clipath = cli_path();
	daily_init(root, clipath);
	free(clipath);
	/* a cluster node (PostgreSQL store): refuse a name in use (the
	 * reason is logged, and on stderr) */
	if (node_start(root) < 0) {
		unlink(pidpath);
		free(pidpath);
		free(bindir);
		free(root);
		return 1;
	}
	if (read_services(list) < 0) {
		node_stop();
		log_error("no services to run");
		unlink(pidpath);
		free(pidpath);
		free(bindir);
		free(root);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	struct event *ev_chld = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	struct event *ev_term = evsignal_new(base, SIGTERM, on_stop, NULL);
	struct event *ev_int = evsignal_new(base, SIGINT, on_stop, NULL);
	struct event *ev_hup = evsignal_new(base, SIGHUP, on_hup, NULL);
	evsignal_add(ev_chld, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	log_info("posternd %s starting %zu services from %s", POSTERN_VERSION,
	    nchildren, bindir);
	for (size_t i = 0; i < nchildren; i++)
		child_start(&children[i]);
	status_write();
	traffic_tick(time(NULL));
	struct timeval tv = { 1, 0 };
	tick_event = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick_event, &tv);
	event_base_dispatch(base);
	/* reap what is left */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (size_t i = 0; i < nchildren; i++) {
		children[i].pid = 0;
		children[i].state = "stopped";
	}
	status_write();
	node_stop();
	unlink(pidpath);
	free(pidpath);
	log_info("stopped");
	event_free(tick_event);
	event_free(ev_chld);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(base);
	for (size_t i = 0; i < nchildren; i++)
		free(children[i].path);
	free(bindir);
	daily_free();
	free(root);
	free(queue_root);
	free(last_status);
	return 0;
}
