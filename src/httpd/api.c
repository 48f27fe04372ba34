/* api - the HTTP side of the web administration API (api.h):
 *
 *   GET  /.well-known/jmap   302 to /jmap/session (RFC 8620 2.2)
 *   GET  /jmap/session       the JMAP Session resource
 *   POST /jmap/api           a JMAP request (jmap.h, api-admin.c)
 *   POST /api/login          {"login", "password"}: a session cookie
 *   POST /api/logout         ends the cookie's session
 *
 * Credentials: the cookie postern_session (HttpOnly, SameSite=Strict,
 * Path=/, Secure on https) or "Authorization: Bearer pt_..." (an API
 * token, lib-admin/webauth.h). CSRF: a request carrying the cookie that
 * changes anything (every POST, login included) must carry the header
 * X-Postern-CSRF (a cross-site form or a simple fetch cannot set it, and
 * we answer no CORS preflight) and, when it has an Origin, one of this
 * server (its Host, or http.public_url). Logins are checked with
 * dir_authenticate on the work pool (a hash costs tens of ms) and
 * throttled per address by throttle.c like every login service.
 *
 * Everything that reads or writes the config store runs on the work
 * pool (httpd_defer) with the thread's own connection. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "audit.h"
#include "directory.h"
#include "httpd.h"
#include "log.h"
#include "notice.h"
#include "settings.h"
#include "throttle.h"
#include "twofactor.h"
#include "webauth.h"
#include "weblogin.h"
#include "xalloc.h"

#define COOKIE_NAME "postern_session"
#define CSRF_HEADER "x-postern-csrf"
#define LOGIN_MAX 400
#define PASSWORD_MAX 1024

enum api_kind { API_LOGIN, API_LOGOUT, API_SESSION, API_REQUEST };

struct api_job {
	struct httpd_job job;          /* first */
	enum api_kind kind;
	struct sockaddr_storage sa;
	char client[64];
	bool tls;
	char *host;                    /* the request's Host */
	char *body;
	size_t len;
	char *cookie;                  /* the session id, or NULL */
	char *bearer;                  /* the token, or NULL */
	char *user_agent;
	char *login, *password;        /* API_LOGIN */
	char *code;                    /* API_LOGIN: TOTP or recovery code */
	json_t *passkey;               /* API_LOGIN: a passkey assertion */
	char *device;                  /* API_LOGIN: the device cookie */
	bool remember;                 /* API_LOGIN: remember the device */
	enum dir_auth_result auth;     /* API_LOGIN's answer */
	bool auth_ran;
	json_t *audit;                 /* lines for the log */
	char actor[160];
};

static const char *const capabilities[] = { JMAP_CORE, API_CAPABILITY, NULL };

sqlite3 *
api_audit_db(struct api_ctx *c)
{
	const char *err;

	if (c->audit_db == NULL && audit_open(db_root(c->db), &c->audit_db,
	    &err) < 0)
		return NULL;
	return c->audit_db;
}

int
api_audit(struct api_ctx *c, const char *type, const char *object,
	  const char *op, const char *postoffice, const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	const char *err;
	int64_t id;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	json_array_append_new(c->audit, json_sprintf("%s/set %s %s%s%s%s", type,
	    op, object, *b ? " (" : "", b, *b ? ")" : ""));
	struct audit_entry e = { .at = time(NULL), .actor = c->actor->login,
	    .client = c->client, .type = type, .object = object,
	    .postoffice = postoffice, .op = op, .text = b };
	sqlite3 *h = api_audit_db(c);
	if (h == NULL || audit_add(h, &e, &id, &err) < 0) {
		json_array_append_new(c->audit, json_sprintf("the audit store "
		    "failed: %s", h == NULL ? "cannot open" : err));
		return -1;
	}
	return 0;
}

/* json_answer - v (stolen) as the JSON body of r */
static void
json_answer(struct http_response *r, int status, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, s);
	free(s);
	json_decref(v);
	http_response_field(r, "Content-Type", status >= 400 &&
	    status != 401 ? "application/problem+json" : "application/json");
	http_response_field(r, "Cache-Control", "no-store");
	http_response_field(r, "X-Frame-Options", "DENY");
	http_response_field(r, "Referrer-Policy", "no-referrer");
}

/* problem - an error answer: problem details with a type of ours */
static void
problem(struct http_response *r, int status, const char *type,
	const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), "urn:postern:error:%s", type);
	json_answer(r, status, json_pack("{s:s,s:i,s:s}", "type", t, "status",
	    status, "detail", detail));
	if (status == 401)
		http_response_field(r, "WWW-Authenticate", "Bearer realm=\"postern\"");
}

/* origin_ok - an Origin, when sent, is this server's: scheme://Host, or
 * the origin of http.public_url */
static bool
origin_ok(struct httpd_req *rq)
{
	const char *origin = http_request_field(rq->req, "origin");
	const char *host = rq->req->host;
	char self[600];

	if (origin == NULL)
		return true;   /* not a browser, or a same-origin GET */
	snprintf(self, sizeof(self), "%s://%s", rq->tls ? "https" : "http",
	    host != NULL ? host : "");
	if (strcasecmp(origin, self) == 0)
		return true;
	const char *pub = settings_current(rq->svc->db)->http_public_url;
	size_t n = strlen(pub);
	while (n > 0 && pub[n - 1] == '/')
		n--;
	const char *path = strstr(pub, "://");
	if (path != NULL && (path = strchr(path + 3, '/')) != NULL &&
	    (size_t)(path - pub) < n)
		n = (size_t)(path - pub);
	bool ok = n > 0 && strlen(origin) == n && strncasecmp(origin, pub, n) == 0;
	return ok;
}

/* csrf_ok - the checks of a state change made with the cookie */
static bool
csrf_ok(struct httpd_req *rq, struct http_response *resp)
{
	if (http_request_field(rq->req, CSRF_HEADER) == NULL) {
		problem(resp, 403, "csrf", "State changes need the header "
		    "X-Postern-CSRF (cross-site request refused).");
		rq->note = "csrf: no X-Postern-CSRF";
		return false;
	}
	if (!origin_ok(rq)) {
		problem(resp, 403, "csrf", "The request comes from another site "
		    "(Origin does not match this server).");
		rq->note = "csrf: foreign Origin";
		return false;
	}
	return true;
}

static void
job_free(struct httpd_job *hj)
{
	struct api_job *j = (struct api_job *)hj;

	http_response_free(&j->job.resp);
	free(j->host);
	free(j->body);
	free(j->cookie);
	free(j->bearer);
	free(j->user_agent);
	free(j->login);
	free(j->code);
	json_decref(j->passkey);
	free(j->device);
	if (j->password != NULL) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	json_decref(j->audit);
	free(j);
}

/* job_done - on the loop: throttle accounting and the audit lines */
static void
job_done(struct httpd_job *hj)
{
	struct api_job *j = (struct api_job *)hj;
	size_t i;
	json_t *v;

	if (j->kind == API_LOGIN && j->auth_ran) {
		if (j->auth == DIR_AUTH_FAILED)
			throttle_failed(j->job.svc, (struct sockaddr *)&j->sa);
		else if (j->auth != DIR_AUTH_ERROR)
			throttle_ok(j->job.svc, (struct sockaddr *)&j->sa);
	}
	json_array_foreach(j->audit, i, v)
		log_info("audit %s %s: %s", j->client, j->actor,
		    json_string_value(v));
}

/* actor_load - the actor of mailbox mid with scope scope_po (0: the
 * role's own): 1 ok, 0 refused (*why_r), -1 error */
static int
actor_load(struct db *db, int64_t mid, int64_t scope_po, struct api_actor *a,
	   const char **why_r)
{
	struct dir_mailbox mb;
	const char *err;
	int64_t enabled = 0;

	memset(a, 0, sizeof(*a));
	int r = dir_mailbox_get(db, mid, &mb, &err);
	if (r <= 0) {
		*why_r = "Your mailbox no longer exists.";
		return r;
	}
	if (mb.disabled || mb.postoffice_disabled || mb.prevent_auth) {
		*why_r = "Your mailbox or post office is disabled.";
		return 0;
	}
	a->mailbox_id = mid;
	a->postoffice_id = mb.postoffice_id;
	snprintf(a->login, sizeof(a->login), "%s@%s", mb.name, mb.postoffice);
	snprintf(a->postoffice, sizeof(a->postoffice), "%s", mb.postoffice);
	if (strcmp(mb.type, "SYSADMIN") == 0) {
		a->sysadmin = true;
		a->scope_po = scope_po;
	} else if (strcmp(mb.type, "ADMIN") == 0) {
		if (db_query_int(db, &enabled, 0, &err, "SELECT webadmin_enabled "
		    "FROM postoffice WHERE id = ?", "i", mb.postoffice_id) < 0)
			return -1;
		if (!enabled) {
			*why_r = "Web administration is disabled for your post "
			    "office (webadmin_enabled).";
			return 0;
		}
		a->scope_po = mb.postoffice_id;
		if (scope_po != 0 && scope_po != mb.postoffice_id) {
			*why_r = "This token is scoped to another post office.";
			return 0;
		}
	} else {
		*why_r = "USER mailboxes use webmail, not the web administration.";
		return 0;
	}
	if (a->scope_po != 0) {
		char *n = NULL;
		if (db_query_text(db, &n, &err, "SELECT name FROM postoffice WHERE "
		    "id = ?", "i", a->scope_po) < 0 || n == NULL) {
			free(n);
			*why_r = "The token's post office no longer exists.";
			return 0;
		}
		snprintf(a->scope_name, sizeof(a->scope_name), "%s", n);
		free(n);
	}
	return 1;
}

/* authenticate - the actor of the job's cookie or token: true, or false
 * with the answer (401) made */
static bool
authenticate(struct api_job *j, struct db *db, struct api_actor *a)
{
	const char *err, *why = "Log in first (POST /api/login), or send "
	    "Authorization: Bearer with an API token.";
	int64_t mid = 0, po = 0, id = 0;
	int r = 0;

	if (j->bearer != NULL) {
		r = webauth_token_lookup(db, j->bearer, time(NULL), &mid, &po, &id,
		    &err);
		if (r == 0)
			why = "The API token is unknown, revoked or expired.";
	} else if (j->cookie != NULL) {
		r = webauth_session_lookup(db, j->cookie, time(NULL), &mid, &id,
		    &err);
		if (r == 0)
			why = "Your session has expired or was ended: log in again.";
	}
	if (r > 0)
		r = actor_load(db, mid, po, a, &why);
	if (r < 0) {
		problem(&j->job.resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return false;
	}
	if (r == 0) {
		problem(&j->job.resp, 401, "unauthorized", why);
		snprintf(j->job.note, sizeof(j->job.note), "unauthorized");
		return false;
	}
	if (j->bearer != NULL)
		a->token_id = id;
	else
		a->session_id = id;
	snprintf(j->actor, sizeof(j->actor), "%s%s", a->login, a->token_id ?
	    " (token)" : "");
	snprintf(j->job.note, sizeof(j->job.note), "%s", j->actor);
	return true;
}

/* admin_admit - the web administration's admission (weblogin.h): an
 * ADMIN or SYSADMIN whose post office allows it; ctx is the actor */
static int
admin_admit(struct db *db, const struct dir_mailbox *mb, void *ctx,
	    const char **why_r)
{
	return actor_load(db, mb->id, 0, ctx, why_r);
}

static void
limits_of(struct db *db, struct jmap_limits *lim)
{
	*lim = (struct jmap_limits)JMAP_DEFAULT_LIMITS;
	lim->max_size_request = (size_t)settings_current(db)->http_max_body * 1024;
}

/* session_resource - the JMAP Session object (RFC 8620 2) */
static json_t *
session_resource(struct db *db, const struct api_actor *a)
{
	struct jmap_limits lim;

	limits_of(db, &lim);
	json_t *core = json_pack("{s:i,s:i,s:I,s:i,s:i,s:i,s:i,s:[]}",
	    "maxSizeUpload", 0, "maxConcurrentUpload", 1,
	    "maxSizeRequest", (json_int_t)lim.max_size_request,
	    "maxConcurrentRequests", (int)lim.max_concurrent_requests,
	    "maxCallsInRequest", (int)lim.max_calls_in_request,
	    "maxObjectsInGet", (int)lim.max_objects_in_get,
	    "maxObjectsInSet", (int)lim.max_objects_in_set,
	    "collationAlgorithms");
	json_t *admin = json_pack("{s:i,s:s,s:s,s:s?}", "version", 1,
	    "role", a->sysadmin ? "SYSADMIN" : "ADMIN", "login", a->login,
	    "postOffice", a->scope_po ? a->scope_name : NULL);
	json_t *caps = json_pack("{s:o,s:o}", JMAP_CORE, core, API_CAPABILITY,
	    json_deep_copy(admin));
	json_t *acct = json_pack("{s:s,s:b,s:b,s:{s:o}}", "name",
	    a->scope_po ? a->scope_name : "all post offices", "isPersonal", 0,
	    "isReadOnly", 0, "accountCapabilities", API_CAPABILITY, admin);
	return json_pack("{s:o,s:{s:o},s:{s:s},s:s,s:s,s:s,s:s,s:s,s:s}",
	    "capabilities", caps, "accounts", API_ACCOUNT, acct,
	    "primaryAccounts", API_CAPABILITY, API_ACCOUNT, "username", a->login,
	    "apiUrl", "/jmap/api",
	    "downloadUrl", "/jmap/download/{accountId}/{blobId}/{name}?accept={type}",
	    "uploadUrl", "/jmap/upload/{accountId}/",
	    "eventSourceUrl", "/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}",
	    "state", "1");
}

/* job_run - the worker thread's part of every API request */
static void
job_run(struct httpd_job *hj, struct db *db)
{
	struct api_job *j = (struct api_job *)hj;
	struct http_response *resp = &j->job.resp;
	struct api_actor a;

	if (db == NULL) {
		problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	switch (j->kind) {
	case API_LOGIN: {
		/* the one web login (lib-admin/weblogin.h), admitting the
		 * mailboxes that may use the web administration */
		struct weblogin w = { .login = j->login, .password = j->password,
		    .code = j->code, .passkey = j->passkey, .host = j->host,
		    .tls = j->tls, .client = j->client,
		    .user_agent = j->user_agent, .admit = admin_admit,
		    .admit_ctx = &a, .device = j->device,
		    .remember = j->remember, .mail = notice_send };
		/* a passkey without a password: a passwordless login */
		int r = j->password != NULL ? weblogin_password(db, &w) :
		    weblogin_passkey(db, &w);
		j->auth_ran = w.count != WEBLOGIN_COUNT_NONE;
		j->auth = w.count == WEBLOGIN_COUNT_FAILED ? DIR_AUTH_FAILED :
		    DIR_AUTH_OK;
		snprintf(j->job.note, sizeof(j->job.note), "%s", w.note);
		if (r <= 0) {
			json_answer(resp, w.status, w.answer);
			w.answer = NULL;
			if (w.status == 401)
				http_response_field(resp, "WWW-Authenticate",
				    "Bearer realm=\"postern\"");
			weblogin_clear(&w);
			return;
		}
		snprintf(j->actor, sizeof(j->actor), "%s", a.login);
		json_array_append_new(j->audit, json_sprintf("login, session %lld",
		    (long long)w.session_id));
		json_t *ok = json_pack("{s:s,s:s,s:s?}", "login",
		    a.login, "role", a.sysadmin ? "SYSADMIN" : "ADMIN",
		    "postOffice", a.scope_po ? a.scope_name : NULL);
		if (w.answer != NULL)   /* recovery codes after an enrolment */
			json_object_update(ok, w.answer);
		json_answer(resp, 200, ok);
		http_response_field(resp, "Set-Cookie", COOKIE_NAME "=%s; Path=/; "
		    "HttpOnly; SameSite=Strict%s", w.sid, j->tls ? "; Secure" : "");
		if (w.device_cookie != NULL)
			http_response_field(resp, "Set-Cookie",
			    WEBLOGIN_DEVICE_COOKIE "=%s; Path=/; Max-Age=%d; "
			    "HttpOnly; SameSite=Strict%s", w.device_cookie,
			    w.device_max_age, j->tls ? "; Secure" : "");
		weblogin_clear(&w);
		return;
	}
	case API_LOGOUT:
		if (authenticate(j, db, &a)) {
			const char *err;
			if (a.session_id != 0)
				(void)webauth_session_delete(db, a.session_id,
				    a.mailbox_id, &err);
			json_array_append_new(j->audit, json_string("logout"));
		}
		/* the cookie goes either way */
		json_answer(resp, 200, json_pack("{s:b}", "loggedOut", 1));
		http_response_field(resp, "Set-Cookie", COOKIE_NAME "=; Path=/; "
		    "HttpOnly; SameSite=Strict; Max-Age=0%s", j->tls ?
		    "; Secure" : "");
		return;
	case API_SESSION:
		if (authenticate(j, db, &a))
			json_answer(resp, 200, session_resource(db, &a));
		return;
	case API_REQUEST: {
		if (!authenticate(j, db, &a))
			return;
		struct jmap_limits lim;
		limits_of(db, &lim);
		struct api_ctx ctx = { .db = db, .actor = &a, .lim = &lim,
		    .audit = j->audit, .client = j->client };
		json_t *out;
		int status = jmap_run(j->body, j->len, api_admin_tables,
		    capabilities, &lim, "1", &ctx, &out);
		audit_close(&ctx.audit_db);
		json_answer(resp, status, out);
		return;
	}
	}
}

/* job_new - a job for rq with what its run needs copied */
static struct api_job *
job_new(struct httpd_req *rq, enum api_kind kind)
{
	struct api_job *j = xcalloc(1, sizeof(*j));
	const char *cookie = http_request_field(rq->req, "cookie");
	const char *auth = http_request_field(rq->req, "authorization");
	const char *ua = http_request_field(rq->req, "user-agent");

	j->job.run = job_run;
	j->job.done = job_done;
	j->job.free = job_free;
	j->kind = kind;
	memcpy(&j->sa, rq->sa, rq->sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	snprintf(j->client, sizeof(j->client), "%s", rq->client);
	j->tls = rq->tls;
	j->host = xstrdup(rq->req->host != NULL ? rq->req->host : "");
	j->body = xstrndup(rq->req->body.data != NULL ? rq->req->body.data : "",
	    rq->req->body.len);
	j->len = rq->req->body.len;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		j->bearer = xstrdup(auth + 7);
	else if (cookie != NULL)
		j->cookie = http_cookie_value(cookie, COOKIE_NAME);
	j->user_agent = xstrdup(ua != NULL ? ua : "");
	j->audit = json_array();
	snprintf(j->actor, sizeof(j->actor), "-");
	return j;
}

/* credentials - whether rq carries a cookie or a token at all */
static bool
has_credentials(struct httpd_req *rq, bool *cookie_r)
{
	const char *auth = http_request_field(rq->req, "authorization");
	const char *cookie = http_request_field(rq->req, "cookie");

	*cookie_r = false;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		return true;
	char *v = cookie != NULL ? http_cookie_value(cookie, COOKIE_NAME) :
	    NULL;
	bool has = v != NULL && *v != '\0';
	free(v);
	*cookie_r = has;
	return has;
}

static void
well_known(struct httpd_req *rq, struct http_response *resp)
{
	(void)rq;
	resp->status = 302;
	http_response_field(resp, "Location", "/jmap/session");
	http_response_field(resp, "Cache-Control", "no-store");
}

static void
session_get(struct httpd_req *rq, struct http_response *resp)
{
	bool cookie;

	if (!has_credentials(rq, &cookie)) {
		problem(resp, 401, "unauthorized", "Log in first (POST "
		    "/api/login), or send Authorization: Bearer with an API token.");
		return;
	}
	httpd_defer(rq, &job_new(rq, API_SESSION)->job);
}

static void
api_post(struct httpd_req *rq, struct http_response *resp)
{
	bool cookie;
	const char *ct = http_request_field(rq->req, "content-type");

	if (!has_credentials(rq, &cookie)) {
		problem(resp, 401, "unauthorized", "Log in first (POST "
		    "/api/login), or send Authorization: Bearer with an API token.");
		return;
	}
	if (cookie && !csrf_ok(rq, resp))
		return;
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		json_answer(resp, 400, jmap_problem("notJSON", 400, NULL,
		    "Send the request as Content-Type: application/json."));
		return;
	}
	httpd_defer(rq, &job_new(rq, API_REQUEST)->job);
}

static void
login_post(struct httpd_req *rq, struct http_response *resp)
{
	json_error_t jerr;
	const char *login = NULL, *password = NULL, *code = NULL;
	json_t *passkey = NULL;
	int remember = 0;

	if (!csrf_ok(rq, resp))
		return;
	if (throttle_blocked(rq->svc, rq->sa)) {
		problem(resp, 429, "throttled", "Too many failed logins from your "
		    "address; try again later.");
		http_response_field(resp, "Retry-After", "%d", THROTTLE_WINDOW);
		rq->note = "login throttled";
		return;
	}
	json_t *v = json_loadb(rq->req->body.data != NULL ? rq->req->body.data :
	    "", rq->req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL || json_unpack(v, "{s?s,s?s,s?s,s?o,s?b}", "login",
	    &login, "password", &password, "code", &code, "passkey", &passkey,
	    "remember", &remember) < 0 ||
	    (passkey != NULL && !json_is_object(passkey)) ||
	    (password == NULL && passkey == NULL) ||
	    (password != NULL && (login == NULL || *login == '\0' ||
	    strlen(login) > LOGIN_MAX || strlen(password) > PASSWORD_MAX)) ||
	    (code != NULL && strlen(code) > TWOFACTOR_CODE_MAX)) {
		json_decref(v);
		problem(resp, 400, "badRequest", "Send {\"login\": "
		    "\"name@postoffice\", \"password\": \"...\"} as JSON "
		    "(with \"code\" or \"passkey\" when a second factor is "
		    "asked), or {\"passkey\": {...}} alone.");
		return;
	}
	struct api_job *j = job_new(rq, API_LOGIN);
	j->login = xstrdup(login != NULL ? login : "");
	j->password = password != NULL ? xstrdup(password) : NULL;
	j->code = code != NULL ? xstrdup(code) : NULL;
	j->passkey = json_incref(passkey);
	j->remember = remember != 0;
	const char *cookies = http_request_field(rq->req, "cookie");
	j->device = cookies != NULL ? http_cookie_value(cookies,
	    WEBLOGIN_DEVICE_COOKIE) : NULL;
	/* no copy of the password outlives the check: the job's, the
	 * parser's body (reset only after the answer) */
	explicit_bzero(j->body, j->len);
	if (rq->req->body.data != NULL)
		explicit_bzero(rq->req->body.data, rq->req->body.len);
	json_decref(v);
	httpd_defer(rq, &j->job);
}

static void
logout_post(struct httpd_req *rq, struct http_response *resp)
{
	bool cookie;

	if (!has_credentials(rq, &cookie) || !cookie) {
		json_answer(resp, 200, json_pack("{s:b}", "loggedOut", 1));
		return;
	}
	if (!csrf_ok(rq, resp))
		return;
	httpd_defer(rq, &job_new(rq, API_LOGOUT)->job);
}

const struct httpd_route api_routes[] = {
	{ "/.well-known/jmap", false, "GET, HEAD", well_known },
	{ "/jmap/session", false, "GET, HEAD", session_get },
	{ "/jmap/api", false, "POST", api_post },
	{ "/api/login", false, "POST", login_post },
	{ "/api/logout", false, "POST", logout_post },
	{ NULL, false, NULL, NULL },
};
