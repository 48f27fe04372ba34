/* jmap-settings - the mailbox owner's own settings over JMAP
 * (jmap-settings.h, capability urn:postern:settings) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "directory.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-settings.h"
#include "loginsec.h"
#include "passwd.h"
#include "twofactor.h"
#include "xalloc.h"

#define PASSWORD_MAX 1024
#define WRONG_MAX 10                 /* wrong current passwords ... */
#define WRONG_WINDOW (15 * 60)       /* ... in this many seconds */
#define LOGINS_MAX 50
#define WRONG_REASON "wrong current password (settings)"

void
jmap_settings_account_caps(json_t *account)
{
	json_object_set_new(json_object_get(account, "accountCapabilities"),
	    JMAP_SETTINGS, json_object());
}

/* web_only - true for a web session; else false with the error */
static bool
web_only(struct jmap_mail_ctx *c, json_t **error_r)
{
	if (c->web_session != 0)
		return true;
	*error_r = jmap_error("forbidden", "app passwords and two-factor login "
	    "are managed from a web login (the session cookie), not with "
	    "Basic credentials or a token");
	return false;
}

static json_t *
utc(int64_t t)
{
	char b[32];

	if (t <= 0)
		return json_null();
	je_rfc3339((time_t)t, b, sizeof(b));
	return json_string(b);
}

static json_t *
digest_state(char kind, const char *text)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = text; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return json_sprintf("%c%016" PRIx64, kind, h);
}

static json_t *
set_error(const char *type, const char *description)
{
	return json_pack("{s:s,s:s}", "type", type, "description", description);
}

/* ------------------------------------------------------ Password/change */

static void
password_change(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "oldPassword",
	    "newPassword", NULL };
	const char *err = NULL;
	char *hash = NULL;
	int64_t wrong = 0, others = 0;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	const char *old = json_string_value(json_object_get(args, "oldPassword"));
	const char *new = json_string_value(json_object_get(args, "newPassword"));
	if (old == NULL || new == NULL || strlen(old) > PASSWORD_MAX ||
	    strlen(new) > PASSWORD_MAX) {
		*error_r = jmap_error_props("invalidArguments", "send oldPassword "
		    "and newPassword as strings of at most 1024 bytes",
		    old == NULL || strlen(old) > PASSWORD_MAX ? "oldPassword" :
		    "newPassword", NULL);
		return;
	}
	/* a stolen session guessing the password: bounded like logins */
	if (db_query_int(c->db, &wrong, 0, &err, "SELECT coalesce(sum(count), 0) "
	    "FROM login_failure WHERE mailbox_id = ? AND reason = ? AND last "
	    ">= ?", "iti", c->mailbox_id, WRONG_REASON, (int64_t)time(NULL) -
	    WRONG_WINDOW) < 0 || db_query_text(c->db, &hash, &err, "SELECT "
	    "password_hash FROM mailbox WHERE id = ?", "i", c->mailbox_id) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	if (wrong >= WRONG_MAX) {
		free(hash);
		*error_r = jmap_error("forbidden", "too many wrong current "
		    "passwords: try again in 15 minutes");
		return;
	}
	bool ok = hash != NULL && *hash != '\0' && passwd_verify(old, hash);
	free(hash);
	if (!ok) {
		loginsec_record_failure(c->db, c->login, c->mailbox_id,
		    &(struct dir_client){ "web", c->client }, NULL, WRONG_REASON);
		*error_r = jmap_error_props("forbidden", "the current password is "
		    "not right", "oldPassword", NULL);
		return;
	}
	if (strcmp(old, new) == 0) {
		*error_r = jmap_error_props("invalidArguments", "the new password "
		    "is the current one", "newPassword", NULL);
		return;
	}
	if (db_query_int(c->db, &others, 0, &err, "SELECT count(*) FROM "
	    "web_session WHERE mailbox_id = ? AND id != ?", "ii", c->mailbox_id,
	    c->web_session) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	/* the policy is adm_password_check's, inside */
	int r = adm_mailbox_passwd_keep(c->db, c->login, new, NULL,
	    c->web_session, &err);
	if (r == ADM_INVALID) {
		*error_r = jmap_error_props("invalidArguments", err != NULL ?
		    err : "the new password is refused", "newPassword", NULL);
		return;
	}
	if (r != ADM_OK) {
		*error_r = jmap_error("serverFail", "%s", err != NULL ? err :
		    "the password could not be stored");
		return;
	}
	*result_r = json_pack("{s:s,s:b,s:I}", "accountId", c->account_id,
	    "changed", 1, "sessionsEnded", (json_int_t)others);
}

/* ---------------------------------------------------------- AppPassword */

/* app_passwords - the mailbox's app passwords (new array), NULL on error */
static json_t *
app_passwords(struct jmap_mail_ctx *c, json_t **state_r, const char **error_r)
{
	struct db_stmt *st = db_query(c->db, error_r, "SELECT id, name, created, "
	    "last_used, last_protocol, last_address FROM app_password WHERE "
	    "mailbox_id = ? ORDER BY name", "i", c->mailbox_id);
	struct buf sb;
	int r;

	if (st == NULL)
		return NULL;
	json_t *list = json_array();
	buf_init(&sb, 0);
	while ((r = db_step(st, NULL)) == DB_ROW) {
		char id[32];
		snprintf(id, sizeof(id), "P%lld",
		    (long long)db_col_int(st, 0));
		const char *name = db_col_text(st, 1);
		const char *proto = db_col_text(st, 4);
		const char *addr = db_col_text(st, 5);
		int64_t used = db_col_int(st, 3);
		json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:o,s:s,s:s}",
		    "id", id, "name", name != NULL ? name : "", "created",
		    utc(db_col_int(st, 2)), "lastUsed", utc(used),
		    "lastProtocol", proto != NULL ? proto : "", "lastAddress",
		    addr != NULL ? addr : ""));
		buf_printf(&sb, "%s:%lld;", id, (long long)used);
	}
	db_stmt_free(&st);
	if (r != DB_DONE) {
		buf_free(&sb);
		json_decref(list);
		*error_r = "the app passwords could not be read";
		return NULL;
	}
	*state_r = digest_state('P', sb.data != NULL ? sb.data : "");
	buf_free(&sb);
	return list;
}

static void
app_password_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	const char *err;
	json_t *ids, *state, *v, *x;
	size_t i, k;

	if (!jmap_mail_account(c, args, allowed, error_r) || !jmap_ids_arg(args,
	    "ids", c->lim->max_objects_in_get, &ids, error_r))
		return;
	json_t *all = app_passwords(c, &state, &err);
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
	json_decref(all);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", state, "list", list, "notFound", nf);
}

/* app_name_of - the name of app password id of this mailbox (new
 * string), or NULL */
static char *
app_name_of(struct jmap_mail_ctx *c, const char *id)
{
	const char *err;
	char *name = NULL, *end;

	if (id == NULL || id[0] != 'P' || id[1] == '\0')
		return NULL;
	long long n = strtoll(id + 1, &end, 10);
	if (*end != '\0' || n <= 0)
		return NULL;
	if (db_query_text(c->db, &name, &err, "SELECT name FROM app_password "
	    "WHERE id = ? AND mailbox_id = ?", "ii", (int64_t)n,
	    c->mailbox_id) < 0)
		return NULL;
	return name;
}

static void
app_password_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", NULL };
	const char *err, *key;
	json_t *state, *v;
	size_t i;

	if (!jmap_mail_account(c, args, allowed, error_r) ||
	    !jmap_set_args(args, c->lim->max_objects_in_set, error_r) ||
	    !web_only(c, error_r))
		return;
	json_t *all = app_passwords(c, &state, &err);
	if (all == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *ifs = json_object_get(args, "ifInState");
	if (ifs != NULL && !json_is_null(ifs) && !json_equal(ifs, state)) {
		json_decref(all);
		json_decref(state);
		*error_r = jmap_error("stateMismatch", "ifInState does not match");
		return;
	}
	json_decref(all);
	json_t *created = json_object(), *destroyed = json_array(),
	    *nc = json_object(), *nu = json_object(), *nd = json_object();
	json_object_foreach(json_object_get(args, "create"), key, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *k2;
		json_t *x, *e = NULL;
		json_object_foreach(v, k2, x)
			if (strcmp(k2, "name") != 0 && e == NULL)
				e = json_pack("{s:s,s:s,s:[s]}", "type",
				    "invalidProperties", "description", "an app "
				    "password is made from its name only", "properties",
				    k2);
		if (e == NULL && name == NULL)
			e = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
			    "description", "name is required", "properties", "name");
		char *pw = NULL;
		int r = e == NULL ? tf_app_password_add(c->db, c->login, name, &pw,
		    &err) : ADM_OK;
		if (e == NULL && r != ADM_OK)
			e = r == ADM_EXISTS ? json_pack("{s:s,s:s,s:[s]}", "type",
			    "alreadyExists", "description", err, "properties",
			    "name") : r == ADM_INVALID ? json_pack("{s:s,s:s,s:[s]}",
			    "type", strstr(err, "20 app passwords") != NULL ?
			    "overQuota" : "invalidProperties", "description", err,
			    "properties", "name") : set_error("forbidden", err);
		if (e != NULL) {
			json_object_set_new(nc, key, e);
			continue;
		}
		int64_t id = 0, when = 0;
		(void)db_query_int(c->db, &id, 0, &err, "SELECT id FROM "
		    "app_password WHERE mailbox_id = ? AND name = ?", "it",
		    c->mailbox_id, name);
		(void)db_query_int(c->db, &when, 0, &err, "SELECT created FROM "
		    "app_password WHERE id = ?", "i", id);
		char sid[32];
		snprintf(sid, sizeof(sid), "P%lld", (long long)id);
		/* the only time the password is shown */
		json_object_set_new(created, key, json_pack("{s:s,s:s,s:o,s:n,"
		    "s:s}", "id", sid, "name", name, "created", utc(when),
		    "lastUsed", "password", pw));
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	json_object_foreach(json_object_get(args, "update"), key, v)
		json_object_set_new(nu, key, set_error("forbidden", "an app "
		    "password cannot be changed: revoke it and make another"));
	json_array_foreach(json_object_get(args, "destroy"), i, v) {
		const char *id = json_string_value(v);
		char *name = app_name_of(c, id);
		if (name == NULL) {
			json_object_set_new(nd, id != NULL ? id : "", json_pack(
			    "{s:s}", "type", "notFound"));
			continue;
		}
		if (tf_app_password_remove(c->db, c->login, name, &err) != ADM_OK)
			json_object_set_new(nd, id, set_error("forbidden", err));
		else
			json_array_append(destroyed, v);
		free(name);
	}
	json_t *now = NULL;
	json_t *after = app_passwords(c, &now, &err);
	if (after == NULL)
		now = json_incref(state);
	json_decref(after);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:{},s:o,s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", state, "newState", now,
	    "created", created, "updated", "destroyed", destroyed, "notCreated",
	    nc, "notUpdated", nu, "notDestroyed", nd);
}

/* ------------------------------------------------------------ TwoFactor */

static int
inherited_mode(struct jmap_mail_ctx *c, char mode[16], const char **error_r)
{
	return loginsec_twofactor_rule(c->db, c->mailbox_id, true, mode, error_r);
}

static void
twofactor_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", NULL };
	char inh[16];
	const char *err;
	struct tf_status st;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	if (tf_status(c->db, c->mailbox_id, &st, &err) < 0 ||
	    inherited_mode(c, inh, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	bool on = strcmp(st.challenge, "never") != 0;
	*result_r = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:b,s:I,s:I,s:b,s:b,"
	    "s:b}", "accountId", c->account_id, "challenge", st.challenge,
	    "required", inh, "isEnabled", on, "type", st.type, "codeAddress",
	    st.code_address, "totpEnrolled", st.totp_enrolled,
	    "recoveryCodesLeft", (json_int_t)st.recovery_codes_left,
	    "passkeys", (json_int_t)st.passkeys, "appPasswordsOnly", on,
	    "mayEnable", !on,
	    "mayDisable", on && strcmp(inh, "never") == 0 && !st.admin_set);
}

static void
twofactor_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "action", "code",
	    NULL };
	char mode[16], inh[16];
	const char *err = NULL;

	if (!jmap_mail_account(c, args, allowed, error_r) ||
	    !web_only(c, error_r))
		return;
	const char *action = json_string_value(json_object_get(args, "action"));
	const char *code = json_string_value(json_object_get(args, "code"));
	if (action == NULL || (strcmp(action, "enrol") != 0 &&
	    strcmp(action, "confirm") != 0 && strcmp(action, "disable") != 0)) {
		*error_r = jmap_error_props("invalidArguments", "action is "
		    "\"enrol\", \"confirm\" (with code) or \"disable\"", "action",
		    NULL);
		return;
	}
	if (loginsec_twofactor_mode(c->db, c->mailbox_id, mode, &err) < 0 ||
	    inherited_mode(c, inh, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *out = NULL;
	int r;
	if (strcmp(action, "disable") == 0) {
		if (strcmp(inh, "never") != 0) {
			*error_r = jmap_error("forbidden", "your post office asks "
			    "for two-factor login (%s): only its administrator can "
			    "turn it off", inh);
			return;
		}
		struct tf_status st;
		if (tf_status(c->db, c->mailbox_id, &st, &err) < 0) {
			*error_r = jmap_error("serverFail", "%s", err);
			return;
		}
		if (st.admin_set) {
			*error_r = jmap_error("forbidden", "your administrator "
			    "turned two-factor login on for this mailbox (%s): "
			    "only an administrator can turn it off",
			    st.challenge);
			return;
		}
		r = tf_self_disable(c->db, c->mailbox_id, &err);
	} else if (strcmp(mode, "never") != 0) {
		*error_r = jmap_error("forbidden", "two-factor login is on "
		    "already; to enrol another app, turn it off first (or ask "
		    "your administrator to reset it)");
		return;
	} else if (strcmp(action, "enrol") == 0) {
		struct dir_mailbox mb;
		if (dir_mailbox_get(c->db, c->mailbox_id, &mb, &err) != 1) {
			*error_r = jmap_error("serverFail", "%s", err != NULL ? err :
			    "the mailbox could not be read");
			return;
		}
		r = tf_self_enrol(c->db, &mb, &out, &err);
	} else {
		if (code == NULL) {
			*error_r = jmap_error_props("invalidArguments", "send the "
			    "code your authenticator app shows", "code", NULL);
			return;
		}
		r = tf_self_confirm(c->db, c->mailbox_id, code, &out, &err);
		if (r == 0) {
			loginsec_record_failure(c->db, c->login, c->mailbox_id,
			    &(struct dir_client){ "web", c->client }, NULL,
			    "wrong second factor");
			*error_r = jmap_error_props("invalidArguments", err, "code",
			    NULL);
			return;
		}
	}
	if (r < 0) {
		json_decref(out);
		*error_r = jmap_error("serverFail", "%s", err != NULL ? err :
		    "two-factor could not be changed");
		return;
	}
	if (out == NULL)
		out = json_object();
	json_object_set_new(out, "accountId", json_string(c->account_id));
	*result_r = out;
}

/* ---------------------------------------------------------- LoginRecord */

/* utc_text - loginsec's "YYYY-MM-DD HH:MM:SS" (UTC) as a JMAP UTCDate */
static json_t *
utc_text(const char *s)
{
	char b[21];

	if (s == NULL || strlen(s) != 19)
		return json_null();
	memcpy(b, s, 19);
	b[10] = 'T';
	b[19] = 'Z';
	b[20] = '\0';
	return json_string(b);
}

/* login_record_get - the rows of loginsec_logins (the one reader of the
 * login record; also /jmap/mail/logins), the times as UTCDate */
static void
login_record_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", NULL };
	const char *const *keys;
	const char *err;
	int r;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	/* columns: last, protocol, address, country, first, count */
	struct db_stmt *st = loginsec_logins(c->db, c->mailbox_id, LOGINS_MAX,
	    &keys, &err);
	if (st == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array();
	while ((r = db_step(st, NULL)) == DB_ROW) {
		const char *p = db_col_text(st, 1);
		const char *a = db_col_text(st, 2);
		const char *cc = db_col_text(st, 3);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s?,s:o,s:o,s:I}",
		    "protocol", p != NULL ? p : "", "address", a != NULL ? a : "",
		    "country", cc != NULL && *cc ? cc : NULL, "first",
		    utc_text(db_col_text(st, 4)), "last",
		    utc_text(db_col_text(st, 0)), "count",
		    (json_int_t)db_col_int(st, 5)));
	}
	db_stmt_free(&st);
	if (r != DB_DONE) {
		json_decref(list);
		*error_r = jmap_error("serverFail", "the login record could not be "
		    "read");
		return;
	}
	*result_r = json_pack("{s:s,s:o}", "accountId", c->account_id, "list",
	    list);
}

const struct jmap_method jmap_settings_methods[] = {
	{ "Password/change", JMAP_SETTINGS, password_change },
	{ "AppPassword/get", JMAP_SETTINGS, app_password_get },
	{ "AppPassword/set", JMAP_SETTINGS, app_password_set },
	{ "TwoFactor/get", JMAP_SETTINGS, twofactor_get },
	{ "TwoFactor/set", JMAP_SETTINGS, twofactor_set },
	{ "LoginRecord/get", JMAP_SETTINGS, login_record_get },
	{ "Identity/get", JMAP_SUBMISSION, jmap_identity_get },
	{ "Identity/changes", JMAP_SUBMISSION, jmap_identity_changes },
	{ "Identity/set", JMAP_SUBMISSION, jmap_identity_set },
	{ NULL, NULL, NULL },
};
