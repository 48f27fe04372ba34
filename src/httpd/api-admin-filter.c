/* api-admin-filter - MailboxFilter/get|set: a mailbox's Sieve filters
 * (the scripts ManageSieve, the webmail's rules and `postern filter`
 * edit; deliver runs the active one), through lib-sieve's store and
 * compiler as the CLI. Whoever may change the mailbox (api_mailbox_target:
 * a SYSADMIN; an ADMIN of its post office with webadmin_edit_mailboxes,
 * never on a SYSADMIN mailbox).
 *
 * MailboxFilter/get {mailbox}: {mailbox, active (name or null), list:
 *   [{name, active, script}]}
 * MailboxFilter/set {mailbox, put?: {name, script, activate?: bool},
 *   activate?: name | null, destroy?: [name]}: done in that order;
 *   a script that does not compile is invalidArguments naming "script"
 *   with "line:col: message"; answers {stored, activated, destroyed} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "sieve.h"
#include "xalloc.h"

#define FILTER_SCRIPT_MAX (256 * 1024)

/* filter_root - the mailbox's store root, or NULL with *error_r */
static char *
filter_root(struct api_ctx *c, json_t *args, const char **ident_r,
	    char *po, size_t size, json_t **error_r)
{
	const char *ident = json_string_value(json_object_get(args, "mailbox"));
	struct dir_mailbox mb;

	if (!api_account_ok(args, error_r))
		return NULL;
	if (ident == NULL || strlen(ident) > 200) {
		*error_r = jmap_error_props("invalidArguments", "name the mailbox: "
		    "{\"mailbox\": \"name@postoffice\"}", "mailbox", NULL);
		return NULL;
	}
	if (api_mailbox_target(c, ident, &mb, error_r) < 0)
		return NULL;
	*ident_r = ident;
	snprintf(po, size, "%s", mb.postoffice);
	return dir_mailbox_path(c->db, &mb);
}

static void
filter_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	char po[NAME_MAX_LEN + 1], **names = NULL, *active = NULL;
	const char *ident, *err;
	size_t n = 0;
	char *root = filter_root(c, args, &ident, po, sizeof(po), error_r);

	if (root == NULL)
		return;
	if (sieve_store_list(root, &names, &n, &active, &err) < 0) {
		free(root);
		*error_r = jmap_error("serverFail", "the filters: %s", err);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		char *text = NULL;
		size_t len = 0;
		json_t *o = json_pack("{s:s,s:b}", "name", names[i], "active",
		    active != NULL && strcmp(active, names[i]) == 0);
		if (sieve_store_get(root, names[i], &text, &len, &err) == 0)
			json_object_set_new(o, "script", json_stringn(text, len));
		else
			json_object_set_new(o, "error", json_string(err));
		free(text);
		json_array_append_new(list, o);
	}
	sieve_store_list_free(names, n);
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "mailbox", ident, "active", active != NULL ? json_string(active) :
	    json_null(), "list", list);
	free(active);
	free(root);
}

static void
filter_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *put = json_object_get(args, "put");
	json_t *act = json_object_get(args, "activate");
	json_t *destroy = json_object_get(args, "destroy"), *v;
	char po[NAME_MAX_LEN + 1];
	const char *ident, *err;
	size_t i;

	/* the arguments first: nothing is done when one is wrong */
	if (put != NULL && (!json_is_object(put) ||
	    !json_is_string(json_object_get(put, "name")) ||
	    !json_is_string(json_object_get(put, "script")) ||
	    json_string_length(json_object_get(put, "script")) >
	    FILTER_SCRIPT_MAX)) {
		*error_r = jmap_error_props("invalidArguments", "put is {name, "
		    "script (at most 256 KB), activate?}", "put", NULL);
		return;
	}
	if (act != NULL && !json_is_null(act) && !json_is_string(act)) {
		*error_r = jmap_error_props("invalidArguments", "activate is a "
		    "script's name, or null to have none active", "activate",
		    NULL);
		return;
	}
	if (destroy != NULL && !json_is_array(destroy)) {
		*error_r = jmap_error_props("invalidArguments", "destroy is a "
		    "list of names", "destroy", NULL);
		return;
	}
	json_array_foreach(destroy, i, v)
		if (!json_is_string(v)) {
			*error_r = jmap_error_props("invalidArguments", "destroy "
			    "is a list of names", "destroy", NULL);
			return;
		}
	char *root = filter_root(c, args, &ident, po, sizeof(po), error_r);
	if (root == NULL)
		return;
	json_t *res = json_pack("{s:s,s:s}", "accountId", API_ACCOUNT,
	    "mailbox", ident);
	if (put != NULL) {
		const char *name = json_string_value(json_object_get(put, "name"));
		const char *text = json_string_value(json_object_get(put, "script"));
		char *cerr = NULL;
		if (sieve_name_check(name, &err) < 0) {
			*error_r = jmap_error_props("invalidArguments", NULL, "name",
			    NULL);
			json_object_set_new(*error_r, "description", json_sprintf(
			    "the name: %s", err));
			goto fail;
		}
		if (sieve_store_put(root, name, text, json_string_length(
		    json_object_get(put, "script")), &cerr, &err) < 0) {
			if (cerr != NULL) {
				*error_r = jmap_error_props("invalidArguments", NULL,
				    "script", NULL);
				json_object_set_new(*error_r, "description",
				    json_string(cerr));
				free(cerr);
			} else
				*error_r = jmap_error("serverFail", "%s", err);
			goto fail;
		}
		json_object_set_new(res, "stored", json_string(name));
		(void)api_audit(c, "MailboxFilter", ident, "update", po,
		    "put %s", name);
		if (json_is_true(json_object_get(put, "activate")) && act == NULL)
			act = json_object_get(put, "name");
	}
	if (act != NULL) {
		const char *name = json_string_value(act);
		if (sieve_store_activate(root, name, &err) < 0) {
			*error_r = jmap_error_props("invalidArguments", NULL,
			    "activate", NULL);
			json_object_set_new(*error_r, "description", json_sprintf(
			    "%s: %s", name != NULL ? name : "", err));
			goto fail;
		}
		json_object_set(res, "activated", act);
		(void)api_audit(c, "MailboxFilter", ident, "update", po,
		    "activate %s", name != NULL ? name : "(none)");
	}
	json_t *gone = json_array();
	json_object_set_new(res, "destroyed", gone);
	json_array_foreach(destroy, i, v) {
		if (sieve_store_delete(root, json_string_value(v), &err) < 0) {
			*error_r = jmap_error_props("invalidArguments", NULL,
			    "destroy", NULL);
			json_object_set_new(*error_r, "description", json_sprintf(
			    "%s: %s", json_string_value(v), err));
			goto fail;
		}
		json_array_append(gone, v);
		(void)api_audit(c, "MailboxFilter", ident, "update", po,
		    "delete %s", json_string_value(v));
	}
	free(root);
	*result_r = res;
	return;
fail:
	json_decref(res);
	free(root);
}

const struct jmap_method api_filter_methods[] = {
	{ "MailboxFilter/get", API_CAPABILITY, filter_get },
	{ "MailboxFilter/set", API_CAPABILITY, filter_set },
	{ NULL, NULL, NULL },
};
