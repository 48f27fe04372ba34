/* jmap-identity - Identity/get, /changes, /set (RFC 8621 6) for the
 * webmail's settings (jmap-settings.h).
 *
 * The identities are the mailbox's addresses (dir_mailbox_addresses),
 * which the administrator manages: create and destroy are refused. What
 * the owner sets per address is kept in the config table identity
 * (schema v9): name (default: the mailbox's friendly_name), replyTo
 * (default: its reply_to), textSignature, htmlSignature (stored and
 * served only in the safe subset of lib/htmlsafe.h, so any client may
 * show it as it is) and the vendor property isDefault (exactly one is;
 * without a choice the first address). An id is "i" + a digest of the
 * address, so EmailSubmission's identityId (jmap-submit.c) finds it. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory.h"
#include "htmlsafe.h"
#include "jmap-mail.h"
#include "jmap-settings.h"
#include "strutil.h"
#include "xalloc.h"

#define NAME_MAX_BYTES 200
#define TEXT_SIGNATURE_MAX (16 * 1024)
#define REPLY_TO_MAX 10

void
jmap_identity_id(const char *address, char out[24])
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = address; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) *
		    1099511628211ULL;
	snprintf(out, 24, "i%016" PRIx64, h);
}

/* reply_to_json - a stored "Name <a@b>, c@d" list as EmailAddress[] */
static json_t *
reply_to_json(const char *stored)
{
	if (stored == NULL || *stored == '\0')
		return json_null();
	json_t *v = json_loads(stored, 0, NULL);
	if (json_is_array(v))
		return v;
	json_decref(v);
	/* the mailbox's reply_to field: one plain address */
	return json_pack("[{s:n,s:s}]", "name", "email", stored);
}

/* identities - the Identity objects (a new array), NULL on error */
static json_t *
identities(struct jmap_mail_ctx *c, const char **error_r)
{
	struct dir_strings a = { 0 };
	char *fname = NULL, *rto = NULL;

	if (dir_mailbox_addresses(c->db, c->mailbox_id, &a, error_r) < 0)
		return NULL;
	if (db_query_text(c->db, &fname, error_r, "SELECT friendly_name FROM "
	    "mailbox WHERE id = ?", "i", c->mailbox_id) < 0 ||
	    db_query_text(c->db, &rto, error_r, "SELECT reply_to FROM mailbox "
	    "WHERE id = ?", "i", c->mailbox_id) < 0) {
		dir_strings_free(&a);
		free(fname);
		return NULL;
	}
	json_t *list = json_array();
	bool any_default = false;
	for (size_t i = 0; i < a.n; i++) {
		char id[24];
		jmap_identity_id(a.v[i], id);
		json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:n,s:s,s:s,s:b,s:b}", "id",
		    id, "name", fname != NULL ? fname : "", "email", a.v[i],
		    "replyTo", reply_to_json(rto), "bcc", "textSignature", "",
		    "htmlSignature", "", "mayDelete", 0, "isDefault", 0);
		struct db_stmt *st = db_query(c->db, error_r, "SELECT name, reply_to, "
		    "text_signature, html_signature, is_default FROM identity "
		    "WHERE mailbox_id = ? AND email = ?", "it", c->mailbox_id,
		    a.v[i]);
		if (st == NULL) {
			json_decref(o);
			json_decref(list);
			list = NULL;
			break;
		}
		if (db_step(st, NULL) == DB_ROW) {
			const char *v;
			if ((v = db_col_text(st, 0)) != NULL &&
			    *v != '\0')
				json_object_set_new(o, "name", json_string(v));
			if ((v = db_col_text(st, 1)) != NULL &&
			    *v != '\0')
				json_object_set_new(o, "replyTo", reply_to_json(v));
			if ((v = db_col_text(st, 2)) != NULL)
				json_object_set_new(o, "textSignature", json_string(v));
			if ((v = db_col_text(st, 3)) != NULL)
				json_object_set_new(o, "htmlSignature", json_string(v));
			if (db_col_int(st, 4) != 0 && !any_default) {
				json_object_set_new(o, "isDefault", json_true());
				any_default = true;
			}
		}
		db_stmt_free(&st);
		json_array_append_new(list, o);
	}
	if (list != NULL && !any_default && json_array_size(list) > 0)
		json_object_set_new(json_array_get(list, 0), "isDefault",
		    json_true());
	dir_strings_free(&a);
	free(fname);
	free(rto);
	return list;
}

static json_t *
identity_state(json_t *list)
{
	char *s = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = s; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	free(s);
	return json_sprintf("I%016" PRIx64, h);
}

void
jmap_identity_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	json_t *ids, *v, *x;
	const char *err;
	size_t i, k;

	if (!jmap_mail_account(c, args, allowed, error_r) || !jmap_ids_arg(args,
	    "ids", c->lim->max_objects_in_get, &ids, error_r))
		return;
	json_t *all = identities(c, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array(), *nf = json_array();
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
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", identity_state(all), "list", list, "notFound", nf);
	json_decref(all);
}

void
jmap_identity_changes(void *ctx, json_t *args, json_t **result_r,
		      json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since, *err;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	since = json_string_value(json_object_get(args, "sinceState"));
	json_t *all = identities(c, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *now = identity_state(all);
	json_decref(all);
	if (since == NULL || strcmp(since, json_string_value(now)) != 0) {
		/* the state is a digest: only "nothing changed" is known */
		json_decref(now);
		*error_r = jmap_error("cannotCalculateChanges", "the identities "
		    "changed since (or sinceState is not an Identity state): "
		    "get them again");
		return;
	}
	*result_r = json_pack("{s:s,s:s,s:o,s:b,s:[],s:[],s:[]}", "accountId",
	    c->account_id, "oldState", since, "newState", now, "hasMoreChanges",
	    0, "created", "updated", "destroyed");
}

static json_t *
invalid(const char *prop, const char *why)
{
	return json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
	    "description", why, "properties", prop);
}

/* no_controls - text without control characters (but tab, and newlines
 * where lines is true) */
static bool
no_controls(const char *s, bool lines)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t' && (!lines || (*p != '\n' &&
		    *p != '\r'))) || *p == 0x7f)
			return false;
	return true;
}

/* reply_to_check - a replyTo value as text to store ("" for null), or
 * NULL with *why */
static char *
reply_to_check(json_t *v, const char **why)
{
	json_t *x;
	size_t i;

	if (json_is_null(v))
		return xstrdup("");
	if (!json_is_array(v) || json_array_size(v) > REPLY_TO_MAX) {
		*why = "replyTo is null or a list of at most 10 EmailAddress "
		    "objects {name, email}";
		return NULL;
	}
	json_t *out = json_array();
	json_array_foreach(v, i, x) {
		const char *email = json_string_value(json_object_get(x, "email"));
		json_t *name = json_object_get(x, "name");
		const char *err;
		char *norm = email != NULL ? address_normalize(email, &err) : NULL;
		if (!json_is_object(x) || norm == NULL || (name != NULL &&
		    !json_is_null(name) && (!json_is_string(name) ||
		    strlen(json_string_value(name)) > NAME_MAX_BYTES ||
		    !no_controls(json_string_value(name), false))) ||
		    json_object_size(x) > 2) {
			free(norm);
			json_decref(out);
			*why = "replyTo: each entry is {name, email} with a valid "
			    "address";
			return NULL;
		}
		json_array_append_new(out, json_pack("{s:O?,s:s}", "name",
		    json_is_string(name) ? name : NULL, "email", norm));
		free(norm);
	}
	char *s = json_array_size(out) > 0 ? json_dumps(out, JSON_COMPACT) :
	    xstrdup("");
	json_decref(out);
	return s;
}

/* update_one - apply patch to identity o (address email): NULL, or a
 * SetError; *changed_r gets what the server changed (htmlSignature) */
static json_t *
update_one(struct jmap_mail_ctx *c, json_t *o, json_t *patch,
	   json_t **changed_r)
{
	const char *email = json_string_value(json_object_get(o, "email"));
	const char *k, *err;
	json_t *x;
	char *rto = NULL, *html = NULL;
	json_t *e = NULL;
	bool set_default = false;

	*changed_r = NULL;
	/* start from what is there (defaults included) */
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *text = json_string_value(json_object_get(o,
	    "textSignature"));
	rto = reply_to_check(json_object_get(o, "replyTo"), &err);
	html = xstrdup(json_string_value(json_object_get(o, "htmlSignature")));
	json_object_foreach(patch, k, x) {
		if (e != NULL)
			break;
		if (strcmp(k, "name") == 0) {
			if (!json_is_string(x) || json_string_length(x) >
			    NAME_MAX_BYTES || !no_controls(json_string_value(x),
			    false))
				e = invalid(k, "name is a line of at most 200 bytes");
			else
				name = json_string_value(x);
		} else if (strcmp(k, "replyTo") == 0) {
			const char *why;
			char *r = reply_to_check(x, &why);
			if (r == NULL)
				e = invalid(k, why);
			else {
				free(rto);
				rto = r;
			}
		} else if (strcmp(k, "textSignature") == 0) {
			if (!json_is_string(x) || json_string_length(x) >
			    TEXT_SIGNATURE_MAX || !no_controls(json_string_value(x),
			    true))
				e = invalid(k, "textSignature is text of at most 16 KB");
			else
				text = json_string_value(x);
		} else if (strcmp(k, "htmlSignature") == 0) {
			struct buf b;
			buf_init(&b, 0);
			if (!json_is_string(x) || htmlsafe_clean(json_string_value(x),
			    json_string_length(x), &b, &err) < 0 ||
			    !no_controls(b.data != NULL ? b.data : "", true)) {
				e = invalid(k, "htmlSignature is HTML of at most 64 KB");
			} else {
				free(html);
				html = buf_steal(&b);
				if (html == NULL)
					html = xstrdup("");
				if (strcmp(html, json_string_value(x)) != 0)
					*changed_r = json_pack("{s:s}", "htmlSignature",
					    html);
			}
			buf_free(&b);
		} else if (strcmp(k, "isDefault") == 0) {
			if (!json_is_true(x))
				e = invalid(k, "make another identity the default "
				    "instead (isDefault: true)");
			set_default = true;
		} else if (strcmp(k, "bcc") == 0) {
			if (!json_is_null(x))
				e = invalid(k, "bcc is not supported: null only");
		} else {
			e = invalid(k, strcmp(k, "email") == 0 || strcmp(k, "id") == 0 ||
			    strcmp(k, "mayDelete") == 0 ? "this property cannot be "
			    "changed (addresses are managed by the administrator)" :
			    "unknown property");
		}
	}
	if (e == NULL && rto == NULL)
		e = invalid("replyTo", "the stored replyTo is not valid: set it");
	if (e == NULL && (db_exec(c->db, &err, "INSERT INTO identity "
	    "(mailbox_id, email, name, reply_to, text_signature, html_signature) "
	    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mailbox_id, email) DO UPDATE "
	    "SET name = excluded.name, reply_to = excluded.reply_to, "
	    "text_signature = excluded.text_signature, html_signature = "
	    "excluded.html_signature", "ittttt", c->mailbox_id, email,
	    name != NULL ? name : "", rto, text != NULL ? text : "", html) < 0 ||
	    (set_default && (db_exec(c->db, &err, "UPDATE identity SET "
	    "is_default = (email = ?) WHERE mailbox_id = ?", "ti", email,
	    c->mailbox_id) < 0))))
		e = json_pack("{s:s,s:s}", "type", "forbidden", "description", err);
	if (e != NULL) {
		json_decref(*changed_r);
		*changed_r = NULL;
	}
	free(rto);
	free(html);
	return e;
}

void
jmap_identity_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", NULL };
	const char *key, *err;
	json_t *v, *x;
	size_t i, k;

	if (!jmap_mail_account(c, args, allowed, error_r) ||
	    !jmap_set_args(args, c->lim->max_objects_in_set, error_r))
		return;
	json_t *all = identities(c, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *state = identity_state(all);
	json_t *ifs = json_object_get(args, "ifInState");
	if (ifs != NULL && !json_is_null(ifs) && !json_equal(ifs, state)) {
		json_decref(all);
		json_decref(state);
		*error_r = jmap_error("stateMismatch", "ifInState does not match");
		return;
	}
	json_t *nc = json_object(), *nu = json_object(), *nd = json_object(),
	    *updated = json_object();
	const char *why = "identities are the mailbox's addresses, managed by "
	    "the post office's administrator";
	json_object_foreach(json_object_get(args, "create"), key, v)
		json_object_set_new(nc, key, json_pack("{s:s,s:s}", "type",
		    "forbidden", "description", why));
	json_array_foreach(json_object_get(args, "destroy"), i, v)
		if (json_is_string(v))
			json_object_set_new(nd, json_string_value(v), json_pack(
			    "{s:s,s:s}", "type", "forbidden", "description", why));
	json_object_foreach(json_object_get(args, "update"), key, v) {
		json_t *found = NULL, *changed = NULL, *e;
		json_array_foreach(all, k, x)
			if (strcmp(json_string_value(json_object_get(x, "id")),
			    key) == 0)
				found = x;
		if (found == NULL)
			e = json_pack("{s:s}", "type", "notFound");
		else
			e = update_one(c, found, v, &changed);
		if (e != NULL)
			json_object_set_new(nu, key, e);
		else
			json_object_set_new(updated, key, changed != NULL ? changed :
			    json_null());
	}
	json_decref(all);
	json_t *after = identities(c, &err);
	json_t *now = after != NULL ? identity_state(after) : json_incref(state);
	json_decref(after);
	*result_r = json_pack("{s:s,s:o,s:o,s:{},s:o,s:[],s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", state, "newState", now,
	    "created", "updated", updated, "destroyed", "notCreated", nc,
	    "notUpdated", nu, "notDestroyed", nd);
}
