/* api-admin-domain - Domain/get|query|set */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "autodiscover.h"
#include "selector.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "fields.h"
#include "strutil.h"
#include "xalloc.h"

/* ---- Domain --------------------------------------------------------- */

#define BLACKLIST_GET_MAX 10000   /* blacklisted domains a /get lists */

static json_t *
domain_json(struct db *db, int64_t id, const char *name, json_t *props)
{
	json_t *o = api_object_json(db, ADM_DOMAIN, id, props);
	char *po = NULL;
	const char *err;

	json_object_set_new(o, "id", json_string(name));
	if (api_wanted(props, "name"))
		json_object_set_new(o, "name", json_string(name));
	if (api_wanted(props, "postOffice") && db_query_text(db, &po, &err,
	    "SELECT p.name FROM domain d JOIN postoffice p ON p.id = "
	    "d.postoffice_id WHERE d.id = ?", "i", id) == 0 && po != NULL)
		json_object_set_new(o, "postOffice", json_string(po));
	free(po);
	if (api_wanted(props, "dkimSelectors")) {
		json_t *sel = NULL;
		if (adm_selector_json(db, name, "*", &sel, &err) == ADM_OK)
			json_object_set_new(o, "dkimSelectors", sel);
	}
	if (api_wanted(props, "autodiscover")) {
		struct adm_autodiscover *v = NULL;
		size_t n = 0;
		bool derived = false;
		if (adm_autodiscover_list(db, name, &v, &n, &err) == ADM_OK &&
		    n == 0) {
			adm_autodiscover_derive(db, &v, &n);
			derived = true;
		}
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:s}",
			    "protocol", v[i].protocol, "host", v[i].host, "port",
			    v[i].port, "security", v[i].security));
		adm_autodiscover_free(v, n);
		json_object_set_new(o, "autodiscover", arr);
		json_object_set_new(o, "autodiscoverDerived", json_boolean(derived));
	}
	if (api_wanted(props, "blacklist")) {
		/* manual 5.4.3: the sender domains refused for this domain */
		json_t *arr = json_array();
		struct db_stmt *st = db_query(db, &err, "SELECT sender_domain "
		    "FROM domain_blacklist WHERE domain_id = ? ORDER BY "
		    "sender_domain LIMIT ?", "ii", id, (int64_t)BLACKLIST_GET_MAX);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(arr, json_string(db_col_text(st, 0)));
		db_stmt_free(&st);
		json_object_set_new(o, "blacklist", arr);
	}
	return o;
}

/* domain_blacklist - blacklistAdd and blacklistRemove of v (arrays of
 * sender domains) through lib-admin, as `postern domain blacklist`:
 * NULL or the SetError naming the property and the domain */
static json_t *
domain_blacklist(struct api_ctx *c, const char *name, json_t *v)
{
	static const char *const keys[] = { "blacklistAdd", "blacklistRemove" };

	return api_arrays_apply(c, name, v, keys, "a domain", adm_blacklist_add,
	    adm_blacklist_del);
}

/* domain_extras - the parts of an update that are not fields, through
 * lib-admin as `postern dkim` and `postern autodiscover` do:
 *   dkimAdd {selector, algorithm?, bits?, test_mode?, notes?, activate?},
 *   dkimActivate "selector", dkimRemove "selector",
 *   autodiscoverDetect true (the derived entries),
 *   autodiscoverAdd {protocol, host, port?, security},
 *   autodiscoverRemove {protocol, host?, port?}
 * NULL or the SetError naming the property */
static json_t *
domain_extras(struct api_ctx *c, const char *name, json_t *v)
{
	const char *err;
	json_t *x;
	int r;

	if ((x = json_object_get(v, "dkimAdd")) != NULL) {
		const char *sel = json_string_value(json_object_get(x, "selector"));
		json_t *bits = json_object_get(x, "bits");
		struct adm_selector_spec spec = {
			.algorithm = json_string_value(json_object_get(x,
			    "algorithm")),
			.bits = json_is_integer(bits) ? (int)json_integer_value(bits) :
			    0,
			.test = json_is_true(json_object_get(x, "test_mode")),
			.notes = json_string_value(json_object_get(x, "notes")),
			.activate = json_is_true(json_object_get(x, "activate")),
		};
		if (!json_is_object(x) || sel == NULL || (bits != NULL &&
		    !json_is_integer(bits)))
			return jmap_error_props("invalidProperties", "dkimAdd is "
			    "{selector, algorithm?, bits?, test_mode?, notes?, "
			    "activate?}", "dkimAdd", NULL);
		if ((r = adm_selector_add(c->db, name, sel, &spec, &err)) != ADM_OK)
			return api_set_error(r, err, "dkimAdd");
	}
	if ((x = json_object_get(v, "dkimActivate")) != NULL &&
	    (r = json_is_string(x) ? adm_selector_activate(c->db, name,
	    json_string_value(x), &err) : ADM_INVALID) != ADM_OK)
		return api_set_error(r, json_is_string(x) ? err : "dkimActivate "
		    "is a selector's name", "dkimActivate");
	if ((x = json_object_get(v, "dkimRemove")) != NULL &&
	    (r = json_is_string(x) ? adm_selector_del(c->db, name,
	    json_string_value(x), &err) : ADM_INVALID) != ADM_OK)
		return api_set_error(r, json_is_string(x) ? err : "dkimRemove "
		    "is a selector's name", "dkimRemove");
	if (json_is_true(json_object_get(v, "autodiscoverDetect"))) {
		size_t n;
		if ((r = adm_autodiscover_detect(c->db, name, &n, &err)) != ADM_OK)
			return api_set_error(r, err, "autodiscoverDetect");
	}
	static const char *const ad[] = { "autodiscoverAdd", "autodiscoverRemove" };
	for (int k = 0; k < 2; k++) {
		if ((x = json_object_get(v, ad[k])) == NULL)
			continue;
		const char *proto = json_string_value(json_object_get(x, "protocol"));
		const char *host = json_string_value(json_object_get(x, "host"));
		const char *sec = json_string_value(json_object_get(x, "security"));
		json_t *port = json_object_get(x, "port");
		if (!json_is_object(x) || proto == NULL || (port != NULL &&
		    !json_is_integer(port)) || (k == 0 && (host == NULL ||
		    sec == NULL)))
			return jmap_error_props("invalidProperties", k == 0 ?
			    "autodiscoverAdd is {protocol, host, port?, security}" :
			    "autodiscoverRemove is {protocol, host?, port?}", ad[k],
			    NULL);
		int p = port != NULL ? (int)json_integer_value(port) : 0;
		r = k == 0 ? adm_autodiscover_add(c->db, name, proto, host, p, sec,
		    &err) : adm_autodiscover_del(c->db, name, proto, host, p, &err);
		if (r != ADM_OK)
			return api_set_error(r, err, ad[k]);
	}
	return NULL;
}

static void
domain_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_DOMAIN, domain_json, "SELECT name FROM domain "
	    "WHERE ?1 = 0 OR postoffice_id = ?1 ORDER BY name LIMIT ?2",
	    result_r, error_r);
}

static void
domain_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "name", "postOffice", NULL };
	struct query q;
	int64_t po;

	if (!api_query_args(c, args, sortable, &q, error_r) ||
	    (po = api_query_scope(c, &q, error_r)) < 0)
		return;
	char order[80];
	snprintf(order, sizeof(order), "%s %s, d.id", strcmp(q.sort, "name") == 0 ?
	    "d.name" : "p.name", q.asc ? "ASC" : "DESC");
	api_run_query(c, &q, "d.name", "FROM domain d JOIN postoffice p ON p.id = "
	    "d.postoffice_id WHERE (?1 = 0 OR d.postoffice_id = ?1) AND "
	    "(?2 IS NULL OR d.name LIKE ?2 ESCAPE '\\')", order, po, result_r,
	    error_r);
}

/* domain_sysadmin_only - a domain's smart host makes this server connect
 * wherever it points (any host and port, inside the hosting network too):
 * a SYSADMIN's choice, not a post office admin's; the error or NULL */
static json_t *
domain_sysadmin_only(const struct api_ctx *c, json_t *v)
{
	if (c->actor->sysadmin || !json_is_object(v) ||
	    json_object_get(v, "smarthost") == NULL)
		return NULL;
	return jmap_error_props("forbidden", "only a SYSADMIN sets a domain's "
	    "smart host (the server would connect wherever it points)",
	    "smarthost", NULL);
}

/* domain_may_edit - whether the actor may add, change or remove domains
 * (webadmin_edit_domains); NULL or the error */
static json_t *
domain_may_edit(struct api_ctx *c)
{
	struct po_limits lim;

	if (c->actor->sysadmin || (api_limits_load(c->db,
	    c->actor->postoffice_id, &lim) == 0 && lim.edit_domains))
		return NULL;
	return jmap_error("forbidden", "your post office's web admins may not "
	    "add, edit or remove domains (webadmin_edit_domains)");
}

static void
domain_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "name", "postOffice", NULL };
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *po = json_string_value(json_object_get(v, "postOffice"));
	const char *err;
	int64_t po_id;
	json_t *e = NULL;
	bool outer;

	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (name == NULL || po == NULL) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "a domain needs a name and a postOffice",
		    name == NULL ? "name" : "postOffice", NULL));
		return;
	}
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
	    !api_po_visible(c->actor, po_id)) {
		api_set_fail(res, "notCreated", key, jmap_error_props(
		    "invalidProperties", "no such post office", "postOffice", NULL));
		return;
	}
	if ((e = domain_may_edit(c)) != NULL ||
	    (e = domain_sysadmin_only(c, v)) != NULL) {
		api_set_fail(res, "notCreated", key, e);
		return;
	}
	if (api_tx(c, &outer, res, "notCreated", key) < 0)
		return;
	int r = adm_domain_add(c->db, name, po, &err);
	if (r != ADM_OK)
		e = api_set_error(r, err, "name");
	else
		(void)api_apply_fields(c, ADM_DOMAIN, name, v, skip, &e);
	if (e == NULL && api_audit(c, "Domain", name, "create", po, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) == NULL)
		api_set_done(res, "created", key, json_pack("{s:s,s:s}", "id",
		    name, "name", name));
}

/* domain_target - a domain within the actor's reach: its post office's
 * name into po (64 bytes), or NULL with the error */
static json_t *
domain_target(struct api_ctx *c, const char *name, char *po)
{
	int64_t id, po_id = 0;
	if (api_ident_po(c->db, ADM_DOMAIN, name, &id, &po_id) < 0 ||
	    !api_po_visible(c->actor, po_id))
		return jmap_error("notFound", "no domain %s", name);
	api_po_name(c->db, po_id, po, 64);
	return domain_may_edit(c);
}

static void
domain_update(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const none[] = { "dkimAdd", "dkimActivate",
	    "dkimRemove", "autodiscoverDetect", "autodiscoverAdd",
	    "autodiscoverRemove", "blacklistAdd", "blacklistRemove", NULL };
	char po[64] = "";
	json_t *e;
	bool outer;

	if ((e = domain_target(c, key, po)) != NULL ||
	    (e = domain_sysadmin_only(c, v)) != NULL) {
		api_set_fail(res, "notUpdated", key, e);
		return;
	}
	if (!json_is_object(v)) {
		api_set_fail(res, "notUpdated", key, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	if (api_tx(c, &outer, res, "notUpdated", key) < 0)
		return;
	(void)api_apply_fields(c, ADM_DOMAIN, key, v, none, &e);
	if (e == NULL)
		e = domain_extras(c, key, v);
	if (e == NULL)
		e = domain_blacklist(c, key, v);
	if (e == NULL && api_audit(c, "Domain", key, "update", po, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notUpdated", key) == NULL)
		api_set_done(res, "updated", key, NULL);
}

static void
domain_destroy(struct api_ctx *c, const char *name, json_t *args, json_t *res)
{
	char po[64] = "";
	const char *err;
	json_t *e;

	(void)args;
	if ((e = domain_target(c, name, po)) != NULL) {
		api_set_fail(res, "notDestroyed", name, e);
		return;
	}
	int r = adm_domain_del(c->db, name, &err);
	api_destroyed(c, res, "Domain", name, po, r, err, "");
}

static const struct api_set_ops domain_ops = {
	"Domain", domain_create, domain_update, domain_destroy,
};

static void
domain_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &domain_ops, result_r, error_r);
}

static void
domain_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_changes(ctx, args, "Domain", result_r, error_r);
}

const struct jmap_method api_domain_methods[] = {
	{ "Domain/get", API_CAPABILITY, domain_get },
	{ "Domain/query", API_CAPABILITY, domain_query },
	{ "Domain/set", API_CAPABILITY, domain_set },
	{ "Domain/changes", API_CAPABILITY, domain_changes },
	{ NULL, NULL, NULL },
};
