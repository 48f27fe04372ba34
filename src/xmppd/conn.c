/* conn - xmppd's connections: accept, TLS, bounded output, close */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "conn.h"
#include "xml-stream.h"
#include "log.h"
#include "netaddr.h"
#include "xalloc.h"

static uint64_t next_id;

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void
set_callbacks(struct xconn *c)
{
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct xconn *
xconn_accept(struct service *svc, SSL_CTX *ssl, bool implicit, int fd,
	     const struct sockaddr *sa, socklen_t salen, int limit,
	     xconn_input_cb *in, xconn_end_cb *end, void *ctx)
{
	struct xconn *c;
	char addr[64] = "?";
	int one = 1;

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (!service_conn_acquire(svc, sa, limit)) {
		/* RFC 6120 4.9.3.12: before a stream exists we may still
		 * say why in one */
		static const char msg[] = "<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber."
		    "org/streams' version='1.0'><stream:error><policy-violation "
		    "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns="
		    "'urn:ietf:params:xml:ns:xmpp-streams'>too many connections "
		    "from your address</text></stream:error></stream:stream>";
		log_info("xmpp %s: refused: over xmpp.max_connections_per_ip "
		    "(%d)", addr, limit);
		if (!implicit)
			(void)!write(fd, msg, sizeof(msg) - 1);
		close(fd);
		return NULL;
	}
	if (implicit && ssl == NULL) {
		log_warnx("xmpps %s: no TLS certificate: closing", addr);
		service_conn_release(svc, sa);
		close(fd);
		return NULL;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->svc = svc;
	c->counted = true;
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->id = ++next_id;
	c->on_input = in;
	c->on_end = end;
	c->ctx = ctx;
	if (implicit) {
		c->bev = bufferevent_openssl_socket_new(svc->base, fd,
		    SSL_new(ssl), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		c->tls = true;
	} else
		c->bev = bufferevent_socket_new(svc->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		xconn_free(&c);
		return NULL;
	}
	set_callbacks(c);
	return c;
}

struct xconn *
xconn_adopt(struct service *svc, struct bufferevent *bev,
	    const struct sockaddr *sa, socklen_t salen, bool tls, int limit,
	    xconn_input_cb *in, xconn_end_cb *end, void *ctx)
{
	struct xconn *c;
	char addr[64] = "?";

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (!service_conn_acquire(svc, sa, limit)) {
		log_info("xmpp %s: refused (WebSocket): over "
		    "xmpp.max_connections_per_ip (%d)", addr, limit);
		bufferevent_free(bev);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->svc = svc;
	c->counted = true;
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->id = ++next_id;
	c->on_input = in;
	c->on_end = end;
	c->ctx = ctx;
	c->bev = bev;
	c->tls = tls;
	set_callbacks(c);
	return c;
}

struct xconn *
xconn_connect(struct service *svc, const struct sockaddr *sa, socklen_t salen,
	      xconn_input_cb *connected, xconn_input_cb *in, xconn_end_cb *end,
	      void *ctx)
{
	struct xconn *c = xcalloc(1, sizeof(*c));

	c->svc = svc;
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	sockaddr_ntop(sa, c->addr, sizeof(c->addr));
	c->id = ++next_id;
	c->on_connected = connected;
	c->on_input = in;
	c->on_end = end;
	c->ctx = ctx;
	c->bev = bufferevent_socket_new(svc->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	set_callbacks(c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->sa,
	    (int)salen) < 0) {
		xconn_free(&c);
		return NULL;
	}
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int one = 1;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return c;
}

struct evbuffer *
xconn_input(struct xconn *c)
{
	return bufferevent_get_input(c->bev);
}

size_t
xconn_pending(struct xconn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	struct bufferevent *u = bufferevent_get_underlying(c->bev);

	if (u != NULL)
		n += evbuffer_get_length(bufferevent_get_output(u));
	return n;
}

bool
xconn_write(struct xconn *c, const void *data, size_t len)
{
	if (c->closing && c->close_ev != NULL)
		return false;
	if (xconn_pending(c) + len > XCONN_OUT_MAX)
		return false;
	evbuffer_add(bufferevent_get_output(c->bev), data, len);
	return true;
}

int
xconn_starttls(struct xconn *c, SSL_CTX *ssl)
{
	return xconn_starttls_as(c, ssl, NULL);
}

int
xconn_starttls_as(struct xconn *c, SSL_CTX *ssl, const char *sni)
{
	SSL *s = SSL_new(ssl);
	struct bufferevent *tb;

	if (s == NULL)
		return -1;
	if (sni != NULL)
		SSL_set_tlsext_host_name(s, sni);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	tb = bufferevent_openssl_filter_new(c->svc->base, c->bev, s,
	    sni != NULL ? BUFFEREVENT_SSL_CONNECTING :
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(s);
		return -1;
	}
	c->bev = tb;
	c->tls = true;
	set_callbacks(c);
	return 0;
}

void
xconn_set_timeout(struct xconn *c, int seconds)
{
	struct timeval t = { seconds, 0 };

	bufferevent_set_timeouts(c->bev, &t, NULL);
}

void
xconn_pause(struct xconn *c, bool paused)
{
	if (c->closing)
		return;
	if (paused)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

static void
on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	struct xconn *c = arg;

	(void)fd;
	(void)what;
	/* after STARTTLS the filter's output drains into the socket's
	 * bufferevent: wait for that too, a little */
	if (xconn_pending(c) > 0 && c->close_waits++ < 500) {
		struct timeval tv = { 0, 10000 };
		evtimer_add(c->close_ev, &tv);
		return;
	}
	c->on_end(c->ctx, XCONN_CLOSED);
}

static void
close_finish(struct xconn *c)
{
	if (c->close_ev == NULL)
		c->close_ev = evtimer_new(c->svc->base, on_close_timer, c);
	struct timeval tv = { 0, 0 };
	evtimer_add(c->close_ev, &tv);
}

void
xconn_close(struct xconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	/* a client that does not read gets 5 s for the last word */
	bufferevent_set_timeouts(c->bev, NULL, &(struct timeval){ 5, 0 });
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		close_finish(c);
}

void
xconn_free(struct xconn **cp)
{
	struct xconn *c = *cp;

	if (c == NULL)
		return;
	if (c->close_ev != NULL)
		event_free(c->close_ev);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->counted)
		service_conn_release(c->svc, (struct sockaddr *)&c->sa);
	free(c);
	*cp = NULL;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct xconn *c = arg;

	(void)bev;
	if (!c->closing)
		c->on_input(c->ctx);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct xconn *c = arg;

	(void)bev;
	if (c->closing && c->close_ev == NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		close_finish(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct xconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		xconn_input_cb *cb = c->on_connected;
		c->on_connected = NULL;   /* a TLS handshake says it again */
		if (cb != NULL)
			cb(c->ctx);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);
		if (e != 0) {
			char b[256];
			ERR_error_string_n(e, b, sizeof(b));
			log_info("xmpp c%" PRIu64 " %s: TLS: %s", c->id,
			    c->addr, b);
		}
	}
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		/* nothing can leave during a TLS handshake: end at once */
		if (ssl == NULL || SSL_is_init_finished(ssl)) {
			c->on_end(c->ctx, XCONN_TIMEOUT);
			return;
		}
	}
	if (c->closing && c->close_ev != NULL)
		evtimer_del(c->close_ev);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->on_end(c->ctx, c->closing ? XCONN_CLOSED : XCONN_EOF);
}

/* xconn_xml_event - the next event of the XML stream read from c: a
 * slice of what arrived fed to xs, or what xs holds already. XML_EV_MORE
 * once all input is parsed; *resumed (false at the start of a read)
 * lets a resumed parser finish the slice it held and then take what
 * waits (stanzas over XML_SLICE in one burst), rather than leave it for
 * the peer's next bytes */
enum xml_event
xconn_xml_event(struct xconn *c, struct xml_stream *xs, bool *resumed)
{
	for (;;) {
		struct evbuffer *in = xconn_input(c);
		struct evbuffer_iovec v;
		size_t used = 0;
		enum xml_event ev;

		if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1 && v.iov_len > 0) {
			ev = xml_stream_feed(xs, v.iov_base, v.iov_len, &used);
			evbuffer_drain(in, used);
		} else
			ev = xml_stream_next(xs);
		if (ev == XML_EV_MORE) {
			if (used > 0) {
				*resumed = false;
				continue;
			}
			if (!*resumed && evbuffer_get_length(in) > 0) {
				*resumed = true;
				continue;
			}
		} else if (ev == XML_EV_STANZA)
			*resumed = false;
		return ev;
	}
}
