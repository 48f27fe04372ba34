/* http-parser - incremental HTTP/1.1 request parser (http-parser.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "http-parser.h"
#include "url.h"
#include "xalloc.h"

/* tchar of RFC 9110 5.6.2 */
static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
http_method_valid(const char *method)
{
	if (*method == '\0')
		return false;
	for (; *method != '\0'; method++)
		if (!is_tchar((unsigned char)*method))
			return false;
	return true;
}

void
http_parser_init(struct http_parser *p, size_t body_max)
{
	memset(p, 0, sizeof(*p));
	p->body_max = body_max;
	p->req_max = body_max;
	buf_init(&p->line, HTTP_LINE_MAX + 2);
	buf_init(&p->req.body, body_max);
	p->req.content_length = -1;
}

static void
request_clear(struct http_request *r)
{
	free(r->method);
	free(r->target);
	free(r->path);
	free(r->query);
	free(r->host);
	for (size_t i = 0; i < r->nfields; i++) {
		free(r->fields[i].name);
		free(r->fields[i].value);
	}
	free(r->fields);
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

void
http_parser_reset(struct http_parser *p)
{
	size_t max = p->body_max;
	size_t (*limit)(void *, const struct http_request *) = p->limit;
	void *limit_ctx = p->limit_ctx;

	request_clear(&p->req);
	buf_free(&p->line);
	http_parser_init(p, max);
	p->limit = limit;
	p->limit_ctx = limit_ctx;
}

void
http_parser_free(struct http_parser *p)
{
	request_clear(&p->req);
	buf_free(&p->line);
}

bool
http_parser_started(const struct http_parser *p)
{
	return p->state != HP_START || p->line.len > 0 || p->empty_lines > 0;
}

const char *
http_request_field(const struct http_request *req, const char *name)
{
	/* header fields only: trailers never stand in for them */
	for (size_t i = 0; i < req->nfields - req->ntrailers; i++)
		if (strcmp(req->fields[i].name, name) == 0)
			return req->fields[i].value;
	return NULL;
}

char *
http_cookie_value(const char *field, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = field; p != NULL && *p != '\0'; ) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t n = strcspn(p, ";");
		if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
			return xstrndup(p + nl + 1, n - nl - 1);
		p += n;
	}
	return NULL;
}

bool
http_token_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *s = p;
		while (*p != '\0' && *p != ',')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
			return true;
	}
	return false;
}

static int
fail(struct http_parser *p, int status, const char *error)
{
	p->state = HP_ERROR;
	p->status = status;
	p->error = error;
	return HTTP_PARSE_ERROR;
}

/* count - a field count of a name */
static size_t
count(const struct http_request *r, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nfields - r->ntrailers; i++)
		if (strcmp(r->fields[i].name, name) == 0)
			n++;
	return n;
}

/* host_valid - a Host value: uri-host [ ":" port ] (RFC 9110 7.2), checked
 * for its characters: reg-name, IPv4 or an IP-literal in brackets */
static bool
host_valid(const char *h)
{
	const char *p = h;

	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (e == NULL || e == p + 1)
			return false;
		for (p++; p < e; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		p = e + 1;
	} else {
		for (; *p != '\0' && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) &&
			    strchr("-._~!$&'()*+,;=%", *p) == NULL)
				return false;
	}
	if (*p == ':') {
		size_t n = 0;
		for (p++; *p != '\0'; p++, n++)
			if (!isdigit((unsigned char)*p) || n >= 5)
				return false;
	}
	return *p == '\0';
}

/* set_path - split the origin-form target into path and query and
 * percent-decode the path */
static int
set_path(struct http_parser *p, const char *t)
{
	struct http_request *r = &p->req;
	const char *q = strchr(t, '?');
	size_t plen = q != NULL ? (size_t)(q - t) : strlen(t);
	struct buf b;

	if (plen == 0 || t[0] != '/')
		return fail(p, 400, "the path must start with /");
	if (strchr(t, '#') != NULL)
		return fail(p, 400, "a fragment in the request target");
	buf_init(&b, HTTP_LINE_MAX);
	if (url_decode(&b, t, plen, false, false) < 0) {
		buf_free(&b);
		return fail(p, 400, "bad percent-encoding in the path");
	}
	r->path = buf_steal(&b);
	if (q != NULL)
		r->query = xstrdup(q + 1);
	return 0;
}

/* request_line - method SP request-target SP HTTP-version */
static int
request_line(struct http_parser *p, char *line, size_t len)
{
	struct http_request *r = &p->req;
	char *sp1 = memchr(line, ' ', len), *sp2;

	if (sp1 == NULL)
		return fail(p, 400, "malformed request line");
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (sp2 == NULL || memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - line)))
		return fail(p, 400, "malformed request line");
	*sp1 = *sp2 = '\0';
	const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
	if (!http_method_valid(method))
		return fail(p, 400, "bad method");
	if (*target == '\0')
		return fail(p, 400, "empty request target");
	for (const char *c = target; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return fail(p, 400, "bad character in the request target");
	if (strncmp(version, "HTTP/", 5) == 0 && isdigit((unsigned char)version[5])
	    && version[6] == '.' && isdigit((unsigned char)version[7]) &&
	    version[8] == '\0') {
		if (version[5] != '1')
			return fail(p, 505, "HTTP version not supported");
		r->version = version[7] == '0' ? 10 : 11;
	} else {
		return fail(p, 400, "bad HTTP version");
	}
	r->method = xstrdup(method);
	r->target = xstrdup(target);
	if (target[0] == '/')
		return set_path(p, target);
	if (strcmp(target, "*") == 0) {
		if (strcmp(method, "OPTIONS") != 0)
			return fail(p, 400, "* is only for OPTIONS");
		r->path = xstrdup("*");
		return 0;
	}
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		/* absolute-form (RFC 9112 3.2.2): its authority is the host */
		const char *a = strchr(target, ':') + 3;
		size_t alen = strcspn(a, "/?");
		if (alen == 0 || memchr(a, '@', alen) != NULL)
			return fail(p, 400, "bad authority in the request target");
		r->host = xstrndup(a, alen);
		if (!host_valid(r->host))
			return fail(p, 400, "bad authority in the request target");
		if (a[alen] == '\0')
			return set_path(p, "/");
		if (a[alen] == '?') {
			char *t = xasprintf("/%s", a + alen);
			int x = set_path(p, t);
			free(t);
			return x;
		}
		return set_path(p, a + alen);
	}
	/* authority-form is for CONNECT, which a server does not proxy */
	return fail(p, 400, "unsupported request target form");
}

/* field_line - name ":" OWS value OWS, into req.fields */
static int
field_line(struct http_parser *p, const char *line, size_t len, bool trailer)
{
	struct http_request *r = &p->req;
	const char *colon = memchr(line, ':', len);
	size_t nl;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(p, 400, "obsolete line folding");
	if (colon == NULL)
		return fail(p, 400, "a header field without a colon");
	nl = (size_t)(colon - line);
	if (nl == 0)
		return fail(p, 400, "empty field name");
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(p, 400, "bad field name");
	const char *v = colon + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (const char *c = v; c < e; c++) {
		unsigned char ch = (unsigned char)*c;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(p, 400, "bad character in a field value");
	}
	if (r->nfields >= HTTP_FIELDS_MAX)
		return fail(p, 431, "too many header fields");
	r->fields = xreallocarray(r->fields, r->nfields + 1, sizeof(*r->fields));
	struct http_field *f = &r->fields[r->nfields++];
	f->name = xstrndup(line, nl);
	for (char *c = f->name; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	f->value = xstrndup(v, (size_t)(e - v));
	if (trailer)
		r->ntrailers++;
	return 0;
}

/* headers_done - decide the framing of the body (RFC 9112 6) */
static int
headers_done(struct http_parser *p)
{
	struct http_request *r = &p->req;
	const char *te = http_request_field(r, "transfer-encoding");
	const char *conn;
	size_t ncl = count(r, "content-length"), nhost = count(r, "host");

	if (r->version == 11 && nhost != 1)
		return fail(p, 400, nhost == 0 ? "Host is required in HTTP/1.1" :
		    "more than one Host");
	if (nhost > 1)
		return fail(p, 400, "more than one Host");
	const char *host = http_request_field(r, "host");
	if (host != NULL) {
		if (!host_valid(host))
			return fail(p, 400, "bad Host");
		if (r->host == NULL && *host != '\0')
			r->host = xstrdup(host);
	}
	p->req_max = p->limit != NULL ? p->limit(p->limit_ctx, r) : p->body_max;
	if (te != NULL) {
		if (r->version == 10)
			return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
		if (ncl > 0)
			return fail(p, 400, "both Content-Length and Transfer-Encoding");
		if (count(r, "transfer-encoding") != 1 || strcasecmp(te, "chunked") != 0) {
			/* a coding other than chunked alone: chunked must be
			 * last, and no other coding is implemented */
			return fail(p, http_token_list_has(te, "chunked") ? 501 : 400,
			    "unsupported transfer coding");
		}
		r->chunked = true;
	} else if (ncl > 0) {
		const char *cl = http_request_field(r, "content-length");
		uint64_t n = 0;
		if (ncl > 1)
			return fail(p, 400, "more than one Content-Length");
		if (*cl == '\0' || strlen(cl) > 18)
			return fail(p, 400, "bad Content-Length");
		for (const char *c = cl; *c != '\0'; c++) {
			if (!isdigit((unsigned char)*c))
				return fail(p, 400, "bad Content-Length");
			n = n * 10 + (uint64_t)(*c - '0');
		}
		if (n > p->req_max)
			return fail(p, 413, "the body is too large");
		r->content_length = (int64_t)n;
		p->remaining = n;
	}
	conn = http_request_field(r, "connection");
	r->keep_alive = r->version == 11 ?
	    !(conn != NULL && http_token_list_has(conn, "close")) :
	    (conn != NULL && http_token_list_has(conn, "keep-alive"));
	const char *expect = http_request_field(r, "expect");
	if (expect != NULL) {
		if (strcasecmp(expect, "100-continue") != 0)
			return fail(p, 417, "unsupported expectation");
		r->expect_continue = r->version == 11;
	}
	if (r->chunked) {
		p->state = HP_CHUNK_SIZE;
	} else if (p->remaining > 0) {
		p->state = HP_BODY;
	} else {
		p->state = HP_DONE;
		return HTTP_PARSE_DONE;
	}
	return HTTP_PARSE_MORE;
}

/* chunk_size_line - chunk-size [ chunk-ext ] */
static int
chunk_size_line(struct http_parser *p, const char *line, size_t len)
{
	uint64_t n = 0;
	size_t i = 0;

	for (; i < len && isxdigit((unsigned char)line[i]); i++) {
		if (n >> 58)
			return fail(p, 400, "chunk size too large");
		int d = isdigit((unsigned char)line[i]) ? line[i] - '0' :
		    tolower((unsigned char)line[i]) - 'a' + 10;
		n = n << 4 | (uint64_t)d;
	}
	if (i == 0)
		return fail(p, 400, "bad chunk size");
	/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): ignored,
	 * but only after a ';' */
	size_t j = i;
	while (j < len && (line[j] == ' ' || line[j] == '\t'))
		j++;
	if (j < len && line[j] != ';')
		return fail(p, 400, "bad chunk size");
	for (; j < len; j++)
		if (((unsigned char)line[j] < 0x20 && line[j] != '\t') ||
		    line[j] == 0x7f)
			return fail(p, 400, "bad chunk extension");
	if (n > p->req_max - p->body_total)
		return fail(p, 413, "the body is too large");
	if (n == 0) {
		p->state = HP_TRAILERS;
	} else {
		p->remaining = n;
		p->state = HP_CHUNK_DATA;
	}
	return HTTP_PARSE_MORE;
}

/* take_line - collect bytes up to LF; 1 with a complete line in p->line
 * (without CRLF), 0 need more, -1 error (too long, bare CR or LF) */
static int
take_line(struct http_parser *p, const char *data, size_t len, size_t *used,
	  size_t max, int status_long)
{
	const char *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) + 1 : len;

	if (p->line.len + n > max + 2)
		return fail(p, status_long, status_long == 414 ?
		    "the request line is too long" : status_long == 431 ?
		    "a header field is too long" : "a line is too long");
	if (p->state == HP_FIELDS || p->state == HP_TRAILERS) {
		p->header_bytes += n;
		if (p->header_bytes > HTTP_HEADER_MAX)
			return fail(p, 431, "the header block is too large");
	}
	buf_append(&p->line, data, n);
	*used += n;
	if (lf == NULL)
		return 0;
	/* the line must end in CRLF, with no other CR or LF in it */
	if (p->line.len < 2 || p->line.data[p->line.len - 2] != '\r')
		return fail(p, 400, "a line not ended by CRLF");
	buf_truncate(&p->line, p->line.len - 2);
	if (memchr(p->line.data, '\r', p->line.len) != NULL)
		return fail(p, 400, "a bare CR");
	if (memchr(p->line.data, '\0', p->line.len) != NULL)
		return fail(p, 400, "a NUL byte");
	return 1;
}

enum http_parse_result
http_parser_feed(struct http_parser *p, const char *data, size_t len,
		 size_t *used_r)
{
	size_t used = 0;
	int r;

	*used_r = 0;
	if (p->state == HP_DONE)
		return HTTP_PARSE_DONE;
	if (p->state == HP_ERROR)
		return HTTP_PARSE_ERROR;
	while (used < len) {
		const char *d = data + used;
		size_t n = len - used;
		r = 0;
		switch (p->state) {
		case HP_DONE:
		case HP_ERROR:
			r = 0;   /* left above */
			break;
		case HP_START:
			r = take_line(p, d, n, &used, HTTP_LINE_MAX, 414);
			if (r <= 0)
				break;
			if (p->line.len == 0) {
				/* RFC 9112 2.2: an empty line before the
				 * request line is ignored (a few) */
				if (++p->empty_lines > HTTP_EMPTY_LINES_MAX) {
					r = fail(p, 400, "empty lines instead of a request");
					break;
				}
				continue;
			}
			r = request_line(p, p->line.data, p->line.len);
			buf_reset(&p->line);
			if (r == 0)
				p->state = HP_FIELDS;
			break;
		case HP_FIELDS:
		case HP_TRAILERS:
			r = take_line(p, d, n, &used, HTTP_LINE_MAX, 431);
			if (r <= 0)
				break;
			if (p->line.len == 0) {
				if (p->state == HP_TRAILERS) {
					p->state = HP_DONE;
					break;
				}
				r = headers_done(p);
				if (r == HTTP_PARSE_MORE && !p->headers_reported) {
					p->headers_reported = true;
					*used_r = used;
					return HTTP_PARSE_HEADERS;
				}
				break;
			}
			r = field_line(p, p->line.data, p->line.len,
			    p->state == HP_TRAILERS);
			buf_reset(&p->line);
			break;
		case HP_BODY:
		case HP_CHUNK_DATA: {
			size_t take = n < p->remaining ? n : (size_t)p->remaining;
			if (p->body_cb != NULL) {
				if (p->body_cb(p->body_ctx, d, take) < 0) {
					r = fail(p, 500, "the body could not be stored");
					break;
				}
			} else if (buf_append(&p->req.body, d, take) < 0) {
				r = fail(p, 413, "the body is too large");
				break;
			}
			p->body_total += take;
			used += take;
			p->remaining -= take;
			r = 0;
			if (p->remaining == 0)
				p->state = p->state == HP_BODY ? HP_DONE : HP_CHUNK_CRLF;
			break;
		}
		case HP_CHUNK_CRLF:
		case HP_CHUNK_SIZE:
			r = take_line(p, d, n, &used, HTTP_LINE_MAX, 400);
			if (r <= 0)
				break;
			if (p->state == HP_CHUNK_CRLF) {
				if (p->line.len != 0)
					r = fail(p, 400, "chunk data longer than its size");
				else {
					p->state = HP_CHUNK_SIZE;
					r = 0;
				}
			} else {
				r = chunk_size_line(p, p->line.data, p->line.len);
			}
			buf_reset(&p->line);
			break;
		}
		if (r < 0) {
			*used_r = used;
			return HTTP_PARSE_ERROR;
		}
		if (r == HTTP_PARSE_DONE || p->state == HP_DONE) {
			*used_r = used;
			return HTTP_PARSE_DONE;
		}
	}
	*used_r = used;
	return p->state == HP_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_MORE;
}
