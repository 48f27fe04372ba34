#ifndef POSTERN_HTTP_RESPONSE_H
#define POSTERN_HTTP_RESPONSE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

/* An HTTP/1.1 response built in memory and written in one piece: status
 * line, Date, the caller's fields, Content-Length and Connection, then the
 * body (left out for HEAD and for 1xx/204/304, RFC 9110 6.4.1). */

#define HTTP_RESPONSE_BODY_MAX (16 * 1024 * 1024)

struct http_response {
	int status;
	struct buf fields;   /* "Name: value\r\n" lines */
	struct buf body;
	bool close;          /* Connection: close, and the caller closes */
	bool stream;         /* no Content-Length: the body is the first
			      * piece of a stream (chunked for HTTP/1.1,
			      * close-delimited for 1.0; http_chunk) */
	bool body_file;      /* the body is body_len bytes of the file
			      * body_fd from body_off, sent by the caller
			      * after the head (the response owns the fd;
			      * a zeroed response has none) */
	int body_fd;
	off_t body_off;
	size_t body_len;
};

void http_response_init(struct http_response *r, int status);
void http_response_free(struct http_response *r);
/* http_response_field - add a field; a value with CR, LF or NUL is
 * refused (-1), so no caller can split a response. */
int http_response_field(struct http_response *r, const char *name,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* http_response_has_field - whether a field of this name was added */
bool http_response_has_field(const struct http_response *r, const char *name);
/* http_response_write - the whole response for a request of version
 * (10 or 11) into out; head: no body (Content-Length stays). */
void http_response_write(const struct http_response *r, int version,
			 bool head, time_t now, struct buf *out);
/* http_chunk - one piece of a stream's body: a chunk for version 11
 * (len 0: the last chunk), the bytes as they are for 10 */
void http_chunk(struct buf *out, int version, const void *data, size_t len);
/* http_status_text - the reason phrase of a status code */
const char *http_status_text(int status);
/* http_date - an IMF-fixdate (RFC 9110 5.6.7) into out (30 bytes) */
void http_date(time_t t, char *out, size_t size);
/* http_escape - append s with & < > " ' as character references: fit
 * for HTML text and attributes and for XML. Control characters other
 * than tab and newline are dropped (XML 1.0 forbids them). */
void http_escape(struct buf *out, const char *s);

#endif
