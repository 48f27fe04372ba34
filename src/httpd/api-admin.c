/* api-admin - the web administration's JMAP methods (capability
 * urn:postern:admin) on lib-admin, so the API applies the CLI's rules:
 *
 *   PostOffice/get|query|set, Domain/get|query|set, Mailbox/get|query|set,
 *   Setting/get|set (the global settings with their schema from the field
 *   table), Status/get (run/status.json), Session/get|set (your own
 *   browser sessions), ApiToken/get|set (your API tokens).
 *
 * Objects are named as people name them: a post office and a domain by
 * their name, a mailbox by name@postoffice; the JMAP id is that name.
 * Properties are the field table's names (sizes in KB as name_kb,
 * durations in seconds as name_s, as in `postern ... --json`).
 *
 * Roles: a SYSADMIN may do everything (a token scoped to a post office
 * only there, and no global settings); an ADMIN sees only its own post
 * office and changes it within the web admin limits of manual 5.3.6
 * (webadmin_* of the post office); every limit is checked here, not in
 * the page. What another post office holds is "notFound", never
 * "forbidden", so an ADMIN learns nothing of it.
 *
 * Lists are paged and sorted in SQL (LIMIT/OFFSET on an index), never
 * loaded whole. Each create/update/destroy is one transaction and writes
 * an audit line with the actor.
 *
 * This file holds what the families share; each family is in
 * api-admin-<family>.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "audit.h"
#include "diag.h"
#include "directory.h"
#include "fields.h"
#include "members.h"
#include "settings.h"
#include "strutil.h"
#include "webauth.h"
#include "xalloc.h"

/* ---- helpers ---------------------------------------------------------- */

/* api_account_ok - accountId, when given, is ours */
bool
api_account_ok(json_t *args, json_t **error_r)
{
	json_t *a = json_object_get(args, "accountId");

	if (a == NULL || json_is_null(a) ||
	    (json_is_string(a) && strcmp(json_string_value(a), API_ACCOUNT) == 0))
		return true;
	*error_r = jmap_error("accountNotFound", "the only account is \""
	    API_ACCOUNT "\"");
	return false;
}

bool
api_sysadmin_all(const struct api_actor *a)
{
	return a->sysadmin && a->scope_po == 0;
}

bool
api_po_visible(const struct api_actor *a, int64_t po_id)
{
	return a->scope_po == 0 || a->scope_po == po_id;
}

/* api_limits_load - the webadmin_* settings of post office po_id */
int
api_limits_load(struct db *db, int64_t po_id, struct po_limits *l)
{
	const char *err;
	struct db_stmt *st = db_query(db, &err, "SELECT webadmin_edit_mailboxes, "
	    "webadmin_select_size, webadmin_edit_domains, webadmin_max_mailboxes, "
	    "webadmin_max_mailbox_kb, webadmin_default_mailbox_kb, "
	    "webadmin_edit_lists, webadmin_max_lists, webadmin_max_list_addresses, "
	    "webadmin_brand FROM postoffice "
	    "WHERE id = ?", "i", po_id);
	if (st == NULL)
		return -1;
	if (db_step(st, NULL) != DB_ROW) {
		db_stmt_free(&st);
		return -1;
	}
	l->id = po_id;
	l->edit_mailboxes = db_col_int(st, 0);
	l->select_size = db_col_int(st, 1);
	l->edit_domains = db_col_int(st, 2);
	l->max_mailboxes = db_col_int(st, 3);
	l->max_kb = db_col_int(st, 4);
	l->default_kb = db_col_int(st, 5);
	l->edit_lists = db_col_int(st, 6);
	l->max_lists = db_col_int(st, 7);
	l->max_list_members = db_col_int(st, 8);
	l->brand = db_col_int(st, 9);
	db_stmt_free(&st);
	return 0;
}

/* api_set_error - a SetError for an adm_status; prop names the property
 * at fault for ADM_INVALID (NULL: none known) */
json_t *
api_set_error(int r, const char *err, const char *prop)
{
	switch (r) {
	case ADM_INVALID:
		return prop != NULL ? jmap_error_props("invalidProperties", err,
		    prop, NULL) : jmap_error("invalidProperties", "%s", err);
	case ADM_NOTFOUND:
		return jmap_error("notFound", "%s", err);
	case ADM_EXISTS:
		return jmap_error("alreadyExists", "%s", err);
	case ADM_BUSY:
		return jmap_error("serverFail", "the config store is busy; try "
		    "again (%s)", err);
	default:
		return jmap_error("serverFail", "%s", err);
	}
}

/* api_prop_field - the field of a JSON property name (name, name_kb, name_s) */
const struct field_def *
api_prop_field(const struct field_def *defs, const char *prop)
{
	for (const struct field_def *f = defs; f->name != NULL; f++)
		if (strcmp(field_json_name(f), prop) == 0)
			return f;
	return NULL;
}

/* api_field_input - a JSON value as the text input field_parse takes (new
 * string), or NULL with *why_r */
char *
api_field_input(const struct field_def *f, json_t *v, const char **why_r)
{
	switch (f->type) {
	case FT_BOOL:
		if (json_is_boolean(v))
			return xstrdup(json_is_true(v) ? "1" : "0");
		*why_r = "must be true or false";
		return NULL;
	case FT_INT:
	case FT_SIZE:
	case FT_DURATION:
	case FT_TIME:
		if (json_is_integer(v))
			return xasprintf("%" JSON_INTEGER_FORMAT "%s",
			    json_integer_value(v), f->type == FT_SIZE ? "K" :
			    f->type == FT_DURATION ? "s" : "");
		*why_r = f->type == FT_SIZE ? "must be a number of KB" :
		    f->type == FT_DURATION ? "must be a number of seconds" :
		    "must be an integer";
		return NULL;
	default:
		if (json_is_string(v))
			return xstrdup(json_string_value(v));
		*why_r = "must be a string";
		return NULL;
	}
}

/* api_field_json - the stored form of a field as a JSON value */
json_t *
api_field_json(const struct field_def *f, const char *v)
{
	if (f->flags & FIELD_SECRET)
		return json_boolean(*v != '\0');   /* set or not, never the value */
	if (f->type == FT_BOOL)
		return json_boolean(strtoll(v, NULL, 10));
	if (field_is_numeric(f))
		return json_integer(strtoll(v, NULL, 10));
	return json_string(v);
}

/* api_wanted - whether property p is asked for (properties null: all) */
bool
api_wanted(json_t *props, const char *p)
{
	size_t i;
	json_t *v;

	if (props == NULL || json_is_null(props))
		return true;
	json_array_foreach(props, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), p) == 0)
			return true;
	return false;
}

static const char *const kind_words[] = { "postoffice", "domain", "mailbox",
	"group", "list" };

/* api_object_json - an object's fields (those asked for) */
json_t *
api_object_json(struct db *db, enum adm_kind kind, int64_t id, json_t *props)
{
	const struct field_def *fields = adm_kind_fields(kind);
	json_t *o = json_object();
	const char *err;

	for (const struct field_def *f = fields; f->name; f++) {
		const char *key = field_json_name(f);
		char *v = NULL;
		if (!api_wanted(props, key))
			continue;
		char k[96];
		snprintf(k, sizeof(k), "%s", key);
		if (dir_object_field(db, kind_words[kind], id, f->name, &v, &err) == 0)
			json_object_set_new(o, k, api_field_json(f, v));
		free(v);
	}
	return o;
}

/* api_get_ids - the ids argument of a /get: an array of strings, or null */
bool
api_get_ids(struct api_ctx *c, json_t *args, json_t **ids_r, json_t **error_r)
{
	json_t *ids = json_object_get(args, "ids");
	json_t *props = json_object_get(args, "properties");
	size_t i;
	json_t *v;

	if (!api_account_ok(args, error_r))
		return false;
	if (props != NULL && !json_is_null(props) && !json_is_array(props)) {
		*error_r = jmap_error_props("invalidArguments", "properties must "
		    "be an array of names or null", "properties", NULL);
		return false;
	}
	if (ids == NULL || json_is_null(ids)) {
		*ids_r = NULL;
		return true;
	}
	if (!json_is_array(ids)) {
		*error_r = jmap_error_props("invalidArguments", "ids must be an "
		    "array of ids or null", "ids", NULL);
		return false;
	}
	if (json_array_size(ids) > c->lim->max_objects_in_get) {
		*error_r = jmap_error("requestTooLarge", "at most %zu ids per get "
		    "(maxObjectsInGet)", c->lim->max_objects_in_get);
		return false;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_string(v)) {
			*error_r = jmap_error_props("invalidArguments", "ids must "
			    "be strings", "ids", NULL);
			return false;
		}
	*ids_r = ids;
	return true;
}

bool
api_window_args(struct api_ctx *c, json_t *args, int64_t *position_r,
		int64_t *limit_r, json_t **error_r)
{
	json_t *pos = json_object_get(args, "position");
	json_t *lim = json_object_get(args, "limit");

	if (pos != NULL && (!json_is_integer(pos) || json_integer_value(pos) < 0)) {
		*error_r = jmap_error_props("invalidArguments", "position is an "
		    "integer of 0 or more", "position", NULL);
		return false;
	}
	if (lim != NULL && (!json_is_integer(lim) || json_integer_value(lim) < 0)) {
		*error_r = jmap_error_props("invalidArguments", "limit is an "
		    "integer of 0 or more", "limit", NULL);
		return false;
	}
	*position_r = pos != NULL ? json_integer_value(pos) : 0;
	*limit_r = lim != NULL ? json_integer_value(lim) : QUERY_LIMIT_DEFAULT;
	if ((size_t)*limit_r > c->lim->max_objects_in_get)
		*limit_r = (int64_t)c->lim->max_objects_in_get;
	return true;
}

bool
api_query_args(struct api_ctx *c, json_t *args, const char *const *sortable,
	   struct query *q, json_t **error_r)
{
	json_t *filter = json_object_get(args, "filter");
	json_t *sort = json_object_get(args, "sort");
	json_t *pos = json_object_get(args, "position");
	json_t *lim = json_object_get(args, "limit");
	const char *key;
	json_t *v;

	memset(q, 0, sizeof(*q));
	q->sort = sortable[0];
	q->asc = true;
	q->limit = QUERY_LIMIT_DEFAULT;
	/* RFC 8620 5.5: calculateTotal is false unless asked for (a count of
	 * 100,000 rows is most of a first page's cost) */
	q->total = false;
	json_t *ct = json_object_get(args, "calculateTotal");
	if (ct != NULL && !json_is_null(ct)) {
		if (!json_is_boolean(ct)) {
			*error_r = jmap_error_props("invalidArguments", "calculateTotal "
			    "is true or false", "calculateTotal", NULL);
			return false;
		}
		q->total = json_is_true(ct);
	}
	if (!api_account_ok(args, error_r))
		return false;
	json_t *anchor = json_object_get(args, "anchor");
	json_t *aoff = json_object_get(args, "anchorOffset");
	if (anchor != NULL && !json_is_null(anchor)) {
		if (!json_is_string(anchor)) {
			*error_r = jmap_error_props("invalidArguments", "anchor is an "
			    "id", "anchor", NULL);
			return false;
		}
		q->anchor = json_string_value(anchor);
	}
	if (aoff != NULL && !json_is_null(aoff)) {
		if (!json_is_integer(aoff) || json_integer_value(aoff) < 0 ||
		    json_integer_value(aoff) > 1000) {
			*error_r = jmap_error_props("invalidArguments", "anchorOffset "
			    "is 0 to 1000 (keyset paging goes forward: the next "
			    "page starts at anchorOffset 1 from the last id)",
			    "anchorOffset", NULL);
			return false;
		}
		q->anchor_offset = json_integer_value(aoff);
	}
	if (filter != NULL && !json_is_null(filter)) {
		if (!json_is_object(filter)) {
			*error_r = jmap_error("unsupportedFilter", "filter must be "
			    "an object {text, postOffice}");
			return false;
		}
		json_object_foreach(filter, key, v) {
			if (strcmp(key, "text") == 0 && json_is_string(v) &&
			    json_string_length(v) <= SEARCH_MAX)
				q->text = json_string_value(v);
			else if (strcmp(key, "postOffice") == 0 && json_is_string(v))
				q->postoffice = json_string_value(v);
			else {
				*error_r = jmap_error("unsupportedFilter", "filter "
				    "takes text (a string of at most %d characters) "
				    "and postOffice; not %s", SEARCH_MAX, key);
				return false;
			}
		}
	}
	if (sort != NULL && !json_is_null(sort)) {
		json_t *s0 = json_array_get(sort, 0);
		const char *p = json_string_value(json_object_get(s0, "property"));
		json_t *asc = json_object_get(s0, "isAscending");
		bool ok = json_is_array(sort) && json_array_size(sort) <= 1 &&
		    (json_array_size(sort) == 0 || p != NULL);
		if (ok && p != NULL) {
			ok = false;
			for (size_t i = 0; sortable[i] != NULL; i++)
				if (strcmp(sortable[i], p) == 0) {
					q->sort = sortable[i];
					ok = true;
				}
			if (asc != NULL && !json_is_boolean(asc))
				ok = false;
			q->asc = asc == NULL || json_is_true(asc);
		}
		if (!ok) {
			char b[200] = "";
			for (size_t i = 0; sortable[i] != NULL; i++)
				snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%s",
				    i ? ", " : "", sortable[i]);
			*error_r = jmap_error("unsupportedSort", "sort by one "
			    "property of: %s (isAscending true or false)", b);
			return false;
		}
	}
	if (pos != NULL && !json_is_null(pos)) {
		if (!json_is_integer(pos)) {
			*error_r = jmap_error_props("invalidArguments", "position "
			    "must be an integer", "position", NULL);
			return false;
		}
		q->position = json_integer_value(pos);
	}
	if (lim != NULL && !json_is_null(lim)) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 0) {
			*error_r = jmap_error_props("invalidArguments", "limit must "
			    "be an integer of 0 or more", "limit", NULL);
			return false;
		}
		q->limit = json_integer_value(lim);
	}
	if ((size_t)q->limit > c->lim->max_objects_in_get)
		q->limit = (int64_t)c->lim->max_objects_in_get;
	return true;
}

/* api_like_pattern - %text% with the LIKE wildcards escaped (new string) */
char *
api_like_pattern(const char *text)
{
	struct buf b;

	buf_init(&b, 0);
	buf_putc(&b, '%');
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '%');
	return buf_steal(&b);
}

/* api_run_query - the ids of a page: sql_from is "FROM ... WHERE 1" with
 * the caller's conditions, which take ?1 (post office id or 0) and ?2
 * (pattern or NULL); id_sql the expression of the id; order the ORDER BY */
void
api_run_query(struct api_ctx *c, const struct query *q, const char *id_sql,
	  const char *from, const char *order, int64_t po_id, json_t **result_r,
	  json_t **error_r)
{
	const char *err;

	if (q->anchor != NULL) {
		*error_r = jmap_error_props("invalidArguments", "this query pages "
		    "with position; anchor (keyset paging) is for the big lists: "
		    "Mailbox, Group, List, ListMember, Queue and AuditEntry",
		    "anchor", NULL);
		return;
	}
	char *pat = q->pattern != NULL ? xstrdup(q->pattern) : q->text != NULL &&
	    *q->text != '\0' ? api_like_pattern(q->text) : NULL;
	int64_t total = -1;
	char *sql = xasprintf("SELECT count(*) %s", from);

	/* without calculateTotal the count is needed only for a position
	 * from the end */
	if ((q->total || q->position < 0) &&
	    db_query_int(c->db, &total, 0, &err, sql, "it", po_id, pat) < 0) {
		free(sql);
		free(pat);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	free(sql);
	int64_t pos = q->position;
	if (pos < 0)
		pos = total + pos < 0 ? 0 : total + pos;
	if (total >= 0 && pos > total) {
		/* RFC 8620 would answer no ids; a page past the end is an
		 * error here so that a client's paging mistake is seen */
		char b[160];
		snprintf(b, sizeof(b), "position %lld is past the end: there are "
		    "%lld", (long long)pos, (long long)total);
		free(pat);
		*error_r = jmap_error_props("invalidArguments", b, "position",
		    NULL);
		return;
	}
	json_t *ids = json_array();
	sql = xasprintf("SELECT %s %s ORDER BY %s LIMIT ?3 OFFSET ?4", id_sql,
	    from, order);
	struct db_stmt *st = db_query(c->db, &err, sql, "itii", po_id, pat,
	    q->limit, pos);
	free(sql);
	free(pat);
	if (st == NULL) {
		json_decref(ids);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	while (db_step(st, NULL) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_stmt_free(&st);
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I}", "accountId",
	    API_ACCOUNT, "queryState", "1", "canCalculateChanges", 0,
	    "position", (json_int_t)pos, "ids", ids, "limit",
	    (json_int_t)q->limit);
	if (q->total)
		json_object_set_new(*result_r, "total", json_integer(total));
}

/* api_keyset_answer - the /query answer of a keyset page: the ids of
 * st's first column (st is freed), the position (the rows before the
 * anchor, plus anchorOffset) and, when asked, the total */
json_t *
api_keyset_answer(struct db_stmt *st, const struct query *q, int64_t before,
    int64_t total)
{
	json_t *ids = json_array();
	while (db_step(st, NULL) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_stmt_free(&st);
	json_t *r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I}", "accountId",
	    API_ACCOUNT, "queryState", "1", "canCalculateChanges", 0,
	    "position", (json_int_t)(before + q->anchor_offset), "ids", ids,
	    "limit", (json_int_t)q->limit);
	if (q->total)
		json_object_set_new(r, "total", json_integer(total));
	return r;
}

void
api_run_keyset(struct api_ctx *c, const struct query *q, const char *key_col,
	       const char *from, int64_t scope, json_t **result_r,
	       json_t **error_r)
{
	const char *err;
	int64_t hit = 0, before = 0, total = -1;

	char *pat = q->pattern != NULL ? xstrdup(q->pattern) : q->text != NULL &&
	    *q->text != '\0' ? api_like_pattern(q->text) : NULL;
	char *sql = xasprintf("SELECT count(*) %s AND %s = ?3", from, key_col);
	if (db_query_int(c->db, &hit, 0, &err, sql, "itt", scope, pat,
	    q->anchor) < 0 || hit == 0) {
		free(sql);
		free(pat);
		*error_r = jmap_error("anchorNotFound", "anchor %.200s is not "
		    "among this query's results", q->anchor);
		return;
	}
	free(sql);
	const char *dir = q->asc ? "ASC" : "DESC";
	sql = xasprintf("SELECT count(*) %s AND %s %s ?3", from, key_col,
	    q->asc ? "<" : ">");
	char *sql_total = xasprintf("SELECT count(*) %s", from);
	if (db_query_int(c->db, &before, 0, &err, sql, "itt", scope, pat,
	    q->anchor) < 0 || (q->total && db_query_int(c->db, &total, 0, &err,
	    sql_total, "it", scope, pat) < 0)) {
		free(sql);
		free(sql_total);
		free(pat);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	free(sql);
	free(sql_total);
	sql = xasprintf("SELECT %s %s AND %s %s= ?3 ORDER BY %s %s LIMIT ?4 "
	    "OFFSET ?5", key_col, from, key_col, q->asc ? ">" : "<", key_col,
	    dir);
	struct db_stmt *st = db_query(c->db, &err, sql, "ittii", scope, pat,
	    q->anchor, q->limit, q->anchor_offset);
	free(sql);
	free(pat);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	*result_r = api_keyset_answer(st, q, before, total);
}

bool
api_keyset_order(const struct query *q, const char *key, json_t **error_r)
{
	if (q->anchor == NULL || strcmp(q->sort, key) == 0)
		return true;
	char b[200];
	snprintf(b, sizeof(b), "anchor pages the %s order (sort by %s); other "
	    "orders page with position", key, key);
	*error_r = jmap_error_props("invalidArguments", b, "anchor", NULL);
	return false;
}

/* api_query_scope - the post office a query is limited to (0: all), or
 * -1 with the error: filter.postOffice within the actor's scope */
int64_t
api_query_scope(struct api_ctx *c, const struct query *q, json_t **error_r)
{
	int64_t id;
	const char *err;

	if (q->postoffice == NULL)
		return c->actor->scope_po;
	if (adm_object_id(c->db, ADM_POSTOFFICE, q->postoffice, &id, &err) < 0 ||
	    !api_po_visible(c->actor, id)) {
		*error_r = jmap_error_props("invalidArguments", "filter.postOffice: "
		    "no such post office", "filter", NULL);
		return -1;
	}
	return id;
}

/* api_set_args - create/update/destroy of a /set, within maxObjectsInSet */
bool
api_set_args(struct api_ctx *c, json_t *args, json_t **create, json_t **update,
	 json_t **destroy, json_t **error_r)
{
	*create = json_object_get(args, "create");
	*update = json_object_get(args, "update");
	*destroy = json_object_get(args, "destroy");
	if (!api_account_ok(args, error_r))
		return false;
	if ((*create != NULL && !json_is_null(*create) && !json_is_object(*create)) ||
	    (*update != NULL && !json_is_null(*update) && !json_is_object(*update)) ||
	    (*destroy != NULL && !json_is_null(*destroy) && !json_is_array(*destroy))) {
		*error_r = jmap_error("invalidArguments", "create and update are "
		    "objects, destroy an array of ids");
		return false;
	}
	size_t n = json_object_size(*create) + json_object_size(*update) +
	    json_array_size(*destroy);
	if (n > c->lim->max_objects_in_set) {
		*error_r = jmap_error("requestTooLarge", "at most %zu changes per "
		    "set (maxObjectsInSet)", c->lim->max_objects_in_set);
		return false;
	}
	return true;
}

json_t *
api_set_result(void)
{
	return json_pack("{s:s,s:s,s:s,s:{},s:{},s:[],s:{},s:{},s:{}}",
	    "accountId", API_ACCOUNT, "oldState", "1", "newState", "1",
	    "created", "updated", "destroyed", "notCreated", "notUpdated",
	    "notDestroyed");
}

void
api_set_fail(json_t *res, const char *what, const char *id, json_t *err)
{
	json_object_set_new(json_object_get(res, what), id, err);
}

/* api_apply_fields - set each property of patch that is a field of kind
 * (skipping those in skip); one adm_object_set each: 0, or -1 with the
 * SetError */
int
api_apply_fields(struct api_ctx *c, enum adm_kind kind, const char *ident,
	     json_t *patch, const char *const *skip, json_t **error_r)
{
	const struct field_def *defs = adm_kind_fields(kind);
	const char *key, *err, *why;
	json_t *v;

	json_object_foreach(patch, key, v) {
		bool skipped = false;
		for (size_t i = 0; skip[i] != NULL; i++)
			if (strcmp(skip[i], key) == 0)
				skipped = true;
		if (skipped)
			continue;
		const struct field_def *f = api_prop_field(defs, key);
		if (f == NULL) {
			char b[200];
			snprintf(b, sizeof(b), "a %s has no property %s",
			    adm_kind_name(kind), key);
			*error_r = jmap_error_props("invalidProperties", b, key, NULL);
			return -1;
		}
		char *in = api_field_input(f, v, &why);
		if (in == NULL) {
			char b[200];
			snprintf(b, sizeof(b), "%s %s", key, why);
			*error_r = jmap_error_props("invalidProperties", b, key, NULL);
			return -1;
		}
		int r = adm_object_set(c->db, kind, ident, f->name, in, &err);
		free(in);
		if (r != ADM_OK) {
			*error_r = api_set_error(r, err, key);
			return -1;
		}
	}
	return 0;
}

/* api_patch_summary - "a=1, b=x" of a patch for the audit line, secrets and
 * passwords hidden (static per thread) */
const char *
api_patch_summary(json_t *patch)
{
	static __thread char b[600];
	const char *key;
	json_t *v;

	b[0] = '\0';
	json_object_foreach(patch, key, v) {
		char *s;
		if (strstr(key, "password") != NULL)
			s = xstrdup("***");
		else if (json_is_object(v) && json_object_get(v, "password")) {
			/* popAdd {..., password}: the rest, not the secret */
			json_t *cp = json_copy(v);
			json_object_set_new(cp, "password", json_string("***"));
			s = json_dumps(cp, JSON_COMPACT);
			json_decref(cp);
		} else
			s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		size_t n = strlen(b);
		snprintf(b + n, sizeof(b) - n, "%s%s=%.80s", n ? " " : "", key,
		    s != NULL ? s : "?");
		free(s);
	}
	return b;
}

/* api_named_get - the common /get of objects named by their name column */
void
api_named_get(struct api_ctx *c, json_t *args, enum adm_kind kind,
	  json_t *(*one)(struct db *, int64_t, const char *, json_t *),
	  const char *all_sql, json_t **result_r, json_t **error_r)
{
	json_t *ids, *list = json_array(), *nf = json_array(), *v;
	json_t *props = json_object_get(args, "properties");
	const char *err;
	size_t i;

	if (!api_get_ids(c, args, &ids, error_r)) {
		json_decref(list);
		json_decref(nf);
		return;
	}
	if (ids == NULL) {
		/* every visible one, bounded by maxObjectsInGet */
		struct db_stmt *st = db_query(c->db, &err, all_sql, "ii",
		    c->actor->scope_po, (int64_t)c->lim->max_objects_in_get + 1);
		ids = json_array();
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(ids, json_string(db_col_text(st, 0)));
		db_stmt_free(&st);
		if (json_array_size(ids) > c->lim->max_objects_in_get) {
			json_decref(ids);
			json_decref(list);
			json_decref(nf);
			*error_r = jmap_error("requestTooLarge", "more than %zu "
			    "objects: use %s/query to page", c->lim->max_objects_in_get,
			    adm_kind_name(kind));
			return;
		}
	} else
		json_incref(ids);
	json_array_foreach(ids, i, v) {
		const char *ident = json_string_value(v);
		int64_t id, po_id;
		if (api_ident_po(c->db, kind, ident, &id, &po_id) < 0 ||
		    !api_po_visible(c->actor, po_id)) {
			json_array_append(nf, v);
			continue;
		}
		json_array_append_new(list, one(c->db, id, ident, props));
	}
	json_decref(ids);
	/* the type's state, as /set and /changes give it (RFC 8620 5.1) */
	static const char *const types[] = { [ADM_POSTOFFICE] = "PostOffice",
	    [ADM_DOMAIN] = "Domain", [ADM_MAILBOX] = "Mailbox",
	    [ADM_GROUP] = "Group", [ADM_LIST] = "List" };
	json_t *state = api_state_of(c, types[kind]);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", state != NULL ? state : json_string("0"), "list", list,
	    "notFound", nf);
}

bool
api_no_state(json_t *args, json_t **error_r)
{
	json_t *s = json_object_get(args, "ifInState");

	if (s == NULL || json_is_null(s))
		return true;
	*error_r = jmap_error_props("invalidArguments", "this /set keeps no "
	    "state: ifInState is for PostOffice, Domain, Mailbox, Group, List "
	    "and Queue", "ifInState", NULL);
	return false;
}

void
api_set_done(json_t *res, const char *what, const char *id, json_t *v)
{
	if (strcmp(what, "destroyed") == 0) {
		json_array_append_new(json_object_get(res, what), json_string(id));
		json_decref(v);
	} else
		json_object_set_new(json_object_get(res, what), id,
		    v != NULL ? v : json_null());
}

int
api_tx(struct api_ctx *c, bool *outer, json_t *res, const char *what,
       const char *key)
{
	const char *err;

	if (adm_tx_begin(c->db, outer, &err) < 0) {
		api_set_fail(res, what, key, api_set_error(ADM_BUSY, err, NULL));
		return -1;
	}
	return 0;
}

json_t *
api_tx_close(struct api_ctx *c, bool outer, json_t *e, json_t *res,
	     const char *what, const char *key)
{
	const char *err;

	if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
		e = api_set_error(ADM_FAIL, err, NULL);
	if (e != NULL)
		api_set_fail(res, what, key, e);
	return e;
}

json_t *
api_state_of(struct api_ctx *c, const char *type)
{
	sqlite3 *h = api_audit_db(c);
	const char *err;
	int64_t s = 0;

	if (h == NULL || audit_state(h, type, &s, &err) < 0)
		return NULL;
	return json_sprintf("%lld", (long long)s);
}

/* creation_id - the id an update or destroy key names: itself, or for
 * "#k" the id of the object created as k (NULL: none) */
static const char *
creation_id(json_t *created, const char *key)
{
	if (key[0] != '#')
		return key;
	return json_string_value(json_object_get(json_object_get(created,
	    key + 1), "id"));
}

void
api_set_run(struct api_ctx *c, json_t *args, const struct api_set_ops *ops,
	    json_t **result_r, json_t **error_r)
{
	json_t *create, *update, *destroy, *v;
	const char *key, *err;
	bool outer;
	size_t i;

	if (!api_set_args(c, args, &create, &update, &destroy, error_r))
		return;
	if ((json_object_size(create) > 0 && ops->create == NULL) ||
	    (json_object_size(update) > 0 && ops->update == NULL) ||
	    (json_array_size(destroy) > 0 && ops->destroy == NULL)) {
		*error_r = jmap_error("invalidArguments", "%s/set takes %s%s%s",
		    ops->type, ops->create ? "create " : "", ops->update ?
		    "update " : "", ops->destroy ? "destroy" : "");
		return;
	}
	json_t *if_in = json_object_get(args, "ifInState");
	if (if_in != NULL && !json_is_null(if_in) && !json_is_string(if_in)) {
		*error_r = jmap_error_props("invalidArguments", "ifInState is a "
		    "state string from a /get or /set", "ifInState", NULL);
		return;
	}
	/* the whole set is one transaction (each entry a savepoint in it):
	 * the state is checked and the audit rows written while this
	 * request holds the config store's write lock, so a state can
	 * neither be passed by two writers nor change unseen */
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		*error_r = jmap_error("serverFail", "the config store is busy; "
		    "try again (%s)", err);
		return;
	}
	json_t *old = api_state_of(c, ops->type);
	if (old == NULL) {
		(void)adm_tx_end(c->db, outer, false, &err);
		*error_r = jmap_error("serverFail", "the audit store cannot be "
		    "read");
		return;
	}
	if (if_in != NULL && json_is_string(if_in) && !json_equal(if_in, old)) {
		(void)adm_tx_end(c->db, outer, false, &err);
		*error_r = jmap_error("stateMismatch", "the %ss changed since "
		    "state %s (now %s): get them again and retry", ops->type,
		    json_string_value(if_in), json_string_value(old));
		json_decref(old);
		return;
	}
	json_t *res = api_set_result();
	json_object_set_new(res, "oldState", old);
	json_object_foreach(create, key, v)
		ops->create(c, key, v, res);
	/* RFC 8620 5.3: "#creationId" names an object created above, in
	 * this /set (those of earlier calls jmap.c resolved already) */
	json_t *made = json_object_get(res, "created");
	json_object_foreach(update, key, v) {
		const char *id = creation_id(made, key);
		if (id == NULL)
			api_set_fail(res, "notUpdated", key, jmap_error("notFound",
			    "%.200s names no object created in this request",
			    key));
		else
			ops->update(c, id, v, res);
	}
	json_array_foreach(destroy, i, v) {
		const char *id = json_is_string(v) ? creation_id(made,
		    json_string_value(v)) : NULL;
		if (!json_is_string(v)) {
			api_set_fail(res, "notDestroyed", "?", jmap_error("notFound",
			    "ids are strings"));
			continue;
		}
		if (id == NULL) {
			api_set_fail(res, "notDestroyed", json_string_value(v),
			    jmap_error("notFound", "%.200s names no object "
			    "created in this request", json_string_value(v)));
			continue;
		}
		ops->destroy(c, id, args, res);
	}
	if (adm_tx_end(c->db, outer, true, &err) < 0) {
		json_decref(res);
		*error_r = jmap_error("serverFail", "the changes could not be "
		    "committed: %s", err);
		return;
	}
	json_t *now = api_state_of(c, ops->type);
	json_object_set_new(res, "newState", now != NULL ? now :
	    json_string("0"));
	*result_r = res;
}

/* Type/changes (RFC 8620 5.2) from the audit store: what changed after
 * sinceState, each id once, in its last role (created then destroyed
 * within the range: only destroyed) */
void
api_changes(struct api_ctx *c, json_t *args, const char *type,
	    json_t **result_r, json_t **error_r)
{
	json_t *since = json_object_get(args, "sinceState");
	json_t *maxc = json_object_get(args, "maxChanges");
	long long s;
	sqlite3 *h;

	if (!api_account_ok(args, error_r))
		return;
	if (!json_is_string(since) || parse_long(json_string_value(since), 0,
	    INT64_MAX, &s) < 0) {
		*error_r = jmap_error_props("invalidArguments", "sinceState is "
		    "a state string from a /get, /set or /changes",
		    "sinceState", NULL);
		return;
	}
	int64_t max = 500;
	if (maxc != NULL && !json_is_null(maxc)) {
		if (!json_is_integer(maxc) || json_integer_value(maxc) <= 0) {
			*error_r = jmap_error_props("invalidArguments", "maxChanges "
			    "is a positive integer", "maxChanges", NULL);
			return;
		}
		if (json_integer_value(maxc) < max)
			max = json_integer_value(maxc);
	}
	if ((h = api_audit_db(c)) == NULL) {
		*error_r = jmap_error("serverFail", "the audit store cannot be "
		    "read");
		return;
	}
	int64_t now = 0;
	const char *err;
	if (audit_state(h, type, &now, &err) < 0 || s > now) {
		*error_r = jmap_error("cannotCalculateChanges", "state %lld is "
		    "not one this server gave (the newest is %lld)", s,
		    (long long)now);
		return;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h, "SELECT id, object, op FROM audit WHERE type "
	    "= ?1 AND id > ?2 AND (?3 = '' OR postoffice = ?3) ORDER BY id "
	    "LIMIT ?4", -1, &st, NULL) != SQLITE_OK) {
		*error_r = jmap_error("serverFail", "%s", sqlite3_errmsg(h));
		return;
	}
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, s);
	sqlite3_bind_text(st, 3, c->actor->scope_po ? c->actor->scope_name : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, max + 1);
	json_t *role = json_object();   /* id -> "created"|"updated"|"destroyed" */
	int64_t last = s, n = 0;
	bool more = false;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ == max) {
			more = true;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		const char *obj = (const char *)sqlite3_column_text(st, 1);
		const char *op = (const char *)sqlite3_column_text(st, 2);
		const char *was = json_string_value(json_object_get(role, obj));
		const char *r = strcmp(op, "create") == 0 ? "created" :
		    strcmp(op, "destroy") == 0 ? "destroyed" : "updated";
		if (was != NULL && strcmp(was, "created") == 0 &&
		    strcmp(r, "updated") == 0)
			r = "created";
		json_object_set_new(role, obj, json_string(r));
	}
	sqlite3_finalize(st);
	if (!more)
		last = now;
	json_t *cr = json_array(), *up = json_array(), *de = json_array(), *v;
	const char *key;
	json_object_foreach(role, key, v) {
		const char *r = json_string_value(v);
		json_array_append_new(r[0] == 'c' ? cr : r[0] == 'u' ? up : de,
		    json_string(key));
	}
	json_decref(role);
	*result_r = json_pack("{s:s,s:O,s:o,s:b,s:o,s:o,s:o}", "accountId",
	    API_ACCOUNT, "oldState", since, "newState", json_sprintf("%lld",
	    (long long)last), "hasMoreChanges", more, "created", cr,
	    "updated", up, "destroyed", de);
}

void
api_destroyed(struct api_ctx *c, json_t *res, const char *type,
	      const char *ident, const char *po, int r, const char *err,
	      const char *text)
{
	if (r != ADM_OK) {
		api_set_fail(res, "notDestroyed", ident, api_set_error(r, err,
		    NULL));
		return;
	}
	(void)api_audit(c, type, ident, "destroy", po, "%s", text);
	api_set_done(res, "destroyed", ident, NULL);
}

void
api_po_name(struct db *db, int64_t po_id, char *out, size_t size)
{
	char *pn = NULL;
	const char *err;

	out[0] = '\0';
	if (db_query_text(db, &pn, &err, "SELECT name FROM postoffice WHERE id "
	    "= ?", "i", po_id) == 0 && pn != NULL)
		snprintf(out, size, "%s", pn);
	free(pn);
}

int
api_ident_po(struct db *db, enum adm_kind kind, const char *ident,
	     int64_t *id_r, int64_t *po_r)
{
	const char *err;

	if (adm_object_id(db, kind, ident, id_r, &err) < 0)
		return -1;
	if (kind == ADM_POSTOFFICE) {
		*po_r = *id_r;
		return 0;
	}
	char *sql = xasprintf("SELECT postoffice_id FROM %s WHERE id = ?",
	    adm_kind_table(kind));
	int r = db_query_int(db, po_r, 0, &err, sql, "i", *id_r);
	free(sql);
	return r;
}

/* api_arrays_apply - the arrays v[keys[0]] (added) and v[keys[1]]
 * (removed) of ident through add/del (lib-admin), an item at a time: NULL
 * or the SetError naming the property and the item (what: "an address") */
json_t *
api_arrays_apply(struct api_ctx *c, const char *ident, json_t *v,
		 const char *const keys[2], const char *what,
		 int (*add)(struct db *, const char *, const char *,
			    const char **),
		 int (*del)(struct db *, const char *, const char *,
			    const char **))
{
	const char *err;
	size_t i;
	json_t *m;

	for (int k = 0; k < 2; k++) {
		json_t *arr = json_object_get(v, keys[k]);
		if (arr == NULL)
			continue;
		if (!json_is_array(arr)) {
			char b[200];
			snprintf(b, sizeof(b), "%s is an array: each %s", keys[k],
			    what);
			return jmap_error_props("invalidProperties", b, keys[k],
			    NULL);
		}
		json_array_foreach(arr, i, m) {
			const char *a = json_string_value(m);
			int r = a == NULL ? ADM_INVALID : k == 0 ?
			    add(c->db, ident, a, &err) : del(c->db, ident, a, &err);
			if (r != ADM_OK) {
				char b[400];
				snprintf(b, sizeof(b), "%s[%zu]: %s", keys[k], i,
				    a == NULL ? "not a string" : err);
				return api_set_error(r == ADM_NOTFOUND && k == 0 ?
				    ADM_INVALID : r, b, keys[k]);
			}
		}
	}
	return NULL;
}

json_t *
api_members_apply(struct api_ctx *c, const char *ident, json_t *v,
	      int (*add)(struct db *, const char *, const char *,
			 const char **),
	      int (*del)(struct db *, const char *, const char *,
			 const char **))
{
	static const char *const keys[] = { "addMembers", "removeMembers" };

	return api_arrays_apply(c, ident, v, keys, "an address", add, del);
}

const char *
api_import_summary(json_t *patch, json_t *summary)
{
	static __thread char b[700];
	json_t *rest = json_copy(patch);

	json_object_del(rest, "importMembers");
	snprintf(b, sizeof(b), "importMembers imported=%lld failed=%lld%s%s",
	    (long long)json_integer_value(json_object_get(summary, "imported")),
	    (long long)json_integer_value(json_object_get(summary, "failed")),
	    json_object_size(rest) > 0 ? " " : "", json_object_size(rest) > 0 ?
	    api_patch_summary(rest) : "");
	json_decref(rest);
	return b;
}

struct import_ctx {
	json_t *errors;
};

static void
import_bad(void *ctx, size_t line, const char *why)
{
	struct import_ctx *ic = ctx;

	if (json_array_size(ic->errors) < IMPORT_ERRORS_MAX)
		json_array_append_new(ic->errors, json_pack("{s:I,s:s}", "line",
		    (json_int_t)line, "message", why));
}

json_t *
api_members_import(struct api_ctx *c, enum adm_kind kind, const char *ident,
		   json_t *v, json_t **summary_r)
{
	json_t *x = json_object_get(v, "importMembers");
	const char *err;
	size_t ok, bad;

	*summary_r = NULL;
	if (x == NULL)
		return NULL;
	json_t *csv = json_object_get(x, "csv"), *atomic = json_object_get(x,
	    "atomic");
	if (!json_is_object(x) || !json_is_string(csv) || (atomic != NULL &&
	    !json_is_boolean(atomic)))
		return jmap_error_props("invalidProperties", "importMembers is "
		    "{csv: the file's text (address[,name] per line), atomic?: "
		    "true or false}", "importMembers", NULL);
	struct import_ctx ic = { json_array() };
	int r = adm_members_import(c->db, kind, ident, json_string_value(csv),
	    json_string_length(csv), json_is_true(atomic), import_bad, &ic, &ok,
	    &bad, &err);
	if (r != ADM_OK) {
		json_decref(ic.errors);
		return api_set_error(r, err, "importMembers");
	}
	if (json_is_true(atomic) && bad > 0) {
		char b[200];
		snprintf(b, sizeof(b), "%zu bad line%s: nothing imported (atomic)",
		    bad, bad == 1 ? "" : "s");
		json_t *e = jmap_error_props("invalidProperties", b,
		    "importMembers", NULL);
		json_object_set_new(e, "errors", ic.errors);
		return e;
	}
	*summary_r = json_pack("{s:I,s:I,s:o}", "imported", (json_int_t)ok,
	    "failed", (json_int_t)bad, "errors", ic.errors);
	return NULL;
}

/* Core/echo (RFC 8620 4) */
static void
core_echo(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	(void)ctx;
	(void)error_r;
	*result_r = json_deep_copy(args);
}

static const struct jmap_method core_methods[] = {
	{ "Core/echo", JMAP_CORE, core_echo },
	{ NULL, NULL, NULL },
};

const struct jmap_method *const api_admin_tables[] = {
	core_methods, api_postoffice_methods, api_domain_methods,
	api_mailbox_methods, api_group_methods, api_list_methods,
	api_queue_methods, api_setting_methods, api_session_methods,
	api_audit_methods, api_diag_methods, api_messages_methods,
	api_users_methods, api_loginsec_methods, api_chat_methods,
	api_traffic_methods, api_branding_methods, api_filter_methods,
	api_quarantine_methods, api_sendlimit_methods, api_reports_methods,
	api_maint_methods, api_tasks_methods,
	NULL,
};
