/* s2s - server-to-server streams (RFC 6120, namespace 'jabber:server'):
 * the xmpp-server listener's incoming streams and the outgoing ones to
 * other XMPP domains (found by _xmpp-server._tcp SRV records through
 * lib-dns, else the domain's addresses on 5269), with STARTTLS both ways
 * and server dialback (XEP-0220, keys in dialback.c) to prove each
 * domain. Stanzas for a domain not connected yet wait in its link's
 * queue (xmpp.s2s_queue_max), and are answered with an error when the
 * link fails. Routing to and from local users is federate.c's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "directory.h"
#include "dns.h"
#include "log.h"
#include "netaddr.h"
#include "s2s-target.h"
#include "settings.h"
#include "tls.h"
#include "xalloc.h"
#include "xmppd.h"

#define NS_SERVER "jabber:server"
#define NS_DIALBACK "jabber:server:dialback"
#define NS_DB_FEATURE "urn:xmpp:features:dialback"
#define S2S_VERIFY_MAX 64         /* db:verify waiting on one link */
#define S2S_PAIRS_MAX 64          /* domain pairs on one incoming stream */
#define S2S_RETRY_SECS 30         /* a failed domain is not retried sooner */

enum link_state {
	L_RESOLVE,                /* out: SRV, then addresses */
	L_CONNECT,                /* out: TCP connect */
	L_HEADER,                 /* waiting for the peer's header */
	L_FEATURES,               /* out: waiting for stream features */
	L_TLS,                    /* out: <starttls/> sent */
	L_DIALBACK,               /* out: db:result sent */
	L_READY,                  /* out: authorized; in: stanzas flow */
};

/* a db:verify to send on an outgoing link, for an incoming stream */
struct verify {
	struct verify *next;
	uint64_t in_serial;       /* the incoming link asking */
	char *id, *key;
	bool sent;
};

/* a domain pair an incoming stream asked for (db:result) */
struct pair {
	struct pair *next;
	char *remote, *local;
	bool valid;
};

struct link {
	struct link *next;
	uint64_t serial;
	bool out;
	enum link_state state;
	struct xconn *c;
	struct xml_stream *xs;
	bool dead;
	bool header_sent;
	bool freeing;
	char id[129];             /* in: our stream id; out: the peer's */
	/* out */
	char *from, *to;          /* our domain, the remote one */
	struct dns_srv *srv;
	size_t nsrv, isrv;
	struct sockaddr_storage *addrs;
	size_t naddr, iaddr;
	unsigned port;
	struct xml_node **queue;
	size_t nqueue;
	struct verify *verifies;
	size_t nverify;
	struct event *timer;
	time_t failed_at;         /* monotonic: a failed link lingers */
	char *fail_text;
	/* in */
	char *local;              /* the header's 'to' */
	struct pair *pairs;
	size_t npairs;
};

static struct link *links;
static uint64_t serials;
static struct dns_resolver *resolver;

static void link_free(struct link *l);
static void out_next_target(struct link *l);
static void out_next_addr(struct link *l);

static time_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static size_t
link_count(void)
{
	size_t n = 0;

	for (struct link *l = links; l != NULL; l = l->next)
		if (l->c != NULL)
			n++;
	return n;
}

/* local_name - an element's name without its prefix ("db:result") */
static const char *
local_name(const struct xml_node *n)
{
	const char *c = strchr(n->name, ':');

	return c != NULL ? c + 1 : n->name;
}

static void
send_raw(struct link *l, const char *xml)
{
	if (l->dead || l->c == NULL)
		return;
	if (!xconn_write(l->c, xml, strlen(xml))) {
		log_info("xmpp s2s c%" PRIu64 " %s: over %d bytes unread: "
		    "closing", l->c->id, l->c->addr, XCONN_OUT_MAX);
		l->dead = true;
		xconn_close(l->c);
	}
}

static void
send_node(struct link *l, const struct xml_node *n)
{
	struct buf b;

	buf_init(&b, 0);
	xml_node_write(n, &b);
	send_raw(l, b.data);
	buf_free(&b);
}

static void
send_header(struct link *l, const char *from, const char *to)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "<?xml version='1.0'?><stream:stream xmlns='"
	    NS_SERVER "' xmlns:stream='http://etherx.jabber.org/streams' "
	    "xmlns:db='" NS_DIALBACK "' version='1.0'");
	if (!l->out) {
		buf_puts(&b, " id='");
		buf_puts(&b, l->id);
		buf_puts(&b, "'");
	}
	if (from != NULL) {
		buf_puts(&b, " from='");
		xml_escape(&b, from);
		buf_puts(&b, "'");
	}
	if (to != NULL) {
		buf_puts(&b, " to='");
		xml_escape(&b, to);
		buf_puts(&b, "'");
	}
	buf_puts(&b, ">");
	send_raw(l, b.data);
	buf_free(&b);
	l->header_sent = true;
}

/* link_error - RFC 6120 4.9 stream error, then close */
static void
link_error(struct link *l, const char *cond, const char *text)
{
	struct buf b;

	if (l->dead || l->c == NULL)
		return;
	log_info("xmpp s2s c%" PRIu64 " %s%s%s: stream error %s%s%s",
	    l->c->id, l->c->addr, l->out ? " to " : "", l->out ? l->to : "",
	    cond, text ? ": " : "", text ? text : "");
	if (!l->header_sent)
		send_header(l, l->out ? l->from : l->local, l->out ? l->to :
		    NULL);
	buf_init(&b, 0);
	buf_printf(&b, "<stream:error><%s xmlns='" NS_STREAMS "'/>", cond);
	if (text != NULL) {
		buf_puts(&b, "<text xmlns='" NS_STREAMS "'>");
		xml_escape(&b, text);
		buf_puts(&b, "</text>");
	}
	buf_puts(&b, "</stream:error></stream:stream>");
	send_raw(l, b.data);
	buf_free(&b);
	l->dead = true;
	xconn_close(l->c);
}

/* ------------------------------------------------------ outgoing links */

/* bounce - the queued stanzas of a failed link come back to their local
 * senders as errors (RFC 6120 8.3.3.13, 8.3.3.14) */
static void
bounce(struct link *l, const char *cond, const char *text)
{
	for (size_t i = 0; i < l->nqueue; i++) {
		federate_bounce(l->queue[i], cond, text);
		xml_node_free(&l->queue[i]);
	}
	l->nqueue = 0;
}

/* out_fail - the link to a domain cannot be made or authorized: what
 * waits is answered, and for S2S_RETRY_SECS new stanzas are too */
static void
out_fail(struct link *l, const char *cond, const char *text)
{
	log_info("xmpp s2s %s -> %s: %s", l->from, l->to, text);
	bounce(l, cond, text);
	free(l->fail_text);
	l->fail_text = xstrdup(text);
	l->failed_at = mono();
	/* incoming streams waiting for a verification here: invalid */
	for (struct verify *v = l->verifies; v != NULL; v = v->next)
		s2s_verified(v->in_serial, l->to, l->from, false);
	while (l->verifies != NULL) {
		struct verify *v = l->verifies;
		l->verifies = v->next;
		free(v->id);
		free(v->key);
		free(v);
	}
	l->nverify = 0;
	if (l->timer != NULL)
		evtimer_del(l->timer);
	if (l->c != NULL) {
		if (l->state >= L_HEADER)
			link_error(l, "remote-connection-failed", text);
		else {
			l->dead = true;
			xconn_close(l->c);
		}
	}
}

static void
on_out_timer(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	if (l->state != L_READY)
		out_fail(l, "remote-server-timeout", "no authenticated "
		    "connection within xmpp.s2s_timeout");
}

static void
send_verifies(struct link *l)
{
	for (struct verify *v = l->verifies; v != NULL; v = v->next) {
		if (v->sent)
			continue;
		struct xml_node *n = xml_node_new("db:verify", "from",
		    l->from, "to", l->to, "id", v->id, NULL);
		xml_node_add_text(n, v->key);
		send_node(l, n);
		xml_node_free(&n);
		v->sent = true;
	}
}

static void
flush_queue(struct link *l)
{
	for (size_t i = 0; i < l->nqueue; i++) {
		send_node(l, l->queue[i]);
		xml_node_free(&l->queue[i]);
	}
	l->nqueue = 0;
}

static void
out_features(struct link *l, struct xml_node *f)
{
	SSL_CTX *ctx = tls_client_ctx();

	if (!l->c->tls && ctx != NULL && xml_node_child(f, "starttls",
	    NS_TLS) != NULL) {
		send_raw(l, "<starttls xmlns='" NS_TLS "'/>");
		l->state = L_TLS;
		return;
	}
	if (!l->c->tls && xml_node_child(f, "starttls", NS_TLS) != NULL &&
	    xml_node_child(xml_node_child(f, "starttls", NS_TLS), "required",
	    NULL) != NULL) {
		out_fail(l, "remote-server-not-found", "the remote server "
		    "requires TLS and we have no client context");
		return;
	}
	/* XEP-0220 2.1: our key for the stream id the peer gave */
	char *key = dialback_key(l->to, l->from, l->id);
	struct xml_node *n = xml_node_new("db:result", "from", l->from, "to",
	    l->to, NULL);
	xml_node_add_text(n, key);
	send_node(l, n);
	xml_node_free(&n);
	free(key);
	l->state = L_DIALBACK;
	send_verifies(l);
}

/* out_verify_answer - a db:verify answer from the authoritative server:
 * the incoming stream that asked learns it */
static void
out_verify_answer(struct link *l, struct xml_node *n)
{
	const char *id = xml_node_attr(n, "id");
	const char *type = xml_node_attr(n, "type");
	struct verify **vp = &l->verifies;

	while (*vp != NULL && (id == NULL || strcmp((*vp)->id, id) != 0 ||
	    !(*vp)->sent))
		vp = &(*vp)->next;
	if (*vp == NULL)
		return;         /* not asked (or answered twice): ignored */
	struct verify *v = *vp;
	*vp = v->next;
	l->nverify--;
	s2s_verified(v->in_serial, l->to, l->from, type != NULL &&
	    strcmp(type, "valid") == 0);
	free(v->id);
	free(v->key);
	free(v);
}

static void
out_stanza(struct link *l, struct xml_node *n)
{
	const char *name = local_name(n);

	if (strcmp(n->name, "stream:features") == 0 && (l->state ==
	    L_FEATURES)) {
		out_features(l, n);
	} else if (strcmp(name, "proceed") == 0 && l->state == L_TLS) {
		if (xconn_starttls_as(l->c, tls_client_ctx(), l->to) < 0) {
			out_fail(l, "remote-server-not-found", "TLS failed");
			goto out;
		}
		xml_stream_free(&l->xs);
		l->xs = xml_stream_new((size_t)settings_current(xsrv.svc->db)->xmpp_s2s_stanza_max * 1024);
		l->state = L_HEADER;
		send_header(l, l->from, l->to);
	} else if (strcmp(name, "failure") == 0 && l->state == L_TLS) {
		out_fail(l, "remote-server-not-found", "the remote server "
		    "refused STARTTLS");
	} else if (strcmp(name, "result") == 0 && l->state == L_DIALBACK) {
		const char *type = xml_node_attr(n, "type");
		if (type != NULL && strcmp(type, "valid") == 0) {
			l->state = L_READY;
			evtimer_del(l->timer);
			xconn_set_timeout(l->c, (int)settings_current(xsrv.svc->db)->xmpp_s2s_idle_timeout);
			log_info("xmpp s2s c%" PRIu64 " %s -> %s: authorized "
			    "(dialback%s)", l->c->id, l->from, l->to,
			    l->c->tls ? ", TLS" : "");
			flush_queue(l);
		} else
			out_fail(l, "remote-server-not-found", "the remote "
			    "server did not accept our dialback key");
	} else if (strcmp(name, "verify") == 0) {
		out_verify_answer(l, n);
	} else if (strcmp(n->name, "stream:error") == 0) {
		char *t = NULL;
		struct xml_node *tx = xml_node_child(n, "text", NULL);
		if (tx != NULL)
			t = xml_node_text(tx);
		struct buf b;
		buf_init(&b, 0);
		buf_printf(&b, "the remote server ended the stream: %s%s%s",
		    n->first && n->first->name ? n->first->name : "error",
		    t ? ": " : "", t ? t : "");
		free(t);
		out_fail(l, "remote-server-not-found", b.data);
		buf_free(&b);
	} else {
		link_error(l, "unsupported-stanza-type", "nothing is taken "
		    "on our outgoing stream");
	}
out:
	xml_node_free(&n);
}

static void
out_connected(void *ctx)
{
	struct link *l = ctx;

	log_info("xmpp s2s c%" PRIu64 " %s -> %s: connected to %s", l->c->id,
	    l->from, l->to, l->c->addr);
	l->state = L_HEADER;
	send_header(l, l->from, l->to);
}

static void link_input(void *ctx);
static void link_end(void *ctx, enum xconn_end why);

static void
out_next_addr(struct link *l)
{
	if (l->iaddr >= l->naddr) {
		l->isrv++;
		out_next_target(l);
		return;
	}
	struct sockaddr_storage sa = l->addrs[l->iaddr++];
	socklen_t len;
	if (sa.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(l->port);
		len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&sa)->sin_port = htons(l->port);
		len = sizeof(struct sockaddr_in);
	}
	l->state = L_CONNECT;
	l->header_sent = false;
	l->dead = false;
	xml_stream_free(&l->xs);
	l->xs = xml_stream_new(XML_PREAUTH_MAX);
	l->c = xconn_connect(xsrv.svc, (struct sockaddr *)&sa, len,
	    out_connected, link_input, link_end, l);
	if (l->c == NULL)
		out_next_addr(l);
}

static void
on_addrs(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	 size_t n, const char *error)
{
	struct link *l = ctx;

	(void)error;
	free(l->addrs);
	l->addrs = NULL;
	l->naddr = l->iaddr = 0;
	if (st == DNS_OK && n > 0) {
		l->addrs = xreallocarray(NULL, n, sizeof(*addrs));
		memcpy(l->addrs, addrs, n * sizeof(*addrs));
		l->naddr = n;
	}
	out_next_addr(l);
}

static void
out_next_target(struct link *l)
{
	if (l->isrv >= l->nsrv) {
		out_fail(l, "remote-server-not-found", "no server of the "
		    "domain could be reached");
		return;
	}
	l->port = l->srv[l->isrv].port;
	l->state = L_RESOLVE;
	dns_lookup_addr(resolver, l->srv[l->isrv].host, on_addrs, l);
}

static void
on_srv(void *ctx, enum dns_status st, const struct dns_srv *srv, size_t n,
       const char *error)
{
	struct link *l = ctx;
	struct dns_srv t[DNS_SRV_MAX];
	const char *why;

	switch (s2s_targets(l->to, st, srv, n, t, &l->nsrv, &why)) {
	case S2S_TARGET_TEMPFAIL:
		out_fail(l, "remote-server-timeout", error ? error : why);
		return;
	case S2S_TARGET_NONE:
		out_fail(l, "remote-server-not-found", why);
		return;
	case S2S_TARGET_OK:
		break;
	}
	l->srv = xreallocarray(NULL, l->nsrv, sizeof(*l->srv));
	memcpy(l->srv, t, l->nsrv * sizeof(*t));
	l->isrv = 0;
	out_next_target(l);
}

static void
out_start(struct link *l)
{
	for (size_t i = 0; i < l->nsrv; i++)
		free(l->srv[i].host);
	free(l->srv);
	l->srv = NULL;
	l->nsrv = l->isrv = 0;
	l->failed_at = 0;
	l->state = L_RESOLVE;
	if (l->timer == NULL)
		l->timer = evtimer_new(xsrv.svc->base, on_out_timer, l);
	struct timeval tv = { settings_current(xsrv.svc->db)->xmpp_s2s_timeout, 0 };
	evtimer_add(l->timer, &tv);
	char *name = xasprintf("_xmpp-server._tcp.%s", l->to);
	dns_lookup_srv(resolver, name, on_srv, l);
	free(name);
}

/* out_link - the outgoing link from our domain to a remote one (made,
 * and started, when missing; NULL past xmpp.s2s_max_connections) */
static struct link *
out_link(const char *from, const char *to)
{
	for (struct link *l = links; l != NULL; l = l->next)
		if (l->out && !l->freeing && strcmp(l->from, from) == 0 &&
		    strcmp(l->to, to) == 0) {
			if (l->c == NULL && l->state != L_RESOLVE &&
			    (l->failed_at == 0 || mono() - l->failed_at >=
			    S2S_RETRY_SECS))
				out_start(l);
			return l;
		}
	if (link_count() >= (size_t)settings_current(xsrv.svc->db)->xmpp_s2s_max_connections)
		return NULL;
	struct link *l = xcalloc(1, sizeof(*l));
	l->serial = ++serials;
	l->out = true;
	l->from = xstrdup(from);
	l->to = xstrdup(to);
	l->next = links;
	links = l;
	out_start(l);
	return l;
}

/* s2s_send - a stanza from a local user (from: its full JID on our
 * domain from_domain) to a remote domain: sent, queued, or answered with
 * an error now (consumes n) */
void
s2s_send(const char *from_domain, const char *to_domain, struct xml_node *n)
{
	if (resolver == NULL) {
		/* shutting down (s2s_shutdown): the sessions' last
		 * unavailable presences have no link left to take them */
		xml_node_free(&n);
		return;
	}
	struct link *l = out_link(from_domain, to_domain);

	xml_node_set_attr(n, "xmlns", NULL);
	if (l == NULL) {
		federate_bounce(n, "resource-constraint", "too many "
		    "server-to-server connections (xmpp.s2s_max_connections)");
		xml_node_free(&n);
		return;
	}
	if (l->state == L_READY && l->c != NULL && !l->dead) {
		send_node(l, n);
		xml_node_free(&n);
		return;
	}
	if (l->failed_at != 0 && l->c == NULL) {
		federate_bounce(n, "remote-server-not-found", l->fail_text);
		xml_node_free(&n);
		return;
	}
	if (l->nqueue >= (size_t)settings_current(xsrv.svc->db)->xmpp_s2s_queue_max) {
		federate_bounce(n, "resource-constraint", "too many stanzas "
		    "wait for the remote server (xmpp.s2s_queue_max)");
		xml_node_free(&n);
		return;
	}
	l->queue = xreallocarray(l->queue, l->nqueue + 1, sizeof(*l->queue));
	l->queue[l->nqueue++] = n;
}

/* ------------------------------------------------------ incoming links */

static struct link *
in_by_serial(uint64_t serial)
{
	for (struct link *l = links; l != NULL; l = l->next)
		if (!l->out && l->serial == serial && !l->freeing)
			return l;
	return NULL;
}

static struct pair *
pair_find(struct link *l, const char *remote, const char *local)
{
	for (struct pair *p = l->pairs; p != NULL; p = p->next)
		if (strcmp(p->remote, remote) == 0 &&
		    strcmp(p->local, local) == 0)
			return p;
	return NULL;
}

void
s2s_verified(uint64_t in_serial, const char *remote, const char *local,
	     bool valid)
{
	struct link *l = in_by_serial(in_serial);
	struct pair *p;

	if (l == NULL || l->dead || (p = pair_find(l, remote, local)) ==
	    NULL || p->valid)
		return;
	struct xml_node *r = xml_node_new("db:result", "from", local, "to",
	    remote, "type", valid ? "valid" : "invalid", NULL);
	send_node(l, r);
	xml_node_free(&r);
	if (valid) {
		p->valid = true;
		l->state = L_READY;
		/* the stanza limit of an authorized peer from now on */
		xml_stream_set_max(l->xs, (size_t)settings_current(xsrv.svc->db)->xmpp_s2s_stanza_max * 1024);
		xconn_set_timeout(l->c, (int)settings_current(xsrv.svc->db)->xmpp_s2s_idle_timeout);
		log_info("xmpp s2s c%" PRIu64 " %s: %s -> %s authorized "
		    "(dialback%s)", l->c->id, l->c->addr, remote, local,
		    l->c->tls ? ", TLS" : "");
		return;
	}
	/* XEP-0220 2.4: the peer did not prove the domain: no stanza of
	 * it is taken, and the stream ends */
	link_error(l, "not-authorized", "dialback failed: the "
	    "authoritative server of that domain did not vouch for this "
	    "connection");
}

/* in_result - db:result: a remote server asks to send as 'from' to our
 * 'to': ask 'from''s authoritative server (db:verify) over our own link
 * to it */
static void
in_result(struct link *l, struct xml_node *n)
{
	const char *from = xml_node_attr(n, "from");
	const char *to = xml_node_attr(n, "to");
	char *key = xml_node_text(n);
	struct jid jf, jt;
	bool ok_from = from != NULL && jid_parse(from, &jf) == 0, ok_to = to
	    != NULL && jid_parse(to, &jt) == 0;

	if (!ok_from || !ok_to || jf.local != NULL || jf.resource != NULL ||
	    jt.local != NULL || jt.resource != NULL || key[0] == '\0') {
		link_error(l, "bad-format", "db:result needs 'from', 'to' "
		    "(domains) and a key");
		goto out;
	}
	if (!federate_enabled(jt.domain)) {
		link_error(l, "host-unknown", "no federation for that "
		    "domain here");
		goto out;
	}
	if (!federate_remote(jf.domain)) {
		link_error(l, "invalid-from", "that domain is served here");
		goto out;
	}
	if (pair_find(l, jf.domain, jt.domain) != NULL)
		goto out;       /* asked already */
	if (l->npairs >= S2S_PAIRS_MAX) {
		link_error(l, "policy-violation", "too many domains on one "
		    "stream");
		goto out;
	}
	struct pair *p = xcalloc(1, sizeof(*p));
	p->remote = xstrdup(jf.domain);
	p->local = xstrdup(jt.domain);
	p->next = l->pairs;
	l->pairs = p;
	l->npairs++;
	struct link *o = out_link(jt.domain, jf.domain);
	if (o == NULL || o->nverify >= S2S_VERIFY_MAX) {
		s2s_verified(l->serial, jf.domain, jt.domain, false);
		goto out;
	}
	if (o->failed_at != 0 && o->c == NULL) {
		s2s_verified(l->serial, jf.domain, jt.domain, false);
		goto out;
	}
	struct verify *v = xcalloc(1, sizeof(*v));
	v->in_serial = l->serial;
	v->id = xstrdup(l->id);
	v->key = key;
	key = NULL;
	v->next = o->verifies;
	o->verifies = v;
	o->nverify++;
	if (o->state == L_DIALBACK || o->state == L_READY)
		send_verifies(o);
out:
	if (ok_from)
		jid_clear(&jf);
	if (ok_to)
		jid_clear(&jt);
	free(key);
}

/* in_verify - db:verify: a receiving server asks whether a key is ours
 * (we are the authoritative server of 'to') */
static void
in_verify(struct link *l, struct xml_node *n)
{
	const char *from = xml_node_attr(n, "from");
	const char *to = xml_node_attr(n, "to");
	const char *id = xml_node_attr(n, "id");
	char *key = xml_node_text(n);

	if (from == NULL || to == NULL || id == NULL) {
		link_error(l, "bad-format", "db:verify needs 'from', 'to' and "
		    "'id'");
		free(key);
		return;
	}
	bool valid = federate_enabled(to) && dialback_check(from, to, id,
	    key);
	struct xml_node *r = xml_node_new("db:verify", "from", to, "to", from,
	    "id", id, "type", valid ? "valid" : "invalid", NULL);
	send_node(l, r);
	xml_node_free(&r);
	free(key);
}

/* in_stanza_route - a stanza on an authorized incoming stream: its
 * domains must be a pair the peer proved */
static void
in_route(struct link *l, struct xml_node *n)
{
	const char *from = xml_node_attr(n, "from");
	const char *to = xml_node_attr(n, "to");
	struct jid jf, jt;

	if (from == NULL || to == NULL) {
		link_error(l, "improper-addressing", "stanzas need 'from' and "
		    "'to'");
		xml_node_free(&n);
		return;
	}
	if (jid_parse(from, &jf) < 0) {
		link_error(l, "invalid-from", NULL);
		xml_node_free(&n);
		return;
	}
	if (jid_parse(to, &jt) < 0) {
		jid_clear(&jf);
		/* a stanza error would do; a peer that sends these is
		 * broken enough */
		link_error(l, "improper-addressing", "malformed 'to'");
		xml_node_free(&n);
		return;
	}
	struct pair *p = pair_find(l, jf.domain, jt.domain);
	if (p == NULL || !p->valid) {
		link_error(l, "invalid-from", "that domain pair was not "
		    "authorized (dialback) on this stream");
		jid_clear(&jf);
		jid_clear(&jt);
		xml_node_free(&n);
		return;
	}
	jid_clear(&jf);
	jid_clear(&jt);
	federate_incoming(n);
}

static void
in_stanza(struct link *l, struct xml_node *n)
{
	const char *name = local_name(n);

	if (strcmp(name, "starttls") == 0 && !l->c->tls && xsrv.ssl != NULL) {
		send_raw(l, "<proceed xmlns='" NS_TLS "'/>");
		if (xconn_starttls(l->c, xsrv.ssl) < 0) {
			l->dead = true;
			xconn_close(l->c);
		} else {
			xml_stream_free(&l->xs);
			l->xs = xml_stream_new(XML_PREAUTH_MAX);
			l->header_sent = false;
			l->state = L_HEADER;
		}
		xml_node_free(&n);
		return;
	}
	if (strncmp(n->name, "db:", 3) == 0 || (xml_node_attr(n, "xmlns") &&
	    strcmp(xml_node_attr(n, "xmlns"), NS_DIALBACK) == 0)) {
		if (strcmp(name, "result") == 0)
			in_result(l, n);
		else if (strcmp(name, "verify") == 0)
			in_verify(l, n);
		else
			link_error(l, "unsupported-stanza-type", NULL);
		xml_node_free(&n);
		return;
	}
	if (strcmp(n->name, "message") == 0 || strcmp(n->name, "presence") ==
	    0 || strcmp(n->name, "iq") == 0) {
		if (l->state != L_READY) {
			link_error(l, "not-authorized", "authenticate "
			    "(dialback) first");
			xml_node_free(&n);
			return;
		}
		in_route(l, n);
		return;
	}
	link_error(l, "unsupported-stanza-type", NULL);
	xml_node_free(&n);
}

static void
in_open(struct link *l)
{
	const struct xml_node *root = xml_stream_root(l->xs);
	const char *ns = xml_node_attr(root, "xmlns");
	const char *to = xml_node_attr(root, "to");
	struct buf b;

	free(l->local);
	l->local = to != NULL ? xstrdup(to) : NULL;
	if (l->local != NULL)
		str_lower(l->local);
	unsigned char rnd[16];
	random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(l->id + 2 * i, 3, "%02x", rnd[i]);
	send_header(l, l->local, NULL);
	if (ns == NULL || strcmp(ns, NS_SERVER) != 0) {
		link_error(l, "invalid-namespace", "this is the "
		    "server-to-server port ('jabber:server')");
		return;
	}
	if (l->local != NULL && !federate_enabled(l->local)) {
		link_error(l, "host-unknown", "no federation for that domain "
		    "here");
		return;
	}
	buf_init(&b, 0);
	buf_puts(&b, "<stream:features>");
	if (!l->c->tls && xsrv.ssl != NULL)
		buf_puts(&b, "<starttls xmlns='" NS_TLS "'/>");
	buf_puts(&b, "<dialback xmlns='" NS_DB_FEATURE "'><errors/>"
	    "</dialback></stream:features>");
	send_raw(l, b.data);
	buf_free(&b);
	l->state = L_FEATURES;
}

/* ------------------------------------------------------ both */

static void
out_open(struct link *l)
{
	const struct xml_node *root = xml_stream_root(l->xs);
	const char *id = xml_node_attr(root, "id");
	const char *ns = xml_node_attr(root, "xmlns");

	if (ns == NULL || strcmp(ns, NS_SERVER) != 0) {
		out_fail(l, "remote-server-not-found", "the peer does not "
		    "speak 'jabber:server'");
		return;
	}
	if (id == NULL || strlen(id) >= sizeof(l->id) || id[0] == '\0') {
		out_fail(l, "remote-server-not-found", "the peer's stream has "
		    "no usable id");
		return;
	}
	snprintf(l->id, sizeof(l->id), "%s", id);
	if (xml_node_attr(root, "version") == NULL) {
		/* an old server without features: dialback at once */
		struct xml_node *f = xml_node_new("stream:features", NULL);
		out_features(l, f);
		xml_node_free(&f);
		return;
	}
	l->state = L_FEATURES;
}

static void
link_input(void *ctx)
{
	struct link *l = ctx;
	bool resumed = false;

	while (!l->dead && l->c != NULL) {
		switch (xconn_xml_event(l->c, l->xs, &resumed)) {
		case XML_EV_MORE:
			return;
		case XML_EV_OPEN:
			if (l->state != L_HEADER && !(l->out && l->state ==
			    L_CONNECT)) {
				link_error(l, "bad-format", NULL);
				return;
			}
			if (l->out)
				out_open(l);
			else
				in_open(l);
			break;
		case XML_EV_STANZA:
			if (l->out)
				out_stanza(l, xml_stream_take(l->xs));
			else
				in_stanza(l, xml_stream_take(l->xs));
			break;
		case XML_EV_CLOSE:
			if (l->out && l->state != L_READY)
				out_fail(l, "remote-server-not-found", "the "
				    "remote server closed the stream");
			if (!l->dead) {
				if (!l->header_sent)
					send_header(l, l->out ? l->from :
					    l->local, l->out ? l->to : NULL);
				send_raw(l, "</stream:stream>");
				l->dead = true;
				xconn_close(l->c);
			}
			return;
		case XML_EV_ERROR: {
			const char *text;
			const char *cond = xml_stream_error(l->xs, &text);
			if (l->out && l->state != L_READY)
				out_fail(l, "remote-server-not-found", text);
			link_error(l, cond, text);
			return;
		}
		}
	}
}

static void
link_end(void *ctx, enum xconn_end why)
{
	struct link *l = ctx;

	if (why == XCONN_TIMEOUT && !l->dead) {
		/* idle: close politely (made again when needed) */
		send_raw(l, "</stream:stream>");
		l->dead = true;
		xconn_close(l->c);
		return;
	}
	if (l->out && l->state != L_READY && l->failed_at == 0 &&
	    why != XCONN_CLOSED) {
		/* a connection that did not come up: the next address */
		xconn_free(&l->c);
		xml_stream_free(&l->xs);
		l->xs = xml_stream_new(XML_PREAUTH_MAX);
		if (l->state == L_CONNECT) {
			out_next_addr(l);
			return;
		}
		out_fail(l, "remote-server-not-found", "the connection "
		    "ended before authentication");
		return;
	}
	if (l->c != NULL)
		log_info("xmpp s2s c%" PRIu64 " %s: closed", l->c->id,
		    l->out ? l->to : l->c->addr);
	xconn_free(&l->c);
	if (l->out) {
		/* kept (failed_at, queue) until reused or swept */
		if (l->state == L_READY)
			l->state = L_HEADER;
		if (l->failed_at == 0)
			l->failed_at = mono() - S2S_RETRY_SECS;  /* retry */
		if (l->nqueue > 0) {
			/* stanzas came while it closed: go again */
			l->failed_at = 0;
			xml_stream_free(&l->xs);
			l->xs = xml_stream_new(XML_PREAUTH_MAX);
			out_start(l);
		}
		return;
	}
	link_free(l);
}

static void
link_free(struct link *l)
{
	struct link **lp = &links;

	l->freeing = true;
	while (*lp != NULL && *lp != l)
		lp = &(*lp)->next;
	if (*lp != NULL)
		*lp = l->next;
	if (resolver != NULL)
		dns_cancel(resolver, l);
	if (l->out) {
		bounce(l, "remote-server-not-found", "the server is "
		    "shutting down");
		for (struct verify *v = l->verifies; v != NULL;) {
			struct verify *nx = v->next;
			free(v->id);
			free(v->key);
			free(v);
			v = nx;
		}
	}
	for (struct pair *p = l->pairs; p != NULL;) {
		struct pair *nx = p->next;
		free(p->remote);
		free(p->local);
		free(p);
		p = nx;
	}
	for (size_t i = 0; i < l->nsrv; i++)
		free(l->srv[i].host);
	free(l->srv);
	free(l->addrs);
	free(l->queue);
	if (l->timer != NULL)
		event_free(l->timer);
	xconn_free(&l->c);
	xml_stream_free(&l->xs);
	free(l->from);
	free(l->to);
	free(l->local);
	free(l->fail_text);
	free(l);
}

/* s2s_accept - a connection on the xmpp-server listener */
void
s2s_accept(struct service *svc, int fd, const struct sockaddr *sa,
	   socklen_t salen)
{
	int max = (int)settings_current(svc->db)->xmpp_s2s_max_connections;
	struct link *l;

	if (link_count() >= (size_t)max) {
		log_info("xmpp s2s: refused a connection: "
		    "xmpp.s2s_max_connections (%d) reached", max);
		close(fd);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->serial = ++serials;
	l->c = xconn_accept(svc, NULL, false, fd, sa, salen, max, link_input,
	    link_end, l);
	if (l->c == NULL) {
		free(l);
		return;
	}
	l->state = L_HEADER;
	l->xs = xml_stream_new(XML_PREAUTH_MAX);
	xconn_set_timeout(l->c, (int)settings_current(svc->db)->xmpp_s2s_timeout);
	l->next = links;
	links = l;
	log_info("xmpp s2s c%" PRIu64 " connect from %s", l->c->id,
	    l->c->addr);
}

/* s2s_init - the resolver and the dialback key */
int
s2s_init(struct service *svc)
{
	const char *err;
	char *hosts = xstrdup(settings_current(svc->db)->dns_hosts);

	resolver = dns_resolver_new(svc->base, hosts, 3000, 2, &err);
	free(hosts);
	if (resolver == NULL) {
		log_error("xmpp s2s: DNS: %s", err);
		return -1;
	}
	return dialback_init();
}

/* s2s_sweep - each second: failed outgoing links past their retry time
 * with nothing waiting go */
void
s2s_sweep(void)
{
	time_t now = mono();

	for (struct link *l = links, *nx; l != NULL; l = nx) {
		nx = l->next;
		if (l->out && l->c == NULL && l->failed_at != 0 &&
		    l->nqueue == 0 && now - l->failed_at >= S2S_RETRY_SECS)
			link_free(l);
	}
}

void
s2s_shutdown(void)
{
	while (links != NULL)
		link_free(links);
	dns_resolver_free(&resolver);
}
