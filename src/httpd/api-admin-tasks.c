/* api-admin-tasks - the global filters and POP retrieval runs in the web
 * admin API (issue 15), through the code the CLI runs:
 *
 *   GlobalFilter/get  {ids?}: the global MTA filter rules in position
 *                     order (`postern filter global list`)
 *   GlobalFilter/set  create {criterion, header?, pattern?, action,
 *                     argument?, enabled?, position?}, update {position?,
 *                     enabled?}, destroy (lib-admin gfilter.h: `postern
 *                     filter global add|move|del`)
 *   PopRetrieval/query {filter: {postOffice?, mailbox?}, position, limit}:
 *                     every POP retrieval account with its last run and
 *                     outcome (`postern popretrieval status`)
 *   PopRetrieval/run  {ids?}: fetch now (`postern popretrieval run`)
 *
 * The global filters act on every post office's mail: a SYSADMIN's. The
 * POP retrieval accounts are the mailboxes': an ADMIN sees and runs those
 * of its post office when its web admins may edit mailboxes. Changes
 * and runs are audited. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "gfilter.h"
#include "popretr.h"
#include "strutil.h"
#include "xalloc.h"

#define POP_RUN_MAX 10000          /* accounts one run names */

/* ---- GlobalFilter ------------------------------------------------------ */

static bool
sysadmin_only(struct api_ctx *c, const char *what, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "%s act on every post office's mail: "
	    "a SYSADMIN's (not scoped to one post office)", what);
	return false;
}

static json_t *
gfilter_row(struct db_stmt *st)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)db_col_int(st, 0));
	return json_pack("{s:s,s:I,s:b,s:s,s:s,s:s,s:s,s:s,s:I}", "id", id,
	    "position", (json_int_t)db_col_int(st, 1), "enabled",
	    db_col_int(st, 2) != 0, "criterion", db_col_text(st, 3), "header",
	    db_col_text(st, 4), "pattern", db_col_text(st, 5), "action",
	    db_col_text(st, 6), "argument", db_col_text(st, 7), "created",
	    (json_int_t)db_col_int(st, 8));
}

static void
gfilter_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *list = json_array(), *nf = json_array();
	const char *err;

	if (!sysadmin_only(c, "global filters", error_r) ||
	    !api_get_ids(c, args, &ids, error_r)) {
		json_decref(list);
		json_decref(nf);
		return;
	}
	/* every rule, at most maxObjectsInGet + 1 (the MTA reads them all:
	 * a server has tens, not thousands) */
	struct db_stmt *st = db_query(c->db, &err, "SELECT id, position, "
	    "enabled, criterion, header, pattern, action, argument, created "
	    "FROM global_filter ORDER BY position, id LIMIT ?", "i",
	    (int64_t)c->lim->max_objects_in_get + 1);
	if (st == NULL) {
		json_decref(list);
		json_decref(nf);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	while (db_step(st, NULL) == DB_ROW) {
		json_t *row = gfilter_row(st);
		const char *rid = json_string_value(json_object_get(row, "id"));
		bool want = ids == NULL;
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
			if (strcmp(json_string_value(v), rid) == 0)
				want = true;
		if (want)
			json_array_append_new(list, row);
		else
			json_decref(row);
	}
	db_stmt_free(&st);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		bool found = false;
		size_t k;
		json_t *row;
		json_array_foreach(list, k, row)
			if (json_equal(json_object_get(row, "id"), v))
				found = true;
		if (!found)
			json_array_append(nf, v);
	}
	json_t *state = api_state_of(c, "GlobalFilter");
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", state != NULL ? state : json_string("0"), "list", list,
	    "notFound", nf);
}

/* opt_string - v[key] as a string (absent: NULL); false when it is there
 * and not a string */
static bool
opt_string(json_t *v, const char *key, const char **out)
{
	json_t *x = json_object_get(v, key);

	*out = json_string_value(x);
	return x == NULL || json_is_null(x) || json_is_string(x);
}

static void
gfilter_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const known[] = { "criterion", "header", "pattern",
	    "action", "argument", "enabled", "position", NULL };
	struct adm_gfilter_spec spec = { 0 };
	const char *k, *err, *field = NULL;
	json_t *x, *e = NULL;
	int64_t id;
	bool outer;

	if (!json_is_object(v)) {
		api_set_fail(res, "notCreated", key, jmap_error("invalidProperties",
		    "a global filter is an object {criterion, action, ...}"));
		return;
	}
	json_object_foreach(v, k, x) {
		bool ok = false;
		for (size_t i = 0; known[i] != NULL; i++)
			ok = ok || strcmp(known[i], k) == 0;
		if (ok)
			continue;
		{
			char b[200];
			snprintf(b, sizeof(b), "a global filter has no property "
			    "%.100s", k);
			api_set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", b, k, NULL));
			return;
		}
	}
	json_t *en = json_object_get(v, "enabled");
	json_t *pos = json_object_get(v, "position");
	if (!opt_string(v, "criterion", &spec.criterion))
		field = "criterion";
	else if (!opt_string(v, "header", &spec.header))
		field = "header";
	else if (!opt_string(v, "pattern", &spec.pattern))
		field = "pattern";
	else if (!opt_string(v, "action", &spec.action))
		field = "action";
	else if (!opt_string(v, "argument", &spec.argument))
		field = "argument";
	else if (en != NULL && !json_is_boolean(en))
		field = "enabled";
	else if (pos != NULL && (!json_is_integer(pos) ||
	    json_integer_value(pos) < 1))
		field = "position";
	if (field != NULL) {
		char b[200];
		snprintf(b, sizeof(b), "%s: %s", field, strcmp(field, "enabled")
		    == 0 ? "true or false" : strcmp(field, "position") == 0 ?
		    "a number from 1" : "a string");
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", b, field, NULL));
		return;
	}
	spec.disabled = json_is_false(en);
	spec.position = pos != NULL ? json_integer_value(pos) : 0;
	if (api_tx(c, &outer, res, "notCreated", key) < 0)
		return;
	int r = adm_gfilter_add(c->db, &spec, &id, &field, &err);
	if (r != ADM_OK) {
		char b[400];
		snprintf(b, sizeof(b), "%s%s%s", field != NULL ? field : "",
		    field != NULL ? ": " : "", err);
		e = api_set_error(r, b, field);
	}
	char ids[32];
	snprintf(ids, sizeof(ids), "%lld", (long long)(e == NULL ? id : 0));
	if (e == NULL && api_audit(c, "GlobalFilter", ids, "create", NULL,
	    "%s", api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) == NULL)
		api_set_done(res, "created", key, json_pack("{s:s}", "id", ids));
}

/* gfilter_id - a rule's id from its JMAP id: > 0, or 0 */
static int64_t
gfilter_id(const char *s)
{
	long long v;

	return parse_long(s, 1, INT64_MAX / 2, &v) == 0 ? (int64_t)v : 0;
}

static void
gfilter_update(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	int64_t id = gfilter_id(key);
	const char *k, *err;
	json_t *x, *e = NULL;
	bool outer;

	if (id == 0) {
		api_set_fail(res, "notUpdated", key, jmap_error("notFound",
		    "no global filter %s", key));
		return;
	}
	if (!json_is_object(v)) {
		api_set_fail(res, "notUpdated", key, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	json_object_foreach(v, k, x) {
		bool ok = strcmp(k, "enabled") == 0 ? json_is_boolean(x) :
		    strcmp(k, "position") == 0 ? json_is_integer(x) &&
		    json_integer_value(x) >= 1 && json_integer_value(x) <= 1000000 :
		    false;
		if (!ok) {
			char b[200];
			snprintf(b, sizeof(b), "%.60s: an update sets position (a "
			    "number from 1) and enabled (true or false); to change "
			    "the rule, add a new one and delete this", k);
			api_set_fail(res, "notUpdated", key, jmap_error_props(
			    "invalidProperties", b, k, NULL));
			return;
		}
	}
	if (api_tx(c, &outer, res, "notUpdated", key) < 0)
		return;
	int r = ADM_OK;
	const char *prop = NULL;
	if ((x = json_object_get(v, "enabled")) != NULL) {
		r = adm_gfilter_enable(c->db, id, json_is_true(x), &err);
		prop = "enabled";
	}
	if (r == ADM_OK && (x = json_object_get(v, "position")) != NULL) {
		r = adm_gfilter_move(c->db, id, json_integer_value(x), &err);
		prop = "position";
	}
	if (r != ADM_OK)
		e = api_set_error(r, err, prop);
	if (e == NULL && api_audit(c, "GlobalFilter", key, "update", NULL,
	    "%s", api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notUpdated", key) == NULL)
		api_set_done(res, "updated", key, NULL);
}

static void
gfilter_destroy(struct api_ctx *c, const char *key, json_t *args,
		json_t *res)
{
	int64_t id = gfilter_id(key);
	const char *err = "no such global filter";
	int r;

	(void)args;
	r = id == 0 ? ADM_NOTFOUND : adm_gfilter_del(c->db, id, &err);
	api_destroyed(c, res, "GlobalFilter", key, NULL, r, err, "");
}

static const struct api_set_ops gfilter_ops = {
	"GlobalFilter", gfilter_create, gfilter_update, gfilter_destroy,
};

static void
gfilter_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;

	if (sysadmin_only(c, "global filters", error_r))
		api_set_run(c, args, &gfilter_ops, result_r, error_r);
}

/* ---- PopRetrieval ------------------------------------------------------ */

/* pop_scope - the post office (0: all) and mailbox (0: all) of a filter
 * within the actor's reach; false with the error */
static bool
pop_scope(struct api_ctx *c, json_t *filter, int64_t *po_r, int64_t *mb_r,
	  json_t **error_r)
{
	const char *k, *err;
	json_t *v;

	*po_r = c->actor->scope_po;
	*mb_r = 0;
	if (filter == NULL || json_is_null(filter))
		return true;
	if (!json_is_object(filter)) {
		*error_r = jmap_error("unsupportedFilter", "filter is {postOffice?, "
		    "mailbox?}");
		return false;
	}
	json_object_foreach(filter, k, v) {
		const char *s = json_string_value(v);
		int64_t id, po;
		if (strcmp(k, "postOffice") == 0 && s != NULL) {
			if (adm_object_id(c->db, ADM_POSTOFFICE, s, &id, &err) < 0 ||
			    !api_po_visible(c->actor, id)) {
				*error_r = jmap_error_props("invalidArguments",
				    "filter.postOffice: no such post office",
				    "filter", NULL);
				return false;
			}
			*po_r = id;
		} else if (strcmp(k, "mailbox") == 0 && s != NULL) {
			if (api_ident_po(c->db, ADM_MAILBOX, s, &id, &po) < 0 ||
			    !api_po_visible(c->actor, po)) {
				*error_r = jmap_error_props("invalidArguments",
				    "filter.mailbox: no such mailbox", "filter",
				    NULL);
				return false;
			}
			*mb_r = id;
		} else {
			*error_r = jmap_error("unsupportedFilter", "filter takes "
			    "postOffice and mailbox (strings); not %.60s", k);
			return false;
		}
	}
	return true;
}

static void
pop_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	int64_t pos, lim, po, mb, total = 0;
	const char *err;

	if (!api_account_ok(args, error_r) ||
	    !api_window_args(c, args, &pos, &lim, error_r) ||
	    !pop_scope(c, json_object_get(args, "filter"), &po, &mb, error_r))
		return;
#define POP_WHERE "FROM pop_account a JOIN mailbox m ON m.id = a.mailbox_id " \
	"WHERE (?1 = 0 OR m.postoffice_id = ?1) AND (?2 = 0 OR m.id = ?2)"
	if (db_query_int(c->db, &total, 0, &err, "SELECT count(*) " POP_WHERE,
	    "ii", po, mb) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	struct db_stmt *st = db_query(c->db, &err, "SELECT a.id, m.name || '@' "
	    "|| (SELECT name FROM postoffice WHERE id = m.postoffice_id), "
	    "a.host, a.port, a.username, a.tls, a.apop, a.leave_on_server, "
	    "a.enabled, a.last_run, a.last_status " POP_WHERE " ORDER BY a.id "
	    "LIMIT ?3 OFFSET ?4", "iiii", po, mb, lim, pos);
#undef POP_WHERE
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *ids = json_array(), *list = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)db_col_int(st, 0));
		json_array_append_new(ids, json_string(id));
		const char *status = db_col_text(st, 10);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,"
		    "s:b,s:b,s:b,s:I,s:s}", "id", id, "mailbox", db_col_text(st, 1),
		    "host", db_col_text(st, 2), "port", (json_int_t)db_col_int(st,
		    3), "username", db_col_text(st, 4), "tls", db_col_text(st, 5),
		    "apop", db_col_int(st, 6) != 0, "leave_on_server",
		    db_col_int(st, 7) != 0, "enabled", db_col_int(st, 8) != 0,
		    "lastRun", (json_int_t)db_col_int(st, 9), "lastStatus",
		    status != NULL ? status : ""));
	}
	db_stmt_free(&st);
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I,s:o}", "accountId",
	    API_ACCOUNT, "queryState", "1", "canCalculateChanges", 0,
	    "position", (json_int_t)pos, "ids", ids, "total", (json_int_t)total,
	    "list", list);
}

/* pop_may_run - an account id within reach to run: NULL, or the error */
static json_t *
pop_may_run(struct api_ctx *c, int64_t id)
{
	struct po_limits l;
	int64_t po = 0;
	const char *err;

	if (db_query_int(c->db, &po, 0, &err, "SELECT m.postoffice_id FROM "
	    "pop_account a JOIN mailbox m ON m.id = a.mailbox_id WHERE a.id = ?",
	    "i", id) < 0 || po == 0 || !api_po_visible(c->actor, po))
		return jmap_error("notFound", "no POP retrieval account %lld",
		    (long long)id);
	if (c->actor->sysadmin)
		return NULL;
	if (api_limits_load(c->db, po, &l) < 0 || !l.edit_mailboxes)
		return jmap_error("forbidden", "your post office's web admins may "
		    "not edit mailboxes (webadmin_edit_mailboxes)");
	return NULL;
}

static void
pop_run(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids = json_object_get(args, "ids"), *v;
	const char *err;
	size_t i;

	if (!api_account_ok(args, error_r))
		return;
	if (ids != NULL && !json_is_null(ids) && (!json_is_array(ids) ||
	    json_array_size(ids) > c->lim->max_objects_in_set)) {
		*error_r = jmap_error_props("invalidArguments", "ids is an array "
		    "of account ids (at most maxObjectsInSet), or null for every "
		    "account", "ids", NULL);
		return;
	}
	json_t *started = json_array(), *failed = json_object(), *todo;
	if (ids == NULL || json_is_null(ids)) {
		if (api_sysadmin_all(c->actor)) {
			/* every account: the service's run.all */
			int r = adm_pop_run(c->db, 0, &err);
			if (r != ADM_OK) {
				json_decref(started);
				json_decref(failed);
				*error_r = jmap_error("serverFail", "%s", err);
				return;
			}
			(void)api_audit(c, "PopRetrieval", "*", "run", NULL, "every "
			    "account");
			json_decref(started);
			*result_r = json_pack("{s:s,s:s,s:o}", "accountId",
			    API_ACCOUNT, "started", "all", "notStarted", failed);
			return;
		}
		/* an ADMIN's "all": each account of its post office */
		todo = json_array();
		struct db_stmt *st = db_query(c->db, &err, "SELECT a.id FROM "
		    "pop_account a JOIN mailbox m ON m.id = a.mailbox_id WHERE "
		    "m.postoffice_id = ? ORDER BY a.id LIMIT ?", "ii",
		    c->actor->scope_po, (int64_t)POP_RUN_MAX);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(todo, json_sprintf("%lld",
			    (long long)db_col_int(st, 0)));
		db_stmt_free(&st);
	} else
		todo = json_incref(ids);
	json_array_foreach(todo, i, v) {
		const char *s = json_string_value(v);
		int64_t id = s != NULL ? gfilter_id(s) : 0;
		json_t *e = id == 0 ? jmap_error("notFound", "an account id is a "
		    "number (a string)") : pop_may_run(c, id);
		int r;
		if (e == NULL && (r = adm_pop_run(c->db, id, &err)) != ADM_OK)
			e = api_set_error(r, err, NULL);
		if (e == NULL && api_audit(c, "PopRetrieval", s, "run", NULL,
		    "fetch now") < 0)
			e = jmap_error("serverFail", "the audit store failed");
		if (e != NULL)
			json_object_set_new(failed, s != NULL ? s : "?", e);
		else
			json_array_append(started, v);
	}
	json_decref(todo);
	*result_r = json_pack("{s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "started", started, "notStarted", failed);
}

const struct jmap_method api_tasks_methods[] = {
	{ "GlobalFilter/get", API_CAPABILITY, gfilter_get },
	{ "GlobalFilter/set", API_CAPABILITY, gfilter_set },
	{ "PopRetrieval/query", API_CAPABILITY, pop_query },
	{ "PopRetrieval/run", API_CAPABILITY, pop_run },
	{ NULL, NULL, NULL },
};
