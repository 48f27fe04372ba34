/* socks5 - the SOCKS5 bytestreams proxy (XEP-0065): the service
 * proxy.<domain> of each post office tells its own users its streamhost
 * (the xmpp-proxy listener) and activates bytestreams; the listener
 * speaks the subset of SOCKS5 (RFC 1928) the XEP uses: no
 * authentication, CONNECT to a DOMAINNAME of 40 hex digits (SHA-1 of
 * sid + initiator's JID + target's JID), port 0.
 *
 * The target connects first, then the initiator with the same hash;
 * neither is read from until the initiator sends <activate/> to the
 * proxy: the hash of the IQ's sid, its (server-stamped) 'from' and the
 * activated JID must name two waiting connections, so only the
 * initiator of a stream can start it. Then bytes flow both ways with
 * backpressure (a side is not read while its peer has PROXY_BUF_HIGH
 * bytes unsent); when one side closes, the other gets what is left and
 * is closed.
 *
 * Limits: PROXY_CONNS_MAX connections, xmpp.max_connections_per_ip per
 * address (counted with the XMPP streams), PROXY_HANDSHAKE_SECS for the
 * SOCKS5 exchange, PROXY_WAIT_SECS for the activation, two connections
 * per hash. Malformed SOCKS5 gets the RFC 1928 failure reply (or 0xFF
 * for no acceptable method) and the connection is closed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "directory.h"
#include "log.h"
#include "netaddr.h"
#include "settings.h"
#include "socks5-parse.h"
#include "xalloc.h"
#include "xmppd.h"

#define NS_BYTESTREAMS "http://jabber.org/protocol/bytestreams"
#define PROXY_PREFIX "proxy."
#define PROXY_LISTENER "xmpp-proxy"
#define PROXY_CONNS_MAX 512
#define PROXY_HANDSHAKE_SECS 10
#define PROXY_WAIT_SECS 60
#define PROXY_BUF_HIGH (256 * 1024)
#define PROXY_SID_MAX 128   /* bytes of a stream id */
#define PROXY_CLOSE_SECS 30 /* a closing side's last bytes */
#define PROXY_IDLE_SECS 600 /* an activated stream without a byte */

enum s5_state {
	S5_GREETING, /* version and methods */
	S5_REQUEST,  /* CONNECT */
	S5_WAIT,     /* answered: waiting for <activate/> */
	S5_RELAY,
	S5_CLOSING, /* the peer went: sending what is left */
};

struct s5 {
	struct s5 *prev, *next;
	struct bufferevent *bev;
	struct sockaddr_storage sa;
	char addr[64];
	uint64_t id;
	enum s5_state st;
	char hash[41];
	struct s5 *peer;
	struct event *timer;
	uint64_t bytes; /* relayed from this side */
};

static struct s5 *conns;
static size_t nconns;
static uint64_t next_id;

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

bool
proxy_domain(const char *domain, int64_t *po_r)
{
	return im_component_domain(domain, PROXY_PREFIX, po_r);
}

/* proxy_listener - the bound SOCKS5 listener, or NULL */
static const struct service_listener *
proxy_listener(void)
{
	for (size_t i = 0; i < xsrv.svc->nlisteners; i++)
		if (strcmp(xsrv.svc->listeners[i].name, PROXY_LISTENER) == 0)
			return &xsrv.svc->listeners[i];
	return NULL;
}

bool
proxy_enabled(void)
{
	return proxy_listener() != NULL;
}

static void
s5_free(struct s5 *c)
{
	if (c->peer != NULL)
		c->peer->peer = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	nconns--;
	service_conn_release(xsrv.svc, (struct sockaddr *)&c->sa);
	if (c->timer != NULL)
		event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct s5 *c = arg;

	(void)fd;
	(void)what;
	if (c->st == S5_RELAY) {
		/* both sides silent for PROXY_IDLE_SECS: both go */
		log_info("xmpp proxy p%" PRIu64 " [%s]: idle, closed after %"
		    PRIu64 " bytes", c->id, c->addr, c->bytes);
		if (c->peer != NULL)
			s5_free(c->peer);
		s5_free(c);
		return;
	}
	log_info("xmpp proxy p%" PRIu64 " [%s]: %s", c->id, c->addr,
	    c->st == S5_WAIT        ? "not activated in time" :
	        c->st == S5_CLOSING ? "last bytes not taken in time" :
	                              "SOCKS5 handshake timeout");
	s5_free(c);
}

static void
arm(struct s5 *c, int secs)
{
	struct timeval tv = {secs, 0};

	evtimer_add(c->timer, &tv);
}

/* fail - a last reply, then close once it left */
static void
fail(struct s5 *c, const void *reply, size_t len, const char *why)
{
	log_info("xmpp proxy p%" PRIu64 " [%s]: %s", c->id, c->addr, why);
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_write(c->bev, reply, len);
	c->st = S5_CLOSING;
	arm(c, PROXY_HANDSHAKE_SECS);
}

static void
reply_fail(struct s5 *c, unsigned char code, const char *why)
{
	/* RFC 1928 6: VER REP RSV ATYP=IPv4 0.0.0.0:0 */
	unsigned char r[10] = {5, code, 0, 1, 0, 0, 0, 0, 0, 0};

	fail(c, r, sizeof(r), why);
}

static size_t
waiting_with(const char *hash)
{
	size_t n = 0;

	for (struct s5 *c = conns; c != NULL; c = c->next)
		if (c->st == S5_WAIT && strcmp(c->hash, hash) == 0)
			n++;
	return n;
}

/* relay - move what came from c to its peer */
static void
relay(struct s5 *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);

	if (c->peer == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	struct evbuffer *out = bufferevent_get_output(c->peer->bev);
	/* one idle deadline for the pair: any byte either way renews it */
	arm(c, PROXY_IDLE_SECS);
	evtimer_del(c->peer->timer);
	c->bytes += n;
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= PROXY_BUF_HIGH)
		bufferevent_disable(c->bev, EV_READ);
}

static void
handshake(struct s5 *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in), used = 0;
	unsigned char *p = evbuffer_pullup(in, -1);
	const char *why = NULL;
	unsigned char code = 0;
	int r;

	if (c->st == S5_GREETING) {
		r = s5_greeting(p, len, &used, &why);
		if (r < 0) {
			static const unsigned char no[2] = {5, 0xff};
			fail(c, no, 2, why);
			return;
		}
		if (r == 0)
			return;
		evbuffer_drain(in, used);
		bufferevent_write(c->bev, "\x05\x00", 2);
		c->st = S5_REQUEST;
		len = evbuffer_get_length(in);
		p = evbuffer_pullup(in, -1);
	}
	if (c->st != S5_REQUEST)
		return;
	r = s5_request(p, len, c->hash, &code, &why);
	if (r < 0) {
		reply_fail(c, code, why);
		return;
	}
	if (r == 0)
		return;
	if (waiting_with(c->hash) >= 2) {
		c->hash[0] = '\0';
		reply_fail(c, 2, "a third connection for one bytestream");
		return;
	}
	/* RFC 1928 6: the reply names the same address */
	unsigned char rep[S5_REQUEST_LEN];
	memcpy(rep, p, S5_REQUEST_LEN);
	rep[1] = 0;
	evbuffer_drain(in, S5_REQUEST_LEN);
	bufferevent_write(c->bev, rep, sizeof(rep));
	c->st = S5_WAIT;
	/* nothing is read until the activation (TCP holds what comes) */
	bufferevent_disable(c->bev, EV_READ);
	arm(c, PROXY_WAIT_SECS);
	log_info("xmpp proxy p%" PRIu64 " [%s]: waiting for %.8s...", c->id,
	    c->addr, c->hash);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct s5 *c = arg;

	(void)bev;
	if (c->st == S5_RELAY)
		relay(c);
	else if (c->st == S5_GREETING || c->st == S5_REQUEST)
		handshake(c);
	else
		evbuffer_drain(bufferevent_get_input(c->bev),
		    evbuffer_get_length(bufferevent_get_input(c->bev)));
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct s5 *c = arg;

	(void)bev;
	if (c->st == S5_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			s5_free(c);
		return;
	}
	/* below the low watermark again: the peer may send more */
	if (c->st == S5_RELAY && c->peer != NULL && c->peer->st == S5_RELAY)
		bufferevent_enable(c->peer->bev, EV_READ);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct s5 *c = arg;
	struct s5 *p = c->peer;

	(void)bev;
	(void)what;
	if (c->st == S5_RELAY) {
		relay(c); /* what arrived with the EOF */
		log_info("xmpp proxy p%" PRIu64 " [%s]: closed after %" PRIu64
		         " bytes",
		    c->id, c->addr, c->bytes);
	}
	if (p != NULL) {
		p->peer = NULL;
		c->peer = NULL;
		if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0) {
			s5_free(p);
		} else {
			bufferevent_disable(p->bev, EV_READ);
			bufferevent_setwatermark(p->bev, EV_WRITE, 0, 0);
			p->st = S5_CLOSING;
			arm(p, PROXY_CLOSE_SECS);
		}
	}
	s5_free(c);
}

void
proxy_accept(struct service *svc, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	char addr[64] = "?";
	int limit =
	    (int)settings_current(svc->db)->xmpp_max_connections_per_ip;

	sockaddr_ntop(sa, addr, sizeof(addr));
	if (nconns >= PROXY_CONNS_MAX ||
	    !service_conn_acquire(svc, sa, limit)) {
		log_info("xmpp proxy [%s]: refused: too many connections",
		    addr);
		close(fd);
		return;
	}
	struct s5 *c = xcalloc(1, sizeof(*c));
	memcpy(&c->sa, sa, salen < sizeof(c->sa) ? salen : sizeof(c->sa));
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->id = ++next_id;
	c->bev = bufferevent_socket_new(svc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(svc->base, on_timer, c);
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	nconns++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, 64 * 1024);
	bufferevent_setwatermark(c->bev, EV_WRITE, PROXY_BUF_HIGH / 2, 0);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	arm(c, PROXY_HANDSHAKE_SECS);
	log_info("xmpp proxy p%" PRIu64 " connect from %s", c->id, addr);
}

void
proxy_shutdown(void)
{
	while (conns != NULL)
		s5_free(conns);
}

/* ------------------------------------------------------------ IQs */

/* streamhost - the address clients reach the listener at: its own when
 * bound to one, else xmpp.proxy_host, else the server's host name */
static void
streamhost(struct xsess *s, const struct xml_node *iq, const char *from,
    const struct service_listener *l)
{
	char port[16];
	char *host;
	bool any = strcmp(l->addr.host, "0.0.0.0") == 0 ||
	    strcmp(l->addr.host, "::") == 0;

	if (!any)
		host = xstrdup(l->addr.host);
	else {
		host = xstrdup(settings_current(xsrv.svc->db)->xmpp_proxy_host);
		if (*host == '\0') {
			free(host);
			host = settings_hostname(xsrv.svc->db);
		}
	}
	snprintf(port, sizeof(port), "%d", l->addr.port);
	struct xml_node *r = im_result_from(s, iq, from);
	struct xml_node *q =
	    xml_node_add(r, "query", "xmlns", NS_BYTESTREAMS, NULL);
	xml_node_add(q, "streamhost", "jid", from, "host", host, "port", port,
	    NULL);
	xsess_send(s, r);
	xml_node_free(&r);
	free(host);
}

static void
activate(struct xsess *s, const struct xml_node *iq, const struct xml_node *q,
    const char *from)
{
	const char *sid = xml_node_attr(q, "sid");
	struct xml_node *a = xml_node_child(q, "activate", NULL);
	char *target = a != NULL ? xml_node_text(a) : NULL;
	struct jid tj;

	if (sid == NULL || *sid == '\0' || strlen(sid) > PROXY_SID_MAX ||
	    target == NULL || *target == '\0') {
		im_error_from(s, iq, from, "modify", "bad-request",
		    "<activate/> "
		    "needs a sid (at most 128 bytes) and the target's JID");
		goto out;
	}
	if (jid_parse(target, &tj) < 0) {
		im_error_from(s, iq, from, "modify", "jid-malformed", NULL);
		goto out;
	}
	jid_clear(&tj);
	/* XEP-0065 5.3.2: SHA1(SID + Requester JID + Target JID) */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hash[41];
	char *in = xasprintf("%s%s%s", sid, s->full, target);
	int ok = EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL);
	free(in);
	if (ok != 1 || mdlen != 20) {
		im_error_from(s, iq, from, "wait", "internal-server-error",
		    NULL);
		goto out;
	}
	for (unsigned i = 0; i < 20; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	struct s5 *one = NULL, *two = NULL;
	for (struct s5 *c = conns; c != NULL; c = c->next)
		if (c->st == S5_WAIT && strcmp(c->hash, hash) == 0) {
			if (one == NULL)
				one = c;
			else
				two = c;
		}
	if (two == NULL) {
		im_error_from(s, iq, from, "cancel", "item-not-found",
		    one == NULL ? "no connection for this bytestream" :
		                  "only one "
		                  "side of this bytestream is connected");
		goto out;
	}
	one->peer = two;
	two->peer = one;
	one->st = two->st = S5_RELAY;
	arm(one, PROXY_IDLE_SECS);      /* the pair's idle deadline (relay) */
	evtimer_del(two->timer);
	bufferevent_enable(one->bev, EV_READ);
	bufferevent_enable(two->bev, EV_READ);
	log_info("xmpp proxy: %s activated p%" PRIu64 " <-> p%" PRIu64
	         " (%.8s...)",
	    s->full, one->id, two->id, hash);
	struct xml_node *r = im_result_from(s, iq, from);
	xsess_send(s, r);
	xml_node_free(&r);
out:
	free(target);
}

void
proxy_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
    const struct jid *to, int64_t po)
{
	const char *type = xml_node_attr(iq, "type");
	const char *ns = payload != NULL ? xml_node_xmlns(payload) : NULL;
	const char *from = to->domain;
	const struct service_listener *l = proxy_listener();

	if (!is(type, "get") && !is(type, "set"))
		return;
	if (to->local != NULL || to->resource != NULL) {
		im_error_from(s, iq, from, "cancel", "item-not-found", NULL);
	} else if (po != s->po_id) {
		im_error_from(s, iq, from, "cancel", "forbidden",
		    "this proxy is "
		    "for another organisation's users");
	} else if (l == NULL) {
		im_error_from(s, iq, from, "cancel", "service-unavailable",
		    "the "
		    "SOCKS5 proxy is off (xmpp-proxy.listen)");
	} else if (is(type, "get") && is(ns, NS_DISCO_INFO)) {
		struct xml_node *r = im_result_from(s, iq, from);
		struct xml_node *q =
		    xml_node_add(r, "query", "xmlns", NS_DISCO_INFO, NULL);
		xml_node_add(q, "identity", "category", "proxy", "type",
		    "bytestreams", "name", "SOCKS5 Bytestreams", NULL);
		xml_node_add(q, "feature", "var", NS_BYTESTREAMS, NULL);
		xml_node_add(q, "feature", "var", NS_DISCO_INFO, NULL);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(type, "get") && is(ns, NS_DISCO_ITEMS)) {
		struct xml_node *r = im_result_from(s, iq, from);
		xml_node_add(r, "query", "xmlns", NS_DISCO_ITEMS, NULL);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_BYTESTREAMS) &&
	    strcmp(payload->name, "query") == 0) {
		if (is(type, "get"))
			streamhost(s, iq, from, l);
		else
			activate(s, iq, payload, from);
	} else
		im_error_from(s, iq, from, "cancel", "service-unavailable",
		    NULL);
}
