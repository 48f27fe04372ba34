/* api-admin-users - users import and export of a post office (manual
 * 5.3.9.2, 5.3.9.4) through lib-admin/users.h, the code of `postern users
 * import|export`: Users/export {postOffice, fields?} answers the CSV;
 * Users/import {postOffice, csv, atomic?, createDomains?, password?}
 * imports the rows of one request (at most http.max_body); the page sends
 * a large file in chunks of rows and shows the progress between them.
 * An ADMIN within its post office and webadmin_edit_mailboxes; password
 * hashes are exported only to a SYSADMIN. Each new mailbox gets the
 * welcome message (manual 5.3.9.9, lib-diag maint.h) as with the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "buf.h"
#include "log.h"
#include "maint.h"
#include "users.h"
#include "xalloc.h"

/* users_po - the post office of the call within the actor's reach:
 * its name, or NULL with the error */
static const char *
users_po(struct api_ctx *c, json_t *args, bool change, json_t **error_r)
{
	const char *po = json_string_value(json_object_get(args, "postOffice"));
	const char *err;
	int64_t id;
	struct po_limits l;

	if (!api_account_ok(args, error_r))
		return NULL;
	if (po == NULL && c->actor->scope_po != 0)
		po = c->actor->scope_name;
	if (po == NULL || adm_object_id(c->db, ADM_POSTOFFICE, po, &id, &err) < 0 ||
	    !api_po_visible(c->actor, id)) {
		*error_r = jmap_error_props("invalidArguments", "postOffice: no such "
		    "post office", "postOffice", NULL);
		return NULL;
	}
	if (change && !c->actor->sysadmin && (api_limits_load(c->db, id, &l) < 0 ||
	    !l.edit_mailboxes)) {
		*error_r = jmap_error("forbidden", "your post office's web admins "
		    "may not create mailboxes (webadmin_edit_mailboxes)");
		return NULL;
	}
	return po;
}

static void
users_export_m(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *po = users_po(c, args, false, error_r);
	const char *fields = json_string_value(json_object_get(args, "fields"));
	const char *err;
	struct buf out;

	if (po == NULL)
		return;
	if (fields == NULL)
		fields = c->actor->sysadmin ? USERS_EXPORT_DEFAULT :
		    "emailaddress,quota,friendly_name";
	if (!c->actor->sysadmin && strstr(fields, "password") != NULL) {
		*error_r = jmap_error_props("forbidden", "password hashes are "
		    "exported to a SYSADMIN only", "fields", NULL);
		return;
	}
	buf_init(&out, 0);
	int r = users_export(c->db, po, fields, ',', true, &out, &err);
	if (r != ADM_OK) {
		buf_free(&out);
		*error_r = r == ADM_INVALID ? jmap_error_props("invalidArguments",
		    err, "fields", NULL) : jmap_error("serverFail", "%s", err);
		return;
	}
	*result_r = json_pack("{s:s,s:s,s:s%}", "accountId", API_ACCOUNT,
	    "postOffice", po, "csv", out.data ? out.data : "", out.len);
	buf_free(&out);
}

struct import_ctx {
	json_t *errors, *generated;
	struct db *db;
};

static void
row_error(void *ctx, size_t line, const char *message)
{
	struct import_ctx *ic = ctx;

	if (json_array_size(ic->errors) < 1000)
		json_array_append_new(ic->errors, json_pack("{s:I,s:s}", "line",
		    (json_int_t)line, "message", message));
}

static void
generated(void *ctx, const char *address, const char *password)
{
	struct import_ctx *ic = ctx;

	json_array_append_new(ic->generated, json_pack("{s:s,s:s}", "address",
	    address, "password", password));
}

/* created - a new mailbox of the import gets the welcome message */
static void
created(void *ctx, const char *postoffice, const char *mailbox)
{
	struct import_ctx *ic = ctx;
	const char *err = NULL;

	if (maint_welcome_deliver(ic->db, postoffice, mailbox, &err) < 0)
		log_warnx("%s@%s: the welcome message was not delivered: %s",
		    mailbox, postoffice, err);
}

static void
users_import_m(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *po = users_po(c, args, true, error_r);
	json_t *csv = json_object_get(args, "csv");
	const char *err;

	if (po == NULL)
		return;
	if (!json_is_string(csv)) {
		*error_r = jmap_error_props("invalidArguments", "csv is the rows: "
		    "emailaddress[,password[,quota[,friendly name]]]", "csv", NULL);
		return;
	}
	if (!c->actor->sysadmin &&
	    json_is_true(json_object_get(args, "createDomains"))) {
		*error_r = jmap_error_props("forbidden", "only a SYSADMIN adds "
		    "domains by importing", "createDomains", NULL);
		return;
	}
	struct import_ctx ic = { json_array(), json_array(), c->db };
	struct users_import_opts o = {
		.postoffice = po,
		.password = json_string_value(json_object_get(args, "password")),
		.quota_kb = -1,
		.atomic = json_is_true(json_object_get(args, "atomic")),
		.create_domains = json_is_true(json_object_get(args,
		    "createDomains")),
		.sep = ',', .ctx = &ic, .row_error = row_error,
		.generated = generated, .created = created,
	};
	struct users_import_result res = { 0 };
	int r = users_import(c->db, json_string_value(csv), json_string_length(csv),
	    &o, &res, &err);
	if (r != ADM_OK && r != ADM_INVALID) {
		json_decref(ic.errors);
		json_decref(ic.generated);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	(void)api_audit(c, "Users", po, "import", po, "%zu of %zu rows imported",
	    res.imported, res.total);
	*result_r = json_pack("{s:s,s:I,s:I,s:I,s:o,s:o}", "accountId",
	    API_ACCOUNT, "total", (json_int_t)res.total, "imported",
	    (json_int_t)res.imported, "failed", (json_int_t)res.failed,
	    "errors", ic.errors, "generated", ic.generated);
}

const struct jmap_method api_users_methods[] = {
	{ "Users/export", API_CAPABILITY, users_export_m },
	{ "Users/import", API_CAPABILITY, users_import_m },
	{ NULL, NULL, NULL },
};
