#ifndef POSTERN_XMPP_CONN_H
#define POSTERN_XMPP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <openssl/ssl.h>

#include "service.h"
#include "xml-stream.h"

/* conn - xmppd's connections: accept with the per-address limit, plain
 * or direct TLS (XEP-0368), STARTTLS, writes with an output bound,
 * timeouts, and a close that lets the last bytes leave. Kept apart from
 * the protocol so that it can move onto the shared connection layer of
 * lib-service. */

#define XCONN_OUT_MAX (2 * 1024 * 1024)  /* output a client leaves unread */

enum xconn_end {
	XCONN_EOF,            /* the peer closed, or an I/O or TLS error */
	XCONN_TIMEOUT,        /* silent for the timeout */
	XCONN_CLOSED,         /* our xconn_close() finished */
};

struct xconn;
typedef void xconn_input_cb(void *ctx);
/* xconn_end_cb - the connection is over (or timed out: the callback may
 * queue a last word and call xconn_close); the callback frees it with
 * xconn_free */
typedef void xconn_end_cb(void *ctx, enum xconn_end why);

struct xconn {
	struct service *svc;
	struct bufferevent *bev;
	struct sockaddr_storage sa;
	char addr[64];
	uint64_t id;
	bool tls;
	bool closing;
	bool counted;         /* holds a per-address slot */
	int close_waits;
	struct event *close_ev;
	xconn_input_cb *on_connected;   /* xconn_connect: once */
	xconn_input_cb *on_input;
	xconn_end_cb *on_end;
	void *ctx;
};

/* xconn_accept - take a new connection (fd is closed on failure, NULL):
 * at most limit from one address; implicit TLS needs ssl */
struct xconn *xconn_accept(struct service *svc, SSL_CTX *ssl, bool implicit,
			   int fd, const struct sockaddr *sa, socklen_t salen,
			   int limit, xconn_input_cb *in, xconn_end_cb *end,
			   void *ctx);
/* xconn_adopt - take a connection that arrived another way (websocket.c:
 * a browser's, relayed by httpd): bev is its bufferevent (freed on
 * failure, NULL), sa the client's address for the per-address limit,
 * tls whether the client's own connection is encrypted */
struct xconn *xconn_adopt(struct service *svc, struct bufferevent *bev,
			  const struct sockaddr *sa, socklen_t salen, bool tls,
			  int limit, xconn_input_cb *in, xconn_end_cb *end,
			  void *ctx);
/* xconn_connect - an outgoing connection (s2s.c): connected is called
 * once it is up, end if it fails; NULL when no socket could be made */
struct xconn *xconn_connect(struct service *svc, const struct sockaddr *sa,
			    socklen_t salen, xconn_input_cb *connected,
			    xconn_input_cb *in, xconn_end_cb *end, void *ctx);
struct evbuffer *xconn_input(struct xconn *c);
/* xconn_xml_event - the next event of the XML stream read from c into
 * xs (XML_EV_MORE: all input parsed); *resumed false at each read's
 * start (conn.c) */
enum xml_event xconn_xml_event(struct xconn *c, struct xml_stream *xs,
			       bool *resumed);
/* xconn_write - queue output; false (nothing queued) when the client
 * already leaves XCONN_OUT_MAX bytes unread */
bool xconn_write(struct xconn *c, const void *data, size_t len);
size_t xconn_pending(struct xconn *c);
/* xconn_starttls - switch to TLS now (after <proceed/>); input buffered
 * in clear is dropped (RFC 6120 5.4.3.3). 0 or -1. */
int xconn_starttls(struct xconn *c, SSL_CTX *ssl);
/* xconn_starttls_as - the same as the client when sni is not NULL (the
 * server name sent: an outgoing s2s stream after <proceed/>) */
int xconn_starttls_as(struct xconn *c, SSL_CTX *ssl, const char *sni);
/* xconn_set_timeout - idle seconds before XCONN_TIMEOUT */
void xconn_set_timeout(struct xconn *c, int seconds);
/* xconn_pause - stop or resume reading */
void xconn_pause(struct xconn *c, bool paused);
/* xconn_close - stop reading; XCONN_CLOSED once the output left (or
 * after a few seconds for a client that does not read) */
void xconn_close(struct xconn *c);
void xconn_free(struct xconn **c);

#endif
