/* api-admin-maint - the post office actions of manual 5.3.9 that act on
 * mail rather than on the model, through lib-diag/maint.h, the code of
 * `postern postoffice|mailbox email` and `postern messages delete`:
 *   AdminMail/send {postOffice | mailbox, subject, body, from?}
 *       a message from the administrator into each INBOX (5.3.9.5/6)
 *   MailboxMessage/purge {postOffice | mailbox | all, olderThanDays |
 *       before | everything, dryRun?}   INBOX messages deleted (5.3.9.7)
 * A SYSADMIN anywhere (all post offices: a SYSADMIN only); an ADMIN in
 * its own post office while its web admins may edit mailboxes, never a
 * SYSADMIN's mailbox. Both audited as the CLI's commands are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "maint.h"
#include "strutil.h"
#include "xalloc.h"

#define BODY_MAX (1024 * 1024)

/* targets - the mailboxes named by args (postOffice, mailbox, or all
 * when all_ok) within the actor's reach: their rows and the audit's
 * object and post office; -1 with the error */
static int
targets(struct api_ctx *c, json_t *args, bool all_ok, struct dir_mailbox **v_r,
	size_t *n_r, char *object, size_t osize, char *po_r, size_t psize,
	json_t **error_r)
{
	const char *po = json_string_value(json_object_get(args, "postOffice"));
	const char *mb = json_string_value(json_object_get(args, "mailbox"));
	bool all = json_is_true(json_object_get(args, "all"));
	const char *err;
	int64_t po_id = 0;
	struct dir_mailbox *v = NULL;
	size_t n = 0;

	*v_r = NULL;
	*n_r = 0;
	po_r[0] = '\0';
	if ((po != NULL) + (mb != NULL) + all != 1 || (all && !all_ok)) {
		*error_r = jmap_error_props("invalidArguments", all_ok ? "give "
		    "exactly one of postOffice, mailbox, all" : "give exactly one "
		    "of postOffice, mailbox", po != NULL ? "postOffice" : "mailbox",
		    NULL);
		return -1;
	}
	if (mb != NULL) {
		json_t *e = NULL;
		v = xcalloc(1, sizeof(*v));
		if (api_mailbox_target(c, mb, v, &e) < 0) {
			free(v);
			/* a SetError as the method's error: the same words */
			*error_r = e;
			return -1;
		}
		snprintf(object, osize, "%s", mb);
		snprintf(po_r, psize, "%s", v->postoffice);
		*v_r = v;
		*n_r = 1;
		return 0;
	}
	if (all) {
		if (!api_sysadmin_all(c->actor)) {
			*error_r = jmap_error("forbidden", "all post offices at once is "
			    "for a SYSADMIN");
			return -1;
		}
		snprintf(object, osize, "*");
	} else {
		struct po_limits l;
		if (adm_object_id(c->db, ADM_POSTOFFICE, po, &po_id, &err) < 0 ||
		    !api_po_visible(c->actor, po_id)) {
			*error_r = jmap_error_props("invalidArguments", "postOffice: "
			    "no such post office", "postOffice", NULL);
			return -1;
		}
		if (!c->actor->sysadmin && (api_limits_load(c->db, po_id, &l) < 0 ||
		    !l.edit_mailboxes)) {
			*error_r = jmap_error("forbidden", "your post office's web "
			    "admins may not create or edit mailboxes "
			    "(webadmin_edit_mailboxes)");
			return -1;
		}
		snprintf(object, osize, "%s", po);
		snprintf(po_r, psize, "%s", po);
	}
	struct db_stmt *st = db_query(c->db, &err, "SELECT id FROM mailbox WHERE "
	    "?1 = 0 OR postoffice_id = ?1 ORDER BY id", "i", po_id);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return -1;
	}
	while (db_step(st, NULL) == DB_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		if (dir_mailbox_get(c->db, db_col_int(st, 0), &v[n],
		    &err) == 1)
			n++;
	}
	db_stmt_free(&st);
	*v_r = v;
	*n_r = n;
	return 0;
}

/* AdminMail/send: {sent, failed} */
static void
adminmail_send(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *subject = json_string_value(json_object_get(args, "subject"));
	json_t *body = json_object_get(args, "body");
	json_t *fromv = json_object_get(args, "from");
	const char *err = NULL;
	char object[400], po[200];
	struct dir_mailbox *v;
	size_t n, sent = 0;

	if (!api_account_ok(args, error_r))
		return;
	if (subject == NULL || *subject == '\0' || strlen(subject) > 998) {
		*error_r = jmap_error_props("invalidArguments", "subject: a text of "
		    "1 to 998 characters", "subject", NULL);
		return;
	}
	if (!json_is_string(body) || json_string_length(body) > BODY_MAX) {
		*error_r = jmap_error_props("invalidArguments", "body: the text of "
		    "the message, at most 1 MB", "body", NULL);
		return;
	}
	char *from = NULL;
	if (fromv != NULL && !json_is_null(fromv) && (!json_is_string(fromv) ||
	    (from = address_normalize(json_string_value(fromv), &err)) == NULL)) {
		char b[300];
		snprintf(b, sizeof(b), "from: %s", err != NULL ? err :
		    "an address");
		*error_r = jmap_error_props("invalidArguments", b, "from", NULL);
		return;
	}
	if (targets(c, args, false, &v, &n, object, sizeof(object), po,
	    sizeof(po), error_r) < 0) {
		free(from);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf m;
		char *to = maint_mailbox_address(c->db, &v[i]);
		buf_init(&m, 0);
		maint_message(c->db, &m, from, to, subject, json_string_value(body),
		    json_string_length(body));
		if (maint_put_inbox(c->db, &v[i], &m, &err) == 0)
			sent++;
		buf_free(&m);
		free(to);
	}
	free(v);
	free(from);
	(void)api_audit(c, "AdminMail", object, "send", po[0] ? po : NULL,
	    "subject=%s: %zu of %zu", subject, sent, n);
	*result_r = json_pack("{s:s,s:I,s:I}", "accountId", API_ACCOUNT, "sent",
	    (json_int_t)sent, "failed", (json_int_t)(n - sent));
}

/* MailboxMessage/purge: {deleted, bytes, mailboxes, failed, dryRun} */
static void
messages_purge(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *older = json_object_get(args, "olderThanDays");
	const char *before = json_string_value(json_object_get(args, "before"));
	bool every = json_is_true(json_object_get(args, "everything"));
	bool dry = json_is_true(json_object_get(args, "dryRun"));
	char object[400], po[200];
	struct dir_mailbox *v;
	size_t n, total = 0, in = 0, failed = 0;
	int64_t bytes = 0;
	time_t cutoff = 0;
	const char *err = NULL;

	if (!api_account_ok(args, error_r))
		return;
	if ((older != NULL) + (before != NULL) + every != 1) {
		*error_r = jmap_error_props("invalidArguments", "give exactly one "
		    "of olderThanDays, before, everything", "olderThanDays", NULL);
		return;
	}
	if (older != NULL) {
		if (!json_is_integer(older) || json_integer_value(older) < 0 ||
		    json_integer_value(older) > 100000) {
			*error_r = jmap_error_props("invalidArguments", "olderThanDays: "
			    "0 to 100000", "olderThanDays", NULL);
			return;
		}
		cutoff = time(NULL) - (time_t)json_integer_value(older) * 86400;
	} else if (before != NULL) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *e = strptime(before, "%Y-%m-%d", &tm);
		if (e == NULL || *e != '\0') {
			*error_r = jmap_error_props("invalidArguments", "before: a "
			    "date YYYY-MM-DD", "before", NULL);
			return;
		}
		cutoff = timegm(&tm);
	}
	if (targets(c, args, true, &v, &n, object, sizeof(object), po,
	    sizeof(po), error_r) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *root = dir_mailbox_path(c->db, &v[i]);
		size_t k = 0;
		int64_t b = 0;
		if (access(root, F_OK) != 0) {
			free(root);
			continue;   /* never delivered to */
		}
		if (maint_inbox_delete(root, cutoff, every, dry, &k, &b, &err) < 0) {
			failed++;
		} else if (k > 0) {
			total += k;
			bytes += b;
			in++;
		}
		free(root);
	}
	free(v);
	if (!dry)
		(void)api_audit(c, "MailboxMessage", object, "destroy", po[0] ? po :
		    NULL, "%zu INBOX messages (%s)", total, every ? "all" : older ?
		    "by age" : before);
	*result_r = json_pack("{s:s,s:I,s:I,s:I,s:I,s:b}", "accountId",
	    API_ACCOUNT, "deleted", (json_int_t)total, "bytes", (json_int_t)bytes,
	    "mailboxes", (json_int_t)in, "failed", (json_int_t)failed, "dryRun",
	    dry);
}

const struct jmap_method api_maint_methods[] = {
	{ "AdminMail/send", API_CAPABILITY, adminmail_send },
	{ "MailboxMessage/purge", API_CAPABILITY, messages_purge },
	{ NULL, NULL, NULL },
};
