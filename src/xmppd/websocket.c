/* websocket - XMPP over WebSocket (RFC 7395) for browsers.
 *
 * httpd answers the browser's upgrade (Origin, subprotocol "xmpp", the
 * webmail session; src/httpd/ws-upgrade.c), connects to the unix socket
 * run/xmpp-websocket.sock, writes one line
 *
 *     POSTERN-WS 1 <tls 0|1> <client address> <mailbox id> <session id>\n
 *
 * (ids 0: no webmail session)
 *
 * and then relays the connection's bytes both ways, decrypted: the
 * frames of RFC 6455. Only a peer of our own uid is taken (SO_PEERCRED).
 * Here a bufferevent filter turns the client's frames into the byte
 * stream the TCP sessions parse (an <open/> becomes a stream header,
 * <close/> its end, stanzas pass as they are) and the session's output
 * back into frames: one text frame per top-level element, the stream
 * header an <open/>, the stream's end a <close/> then a close frame.
 * Elements named stream:* get the streams namespace declared and
 * stanzas jabber:client, which a TCP stream inherits from its root.
 * The session code is the TCP one (xmppd.c), SASL EXTERNAL aside: it
 * logs in the mailbox of the browser's webmail session, checked by
 * httpd on the config store; the stream lasts while that session does
 * and the password is the same (dir_credential_web: logout, expiry or a
 * new password ends it; xmppd.c's web_watch for the expiry).
 *
 * Frame limits (ws-frame.h): a message of at most XML_PREAUTH_MAX bytes
 * before login and XML_STANZA_MAX after, masking required, control
 * frames answered (ping) or ignored (pong). A protocol error from the
 * client ends the stream: the session's last words are dropped and a
 * close frame with the RFC 6455 code goes last. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "directory.h"
#include "log.h"
#include "settings.h"
#include "smtp-parser.h"
#include "ws-frame.h"
#include "xalloc.h"
#include "xmppd.h"

#define WS_SOCKET "run/xmpp-websocket.sock"
#define WS_PREAMBLE_MAX 256
#define WS_PREAMBLE_SECS 5
#define WS_PENDING_MAX 256     /* connections that have not said who */
#define WEB_TOUCH_EVERY 60     /* as webauth.c: last_seen at most this often */
#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"
#define NS_STREAM "http://etherx.jabber.org/streams"

/* one relayed browser connection */
struct ws_conn {
	struct xconn *c;               /* its session is c->ctx (a resumed
					 * stream's connection moves to the
					 * old session: XEP-0198) */
	struct bufferevent *under;     /* the unix socket */
	struct ws_reader rd;
	bool opened;                   /* a stream header went to the session */
	bool failing;                  /* the client broke the protocol */
	uint16_t fail_code;
	bool done;                     /* our close frame is out */
	struct buf out;                /* the session's output not framed yet */
	size_t scan;                   /* ... scanned this far */
	int depth;
	size_t elem_start;
};

/* a connection before its first line */
struct ws_pending {
	struct ws_pending *next;
	int fd;
	struct event *ev;
	struct timespec since;
};

static struct {
	int fd;
	char *path;
	struct event *ev;
	struct ws_pending *pending;
	unsigned npending;
} ws = { .fd = -1 };

/* ------------------------------------------------------------ output */

/* tag_end - the end of the tag starting at p[0] == '<' (after its '>'),
 * or 0 when it is not whole yet; quotes honoured */
static size_t
tag_end(const char *p, size_t len)
{
	char q = 0;

	for (size_t i = 1; i < len; i++) {
		if (q != 0) {
			if (p[i] == q)
				q = 0;
		} else if (p[i] == '\'' || p[i] == '"')
			q = p[i];
		else if (p[i] == '>')
			return i + 1;
	}
	return 0;
}

/* has_xmlns - whether a start tag (our own output) declares the default
 * namespace; names and quoted values are walked, not searched */
static bool
has_xmlns(const char *t, size_t len)
{
	size_t i = 1;

	while (i < len && t[i] != ' ' && t[i] != '>' && t[i] != '/')
		i++;
	while (i < len) {
		while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n'))
			i++;
		size_t n0 = i;
		while (i < len && t[i] != '=' && t[i] != ' ' && t[i] != '>' &&
		    t[i] != '/')
			i++;
		if (i - n0 == 5 && strncmp(t + n0, "xmlns", 5) == 0)
			return true;
		if (i >= len || t[i] != '=')
			return false;
		i++;
		if (i >= len || (t[i] != '\'' && t[i] != '"'))
			return false;
		char q = t[i++];
		while (i < len && t[i] != q)
			i++;
		i++;
	}
	return false;
}

/* name_len - the length of a tag's name (t[0] == '<') */
static size_t
name_len(const char *t, size_t len)
{
	size_t i = 1;

	while (i < len && t[i] != ' ' && t[i] != '>' && t[i] != '/' &&
	    t[i] != '\t' && t[i] != '\n')
		i++;
	return i - 1;
}

/* emit_element - one top-level element of the session's output as one
 * text frame, with the namespace a frame needs on its own */
static void
emit_element(struct buf *dst, const char *e, size_t len)
{
	size_t te = tag_end(e, len), nl = name_len(e, len);
	struct buf x;
	const char *add = NULL;

	if (nl > 7 && strncmp(e + 1, "stream:", 7) == 0)
		add = " xmlns:stream='" NS_STREAM "'";
	else if (((nl == 7 && strncmp(e + 1, "message", 7) == 0) ||
	    (nl == 8 && strncmp(e + 1, "presence", 8) == 0) ||
	    (nl == 2 && strncmp(e + 1, "iq", 2) == 0)) && !has_xmlns(e, te))
		add = " xmlns='" NS_CLIENT "'";
	if (add == NULL) {
		ws_frame_write(dst, WS_OP_TEXT, e, len);
		return;
	}
	buf_init(&x, 0);
	buf_append(&x, e, 1 + nl);
	buf_puts(&x, add);
	buf_append(&x, e + 1 + nl, len - 1 - nl);
	ws_frame_write(dst, WS_OP_TEXT, x.data, x.len);
	buf_free(&x);
}

/* emit_open - our stream header as the <open/> of RFC 7395 3.3.2: its
 * attributes but the namespace declarations */
static void
emit_open(struct buf *dst, const char *t, size_t len)
{
	struct buf x;
	size_t i = 1 + name_len(t, len);

	buf_init(&x, 0);
	buf_puts(&x, "<open xmlns='" NS_FRAMING "'");
	while (i < len) {
		while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n'))
			i++;
		size_t n0 = i;
		while (i < len && t[i] != '=' && t[i] != '>' && t[i] != '/')
			i++;
		if (i >= len || t[i] != '=' || i + 1 >= len)
			break;
		size_t n1 = i++;
		char q = t[i++];
		size_t v0 = i;
		while (i < len && t[i] != q)
			i++;
		if (i >= len)
			break;
		size_t nl = n1 - n0;
		bool skip = (nl == 5 && strncmp(t + n0, "xmlns", 5) == 0) ||
		    (nl > 6 && strncmp(t + n0, "xmlns:", 6) == 0);
		if (!skip) {
			buf_putc(&x, ' ');
			buf_append(&x, t + n0, n1 - n0);
			buf_puts(&x, "='");
			buf_append(&x, t + v0, i - v0);
			buf_putc(&x, '\'');
		}
		i++;
	}
	buf_puts(&x, "/>");
	ws_frame_write(dst, WS_OP_TEXT, x.data, x.len);
	buf_free(&x);
}

/* frame_output - cut the session's output into frames: every whole
 * top-level element, the stream header and end */
static void
frame_output(struct ws_conn *w, struct buf *dst)
{
	const char *p = w->out.data;
	size_t len = w->out.len, i = w->scan;

	while (i < len && !w->done) {
		if (p[i] != '<') {
			i++;     /* text between elements: whitespace pings */
			continue;
		}
		size_t te = tag_end(p + i, len - i);
		if (te == 0)
			break;
		const char *t = p + i;
		if (t[1] == '?' || t[1] == '!') {
			i += te;    /* the XML declaration */
			continue;
		}
		bool end = t[1] == '/';
		bool empty = t[te - 2] == '/';
		if (w->depth == 0) {
			if (!end && te >= 15 && strncmp(t, "<stream:stream",
			    14) == 0 && (t[14] == ' ' || t[14] == '>')) {
				if (!w->failing)
					emit_open(dst, t, te);
				i += te;
				w->elem_start = i;
				continue;
			}
			if (end && strncmp(t, "</stream:stream>", 16) == 0) {
				if (!w->failing) {
					static const char c[] = "<close xmlns='"
					    NS_FRAMING "'/>";
					ws_frame_write(dst, WS_OP_TEXT, c,
					    sizeof(c) - 1);
				}
				ws_close_write(dst, w->failing ? w->fail_code :
				    WS_CLOSE_NORMAL, w->failing ? w->rd.error :
				    NULL);
				w->done = true;
				i = len;
				break;
			}
			w->elem_start = i;
		}
		if (end)
			w->depth--;
		else if (!empty)
			w->depth++;
		i += te;
		if (w->depth <= 0) {
			w->depth = 0;
			if (!w->failing)
				emit_element(dst, p + w->elem_start,
				    i - w->elem_start);
			w->elem_start = i;
		}
	}
	if (w->depth == 0) {
		buf_consume(&w->out, i);
		w->scan = 0;
		w->elem_start = 0;
	} else {
		/* keep the element begun; scanning goes on where it was */
		buf_consume(&w->out, w->elem_start);
		w->scan = i - w->elem_start;
		w->elem_start = 0;
	}
}

static enum bufferevent_filter_result
filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
	   enum bufferevent_flush_mode mode, void *ctx)
{
	struct ws_conn *w = ctx;
	struct buf frames;
	size_t n = evbuffer_get_length(src);

	(void)lim;
	(void)mode;
	if (n == 0)
		return BEV_NEED_MORE;
	if (w->done) {
		evbuffer_drain(src, n);
		return BEV_OK;
	}
	buf_reserve(&w->out, n + 1);
	evbuffer_remove(src, w->out.data + w->out.len, n);
	w->out.len += n;
	w->out.data[w->out.len] = '\0';
	buf_init(&frames, 0);
	frame_output(w, &frames);
	if (frames.len > 0)
		evbuffer_add(dst, frames.data, frames.len);
	buf_free(&frames);
	return BEV_OK;
}

/* ------------------------------------------------------------ input */

/* open_header - the attributes of the client's <open/> that a stream
 * header carries, as they were written (expat checks them next) */
static void
open_header(struct evbuffer *dst, const char *m)
{
	static const char *const keep[] = { "to", "from", "version",
	    "xml:lang", "id", NULL };
	const char *p = m + 5;
	bool framing = false;
	struct buf x;

	buf_init(&x, 0);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		const char *n0 = p;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != '/' &&
		    *p != '>')
			p++;
		size_t nl = (size_t)(p - n0);
		while (*p == ' ')
			p++;
		if (nl == 0 || *p != '=')
			break;
		p++;
		while (*p == ' ')
			p++;
		if (*p != '\'' && *p != '"')
			break;
		char q = *p++;
		const char *v0 = p;
		while (*p != '\0' && *p != q && *p != '<')
			p++;
		if (*p != q)
			break;
		size_t vl = (size_t)(p - v0);
		p++;
		if (nl == 5 && strncmp(n0, "xmlns", 5) == 0) {
			framing = vl == strlen(NS_FRAMING) &&
			    strncmp(v0, NS_FRAMING, vl) == 0;
			continue;
		}
		for (size_t k = 0; keep[k] != NULL; k++)
			if (strlen(keep[k]) == nl && strncmp(n0, keep[k],
			    nl) == 0) {
				buf_putc(&x, ' ');
				buf_append(&x, n0, nl);
				buf_putc(&x, '=');
				buf_putc(&x, q);
				buf_append(&x, v0, vl);
				buf_putc(&x, q);
			}
	}
	/* a wrong or missing namespace: the session answers
	 * <invalid-namespace/> (RFC 7395 3.3.1) */
	evbuffer_add_printf(dst, "<stream:stream xmlns='%s' xmlns:stream='"
	    NS_STREAM "'%s>", framing ? NS_CLIENT : "urn:invalid",
	    x.data != NULL ? x.data : "");
	buf_free(&x);
}

/* message - one text message from the client into the stream */
static void
message(struct ws_conn *w, struct evbuffer *dst)
{
	const char *m = w->rd.msg.data;

	while (*m == ' ' || *m == '\t' || *m == '\r' || *m == '\n')
		m++;
	if (strncmp(m, "<open", 5) == 0 && (m[5] == ' ' || m[5] == '/' ||
	    m[5] == '>')) {
		open_header(dst, m);
		w->opened = true;
	} else if (strncmp(m, "<close", 6) == 0 && (m[6] == ' ' ||
	    m[6] == '/' || m[6] == '>')) {
		evbuffer_add_printf(dst, "%s", w->opened ? "</stream:stream>" :
		    "\x01");
		w->opened = false;
	} else
		evbuffer_add(dst, w->rd.msg.data, w->rd.msg.len);
}

static struct xsess *
sess(const struct ws_conn *w)
{
	return w->c->ctx;
}

/* fail - the client broke the protocol (or closed): the session ends,
 * its last words dropped, our close frame with code last */
static void
fail(struct ws_conn *w, struct evbuffer *dst, uint16_t code)
{
	if (w->failing)
		return;
	w->failing = true;
	w->fail_code = code;
	if (code != WS_CLOSE_NORMAL)
		log_info("xmpp c%" PRIu64 " %s: WebSocket: %s (close %u)",
		    sess(w)->c->id, sess(w)->full ? sess(w)->full : sess(w)->c->addr,
		    w->rd.error, code);
	/* the end of an open stream ends it cleanly; otherwise a byte
	 * no XML may hold ends it with an error */
	evbuffer_add_printf(dst, "%s", w->opened ? "</stream:stream>" : "\x01");
	w->opened = false;
}

/* drop - XEP-0198: a close frame without <close/> drops the
 * connection, not the stream (a page going away): our close frame
 * answers it, then the socket is shut (RFC 6455 7.1.1: the server
 * closes first, and httpd's relay passes that on), and its end leaves
 * the session waiting for its resumption as a lost connection does.
 * Only with nothing of ours still queued, so the frame goes whole; what
 * the session had not framed yet waits in its unacknowledged stanzas */
static void
drop(struct ws_conn *w)
{
	struct buf b;
	int fd = (int)bufferevent_getfd(w->under);

	buf_init(&b, 0);
	ws_close_write(&b, WS_CLOSE_NORMAL, NULL);
	if (fd >= 0) {
		(void)!write(fd, b.data, b.len);
		(void)shutdown(fd, SHUT_RDWR);
	}
	buf_free(&b);
	w->done = true;                 /* nothing more out */
	w->failing = true;              /* nor in */
}

static enum bufferevent_filter_result
filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
	  enum bufferevent_flush_mode mode, void *ctx)
{
	struct ws_conn *w = ctx;

	(void)lim;
	(void)mode;
	while (evbuffer_get_length(src) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		if (w->failing || evbuffer_peek(src, -1, NULL, &v, 1) < 1) {
			evbuffer_drain(src, evbuffer_get_length(src));
			break;
		}
		w->rd.max = sess(w)->authed ? XML_STANZA_MAX : XML_PREAUTH_MAX;
		enum ws_event ev = ws_reader_feed(&w->rd, v.iov_base,
		    v.iov_len, &used);
		evbuffer_drain(src, used);
		switch (ev) {
		case WS_EV_MORE:
			break;
		case WS_EV_TEXT:
			message(w, dst);
			if (w->rd.msg.cap > 2 * XML_PREAUTH_MAX) {
				/* an idle stream keeps no large buffer */
				buf_free(&w->rd.msg);
				buf_init(&w->rd.msg, 0);
			}
			break;
		case WS_EV_PING: {
			struct buf b;
			buf_init(&b, 0);
			ws_frame_write(&b, WS_OP_PONG, w->rd.ctl,
			    w->rd.ctl_len);
			/* between whole frames: filter_out writes whole
			 * frames only */
			bufferevent_write(w->under, b.data, b.len);
			buf_free(&b);
			break;
		}
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			w->rd.error = "closed by the client";
			if (w->opened && !w->done && sess(w)->sm_resume &&
			    sess(w)->state == XS_BOUND &&
			    evbuffer_get_length(bufferevent_get_output(
			    w->under)) == 0) {
				drop(w);
				break;
			}
			fail(w, dst, WS_CLOSE_NORMAL);
			break;
		case WS_EV_ERROR:
			fail(w, dst, w->rd.close_code);
			break;
		}
	}
	return evbuffer_get_length(dst) > 0 ? BEV_OK : BEV_NEED_MORE;
}

static void
ws_conn_free(void *ctx)
{
	struct ws_conn *w = ctx;

	ws_reader_free(&w->rd);
	buf_free(&w->out);
	free(w);
}

/* ------------------------------------------------------------ accept */

/* parse_preamble - httpd's line: 0, or -1 */
static int
parse_preamble(char *line, bool *tls_r, struct sockaddr_storage *sa,
	       socklen_t *salen_r, int64_t *mailbox_r, int64_t *session_r)
{
	char *f[7];
	int n = 0;

	for (char *p = strtok(line, " "); p != NULL && n < 7;
	    p = strtok(NULL, " "))
		f[n++] = p;
	if (n != 6 || strcmp(f[0], "POSTERN-WS") != 0 || strcmp(f[1], "1") != 0
	    || (strcmp(f[2], "0") != 0 && strcmp(f[2], "1") != 0))
		return -1;
	*tls_r = f[2][0] == '1';
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	if (inet_pton(AF_INET, f[3], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*salen_r = sizeof(*s4);
	} else if (inet_pton(AF_INET6, f[3], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*salen_r = sizeof(*s6);
	} else
		return -1;
	for (int i = 4; i < 6; i++) {
		char *end;
		errno = 0;
		long long id = strtoll(f[i], &end, 10);
		if (errno != 0 || *end != '\0' || id < 0 || end == f[i])
			return -1;
		*(i == 4 ? mailbox_r : session_r) = id;
	}
	if ((*mailbox_r > 0) != (*session_r > 0))
		return -1;
	return 0;
}

static void
pending_free(struct ws_pending *p)
{
	for (struct ws_pending **pp = &ws.pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	ws.npending--;
	event_free(p->ev);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

/* start - a relayed connection said who it is: its session */
static void
start(int fd, bool tls, const struct sockaddr_storage *sa, socklen_t salen,
      int64_t mailbox, int64_t session)
{
	struct service *svc = xsrv.svc;
	struct bufferevent *under, *bev;
	struct ws_conn *w = xcalloc(1, sizeof(*w));
	struct xsess *s = xcalloc(1, sizeof(*s));
	int limit = (int)settings_current(svc->db)->xmpp_max_connections_per_ip;

	ws_reader_init(&w->rd, XML_PREAUTH_MAX);
	buf_init(&w->out, 0);
	under = bufferevent_socket_new(svc->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (under == NULL) {
		close(fd);
		ws_conn_free(w);
		free(s);
		return;
	}
	w->under = under;
	bev = bufferevent_filter_new(under, filter_in, filter_out,
	    BEV_OPT_CLOSE_ON_FREE, ws_conn_free, w);
	if (bev == NULL) {
		bufferevent_free(under);
		ws_conn_free(w);
		free(s);
		return;
	}
	s->websocket = true;
	s->web_mailbox = mailbox;
	s->web_session = session;
	s->c = xconn_adopt(svc, bev, (const struct sockaddr *)sa, salen, tls,
	    limit, xmpp_session_input, xmpp_session_end, s);
	if (s->c == NULL) {
		free(s);     /* bev freed: w with it */
		return;
	}
	w->c = s->c;
	xmpp_session_start(s, mailbox > 0 ? "websocket (webmail session)" :
	    "websocket");
}

/* on_preamble - read httpd's line without reading past it */
static void
on_preamble(evutil_socket_t fd, short what, void *arg)
{
	struct ws_pending *p = arg;
	char line[WS_PREAMBLE_MAX + 1];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		log_info("xmpp websocket: no preamble in %d s: closed",
		    WS_PREAMBLE_SECS);
		pending_free(p);
		return;
	}
	n = recv(fd, line, WS_PREAMBLE_MAX, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pending_free(p);
		return;
	}
	char *nl = memchr(line, '\n', (size_t)n);
	if (nl == NULL) {
		if (n >= WS_PREAMBLE_MAX) {
			log_warnx("xmpp websocket: preamble over %d bytes",
			    WS_PREAMBLE_MAX);
			pending_free(p);
		}
		return;
	}
	size_t want = (size_t)(nl - line) + 1;
	if (recv(fd, line, want, 0) != (ssize_t)want) {
		pending_free(p);
		return;
	}
	line[want - 1] = '\0';
	bool tls;
	struct sockaddr_storage sa;
	socklen_t salen;
	int64_t mailbox = 0, session = 0;
	if (parse_preamble(line, &tls, &sa, &salen, &mailbox, &session) < 0) {
		log_warnx("xmpp websocket: malformed preamble");
		pending_free(p);
		return;
	}
	int cfd = p->fd;
	p->fd = -1;
	pending_free(p);
	start(cfd, tls, &sa, salen, mailbox, session);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    (cr.uid != geteuid() && cr.uid != 0)) {
			log_warnx("xmpp websocket: a peer of uid %d refused",
			    (int)cr.uid);
			close(fd);
			continue;
		}
		if (ws.npending >= WS_PENDING_MAX) {
			log_warnx("xmpp websocket: %d connections waiting for "
			    "their preamble: refused", WS_PENDING_MAX);
			close(fd);
			continue;
		}
		struct ws_pending *p = xcalloc(1, sizeof(*p));
		p->fd = fd;
		p->ev = event_new(xsrv.svc->base, fd, EV_READ | EV_PERSIST,
		    on_preamble, p);
		struct timeval tv = { WS_PREAMBLE_SECS, 0 };
		event_add(p->ev, &tv);
		p->next = ws.pending;
		ws.pending = p;
		ws.npending++;
	}
}

int
websocket_init(struct service *svc)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	ws.path = xasprintf("%s/" WS_SOCKET, svc->root);
	if (strlen(ws.path) >= sizeof(un.sun_path)) {
		log_warnx("XMPP over WebSocket off: %s is longer than a unix "
		    "socket path may be", ws.path);
		return 0;
	}
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", ws.path);
	ws.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ws.fd < 0) {
		log_warn("XMPP over WebSocket off: socket (unix)");
		return 0;
	}
	(void)unlink(ws.path);
	mode_t old = umask(0077);
	int r = bind(ws.fd, (struct sockaddr *)&un, sizeof(un));
	umask(old);
	if (r < 0 || listen(ws.fd, 128) < 0) {
		/* chat over TCP goes on; browsers get 503 from httpd */
		log_warn("XMPP over WebSocket off: %s", ws.path);
		close(ws.fd);
		ws.fd = -1;
		return 0;
	}
	ws.ev = event_new(svc->base, ws.fd, EV_READ | EV_PERSIST, on_accept,
	    NULL);
	event_add(ws.ev, NULL);
	return 0;
}

void
websocket_shutdown(void)
{
	while (ws.pending != NULL)
		pending_free(ws.pending);
	if (ws.ev != NULL)
		event_free(ws.ev);
	ws.ev = NULL;
	if (ws.fd >= 0) {
		close(ws.fd);
		if (ws.path != NULL)
			(void)unlink(ws.path);
	}
	ws.fd = -1;
	free(ws.path);
	ws.path = NULL;
}

/* ------------------------------------------------------------ SASL */

void
websocket_sasl_external(struct xsess *s, const char *b64)
{
	struct dir_mailbox mb;
	const char *err;
	struct buf authz;
	int r;

	if (s->web_mailbox <= 0) {
		xsess_send_raw(s, "<failure xmlns='" NS_SASL "'>"
		    "<not-authorized/><text xml:lang='en'>EXTERNAL needs the webmail session of "
		    "this browser; log in to the webmail, or use PLAIN</text>"
		    "</failure>");
		return;
	}
	buf_init(&authz, 3072);
	if (strcmp(b64, "=") != 0 && *b64 != '\0' &&
	    smtp_base64_decode(b64, strlen(b64), &authz) < 0) {
		buf_free(&authz);
		xsess_send_raw(s, "<failure xmlns='" NS_SASL "'>"
		    "<incorrect-encoding/></failure>");
		return;
	}
	r = dir_mailbox_get(xsrv.svc->db, s->web_mailbox, &mb, &err);
	if (r > 0 && authz.len > 0) {
		/* an authzid may only name the session's own bare JID */
		char *want = xasprintf("%s@%s", mb.name, s->domain);
		bool same = strlen(want) == authz.len &&
		    strncasecmp(want, authz.data, authz.len) == 0;
		free(want);
		if (!same) {
			buf_free(&authz);
			xsess_send_raw(s, "<failure xmlns='" NS_SASL "'>"
			    "<invalid-authzid/></failure>");
			return;
		}
	}
	buf_free(&authz);
	if (r < 0) {
		log_warnx("xmpp c%" PRIu64 " mailbox %" PRId64 ": %s",
		    s->c->id, s->web_mailbox, err);
		xsess_login_result(s, DIR_AUTH_ERROR, NULL, err);
		return;
	}
	if (r == 0) {
		xsess_login_result(s, DIR_AUTH_FAILED, NULL, NULL);
		return;
	}
	if (mb.disabled || mb.postoffice_disabled)
		xsess_login_result(s, DIR_AUTH_DISABLED, &mb, NULL);
	else if (mb.prevent_auth)
		xsess_login_result(s, DIR_AUTH_PREVENTED, &mb, NULL);
	else if ((r = dir_credential_web(xsrv.svc->db, mb.id, s->web_session,
	    &mb.credential, &err)) <= 0) {
		if (r < 0)
			log_warnx("xmpp c%" PRIu64 " mailbox %" PRId64 ": %s",
			    s->c->id, s->web_mailbox, err);
		xsess_login_result(s, r < 0 ? DIR_AUTH_ERROR : DIR_AUTH_FAILED,
		    NULL, r < 0 ? err : NULL);
	} else
		xsess_login_result(s, DIR_AUTH_OK, &mb, NULL);
}

void
websocket_activity(struct xsess *s, const struct xml_node *n)
{
	const char *type = xml_node_attr(n, "type");
	int64_t now = time(NULL);
	const char *err;

	/* answers (to the server's pings, say) are not the user's doing */
	if (strcmp(n->name, "iq") == 0 && type != NULL &&
	    (strcmp(type, "result") == 0 || strcmp(type, "error") == 0))
		return;
	if (now - s->web_touched < WEB_TOUCH_EVERY)
		return;
	s->web_touched = now;
	if (dir_web_session_touch(xsrv.svc->db, s->web_session,
	    s->mailbox_id, now, &err) < 0)
		log_warnx("xmpp %s: web session %" PRId64 ": %s", s->full,
		    s->web_session, err);
}
