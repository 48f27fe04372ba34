/* service - the common main of every Postern service process */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "addrtab.h"
#include "dataroot.h"
#include "fsutil.h"
#include "log.h"
#include "login.h"
#include "logins.h"
#include "service.h"
#include "settings.h"
#include "strutil.h"
#include "throttle.h"
#include "traffic.h"
#include "workers.h"
#include "xalloc.h"

#define CONN_BUCKETS 4096

struct conn_count {
	struct conn_count *next;
	char addr[ADDRTAB_KEY_MAX];     /* an address, or a key of logins.c */
	int n;
};

static struct conn_count *conn_table[CONN_BUCKETS];
static size_t conn_total;
static struct addrtab *conn_shared; /* pre-forked processes: one table */

static unsigned
conn_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CONN_BUCKETS;
}

/* count_acquire - one more on key's counter unless it holds limit (0: no
 * limit); the counters of every process of the service when shared */
static bool
count_acquire(const char *key, int limit)
{
	struct conn_count *c;
	unsigned h;

	if (conn_shared != NULL) {
		/* every process of the service counts in one table */
		bool ok = true;
		addrtab_lock(conn_shared);
		struct addrtab_ent *e = addrtab_find(conn_shared, key, true,
		    NULL);
		/* e NULL: the slots of its hash all hold other keys with
		 * connections: let it in, uncounted */
		if (e != NULL && limit > 0 && e->n >= limit)
			ok = false;
		else if (e != NULL)
			e->n++;
		addrtab_unlock(conn_shared);
		return ok;
	}
	h = conn_hash(key);
	for (c = conn_table[h]; c != NULL; c = c->next)
		if (strcmp(c->addr, key) == 0)
			break;
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		snprintf(c->addr, sizeof(c->addr), "%s", key);
		c->next = conn_table[h];
		conn_table[h] = c;
	}
	if (limit > 0 && c->n >= limit)
		return false;
	c->n++;
	return true;
}

/* count_release - one less on key's counter */
static void
count_release(const char *key)
{
	struct conn_count **pp, *c;

	if (conn_shared != NULL) {
		addrtab_lock(conn_shared);
		struct addrtab_ent *e = addrtab_find(conn_shared, key, false,
		    NULL);
		if (e != NULL && e->n > 0)
			e->n--;
		addrtab_unlock(conn_shared);
		return;
	}
	for (pp = &conn_table[conn_hash(key)]; (c = *pp) != NULL; pp = &c->next) {
		if (strcmp(c->addr, key) != 0)
			continue;
		if (c->n > 0)
			c->n--;
		if (c->n == 0) {
			*pp = c->next;
			free(c);
		}
		return;
	}
}

bool
service_conn_acquire(struct service *svc, const struct sockaddr *sa, int limit)
{
	char addr[64];

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (!count_acquire(addr, limit))
		return false;
	conn_total++;
	return true;
}

void
service_conn_release(struct service *svc, const struct sockaddr *sa)
{
	char addr[64];

	sockaddr_ntop(sa, addr, sizeof(addr));
	count_release(addr);
	if (conn_total > 0)
		conn_total--;
}

bool
service_count_acquire(struct service *svc, const char *key, int limit)
{
	return count_acquire(key, limit);
}

void
service_count_release(struct service *svc, const char *key)
{
	count_release(key);
}

size_t
service_conn_total(struct service *svc)
{
	return conn_total;
}

void
service_set_state(struct service *svc, const char *state, const char *note)
{
	if (svc->worker != 0)
		return;   /* the main process speaks for the service (not a
			   * worker, not the pre-login process: -1) */
	json_t *o = json_object(), *l = json_array();
	char *path, *text;

	for (size_t i = 0; i < svc->nlisteners; i++) {
		char a[96], *s;
		netaddr_format(&svc->listeners[i].addr, a, sizeof(a));
		s = xasprintf("%s=%s", svc->listeners[i].name, a);
		json_array_append_new(l, json_string(s));
		free(s);
	}
	json_object_set_new(o, "name", json_string(svc->def->name));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "started", json_integer(svc->started));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "listen", l);
	/* the listener names it serves, bound or empty (posternd restarts it
	 * on SIGHUP when one of their settings changed) */
	json_t *names = json_array();
	for (const char *const *n = svc->def->listeners; n && *n; n++)
		json_array_append_new(names, json_string(*n));
	json_object_set_new(o, "listeners", names);
	json_object_set_new(o, "note", json_string(note ? note : ""));
	svc->state_reported = true;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	path = xasprintf("%s/run/%s.json", svc->root, svc->def->name);
	if (text == NULL || file_write_atomic(path, text, strlen(text), 0644) < 0)
		log_warn("cannot write %s", path);
	free(path);
	free(text);
}

void
service_log_level(const struct settings *st)
{
	log_set_level(getenv("POSTERN_DEBUG") != NULL ||
	    st->log_level == LOG_LEVEL_DEBUG ? LOG_LVL_DEBUG :
	    st->log_level == LOG_LEVEL_WARNING ? LOG_LVL_WARN :
	    st->log_level == LOG_LEVEL_ERROR ? LOG_LVL_ERROR : LOG_LVL_INFO);
}

const struct settings *
service_settings(struct service *svc)
{
	if (svc->db != NULL)
		return settings_current(svc->db);
	if (svc->snap_st == NULL)
		svc->snap_st = settings_from_pairs((const char *const *)svc->snap,
		    svc->nsnap);
	return svc->snap_st;
}

void
service_stop(struct service *svc)
{
	svc->stopping = true;
	event_base_loopexit(svc->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;

	for (size_t i = 0; i < svc->nworkers; i++)
		if (svc->workers[i] > 0)
			kill(svc->workers[i], (int)sig);
	if (sig == SIGHUP) {
		workers_signal(SIGHUP);   /* the queue consumers' workers */
		log_reopen();
		log_info("reopened the log");
		if (svc->login != NULL)
			login_hup(svc);
		return;
	}
	log_info("stopping on signal %d", (int)sig);
	if (svc->def->shutdown != NULL)
		svc->def->shutdown(svc);
	service_stop(svc);
}

static void
on_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct service_listener *l = arg;

	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	l->svc->def->accept(l->svc, l, fd, sa, (socklen_t)salen);
}

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

static void
on_accept_error(struct evconnlistener *ev, void *arg)
{
	struct service_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: pause accepting for a moment rather than spin */
	log_warnx("accept on %s: %s", l->name, evutil_socket_error_to_string(err));
	evconnlistener_disable(ev);
	struct timeval tv = { 1, 0 };
	event_base_once(l->svc->base, -1, EV_TIMEOUT, on_accept_resume, ev, &tv);
}

static int
bind_listeners(struct service *svc, const char **error_r)
{
	static char err[512];
	const char *e;

	*error_r = err;
	for (const char *const *n = svc->def->listeners; n && *n; n++) {
		char *key = xasprintf("%s.listen", *n);
		char *spec;
		struct netaddr *list;
		size_t cnt;
		if (settings_get(svc->db, key, &spec, &e) < 0) {
			snprintf(err, sizeof(err), "%s", e);
			free(key);
			free(spec);
			return -1;
		}
		if (netaddr_parse_list(spec, &list, &cnt, &e) < 0) {
			snprintf(err, sizeof(err), "%s = %s: %s", key, spec, e);
			free(key);
			free(spec);
			return -1;
		}
		free(key);
		free(spec);
		for (size_t i = 0; i < cnt; i++) {
			int fd = netaddr_listen(&list[i], 1024);
			if (fd < 0) {
				char a[96];
				netaddr_format(&list[i], a, sizeof(a));
				snprintf(err, sizeof(err), "cannot listen on %s (%s.listen): %s",
				    a, *n, strerror(errno));
				free(list);
				return -1;
			}
			svc->listeners = xreallocarray(svc->listeners,
			    svc->nlisteners + 1, sizeof(*svc->listeners));
			struct service_listener *l = &svc->listeners[svc->nlisteners++];
			memset(l, 0, sizeof(*l));
			l->name = *n;
			l->addr = list[i];
			l->fd = fd;
			l->svc = svc;
		}
		free(list);
	}
	return 0;
}

/* drop_privileges - a service started as root becomes the owner of the
 * data root (when that is not root): dataroot_become_owner, the one switch
 * the CLI makes too. */
static int
drop_privileges(struct service *svc)
{
	const char *err;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	switch (dataroot_become_owner(svc->root, &uid, &gid, &err)) {
	case 0:
		log_info("running as root: chown the data root to an unprivileged "
		    "user to have services drop privileges");
		return 0;
	case 1:
		log_info("dropped privileges to uid %ld gid %ld", (long)uid,
		    (long)gid);
		return 0;
	default:
		log_warnx("%s", err);
		return -1;
	}
}

/* raise_fd_limit - every connection is a descriptor: take the whole hard
 * limit of RLIMIT_NOFILE, not the soft one a service manager hands down
 * (systemd's 1024 would refuse the 1,000th IMAP client with EMFILE).
 * Nothing here uses select(), so descriptors past FD_SETSIZE are fine. */
static void
raise_fd_limit(const char *name)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("%s: cannot raise the open files limit from %llu", name,
		    (unsigned long long)was);
		return;
	}
	log_info("open files limit raised from %llu to %llu (the hard limit)",
	    (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

/* on_child - a worker process died: unless we are stopping, the whole
 * service exits so that posternd restarts it cleanly (the other workers
 * follow through their parent-death signal). */
static void
on_child(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < svc->nworkers; i++)
			if (svc->workers[i] == pid)
				svc->workers[i] = 0;
		if (!svc->stopping) {
			log_warnx("worker process %ld died (status %d); restarting the "
			    "service", (long)pid, status);
			service_set_state(svc, "failed", "a worker process died");
			exit(1);
		}
	}
}

/* fork_workers - n - 1 more processes serving the same listeners. The
 * database connection must not cross a fork: it is closed before and
 * opened again in every process. */
static int
fork_workers(struct service *svc, int n, const char **error_r)
{
	pid_t parent = getpid();

	db_close(&svc->db);
	/* after the pre-login process, if any (login_start) */
	svc->workers = xreallocarray(svc->workers, svc->nworkers + (size_t)n,
	    sizeof(pid_t));
	for (int i = 1; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			log_warn("fork of worker %d", i);
			break;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(0);
			free(svc->workers);
			svc->workers = NULL;
			svc->nworkers = 0;
			svc->worker = i;
			break;
		}
		svc->workers[svc->nworkers++] = pid;
	}
	return db_open(svc->root, false, &svc->db, error_r);
}

int
service_main(int argc, char **argv, const struct service_def *def)
{
	struct service svc;
	const char *err, *dir = NULL;
	char *logpath;
	int opt;

	memset(&svc, 0, sizeof(svc));
	svc.def = def;
	svc.started = time(NULL);
	while ((opt = getopt(argc, argv, "d:")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr, "usage: postern-%s -d DIR\n", def->name);
			return 2;
		}
	}
	svc.root = dataroot_resolve(dir);
	if (svc.root == NULL) {
		fprintf(stderr, "postern-%s: no data root: give -d DIR or set POSTERN_DIR\n",
		    def->name);
		return 2;
	}
	logpath = xasprintf("%s/log/%s.log", svc.root, def->name);
	if (log_init(def->name, logpath, getenv("POSTERN_LOG_STDERR") != NULL) < 0) {
		fprintf(stderr, "postern-%s: cannot open %s: %s\n", def->name, logpath,
		    strerror(errno));
		free(logpath);
		return 1;
	}
	free(logpath);
	raise_fd_limit(def->name);
	signal(SIGPIPE, SIG_IGN);
	if (db_open(svc.root, false, &svc.db, &err) < 0)
		log_fatalx("%s", err);
	service_log_level(settings_current(svc.db));
	if (bind_listeners(&svc, &err) < 0) {
		service_set_state(&svc, "failed", err);
		log_fatalx("%s", err);
	}
	int nproc = def->processes_setting == SETTING_NONE ? 1 :
	    (int)settings_num(settings_current(svc.db), def->processes_setting);
	if (def->login != NULL && login_start(&svc, nproc > 1 ? (size_t)nproc :
	    1, &err) < 0) {
		service_set_state(&svc, "failed", err);
		log_fatalx("%s", err);
	}
	if (drop_privileges(&svc) < 0) {
		service_set_state(&svc, "failed", "cannot drop privileges");
		return 1;
	}
	/* the message counters (traffic.h), shared with the processes forked
	 * from here on */
	if (traffic_open(svc.root) < 0)
		log_warn("cannot map %s/run/traffic.counters: no traffic counts",
		    svc.root);
	if (nproc > 1) {
		/* per-address connection counts and login failures in
		 * shared memory: the processes count together */
		conn_shared = addrtab_create();
		if (conn_shared == NULL || throttle_share() < 0)
			log_fatalx("cannot map the shared per-address tables");
		if (fork_workers(&svc, nproc, &err) < 0)
			log_fatalx("%s", err);
	}
	login_worker(&svc);   /* each process its own channel */
	svc.base = event_base_new();
	if (svc.base == NULL)
		log_fatalx("event_base_new failed");
	struct event *sig_term = evsignal_new(svc.base, SIGTERM, on_signal, &svc);
	struct event *sig_int = evsignal_new(svc.base, SIGINT, on_signal, &svc);
	struct event *sig_hup = evsignal_new(svc.base, SIGHUP, on_signal, &svc);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_hup, NULL);
	struct event *sig_chld = NULL;
	if (svc.nworkers > 0) {
		sig_chld = evsignal_new(svc.base, SIGCHLD, on_child, &svc);
		evsignal_add(sig_chld, NULL);
	}
	if (def->init != NULL && def->init(&svc) < 0) {
		service_set_state(&svc, "failed", "initialisation failed (see its log)");
		return 1;
	}
	if (svc.login != NULL)
		login_attach(&svc);
	for (size_t i = 0; i < svc.nlisteners; i++) {
		struct service_listener *l = &svc.listeners[i];
		if (l->fd < 0)
			continue;   /* the pre-login process's */
		l->ev = evconnlistener_new(svc.base, on_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, l->fd);
		if (l->ev == NULL)
			log_fatalx("evconnlistener_new failed");
		evconnlistener_set_error_cb(l->ev, on_accept_error);
		char a[96];
		netaddr_format(&l->addr, a, sizeof(a));
		if (svc.worker == 0)
			log_info("listening on %s (%s)", a, l->name);
	}
	/* running, unless init reported a state of its own (like idle) */
	if (!svc.state_reported)
		service_set_state(&svc, "running", NULL);
	if (svc.worker == 0)
		log_info("started%s", svc.login != NULL ? " (its pre-login "
		    "process serves the listeners)" : svc.nworkers ?
		    " with worker processes" : "");
	event_base_dispatch(svc.base);
	for (size_t i = 0; i < svc.nlisteners; i++)
		if (svc.listeners[i].ev)
			evconnlistener_free(svc.listeners[i].ev);
	/* the main process waits for its workers (they got the signal) */
	for (size_t i = 0; i < svc.nworkers; i++) {
		if (svc.workers[i] <= 0)
			continue;
		for (int t = 0; t < 100; t++) {
			if (waitpid(svc.workers[i], NULL, WNOHANG) != 0)
				break;
			usleep(100000);
		}
	}
	free(svc.workers);
	if (sig_chld != NULL)
		event_free(sig_chld);
	service_set_state(&svc, "stopped", NULL);
	service_logins_end_all();
	login_free(&svc);
	event_free(sig_term);
	event_free(sig_int);
	event_free(sig_hup);
	event_base_free(svc.base);
	free(svc.listeners);
	db_close(&svc.db);
	if (svc.worker == 0)
		log_info("stopped");
	free(svc.root);
	return 0;
}
