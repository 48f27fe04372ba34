/* xmppd - the XMPP client service: streams, STARTTLS, resource binding
 * and stream errors (RFC 6120), sessions, the service's set-up; SASL in
 * xmpp-sasl.c, stream management in sm.c (xmppd-int.h) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "db.h"
#include "directory.h"
#include "fsutil.h"
#include "guest.h"
#include "log.h"
#include "settings.h"
#include "smtp-parser.h"
#include "throttle.h"
#include "tls.h"
#include "xalloc.h"
#include "xmppd.h"
#include "xmppd-int.h"

struct xmpp_server xsrv;

static void sess_end(void *ctx, enum xconn_end why);

/* ------------------------------------------------------------ output */

void
xsess_send_raw(struct xsess *s, const char *xml)
{
	if (s->dead || s->c == NULL)
		return;
	if (!xconn_write(s->c, xml, strlen(xml))) {
		/* a client that does not read: nothing more can reach it,
		 * the others go on (RFC 6120 4.9.3.12 would say
		 * policy-violation; it would not read that either) */
		log_info("xmpp c%" PRIu64 " %s: over %d bytes unread: closing",
		    s->c->id, s->full ? s->full : s->c->addr, XCONN_OUT_MAX);
		s->dead = true;
		xconn_close(s->c);
	}
}


void
xsess_send_stanza_text(struct xsess *s, const char *xml)
{
	if (s->dead)
		return;
	if (s->sm) {
		/* XEP-0198: kept until the client acknowledges it */
		if (s->h_out - s->acked >= SM_QUEUE_MAX) {
			if (s->hibernating)
				xmpp_sm_end_later(s);
			else
				stream_error(s, "policy-violation", "too many "
				    "stanzas not acknowledged");
			return;
		}
		s->unacked = xreallocarray(s->unacked, s->h_out - s->acked + 1,
		    sizeof(char *));
		s->unacked[s->h_out - s->acked] = xstrdup(xml);
		s->h_out++;
	}
	xsess_send_raw(s, xml);
	if (s->sm && (s->h_out - s->acked) % SM_REQUEST_EVERY == 0)
		xsess_send_raw(s, "<r xmlns='" NS_SM "'/>");
}

void
xsess_send(struct xsess *s, const struct xml_node *n)
{
	struct buf b;

	if (s->dead)
		return;
	buf_init(&b, 0);
	xml_node_write(n, &b);
	if (strcmp(n->name, "message") == 0 || strcmp(n->name, "presence") == 0
	    || strcmp(n->name, "iq") == 0)
		xsess_send_stanza_text(s, b.data);
	else
		xsess_send_raw(s, b.data);
	buf_free(&b);
}

/* send_header - our stream header (RFC 6120 4.7) */
static void
send_header(struct xsess *s)
{
	struct buf b;
	unsigned char rnd[12];
	char id[32];

	random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	buf_init(&b, 0);
	buf_puts(&b, "<?xml version='1.0'?><stream:stream xmlns='jabber:"
	    "client' xmlns:stream='http://etherx.jabber.org/streams' "
	    "version='1.0' xml:lang='en' id='");
	buf_puts(&b, id);
	buf_puts(&b, "' from='");
	xml_escape(&b, s->domain ? s->domain : "");
	if (s->bare != NULL) {
		buf_puts(&b, "' to='");
		xml_escape(&b, s->bare);
	}
	buf_puts(&b, "'>");
	xsess_send_raw(s, b.data);
	buf_free(&b);
	s->header_sent = true;
}

void
stream_error(struct xsess *s, const char *cond, const char *text)
{
	struct buf b;

	if (s->dead)
		return;
	if (s->c == NULL) {
		/* a dropped stream waiting for resumption: just end it */
		log_info("xmpp %s: %s: ending the resumable session", s->full,
		    cond);
		xmpp_sm_end_later(s);
		return;
	}
	log_info("xmpp c%" PRIu64 " %s: stream error %s%s%s", s->c->id,
	    s->full ? s->full : s->c->addr, cond, text ? ": " : "",
	    text ? text : "");
	if (!s->header_sent)
		send_header(s);
	buf_init(&b, 0);
	buf_printf(&b, "<stream:error><%s xmlns='" NS_STREAMS "'/>", cond);
	if (text != NULL) {
		buf_puts(&b, "<text xmlns='" NS_STREAMS "'>");
		xml_escape(&b, text);
		buf_puts(&b, "</text>");
	}
	buf_puts(&b, "</stream:error></stream:stream>");
	xsess_send_raw(s, b.data);
	buf_free(&b);
	s->dead = true;
	xconn_close(s->c);
}

/* ------------------------------------------------------------ policy */

/* xmpp_plaintext_ok - whether a password may be sent here: over TLS, from a
 * loopback client (auth.loopback_secure) or with
 * xmpp.allow_plaintext_auth; the rule of the other services */
bool
xmpp_plaintext_ok(struct xsess *s)
{
	if (s->c->tls || settings_current(xsrv.svc->db)->xmpp_allow_plaintext_auth)
		return true;
	return sockaddr_is_loopback((struct sockaddr *)&s->c->sa) &&
	    settings_current(xsrv.svc->db)->auth_loopback_secure;
}

static void
send_features(struct xsess *s)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "<stream:features>");
	if (!s->authed) {
		bool plain = xmpp_plaintext_ok(s);
		if (!s->c->tls && xsrv.ssl != NULL && !s->websocket)
			buf_printf(&b, "<starttls xmlns='" NS_TLS "'>%s"
			    "</starttls>", plain ? "" : "<required/>");
		if (plain || s->web_mailbox > 0)
			buf_printf(&b, "<mechanisms xmlns='" NS_SASL "'>"
			    "%s%s</mechanisms>", s->web_mailbox > 0 ?
			    "<mechanism>EXTERNAL</mechanism>" : "", plain ?
			    "<mechanism>PLAIN</mechanism>" : "");
	} else {
		buf_puts(&b, "<bind xmlns='" NS_BIND "'/>"
		    "<session xmlns='" NS_SESSION "'><optional/></session>"
		    "<csi xmlns='" NS_CSI "'/><sm xmlns='" NS_SM "'/>");
	}
	buf_puts(&b, "</stream:features>");
	xsess_send_raw(s, b.data);
	buf_free(&b);
}

/* stream_open - the client's stream header (RFC 6120 4.7, 4.9.3) */
static void
stream_open(struct xsess *s)
{
	const struct xml_node *r = xml_stream_root(s->xs);
	const char *to = xml_node_attr(r, "to");
	const char *ns = xml_node_attr(r, "xmlns");
	const char *ver = xml_node_attr(r, "version");
	struct dir_domain d;
	const char *err;
	char *dom;

	if (ns == NULL || strcmp(ns, NS_CLIENT) != 0) {
		stream_error(s, "invalid-namespace", "the default namespace "
		    "must be jabber:client");
		return;
	}
	if (to == NULL || *to == '\0' || strlen(to) > DOMAIN_MAX_LEN) {
		stream_error(s, "host-unknown", "no 'to' domain");
		return;
	}
	dom = xstrdup(to);
	str_lower(dom);
	if (s->domain != NULL && strcmp(s->domain, dom) != 0) {
		free(dom);
		stream_error(s, "host-unknown", "a restarted stream must keep "
		    "its domain");
		return;
	}
	if (s->domain == NULL) {
		int r2 = dir_domain_get(xsrv.svc->db, dom, &d, &err);
		if (r2 <= 0 || d.disabled || d.postoffice_disabled) {
			if (r2 < 0)
				log_warnx("xmpp c%" PRIu64 " domain %s: %s",
				    s->c->id, dom, err);
			s->domain = dom;
			stream_error(s, r2 < 0 ? "internal-server-error" :
			    "host-unknown", r2 < 0 ? NULL :
			    "this server does not serve that domain");
			return;
		}
		s->domain = dom;
		s->po_id = d.postoffice_id;
		snprintf(s->po, sizeof(s->po), "%s", d.postoffice);
	} else
		free(dom);
	send_header(s);
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		stream_error(s, "unsupported-version", "XMPP 1.0 only");
		return;
	}
	s->state = s->authed ? XS_AUTHED : XS_PREAUTH;
	send_features(s);
}

/* xmpp_stream_restart - a new stream after STARTTLS or SASL (RFC 6120 4.3.3) */
void
xmpp_stream_restart(struct xsess *s)
{
	xml_stream_free(&s->xs);
	s->xs = xml_stream_new(s->authed ? XML_STANZA_MAX : XML_PREAUTH_MAX);
	s->header_sent = false;
	s->state = XS_WAIT_HEADER;
}

/* ------------------------------------------------------------ binding */

struct xuser *
xuser_find(const char *owner)
{
	for (struct xuser *u = xsrv.users; u != NULL; u = u->next)
		if (strcmp(u->owner, owner) == 0)
			return u;
	return NULL;
}

static bool
resource_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > JID_PART_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)r; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* bind_resource - RFC 6120 7: the resource; a resource already in use by the
 * same user is taken over (the old session gets <conflict/>) */
static void
bind_resource(struct xsess *s, struct xml_node *iq)
{
	struct xml_node *b = xml_node_child(iq, "bind", NS_BIND);
	struct xml_node *rn = b ? xml_node_child(b, "resource", NULL) : NULL;
	const char *type = xml_node_attr(iq, "type");
	char *res = rn ? xml_node_text(rn) : NULL;
	struct xuser *u;

	if (b == NULL || type == NULL || strcmp(type, "set") != 0) {
		free(res);
		stream_error(s, "not-authorized", "bind a resource first");
		return;
	}
	if (res != NULL && *res == '\0')
		xfree(&res);
	if (res != NULL && !resource_ok(res)) {
		free(res);
		im_stanza_error(s, iq, "modify", "bad-request", "invalid "
		    "resource");
		return;
	}
	if (res == NULL) {
		unsigned char rnd[8];
		res = xmalloc(2 * sizeof(rnd) + 8);
		random_bytes(rnd, sizeof(rnd));
		memcpy(res, "postern", 7);
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(res + 7 + 2 * i, 3, "%02x", rnd[i]);
	}
	u = xuser_find(s->owner);
	if (u != NULL)
		for (struct xsess *o = u->sessions; o != NULL; o = o->unext)
			if (strcmp(o->resource, res) == 0 &&
			    strcmp(o->domain, s->domain) == 0 && !o->dead) {
				stream_error(o, "conflict", "replaced by a new "
				    "session with the same resource");
				break;
			}
	if (u == NULL) {
		u = xcalloc(1, sizeof(*u));
		u->owner = xstrdup(s->owner);
		u->po_id = s->po_id;
		u->next = xsrv.users;
		xsrv.users = u;
	}
	s->resource = res;
	s->full = xasprintf("%s/%s", s->bare, res);
	s->user = u;
	s->unext = u->sessions;
	u->sessions = s;
	s->state = XS_BOUND;
	s->bound_at = time(NULL);
	xsrv.state_dirty = true;

	struct xml_node *r = xml_node_new("iq", "type", "result", NULL);
	const char *id = xml_node_attr(iq, "id");
	if (id != NULL)
		xml_node_set_attr(r, "id", id);
	struct xml_node *bn = xml_node_add(r, "bind", "xmlns", NS_BIND, NULL);
	xml_node_add_text(xml_node_add(bn, "jid", NULL), s->full);
	xsess_send(s, r);
	xml_node_free(&r);
	log_info("xmpp c%" PRIu64 " bound %s", s->c->id, s->full);
}

/* ------------------------------------------------------------ input */

static void
preauth_stanza(struct xsess *s, struct xml_node *n)
{
	const char *ns = xml_node_xmlns(n);

	if (strcmp(n->name, "starttls") == 0 && ns != NULL &&
	    strcmp(ns, NS_TLS) == 0) {
		/* RFC 7395 3.6: no STARTTLS over WebSocket (wss is TLS) */
		if (s->c->tls || xsrv.ssl == NULL || s->websocket) {
			xsess_send_raw(s, "<failure xmlns='" NS_TLS "'/>"
			    "</stream:stream>");
			s->dead = true;
			xconn_close(s->c);
			return;
		}
		xsess_send_raw(s, "<proceed xmlns='" NS_TLS "'/>");
		if (xconn_starttls(s->c, xsrv.ssl) < 0) {
			s->dead = true;
			xconn_close(s->c);
			return;
		}
		xmpp_stream_restart(s);
		return;
	}
	if (ns != NULL && strcmp(ns, NS_SASL) == 0) {
		xmpp_sasl_stanza(s, n);
		return;
	}
	stream_error(s, "not-authorized", "log in first");
}

/* ------------------------------------------------------------ sessions */

void
xmpp_stanza(struct xsess *s, struct xml_node *n)
{
	const char *ns = xml_node_xmlns(n);

	if (strchr(n->name, ':') != NULL) {
		/* stream:error from a client, or another prefix */
		stream_error(s, strcmp(n->name, "stream:error") == 0 ?
		    "undefined-condition" : "unsupported-stanza-type", NULL);
		xml_node_free(&n);
		return;
	}
	if (s->state == XS_PREAUTH) {
		preauth_stanza(s, n);
		xml_node_free(&n);
		return;
	}
	if (ns == NULL)
		ns = NS_CLIENT;
	if (strcmp(ns, NS_SM) == 0) {
		xmpp_sm_nonza(s, n);
		xml_node_free(&n);
		return;
	}
	if (s->state == XS_BOUND && strcmp(ns, NS_CSI) == 0 &&
	    (strcmp(n->name, "active") == 0 ||
	    strcmp(n->name, "inactive") == 0)) {
		im_csi(s, n->name[0] == 'a');
		xml_node_free(&n);
		return;
	}
	bool is_stanza = strcmp(ns, NS_CLIENT) == 0 &&
	    (strcmp(n->name, "message") == 0 ||
	    strcmp(n->name, "presence") == 0 || strcmp(n->name, "iq") == 0);
	if (!is_stanza) {
		stream_error(s, strcmp(ns, NS_CLIENT) == 0 ?
		    "unsupported-stanza-type" : "invalid-namespace", NULL);
		xml_node_free(&n);
		return;
	}
	if (s->sm)
		s->h_in++;        /* XEP-0198 4: handled from here on */
	if (s->state == XS_AUTHED) {
		if (strcmp(n->name, "iq") == 0)
			bind_resource(s, n);
		else
			stream_error(s, "not-authorized", "bind a resource "
			    "first");
		xml_node_free(&n);
		return;
	}
	if (s->web_ev != NULL)
		websocket_activity(s, n);    /* the webmail session is used */
	im_stanza(s, n);
}

/* xmpp_sess_input - parse what arrived; one event at a time, none while a
 * password check runs */
void
xmpp_sess_input(void *ctx)
{
	struct xsess *s = ctx;
	struct timespec now;

	/* xmpp.login_timeout bounds the whole time before a login, not only
	 * a silence: a client trickling bytes (slowloris) goes too */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!s->authed && !s->dead && now.tv_sec >= s->login_by) {
		stream_error(s, "connection-timeout", "no login in time");
		return;
	}

	bool resumed = false;
	while (!s->dead && !s->busy) {
		switch (xconn_xml_event(s->c, s->xs, &resumed)) {
		case XML_EV_MORE:
			/* all read: an idle bound stream keeps no parser
			 * (memory per idle client, bench/RESULTS.md) */
			if (s->state == XS_BOUND)
				(void)xml_stream_idle(s->xs);
			return;
		case XML_EV_OPEN:
			if (s->state != XS_WAIT_HEADER) {
				stream_error(s, "bad-format", NULL);
				return;
			}
			stream_open(s);
			break;
		case XML_EV_STANZA:
			xmpp_stanza(s, xml_stream_take(s->xs));
			break;
		case XML_EV_CLOSE:
			/* RFC 6120 4.4: close ours too */
			if (!s->header_sent)
				send_header(s);
			xsess_send_raw(s, "</stream:stream>");
			s->dead = true;
			xconn_close(s->c);
			return;
		case XML_EV_ERROR: {
			const char *text;
			const char *cond = xml_stream_error(s->xs, &text);
			stream_error(s, cond, text);
			return;
		}
		}
	}
}

static void
sess_end(void *ctx, enum xconn_end why)
{
	struct xsess *s = ctx;

	if (why == XCONN_TIMEOUT) {
		stream_error(s, "connection-timeout", NULL);
		return;
	}
	if (why == XCONN_EOF && s->sm_resume && !s->dead &&
	    s->state == XS_BOUND) {
		xmpp_sm_hibernate(s);
		return;
	}
	xmpp_sess_free(s);
}

void
xmpp_sess_free(struct xsess *s)
{
	if (s->freeing)
		return;
	s->freeing = true;
	s->dead = true;
	if (s->state == XS_BOUND) {
		im_session_gone(s);
		xsrv.state_dirty = true;
	}
	if (s->sm)
		xmpp_sm_store_unacked(s);
	if (s->sm_ev != NULL)
		event_free(s->sm_ev);
	pep_session_gone(s);
	if (s->user != NULL) {
		struct xuser *u = s->user;
		for (struct xsess **pp = &u->sessions; *pp; pp = &(*pp)->unext)
			if (*pp == s) {
				*pp = s->unext;
				break;
			}
		if (u->sessions == NULL) {
			for (struct xuser **pp = &xsrv.users; *pp;
			    pp = &(*pp)->next)
				if (*pp == u) {
					*pp = u->next;
					break;
				}
			free(u->owner);
			free(u->photo);
			free(u);
		}
	}
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		xsrv.sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->auth_req != NULL)
		auth_req_cancel(xsrv.auth, s->auth_req);
	service_login_end(&s->reg);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->web_ev != NULL)
		event_free(s->web_ev);
	if (s->full != NULL)
		log_info("xmpp %s: closed", s->full);
	free(s->delay_xml);
	xml_stream_free(&s->xs);
	xml_node_free(&s->presence);
	for (size_t i = 0; i < s->nheld; i++)
		xml_node_free(&s->held[i]);
	free(s->held);
	xconn_free(&s->c);
	free(s->domain);
	free(s->local);
	free(s->owner);
	free(s->bare);
	free(s->full);
	free(s->resource);
	free(s->guest_of);
	free(s);
}

static void
xmpp_accept(struct service *svc, struct service_listener *l, int fd,
	    const struct sockaddr *sa, socklen_t salen)
{
	if (strcmp(l->name, "xmpp-proxy") == 0) {
		proxy_accept(svc, fd, sa, salen);   /* socks5.c */
		return;
	}
	if (strcmp(l->name, "xmpp-server") == 0) {
		s2s_accept(svc, fd, sa, salen);     /* s2s.c */
		return;
	}
	bool implicit = strcmp(l->name, "xmpps") == 0;
	int limit = (int)settings_current(svc->db)->xmpp_max_connections_per_ip;
	struct xsess *s = xcalloc(1, sizeof(*s));

	s->c = xconn_accept(svc, xsrv.ssl, implicit, fd, sa, salen, limit,
	    xmpp_sess_input, sess_end, s);
	if (s->c == NULL) {
		free(s);
		return;
	}
	xmpp_session_start(s, l->name);
}

void
xmpp_session_start(struct xsess *s, const char *listener)
{
	struct service *svc = xsrv.svc;

	s->xs = xml_stream_new(XML_PREAUTH_MAX);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->login_by = now.tv_sec + settings_current(svc->db)->xmpp_login_timeout;
	s->next = xsrv.sessions;
	if (s->next != NULL)
		s->next->prev = s;
	xsrv.sessions = s;
	xconn_set_timeout(s->c, (int)settings_current(svc->db)->xmpp_login_timeout);
	log_info("xmpp c%" PRIu64 " connect from %s on %s", s->c->id,
	    s->c->addr, listener);
}

/* the session's callbacks for websocket.c's connections (xmppd.h) */
void
xmpp_session_input(void *ctx)
{
	xmpp_sess_input(ctx);
}

void
xmpp_session_end(void *ctx, enum xconn_end why)
{
	sess_end(ctx, why);
}

void
xsess_login_result(void *ctx, enum dir_auth_result r,
		   const struct dir_mailbox *mb, const char *err)
{
	xmpp_login_done(ctx, r, mb, err);
}

void
xmpp_store_flush(void)
{
	const char *err;

	if (xsrv.store != NULL && chat_store_flush(xsrv.store, &err) < 0)
		log_error("%s", err);
}

static void
store_flush_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	xmpp_store_flush();
}

/* store_batch_open - the chat store opened a batch: commit it at the next
 * turn of the loop (a zero timeout runs after the callbacks of this one),
 * so that a burst of messages costs one commit, not several each */
static void
store_batch_open(void *ctx)
{
	static const struct timeval zero = { 0, 0 };

	(void)ctx;
	evtimer_add(xsrv.flush_ev, &zero);
}

/* state_write - <root>/run/xmpp-state.json: the bound sessions and the
 * live rooms, for postern chat sessions / rooms */
static void
state_write(void)
{
	json_t *o = json_object(), *a = json_array(), *r = json_array();

	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "written", json_integer(time(NULL)));
	for (struct xsess *s = xsrv.sessions; s != NULL; s = s->next) {
		if (s->state != XS_BOUND || s->full == NULL)
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "jid", json_string(s->full));
		json_object_set_new(e, "mailbox", json_string(s->owner));
		json_object_set_new(e, "address", json_string(s->c != NULL ?
		    s->c->addr : ""));
		json_object_set_new(e, "since", json_integer(s->bound_at));
		json_object_set_new(e, "tls", json_boolean(s->c != NULL &&
		    s->c->tls));
		json_object_set_new(e, "available", json_boolean(s->available));
		json_object_set_new(e, "hibernating",
		    json_boolean(s->hibernating));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "sessions", a);
	muc_rooms_json(r);
	json_object_set_new(o, "rooms", r);
	char *text = json_dumps(o, JSON_COMPACT);
	char *path = xasprintf("%s/run/xmpp-state.json", xsrv.svc->root);
	if (text != NULL && file_write_atomic(path, text, strlen(text),
	    0600) < 0)
		log_warnx("%s: %s", path, strerror(errno));
	free(path);
	free(text);
	json_decref(o);
}

/* retention - xmpp.archive_days: archive rows older go */
static void
retention(void)
{
	int64_t days = settings_current(xsrv.svc->db)->xmpp_archive_days;
	int64_t n = 0;
	const char *err;

	if (days <= 0)
		return;
	if (chat_archive_prune(xsrv.store, (int64_t)time(NULL) - days * 86400,
	    &n, &err) < 0)
		log_warnx("%s", err);
	else if (n > 0)
		log_info("archive: %lld message(s) older than %lld days removed",
		    (long long)n, (long long)days);
}

/* directory_check - another connection (CLI, web admin, another
 * service) committed to the config store since the last look (PRAGMA
 * data_version, as logins.c's sweep): the routing answers im.c cached
 * go (a mailbox or domain added, renamed, disabled, removed) */
static void
directory_check(void)
{
	static int64_t seen = -1;
	int64_t v;
	const char *err;

	if (db_data_version(xsrv.svc->db, &v, &err) < 0) {
		log_warnx("config store: %s", err);
		im_resolve_forget();
		return;
	}
	if (seen != -1 && v != seen)
		im_resolve_forget();
	seen = v;
}

/* on_tick - once a second: the administrator's changes to the config
 * store (routing) and the chat store (postern chat), the state file, the
 * archive's retention */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	static unsigned ticks;

	(void)fd;
	(void)what;
	(void)arg;
	directory_check();
	if (chat_store_changed(xsrv.store)) {
		xmpp_store_flush();
		muc_sync();
		xsrv.state_dirty = true;
	}
	guest_sync();           /* expired, revoked, new invitations */
	s2s_sweep();
	muc_sweep();            /* remote occupants found unreachable */
	if (ticks++ % 3600 == 0)
		retention();
	if (xsrv.state_dirty) {
		xsrv.state_dirty = false;
		state_write();
	}
}

static int
xmpp_init(struct service *svc)
{
	const char *err;

	xsrv.svc = svc;
	xsrv.auth = auth_pool_create(svc->base, svc->root, 2, &err);
	if (xsrv.auth == NULL) {
		log_error("authentication threads: %s", err);
		return -1;
	}
	if (chat_store_open(svc->root, &xsrv.store, &err) < 0) {
		log_error("%s", err);
		return -1;
	}
	xsrv.flush_ev = evtimer_new(svc->base, store_flush_ev, NULL);
	chat_store_batch(xsrv.store, store_batch_open, NULL);
	if (muc_init() < 0)
		return -1;
	(void)chat_store_changed(xsrv.store);    /* from now on */
	directory_check();                       /* the same */
	xsrv.tick_ev = event_new(svc->base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval second = { 1, 0 };
	evtimer_add(xsrv.tick_ev, &second);
	xsrv.state_dirty = true;
	xsrv.ssl = tls_server_ctx(svc, &xsrv.tls_error);
	if (xsrv.ssl == NULL)
		log_warnx("TLS unavailable (STARTTLS and xmpps off): %s",
		    xsrv.tls_error);
	if (websocket_init(svc) < 0 || s2s_init(svc) < 0)
		return -1;
	service_set_state(svc, "running", NULL);
	return 0;
}

/* xmpp_shutdown - SIGTERM: end every stream */
static void
xmpp_shutdown(struct service *svc)
{
	(void)svc;
	websocket_shutdown();
	s2s_shutdown();
	while (xsrv.sessions != NULL)
		xmpp_sess_free(xsrv.sessions);
	auth_pool_free(&xsrv.auth);
	if (xsrv.tick_ev != NULL)
		event_free(xsrv.tick_ev);
	xsrv.tick_ev = NULL;
	char *state = xasprintf("%s/run/xmpp-state.json", xsrv.svc->root);
	unlink(state);
	free(state);
	muc_shutdown();
	proxy_shutdown();
	chat_store_close(&xsrv.store);     /* commits the last batch */
	if (xsrv.flush_ev != NULL)
		event_free(xsrv.flush_ev);
	xsrv.flush_ev = NULL;
	throttle_reset();
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "xmpp", "xmpps",
	    "xmpp-proxy", "xmpp-server", NULL };
	static const struct service_def def = {
		.name = "xmppd",
		.listeners = listeners,
		.init = xmpp_init,
		.accept = xmpp_accept,
		.shutdown = xmpp_shutdown,
	};
	return service_main(argc, argv, &def);
}
