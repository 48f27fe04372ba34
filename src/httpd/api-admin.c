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
 * an audit line with the actor. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "diag.h"
#include "directory.h"
#include "fields.h"
#include "settings.h"
#include "strutil.h"
#include "webauth.h"
#include "xalloc.h"

#define QUERY_LIMIT_DEFAULT 50
#define SEARCH_MAX 200

/* the web admin limits of a post office (5.3.6) */
struct po_limits {
	int64_t id;
	bool edit_mailboxes, select_size, edit_domains;
	int64_t max_mailboxes, max_kb, default_kb;
};

/* ---- helpers ---------------------------------------------------------- */

/* account_ok - accountId, when given, is ours */
static bool
account_ok(json_t *args, json_t **error_r)
{
	json_t *a = json_object_get(args, "accountId");

	if (a == NULL || json_is_null(a) ||
	    (json_is_string(a) && strcmp(json_string_value(a), API_ACCOUNT) == 0))
		return true;
	*error_r = jmap_error("accountNotFound", "the only account is \""
	    API_ACCOUNT "\"");
	return false;
}

static bool
sysadmin_all(const struct api_actor *a)
{
	return a->sysadmin && a->scope_po == 0;
}

static bool
po_visible(const struct api_actor *a, int64_t po_id)
{
	return a->scope_po == 0 || a->scope_po == po_id;
}

/* limits_load - the webadmin_* settings of post office po_id */
static int
limits_load(struct db *db, int64_t po_id, struct po_limits *l)
{
	const char *err;
	sqlite3_stmt *st = db_query(db, &err, "SELECT webadmin_edit_mailboxes, "
	    "webadmin_select_size, webadmin_edit_domains, webadmin_max_mailboxes, "
	    "webadmin_max_mailbox_kb, webadmin_default_mailbox_kb FROM postoffice "
	    "WHERE id = ?", "i", po_id);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -1;
	}
	l->id = po_id;
	l->edit_mailboxes = sqlite3_column_int(st, 0);
	l->select_size = sqlite3_column_int(st, 1);
	l->edit_domains = sqlite3_column_int(st, 2);
	l->max_mailboxes = sqlite3_column_int64(st, 3);
	l->max_kb = sqlite3_column_int64(st, 4);
	l->default_kb = sqlite3_column_int64(st, 5);
	sqlite3_finalize(st);
	return 0;
}

/* adm_set_error - a SetError for an adm_status; prop names the property
 * at fault for ADM_INVALID (NULL: none known) */
static json_t *
adm_set_error(int r, const char *err, const char *prop)
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

/* prop_field - the field of a JSON property name (name, name_kb, name_s) */
static const struct field_def *
prop_field(const struct field_def *defs, const char *prop)
{
	for (const struct field_def *f = defs; f->name != NULL; f++)
		if (strcmp(field_json_name(f), prop) == 0)
			return f;
	return NULL;
}

/* field_input - a JSON value as the text input field_parse takes (new
 * string), or NULL with *why_r */
static char *
field_input(const struct field_def *f, json_t *v, const char **why_r)
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

/* field_json - the stored form of a field as a JSON value */
static json_t *
field_json(const struct field_def *f, const char *v)
{
	if (f->flags & FIELD_SECRET)
		return json_boolean(*v != '\0');   /* set or not, never the value */
	if (f->type == FT_BOOL)
		return json_boolean(strtoll(v, NULL, 10));
	if (field_is_numeric(f))
		return json_integer(strtoll(v, NULL, 10));
	return json_string(v);
}

/* wanted - whether property p is asked for (properties null: all) */
static bool
wanted(json_t *props, const char *p)
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

/* object_json - an object's fields (those asked for) */
static json_t *
object_json(struct db *db, enum adm_kind kind, int64_t id, json_t *props)
{
	const struct field_def *fields = adm_kind_fields(kind);
	json_t *o = json_object();
	const char *err;

	for (const struct field_def *f = fields; f->name; f++) {
		const char *key = field_json_name(f);
		char *v = NULL;
		if (!wanted(props, key))
			continue;
		char k[96];
		snprintf(k, sizeof(k), "%s", key);
		if (dir_object_field(db, kind_words[kind], id, f->name, &v, &err) == 0)
			json_object_set_new(o, k, field_json(f, v));
		free(v);
	}
	return o;
}

/* get_ids - the ids argument of a /get: an array of strings, or null */
static bool
get_ids(struct api_ctx *c, json_t *args, json_t **ids_r, json_t **error_r)
{
	json_t *ids = json_object_get(args, "ids");
	json_t *props = json_object_get(args, "properties");
	size_t i;
	json_t *v;

	if (!account_ok(args, error_r))
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

/* query args */
struct query {
	const char *text;         /* filter.text, or NULL */
	const char *postoffice;   /* filter.postOffice, or NULL */
	const char *sort;         /* property */
	bool asc;
	int64_t position, limit;
};

static bool
query_args(struct api_ctx *c, json_t *args, const char *const *sortable,
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
	if (!account_ok(args, error_r))
		return false;
	if (json_object_get(args, "anchor") != NULL &&
	    !json_is_null(json_object_get(args, "anchor"))) {
		*error_r = jmap_error_props("invalidArguments", "anchor is not "
		    "supported yet: page with position", "anchor", NULL);
		return false;
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

/* like_pattern - %text% with the LIKE wildcards escaped (new string) */
static char *
like_pattern(const char *text)
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

/* run_query - the ids of a page: sql_from is "FROM ... WHERE 1" with
 * the caller's conditions, which take ?1 (post office id or 0) and ?2
 * (pattern or NULL); id_sql the expression of the id; order the ORDER BY */
static void
run_query(struct api_ctx *c, const struct query *q, const char *id_sql,
	  const char *from, const char *order, int64_t po_id, json_t **result_r,
	  json_t **error_r)
{
	const char *err;
	char *pat = q->text != NULL && *q->text != '\0' ? like_pattern(q->text) :
	    NULL;
	int64_t total;
	char *sql = xasprintf("SELECT count(*) %s", from);

	if (db_query_int(c->db, &total, 0, &err, sql, "it", po_id, pat) < 0) {
		free(sql);
		free(pat);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	free(sql);
	int64_t pos = q->position;
	if (pos < 0)
		pos = total + pos < 0 ? 0 : total + pos;
	json_t *ids = json_array();
	sql = xasprintf("SELECT %s %s ORDER BY %s LIMIT ?3 OFFSET ?4", id_sql,
	    from, order);
	sqlite3_stmt *st = db_query(c->db, &err, sql, "itii", po_id, pat,
	    q->limit, pos);
	free(sql);
	free(pat);
	if (st == NULL) {
		json_decref(ids);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ids, json_string((const char *)
		    sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I,s:I}", "accountId",
	    API_ACCOUNT, "queryState", "1", "canCalculateChanges", 0,
	    "position", (json_int_t)pos, "ids", ids, "total", (json_int_t)total,
	    "limit", (json_int_t)q->limit);
}

/* scope_of_query - the post office a query is limited to (0: all), or
 * -1 with the error: filter.postOffice within the actor's scope */
static int64_t
scope_of_query(struct api_ctx *c, const struct query *q, json_t **error_r)
{
	int64_t id;
	const char *err;

	if (q->postoffice == NULL)
		return c->actor->scope_po;
	if (adm_object_id(c->db, ADM_POSTOFFICE, q->postoffice, &id, &err) < 0 ||
	    !po_visible(c->actor, id)) {
		*error_r = jmap_error_props("invalidArguments", "filter.postOffice: "
		    "no such post office", "filter", NULL);
		return -1;
	}
	return id;
}

/* set_args - create/update/destroy of a /set, within maxObjectsInSet */
static bool
set_args(struct api_ctx *c, json_t *args, json_t **create, json_t **update,
	 json_t **destroy, json_t **error_r)
{
	*create = json_object_get(args, "create");
	*update = json_object_get(args, "update");
	*destroy = json_object_get(args, "destroy");
	if (!account_ok(args, error_r))
		return false;
	if (json_object_get(args, "ifInState") != NULL &&
	    !json_is_null(json_object_get(args, "ifInState"))) {
		*error_r = jmap_error_props("invalidArguments", "ifInState is not "
		    "supported yet", "ifInState", NULL);
		return false;
	}
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

static json_t *
set_result(void)
{
	return json_pack("{s:s,s:s,s:s,s:{},s:{},s:[],s:{},s:{},s:{}}",
	    "accountId", API_ACCOUNT, "oldState", "1", "newState", "1",
	    "created", "updated", "destroyed", "notCreated", "notUpdated",
	    "notDestroyed");
}

static void
set_fail(json_t *res, const char *what, const char *id, json_t *err)
{
	json_object_set_new(json_object_get(res, what), id, err);
}

/* apply_fields - set each property of patch that is a field of kind
 * (skipping those in skip); one adm_object_set each: 0, or -1 with the
 * SetError */
static int
apply_fields(struct api_ctx *c, enum adm_kind kind, const char *ident,
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
		const struct field_def *f = prop_field(defs, key);
		if (f == NULL) {
			char b[200];
			snprintf(b, sizeof(b), "a %s has no property %s",
			    adm_kind_name(kind), key);
			*error_r = jmap_error_props("invalidProperties", b, key, NULL);
			return -1;
		}
		char *in = field_input(f, v, &why);
		if (in == NULL) {
			char b[200];
			snprintf(b, sizeof(b), "%s %s", key, why);
			*error_r = jmap_error_props("invalidProperties", b, key, NULL);
			return -1;
		}
		int r = adm_object_set(c->db, kind, ident, f->name, in, &err);
		free(in);
		if (r != ADM_OK) {
			*error_r = adm_set_error(r, err, key);
			return -1;
		}
	}
	return 0;
}

/* patch_summary - "a=1, b=x" of a patch for the audit line, secrets and
 * passwords hidden (static per thread) */
static const char *
patch_summary(json_t *patch)
{
	static __thread char b[600];
	const char *key;
	json_t *v;

	b[0] = '\0';
	json_object_foreach(patch, key, v) {
		char *s = strstr(key, "password") != NULL ? xstrdup("***") :
		    json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		size_t n = strlen(b);
		snprintf(b + n, sizeof(b) - n, "%s%s=%.80s", n ? " " : "", key,
		    s != NULL ? s : "?");
		free(s);
	}
	return b;
}

/* ---- PostOffice ----------------------------------------------------- */

static json_t *
postoffice_json(struct db *db, int64_t id, const char *name, json_t *props)
{
	json_t *o = object_json(db, ADM_POSTOFFICE, id, props);
	const char *err;
	int64_t n;

	json_object_set_new(o, "id", json_string(name));
	if (wanted(props, "name"))
		json_object_set_new(o, "name", json_string(name));
	if (wanted(props, "mailboxCount") && db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM mailbox WHERE postoffice_id = ?", "i", id) == 0)
		json_object_set_new(o, "mailboxCount", json_integer(n));
	if (wanted(props, "domainCount") && db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM domain WHERE postoffice_id = ?", "i", id) == 0)
		json_object_set_new(o, "domainCount", json_integer(n));
	return o;
}

/* named_get - the common /get of objects named by their name column */
static void
named_get(struct api_ctx *c, json_t *args, enum adm_kind kind,
	  json_t *(*one)(struct db *, int64_t, const char *, json_t *),
	  const char *all_sql, json_t **result_r, json_t **error_r)
{
	json_t *ids, *list = json_array(), *nf = json_array(), *v;
	json_t *props = json_object_get(args, "properties");
	const char *err;
	size_t i;

	if (!get_ids(c, args, &ids, error_r)) {
		json_decref(list);
		json_decref(nf);
		return;
	}
	if (ids == NULL) {
		/* every visible one, bounded by maxObjectsInGet */
		sqlite3_stmt *st = db_query(c->db, &err, all_sql, "ii",
		    c->actor->scope_po, (int64_t)c->lim->max_objects_in_get + 1);
		ids = json_array();
		while (st != NULL && sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(ids, json_string((const char *)
			    sqlite3_column_text(st, 0)));
		sqlite3_finalize(st);
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
		if (adm_object_id(c->db, kind, ident, &id, &err) < 0 ||
		    db_query_int(c->db, &po_id, 0, &err, kind == ADM_POSTOFFICE ?
		    "SELECT ?" : kind == ADM_DOMAIN ? "SELECT postoffice_id FROM "
		    "domain WHERE id = ?" : "SELECT postoffice_id FROM mailbox "
		    "WHERE id = ?", "i", id) < 0 || !po_visible(c->actor, po_id)) {
			json_array_append(nf, v);
			continue;
		}
		json_array_append_new(list, one(c->db, id, ident, props));
	}
	json_decref(ids);
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound", nf);
}

static void
postoffice_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	named_get(ctx, args, ADM_POSTOFFICE, postoffice_json, "SELECT name FROM "
	    "postoffice WHERE ?1 = 0 OR id = ?1 ORDER BY name LIMIT ?2", result_r,
	    error_r);
}

static void
postoffice_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "name", "created", NULL };
	struct query q;

	if (!query_args(c, args, sortable, &q, error_r))
		return;
	if (q.postoffice != NULL) {
		*error_r = jmap_error("unsupportedFilter", "post offices filter "
		    "by text only");
		return;
	}
	char order[64];
	snprintf(order, sizeof(order), "%s %s, id", strcmp(q.sort, "name") == 0 ?
	    "name" : "id", q.asc ? "ASC" : "DESC");
	run_query(c, &q, "name", "FROM postoffice WHERE (?1 = 0 OR id = ?1) AND "
	    "(?2 IS NULL OR name LIKE ?2 ESCAPE '\\')", order,
	    c->actor->scope_po, result_r, error_r);
}

static void
postoffice_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err;
	size_t i;
	static const char *const skip[] = { "name", "password", NULL };

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	json_t *res = set_result();
	bool keep = json_is_true(json_object_get(args, "keepData"));
	json_object_foreach(create, key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *pw = json_string_value(json_object_get(v, "password"));
		if (!sysadmin_all(c->actor)) {
			set_fail(res, "notCreated", key, jmap_error("forbidden",
			    "only a SYSADMIN creates post offices"));
			continue;
		}
		if (!json_is_object(v) || name == NULL || pw == NULL) {
			set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", "a post office needs a name and "
			    "the password of its postmaster mailbox", name == NULL ?
			    "name" : "password", NULL));
			continue;
		}
		bool outer;
		json_t *e = NULL;
		if (adm_tx_begin(c->db, &outer, &err) < 0) {
			set_fail(res, "notCreated", key, adm_set_error(ADM_BUSY, err,
			    NULL));
			continue;
		}
		int r = adm_postoffice_add(c->db, name, pw, &err);
		if (r != ADM_OK)
			e = adm_set_error(r, err, strstr(err, "password") != NULL ?
			    "password" : "name");
		else
			(void)apply_fields(c, ADM_POSTOFFICE, name, v, skip, &e);
		if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
			e = adm_set_error(ADM_FAIL, err, NULL);
		if (e != NULL) {
			set_fail(res, "notCreated", key, e);
			continue;
		}
		api_audit(c, "PostOffice/set create %s (%s)", name,
		    patch_summary(v));
		json_object_set_new(json_object_get(res, "created"), key,
		    json_pack("{s:s,s:s}", "id", name, "name", name));
	}
	json_object_foreach(update, key, v) {
		int64_t id;
		json_t *e = NULL;
		bool outer;
		if (adm_object_id(c->db, ADM_POSTOFFICE, key, &id, &err) < 0 ||
		    !po_visible(c->actor, id)) {
			set_fail(res, "notUpdated", key, jmap_error("notFound",
			    "no post office %s", key));
			continue;
		}
		if (!c->actor->sysadmin) {
			set_fail(res, "notUpdated", key, jmap_error("forbidden",
			    "only a SYSADMIN changes a post office's settings "
			    "(they hold the web admin limits)"));
			continue;
		}
		if (!json_is_object(v) || adm_tx_begin(c->db, &outer, &err) < 0) {
			set_fail(res, "notUpdated", key, jmap_error("invalidPatch",
			    "an update is an object of properties"));
			continue;
		}
		static const char *const none[] = { NULL };
		(void)apply_fields(c, ADM_POSTOFFICE, key, v, none, &e);
		if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
			e = adm_set_error(ADM_FAIL, err, NULL);
		if (e != NULL) {
			set_fail(res, "notUpdated", key, e);
			continue;
		}
		api_audit(c, "PostOffice/set update %s (%s)", key, patch_summary(v));
		json_object_set_new(json_object_get(res, "updated"), key, json_null());
	}
	json_array_foreach(destroy, i, v) {
		const char *name = json_string_value(v);
		int64_t id;
		if (name == NULL || adm_object_id(c->db, ADM_POSTOFFICE, name, &id,
		    &err) < 0 || !po_visible(c->actor, id)) {
			set_fail(res, "notDestroyed", name ? name : "?", jmap_error(
			    "notFound", "no such post office"));
			continue;
		}
		if (!sysadmin_all(c->actor) || id == c->actor->postoffice_id) {
			set_fail(res, "notDestroyed", name, jmap_error("forbidden",
			    id == c->actor->postoffice_id ? "you cannot delete the "
			    "post office of the mailbox you are logged in with" :
			    "only a SYSADMIN deletes post offices"));
			continue;
		}
		int r = adm_postoffice_del(c->db, name, keep, &err);
		if (r != ADM_OK) {
			set_fail(res, "notDestroyed", name, adm_set_error(r, err, NULL));
			continue;
		}
		api_audit(c, "PostOffice/set destroy %s%s", name, keep ?
		    " (data kept)" : "");
		json_array_append(json_object_get(res, "destroyed"), v);
	}
	*result_r = res;
}

/* ---- Domain --------------------------------------------------------- */

static json_t *
domain_json(struct db *db, int64_t id, const char *name, json_t *props)
{
	json_t *o = object_json(db, ADM_DOMAIN, id, props);
	char *po = NULL;
	const char *err;

	json_object_set_new(o, "id", json_string(name));
	if (wanted(props, "name"))
		json_object_set_new(o, "name", json_string(name));
	if (wanted(props, "postOffice") && db_query_text(db, &po, &err,
	    "SELECT p.name FROM domain d JOIN postoffice p ON p.id = "
	    "d.postoffice_id WHERE d.id = ?", "i", id) == 0 && po != NULL)
		json_object_set_new(o, "postOffice", json_string(po));
	free(po);
	return o;
}

static void
domain_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	named_get(ctx, args, ADM_DOMAIN, domain_json, "SELECT name FROM domain "
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

	if (!query_args(c, args, sortable, &q, error_r) ||
	    (po = scope_of_query(c, &q, error_r)) < 0)
		return;
	char order[80];
	snprintf(order, sizeof(order), "%s %s, d.id", strcmp(q.sort, "name") == 0 ?
	    "d.name" : "p.name", q.asc ? "ASC" : "DESC");
	run_query(c, &q, "d.name", "FROM domain d JOIN postoffice p ON p.id = "
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

static void
domain_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err;
	size_t i;
	static const char *const skip[] = { "name", "postOffice", NULL };
	static const char *const none[] = { NULL };
	struct po_limits lim;

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	json_t *res = set_result();
	bool may_edit = c->actor->sysadmin || (limits_load(c->db,
	    c->actor->postoffice_id, &lim) == 0 && lim.edit_domains);
	const char *no_edit = "your post office's web admins may not add, "
	    "edit or remove domains (webadmin_edit_domains)";
	json_object_foreach(create, key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *po = json_string_value(json_object_get(v, "postOffice"));
		int64_t po_id;
		json_t *e = NULL;
		bool outer;
		if (po == NULL && c->actor->scope_po != 0)
			po = c->actor->scope_name;
		if (name == NULL || po == NULL) {
			set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", "a domain needs a name and a "
			    "postOffice", name == NULL ? "name" : "postOffice", NULL));
			continue;
		}
		if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
		    !po_visible(c->actor, po_id)) {
			set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", "no such post office", "postOffice",
			    NULL));
			continue;
		}
		if (!may_edit) {
			set_fail(res, "notCreated", key, jmap_error("forbidden", "%s",
			    no_edit));
			continue;
		}
		if ((e = domain_sysadmin_only(c, v)) != NULL) {
			set_fail(res, "notCreated", key, e);
			continue;
		}
		if (adm_tx_begin(c->db, &outer, &err) < 0) {
			set_fail(res, "notCreated", key, adm_set_error(ADM_BUSY, err,
			    NULL));
			continue;
		}
		int r = adm_domain_add(c->db, name, po, &err);
		if (r != ADM_OK)
			e = adm_set_error(r, err, "name");
		else
			(void)apply_fields(c, ADM_DOMAIN, name, v, skip, &e);
		if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
			e = adm_set_error(ADM_FAIL, err, NULL);
		if (e != NULL) {
			set_fail(res, "notCreated", key, e);
			continue;
		}
		api_audit(c, "Domain/set create %s (%s)", name, patch_summary(v));
		json_object_set_new(json_object_get(res, "created"), key,
		    json_pack("{s:s,s:s}", "id", name, "name", name));
	}
	json_object_foreach(update, key, v) {
		int64_t id, po_id = 0;
		json_t *e = NULL;
		bool outer;
		if (adm_object_id(c->db, ADM_DOMAIN, key, &id, &err) < 0 ||
		    db_query_int(c->db, &po_id, 0, &err, "SELECT postoffice_id FROM "
		    "domain WHERE id = ?", "i", id) < 0 || !po_visible(c->actor, po_id)) {
			set_fail(res, "notUpdated", key, jmap_error("notFound",
			    "no domain %s", key));
			continue;
		}
		if (!may_edit) {
			set_fail(res, "notUpdated", key, jmap_error("forbidden", "%s",
			    no_edit));
			continue;
		}
		if ((e = domain_sysadmin_only(c, v)) != NULL) {
			set_fail(res, "notUpdated", key, e);
			continue;
		}
		if (!json_is_object(v) || adm_tx_begin(c->db, &outer, &err) < 0) {
			set_fail(res, "notUpdated", key, jmap_error("invalidPatch",
			    "an update is an object of properties"));
			continue;
		}
		(void)apply_fields(c, ADM_DOMAIN, key, v, none, &e);
		if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
			e = adm_set_error(ADM_FAIL, err, NULL);
		if (e != NULL) {
			set_fail(res, "notUpdated", key, e);
			continue;
		}
		api_audit(c, "Domain/set update %s (%s)", key, patch_summary(v));
		json_object_set_new(json_object_get(res, "updated"), key, json_null());
	}
	json_array_foreach(destroy, i, v) {
		const char *name = json_string_value(v);
		int64_t id, po_id = 0;
		if (name == NULL || adm_object_id(c->db, ADM_DOMAIN, name, &id,
		    &err) < 0 || db_query_int(c->db, &po_id, 0, &err, "SELECT "
		    "postoffice_id FROM domain WHERE id = ?", "i", id) < 0 ||
		    !po_visible(c->actor, po_id)) {
			set_fail(res, "notDestroyed", name ? name : "?", jmap_error(
			    "notFound", "no such domain"));
			continue;
		}
		if (!may_edit) {
			set_fail(res, "notDestroyed", name, jmap_error("forbidden",
			    "%s", no_edit));
			continue;
		}
		int r = adm_domain_del(c->db, name, &err);
		if (r != ADM_OK) {
			set_fail(res, "notDestroyed", name, adm_set_error(r, err, NULL));
			continue;
		}
		api_audit(c, "Domain/set destroy %s", name);
		json_array_append(json_object_get(res, "destroyed"), v);
	}
	*result_r = res;
}

/* ---- Mailbox -------------------------------------------------------- */

static json_t *
mailbox_json(struct db *db, int64_t id, const char *ident, json_t *props)
{
	json_t *o = object_json(db, ADM_MAILBOX, id, props);
	struct dir_mailbox mb;
	const char *err;

	json_object_set_new(o, "id", json_string(ident));
	if (dir_mailbox_get(db, id, &mb, &err) > 0) {
		if (wanted(props, "name"))
			json_object_set_new(o, "name", json_string(mb.name));
		if (wanted(props, "postOffice"))
			json_object_set_new(o, "postOffice", json_string(mb.postoffice));
	}
	if (wanted(props, "addresses")) {
		struct dir_strings a;
		if (dir_mailbox_addresses(db, id, &a, &err) == 0) {
			json_t *arr = json_array();
			for (size_t i = 0; i < a.n; i++)
				json_array_append_new(arr, json_string(a.v[i]));
			json_object_set_new(o, "addresses", arr);
			dir_strings_free(&a);
		}
	}
	return o;
}

static void
mailbox_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	named_get(ctx, args, ADM_MAILBOX, mailbox_json, "SELECT m.name || '@' || "
	    "p.name FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "WHERE ?1 = 0 OR m.postoffice_id = ?1 ORDER BY m.name LIMIT ?2",
	    result_r, error_r);
}

static void
mailbox_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "name", "postOffice", "quota_kb",
	    "type", "created", NULL };
	struct query q;
	int64_t po;

	if (!query_args(c, args, sortable, &q, error_r) ||
	    (po = scope_of_query(c, &q, error_r)) < 0)
		return;
	/* the post office's name by its primary key per row: no join, so
	 * the count and the page read only the mailbox table and its
	 * indexes */
#define PO_NAME "(SELECT name FROM postoffice WHERE id = m.postoffice_id)"
	const char *col = strcmp(q.sort, "name") == 0 ? NULL :
	    strcmp(q.sort, "postOffice") == 0 ? PO_NAME :
	    strcmp(q.sort, "quota_kb") == 0 ? "m.quota_kb" :
	    strcmp(q.sort, "type") == 0 ? "m.type" : "m.id";
	const char *dir = q.asc ? "ASC" : "DESC";
	char order[160];
	if (col == NULL)
		snprintf(order, sizeof(order), "m.name %s, m.id %s", dir, dir);
	else
		snprintf(order, sizeof(order), "%s %s, m.name %s, m.id %s", col,
		    dir, dir, dir);
	/* one statement per scope, so SQLite picks the index it can use
	 * (UNIQUE (postoffice_id, name) for a post office, mailbox_name for
	 * all) instead of planning around "?1 = 0 OR ..." */
	char from[400];
	snprintf(from, sizeof(from), "FROM mailbox m WHERE %s AND (?2 IS NULL OR "
	    "m.name LIKE ?2 ESCAPE '\\' OR m.friendly_name LIKE ?2 ESCAPE "
	    "'\\')", po != 0 ? "m.postoffice_id = ?1" : "?1 = 0");
	run_query(c, &q, "m.name || '@' || " PO_NAME, from, order, po, result_r,
	    error_r);
#undef PO_NAME
}

/* quota_check - an ADMIN's quota choice within 5.3.6: NULL, or the
 * SetError */
static json_t *
quota_check(const struct po_limits *l, int64_t kb)
{
	if (!l->select_size)
		return jmap_error_props("forbidden", "your post office's web admins "
		    "may not choose the mailbox size (webadmin_select_size): leave "
		    "quota_kb out", "quota_kb", NULL);
	if (l->default_kb > 0 && (kb == 0 || kb > l->default_kb))
		return jmap_error_props("invalidProperties", "quota_kb may be at "
		    "most the post office's default mailbox size "
		    "(webadmin_default_mailbox_size)", "quota_kb", NULL);
	if (l->max_kb > 0 && (kb == 0 || kb > l->max_kb))
		return jmap_error_props("invalidProperties", "quota_kb may be at "
		    "most the post office's largest mailbox size "
		    "(webadmin_max_mailbox_size)", "quota_kb", NULL);
	return NULL;
}

/* quota_limit_text - the numbers for quota_check's messages */
static json_t *
quota_error(const struct po_limits *l, int64_t kb)
{
	json_t *e = quota_check(l, kb);

	if (e != NULL && l->select_size) {
		char b[300];
		int64_t most = l->default_kb > 0 && (l->max_kb == 0 ||
		    l->default_kb < l->max_kb) ? l->default_kb : l->max_kb;
		snprintf(b, sizeof(b), "quota_kb %lld is over what your post "
		    "office allows: at most %lld KB (webadmin_%s_mailbox_size); "
		    "0 (unlimited) is not allowed", (long long)kb, (long long)most,
		    most == l->default_kb ? "default" : "max");
		json_object_set_new(e, "description", json_string(b));
	}
	return e;
}

/* sysadmin_only - a mailbox property only a SYSADMIN sets: a delivery
 * event runs a program on the server (manual 5.5.6), which no post
 * office's admin may choose; NULL or the property found in v */
static const char *
sysadmin_only(json_t *v)
{
	static const char *const props[] = { "delivery_event_enabled",
	    "delivery_event_program", NULL };

	for (size_t i = 0; props[i] != NULL; i++)
		if (json_object_get(v, props[i]) != NULL)
			return props[i];
	return NULL;
}

static void
mailbox_create(struct api_ctx *c, const char *key, json_t *v, json_t *res)
{
	static const char *const skip[] = { "name", "postOffice", "password",
	    "quota_kb", "type", "friendly_name", NULL };
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *po = json_string_value(json_object_get(v, "postOffice"));
	const char *pw = json_string_value(json_object_get(v, "password"));
	const char *type = json_string_value(json_object_get(v, "type"));
	json_t *quota = json_object_get(v, "quota_kb");
	const char *err;
	int64_t po_id, count;
	struct po_limits l = { 0 };
	json_t *e = NULL;
	bool outer;

	if (!json_is_object(v)) {
		set_fail(res, "notCreated", key, jmap_error("invalidProperties",
		    "a mailbox is an object"));
		return;
	}
	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (name == NULL || po == NULL || pw == NULL) {
		set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "a mailbox needs a name, a postOffice and a password",
		    name == NULL ? "name" : po == NULL ? "postOffice" : "password",
		    NULL));
		return;
	}
	if (quota != NULL && !json_is_null(quota) && (!json_is_integer(quota) ||
	    json_integer_value(quota) < 0)) {
		set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "quota_kb is a number of KB (0: unlimited)", "quota_kb", NULL));
		return;
	}
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
	    !po_visible(c->actor, po_id)) {
		set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "no such post office", "postOffice", NULL));
		return;
	}
	int64_t kb = quota != NULL && json_is_integer(quota) ?
	    json_integer_value(quota) : -1;
	if (!c->actor->sysadmin) {
		if (limits_load(c->db, po_id, &l) < 0) {
			set_fail(res, "notCreated", key, jmap_error("serverFail",
			    "the post office's limits could not be read"));
			return;
		}
		if (!l.edit_mailboxes) {
			set_fail(res, "notCreated", key, jmap_error("forbidden",
			    "your post office's web admins may not create or edit "
			    "mailboxes (webadmin_edit_mailboxes)"));
			return;
		}
		if (type != NULL && strcmp(type, "SYSADMIN") == 0) {
			set_fail(res, "notCreated", key, jmap_error_props("forbidden",
			    "only a SYSADMIN makes SYSADMIN mailboxes", "type", NULL));
			return;
		}
		const char *p = sysadmin_only(v);
		if (p != NULL) {
			set_fail(res, "notCreated", key, jmap_error_props("forbidden",
			    "only a SYSADMIN sets delivery events (they run programs "
			    "on the server)", p, NULL));
			return;
		}
		if (kb >= 0 && (e = quota_error(&l, kb)) != NULL) {
			set_fail(res, "notCreated", key, e);
			return;
		}
		if (kb < 0 && l.default_kb > 0)
			kb = l.default_kb;
		if (kb < 0 && l.max_kb > 0)
			kb = l.max_kb;
	}
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		set_fail(res, "notCreated", key, adm_set_error(ADM_BUSY, err, NULL));
		return;
	}
	/* counted inside the transaction (BEGIN IMMEDIATE): two admins
	 * creating at once cannot both take the last place */
	if (!c->actor->sysadmin && l.max_mailboxes > 0) {
		if (db_query_int(c->db, &count, 0, &err, "SELECT count(*) FROM "
		    "mailbox WHERE postoffice_id = ?", "i", po_id) < 0)
			e = jmap_error("serverFail", "%s", err);
		else if (count >= l.max_mailboxes)
			e = jmap_error("overQuota", "Post office %s may have at most "
			    "%lld mailboxes (webadmin_max_mailboxes) and has %lld: "
			    "mailbox %s was not created. Delete one, or ask your "
			    "provider to raise the limit.", po,
			    (long long)l.max_mailboxes, (long long)count, name);
	}
	if (e == NULL) {
		struct adm_mailbox_spec spec = {
			.postoffice = po, .name = name, .password = pw,
			.quota_kb = kb, .type = type,
			.friendly_name = json_string_value(json_object_get(v,
			    "friendly_name")),
		};
		int r = adm_mailbox_add(c->db, &spec, &err);
		if (r != ADM_OK)
			e = adm_set_error(r, err, strstr(err, "password") != NULL ?
			    "password" : strstr(err, "type") != NULL ? "type" :
			    strstr(err, "quota") != NULL ? "quota_kb" : "name");
	}
	char ident[200];
	snprintf(ident, sizeof(ident), "%s@%s", name, po);
	if (e == NULL)
		(void)apply_fields(c, ADM_MAILBOX, ident, v, skip, &e);
	if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
		e = adm_set_error(ADM_FAIL, err, NULL);
	if (e != NULL) {
		set_fail(res, "notCreated", key, e);
		return;
	}
	api_audit(c, "Mailbox/set create %s (%s)", ident, patch_summary(v));
	json_object_set_new(json_object_get(res, "created"), key,
	    json_pack("{s:s,s:s,s:s}", "id", ident, "name", name, "postOffice",
	    po));
}

/* mailbox_target - the mailbox ident of an update or destroy within the
 * actor's reach: 0 with its row, or -1 with the SetError */
static int
mailbox_target(struct api_ctx *c, const char *ident, struct dir_mailbox *mb,
	       json_t **e)
{
	const char *err;
	int64_t id;
	struct po_limits l;

	if (adm_object_id(c->db, ADM_MAILBOX, ident, &id, &err) < 0 ||
	    dir_mailbox_get(c->db, id, mb, &err) <= 0 ||
	    !po_visible(c->actor, mb->postoffice_id)) {
		*e = jmap_error("notFound", "no mailbox %s", ident);
		return -1;
	}
	if (c->actor->sysadmin)
		return 0;
	if (limits_load(c->db, mb->postoffice_id, &l) < 0 || !l.edit_mailboxes) {
		*e = jmap_error("forbidden", "your post office's web admins may "
		    "not create or edit mailboxes (webadmin_edit_mailboxes)");
		return -1;
	}
	if (strcmp(mb->type, "SYSADMIN") == 0) {
		*e = jmap_error("forbidden", "only a SYSADMIN changes a SYSADMIN "
		    "mailbox");
		return -1;
	}
	return 0;
}

static void
mailbox_update(struct api_ctx *c, const char *ident, json_t *v, json_t *res)
{
	static const char *const skip[] = { "password", NULL };
	struct dir_mailbox mb;
	json_t *e = NULL;
	const char *err;
	bool outer;

	if (mailbox_target(c, ident, &mb, &e) < 0) {
		set_fail(res, "notUpdated", ident, e);
		return;
	}
	if (!json_is_object(v)) {
		set_fail(res, "notUpdated", ident, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	if (!c->actor->sysadmin) {
		json_t *t = json_object_get(v, "type"), *q = json_object_get(v,
		    "quota_kb");
		struct po_limits l;
		if (t != NULL && json_is_string(t) &&
		    strcmp(json_string_value(t), "SYSADMIN") == 0) {
			set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
			    "only a SYSADMIN makes SYSADMIN mailboxes", "type", NULL));
			return;
		}
		const char *p = sysadmin_only(v);
		if (p != NULL) {
			set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
			    "only a SYSADMIN sets delivery events (they run programs "
			    "on the server)", p, NULL));
			return;
		}
		if (q != NULL && json_is_integer(q) && limits_load(c->db,
		    mb.postoffice_id, &l) == 0 &&
		    (e = quota_error(&l, json_integer_value(q))) != NULL) {
			set_fail(res, "notUpdated", ident, e);
			return;
		}
	}
	if (mb.id == c->actor->mailbox_id && (json_is_true(json_object_get(v,
	    "disabled")) || json_object_get(v, "type") != NULL)) {
		set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
		    "you cannot disable or change the type of the mailbox you are "
		    "logged in with", json_object_get(v, "type") != NULL ? "type" :
		    "disabled", NULL));
		return;
	}
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		set_fail(res, "notUpdated", ident, adm_set_error(ADM_BUSY, err, NULL));
		return;
	}
	json_t *pw = json_object_get(v, "password");
	if (pw != NULL) {
		int r = json_is_string(pw) ? adm_mailbox_passwd(c->db, ident,
		    json_string_value(pw), NULL, &err) : ADM_INVALID;
		if (r != ADM_OK)
			e = adm_set_error(r, json_is_string(pw) ? err :
			    "password must be a string", "password");
	}
	if (e == NULL)
		(void)apply_fields(c, ADM_MAILBOX, ident, v, skip, &e);
	if (adm_tx_end(c->db, outer, e == NULL, &err) < 0 && e == NULL)
		e = adm_set_error(ADM_FAIL, err, NULL);
	if (e != NULL) {
		set_fail(res, "notUpdated", ident, e);
		return;
	}
	api_audit(c, "Mailbox/set update %s (%s)", ident, patch_summary(v));
	json_object_set_new(json_object_get(res, "updated"), ident, json_null());
}

static void
mailbox_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err;
	size_t i;

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	json_t *res = set_result();
	bool keep = json_is_true(json_object_get(args, "keepData"));
	json_object_foreach(create, key, v)
		mailbox_create(c, key, v, res);
	json_object_foreach(update, key, v)
		mailbox_update(c, key, v, res);
	json_array_foreach(destroy, i, v) {
		const char *ident = json_string_value(v);
		struct dir_mailbox mb;
		json_t *e = NULL;
		if (ident == NULL) {
			set_fail(res, "notDestroyed", "?", jmap_error("notFound",
			    "ids are strings"));
			continue;
		}
		if (mailbox_target(c, ident, &mb, &e) < 0) {
			set_fail(res, "notDestroyed", ident, e);
			continue;
		}
		if (mb.id == c->actor->mailbox_id) {
			set_fail(res, "notDestroyed", ident, jmap_error("forbidden",
			    "you cannot delete the mailbox you are logged in with"));
			continue;
		}
		int r = adm_mailbox_del(c->db, ident, keep, &err);
		if (r != ADM_OK) {
			set_fail(res, "notDestroyed", ident, adm_set_error(r, err, NULL));
			continue;
		}
		api_audit(c, "Mailbox/set destroy %s%s", ident, keep ?
		    " (data kept)" : "");
		json_array_append(json_object_get(res, "destroyed"), v);
	}
	*result_r = res;
}

/* ---- Setting: the global settings with their schema ----------------- */

static const char *const type_names[] = {
	[FT_BOOL] = "bool", [FT_INT] = "int", [FT_SIZE] = "size",
	[FT_DURATION] = "duration", [FT_TEXT] = "text", [FT_ENUM] = "enum",
	[FT_ADDRESS] = "address", [FT_HOSTPORT] = "hostport",
	[FT_LISTEN] = "listen", [FT_TIME] = "time",
};

static json_t *
setting_json(struct db *db, const struct field_def *f)
{
	char *v = NULL;
	const char *err;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", f->name, "type",
	    type_names[f->type], "help", f->help, "unit", f->type == FT_SIZE ?
	    "KB" : f->type == FT_DURATION ? "s" : "");
	if (settings_get(db, f->name, &v, &err) == 0)
		json_object_set_new(o, "value", field_json(f, v));
	free(v);
	json_object_set_new(o, "default", field_json(f, f->def));
	json_object_set_new(o, "isSet", json_boolean(settings_is_set(db,
	    f->name)));
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

static void
setting_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *ids, *list, *nf, *v;
	size_t i;

	if (!get_ids(c, args, &ids, error_r))
		return;
	if (!sysadmin_all(c->actor)) {
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

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	if (!sysadmin_all(c->actor)) {
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
	json_t *res = set_result();
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
			set_fail(res, "notUpdated", key, jmap_error("notFound",
			    "there is no setting %s", key));
			ok = false;
			continue;
		}
		if (!json_is_object(v) || val == NULL || json_object_size(v) != 1) {
			set_fail(res, "notUpdated", key, jmap_error_props(
			    "invalidProperties", "an update is {\"value\": ...}",
			    "value", NULL));
			ok = false;
			continue;
		}
		int r;
		if (json_is_null(val))
			r = settings_unset(c->db, key, &err);
		else {
			char *in = field_input(f, val, &why);
			if (in == NULL) {
				char b[200];
				snprintf(b, sizeof(b), "%s %s", key, why);
				set_fail(res, "notUpdated", key, jmap_error_props(
				    "invalidProperties", b, "value", NULL));
				ok = false;
				continue;
			}
			r = settings_set(c->db, key, in, &err);
			free(in);
		}
		if (r < 0) {
			set_fail(res, "notUpdated", key, jmap_error_props(
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
			api_audit(c, "Setting/set %s = %.200s", key, (field_find(
			    settings_fields, key)->flags & FIELD_SECRET) ? "***" :
			    s != NULL ? s : "?");
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

	if (!account_ok(args, error_r))
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

/* ---- Session and ApiToken: your own credentials ------------------------ */

static void
session_list(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *err;

	if (!account_ok(args, error_r))
		return;
	sqlite3_stmt *st = db_query(c->db, &err, "SELECT id, created, last_seen, "
	    "client, user_agent FROM web_session WHERE mailbox_id = ? ORDER BY "
	    "id", "i", c->actor->mailbox_id);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		char sid[24];
		snprintf(sid, sizeof(sid), "%lld", (long long)id);
		json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:s,s:s,s:b}",
		    "id", sid, "created", (json_int_t)sqlite3_column_int64(st, 1),
		    "lastSeen", (json_int_t)sqlite3_column_int64(st, 2),
		    "client", (const char *)sqlite3_column_text(st, 3),
		    "userAgent", (const char *)sqlite3_column_text(st, 4),
		    "current", id == c->actor->session_id));
	}
	sqlite3_finalize(st);
	*result_r = json_pack("{s:s,s:s,s:o,s:[]}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound");
}

/* destroy_own - the destroy list of Session/set and ApiToken/set: ids of
 * the actor's own sessions or tokens, each ended by del (anyone else's is
 * "notFound", as a missing one is) */
static void
destroy_own(struct api_ctx *c, json_t *destroy, json_t *res,
	    const char *type, const char *what,
	    int (*del)(struct db *, int64_t, int64_t, const char **))
{
	const char *err;
	json_t *v;
	size_t i;

	json_array_foreach(destroy, i, v) {
		const char *s = json_string_value(v);
		long long id;
		if (s == NULL || parse_long(s, 1, INT64_MAX, &id) < 0 ||
		    del(c->db, id, c->actor->mailbox_id, &err) != ADM_OK) {
			set_fail(res, "notDestroyed", s ? s : "?", jmap_error(
			    "notFound", "no such %s of yours", what));
			continue;
		}
		api_audit(c, "%s/set destroy %s", type, s);
		json_array_append(json_object_get(res, "destroyed"), v);
	}
}

static void
session_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy;

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	if (json_object_size(create) > 0 || json_object_size(update) > 0) {
		*error_r = jmap_error("invalidArguments", "sessions are made by "
		    "POST /api/login and only destroyed here");
		return;
	}
	json_t *res = set_result();
	destroy_own(c, destroy, res, "Session", "session",
	    webauth_session_delete);
	*result_r = res;
}

static void
token_list(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *err;

	if (!account_ok(args, error_r))
		return;
	sqlite3_stmt *st = db_query(c->db, &err, "SELECT t.id, t.name, "
	    "coalesce(p.name, ''), t.created, t.last_used, t.expires FROM "
	    "api_token t LEFT JOIN postoffice p ON p.id = t.postoffice_id WHERE "
	    "t.mailbox_id = ? ORDER BY t.id", "i", c->actor->mailbox_id);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		char id[24];
		const char *po = (const char *)sqlite3_column_text(st, 2);
		snprintf(id, sizeof(id), "%lld", (long long)sqlite3_column_int64(st, 0));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:I,s:I,s:I}",
		    "id", id, "name", (const char *)sqlite3_column_text(st, 1),
		    "postOffice", *po ? po : NULL,
		    "created", (json_int_t)sqlite3_column_int64(st, 3),
		    "lastUsed", (json_int_t)sqlite3_column_int64(st, 4),
		    "expires", (json_int_t)sqlite3_column_int64(st, 5)));
	}
	sqlite3_finalize(st);
	*result_r = json_pack("{s:s,s:s,s:o,s:[]}", "accountId", API_ACCOUNT,
	    "state", "1", "list", list, "notFound");
}

static void
token_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create, *update, *destroy, *v;
	const char *key, *err;

	if (!set_args(c, args, &create, &update, &destroy, error_r))
		return;
	if (json_object_size(update) > 0) {
		*error_r = jmap_error("invalidArguments", "tokens are created and "
		    "destroyed, never changed");
		return;
	}
	json_t *res = set_result();
	json_object_foreach(create, key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *po = json_string_value(json_object_get(v, "postOffice"));
		json_t *exp = json_object_get(v, "expires");
		char tok[WEBAUTH_TOKEN_LEN + 1];
		int64_t id;
		if (c->actor->token_id != 0) {
			set_fail(res, "notCreated", key, jmap_error("forbidden",
			    "tokens are made from a login session or the CLI, not "
			    "by another token"));
			continue;
		}
		if (exp != NULL && !json_is_integer(exp)) {
			set_fail(res, "notCreated", key, jmap_error_props(
			    "invalidProperties", "expires is a unix time (0: never)",
			    "expires", NULL));
			continue;
		}
		int r = webauth_token_create(c->db, c->actor->login, po, name,
		    exp != NULL ? json_integer_value(exp) : 0, tok, &id, &err);
		if (r != ADM_OK) {
			set_fail(res, "notCreated", key, adm_set_error(r, err,
			    strstr(err, "post office") ? "postOffice" : "name"));
			continue;
		}
		char sid[24];
		snprintf(sid, sizeof(sid), "%lld", (long long)id);
		api_audit(c, "ApiToken/set create %s (%s)", sid, name ? name : "");
		json_object_set_new(json_object_get(res, "created"), key,
		    json_pack("{s:s,s:s}", "id", sid, "token", tok));
		explicit_bzero(tok, sizeof(tok));
	}
	destroy_own(c, destroy, res, "ApiToken", "token",
	    webauth_token_revoke);
	*result_r = res;
}

/* Core/echo (RFC 8620 4) */
static void
core_echo(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	(void)ctx;
	(void)error_r;
	*result_r = json_deep_copy(args);
}

const struct jmap_method api_admin_methods[] = {
	{ "Core/echo", JMAP_CORE, core_echo },
	{ "PostOffice/get", API_CAPABILITY, postoffice_get },
	{ "PostOffice/query", API_CAPABILITY, postoffice_query },
	{ "PostOffice/set", API_CAPABILITY, postoffice_set },
	{ "Domain/get", API_CAPABILITY, domain_get },
	{ "Domain/query", API_CAPABILITY, domain_query },
	{ "Domain/set", API_CAPABILITY, domain_set },
	{ "Mailbox/get", API_CAPABILITY, mailbox_get },
	{ "Mailbox/query", API_CAPABILITY, mailbox_query },
	{ "Mailbox/set", API_CAPABILITY, mailbox_set },
	{ "Setting/get", API_CAPABILITY, setting_get },
	{ "Setting/set", API_CAPABILITY, setting_set },
	{ "Status/get", API_CAPABILITY, status_get },
	{ "Session/get", API_CAPABILITY, session_list },
	{ "Session/set", API_CAPABILITY, session_set },
	{ "ApiToken/get", API_CAPABILITY, token_list },
	{ "ApiToken/set", API_CAPABILITY, token_set },
	{ NULL, NULL, NULL },
};
