/* jmap-mail - the JMAP mail methods (jmap-mail.h): Mailbox, Email,
 * Thread, SearchSnippet (RFC 8621) and Quota (RFC 9425) over
 * jmap-store.h. Ids and states are provisional (see jmap-store.h). */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http-response.h"
#include "imap-parser.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-store.h"
#include "settings.h"
#include "store.h"
#include "xalloc.h"
#include "jmap-mail-private.h"
/* ------------------------------------------------------------- helpers */

struct jms *
jmap_mail_store(struct jmap_mail_ctx *c)
{
	if (c->store == NULL && c->store_error == NULL) {
		c->store = jms_open(c->root, c->quota_kb, &c->store_error);
		if (c->store != NULL)
			jms_train_with(c->store, c->db);
	}
	return c->store;
}

void
jmap_mail_ctx_free(struct jmap_mail_ctx *c)
{
	jms_close(&c->store);
}

json_t *
server_fail(struct jmap_mail_ctx *c, const char *why)
{
	(void)c;
	return jmap_error("serverFail", "the message store failed: %s",
	    why != NULL ? why : "unknown error");
}

/* account_ok - the accountId argument names this account */
static bool
account_ok(struct jmap_mail_ctx *c, json_t *args, json_t **error_r)
{
	const char *a = json_string_value(json_object_get(args, "accountId"));

	if (a == NULL) {
		*error_r = jmap_error_props("invalidArguments", "accountId is "
		    "required", "accountId", NULL);
		return false;
	}
	if (strcmp(a, c->account_id) != 0) {
		*error_r = jmap_error("accountNotFound", "no account %.100s for "
		    "%s", a, c->login);
		return false;
	}
	return true;
}

bool
jmap_mail_account(struct jmap_mail_ctx *c, json_t *args,
		  const char *const *allowed, json_t **error_r)
{
	return account_ok(c, args, error_r) &&
	    jmap_args_check(args, allowed, error_r);
}

/* begin - account check, argument check, the store */
struct jms *
jmap_mail_begin(struct jmap_mail_ctx *c, json_t *args, const char *const *allowed,
      json_t **error_r)
{
	if (!account_ok(c, args, error_r) ||
	    !jmap_args_check(args, allowed, error_r))
		return NULL;
	struct jms *j = jmap_mail_store(c);
	if (j == NULL)
		*error_r = server_fail(c, c->store_error);
	return j;
}

json_t *
jmap_mail_state(struct jms *j, char kind)
{
	struct buf b;
	const char *err;

	buf_init(&b, 0);
	if (jms_state(j, kind, &b, &err) < 0)
		buf_puts(&b, "");   /* no state: never equal to a client's */
	json_t *s = json_string(b.data != NULL ? b.data : "");
	buf_free(&b);
	return s;
}

/* if_in_state - RFC 8620 5.3 ifInState: true when absent or equal */
bool
if_in_state(json_t *args, struct jms *j, char kind, json_t **error_r)
{
	json_t *v = json_object_get(args, "ifInState");

	if (v == NULL || json_is_null(v))
		return true;
	json_t *now = jmap_mail_state(j, kind);
	bool ok = json_is_string(v) && json_equal(v, now);
	json_decref(now);
	if (!ok)
		*error_r = jmap_error("stateMismatch", "ifInState does not match "
		    "the current state");
	return ok;
}

static const char *
role_of(const struct jms_folder *f)
{
	if (strcasecmp(f->name, "INBOX") == 0)
		return "inbox";
	if (f->special_use & STORE_SU_SENT)
		return "sent";
	if (f->special_use & STORE_SU_DRAFTS)
		return "drafts";
	if (f->special_use & STORE_SU_TRASH)
		return "trash";
	if (f->special_use & STORE_SU_JUNK)
		return "junk";
	if (f->special_use & STORE_SU_ARCHIVE)
		return "archive";
	return NULL;
}

/* the system flags as JMAP keywords (RFC 8621 4.1.1) */
static const struct { unsigned flag; const char *kw; } sys_keywords[] = {
	{ STORE_SEEN, "$seen" }, { STORE_ANSWERED, "$answered" },
	{ STORE_FLAGGED, "$flagged" }, { STORE_DRAFT, "$draft" },
};
#define SYS_KEYWORDS_N (sizeof(sys_keywords) / sizeof(sys_keywords[0]))

/* keyword_flag - the STORE_* flag of a system keyword (any case), or 0 */
unsigned int
keyword_flag(const char *kw)
{
	for (size_t i = 0; i < SYS_KEYWORDS_N; i++)
		if (strcasecmp(kw, sys_keywords[i].kw) == 0)
			return sys_keywords[i].flag;
	return 0;
}

/* keywords_json - the keywords of a message as {kw: true} */
json_t *
keywords_json(const struct jms_msg *m)
{
	json_t *k = json_object();

	for (size_t i = 0; i < SYS_KEYWORDS_N; i++)
		if (m->flags & sys_keywords[i].flag)
			json_object_set_new(k, sys_keywords[i].kw, json_true());
	for (const char *p = m->keywords; *p != '\0'; ) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0) {
			char *kw = xstrndup(p, n);
			for (char *q = kw; *q != '\0'; q++)
				*q = (char)tolower((unsigned char)*q);
			json_object_set_new(k, kw, json_true());
			free(kw);
		}
		p += n;
	}
	return k;
}

/* keywords_line - {kw: true} to flags and a space separated list; -1 for
 * a keyword that is not an IMAP atom */
int
keywords_split(json_t *kws, unsigned int *flags_r, struct buf *rest)
{
	const char *k;
	json_t *v;

	*flags_r = 0;
	buf_reset(rest);
	buf_puts(rest, "");
	json_object_foreach(kws, k, v) {
		if (!json_is_true(v) || *k == '\0' || strlen(k) > 255)
			return -1;
		for (const char *p = k; *p != '\0'; p++)
			if (*p <= ' ' || *p >= 127 || strchr("(){]%*\"\\", *p) != NULL)
				return -1;
		if (keyword_flag(k) != 0)
			*flags_r |= keyword_flag(k);
		else {
			if (rest->len > 0)
				buf_putc(rest, ' ');
			buf_puts(rest, k);
		}
	}
	return rest->len < STORE_KEYWORDS_MAX ? 0 : -1;
}

static json_t *
keyword_list_json(const struct jms_msg *m)
{
	return keywords_json(m);
}

/* keywords_flat - the keywords of m as one lower-case space separated
 * list with the system flags as $seen... (for the filter matcher) */
char *
keywords_flat(const struct jms_msg *m)
{
	json_t *k = keyword_list_json(m);
	struct buf b;
	const char *key;
	json_t *v;

	buf_init(&b, 0);
	buf_puts(&b, "");
	json_object_foreach(k, key, v) {
		buf_puts(&b, key);
		buf_putc(&b, ' ');
	}
	json_decref(k);
	return buf_steal(&b);
}

/* ------------------------------------------------------------- Mailbox */

/* thread_counts - the Threads with an Email in folder i, and those of
 * them with an Email there that is not $seen (the store's thread ids) */
static void
thread_counts(struct jms *j, size_t i, int *total_r, int *unread_r)
{
	uint32_t total = 0, unread = 0;
	const char *err;

	if (jms_thread_counts(j, i, &total, &unread, &err) < 0)
		total = unread = 0;
	*total_r = (int)total;
	*unread_r = (int)unread;
}

static bool
prop_wanted(json_t *props, const char *name)
{
	size_t i;
	json_t *v;

	if (props == NULL || json_is_null(props))
		return true;
	json_array_foreach(props, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static json_t *
mailbox_json(struct jms *j, size_t i, json_t *props)
{
	const char *err;
	/* counters left 0 when the index cannot give them */
	if (prop_wanted(props, "totalEmails") ||
	    prop_wanted(props, "unreadEmails"))
		(void)jms_folder_counts(j, i, &err);
	const struct jms_folder *f = jms_folder(j, i);
	struct buf name;
	json_t *o = json_object();
	const char *leaf = strrchr(f->name, '.');
	char *parent = NULL;
	long parent_idx = -1;

	buf_init(&name, 0);
	if (leaf != NULL) {
		parent = xstrndup(f->name, (size_t)(leaf - f->name));
		leaf++;
		for (size_t k = 0; k < jms_nfolders(j); k++)
			if (strcmp(jms_folder(j, k)->name, parent) == 0)
				parent_idx = (long)k;
	} else
		leaf = f->name;
	if (strcasecmp(f->name, "INBOX") == 0)
		buf_puts(&name, "Inbox");
	else if (imap_mutf7_to_utf8(leaf, &name) < 0) {
		buf_reset(&name);
		buf_puts(&name, leaf);
	}
	const char *role = role_of(f);
	int threads = 0, unread_threads = 0;
	if (prop_wanted(props, "totalThreads") ||
	    prop_wanted(props, "unreadThreads"))
		thread_counts(j, i, &threads, &unread_threads);
	json_t *all = json_pack("{s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:i,s:I,s:b,s:{s:b,"
	    "s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}}",
	    "id", f->id, "name", name.data,
	    "parentId", parent_idx >= 0 ? json_string(jms_folder(j,
	    (size_t)parent_idx)->id) : json_null(),
	    "role", role != NULL ? json_string(role) : json_null(),
	    "totalEmails", (int)f->total, "unreadEmails", (int)f->unseen,
	    "totalThreads", threads, "unreadThreads", unread_threads,
	    "sortOrder", (json_int_t)(role != NULL && strcmp(role, "inbox") == 0 ?
	    0 : 10),
	    "isSubscribed", f->subscribed,
	    "myRights", "mayReadItems", 1, "mayAddItems", 1, "mayRemoveItems", 1,
	    "maySetSeen", 1, "maySetKeywords", 1, "mayCreateChild", 1,
	    "mayRename", strcasecmp(f->name, "INBOX") != 0,
	    "mayDelete", strcasecmp(f->name, "INBOX") != 0, "maySubmit", 1);
	if (props == NULL || json_is_null(props))
		json_object_update(o, all);
	else {
		size_t k;
		json_t *p;
		json_object_set(o, "id", json_object_get(all, "id"));
		json_array_foreach(props, k, p) {
			json_t *v = json_object_get(all, json_string_value(p));
			if (v != NULL)
				json_object_set(o, json_string_value(p), v);
		}
	}
	json_decref(all);
	free(parent);
	buf_free(&name);
	return o;
}

static bool
props_known(json_t *props, const char *const *known, json_t **error_r)
{
	size_t i;
	json_t *v;

	if (props == NULL || json_is_null(props))
		return true;
	if (!json_is_array(props)) {
		*error_r = jmap_error_props("invalidArguments", "properties must "
		    "be an array", "properties", NULL);
		return false;
	}
	json_array_foreach(props, i, v) {
		bool ok = false;
		for (size_t k = 0; json_is_string(v) && known[k] != NULL && !ok; k++)
			ok = strcmp(known[k], json_string_value(v)) == 0;
		if (!ok) {
			*error_r = jmap_error("invalidArguments", "unknown property "
			    "%.100s", json_is_string(v) ? json_string_value(v) :
			    "(not a string)");
			return false;
		}
	}
	return true;
}

static void
mailbox_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	static const char *const known[] = { "id", "name", "parentId", "role",
	    "sortOrder", "totalEmails", "unreadEmails", "totalThreads",
	    "unreadThreads", "myRights", "isSubscribed", NULL };
	json_t *ids, *props = json_object_get(args, "properties");
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !jmap_ids_arg(args, "ids", c->lim->max_objects_in_get,
	    &ids, error_r) || !props_known(props, known, error_r))
		return;
	json_t *list = json_array(), *nf = json_array();
	if (ids == NULL) {
		for (size_t i = 0; i < jms_nfolders(j); i++)
			json_array_append_new(list, mailbox_json(j, i, props));
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v) {
			long k = jms_folder_find(j, json_string_value(v));
			if (k < 0)
				json_array_append(nf, v);
			else
				json_array_append_new(list, mailbox_json(j, (size_t)k,
				    props));
		}
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", jmap_mail_state(j, 'M'), "list", list, "notFound", nf);
}

/* changes_args - sinceState and maxChanges */
bool
changes_args(json_t *args, const char **since_r, json_t **error_r)
{
	json_t *mc = json_object_get(args, "maxChanges");

	*since_r = json_string_value(json_object_get(args, "sinceState"));
	if (*since_r == NULL) {
		*error_r = jmap_error_props("invalidArguments", "sinceState is "
		    "required", "sinceState", NULL);
		return false;
	}
	if (mc != NULL && !json_is_null(mc) && (!json_is_integer(mc) ||
	    json_integer_value(mc) <= 0)) {
		*error_r = jmap_error_props("invalidArguments", "maxChanges must "
		    "be a positive integer", "maxChanges", NULL);
		return false;
	}
	return true;
}

/* changes_run - a /changes method of kind ('E', 'M', 'T') from the
 * store's change log: maxChanges is passed down (hasMoreChanges with an
 * intermediate state); cannotCalculateChanges only when the log cannot
 * tell */
void
changes_run(struct jmap_mail_ctx *c, struct jms *j, char kind, json_t *args,
	    const char *since, json_t **result_r, json_t **error_r)
{
	json_t *mc = json_object_get(args, "maxChanges");
	struct jms_changes ch;
	const char *err = NULL;
	size_t max = json_is_integer(mc) ? (size_t)json_integer_value(mc) : 0;

	int r = jms_changes(j, kind, since, max, &ch, &err);
	if (r < 0) {
		*error_r = server_fail(c, err);
		return;
	}
	if (r == 0) {
		*error_r = jmap_error("cannotCalculateChanges", "sinceState "
		    "cannot be calculated from: %s", err != NULL ? err :
		    "unknown state");
		return;
	}
	*result_r = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "accountId",
	    c->account_id, "oldState", since, "newState", ch.new_state,
	    "hasMoreChanges", ch.has_more ? 1 : 0, "created", ch.created,
	    "updated", ch.updated, "destroyed", ch.destroyed);
	if (kind == 'M')
		json_object_set_new(*result_r, "updatedProperties",
		    ch.counts_only && json_array_size(ch.updated) > 0 ?
		    json_pack("[ssss]", "totalEmails", "unreadEmails",
		    "totalThreads", "unreadThreads") : json_null());
}

static void
mailbox_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since;
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !changes_args(args, &since, error_r))
		return;
	changes_run(c, j, 'M', args, since, result_r, error_r);
}

static void
mailbox_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "position", "anchor", "anchorOffset", "limit", "calculateTotal",
	    "sortAsTree", "filterAsTree", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *filter = json_object_get(args, "filter");
	json_t *sort = json_object_get(args, "sort");

	if (j == NULL)
		return;
	const char *role = NULL, *parent = NULL, *name = NULL;
	bool has_role = false, has_parent = false;
	int subscribed = -1;
	if (filter != NULL && !json_is_null(filter)) {
		const char *k;
		json_t *v;
		if (!json_is_object(filter)) {
			*error_r = jmap_error("unsupportedFilter", "the filter must "
			    "be a FilterCondition");
			return;
		}
		json_object_foreach(filter, k, v) {
			if (strcmp(k, "role") == 0)
				has_role = true, role = json_string_value(v);
			else if (strcmp(k, "parentId") == 0)
				has_parent = true, parent = json_string_value(v);
			else if (strcmp(k, "name") == 0 && json_is_string(v))
				name = json_string_value(v);
			else if (strcmp(k, "isSubscribed") == 0 && json_is_boolean(v))
				subscribed = json_is_true(v);
			else if (strcmp(k, "hasAnyRole") == 0 && json_is_boolean(v))
				has_role = true, role = json_is_true(v) ? "*" : NULL;
			else {
				*error_r = jmap_error("unsupportedFilter", "unsupported "
				    "Mailbox filter %.100s (operators are not "
				    "supported on Mailbox/query)", k);
				return;
			}
		}
	}
	bool by_name = false;
	if (sort != NULL && !json_is_null(sort)) {
		size_t i;
		json_t *s;
		if (!json_is_array(sort)) {
			*error_r = jmap_error("unsupportedSort", "sort must be an "
			    "array");
			return;
		}
		json_array_foreach(sort, i, s) {
			const char *p = json_string_value(json_object_get(s, "property"));
			if (p == NULL || (strcmp(p, "name") != 0 &&
			    strcmp(p, "sortOrder") != 0)) {
				*error_r = jmap_error("unsupportedSort", "Mailboxes sort "
				    "by name or sortOrder");
				return;
			}
			by_name = by_name || strcmp(p, "name") == 0;
		}
	}
	json_t *ids = json_array();
	for (size_t i = 0; i < jms_nfolders(j); i++) {
		json_t *qp = json_pack("[s,s,s,s]", "role", "parentId", "name",
		    "isSubscribed");
		json_t *m = mailbox_json(j, i, qp);
		json_decref(qp);
		const char *r = json_string_value(json_object_get(m, "role"));
		const char *pid = json_string_value(json_object_get(m, "parentId"));
		bool ok = true;
		if (has_role)
			ok = role == NULL ? r == NULL : strcmp(role, "*") == 0 ?
			    r != NULL : r != NULL && strcmp(r, role) == 0;
		if (ok && has_parent)
			ok = parent == NULL ? pid == NULL : pid != NULL &&
			    strcmp(pid, parent) == 0;
		if (ok && name != NULL)
			ok = strcasestr(json_string_value(json_object_get(m, "name")),
			    name) != NULL;
		if (ok && subscribed >= 0)
			ok = json_is_true(json_object_get(m, "isSubscribed")) ==
			    (subscribed == 1);
		if (ok)
			json_array_append_new(ids, json_string(jms_folder(j, i)->id));
		json_decref(m);
	}
	(void)by_name;   /* the store lists INBOX first, then by name */
	*result_r = json_pack("{s:s,s:o,s:b,s:i,s:o,s:i}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'M'), "canCalculateChanges",
	    0, "position", 0, "ids", ids, "total", (int)json_array_size(ids));
}

static void
query_changes_unsupported(void *ctx, json_t *args, json_t **result_r,
			  json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;

	(void)result_r;
	if (!account_ok(c, args, error_r))
		return;
	*error_r = jmap_error("cannotCalculateChanges", "this server keeps no "
	    "query states (canCalculateChanges is false): run the query again");
}

/* folder_name_for - the IMAP name of a new Mailbox: parent + '.' + name
 * in modified UTF-7; NULL with *why_r */
static char *
folder_name_for(struct jms *j, const char *name, const char *parent_id,
		const char **why_r)
{
	struct buf enc;

	if (name == NULL || *name == '\0' || strchr(name, '.') != NULL ||
	    strlen(name) > 200) {
		*why_r = "name must be 1-200 characters without '.'";
		return NULL;
	}
	buf_init(&enc, 0);
	if (imap_utf8_to_mutf7(name, &enc) < 0) {
		buf_free(&enc);
		*why_r = "name is not valid UTF-8";
		return NULL;
	}
	char *full;
	if (parent_id != NULL) {
		long p = jms_folder_find(j, parent_id);
		if (p < 0) {
			buf_free(&enc);
			*why_r = "parentId: no such Mailbox";
			return NULL;
		}
		full = xasprintf("%s.%s", jms_folder(j, (size_t)p)->name, enc.data);
	} else
		full = xstrdup(enc.data);
	buf_free(&enc);
	return full;
}

static void
mailbox_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", "onDestroyRemoveEmails", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *create = json_object_get(args, "create");
	json_t *update = json_object_get(args, "update");
	json_t *destroy = json_object_get(args, "destroy");
	const char *err, *key;
	json_t *v;

	if (j == NULL || !if_in_state(args, j, 'M', error_r))
		return;
	if (!jmap_set_args(args, c->lim->max_objects_in_set, error_r))
		return;
	json_t *old = jmap_mail_state(j, 'M');
	json_t *created = json_object(), *updated = json_object(),
	    *destroyed = json_array(), *nc = json_object(), *nu = json_object(),
	    *nd = json_object();
	json_object_foreach(create, key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *parent = json_string_value(json_object_get(v, "parentId"));
		const char *why = NULL;
		const char *k2;
		json_t *v2;
		json_object_foreach(v, k2, v2)
			if (strcmp(k2, "name") != 0 && strcmp(k2, "parentId") != 0 &&
			    strcmp(k2, "isSubscribed") != 0 &&
			    !(strcmp(k2, "role") == 0 && json_is_null(v2)) &&
			    !(strcmp(k2, "sortOrder") == 0 && json_is_integer(v2)))
				why = "only name, parentId and isSubscribed can be set";
		char *full = why == NULL ? folder_name_for(j, name, parent, &why) :
		    NULL;
		if (full == NULL) {
			json_object_set_new(nc, key, json_pack("{s:s,s:s}", "type",
			    "invalidProperties", "description", why));
			continue;
		}
		if (jms_folder_create(j, full, &err) < 0) {
			json_object_set_new(nc, key, json_pack("{s:s,s:s}", "type",
			    strstr(err, "exists") != NULL ? "invalidProperties" :
			    "forbidden", "description", err));
			free(full);
			continue;
		}
		if (json_is_boolean(json_object_get(v, "isSubscribed")))
			(void)store_folder_name_check(full, &err);
		(void)jms_reload(j, &err);
		for (size_t i = 0; i < jms_nfolders(j); i++)
			if (strcmp(jms_folder(j, i)->name, full) == 0) {
				if (json_is_true(json_object_get(v, "isSubscribed")))
					(void)jms_folder_subscribe(j, i, true, &err);
				json_object_set_new(created, key, json_pack("{s:s}",
				    "id", jms_folder(j, i)->id));
			}
		free(full);
	}
	json_object_foreach(update, key, v) {
		long i = jms_folder_find(j, key);
		if (i < 0) {
			json_object_set_new(nu, key, json_pack("{s:s}", "type",
			    "notFound"));
			continue;
		}
		const char *why = NULL;
		json_t *name = json_object_get(v, "name");
		json_t *parent = json_object_get(v, "parentId");
		json_t *sub = json_object_get(v, "isSubscribed");
		const char *k2;
		json_t *v2;
		json_object_foreach(v, k2, v2)
			if (strcmp(k2, "name") != 0 && strcmp(k2, "parentId") != 0 &&
			    strcmp(k2, "isSubscribed") != 0)
				why = "only name, parentId and isSubscribed can be "
				    "changed";
		if (why == NULL && (name != NULL || parent != NULL)) {
			const struct jms_folder *f = jms_folder(j, (size_t)i);
			struct buf leaf;
			buf_init(&leaf, 0);
			const char *dot = strrchr(f->name, '.');
			if (imap_mutf7_to_utf8(dot != NULL ? dot + 1 : f->name,
			    &leaf) < 0)
				buf_puts(&leaf, dot != NULL ? dot + 1 : f->name);
			const char *nn = name != NULL ? json_string_value(name) :
			    leaf.data;
			char *pid = NULL;
			if (parent == NULL && dot != NULL) {
				char *pn = xstrndup(f->name, (size_t)(dot - f->name));
				for (size_t k = 0; k < jms_nfolders(j); k++)
					if (strcmp(jms_folder(j, k)->name, pn) == 0)
						pid = xstrdup(jms_folder(j, k)->id);
				free(pn);
			} else if (parent != NULL && json_is_string(parent))
				pid = xstrdup(json_string_value(parent));
			char *full = folder_name_for(j, nn, pid, &why);
			if (full != NULL && strcmp(full, f->name) != 0 &&
			    jms_folder_rename(j, (size_t)i, full, &err) < 0)
				why = err;
			free(full);
			free(pid);
			buf_free(&leaf);
		}
		if (why == NULL && json_is_boolean(sub) &&
		    jms_folder_subscribe(j, (size_t)i, json_is_true(sub), &err) < 0)
			why = err;
		if (why != NULL)
			json_object_set_new(nu, key, json_pack("{s:s,s:s}", "type",
			    "invalidProperties", "description", why));
		else
			json_object_set_new(updated, key, json_null());
		(void)jms_reload(j, &err);
	}
	size_t di;
	json_array_foreach(destroy, di, v) {
		const char *id = json_string_value(v);
		long i = id != NULL ? jms_folder_find(j, id) : -1;
		if (i < 0) {
			json_object_set_new(nd, id != NULL ? id : "", json_pack("{s:s}",
			    "type", "notFound"));
			continue;
		}
		const struct jms_folder *f = jms_folder(j, (size_t)i);
		if (jms_folder_counts(j, (size_t)i, &err) < 0) {
			json_object_set_new(nd, id, json_pack("{s:s,s:s}", "type",
			    "serverFail", "description", err));
			continue;
		}
		if (f->total > 0 && !json_is_true(json_object_get(args,
		    "onDestroyRemoveEmails"))) {
			json_object_set_new(nd, id, json_pack("{s:s,s:s}", "type",
			    "mailboxHasEmail", "description", "the Mailbox has "
			    "Emails (onDestroyRemoveEmails)"));
			continue;
		}
		bool child = false;
		size_t nl = strlen(f->name);
		for (size_t k = 0; k < jms_nfolders(j); k++)
			child = child || (strncmp(jms_folder(j, k)->name, f->name,
			    nl) == 0 && jms_folder(j, k)->name[nl] == '.');
		if (child) {
			json_object_set_new(nd, id, json_pack("{s:s}", "type",
			    "mailboxHasChild"));
			continue;
		}
		if (jms_folder_delete(j, (size_t)i, &err) < 0) {
			json_object_set_new(nd, id, json_pack("{s:s,s:s}", "type",
			    "forbidden", "description", err));
			continue;
		}
		json_array_append(destroyed, v);
		(void)jms_reload(j, &err);
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", old, "newState",
	    jmap_mail_state(j, 'M'), "created", created, "updated", updated,
	    "destroyed", destroyed, "notCreated", nc, "notUpdated", nu,
	    "notDestroyed", nd);
}

/* -------------------------------------------------------------- Thread */

static void
thread_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "ids", c->lim->max_objects_in_get,
	    &ids, error_r))
		return;
	if (ids == NULL) {
		*error_r = jmap_error_props("invalidArguments", "Thread/get needs "
		    "ids", "ids", NULL);
		return;
	}
	json_t *out = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		json_t *t;
		int r = jms_thread_get(j, json_string_value(v), &t, &err);
		if (r < 0) {
			json_decref(out);
			json_decref(nf);
			*error_r = server_fail(c, err);
			return;
		}
		if (r == 0)
			json_array_append(nf, v);
		else
			json_array_append_new(out, json_pack("{s:O,s:o}", "id",
			    v, "emailIds", t));
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", jmap_mail_state(j, 'T'), "list", out, "notFound", nf);
}

static void
thread_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since;
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !changes_args(args, &since, error_r))
		return;
	changes_run(c, j, 'T', args, since, result_r, error_r);
}

/* ------------------------------------------------------- SearchSnippet */

/* mark - s HTML-escaped with each case-insensitive hit of term in
 * <mark></mark>; true when there was one */
static bool
mark(const char *s, const char *term, struct buf *out)
{
	size_t tl = term != NULL ? strlen(term) : 0;
	bool hit = false;
	struct buf piece;

	buf_init(&piece, 0);
	for (size_t i = 0; s[i] != '\0' && out->len < SNIPPET_MAX * 8; ) {
		if (tl > 0 && strncasecmp(s + i, term, tl) == 0) {
			char *t = xstrndup(s + i, tl);
			buf_puts(out, "<mark>");
			http_escape(out, t);
			buf_puts(out, "</mark>");
			free(t);
			i += tl;
			hit = true;
			continue;
		}
		char ch[2] = { s[i], '\0' };
		http_escape(out, ch);
		i++;
	}
	buf_free(&piece);
	return hit;
}

/* filter_term - the first text/subject/body value of a filter */
static const char *
filter_term(const struct je_filter *f)
{
	if (f == NULL)
		return NULL;
	if (f->kind == JF_TEXT || f->kind == JF_SUBJECT || f->kind == JF_BODY)
		return f->str;
	if (f->kind == JF_NOT)
		return NULL;
	for (size_t i = 0; i < f->nsub; i++) {
		const char *t = filter_term(&f->sub[i]);
		if (t != NULL)
			return t;
	}
	return NULL;
}

static void
snippet_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter",
	    "emailIds", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	struct je_filter *filter = NULL;
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "emailIds",
	    c->lim->max_objects_in_get, &ids, error_r) ||
	    je_filter_parse(json_object_get(args, "filter"), &filter,
	    error_r) < 0)
		return;
	if (ids == NULL) {
		je_filter_free(&filter);
		*error_r = jmap_error_props("invalidArguments", "emailIds is "
		    "required", "emailIds", NULL);
		return;
	}
	const char *term = filter_term(filter);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const struct jms_msg *m;
		struct buf data;
		if (jms_msg_find(j, json_string_value(v), &m, &err) <= 0) {
			json_array_append(nf, v);
			continue;
		}
		buf_init(&data, MESSAGE_READ_MAX);
		if (jms_msg_read(j, m, 0, &data, &err) < 0) {
			buf_free(&data);
			json_array_append(nf, v);
			continue;
		}
		if (data.data == NULL)
			buf_puts(&data, "");
		struct buf subj, sm, pm;
		buf_init(&subj, 0);
		buf_init(&sm, 0);
		buf_init(&pm, 0);
		je_header_text(data.data, data.len, "Subject", &subj);
		bool shit = mark(subj.data, term, &sm);
		/* the preview around the first hit in the text */
		struct je_props p = { .props = json_pack("[s]", "preview") };
		struct je_meta meta = { .blob_id = "x" };
		json_t *e = je_email(data.data, data.len, &meta, &p);
		const char *pv = json_string_value(json_object_get(e, "preview"));
		bool phit = pv != NULL && mark(pv, term, &pm);
		json_array_append_new(list, json_pack("{s:O,s:s?,s:s?}", "emailId",
		    v, "subject", shit ? sm.data : NULL, "preview", phit ? pm.data :
		    NULL));
		json_decref(e);
		json_decref(p.props);
		buf_free(&subj);
		buf_free(&sm);
		buf_free(&pm);
		buf_free(&data);
	}
	je_filter_free(&filter);
	*result_r = json_pack("{s:s,s:o,s:o}", "accountId", c->account_id,
	    "list", list, "notFound", nf);
}

/* --------------------------------------------------------------- Quota */

static json_t *
quota_json(struct jmap_mail_ctx *c, int64_t used, int64_t limit)
{
	(void)c;
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:[s],s:s}", "id", "octets",
	    "resourceType", "octets", "used", (json_int_t)used, "hardLimit",
	    (json_int_t)limit, "scope", "account", "name", "Mailbox quota",
	    "types", "Email", "description", "the mailbox quota of the post "
	    "office's administrator (manual: mailbox quota)");
}

static void
quota_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	int64_t used, limit;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "ids", c->lim->max_objects_in_get,
	    &ids, error_r))
		return;
	if (jms_usage(j, &used, &limit, &err) < 0) {
		*error_r = server_fail(c, err);
		return;
	}
	json_t *list = json_array(), *nf = json_array();
	if (ids == NULL) {
		if (limit > 0)
			json_array_append_new(list, quota_json(c, used, limit));
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
			if (limit > 0 && strcmp(json_string_value(v), "octets") == 0)
				json_array_append_new(list, quota_json(c, used, limit));
			else
				json_array_append(nf, v);
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", jmap_mail_state(j, 'Q'), "list", list, "notFound", nf);
}

static void
quota_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since;
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !changes_args(args, &since, error_r))
		return;
	if (since[0] != 'Q') {
		*error_r = jmap_error("cannotCalculateChanges", "sinceState is "
		    "not a Quota state of this server");
		return;
	}
	json_t *now = jmap_mail_state(j, 'Q'), *up = json_array();
	int64_t used, limit;
	const char *err;
	if (strcmp(json_string_value(now), since) != 0 &&
	    jms_usage(j, &used, &limit, &err) == 0 && limit > 0)
		json_array_append_new(up, json_string("octets"));
	/* one id at most: within any maxChanges (a positive integer) */
	*result_r = json_pack("{s:s,s:s,s:o,s:b,s:[],s:o,s:[]}", "accountId",
	    c->account_id, "oldState", since, "newState", now,
	    "hasMoreChanges", 0, "created", "updated", up, "destroyed");
}

static void
quota_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "position", "anchor", "anchorOffset", "limit", "calculateTotal",
	    NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	int64_t used, limit;
	const char *err;

	if (j == NULL)
		return;
	if (jms_usage(j, &used, &limit, &err) < 0) {
		*error_r = server_fail(c, err);
		return;
	}
	json_t *ids = limit > 0 ? json_pack("[s]", "octets") : json_array();
	*result_r = json_pack("{s:s,s:o,s:b,s:i,s:o,s:i}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'Q'), "canCalculateChanges",
	    0, "position", 0, "ids", ids, "total", (int)json_array_size(ids));
}

json_t *
jmap_mail_states(struct jmap_mail_ctx *c)
{
	struct jms *j = jmap_mail_store(c);

	if (j == NULL)
		return NULL;
	return json_pack("{s:o,s:o,s:o,s:o}", "Mailbox", jmap_mail_state(j, 'M'),
	    "Email", jmap_mail_state(j, 'E'), "Thread",
	    jmap_mail_state(j, 'T'), "Quota", jmap_mail_state(j, 'Q'));
}

const struct jmap_method jmap_mail_methods[] = {
	{ "Mailbox/get", JMAP_MAIL, mailbox_get },
	{ "Mailbox/changes", JMAP_MAIL, mailbox_changes },
	{ "Mailbox/query", JMAP_MAIL, mailbox_query },
	{ "Mailbox/queryChanges", JMAP_MAIL, query_changes_unsupported },
	{ "Mailbox/set", JMAP_MAIL, mailbox_set },
	{ "Email/get", JMAP_MAIL, email_get },
	{ "Email/changes", JMAP_MAIL, email_changes },
	{ "Email/query", JMAP_MAIL, email_query },
	{ "Email/queryChanges", JMAP_MAIL, email_query_changes },
	{ "Email/set", JMAP_MAIL, email_set },
	{ "Email/import", JMAP_MAIL, email_import },
	{ "Email/parse", JMAP_MAIL, email_parse },
	{ "Thread/get", JMAP_MAIL, thread_get },
	{ "Thread/changes", JMAP_MAIL, thread_changes },
	{ "SearchSnippet/get", JMAP_MAIL, snippet_get },
	{ "Quota/get", JMAP_QUOTA, quota_get },
	{ "Quota/changes", JMAP_QUOTA, quota_changes },
	{ "Quota/query", JMAP_QUOTA, quota_query },
	{ "Quota/queryChanges", JMAP_QUOTA, query_changes_unsupported },
	{ NULL, NULL, NULL },
};
