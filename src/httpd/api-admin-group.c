/* api-admin-group - Group/get|query|set|changes (manual 5.6): a group is
 * named by its address; members is the array of member addresses, changed
 * by addMembers and removeMembers in an update. An ADMIN changes groups
 * of its own post office when its web admins may edit mailboxes
 * (webadmin_edit_mailboxes); lib-admin checks every address as the CLI
 * does. */
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

#define GROUP_MEMBERS_MAX 10000     /* members listed by a /get */

static json_t *
group_json(struct db *db, int64_t id, const char *address, json_t *props)
{
	json_t *o = api_object_json(db, ADM_GROUP, id, props);
	const char *err;
	char *po = NULL;

	json_object_set_new(o, "id", json_string(address));
	if (api_wanted(props, "address"))
		json_object_set_new(o, "address", json_string(address));
	if (api_wanted(props, "postOffice") && db_query_text(db, &po, &err,
	    "SELECT p.name FROM grp g JOIN postoffice p ON p.id = "
	    "g.postoffice_id WHERE g.id = ?", "i", id) == 0 && po != NULL)
		json_object_set_new(o, "postOffice", json_string(po));
	free(po);
	if (api_wanted(props, "members")) {
		json_t *m = json_array();
		struct db_stmt *st = db_query(db, &err, "SELECT address FROM "
		    "grp_member WHERE group_id = ? ORDER BY address LIMIT ?", "ii",
		    id, (int64_t)GROUP_MEMBERS_MAX);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(m, json_string(db_col_text(st, 0)));
		db_stmt_free(&st);
		json_object_set_new(o, "members", m);
	}
	return o;
}

static void
group_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_GROUP, group_json, "SELECT address FROM "
	    "grp WHERE ?1 = 0 OR postoffice_id = ?1 ORDER BY address LIMIT ?2",
	    result_r, error_r);
}

static void
group_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "address", "name", NULL };
	struct query q;
	int64_t po;

	if (!api_query_args(c, args, sortable, &q, error_r) ||
	    (po = api_query_scope(c, &q, error_r)) < 0)
		return;
	if (!api_keyset_order(&q, "address", error_r))
		return;
	char order[80];
	snprintf(order, sizeof(order), "%s %s, g.id", strcmp(q.sort, "name") ==
	    0 ? "g.name" : "g.address", q.asc ? "ASC" : "DESC");
	static const char from[] = "FROM grp g WHERE (?1 = 0 OR "
	    "g.postoffice_id = ?1) AND (?2 IS NULL OR g.address LIKE ?2 ESCAPE "
	    "'\\' OR g.name LIKE ?2 ESCAPE '\\')";
	if (q.anchor != NULL)
		api_run_keyset(c, &q, "g.address", from, po, result_r, error_r);
	else
		api_run_query(c, &q, "g.address", from, order, po, result_r,
		    error_r);
}

/* group_may_edit - an ADMIN edits groups when it may edit mailboxes */
static json_t *
group_may_edit(struct api_ctx *c, int64_t po_id)
{
	struct po_limits l;

	if (c->actor->sysadmin)
		return NULL;
	if (api_limits_load(c->db, po_id, &l) == 0 && l.edit_mailboxes)
		return NULL;
	return jmap_error("forbidden", "your post office's web admins may not "
	    "create or edit groups (webadmin_edit_mailboxes)");
}

static void
group_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "address", "postOffice", "name",
	    "addMembers", NULL };
	const char *addr = json_string_value(json_object_get(v, "address"));
	const char *po = json_string_value(json_object_get(v, "postOffice"));
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *err;
	int64_t po_id;
	json_t *e = NULL;
	bool outer;

	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (!json_is_object(v) || addr == NULL || po == NULL) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "a group needs an address and a "
		    "postOffice", addr == NULL ? "address" : "postOffice", NULL));
		return;
	}
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
	    !api_po_visible(c->actor, po_id)) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "no such post office", "postOffice", NULL));
		return;
	}
	if ((e = group_may_edit(c, po_id)) != NULL) {
		api_set_fail(res, "notCreated", key, e);
		return;
	}
	if (api_tx(c, &outer, res, "notCreated", key) < 0)
		return;
	int r = adm_group_add(c->db, addr, po, name != NULL ? name : "", &err);
	if (r != ADM_OK)
		e = api_set_error(r, err, strstr(err, "name") != NULL ? "name" :
		    "address");
	if (e == NULL)
		e = api_members_apply(c, addr, v, adm_group_member_add,
		    adm_group_member_del);
	if (e == NULL)
		(void)api_apply_fields(c, ADM_GROUP, addr, v, skip, &e);
	if (e == NULL && api_audit(c, "Group", addr, "create", po, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) == NULL)
		api_set_done(res, "created", key, json_pack("{s:s,s:s}", "id",
		    addr, "address", addr));
}

/* group_target - a group within reach: its post office's name in po */
static json_t *
group_target(struct api_ctx *c, const char *ident, char *po, size_t size)
{
	int64_t id, po_id;
	if (api_ident_po(c->db, ADM_GROUP, ident, &id, &po_id) < 0 ||
	    !api_po_visible(c->actor, po_id))
		return jmap_error("notFound", "no group %s", ident);
	api_po_name(c->db, po_id, po, size);
	return group_may_edit(c, po_id);
}

static void
group_update(struct api_ctx *c, const char *ident, json_t *v, json_t *res)
{
	static const char *const skip[] = { "addMembers", "removeMembers",
	    "importMembers", NULL };
	char po[NAME_MAX_LEN + 1] = "";
	json_t *e, *summary = NULL;
	bool outer;

	if ((e = group_target(c, ident, po, sizeof(po))) != NULL) {
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
	e = api_members_apply(c, ident, v, adm_group_member_add,
	    adm_group_member_del);
	if (e == NULL)
		e = api_members_import(c, ADM_GROUP, ident, v, &summary);
	if (e == NULL)
		(void)api_apply_fields(c, ADM_GROUP, ident, v, skip, &e);
	if (e == NULL && api_audit(c, "Group", ident, "update", po, "%s",
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
group_destroy(struct api_ctx *c, const char *ident, json_t *args, json_t *res)
{
	char po[NAME_MAX_LEN + 1] = "";
	const char *err;
	json_t *e;

	(void)args;
	if ((e = group_target(c, ident, po, sizeof(po))) != NULL) {
		api_set_fail(res, "notDestroyed", ident, e);
		return;
	}
	int r = adm_group_del(c->db, ident, &err);
	api_destroyed(c, res, "Group", ident, po, r, err, "");
}

static const struct api_set_ops group_ops = {
	"Group", group_create, group_update, group_destroy,
};

static void
group_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &group_ops, result_r, error_r);
}

static void
group_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_changes(ctx, args, "Group", result_r, error_r);
}

const struct jmap_method api_group_methods[] = {
	{ "Group/get", API_CAPABILITY, group_get },
	{ "Group/query", API_CAPABILITY, group_query },
	{ "Group/set", API_CAPABILITY, group_set },
	{ "Group/changes", API_CAPABILITY, group_changes },
	{ NULL, NULL, NULL },
};
