/* api-admin-postoffice - PostOffice/get|query|set */
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

/* ---- PostOffice ----------------------------------------------------- */

static json_t *
postoffice_json(struct db *db, int64_t id, const char *name, json_t *props)
{
	json_t *o = api_object_json(db, ADM_POSTOFFICE, id, props);
	const char *err;
	int64_t n;

	json_object_set_new(o, "id", json_string(name));
	if (api_wanted(props, "name"))
		json_object_set_new(o, "name", json_string(name));
	if (api_wanted(props, "mailboxCount") && db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM mailbox WHERE postoffice_id = ?", "i", id) == 0)
		json_object_set_new(o, "mailboxCount", json_integer(n));
	if (api_wanted(props, "domainCount") && db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM domain WHERE postoffice_id = ?", "i", id) == 0)
		json_object_set_new(o, "domainCount", json_integer(n));
	return o;
}

static void
postoffice_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_POSTOFFICE, postoffice_json, "SELECT name FROM "
	    "postoffice WHERE ?1 = 0 OR id = ?1 ORDER BY name LIMIT ?2", result_r,
	    error_r);
}

static void
postoffice_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "name", "created", NULL };
	struct query q;

	if (!api_query_args(c, args, sortable, &q, error_r))
		return;
	if (q.postoffice != NULL) {
		*error_r = jmap_error("unsupportedFilter", "post offices filter "
		    "by text only");
		return;
	}
	char order[64];
	snprintf(order, sizeof(order), "%s %s, id", strcmp(q.sort, "name") == 0 ?
	    "name" : "id", q.asc ? "ASC" : "DESC");
	api_run_query(c, &q, "name", "FROM postoffice WHERE (?1 = 0 OR id = ?1) AND "
	    "(?2 IS NULL OR name LIKE ?2 ESCAPE '\\')", order,
	    c->actor->scope_po, result_r, error_r);
}

static void
postoffice_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "name", "password", NULL };
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *pw = json_string_value(json_object_get(v, "password"));
	const char *err;
	json_t *e = NULL;
	bool outer;

	if (!api_sysadmin_all(c->actor)) {
		api_set_fail(res, "notCreated", key, jmap_error("forbidden",
		    "only a SYSADMIN creates post offices"));
		return;
	}
	if (!json_is_object(v) || name == NULL || pw == NULL) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "a post office needs a name and the "
		    "password of its postmaster mailbox", name == NULL ? "name" :
		    "password", NULL));
		return;
	}
	if (api_tx(c, &outer, res, "notCreated", key) < 0)
		return;
	int r = adm_postoffice_add(c->db, name, pw, &err);
	if (r != ADM_OK)
		e = api_set_error(r, err, strstr(err, "password") != NULL ?
		    "password" : "name");
	else
		(void)api_apply_fields(c, ADM_POSTOFFICE, name, v, skip, &e);
	if (e == NULL && api_audit(c, "PostOffice", name, "create", name, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) != NULL)
		return;
	api_set_done(res, "created", key, json_pack("{s:s,s:s}", "id", name,
	    "name", name));
}

static void
postoffice_update(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "setMailboxQuota_kb", NULL };
	int64_t id;
	json_t *e = NULL;
	bool outer;
	const char *err;
	int count = -1;

	if (adm_object_id(c->db, ADM_POSTOFFICE, key, &id, &err) < 0 ||
	    !api_po_visible(c->actor, id)) {
		api_set_fail(res, "notUpdated", key, jmap_error("notFound",
		    "no post office %s", key));
		return;
	}
	if (!c->actor->sysadmin) {
		api_set_fail(res, "notUpdated", key, jmap_error("forbidden",
		    "only a SYSADMIN changes a post office's settings (they hold "
		    "the web admin limits)"));
		return;
	}
	if (!json_is_object(v)) {
		api_set_fail(res, "notUpdated", key, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	if (api_tx(c, &outer, res, "notUpdated", key) < 0)
		return;
	(void)api_apply_fields(c, ADM_POSTOFFICE, key, v, skip, &e);
	/* manual 5.3.9.8: every current mailbox's quota, as `postern
	 * postoffice set-quota` (0: unlimited) */
	json_t *q = json_object_get(v, "setMailboxQuota_kb");
	if (e == NULL && q != NULL) {
		int r = json_is_integer(q) && json_integer_value(q) >= 0 ?
		    adm_postoffice_set_quota(c->db, key, json_integer_value(q),
		    &count, &err) : ADM_INVALID;
		if (r != ADM_OK)
			e = api_set_error(r, json_is_integer(q) && json_integer_value(q)
			    >= 0 ? err : "setMailboxQuota_kb is a size in KB (0: "
			    "unlimited)", "setMailboxQuota_kb");
	}
	if (e == NULL && api_audit(c, "PostOffice", key, "update", key, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notUpdated", key) == NULL)
		api_set_done(res, "updated", key, count >= 0 ? json_pack("{s:i}",
		    "mailboxes", count) : NULL);
}

static void
postoffice_destroy(struct api_ctx *c, const char *name, json_t *args,
		   json_t *res)
{
	bool keep = json_is_true(json_object_get(args, "keepData"));
	const char *err;
	int64_t id;

	if (adm_object_id(c->db, ADM_POSTOFFICE, name, &id, &err) < 0 ||
	    !api_po_visible(c->actor, id)) {
		api_set_fail(res, "notDestroyed", name, jmap_error("notFound",
		    "no such post office"));
		return;
	}
	if (!api_sysadmin_all(c->actor) || id == c->actor->postoffice_id) {
		api_set_fail(res, "notDestroyed", name, jmap_error("forbidden",
		    id == c->actor->postoffice_id ? "you cannot delete the post "
		    "office of the mailbox you are logged in with" : "only a "
		    "SYSADMIN deletes post offices"));
		return;
	}
	int r = adm_postoffice_del(c->db, name, keep, &err);
	api_destroyed(c, res, "PostOffice", name, name, r, err, keep ?
	    "data kept" : "");
}

static const struct api_set_ops postoffice_ops = {
	"PostOffice", postoffice_create, postoffice_update, postoffice_destroy,
};

static void
postoffice_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &postoffice_ops, result_r, error_r);
}

static void
postoffice_changes(void *ctx, json_t *args, json_t **result_r,
		   json_t **error_r)
{
	api_changes(ctx, args, "PostOffice", result_r, error_r);
}

const struct jmap_method api_postoffice_methods[] = {
	{ "PostOffice/get", API_CAPABILITY, postoffice_get },
	{ "PostOffice/query", API_CAPABILITY, postoffice_query },
	{ "PostOffice/set", API_CAPABILITY, postoffice_set },
	{ "PostOffice/changes", API_CAPABILITY, postoffice_changes },
	{ NULL, NULL, NULL },
};
