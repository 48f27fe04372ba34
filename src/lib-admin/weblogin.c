/* weblogin - the one web login of every web endpoint (weblogin.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "loginsec.h"
#include "passkey.h"
#include "settings.h"
#include "twofactor.h"
#include "weblogin.h"

static json_t *
refusal(int status, const char *type, const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), "urn:postern:error:%s", type);
	return json_pack("{s:s,s:i,s:s}", "type", t, "status", status,
	    "detail", detail);
}

static int
refuse(struct weblogin *w, int status, const char *type, const char *detail)
{
	json_decref(w->answer);
	w->answer = refusal(status, type, detail);
	w->status = status;
	return 0;
}

/* start - the outputs of w before a login */
static void
start(struct weblogin *w)
{
	w->count = WEBLOGIN_COUNT_NONE;
	w->answer = NULL;
	w->status = 0;
	w->sid[0] = '\0';
	w->session_id = 0;
	w->note[0] = '\0';
	w->device_cookie = NULL;
	w->device_max_age = 0;
	memset(&w->mb, 0, sizeof(w->mb));
}

int
weblogin_password(struct db *db, struct weblogin *w)
{
	const char *err = NULL, *why = NULL;
	int r;

	start(w);
	enum dir_auth_result a = dir_authenticate_client(db, w->login,
	    w->password, &(struct dir_client){ "web", w->client }, &w->mb, &err);
	OPENSSL_cleanse((char *)w->password, strlen(w->password));
	if (a == DIR_AUTH_ERROR) {
		snprintf(w->note, sizeof(w->note), "login %s: %s", w->login,
		    err != NULL ? err : "error");
		return refuse(w, 503, "unavailable", "Logins cannot be checked "
		    "just now; try again.");
	}
	if (a != DIR_AUTH_OK) {
		snprintf(w->note, sizeof(w->note), "login %s failed", w->login);
		if (a == DIR_AUTH_FAILED) {
			w->count = WEBLOGIN_COUNT_FAILED;
			return refuse(w, 401, "loginFailed", "Wrong login or "
			    "password.");
		}
		w->count = WEBLOGIN_COUNT_OK;   /* the password was right */
		return refuse(w, 403, "loginFailed", "This mailbox may not log "
		    "in (disabled).");
	}
	if (w->admit != NULL &&
	    (r = w->admit(db, &w->mb, w->admit_ctx, &why)) <= 0) {
		snprintf(w->note, sizeof(w->note), "login %s refused", w->login);
		w->count = WEBLOGIN_COUNT_OK;
		return r < 0 ? refuse(w, 503, "unavailable", "The config store "
		    "is unavailable.") : refuse(w, 403, "forbidden", why);
	}
	/* the second factor (twofactor.h): a passkey, a code */
	int status, pk = -1;
	bool failed;
	json_t *extra;
	struct passkey_site site;
	bool has_site = passkey_site_make(db, w->host, w->tls, &site,
	    &why) == 0;
	if (w->passkey == NULL && w->device != NULL) {
		int d = tf_device_check(db, w->mb.id, w->device, &err);
		if (d > 0)
			pk = 1;   /* a remembered device */
	}
	if (w->passkey != NULL) {
		int64_t owner;
		pk = has_site ? passkey_assert(db, w->passkey, w->mb.id, &site,
		    &owner, &why) : 0;
		if (pk < 0) {
			snprintf(w->note, sizeof(w->note), "login %s: %s",
			    w->login, why);
			return refuse(w, 503, "unavailable", "Two-factor login "
			    "cannot be checked just now.");
		}
		if (pk == 0)
			snprintf(w->note, sizeof(w->note), "login %s: passkey "
			    "refused: %s", w->login, why);
	}
	bool remembered = pk == 1 && w->passkey == NULL;
	r = tf_web_login(db, &w->mb, w->client, w->code, pk, w->mail, &status,
	    &extra, &failed, &err);
	if (r <= 0) {
		/* only a whole login clears the address's failures */
		w->count = failed ? WEBLOGIN_COUNT_FAILED : WEBLOGIN_COUNT_NONE;
		if (pk != 0)
			snprintf(w->note, sizeof(w->note), "login %s: %s",
			    w->login, r < 0 ? err : failed ? "wrong second "
			    "factor" : "second factor asked");
		if (r < 0)
			return refuse(w, 503, "unavailable", "Two-factor login "
			    "cannot be checked just now.");
		w->status = status;
		w->answer = extra;
		/* the next try may use a passkey: its options */
		json_t *opt = status == 401 && has_site &&
		    passkey_count(db, w->mb.id) > 0 ? passkey_login_options(db,
		    w->mb.id, &site, &err) : NULL;
		if (opt != NULL)
			json_object_set_new(w->answer, "passkey", opt);
		/* the login pages offer "remember this browser" only when
		 * the server keeps devices (auth.remember_device_days) */
		int64_t days = settings_current(db)->auth_remember_device_days;
		if (status == 401 && days > 0 && json_is_object(w->answer))
			json_object_set_new(w->answer, "rememberDays",
			    json_integer(days));
		return 0;
	}
	w->count = WEBLOGIN_COUNT_OK;
	if (webauth_session_create(db, w->mb.id, w->client, w->user_agent,
	    w->sid, &w->session_id, &err) != ADM_OK) {
		json_decref(extra);
		snprintf(w->note, sizeof(w->note), "login %s: %s", w->login, err);
		return refuse(w, 503, "unavailable", "The session could not be "
		    "stored; try again.");
	}
	w->status = 200;
	w->answer = extra;   /* the recovery codes after an enrolment */
	char mode[16];
	if (w->remember && !remembered && loginsec_twofactor_mode(db, w->mb.id,
	    mode, &err) == 0 && strcmp(mode, "never") != 0)
		w->device_cookie = tf_device_make(db, w->mb.id, w->client,
		    w->user_agent, &w->device_max_age, &err);
	snprintf(w->note, sizeof(w->note), "login %s@%s", w->mb.name,
	    w->mb.postoffice);
	return 1;
}

int
weblogin_passkey(struct db *db, struct weblogin *w)
{
	const char *err = NULL, *why = NULL;
	struct passkey_site site;
	int64_t mid = 0;
	char cc[3] = "", whyb[200];
	int r;

	start(w);
	if (settings_current(db)->auth_passkey_login == 0) {
		snprintf(w->note, sizeof(w->note), "passkey login: off");
		return refuse(w, 403, "forbidden", "Passwordless login with a "
		    "passkey is off here (auth.passkey_login): log in with "
		    "your password.");
	}
	if (passkey_site_make(db, w->host, w->tls, &site, &why) < 0) {
		snprintf(w->note, sizeof(w->note), "passkey login: %s", why);
		return refuse(w, 400, "passkeyFailed", why);
	}
	r = passkey_assert(db, w->passkey, 0, &site, &mid, &why);
	if (r <= 0) {
		snprintf(w->note, sizeof(w->note), "passkey login: %s", why);
		if (r < 0)
			return refuse(w, 503, "unavailable", "Logins cannot be "
			    "checked just now; try again.");
		w->count = WEBLOGIN_COUNT_FAILED;
		/* in the login record as a failure of the key's owner (when
		 * the key is known) under the login name "passkey" */
		loginsec_record_failure(db, "passkey", mid,
		    &(struct dir_client){ "web", w->client }, NULL, why);
		return refuse(w, 401, "passkeyFailed", why);
	}
	r = dir_mailbox_get(db, mid, &w->mb, &err);
	if (r <= 0 || w->mb.disabled || w->mb.postoffice_disabled ||
	    w->mb.prevent_auth) {
		snprintf(w->note, sizeof(w->note), "passkey login: mailbox %lld "
		    "%s", (long long)mid, r < 0 ? err : "gone or disabled");
		if (r < 0)
			return refuse(w, 503, "unavailable", "Logins cannot be "
			    "checked just now; try again.");
		return refuse(w, 403, "loginFailed", "This mailbox may not log "
		    "in (disabled).");
	}
	char who[NAME_MAX_LEN * 2 + 2];
	snprintf(who, sizeof(who), "%s@%s", w->mb.name, w->mb.postoffice);
	struct dir_client client = { "web", w->client };
	/* the country policies, as for a password */
	r = loginsec_country_check(db, &w->mb, &client, cc, whyb, sizeof(whyb),
	    &err);
	if (r <= 0) {
		snprintf(w->note, sizeof(w->note), "passkey login %s: %s", who,
		    r < 0 ? err : whyb);
		if (r < 0)
			return refuse(w, 503, "unavailable", "Logins cannot be "
			    "checked just now; try again.");
		loginsec_record_failure(db, who, w->mb.id, &client, cc,
		    whyb);
		w->count = WEBLOGIN_COUNT_FAILED;
		return refuse(w, 401, "loginFailed", "This login is not "
		    "allowed.");
	}
	if (w->admit != NULL &&
	    (r = w->admit(db, &w->mb, w->admit_ctx, &why)) <= 0) {
		snprintf(w->note, sizeof(w->note), "passkey login %s refused",
		    who);
		w->count = WEBLOGIN_COUNT_OK;
		return r < 0 ? refuse(w, 503, "unavailable", "The config store "
		    "is unavailable.") : refuse(w, 403, "forbidden", why);
	}
	loginsec_record_ok(db, w->mb.id, &client, cc);
	w->count = WEBLOGIN_COUNT_OK;
	if (webauth_session_create(db, w->mb.id, w->client, w->user_agent,
	    w->sid, &w->session_id, &err) != ADM_OK) {
		snprintf(w->note, sizeof(w->note), "passkey login %s: %s", who,
		    err);
		return refuse(w, 503, "unavailable", "The session could not be "
		    "stored; try again.");
	}
	w->status = 200;
	snprintf(w->note, sizeof(w->note), "passkey login %s", who);
	return 1;
}

void
weblogin_clear(struct weblogin *w)
{
	OPENSSL_cleanse(w->sid, sizeof(w->sid));
	json_decref(w->answer);
	w->answer = NULL;
	if (w->device_cookie != NULL)
		OPENSSL_cleanse(w->device_cookie, strlen(w->device_cookie));
	free(w->device_cookie);
	w->device_cookie = NULL;
}
