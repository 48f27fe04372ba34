/* fuzz-http - HTTP requests (pipelined, in random pieces), the forms
 * of their bodies and queries, and the autodiscover request scan */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autodiscover-xml.h"
#include "http-form.h"
#include "http-parser.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the upload mode of httpd: a per-request limit, the body to a sink */
static size_t
fuzz_limit(void *ctx, const struct http_request *req)
{
	(void)ctx;
	return req->path != NULL && req->path[0] == '/' && req->path[1] == 'u' ?
	    8192 : 4096;
}

static int
fuzz_sink(void *ctx, const char *data, size_t len)
{
	size_t *n = ctx;

	if (len > 0 && data == NULL)
		__builtin_trap();
	*n += len;
	return *n > 6000 && len == 7 ? -1 : 0;    /* a refusal, now and then */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser p;
	const char *in = (const char *)data;
	size_t pos = 0, step = size > 0 ? (size_t)data[0] % 7 + 1 : 1;
	int requests = 0;

	bool sink = size > 1 && (data[1] & 1);
	size_t sunk = 0;

	http_parser_init(&p, 4096);
	if (sink)
		p.limit = fuzz_limit;
	while (pos < size && requests < 64) {
		size_t n = size - pos < step ? size - pos : step, used;
		enum http_parse_result r = http_parser_feed(&p, in + pos, n, &used);
		if (used > n)
			__builtin_trap();
		pos += used;
		if (r == HTTP_PARSE_MORE && used != n)
			__builtin_trap();
		if (r == HTTP_PARSE_ERROR) {
			if (p.status < 400 || p.status > 505 || p.error == NULL)
				__builtin_trap();
			break;
		}
		if (r == HTTP_PARSE_HEADERS && sink) {
			sunk = 0;
			p.body_cb = fuzz_sink;
			p.body_ctx = &sunk;
		}
		if (r != HTTP_PARSE_DONE)
			continue;
		if (p.body_total > p.req_max || (p.body_cb != NULL &&
		    (sunk != p.body_total || p.req.body.len != 0)))
			__builtin_trap();
		if (p.body_cb != NULL && p.req.content_length >= 0 &&
		    (uint64_t)p.req.content_length != sunk)
			__builtin_trap();
		/* invariants of a parsed request */
		struct http_request *q = &p.req;
		if (q->method == NULL || q->path == NULL ||
		    (q->version != 10 && q->version != 11) ||
		    q->body.len > 8192 || (q->chunked && q->content_length >= 0) ||
		    (q->version == 11 && http_request_field(q, "host") == NULL))
			__builtin_trap();
		if (p.body_cb == NULL && q->content_length >= 0 &&
		    (size_t)q->content_length != q->body.len)
			__builtin_trap();
		for (size_t i = 0; i < q->nfields; i++)
			if (strpbrk(q->fields[i].value, "\r\n") != NULL)
				__builtin_trap();
		struct http_form f = { 0 };
		const char *err;
		(void)http_form_request(q, &f, &err);
		http_form_free(&f);
		if (q->query != NULL) {
			(void)http_form_parse(q->query, strlen(q->query), &f, &err);
			http_form_free(&f);
		}
		char email[AUTODISCOVER_EMAIL_MAX + 1];
		if (autodiscover_request_email(q->body.data ? q->body.data : "",
		    q->body.len, email, sizeof(email)) == 0 &&
		    (strlen(email) == 0 || strpbrk(email, "<& ") != NULL))
			__builtin_trap();
		http_parser_reset(&p);
		requests++;
	}
	http_parser_free(&p);

	/* the raw input as a form, a multipart body and an XML request */
	struct http_form f = { 0 };
	const char *err;
	(void)http_form_parse(in, size, &f, &err);
	http_form_free(&f);
	(void)http_form_multipart("multipart/form-data; boundary=b", in, size, &f, &err);
	http_form_free(&f);
	char email[AUTODISCOVER_EMAIL_MAX + 1];
	(void)autodiscover_request_email(in, size, email, sizeof(email));
	struct buf b;
	buf_init(&b, 0);
	(void)url_decode(&b, in, size, true, true);
	buf_free(&b);
	return 0;
}
