/* branding-http - the post offices' logos for the login pages and the
 * banners (lib-admin's branding.h; set through Branding/set):
 *
 *   GET /api/branding?login=NAME | ?postoffice=PO   (neither: the Host)
 *     {"postOffice": PO, "login": URL, "banner": URL} for the logos the
 *     post office has, {} when none or no such post office. A login names
 *     its post office by the domain after its last '@' (or a post office
 *     of that name); the mailbox part is never looked at, so the answer is
 *     the same whether the mailbox exists.
 *   GET /api/branding/<post office>/<login|banner>
 *     the image with its type, nosniff and a Content-Security-Policy that
 *     sandboxes it (an SVG opened on its own runs nothing, loads nothing)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "branding.h"
#include "buf.h"
#include "fsutil.h"
#include "http-form.h"
#include "http-response.h"
#include "httpd.h"
#include "login-http.h"
#include "service.h"
#include "strutil.h"
#include "xalloc.h"

#define BRANDING_PATH "/api/branding"

struct brand_job {
	struct httpd_job job;
	char *name;           /* the login, post office or host */
};

static void
brand_job_run(struct httpd_job *hj, struct db *db)
{
	struct brand_job *j = (struct brand_job *)hj;
	char po[NAME_MAX_LEN + 1];
	const char *err;

	if (db == NULL) {
		lh_problem(&j->job.resp, 503, "unavailable", "The config store "
		    "is unavailable; try again.");
		return;
	}
	int r = brand_postoffice_of(db, j->name, po, sizeof(po), &err);
	if (r < 0) {
		snprintf(j->job.note, sizeof(j->job.note), "branding: %s", err);
		lh_problem(&j->job.resp, 503, "unavailable", "The config store "
		    "is unavailable; try again.");
		return;
	}
	json_t *o = json_object();
	for (size_t k = 0; r > 0 && brand_kinds[k] != NULL; k++) {
		struct brand_info b;
		brand_get(db_root(db), po, brand_kinds[k], &b);
		if (!b.set)
			continue;
		char *url = xasprintf("%s/%s/%s?v=%lld", BRANDING_PATH, po,
		    brand_kinds[k], (long long)b.updated);
		json_object_set_new(o, brand_kinds[k], json_string(url));
		free(url);
	}
	if (json_object_size(o) > 0)
		json_object_set_new(o, "postOffice", json_string(po));
	lh_answer(&j->job.resp, 200, o);
	/* the same for everyone: a browser may keep it a little */
	http_response_field(&j->job.resp, "Cache-Control", "max-age=60");
}

static void
brand_job_free(struct httpd_job *hj)
{
	struct brand_job *j = (struct brand_job *)hj;

	http_response_free(&j->job.resp);
	free(j->name);
	free(j);
}

/* brand_lookup - GET /api/branding?login=|postoffice= */
static void
brand_lookup(struct httpd_req *rq, struct http_response *resp)
{
	struct http_form f = { NULL, 0 };
	const char *err, *q = rq->req->query != NULL ? rq->req->query : "";

	if (strlen(q) > 1024 || http_form_parse(q, strlen(q), &f, &err) < 0) {
		httpd_error(resp, 400, "The query is malformed.");
		return;
	}
	const char *name = http_form_get(&f, "login");
	if (name == NULL)
		name = http_form_get(&f, "postoffice");
	char host[256] = "";
	if (name == NULL && rq->req->host != NULL) {
		/* the host the page was asked for, without its port */
		snprintf(host, sizeof(host), "%s", rq->req->host);
		char *c = host[0] == '[' ? NULL : strrchr(host, ':');
		if (c != NULL)
			*c = '\0';
		name = host;
	}
	if (name == NULL || *name == '\0' || strlen(name) > 320) {
		http_form_free(&f);
		lh_answer(resp, 200, json_object());
		return;
	}
	struct brand_job *j = xcalloc(1, sizeof(*j));
	j->job.run = brand_job_run;
	j->job.free = brand_job_free;
	j->name = xstrdup(name);
	http_form_free(&f);
	httpd_defer(rq, &j->job);
}

/* brand_image - GET /api/branding/<po>/<kind> */
static void
brand_image(struct httpd_req *rq, struct http_response *resp)
{
	const char *tail = rq->req->path + strlen(BRANDING_PATH "/");
	const char *slash = strchr(tail, '/');
	char po[NAME_MAX_LEN + 1];
	struct brand_info b;

	if (slash == NULL || slash == tail || (size_t)(slash - tail) > NAME_MAX_LEN ||
	    !brand_kind_valid(slash + 1)) {
		httpd_error(resp, 404, "No such logo.");
		return;
	}
	memcpy(po, tail, (size_t)(slash - tail));
	po[slash - tail] = '\0';
	brand_get(rq->svc->root, po, slash + 1, &b);
	struct buf data;
	buf_init(&data, BRAND_MAX);
	if (!b.set || file_read(b.path, &data) < 0) {
		buf_free(&data);
		httpd_error(resp, 404, "No such logo.");
		return;
	}
	resp->status = 200;
	buf_reset(&resp->body);
	buf_append(&resp->body, data.data, data.len);
	buf_free(&data);
	http_response_field(resp, "Content-Type", "%s", b.type);
	http_response_field(resp, "X-Content-Type-Options", "nosniff");
	http_response_field(resp, "Content-Security-Policy", "default-src "
	    "'none'; style-src 'unsafe-inline'; sandbox");
	http_response_field(resp, "Content-Disposition", "inline");
	http_response_field(resp, "Cross-Origin-Resource-Policy", "same-origin");
	/* the URL changes with the logo (?v=) */
	http_response_field(resp, "Cache-Control", "max-age=300");
}

const struct httpd_route branding_routes[] = {
	{ BRANDING_PATH, false, "GET", brand_lookup },
	{ BRANDING_PATH "/", true, "GET", brand_image },
	{ NULL, false, NULL, NULL },
};
