/* jmap-http - the HTTP side of JMAP mail (RFC 8620, RFC 8621):
 *
 *   GET  /.well-known/jmap            with Basic credentials: the mail
 *                                     Session; else 302 to /jmap/session
 *                                     (the web admin's, api.c)
 *   GET  /jmap/mail/session           the mail Session resource
 *   POST /jmap/mail/api               a JMAP request (jmap-mail.c)
 *   POST /jmap/mail/upload/{account}/ a blob (RFC 8620 6.1)
 *   GET  /jmap/mail/download/{account}/{blob}/{name}?accept={type}
 *   GET  /jmap/mail/eventsource/?types=&closeafter=&ping=
 *   POST /jmap/mail/login             {"login","password"}: the web
 *                                     session cookie (any mailbox type)
 *   POST /jmap/mail/logout            ends the cookie's session
 *
 * Credentials: "Authorization: Basic" (the mailbox's login and
 * password, checked by dir_authenticate on the work pool and throttled
 * per address like every login service), "Authorization: Bearer pt_..."
 * (an API token, lib-admin/webauth.h: its mailbox is the account) or the
 * cookie postern_session of a web login (webauth sessions; a POST with it
 * must carry X-Postern-CSRF, as for the admin API). The account is the
 * authenticated mailbox: accountId "a<mailbox id>". Everything that
 * touches the config store or the message store runs on the work pool. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "directory.h"
#include "dkim.h"
#include "httpd.h"
#include "jmap-mail.h"
#include "jmap-push.h"
#include "jmap-settings.h"
#include "jmap-store.h"
#include "log.h"
#include "notice.h"
#include "settings.h"
#include "sieve.h"
#include "throttle.h"
#include "twofactor.h"
#include "webauth.h"
#include "weblogin.h"
#include "xalloc.h"

#define COOKIE_NAME "postern_session"
#define CSRF_HEADER "x-postern-csrf"
#define CRED_MAX 2048
#define MAX_CONCURRENT_REQUESTS 4
#define MAX_CONCURRENT_UPLOADS 2
#define ACCT_SLOTS 256

enum mkind { MK_SESSION, MK_API, MK_UPLOAD, MK_DOWNLOAD, MK_EVENTS,
	     MK_LOGIN, MK_LOGOUT };

struct mjob {
	struct httpd_job job;        /* first */
	enum mkind kind;
	struct sockaddr_storage sa;
	char client[64];
	bool tls;
	char *basic_user, *basic_pass;
	char *bearer, *cookie;
	char *user_agent;
	char *body;
	size_t len;
	char *path;                  /* the decoded path */
	char *query;
	char *ctype;                 /* the request's Content-Type */
	bool auth_ran;
	enum dir_auth_result auth;
	bool basic;
	int64_t session_id;          /* the cookie's session row */
	/* MK_EVENTS: what the loop needs to open the stream */
	json_t *states;
	int64_t mailbox_id, quota_kb;
	char account_id[32];
	char *root;
	char *last_event_id;
	int body_fd;                 /* MK_UPLOAD: the body's file, -1 */
	bool web;                    /* X-Postern-CSRF: the webmail's fetch() */
};

/* ------------------------------------------------- concurrency limits */

static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int64_t id; int requests, uploads; } acct_tab[ACCT_SLOTS];

/* acct_enter - count a request (upload: an upload) of mailbox id: false
 * when over maxConcurrentRequests / maxConcurrentUpload */
static bool
acct_enter(int64_t id, bool upload)
{
	bool ok = false;
	int limit = upload ? MAX_CONCURRENT_UPLOADS : MAX_CONCURRENT_REQUESTS;

	pthread_mutex_lock(&acct_lock);
	int free_slot = -1, slot = -1;
	for (int i = 0; i < ACCT_SLOTS; i++) {
		if (acct_tab[i].id == id)
			slot = i;
		else if (acct_tab[i].id == 0 && free_slot < 0)
			free_slot = i;
	}
	if (slot < 0 && free_slot >= 0) {
		slot = free_slot;
		acct_tab[slot].id = id;
	}
	if (slot >= 0) {
		int *n = upload ? &acct_tab[slot].uploads : &acct_tab[slot].requests;
		if (*n < limit) {
			(*n)++;
			ok = true;
		}
	}
	pthread_mutex_unlock(&acct_lock);
	return ok;
}

static void
acct_leave(int64_t id, bool upload)
{
	pthread_mutex_lock(&acct_lock);
	for (int i = 0; i < ACCT_SLOTS; i++) {
		if (acct_tab[i].id != id)
			continue;
		if (upload)
			acct_tab[i].uploads--;
		else
			acct_tab[i].requests--;
		if (acct_tab[i].uploads == 0 && acct_tab[i].requests == 0)
			acct_tab[i].id = 0;
	}
	pthread_mutex_unlock(&acct_lock);
}

/* ------------------------------------------------------------ answers */

static void
json_answer(struct http_response *r, int status, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);

	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, s);
	free(s);
	json_decref(v);
	http_response_field(r, "Content-Type", status >= 400 && status != 401 ?
	    "application/problem+json" : "application/json");
	http_response_field(r, "Cache-Control", "no-store");
	http_response_field(r, "X-Content-Type-Options", "nosniff");
}

static void
problem(struct http_response *r, int status, const char *type,
	const char *detail)
{
	json_answer(r, status, jmap_problem(type, status, NULL, detail));
	if (status == 401)
		http_response_field(r, "WWW-Authenticate", "Basic realm=\"postern "
		    "jmap\", Bearer realm=\"postern\"");
}

/* unauthorized - the 401 of a failed login; the webmail's requests (they
 * carry X-Postern-CSRF) get a challenge a browser does not answer with
 * its own password dialog (it would for Basic, hanging the fetch) */
static void
unauthorized(struct http_response *r, bool web, const char *detail)
{
	if (!web) {
		problem(r, 401, "unauthorized", detail);
		return;
	}
	json_answer(r, 401, jmap_problem("unauthorized", 401, NULL, detail));
	http_response_field(r, "WWW-Authenticate", "PosternSession "
	    "realm=\"postern\"");
}

/* --------------------------------------------------------- credentials */

static char *
cookie_value(const char *field, const char *name)
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

/* credentials_take - copy rq's credentials into j: false when it has
 * none (or a malformed Basic) */
static bool
credentials_take(struct httpd_req *rq, struct mjob *j)
{
	const char *auth = http_request_field(rq->req, "authorization");
	const char *cookie = http_request_field(rq->req, "cookie");

	if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
		unsigned char dec[CRED_MAX];
		size_t n;
		const char *b = auth + 6;
		if (strlen(b) > CRED_MAX || dkim_b64_decode(b, strlen(b), dec,
		    sizeof(dec) - 1, &n) < 0)
			return false;
		dec[n] = '\0';
		char *colon = memchr(dec, ':', n);
		if (colon == NULL || memchr(dec, '\0', n) != NULL) {
			explicit_bzero(dec, sizeof(dec));
			return false;
		}
		*colon = '\0';
		j->basic_user = xstrdup((char *)dec);
		j->basic_pass = xstrdup(colon + 1);
		j->basic = true;
		explicit_bzero(dec, sizeof(dec));
		return *j->basic_user != '\0';
	}
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		j->bearer = xstrdup(auth + 7);
		return true;
	}
	if (cookie != NULL)
		j->cookie = cookie_value(cookie, COOKIE_NAME);
	return j->cookie != NULL && *j->cookie != '\0';
}

static void
job_free(struct httpd_job *hj)
{
	struct mjob *j = (struct mjob *)hj;

	http_response_free(&j->job.resp);
	free(j->basic_user);
	if (j->basic_pass != NULL) {
		explicit_bzero(j->basic_pass, strlen(j->basic_pass));
		free(j->basic_pass);
	}
	free(j->bearer);
	free(j->cookie);
	free(j->user_agent);
	free(j->body);
	free(j->path);
	free(j->query);
	free(j->ctype);
	json_decref(j->states);
	free(j->root);
	free(j->last_event_id);
	if (j->body_fd >= 0)
		close(j->body_fd);
	free(j);
}

static void events_attach(struct mjob *j);

static void
job_done(struct httpd_job *hj)
{
	struct mjob *j = (struct mjob *)hj;

	if (j->kind == MK_EVENTS && j->states != NULL)
		events_attach(j);
	if (!j->auth_ran)
		return;
	if (j->auth == DIR_AUTH_FAILED)
		throttle_failed(j->job.svc, (struct sockaddr *)&j->sa);
	else if (j->auth == DIR_AUTH_OK)
		throttle_ok(j->job.svc, (struct sockaddr *)&j->sa);
}

/* authenticate - the mailbox of the job's credentials: true, or false
 * with the answer made */
static bool
authenticate(struct mjob *j, struct db *db, struct dir_mailbox *mb)
{
	const char *err = NULL, *why = "Send Basic credentials (your mailbox "
	    "login), a bearer token or the web session cookie.";
	int64_t mid = 0, po = 0, id = 0;
	int r = 0;

	if (j->basic) {
		/* "api": a two-factor mailbox takes app passwords only */
		j->auth = dir_authenticate_client(db, j->basic_user,
		    j->basic_pass, &(struct dir_client){ "api", j->client }, mb,
		    &err);
		j->auth_ran = true;
		explicit_bzero(j->basic_pass, strlen(j->basic_pass));
		if (j->auth == DIR_AUTH_ERROR)
			r = -1;
		else if (j->auth != DIR_AUTH_OK) {
			why = j->auth == DIR_AUTH_FAILED ? "Wrong login or "
			    "password." : "This mailbox may not log in.";
			r = 0;
		} else
			r = 1;
		mid = r > 0 ? mb->id : 0;
	} else if (j->bearer != NULL) {
		r = webauth_token_lookup(db, j->bearer, time(NULL), &mid, &po, &id,
		    &err);
		if (r == 0)
			why = "The token is unknown, revoked or expired.";
	} else if (j->cookie != NULL) {
		r = webauth_session_lookup(db, j->cookie, time(NULL), &mid, &id,
		    &err);
		if (r == 0)
			why = "Your session has expired or was ended: log in again.";
		j->session_id = id;
	}
	if (r > 0 && !j->basic) {
		r = dir_mailbox_get(db, mid, mb, &err);
		if (r == 0)
			why = "Your mailbox no longer exists.";
	}
	if (r > 0 && (mb->disabled || mb->postoffice_disabled ||
	    mb->prevent_auth)) {
		r = 0;
		why = "Your mailbox or post office is disabled.";
	}
	if (r < 0) {
		problem(&j->job.resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return false;
	}
	if (r == 0) {
		unauthorized(&j->job.resp, j->web, why);
		snprintf(j->job.note, sizeof(j->job.note), "unauthorized");
		return false;
	}
	snprintf(j->job.note, sizeof(j->job.note), "%s@%s%s", mb->name,
	    mb->postoffice, j->bearer != NULL ? " (token)" : "");
	return true;
}

static void
limits_of(struct db *db, struct jmap_limits *lim)
{
	*lim = (struct jmap_limits)JMAP_DEFAULT_LIMITS;
	lim->max_size_request = (size_t)settings_current(db)->http_max_body * 1024;
	lim->max_concurrent_requests = MAX_CONCURRENT_REQUESTS;
	lim->max_size_upload = (size_t)settings_current(db)->http_max_upload * 1024;
}

/* session_state - a digest of what the Session says (RFC 8620 2: it
 * changes when the session does) */
static void
session_state(const char *text, char out[24])
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = text; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, 24, "S%016llx", (unsigned long long)h);
}

static json_t *
session_resource(struct db *db, const struct dir_mailbox *mb,
		 const char *account)
{
	struct jmap_limits lim;
	char login[160];

	limits_of(db, &lim);
	snprintf(login, sizeof(login), "%s@%s", mb->name, mb->postoffice);
	json_t *core = json_pack("{s:I,s:i,s:I,s:i,s:i,s:i,s:i,s:[s]}",
	    "maxSizeUpload", (json_int_t)lim.max_size_upload,
	    "maxConcurrentUpload", MAX_CONCURRENT_UPLOADS,
	    "maxSizeRequest", (json_int_t)lim.max_size_request,
	    "maxConcurrentRequests", (int)lim.max_concurrent_requests,
	    "maxCallsInRequest", (int)lim.max_calls_in_request,
	    "maxObjectsInGet", (int)lim.max_objects_in_get,
	    "maxObjectsInSet", (int)lim.max_objects_in_set,
	    "collationAlgorithms", "i;ascii-casemap");
	json_t *mail = json_pack("{s:n,s:i,s:i,s:I,s:[s,s,s,s,s,s],s:b}",
	    "maxMailboxesPerEmail", "maxMailboxDepth", 32,
	    "maxSizeMailboxName", 200,
	    "maxSizeAttachmentsPerEmail",
	    (json_int_t)jmap_mail_max_attachments(db),
	    "emailQuerySortOptions", "receivedAt", "size", "from", "to",
	    "subject", "sentAt", "mayCreateTopLevelMailbox", 1);
	json_object_set_new(mail, "maxMailboxesPerEmail", json_integer(1));
	json_t *caps = json_pack("{s:o,s:{},s:{},s:{},s:{},s:{}}", JMAP_CORE,
	    core, JMAP_MAIL, JMAP_QUOTA, JMAP_SUBMISSION, JMAP_VACATION,
	    JMAP_SIEVE);
	json_object_set_new(caps, JMAP_SETTINGS, json_object());
	json_t *sieve = json_pack("{s:i,s:i,s:i,s:i,s:s,s:n,s:n,s:s}",
	    "maxSizeScriptName", SIEVE_NAME_MAX, "maxSizeScript",
	    SIEVE_SCRIPT_MAX, "maxNumberScripts", 100, "maxNumberRedirects",
	    SIEVE_REDIRECTS_MAX, "sieveExtensions", "", "notificationMethods",
	    "externalLists", "implementation", "Postern");
	json_t *ext = json_array();
	char *exts = xstrdup(sieve_extensions());
	for (char *save = NULL, *t = strtok_r(exts, " ", &save); t != NULL;
	    t = strtok_r(NULL, " ", &save))
		json_array_append_new(ext, json_string(t));
	free(exts);
	json_object_set_new(sieve, "sieveExtensions", ext);
	json_t *acct = json_pack("{s:s,s:b,s:b,s:{s:o,s:{},s:{s:i,s:{}},s:{},"
	    "s:o}}", "name", login, "isPersonal", 1, "isReadOnly", 0,
	    "accountCapabilities", JMAP_MAIL, mail, JMAP_QUOTA, JMAP_SUBMISSION,
	    "maxDelayedSend", 0, "submissionExtensions", JMAP_VACATION,
	    JMAP_SIEVE, sieve);
	jmap_settings_account_caps(acct);
	json_t *s = json_pack("{s:o,s:{s:o},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,"
	    "s:s,s:s}", "capabilities", caps, "accounts", account, acct,
	    "primaryAccounts", JMAP_MAIL, account, JMAP_QUOTA, account,
	    JMAP_SUBMISSION, account, JMAP_VACATION, account, JMAP_SIEVE,
	    account, "username", login,
	    "apiUrl", "/jmap/mail/api",
	    "downloadUrl", "/jmap/mail/download/{accountId}/{blobId}/{name}"
	    "?accept={type}",
	    "uploadUrl", "/jmap/mail/upload/{accountId}/",
	    "eventSourceUrl", "/jmap/mail/eventsource/?types={types}"
	    "&closeafter={closeafter}&ping={ping}");
	char *text = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
	char st[24];
	session_state(text, st);
	free(text);
	json_object_set_new(s, "state", json_string(st));
	return s;
}

static const char *const capabilities[] = { JMAP_CORE, JMAP_MAIL, JMAP_QUOTA,
	JMAP_SUBMISSION, JMAP_VACATION, JMAP_SIEVE, JMAP_SETTINGS, NULL };

static void
core_echo(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	(void)ctx;
	(void)error_r;
	*result_r = json_deep_copy(args);
}

static const struct jmap_method core_methods[] = {
	{ "Core/echo", JMAP_CORE, core_echo },
	{ NULL, NULL, NULL },
};

/* path_arg - the n-th segment (0-based) after prefix in path, new
 * string or NULL */
static char *
path_arg(const char *path, const char *prefix, int n)
{
	const char *p = path + strlen(prefix);

	for (int i = 0; i < n; i++) {
		p = strchr(p, '/');
		if (p == NULL)
			return NULL;
		p++;
	}
	size_t len = strcspn(p, "/");
	return len > 0 ? xstrndup(p, len) : NULL;
}

/* query_arg - a parameter of a query string (raw, not decoded) */
static char *
query_arg(const char *q, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = q; p != NULL && *p != '\0'; ) {
		size_t n = strcspn(p, "&");
		if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
			return xstrndup(p + nl + 1, n - nl - 1);
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

/* pct_decode - %XX decoding in place */
static void
pct_decode(char *s)
{
	char *o = s;

	for (char *p = s; *p != '\0'; p++) {
		if (*p == '%' && p[1] != '\0' && p[2] != '\0') {
			char h[3] = { p[1], p[2], '\0' };
			char *end;
			long v = strtol(h, &end, 16);
			if (*end == '\0' && v > 0) {
				*o++ = (char)v;
				p += 2;
				continue;
			}
		}
		*o++ = *p == '+' ? ' ' : *p;
	}
	*o = '\0';
}

/* safe_type - a media type fit for Content-Type: type/subtype and
 * parameters of token characters, else application/octet-stream */
static const char *
safe_type(const char *t)
{
	if (t == NULL || *t == '\0' || strlen(t) > 200 || strchr(t, '/') == NULL)
		return "application/octet-stream";
	for (const char *p = t; *p != '\0'; p++)
		if (*p < ' ' || *p >= 127 || *p == '"' || *p == '\\')
			return "application/octet-stream";
	/* never something a browser would run as our page */
	if (strncasecmp(t, "text/html", 9) == 0 || strcasestr(t, "xml") != NULL ||
	    strcasestr(t, "javascript") != NULL)
		return "application/octet-stream";
	return t;
}

static void
do_download(struct mjob *j, struct jmap_mail_ctx *c)
{
	struct http_response *resp = &j->job.resp;
	char *acc = path_arg(j->path, "/jmap/mail/download/", 0);
	char *blob = path_arg(j->path, "/jmap/mail/download/", 1);
	char *name = path_arg(j->path, "/jmap/mail/download/", 2);
	char *accept = j->query != NULL ? query_arg(j->query, "accept") : NULL;
	const char *err = NULL;
	int fd = -1;
	size_t len = 0;

	if (accept != NULL)
		pct_decode(accept);
	if (acc == NULL || blob == NULL || name == NULL) {
		problem(resp, 404, "notFound", "Use /jmap/mail/download/"
		    "{accountId}/{blobId}/{name}?accept={type}.");
	} else if (strcmp(acc, c->account_id) != 0 || !jmap_id_valid(blob)) {
		/* another account's blob is not found: nothing says whether
		 * it exists */
		problem(resp, 404, "notFound", "No such blob.");
	} else {
		int r = jmap_mail_blob_fd(c, blob, &fd, &len, &err);
		if (r < 0)
			problem(resp, 500, "serverFail", err != NULL ? err :
			    "the store failed");
		else if (r == 0)
			problem(resp, 404, "notFound", "No such blob.");
		else {
			/* sent from the file by httpd, never held here */
			resp->status = 200;
			buf_reset(&resp->body);
			resp->body_file = true;
			resp->body_fd = fd;
			resp->body_off = 0;
			resp->body_len = len;
			http_response_field(resp, "Content-Type", "%s",
			    safe_type(accept));
			/* the name as an RFC 6266 filename* (percent-encoded) */
			struct buf fn;
			buf_init(&fn, 0);
			for (const char *p = name; *p != '\0' && fn.len < 600; p++) {
				unsigned char ch = (unsigned char)*p;
				if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
				    (ch >= '0' && ch <= '9') || strchr(".-_", ch))
					buf_putc(&fn, (char)ch);
				else
					buf_printf(&fn, "%%%02X", ch);
			}
			http_response_field(resp, "Content-Disposition", "attachment; "
			    "filename*=UTF-8''%s", fn.data != NULL ? fn.data : "blob");
			buf_free(&fn);
			http_response_field(resp, "Cache-Control", "private, "
			    "immutable, max-age=31536000");
			http_response_field(resp, "X-Content-Type-Options", "nosniff");
			http_response_field(resp, "Content-Security-Policy",
			    "default-src 'none'; sandbox");
		}
	}
	free(acc);
	free(blob);
	free(name);
	free(accept);
}

static void
do_upload(struct mjob *j, struct jmap_mail_ctx *c, const char *type)
{
	struct http_response *resp = &j->job.resp;
	char *acc = path_arg(j->path, "/jmap/mail/upload/", 0);
	const char *err;
	char id[40];

	if (acc == NULL || strcmp(acc, c->account_id) != 0) {
		problem(resp, 404, "notFound", "No such account: upload to "
		    "/jmap/mail/upload/{accountId}/.");
		free(acc);
		return;
	}
	free(acc);
	struct jms *st = jmap_mail_store(c);
	int64_t used = 0, limit = 0;
	if (st == NULL) {
		problem(resp, 500, "serverFail", c->store_error);
		return;
	}
	if (jms_usage(st, &used, &limit, &err) == 0 && limit > 0 &&
	    used + (int64_t)j->len > limit) {
		json_answer(resp, 400, jmap_problem("overQuota", 400, NULL,
		    "The upload does not fit in the mailbox quota."));
		return;
	}
	if (!acct_enter(c->mailbox_id, true)) {
		json_answer(resp, 400, jmap_problem("limit", 400,
		    "maxConcurrentUpload", "Too many uploads at once."));
		return;
	}
	int r = j->body_fd >= 0 ? jms_upload_file(st, j->body_fd, j->len, id,
	    &err) : jms_upload(st, j->body != NULL ? j->body : "", j->len, id,
	    &err);
	acct_leave(c->mailbox_id, true);
	if (r != 0) {
		if (r > 0)
			json_answer(resp, 400, jmap_problem("limit", 400,
			    "uploads", err));
		else
			problem(resp, 500, "serverFail", err);
		return;
	}
	json_answer(resp, 201, json_pack("{s:s,s:s,s:s,s:I}", "accountId",
	    c->account_id, "blobId", id, "type", safe_type(type), "size",
	    (json_int_t)j->len));
}

/* do_events - the states for an event source (the stream is opened on
 * the loop, job_done; jmap-push.c) */
static void
do_events(struct mjob *j, struct jmap_mail_ctx *c)
{
	struct http_response *resp = &j->job.resp;
	json_t *states = jmap_mail_states(c);

	if (states == NULL) {
		problem(resp, 500, "serverFail", c->store_error);
		return;
	}
	j->states = states;
	j->mailbox_id = c->mailbox_id;
	j->quota_kb = c->quota_kb;
	j->root = xstrdup(c->root);
	snprintf(j->account_id, sizeof(j->account_id), "%s", c->account_id);
}

/* events_attach - on the loop: the event source's stream */
static void
events_attach(struct mjob *j)
{
	char *types = j->query != NULL ? query_arg(j->query, "types") : NULL;
	char *close = j->query != NULL ? query_arg(j->query, "closeafter") : NULL;
	char *ping = j->query != NULL ? query_arg(j->query, "ping") : NULL;
	char *end;

	if (types != NULL)
		pct_decode(types);
	long pv = ping != NULL && *ping != '\0' ? strtol(ping, &end, 10) : 0;
	if (ping != NULL && *ping != '\0' && (*end != '\0' || pv < 0)) {
		problem(&j->job.resp, 400, "badRequest", "ping is a number of "
		    "seconds (0: no pings).");
	} else if (close != NULL && strcmp(close, "state") != 0 &&
	    strcmp(close, "no") != 0) {
		problem(&j->job.resp, 400, "badRequest", "closeafter is \"state\" "
		    "or \"no\".");
	} else if (types != NULL && strlen(types) > JMAP_PUSH_TYPES_MAX) {
		problem(&j->job.resp, 400, "badRequest", "types is too long.");
	} else {
		struct jmap_push_req r = { .mailbox_id = j->mailbox_id,
		    .quota_kb = j->quota_kb, .account_id = j->account_id,
		    .root = j->root, .states = j->states, .types = types,
		    .closeafter = close != NULL && strcmp(close, "state") == 0,
		    .ping = pv > JMAP_PUSH_PING_MAX ? JMAP_PUSH_PING_MAX : (int)pv,
		    .last_event_id = j->last_event_id };
		(void)jmap_push_attach(&j->job, &r);
	}
	free(types);
	free(close);
	free(ping);
}

/* login_run - POST /jmap/mail/login: the one web login of every web
 * endpoint (lib-admin/weblogin.h: protocol "web", the two-factor
 * policy), for a mailbox of any type; the body was checked by
 * login_post and is wiped here */
static void
login_run(struct mjob *j, struct db *db)
{
	struct http_response *resp = &j->job.resp;
	const char *login = "", *password = NULL, *code = NULL, *host = "";
	const char *device = NULL;
	json_t *passkey = NULL;
	int tls = 0, remember = 0;
	json_t *v = json_loadb(j->body, j->len, JSON_REJECT_DUPLICATES, NULL);

	explicit_bzero(j->body, j->len);
	if (v == NULL || json_unpack(v, "{s?s,s?s,s?s,s?o,s?b,s?s,s:s,s:b}",
	    "login", &login, "password", &password, "code", &code, "passkey",
	    &passkey, "remember", &remember, "device", &device, "host", &host,
	    "tls", &tls) < 0) {
		json_decref(v);
		problem(resp, 400, "badRequest", "Send {\"login\": "
		    "\"name@postoffice\", \"password\": \"...\"} as JSON.");
		return;
	}
	struct weblogin w = { .login = login, .password = password,
	    .code = code, .passkey = passkey, .host = host, .tls = tls,
	    .client = j->client, .user_agent = j->user_agent, .device = device,
	    .remember = remember != 0, .mail = notice_send };
	/* a passkey without a password: a passwordless login */
	int r = password != NULL ? weblogin_password(db, &w) :
	    weblogin_passkey(db, &w);
	/* job_done counts it for the per-address throttle */
	j->auth_ran = w.count != WEBLOGIN_COUNT_NONE;
	j->auth = w.count == WEBLOGIN_COUNT_FAILED ? DIR_AUTH_FAILED :
	    DIR_AUTH_OK;
	snprintf(j->job.note, sizeof(j->job.note), "%s", w.note);
	if (r <= 0) {
		json_answer(resp, w.status, w.answer);
		w.answer = NULL;
	} else {
		char who[NAME_MAX_LEN * 2 + 2];
		snprintf(who, sizeof(who), "%s@%s", w.mb.name, w.mb.postoffice);
		json_t *ok = json_pack("{s:s,s:s}", "login", who, "session",
		    "/jmap/mail/session");
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
	}
	weblogin_clear(&w);
	json_decref(v);   /* after w: it holds the login and the code */
}

static void
job_run(struct httpd_job *hj, struct db *db)
{
	struct mjob *j = (struct mjob *)hj;
	struct http_response *resp = &j->job.resp;
	struct dir_mailbox mb;

	if (db == NULL) {
		problem(resp, 503, "unavailable", "The config store is "
		    "unavailable; try again.");
		return;
	}
	if (j->kind == MK_LOGIN) {
		login_run(j, db);
		return;
	}
	if (!authenticate(j, db, &mb))
		return;
	if (j->kind == MK_LOGOUT) {
		const char *err;
		if (j->session_id != 0)
			(void)webauth_session_delete(db, j->session_id, mb.id, &err);
		json_answer(resp, 200, json_pack("{s:b}", "loggedOut", 1));
		http_response_field(resp, "Set-Cookie", COOKIE_NAME "=; Path=/; "
		    "HttpOnly; SameSite=Strict; Max-Age=0%s", j->tls ?
		    "; Secure" : "");
		return;
	}
	struct jmap_mail_ctx c = { .db = db, .mailbox_id = mb.id,
	    .quota_kb = mb.quota_kb };
	struct jmap_limits lim;
	limits_of(db, &lim);
	c.lim = &lim;
	c.client = j->client;
	c.web_session = j->session_id;
	snprintf(c.account_id, sizeof(c.account_id), "a%lld",
	    (long long)mb.id);
	snprintf(c.login, sizeof(c.login), "%s@%s", mb.name, mb.postoffice);
	char *root = dir_mailbox_path(db, &mb);
	c.root = root;
	switch (j->kind) {
	case MK_SESSION:
		json_answer(resp, 200, session_resource(db, &mb, c.account_id));
		break;
	case MK_API: {
		if (!acct_enter(mb.id, false)) {
			json_answer(resp, 400, jmap_problem("limit", 400,
			    "maxConcurrentRequests", "Too many requests at once for "
			    "this account (maxConcurrentRequests)."));
			break;
		}
		const struct jmap_method *const tables[] = { core_methods,
		    jmap_mail_methods, jmap_settings_methods, jmap_submit_methods,
		    jmap_sieve_methods, NULL };
		json_t *session = session_resource(db, &mb, c.account_id);
		json_t *out;
		int status = jmap_run(j->body, j->len, tables, capabilities, &lim,
		    json_string_value(json_object_get(session, "state")), &c, &out);
		json_decref(session);
		acct_leave(mb.id, false);
		json_answer(resp, status, out);
		break;
	}
	case MK_UPLOAD:
		do_upload(j, &c, j->ctype);
		break;
	case MK_DOWNLOAD:
		do_download(j, &c);
		break;
	case MK_EVENTS:
		do_events(j, &c);
		break;
	case MK_LOGIN:
	case MK_LOGOUT:
		break;
	}
	jmap_mail_ctx_free(&c);
	free(root);
}

static struct mjob *
job_new(struct httpd_req *rq, enum mkind kind)
{
	struct mjob *j = xcalloc(1, sizeof(*j));
	const char *ua = http_request_field(rq->req, "user-agent");

	j->job.run = job_run;
	j->job.done = job_done;
	j->job.free = job_free;
	j->kind = kind;
	j->body_fd = -1;
	if (kind == MK_UPLOAD && rq->body_fd >= 0) {
		/* streamed to a file by httpd as it arrived */
		j->body_fd = rq->body_fd;
		rq->body_fd = -1;
		j->len = (size_t)rq->body_len;
	}
	memcpy(&j->sa, rq->sa, rq->sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	snprintf(j->client, sizeof(j->client), "%s", rq->client);
	j->tls = rq->tls;
	j->user_agent = xstrdup(ua != NULL ? ua : "");
	j->web = http_request_field(rq->req, CSRF_HEADER) != NULL;
	j->path = xstrdup(rq->req->path);
	j->query = rq->req->query != NULL ? xstrdup(rq->req->query) : NULL;
	const char *ct = http_request_field(rq->req, "content-type");
	j->ctype = ct != NULL ? xstrdup(ct) : NULL;
	const char *lei = http_request_field(rq->req, "last-event-id");
	if (lei != NULL && strlen(lei) < 64)
		j->last_event_id = xstrdup(lei);
	if (kind == MK_API || kind == MK_LOGIN || (kind == MK_UPLOAD &&
	    j->body_fd < 0)) {
		j->body = xmalloc(rq->req->body.len + 1);
		if (rq->req->body.len > 0)
			memcpy(j->body, rq->req->body.data, rq->req->body.len);
		j->body[rq->req->body.len] = '\0';
		j->len = rq->req->body.len;
	}
	return j;
}

/* start - the common checks of every route: credentials, throttling,
 * CSRF for a cookie POST; then defer */
static void
start(struct httpd_req *rq, struct http_response *resp, enum mkind kind)
{
	struct mjob *j = job_new(rq, kind);

	if (!credentials_take(rq, j)) {
		bool web = j->web;
		job_free(&j->job);
		unauthorized(resp, web, "Send Basic credentials (your "
		    "mailbox login), a bearer token or the web session cookie.");
		return;
	}
	if (j->basic && throttle_blocked(rq->svc, rq->sa)) {
		job_free(&j->job);
		problem(resp, 429, "throttled", "Too many failed logins from your "
		    "address; try again later.");
		http_response_field(resp, "Retry-After", "%d", THROTTLE_WINDOW);
		return;
	}
	if (j->cookie != NULL && strcmp(rq->req->method, "POST") == 0 &&
	    http_request_field(rq->req, CSRF_HEADER) == NULL) {
		job_free(&j->job);
		problem(resp, 403, "forbidden", "State changes with the session "
		    "cookie need the header X-Postern-CSRF.");
		return;
	}
	httpd_defer(rq, &j->job);
}

static void
well_known(struct httpd_req *rq, struct http_response *resp)
{
	const char *auth = http_request_field(rq->req, "authorization");

	if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
		start(rq, resp, MK_SESSION);
		return;
	}
	/* the web admin's session (api.c) for cookies and tokens */
	resp->status = 302;
	http_response_field(resp, "Location", "/jmap/session");
	http_response_field(resp, "Cache-Control", "no-store");
}

static void
session_get(struct httpd_req *rq, struct http_response *resp)
{
	start(rq, resp, MK_SESSION);
}

static void
api_post(struct httpd_req *rq, struct http_response *resp)
{
	const char *ct = http_request_field(rq->req, "content-type");

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		json_answer(resp, 400, jmap_problem("notJSON", 400, NULL,
		    "Send the request as Content-Type: application/json."));
		return;
	}
	start(rq, resp, MK_API);
}

static void
upload_post(struct httpd_req *rq, struct http_response *resp)
{
	start(rq, resp, MK_UPLOAD);
}

static void
download_get(struct httpd_req *rq, struct http_response *resp)
{
	start(rq, resp, MK_DOWNLOAD);
}

static void
events_get(struct httpd_req *rq, struct http_response *resp)
{
	start(rq, resp, MK_EVENTS);
}

static void
login_post(struct httpd_req *rq, struct http_response *resp)
{
	json_error_t jerr;
	const char *login = NULL, *password = NULL, *code = NULL;
	json_t *passkey = NULL;
	int remember = 0;

	if (http_request_field(rq->req, CSRF_HEADER) == NULL) {
		problem(resp, 403, "forbidden", "Send the header X-Postern-CSRF.");
		return;
	}
	if (throttle_blocked(rq->svc, rq->sa)) {
		problem(resp, 429, "throttled", "Too many failed logins from your "
		    "address; try again later.");
		http_response_field(resp, "Retry-After", "%d", THROTTLE_WINDOW);
		return;
	}
	json_t *v = json_loadb(rq->req->body.data != NULL ? rq->req->body.data :
	    "", rq->req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	bool bad = v == NULL || json_unpack(v, "{s?s,s?s,s?s,s?o,s?b}",
	    "login", &login, "password", &password, "code", &code, "passkey",
	    &passkey, "remember", &remember) < 0 || (passkey != NULL && !json_is_object(passkey)) ||
	    (password == NULL && passkey == NULL) || (password != NULL &&
	    (login == NULL || *login == '\0' || strlen(login) > 400 ||
	    strlen(password) > 1024)) || (code != NULL &&
	    strlen(code) > TWOFACTOR_CODE_MAX);
	if (bad) {
		json_decref(v);
		problem(resp, 400, "badRequest", "Send {\"login\": "
		    "\"name@postoffice\", \"password\": \"...\"} as JSON "
		    "(with \"code\" or \"passkey\" when a second factor is "
		    "asked), or {\"passkey\": {...}} alone.");
		return;
	}
	/* the job's input: the body and what passkeys check (the Host the
	 * browser used); login_run parses it and wipes it */
	struct mjob *j = job_new(rq, MK_LOGIN);
	json_object_set_new(v, "host", json_string(rq->req->host != NULL ?
	    rq->req->host : ""));
	json_object_set_new(v, "tls", json_boolean(rq->tls));
	json_object_del(v, "device");
	const char *cookies = http_request_field(rq->req, "cookie");
	char *device = cookies != NULL ? http_cookie_value(cookies,
	    WEBLOGIN_DEVICE_COOKIE) : NULL;
	if (device != NULL)
		json_object_set_new(v, "device", json_string(device));
	free(device);
	char *in = json_dumps(v, JSON_COMPACT);
	if (in == NULL)
		in = xstrdup("{}");
	json_decref(v);
	explicit_bzero(j->body, j->len);
	free(j->body);
	j->body = in;
	j->len = strlen(in);
	if (rq->req->body.data != NULL)
		explicit_bzero(rq->req->body.data, rq->req->body.len);
	httpd_defer(rq, &j->job);
}

static void
logout_post(struct httpd_req *rq, struct http_response *resp)
{
	const char *cookie = http_request_field(rq->req, "cookie");
	char *v = cookie != NULL ? cookie_value(cookie, COOKIE_NAME) : NULL;
	bool has = v != NULL && *v != '\0';

	free(v);
	if (!has || http_request_field(rq->req, "authorization") != NULL) {
		problem(resp, 400, "badRequest", "Log out with the session cookie.");
		return;
	}
	start(rq, resp, MK_LOGOUT);
}

/* refused - a request refused by httpd before the handler, as the RFC's
 * problem: a body over maxSizeRequest or maxSizeUpload is the "limit"
 * request-level error (RFC 8620 3.6.1), status 413 */
static void
refused(struct http_response *resp, int status, const char *why,
	bool upload)
{
	if (status == 413)
		json_answer(resp, 413, jmap_problem("limit", 413, upload ?
		    "maxSizeUpload" : "maxSizeRequest", upload ? "The upload is "
		    "larger than maxSizeUpload: nothing was stored." : "The "
		    "request is larger than maxSizeRequest."));
	else
		problem(resp, status, status >= 500 ? "serverUnavailable" :
		    "badRequest", why);
}

const struct httpd_route jmap_mail_routes[] = {
	{ "/.well-known/jmap", false, "GET, HEAD", well_known },
	{ "/jmap/mail/session", false, "GET, HEAD", session_get },
	{ "/jmap/mail/api", false, "POST", api_post },
	{ "/jmap/mail/upload/", true, "POST", upload_post },
	{ "/jmap/mail/download/", true, "GET, HEAD", download_get },
	{ "/jmap/mail/eventsource/", true, "GET", events_get },
	{ "/jmap/mail/eventsource", false, "GET", events_get },
	{ "/jmap/mail/login", false, "POST", login_post },
	{ "/jmap/mail/logout", false, "POST", logout_post },
	{ NULL, false, NULL, NULL },
};

const struct httpd_route_opt jmap_mail_route_opts[] = {
	{ api_post, false, refused, NULL },
	{ upload_post, true, refused, NULL },
	{ NULL, false, NULL, NULL },
};
