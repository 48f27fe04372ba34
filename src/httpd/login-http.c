/* login-http - what a logged-in user sees of their own login security,
 * for the web admin and the webmail (the same routes under /api/ and
 * /jmap/mail/; issue 17 item 7):
 *
 *   GET .../logins     the session's mailbox's recent logins, newest
 *                      first (lib-config/loginsec.h loginsec_logins):
 *                      {"logins": [{"last", "protocol", "address",
 *                      "country", "first", "count"}]}
 *
 *   GET /jmap/mail/oidc/start?postoffice=PO
 *                      OpenID Connect login to the webmail (oidc.h): 302
 *                      to the post office's provider, with the state in
 *                      the cookie postern_oidc (SameSite=Lax: it comes
 *                      back on the provider's redirect)
 *   GET /jmap/mail/oidc/offer?login=NAME
 *                      whether the login page offers this login for the
 *                      name typed (oidc_offered: by the domain or post
 *                      office after its '@', never by the mailbox):
 *                      {"postoffice": PO, "provider": issuer's host}, or
 *                      {} when not
 *   GET /jmap/mail/oidc/callback?code=&state=
 *                      the provider's answer: the code is exchanged and
 *                      the ID token checked; the country policies apply;
 *                      on success a web session (postern_session) and
 *                      303 to the webmail (/), else a page saying why
 *
 * The cookie postern_session of a web login (either endpoint) names the
 * mailbox; the work runs on the work pool (httpd_defer). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "admin.h"
#include "directory.h"
#include "http-form.h"
#include "httpd.h"
#include "log.h"
#include "login-http.h"
#include "loginsec.h"
#include "oidc.h"
#include "settings.h"
#include "throttle.h"
#include "webauth.h"
#include "xalloc.h"

#define COOKIE_NAME "postern_session"
#define OIDC_COOKIE "postern_oidc"
#define OIDC_PATH "/jmap/mail/oidc/"
#define LOGINS_MAX 100

struct lg_job {
	struct httpd_job job;          /* first */
	char *cookie;                  /* the session id, or NULL */
};

void
lh_answer(struct http_response *r, int status, json_t *v)
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

void
lh_problem(struct http_response *r, int status, const char *type,
	   const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), "urn:postern:error:%s", type);
	lh_answer(r, status, json_pack("{s:s,s:i,s:s}", "type", t, "status", status,
	    "detail", detail));
}

int
lh_session_mailbox(struct db *db, const char *cookie, struct dir_mailbox *mb,
		   struct http_response *r, const char *detail)
{
	int64_t mid = 0, sid = 0;
	const char *err;
	int n = cookie != NULL ? webauth_session_lookup(db, cookie, time(NULL),
	    &mid, &sid, &err) : 0;

	if (n > 0)
		n = dir_mailbox_get(db, mid, mb, &err);
	if (n < 0) {
		lh_problem(r, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return 0;
	}
	if (n == 0 || mb->disabled || mb->postoffice_disabled ||
	    mb->prevent_auth) {
		lh_problem(r, 401, "unauthorized", detail);
		return 0;
	}
	return 1;
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
	const char *err = NULL;

	if (db == NULL) {
		lh_problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	if (!lh_session_mailbox(db, j->cookie, &mb, resp, "Log in first."))
		return;
	snprintf(j->job.note, sizeof(j->job.note), "%s@%s", mb.name,
	    mb.postoffice);
	const char *const *keys;
	struct db_stmt *st = loginsec_logins(db, mb.id, LOGINS_MAX, &keys, &err);
	if (st == NULL) {
		lh_problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	json_t *list = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		json_t *o = json_object();
		for (int c = 0; c < LOGINSEC_LOGIN_COLUMNS; c++) {
			if (db_col_isint(st, c))
				json_object_set_new(o, keys[c], json_integer(
				    db_col_int(st, c)));
			else
				json_object_set_new(o, keys[c], json_string(
				    db_col_text(st, c) ?
				    db_col_text(st, c) :
				    ""));
		}
		json_array_append_new(list, o);
	}
	db_stmt_free(&st);
	lh_answer(resp, 200, json_pack("{s:o}", "logins", list));
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

/* ------------------------------------------------ OpenID Connect login */

struct oidc_job {
	struct httpd_job job;          /* first */
	bool callback, offer;
	char *postoffice;              /* start */
	char *login;                   /* offer */
	char *code, *state, *error;    /* callback */
	char *cookie;                  /* postern_oidc */
	char *host;
	bool tls;
	char client[64];
	struct sockaddr_storage sa;
	int counted;                   /* 1 a good login, -1 a failed one */
	char *user_agent;
};

static void
oidc_job_free(struct httpd_job *hj)
{
	struct oidc_job *j = (struct oidc_job *)hj;

	http_response_free(&j->job.resp);
	free(j->postoffice);
	free(j->login);
	free(j->code);
	free(j->state);
	free(j->error);
	free(j->cookie);
	free(j->host);
	free(j->user_agent);
	free(j);
}

/* oidc_page - an HTML page with one line of text (escaped) */
static void
oidc_page(struct http_response *r, int status, const char *text)
{
	struct buf h;

	buf_init(&h, 0);
	buf_puts(&h, "<h1>Login</h1><p>");
	http_escape(&h, text);
	buf_puts(&h, "</p><p><a href=\"/\">Back to the login page</a></p>");
	httpd_page(r, status, "Login", h.data);
	buf_free(&h);
}

/* redirect_uri - the callback URL: http.public_url when set, else the
 * scheme and Host the browser used (new string; NULL: no usable Host) */
static char *
redirect_uri(struct oidc_job *j, struct db *db)
{
	char *base = xstrdup(settings_current(db)->http_public_url);
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	char *u = NULL;
	if (n > 0)
		u = xasprintf("%s" OIDC_PATH "callback", base);
	else if (j->host[0] != '\0' && strlen(j->host) <= 255 &&
	    strspn(j->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") == strlen(j->host))
		u = xasprintf("%s://%s" OIDC_PATH "callback", j->tls ? "https" :
		    "http", j->host);
	free(base);
	return u;
}

static void
oidc_start_run(struct oidc_job *j, struct db *db)
{
	struct http_response *resp = &j->job.resp;
	const char *why = NULL, *err = NULL;
	char *loc = NULL, *state = NULL;
	char *ru = redirect_uri(j, db);

	if (ru == NULL) {
		oidc_page(resp, 400, "The request has no usable Host.");
		return;
	}
	int r = oidc_start(db, j->postoffice, ru, &loc, &state, &why, &err);
	free(ru);
	snprintf(j->job.note, sizeof(j->job.note), "oidc start %s: %s",
	    j->postoffice, r > 0 ? "redirected" : r == 0 ? why : err);
	if (r < 0) {
		oidc_page(resp, 503, "The login cannot start just now; try "
		    "again.");
		return;
	}
	if (r == 0) {
		oidc_page(resp, 403, why);
		return;
	}
	resp->status = 302;
	buf_reset(&resp->body);
	http_response_field(resp, "Location", "%s", loc);
	http_response_field(resp, "Cache-Control", "no-store");
	http_response_field(resp, "Referrer-Policy", "no-referrer");
	http_response_field(resp, "Set-Cookie", OIDC_COOKIE "=%s; Path="
	    OIDC_PATH "; Max-Age=%d; HttpOnly; SameSite=Lax%s", state,
	    OIDC_STATE_LIFETIME, j->tls ? "; Secure" : "");
	free(loc);
	free(state);
}

static void
oidc_callback_run(struct oidc_job *j, struct db *db)
{
	struct http_response *resp = &j->job.resp;
	struct dir_mailbox mb;
	const char *err = NULL;
	char why[300] = "", cc[3] = "", mode[16];
	bool mfa = false;
	struct dir_client client = { "web", j->client };

	if (j->error != NULL) {
		/* the provider's error code, printable only, for the log */
		for (char *c = j->error; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		snprintf(j->job.note, sizeof(j->job.note), "oidc: the provider "
		    "answered %.60s", j->error);
		oidc_page(resp, 403, "The identity provider did not log you "
		    "in.");
		return;
	}
	char *ru = redirect_uri(j, db);
	int r = ru == NULL ? 0 : oidc_finish(db, j->code, j->state, j->cookie,
	    ru, &mb, &mfa, why, sizeof(why), &err);
	free(ru);
	/* a mailbox with two-factor login on: only a multi-factor login at
	 * the provider will do (amr "mfa"), never its password alone */
	if (r > 0 && !mfa) {
		if (loginsec_twofactor_mode(db, mb.id, mode, &err) < 0)
			r = -1;
		else if (strcmp(mode, "never") != 0) {
			snprintf(why, sizeof(why), "this mailbox has two-factor "
			    "login on: the provider did not report a multi-factor "
			    "login (amr \"mfa\"); log in with your password and "
			    "second factor instead");
			r = 0;
		}
	}
	if (r > 0 && (mb.disabled || mb.postoffice_disabled ||
	    mb.prevent_auth)) {
		snprintf(why, sizeof(why), "this mailbox may not log in "
		    "(disabled)");
		r = 0;
	}
	if (r > 0) {
		char wb[200];
		r = loginsec_country_check(db, &mb, &client, cc, wb, sizeof(wb),
		    &err);
		if (r == 0) {
			snprintf(why, sizeof(why), "%s", wb);
			char who[NAME_MAX_LEN * 2 + 2];
			snprintf(who, sizeof(who), "%s@%s", mb.name, mb.postoffice);
			loginsec_record_failure(db, who, mb.id, &client, cc, wb);
		}
	}
	if (r < 0) {
		snprintf(j->job.note, sizeof(j->job.note), "oidc: %s", err);
		oidc_page(resp, 503, "The login cannot be checked just now; "
		    "try again.");
		return;
	}
	if (r == 0) {
		snprintf(j->job.note, sizeof(j->job.note), "oidc refused: %s",
		    why);
		log_info("oidc login from %s refused: %s", j->client, why);
		j->counted = -1;
		oidc_page(resp, 403, why[0] ? why : "refused");
		return;
	}
	char sid[WEBAUTH_SESSION_LEN + 1];
	int64_t session_id;
	if (webauth_session_create(db, mb.id, j->client, j->user_agent, sid,
	    &session_id, &err) != ADM_OK) {
		oidc_page(resp, 503, "The session could not be stored; try "
		    "again.");
		return;
	}
	loginsec_record_ok(db, mb.id, &client, cc);
	j->counted = 1;
	snprintf(j->job.note, sizeof(j->job.note), "oidc login %s@%s",
	    mb.name, mb.postoffice);
	resp->status = 303;
	buf_reset(&resp->body);
	http_response_field(resp, "Location", "/");
	http_response_field(resp, "Cache-Control", "no-store");
	http_response_field(resp, "Set-Cookie", COOKIE_NAME "=%s; Path=/; "
	    "HttpOnly; SameSite=Strict%s", sid, j->tls ? "; Secure" : "");
	http_response_field(resp, "Set-Cookie", OIDC_COOKIE "=; Path="
	    OIDC_PATH "; Max-Age=0; HttpOnly; SameSite=Lax%s", j->tls ?
	    "; Secure" : "");
	explicit_bzero(sid, sizeof(sid));
}

/* oidc_offer_run - what the login page offers for a login name */
static void
oidc_offer_run(struct oidc_job *j, struct db *db)
{
	char po[NAME_MAX_LEN + 1], provider[256];
	const char *err = NULL;
	int r = oidc_offered(db, j->login, po, sizeof(po), provider,
	    sizeof(provider), &err);

	if (r < 0) {
		snprintf(j->job.note, sizeof(j->job.note), "oidc offer: %s", err);
		lh_problem(&j->job.resp, 503, "unavailable", "The config "
		    "store is unavailable; try again.");
		return;
	}
	json_t *v = r > 0 ? json_pack("{s:s, s:s}", "postoffice", po,
	    "provider", provider) : json_object();
	lh_answer(&j->job.resp, 200, v);
}

static void
oidc_job_run(struct httpd_job *hj, struct db *db)
{
	struct oidc_job *j = (struct oidc_job *)hj;

	if (db == NULL) {
		oidc_page(&j->job.resp, 503, "The config store is unavailable; "
		    "try again.");
		return;
	}
	if (j->callback)
		oidc_callback_run(j, db);
	else if (j->offer)
		oidc_offer_run(j, db);
	else
		oidc_start_run(j, db);
}

/* oidc_job_done - a refused callback counts as a failed login of the
 * address (auth.max_failures), a good one clears its failures */
static void
oidc_job_done(struct httpd_job *hj)
{
	struct oidc_job *j = (struct oidc_job *)hj;

	if (j->counted < 0)
		throttle_failed(j->job.svc, (struct sockaddr *)&j->sa);
	else if (j->counted > 0)
		throttle_ok(j->job.svc, (struct sockaddr *)&j->sa);
}

static void
oidc_route(struct httpd_req *rq, struct http_response *resp)
{
	struct http_form f = { NULL, 0 };
	const char *err, *tail = rq->req->path + strlen(OIDC_PATH);
	bool callback = strcmp(tail, "callback") == 0;
	bool offer = strcmp(tail, "offer") == 0;

	if (!callback && !offer && strcmp(tail, "start") != 0) {
		httpd_error(resp, 404, "No such login page.");
		return;
	}
	if (callback && throttle_blocked(rq->svc, rq->sa)) {
		httpd_error(resp, 429, "Too many failed logins from your "
		    "address; try again later.");
		return;
	}
	const char *q = rq->req->query != NULL ? rq->req->query : "";
	if (strlen(q) > 8192 || http_form_parse(q, strlen(q), &f, &err) < 0) {
		httpd_error(resp, 400, "The query is malformed.");
		return;
	}
	const char *po = http_form_get(&f, "postoffice");
	const char *login = http_form_get(&f, "login");
	if (offer && (login == NULL || strlen(login) > 320)) {
		http_form_free(&f);
		httpd_error(resp, 400, "Name the login: ?login=NAME@DOMAIN.");
		return;
	}
	if (!callback && !offer && (po == NULL || *po == '\0' || strlen(po) >
	    NAME_MAX_LEN)) {
		http_form_free(&f);
		httpd_error(resp, 400, "Name the post office: "
		    "?postoffice=NAME.");
		return;
	}
	struct oidc_job *j = xcalloc(1, sizeof(*j));
	const char *cookie = http_request_field(rq->req, "cookie");
	const char *ua = http_request_field(rq->req, "user-agent");
	const char *code = http_form_get(&f, "code");
	const char *state = http_form_get(&f, "state");
	const char *error = http_form_get(&f, "error");
	j->job.run = oidc_job_run;
	j->job.done = oidc_job_done;
	j->job.free = oidc_job_free;
	memcpy(&j->sa, rq->sa, rq->sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	j->callback = callback;
	j->offer = offer;
	j->login = login != NULL ? xstrdup(login) : NULL;
	j->postoffice = po != NULL ? xstrdup(po) : NULL;
	j->code = code != NULL ? xstrdup(code) : NULL;
	j->state = state != NULL ? xstrdup(state) : NULL;
	j->error = error != NULL ? xstrdup(error) : NULL;
	j->cookie = cookie != NULL ? http_cookie_value(cookie, OIDC_COOKIE) :
	    NULL;
	j->host = xstrdup(rq->req->host != NULL ? rq->req->host : "");
	j->tls = rq->tls;
	snprintf(j->client, sizeof(j->client), "%s", rq->client);
	j->user_agent = xstrndup(ua != NULL ? ua : "", 200);
	http_form_free(&f);
	httpd_defer(rq, &j->job);
}

const struct httpd_route login_routes[] = {
	{ "/api/logins", false, "GET", logins_route },
	{ "/jmap/mail/logins", false, "GET", logins_route },
	{ OIDC_PATH, true, "GET", oidc_route },
	{ NULL, false, NULL, NULL },
};
