/* api-admin-queue - Queue/query|get|set (the connector queues and bad
 * mail through qadmin.h, the code `postern queue` runs) and
 * AuditEntry/query (the audit log). Both are a SYSADMIN's: queue items
 * carry anyone's mail, the audit log every post office's changes.
 *
 * Queue/set update {id: {"action": "retry"|"release"}}; destroy deletes.
 * Queue/query pages the items sorted by arrival (newest first), with
 * filter {queue, text}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "audit.h"
#include "qadmin.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define QUEUE_SCAN_MAX 100000    /* items a query looks at */

static bool
queue_allowed(struct api_ctx *c, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "the queues hold every post office's "
	    "mail: they are for a SYSADMIN");
	return false;
}

/* an item found by name only (no file read): the query without a text
 * filter sorts these by id, which begins with the time the item entered
 * its queue (queue_new_id), and reads only the page's */
struct qlight {
	struct qadm_ref ref;
};

struct qscan {
	const char *queue, *text;
	json_t *items;     /* the matching items (with a text filter) */
	struct qlight *light;   /* the matching items (without) */
	size_t nlight, caplight;
	json_t *counts;    /* {queue label: items}, every item */
	size_t seen;
};

static int
qscan_one(const struct qadm_ref *ref, void *arg)
{
	struct qscan *s = arg;

	if (++s->seen > QUEUE_SCAN_MAX)
		return 1;
	json_int_t k = json_integer_value(json_object_get(s->counts, ref->label));
	json_object_set_new(s->counts, ref->label, json_integer(k + 1));
	if (s->queue != NULL && strcmp(s->queue, ref->label) != 0)
		return 0;
	if (s->text == NULL || *s->text == '\0') {
		if (s->nlight == s->caplight) {
			s->caplight = s->caplight ? s->caplight * 2 : 256;
			s->light = xreallocarray(s->light, s->caplight,
			    sizeof(*s->light));
		}
		struct qadm_ref *r = &s->light[s->nlight++].ref;
		*r = *ref;
		r->qpath = xstrdup(ref->qpath);
		r->label = xstrdup(ref->label);
		return 0;
	}
	json_t *o = qadm_item_json(ref, false);
	if (s->text != NULL && *s->text != '\0') {
		char *d = json_dumps(o, JSON_COMPACT);
		bool hit = d != NULL && strcasestr(d, s->text) != NULL;
		free(d);
		if (!hit) {
			json_decref(o);
			return 0;
		}
	}
	json_array_append_new(s->items, o);
	return 0;
}

static int
by_arrival_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t ax = json_integer_value(json_object_get(x, "arrival"));
	json_int_t ay = json_integer_value(json_object_get(y, "arrival"));

	if (ax != ay)
		return ax < ay ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "id")),
	    json_string_value(json_object_get(y, "id")));
}

/* by_id_desc - newest first: an id starts with its time in hex */
static int
by_id_desc(const void *a, const void *b)
{
	const struct qlight *x = a, *y = b;

	return strcmp(y->ref.id, x->ref.id);
}

static void
queue_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *filter = json_object_get(args, "filter");
	struct qscan s = { 0 };
	const char *key;
	json_t *v;

	if (!api_account_ok(args, error_r) || !queue_allowed(c, error_r))
		return;
	if (filter != NULL && !json_is_null(filter)) {
		if (!json_is_object(filter)) {
			*error_r = jmap_error("unsupportedFilter", "filter is an "
			    "object {queue, text}");
			return;
		}
		json_object_foreach(filter, key, v) {
			if (strcmp(key, "queue") == 0 && json_is_string(v) &&
			    qadm_queue_valid(json_string_value(v)))
				s.queue = json_string_value(v);
			else if (strcmp(key, "text") == 0 && json_is_string(v) &&
			    json_string_length(v) <= SEARCH_MAX)
				s.text = json_string_value(v);
			else {
				*error_r = jmap_error("unsupportedFilter", "filter "
				    "takes queue (badmail, or smtp|sf|ls|pr / "
				    "inbound|outgoing) and text; not %s", key);
				return;
			}
		}
	}
	int64_t position, limit, anchor_offset = 0;
	if (!api_window_args(c, args, &position, &limit, error_r))
		return;
	json_t *ja = json_object_get(args, "anchor");
	json_t *jo = json_object_get(args, "anchorOffset");
	const char *anchor = json_string_value(ja);
	if ((ja != NULL && !json_is_null(ja) && (anchor == NULL ||
	    strlen(anchor) > 64)) || (jo != NULL && !json_is_null(jo) &&
	    (!json_is_integer(jo) || json_integer_value(jo) < 0 ||
	    json_integer_value(jo) > 1000))) {
		*error_r = jmap_error_props("invalidArguments", "anchor is a queue "
		    "id and anchorOffset 0 to 1000 (1: the page after the anchor)",
		    anchor == NULL && ja != NULL && !json_is_null(ja) ? "anchor" :
		    "anchorOffset", NULL);
		return;
	}
	if (jo != NULL && !json_is_null(jo))
		anchor_offset = json_integer_value(jo);
	char *root = settings_queue_path(c->db);
	s.items = json_array();
	s.counts = json_object();
	qadm_each(root, qscan_one, &s);
	free(root);
	bool light = s.text == NULL || *s.text == '\0';
	size_t n = light ? s.nlight : json_array_size(s.items);
	json_t **arr = NULL;
	if (light) {
		if (s.nlight > 0)
			qsort(s.light, s.nlight, sizeof(*s.light), by_id_desc);
	} else {
		arr = xcalloc(n ? n : 1, sizeof(*arr));
		for (size_t i = 0; i < n; i++)
			arr[i] = json_array_get(s.items, i);
		qsort(arr, n, sizeof(*arr), by_arrival_desc);
	}
	if (anchor != NULL) {
		/* keyset: the page starts anchorOffset items after the anchor,
		 * wherever arrivals and deliveries moved it; an anchor that left
		 * the queue meanwhile pages from where its id sorts (ids begin
		 * with the time), as the page after it expects */
		size_t k = 0;
		bool found = false;
		for (; k < n; k++) {
			const char *id = light ? s.light[k].ref.id :
			    json_string_value(json_object_get(arr[k], "id"));
			if (strcmp(id, anchor) == 0) {
				found = true;
				break;
			}
			if (light && strcmp(id, anchor) < 0)
				break;
		}
		if (!found && !light) {
			free(arr);
			for (size_t i = 0; i < s.nlight; i++)
				qadm_ref_free(&s.light[i].ref);
			free(s.light);
			json_decref(s.items);
			json_decref(s.counts);
			*error_r = jmap_error("anchorNotFound", "anchor %.100s is not "
			    "among this query's items", anchor);
			return;
		}
		position = (int64_t)k + anchor_offset - (found ? 0 : 1);
		if (position < 0)
			position = 0;
	}
	json_t *ids = json_array(), *list = json_array();
	for (size_t i = (size_t)position; position <= (int64_t)n && i < n &&
	    i < (size_t)(position + limit); i++) {
		/* without a text filter only the page's items are read */
		json_t *o = light ? qadm_item_json(&s.light[i].ref, false) :
		    json_incref(arr[i]);
		json_array_append_new(ids, json_string(json_string_value(
		    json_object_get(o, "id"))));
		json_array_append_new(list, o);
	}
	free(arr);
	for (size_t i = 0; i < s.nlight; i++)
		qadm_ref_free(&s.light[i].ref);
	free(s.light);
	json_decref(s.items);
	if (position > (int64_t)n) {
		json_decref(ids);
		json_decref(list);
		json_decref(s.counts);
		char b[160];
		snprintf(b, sizeof(b), "position %lld is past the last item "
		    "(there are %zu)", (long long)position, n);
		*error_r = jmap_error_props("invalidArguments", b, "position",
		    NULL);
		return;
	}
	/* the items come along (list): a queue changes by the second, so
	 * a later Queue/get may not find what the query saw */
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I,s:o,s:b,s:o}",
	    "accountId", API_ACCOUNT, "queryState", "0", "canCalculateChanges",
	    0, "position", (json_int_t)position, "ids", ids, "total",
	    (json_int_t)n, "list", list, "truncated", s.seen > QUEUE_SCAN_MAX,
	    "byQueue", s.counts);
}

static void
queue_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *v;
	size_t i;

	if (!api_get_ids(c, args, &ids, error_r) || !queue_allowed(c, error_r))
		return;
	if (ids == NULL) {
		*error_r = jmap_error_props("invalidArguments", "name the items "
		    "(ids): Queue/query pages them", "ids", NULL);
		return;
	}
	char *root = settings_queue_path(c->db);
	json_t *list = json_array(), *nf = json_array();
	json_array_foreach(ids, i, v) {
		struct qadm_ref ref;
		if (!qadm_find(root, json_string_value(v), &ref)) {
			json_array_append(nf, v);
			continue;
		}
		json_array_append_new(list, qadm_item_json(&ref, true));
		qadm_ref_free(&ref);
	}
	free(root);
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", "0", "list", list, "notFound", nf);
}

static json_t *
queue_error(int r, const char *err)
{
	if (r == ADM_BUSY)
		return jmap_error("serverFail", "%s", err);
	if (r == ADM_INVALID)
		return jmap_error_props("invalidProperties", err, "action", NULL);
	return jmap_error("serverFail", "%s", err);
}

static void
queue_act(struct api_ctx *c, const char *id, const char *verb, json_t *res,
	  const char *fail, const char *done)
{
	struct qadm_ref ref;
	const char *err;
	char *root = settings_queue_path(c->db);

	if (!qadm_find(root, id, &ref)) {
		free(root);
		api_set_fail(res, fail, id, jmap_error("notFound", "no queue item "
		    "%s (delivered or deleted since?)", id));
		return;
	}
	char label[64];
	snprintf(label, sizeof(label), "%s", ref.label);
	int r = qadm_act(root, &ref, verb, &err);
	qadm_ref_free(&ref);
	free(root);
	if (r != ADM_OK) {
		api_set_fail(res, fail, id, queue_error(r, err));
		return;
	}
	(void)api_audit(c, "Queue", id, strcmp(verb, "delete") == 0 ? "destroy" :
	    verb, NULL, "queue=%s", label);
	api_set_done(res, done, id, NULL);
}

static void
queue_update(struct api_ctx *c, const char *id, json_t *v, json_t *res)
{
	const char *action = json_string_value(json_object_get(v, "action"));

	if (!json_is_object(v) || json_object_size(v) != 1 || action == NULL ||
	    (strcmp(action, "retry") != 0 && strcmp(action, "release") != 0)) {
		api_set_fail(res, "notUpdated", id, jmap_error_props(
		    "invalidProperties", "an update is {\"action\": \"retry\"} or "
		    "{\"action\": \"release\"} (bad mail)", "action", NULL));
		return;
	}
	queue_act(c, id, action, res, "notUpdated", "updated");
}

static void
queue_destroy(struct api_ctx *c, const char *id, json_t *args, json_t *res)
{
	(void)args;
	queue_act(c, id, "delete", res, "notDestroyed", "destroyed");
}

static const struct api_set_ops queue_ops = {
	"Queue", NULL, queue_update, queue_destroy,
};

static void
queue_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;

	if (!queue_allowed(c, error_r))
		return;
	api_set_run(ctx, args, &queue_ops, result_r, error_r);
}

/* ---- AuditEntry: the log of changes --------------------------------- */

/* AuditEntry/query: newest first, keyset paged: anchor is the id of the
 * last entry of the previous page (entries before it follow); filter
 * {type, object, actor, postOffice} */
static void
audit_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *filter = json_object_get(args, "filter");
	json_t *anchor = json_object_get(args, "anchor");
	json_t *lim = json_object_get(args, "limit");
	const char *f[4] = { NULL, NULL, NULL, NULL };
	static const char *const names[] = { "type", "object", "actor",
	    "postOffice" };
	long long before = INT64_MAX;
	int64_t limit = QUERY_LIMIT_DEFAULT;
	const char *key;
	json_t *v;

	if (!api_account_ok(args, error_r))
		return;
	if (!api_sysadmin_all(c->actor)) {
		*error_r = jmap_error("forbidden", "the audit log is for a "
		    "SYSADMIN");
		return;
	}
	if (filter != NULL && !json_is_null(filter)) {
		if (!json_is_object(filter)) {
			*error_r = jmap_error("unsupportedFilter", "filter is an "
			    "object {type, object, actor, postOffice}");
			return;
		}
		json_object_foreach(filter, key, v) {
			int k = -1;
			for (int i = 0; i < 4; i++)
				if (strcmp(names[i], key) == 0)
					k = i;
			if (k < 0 || !json_is_string(v) || json_string_length(v) >
			    SEARCH_MAX) {
				*error_r = jmap_error("unsupportedFilter", "filter "
				    "takes type, object, actor and postOffice "
				    "(strings); not %s", key);
				return;
			}
			f[k] = json_string_value(v);
		}
	}
	if (anchor != NULL && !json_is_null(anchor) && (!json_is_string(anchor) ||
	    parse_long(json_string_value(anchor), 1, INT64_MAX, &before) < 0)) {
		*error_r = jmap_error("anchorNotFound", "anchor is the id of an "
		    "audit entry (a positive number as a string)");
		return;
	}
	if (lim != NULL && !json_is_null(lim)) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 0) {
			*error_r = jmap_error_props("invalidArguments", "limit is an "
			    "integer of 0 or more", "limit", NULL);
			return;
		}
		limit = json_integer_value(lim);
	}
	if ((size_t)limit > c->lim->max_objects_in_get)
		limit = (int64_t)c->lim->max_objects_in_get;
	sqlite3 *h = api_audit_db(c);
	sqlite3_stmt *st;
	if (h == NULL || sqlite3_prepare_v2(h, "SELECT id, at, actor, client, "
	    "type, object, coalesce(postoffice, ''), op, text FROM audit WHERE "
	    "id < ?1 AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR object = "
	    "?3) AND (?4 IS NULL OR actor = ?4) AND (?5 IS NULL OR postoffice = "
	    "?5) ORDER BY id DESC LIMIT ?6", -1, &st, NULL) != SQLITE_OK) {
		*error_r = jmap_error("serverFail", "the audit store cannot be "
		    "read");
		return;
	}
	sqlite3_bind_int64(st, 1, before);
	for (int i = 0; i < 4; i++)
		if (f[i] != NULL)
			sqlite3_bind_text(st, 2 + i, f[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, limit);
	json_t *ids = json_array(), *list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		char id[24];
		snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(st,
		    0));
		json_array_append_new(ids, json_string(id));
		json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,"
		    "s:s,s:s,s:s}", "id", id, "at",
		    (json_int_t)sqlite3_column_int64(st, 1),
		    "actor", (const char *)sqlite3_column_text(st, 2),
		    "client", (const char *)sqlite3_column_text(st, 3),
		    "type", (const char *)sqlite3_column_text(st, 4),
		    "object", (const char *)sqlite3_column_text(st, 5),
		    "postOffice", (const char *)sqlite3_column_text(st, 6),
		    "op", (const char *)sqlite3_column_text(st, 7),
		    "text", (const char *)sqlite3_column_text(st, 8)));
	}
	sqlite3_finalize(st);
	*result_r = json_pack("{s:s,s:s,s:b,s:o,s:o,s:I}", "accountId",
	    API_ACCOUNT, "queryState", "0", "canCalculateChanges", 0, "ids", ids,
	    "list", list, "limit", (json_int_t)limit);
}

const struct jmap_method api_queue_methods[] = {
	{ "Queue/query", API_CAPABILITY, queue_query },
	{ "Queue/get", API_CAPABILITY, queue_get },
	{ "Queue/set", API_CAPABILITY, queue_set },
	{ NULL, NULL, NULL },
};

const struct jmap_method api_audit_methods[] = {
	{ "AuditEntry/query", API_CAPABILITY, audit_query },
	{ NULL, NULL, NULL },
};
