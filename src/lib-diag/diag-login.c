/* diag-login - postern diag: the state of login security (issue 17):
 * the country database and the policies that need it, two-factor and
 * app passwords, passkeys, the new-country mail, OpenID Connect per post
 * office, failed logins of the last day */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "diag-private.h"
#include "fsutil.h"
#include "loginsec.h"
#include "settings.h"
#include "xalloc.h"

static int64_t
count(struct db *db, const char *sql, int64_t arg)
{
	const char *err;
	int64_t n = 0;

	if (db_query_int(db, &n, 0, &err, sql, "i", arg) < 0)
		return -1;
	return n;
}

void
diag_check_login_security(struct diag_report *rep, struct db *db)
{
	struct diag_section *s = diag_section(rep, DIAG_S_AUTH);
	const char *gmode = settings_text(settings_current(db), SETTING_auth_policy_mode);
	const char *path = settings_current(db)->auth_geoip_db;
	const char *err;
	char cc[3];

	int64_t npo = count(db, "SELECT count(*) FROM postoffice WHERE "
	    "authpolicy_mode != 'off' AND ? = 0", 0);
	int64_t nmb = count(db, "SELECT count(*) FROM mailbox WHERE "
	    "authpolicy_mode != 'off' AND ? = 0", 0);
	bool needed = strcmp(gmode, "off") != 0 || npo > 0 || nmb > 0;
	bool geo_ok = false;
	diag_add(s, DIAG_INFO, "Country policies", NULL, "global %s; %lld post "
	    "office(s) and %lld mailbox(es) with their own", gmode,
	    (long long)npo, (long long)nmb);
	if (*path == '\0') {
		diag_add(s, needed ? DIAG_ERROR : DIAG_INFO,
		    "Country database (auth.geoip_db)", needed ? "download a "
		    "DB-IP Lite or GeoLite2 country .mmdb (README) and point "
		    "auth.geoip_db at it: logins a policy applies to are "
		    "refused meanwhile" : NULL, "none%s", needed ? ", but a "
		    "country policy is on" : "");
	} else if (loginsec_country_of(db, "8.8.8.8", cc, &err) < 0) {
		diag_add(s, needed ? DIAG_ERROR : DIAG_WARNING,
		    "Country database (auth.geoip_db)", needed ? "fix or replace "
		    "the file: logins a country policy applies to are refused "
		    "meanwhile" : "fix or replace the file (no policy needs it "
		    "yet; the login record has no countries)", "%s: %s", path,
		    err);
	} else {
		struct stat st;
		char when[32] = "?";
		if (stat(path, &st) == 0)
			strftime(when, sizeof(when), "%Y-%m-%d",
			    gmtime(&st.st_mtime));
		diag_add(s, DIAG_OK, "Country database (auth.geoip_db)", NULL,
		    "%s (file of %s)", path, when);
		geo_ok = true;
	}

	const char *tf = settings_text(settings_current(db), SETTING_auth_twofactor_mode);
	int64_t enrolled = count(db, "SELECT count(*) FROM totp WHERE "
	    "enrolled = 1 AND ? = 0", 0);
	int64_t apps = count(db, "SELECT count(*) FROM app_password WHERE "
	    "? = 0", 0);
	diag_add(s, DIAG_INFO, "Two-factor login", NULL, "default %s; %lld "
	    "mailbox(es) enrolled in TOTP; %lld app password(s)", tf,
	    (long long)enrolled, (long long)apps);
	/* the "new country" challenge needs the database: without one no
	 * country is known and the code is asked at every web login */
	int64_t nc = count(db, "SELECT (SELECT count(*) FROM postoffice WHERE "
	    "twofactor_mode = 'new_country') + (SELECT count(*) FROM mailbox "
	    "WHERE twofactor_challenge = 'new_country') + ?", strcmp(tf,
	    "new_country") == 0);
	if (nc > 0 && !geo_ok)
		diag_add(s, DIAG_WARNING, "Two-factor \"new country\" challenge",
		    "point auth.geoip_db at a usable country database (README)",
		    "%lld level(s) ask for it, but no country is known: the "
		    "second factor is asked at every web login there",
		    (long long)nc);
	/* codes by mail need an address, else the login enrols an
	 * authenticator app instead */
	int64_t noaddr = count(db, "SELECT count(*) FROM mailbox WHERE "
	    "twofactor_type = 'smtp' AND twofactor_address = '' AND ? = 0", 0);
	if (noaddr > 0)
		diag_add(s, DIAG_WARNING, "Two-factor codes by mail", "postern "
		    "mailbox set NAME@PO twofactor_address=ADDRESS", "%lld "
		    "mailbox(es) with twofactor_type smtp but no "
		    "twofactor_address: their web logins ask for an "
		    "authenticator app instead", (long long)noaddr);
	char *key = path_join(db_root(db), "config/totp.key");
	struct stat st;
	if (stat(key, &st) == 0 && (st.st_mode & 077) != 0)
		diag_add(s, DIAG_WARNING, "TOTP key (config/totp.key)",
		    "chmod 600 config/totp.key", "readable by others (%o)",
		    (unsigned)(st.st_mode & 0777));
	free(key);

	/* passkeys (lib-admin/passkey.h) */
	int64_t keys = count(db, "SELECT count(*) FROM passkey WHERE ? = 0", 0);
	int64_t owners = count(db, "SELECT count(DISTINCT mailbox_id) FROM "
	    "passkey WHERE ? = 0", 0);
	const char *rp = settings_current(db)->auth_passkey_rp_id;
	bool pwless = settings_current(db)->auth_passkey_login != 0;
	diag_add(s, DIAG_INFO, "Passkeys (WebAuthn)", NULL, "%lld passkey(s) "
	    "of %lld mailbox(es); passwordless login %s; relying party id %s",
	    (long long)keys, (long long)owners, pwless ? "on" : "off "
	    "(auth.passkey_login)", *rp ? rp : "the host name the browser "
	    "used");

	/* the mail on a login from a new country needs the database */
	const char *geo = settings_current(db)->auth_geoip_db;
	bool ncm = settings_current(db)->auth_new_country_mail != 0;
	diag_add(s, DIAG_INFO, "Mail on a login from a new country", NULL,
	    "%s", !ncm ? "off (auth.new_country_mail)" : *geo ? "on" :
	    "on, but without auth.geoip_db no country is known: none is sent");

	/* OpenID Connect per post office (lib-admin/oidc.h) */
	const char *e2;
	struct db_stmt *st2 = db_query(db, &e2, "SELECT name, oauth_issuer, "
	    "oauth_client_id, oauth_client_secret != '' FROM postoffice WHERE "
	    "oauth_enabled = 1 ORDER BY name LIMIT 100", "");
	int n_oidc = 0;
	while (st2 != NULL && db_step(st2, NULL) == DB_ROW) {
		const char *po = db_col_text(st2, 0);
		const char *iss = db_col_text(st2, 1);
		const char *cid = db_col_text(st2, 2);
		bool secret = db_col_int(st2, 3) != 0;
		n_oidc++;
		if (*iss == '\0' || *cid == '\0' || !secret)
			diag_add(s, DIAG_ERROR, "OpenID Connect login", "set "
			    "oauth_issuer, oauth_client_id and "
			    "oauth_client_secret of the post office", "%s: "
			    "enabled but not configured: its logins fail", po);
		else if (strncmp(iss, "https://", 8) != 0)
			diag_add(s, DIAG_WARNING, "OpenID Connect login", "use "
			    "the provider's https issuer URL", "%s: issuer %s "
			    "is not https (taken only on loopback)", po, iss);
		else
			diag_add(s, DIAG_INFO, "OpenID Connect login", NULL,
			    "%s: issuer %s, client %s; callback "
			    "/jmap/mail/oidc/callback", po, iss, cid);
	}
	if (st2 != NULL)
		db_stmt_free(&st2);
	if (n_oidc == 0)
		diag_add(s, DIAG_INFO, "OpenID Connect login", NULL, "no post "
		    "office has it (oauth_enabled)");

	int64_t since = (int64_t)time(NULL) - 86400;
	int64_t fails = count(db, "SELECT coalesce(sum(count), 0) FROM "
	    "login_failure WHERE last >= ?", since);
	int64_t addrs = count(db, "SELECT count(DISTINCT address) FROM "
	    "login_failure WHERE last >= ?", since);
	diag_add(s, DIAG_INFO, "Failed logins (last 24 hours)", fails > 0 ?
	    "postern mailbox failed-logins" : NULL, "%lld from %lld "
	    "address(es)", (long long)fails, (long long)addrs);
}
