/* api-admin-quarantine - Quarantine/query|get|set: the mail the content
 * filters held back (antivirus after the SMTP 250, a milter's quarantine
 * answer), through quarantine.h, the code `postern quarantine` runs.
 *
 * A SYSADMIN's only, like the queues: one quarantined message can have
 * recipients in several post offices, its sender is usually forged, and
 * a release sends it on WITHOUT the content filters, to every recipient:
 * an ADMIN of one post office would decide for the others' mailboxes
 * whether a virus is delivered. The recipients are told (the notice names
 * the id) and ask the SYSADMIN.
 *
 * Quarantine/query pages the entries newest first (filter {text}: a
 * substring of any property) and returns them along (list);
 * Quarantine/get adds the message's header; Quarantine/set update
 * {id: {"action": "release"}}, destroy deletes for good; both audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api-admin.h"
#include "quarantine.h"
#include "settings.h"
#include "xalloc.h"

#define QUARANTINE_HEADER_MAX (64 * 1024)

static bool
quarantine_allowed(struct api_ctx *c, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "the quarantine holds mail for "
	    "every post office and a release skips the content filters: it is "
	    "for a SYSADMIN");
	return false;
}

static int
by_time_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t tx = json_integer_value(json_object_get(x, "time"));
	json_int_t ty = json_integer_value(json_object_get(y, "time"));

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(json_string_value(json_object_get(y, "id")),
	    json_string_value(json_object_get(x, "id")));
}

/* quarantine_all - every entry as JSON (text: only those matching) */
static json_t *
quarantine_all(struct api_ctx *c, const char *text, json_t **error_r)
{
	struct quarantine_entry *v;
	size_t n;
	const char *err;
	char *root = settings_queue_path(c->db);

	if (quarantine_list(root, &v, &n, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		free(root);
		return NULL;
	}
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = quarantine_entry_json(root, &v[i]);
		if (text != NULL && *text != '\0') {
			char *d = json_dumps(o, JSON_COMPACT);
			bool hit = d != NULL && strcasestr(d, text) != NULL;
			free(d);
			if (!hit) {
				json_decref(o);
				continue;
			}
		}
		json_array_append_new(all, o);
	}
	quarantine_list_free(v, n);
	free(root);
	return all;
}

static void
quarantine_query(void *ctx, json_t *args, json_t **result_r,
		 json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *filter = json_object_get(args, "filter"), *v;
	const char *text = NULL, *key;

	if (!api_account_ok(args, error_r) || !quarantine_allowed(c, error_r))
		return;
	if (filter != NULL && !json_is_null(filter)) {
		if (!json_is_object(filter)) {
			*error_r = jmap_error("unsupportedFilter", "filter is an "
			    "object {text}");
			return;
		}
		json_object_foreach(filter, key, v) {
			if (strcmp(key, "text") != 0 || !json_is_string(v) ||
			    json_string_length(v) > SEARCH_MAX) {
				*error_r = jmap_error("unsupportedFilter", "filter "
				    "takes text (a string of at most %d bytes); not "
				    "%s", SEARCH_MAX, key);
				return;
			}
			text = json_string_value(v);
		}
	}
	int64_t position, limit;
	if (!api_window_args(c, args, &position, &limit, error_r))
		return;
	json_t *all = quarantine_all(c, text, error_r);
	if (all == NULL)
		return;
	size_t n = json_array_size(all);
	if (position > (int64_t)n) {
		json_decref(all);
		char b[160];
		snprintf(b, sizeof(b), "position %lld is past the last entry "
		    "(there are %zu)", (long long)position, n);
		*error_r = jmap_error_props("invalidArguments", b, "position",
		    NULL);
		return;
	}
	json_t **arr = xcalloc(n ? n : 1, sizeof(*arr));
	for (size_t i = 0; i < n; i++)
		arr[i] = json_array_get(all, i);
	qsort(arr, n, sizeof(*arr), by_time_desc);
	json_t *ids = json_array(), *list = json_array();
	for (size_t i = (size_t)position; i < n &&
	    i < (size_t)(position + limit); i++) {
		json_array_append_new(ids, json_string(json_string_value(
		    json_object_get(arr[i], "id"))));
		json_array_append(list, arr[i]);
	}
	free(arr);
	json_decref(all);
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I,s:o}", "accountId",
	    API_ACCOUNT, "queryState", "0", "canCalculateChanges", 0,
	    "position", (json_int_t)position, "ids", ids, "total",
	    (json_int_t)n, "list", list);
}

static void
quarantine_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *v;
	size_t i;

	if (!api_get_ids(c, args, &ids, error_r) ||
	    !quarantine_allowed(c, error_r))
		return;
	if (ids == NULL) {
		*error_r = jmap_error_props("invalidArguments", "name the entries "
		    "(ids): Quarantine/query pages them", "ids", NULL);
		return;
	}
	json_t *all = quarantine_all(c, NULL, error_r);
	if (all == NULL)
		return;
	char *root = settings_queue_path(c->db);
	json_t *list = json_array(), *nf = json_array();
	json_array_foreach(ids, i, v) {
		json_t *o = NULL, *e;
		size_t j;
		json_array_foreach(all, j, e)
			if (strcmp(json_string_value(json_object_get(e, "id")),
			    json_string_value(v)) == 0)
				o = e;
		if (o == NULL) {
			json_array_append(nf, v);
			continue;
		}
		char *h = quarantine_header(root, json_string_value(v),
		    QUARANTINE_HEADER_MAX);
		json_t *hs = h ? json_string(h) : NULL;
		if (h != NULL && hs == NULL) {   /* 8-bit header: show it as '?' */
			for (char *p = h; *p; p++)
				if ((unsigned char)*p >= 0x80)
					*p = '?';
			hs = json_string(h);
		}
		free(h);
		json_t *copy = json_deep_copy(o);
		json_object_set_new(copy, "header", hs ? hs : json_string(""));
		json_array_append_new(list, copy);
	}
	free(root);
	json_decref(all);
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", "0", "list", list, "notFound", nf);
}

/* quarantine_act - release or delete id; the audit line names its reason
 * and recipients */
static void
quarantine_act(struct api_ctx *c, const char *id, bool release, json_t *res)
{
	const char *fail = release ? "notUpdated" : "notDestroyed";
	struct quarantine_entry *v;
	size_t n, k;
	const char *err;
	char *root = settings_queue_path(c->db);

	if (quarantine_list(root, &v, &n, &err) < 0) {
		free(root);
		api_set_fail(res, fail, id, jmap_error("serverFail", "%s", err));
		return;
	}
	for (k = 0; k < n && strcmp(v[k].id, id) != 0; k++)
		;
	if (k == n) {
		quarantine_list_free(v, n);
		free(root);
		api_set_fail(res, fail, id, jmap_error("notFound", "no quarantined "
		    "message %s (released or deleted since?)", id));
		return;
	}
	char *what = xasprintf("reason=%s recipients=%s", v[k].reason,
	    v[k].rcpts);
	quarantine_list_free(v, n);
	int r = release ? quarantine_release(root, id, &err) :
	    quarantine_delete(root, id, &err);
	free(root);
	if (r < 0) {
		free(what);
		api_set_fail(res, fail, id, jmap_error("serverFail", "%s", err));
		return;
	}
	(void)api_audit(c, "Quarantine", id, release ? "release" : "destroy",
	    NULL, "%s", what);
	free(what);
	api_set_done(res, release ? "updated" : "destroyed", id, NULL);
}

static void
quarantine_update(struct api_ctx *c, const char *id, json_t *v, json_t *res)
{
	const char *action = json_string_value(json_object_get(v, "action"));

	if (!json_is_object(v) || json_object_size(v) != 1 || action == NULL ||
	    strcmp(action, "release") != 0) {
		api_set_fail(res, "notUpdated", id, jmap_error_props(
		    "invalidProperties", "an update is {\"action\": \"release\"} "
		    "(destroy deletes)", "action", NULL));
		return;
	}
	quarantine_act(c, id, true, res);
}

static void
quarantine_destroy(struct api_ctx *c, const char *id, json_t *args,
		   json_t *res)
{
	(void)args;
	quarantine_act(c, id, false, res);
}

static const struct api_set_ops quarantine_ops = {
	"Quarantine", NULL, quarantine_update, quarantine_destroy,
};

static void
quarantine_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;

	if (!quarantine_allowed(c, error_r))
		return;
	api_set_run(ctx, args, &quarantine_ops, result_r, error_r);
}

const struct jmap_method api_quarantine_methods[] = {
	{ "Quarantine/query", API_CAPABILITY, quarantine_query },
	{ "Quarantine/get", API_CAPABILITY, quarantine_get },
	{ "Quarantine/set", API_CAPABILITY, quarantine_set },
	{ NULL, NULL, NULL },
};
