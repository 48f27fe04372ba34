/* conn - the connection layer of every service (see conn.h) */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "authpool.h"
#include "conn.h"
#include "log.h"
#include "login.h"
#include "netaddr.h"
#include "settings.h"
#include "tls.h"
#include "xalloc.h"

#define CONN_CLOSE_WAIT 5          /* s for the last reply to leave */
#define CONN_LINGER_MAX (1024 * 1024)
#define CONN_AUTH_THREADS 2
#define CONN_AUTH_IN_MAX (64 * 1024) /* input buffered during a check */

struct conn_server {
	struct service *svc;
	const struct conn_def *def;
	SSL_CTX *tls;
	struct conn *list;
	void *ctx;
	unsigned long next_id;
	char *busy_text, *full_text;
};

/* the password pool of the process: one, whatever the service */
static struct auth_pool *auth_pool;
static unsigned auth_users;

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* setting - an int setting, or def for SETTING_NONE */
static int
setting(struct conn_server *srv, enum setting_id id, int def)
{
	if (id == SETTING_NONE)
		return def;
	return (int)settings_num(service_settings(srv->svc), id);
}

/* setting_name - what a refusal's log line names */
static const char *
setting_name(enum setting_id id, const char *none)
{
	return id == SETTING_NONE ? none : settings_field(id)->name;
}

/* has_login_phase - whether connections must log in within a time */
static bool
has_login_phase(const struct conn_def *d)
{
	return d->login_timeout_setting != SETTING_NONE ||
	    d->login_timeout_default > 0;
}

struct conn_server *
conn_server_new(struct service *svc, const struct conn_def *def, void *ctx)
{
	struct conn_server *srv = xcalloc(1, sizeof(*srv));
	const char *err;

	srv->svc = svc;
	srv->ctx = ctx;
	svc->conns = srv;
	srv->def = def;
	/* with a pre-login process, TLS and its keys are there only */
	bool tls_here = svc->login == NULL || login_side(svc);
	srv->tls = tls_here ? tls_server_ctx(svc, &err) : NULL;
	if (srv->tls == NULL && tls_here)
		log_warnx("no TLS: %s; STARTTLS is not offered and the TLS port "
		    "refuses connections", err);
	auth_users++;
	return srv;
}

void
conn_server_free(struct conn_server **srvp)
{
	struct conn_server *srv = *srvp;

	if (srv == NULL)
		return;
	while (srv->list != NULL)
		conn_free(srv->list);
	if (--auth_users == 0)
		auth_pool_free(&auth_pool);
	if (srv->svc->conns == srv)
		srv->svc->conns = NULL;
	free(srv->busy_text);
	free(srv->full_text);
	free(srv);
	*srvp = NULL;
}

void *
conn_server_ctx(const struct conn_server *srv)
{
	return srv->ctx;
}

SSL_CTX *
conn_server_tls(const struct conn_server *srv)
{
	return srv->tls;
}

struct service *
conn_server_service(const struct conn_server *srv)
{
	return srv->svc;
}

void
conn_server_busy_text(struct conn_server *srv, const char *per_addr,
		      const char *total)
{
	free(srv->busy_text);
	free(srv->full_text);
	srv->busy_text = per_addr ? xstrdup(per_addr) : NULL;
	srv->full_text = total ? xstrdup(total) : NULL;
}

/* ---- timeouts ------------------------------------------------------ */

static void
set_timeouts(struct conn *c)
{
	const struct conn_def *d = c->srv->def;
	int idle = c->logged_in || !has_login_phase(d) ?
	    setting(c->srv, d->idle_timeout_setting, d->idle_timeout_default) :
	    setting(c->srv, d->login_timeout_setting, d->login_timeout_default);
	struct timeval rt = { idle, 0 };
	struct timeval wt = { d->write_timeout > 0 ? d->write_timeout : idle, 0 };

	bufferevent_set_timeouts(c->bev, idle > 0 ? &rt : NULL,
	    wt.tv_sec > 0 ? &wt : NULL);
}

void
conn_set_idle_timeout(struct conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (c->bev != NULL && !c->closing)
		bufferevent_set_timeouts(c->bev, &tv, &tv);
}

/* timed_out - the idle timeout or the login deadline: the service's
 * goodbye, then close; in a handshake nothing can leave: drop at once */
static void
timed_out(struct conn *c, enum conn_timeout why)
{
	if (c->closing) {
		conn_free(c);
		return;
	}
	log_info("%s: %s from [%s]", c->sid, conn_handshaking(c) ?
	    "timeout in TLS handshake" : why == CONN_TIMEOUT_LOGIN ?
	    "login timeout" : "timeout", c->addr);
	if (conn_handshaking(c) || c->starttls ||
	    c->srv->def->ops->timeout == NULL) {
		conn_free(c);
		return;
	}
	if (c->srv->def->ops->timeout(c, why) && !c->closing)
		conn_close(c, 0);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		conn_free(c);   /* the close wait ran out */
		return;
	}
	if (!c->logged_in)
		timed_out(c, CONN_TIMEOUT_LOGIN);
}

void
conn_logged_in(struct conn *c)
{
	c->logged_in = true;
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	if (c->bev != NULL)
		set_timeouts(c);
}

/* arm_login_deadline - the login timeout from now, however the client
 * trickles its bytes */
static void
arm_login_deadline(struct conn *c)
{
	const struct conn_def *d = c->srv->def;
	int login = setting(c->srv, d->login_timeout_setting,
	    d->login_timeout_default);
	struct timeval tv = { login, 0 };

	if (!has_login_phase(d) || login <= 0)
		return;
	if (c->deadline == NULL)
		c->deadline = evtimer_new(c->srv->svc->base, on_deadline, c);
	evtimer_add(c->deadline, &tv);
}

void
conn_logged_out(struct conn *c)
{
	c->logged_in = false;
	if (c->bev != NULL)
		set_timeouts(c);
	arm_login_deadline(c);
}

/* ---- output and flow ----------------------------------------------- */

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bev == NULL)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->bev != NULL)
		bufferevent_write(c->bev, data, len);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

struct evbuffer *
conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

bool
conn_out_full(struct conn *c)
{
	size_t high = c->srv->def->out_high;

	if (high == 0 || evbuffer_get_length(conn_output(c)) <= high)
		return false;
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
	return true;
}

void
conn_suspend(struct conn *c)
{
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
}

void
conn_resume(struct conn *c)
{
	if (c->closing || c->starttls || c->in_auth || c->bev == NULL)
		return;
	if (!c->paused)
		bufferevent_enable(c->bev, EV_READ);
	c->srv->def->ops->read(c);
}

/* ---- TLS ----------------------------------------------------------- */

bool
conn_handshaking(const struct conn *c)
{
	SSL *ssl = c->bev != NULL ? bufferevent_openssl_get_ssl(c->bev) : NULL;

	return ssl != NULL && !SSL_is_init_finished(ssl);
}

/* tls_bev - a TLS bufferevent on the socket (it owns the fd from now) */
static int
tls_bev(struct conn *c)
{
	SSL *ssl = SSL_new(c->srv->tls);

	if (ssl == NULL)
		return -1;
	c->bev = bufferevent_openssl_socket_new(c->srv->svc->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	c->fd = -1;
	c->tls = true;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	return 0;
}

static void
bev_setup(struct conn *c)
{
	const struct conn_def *d = c->srv->def;

	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	if (d->in_high > 0)
		bufferevent_setwatermark(c->bev, EV_READ, 0, d->in_high);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

size_t
conn_starttls(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t junk = evbuffer_get_length(in);

	/* RFC 3207 5, RFC 2595 4: nothing pipelined after STARTTLS may be
	 * taken as a command once TLS is up */
	if (junk > 0) {
		log_warnx("%s: discarding %zu bytes sent after STARTTLS", c->sid,
		    junk);
		evbuffer_drain(in, junk);
	}
	c->starttls = true;
	bufferevent_disable(c->bev, EV_READ);
	return junk;
}

/* start_tls - the "go ahead" has left: TLS on the socket */
static void
start_tls(struct conn *c)
{
	c->starttls = false;
	bufferevent_free(c->bev);   /* a plain one does not own the fd */
	c->bev = NULL;
	if (tls_bev(c) < 0) {
		log_warnx("%s: cannot start TLS", c->sid);
		conn_free(c);
		return;
	}
	bev_setup(c);
	if (c->srv->def->ops->tls_started != NULL)
		c->srv->def->ops->tls_started(c);
}

/* ---- close and teardown -------------------------------------------- */

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char b[16384];
	ssize_t n = read(fd, b, sizeof(b));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (c->linger_bytes += (size_t)n) > CONN_LINGER_MAX)
		conn_free(c);
}

/* finish - the last reply has left: go, or (linger) shut our side and
 * discard input until the client closes: closing a socket with unread
 * input sends a reset, which can destroy the answer before the client
 * read it */
static void
finish(struct conn *c)
{
	if (!c->srv->def->linger || c->linger_ev != NULL) {
		if (c->linger_ev == NULL)
			conn_free(c);
		return;
	}
	int fd = bufferevent_getfd(c->bev);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);   /* close_notify */
	ERR_clear_error();
	if (fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		conn_free(c);
		return;
	}
	c->linger_ev = event_new(c->srv->svc->base, fd, EV_READ | EV_PERSIST,
	    on_linger, c);
	event_add(c->linger_ev, NULL);
}

void
conn_close(struct conn *c, int wait_seconds)
{
	struct timeval tv = { wait_seconds > 0 ? wait_seconds :
	    CONN_CLOSE_WAIT, 0 };

	if (c->closing)
		return;
	c->closing = true;
	if (c->bev == NULL) {
		conn_free(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	/* the reply may not get out to a client that does not read */
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_WRITE);
	if (c->deadline == NULL)
		c->deadline = evtimer_new(c->srv->svc->base, on_deadline, c);
	evtimer_add(c->deadline, &tv);
	/* freed by on_write once the output is out, or by the timers; the
	 * caller still holds c */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

void
conn_free(struct conn *c)
{
	struct conn_server *srv = c->srv;

	if (srv->def->quiet || (c->adopted && !c->logged_in))
		log_debug("%s: disconnect from [%s]", c->sid, c->addr);
	else
		log_info("%s: disconnect from [%s]", c->sid, c->addr);
	if (srv->def->ops->teardown != NULL)
		srv->def->ops->teardown(c);
	if (c->auth != NULL)
		auth_req_cancel(auth_pool, c->auth);
	if (c->handoff != NULL)
		login_cancel(c);
	if (c->peer != NULL)
		bufferevent_free(c->peer);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->list = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->linger_ev != NULL)
		event_free(c->linger_ev);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->fd >= 0)
		close(c->fd);   /* a plain bufferevent does not own it */
	if (c->counted)
		service_conn_release(srv->svc, (struct sockaddr *)&c->sa);
	free(c);
}

/* ---- events -------------------------------------------------------- */

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		/* what a closing client still sends is dropped */
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	c->srv->def->ops->read(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->closing) {
		if (left == 0)
			finish(c);
		return;
	}
	if (c->starttls) {
		if (left == 0)
			start_tls(c);
		return;
	}
	/* the service's first: a FETCH or RETR goes on */
	if (left == 0 && c->srv->def->ops->drained != NULL) {
		c->srv->def->ops->drained(c);
		if (c->closing || c->starttls)
			return;
		left = evbuffer_get_length(bufferevent_get_output(bev));
	}
	if (c->paused && left <= c->srv->def->out_high / 2) {
		c->paused = false;
		if (!c->in_auth) {
			bufferevent_enable(bev, EV_READ);
			c->srv->def->ops->read(c);
		}
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl != NULL) {
			const char *sni = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
			tls_describe(ssl, c->tls_info, sizeof(c->tls_info));
			log_info("%s: TLS established: %s%s%s", c->sid, c->tls_info,
			    sni ? " sni=" : "", sni ? sni : "");
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		timed_out(c, CONN_TIMEOUT_IDLE);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e != 0) {
			char msg[256];
			ERR_error_string_n(e, msg, sizeof(msg));
			log_info("%s: TLS error from [%s]: TLS: %s", c->sid,
			    c->addr, msg);
		} else if (errno != 0 && errno != ECONNRESET && errno != EPIPE) {
			log_info("%s: connection error from [%s]: %s", c->sid,
			    c->addr, strerror(errno));
		}
	} else if ((what & BEV_EVENT_EOF) && !c->closing && c->srv->def->linger &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* the client closed its side: what is queued still goes */
		conn_close(c, 0);
		return;
	}
	conn_free(c);
}

/* ---- accept -------------------------------------------------------- */

/* conn_link - put c on the server's list */
static void
conn_link(struct conn_server *srv, struct conn *c)
{
	c->next = srv->list;
	if (srv->list != NULL)
		srv->list->prev = c;
	srv->list = c;
}

/* refuse - turn a connection away before a session exists; on the
 * implicit TLS port the client expects a handshake: just close */
static void
refuse(struct conn_server *srv, const struct service_listener *l, int fd,
       const char *text)
{
	bool implicit = srv->def->tls_listener != NULL &&
	    strcmp(l->name, srv->def->tls_listener) == 0;

	if (!implicit && text != NULL) {
		ssize_t n = write(fd, text, strlen(text));
		(void)n;
	}
	close(fd);
}

void
conn_accept(struct conn_server *srv, struct service_listener *l, int fd,
	    const struct sockaddr *sa, socklen_t salen)
{
	const struct conn_def *d = srv->def;
	struct service *svc = srv->svc;
	bool implicit = d->tls_listener != NULL &&
	    strcmp(l->name, d->tls_listener) == 0;
	char addr[64];

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (implicit && srv->tls == NULL) {
		log_warnx("connection from [%s] on %s refused: no TLS certificate",
		    addr, l->name);
		close(fd);
		return;
	}
	int total = setting(srv, d->total_setting, d->total_default);
	if (total > 0 && service_conn_total(svc) >= (size_t)total) {
		log_warnx("connection from [%s] refused: %s (%d) reached", addr,
		    setting_name(d->total_setting, "connections"), total);
		refuse(srv, l, fd, srv->full_text);
		return;
	}
	int limit = setting(srv, d->limit_setting, d->limit_default);
	bool counted = service_conn_acquire(svc, sa, limit);
	if (!counted) {
		log_warnx("connection from [%s] refused: %s (%d) reached", addr,
		    setting_name(d->limit_setting, "connections per address"),
		    limit);
		if (!d->answer_busy) {
			refuse(srv, l, fd, srv->busy_text);
			return;
		}
	}
	/* replies leave in several writes: without this, Nagle holds the
	 * tail until the client's delayed ACK (40 ms an answer) */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->fd = fd;
	c->counted = counted;
	c->busy = !counted;
	c->listener = l;
	c->implicit_tls = implicit;
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->seq = ++srv->next_id;
	snprintf(c->sid, sizeof(c->sid), "%c%06lx%04x", d->sid_letter, c->seq,
	    (unsigned)getpid() & 0xffff);
	conn_link(srv, c);
	if (implicit) {
		if (tls_bev(c) < 0) {
			log_warnx("%s: cannot start TLS", c->sid);
			conn_free(c);
			return;
		}
	} else {
		c->bev = bufferevent_socket_new(svc->base, fd, 0);
		if (c->bev == NULL) {
			log_warnx("%s: bufferevent_socket_new failed", c->sid);
			conn_free(c);
			return;
		}
	}
	bev_setup(c);
	arm_login_deadline(c);
	if (d->quiet)
		log_debug("%s: connect from [%s] on %s", c->sid, addr, l->name);
	else
		log_info("%s: connect from [%s] on %s", c->sid, addr, l->name);
	d->ops->open(c);
}

struct conn *
conn_adopt(struct conn_server *srv, int fd, const struct sockaddr *sa,
	   socklen_t salen, const char *sid, const char *tls_info)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->srv = srv;
	c->fd = fd;
	c->adopted = true;
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	sockaddr_ntop((struct sockaddr *)&c->sa, c->addr, sizeof(c->addr));
	/* the pre-login process counted it against the address's limit;
	 * here it counts in the total only */
	c->counted = service_conn_acquire(srv->svc, (struct sockaddr *)&c->sa,
	    0);
	c->seq = ++srv->next_id;
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	c->tls = *tls_info != '\0';
	snprintf(c->tls_info, sizeof(c->tls_info), "%s", tls_info);
	conn_link(srv, c);
	c->bev = bufferevent_socket_new(srv->svc->base, fd, 0);
	if (c->bev == NULL) {
		log_warnx("%s: bufferevent_socket_new failed", c->sid);
		conn_free(c);
		return NULL;
	}
	bev_setup(c);
	log_debug("%s: handed over from [%s]", c->sid, c->addr);
	return c;
}

/* ---- proxy (pre-login side) ---------------------------------------- */

#define PROXY_HIGH (256 * 1024)     /* bytes queued before reading stops */

/* move - what src read to dst's output; src stops reading while dst's
 * output is over PROXY_HIGH */
static void
move(struct bufferevent *src, struct bufferevent *dst)
{
	struct evbuffer *out = bufferevent_get_output(dst);

	evbuffer_add_buffer(out, bufferevent_get_input(src));
	if (evbuffer_get_length(out) > PROXY_HIGH)
		bufferevent_disable(src, EV_READ);
}

static void
proxy_client_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	move(bev, c->peer);
}

static void
proxy_peer_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->closing)
		move(bev, c->bev);
}

/* proxy_client_write - the client's output drained below half */
static void
proxy_client_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	bufferevent_enable(c->peer, EV_READ);
}

static void
proxy_peer_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->closing)
		bufferevent_enable(c->bev, EV_READ);
}

static void
proxy_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	conn_free(c);   /* the post-login side sees EOF */
}

/* proxy_peer_event - the post-login side closed: what it said goes out
 * (at most CONN_CLOSE_WAIT), then the client is closed */
static void
proxy_peer_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { CONN_CLOSE_WAIT, 0 };

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (!(what & BEV_EVENT_ERROR))
		move(bev, c->bev);
	bufferevent_free(c->peer);
	c->peer = NULL;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	if (c->deadline == NULL)
		c->deadline = evtimer_new(c->srv->svc->base, on_deadline, c);
	evtimer_add(c->deadline, &tv);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

int
conn_proxy(struct conn *c, int fd)
{
	c->peer = bufferevent_socket_new(c->srv->svc->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->peer == NULL)
		return -1;
	c->logged_in = true;
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_setwatermark(c->bev, EV_WRITE, PROXY_HIGH / 2, 0);
	bufferevent_setwatermark(c->peer, EV_WRITE, PROXY_HIGH / 2, 0);
	bufferevent_setcb(c->bev, proxy_client_read, proxy_client_write,
	    proxy_client_event, c);
	bufferevent_setcb(c->peer, proxy_peer_read, proxy_peer_write,
	    proxy_peer_event, c);
	bufferevent_enable(c->peer, EV_READ | EV_WRITE);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* the post-login process keeps the idle timeout. Once the events
	 * are added: set while reading was off (the login being checked),
	 * no timeout would not remove the login timeout's timer (libevent
	 * adds an event with no timeout keeping the one it had) */
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	/* what the client pipelined after its login goes first */
	move(c->bev, c->peer);
	return 0;
}

void
conn_service_accept(struct service *svc, struct service_listener *l, int fd,
		    const struct sockaddr *sa, socklen_t salen)
{
	conn_accept(svc->conns, l, fd, sa, salen);
}

/* ---- passwords ----------------------------------------------------- */

static void
auth_done(void *ctx, enum dir_auth_result r, const struct dir_mailbox *mb,
	  const char *error)
{
	struct conn *c = ctx;

	c->auth = NULL;
	c->in_auth = false;
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->srv->def->in_high);
	c->auth_cb(c, r, mb, error);
}

void
conn_auth(struct conn *c, const char *login, const char *password,
	  void (*cb)(struct conn *c, enum dir_auth_result r,
		     const struct dir_mailbox *mb, const char *error))
{
	struct service *svc = c->srv->svc;

	if (auth_pool == NULL) {
		const char *err;
		auth_pool = auth_pool_create(svc->base, svc->root,
		    CONN_AUTH_THREADS, &err);
		if (auth_pool == NULL) {
			log_warnx("password threads: %s", err);
			cb(c, DIR_AUTH_ERROR, NULL, err);
			return;
		}
	}
	c->auth_cb = cb;
	c->in_auth = true;
	/* reading goes on (bounded), so that a client hanging up during the
	 * check is noticed at once: its session must not log in, lock a
	 * maildrop and hold it until the answer; the service reads no
	 * command meanwhile (c->in_auth) */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    c->srv->def->in_high > 0 ? c->srv->def->in_high : CONN_AUTH_IN_MAX);
	/* the protocol and address go with it: login security (loginsec.h)
	 * decides per protocol and per client address */
	c->auth = auth_pool_submit_client(auth_pool, login, password,
	    &(struct dir_client){ c->srv->def->protocol, c->addr }, auth_done,
	    c);
}
