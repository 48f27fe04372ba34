/* api-admin-list - List/get|query|set|changes (manual 5.7): a list is
 * named by its address. /get gives memberCount, members (the first
 * LIST_MEMBERS_MAX: {address, name, status, bounces}) and held (the posts
 * held for the moderator). An update takes addMembers, removeMembers,
 * approve and reject (arrays of held post tokens) besides the fields.
 * An ADMIN works on lists of its own post office within the web admin
 * limits of manual 5.3.6: webadmin_edit_lists, webadmin_max_lists and
 * webadmin_max_list_addresses, all checked here in the transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "fields.h"
#include "lists.h"
#include "strutil.h"
#include "xalloc.h"

#define LIST_MEMBERS_MAX 1000

static json_t *
list_json(struct db *db, int64_t id, const char *address, json_t *props)
{
	json_t *o = api_object_json(db, ADM_LIST, id, props);
	const char *err;
	char *po = NULL;
	int64_t n;

	json_object_set_new(o, "id", json_string(address));
	if (api_wanted(props, "address"))
		json_object_set_new(o, "address", json_string(address));
	if (api_wanted(props, "postOffice") && db_query_text(db, &po, &err,
	    "SELECT p.name FROM list l JOIN postoffice p ON p.id = "
	    "l.postoffice_id WHERE l.id = ?", "i", id) == 0 && po != NULL)
		json_object_set_new(o, "postOffice", json_string(po));
	free(po);
	if (api_wanted(props, "memberCount") && db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM list_member WHERE list_id = ?", "i", id) == 0)
		json_object_set_new(o, "memberCount", json_integer(n));
	if (api_wanted(props, "members")) {
		json_t *m = json_array();
		struct db_stmt *st = db_query(db, &err, "SELECT address, name, "
		    "status, bounces FROM list_member WHERE list_id = ? ORDER BY "
		    "address LIMIT ?", "ii", id, (int64_t)LIST_MEMBERS_MAX);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(m, json_pack("{s:s,s:s,s:s,s:i}",
			    "address", db_col_text(st, 0),
			    "name", db_col_text(st, 1),
			    "status", db_col_text(st, 2),
			    "bounces", db_col_int(st, 3)));
		db_stmt_free(&st);
		json_object_set_new(o, "members", m);
	}
	if (api_wanted(props, "held")) {
		struct list_held *h = NULL;
		size_t nh = 0;
		json_t *arr = json_array();
		if (adm_list_held(db, address, &h, &nh, &err) == ADM_OK) {
			for (size_t i = 0; i < nh; i++) {
				json_array_append_new(arr, json_pack("{s:s,s:s,s:s,"
				    "s:I,s:s}", "token", h[i].token, "sender",
				    h[i].sender ? h[i].sender : "", "from",
				    h[i].from ? h[i].from : "", "held",
				    (json_int_t)h[i].held, "subject",
				    h[i].subject ? h[i].subject : ""));
				list_held_free(&h[i]);
			}
			free(h);
		}
		json_object_set_new(o, "held", arr);
	}
	return o;
}

static void
list_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_LIST, list_json, "SELECT address FROM "
	    "list WHERE ?1 = 0 OR postoffice_id = ?1 ORDER BY address LIMIT ?2",
	    result_r, error_r);
}

static void
list_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "address", "owner", NULL };
	struct query q;
	int64_t po;

	if (!api_query_args(c, args, sortable, &q, error_r) ||
	    (po = api_query_scope(c, &q, error_r)) < 0)
		return;
	if (!api_keyset_order(&q, "address", error_r))
		return;
	char order[80];
	snprintf(order, sizeof(order), "%s %s, l.id", strcmp(q.sort, "owner") ==
	    0 ? "l.owner" : "l.address", q.asc ? "ASC" : "DESC");
	static const char from[] = "FROM list l WHERE (?1 = 0 OR "
	    "l.postoffice_id = ?1) AND (?2 IS NULL OR l.address LIKE ?2 ESCAPE "
	    "'\\' OR l.description LIKE ?2 ESCAPE '\\')";
	if (q.anchor != NULL)
		api_run_keyset(c, &q, "l.address", from, po, result_r, error_r);
	else
		api_run_query(c, &q, "l.address", from, order, po, result_r,
		    error_r);
}

/* member_query - ListMember/query {filter: {list, text?}}: a list's
 * members in address order, paged by position or by keyset (anchor: a
 * member's address), with the rows in list ({address, name, status,
 * bounces}): a list can have 100,000 members, which List/get does not
 * give (its first 1,000) */
static void
member_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "address", NULL };
	json_t *filter = json_object_get(args, "filter");
	const char *list = json_string_value(json_object_get(filter, "list"));
	int64_t id, po;
	struct query q;

	if (list == NULL) {
		*error_r = jmap_error_props("invalidArguments", "filter.list (the "
		    "list's address) is required", "filter", NULL);
		return;
	}
	if (api_ident_po(c->db, ADM_LIST, list, &id, &po) < 0 ||
	    !api_po_visible(c->actor, po)) {
		*error_r = jmap_error_props("invalidArguments", "filter.list: no "
		    "such list", "filter", NULL);
		return;
	}
	/* the common arguments, filter.text among them */
	json_t *a = json_copy(args), *f = json_copy(filter);
	json_object_del(f, "list");
	json_object_set_new(a, "filter", f);
	bool ok = api_query_args(c, a, sortable, &q, error_r) &&
	    q.postoffice == NULL;
	if (ok && q.postoffice != NULL)
		ok = false;
	if (!ok) {
		if (*error_r == NULL)
			*error_r = jmap_error("unsupportedFilter", "filter takes "
			    "list and text");
		json_decref(a);
		return;
	}
	static const char from[] = "FROM list_member lm WHERE lm.list_id = ?1 "
	    "AND (?2 IS NULL OR lm.address LIKE ?2 ESCAPE '\\' OR lm.name LIKE "
	    "?2 ESCAPE '\\')";
	if (q.anchor != NULL)
		api_run_keyset(c, &q, "lm.address", from, id, result_r, error_r);
	else
		api_run_query(c, &q, "lm.address", from, q.asc ? "lm.address ASC" :
		    "lm.address DESC", id, result_r, error_r);
	/* q's strings point into a: free it only now */
	json_decref(a);
	if (*result_r == NULL)
		return;
	const char *err;
	json_t *rows = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(*result_r, "ids"), i, v) {
		struct db_stmt *st = db_query(c->db, &err, "SELECT address, name, "
		    "status, bounces FROM list_member WHERE list_id = ? AND "
		    "address = ?", "it", id, json_string_value(v));
		if (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:I}",
			    "address", db_col_text(st, 0), "name", db_col_text(st,
			    1), "status", db_col_text(st, 2), "bounces",
			    (json_int_t)db_col_int(st, 3)));
		db_stmt_free(&st);
	}
	json_object_set_new(*result_r, "list", rows);
}

/* list_limits - an ADMIN's list limits of po_id: NULL, or the error */
static json_t *
list_limits(struct api_ctx *c, int64_t po_id, struct po_limits *l)
{
	memset(l, 0, sizeof(*l));
	if (c->actor->sysadmin)
		return NULL;
	if (api_limits_load(c->db, po_id, l) < 0)
		return jmap_error("serverFail", "the post office's limits could "
		    "not be read");
	if (!l->edit_lists)
		return jmap_error("forbidden", "your post office's web admins may "
		    "not create or edit lists (webadmin_edit_lists)");
	return NULL;
}

/* members_within - after the members changed (in the transaction): the
 * list's members within webadmin_max_list_addresses; NULL or the error */
static json_t *
members_within(struct api_ctx *c, const struct po_limits *l,
	       const char *address, json_t *v)
{
	int64_t id, n;
	const char *err;

	/* only a change that adds is held to the limit: a list the SYSADMIN
	 * grew past it can still be edited and shrunk */
	if (c->actor->sysadmin || l->max_list_members <= 0 ||
	    (json_array_size(json_object_get(v, "addMembers")) == 0 &&
	    json_object_get(v, "importMembers") == NULL))
		return NULL;
	if (adm_object_id(c->db, ADM_LIST, address, &id, &err) < 0 ||
	    db_query_int(c->db, &n, 0, &err, "SELECT count(*) FROM list_member "
	    "WHERE list_id = ?", "i", id) < 0)
		return jmap_error("serverFail", "the members cannot be counted");
	if (n <= l->max_list_members)
		return NULL;
	char b[300];
	snprintf(b, sizeof(b), "a list of your post office may have at most "
	    "%lld addresses (webadmin_max_list_addresses); this change would "
	    "make %lld: nothing was changed", (long long)l->max_list_members,
	    (long long)n);
	return jmap_error_props("overQuota", b, json_object_get(v,
	    "importMembers") != NULL ? "importMembers" : "addMembers", NULL);
}

/* member_add - adm_list_member_add without a display name */
static int
member_add(struct db *db, const char *list, const char *member,
	   const char **error_r)
{
	return adm_list_member_add(db, list, member, "", error_r);
}

/* moderate - approve/reject tokens of v: NULL or the error */
static json_t *
moderate(struct api_ctx *c, const char *address, json_t *v)
{
	static const char *const keys[] = { "approve", "reject" };
	const char *err;
	size_t i;
	json_t *t;

	for (int k = 0; k < 2; k++) {
		json_t *arr = json_object_get(v, keys[k]);
		if (arr == NULL)
			continue;
		if (!json_is_array(arr))
			return jmap_error_props("invalidProperties", k == 0 ?
			    "approve is an array of held post tokens" :
			    "reject is an array of held post tokens", keys[k],
			    NULL);
		json_array_foreach(arr, i, t) {
			const char *tok = json_string_value(t);
			int r = tok == NULL || !list_token_valid(tok) ? ADM_INVALID :
			    adm_list_moderate(c->db, address, tok, k == 0, &err);
			if (r != ADM_OK) {
				char b[300];
				snprintf(b, sizeof(b), "%s[%zu]: %s", keys[k], i,
				    r == ADM_INVALID ? "not a held post's token" : err);
				return api_set_error(r, b, keys[k]);
			}
		}
	}
	return NULL;
}

static void
list_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "address", "postOffice", "owner",
	    "addMembers", NULL };
	const char *addr = json_string_value(json_object_get(v, "address"));
	const char *po = json_string_value(json_object_get(v, "postOffice"));
	const char *owner = json_string_value(json_object_get(v, "owner"));
	const char *err;
	struct po_limits l;
	int64_t po_id, n;
	json_t *e = NULL;
	bool outer;

	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (!json_is_object(v) || addr == NULL || po == NULL) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "a list needs an address and a "
		    "postOffice", addr == NULL ? "address" : "postOffice", NULL));
		return;
	}
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
	    !api_po_visible(c->actor, po_id)) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "no such post office", "postOffice", NULL));
		return;
	}
	if ((e = list_limits(c, po_id, &l)) != NULL) {
		api_set_fail(res, "notCreated", key, e);
		return;
	}
	if (api_tx(c, &outer, res, "notCreated", key) < 0)
		return;
	if (!c->actor->sysadmin && l.max_lists > 0 && db_query_int(c->db, &n, 0,
	    &err, "SELECT count(*) FROM list WHERE postoffice_id = ?", "i",
	    po_id) == 0 && n >= l.max_lists)
		e = jmap_error("overQuota", "Post office %s may have at most %lld "
		    "lists (webadmin_max_lists) and has %lld: list %s was not "
		    "created.", po, (long long)l.max_lists, (long long)n, addr);
	int r = e == NULL ? adm_list_add(c->db, addr, po, owner, &err) : ADM_OK;
	if (r != ADM_OK)
		e = api_set_error(r, err, strstr(err, "owner") != NULL ||
		    strstr(err, "moderator") != NULL ? "owner" : "address");
	if (e == NULL)
		e = api_members_apply(c, addr, v, member_add,
		    adm_list_member_del);
	if (e == NULL)
		e = members_within(c, &l, addr, v);
	if (e == NULL)
		(void)api_apply_fields(c, ADM_LIST, addr, v, skip, &e);
	if (e == NULL && api_audit(c, "List", addr, "create", po, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) == NULL)
		api_set_done(res, "created", key, json_pack("{s:s,s:s}", "id",
		    addr, "address", addr));
}

/* list_target - a list within reach: its post office (name in po) and
 * the actor's limits there */
static json_t *
list_target(struct api_ctx *c, const char *ident, char *po, size_t size,
	    struct po_limits *l)
{
	int64_t id, po_id;
	if (api_ident_po(c->db, ADM_LIST, ident, &id, &po_id) < 0 ||
	    !api_po_visible(c->actor, po_id))
		return jmap_error("notFound", "no list %s", ident);
	api_po_name(c->db, po_id, po, size);
	return list_limits(c, po_id, l);
}

static void
list_update(struct api_ctx *c, const char *ident, json_t *v, json_t *res)
{
	static const char *const skip[] = { "addMembers", "removeMembers",
	    "importMembers", "approve", "reject", NULL };
	char po[NAME_MAX_LEN + 1] = "";
	struct po_limits l;
	json_t *e, *summary = NULL;
	bool outer;

	if ((e = list_target(c, ident, po, sizeof(po), &l)) != NULL) {
		api_set_fail(res, "notUpdated", ident, e);
		return;
	}
	if (!json_is_object(v)) {
		api_set_fail(res, "notUpdated", ident, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	if (api_tx(c, &outer, res, "notUpdated", ident) < 0)
		return;
	e = api_members_apply(c, ident, v, member_add,
	    adm_list_member_del);
	if (e == NULL)
		e = api_members_import(c, ADM_LIST, ident, v, &summary);
	if (e == NULL)
		e = members_within(c, &l, ident, v);
	if (e == NULL)
		(void)api_apply_fields(c, ADM_LIST, ident, v, skip, &e);
	/* the moderation decisions are files for the list server: last, once
	 * everything else of the update has passed */
	if (e == NULL)
		e = moderate(c, ident, v);
	if (e == NULL && api_audit(c, "List", ident, "update", po, "%s",
	    summary != NULL ? api_import_summary(v, summary) :
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notUpdated", ident) == NULL)
		api_set_done(res, "updated", ident, summary != NULL ?
		    json_pack("{s:o}", "importMembers", summary) : NULL);
	else
		json_decref(summary);
}

static void
list_destroy(struct api_ctx *c, const char *ident, json_t *args, json_t *res)
{
	char po[NAME_MAX_LEN + 1] = "";
	struct po_limits l;
	const char *err;
	json_t *e;

	(void)args;
	if ((e = list_target(c, ident, po, sizeof(po), &l)) != NULL) {
		api_set_fail(res, "notDestroyed", ident, e);
		return;
	}
	int r = adm_list_del(c->db, ident, &err);
	api_destroyed(c, res, "List", ident, po, r, err, "");
}

static const struct api_set_ops list_ops = {
	"List", list_create, list_update, list_destroy,
};

static void
list_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &list_ops, result_r, error_r);
}

static void
list_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_changes(ctx, args, "List", result_r, error_r);
}

const struct jmap_method api_list_methods[] = {
	{ "List/get", API_CAPABILITY, list_get },
	{ "List/query", API_CAPABILITY, list_query },
	{ "List/set", API_CAPABILITY, list_set },
	{ "List/changes", API_CAPABILITY, list_changes },
	{ "ListMember/query", API_CAPABILITY, member_query },
	{ NULL, NULL, NULL },
};
