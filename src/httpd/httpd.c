/* httpd - the HTTP service: plain on http.listen, implicit TLS on
 * https.listen (SNI certificates of lib-service/tls.c). HTTP/1.1 with
 * keep-alive; pipelined requests are answered in order, one at a time.
 * Requests are parsed by lib-http and dispatched through the route table
 * of routes.c to the modules (unsubscribe.c, autodiscover.c).
 *
 * Bounded: http.max_connections_per_ip, http.request_timeout for the
 * whole of one request from its first byte (a client trickling bytes,
 * slowloris, is cut off: 408 and close), http.idle_timeout between
 * requests, http.max_body, HTTPD_MAX_REQUESTS per connection, input read
 * at most HTTPD_IN_HIGH ahead, answers queued at most HTTPD_OUT_HIGH
 * before reading stops (a client that pipelines without reading). A bad
 * request is answered with its status (400, 413, 414, 431, 501, 505) and
 * the connection closed. One access log line per request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "fsutil.h"
#include "httpd.h"
#include "log.h"
#include "settings.h"
#include "tls.h"
#include "xalloc.h"

#define HTTPD_IN_HIGH (64 * 1024)
#define HTTPD_OUT_HIGH (1024 * 1024)
#define HTTPD_MAX_REQUESTS 1000
#define HTTPD_WRITE_TIMEOUT 60
#define HTTPD_CLOSE_WAIT 5

/* the HTTP side of a connection (lib-service/conn.h has the rest) */
struct hconn {
	struct conn *c;
	bool in_request;           /* the request deadline is armed */
	unsigned requests;
	struct http_parser parser;
	struct timespec started;   /* of the current request */
	struct event *timer;       /* request or idle deadline */
	struct httpd_job *job;     /* the current request's deferred answer */
	int version;               /* of the deferred request */
	bool head;
	struct httpd_stream *stream; /* the answer is a stream */
	int body_fd;               /* an upload's body file, -1 */
	int tunnel_fd;             /* httpd_tunnel_open's, before the 101 */
	struct bufferevent *tunnel; /* relaying (httpd_tunnel_open) */
};

struct httpd_stream {
	struct hconn *c;
	httpd_stream_closed *closed;
	void *ctx;
	int version;
	bool begun;                /* the head is out */
	bool ended;
};

static struct {
	struct service *svc;
	struct conn_server *conns; /* the connection layer */
	struct workpool *pool;     /* deferred answers (httpd_defer) */
	int request_timeout, idle_timeout;
	size_t max_body, max_upload;
	char *tmpdir;              /* upload bodies (O_TMPFILE) */
	unsigned streams;          /* open (HTTPD_MAX_STREAMS) */
	unsigned tunnels;          /* open (HTTPD_MAX_TUNNELS) */
} server;

static void on_read(struct conn *conn);

/* each worker thread's own config store connection (httpd_defer) */
static __thread struct db *thread_db;
static __thread bool thread_db_tried;

/* arm - the deadline: the idle timeout between requests, the request
 * timeout from a request's first byte (not restarted by more bytes) */
static void
arm(struct hconn *c, bool request)
{
	struct timeval tv = { request ? server.request_timeout :
	    server.idle_timeout, 0 };

	c->in_request = request;
	evtimer_add(c->timer, &tv);
	if (request)
		clock_gettime(CLOCK_MONOTONIC, &c->started);
}

/* hconn_close - stop reading; the connection goes once its output has
 * (and the client closed, or HTTPD_CLOSE_WAIT passed) */
static void
hconn_close(struct hconn *c)
{
	evtimer_del(c->timer);
	conn_close(c->c, HTTPD_CLOSE_WAIT);
}

/* access_log - one line per request: connection, client, method, the
 * path as sent (never the query: it may hold keys), status, bytes, time */
static void
access_log(struct hconn *c, const char *method, const char *target,
	   int status, size_t bytes, const char *note)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(now.tv_sec - c->started.tv_sec) * 1000 +
	    (now.tv_nsec - c->started.tv_nsec) / 1000000;
	int plen = target != NULL ? (int)strcspn(target, "?") : 1;

	log_info("%s %s%s \"%s %.*s%s\" %d %zu %ldms%s%s", c->c->sid,
	    c->c->addr, c->c->tls ? " tls" : "", method != NULL ? method : "-",
	    plen > 200 ? 200 : plen, target != NULL ? target : "-",
	    target != NULL && target[plen] == '?' ? "?..." : "", status, bytes,
	    ms, note != NULL ? " " : "", note != NULL ? note : "");
}

/* send_response - write resp for the request (or for a failed parse) */
static void
send_response(struct hconn *c, struct http_response *resp, int version,
	      bool head)
{
	struct buf out;

	buf_init(&out, 0);
	if (!http_response_has_field(resp, "X-Content-Type-Options"))
		http_response_field(resp, "X-Content-Type-Options", "nosniff");
	http_response_write(resp, version, head, time(NULL), &out);
	conn_write(c->c, out.data, out.len);
	buf_free(&out);
	if (resp->body_file) {
		/* a file body goes from the page cache (sendfile or mmap),
		 * never read into memory here; the buffer owns the fd */
		struct evbuffer_file_segment *seg = NULL;
		if (!head && resp->body_len > 0)
			seg = evbuffer_file_segment_new(resp->body_fd,
			    resp->body_off, (ev_off_t)resp->body_len,
			    EVBUF_FS_CLOSE_ON_FREE);
		if (seg == NULL) {
			close(resp->body_fd);
			if (!head && resp->body_len > 0)
				resp->close = true;   /* the length was a lie */
		} else {
			if (evbuffer_add_file_segment(conn_output(c->c), seg, 0,
			    (ev_off_t)resp->body_len) < 0)
				resp->close = true;
			evbuffer_file_segment_free(seg);   /* the buffer's ref */
		}
		resp->body_file = false;
	}
}

/* is_known_method - methods of RFC 9110 and 5789: others get 501 */
static bool
is_known_method(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL };
	for (size_t i = 0; known[i] != NULL; i++)
		if (strcmp(m, known[i]) == 0)
			return true;
	return false;
}

/* dispatch - route the parsed request and fill resp */
static void
dispatch(struct hconn *c, const struct http_request *req,
	 struct http_response *resp, const char **note_r)
{
	const struct httpd_route *rt;

	if (!is_known_method(req->method)) {
		httpd_error(resp, 501, "This method is not implemented.");
		return;
	}
	if (strcmp(req->path, "*") == 0) {
		/* OPTIONS * : the server as a whole */
		resp->status = 204;
		http_response_field(resp, "Allow", "GET, HEAD, POST, OPTIONS");
		return;
	}
	rt = httpd_route_find(req->path);
	if (rt == NULL) {
		httpd_error(resp, 404, "There is nothing here.");
		return;
	}
	if (strcmp(req->method, "OPTIONS") == 0) {
		resp->status = 204;
		http_response_field(resp, "Allow", "%s, OPTIONS", rt->methods);
		return;
	}
	if (!httpd_method_allowed(rt, req->method)) {
		httpd_error(resp, 405, "This method is not allowed here.");
		http_response_field(resp, "Allow", "%s", rt->methods);
		return;
	}
	struct httpd_req rq = {
		.req = req, .svc = server.svc, .client = c->c->addr,
		.sa = (const struct sockaddr *)&c->c->sa, .tls = c->c->tls,
		.conn_id = c->c->seq, .conn = c, .body_fd = c->body_fd,
		.body_len = c->parser.body_total,
	};
	c->body_fd = -1;
	rt->fn(&rq, resp);
	if (rq.body_fd >= 0)
		close(rq.body_fd);
	*note_r = rq.note;
}

/* request_finish - send the answer of the current request and get
 * ready for the next one */
static void
request_finish(struct hconn *c, struct http_response *resp, int version,
	       bool head, const char *method, const char *target,
	       const char *note)
{
	c->requests++;
	if (!c->parser.req.keep_alive || c->requests >= HTTPD_MAX_REQUESTS ||
	    server.svc->stopping)
		resp->close = true;
	send_response(c, resp, version, head);
	access_log(c, method, target, resp->status, head ? 0 : resp->body.len,
	    note);
	bool close = resp->close;
	http_parser_reset(&c->parser);
	if (close)
		hconn_close(c);
	else
		arm(c, false);
}

/* request_done - answer a whole request */
static void
request_done(struct hconn *c)
{
	struct http_request *req = &c->parser.req;
	struct http_response resp;
	const char *note = NULL;
	bool head = strcmp(req->method, "HEAD") == 0;

	http_response_init(&resp, 200);
	dispatch(c, req, &resp, &note);
	if (c->job != NULL) {
		/* deferred: no deadline while the pool works on it */
		http_response_free(&resp);
		c->version = req->version;
		c->head = head;
		c->in_request = false;
		evtimer_del(c->timer);
		return;
	}
	request_finish(c, &resp, req->version, head, req->method, req->target,
	    note);
	http_response_free(&resp);
}

/* stream_begin - the deferred answer opened a stream: its head and first
 * piece go out, the deadlines stop, nothing more is read as a request */
static void
stream_begin(struct hconn *c, struct http_response *resp, const char *note)
{
	c->requests++;
	c->stream->version = c->version == 11 ? 11 : 10;
	resp->stream = true;
	resp->close = true;
	send_response(c, resp, c->stream->version, false);
	access_log(c, c->parser.req.method, c->parser.req.target, resp->status,
	    resp->body.len, note != NULL ? note : "stream");
	http_parser_reset(&c->parser);
	c->in_request = false;
	evtimer_del(c->timer);
	c->stream->begun = true;
	if (c->stream->ended) {
		/* ended by done() itself: the first piece was the last */
		c->stream->ended = false;
		httpd_stream_end(c->stream);
	}
}

struct httpd_stream *
httpd_stream_open(struct httpd_job *j, httpd_stream_closed *closed,
		  void *ctx)
{
	struct hconn *c = j->conn;

	if (c == NULL || c->stream != NULL || server.streams >=
	    HTTPD_MAX_STREAMS || server.svc->stopping)
		return NULL;
	struct httpd_stream *s = xcalloc(1, sizeof(*s));
	s->c = c;
	s->closed = closed;
	s->ctx = ctx;
	c->stream = s;
	server.streams++;
	return s;
}

int
httpd_stream_write(struct httpd_stream *s, const void *data, size_t len)
{
	struct hconn *c = s->c;
	struct buf out;

	if (s->ended || c->c->closing || !s->begun)
		return -1;
	if (evbuffer_get_length(conn_output(c->c)) + len >
	    HTTPD_STREAM_OUT_MAX) {
		log_info("%s: [%s]: stream not read by the client: closed",
		    c->c->sid, c->c->addr);
		s->ended = true;
		hconn_close(c);
		return -1;
	}
	buf_init(&out, 0);
	http_chunk(&out, s->version, data, len);
	conn_write(c->c, out.data, out.len);
	buf_free(&out);
	return 0;
}

void
httpd_stream_end(struct httpd_stream *s)
{
	struct hconn *c = s->c;

	if (s->ended || c->c->closing)
		return;
	s->ended = true;
	if (!s->begun)
		return;     /* stream_begin ends it after the head */
	if (s->version == 11)
		conn_write(c->c, "0\r\n\r\n", 5);
	hconn_close(c);
}

unsigned
httpd_streams(void)
{
	return server.streams;
}

/* tunnel_read - the local side wrote: to the client */
static void
tunnel_read(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->c->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(conn_output(c->c), in);
	if (evbuffer_get_length(conn_output(c->c)) > HTTPD_TUNNEL_HIGH)
		bufferevent_disable(bev, EV_READ);   /* until drained */
}

/* tunnel_written - the local side took what the client sent: read on */
static void
tunnel_written(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;

	(void)bev;
	if (!c->c->closing)
		conn_resume(c->c);
}

/* tunnel_event - the local side ended: the client's connection too,
 * once what is queued for it left */
static void
tunnel_event(struct bufferevent *bev, short what, void *arg)
{
	struct hconn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* a write error (the local side went with our bytes unread)
		 * may come before its last words were read: read them (into
		 * a buffer of ours: a bufferevent's input takes no reads) */
		tunnel_read(c->tunnel, c);
		struct evbuffer *rest = evbuffer_new();
		for (int i = 0; rest != NULL && i < 64; i++)
			if (evbuffer_read(rest, bufferevent_getfd(c->tunnel),
			    65536) <= 0)
				break;
		if (rest != NULL && !c->c->closing)
			evbuffer_add_buffer(conn_output(c->c), rest);
		if (rest != NULL)
			evbuffer_free(rest);
		bufferevent_disable(c->tunnel, EV_READ | EV_WRITE);
		hconn_close(c);
	}
}

/* tunnel_client - the client wrote: to the local side */
static void
tunnel_client(struct hconn *c)
{
	struct evbuffer *in = conn_input(c->c);
	struct evbuffer *out = bufferevent_get_output(c->tunnel);

	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) > HTTPD_TUNNEL_HIGH)
		conn_suspend(c->c);   /* tunnel_written resumes */
}

int
httpd_tunnel_open(struct httpd_job *j, int fd)
{
	struct hconn *c = j->conn;

	if (c == NULL || c->stream != NULL || c->tunnel_fd >= 0 ||
	    server.tunnels >= HTTPD_MAX_TUNNELS || server.svc->stopping) {
		close(fd);
		return -1;
	}
	c->tunnel_fd = fd;
	return 0;
}

/* tunnel_begin - the deferred answer opened a tunnel: the 101 goes
 * out, then the relaying starts (bytes the client sent after its
 * request are the first to go) */
static void
tunnel_begin(struct hconn *c, struct http_response *resp, const char *note)
{
	c->requests++;
	c->tunnel = bufferevent_socket_new(server.svc->base, c->tunnel_fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->tunnel_fd = -1;
	if (c->tunnel == NULL) {
		httpd_error(resp, 503, "The service is unavailable.");
		request_finish(c, resp, c->version, false,
		    c->parser.req.method, c->parser.req.target, note);
		return;
	}
	server.tunnels++;
	resp->close = false;
	send_response(c, resp, 11, false);
	access_log(c, c->parser.req.method, c->parser.req.target, resp->status,
	    0, note != NULL ? note : "tunnel");
	http_parser_reset(&c->parser);
	c->in_request = false;
	evtimer_del(c->timer);
	bufferevent_setwatermark(c->tunnel, EV_WRITE, HTTPD_TUNNEL_HIGH / 2, 0);
	bufferevent_setcb(c->tunnel, tunnel_read, tunnel_written, tunnel_event,
	    c);
	bufferevent_enable(c->tunnel, EV_READ | EV_WRITE);
}

static void
job_thread_end(void)
{
	if (thread_db != NULL)
		db_close(&thread_db);
	thread_db_tried = false;
}

/* job_run - a deferred answer's work (worker thread) */
static void
job_run(struct work *w)
{
	struct httpd_job *j = (struct httpd_job *)w;
	const char *err;

	if (!thread_db_tried) {
		thread_db_tried = true;
		if (db_open(j->svc->root, false, &thread_db, &err) < 0)
			thread_db = NULL;
	}
	j->run(j, thread_db);
}

/* job_done - on the loop: send the deferred answer, then read on */
static void
job_done(struct work *w)
{
	struct httpd_job *j = (struct httpd_job *)w;
	struct hconn *c = j->conn;

	if (j->background) {
		if (!w->skipped && j->done != NULL)
			j->done(j);
		j->free(j);
		return;
	}
	if (c == NULL) {
		j->free(j);
		return;
	}
	c->job = NULL;
	if (w->skipped)
		httpd_error(&j->resp, 503, "The service is stopping.");
	else if (j->done != NULL)
		j->done(j);
	if (c->stream != NULL)
		stream_begin(c, &j->resp, j->note[0] != '\0' ? j->note : NULL);
	else if (c->tunnel_fd >= 0)
		tunnel_begin(c, &j->resp, j->note[0] != '\0' ? j->note : NULL);
	else
		request_finish(c, &j->resp, c->version, c->head,
		    c->parser.req.method, c->parser.req.target,
		    j->note[0] != '\0' ? j->note : NULL);
	j->free(j);
	conn_resume(c->c);
}

void
httpd_background(struct httpd_job *j)
{
	j->conn = NULL;
	j->background = true;
	j->svc = server.svc;
	j->work.run = job_run;
	j->work.done = job_done;
	http_response_init(&j->resp, 200);
	j->note[0] = '\0';
	workpool_submit(server.pool, &j->work);
}

void
httpd_defer(struct httpd_req *rq, struct httpd_job *j)
{
	struct hconn *c = rq->conn;

	j->conn = c;
	j->background = false;
	j->svc = server.svc;
	j->work.run = job_run;
	j->work.done = job_done;
	http_response_init(&j->resp, 200);
	j->note[0] = '\0';
	c->job = j;
	workpool_submit(server.pool, &j->work);
}

/* body_drop - an upload body file not handed to a handler */
static void
body_drop(struct hconn *c)
{
	if (c->body_fd >= 0)
		close(c->body_fd);
	c->body_fd = -1;
}

/* is_upload - whether the request goes to an upload route */
static const struct httpd_route *
upload_route(const struct http_request *req)
{
	const struct httpd_route *rt = req->path != NULL ?
	    httpd_route_find(req->path) : NULL;
	const struct httpd_route_opt *o = httpd_route_opt(rt);

	/* only a method the route takes: another one's body is not worth
	 * a file (it gets 405 with the usual body limit) */
	return o != NULL && o->upload && req->method != NULL &&
	    (strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0) &&
	    httpd_method_allowed(rt, req->method) ? rt : NULL;
}

/* body_limit - the parser's limit of one request's body */
static size_t
body_limit(void *ctx, const struct http_request *req)
{
	(void)ctx;
	return upload_route(req) != NULL ? server.max_upload : server.max_body;
}

/* body_write - an upload's body into its file as it arrives */
static int
body_write(void *ctx, const char *data, size_t len)
{
	struct hconn *c = ctx;

	while (len > 0) {
		ssize_t n = write(c->body_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* body_start - an upload's header block is in: the route admits it or
 * not (its status in parser.status), then its body goes to an unlinked
 * temporary file (without one it is refused: 503) */
static bool
body_start(struct hconn *c)
{
	const struct httpd_route *rt = upload_route(&c->parser.req);
	const struct httpd_route_opt *o = httpd_route_opt(rt);
	const char *why = NULL;
	int status;

	if (rt == NULL)
		return true;
	body_drop(c);
	if (o->admit != NULL && (status = o->admit(server.svc,
	    &c->parser.req, &why)) != 0) {
		c->parser.status = status;
		c->parser.error = why;
		return false;
	}
	c->body_fd = open(server.tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (c->body_fd < 0) {
		log_warn("%s: upload file in %s", c->c->sid, server.tmpdir);
		c->parser.status = 503;
		c->parser.error = "the upload cannot be stored now";
		return false;
	}
	c->parser.body_cb = body_write;
	c->parser.body_ctx = c;
	return true;
}

/* request_failed - a bad request: its status, then close (the framing
 * of what follows cannot be trusted) */
static void
request_failed(struct hconn *c)
{
	struct http_parser *p = &c->parser;
	struct http_response resp;
	const struct httpd_route_opt *o = httpd_route_opt(p->req.path != NULL ?
	    httpd_route_find(p->req.path) : NULL);

	body_drop(c);
	http_response_init(&resp, p->status);
	if (o != NULL && o->refused != NULL)
		o->refused(&resp, p->status, p->error, upload_route(&p->req) !=
		    NULL);
	else
		httpd_error(&resp, p->status, p->error);
	resp.close = true;
	send_response(c, &resp, 11, false);
	access_log(c, p->req.method, p->req.target, p->status, resp.body.len,
	    p->error);
	http_response_free(&resp);
	hconn_close(c);
}

static void
on_read(struct conn *conn)
{
	struct hconn *c = conn->ctx;
	struct evbuffer *in = conn_input(conn);

	if (c->tunnel != NULL) {
		tunnel_client(c);
		return;
	}
	if (c->stream != NULL) {
		/* a stream's client says nothing more: what it sends is
		 * dropped (its hangup is seen by the layer) */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (!conn->closing && c->job == NULL) {
		size_t len = evbuffer_get_length(in), used;
		if (conn_out_full(conn))
			return;   /* the client pipelines without reading */
		if (len == 0)
			return;
		const char *data = (const char *)evbuffer_pullup(in, -1);
		enum http_parse_result r = http_parser_feed(&c->parser, data, len,
		    &used);
		evbuffer_drain(in, used);
		if (!c->in_request && http_parser_started(&c->parser))
			arm(c, true);
		switch (r) {
		case HTTP_PARSE_MORE:
			return;
		case HTTP_PARSE_HEADERS:
			if (!body_start(c)) {
				request_failed(c);
				return;
			}
			/* RFC 9110 10.1.1: the client waits for this */
			if (c->parser.req.expect_continue)
				conn_write(c->c,
				    "HTTP/1.1 100 Continue\r\n\r\n", 25);
			break;
		case HTTP_PARSE_DONE:
			request_done(c);
			break;
		case HTTP_PARSE_ERROR:
			request_failed(c);
			return;
		}
	}
}

/* on_timer - a deadline passed: a request too slow gets 408, an idle
 * connection just goes, a closing one is dropped */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;

	if (c->c->closing)
		return;     /* the layer's close wait runs */
	if (c->in_request && !conn_handshaking(c->c)) {
		struct http_response resp;
		log_info("%s: [%s]: request not received within %d s",
		    c->c->sid, c->c->addr, server.request_timeout);
		http_response_init(&resp, 408);
		httpd_error(&resp, 408, "The request took too long.");
		resp.close = true;
		send_response(c, &resp, 11, false);
		http_response_free(&resp);
		hconn_close(c);
		return;
	}
	log_debug("%s: [%s]: idle, closed", c->c->sid, c->c->addr);
	conn_free(c->c);
}

/* on_teardown - the connection goes: a deferred answer is orphaned
 * (job_done frees it) */
static void
on_teardown(struct conn *conn)
{
	struct hconn *c = conn->ctx;

	if (c == NULL)
		return;
	if (c->job != NULL)
		c->job->conn = NULL;
	body_drop(c);
	if (c->stream != NULL) {
		struct httpd_stream *st = c->stream;
		c->stream = NULL;
		server.streams--;
		st->closed(st->ctx);
		free(st);
	}
	if (c->tunnel_fd >= 0)
		close(c->tunnel_fd);
	if (c->tunnel != NULL) {
		/* what the client said last (a close frame), if the local
		 * side takes it now */
		struct evbuffer *out = bufferevent_get_output(c->tunnel);
		size_t n = evbuffer_get_length(out);
		if (n > 0 && n <= 65536) {
			char *last = xmalloc(n);
			evbuffer_copyout(out, last, n);
			(void)!write(bufferevent_getfd(c->tunnel), last, n);
			free(last);
		}
		bufferevent_free(c->tunnel);
		server.tunnels--;
	}
	if (c->timer != NULL)
		event_free(c->timer);
	http_parser_free(&c->parser);
	free(c);
	conn->ctx = NULL;
}

/* on_open - a new connection; over http.max_connections_per_ip it is
 * answered 503 and closed like any other answer */
static void
on_open(struct conn *conn)
{
	struct hconn *c = xcalloc(1, sizeof(*c));

	conn->ctx = c;
	c->c = conn;
	c->body_fd = -1;
	c->tunnel_fd = -1;
	http_parser_init(&c->parser, server.max_body);
	c->parser.limit = body_limit;
	c->timer = evtimer_new(server.svc->base, on_timer, c);
	/* a TLS handshake counts as part of the first request */
	arm(c, conn->implicit_tls);
	if (conn->busy) {
		struct http_response resp;
		http_response_init(&resp, 503);
		httpd_error(&resp, 503, "Too many connections from your address.");
		http_response_field(&resp, "Retry-After", "10");
		resp.close = true;
		send_response(c, &resp, 11, false);
		http_response_free(&resp);
		hconn_close(c);
		return;
	}
}

/* on_drained - the client read what a tunnel sent: read the local side
 * again */
static void
on_drained(struct conn *conn)
{
	struct hconn *c = conn->ctx;

	if (c != NULL && c->tunnel != NULL && !conn->closing)
		bufferevent_enable(c->tunnel, EV_READ);
}

static const struct conn_ops httpd_ops = {
	.open = on_open,
	.read = on_read,
	.drained = on_drained,
	.teardown = on_teardown,
};

static const struct conn_def httpd_conn = {
	.sid_letter = 'h',
	.protocol = "http",
	.tls_listener = "https",
	.limit_setting = SETTING_http_max_connections_per_ip,
	.write_timeout = HTTPD_WRITE_TIMEOUT,
	.in_high = HTTPD_IN_HIGH,
	.out_high = HTTPD_OUT_HIGH,
	.answer_busy = true,
	.linger = true,
	.quiet = true,
	.ops = &httpd_ops,
};

static int
httpd_init(struct service *svc)
{
	server.svc = svc;
	server.request_timeout = (int)settings_current(svc->db)->http_request_timeout;
	server.idle_timeout = (int)settings_current(svc->db)->http_idle_timeout;
	server.max_body = (size_t)settings_current(svc->db)->http_max_body * 1024;
	server.max_upload = (size_t)settings_current(svc->db)->http_max_upload * 1024;
	server.tmpdir = path_join(svc->root, "tmp");
	if (mkdir(server.tmpdir, 0700) < 0 && errno != EEXIST)
		log_warn("mkdir %s", server.tmpdir);
	const char *err;
	server.pool = workpool_create(svc->base, 2, job_thread_end, &err);
	if (server.pool == NULL) {
		log_warnx("work pool: %s", err);
		return -1;
	}
	server.conns = conn_server_new(svc, &httpd_conn, NULL);
	const char *pub = settings_current(svc->db)->http_public_url;
	if (*pub != '\0' && strncasecmp(pub, "https://", 8) != 0 &&
	    strncasecmp(pub, "http://", 7) != 0)
		log_warnx("http.public_url = %s is not an http(s) URL: ignored",
		    pub);
	service_set_state(svc, "running", NULL);
	return 0;
}

static void
httpd_shutdown(struct service *svc)
{
	(void)svc;
	conn_server_free(&server.conns);
	workpool_free(&server.pool, false);
	free(server.tmpdir);
}

int
main(int argc, char **argv)
{
	static const char *const listeners[] = { "http", "https", NULL };
	static const struct service_def def = {
		.name = "httpd",
		.listeners = listeners,
		.init = httpd_init,
		.accept = conn_service_accept,
		.shutdown = httpd_shutdown,
	};
	return service_main(argc, argv, &def);
}
