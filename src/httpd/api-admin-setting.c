/* api-admin-setting - Setting/get|set (the global settings with their schema from the field table) and Status/get */
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
#include "diag.h"
#include "settings.h"

/* ---- Setting: the global settings with their schema ----------------- */

static const char *const type_names[] = {
	[FT_BOOL] = "bool", [FT_INT] = "int", [FT_SIZE] = "size",
	[FT_DURATION] = "duration", [FT_TEXT] = "text", [FT_ENUM] = "enum",
	[FT_ADDRESS] = "address", [FT_HOSTPORT] = "hostport",
	[FT_LISTEN] = "listen", [FT_TIME] = "time",
};

/* field_schema - a field's schema: id (its name in the API), type,
 * help, unit, default, range, choices, flags */
static json_t *
field_schema(const struct field_def *f, const char *id)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "type",
	    type_names[f->type], "help", f->help, "unit", f->type == FT_SIZE ?
	    "KB" : f->type == FT_DURATION ? "s" : "");
	json_object_set_new(o, "default", api_field_json(f, f->def));
	if (field_is_numeric(f)) {
		json_object_set_new(o, "min", json_integer(f->min));
		json_object_set_new(o, "max", json_integer(f->max));
	} else if (f->type != FT_BOOL && f->type != FT_ENUM && f->max > 0)
		json_object_set_new(o, "maxLength", json_integer(f->max));
	if (f->type == FT_ENUM) {
		json_t *ch = json_array();
		const char *p = f->choices;
		while (p != NULL && *p != '\0') {
			size_t n = strcspn(p, "|");
			json_array_append_new(ch, json_stringn(p, n));
			p += n + (p[n] == '|');
		}
		json_object_set_new(o, "choices", ch);
	}
	json_object_set_new(o, "secret", json_boolean(f->flags & FIELD_SECRET));
	json_object_set_new(o, "zeroIsUnlimited", json_boolean(f->flags &
	    FIELD_UNLIMITED0));
	json_object_set_new(o, "multiline", json_boolean(f->flags &
	    FIELD_MULTILINE));
	return o;
}

static json_t *
setting_json(struct db *db, const struct field_def *f)
{
	char *v = NULL;
	const char *err;
	json_t *o = field_schema(f, f->name);

	if (settings_get(db, f->name, &v, &err) == 0)
		json_object_set_new(o, "value", api_field_json(f, v));
	free(v);
	json_object_set_new(o, "isSet", json_boolean(settings_is_set(db,
	    f->name)));
	return o;
}

/* Schema/get {type}: the fields of an object type (PostOffice, Domain,
 * Mailbox, Group, List) with their schema, so a page makes its forms
 * from the field table as the settings page does; id is the property's
 * name in /get and /set (sizes NAME_kb, durations NAME_s) */
static void
schema_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	static const struct {
		const char *type;
		const struct field_def *defs;
	} types[] = {
		{ "PostOffice", postoffice_fields }, { "Domain", domain_fields },
		{ "Mailbox", mailbox_fields }, { "Group", group_fields },
		{ "List", list_fields },
	};
	const char *t = json_string_value(json_object_get(args, "type"));

	if (!api_account_ok(args, error_r))
		return;
	for (size_t i = 0; t != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, t) == 0) {
			json_t *list = json_array();
			for (const struct field_def *f = types[i].defs; f->name; f++)
				json_array_append_new(list, field_schema(f,
				    field_json_name(f)));
			*result_r = json_pack("{s:s,s:s,s:o}", "accountId",
			    API_ACCOUNT, "type", t, "list", list);
			return;
		}
	*error_r = jmap_error_props("invalidArguments", "type is one of "
	    "PostOffice, Domain, Mailbox, Group, List", "type", NULL);
}

static void
setting_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *list, *nf, *v;
	size_t i;

	if (!api_get_ids(c, args, &ids, error_r))
		return;
	if (!api_sysadmin_all(c->actor)) {
		*error_r = jmap_error("forbidden", "the global settings are for "
		    "a SYSADMIN");
		return;
	}
	list = json_array();
	nf = json_array();
	if (ids == NULL)
		for (const struct field_def *f = settings_fields; f->name; f++)
			json_array_append_new(list, setting_json(c->db, f));
	else
		json_array_foreach(ids, i, v) {
			const struct field_def *f = field_find(settings_fields,
			    json_string_value(v));
			if (f == NULL)
				json_array_append(nf, v);
			else
				json_array_append_new(list, setting_json(c->db, f));
		}
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound", nf);
}

static void
setting_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err, *why;
	bool outer;

	if (!api_set_args(c, args, &create, &update, &destroy, error_r) ||
	    !api_no_state(args, error_r))
		return;
	if (!api_sysadmin_all(c->actor)) {
		*error_r = jmap_error("forbidden", "the global settings are for "
		    "a SYSADMIN");
		return;
	}
	if (json_object_size(create) > 0 || json_array_size(destroy) > 0) {
		*error_r = jmap_error("invalidArguments", "settings are only "
		    "updated: {\"update\": {\"name\": {\"value\": ...}}} (a null "
		    "value restores the default)");
		return;
	}
	json_t *res = api_set_result();
	/* all or nothing: one transaction for the whole update */
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		json_decref(res);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	bool ok = true;
	json_object_foreach(update, key, v) {
		const struct field_def *f = field_find(settings_fields, key);
		json_t *val = json_object_get(v, "value");
		if (f == NULL) {
			api_set_fail(res, "notUpdated", key, jmap_error("notFound",
			    "there is no setting %s", key));
			ok = false;
			continue;
		}
		if (!json_is_object(v) || val == NULL || json_object_size(v) != 1) {
			api_set_fail(res, "notUpdated", key, jmap_error_props(
			    "invalidProperties", "an update is {\"value\": ...}",
			    "value", NULL));
			ok = false;
			continue;
		}
		int r;
		if (json_is_null(val))
			r = settings_unset(c->db, key, &err);
		else {
			char *in = api_field_input(f, val, &why);
			if (in == NULL) {
				char b[200];
				snprintf(b, sizeof(b), "%s %s", key, why);
				api_set_fail(res, "notUpdated", key, jmap_error_props(
				    "invalidProperties", b, "value", NULL));
				ok = false;
				continue;
			}
			r = settings_set(c->db, key, in, &err);
			free(in);
		}
		if (r < 0) {
			api_set_fail(res, "notUpdated", key, jmap_error_props(
			    "invalidProperties", err, "value", NULL));
			ok = false;
			continue;
		}
		json_object_set_new(json_object_get(res, "updated"), key, json_null());
	}
	if (!ok)
		json_object_clear(json_object_get(res, "updated"));
	if (adm_tx_end(c->db, outer, ok, &err) < 0 && ok) {
		json_decref(res);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	if (ok)
		json_object_foreach(update, key, v) {
			char *s = json_dumps(json_object_get(v, "value"),
			    JSON_ENCODE_ANY | JSON_COMPACT);
			(void)api_audit(c, "Setting", key, "update", NULL,
			    "value=%.200s", (field_find(settings_fields,
			    key)->flags & FIELD_SECRET) ? "***" : s != NULL ? s :
			    "?");
			free(s);
		}
	*result_r = res;
}

/* ---- Status ---------------------------------------------------------- */

static void
status_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	bool running;

	if (!api_account_ok(args, error_r))
		return;
	/* {running, services: [{name, state, pid, ...}]} as `postern status` */
	json_t *o = diag_services_status(db_root(c->db), &running);
	if (o == NULL)
		o = json_pack("{s:[]}", "services");
	json_object_set_new(o, "running", json_boolean(running));
	json_object_set_new(o, "id", json_string("status"));
	*result_r = json_pack("{s:s,s:s,s:[o],s:[]}", "accountId", API_ACCOUNT,
	    "state", "1", "list", o, "notFound");
}

const struct jmap_method api_setting_methods[] = {
	{ "Setting/get", API_CAPABILITY, setting_get },
	{ "Setting/set", API_CAPABILITY, setting_set },
	{ "Schema/get", API_CAPABILITY, schema_get },
	{ "Status/get", API_CAPABILITY, status_get },
	{ NULL, NULL, NULL },
};
