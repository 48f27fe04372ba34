#ifndef POSTERN_HTTPD_H
#define POSTERN_HTTPD_H

#include <stdbool.h>
#include <stdint.h>

#include "http-parser.h"
#include "http-response.h"
#include "service.h"
#include "workpool.h"

/* The HTTP service's plug-in interface. A module (unsubscribe.c,
 * autodiscover.c; later webmail, admin, api) exports a table of routes,
 * listed once in routes.c; httpd.c reads requests, finds the route,
 * checks the method, calls the handler and writes what it filled in.
 * Handlers run in the event loop: they must not block for long. */

struct httpd_req {
	const struct http_request *req;   /* the parsed request */
	struct service *svc;              /* db, root */
	const char *client;               /* the client's address */
	const struct sockaddr *sa;        /* the same, for throttle.h */
	bool tls;
	uint64_t conn_id;
	const char *note;                 /* set by a handler: for the access
					   * log line (never a secret) */
	void *conn;                       /* httpd's */
	/* an upload route's body: an unlinked temporary file of body_len
	 * bytes (read it from offset 0); a handler that keeps it sets
	 * body_fd to -1, else httpd closes it. -1: the body is in req */
	int body_fd;
	uint64_t body_len;
};

typedef void httpd_handler(struct httpd_req *rq, struct http_response *resp);

/* A handler whose answer needs blocking work (a password hash, writes to
 * the config store) defers it to the service's work pool: run() on a
 * worker thread with that thread's own config store connection (db NULL
 * when it cannot be opened: answer 503), then done() (may be NULL) on
 * the loop, then the answer j->resp is sent. The connection reads no
 * further request meanwhile, so pipelined answers stay in order. run()
 * must not touch rq or the request: copy what it needs into the job
 * first. A connection that goes away meanwhile orphans the job: done()
 * is skipped and free() called. */
struct httpd_job {
	struct work work;                      /* httpd's: first */
	void (*run)(struct httpd_job *j, struct db *db);
	void (*done)(struct httpd_job *j);
	void (*free)(struct httpd_job *j);     /* frees the whole job */
	struct http_response resp;             /* the answer run() fills */
	char note[160];                        /* for the access log line */
	void *conn;                            /* httpd's */
	struct service *svc;
	bool background;                       /* httpd's */
};

/* httpd_defer - answer rq later through job j (see struct httpd_job);
 * the handler's own resp is then ignored */
void httpd_defer(struct httpd_req *rq, struct httpd_job *j);
/* httpd_background - run j on the work pool for no request (a module's
 * own work, e.g. push): run(), then on the loop done() (skipped when the
 * service stops), then free(); j->resp is unused */
void httpd_background(struct httpd_job *j);

/* Streams (EventSource, RFC 8620 7.3): a deferred job's done() may turn
 * its answer into a stream. The head and j->resp's body go out at once
 * (chunked for HTTP/1.1, close-delimited for 1.0, Connection: close),
 * then the connection stays open without deadlines and reads nothing
 * more; the module writes pieces with httpd_stream_write and ends with
 * httpd_stream_end. closed(ctx) runs exactly once, on the loop, when the
 * connection goes for any reason (the client left, the stream ended,
 * output over HTTPD_STREAM_OUT_MAX, the service stops); the handle is
 * invalid from then on. Bounded: HTTPD_MAX_STREAMS per process
 * (httpd_stream_open gives NULL: answer 503). */
#define HTTPD_MAX_STREAMS 1000
#define HTTPD_STREAM_OUT_MAX (64 * 1024)
struct httpd_stream;
typedef void httpd_stream_closed(void *ctx);
struct httpd_stream *httpd_stream_open(struct httpd_job *j,
				       httpd_stream_closed *closed, void *ctx);
/* httpd_stream_write - queue a piece: 0, or -1 when the stream is going
 * (the client does not read: more than HTTPD_STREAM_OUT_MAX queued) */
int httpd_stream_write(struct httpd_stream *s, const void *data, size_t len);
/* httpd_stream_end - the last piece: the connection closes once it left */
void httpd_stream_end(struct httpd_stream *s);
/* httpd_streams - streams open now (for the bench and limits) */
unsigned httpd_streams(void);

/* Tunnels (the WebSocket upgrade, RFC 6455 4.2.2; ws-upgrade.c): a
 * deferred job's done() may hand its connection over to fd, a connected
 * local socket (the tunnel owns it from the call, even on failure). The
 * answer j->resp (a 101 with its fields) goes out, then the bytes are
 * relayed both ways as they are, decrypted, without deadlines: a side
 * whose peer leaves HTTPD_TUNNEL_HIGH unread is not read meanwhile;
 * either side's end closes the other once its output left. Bounded by
 * HTTPD_MAX_TUNNELS per process: -1 (answer 503). */
#define HTTPD_MAX_TUNNELS 1000
#define HTTPD_TUNNEL_HIGH (256 * 1024)
int httpd_tunnel_open(struct httpd_job *j, int fd);

struct httpd_route {
	const char *path;      /* "/list/unsubscribe" */
	bool prefix;           /* path and everything under it ("/api/") */
	const char *methods;   /* the Allow value: "GET, HEAD, POST" */
	httpd_handler *fn;
};

/* A route's options, in a module's second table (listed in routes.c),
 * found by the route's handler: */
struct httpd_route_opt {
	httpd_handler *fn;     /* the route's handler; NULL ends the table */
	/* an upload: a POST or PUT body of up to http.max_upload (not
	 * http.max_body), written to a temporary file as it arrives and
	 * never held in memory (httpd_req.body_fd) */
	bool upload;
	/* the answer to a request refused before the handler (413 and the
	 * other parse errors), in the route's own format; NULL: a page */
	void (*refused)(struct http_response *resp, int status,
			const char *why, bool upload);
	/* an upload's admission (may be NULL), on the loop once its header
	 * block is in, before any of its body is read (and before a 100
	 * Continue): 0 takes it, else the status it is refused with (*why_r:
	 * one line for the client and the log) */
	int (*admit)(struct service *svc, const struct http_request *req,
		     const char **why_r);
};
extern const struct httpd_route_opt chat_upload_route_opts[];
extern const struct httpd_route_opt jmap_mail_route_opts[];
/* httpd_route_opt - the options of a route; NULL: none */
const struct httpd_route_opt *httpd_route_opt(const struct httpd_route *rt);

/* the modules' tables, each ending with a zeroed row */
extern const struct httpd_route unsubscribe_routes[];
extern const struct httpd_route autodiscover_routes[];
extern const struct httpd_route mta_sts_routes[];   /* mta-sts.c */
extern const struct httpd_route api_routes[];
extern const struct httpd_route passkey_routes[];   /* passkey-http.c */
extern const struct httpd_route login_routes[];     /* login-http.c */
extern const struct httpd_route branding_routes[];  /* branding-http.c */
extern const struct httpd_route jmap_mail_routes[];
extern const struct httpd_route static_routes[];
extern const struct httpd_route chat_upload_routes[];   /* chat-upload.c */
extern const struct httpd_route ws_routes[];            /* ws-upgrade.c */

/* httpd_route_find - the route of a decoded path: an exact path first,
 * then the longest prefix; NULL: none (404) */
const struct httpd_route *httpd_route_find(const char *path);
/* httpd_method_allowed - whether method is in the route's list (HEAD
 * goes wherever GET does) */
bool httpd_method_allowed(const struct httpd_route *rt, const char *method);

/* httpd_page - an HTML page: status, title and a body of HTML (the
 * caller escapes what it puts in), with the security fields */
void httpd_page(struct http_response *r, int status, const char *title,
		const char *html);
/* httpd_error - a page for an error status with one line of text */
void httpd_error(struct http_response *r, int status, const char *text);
/* httpd_html_fields - fields of every HTML answer: Content-Security-
 * Policy (no scripts, no framing, forms only to us), nosniff, Referrer-
 * Policy no-referrer, Cache-Control no-store (pages may be per user) */
void httpd_html_fields(struct http_response *r);

#endif
