/* api-admin-sendlimit - SendLimit/query|set: the outbound abuse limits
 * (sendlimit.h, the code `postern sendlimit` runs): what each mailbox and
 * post office submitted in the last hour against its limits, the
 * suspended mailboxes, and the release of held mail.
 *
 * A SYSADMIN's, like the queues: the held mail lies in bad mail with
 * everyone's, and the post office limits are the server's settings.
 *
 * SendLimit/query: every counted key of the window and every suspended
 * mailbox, the busiest first, with the limits ({messages, recipients} of
 * its kind) and near (at 80 % of a limit or over it).
 * SendLimit/set update:
 *   {"name@postoffice": {"suspended": true, "reason": "..."}} suspends,
 *   {"name@postoffice": {"suspended": false}} lifts it,
 *   {"<queue id>": {"action": "release"}} sends a held item on without
 *   holding it again (the mailbox's counts still grow). Audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "db.h"
#include "directory.h"
#include "qadmin.h"
#include "sendlimit.h"
#include "settings.h"
#include "xalloc.h"

#define SENDLIMIT_REASON_MAX 200

static bool
sendlimit_allowed(struct api_ctx *c, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "the sending limits and the held "
	    "mail are every post office's: they are for a SYSADMIN");
	return false;
}

struct sl_rows {
	json_t *list;
	const struct sendlimit_limits *l;
};

static void
sl_row(void *arg, const char *kind, const char *name, int64_t messages,
       int64_t recipients, time_t suspended, const char *reason)
{
	struct sl_rows *s = arg;
	bool mb = strcmp(kind, "mailbox") == 0;
	int64_t lm = mb ? s->l->mb_messages : s->l->po_messages;
	int64_t lr = mb ? s->l->mb_recipients : s->l->po_recipients;
	bool near = (lm > 0 && messages * 5 >= lm * 4) ||
	    (lr > 0 && recipients * 5 >= lr * 4);
	json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:{s:I,s:I},s:b,s:b}",
	    "id", name, "kind", kind, "name", name, "messages",
	    (json_int_t)messages, "recipients", (json_int_t)recipients,
	    "limits", "messages", (json_int_t)lm, "recipients", (json_int_t)lr,
	    "near", near, "suspended", suspended != 0);
	if (o == NULL)
		return;
	if (suspended != 0) {
		json_object_set_new(o, "suspendedAt",
		    json_integer((json_int_t)suspended));
		json_t *r = json_string(reason ? reason : "");
		json_object_set_new(o, "reason", r ? r : json_string("?"));
	}
	json_array_append_new(s->list, o);
}

static int
by_load_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	bool sx = json_is_true(json_object_get(x, "suspended"));
	bool sy = json_is_true(json_object_get(y, "suspended"));
	json_int_t mx = json_integer_value(json_object_get(x, "messages"));
	json_int_t my = json_integer_value(json_object_get(y, "messages"));

	if (sx != sy)
		return sx ? -1 : 1;
	if (mx != my)
		return mx < my ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "name")),
	    json_string_value(json_object_get(y, "name")));
}

static void
sendlimit_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct sendlimit *sl;
	struct sendlimit_limits l;
	const char *err;
	json_t *filter = json_object_get(args, "filter");

	if (!api_account_ok(args, error_r) || !sendlimit_allowed(c, error_r))
		return;
	if (filter != NULL && !json_is_null(filter)) {
		*error_r = jmap_error("unsupportedFilter", "SendLimit/query takes "
		    "no filter: it lists the last hour's senders and the "
		    "suspended mailboxes");
		return;
	}
	if (sendlimit_open(db_root(c->db), &sl, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	sendlimit_limits_get(c->db, &l);
	struct sl_rows s = { json_array(), &l };
	int r = sendlimit_each(sl, time(NULL), sl_row, &s);
	sendlimit_close(&sl);
	if (r < 0) {
		json_decref(s.list);
		*error_r = jmap_error("serverFail", "cannot read the counts "
		    "(config/limits.db)");
		return;
	}
	size_t n = json_array_size(s.list);
	json_t **arr = xcalloc(n ? n : 1, sizeof(*arr));
	for (size_t i = 0; i < n; i++)
		arr[i] = json_array_get(s.list, i);
	qsort(arr, n, sizeof(*arr), by_load_desc);
	json_t *ids = json_array(), *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(ids, json_string(json_string_value(
		    json_object_get(arr[i], "id"))));
		json_array_append(list, arr[i]);
	}
	free(arr);
	json_decref(s.list);
	*result_r = json_pack("{s:s,s:s,s:b,s:I,s:o,s:I,s:o,s:{s:{s:I,s:I},"
	    "s:{s:I,s:I}},s:I}", "accountId", API_ACCOUNT, "queryState", "0",
	    "canCalculateChanges", 0, "position", (json_int_t)0, "ids", ids,
	    "total", (json_int_t)n, "list", list, "limits", "mailbox",
	    "messages", (json_int_t)l.mb_messages, "recipients",
	    (json_int_t)l.mb_recipients, "postoffice", "messages",
	    (json_int_t)l.po_messages, "recipients",
	    (json_int_t)l.po_recipients, "window", (json_int_t)SENDLIMIT_WINDOW);
}

static json_t *
sendlimit_error(int r, const char *err)
{
	if (r == ADM_NOTFOUND)
		return jmap_error("notFound", "%s", err);
	if (r == ADM_INVALID)
		return jmap_error_props("invalidProperties", err, "action", NULL);
	return jmap_error("serverFail", "%s", err);
}

static void
sendlimit_update(struct api_ctx *c, const char *id, json_t *v, json_t *res)
{
	json_t *action = json_object_get(v, "action");
	json_t *susp = json_object_get(v, "suspended");
	json_t *reason = json_object_get(v, "reason");
	struct sendlimit *sl;
	const char *err;
	time_t now = time(NULL);

	bool rel = json_is_object(v) && json_object_size(v) == 1 &&
	    json_is_string(action) &&
	    strcmp(json_string_value(action), "release") == 0;
	bool sus = json_is_object(v) && json_is_boolean(susp) &&
	    json_object_size(v) == 1 + (reason != NULL) &&
	    (reason == NULL || (json_is_string(reason) && json_is_true(susp) &&
	    json_string_length(reason) <= SENDLIMIT_REASON_MAX));
	if (!rel && !sus) {
		api_set_fail(res, "notUpdated", id, jmap_error_props(
		    "invalidProperties", "an update is {\"suspended\": true, "
		    "\"reason\": \"...\"} or {\"suspended\": false} of a mailbox "
		    "(name@postoffice), or {\"action\": \"release\"} of a held "
		    "queue item", rel ? "action" : "suspended", NULL));
		return;
	}
	if (sendlimit_open(db_root(c->db), &sl, &err) < 0) {
		api_set_fail(res, "notUpdated", id, jmap_error("serverFail", "%s",
		    err));
		return;
	}
	if (rel) {
		char *root = settings_queue_path(c->db);
		int r = qadm_sendlimit_release(root, sl, id, now, &err);
		free(root);
		sendlimit_close(&sl);
		if (r != ADM_OK) {
			api_set_fail(res, "notUpdated", id, sendlimit_error(r, err));
			return;
		}
		(void)api_audit(c, "SendLimit", id, "release", NULL,
		    "held item released");
		api_set_done(res, "updated", id, NULL);
		return;
	}
	struct dir_mailbox mb;
	if (dir_login_lookup(c->db, id, &mb, &err) != 1) {
		sendlimit_close(&sl);
		api_set_fail(res, "notUpdated", id, jmap_error("notFound", "no "
		    "mailbox %s", id));
		return;
	}
	char *who = xasprintf("%s@%s", mb.name, mb.postoffice);
	int r;
	if (json_is_true(susp)) {
		const char *why = reason ? json_string_value(reason) : "";
		r = sendlimit_suspend(sl, who, *why ? why : "by the administrator",
		    now) < 0 ? -1 : 1;
	} else
		r = sendlimit_unsuspend(sl, who);
	sendlimit_close(&sl);
	if (r <= 0) {
		api_set_fail(res, "notUpdated", id, r < 0 ? jmap_error("serverFail",
		    "cannot change %s in config/limits.db", who) :
		    jmap_error("notFound", "%s is not suspended", who));
		free(who);
		return;
	}
	(void)api_audit(c, "SendLimit", who, json_is_true(susp) ? "suspend" :
	    "unsuspend", mb.postoffice, "%s", json_is_true(susp) && reason ?
	    json_string_value(reason) : "");
	free(who);
	api_set_done(res, "updated", id, NULL);
}

static const struct api_set_ops sendlimit_ops = {
	"SendLimit", NULL, sendlimit_update, NULL,
};

static void
sendlimit_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;

	if (!sendlimit_allowed(c, error_r))
		return;
	api_set_run(ctx, args, &sendlimit_ops, result_r, error_r);
}

const struct jmap_method api_sendlimit_methods[] = {
	{ "SendLimit/query", API_CAPABILITY, sendlimit_query },
	{ "SendLimit/set", API_CAPABILITY, sendlimit_set },
	{ NULL, NULL, NULL },
};
