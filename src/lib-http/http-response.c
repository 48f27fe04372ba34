/* http-response - the HTTP/1.1 response writer (http-response.h) */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http-response.h"

void
http_response_init(struct http_response *r, int status)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	buf_init(&r->fields, 65536);
	buf_init(&r->body, HTTP_RESPONSE_BODY_MAX);
}

void
http_response_free(struct http_response *r)
{
	buf_free(&r->fields);
	buf_free(&r->body);
	if (r->body_file)
		close(r->body_fd);
	r->body_file = false;
}

int
http_response_field(struct http_response *r, const char *name,
		    const char *fmt, ...)
{
	struct buf v;
	va_list ap;
	int x;

	buf_init(&v, 8192);
	va_start(ap, fmt);
	x = buf_vprintf(&v, fmt, ap);
	va_end(ap);
	if (x < 0 || (v.len > 0 && strcspn(v.data, "\r\n") != v.len) ||
	    strpbrk(name, ": \r\n") != NULL) {
		buf_free(&v);
		return -1;
	}
	x = buf_printf(&r->fields, "%s: %s\r\n", name, v.len ? v.data : "");
	buf_free(&v);
	return x;
}

bool
http_response_has_field(const struct http_response *r, const char *name)
{
	size_t nl = strlen(name);
	const char *p = r->fields.data;

	for (size_t i = 0; p != NULL && i < r->fields.len; ) {
		if (strncasecmp(p + i, name, nl) == 0 && p[i + nl] == ':')
			return true;
		const char *e = strstr(p + i, "\r\n");
		if (e == NULL)
			break;
		i = (size_t)(e - p) + 2;
	}
	return false;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void
http_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

	gmtime_r(&t, &tm);
	snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

void
http_response_write(const struct http_response *r, int version, bool head,
		    time_t now, struct buf *out)
{
	char date[64];
	bool no_body = (r->status >= 100 && r->status < 200) ||
	    r->status == 204 || r->status == 304;

	http_date(now, date, sizeof(date));
	buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status,
	    http_status_text(r->status), date);
	if (r->fields.len > 0)
		buf_append(out, r->fields.data, r->fields.len);
	if (r->stream && !no_body && version == 11)
		buf_puts(out, "Transfer-Encoding: chunked\r\n");
	else if (!no_body && !r->stream)
		buf_printf(out, "Content-Length: %zu\r\n", r->body_file ?
		    r->body_len : r->body.len);
	if (r->close || r->stream)
		buf_puts(out, "Connection: close\r\n");
	else if (version == 10)
		buf_puts(out, "Connection: keep-alive\r\n");
	buf_puts(out, "\r\n");
	if (head || no_body || r->body_file || r->body.len == 0)
		return;
	if (r->stream)
		http_chunk(out, version, r->body.data, r->body.len);
	else
		buf_append(out, r->body.data, r->body.len);
}

void
http_chunk(struct buf *out, int version, const void *data, size_t len)
{
	if (version != 11) {
		buf_append(out, data, len);
		return;
	}
	buf_printf(out, "%zx\r\n", len);
	if (len > 0)
		buf_append(out, data, len);
	buf_puts(out, "\r\n");
}

void
http_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				buf_putc(out, *s);
		}
	}
}
