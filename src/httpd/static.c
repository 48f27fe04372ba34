/* static - the web applications' files (single-page applications built
 * from web/ by scripts/web-build.sh: index.html, the apps' ES modules, the
 * libraries' dist files; no bundler, no CDN):
 *
 *   /admin/    the web admin (web/admin)
 *   /mail/     the webmail (web/mail); "/" and "/mail" redirect here
 *   /common/   what both share: the libraries (vendor/), html.js
 *
 * The trees are <directory of postern-httpd>/web/<tree> (the build's),
 * else POSTERN_WEBDIR/<tree> (installed). Paths are checked before any
 * file is opened: letters, digits, '.', '-', '_' and '/' only, no "..",
 * no hidden files; only regular files of at most STATIC_FILE_MAX bytes.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles,
 * images and API calls from this origin only, no inline script or style,
 * no plugins, no framing by others. The webmail may frame only its own
 * reader documents (/mail/reader*.html), and images may come from blob:
 * URLs (attachments and inline cid: parts fetched from the download
 * URL). The reader documents are where a message's sanitised HTML is
 * written (by the app, into a frame sandboxed without allow-scripts):
 * their own policy allows inline styles and images from blob:/data:
 * only, and in reader-remote.html (shown once the user allowed images
 * for that message or sender) images from anywhere; nothing else may
 * load, scripts never run (CSP sandbox too). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "postern-config.h"

#define STATIC_FILE_MAX (4 * 1024 * 1024)
#define STATIC_PREFIX "/admin/"
#define MAIL_PREFIX "/mail/"
#define COMMON_PREFIX "/common/"

#ifndef POSTERN_WEBDIR
#define POSTERN_WEBDIR "/usr/local/share/postern/web"
#endif

static const char csp[] = "default-src 'self'; script-src 'self'; "
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; "
	"font-src 'self'; object-src 'none'; base-uri 'none'; "
	"form-action 'self'; frame-ancestors 'none'";

static const char csp_mail[] = "default-src 'none'; script-src 'self'; "
	"style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
	"font-src 'self'; frame-src 'self'; child-src 'self'; "
	"object-src 'none'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'; manifest-src 'self'; worker-src 'none'";

/* the reader frames: no script, no fetch, no font, no form, no base */
#define CSP_READER "default-src 'none'; style-src 'unsafe-inline'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; " \
	"sandbox allow-same-origin allow-popups " \
	"allow-popups-to-escape-sandbox; "
static const char csp_reader[] = CSP_READER "img-src blob: data:";
static const char csp_reader_remote[] = CSP_READER
	"img-src blob: data: http: https:";

/* web_root - the directory holding the served trees (static): the
 * build's web/ beside postern-httpd when it has the admin tree, else
 * POSTERN_WEBDIR */
static const char *
web_root(void)
{
	static char root[PATH_MAX];
	static bool done;
	char self[PATH_MAX], probe[PATH_MAX + 8];
	struct stat st;

	if (done)
		return root;
	done = true;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(root, sizeof(root), "%.3000s/web", self);
			snprintf(probe, sizeof(probe), "%s/admin", root);
			if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode))
				return root;
		}
	}
	snprintf(root, sizeof(root), "%s", POSTERN_WEBDIR);
	return root;
}

static const char *
content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* path_ok - a relative path we may serve */
static bool
path_ok(const char *rel)
{
	if (strlen(rel) > 200 || strspn(rel, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != strlen(rel))
		return false;
	for (const char *p = rel; *p != '\0'; p = strchr(p, '/') ? strchr(p, '/') + 1 : "") {
		if (*p == '.' || *p == '/')
			return false;   /* "..", hidden files, "//" */
	}
	return true;
}

static void
static_fields(struct http_response *resp, const char *policy, bool frame)
{
	http_response_field(resp, "Content-Security-Policy", "%s", policy);
	http_response_field(resp, "X-Frame-Options", frame ? "SAMEORIGIN" :
	    "DENY");
	http_response_field(resp, "X-Content-Type-Options", "nosniff");
	http_response_field(resp, "Referrer-Policy", "no-referrer");
	http_response_field(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

static void
serve(struct httpd_req *rq, struct http_response *resp)
{
	const char *full = rq->req->path + 1;      /* "admin/...", "mail/..." */
	const char *rel = strchr(full, '/') + 1;   /* the route ends in '/' */
	const char *policy = csp;
	bool mail = strncmp(rq->req->path, MAIL_PREFIX, strlen(MAIL_PREFIX)) == 0;
	bool frame = false;
	char path[PATH_MAX];
	struct stat st;
	const char *type;

	if (*rel == '\0')
		rel = "index.html";
	if (mail) {
		policy = csp_mail;
		if (strcmp(rel, "reader.html") == 0)
			policy = csp_reader, frame = true;
		else if (strcmp(rel, "reader-remote.html") == 0)
			policy = csp_reader_remote, frame = true;
	}
	if (!path_ok(rel) || (type = content_type(rel)) == NULL) {
		httpd_error(resp, 404, "There is nothing here.");
		return;
	}
	snprintf(path, sizeof(path), "%s/%.*s%s", web_root(),
	    (int)(rel - full), full, rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_FILE_MAX) {
		if (fd >= 0)
			close(fd);
		if (strcmp(rel, "index.html") == 0 && mail)
			httpd_error(resp, 503, "The webmail is not built on this "
			    "server (npm was missing when it was built): IMAP, POP3 "
			    "and JMAP at /jmap/mail/api work.");
		else if (strcmp(rel, "index.html") == 0 && strncmp(rq->req->path,
		    STATIC_PREFIX, strlen(STATIC_PREFIX)) == 0)
			httpd_error(resp, 503, "The web admin is not built on this "
			    "server (npm was missing when it was built): the API at "
			    "/jmap/api works; see docs/API.md.");
		else
			httpd_error(resp, 404, "There is nothing here.");
		return;
	}
	buf_reset(&resp->body);
	if (buf_reserve(&resp->body, (size_t)st.st_size + 1) < 0) {
		close(fd);
		httpd_error(resp, 500, "The file could not be read.");
		return;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, resp->body.data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	resp->body.len = got;
	resp->body.data[got] = '\0';
	resp->status = 200;
	http_response_field(resp, "Content-Type", "%s", type);
	/* revalidated each time: an upgrade shows at once */
	http_response_field(resp, "Cache-Control", "no-cache");
	static_fields(resp, policy, frame);
}

/* "/admin" to "/admin/" */
static void
admin_redirect(struct httpd_req *rq, struct http_response *resp)
{
	(void)rq;
	resp->status = 302;
	http_response_field(resp, "Location", STATIC_PREFIX);
}

/* "/" and "/mail" to "/mail/", the webmail */
static void
mail_redirect(struct httpd_req *rq, struct http_response *resp)
{
	(void)rq;
	resp->status = 302;
	http_response_field(resp, "Location", MAIL_PREFIX);
}

const struct httpd_route static_routes[] = {
	{ "/admin", false, "GET, HEAD", admin_redirect },
	{ STATIC_PREFIX, true, "GET, HEAD", serve },
	{ "/", false, "GET, HEAD", mail_redirect },
	{ "/mail", false, "GET, HEAD", mail_redirect },
	{ MAIL_PREFIX, true, "GET, HEAD", serve },
	{ COMMON_PREFIX, true, "GET, HEAD", serve },
	{ NULL, false, NULL, NULL },
};
