/* api-admin-mailbox - Mailbox/get|query|set: the mailbox and its password, quota, type and the web admin limits of manual 5.3.6 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "popretr.h"
#include "api.h"
#include "api-admin.h"
#include "buf.h"
#include "directory.h"
#include "fields.h"
#include "log.h"
#include "maint.h"
#include "strutil.h"
#include "xalloc.h"

/* ---- Mailbox -------------------------------------------------------- */

static json_t *
mailbox_json(struct db *db, int64_t id, const char *ident, json_t *props)
{
	json_t *o = api_object_json(db, ADM_MAILBOX, id, props);
	struct dir_mailbox mb;
	const char *err;

	json_object_set_new(o, "id", json_string(ident));
	if (dir_mailbox_get(db, id, &mb, &err) > 0) {
		if (api_wanted(props, "name"))
			json_object_set_new(o, "name", json_string(mb.name));
		if (api_wanted(props, "postOffice"))
			json_object_set_new(o, "postOffice", json_string(mb.postoffice));
	}
	if (api_wanted(props, "addresses")) {
		struct dir_strings a;
		if (dir_mailbox_addresses(db, id, &a, &err) == 0) {
			json_t *arr = json_array();
			for (size_t i = 0; i < a.n; i++)
				json_array_append_new(arr, json_string(a.v[i]));
			json_object_set_new(o, "addresses", arr);
			dir_strings_free(&a);
		}
	}
	if (api_wanted(props, "redirects")) {
		json_t *arr = json_array();
		struct db_stmt *st = db_query(db, &err, "SELECT address FROM redirect "
		    "WHERE mailbox_id = ? ORDER BY address", "i", id);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(arr, json_string(db_col_text(st, 0)));
		db_stmt_free(&st);
		json_object_set_new(o, "redirects", arr);
	}
	if (api_wanted(props, "popRetrieval")) {
		/* the remote password is stored to be sent: never shown */
		json_t *arr = json_array();
		struct db_stmt *st = db_query(db, &err, "SELECT id, host, port, "
		    "username, apop, tls, leave_on_server, enabled, last_run, "
		    "last_status FROM pop_account WHERE mailbox_id = ? ORDER BY id",
		    "i", id);
		while (st != NULL && db_step(st, NULL) == DB_ROW)
			json_array_append_new(arr, json_pack("{s:I,s:s,s:i,s:s,s:b,"
			    "s:s,s:b,s:b,s:I,s:s}", "id",
			    (json_int_t)db_col_int(st, 0), "host",
			    db_col_text(st, 1), "port",
			    db_col_int(st, 2), "username",
			    db_col_text(st, 3), "apop",
			    db_col_int(st, 4), "tls",
			    db_col_text(st, 5),
			    "leave_on_server", db_col_int(st, 6), "enabled",
			    db_col_int(st, 7), "lastRun",
			    (json_int_t)db_col_int(st, 8), "lastStatus",
			    db_col_text(st, 9)));
		db_stmt_free(&st);
		json_object_set_new(o, "popRetrieval", arr);
	}
	return o;
}

/* pop_of - whether POP account id belongs to mailbox mb_id */
static bool
pop_of(struct db *db, int64_t id, int64_t mb_id)
{
	int64_t n = 0;
	const char *err;

	return db_query_int(db, &n, 0, &err, "SELECT count(*) FROM pop_account "
	    "WHERE id = ? AND mailbox_id = ?", "ii", id, mb_id) == 0 && n == 1;
}

/* mailbox_extras - the parts of an update that are not fields, through
 * lib-admin as `postern mailbox redirect`, `postern address` and
 * `postern popretrieval` do: addAddresses/removeAddresses,
 * addRedirects/removeRedirects (arrays of addresses), popAdd {host,
 * port?, username, password, apop?, tls?, leave_on_server?},
 * popRemove/popEnable/popDisable (account ids). NULL or the SetError */
static json_t *
mailbox_extras(struct api_ctx *c, const char *ident, int64_t mb_id, json_t *v)
{
	static const char *const lists[] = { "addAddresses", "removeAddresses",
	    "addRedirects", "removeRedirects" };
	const char *err;
	size_t i;
	json_t *x, *a;
	int r;

	for (int k = 0; k < 4; k++) {
		if ((x = json_object_get(v, lists[k])) == NULL)
			continue;
		if (!json_is_array(x))
			return jmap_error_props("invalidProperties", "an array of "
			    "addresses", lists[k], NULL);
		json_array_foreach(x, i, a) {
			const char *s = json_string_value(a);
			if (s == NULL)
				r = ADM_INVALID, err = "an address is a string";
			else if (k == 0)
				r = adm_address_add(c->db, s, ident, &err);
			else if (k == 1) {
				/* only an address of this mailbox */
				int64_t n = 0;
				const char *e2;
				r = db_query_int(c->db, &n, 0, &e2, "SELECT count(*) "
				    "FROM address WHERE address = ? AND kind = "
				    "'mailbox' AND target_id = ?", "ti", s, mb_id) == 0 &&
				    n == 1 ? adm_address_del(c->db, s, &err) :
				    ADM_NOTFOUND;
				if (r == ADM_NOTFOUND)
					err = "not an address of this mailbox";
			} else if (k == 2)
				r = adm_redirect_add(c->db, ident, s, &err);
			else
				r = adm_redirect_del(c->db, ident, s, &err);
			if (r != ADM_OK) {
				char b[400];
				snprintf(b, sizeof(b), "%s[%zu]: %s", lists[k], i, err);
				return api_set_error(r == ADM_NOTFOUND && (k == 0 || k == 2) ?
				    ADM_INVALID : r, b, lists[k]);
			}
		}
	}
	if ((x = json_object_get(v, "popAdd")) != NULL) {
		json_t *port = json_object_get(x, "port");
		struct adm_pop_spec spec = {
			.mailbox = ident,
			.host = json_string_value(json_object_get(x, "host")),
			.port = json_is_integer(port) ? (int)json_integer_value(port) : 0,
			.username = json_string_value(json_object_get(x, "username")),
			.password = json_string_value(json_object_get(x, "password")),
			.apop = json_is_true(json_object_get(x, "apop")),
			.tls = json_string_value(json_object_get(x, "tls")),
			.leave_on_server = json_is_true(json_object_get(x,
			    "leave_on_server")),
		};
		int64_t id;
		if (!json_is_object(x) || spec.host == NULL || spec.username == NULL ||
		    spec.password == NULL || (port != NULL && !json_is_integer(port)))
			return jmap_error_props("invalidProperties", "popAdd is {host, "
			    "port?, username, password, apop?, tls?, leave_on_server?}",
			    "popAdd", NULL);
		if ((r = adm_pop_add(c->db, &spec, &id, &err)) != ADM_OK)
			return api_set_error(r, err, "popAdd");
	}
	static const char *const pops[] = { "popRemove", "popEnable",
	    "popDisable" };
	for (int k = 0; k < 3; k++) {
		if ((x = json_object_get(v, pops[k])) == NULL)
			continue;
		if (!json_is_integer(x) || !pop_of(c->db, json_integer_value(x),
		    mb_id))
			return jmap_error_props("invalidProperties", "not the id of a "
			    "POP retrieval account of this mailbox", pops[k], NULL);
		r = k == 0 ? adm_pop_del(c->db, json_integer_value(x), &err) :
		    adm_pop_set_enabled(c->db, json_integer_value(x), k == 1, &err);
		if (r != ADM_OK)
			return api_set_error(r, err, pops[k]);
	}
	return NULL;
}

static void
mailbox_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_named_get(ctx, args, ADM_MAILBOX, mailbox_json, "SELECT m.name || '@' || "
	    "p.name FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "WHERE ?1 = 0 OR m.postoffice_id = ?1 ORDER BY m.name LIMIT ?2",
	    result_r, error_r);
}

/* mailbox_keyset - a page of Mailbox/query from an anchor in name order:
 * WHERE (name, id) > the anchor's, on the index, so page 4,000 costs what
 * page 1 does (position would OFFSET through every row before it). from
 * is the query's FROM ... WHERE; the anchor must be in its results. */
static void
mailbox_keyset(struct api_ctx *c, const struct query *q, const char *from,
	       int64_t po, json_t **result_r, json_t **error_r)
{
	const char *err;
	int64_t aid, total, before, hit = 0;
	char *aname = NULL;

	if (strcmp(q->sort, "name") != 0) {
		*error_r = jmap_error_props("invalidArguments", "anchor pages the "
		    "name order (sort by name); other orders page with position",
		    "anchor", NULL);
		return;
	}
	char *pat = q->pattern != NULL ? xstrdup(q->pattern) : q->text != NULL &&
	    *q->text != '\0' ? api_like_pattern(q->text) : NULL;
	char *sql = xasprintf("SELECT count(*) %s AND m.id = ?3", from);
	if (adm_object_id(c->db, ADM_MAILBOX, q->anchor, &aid, &err) < 0 ||
	    db_query_int(c->db, &hit, 0, &err, sql, "iti", po, pat, aid) < 0 ||
	    hit == 0 || db_query_text(c->db, &aname, &err, "SELECT name FROM "
	    "mailbox WHERE id = ?", "i", aid) < 0 || aname == NULL) {
		free(sql);
		free(pat);
		free(aname);
		*error_r = jmap_error("anchorNotFound", "anchor %s is not among "
		    "this query's mailboxes", q->anchor);
		return;
	}
	free(sql);
	const char *cmp = q->asc ? "<" : ">", *dir = q->asc ? "ASC" : "DESC";
	sql = xasprintf("SELECT count(*) %s", from);
	char *sql2 = xasprintf("SELECT count(*) %s AND (m.name, m.id) %s (?3, ?4)",
	    from, cmp);
	total = -1;
	if ((q->total && db_query_int(c->db, &total, 0, &err, sql, "it", po,
	    pat) < 0) ||
	    db_query_int(c->db, &before, 0, &err, sql2, "itti", po, pat, aname,
	    aid) < 0) {
		free(sql);
		free(sql2);
		free(pat);
		free(aname);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	free(sql);
	free(sql2);
	sql = xasprintf("SELECT m.name || '@' || (SELECT name FROM postoffice "
	    "WHERE id = m.postoffice_id) %s AND (m.name, m.id) %s= (?3, ?4) "
	    "ORDER BY m.name %s, m.id %s LIMIT ?5 OFFSET ?6", from, q->asc ? ">" :
	    "<", dir, dir);
	struct db_stmt *st = db_query(c->db, &err, sql, "ittiii", po, pat, aname,
	    aid, q->limit, q->anchor_offset);
	free(sql);
	free(pat);
	free(aname);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	*result_r = api_keyset_answer(st, q, before, total);
}

/* search_phrase - the trigram index's phrase for a search text, when the
 * index is the faster road: a text of 3 characters or more (shorter ones
 * have no trigram) matching at most SEARCH_FEW mailboxes, which the page
 * then sorts. Else NULL: LIKE on each row in the page's order finds the
 * first page of a common text at once, and counts in one pass. */
#define SEARCH_FEW 5000
static char *
search_phrase(struct api_ctx *c, const char *text)
{
	size_t chars = 0;
	const char *err;
	int64_t n;

	if (text == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		chars += (*p & 0xC0) != 0x80;
	if (chars < 3)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	buf_putc(&b, '"');
	for (const char *p = text; *p; p++) {
		if (*p == '"')
			buf_putc(&b, '"');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '"');
	char *phrase = buf_steal(&b);
	/* how many, up to one more than few: cheap either way (the index
	 * stops at the limit) */
	if (db_is_postgresql(c->db) ||
	    db_query_int(c->db, &n, 0, &err, "SELECT count(*) FROM (SELECT "
	    "rowid FROM mailbox_search WHERE mailbox_search MATCH ? LIMIT ?)",
	    "ti", phrase, (int64_t)SEARCH_FEW + 1) < 0 || n > SEARCH_FEW) {
		free(phrase);
		return NULL;
	}
	return phrase;
}

static void
mailbox_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	static const char *const sortable[] = { "name", "postOffice", "quota_kb",
	    "type", "created", NULL };
	struct query q;
	int64_t po;

	if (!api_query_args(c, args, sortable, &q, error_r) ||
	    (po = api_query_scope(c, &q, error_r)) < 0)
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
	char *phrase = search_phrase(c, q.text);
	if (phrase != NULL) {
		/* few matches: the trigram index gives them, the page sorts
		 * them (schema v14, mailbox_search) */
		q.pattern = phrase;
		snprintf(from, sizeof(from), "FROM mailbox m WHERE %s AND m.id IN "
		    "(SELECT rowid FROM mailbox_search WHERE mailbox_search MATCH "
		    "?2)", po != 0 ? "m.postoffice_id = ?1" : "?1 = 0");
	} else {
		snprintf(from, sizeof(from), "FROM mailbox m WHERE %s AND (?2 IS "
		    "NULL OR m.name LIKE ?2 ESCAPE '\\' OR m.friendly_name LIKE ?2 "
		    "ESCAPE '\\')", po != 0 ? "m.postoffice_id = ?1" : "?1 = 0");
	}
	if (q.anchor != NULL)
		mailbox_keyset(c, &q, from, po, result_r, error_r);
	else
		api_run_query(c, &q, "m.name || '@' || " PO_NAME, from, order, po,
		    result_r, error_r);
	free(phrase);
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
		api_set_fail(res, "notCreated", key, jmap_error("invalidProperties",
		    "a mailbox is an object"));
		return;
	}
	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (name == NULL || po == NULL || pw == NULL) {
		api_set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "a mailbox needs a name, a postOffice and a password",
		    name == NULL ? "name" : po == NULL ? "postOffice" : "password",
		    NULL));
		return;
	}
	if (quota != NULL && !json_is_null(quota) && (!json_is_integer(quota) ||
	    json_integer_value(quota) < 0)) {
		api_set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "quota_kb is a number of KB (0: unlimited)", "quota_kb", NULL));
		return;
	}
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
	    !api_po_visible(c->actor, po_id)) {
		api_set_fail(res, "notCreated", key, jmap_error_props("invalidProperties",
		    "no such post office", "postOffice", NULL));
		return;
	}
	int64_t kb = quota != NULL && json_is_integer(quota) ?
	    json_integer_value(quota) : -1;
	if (!c->actor->sysadmin) {
		if (api_limits_load(c->db, po_id, &l) < 0) {
			api_set_fail(res, "notCreated", key, jmap_error("serverFail",
			    "the post office's limits could not be read"));
			return;
		}
		if (!l.edit_mailboxes) {
			api_set_fail(res, "notCreated", key, jmap_error("forbidden",
			    "your post office's web admins may not create or edit "
			    "mailboxes (webadmin_edit_mailboxes)"));
			return;
		}
		if (type != NULL && strcmp(type, "SYSADMIN") == 0) {
			api_set_fail(res, "notCreated", key, jmap_error_props("forbidden",
			    "only a SYSADMIN makes SYSADMIN mailboxes", "type", NULL));
			return;
		}
		const char *p = sysadmin_only(v);
		if (p != NULL) {
			api_set_fail(res, "notCreated", key, jmap_error_props("forbidden",
			    "only a SYSADMIN sets delivery events (they run programs "
			    "on the server)", p, NULL));
			return;
		}
		if (kb >= 0 && (e = quota_error(&l, kb)) != NULL) {
			api_set_fail(res, "notCreated", key, e);
			return;
		}
		if (kb < 0 && l.default_kb > 0)
			kb = l.default_kb;
		if (kb < 0 && l.max_kb > 0)
			kb = l.max_kb;
	}
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		api_set_fail(res, "notCreated", key, api_set_error(ADM_BUSY, err, NULL));
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
			e = api_set_error(r, err, strstr(err, "password") != NULL ?
			    "password" : strstr(err, "type") != NULL ? "type" :
			    strstr(err, "quota") != NULL ? "quota_kb" : "name");
	}
	char ident[200];
	snprintf(ident, sizeof(ident), "%s@%s", name, po);
	if (e == NULL)
		(void)api_apply_fields(c, ADM_MAILBOX, ident, v, skip, &e);
	if (e == NULL && api_audit(c, "Mailbox", ident, "create", po, "%s",
	    api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notCreated", key) != NULL)
		return;
	/* the welcome message (manual 5.3.9.9), as `postern mailbox add`
	 * delivers it; the mailbox stays made if it cannot be */
	int w = maint_welcome_deliver(c->db, po, name, &err);
	if (w < 0)
		log_warnx("%s: the welcome message was not delivered: %s", ident,
		    err);
	api_set_done(res, "created", key, json_pack("{s:s,s:s,s:s,s:b}", "id",
	    ident, "name", name, "postOffice", po, "welcomed", w > 0));
}

/* api_mailbox_target - the mailbox ident of an update or destroy within
 * the actor's reach: 0 with its row, or -1 with the SetError */
int
api_mailbox_target(struct api_ctx *c, const char *ident, struct dir_mailbox *mb,
	       json_t **e)
{
	const char *err;
	int64_t id;
	struct po_limits l;

	if (adm_object_id(c->db, ADM_MAILBOX, ident, &id, &err) < 0 ||
	    dir_mailbox_get(c->db, id, mb, &err) <= 0 ||
	    !api_po_visible(c->actor, mb->postoffice_id)) {
		*e = jmap_error("notFound", "no mailbox %s", ident);
		return -1;
	}
	if (c->actor->sysadmin)
		return 0;
	if (api_limits_load(c->db, mb->postoffice_id, &l) < 0 || !l.edit_mailboxes) {
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
	static const char *const skip[] = { "password", "addAddresses",
	    "removeAddresses", "addRedirects", "removeRedirects", "popAdd",
	    "popRemove", "popEnable", "popDisable", "forwardAll", NULL };
	struct dir_mailbox mb;
	json_t *e = NULL;
	const char *err;
	bool outer;

	if (api_mailbox_target(c, ident, &mb, &e) < 0) {
		api_set_fail(res, "notUpdated", ident, e);
		return;
	}
	if (!json_is_object(v)) {
		api_set_fail(res, "notUpdated", ident, jmap_error("invalidPatch",
		    "an update is an object of properties"));
		return;
	}
	if (!c->actor->sysadmin) {
		json_t *t = json_object_get(v, "type"), *q = json_object_get(v,
		    "quota_kb");
		struct po_limits l;
		if (t != NULL && json_is_string(t) &&
		    strcmp(json_string_value(t), "SYSADMIN") == 0) {
			api_set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
			    "only a SYSADMIN makes SYSADMIN mailboxes", "type", NULL));
			return;
		}
		const char *p = sysadmin_only(v);
		if (p != NULL) {
			api_set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
			    "only a SYSADMIN sets delivery events (they run programs "
			    "on the server)", p, NULL));
			return;
		}
		if (q != NULL && json_is_integer(q) && api_limits_load(c->db,
		    mb.postoffice_id, &l) == 0 &&
		    (e = quota_error(&l, json_integer_value(q))) != NULL) {
			api_set_fail(res, "notUpdated", ident, e);
			return;
		}
	}
	if (mb.id == c->actor->mailbox_id && (json_is_true(json_object_get(v,
	    "disabled")) || json_object_get(v, "type") != NULL)) {
		api_set_fail(res, "notUpdated", ident, jmap_error_props("forbidden",
		    "you cannot disable or change the type of the mailbox you are "
		    "logged in with", json_object_get(v, "type") != NULL ? "type" :
		    "disabled", NULL));
		return;
	}
	if (adm_tx_begin(c->db, &outer, &err) < 0) {
		api_set_fail(res, "notUpdated", ident, api_set_error(ADM_BUSY, err, NULL));
		return;
	}
	json_t *pw = json_object_get(v, "password");
	if (pw != NULL) {
		int r = json_is_string(pw) ? adm_mailbox_passwd(c->db, ident,
		    json_string_value(pw), NULL, &err) : ADM_INVALID;
		if (r != ADM_OK)
			e = api_set_error(r, json_is_string(pw) ? err :
			    "password must be a string", "password");
	}
	if (e == NULL)
		(void)api_apply_fields(c, ADM_MAILBOX, ident, v, skip, &e);
	if (e == NULL)
		e = mailbox_extras(c, ident, mb.id, v);
	json_t *fw = json_object_get(v, "forwardAll");
	int64_t forwarded = 0;
	if (e == NULL && fw != NULL) {
		const char *to = json_string_value(json_object_get(fw, "to"));
		if (to == NULL)
			e = jmap_error_props("invalidProperties", "forwardAll is "
			    "{\"to\": address}", "forwardAll", NULL);
		else
			(void)api_mailbox_forward_all(c, ident, to, &forwarded, &e);
	}
	if (e == NULL && api_audit(c, "Mailbox", ident, "update", mb.postoffice,
	    "%s", api_patch_summary(v)) < 0)
		e = jmap_error("serverFail", "the audit store failed");
	if (api_tx_close(c, outer, e, res, "notUpdated", ident) == NULL)
		api_set_done(res, "updated", ident, fw != NULL ? json_pack("{s:I}",
		    "forwarded", (json_int_t)forwarded) : NULL);
}

static void
mailbox_destroy(struct api_ctx *c, const char *ident, json_t *args,
		json_t *res)
{
	bool keep = json_is_true(json_object_get(args, "keepData"));
	struct dir_mailbox mb;
	const char *err;
	json_t *e = NULL;

	if (api_mailbox_target(c, ident, &mb, &e) < 0) {
		api_set_fail(res, "notDestroyed", ident, e);
		return;
	}
	if (mb.id == c->actor->mailbox_id) {
		api_set_fail(res, "notDestroyed", ident, jmap_error("forbidden",
		    "you cannot delete the mailbox you are logged in with"));
		return;
	}
	int r = adm_mailbox_del(c->db, ident, keep, &err);
	api_destroyed(c, res, "Mailbox", ident, mb.postoffice, r, err, keep ?
	    "data kept" : "");
}

static const struct api_set_ops mailbox_ops = {
	"Mailbox", mailbox_create, mailbox_update, mailbox_destroy,
};

static void
mailbox_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_set_run(ctx, args, &mailbox_ops, result_r, error_r);
}

static void
mailbox_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	api_changes(ctx, args, "Mailbox", result_r, error_r);
}

const struct jmap_method api_mailbox_methods[] = {
	{ "Mailbox/get", API_CAPABILITY, mailbox_get },
	{ "Mailbox/query", API_CAPABILITY, mailbox_query },
	{ "Mailbox/set", API_CAPABILITY, mailbox_set },
	{ "Mailbox/changes", API_CAPABILITY, mailbox_changes },
	{ NULL, NULL, NULL },
};
