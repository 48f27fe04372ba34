/* passkey-http - passkeys (WebAuthn) over HTTP for the web admin and the
 * webmail (lib-admin/passkey.h), the same routes under /api/passkey/ and
 * /jmap/mail/passkey/:
 *
 *   POST .../options     {"purpose": "login"}: request options for a
 *                        passwordless login (no session needed), or
 *                        {"purpose": "register"} with the session
 *                        cookie: creation options for a new passkey
 *   POST .../register    {"name", "credential"} with the cookie
 *   GET  .../list        the session's mailbox's passkeys
 *   POST .../rename      {"id", "name"} with the cookie
 *   POST .../remove      {"id"} with the cookie
 *
 * The login itself (passwordless, or a passkey as the second factor) is
 * POST /api/login or /jmap/mail/login with "passkey" (weblogin.h).
 * Every POST needs the header X-Postern-CSRF, as every cookie POST does;
 * the work runs on the work pool (httpd_defer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "httpd.h"
#include "login-http.h"
#include "passkey.h"
#include "settings.h"
#include "throttle.h"
#include "webauth.h"
#include "xalloc.h"

#define COOKIE_NAME "postern_session"
#define CSRF_HEADER "x-postern-csrf"

enum pk_kind { PK_OPTIONS, PK_REGISTER, PK_LIST, PK_RENAME, PK_REMOVE };

struct pk_job {
	struct httpd_job job;          /* first */
	enum pk_kind kind;
	char *cookie;                  /* the session id, or NULL */
	char *host;
	bool tls;
	char client[64];
	json_t *in;                    /* the request's JSON body */
};

static int
adm_status_http(int r)
{
	return r == ADM_NOTFOUND ? 404 : r == ADM_EXISTS ? 409 :
	    r == ADM_FAIL ? 503 : 400;
}

static void
job_free(struct httpd_job *hj)
{
	struct pk_job *j = (struct pk_job *)hj;

	http_response_free(&j->job.resp);
	free(j->cookie);
	free(j->host);
	json_decref(j->in);
	free(j);
}

static void
job_done(struct httpd_job *hj)
{
	(void)hj;
}

/* session_mailbox - the mailbox of the job's cookie: 1, or 0 with the
 * answer made */
static int
session_mailbox(struct pk_job *j, struct db *db, struct dir_mailbox *mb)
{
	if (!lh_session_mailbox(db, j->cookie, mb, &j->job.resp, "Log in "
	    "first: passkeys are managed from a web session."))
		return 0;
	snprintf(j->job.note, sizeof(j->job.note), "%s@%s", mb->name,
	    mb->postoffice);
	return 1;
}

static void
job_run(struct httpd_job *hj, struct db *db)
{
	struct pk_job *j = (struct pk_job *)hj;
	struct http_response *resp = &j->job.resp;
	struct passkey_site site;
	struct dir_mailbox mb;
	const char *err = NULL;
	int r;

	if (db == NULL) {
		lh_problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	const char *purpose = json_string_value(json_object_get(j->in,
	    "purpose"));
	if (j->kind == PK_OPTIONS && purpose != NULL &&
	    strcmp(purpose, "login") == 0) {
		if (settings_current(db)->auth_passkey_login == 0) {
			lh_problem(resp, 403, "forbidden", "Passwordless login with "
			    "a passkey is off here (auth.passkey_login).");
			return;
		}
		json_t *o = passkey_site_make(db, j->host, j->tls, &site,
		    &err) < 0 ? NULL : passkey_login_options(db, 0, &site, &err);
		if (o == NULL)
			lh_problem(resp, err != NULL && strncmp(err, "passkeys need",
			    13) == 0 ? 400 : 503, "passkeyFailed", err);
		else
			lh_answer(resp, 200, json_pack("{s:o}", "publicKey", o));
		return;
	}
	if (!session_mailbox(j, db, &mb))
		return;
	switch (j->kind) {
	case PK_OPTIONS:
	case PK_REGISTER: {
		if (j->kind == PK_OPTIONS && (purpose == NULL ||
		    strcmp(purpose, "register") != 0)) {
			lh_problem(resp, 400, "badRequest", "\"purpose\" is "
			    "\"login\" or \"register\".");
			return;
		}
		if (passkey_site_make(db, j->host, j->tls, &site, &err) < 0) {
			lh_problem(resp, 400, "passkeyFailed", err);
			return;
		}
		if (j->kind == PK_OPTIONS) {
			json_t *o = passkey_register_options(db, &mb, &site, &err);
			if (o == NULL)
				lh_problem(resp, 400, "passkeyFailed", err);
			else
				lh_answer(resp, 200, json_pack("{s:o}", "publicKey", o));
			return;
		}
		const char *name = json_string_value(json_object_get(j->in,
		    "name"));
		json_t *cred = json_object_get(j->in, "credential");
		if (!json_is_object(cred)) {
			lh_problem(resp, 400, "badRequest", "Send {\"name\": \"...\", "
			    "\"credential\": {...}}.");
			return;
		}
		r = passkey_register(db, &mb, name, cred, &site, &err);
		if (r != ADM_OK) {
			lh_problem(resp, adm_status_http(r), r == ADM_FAIL ?
			    "unavailable" : "passkeyFailed", err);
			return;
		}
		json_t *l = passkey_list(db, mb.id, &err);
		lh_answer(resp, 200, json_pack("{s:b,s:o*}", "registered", 1,
		    "passkeys", l));
		return;
	}
	case PK_LIST: {
		json_t *l = passkey_list(db, mb.id, &err);
		if (l == NULL)
			lh_problem(resp, 503, "unavailable", "The config store is "
			    "unavailable; try again.");
		else
			lh_answer(resp, 200, json_pack("{s:o}", "passkeys", l));
		return;
	}
	case PK_RENAME:
	case PK_REMOVE: {
		json_t *id = json_object_get(j->in, "id");
		if (!json_is_integer(id)) {
			lh_problem(resp, 400, "badRequest", "Send the passkey's "
			    "\"id\" (a number from the list).");
			return;
		}
		r = j->kind == PK_RENAME ? passkey_rename(db, mb.id,
		    json_integer_value(id), json_string_value(json_object_get(
		    j->in, "name")), &err) : passkey_remove(db, mb.id,
		    json_integer_value(id), &err);
		if (r != ADM_OK) {
			lh_problem(resp, adm_status_http(r), r == ADM_FAIL ?
			    "unavailable" : "passkeyFailed", err);
			return;
		}
		json_t *l = passkey_list(db, mb.id, &err);
		lh_answer(resp, 200, json_pack("{s:o*}", "passkeys", l));
		return;
	}
	}
}

static void
passkey_route(struct httpd_req *rq, struct http_response *resp)
{
	const char *path = rq->req->path;
	const char *tail = strstr(path, "/passkey/") + strlen("/passkey/");
	static const struct { const char *name; enum pk_kind kind; bool post; }
	    verbs[] = {
		{ "options", PK_OPTIONS, true }, { "register", PK_REGISTER, true },
		{ "list", PK_LIST, false }, { "rename", PK_RENAME, true },
		{ "remove", PK_REMOVE, true },
	};
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(tail, verbs[i].name) == 0)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0])) {
		lh_problem(resp, 404, "notFound", "No such passkey request.");
		return;
	}
	bool post = strcmp(rq->req->method, "POST") == 0;
	if (post != verbs[i].post) {
		lh_problem(resp, 405, "badRequest", verbs[i].post ? "Use POST." :
		    "Use GET.");
		return;
	}
	if (post && http_request_field(rq->req, CSRF_HEADER) == NULL) {
		lh_problem(resp, 403, "csrf", "State changes need the header "
		    "X-Postern-CSRF (cross-site request refused).");
		return;
	}
	if (throttle_blocked(rq->svc, rq->sa)) {
		lh_problem(resp, 429, "throttled", "Too many failed logins from your "
		    "address; try again later.");
		return;
	}
	json_t *in = json_object();
	if (post) {
		json_decref(in);
		in = json_loadb(rq->req->body.data != NULL ? rq->req->body.data :
		    "", rq->req->body.len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(in)) {
			json_decref(in);
			lh_problem(resp, 400, "badRequest", "Send a JSON object.");
			return;
		}
	}
	struct pk_job *j = xcalloc(1, sizeof(*j));
	const char *cookie = http_request_field(rq->req, "cookie");
	j->job.run = job_run;
	j->job.done = job_done;
	j->job.free = job_free;
	j->kind = verbs[i].kind;
	j->cookie = cookie != NULL ? http_cookie_value(cookie, COOKIE_NAME) :
	    NULL;
	j->host = xstrdup(rq->req->host != NULL ? rq->req->host : "");
	j->tls = rq->tls;
	snprintf(j->client, sizeof(j->client), "%s", rq->client);
	j->in = in;
	httpd_defer(rq, &j->job);
}

const struct httpd_route passkey_routes[] = {
	{ "/api/passkey/", true, "GET, POST", passkey_route },
	{ "/jmap/mail/passkey/", true, "GET, POST", passkey_route },
	{ NULL, false, NULL, NULL },
};
