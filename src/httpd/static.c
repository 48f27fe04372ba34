/* static - the web admin's files under /admin/ (a single-page application
 * built from web/ by scripts/web-build.sh: index.html, the app's ES
 * modules, the Preact and htm dist files; no bundler, no CDN).
 *
 * The tree is <directory of postern-httpd>/web/admin (the build's), else
 * POSTERN_WEBDIR/admin (installed). Paths are checked before any file is
 * opened: letters, digits, '.', '-', '_' and '/' only, no "..", no
 * hidden files; only regular files of at most STATIC_FILE_MAX bytes.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles,
 * images and API calls from this origin only, no inline script or style,
 * no framing, no plugins. */
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

#ifndef POSTERN_WEBDIR
#define POSTERN_WEBDIR "/usr/local/share/postern/web"
#endif

static const char csp[] = "default-src 'self'; script-src 'self'; "
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; "
	"font-src 'self'; object-src 'none'; base-uri 'none'; "
	"form-action 'self'; frame-ancestors 'none'";

/* web_root - the directory of the served tree (static) */
static const char *
web_root(void)
{
	static char root[PATH_MAX];
	static bool done;
	char self[PATH_MAX];
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
			snprintf(root, sizeof(root), "%.3000s/web/admin", self);
			if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
				return root;
		}
	}
	snprintf(root, sizeof(root), "%s/admin", POSTERN_WEBDIR);
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
static_fields(struct http_response *resp)
{
	http_response_field(resp, "Content-Security-Policy", "%s", csp);
	http_response_field(resp, "X-Frame-Options", "DENY");
	http_response_field(resp, "Referrer-Policy", "no-referrer");
	http_response_field(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

static void
serve(struct httpd_req *rq, struct http_response *resp)
{
	const char *rel = rq->req->path + strlen(STATIC_PREFIX);
	char path[PATH_MAX];
	struct stat st;
	const char *type;

	if (*rel == '\0')
		rel = "index.html";
	if (!path_ok(rel) || (type = content_type(rel)) == NULL) {
		httpd_error(resp, 404, "There is nothing here.");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", web_root(), rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_FILE_MAX) {
		if (fd >= 0)
			close(fd);
		if (strcmp(rel, "index.html") == 0)
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
	static_fields(resp);
}

/* "/admin" to "/admin/" ("/" stays free for the webmail) */
static void
admin_redirect(struct httpd_req *rq, struct http_response *resp)
{
	(void)rq;
	resp->status = 302;
	http_response_field(resp, "Location", STATIC_PREFIX);
}

const struct httpd_route static_routes[] = {
	{ "/admin", false, "GET, HEAD", admin_redirect },
	{ STATIC_PREFIX, true, "GET, HEAD", serve },
	{ NULL, false, NULL, NULL },
};
