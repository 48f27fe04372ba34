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

#define HEADER_READ (64 * 1024)
#define MESSAGE_READ_MAX ((size_t)64 * 1024 * 1024)
#define QUERY_LIMIT_MAX 5000
#define SNIPPET_MAX 255

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

static json_t *
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
static bool
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
static unsigned int
keyword_flag(const char *kw)
{
	for (size_t i = 0; i < SYS_KEYWORDS_N; i++)
		if (strcasecmp(kw, sys_keywords[i].kw) == 0)
			return sys_keywords[i].flag;
	return 0;
}

/* keywords_json - the keywords of a message as {kw: true} */
static json_t *
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
static int
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
static char *
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
static bool
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
static void
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

/* --------------------------------------------------------------- Email */

static json_t *
mailbox_ids_json(struct jms *j, const struct jms_msg *m)
{
	return json_pack("{s:b}", jms_folder(j, m->folder)->id, 1);
}

static bool
props_need_body(json_t *props)
{
	size_t i;
	json_t *v;

	if (props == NULL || json_is_null(props))
		return true;
	json_array_foreach(props, i, v) {
		const char *s = json_string_value(v);
		if (strcmp(s, "bodyStructure") == 0 || strcmp(s, "bodyValues") == 0 ||
		    strcmp(s, "textBody") == 0 || strcmp(s, "htmlBody") == 0 ||
		    strcmp(s, "attachments") == 0 || strcmp(s, "preview") == 0 ||
		    strcmp(s, "hasAttachment") == 0)
			return true;
	}
	return false;
}

/* email_props - the Email/get and Email/parse arguments of what to
 * render: false with invalidArguments */
static bool
email_props(json_t *args, struct je_props *p, json_t **error_r)
{
	json_t *mbv = json_object_get(args, "maxBodyValueBytes");

	*p = (struct je_props){
		.props = json_object_get(args, "properties"),
		.body_props = json_object_get(args, "bodyProperties"),
		.fetch_text = json_is_true(json_object_get(args,
		    "fetchTextBodyValues")),
		.fetch_html = json_is_true(json_object_get(args,
		    "fetchHTMLBodyValues")),
		.fetch_all = json_is_true(json_object_get(args,
		    "fetchAllBodyValues")),
	};
	if (!je_props_check(p->props, p->body_props, error_r))
		return false;
	if (mbv != NULL && !json_is_null(mbv)) {
		if (!json_is_integer(mbv) || json_integer_value(mbv) <= 0) {
			*error_r = jmap_error_props("invalidArguments",
			    "maxBodyValueBytes must be a positive integer",
			    "maxBodyValueBytes", NULL);
			return false;
		}
		p->max_body_value_bytes = (size_t)json_integer_value(mbv);
	}
	return true;
}

static void
email_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    "bodyProperties", "fetchTextBodyValues", "fetchHTMLBodyValues",
	    "fetchAllBodyValues", "maxBodyValueBytes", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "ids", c->lim->max_objects_in_get,
	    &ids, error_r))
		return;
	struct je_props p;
	if (!email_props(args, &p, error_r))
		return;
	json_t *all = NULL;
	if (ids == NULL) {
		/* every Email: bounded by maxObjectsInGet (5.1) */
		all = json_array();
		for (size_t f = 0; f < jms_nfolders(j); f++) {
			const struct jms_msg *m;
			size_t n;
			if (jms_msgs(j, f, &m, &n, &err) < 0) {
				json_decref(all);
				*error_r = server_fail(c, err);
				return;
			}
			for (size_t k = 0; k < n; k++)
				json_array_append_new(all, json_string(m[k].id));
		}
		if (json_array_size(all) > c->lim->max_objects_in_get) {
			json_decref(all);
			*error_r = jmap_error("requestTooLarge", "the account has "
			    "more Emails than maxObjectsInGet: ask by ids");
			return;
		}
		ids = all;
	}
	bool body = props_need_body(p.props);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const struct jms_msg *m;
		const char *id = json_string_value(v);
		int r = jms_msg_find(j, id, &m, &err);
		struct buf data;
		if (r == 0) {
			json_array_append(nf, v);
			continue;
		}
		/* the body: the whole file mapped (no limit, no copy); the
		 * header alone: its first HEADER_READ bytes */
		struct jms_map map;
		buf_init(&data, MESSAGE_READ_MAX);
		if (r < 0 || (body ? jms_msg_map(j, m, &map, &err) :
		    jms_msg_read(j, m, HEADER_READ, &data, &err)) < 0) {
			buf_free(&data);
			json_array_append(nf, v);   /* gone meanwhile */
			continue;
		}
		if (!body) {
			memset(&map, 0, sizeof(map));
			map.data = data.data != NULL ? data.data : "";
			map.len = data.len;
		}
		char bid[40];
		snprintf(bid, sizeof(bid), "B%s", m->id);
		json_t *mb = mailbox_ids_json(j, m), *kw = keywords_json(m);
		struct je_meta meta = { .id = m->id, .blob_id = bid,
		    .thread_id = m->threadid, .mailbox_ids = mb, .keywords = kw,
		    .size = m->size, .received = m->received };
		json_t *e = je_email(map.data, map.len, &meta, &p);
		if (body)
			jms_msg_unmap(&map);
		if (p.props != NULL && json_is_array(p.props))
			json_object_set_new(e, "id", json_string(m->id));
		json_array_append_new(list, e);
		json_decref(mb);
		json_decref(kw);
		buf_free(&data);
	}
	json_decref(all);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", jmap_mail_state(j, 'E'), "list", list, "notFound", nf);
}

static void
email_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since;
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !changes_args(args, &since, error_r))
		return;
	changes_run(c, j, 'E', args, since, result_r, error_r);
}

/* one message as the query sees it */
struct qmsg {
	const struct jms_msg *m;
	char *from, *to, *subject;   /* sort keys, lower case */
	time_t sent;
	char tid[24];
};

struct sort_key {
	enum { SK_RECEIVED, SK_SIZE, SK_FROM, SK_TO, SK_SUBJECT, SK_SENT } k;
	bool asc;
};


static int
qmsg_cmp_keys(const struct qmsg *a, const struct qmsg *b,
	      const struct sort_key *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		int r = 0;
		switch (keys[i].k) {
		case SK_RECEIVED:
			r = a->m->received < b->m->received ? -1 :
			    a->m->received > b->m->received;
			break;
		case SK_SIZE:
			r = a->m->size < b->m->size ? -1 : a->m->size > b->m->size;
			break;
		case SK_FROM:
			r = strcmp(a->from, b->from);
			break;
		case SK_TO:
			r = strcmp(a->to, b->to);
			break;
		case SK_SUBJECT:
			r = strcmp(a->subject, b->subject);
			break;
		case SK_SENT:
			r = a->sent < b->sent ? -1 : a->sent > b->sent;
			break;
		}
		if (r != 0)
			return keys[i].asc ? r : -r;
	}
	return strcmp(a->m->id, b->m->id);
}

/* qsort has no context argument: the keys of this thread's sort */
static __thread const struct sort_key *t_keys;
static __thread size_t t_nkeys;

/* tid_cmp - positions in t_list by thread id, then position (stable) */
static __thread const struct qmsg *t_list;

static int
tid_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int r = strcmp(t_list[a].tid, t_list[b].tid);

	return r != 0 ? r : a < b ? -1 : a > b;
}

static int
qmsg_cmp(const void *x, const void *y)
{
	return qmsg_cmp_keys(x, y, t_keys, t_nkeys);
}

/* subject_base - a subject without Re:/Fwd: prefixes, lower case */
static char *
subject_base(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, "re:", 3) == 0)
			s += 3;
		else if (strncasecmp(s, "fwd:", 4) == 0)
			s += 4;
		else if (strncasecmp(s, "fw:", 3) == 0)
			s += 3;
		else
			break;
	}
	char *r = xstrdup(s);
	for (char *p = r; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static int
sort_parse(json_t *sort, struct sort_key *keys, size_t *n_r, bool *hdr_r,
	   json_t **error_r)
{
	size_t i;
	json_t *s;

	*n_r = 0;
	*hdr_r = false;
	if (sort == NULL || json_is_null(sort)) {
		keys[0] = (struct sort_key){ SK_RECEIVED, false };
		*n_r = 1;
		return 0;
	}
	if (!json_is_array(sort) || json_array_size(sort) > 8) {
		*error_r = jmap_error("unsupportedSort", "sort must be an array of "
		    "at most 8 Comparators");
		return -1;
	}
	json_array_foreach(sort, i, s) {
		const char *p = json_string_value(json_object_get(s, "property"));
		json_t *asc = json_object_get(s, "isAscending");
		static const struct { const char *name; int k; bool hdr; } props[] = {
			{ "receivedAt", SK_RECEIVED, false }, { "size", SK_SIZE, false },
			{ "from", SK_FROM, true }, { "to", SK_TO, true },
			{ "subject", SK_SUBJECT, true }, { "sentAt", SK_SENT, true },
		};
		size_t k;
		for (k = 0; p != NULL && k < sizeof(props) / sizeof(props[0]); k++)
			if (strcmp(props[k].name, p) == 0)
				break;
		if (p == NULL || k == sizeof(props) / sizeof(props[0])) {
			*error_r = jmap_error("unsupportedSort", "Emails sort by "
			    "receivedAt, size, from, to, subject or sentAt, not "
			    "%.100s", p != NULL ? p : "(none)");
			return -1;
		}
		keys[*n_r].k = props[k].k;
		keys[*n_r].asc = asc == NULL || json_is_true(asc);
		*hdr_r = *hdr_r || props[k].hdr;
		(*n_r)++;
	}
	return 0;
}

/* query_run - the sorted, filtered list of Emails; collapse: one per
 * thread. *list_r (free each field with qmsgs_free) */
static int
query_run(struct jmap_mail_ctx *c, struct jms *j, struct je_filter *filter,
	  const struct sort_key *keys, size_t nkeys, bool need_hdr,
	  bool collapse, struct qmsg **list_r, size_t *n_r, json_t **error_r)
{
	struct qmsg *list = NULL;
	size_t n = 0, cap = 0;
	const char *err;
	bool bytes = je_filter_needs_bytes(filter);
	/* a top-level inMailbox: only that folder is read */
	const char *only = NULL;
	for (size_t i = 0; filter != NULL && filter->kind == JF_AND &&
	    i < filter->nsub; i++)
		if (filter->sub[i].kind == JF_IN_MAILBOX)
			only = filter->sub[i].str;
		else if (filter->sub[i].kind == JF_AND)
			for (size_t k = 0; k < filter->sub[i].nsub; k++)
				if (filter->sub[i].sub[k].kind == JF_IN_MAILBOX)
					only = filter->sub[i].sub[k].str;

	for (size_t f = 0; f < jms_nfolders(j); f++) {
		const struct jms_msg *m;
		size_t nm;
		if (only != NULL && strcmp(jms_folder(j, f)->id, only) != 0)
			continue;
		if (jms_msgs(j, f, &m, &nm, &err) < 0) {
			*error_r = server_fail(c, err);
			goto fail;
		}
		for (size_t k = 0; k < nm; k++) {
			struct buf data;
			char *kw = keywords_flat(&m[k]);
			struct je_match jm = { .mailbox_id = jms_folder(j, f)->id,
			    .keywords = kw, .size = m[k].size,
			    .received = m[k].received };
			buf_init(&data, MESSAGE_READ_MAX);
			if ((bytes || need_hdr) && jms_msg_read(j, &m[k],
			    bytes ? 0 : HEADER_READ, &data, &err) < 0) {
				free(kw);
				buf_free(&data);
				continue;     /* expunged meanwhile */
			}
			if (data.data == NULL)
				buf_puts(&data, "");
			jm.data = data.data;
			jm.len = data.len;
			bool ok = je_filter_match(filter, &jm);
			free(kw);
			if (!ok) {
				buf_free(&data);
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				list = xreallocarray(list, cap, sizeof(*list));
			}
			struct qmsg *q = &list[n++];
			memset(q, 0, sizeof(*q));
			q->m = &m[k];
			if (need_hdr) {
				struct buf b;
				buf_init(&b, 0);
				je_sort_address(data.data, data.len, "From", &b);
				q->from = buf_steal(&b);
				buf_init(&b, 0);
				je_sort_address(data.data, data.len, "To", &b);
				q->to = buf_steal(&b);
				buf_init(&b, 0);
				je_header_text(data.data, data.len, "Subject", &b);
				q->subject = subject_base(b.data);
				buf_free(&b);
				q->sent = je_sent_at(data.data, data.len);
			}
			if (collapse)
				snprintf(q->tid, sizeof(q->tid), "%s",
				    m[k].threadid);
			buf_free(&data);
		}
	}
	t_keys = keys;
	t_nkeys = nkeys;
	if (n > 1)
		qsort(list, n, sizeof(*list), qmsg_cmp);
	if (collapse) {
		/* the first of each thread: a stable sort by thread id of the
		 * positions, so that a thread's first in the order is known
		 * in O(n log n) (a walk of the kept ones for each was 17 s
		 * of CPU at 100,000 threads) */
		size_t *by = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*by));
		bool *first = xcalloc(n > 0 ? n : 1, sizeof(*first));
		for (size_t i = 0; i < n; i++)
			by[i] = i;
		t_list = list;
		if (n > 1)
			qsort(by, n, sizeof(*by), tid_cmp);
		for (size_t i = 0; i < n; i++)
			first[by[i]] = i == 0 ||
			    strcmp(list[by[i]].tid, list[by[i - 1]].tid) != 0;
		free(by);
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			bool dup = !first[i];
			if (dup) {
				free(list[i].from);
				free(list[i].to);
				free(list[i].subject);
			} else
				list[o++] = list[i];
		}
		free(first);
		n = o;
	}
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++) {
		free(list[i].from);
		free(list[i].to);
		free(list[i].subject);
	}
	free(list);
	return -1;
}

static void
qmsgs_free(struct qmsg *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].from);
		free(list[i].to);
		free(list[i].subject);
	}
	free(list);
}

/* index_text - a from/to/subject condition f into q as a term of group
 * g: false for any other condition or past STORE_QUERY_TEXT_MAX */
static bool
index_text(const struct je_filter *f, struct store_query *q,
	   unsigned int g)
{
	if ((f->kind != JF_FROM && f->kind != JF_TO && f->kind != JF_SUBJECT)
	    || q->ntext == STORE_QUERY_TEXT_MAX)
		return false;
	q->text[q->ntext].field = f->kind == JF_FROM ? STORE_TEXT_FROM :
	    f->kind == JF_TO ? STORE_TEXT_TO : STORE_TEXT_SUBJECT;
	q->text[q->ntext].value = f->str;
	q->text[q->ntext++].group = g;
	return true;
}

/* index_filter - put f into q when the store's query index can serve it:
 * ANDs of inMailbox (one), hasKeyword and notKeyword (system keywords as
 * flags, one other keyword each), from, to and subject (the index's
 * header text, up to STORE_QUERY_TEXT_MAX), ORs of from, to and subject
 * conditions; false for anything else (text and body read the
 * bodies) */
static bool
index_filter(const struct je_filter *f, struct store_query *q)
{
	if (f == NULL)
		return true;
	switch (f->kind) {
	case JF_AND:
		for (size_t i = 0; i < f->nsub; i++)
			if (!index_filter(&f->sub[i], q))
				return false;
		return true;
	case JF_IN_MAILBOX:
		if (q->mailboxid != NULL && strcmp(q->mailboxid, f->str) != 0)
			return false;
		q->mailboxid = f->str;
		return true;
	case JF_HAS_KEYWORD:
		if (keyword_flag(f->str) != 0)
			q->flags_all |= keyword_flag(f->str);
		else if (q->keyword == NULL)
			q->keyword = f->str;
		else
			return false;
		return true;
	case JF_NOT_KEYWORD:
		if (keyword_flag(f->str) != 0)
			q->flags_none |= keyword_flag(f->str);
		else if (q->not_keyword == NULL)
			q->not_keyword = f->str;
		else
			return false;
		return true;
	case JF_FROM: case JF_TO: case JF_SUBJECT:
		return index_text(f, q, q->ntext == 0 ? 0 :
		    q->text[q->ntext - 1].group + 1);
	case JF_OR: {
		/* an OR of from/to/subject conditions (the webmail's and
		 * Roundcube's search): one group of the store's terms */
		unsigned int g = q->ntext == 0 ? 0 :
		    q->text[q->ntext - 1].group + 1;
		if (f->nsub == 0)
			return false;
		for (size_t i = 0; i < f->nsub; i++) {
			const struct je_filter *t = &f->sub[i];
			if (t->kind == JF_AND && t->nsub == 1)
				t = &t->sub[0];   /* a FilterCondition */
			if (!index_text(t, q, g))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* index_sort - the store's sort key for k: false when the index has
 * none (to, sentAt) */
static bool
index_sort(const struct sort_key *k, struct store_query *q)
{
	switch (k->k) {
	case SK_RECEIVED: q->sort = STORE_SORT_DATE; break;
	case SK_SIZE: q->sort = STORE_SORT_SIZE; break;
	case SK_FROM: q->sort = STORE_SORT_FROM; break;
	case SK_SUBJECT: q->sort = STORE_SORT_SUBJECT; break;
	default: return false;
	}
	q->descending = !k->asc;
	return true;
}

/* index_query - Email/query from the store's query index (store_query)
 * when it can answer: one sort key of receivedAt, size, from, subject; a
 * filter index_filter takes (collapseThreads too), no anchor, a
 * position from the start, a limit above 0. 1 answered (*result_r or *error_r),
 * 0 not servable: the caller reads the messages instead. */
static int
index_query(struct jmap_mail_ctx *c, struct jms *j, json_t *args,
	    const struct je_filter *filter, const struct sort_key *keys,
	    size_t nkeys, json_int_t start, json_int_t lim, bool capped,
	    json_t **result_r, json_t **error_r)
{
	json_t *anchor = json_object_get(args, "anchor");
	struct store_query q = { 0 };
	const char *err = NULL;

	if (json_is_string(anchor) || start < 0 || lim <= 0 || nkeys != 1 ||
	    !index_filter(filter, &q))
		return 0;
	q.collapse = json_is_true(json_object_get(args, "collapseThreads"));
	if (!index_sort(&keys[0], &q))
		return 0;
	q.position = (size_t)start;
	q.limit = (size_t)lim + 1;   /* one more: are there more? */
	q.want_total = json_is_true(json_object_get(args, "calculateTotal"));
	json_t *ids;
	int64_t total;
	int r = jms_query(j, &q, &ids, &total, &err);
	if (r != 0)
		json_decref(ids);
	if (r < 0) {
		*error_r = server_fail(c, err);
		return 1;
	}
	if (r > 0)
		return 0;   /* a text filter the index cannot answer */
	bool more = (json_int_t)json_array_size(ids) > lim;
	if (more)
		json_array_remove(ids, (size_t)lim);
	/* queryChanges calculates uncollapsed queries only */
	*result_r = json_pack("{s:s,s:o,s:b,s:I,s:o}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'E'),
	    "canCalculateChanges", !q.collapse, "position", start, "ids", ids);
	if (q.want_total)
		json_object_set_new(*result_r, "total", json_integer(total));
	if (capped || (json_object_get(args, "limit") == NULL && more))
		json_object_set_new(*result_r, "limit", json_integer(lim));
	return 1;
}

static void
email_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "position", "anchor", "anchorOffset", "limit", "calculateTotal",
	    "collapseThreads", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *pos = json_object_get(args, "position");
	json_t *anchor = json_object_get(args, "anchor");
	json_t *aoff = json_object_get(args, "anchorOffset");
	json_t *limit = json_object_get(args, "limit");
	struct je_filter *filter = NULL;
	struct sort_key keys[8];
	size_t nkeys;
	bool need_hdr;

	if (j == NULL)
		return;
	if ((pos != NULL && !json_is_integer(pos)) ||
	    (aoff != NULL && !json_is_integer(aoff)) ||
	    (anchor != NULL && !json_is_null(anchor) && !json_is_string(anchor)) ||
	    (limit != NULL && !json_is_null(limit) && (!json_is_integer(limit) ||
	    json_integer_value(limit) < 0))) {
		*error_r = jmap_error("invalidArguments", "position and "
		    "anchorOffset are integers, limit a non-negative integer, "
		    "anchor an id");
		return;
	}
	if (sort_parse(json_object_get(args, "sort"), keys, &nkeys, &need_hdr,
	    error_r) < 0 || je_filter_parse(json_object_get(args, "filter"),
	    &filter, error_r) < 0)
		return;
	json_int_t start = pos != NULL ? json_integer_value(pos) : 0;
	json_int_t lim = limit != NULL && json_is_integer(limit) ?
	    json_integer_value(limit) : QUERY_LIMIT_MAX;
	bool capped = lim > QUERY_LIMIT_MAX;
	if (capped)
		lim = QUERY_LIMIT_MAX;
	if (index_query(c, j, args, filter, keys, nkeys, start, lim, capped,
	    result_r, error_r) > 0) {
		je_filter_free(&filter);
		return;
	}
	struct qmsg *list;
	size_t n;
	bool collapse = json_is_true(json_object_get(args, "collapseThreads"));
	int r = query_run(c, j, filter, keys, nkeys, need_hdr, collapse, &list,
	    &n, error_r);
	je_filter_free(&filter);
	if (r < 0)
		return;
	if (json_is_string(anchor)) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(list[i].m->id, json_string_value(anchor)) == 0)
				break;
		if (i == n) {
			qmsgs_free(list, n);
			*error_r = jmap_error("anchorNotFound", "the anchor is not in "
			    "the results");
			return;
		}
		start = (json_int_t)i + (aoff != NULL ? json_integer_value(aoff) : 0);
	} else if (start < 0)
		start += (json_int_t)n;
	if (start < 0)
		start = 0;
	if (start > (json_int_t)n)
		start = (json_int_t)n;
	json_t *ids = json_array();
	for (json_int_t i = start; i < (json_int_t)n && i < start + lim; i++)
		json_array_append_new(ids, json_string(list[i].m->id));
	*result_r = json_pack("{s:s,s:o,s:b,s:I,s:o}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'E'), "canCalculateChanges",
	    0, "position", start, "ids", ids);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(*result_r, "total", json_integer((json_int_t)n));
	if (capped || (limit == NULL && (json_int_t)n - start > lim))
		json_object_set_new(*result_r, "limit", json_integer(lim));
	qmsgs_free(list, n);
}

/* email_query_changes - Email/queryChanges (RFC 8620 5.6) of a query
 * the store's index serves (index_query: canCalculateChanges true): the
 * change log's created, updated and destroyed ids since the state are
 * all "removed" (5.6 allows ids that were not in the old results), and
 * those of them in the current results "added" at their index. The
 * whole result is read, so a query of more than STORE_QUERY_LIMIT_MAX
 * Emails cannot be calculated; upToId is not used. */
static void
email_query_changes(void *ctx, json_t *args, json_t **result_r,
		    json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "sinceQueryState", "maxChanges", "upToId", "calculateTotal",
	    "collapseThreads", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *mc = json_object_get(args, "maxChanges");
	struct je_filter *filter = NULL;
	struct sort_key keys[8];
	size_t nkeys;
	bool need_hdr;
	struct store_query q = { 0 };
	struct jms_changes ch;
	const char *err = NULL;

	if (j == NULL)
		return;
	const char *since = json_string_value(json_object_get(args,
	    "sinceQueryState"));
	if (since == NULL || (mc != NULL && !json_is_null(mc) &&
	    (!json_is_integer(mc) || json_integer_value(mc) <= 0))) {
		*error_r = jmap_error("invalidArguments", "sinceQueryState is "
		    "required, maxChanges a positive integer");
		return;
	}
	if (sort_parse(json_object_get(args, "sort"), keys, &nkeys, &need_hdr,
	    error_r) < 0 || je_filter_parse(json_object_get(args, "filter"),
	    &filter, error_r) < 0)
		return;
	if (json_is_true(json_object_get(args, "collapseThreads")) ||
	    nkeys != 1 || !index_filter(filter, &q) ||
	    !index_sort(&keys[0], &q)) {
		je_filter_free(&filter);
		*error_r = jmap_error("cannotCalculateChanges", "changes are "
		    "calculated for queries with one sort of receivedAt, size, "
		    "from or subject, inMailbox/hasKeyword/notKeyword/from/to/"
		    "subject filters and no collapseThreads (canCalculateChanges): run the "
		    "query again");
		return;
	}
	q.limit = STORE_QUERY_LIMIT_MAX;
	q.want_total = true;
	int r = jms_changes(j, 'E', since, 0, &ch, &err);
	if (r <= 0) {
		je_filter_free(&filter);
		*error_r = r < 0 ? server_fail(c, err) : jmap_error(
		    "cannotCalculateChanges", "sinceQueryState cannot be "
		    "calculated from: %s", err != NULL ? err : "unknown state");
		return;
	}
	json_t *ids;
	int64_t total;
	r = jms_query(j, &q, &ids, &total, &err);
	je_filter_free(&filter);
	if (r != 0 || total > (int64_t)json_array_size(ids)) {
		*error_r = r < 0 ? server_fail(c, err) : r > 0 ? jmap_error(
		    "cannotCalculateChanges", "the index does not hold the "
		    "header text of every message yet: run the query again") :
		    jmap_error("cannotCalculateChanges", "the query has more "
		    "than %d results: run it again", STORE_QUERY_LIMIT_MAX);
		goto out;
	}
	json_t *changed = json_object(), *removed = json_array(),
	    *added = json_array();
	json_t *lists[3] = { ch.created, ch.updated, ch.destroyed };
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *v;
		json_array_foreach(lists[l], i, v) {
			json_array_append(removed, v);
			if (l < 2)
				json_object_set(changed, json_string_value(v),
				    json_true());
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_object_get(changed, json_string_value(v)) != NULL)
			json_array_append_new(added, json_pack("{s:O,s:I}", "id",
			    v, "index", (json_int_t)i));
	json_decref(changed);
	if (json_is_integer(mc) && (json_int_t)(json_array_size(removed) +
	    json_array_size(added)) > json_integer_value(mc)) {
		json_decref(removed);
		json_decref(added);
		*error_r = jmap_error("tooManyChanges", "more changes than "
		    "maxChanges: run the query again");
		goto out;
	}
	*result_r = json_pack("{s:s,s:s,s:s,s:o,s:o}", "accountId",
	    c->account_id, "oldQueryState", since, "newQueryState",
	    ch.new_state, "removed", removed, "added", added);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(*result_r, "total", json_integer(total));
out:
	json_decref(ids);
	json_decref(ch.created);
	json_decref(ch.updated);
	json_decref(ch.destroyed);
}

/* jmap_mail_email_update - one Email/set update: keywords and mailboxIds (full or
 * by patch paths); 0, or -1 with a SetError in *serr */
int
jmap_mail_email_update(struct jms *j, const char *id, json_t *patch, json_t **serr,
	     char new_id[32])
{
	const struct jms_msg *m;
	const char *err, *k;
	json_t *v;
	int r = jms_msg_find(j, id, &m, &err);

	new_id[0] = '\0';
	if (r <= 0) {
		*serr = json_pack("{s:s}", "type", "notFound");
		return -1;
	}
	json_t *kw = keywords_json(m);
	json_t *mb = mailbox_ids_json(j, m);
	bool kw_changed = false, mb_changed = false;
	const char *bad = NULL;
	json_object_foreach(patch, k, v) {
		if (strcmp(k, "keywords") == 0 && json_is_object(v)) {
			json_decref(kw);
			kw = json_deep_copy(v);
			kw_changed = true;
		} else if (strncmp(k, "keywords/", 9) == 0 && k[9] != '\0' &&
		    (json_is_true(v) || json_is_null(v))) {
			char *lk = xstrdup(k + 9);
			for (char *q = lk; *q != '\0'; q++)
				*q = (char)tolower((unsigned char)*q);
			if (json_is_true(v))
				json_object_set_new(kw, lk, json_true());
			else
				json_object_del(kw, lk);
			free(lk);
			kw_changed = true;
		} else if (strcmp(k, "mailboxIds") == 0 && json_is_object(v)) {
			json_decref(mb);
			mb = json_deep_copy(v);
			mb_changed = true;
		} else if (strncmp(k, "mailboxIds/", 11) == 0 &&
		    (json_is_true(v) || json_is_null(v))) {
			if (json_is_true(v))
				json_object_set_new(mb, k + 11, json_true());
			else
				json_object_del(mb, k + 11);
			mb_changed = true;
		} else
			bad = k;
	}
	struct buf rest;
	unsigned int flags;
	buf_init(&rest, 0);
	if (bad == NULL && kw_changed && keywords_split(kw, &flags, &rest) < 0)
		bad = "keywords";
	long to = -1;
	if (bad == NULL && mb_changed) {
		const char *mid;
		json_t *x;
		json_object_foreach(mb, mid, x) {
			if (!json_is_true(x) || (to = jms_folder_find(j, mid)) < 0) {
				bad = "mailboxIds";
				break;
			}
		}
		if (bad == NULL && json_object_size(mb) != 1) {
			*serr = json_pack("{s:s,s:s,s:[s]}", "type",
			    "invalidProperties", "description", json_object_size(mb) ?
			    "this server keeps an Email in exactly one Mailbox "
			    "(provisional until the store has account-wide ids)" :
			    "an Email must be in a Mailbox", "properties",
			    "mailboxIds");
			goto fail;
		}
	}
	if (bad != NULL) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", "only keywords and mailboxIds can be changed, "
		    "with valid values", "properties", bad);
		goto fail;
	}
	if (kw_changed && jms_keywords_set(j, m, flags | (m->flags &
	    STORE_DELETED), rest.data, &err) < 0) {
		*serr = json_pack("{s:s,s:s}", "type", "forbidden", "description",
		    err);
		goto fail;
	}
	if (mb_changed && (size_t)to != m->folder &&
	    jms_msg_move(j, m, (size_t)to, new_id, &err) < 0) {
		*serr = json_pack("{s:s,s:s}", "type", "forbidden", "description",
		    err);
		goto fail;
	}
	json_decref(kw);
	json_decref(mb);
	buf_free(&rest);
	return 0;
fail:
	json_decref(kw);
	json_decref(mb);
	buf_free(&rest);
	return -1;
}

/* the room left in a message for its header and text parts */
#define MESSAGE_TEXT_ROOM ((size_t)64 * 1024)

size_t
jmap_mail_max_attachments(struct db *db)
{
	size_t max = (size_t)settings_current(db)->smtp_max_message_size * 1024;

	return max > MESSAGE_TEXT_ROOM ? (max - MESSAGE_TEXT_ROOM) / 78 * 57 : 0;
}

/* a create's blobs: read from the account, their bytes counted */
struct blob_count {
	struct jmap_mail_ctx *c;
	size_t total;
};

static int
blob_of(void *ctx, const char *blob_id, struct buf *out)
{
	struct blob_count *bc = ctx;
	const char *err;
	size_t before = out->len;

	int r = jmap_mail_blob(bc->c, blob_id, out, &err);
	if (r > 0)
		bc->total += out->len - before;
	return r;
}

/* email_create - one Email/set create (a draft, RFC 8621 4.6) */
static void
email_create(struct jmap_mail_ctx *c, struct jms *j, json_t *v,
	     json_t **created_r, json_t **serr)
{
	json_t *mbs = json_object_get(v, "mailboxIds");
	json_t *kws = json_object_get(v, "keywords");
	const char *recv = json_string_value(json_object_get(v, "receivedAt"));
	const char *why, *prop = NULL, *err;
	unsigned int flags = 0;
	time_t when = 0;
	long to = -1;
	struct buf rest, msg;

	if (json_is_object(mbs) && json_object_size(mbs) == 1 &&
	    json_is_true(json_object_iter_value(json_object_iter(mbs))))
		to = jms_folder_find(j, json_object_iter_key(json_object_iter(mbs)));
	buf_init(&rest, 0);
	buf_init(&msg, MESSAGE_READ_MAX);
	if (to < 0) {
		prop = "mailboxIds";
		why = "mailboxIds must name one Mailbox of the account "
		    "(provisional: one per Email)";
	} else if (kws != NULL && (!json_is_object(kws) ||
	    keywords_split(kws, &flags, &rest) < 0)) {
		prop = "keywords";
		why = "keywords are {keyword: true} of IMAP atoms";
	} else if (recv != NULL && je_parse_date(recv, &when) < 0) {
		prop = "receivedAt";
		why = "receivedAt is a UTCDate";
	} else {
		struct blob_count bc = { c, 0 };
		char *host = settings_hostname(c->db);
		if (je_compose(v, blob_of, &bc, host, &msg, &why, &prop) < 0)
			prop = prop != NULL ? prop : "bodyValues";
		free(host);
		size_t max = jmap_mail_max_attachments(c->db);
		if (prop == NULL && bc.total > max) {
			char *d = xasprintf("the attachments come to %zu bytes: "
			    "at most %zu fit in a message here "
			    "(maxSizeAttachmentsPerEmail)", bc.total, max);
			*serr = json_pack("{s:s,s:s,s:[s]}", "type", "tooLarge",
			    "description", d, "properties", "attachments");
			free(d);
			goto out;
		}
	}
	if (prop != NULL) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", why, "properties", prop);
		goto out;
	}
	char id[32], bid[40], tid[24];
	int r = jms_msg_append(j, (size_t)to, msg.data, msg.len, flags, rest.data,
	    when, id, tid, &err);
	if (r != 0) {
		*serr = json_pack("{s:s,s:s}", "type", r == 1 ? "overQuota" :
		    "forbidden", "description", r == 1 ? "the mailbox is full" : err);
		goto out;
	}
	snprintf(bid, sizeof(bid), "B%s", id);
	*created_r = json_pack("{s:s,s:s,s:s,s:I}", "id", id, "blobId", bid,
	    "threadId", tid, "size", (json_int_t)msg.len);
out:
	buf_free(&rest);
	buf_free(&msg);
}

static void
email_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *create = json_object_get(args, "create");
	json_t *update = json_object_get(args, "update");
	json_t *destroy = json_object_get(args, "destroy");
	const char *key, *err;
	json_t *v;

	if (j == NULL || !if_in_state(args, j, 'E', error_r))
		return;
	if (!jmap_set_args(args, c->lim->max_objects_in_set, error_r))
		return;
	json_t *old = jmap_mail_state(j, 'E');
	json_t *updated = json_object(), *destroyed = json_array(),
	    *nc = json_object(), *nu = json_object(), *nd = json_object();
	json_t *created = json_object();
	json_object_foreach(create, key, v) {
		json_t *serr = NULL, *cr = NULL;
		if (!json_is_object(v))
			serr = json_pack("{s:s}", "type", "invalidProperties");
		else
			email_create(c, j, v, &cr, &serr);
		if (serr != NULL)
			json_object_set_new(nc, key, serr);
		else
			json_object_set_new(created, key, cr);
		(void)jms_reload(j, &err);
	}
	json_object_foreach(update, key, v) {
		json_t *serr = NULL;
		char nid[32];
		if (!json_is_object(v))
			serr = json_pack("{s:s}", "type", "invalidPatch");
		else if (jmap_mail_email_update(j, key, v, &serr, nid) == 0) {
			json_object_set_new(updated, key, json_null());
			(void)jms_reload(j, &err);
			continue;
		}
		json_object_set_new(nu, key, serr);
	}
	size_t i;
	json_array_foreach(destroy, i, v) {
		const struct jms_msg *m;
		const char *id = json_string_value(v);
		if (id == NULL || jms_msg_find(j, id, &m, &err) <= 0) {
			json_object_set_new(nd, id != NULL ? id : "", json_pack("{s:s}",
			    "type", "notFound"));
			continue;
		}
		if (jms_msg_destroy(j, m, &err) < 0) {
			json_object_set_new(nd, id, json_pack("{s:s,s:s}", "type",
			    "forbidden", "description", err));
			continue;
		}
		json_array_append(destroyed, v);
		(void)jms_reload(j, &err);
	}
	(void)jms_reload(j, &err);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", old, "newState",
	    jmap_mail_state(j, 'E'), "created", created, "updated", updated,
	    "destroyed",
	    destroyed, "notCreated", nc, "notUpdated", nu, "notDestroyed", nd);
}

int
jmap_mail_blob(struct jmap_mail_ctx *c, const char *blob_id, struct buf *out,
	       const char **error_r)
{
	struct jms *j = jmap_mail_store(c);

	if (j == NULL) {
		*error_r = c->store_error;
		return -1;
	}
	if (blob_id[0] == 'U')
		return jms_upload_read(j, blob_id, out, error_r);
	if (blob_id[0] == 'V')
		return jmap_sieve_blob(c, blob_id, out, error_r);
	if (blob_id[0] != 'B')
		return 0;
	char id[64];
	const char *part = strchr(blob_id, '_');
	size_t n = part != NULL ? (size_t)(part - blob_id - 1) : strlen(blob_id + 1);
	if (n >= sizeof(id))
		return 0;
	memcpy(id, blob_id + 1, n);
	id[n] = '\0';
	const struct jms_msg *m;
	int r = jms_msg_find(j, id, &m, error_r);
	if (r <= 0)
		return r;
	if (part == NULL) {
		size_t start = out->len;
		if (jms_msg_read(j, m, 0, out, error_r) < 0)
			return -1;
		if (out->len - start < m->size) {
			*error_r = "the message is larger than a blob can be here";
			return -1;
		}
		return 1;
	}
	struct jms_map whole;
	if (jms_msg_map(j, m, &whole, error_r) < 0)
		return -1;
	r = je_part_blob(whole.data, whole.len, part + 1, out) < 0 ? 0 : 1;
	jms_msg_unmap(&whole);
	return r;
}

/* blob_tmpfile - bytes into an unlinked temporary file of the mailbox
 * (so that the answer does not hold them while the client reads) */
static int
blob_tmpfile(const char *root, const struct buf *b, const char **error_r)
{
	int fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		*error_r = "cannot make a temporary file";
		return -1;
	}
	for (size_t off = 0; off < b->len; ) {
		ssize_t n = write(fd, b->data + off, b->len - off);
		if (n <= 0) {
			close(fd);
			*error_r = "cannot write a temporary file";
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

int
jmap_mail_blob_fd(struct jmap_mail_ctx *c, const char *blob_id, int *fd_r,
		  size_t *len_r, const char **error_r)
{
	struct jms *j = jmap_mail_store(c);
	struct stat sb;
	int fd = -1;

	if (j == NULL) {
		*error_r = c->store_error;
		return -1;
	}
	if (blob_id[0] == 'U') {
		int r = jms_upload_fd(j, blob_id, &fd, error_r);
		if (r <= 0)
			return r;
	} else if (blob_id[0] == 'B' && strchr(blob_id, '_') == NULL &&
	    strlen(blob_id) < 64) {
		const struct jms_msg *m;
		int r = jms_msg_find(j, blob_id + 1, &m, error_r);
		if (r <= 0)
			return r;
		if ((fd = jms_msg_fd(j, m, error_r)) < 0)
			return -1;
	} else {
		/* a body part (decoded) or a Sieve script: made here, then
		 * sent from a temporary file */
		struct buf b;
		buf_init(&b, MESSAGE_READ_MAX);
		int r = jmap_mail_blob(c, blob_id, &b, error_r);
		if (r > 0 && (fd = blob_tmpfile(c->root, &b, error_r)) < 0)
			r = -1;
		buf_free(&b);
		if (r <= 0)
			return r;
	}
	if (fstat(fd, &sb) < 0) {
		close(fd);
		*error_r = "cannot read the blob";
		return -1;
	}
	*fd_r = fd;
	*len_r = (size_t)sb.st_size;
	return 1;
}

static void
email_import(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "emails", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *emails = json_object_get(args, "emails");
	const char *key, *err;
	json_t *v;

	if (j == NULL || !if_in_state(args, j, 'E', error_r))
		return;
	if (!json_is_object(emails)) {
		*error_r = jmap_error_props("invalidArguments", "emails must be an "
		    "object", "emails", NULL);
		return;
	}
	if (json_object_size(emails) > c->lim->max_objects_in_set) {
		*error_r = jmap_error("requestTooLarge", "more than "
		    "maxObjectsInSet emails");
		return;
	}
	json_t *old = jmap_mail_state(j, 'E'), *created = json_object(),
	    *nc = json_object();
	json_object_foreach(emails, key, v) {
		const char *blob = json_string_value(json_object_get(v, "blobId"));
		json_t *mbs = json_object_get(v, "mailboxIds");
		json_t *kws = json_object_get(v, "keywords");
		const char *recv = json_string_value(json_object_get(v, "receivedAt"));
		time_t when = 0;
		unsigned int flags = 0;
		struct buf rest, data;
		buf_init(&rest, 0);
		buf_init(&data, MESSAGE_READ_MAX);
		long to = -1;
		if (json_is_object(mbs) && json_object_size(mbs) == 1)
			to = jms_folder_find(j, json_object_iter_key(
			    json_object_iter(mbs)));
		const char *why = NULL, *type = "invalidProperties";
		if (blob == NULL)
			why = "blobId is required";
		else if (to < 0)
			why = "mailboxIds must name one Mailbox of the account "
			    "(provisional: one per Email)";
		else if (kws != NULL && (!json_is_object(kws) ||
		    keywords_split(kws, &flags, &rest) < 0))
			why = "keywords";
		else if (recv != NULL && je_parse_date(recv, &when) < 0)
			why = "receivedAt";
		else {
			int r = jmap_mail_blob(c, blob, &data, &err);
			if (r <= 0) {
				type = "blobNotFound";
				why = "no such blob";
			} else {
				char id[32], tid[24];
				r = jms_msg_append(j, (size_t)to, data.data != NULL ?
				    data.data : "", data.len, flags, rest.data, when,
				    id, tid, &err);
				if (r == 1)
					type = "overQuota", why = "the mailbox is full";
				else if (r < 0)
					type = "forbidden", why = err;
				else {
					char bid[40];
					snprintf(bid, sizeof(bid), "B%s", id);
					json_object_set_new(created, key, json_pack(
					    "{s:s,s:s,s:s,s:I}", "id", id, "blobId", bid,
					    "threadId", tid, "size", (json_int_t)data.len));
				}
			}
		}
		if (why != NULL)
			json_object_set_new(nc, key, json_pack("{s:s,s:s}", "type",
			    type, "description", why));
		buf_free(&rest);
		buf_free(&data);
	}
	(void)jms_reload(j, &err);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o}", "accountId",
	    c->account_id, "oldState", old, "newState", jmap_mail_state(j, 'E'),
	    "created", created, "notCreated", nc);
}

static void
email_parse(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "blobIds",
	    "properties", "bodyProperties", "fetchTextBodyValues",
	    "fetchHTMLBodyValues", "fetchAllBodyValues", "maxBodyValueBytes",
	    NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "blobIds",
	    c->lim->max_objects_in_get, &ids, error_r))
		return;
	struct je_props p;
	if (ids == NULL) {
		*error_r = jmap_error_props("invalidArguments", "blobIds is "
		    "required", "blobIds", NULL);
		return;
	}
	if (!email_props(args, &p, error_r))
		return;
	json_t *parsed = json_object(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct buf data;
		buf_init(&data, MESSAGE_READ_MAX);
		if (jmap_mail_blob(c, json_string_value(v), &data, &err) <= 0) {
			json_array_append(nf, v);
			buf_free(&data);
			continue;
		}
		struct je_meta meta = { .blob_id = json_string_value(v),
		    .size = data.len, .received = time(NULL) };
		json_t *e = je_email(data.data != NULL ? data.data : "", data.len,
		    &meta, &p);
		json_object_del(e, "id");
		json_object_del(e, "mailboxIds");
		json_object_del(e, "keywords");
		json_object_del(e, "receivedAt");
		json_object_del(e, "threadId");
		json_object_set_new(parsed, json_string_value(v), e);
		buf_free(&data);
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:[]}", "accountId", c->account_id,
	    "parsed", parsed, "notFound", nf, "notParsable");
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
