/* api-admin-loginsec - login security in the web admin API (issue 17):
 *
 *   Passkey/get        {"mailbox": "name@po"}: its passkeys
 *   Passkey/set        {"mailbox", "destroy": [ids]} or {"mailbox",
 *                      "reset": true} (every passkey: a lost key)
 *   TwoFactor/get      {"mailbox"}: its two-factor state (tf_status):
 *                      challenge, type, codeAddress, totpEnrolled,
 *                      recoveryCodesLeft, appPasswords, passkeys,
 *                      rememberedDevices
 *   TwoFactor/set      {"mailbox", "reset": true}: the TOTP enrolment,
 *                      recovery codes and remembered devices forgotten
 *                      (the next web login enrols again), or {"mailbox",
 *                      "forgetDevices": true}
 *   LoginFailure/query {"by": "address"|"mailbox" (optional),
 *                      "postOffice", "mailbox" (optional)}: the failed
 *                      logins (lib-config/loginsec.h loginsec_failures)
 *
 * Within the actor's reach (an ADMIN: its post office's mailboxes and
 * failures); only a SYSADMIN touches a SYSADMIN's passkeys. Changes are
 * audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "loginsec.h"
#include "passkey.h"
#include "twofactor.h"

/* mailbox_arg - the mailbox args.mailbox names, within reach: 0 or -1
 * with *error_r */
static int
mailbox_arg(struct api_ctx *c, json_t *args, struct dir_mailbox *mb,
	    json_t **error_r)
{
	const char *ident = json_string_value(json_object_get(args, "mailbox"));
	const char *err;
	int64_t id;

	if (ident == NULL) {
		*error_r = jmap_error_props("invalidArguments", "\"mailbox\" "
		    "names the mailbox (name@postoffice)", "mailbox", NULL);
		return -1;
	}
	if (adm_object_id(c->db, ADM_MAILBOX, ident, &id, &err) < 0 ||
	    dir_mailbox_get(c->db, id, mb, &err) <= 0 ||
	    !api_po_visible(c->actor, mb->postoffice_id)) {
		*error_r = jmap_error("notFound", "no mailbox %s", ident);
		return -1;
	}
	if (!c->actor->sysadmin && strcmp(mb->type, "SYSADMIN") == 0) {
		*error_r = jmap_error("forbidden", "only a SYSADMIN manages a "
		    "SYSADMIN's login security");
		return -1;
	}
	return 0;
}

static void
passkey_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dir_mailbox mb;
	const char *err;

	if (!api_account_ok(args, error_r) || mailbox_arg(c, args, &mb,
	    error_r) < 0)
		return;
	json_t *l = passkey_list(c->db, mb.id, &err);
	if (l == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	*result_r = json_pack("{s:s,s:s,s:s,s:o}", "accountId", API_ACCOUNT,
	    "state", "1", "mailbox", json_string_value(json_object_get(args,
	    "mailbox")), "list", l);
}

static void
passkey_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dir_mailbox mb;
	const char *err;
	char who[NAME_MAX_LEN * 2 + 2];
	json_t *destroy = json_object_get(args, "destroy"), *v;
	size_t i;

	if (!api_account_ok(args, error_r) || mailbox_arg(c, args, &mb,
	    error_r) < 0)
		return;
	snprintf(who, sizeof(who), "%s@%s", mb.name, mb.postoffice);
	if (json_is_true(json_object_get(args, "reset"))) {
		int n = 0;
		if (passkey_reset(c->db, mb.id, &n, &err) != ADM_OK) {
			*error_r = jmap_error("serverFail", "%s", err);
			return;
		}
		(void)api_audit(c, "Passkey", who, "reset", mb.postoffice,
		    "%d removed", n);
		*result_r = json_pack("{s:s,s:s,s:i}", "accountId", API_ACCOUNT,
		    "mailbox", who, "removed", n);
		return;
	}
	if (!json_is_array(destroy)) {
		*error_r = jmap_error_props("invalidArguments", "send "
		    "\"destroy\": [ids] or \"reset\": true", "destroy", NULL);
		return;
	}
	json_t *done = json_array(), *failed = json_object();
	json_array_foreach(destroy, i, v) {
		char key[32];
		snprintf(key, sizeof(key), "%lld", json_is_integer(v) ?
		    (long long)json_integer_value(v) : -1LL);
		int r = json_is_integer(v) ? passkey_remove(c->db, mb.id,
		    json_integer_value(v), &err) : ADM_NOTFOUND;
		if (r == ADM_OK) {
			json_array_append(done, v);
			(void)api_audit(c, "Passkey", who, "destroy",
			    mb.postoffice, "passkey %s", key);
		} else
			json_object_set_new(failed, key, json_pack("{s:s,s:s}",
			    "type", r == ADM_NOTFOUND ? "notFound" : "serverFail",
			    "description", r == ADM_NOTFOUND ? "no such passkey" :
			    err));
	}
	*result_r = json_pack("{s:s,s:s,s:o,s:o}", "accountId", API_ACCOUNT,
	    "mailbox", who, "destroyed", done, "notDestroyed", failed);
}

static void
twofactor_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dir_mailbox mb;
	struct tf_status st;
	const char *err;
	char who[NAME_MAX_LEN * 2 + 2];

	if (!api_account_ok(args, error_r) || mailbox_arg(c, args, &mb,
	    error_r) < 0)
		return;
	if (tf_status(c->db, mb.id, &st, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	snprintf(who, sizeof(who), "%s@%s", mb.name, mb.postoffice);
	*result_r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I}",
	    "accountId", API_ACCOUNT, "mailbox", who, "challenge",
	    st.challenge, "type", st.type, "codeAddress", st.code_address,
	    "totpEnrolled", st.totp_enrolled, "recoveryCodesLeft",
	    (json_int_t)st.recovery_codes_left, "appPasswords",
	    (json_int_t)st.app_passwords, "passkeys", (json_int_t)st.passkeys,
	    "rememberedDevices", (json_int_t)st.remembered_devices);
}

static void
twofactor_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dir_mailbox mb;
	const char *err = NULL;
	char who[NAME_MAX_LEN * 2 + 2];
	bool reset = json_is_true(json_object_get(args, "reset"));
	bool forget = json_is_true(json_object_get(args, "forgetDevices"));
	int n = 0, r;

	if (!api_account_ok(args, error_r) || mailbox_arg(c, args, &mb,
	    error_r) < 0)
		return;
	if (reset == forget) {
		*error_r = jmap_error_props("invalidArguments", "send "
		    "\"reset\": true or \"forgetDevices\": true", "reset",
		    NULL);
		return;
	}
	snprintf(who, sizeof(who), "%s@%s", mb.name, mb.postoffice);
	r = reset ? tf_reset(c->db, who, &err) : tf_device_forget(c->db,
	    mb.id, &n, &err);
	if (r != ADM_OK) {
		*error_r = jmap_error("serverFail", "%s", err != NULL ? err :
		    "the change failed");
		return;
	}
	if (reset)
		(void)api_audit(c, "TwoFactor", who, "reset", mb.postoffice,
		    "enrolment forgotten");
	else
		(void)api_audit(c, "TwoFactor", who, "forgetDevices",
		    mb.postoffice, "%d device(s) forgotten", n);
	*result_r = reset ? json_pack("{s:s,s:s,s:b}", "accountId",
	    API_ACCOUNT, "mailbox", who, "reset", 1) : json_pack("{s:s,s:s,"
	    "s:i}", "accountId", API_ACCOUNT, "mailbox", who,
	    "devicesForgotten", n);
}

static void
failure_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *by = json_string_value(json_object_get(args, "by"));
	const char *po = json_string_value(json_object_get(args, "postOffice"));
	const char *err;
	int64_t poid = 0, mid = 0;
	struct dir_mailbox mb;

	if (!api_account_ok(args, error_r))
		return;
	if (by != NULL && strcmp(by, "address") != 0 &&
	    strcmp(by, "mailbox") != 0) {
		*error_r = jmap_error_props("invalidArguments", "\"by\" is "
		    "\"address\" or \"mailbox\"", "by", NULL);
		return;
	}
	if (po != NULL && (adm_object_id(c->db, ADM_POSTOFFICE, po, &poid,
	    &err) < 0 || !api_po_visible(c->actor, poid))) {
		*error_r = jmap_error("notFound", "no post office %s", po);
		return;
	}
	if (json_object_get(args, "mailbox") != NULL) {
		if (mailbox_arg(c, args, &mb, error_r) < 0)
			return;
		mid = mb.id;
	}
	/* an ADMIN sees its post office only */
	if (c->actor->scope_po != 0)
		poid = c->actor->scope_po;
	size_t ncols;
	const char *const *keys;
	struct db_stmt *st = loginsec_failures(c->db, by == NULL ?
	    LOGINSEC_BY_NONE : strcmp(by, "address") == 0 ?
	    LOGINSEC_BY_ADDRESS : LOGINSEC_BY_MAILBOX, poid, mid, &ncols, &keys,
	    &err);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		json_t *row = json_object();
		for (size_t k = 0; k < ncols; k++)
			json_object_set_new(row, keys[k],
			    db_col_isint(st, (int)k) ?
			    json_integer(db_col_int(st, (int)k)) :
			    json_string(db_col_text(st,
			    (int)k) ? db_col_text(st,
			    (int)k) : ""));
		json_array_append_new(list, row);
	}
	db_stmt_free(&st);
	*result_r = json_pack("{s:s,s:o}", "accountId", API_ACCOUNT, "list",
	    list);
}

const struct jmap_method api_loginsec_methods[] = {
	{ "Passkey/get", API_CAPABILITY, passkey_get },
	{ "Passkey/set", API_CAPABILITY, passkey_set },
	{ "TwoFactor/get", API_CAPABILITY, twofactor_get },
	{ "TwoFactor/set", API_CAPABILITY, twofactor_set },
	{ "LoginFailure/query", API_CAPABILITY, failure_query },
	{ NULL, NULL, NULL },
};
