/* api-admin-branding - Branding/get|set: a post office's login and
 * banner logos (manual 5.3.6 "may brand", lib-admin's branding.h). A
 * SYSADMIN's, and an ADMIN's of its own post office when the post office
 * has webadmin_brand; the images themselves are public at
 * /api/branding/<post office>/<kind> (branding-http.c), since the login
 * pages show them before anyone logs in.
 *
 * Branding/get {ids: [post office]}: {id, login, banner}, each null or
 * {type, size, updated, url}.
 * Branding/set update {po: {login: {type, data (base64)} | null,
 * banner: ...}}: PNG, JPEG or SVG of at most 256 KB (invalidProperties
 * naming the logo with why); null removes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api-admin.h"
#include "b64url.h"
#include "branding.h"
#include "strutil.h"
#include "xalloc.h"

static json_t *
brand_json(const char *root, const char *po, const char *kind)
{
	struct brand_info b;

	brand_get(root, po, kind, &b);
	if (!b.set)
		return json_null();
	char *url = xasprintf("/api/branding/%s/%s?v=%lld", po, kind,
	    (long long)b.updated);
	json_t *o = json_pack("{s:s,s:I,s:I,s:s}", "type", b.type, "size",
	    (json_int_t)b.size, "updated", (json_int_t)b.updated, "url", url);
	free(url);
	return o;
}

static json_t *
branding_one(struct db *db, int64_t id, const char *ident, json_t *props)
{
	json_t *o = json_pack("{s:s}", "id", ident);

	(void)id;
	(void)props;
	for (size_t k = 0; brand_kinds[k] != NULL; k++)
		json_object_set_new(o, brand_kinds[k], brand_json(db_root(db),
		    ident, brand_kinds[k]));
	return o;
}

static void
branding_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_POSTOFFICE, branding_one, "SELECT name "
	    "FROM postoffice WHERE (?1 = 0 OR id = ?1) ORDER BY name LIMIT ?2",
	    result_r, error_r);
	json_t *state = *result_r != NULL ? api_state_of(ctx, "Branding") : NULL;
	if (state != NULL)
		json_object_set_new(*result_r, "state", state);
}

/* decode - a logo's {type, data} into *data_r: NULL or the SetError */
static json_t *
decode(const char *kind, json_t *v, unsigned char **data_r, size_t *len_r)
{
	const char *type = json_string_value(json_object_get(v, "type"));
	const char *b64 = json_string_value(json_object_get(v, "data"));
	const char *why;

	*data_r = NULL;
	if (!json_is_object(v) || type == NULL || b64 == NULL)
		return jmap_error_props("invalidProperties", "a logo is {type, "
		    "data} (data: the image in base64) or null", kind, NULL);
	if (strlen(b64) > (BRAND_MAX / 3 + 2) * 4)
		return jmap_error_props("invalidProperties", "a logo is at most "
		    "256 KB", kind, NULL);
	/* standard base64 (what a browser's FileReader gives) or base64url */
	char *u = xstrdup(b64);
	for (char *p = u; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	*data_r = b64url_decode(u, BRAND_MAX + 1, len_r);
	free(u);
	if (*data_r == NULL)
		return jmap_error_props("invalidProperties", "the logo's data "
		    "is not base64", kind, NULL);
	if (brand_check(type, *data_r, *len_r, &why) < 0) {
		free(*data_r);
		*data_r = NULL;
		json_t *e = jmap_error_props("invalidProperties", NULL, kind,
		    NULL);
		json_object_set_new(e, "description", json_sprintf("%s: %s",
		    kind, why));
		return e;
	}
	return NULL;
}

static void
branding_update(struct api_ctx *c, const char *ident, json_t *v, json_t *res)
{
	unsigned char *data[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	int64_t id, po_id;
	struct po_limits l;
	const char *key, *err;
	char po[NAME_MAX_LEN + 1] = "", text[200] = "";
	json_t *e = NULL, *x;
	bool outer;

	if (api_ident_po(c->db, ADM_POSTOFFICE, ident, &id, &po_id) < 0 ||
	    !api_po_visible(c->actor, po_id)) {
		api_set_fail(res, "notUpdated", ident, jmap_error("notFound",
		    "no post office %s", ident));
		return;
	}
	api_po_name(c->db, po_id, po, sizeof(po));
	if (!c->actor->sysadmin && (api_limits_load(c->db, po_id, &l) < 0 ||
	    !l.brand)) {
		api_set_fail(res, "notUpdated", ident, jmap_error("forbidden",
		    "your post office's web admins may not change its logos "
		    "(webadmin_brand)"));
		return;
	}
	if (!json_is_object(v) || json_object_size(v) == 0) {
		api_set_fail(res, "notUpdated", ident, jmap_error("invalidPatch",
		    "an update is {login?, banner?}"));
		return;
	}
	json_object_foreach(v, key, x) {
		int k = strcmp(key, "login") == 0 ? 0 : strcmp(key, "banner") == 0 ?
		    1 : -1;
		if (k < 0) {
			e = jmap_error_props("invalidProperties", "the logos are "
			    "login and banner", key, NULL);
			break;
		}
		if (!json_is_null(x) && (e = decode(key, x, &data[k], &len[k])) !=
		    NULL)
			break;
		size_t n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%s%s=%s", n ? " " : "", key,
		    json_is_null(x) ? "removed" : json_string_value(
		    json_object_get(x, "type")));
	}
	if (e != NULL) {
		api_set_fail(res, "notUpdated", ident, e);
		goto out;
	}
	if (api_tx(c, &outer, res, "notUpdated", ident) < 0)
		goto out;
	if (api_audit(c, "Branding", po, "update", po, "%s", text) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	for (int k = 0; k < 2 && e == NULL; k++) {
		x = json_object_get(v, brand_kinds[k]);
		if (x == NULL)
			continue;
		if (json_is_null(x) ? brand_remove(db_root(c->db), po,
		    brand_kinds[k]) < 0 : brand_put(db_root(c->db), po,
		    brand_kinds[k], json_string_value(json_object_get(x, "type")),
		    data[k], len[k], &err) < 0)
			e = jmap_error("serverFail", "cannot store the %s logo",
			    brand_kinds[k]);
	}
	if (api_tx_close(c, outer, e, res, "notUpdated", ident) == NULL) {
		json_t *o = branding_one(c->db, po_id, po, NULL);
		json_object_del(o, "id");
		api_set_done(res, "updated", ident, o);
	}
out:
	free(data[0]);
	free(data[1]);
}

static const struct api_set_ops branding_ops = {
	"Branding", NULL, branding_update, NULL,
};

static void
branding_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &branding_ops, result_r, error_r);
}

const struct jmap_method api_branding_methods[] = {
	{ "Branding/get", API_CAPABILITY, branding_get },
	{ "Branding/set", API_CAPABILITY, branding_set },
	{ NULL, NULL, NULL },
};
