/* api-admin-session - Session/get|set and ApiToken/get|set: your own credentials */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "fields.h"
#include "strutil.h"
#include "xalloc.h"
#include "webauth.h"

/* ---- Session and ApiToken: your own credentials ------------------------ */

static void
session_list(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *err;

	if (!api_account_ok(args, error_r))
		return;
	struct db_stmt *st = db_query(c->db, &err, "SELECT id, created, last_seen, "
	    "client, user_agent FROM web_session WHERE mailbox_id = ? ORDER BY "
	    "id", "i", c->actor->mailbox_id);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		char sid[24];
		snprintf(sid, sizeof(sid), "%lld", (long long)id);
		json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:s,s:s,s:b}",
		    "id", sid, "created", (json_int_t)db_col_int(st, 1),
		    "lastSeen", (json_int_t)db_col_int(st, 2),
		    "client", db_col_text(st, 3),
		    "userAgent", db_col_text(st, 4),
		    "current", id == c->actor->session_id));
	}
	db_stmt_free(&st);
	*result_r = json_pack("{s:s,s:s,s:o,s:[]}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound");
}

/* destroy_own - the destroy list of Session/set and ApiToken/set: ids of
 * the actor's own sessions or tokens, each ended by del (anyone else's is
 * "notFound", as a missing one is) */
static void
destroy_own(struct api_ctx *c, json_t *destroy, json_t *res,
	    const char *type, const char *what,
	    int (*del)(struct db *, int64_t, int64_t, const char **))
{
	const char *err;
	json_t *v;
	size_t i;

	json_array_foreach(destroy, i, v) {
		const char *s = json_string_value(v);
		long long id;
		if (s == NULL || parse_long(s, 1, INT64_MAX, &id) < 0 ||
		    del(c->db, id, c->actor->mailbox_id, &err) != ADM_OK) {
			api_set_fail(res, "notDestroyed", s ? s : "?", jmap_error(
			    "notFound", "no such %s of yours", what));
			continue;
		}
		(void)api_audit(c, type, s, "destroy", NULL, "%s", "");
		json_array_append(json_object_get(res, "destroyed"), v);
	}
}

static void
session_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy;

	if (!api_set_args(c, args, &create, &update, &destroy, error_r) ||
	    !api_no_state(args, error_r))
		return;
	if (json_object_size(create) > 0 || json_object_size(update) > 0) {
		*error_r = jmap_error("invalidArguments", "sessions are made by "
		    "POST /api/login and only destroyed here");
		return;
	}
	json_t *res = api_set_result();
	destroy_own(c, destroy, res, "Session", "session",
	    webauth_session_delete);
	*result_r = res;
}

static void
token_list(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *err;

	if (!api_account_ok(args, error_r))
		return;
	struct db_stmt *st = db_query(c->db, &err, "SELECT t.id, t.name, "
	    "coalesce(p.name, ''), t.created, t.last_used, t.expires FROM "
	    "api_token t LEFT JOIN postoffice p ON p.id = t.postoffice_id WHERE "
	    "t.mailbox_id = ? ORDER BY t.id", "i", c->actor->mailbox_id);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		char id[24];
		const char *po = db_col_text(st, 2);
		snprintf(id, sizeof(id), "%lld", (long long)db_col_int(st, 0));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:I,s:I,s:I}",
		    "id", id, "name", db_col_text(st, 1),
		    "postOffice", *po ? po : NULL,
		    "created", (json_int_t)db_col_int(st, 3),
		    "lastUsed", (json_int_t)db_col_int(st, 4),
		    "expires", (json_int_t)db_col_int(st, 5)));
	}
	db_stmt_free(&st);
	*result_r = json_pack("{s:s,s:s,s:o,s:[]}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound");
}

static void
token_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err;

	if (!api_set_args(c, args, &create, &update, &destroy, error_r) ||
	    !api_no_state(args, error_r))
		return;
	if (json_object_size(update) > 0) {
		*error_r = jmap_error("invalidArguments", "tokens are created and "
		    "destroyed, never changed");
		return;
	}
	json_t *res = api_set_result();
	json_object_foreach(create, key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *po = json_string_value(json_object_get(v, "postOffice"));
		json_t *exp = json_object_get(v, "expires");
		char tok[WEBAUTH_TOKEN_LEN + 1];
		int64_t id;
		if (c->actor->token_id != 0) {
			api_set_fail(res, "notCreated", key, jmap_error("forbidden",
			    "tokens are made from a login session or the CLI, not "
			    "by another token"));
			continue;
		}
		if (exp != NULL && !json_is_integer(exp)) {
			api_set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", "expires is a unix time (0: never)",
			    "expires", NULL));
			continue;
		}
		int r = webauth_token_create(c->db, c->actor->login, po, name,
		    exp != NULL ? json_integer_value(exp) : 0, tok, &id, &err);
		if (r != ADM_OK) {
			api_set_fail(res, "notCreated", key, api_set_error(r, err,
			    strstr(err, "post office") ? "postOffice" : "name"));
			continue;
		}
		char sid[24];
		snprintf(sid, sizeof(sid), "%lld", (long long)id);
		(void)api_audit(c, "ApiToken", sid, "create", po, "%s", name ? name :
		    "");
		json_object_set_new(json_object_get(res, "created"), key,
		    json_pack("{s:s,s:s}", "id", sid, "token", tok));
		explicit_bzero(tok, sizeof(tok));
	}
	destroy_own(c, destroy, res, "ApiToken", "token",
	    webauth_token_revoke);
	*result_r = res;
}

const struct jmap_method api_session_methods[] = {
	{ "Session/get", API_CAPABILITY, session_list },
	{ "Session/set", API_CAPABILITY, session_set },
	{ "ApiToken/get", API_CAPABILITY, token_list },
	{ "ApiToken/set", API_CAPABILITY, token_set },
	{ NULL, NULL, NULL },
};
