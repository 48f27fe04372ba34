/* login-http - what a logged-in user sees of their own login security,
 * for the web admin and the webmail (the same routes under /api/ and
 * /jmap/mail/; issue 17 item 7):
 *
 *   GET .../logins     the session's mailbox's recent logins, newest
 *                      first (lib-config/loginsec.h loginsec_logins):
 *                      {"logins": [{"last", "protocol", "address",
 *                      "country", "first", "count"}]}
 *
 * The cookie postern_session of a web login (either endpoint) names the
 * mailbox; the work runs on the work pool (httpd_defer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "directory.h"
#include "httpd.h"
#include "loginsec.h"
#include "webauth.h"
#include "xalloc.h"

#define COOKIE_NAME "postern_session"
#define LOGINS_MAX 100

struct lg_job {
	struct httpd_job job;          /* first */
	char *cookie;                  /* the session id, or NULL */
};

static void
answer(struct http_response *r, int status, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, s != NULL ? s : "{}");
	free(s);
	json_decref(v);
	http_response_field(r, "Content-Type", status >= 400 ?
	    "application/problem+json" : "application/json");
	http_response_field(r, "Cache-Control", "no-store");
	http_response_field(r, "X-Content-Type-Options", "nosniff");
}

static void
problem(struct http_response *r, int status, const char *type,
	const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), "urn:postern:error:%s", type);
	answer(r, status, json_pack("{s:s,s:i,s:s}", "type", t, "status", status,
	    "detail", detail));
}

static void
job_free(struct httpd_job *hj)
{
	struct lg_job *j = (struct lg_job *)hj;

	http_response_free(&j->job.resp);
	free(j->cookie);
	free(j);
}

static void
job_run(struct httpd_job *hj, struct db *db)
{
	struct lg_job *j = (struct lg_job *)hj;
	struct http_response *resp = &j->job.resp;
	struct dir_mailbox mb;
	int64_t mid = 0, sid = 0;
	const char *err = NULL;

	if (db == NULL) {
		problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	int r = j->cookie != NULL ? webauth_session_lookup(db, j->cookie,
	    time(NULL), &mid, &sid, &err) : 0;
	if (r > 0)
		r = dir_mailbox_get(db, mid, &mb, &err);
	if (r < 0) {
		problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	if (r == 0 || mb.disabled || mb.postoffice_disabled ||
	    mb.prevent_auth) {
		problem(resp, 401, "unauthorized", "Log in first.");
		return;
	}
	snprintf(j->job.note, sizeof(j->job.note), "%s@%s", mb.name,
	    mb.postoffice);
	const char *const *keys;
	sqlite3_stmt *st = loginsec_logins(db, mb.id, LOGINS_MAX, &keys, &err);
	if (st == NULL) {
		problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	json_t *list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int c = 0; c < LOGINSEC_LOGIN_COLUMNS; c++) {
			if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
				json_object_set_new(o, keys[c], json_integer(
				    sqlite3_column_int64(st, c)));
			else
				json_object_set_new(o, keys[c], json_string(
				    (const char *)sqlite3_column_text(st, c) ?
				    (const char *)sqlite3_column_text(st, c) :
				    ""));
		}
		json_array_append_new(list, o);
	}
	sqlite3_finalize(st);
	answer(resp, 200, json_pack("{s:o}", "logins", list));
}

static void
logins_route(struct httpd_req *rq, struct http_response *resp)
{
	struct lg_job *j = xcalloc(1, sizeof(*j));
	const char *cookie = http_request_field(rq->req, "cookie");

	(void)resp;
	j->job.run = job_run;
	j->job.free = job_free;
	j->cookie = cookie != NULL ? http_cookie_value(cookie, COOKIE_NAME) :
	    NULL;
	httpd_defer(rq, &j->job);
}

const struct httpd_route login_routes[] = {
	{ "/api/logins", false, "GET", logins_route },
	{ "/jmap/mail/logins", false, "GET", logins_route },
	{ NULL, false, NULL, NULL },
};
