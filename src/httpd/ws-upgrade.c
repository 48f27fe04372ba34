/* ws-upgrade - XMPP over WebSocket for browsers (RFC 7395) and its
 * discovery (XEP-0156):
 *
 *   GET /xmpp-websocket               the WebSocket handshake (RFC 6455
 *                                     4.2), subprotocol "xmpp"; the
 *                                     connection then goes to xmppd
 *   GET /.well-known/host-meta        XRD with the WebSocket endpoint
 *   GET /.well-known/host-meta.json   the same in JSON (RFC 6415); the
 *                                     endpoint is listed while xmppd runs
 *                                     (its socket is there)
 *
 * The handshake is checked here: HTTP/1.1, Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Version 13 (else 426 naming it), a
 * key of 16 bytes in base64, the subprotocol xmpp (400 without), and an
 * Origin, when the browser sends one, of this server: the request's own
 * scheme and Host, or http.public_url's (else 403: another site's page
 * may not open a chat stream with its visitor's cookies). On the work
 * pool the webmail session cookie (with an Origin only: a cross-site
 * page never gets this far) gives the mailbox that xmppd then logs in
 * with SASL EXTERNAL; without one the stream offers PLAIN as over TCP.
 * The connection goes to xmppd's unix socket run/xmpp-websocket.sock
 * with one line (websocket.c in src/xmppd), then httpd relays its bytes
 * (httpd_tunnel_open), the TLS of https included: the frames are
 * xmppd's to read. xmppd not running: 503. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "buf.h"
#include "fsutil.h"
#include "httpd.h"
#include "log.h"
#include "settings.h"
#include "webauth.h"
#include "xalloc.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_SOCKET "run/xmpp-websocket.sock"
#define WS_PATH "/xmpp-websocket"
#define COOKIE_NAME "postern_session"

struct ws_job {
	struct httpd_job j;            /* first */
	char *root;
	char *cookie;                  /* postern_session, with an Origin */
	char *origin;                  /* NULL: none sent */
	char *own_origin;              /* scheme://host of the request */
	char accept[32];
	char client[64];
	bool tls;
	int fd;                        /* to xmppd, once connected */
};

/* has_token - whether a comma-separated field holds token (any case) */
static bool
has_token(const char *field, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = field; p != NULL && *p != '\0'; ) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		size_t m = n;
		while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		if (m == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p += n;
	}
	return false;
}

/* accept_key - Sec-WebSocket-Accept of a key (RFC 6455 4.2.2 5.4) */
static void
accept_key(const char *key, char out[32])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char *k = xasprintf("%s" WS_GUID, key);

	SHA1((unsigned char *)k, strlen(k), md);
	free(k);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

/* key_ok - a key is 16 bytes in base64: 22 characters and "==" */
static bool
key_ok(const char *key)
{
	unsigned char dec[24];

	if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return false;
	return EVP_DecodeBlock(dec, (const unsigned char *)key, 24) == 18;
}

/* origin_of - "scheme://host[:port]" of an http(s) URL, lower case
 * (new string), NULL for anything else */
static char *
origin_of(const char *url)
{
	const char *p;

	if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return NULL;
	size_t n = (size_t)(p - url) + strcspn(p, "/?#");
	char *o = xstrndup(url, n);
	for (char *q = o; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return o;
}

static void
ws_free(struct httpd_job *hj)
{
	struct ws_job *j = (struct ws_job *)hj;

	http_response_free(&j->j.resp);
	if (j->fd >= 0)
		close(j->fd);
	free(j->root);
	free(j->cookie);
	free(j->origin);
	free(j->own_origin);
	free(j);
}

/* connect_xmppd - the unix socket of xmppd: fd or -1 */
static int
connect_xmppd(const char *root)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/"
	    WS_SOCKET, root) >= sizeof(un.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ws_run - on the work pool: the Origin against http.public_url, the
 * session cookie, the connection to xmppd */
static void
ws_run(struct httpd_job *hj, struct db *db)
{
	struct ws_job *j = (struct ws_job *)hj;
	struct http_response *r = &j->j.resp;
	int64_t mailbox = 0, sid = 0;
	const char *err;

	if (db == NULL) {
		httpd_error(r, 503, "The config store is unavailable.");
		return;
	}
	if (j->origin != NULL && strcasecmp(j->origin, j->own_origin) != 0) {
		const char *pub = settings_current(db)->http_public_url;
		char *po = origin_of(pub);
		bool ok = po != NULL && strcasecmp(po, j->origin) == 0;
		free(po);
		if (!ok) {
			httpd_error(r, 403, "WebSocket connections are taken "
			    "from this server's own pages only (Origin).");
			snprintf(j->j.note, sizeof(j->j.note), "%s",
			    "origin refused");
			return;
		}
	}
	if (j->cookie != NULL) {
		int rr = webauth_session_lookup(db, j->cookie, time(NULL),
		    &mailbox, &sid, &err);
		if (rr < 0) {
			httpd_error(r, 503, "The config store is unavailable.");
			return;
		}
		if (rr == 0)
			mailbox = sid = 0;   /* expired: PLAIN only, as without */
	}
	j->fd = connect_xmppd(j->root);
	if (j->fd < 0) {
		httpd_error(r, 503, "The chat service (xmppd) is not running.");
		snprintf(j->j.note, sizeof(j->j.note), "xmppd unreachable");
		return;
	}
	char line[160];
	int n = snprintf(line, sizeof(line), "POSTERN-WS 1 %d %s %lld %lld\n",
	    j->tls ? 1 : 0, j->client, (long long)mailbox, (long long)sid);
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(j->fd, line, (size_t)n) != n) {
		close(j->fd);
		j->fd = -1;
		httpd_error(r, 503, "The chat service (xmppd) is not running.");
		return;
	}
	r->status = 101;
	buf_reset(&r->body);
	http_response_field(r, "Upgrade", "websocket");
	http_response_field(r, "Connection", "Upgrade");
	http_response_field(r, "Sec-WebSocket-Accept", "%s", j->accept);
	http_response_field(r, "Sec-WebSocket-Protocol", "xmpp");
	snprintf(j->j.note, sizeof(j->j.note), "xmpp websocket%s",
	    mailbox > 0 ? " (webmail session)" : "");
}

/* ws_done - on the loop: the relaying begins */
static void
ws_done(struct httpd_job *hj)
{
	struct ws_job *j = (struct ws_job *)hj;

	if (j->j.resp.status != 101 || j->fd < 0)
		return;
	int fd = j->fd;
	j->fd = -1;
	if (httpd_tunnel_open(&j->j, fd) < 0) {
		http_response_free(&j->j.resp);
		http_response_init(&j->j.resp, 503);
		httpd_error(&j->j.resp, 503, "Too many WebSocket connections.");
	}
}

static void
ws_upgrade(struct httpd_req *rq, struct http_response *resp)
{
	const struct http_request *req = rq->req;
	const char *upgrade = http_request_field(req, "upgrade");
	const char *connection = http_request_field(req, "connection");
	const char *version = http_request_field(req, "sec-websocket-version");
	const char *key = http_request_field(req, "sec-websocket-key");
	const char *proto = http_request_field(req, "sec-websocket-protocol");
	const char *origin = http_request_field(req, "origin");
	const char *host = http_request_field(req, "host");
	const char *cookie = http_request_field(req, "cookie");

	if (upgrade == NULL || !has_token(upgrade, "websocket") ||
	    connection == NULL || !has_token(connection, "upgrade") ||
	    req->version != 11 || strcmp(req->method, "GET") != 0) {
		httpd_error(resp, 426, "This is the XMPP WebSocket endpoint "
		    "(RFC 7395): open it with a WebSocket handshake.");
		http_response_field(resp, "Upgrade", "websocket");
		return;
	}
	if (version == NULL || strcmp(version, "13") != 0) {
		httpd_error(resp, 426, "WebSocket version 13 only.");
		http_response_field(resp, "Sec-WebSocket-Version", "13");
		return;
	}
	if (!key_ok(key)) {
		httpd_error(resp, 400, "Sec-WebSocket-Key must be 16 bytes in "
		    "base64.");
		return;
	}
	if (proto == NULL || !has_token(proto, "xmpp")) {
		httpd_error(resp, 400, "The WebSocket subprotocol must be "
		    "xmpp (RFC 7395 3.1).");
		rq->note = "no xmpp subprotocol";
		return;
	}
	struct ws_job *j = xcalloc(1, sizeof(*j));
	j->j.run = ws_run;
	j->j.done = ws_done;
	j->j.free = ws_free;
	j->fd = -1;
	j->root = xstrdup(rq->svc->root);
	j->tls = rq->tls;
	snprintf(j->client, sizeof(j->client), "%s", rq->client);
	accept_key(key, j->accept);
	j->own_origin = xasprintf("%s://%s", rq->tls ? "https" : "http",
	    host != NULL ? host : "");
	if (origin != NULL) {
		j->origin = xstrdup(origin);
		/* the cookie counts only for a page that says where it is
		 * from; the check of that is ws_run's */
		if (cookie != NULL)
			j->cookie = http_cookie_value(cookie, COOKIE_NAME);
	}
	httpd_defer(rq, &j->j);
}

/* endpoint - the WebSocket URL clients are told: http.public_url's
 * host, else the request's (new string) */
static char *
endpoint(struct httpd_req *rq)
{
	const char *pub = settings_current(rq->svc->db)->http_public_url;
	char *o = origin_of(pub);
	char *url;
	if (o != NULL) {
		bool tls = strncmp(o, "https", 5) == 0;
		url = xasprintf("%s%s" WS_PATH, tls ? "wss" : "ws",
		    o + (tls ? 5 : 4));
		free(o);
		return url;
	}
	const char *host = http_request_field(rq->req, "host");
	return xasprintf("%s://%s" WS_PATH, rq->tls ? "wss" : "ws",
	    host != NULL ? host : "localhost");
}

/* chat_up - whether xmppd's socket is there (it removes it when it
 * stops): the endpoint is listed only then, so that a page does not try
 * a connection bound to fail */
static bool
chat_up(struct httpd_req *rq)
{
	char *p = xasprintf("%s/" WS_SOCKET, rq->svc->root);
	bool up = access(p, F_OK) == 0;

	free(p);
	return up;
}

static void
host_meta(struct httpd_req *rq, struct http_response *resp)
{
	char *url = endpoint(rq);

	http_response_field(resp, "Content-Type", "application/xrd+xml; "
	    "charset=utf-8");
	http_response_field(resp, "Access-Control-Allow-Origin", "*");
	buf_puts(&resp->body, "<?xml version='1.0' encoding='utf-8'?>\n"
	    "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n");
	if (chat_up(rq)) {
		buf_puts(&resp->body, "  <Link rel='urn:xmpp:alt-connections:"
		    "websocket' href='");
		http_escape(&resp->body, url);
		buf_puts(&resp->body, "'/>\n");
	}
	buf_puts(&resp->body, "</XRD>\n");
	free(url);
}

static void
host_meta_json(struct httpd_req *rq, struct http_response *resp)
{
	char *url = endpoint(rq);
	json_t *o = chat_up(rq) ? json_pack("{s:[{s:s,s:s}]}", "links", "rel",
	    "urn:xmpp:alt-connections:websocket", "href", url) :
	    json_pack("{s:[]}", "links");
	char *text = json_dumps(o, JSON_COMPACT);

	http_response_field(resp, "Content-Type", "application/json");
	http_response_field(resp, "Access-Control-Allow-Origin", "*");
	buf_puts(&resp->body, text);
	free(text);
	json_decref(o);
	free(url);
}

const struct httpd_route ws_routes[] = {
	{ WS_PATH, false, "GET", ws_upgrade },
	{ "/.well-known/host-meta", false, "GET", host_meta },
	{ "/.well-known/host-meta.json", false, "GET", host_meta_json },
	{ NULL, false, NULL, NULL },
};
