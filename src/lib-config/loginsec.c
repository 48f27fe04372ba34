/* loginsec - app passwords, two-factor rule, country policies and the
 * login record for every protocol (loginsec.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifdef HAVE_MAXMINDDB
#include <maxminddb.h>
#endif

#include "fsutil.h"
#include "log.h"
#include "loginsec.h"
#include "notice.h"
#include "pamauth.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

static const char *
proto_of(const struct dir_client *client)
{
	return client != NULL && client->protocol != NULL ? client->protocol :
	    "";
}

static const char *
addr_of(const struct dir_client *client)
{
	return client != NULL && client->addr != NULL ? client->addr : "";
}

int
loginsec_twofactor_mode(struct db *db, int64_t mailbox_id, char mode[16],
			const char **error_r)
{
	return loginsec_twofactor_rule(db, mailbox_id, false, mode, error_r);
}

int
loginsec_twofactor_rule(struct db *db, int64_t mailbox_id, bool inherited,
			char mode[16], const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r,
	    "SELECT m.twofactor_challenge, p.twofactor_mode FROM mailbox m "
	    "JOIN postoffice p ON p.id = m.postoffice_id WHERE m.id = ?", "i",
	    mailbox_id);
	int r;

	if (st == NULL)
		return -1;
	snprintf(mode, 16, "never");
	r = db_step(st, NULL);
	if (r == DB_ROW) {
		const char *m = db_col_text(st, 0);
		const char *p = db_col_text(st, 1);
		if (m != NULL && strcmp(m, "inherit") != 0 && !inherited) {
			snprintf(mode, 16, "%s", m);
		} else if (p != NULL && strcmp(p, "inherit") != 0) {
			snprintf(mode, 16, "%s", p);
		} else {
			const char *g = settings_text(settings_current(db), SETTING_auth_twofactor_mode);
			snprintf(mode, 16, "%s", *g ? g : "never");
		}
	}
	db_stmt_free(&st);
	if (r != DB_ROW && r != DB_DONE)
		return db_fail(db, error_r, "two-factor mode");
	return 0;
}

int
loginsec_app_password_check(struct db *db, int64_t mailbox_id,
			    const char *password,
			    const struct dir_client *client,
			    uint64_t *credential_r, const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r, "SELECT id, hash FROM "
	    "app_password WHERE mailbox_id = ? ORDER BY id LIMIT ?", "ii",
	    mailbox_id, (int64_t)LOGINSEC_APP_PASSWORDS);
	int64_t found = 0;
	int r;

	if (st == NULL)
		return -1;
	while ((r = db_step(st, NULL)) == DB_ROW) {
		const char *h = db_col_text(st, 1);
		if (h != NULL && passwd_verify(password, h)) {
			found = db_col_int(st, 0);
			*credential_r = dir_credential_of(h);
			break;
		}
	}
	if (r != DB_ROW && r != DB_DONE) {
		db_stmt_free(&st);
		return db_fail(db, error_r, "app passwords");
	}
	db_stmt_free(&st);
	if (found == 0)
		return 0;
	const char *err;
	(void)db_exec(db, &err, "UPDATE app_password SET last_used = ?, "
	    "last_address = ?, last_protocol = ? WHERE id = ?", "itti",
	    (int64_t)time(NULL), addr_of(client), proto_of(client), found);
	return 1;
}

int
loginsec_credential_current(struct db *db, int64_t mailbox_id,
			    const char *main_hash, uint64_t credential,
			    const char **error_r)
{
	char mode[16];
	int r;

	if (dir_credential_of(main_hash) == credential) {
		if (loginsec_twofactor_mode(db, mailbox_id, mode, error_r) < 0)
			return -1;
		return strcmp(mode, "never") == 0;
	}
	struct db_stmt *st = db_query(db, error_r, "SELECT hash FROM app_password "
	    "WHERE mailbox_id = ?", "i", mailbox_id);
	if (st == NULL)
		return -1;
	bool found = false;
	while ((r = db_step(st, NULL)) == DB_ROW)
		if (dir_credential_of(db_col_text(st, 0)) ==
		    credential)
			found = true;
	db_stmt_free(&st);
	if (r != DB_DONE)
		return db_fail(db, error_r, "app passwords");
	return found;
}

int
loginsec_countries_valid(const char *list, const char **error_r)
{
	const char *p = list;

	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, ", ");
		if (n != 2 || !isalpha((unsigned char)p[0]) ||
		    !isalpha((unsigned char)p[1])) {
			*error_r = "countries are ISO 3166 two-letter codes, "
			    "comma separated (DE,FR)";
			return -1;
		}
		p += n;
	}
	return 0;
}

/* listed - whether cc is in a comma or space separated list */
static bool
listed(const char *list, const char *cc)
{
	const char *p = list;

	if (cc[0] == '\0')
		return false;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 2 && toupper((unsigned char)p[0]) == cc[0] &&
		    toupper((unsigned char)p[1]) == cc[1])
			return true;
		p += n;
	}
	return false;
}

int
loginsec_country_of(struct db *db, const char *addr, char cc[3],
		    const char **error_r)
{
	const char *path = settings_current(db)->auth_geoip_db;
	int r = -1;

	cc[0] = '\0';
	if (*path == '\0') {
		*error_r = "no country database (auth.geoip_db)";
		return -1;
	}
#ifdef HAVE_MAXMINDDB
	MMDB_s mmdb;
	int st = MMDB_open(path, MMDB_MODE_MMAP, &mmdb);
	if (st != MMDB_SUCCESS) {
		*error_r = "the country database (auth.geoip_db) cannot be read";
		return -1;
	}
	int gai, mst;
	/* an IPv4 client on an IPv6 listener */
	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr, '.') != NULL)
		addr += 7;
	MMDB_lookup_result_s res = MMDB_lookup_string(&mmdb, addr, &gai, &mst);
	if (gai != 0) {
		r = 0;       /* not an address: unknown */
	} else if (mst != MMDB_SUCCESS) {
		*error_r = "the country database (auth.geoip_db) is corrupt";
	} else if (!res.found_entry) {
		r = 0;
	} else {
		MMDB_entry_data_s d;
		int gs = MMDB_get_value(&res.entry, &d, "country", "iso_code",
		    NULL);
		if (gs == MMDB_SUCCESS && d.has_data &&
		    d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size == 2 &&
		    isalpha((unsigned char)d.utf8_string[0]) &&
		    isalpha((unsigned char)d.utf8_string[1])) {
			cc[0] = (char)toupper((unsigned char)d.utf8_string[0]);
			cc[1] = (char)toupper((unsigned char)d.utf8_string[1]);
			cc[2] = '\0';
			r = 1;
		} else if (gs == MMDB_SUCCESS ||
		    gs == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) {
			r = 0;
		} else {
			*error_r = "the country database (auth.geoip_db) is "
			    "corrupt";
		}
	}
	MMDB_close(&mmdb);
#else
	(void)addr;
	*error_r = "this Postern was built without libmaxminddb: no country "
	    "lookups";
#endif
	return r;
}

struct policy {
	const char *level;
	char *mode;
	char *countries;
};

int
loginsec_country_check(struct db *db, const struct dir_mailbox *mb,
		       const struct dir_client *client, char cc_r[3],
		       char *why, size_t why_size, const char **error_r)
{
	struct policy p[3] = {
		{ "global", xstrdup(settings_text(settings_current(db), SETTING_auth_policy_mode)),
		  xstrdup(settings_current(db)->auth_policy_countries) },
		{ "post office", NULL, NULL },
		{ "mailbox", NULL, NULL },
	};
	const char *addr = addr_of(client);
	bool needed = strcmp(p[0].mode, "off") != 0;
	int r = 1, lr = 0;
	const char *lerr = NULL;

	cc_r[0] = '\0';
	if (db_query_text(db, &p[1].mode, error_r, "SELECT authpolicy_mode "
	    "FROM postoffice WHERE id = ?", "i", mb->postoffice_id) < 0 ||
	    db_query_text(db, &p[1].countries, error_r, "SELECT "
	    "authpolicy_countries FROM postoffice WHERE id = ?", "i",
	    mb->postoffice_id) < 0 ||
	    db_query_text(db, &p[2].mode, error_r, "SELECT authpolicy_mode "
	    "FROM mailbox WHERE id = ?", "i", mb->id) < 0 ||
	    db_query_text(db, &p[2].countries, error_r, "SELECT "
	    "authpolicy_countries FROM mailbox WHERE id = ?", "i", mb->id) < 0) {
		r = -1;
		goto out;
	}
	for (int i = 1; i < 3; i++)
		if (p[i].mode != NULL && strcmp(p[i].mode, "off") != 0)
			needed = true;
	if (!needed) {
		/* for the record only: no policy depends on it */
		if (*addr)
			(void)loginsec_country_of(db, addr, cc_r, &lerr);
		goto out;
	}
	if (*addr == '\0') {
		snprintf(why, why_size, "country policy on, client address "
		    "unknown");
		r = 0;
		goto out;
	}
	lr = loginsec_country_of(db, addr, cc_r, &lerr);
	for (int i = 0; i < 3 && r == 1; i++) {
		if (p[i].mode == NULL || strcmp(p[i].mode, "off") == 0)
			continue;
		if (lr < 0) {
			snprintf(why, why_size, "%s country policy: %s",
			    p[i].level, lerr);
			r = 0;
		} else if (strcmp(p[i].mode, "block") == 0 &&
		    listed(p[i].countries ? p[i].countries : "", cc_r)) {
			snprintf(why, why_size, "%s country policy blocks %s",
			    p[i].level, cc_r);
			r = 0;
		} else if (strcmp(p[i].mode, "allow") == 0 &&
		    !listed(p[i].countries ? p[i].countries : "", cc_r)) {
			snprintf(why, why_size, "%s country policy allows only "
			    "%s, not %s", p[i].level, p[i].countries ?
			    p[i].countries : "", cc_r[0] ? cc_r : "unknown");
			r = 0;
		}
	}
out:
	for (int i = 0; i < 3; i++) {
		free(p[i].mode);
		free(p[i].countries);
	}
	return r;
}

/* prune - now and then, forget what is older than auth.login_record_days */
static void
prune(struct db *db, int64_t now)
{
	const char *err;
	unsigned char b;

	random_bytes(&b, 1);
	if (b % 64 != 0)
		return;
	int64_t days = settings_current(db)->auth_login_record_days;
	(void)db_exec(db, &err, "DELETE FROM login_seen WHERE last < ?", "i",
	    now - days * 86400);
	(void)db_exec(db, &err, "DELETE FROM login_failure WHERE last < ?", "i",
	    now - days * 86400);
	/* names sprayed from many addresses: the newest rows stay */
	(void)db_exec(db, &err, "DELETE FROM login_failure WHERE rowid IN "
	    "(SELECT rowid FROM login_failure ORDER BY last LIMIT max(0, "
	    "(SELECT count(*) FROM login_failure) - ?))", "i",
	    (int64_t)LOGINSEC_RECORD_MAX);
}

/* notice_to - the address a notice about the mailbox goes to: its own
 * address NAME@domain when it has one, else its first address; NULL
 * when it has none */
static char *
notice_to(struct db *db, int64_t mailbox_id, const char **error_r)
{
	char *a = NULL;

	if (db_query_text(db, &a, error_r, "SELECT a.address FROM address a "
	    "JOIN mailbox m ON m.id = a.target_id WHERE a.kind = 'mailbox' AND "
	    "a.target_id = ? ORDER BY a.address NOT LIKE m.name || '@%', "
	    "a.address LIMIT 1", "i", mailbox_id) < 0)
		return NULL;
	return a;
}

/* new_country - before a login is recorded: when the mailbox has logged
 * in from a known country before (within auth.login_record_days) but
 * never from cc, mail it a notice (auth.new_country_mail). The first
 * login with a country sends nothing: there is nothing to compare. */
static void
new_country(struct db *db, int64_t mailbox_id,
	    const struct dir_client *client, const char *cc, int64_t now)
{
	const char *err = NULL;
	int64_t known = 0, here = 0;
	char *to = NULL, *who = NULL;

	if (cc == NULL || cc[0] == '\0' ||
	    settings_current(db)->auth_new_country_mail == 0)
		return;
	if (db_query_int(db, &known, 0, &err, "SELECT count(*) FROM "
	    "login_seen WHERE mailbox_id = ? AND country != ''", "i",
	    mailbox_id) < 0 || db_query_int(db, &here, 0, &err, "SELECT "
	    "count(*) FROM login_seen WHERE mailbox_id = ? AND country = ?",
	    "it", mailbox_id, cc) < 0)
		goto fail;
	if (known == 0 || here > 0)
		return;
	if (db_query_text(db, &who, &err, "SELECT m.name || '@' || p.name FROM "
	    "mailbox m JOIN postoffice p ON p.id = m.postoffice_id WHERE "
	    "m.id = ?", "i", mailbox_id) < 0)
		goto fail;
	log_info("login %s from %s (%s): a new country %s", who ? who : "?",
	    addr_of(client), proto_of(client), cc);
	if ((to = notice_to(db, mailbox_id, &err)) == NULL) {
		if (err == NULL)
			err = "the mailbox has no address";
		goto fail;
	}
	char when[64], subject[96];
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(subject, sizeof(subject), "A login from a new country (%s)",
	    cc);
	char *text = xasprintf("Your mailbox %s was just logged in to from a "
	    "country it has not been\nused from before:\n\n"
	    "  Country:   %s\n  Address:   %s\n  Protocol:  %s\n"
	    "  Time:      %s\n\n"
	    "If this was you, nothing needs doing. If it was not, change your "
	    "password\nat once, check your app passwords and passkeys, and "
	    "tell your mail\nadministrator.\n", who ? who : "?", cc,
	    addr_of(client), proto_of(client), when);
	int r = notice_send(db, to, subject, text, &err);
	free(text);
	if (r < 0)
		goto fail;
	free(to);
	free(who);
	return;
fail:
	log_warnx("new country notice for mailbox %lld: %s",
	    (long long)mailbox_id, err != NULL ? err : "error");
	free(to);
	free(who);
}

void
loginsec_record_ok(struct db *db, int64_t mailbox_id,
		   const struct dir_client *client, const char *cc)
{
	const char *err;
	int64_t now = time(NULL);

	if (*addr_of(client) == '\0')
		return;
	new_country(db, mailbox_id, client, cc, now);
	if (db_exec(db, &err, "INSERT INTO login_seen (mailbox_id, protocol, "
	    "address, country, first, last) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (mailbox_id, protocol, address) DO UPDATE SET "
	    "last = excluded.last, count = login_seen.count + 1, country = "
	    "excluded.country", "itttii", mailbox_id, proto_of(client),
	    addr_of(client), cc != NULL ? cc : "", now, now) < 0)
		log_warnx("login record: %s", err);
	prune(db, now);
}

void
loginsec_record_failure(struct db *db, const char *login, int64_t mailbox_id,
			const struct dir_client *client, const char *cc,
			const char *reason)
{
	const char *err;
	int64_t now = time(NULL);
	char name[LOGINSEC_NAME_MAX * 4 + 1];
	char ccbuf[3] = "";

	if (*addr_of(client) == '\0')
		return;
	/* what a client typed: bounded, no control bytes */
	snprintf(name, sizeof(name), "%s", login);
	for (char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (cc == NULL) {
		(void)loginsec_country_of(db, addr_of(client), ccbuf, &err);
		cc = ccbuf;
	}
	if (db_exec(db, &err, "INSERT INTO login_failure (login, address, "
	    "mailbox_id, protocol, country, reason, first, last) VALUES "
	    "(?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?) ON CONFLICT (login, address) "
	    "DO UPDATE SET last = excluded.last, count = login_failure.count + 1, "
	    "protocol = excluded.protocol, reason = excluded.reason, "
	    "country = excluded.country", "ttitttii", name, addr_of(client),
	    mailbox_id, proto_of(client), cc, reason, now, now) < 0)
		log_warnx("login record: %s", err);
	prune(db, now);
}

int
loginsec_as_last(struct db *db, int64_t mailbox_id, const char *protocol,
		 const char *addr, const char *cc, const char **error_r)
{
	int64_t n = 0;

	/* the rows of the latest login (times in seconds: two logins within
	 * one second are both the latest) */
	if (db_query_int(db, &n, 0, error_r, "SELECT count(*) FROM login_seen "
	    "WHERE mailbox_id = ?1 AND protocol = ?2 AND last = (SELECT "
	    "max(last) FROM login_seen WHERE mailbox_id = ?1 AND protocol = "
	    "?2) AND (?3 IS NULL OR address = ?3) AND (?4 IS NULL OR (country "
	    "= ?4 AND country != ''))", "ittt", mailbox_id, protocol, addr,
	    cc) < 0)
		return -1;
	return n > 0;
}

/* pam_of - the post office's PAM settings: 1 PAM on (service new
 * string), 0 off, -1 error */
static int
pam_of(struct db *db, int64_t postoffice_id, bool *only_r, bool *create_r,
       char **service_r, const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r, "SELECT pam_enabled, pam_only, "
	    "pam_autocreate, pam_service FROM postoffice WHERE id = ?", "i",
	    postoffice_id);
	int r;

	*service_r = NULL;
	if (st == NULL)
		return -1;
	r = db_step(st, NULL);
	if (r == DB_ROW) {
		r = db_col_int(st, 0) != 0;
		*only_r = db_col_int(st, 1) != 0;
		*create_r = db_col_int(st, 2) != 0;
		const char *s = db_col_text(st, 3);
		*service_r = xstrdup(s != NULL && *s ? s : "postern");
	} else {
		r = r == DB_DONE ? 0 : db_fail(db, error_r, "PAM settings");
	}
	db_stmt_free(&st);
	if (r <= 0) {
		free(*service_r);
		*service_r = NULL;
	}
	return r;
}

/* pam_check - the PAM service's answer for user; logs its errors */
static int
pam_check(struct db *db, const char *service, const char *user,
	  const char *postoffice, const char *password)
{
	const char *err;
	int timeout = (int)settings_current(db)->auth_pam_timeout;
	int r = pamauth_check(service, user, password, timeout, &err);

	if (r < 0)
		log_warnx("login %s@%s: PAM service %s: %s", user, postoffice,
		    service, err);
	return r;
}

/* pam_decide - with the post office's pam_enabled: whether PAM takes the
 * password (pam_only), or PAM or the Postern password. 0 or -1 */
static int
pam_decide(struct db *db, const struct dir_mailbox *mb, const char *password,
	   bool *main_ok, const char **error_r)
{
	bool only = false, create = false;
	char *service;
	int r = pam_of(db, mb->postoffice_id, &only, &create, &service, error_r);

	if (r <= 0)
		return r;
	if (only || !*main_ok)
		*main_ok = pam_check(db, service, mb->name, mb->postoffice,
		    password) == 1;
	free(service);
	return 0;
}

int
loginsec_pam_autocreate(struct db *db, const char *login, const char *password,
			struct dir_mailbox *mb, const char **error_r)
{
	char name[NAME_MAX_LEN + 1];
	const char *at = strrchr(login, '@'), *err;
	struct dir_postoffice po;
	bool only = false, create = false;
	char *service;
	int r;

	if (at == NULL || (size_t)(at - login) > NAME_MAX_LEN)
		return 0;
	memcpy(name, login, (size_t)(at - login));
	name[at - login] = '\0';
	if (name_check(name, &err) < 0)
		return 0;
	if ((r = dir_postoffice_get(db, at + 1, &po, error_r)) <= 0)
		return r;
	if ((r = pam_of(db, po.id, &only, &create, &service, error_r)) <= 0)
		return r;
	if (!create || po.disabled) {
		free(service);
		return 0;
	}
	r = pam_check(db, service, name, po.name, password);
	free(service);
	if (r != 1)
		return 0;
	/* no Postern password: the mailbox logs in through PAM only */
	if (db_exec(db, error_r, "INSERT OR IGNORE INTO mailbox (postoffice_id, "
	    "name, created) VALUES (?, ?, ?)", "iti", po.id, name,
	    (int64_t)time(NULL)) < 0)
		return -1;
	if ((r = dir_mailbox_find(db, po.name, name, mb, error_r)) <= 0)
		return r < 0 ? -1 : 0;
	char *root = dir_mailbox_path(db, mb);
	static const char *const subs[] = { "cur", "new", "tmp" };
	for (size_t i = 0; i < 3; i++) {
		char *p = path_join(root, subs[i]);
		if (mkdir_p(p, 0700) < 0)
			log_warnx("mailbox %s@%s made at its first PAM login, but "
			    "not its store %s", name, po.name, p);
		free(p);
	}
	free(root);
	log_info("mailbox %s@%s made at its first PAM login (pam_autocreate)",
	    name, po.name);
	return 1;
}

enum dir_auth_result
loginsec_decide(struct db *db, const char *login, const char *password,
		const struct dir_client *client, struct dir_mailbox *mb,
		bool main_ok, char cc_r[3], const char **error_r)
{
	const char *proto = proto_of(client);
	bool web = strcmp(proto, "web") == 0;
	bool ok = main_ok;
	const char *reason = "wrong password";
	char mode[16], why[160];
	uint64_t cred;
	int r;

	cc_r[0] = '\0';
	if (pam_decide(db, mb, password, &ok, error_r) < 0)
		return DIR_AUTH_ERROR;
	if (!web) {
		if (loginsec_twofactor_mode(db, mb->id, mode, error_r) < 0)
			return DIR_AUTH_ERROR;
		if (ok && strcmp(mode, "never") != 0) {
			/* the second factor cannot be asked here: the main
			 * password would bypass it */
			ok = false;
			reason = "main password refused: two-factor is on, "
			    "only app passwords";
			log_info("login %s@%s over %s from [%s]: %s", mb->name,
			    mb->postoffice, *proto ? proto : "?",
			    addr_of(client), reason);
		}
		if (!ok) {
			r = loginsec_app_password_check(db, mb->id, password,
			    client, &cred, error_r);
			if (r < 0)
				return DIR_AUTH_ERROR;
			if (r > 0) {
				ok = true;
				mb->credential = cred;
			}
		}
	}
	if (!ok) {
		loginsec_record_failure(db, login, mb->id, client, NULL, reason);
		return DIR_AUTH_FAILED;
	}
	r = loginsec_country_check(db, mb, client, cc_r, why, sizeof(why),
	    error_r);
	if (r < 0)
		return DIR_AUTH_ERROR;
	if (r == 0) {
		log_info("login %s@%s over %s from [%s] country %s: refused: %s",
		    mb->name, mb->postoffice, *proto ? proto : "?",
		    addr_of(client), cc_r[0] ? cc_r : "unknown", why);
		loginsec_record_failure(db, login, mb->id, client, cc_r, why);
		return DIR_AUTH_FAILED;
	}
	return DIR_AUTH_OK;
}

struct db_stmt *
loginsec_failures(struct db *db, enum loginsec_by by, int64_t postoffice_id,
		  int64_t mailbox_id, size_t *ncols_r,
		  const char *const **keys_r, const char **error_r)
{
	static const char *const akeys[] = { "address", "logins", "failures",
	    "last" };
	static const char *const mkeys[] = { "mailbox", "addresses",
	    "failures", "last" };
	static const char *const keys[] = { "login", "mailbox", "address",
	    "country", "protocol", "failures", "last", "reason" };

	if (by != LOGINSEC_BY_NONE) {
		bool per_addr = by == LOGINSEC_BY_ADDRESS;
		char *sql = xasprintf("SELECT %s, count(DISTINCT %s), "
		    "sum(f.count), datetime(max(f.last), 'unixepoch') FROM "
		    "login_failure f LEFT JOIN mailbox m ON m.id = f.mailbox_id "
		    "LEFT JOIN postoffice p ON p.id = m.postoffice_id WHERE "
		    "(? = 0 OR m.postoffice_id = ?) AND (? = 0 OR f.mailbox_id = "
		    "?) GROUP BY 1 ORDER BY 3 DESC LIMIT 500", per_addr ?
		    "f.address" : "coalesce(m.name || '@' || p.name, '(unknown)')",
		    per_addr ? "f.login" : "f.address");
		struct db_stmt *st = db_query(db, error_r, sql, "iiii",
		    postoffice_id, postoffice_id, mailbox_id, mailbox_id);
		free(sql);
		*ncols_r = 4;
		*keys_r = per_addr ? akeys : mkeys;
		return st;
	}
	*ncols_r = 8;
	*keys_r = keys;
	return db_query(db, error_r, "SELECT f.login, coalesce(m.name || '@' "
	    "|| p.name, ''), f.address, f.country, f.protocol, f.count, "
	    "datetime(f.last, 'unixepoch'), f.reason FROM login_failure f LEFT "
	    "JOIN mailbox m ON m.id = f.mailbox_id LEFT JOIN postoffice p ON "
	    "p.id = m.postoffice_id WHERE (? = 0 OR m.postoffice_id = ?) AND "
	    "(? = 0 OR f.mailbox_id = ?) ORDER BY f.count DESC, f.last DESC "
	    "LIMIT 500", "iiii", postoffice_id, postoffice_id, mailbox_id,
	    mailbox_id);
}

struct db_stmt *
loginsec_logins(struct db *db, int64_t mailbox_id, int limit,
		const char *const **keys_r, const char **error_r)
{
	static const char *const keys[] = { "last", "protocol", "address",
	    "country", "first", "count" };

	*keys_r = keys;
	return db_query(db, error_r, "SELECT datetime(last, 'unixepoch'), "
	    "protocol, address, country, datetime(first, 'unixepoch'), count "
	    "FROM login_seen WHERE mailbox_id = ? ORDER BY last DESC, protocol, "
	    "address LIMIT ?", "ii", mailbox_id, (int64_t)limit);
}
