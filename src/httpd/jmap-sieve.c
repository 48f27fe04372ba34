/* jmap-sieve - JMAP for Sieve scripts (RFC 9661) on the mailbox's script
 * store (lib-sieve: <mailbox root>/sieve/, the one ManageSieve edits and
 * deliver runs). A script's id is "S" + its name in hex (a rename gives
 * a new id); its blobId is "V" + a digest of the text + the hex name, so
 * that a changed script has a new blob and an old blob id is notFound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmap-mail.h"
#include "sieve.h"
#include "xalloc.h"

#define SIEVE_SCRIPTS_MAX 100

static uint64_t
digest(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static void
hex_of(const char *s, struct buf *out)
{
	for (const char *p = s; *p != '\0'; p++)
		buf_printf(out, "%02x", (unsigned char)*p);
}

/* name_of - the name in hex after skip characters of id (new string),
 * or NULL */
static char *
name_of(const char *id, size_t skip)
{
	size_t n = strlen(id);

	if (n <= skip || (n - skip) % 2 != 0 || n - skip > 2 * SIEVE_NAME_MAX)
		return NULL;
	char *name = xmalloc((n - skip) / 2 + 1);
	for (size_t i = 0; i < (n - skip) / 2; i++) {
		unsigned v;
		if (sscanf(id + skip + 2 * i, "%2x", &v) != 1 || v == 0) {
			free(name);
			return NULL;
		}
		name[i] = (char)v;
	}
	name[(n - skip) / 2] = '\0';
	return name;
}

/* script_json - the SieveScript of name (NULL when it cannot be read) */
static json_t *
script_json(struct jmap_mail_ctx *c, const char *name, const char *active)
{
	char *text;
	size_t len;
	const char *err;
	struct buf id, blob;

	if (sieve_store_get(c->root, name, &text, &len, &err) < 0)
		return NULL;
	buf_init(&id, 0);
	buf_init(&blob, 0);
	buf_putc(&id, 'S');
	hex_of(name, &id);
	buf_printf(&blob, "V%016" PRIx64, digest(text, len));
	hex_of(name, &blob);
	json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "id", id.data, "name", name,
	    "blobId", blob.data, "isActive", active != NULL &&
	    strcmp(active, name) == 0);
	free(text);
	buf_free(&id);
	buf_free(&blob);
	return o;
}

/* scripts - every SieveScript (new array) and the state; NULL on error */
static json_t *
scripts(struct jmap_mail_ctx *c, json_t **state_r, const char **error_r)
{
	char **names, *active = NULL;
	size_t n;

	if (sieve_store_list(c->root, &names, &n, &active, error_r) < 0)
		return NULL;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = script_json(c, names[i], active);
		if (o != NULL)
			json_array_append_new(list, o);
	}
	sieve_store_list_free(names, n);
	free(active);
	char *dump = json_dumps(list, JSON_COMPACT);
	*state_r = json_sprintf("V%016" PRIx64, digest(dump, strlen(dump)));
	free(dump);
	return list;
}

int
jmap_sieve_blob(struct jmap_mail_ctx *c, const char *blob_id, struct buf *out,
		const char **error_r)
{
	char *name = blob_id[0] == 'V' && strlen(blob_id) > 17 ?
	    name_of(blob_id, 17) : NULL;
	char *text;
	size_t len;
	char want[17];

	if (name == NULL)
		return 0;
	if (sieve_store_get(c->root, name, &text, &len, error_r) < 0) {
		free(name);
		return 0;
	}
	snprintf(want, sizeof(want), "%016" PRIx64, digest(text, len));
	int r = strncmp(blob_id + 1, want, 16) == 0 ? 1 : 0;
	if (r == 1)
		buf_append(out, text, len);
	free(text);
	free(name);
	return r;
}

static void
script_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	json_t *ids, *state;
	const char *err;

	if (!jmap_mail_account(c, args, allowed, error_r) || !jmap_ids_arg(args, "ids",
	    c->lim->max_objects_in_get, &ids, error_r))
		return;
	json_t *all = scripts(c, &state, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array(), *nf = json_array();
	size_t i, k;
	json_t *v, *x;
	if (ids == NULL)
		json_array_extend(list, all);
	else
		json_array_foreach(ids, i, v) {
			json_t *found = NULL;
			json_array_foreach(all, k, x)
				if (json_equal(json_object_get(x, "id"), v))
					found = x;
			json_array_append(found != NULL ? list : nf, found != NULL ?
			    found : v);
		}
	json_decref(all);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", state, "list", list, "notFound", nf);
}

static void
script_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "position", "anchor", "anchorOffset", "limit", "calculateTotal",
	    NULL };
	json_t *state, *filter = json_object_get(args, "filter");
	const char *err;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	json_t *act = json_object_get(filter, "isActive");
	const char *nm = json_string_value(json_object_get(filter, "name"));
	if (filter != NULL && !json_is_null(filter) && (!json_is_object(filter) ||
	    json_object_size(filter) != (size_t)(act != NULL) + (nm != NULL) ||
	    (act != NULL && !json_is_boolean(act)))) {
		*error_r = jmap_error("unsupportedFilter", "SieveScripts filter "
		    "by name and isActive");
		return;
	}
	json_t *all = scripts(c, &state, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *ids = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(all, i, x) {
		if (act != NULL && !json_equal(act, json_object_get(x, "isActive")))
			continue;
		if (nm != NULL && strstr(json_string_value(json_object_get(x,
		    "name")), nm) == NULL)
			continue;
		json_array_append(ids, json_object_get(x, "id"));
	}
	json_decref(all);
	*result_r = json_pack("{s:s,s:o,s:b,s:i,s:o,s:i}", "accountId",
	    c->account_id, "queryState", state, "canCalculateChanges", 0,
	    "position", 0, "ids", ids, "total", (int)json_array_size(ids));
}

/* script_text - the text of an uploaded blob: 1, 0 not found, -1 */
static int
script_text(struct jmap_mail_ctx *c, const char *blob, struct buf *out)
{
	const char *err;

	if (blob == NULL)
		return 0;
	return jmap_mail_blob(c, blob, out, &err);
}

static void
script_validate(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "blobId", NULL };
	struct buf text;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	buf_init(&text, SIEVE_SCRIPT_MAX);
	int r = script_text(c, json_string_value(json_object_get(args,
	    "blobId")), &text);
	if (r <= 0) {
		buf_free(&text);
		*error_r = jmap_error_props("invalidArguments", "no such blob",
		    "blobId", NULL);
		return;
	}
	char *cerr = NULL;
	struct sieve_script *s = sieve_compile(text.data != NULL ? text.data : "",
	    text.len, &cerr);
	sieve_script_free(&s);
	*result_r = json_pack("{s:s,s:o}", "accountId", c->account_id, "error",
	    cerr != NULL ? json_pack("{s:s,s:s}", "type", "invalidSieve",
	    "description", cerr) : json_null());
	free(cerr);
	buf_free(&text);
}

/* put - store text from blob under name: NULL, or a SetError */
static json_t *
put(struct jmap_mail_ctx *c, const char *name, const char *blob)
{
	struct buf text;
	char *cerr = NULL;
	const char *err;

	if (name == NULL || sieve_name_check(name, &err) < 0)
		return json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", name == NULL ? "name is required" : err,
		    "properties", "name");
	buf_init(&text, SIEVE_SCRIPT_MAX);
	if (script_text(c, blob, &text) <= 0) {
		buf_free(&text);
		return json_pack("{s:s,s:s}", "type", "blobNotFound", "description",
		    "blobId: upload the script first");
	}
	json_t *e = NULL;
	if (sieve_store_put(c->root, name, text.data != NULL ? text.data : "",
	    text.len, &cerr, &err) < 0)
		e = json_pack("{s:s,s:s}", "type", cerr != NULL ? "invalidSieve" :
		    "forbidden", "description", cerr != NULL ? cerr : err);
	free(cerr);
	buf_free(&text);
	return e;
}

static void
script_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", "onSuccessActivateScript",
	    "onSuccessDeactivateScript", NULL };
	json_t *state, *v;
	const char *err, *key;
	size_t i;

	if (!jmap_mail_account(c, args, allowed, error_r) ||
	    !jmap_set_args(args, c->lim->max_objects_in_set, error_r))
		return;
	json_t *all = scripts(c, &state, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *ifs = json_object_get(args, "ifInState");
	if (ifs != NULL && !json_is_null(ifs) && !json_equal(ifs, state)) {
		json_decref(all);
		json_decref(state);
		*error_r = jmap_error("stateMismatch", "ifInState does not match");
		return;
	}
	size_t count = json_array_size(all);
	json_decref(all);
	json_t *created = json_object(), *updated = json_object(),
	    *destroyed = json_array(), *nc = json_object(), *nu = json_object(),
	    *nd = json_object(), *ids = json_object();
	json_object_foreach(json_object_get(args, "create"), key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		json_t *e = count >= SIEVE_SCRIPTS_MAX ? json_pack("{s:s}", "type",
		    "overQuota") : NULL;
		char *exists = NULL;
		size_t len;
		if (e == NULL && name != NULL &&
		    sieve_store_get(c->root, name, &exists, &len, &err) == 0)
			e = json_pack("{s:s,s:[s]}", "type", "alreadyExists",
			    "properties", "name");
		free(exists);
		if (e == NULL)
			e = put(c, name, json_string_value(json_object_get(v,
			    "blobId")));
		if (e != NULL) {
			json_object_set_new(nc, key, e);
			continue;
		}
		count++;
		json_t *o = script_json(c, name, NULL);
		json_object_del(o, "name");
		json_object_del(o, "isActive");
		json_object_set(ids, key, json_object_get(o, "id"));
		json_object_set_new(created, key, o);
	}
	json_object_foreach(json_object_get(args, "update"), key, v) {
		char *name = name_of(key, 1);
		const char *to = json_string_value(json_object_get(v, "name"));
		const char *blob = json_string_value(json_object_get(v, "blobId"));
		json_t *e = NULL;
		char *text = NULL;
		size_t len;
		if (name == NULL || key[0] != 'S' ||
		    sieve_store_get(c->root, name, &text, &len, &err) < 0)
			e = json_pack("{s:s}", "type", "notFound");
		free(text);
		if (e == NULL && blob != NULL)
			e = put(c, name, blob);
		if (e == NULL && to != NULL && strcmp(to, name) != 0 &&
		    sieve_store_rename(c->root, name, to, &err) < 0)
			e = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
			    "description", err, "properties", "name");
		if (e != NULL)
			json_object_set_new(nu, key, e);
		else
			json_object_set_new(updated, key, json_null());
		free(name);
	}
	json_array_foreach(json_object_get(args, "destroy"), i, v) {
		char *name = json_is_string(v) ? name_of(json_string_value(v), 1) :
		    NULL;
		char *active = NULL, *t = NULL, **names;
		size_t n;
		json_t *e = NULL;
		if (name == NULL || sieve_store_get(c->root, name, &t, &n, &err) < 0)
			e = json_pack("{s:s}", "type", "notFound");
		free(t);
		if (e == NULL && sieve_store_list(c->root, &names, &n, &active,
		    &err) == 0) {
			sieve_store_list_free(names, n);
			if (active != NULL && strcmp(active, name) == 0)
				e = json_pack("{s:s}", "type", "scriptIsActive");
			free(active);
		}
		if (e == NULL && sieve_store_delete(c->root, name, &err) < 0)
			e = json_pack("{s:s,s:s}", "type", "forbidden", "description",
			    err);
		if (e != NULL)
			json_object_set_new(nd, json_is_string(v) ?
			    json_string_value(v) : "", e);
		else
			json_array_append(destroyed, v);
		free(name);
	}
	/* onSuccessActivateScript: an id or "#creationId" */
	const char *act = json_string_value(json_object_get(args,
	    "onSuccessActivateScript"));
	if (act != NULL) {
		const char *id = act[0] == '#' ? json_string_value(json_object_get(
		    ids, act + 1)) : act;
		char *name = id != NULL ? name_of(id, 1) : NULL;
		if (name != NULL)
			(void)sieve_store_activate(c->root, name, &err);
		free(name);
	} else if (json_is_true(json_object_get(args,
	    "onSuccessDeactivateScript")))
		(void)sieve_store_activate(c->root, NULL, &err);
	json_decref(ids);
	json_t *now;
	json_t *after = scripts(c, &now, &err);
	if (after == NULL)
		now = json_incref(state);
	json_decref(after);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", state, "newState", now,
	    "created", created, "updated", updated, "destroyed", destroyed,
	    "notCreated", nc, "notUpdated", nu, "notDestroyed", nd);
}

const struct jmap_method jmap_sieve_methods[] = {
	{ "SieveScript/get", JMAP_SIEVE, script_get },
	{ "SieveScript/query", JMAP_SIEVE, script_query },
	{ "SieveScript/set", JMAP_SIEVE, script_set },
	{ "SieveScript/validate", JMAP_SIEVE, script_validate },
	{ NULL, NULL, NULL },
};
