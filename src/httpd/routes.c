/* routes - the route table of the HTTP service and the pages every
 * module shares (httpd.h) */
#include <stdio.h>
#include <string.h>

#include "httpd.h"

/* every module's table: add a new module here */
static const struct httpd_route *const tables[] = {
	unsubscribe_routes,
	autodiscover_routes,
	mta_sts_routes,       /* MTA-STS policy of hosted domains (trust) */
	jmap_mail_routes,     /* before api_routes: /.well-known/jmap */
	api_routes,
	passkey_routes,
	login_routes,         /* login-http.c: own logins, OIDC */
	branding_routes,      /* branding-http.c: the post offices' logos */
	static_routes,
	chat_upload_routes,   /* XEP-0363 (chat-upload.c) */
	ws_routes,            /* XMPP over WebSocket, XEP-0156 (ws-upgrade.c) */
	NULL,
};

const struct httpd_route *
httpd_route_find(const char *path)
{
	const struct httpd_route *best = NULL;
	size_t best_len = 0;

	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct httpd_route *r = tables[t]; r->path != NULL; r++) {
			size_t n = strlen(r->path);
			if (!r->prefix) {
				if (strcmp(path, r->path) == 0)
					return r;
			} else if (strncmp(path, r->path, n) == 0 && n > best_len) {
				best = r;
				best_len = n;
			}
		}
	}
	return best;
}

/* every module's options table (httpd_route_opt) */
static const struct httpd_route_opt *const opt_tables[] = {
	jmap_mail_route_opts,
	chat_upload_route_opts,
	NULL,
};

const struct httpd_route_opt *
httpd_route_opt(const struct httpd_route *rt)
{
	for (size_t t = 0; rt != NULL && opt_tables[t] != NULL; t++)
		for (const struct httpd_route_opt *o = opt_tables[t]; o->fn != NULL;
		    o++)
			if (o->fn == rt->fn)
				return o;
	return NULL;
}

bool
httpd_method_allowed(const struct httpd_route *rt, const char *method)
{
	size_t ml = strlen(method);

	for (const char *p = rt->methods; *p != '\0'; ) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if ((n == ml && strncmp(p, method, n) == 0) ||
		    (strcmp(method, "HEAD") == 0 && n == 3 && strncmp(p, "GET", 3) == 0))
			return true;
		p += n;
	}
	return false;
}

void
httpd_html_fields(struct http_response *r)
{
	http_response_field(r, "Content-Type", "text/html; charset=utf-8");
	http_response_field(r, "Content-Security-Policy", "default-src 'none'; "
	    "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors "
	    "'none'; base-uri 'none'");
	http_response_field(r, "X-Content-Type-Options", "nosniff");
	http_response_field(r, "X-Frame-Options", "DENY");
	http_response_field(r, "Referrer-Policy", "no-referrer");
	http_response_field(r, "Cache-Control", "no-store");
}

void
httpd_page(struct http_response *r, int status, const char *title,
	   const char *html)
{
	r->status = status;
	httpd_html_fields(r);
	buf_reset(&r->body);
	buf_puts(&r->body, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-"
	    "width\"><title>");
	http_escape(&r->body, title);
	buf_puts(&r->body, "</title><style>body{font-family:sans-serif;"
	    "max-width:36em;margin:3em auto;padding:0 1em}</style></head>"
	    "<body><h1>");
	http_escape(&r->body, title);
	buf_puts(&r->body, "</h1>\n");
	buf_puts(&r->body, html);
	buf_puts(&r->body, "\n</body></html>\n");
}

void
httpd_error(struct http_response *r, int status, const char *text)
{
	struct buf b;
	char title[64];

	buf_init(&b, 0);
	buf_puts(&b, "<p>");
	http_escape(&b, text);
	buf_puts(&b, "</p>");
	snprintf(title, sizeof(title), "%d %s", status, http_status_text(status));
	httpd_page(r, status, title, b.data);
	buf_free(&b);
}
