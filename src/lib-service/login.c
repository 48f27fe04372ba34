/* login - the pre-login process of a login service and its messages to
 * the main process (see login.h) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conn.h"
#include "dataroot.h"
#include "db.h"
#include "fsutil.h"
#include "log.h"
#include "login.h"
#include "login-msg.h"
#include "service.h"
#include "settings.h"
#include "strutil.h"
#include "tls.h"
#include "xalloc.h"

#define LOGIN_MAX_FIELDS LOGIN_MSG_FIELDS
#define ACCEPT_QUEUE_MAX 256        /* accepts waiting for SETTINGS */

enum login_type {
	LMSG_SYNC = 1,          /* login -> main: settings, if changed */
	LMSG_SETTINGS,          /* main -> login: name, value, ...; none:
				 * unchanged */
	LMSG_LOGIN,             /* login -> main: a connection (fd) and its
				 * sockaddr, sid, tls, user, password,
				 * the service's extra (IMAP: the tag) */
	LMSG_RESULT,            /* main -> login: "ok" or "fail", text */
	LMSG_LOGFD,             /* main -> login: a new log descriptor */
};

/* a login under way on the pre-login side */
struct login_pending {
	struct login_pending *next;
	uint32_t id;
	struct conn *c;
	int fd;                 /* our end of the client's socketpair */
	void (*cb)(struct conn *c, bool ok, const char *text);
};

/* an accept waiting for the settings */
struct queued {
	struct service_listener *l;
	int fd;
	struct sockaddr_storage sa;
	socklen_t salen;
};

struct login_proc {
	/* the SOCK_SEQPACKET pairs, one per post-login process (the
	 * service's processes_setting): chan[i] is process i's; the
	 * main side keeps only its own after login_worker (fd) */
	int *chan;
	struct event **chan_ev;
	size_t nchan;
	int fd;                 /* main side: ours; pre-login side: chan[0],
				 * where SYNC goes */
	struct event *ev;
	bool side;              /* true in the pre-login process */
	/* main side */
	int64_t data_version;   /* of the settings last sent */
	bool sent;
	/* pre-login side */
	uint32_t next_id;
	size_t next_chan;       /* the next login goes there (in turn) */
	struct login_pending *pending;
	struct queued queue[ACCEPT_QUEUE_MAX];
	size_t nqueued;
	bool syncing;
};

/* ---- messages ------------------------------------------------------ */

/* msg_send - one message (login-msg.h); fd -1: none. -1 when it could
 * not be sent. */
static int
msg_send(int sock, uint8_t type, uint32_t id, int fd, size_t n,
	 const char *const *f, const size_t *len)
{
	unsigned char b[LOGIN_MSG_MAX];
	size_t size = login_msg_pack(b, type, id, n, f, len);

	if (size == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	struct iovec iov = { b, size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	explicit_bzero(b, size);   /* a password may be in it */
	return r == (ssize_t)size ? 0 : -1;
}

/* msg_recv - the next message into buf; 0: none now, -1: the peer went
 * or sent something malformed (error set), 1: m filled (its fields
 * point into buf) */
static int
msg_recv(int sock, unsigned char *buf, size_t size, struct login_msg *m,
	 const char **error_r)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = { buf, size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	ssize_t r;

	m->fd = -1;
	do
		r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0) {
		*error_r = r == 0 ? "the other process closed the socket" :
		    "read error";
		return -1;
	}
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL;
	    h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (m->fd < 0)
				m->fd = fd;
			else
				close(fd);   /* one descriptor a message */
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    login_msg_parse(buf, (size_t)r, m) < 0) {
		*error_r = "malformed message";
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		return -1;
	}
	return 1;
}

/* field_copy - field i as a string into out (false if it does not fit) */
static bool
field_copy(const struct login_msg *m, size_t i, char *out, size_t size)
{
	if (i >= m->n || m->len[i] >= size)
		return false;
	memcpy(out, m->f[i], m->len[i]);
	out[m->len[i]] = '\0';
	return true;
}

/* ---- main side ----------------------------------------------------- */

bool
login_side(const struct service *svc)
{
	return svc->login != NULL && svc->login->side;
}

/* snapshot_names - the settings the pre-login process reads */
static size_t
snapshot_names(const struct service *svc, const char **names, size_t max)
{
	static const enum setting_id always[] = { SETTING_log_level,
	    SETTING_tls_cert, SETTING_tls_key, SETTING_auth_max_failures,
	    SETTING_NONE };
	size_t n = 0;

	for (const enum setting_id *p = always; *p != SETTING_NONE && n < max;
	    p++)
		names[n++] = settings_field(*p)->name;
	for (const enum setting_id *p = svc->def->login->settings;
	    p != NULL && *p != SETTING_NONE && n < max; p++)
		names[n++] = settings_field(*p)->name;
	return n;
}

/* send_settings - SETTINGS: every value when the store changed since the
 * last one (or force), else none (unchanged) */
static void
send_settings(struct service *svc, bool force)
{
	struct login_proc *lp = svc->login;
	const char *names[LOGIN_MAX_FIELDS / 2], *f[LOGIN_MAX_FIELDS];
	char *vals[LOGIN_MAX_FIELDS / 2];
	size_t len[LOGIN_MAX_FIELDS], n = 0, k;
	int64_t version = -1;
	const char *err;

	if (db_data_version(svc->db, &version, &err) < 0)
		version = -1;
	if (force || !lp->sent || version != lp->data_version || version < 0) {
		k = snapshot_names(svc, names, LOGIN_MAX_FIELDS / 2);
		for (size_t i = 0; i < k; i++) {
			vals[i] = xstrdup(settings_text(settings_current(
			    svc->db), settings_id(names[i])));
			f[n] = names[i];
			len[n++] = strlen(names[i]);
			f[n] = vals[i];
			len[n++] = strlen(vals[i]);
		}
		lp->sent = true;
		lp->data_version = version;
	} else {
		k = 0;
	}
	if (msg_send(lp->fd, LMSG_SETTINGS, 0, -1, n, f, len) < 0)
		log_warn("cannot send the settings to the pre-login process");
	for (size_t i = 0; i < k; i++)
		free(vals[i]);
}

void
login_free(struct service *svc)
{
	struct login_proc *lp = svc->login;

	if (lp == NULL)
		return;
	if (lp->ev != NULL)
		event_free(lp->ev);
	if (lp->fd >= 0)
		close(lp->fd);
	free(lp->chan);
	free(lp);
	svc->login = NULL;
}

void
login_result(struct service *svc, uint32_t id, bool ok, const char *text)
{
	const char *f[2] = { ok ? "ok" : "fail", text ? text : "" };
	size_t len[2] = { strlen(f[0]), strlen(f[1]) };

	if (svc->login == NULL || svc->login->side)
		return;
	if (msg_send(svc->login->fd, LMSG_RESULT, id, -1, 2, f, len) < 0)
		log_warn("cannot answer the pre-login process");
}

void
login_result_queued(struct service *svc, uint32_t id, struct conn *c)
{
	/* the answer the service queued for the client (a refusal): it
	 * goes back in RESULT and the session goes on in the pre-login
	 * process, which closes its end of the socketpair, so what stays
	 * queued here is never read */
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v[4];
	char text[1024];
	size_t len = 0;
	int nv = evbuffer_peek(out, -1, NULL, v, 4);

	for (int i = 0; i < nv && i < 4; i++) {
		size_t k = v[i].iov_len < sizeof(text) - 1 - len ? v[i].iov_len :
		    sizeof(text) - 1 - len;
		memcpy(text + len, v[i].iov_base, k);
		len += k;
	}
	text[len] = '\0';
	login_result(svc, id, false, text);
	conn_close(c, 0);
}

void
login_hup(struct service *svc)
{
	struct login_proc *lp = svc->login;

	if (lp == NULL || lp->side || svc->worker != 0)
		return;   /* the main process speaks for the service */
	char *path = xasprintf("%s/log/%s.log", svc->root, svc->def->name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	free(path);
	if (fd >= 0) {
		if (msg_send(lp->fd, LMSG_LOGFD, 0, fd, 0, NULL, NULL) < 0)
			log_warn("cannot send the log to the pre-login process");
		close(fd);
	}
	send_settings(svc, true);
}

/* main_login - LOGIN: hand the connection to the service */
static int
main_login(struct service *svc, struct login_msg *m)
{
	struct login_request *r = xcalloc(1, sizeof(*r));

	r->id = m->id;
	r->fd = m->fd;
	if (m->fd < 0 || m->n != 6 || m->len[0] == 0 ||
	    m->len[0] > sizeof(r->sa) ||
	    !field_copy(m, 1, r->sid, sizeof(r->sid)) ||
	    !field_copy(m, 2, r->tls_info, sizeof(r->tls_info)) ||
	    !field_copy(m, 5, r->extra, sizeof(r->extra)) ||
	    memchr(r->extra, '\0', m->len[5]) != NULL ||
	    m->len[3] >= sizeof(r->user) || m->len[4] >= sizeof(r->password)) {
		free(r);
		return -1;
	}
	memcpy(&r->sa, m->f[0], m->len[0]);
	r->salen = (socklen_t)m->len[0];
	memcpy(r->user, m->f[3], m->len[3]);
	memcpy(r->password, m->f[4], m->len[4]);
	r->nul = memchr(r->user, '\0', m->len[3]) != NULL ||
	    memchr(r->password, '\0', m->len[4]) != NULL;
	m->fd = -1;
	svc->def->login->adopt(svc, r);
	explicit_bzero(r, sizeof(*r));
	free(r);
	return 0;
}

/* pump - the messages waiting on fd (at most 64 a call) to handle, which
 * returns NULL or what is wrong; a descriptor it did not take (m->fd still
 * set) is closed. NULL, or the error that ends the peer. */
static const char *
pump(struct service *svc, int fd,
     const char *(*handle)(struct service *svc, struct login_msg *m))
{
	unsigned char buf[LOGIN_MSG_MAX];
	const char *err = NULL;
	struct login_msg m;

	for (int i = 0; i < 64 && err == NULL; i++) {
		int r = msg_recv(fd, buf, sizeof(buf), &m, &err);
		if (r == 0)
			break;
		if (r > 0)
			err = handle(svc, &m);
		explicit_bzero(buf, sizeof(buf));   /* passwords */
		if (m.fd >= 0)
			close(m.fd);
	}
	return err;
}

/* main_handle - a message from the pre-login process */
static const char *
main_handle(struct service *svc, struct login_msg *m)
{
	if (m->type == LMSG_SYNC && m->n == 0 && m->fd < 0) {
		send_settings(svc, false);
		return NULL;
	}
	if (m->type == LMSG_LOGIN)
		return main_login(svc, m) < 0 ? "malformed LOGIN" : NULL;
	return "unexpected message";
}

static void
on_main_msg(evutil_socket_t fd, short what, void *arg)
{
	struct service *svc = arg;
	const char *err = pump(svc, (int)fd, main_handle);

	(void)what;
	if (err != NULL) {
		/* the pre-login process went or misbehaves: start again from
		 * posternd */
		log_warnx("pre-login process: %s; restarting the service", err);
		service_set_state(svc, "failed", "the pre-login process failed");
		exit(1);
	}
}

void
login_attach(struct service *svc)
{
	struct login_proc *lp = svc->login;

	lp->ev = event_new(svc->base, lp->fd, EV_READ | EV_PERSIST, on_main_msg,
	    svc);
	event_add(lp->ev, NULL);
}

/* ---- pre-login side ------------------------------------------------ */

static struct service *side_svc;   /* the pre-login process's service */

void
login_submit(struct conn *c, const char *user, size_t ulen,
	     const char *password, size_t plen, const char *extra,
	     void (*cb)(struct conn *c, bool ok, const char *text))
{
	struct login_proc *lp = side_svc->login;
	int sp[2];

	if (extra != NULL && strlen(extra) >= sizeof(((struct login_request *)
	    NULL)->extra)) {
		/* the service bounds it first: never reached */
		log_warnx("%s: login extra too long", c->sid);
		cb(c, false, NULL);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sp) < 0) {
		log_warn("%s: socketpair", c->sid);
		cb(c, false, NULL);
		return;
	}
	struct login_pending *p = xcalloc(1, sizeof(*p));
	p->id = ++lp->next_id;
	p->c = c;
	p->fd = sp[0];
	p->cb = cb;
	if (extra == NULL)
		extra = "";
	const char *f[6] = { (const char *)&c->sa, c->sid, c->tls_info, user,
	    password, extra };
	size_t len[6] = { sizeof(c->sa), strlen(c->sid),
	    c->tls ? strlen(c->tls_info) : 0, ulen, plen, strlen(extra) };
	if (c->tls && len[2] == 0) {
		f[2] = "TLS";
		len[2] = 3;
	}
	/* the post-login processes take the logins in turn */
	int chan = lp->chan[lp->next_chan++ % lp->nchan];
	int r = msg_send(chan, LMSG_LOGIN, p->id, sp[1], 6, f, len);
	close(sp[1]);
	if (r < 0) {
		log_warn("%s: cannot hand the login to the main process", c->sid);
		close(sp[0]);
		free(p);
		cb(c, false, NULL);
		return;
	}
	p->next = lp->pending;
	lp->pending = p;
	c->handoff = p;
	c->in_auth = true;
	conn_suspend(c);
}

void
login_cancel(struct conn *c)
{
	struct login_proc *lp = side_svc->login;

	for (struct login_pending **pp = &lp->pending; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp != c->handoff)
			continue;
		struct login_pending *p = *pp;
		*pp = p->next;
		close(p->fd);   /* the main process sees its client go */
		free(p);
		break;
	}
	c->handoff = NULL;
}

/* side_result - RESULT id ok|fail text */
static int
side_result(struct login_proc *lp, struct login_msg *m)
{
	char text[1024];
	struct login_pending *p, **pp;

	if (m->n != 2 || !field_copy(m, 1, text, sizeof(text)))
		return -1;
	for (pp = &lp->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->id == m->id)
			break;
	if (p == NULL)
		return 0;   /* the client went meanwhile */
	*pp = p->next;
	struct conn *c = p->c;
	bool ok = m->len[0] == 2 && memcmp(m->f[0], "ok", 2) == 0;
	c->handoff = NULL;
	c->in_auth = false;
	if (ok) {
		if (conn_proxy(c, p->fd) < 0) {
			close(p->fd);
			conn_free(c);
			free(p);
			return 0;
		}
	} else {
		close(p->fd);
	}
	void (*cb)(struct conn *, bool, const char *) = p->cb;
	free(p);
	cb(c, ok, ok ? NULL : text);
	return 0;
}

/* side_settings - SETTINGS: replace the snapshot (none: unchanged) */
static void
side_settings(struct service *svc, struct login_msg *m)
{
	if (m->n == 0)
		return;
	for (size_t i = 0; i < svc->nsnap; i++)
		free(svc->snap[i]);
	free(svc->snap);
	svc->snap = xcalloc(m->n, sizeof(char *));
	svc->nsnap = m->n;
	for (size_t i = 0; i < m->n; i++)
		svc->snap[i] = xstrndup(m->f[i], m->len[i]);
	settings_free(svc->snap_st);
	svc->snap_st = NULL;
	service_log_level(service_settings(svc));
}

/* run_queue - the settings are fresh: take the queued connections */
static void
run_queue(struct service *svc)
{
	struct login_proc *lp = svc->login;
	size_t n = lp->nqueued;

	lp->nqueued = 0;
	lp->syncing = false;
	for (size_t i = 0; i < n; i++) {
		struct queued *q = &lp->queue[i];
		conn_accept(svc->conns, q->l, q->fd, (struct sockaddr *)&q->sa,
		    q->salen);
	}
}

/* side_handle - a message from the main process */
static const char *
side_handle(struct service *svc, struct login_msg *m)
{
	if (m->type == LMSG_SETTINGS) {
		side_settings(svc, m);
		run_queue(svc);
		return NULL;
	}
	if (m->type == LMSG_RESULT)
		return side_result(svc->login, m) < 0 ? "malformed RESULT" : NULL;
	if (m->type == LMSG_LOGFD && m->fd >= 0) {
		log_use_fd(m->fd);
		m->fd = -1;
		return NULL;
	}
	return "unexpected message";
}

static void
on_side_msg(evutil_socket_t fd, short what, void *arg)
{
	const char *err = pump(arg, (int)fd, side_handle);

	(void)what;
	if (err != NULL) {
		log_warnx("main process: %s; exiting", err);
		_exit(1);
	}
}

/* on_side_accept - a connection: wait for the settings (SYNC) first, so
 * that a setting changed a moment ago applies to it */
static void
on_side_accept(struct evconnlistener *ev, evutil_socket_t fd,
	       struct sockaddr *sa, int salen, void *arg)
{
	struct service_listener *l = arg;
	struct service *svc = l->svc;
	struct login_proc *lp = svc->login;

	(void)ev;
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	if (lp->nqueued == ACCEPT_QUEUE_MAX) {
		close(fd);   /* the main process does not answer */
		return;
	}
	struct queued *q = &lp->queue[lp->nqueued++];
	q->l = l;
	q->fd = fd;
	q->salen = (socklen_t)salen < sizeof(q->sa) ? (socklen_t)salen :
	    sizeof(q->sa);
	memcpy(&q->sa, sa, q->salen);
	if (!lp->syncing) {
		lp->syncing = true;
		if (msg_send(lp->fd, LMSG_SYNC, 0, -1, 0, NULL, NULL) < 0) {
			log_warn("cannot reach the main process");
			_exit(1);
		}
	}
}

static void
on_side_signal(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;

	(void)what;
	if (sig == SIGHUP)
		return;   /* the main process sends the new log (LOGFD) */
	event_base_loopexit(svc->base, NULL);
}

/* side_jail - chroot to an empty directory and become LOGIN_USER, in
 * that order, then no new privileges. Not root: nothing to drop (the
 * pre-login process runs as the service, logged). */
static int
side_jail(struct service *svc, uid_t uid, gid_t gid, const char **error_r)
{
	static char err[512];
	char *empty = path_join(svc->root, "run/empty");
	struct stat st;

	*error_r = err;
	if (geteuid() != 0) {
		log_info("not started as root: the pre-login process keeps uid "
		    "%ld", (long)geteuid());
		free(empty);
		return 0;
	}
	/* root's own, empty, read-only: nothing to find, nothing to make */
	(void)mkdir(empty, 0555);
	if (lstat(empty, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != 0 && chown(empty, 0, 0) < 0) ||
	    chmod(empty, 0555) < 0) {
		snprintf(err, sizeof(err), "%s: not a directory of root's (%s)",
		    empty, strerror(errno));
		free(empty);
		return -1;
	}
	if (chroot(empty) < 0 || chdir("/") < 0) {
		snprintf(err, sizeof(err), "chroot %s: %s", empty,
		    strerror(errno));
		free(empty);
		return -1;
	}
	free(empty);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		snprintf(err, sizeof(err), "cannot become %s: %s", LOGIN_USER,
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, sizeof(err), "no-new-privileges: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* side_run - the pre-login process, from the fork to its exit */
static void
side_run(struct service *svc, int *chan, size_t nchan, uid_t uid, gid_t gid)
{
	const char *err;
	char *logpath = xasprintf("%s/log/%s.log", svc->root, svc->def->name);

	side_svc = svc;
	/* "imap-login" in ps and /proc/<pid>/status */
	(void)prctl(PR_SET_NAME, svc->def->login->name, 0, 0, 0);
	if (log_init(svc->def->login->name, logpath,
	    getenv("POSTERN_LOG_STDERR") != NULL) < 0)
		_exit(1);
	free(logpath);
	svc->login = xcalloc(1, sizeof(*svc->login));
	svc->login->chan = chan;
	svc->login->nchan = nchan;
	svc->login->fd = chan[0];
	svc->login->side = true;
	svc->worker = -1;   /* no state file: the main process's */
	/* the keys, while they can be read: into memory, then away */
	if (tls_server_ctx(svc, &err) == NULL)
		log_warnx("no TLS: %s; STARTTLS is not offered and the TLS port "
		    "refuses connections", err);
	else if (geteuid() == 0)
		log_info("%d SNI certificates loaded (a new one is used once "
		    "the service restarts)", tls_server_preload());
	if (side_jail(svc, uid, gid, &err) < 0) {
		log_error("%s", err);
		_exit(1);
	}
	svc->base = event_base_new();
	if (svc->base == NULL || svc->def->login->init(svc) < 0)
		_exit(1);
	struct event *sigs[3];
	int signos[3] = { SIGTERM, SIGINT, SIGHUP };
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(svc->base, signos[i], on_side_signal, svc);
		evsignal_add(sigs[i], NULL);
	}
	svc->login->chan_ev = xcalloc(nchan, sizeof(struct event *));
	for (size_t i = 0; i < nchan; i++) {
		svc->login->chan_ev[i] = event_new(svc->base, chan[i],
		    EV_READ | EV_PERSIST, on_side_msg, svc);
		event_add(svc->login->chan_ev[i], NULL);
	}
	for (size_t i = 0; i < svc->nlisteners; i++) {
		struct service_listener *l = &svc->listeners[i];
		l->ev = evconnlistener_new(svc->base, on_side_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, l->fd);
		if (l->ev == NULL)
			_exit(1);
	}
	log_info("pre-login process started (uid %ld gid %ld)",
	    (long)getuid(), (long)getgid());
	event_base_dispatch(svc->base);
	log_info("pre-login process stopped");
	/* no teardown: the sessions end with the process; leak checks
	 * would need /proc, which the chroot has not */
	_exit(0);
}

int
login_start(struct service *svc, size_t nproc, const char **error_r)
{
	static char err[512];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	*error_r = err;
	if (nproc < 1)
		nproc = 1;
	if (geteuid() == 0 && dataroot_login_user(false, &uid, &gid,
	    error_r) < 0)
		return -1;
	/* the first snapshot: TLS paths and limits before any SYNC */
	const char *names[LOGIN_MAX_FIELDS / 2];
	size_t k = snapshot_names(svc, names, LOGIN_MAX_FIELDS / 2);
	svc->snap = xcalloc(2 * k, sizeof(char *));
	for (size_t i = 0; i < k; i++) {
		svc->snap[svc->nsnap++] = xstrdup(names[i]);
		svc->snap[svc->nsnap++] = xstrdup(settings_text(
		    settings_current(svc->db), settings_id(names[i])));
	}
	/* one pair per post-login process: main[i] stays with process i
	 * (login_worker), side[i] goes to the pre-login process */
	int *mains = xcalloc(nproc, sizeof(int));
	int *sides = xcalloc(nproc, sizeof(int));
	for (size_t i = 0; i < nproc; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) < 0) {
			snprintf(err, sizeof(err), "socketpair: %s",
			    strerror(errno));
			return -1;
		}
		mains[i] = sv[0];
		sides[i] = sv[1];
	}
	/* no database connection crosses the fork, none stays open in the
	 * pre-login process */
	db_close(&svc->db);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, sizeof(err), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		for (size_t i = 0; i < nproc; i++)
			close(mains[i]);
		free(mains);
		side_run(svc, sides, nproc, uid, gid);
		_exit(0);
	}
	for (size_t i = 0; i < nproc; i++)
		close(sides[i]);
	free(sides);
	for (size_t i = 0; i < svc->nsnap; i++)
		free(svc->snap[i]);
	free(svc->snap);
	svc->snap = NULL;
	svc->nsnap = 0;
	settings_free(svc->snap_st);
	svc->snap_st = NULL;
	/* the listeners are the pre-login process's; their addresses stay
	 * for `postern status` */
	for (size_t i = 0; i < svc->nlisteners; i++) {
		close(svc->listeners[i].fd);
		svc->listeners[i].fd = -1;
	}
	svc->login = xcalloc(1, sizeof(*svc->login));
	svc->login->chan = mains;
	svc->login->nchan = nproc;
	svc->login->fd = -1;
	svc->workers = xcalloc(1, sizeof(pid_t));
	svc->workers[0] = pid;
	svc->nworkers = 1;
	if (db_open(svc->root, false, &svc->db, error_r) < 0) {
		snprintf(err, sizeof(err), "%s", *error_r);
		*error_r = err;
		return -1;
	}
	log_info("pre-login process %ld started for the listeners%s",
	    (long)pid, nproc > 1 ? " (logins go to the processes in turn)" :
	    "");
	return 0;
}

void
login_worker(struct service *svc)
{
	struct login_proc *lp = svc->login;

	if (lp == NULL || lp->side || lp->fd >= 0)
		return;
	for (size_t i = 0; i < lp->nchan; i++) {
		if (i == (size_t)svc->worker)
			lp->fd = lp->chan[i];
		else
			close(lp->chan[i]);
	}
	free(lp->chan);
	lp->chan = NULL;
	lp->nchan = 0;
}
