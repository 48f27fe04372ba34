#ifndef POSTERN_HTTP_PARSER_H
#define POSTERN_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* An HTTP/1.1 request parser (RFC 9110, RFC 9112): incremental, no I/O.
 * Feed it what arrived; it stops after one whole request, so pipelined
 * bytes stay with the caller for the next one.
 *
 * Strict where leniency lets a request mean two things (smuggling): lines
 * end in CRLF (a bare CR or LF is refused), one SP between the parts of
 * the request line, no obs-fold, no whitespace between a field name and
 * its colon, one Content-Length of digits only, Transfer-Encoding only
 * "chunked" and never together with Content-Length or in HTTP/1.0,
 * exactly one valid Host in HTTP/1.1, chunk sizes of hex digits only.
 *
 * Limits: the request line HTTP_LINE_MAX (414), a field line
 * HTTP_LINE_MAX and the header block (fields plus trailers)
 * HTTP_HEADER_MAX / HTTP_FIELDS_MAX (431), the body as given by the
 * caller (413), chunk extensions within HTTP_LINE_MAX (400). */

#define HTTP_LINE_MAX 8192
#define HTTP_HEADER_MAX 32768
#define HTTP_FIELDS_MAX 100
#define HTTP_EMPTY_LINES_MAX 4   /* CRLFs tolerated before a request line */

struct http_field {
	char *name;    /* lower case */
	char *value;   /* without surrounding whitespace */
};

struct http_request {
	char *method;          /* case as sent: methods are case-sensitive */
	char *target;          /* the request-target as sent */
	char *path;            /* percent-decoded path ("*" for OPTIONS *) */
	char *query;           /* the raw query after '?', NULL: none */
	int version;           /* 10 or 11 */
	char *host;            /* Host (or the absolute-form authority) */
	struct http_field *fields;
	size_t nfields;        /* header fields, then trailers */
	size_t ntrailers;      /* the last ntrailers of fields */
	bool chunked;
	int64_t content_length; /* -1: none */
	bool keep_alive;       /* the connection may stay open after it */
	bool expect_continue;  /* Expect: 100-continue */
	struct buf body;
};

enum http_parse_state {
	HP_START, HP_FIELDS, HP_BODY, HP_CHUNK_SIZE, HP_CHUNK_DATA,
	HP_CHUNK_CRLF, HP_TRAILERS, HP_DONE, HP_ERROR,
};

struct http_parser {
	enum http_parse_state state;
	struct http_request req;
	size_t body_max;
	struct buf line;         /* the line being read */
	size_t header_bytes;     /* the header block so far */
	size_t empty_lines;
	uint64_t remaining;      /* body or chunk bytes still to come */
	bool headers_reported;
	int status;              /* the error status after -1 */
	const char *error;
	/* the caller's, kept by reset: the body limit of one request
	 * (NULL: body_max), asked once its header block is in, so that a
	 * Content-Length over it is refused (413) before any body byte */
	size_t (*limit)(void *ctx, const struct http_request *req);
	void *limit_ctx;
	/* set by the caller at HTTP_PARSE_HEADERS, for this request only:
	 * the body goes to body_cb as it arrives (-1: refused, 500) instead
	 * of req.body, e.g. into a file */
	int (*body_cb)(void *ctx, const char *data, size_t len);
	void *body_ctx;
	size_t req_max;          /* this request's body limit */
	uint64_t body_total;     /* body bytes taken so far */
};

enum http_parse_result {
	HTTP_PARSE_ERROR = -1,    /* p->status (400, 413, 414, 431, 501,
				   * 505) and p->error say why */
	HTTP_PARSE_MORE = 0,      /* everything used, need more */
	HTTP_PARSE_DONE = 1,      /* a whole request (p->req) */
	HTTP_PARSE_HEADERS = 2,   /* the header block is complete and a body
				   * follows (time for 100 Continue); feed on */
};

/* http_parser_init - a parser for requests with bodies of at most
 * body_max bytes. */
void http_parser_init(struct http_parser *p, size_t body_max);
/* http_parser_reset - ready for the next request (frees the last one). */
void http_parser_reset(struct http_parser *p);
void http_parser_free(struct http_parser *p);
/* http_parser_feed - parse data[0..len); *used_r is what was taken. After
 * DONE or ERROR it takes nothing until reset. */
enum http_parse_result http_parser_feed(struct http_parser *p,
					const char *data, size_t len,
					size_t *used_r);
/* http_parser_started - whether any byte of a request has arrived (an
 * idle keep-alive connection versus a slow request) */
bool http_parser_started(const struct http_parser *p);

/* http_request_field - the first field named name (lower case), or NULL */
const char *http_request_field(const struct http_request *req,
			       const char *name);
/* http_cookie_value - the value of cookie name in a Cookie field (a
 * new string), or NULL */
char *http_cookie_value(const char *field, const char *name);
/* http_token_list_has - whether a comma-separated list of tokens (like
 * Connection) holds token, case-insensitively */
bool http_token_list_has(const char *list, const char *token);
/* http_method_valid - method is a token (RFC 9110 5.6.2) */
bool http_method_valid(const char *method);

#endif
