/* test-http - lib-http: request parser, response writer, forms, URL
 * coding, the autodiscover request scan */
#include <stdlib.h>
#include <string.h>

#include "autodiscover-xml.h"
#include "http-form.h"
#include "http-parser.h"
#include "http-response.h"
#include "test.h"
#include "url.h"

/* parse - feed all of s (optionally a byte at a time); the result and
 * the bytes used */
static int
parse(struct http_parser *p, const char *s, bool trickle, size_t *used_r)
{
	size_t len = strlen(s), pos = 0, used;
	int r = HTTP_PARSE_MORE;

	while (pos < len) {
		size_t n = trickle ? 1 : len - pos;
		r = http_parser_feed(p, s + pos, n, &used);
		pos += used;
		if (r == HTTP_PARSE_HEADERS)
			continue;
		if (r != HTTP_PARSE_MORE)
			break;
		if (used != n) {
			fprintf(stderr, "  MORE without taking everything\n");
			return -9;
		}
	}
	if (used_r != NULL)
		*used_r = pos;
	return r == HTTP_PARSE_HEADERS ? HTTP_PARSE_MORE : r;
}

/* status_of - the error status of one request (0: parsed) */
static int
status_of(const char *s, size_t body_max)
{
	struct http_parser p;
	http_parser_init(&p, body_max);
	int r = parse(&p, s, false, NULL);
	int st = r == HTTP_PARSE_ERROR ? p.status : r == HTTP_PARSE_DONE ? 0 : -1;
	http_parser_free(&p);
	return st;
}

static void
test_simple_get(void)
{
	for (int trickle = 0; trickle < 2; trickle++) {
		struct http_parser p;
		size_t used = 0;
		http_parser_init(&p, 1000);
		const char *req = "GET /a%20b/c?x=1&y=%2B HTTP/1.1\r\nHost: Example.org:8080\r\n"
		    "User-Agent:  curl/8  \r\nConnection: keep-alive\r\n\r\nNEXT";
		CHECK_INTEQ(parse(&p, req, trickle, &used), HTTP_PARSE_DONE);
		CHECK_INTEQ(used, strlen(req) - 4);
		CHECK_STREQ(p.req.method, "GET");
		CHECK_STREQ(p.req.path, "/a b/c");
		CHECK_STREQ(p.req.query, "x=1&y=%2B");
		CHECK_STREQ(p.req.host, "Example.org:8080");
		CHECK_STREQ(http_request_field(&p.req, "user-agent"), "curl/8");
		CHECK_INTEQ(p.req.version, 11);
		CHECK(p.req.keep_alive);
		CHECK_INTEQ(p.req.content_length, -1);
		http_parser_reset(&p);
		CHECK(!http_parser_started(&p));
		http_parser_free(&p);
	}
}

static void
test_pipelined(void)
{
	struct http_parser p;
	size_t used = 0;
	const char *two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET";

	http_parser_init(&p, 100);
	CHECK_INTEQ(parse(&p, two, false, &used), HTTP_PARSE_DONE);
	CHECK_STREQ(p.req.path, "/1");
	http_parser_reset(&p);
	CHECK_INTEQ(parse(&p, two + used, false, &used), HTTP_PARSE_DONE);
	CHECK_STREQ(p.req.path, "/2");
	CHECK_INTEQ(p.req.body.len, 3);
	CHECK_STREQ(p.req.body.data, "abc");
	http_parser_reset(&p);
	CHECK_INTEQ(parse(&p, "GET", false, &used), HTTP_PARSE_MORE);
	CHECK(http_parser_started(&p));
	http_parser_free(&p);
}

static void
test_chunked(void)
{
	for (int trickle = 0; trickle < 2; trickle++) {
		struct http_parser p;
		http_parser_init(&p, 100);
		const char *req = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "4;ext=1\r\nWiki\r\nA\r\npedia in\r\n\r\n0\r\nX-Trailer: t\r\n\r\n";
		CHECK_INTEQ(parse(&p, req, trickle, NULL), HTTP_PARSE_DONE);
		CHECK(p.req.chunked);
		CHECK_STREQ(p.req.body.data, "Wikipedia in\r\n");
		CHECK_INTEQ(p.req.ntrailers, 1);
		CHECK(http_request_field(&p.req, "x-trailer") == NULL);
		CHECK_STREQ(p.req.fields[p.req.nfields - 1].value, "t");
		http_parser_free(&p);
	}
	/* bad chunk sizes and framing */
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "-1\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0x10\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    " 5\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffffff\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabcd\r\n0\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "65\r\n", 100), 413);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\nabc\n0\n\n", 100), 400);
}

static void
test_smuggling(void)
{
	/* CL + TE, double CL, TE in 1.0, odd TE spellings */
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
	    "Content-Length: 5\r\n\r\nabcde", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
	    "Content-Length: 4\r\n\r\nabcd", 100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd",
	    100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\nabcd",
	    100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
	    100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    100), 501);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 100), 501);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
	    100), 400);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: h\r\n Transfer-Encoding: chunked\r\n\r\n",
	    100), 400);
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 100), 400);
	/* bare LF and bare CR */
	CHECK_INTEQ(status_of("GET / HTTP/1.1\nHost: h\n\n", 100), 400);
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 100), 400);
	/* a NUL in a field */
	static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
	struct http_parser p;
	size_t used = 0;
	http_parser_init(&p, 10);
	CHECK_INTEQ(http_parser_feed(&p, nul, sizeof(nul) - 1, &used), HTTP_PARSE_ERROR);
	CHECK_INTEQ(p.status, 400);
	http_parser_free(&p);
}

static void
test_request_line(void)
{
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\n\r\n", 100), 400);      /* no Host */
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost:\r\n\r\n", 100), 0);
	CHECK_INTEQ(status_of("GET / HTTP/1.0\r\n\r\n", 100), 0);
	CHECK_INTEQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 100), 505);
	CHECK_INTEQ(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET /a\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);
	CHECK_INTEQ(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 100), 0);
	CHECK_INTEQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 100), 417);
	/* leading empty lines are skipped, a few */
	CHECK_INTEQ(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 100), 0);
	CHECK_INTEQ(status_of("\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 100), 400);

	/* absolute-form: the authority is the host */
	struct http_parser p;
	http_parser_init(&p, 10);
	CHECK_INTEQ(parse(&p, "GET http://Ex.org:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n", false,
	    NULL), HTTP_PARSE_DONE);
	CHECK_STREQ(p.req.host, "Ex.org:81");
	CHECK_STREQ(p.req.path, "/p");
	CHECK_STREQ(p.req.query, "q");
	http_parser_reset(&p);
	/* HTTP/1.0: closes unless keep-alive */
	CHECK_INTEQ(parse(&p, "HEAD / HTTP/1.0\r\n\r\n", false, NULL), HTTP_PARSE_DONE);
	CHECK(!p.req.keep_alive);
	http_parser_reset(&p);
	CHECK_INTEQ(parse(&p, "GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Close\r\n\r\n", false,
	    NULL), HTTP_PARSE_DONE);
	CHECK(!p.req.keep_alive);
	http_parser_free(&p);
}

static void
test_limits(void)
{
	char *big = malloc(HTTP_HEADER_MAX * 2);
	size_t n;

	/* request line: 414 */
	n = (size_t)sprintf(big, "GET /");
	memset(big + n, 'a', HTTP_LINE_MAX);
	strcpy(big + n + HTTP_LINE_MAX, " HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK_INTEQ(status_of(big, 100), 414);
	/* one long field: 431 */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'a', HTTP_LINE_MAX);
	strcpy(big + n + HTTP_LINE_MAX, "\r\n\r\n");
	CHECK_INTEQ(status_of(big, 100), 431);
	/* many fields: 431 */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_FIELDS_MAX; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	strcpy(big + n, "\r\n");
	CHECK_INTEQ(status_of(big, 100), 431);
	/* a large block: 431 */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 50; i++) {
		n += (size_t)sprintf(big + n, "X-%d: ", i);
		memset(big + n, 'b', 1000);
		n += 1000;
		n += (size_t)sprintf(big + n, "\r\n");
	}
	strcpy(big + n, "\r\n");
	CHECK_INTEQ(status_of(big, 100), 431);
	/* body over the caller's limit: 413 before it arrives */
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 100),
	    413);
	CHECK_INTEQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    100), 400);
	free(big);
}

static void
test_headers_event(void)
{
	struct http_parser p;
	size_t used = 0;
	const char *r = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
	    "Expect: 100-continue\r\n\r\nok";

	http_parser_init(&p, 10);
	CHECK_INTEQ(http_parser_feed(&p, r, strlen(r), &used), HTTP_PARSE_HEADERS);
	CHECK(p.req.expect_continue);
	CHECK_INTEQ(http_parser_feed(&p, r + used, strlen(r) - used, &used),
	    HTTP_PARSE_DONE);
	CHECK_STREQ(p.req.body.data, "ok");
	/* after DONE nothing more is taken until reset */
	CHECK_INTEQ(http_parser_feed(&p, "GET", 3, &used), HTTP_PARSE_DONE);
	CHECK_INTEQ(used, 0);
	http_parser_free(&p);
}

static void
test_url(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INTEQ(url_encode(&b, "a+b&c=d@e.test ~x/é"), 0);
	CHECK_STREQ(b.data, "a%2Bb%26c%3Dd%40e.test%20~x%2F%C3%A9");
	buf_reset(&b);
	CHECK_INTEQ(url_decode(&b, "a%2Bb+c%7e", 10, true, false), 0);
	CHECK_STREQ(b.data, "a+b c~");
	buf_reset(&b);
	CHECK_INTEQ(url_decode(&b, "a+b", 3, false, false), 0);
	CHECK_STREQ(b.data, "a+b");
	CHECK_INTEQ(url_decode(&b, "%4", 2, false, false), -1);
	CHECK_INTEQ(url_decode(&b, "%", 1, false, false), -1);
	CHECK_INTEQ(url_decode(&b, "%g0", 3, false, false), -1);
	CHECK_INTEQ(url_decode(&b, "%00", 3, false, false), -1);
	buf_free(&b);
}

static void
test_form(void)
{
	struct http_form f = { 0 };
	const char *err;
	const char *s = "List-Unsubscribe=One-Click&member=a%2Bb%40x.test&e=&flag&&x=1+2";

	CHECK_INTEQ(http_form_parse(s, strlen(s), &f, &err), 0);
	CHECK_STREQ(http_form_get(&f, "List-Unsubscribe"), "One-Click");
	CHECK_STREQ(http_form_get(&f, "member"), "a+b@x.test");
	CHECK_STREQ(http_form_get(&f, "e"), "");
	CHECK_STREQ(http_form_get(&f, "flag"), "");
	CHECK_STREQ(http_form_get(&f, "x"), "1 2");
	CHECK(http_form_get(&f, "nope") == NULL);
	http_form_free(&f);
	CHECK_INTEQ(http_form_parse("a=%zz", 5, &f, &err), -1);
	http_form_free(&f);

	const char *mp = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
	    "One-Click\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nline1\r\nline2\r\n"
	    "--XyZ--\r\n";
	CHECK_INTEQ(http_form_multipart("multipart/form-data; boundary=XyZ", mp, strlen(mp),
	    &f, &err), 0);
	CHECK_STREQ(http_form_get(&f, "List-Unsubscribe"), "One-Click");
	CHECK_STREQ(http_form_get(&f, "b"), "line1\r\nline2");
	http_form_free(&f);
	CHECK_INTEQ(http_form_multipart("text/plain", "x", 1, &f, &err), -1);
	http_form_free(&f);
}

static size_t
big_for_upload(void *ctx, const struct http_request *req)
{
	(void)ctx;
	return strcmp(req->path, "/up") == 0 ? 1000 : 10;
}

static int
sink(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len);
}

/* an upload: its own limit, asked before the body; the body to a sink */
static void
test_body_sink(void)
{
	struct http_parser p;
	struct buf got;
	size_t used = 0;
	const char *r = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n5\r\nhello\r\nc\r\n world again\r\n0\r\n\r\n";

	buf_init(&got, 0);
	http_parser_init(&p, 10);
	p.limit = big_for_upload;
	CHECK_INTEQ(http_parser_feed(&p, r, strlen(r), &used), HTTP_PARSE_HEADERS);
	p.body_cb = sink;
	p.body_ctx = &got;
	size_t at = used;
	CHECK_INTEQ(http_parser_feed(&p, r + at, strlen(r) - at, &used),
	    HTTP_PARSE_DONE);
	CHECK_STREQ(got.data, "hello world again");
	CHECK_INTEQ(p.req.body.len, 0);
	CHECK_INTEQ(p.body_total, 17);
	/* reset keeps the limit, drops the sink: another path gets 10 */
	http_parser_reset(&p);
	CHECK(p.limit == big_for_upload && p.body_cb == NULL);
	r = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
	CHECK_INTEQ(http_parser_feed(&p, r, strlen(r), &used), HTTP_PARSE_ERROR);
	CHECK_INTEQ(p.status, 413);
	/* over the upload's own limit by Content-Length: 413 at once */
	http_parser_reset(&p);
	r = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n";
	CHECK_INTEQ(http_parser_feed(&p, r, strlen(r), &used), HTTP_PARSE_ERROR);
	CHECK_INTEQ(p.status, 413);
	http_parser_free(&p);
	buf_free(&got);
}

/* a stream: chunked for 1.1, as is for 1.0, never a Content-Length */
static void
test_stream_response(void)
{
	struct http_response r;
	struct buf out;

	http_response_init(&r, 200);
	r.stream = true;
	buf_puts(&r.body, "data: 1\n\n");
	buf_init(&out, 0);
	http_response_write(&r, 11, false, 784111777, &out);
	CHECK(strstr(out.data, "Transfer-Encoding: chunked\r\nConnection: close"
	    "\r\n\r\n9\r\ndata: 1\n\n\r\n") != NULL);
	CHECK(strstr(out.data, "Content-Length") == NULL);
	buf_reset(&out);
	http_response_write(&r, 10, false, 784111777, &out);
	CHECK(strstr(out.data, "Transfer-Encoding") == NULL);
	CHECK(strstr(out.data, "Content-Length") == NULL);
	CHECK(strstr(out.data, "\r\n\r\ndata: 1\n\n") != NULL);
	buf_reset(&out);
	http_chunk(&out, 11, "abc", 3);
	http_chunk(&out, 11, "", 0);
	CHECK_STREQ(out.data, "3\r\nabc\r\n0\r\n\r\n");
	buf_free(&out);
	http_response_free(&r);
}

static void
test_response(void)
{
	struct http_response r;
	struct buf out;

	http_response_init(&r, 405);
	CHECK_INTEQ(http_response_field(&r, "Allow", "GET, HEAD"), 0);
	CHECK_INTEQ(http_response_field(&r, "X-Bad", "a\r\nSet-Cookie: x"), -1);
	CHECK_INTEQ(http_response_field(&r, "Bad:Name", "v"), -1);
	CHECK(http_response_has_field(&r, "allow"));
	CHECK(!http_response_has_field(&r, "content-type"));
	buf_puts(&r.body, "nope\n");
	buf_init(&out, 0);
	http_response_write(&r, 11, false, 784111777, &out);
	CHECK_STREQ(out.data, "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nAllow: GET, HEAD\r\n"
	    "Content-Length: 5\r\n\r\nnope\n");
	buf_reset(&out);
	r.close = true;
	http_response_write(&r, 10, true, 784111777, &out);
	CHECK(strstr(out.data, "Content-Length: 5\r\nConnection: close\r\n\r\n") != NULL);
	CHECK(strstr(out.data, "nope") == NULL);
	buf_free(&out);
	http_response_free(&r);

	buf_init(&out, 0);
	http_escape(&out, "<a href=\"x\">&'\x01");
	CHECK_STREQ(out.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
	buf_free(&out);
}

static void
test_autodiscover_xml(void)
{
	char e[AUTODISCOVER_EMAIL_MAX + 1];
	const char *ok = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">"
	    "<Request><EMailAddress> alice@acme.test </EMailAddress>"
	    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	    "</AcceptableResponseSchema></Request></Autodiscover>";

	CHECK_INTEQ(autodiscover_request_email(ok, strlen(ok), e, sizeof(e)), 0);
	CHECK_STREQ(e, "alice@acme.test");
	const char *pfx = "<a:Autodiscover><a:Request><a:EMailAddress>b@x.test</a:EMailAddress>";
	CHECK_INTEQ(autodiscover_request_email(pfx, strlen(pfx), e, sizeof(e)), 0);
	CHECK_STREQ(e, "b@x.test");
	const char *bad[] = { "<EMailAddress></EMailAddress>", "<EMailAddress/>",
	    "<EMailAddress>a&amp;b@x</EMailAddress>", "<EMailAddress>a b@x</EMailAddress>",
	    "<EMailAddress>a@x", "<EMailAddressX>a@x</EMailAddressX>", "no xml", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INTEQ(autodiscover_request_email(bad[i], strlen(bad[i]), e, sizeof(e)), -1);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_simple_get),
		TEST(test_pipelined),
		TEST(test_chunked),
		TEST(test_smuggling),
		TEST(test_request_line),
		TEST(test_limits),
		TEST(test_headers_event),
		TEST(test_body_sink),
		TEST(test_stream_response),
		TEST(test_url),
		TEST(test_form),
		TEST(test_response),
		TEST(test_autodiscover_xml),
		{ NULL, NULL },
	};
	return test_run(tests);
}
