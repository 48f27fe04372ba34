/* directory - the read API services use: routing, login, object loads */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory.h"
#include "fields.h"
#include "fsutil.h"
#include "idn.h"
#include "loginsec.h"
#include "passwd.h"
#include "settings.h"
#include "xalloc.h"

#define MAILBOX_COLUMNS \
	"m.id, m.postoffice_id, m.name, p.name, m.type, m.quota_kb, m.disabled, " \
	"m.prevent_auth, p.disabled, m.redirect_enabled, m.redirect_keep_copy"

static void
copy_col(char *dst, size_t size, struct db_stmt *st, int col)
{
	const char *t = db_col_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void
mailbox_from_row(struct db_stmt *st, struct dir_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->id = db_col_int(st, 0);
	mb->postoffice_id = db_col_int(st, 1);
	copy_col(mb->name, sizeof(mb->name), st, 2);
	copy_col(mb->postoffice, sizeof(mb->postoffice), st, 3);
	copy_col(mb->type, sizeof(mb->type), st, 4);
	mb->quota_kb = db_col_int(st, 5);
	mb->disabled = db_col_int(st, 6) != 0;
	mb->prevent_auth = db_col_int(st, 7) != 0;
	mb->postoffice_disabled = db_col_int(st, 8) != 0;
	mb->redirect_enabled = db_col_int(st, 9) != 0;
	mb->redirect_keep_copy = db_col_int(st, 10) != 0;
}

/* step_one - step a prepared statement once: 1 row, 0 none, -1 error. */
static int
step_one(struct db *db, struct db_stmt *st, const char **error_r)
{
	int r = db_step(st, NULL);

	if (r == DB_ROW)
		return 1;
	if (r == DB_DONE)
		return 0;
	return db_fail(db, error_r, "lookup");
}

int
dir_mailbox_get(struct db *db, int64_t id, struct dir_mailbox *mb,
		const char **error_r)
{
	struct db_stmt *st = db_query_cached(db, error_r,
	    "SELECT " MAILBOX_COLUMNS " FROM mailbox m JOIN postoffice p "
	    "ON p.id = m.postoffice_id WHERE m.id = ?", "i", id);
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1)
		mailbox_from_row(st, mb);
	db_stmt_free(&st);
	return r;
}

int
dir_mailbox_find(struct db *db, const char *postoffice, const char *name,
		 struct dir_mailbox *mb, const char **error_r)
{
	struct db_stmt *st = db_query_cached(db, error_r,
	    "SELECT " MAILBOX_COLUMNS " FROM mailbox m JOIN postoffice p "
	    "ON p.id = m.postoffice_id WHERE p.name = ? AND m.name = ?", "tt",
	    postoffice, name);
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1)
		mailbox_from_row(st, mb);
	db_stmt_free(&st);
	return r;
}

int
dir_domain_get(struct db *db, const char *name, struct dir_domain *d,
	       const char **error_r)
{
	char alabel[IDN_DOMAIN_MAX + 1];
	const char *err;

	/* domains are kept as A-labels: a UTF-8 name is looked up as one */
	if (idn_has_utf8(name)) {
		if (idn_to_ascii(name, alabel, sizeof(alabel), &err) < 0)
			return 0;
		name = alabel;
	}
	struct db_stmt *st = db_query_cached(db, error_r,
	    "SELECT d.id, d.postoffice_id, d.name, p.name, d.disabled, p.disabled "
	    "FROM domain d JOIN postoffice p ON p.id = d.postoffice_id "
	    "WHERE d.name = ?", "t", name);
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1) {
		memset(d, 0, sizeof(*d));
		d->id = db_col_int(st, 0);
		d->postoffice_id = db_col_int(st, 1);
		copy_col(d->name, sizeof(d->name), st, 2);
		copy_col(d->postoffice, sizeof(d->postoffice), st, 3);
		d->disabled = db_col_int(st, 4) != 0;
		d->postoffice_disabled = db_col_int(st, 5) != 0;
	}
	db_stmt_free(&st);
	return r;
}

static int
postoffice_query(struct db *db, struct db_stmt *st, struct dir_postoffice *po,
		 const char **error_r)
{
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1) {
		memset(po, 0, sizeof(*po));
		po->id = db_col_int(st, 0);
		copy_col(po->name, sizeof(po->name), st, 1);
		po->disabled = db_col_int(st, 2) != 0;
		po->allow_address_login = db_col_int(st, 3) != 0;
	}
	db_stmt_free(&st);
	return r;
}

int
dir_postoffice_get(struct db *db, const char *name, struct dir_postoffice *po,
		   const char **error_r)
{
	return postoffice_query(db, db_query(db, error_r,
	    "SELECT id, name, disabled, allow_address_login FROM postoffice "
	    "WHERE name = ?", "t", name), po, error_r);
}

int
dir_postoffice_get_id(struct db *db, int64_t id, struct dir_postoffice *po,
		      const char **error_r)
{
	return postoffice_query(db, db_query(db, error_r,
	    "SELECT id, name, disabled, allow_address_login FROM postoffice "
	    "WHERE id = ?", "i", id), po, error_r);
}

static const struct {
	const char *kind, *table;
	const struct field_def *fields;
} object_tables[] = {
	{ "postoffice", "postoffice", postoffice_fields },
	{ "domain", "domain", domain_fields },
	{ "mailbox", "mailbox", mailbox_fields },
	{ "group", "grp", group_fields },
	{ "list", "list", list_fields },
};

int
dir_object_field(struct db *db, const char *kind, int64_t id,
		 const char *field, char **value_r, const char **error_r)
{
	*value_r = NULL;
	for (size_t i = 0; i < sizeof(object_tables) / sizeof(object_tables[0]); i++) {
		if (strcmp(object_tables[i].kind, kind) != 0)
			continue;
		const struct field_def *f = field_find(object_tables[i].fields, field);
		if (f == NULL)
			return db_errorf(db, error_r, "%s has no setting '%s'", kind, field);
		char *sql = xasprintf("SELECT %s FROM %s WHERE id = ?",
		    field_column(f), object_tables[i].table);
		int r = db_query_text(db, value_r, error_r, sql, "i", id);
		free(sql);
		if (r < 0)
			return -1;
		if (*value_r == NULL)
			return db_errorf(db, error_r, "%s %lld not found", kind, (long long)id);
		return 0;
	}
	return db_errorf(db, error_r, "unknown object kind '%s'", kind);
}

/* route_target - route to a configured target: a mailbox name of the post
 * office, or an address (local, one level, or remote). */
static enum dir_resolve_result
route_target(struct db *db, int64_t postoffice_id, int64_t domain_id,
	     const char *target, struct dir_route *route, const char **error_r)
{
	if (strchr(target, '@') == NULL) {
		int64_t id;
		if (db_query_int(db, &id, 0, error_r,
		    "SELECT id FROM mailbox WHERE postoffice_id = ? AND name = ?",
		    "it", postoffice_id, target) < 0)
			return DIR_RESOLVE_ERROR;
		if (id == 0)
			return DIR_RESOLVE_UNKNOWN;
		route->kind = DIR_KIND_MAILBOX;
		route->postoffice_id = postoffice_id;
		route->domain_id = domain_id;
		route->target_id = id;
		return DIR_RESOLVE_LOCAL;
	}
	struct db_stmt *st = db_query_cached(db, error_r,
	    "SELECT kind, target_id, target, postoffice_id, domain_id FROM address "
	    "WHERE address = ?", "t", target);
	if (st == NULL)
		return DIR_RESOLVE_ERROR;
	int r = step_one(db, st, error_r);
	if (r < 0) {
		db_stmt_free(&st);
		return DIR_RESOLVE_ERROR;
	}
	if (r == 0) {
		/* not in the map: remote if its domain is not ours */
		db_stmt_free(&st);
		const char *at = strrchr(target, '@');
		struct dir_domain d;
		int dr = dir_domain_get(db, at + 1, &d, error_r);
		if (dr < 0)
			return DIR_RESOLVE_ERROR;
		if (dr == 1)
			return DIR_RESOLVE_UNKNOWN;
		route->kind = DIR_KIND_REDIRECT;
		route->postoffice_id = postoffice_id;
		route->domain_id = domain_id;
		snprintf(route->target, sizeof(route->target), "%s", target);
		return DIR_RESOLVE_LOCAL;
	}
	const char *kind = db_col_text(st, 0);
	route->kind = strcmp(kind, "mailbox") == 0 ? DIR_KIND_MAILBOX :
	    strcmp(kind, "group") == 0 ? DIR_KIND_GROUP :
	    strcmp(kind, "list") == 0 ? DIR_KIND_LIST : DIR_KIND_REDIRECT;
	route->target_id = db_col_int(st, 1);
	copy_col(route->target, sizeof(route->target), st, 2);
	route->postoffice_id = db_col_int(st, 3);
	route->domain_id = db_col_int(st, 4);
	db_stmt_free(&st);
	return DIR_RESOLVE_LOCAL;
}

static int
route_disabled(struct db *db, struct dir_route *route, const char **error_r)
{
	int64_t off = 0;
	const char *sql = NULL;

	switch (route->kind) {
	case DIR_KIND_MAILBOX:
		sql = "SELECT disabled FROM mailbox WHERE id = ?";
		break;
	case DIR_KIND_GROUP:
		sql = "SELECT disabled FROM grp WHERE id = ?";
		break;
	case DIR_KIND_LIST:
		sql = "SELECT disabled FROM list WHERE id = ?";
		break;
	case DIR_KIND_REDIRECT:
		return 0;
	}
	if (db_query_int(db, &off, 0, error_r, sql, "i", route->target_id) < 0)
		return -1;
	if (off)
		route->disabled = true;
	return 0;
}

enum dir_resolve_result
dir_resolve(struct db *db, const char *address, struct dir_route *route,
	    const char **error_r)
{
	char local[LOCALPART_MAX_LEN + 2], domain[DOMAIN_MAX_LEN + 2];
	char plain[ADDRESS_MAX_LEN + 2];
	struct dir_domain d;
	enum dir_resolve_result r;
	const char *err;

	memset(route, 0, sizeof(*route));
	/* a domain in UTF-8 (SMTPUTF8, pickup) is matched as its A-label */
	char conv[ADDRESS_MAX_LEN * 4 + 2];
	const char *at = strrchr(address, '@');
	if (at != NULL && idn_has_utf8(at + 1)) {
		char alabel[IDN_DOMAIN_MAX + 1];
		if (idn_to_ascii(at + 1, alabel, sizeof(alabel), &err) == 0 &&
		    strlen(address) < sizeof(conv)) {
			snprintf(conv, sizeof(conv), "%.*s@%s", (int)(at - address),
			    address, alabel);
			address = conv;
		}
	}
	if (strlen(address) > ADDRESS_MAX_LEN ||
	    address_split(address, local, sizeof(local), domain,
	    sizeof(domain), &err) < 0) {
		db_errorf(db, error_r, "invalid address: %s", err);
		return DIR_RESOLVE_UNKNOWN;
	}
	str_lower(local);
	int dr = dir_domain_get(db, domain, &d, error_r);
	if (dr < 0)
		return DIR_RESOLVE_ERROR;
	if (dr == 0)
		return DIR_RESOLVE_REMOTE;

	snprintf(route->address, sizeof(route->address), "%s@%s", local, domain);
	r = route_target(db, d.postoffice_id, d.id, route->address, route, error_r);
	if (r == DIR_RESOLVE_UNKNOWN) {
		/* subaddress: user+tag@domain */
		char *plus = strchr(local, '+');
		if (plus != NULL && plus != local) {
			snprintf(plain, sizeof(plain), "%.*s@%s",
			    (int)(plus - local), local, domain);
			memset(route, 0, sizeof(*route));
			r = route_target(db, d.postoffice_id, d.id, plain, route,
			    error_r);
			snprintf(route->address, sizeof(route->address), "%s", plain);
		}
	}
	if (r == DIR_RESOLVE_UNKNOWN) {
		/* list server addresses (src/listserv): <list>-request,
		 * -subscribe, -unsubscribe, -bounces, -confirm, -owner, each
		 * with an optional +tag (VERP, tokens), go to the list; the
		 * list server reads the suffix from the recipient address */
		static const char *const sfx[] = { "-request", "-subscribe",
			"-unsubscribe", "-bounces", "-confirm", "-owner" };
		char *plus = strchr(local, '+');
		size_t llen = plus != NULL ? (size_t)(plus - local) : strlen(local);
		for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]) &&
		    r == DIR_RESOLVE_UNKNOWN; i++) {
			size_t sl = strlen(sfx[i]);
			if (llen <= sl || strncmp(local + llen - sl, sfx[i], sl) != 0)
				continue;
			struct dir_route lr;
			memset(&lr, 0, sizeof(lr));
			snprintf(plain, sizeof(plain), "%.*s@%s", (int)(llen - sl),
			    local, domain);
			enum dir_resolve_result lres = route_target(db,
			    d.postoffice_id, d.id, plain, &lr, error_r);
			if (lres == DIR_RESOLVE_ERROR)
				return lres;
			if (lres == DIR_RESOLVE_LOCAL && lr.kind == DIR_KIND_LIST) {
				*route = lr;
				snprintf(route->address, sizeof(route->address), "%s",
				    plain);
				r = DIR_RESOLVE_LOCAL;
			}
		}
	}
	if (r == DIR_RESOLVE_UNKNOWN &&
	    (strcmp(local, "postmaster") == 0 || strcmp(local, "abuse") == 0)) {
		/* manual 5.4.2: every domain answers for postmaster (mandatory)
		 * and abuse, by default to the post office's postmaster. */
		char *target = NULL;
		if (strcmp(local, "abuse") == 0 &&
		    dir_object_field(db, "domain", d.id, "abuse_address", &target,
		    error_r) < 0)
			return DIR_RESOLVE_ERROR;
		if (target == NULL || *target == '\0') {
			free(target);
			if (dir_object_field(db, "domain", d.id, "postmaster_address",
			    &target, error_r) < 0)
				return DIR_RESOLVE_ERROR;
		}
		if (*target == '\0') {
			free(target);
			target = xstrdup("postmaster");
		}
		memset(route, 0, sizeof(*route));
		r = route_target(db, d.postoffice_id, d.id, target, route, error_r);
		if (r == DIR_RESOLVE_UNKNOWN && strcmp(target, "postmaster") != 0) {
			/* the configured target is gone (a deleted mailbox or
			 * address): postmaster@ is mandatory, so fall back to
			 * the post office's postmaster mailbox */
			memset(route, 0, sizeof(*route));
			r = route_target(db, d.postoffice_id, d.id, "postmaster",
			    route, error_r);
		}
		free(target);
		snprintf(route->address, sizeof(route->address), "%s@%s", local, domain);
	}
	if (r == DIR_RESOLVE_UNKNOWN) {
		char *target = NULL;
		if (dir_object_field(db, "domain", d.id, "catchall_address", &target,
		    error_r) < 0)
			return DIR_RESOLVE_ERROR;
		if (*target != '\0') {
			memset(route, 0, sizeof(*route));
			r = route_target(db, d.postoffice_id, d.id, target, route,
			    error_r);
			route->catchall = true;
			snprintf(route->address, sizeof(route->address), "%s@%s",
			    local, domain);
		}
		free(target);
	}
	if (r != DIR_RESOLVE_LOCAL)
		return r;
	if (d.disabled || d.postoffice_disabled)
		route->disabled = true;
	if (route_disabled(db, route, error_r) < 0)
		return DIR_RESOLVE_ERROR;
	return DIR_RESOLVE_LOCAL;
}

int
dir_login_lookup(struct db *db, const char *login, struct dir_mailbox *mb,
		 const char **error_r)
{
	const char *at = strrchr(login, '@');
	char name[NAME_MAX_LEN + 1];
	struct dir_route route;
	const char *err;
	int r;

	if (at == NULL || strlen(login) > ADDRESS_MAX_LEN)
		return 0;
	if ((size_t)(at - login) <= NAME_MAX_LEN) {
		/* mailbox@postoffice first (manual 5.5.3) */
		memcpy(name, login, (size_t)(at - login));
		name[at - login] = '\0';
		r = dir_mailbox_find(db, at + 1, name, mb, error_r);
		if (r != 0)
			return r;
	}
	/* then an address of the mailbox, if its post office allows it */
	char *norm = address_normalize(login, &err);
	if (norm == NULL)
		return 0;
	free(norm);
	enum dir_resolve_result rr = dir_resolve(db, login, &route, error_r);
	if (rr == DIR_RESOLVE_ERROR)
		return -1;
	if (rr != DIR_RESOLVE_LOCAL || route.kind != DIR_KIND_MAILBOX ||
	    route.catchall)
		return 0;
	struct dir_postoffice po;
	int pr = dir_postoffice_get_id(db, route.postoffice_id, &po, error_r);
	if (pr <= 0)   /* an error, or the post office is gone: po unset */
		return pr;
	if (!po.allow_address_login)
		return 0;
	return dir_mailbox_get(db, route.target_id, mb, error_r);
}

/* dir_credential_of - the fingerprint of a stored hash (FNV-1a 64) */
uint64_t
dir_credential_of(const char *hash)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *c = hash != NULL ? hash : ""; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	return h;
}

int
dir_login_current(struct db *db, int64_t mailbox_id, uint64_t credential,
		  const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r,
	    "SELECT m.password_hash, m.disabled, m.prevent_auth, p.disabled "
	    "FROM mailbox m JOIN postoffice p ON p.id = m.postoffice_id "
	    "WHERE m.id = ?", "i", mailbox_id);
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1) {
		bool on = db_col_int(st, 1) == 0 &&
		    db_col_int(st, 2) == 0 &&
		    db_col_int(st, 3) == 0;
		const char *hash = db_col_text(st, 0);
		/* a web session's login: with the password of its login;
		 * else the main password's, or an app password's
		 * (loginsec.h) */
		r = !on ? 0 : DIR_CREDENTIAL_IS_WEB(credential) ?
		    ((credential >> 32) & 0xffff) ==
		    (dir_credential_of(hash) & 0xffff) ? 2 : 0 :
		    loginsec_credential_current(db, mailbox_id, hash,
		    credential, error_r);
	}
	db_stmt_free(&st);
	if (r == 2)
		/* ... while its session lasts */
		r = dir_web_session_current(db,
		    (int64_t)(credential & UINT32_MAX), mailbox_id,
		    time(NULL), NULL, error_r);
	return r;
}

int
dir_credential_web(struct db *db, int64_t mailbox_id, int64_t sid,
		   uint64_t *credential_r, const char **error_r)
{
	char *hash = NULL;
	int r;

	if (sid <= 0 || sid > (int64_t)UINT32_MAX)
		return 0;
	r = db_query_text(db, &hash, error_r, "SELECT password_hash FROM "
	    "mailbox WHERE id = ?", "i", mailbox_id);
	if (r < 0)
		return -1;
	if (hash == NULL)
		return 0;
	*credential_r = DIR_CREDENTIAL_WEB_TAG |
	    (dir_credential_of(hash) & 0xffff) << 32 | (uint64_t)sid;
	free(hash);
	return 1;
}

int64_t
dir_web_session_expires(struct db *db, int64_t created, int64_t last_seen)
{
	int64_t idle = settings_current(db)->http_session_idle;
	int64_t max = settings_current(db)->http_session_max;

	return last_seen + idle < created + max ? last_seen + idle :
	    created + max;
}

int
dir_web_session_current(struct db *db, int64_t sid, int64_t mailbox_id,
			int64_t now, int64_t *expires_r, const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r, "SELECT created, last_seen "
	    "FROM web_session WHERE id = ? AND mailbox_id = ?", "ii", sid,
	    mailbox_id);
	int r;

	if (st == NULL)
		return -1;
	if ((r = step_one(db, st, error_r)) == 1) {
		int64_t until = dir_web_session_expires(db,
		    db_col_int(st, 0), db_col_int(st, 1));
		r = now < until;
		if (expires_r != NULL)
			*expires_r = until;
	}
	db_stmt_free(&st);
	return r;
}

int
dir_web_session_touch(struct db *db, int64_t sid, int64_t mailbox_id,
		      int64_t now, const char **error_r)
{
	return db_exec(db, error_r, "UPDATE web_session SET last_seen = ? "
	    "WHERE id = ? AND mailbox_id = ? AND last_seen < ?", "iiii", now,
	    sid, mailbox_id, now) < 0 ? -1 : 0;
}

enum dir_auth_result
dir_authenticate(struct db *db, const char *login, const char *password,
		 struct dir_mailbox *mb, const char **error_r)
{
	return dir_authenticate_client(db, login, password, NULL, mb, error_r);
}

enum dir_auth_result
dir_authenticate_client(struct db *db, const char *login, const char *password,
			const struct dir_client *client, struct dir_mailbox *mb,
			const char **error_r)
{
	/* a real hash of a random password, to spend the same time on
	 * unknown users as on known ones */
	/* in the scheme new passwords get (password.scheme), so an unknown
	 * user costs what most known ones do; one per scheme */
	static const char *const schemes[] = { "yescrypt", "bcrypt", "sha512-crypt" };
	static char *dummies[3];
	char *hash = NULL, *scheme = xstrdup(settings_text(settings_current(db), SETTING_password_scheme));
	const char *err;
	size_t si = 0;
	int r;

	for (size_t i = 0; i < 3; i++)
		if (strcmp(scheme, schemes[i]) == 0)
			si = i;
	free(scheme);
	/* services check passwords on several threads: the first check of
	 * each scheme makes its dummy under this lock, so no service needs
	 * to warm it up before starting its threads */
	static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&dummy_lock);
	if (dummies[si] == NULL) {
		char *pw = random_password(16);
		dummies[si] = passwd_hash(pw, schemes[si], &err);
		free(pw);
		if (dummies[si] == NULL)
			dummies[si] = xstrdup("*");
	}
	const char *dummy = dummies[si];
	pthread_mutex_unlock(&dummy_lock);

	r = dir_login_lookup(db, login, mb, error_r);
	if (r < 0)
		return DIR_AUTH_ERROR;
	if (r == 0) {
		(void)passwd_verify(password, dummy);
		/* integrated authentication may make it (loginsec.h) */
		r = loginsec_pam_autocreate(db, login, password, mb, error_r);
		if (r < 0)
			return DIR_AUTH_ERROR;
	}
	if (r == 0) {
		loginsec_record_failure(db, login, 0, client, NULL,
		    "unknown login");
		return DIR_AUTH_FAILED;
	}
	if (db_query_text(db, &hash, error_r,
	    "SELECT password_hash FROM mailbox WHERE id = ?", "i", mb->id) < 0)
		return DIR_AUTH_ERROR;
	bool ok = passwd_verify(password, hash ? hash : dummy);
	mb->credential = dir_credential_of(hash);
	free(hash);
	/* login security (loginsec.h): app passwords, two-factor, country */
	char cc[3] = "";
	enum dir_auth_result sr = loginsec_decide(db, login, password, client,
	    mb, ok, cc, error_r);
	if (sr != DIR_AUTH_OK)
		return sr;
	/* only tell why a login is refused after the password was right */
	if (mb->prevent_auth)
		return DIR_AUTH_PREVENTED;
	if (mb->disabled || mb->postoffice_disabled)
		return DIR_AUTH_DISABLED;
	/* a web login is recorded once its second factor passed */
	if (client == NULL || client->protocol == NULL ||
	    strcmp(client->protocol, "web") != 0)
		loginsec_record_ok(db, mb->id, client, cc);
	return DIR_AUTH_OK;
}

void
dir_strings_free(struct dir_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int
strings_query(struct db *db, struct dir_strings *out, const char **error_r,
	      const char *sql, int64_t id)
{
	struct db_stmt *st = db_query(db, error_r, sql, "i", id);
	int r;

	out->v = NULL;
	out->n = 0;
	if (st == NULL)
		return -1;
	while ((r = db_step(st, NULL)) == DB_ROW) {
		out->v = xreallocarray(out->v, out->n + 1, sizeof(char *));
		out->v[out->n++] = xstrdup(db_col_text(st, 0));
	}
	db_stmt_free(&st);
	if (r != DB_DONE) {
		dir_strings_free(out);
		return db_fail(db, error_r, "list");
	}
	return 0;
}

int
dir_group_members(struct db *db, int64_t group_id, struct dir_strings *out,
		  const char **error_r)
{
	return strings_query(db, out, error_r,
	    "SELECT address FROM grp_member WHERE group_id = ? ORDER BY address",
	    group_id);
}

int
dir_mailbox_redirects(struct db *db, int64_t mailbox_id,
		      struct dir_strings *out, const char **error_r)
{
	return strings_query(db, out, error_r,
	    "SELECT address FROM redirect WHERE mailbox_id = ? ORDER BY address",
	    mailbox_id);
}

int
dir_mailbox_addresses(struct db *db, int64_t mailbox_id,
		      struct dir_strings *out, const char **error_r)
{
	return strings_query(db, out, error_r,
	    "SELECT address FROM address WHERE kind = 'mailbox' AND target_id = ? "
	    "ORDER BY address", mailbox_id);
}

int
dir_postoffice_mailboxes(struct db *db, int64_t postoffice_id,
			 struct dir_strings *out, const char **error_r)
{
	return strings_query(db, out, error_r,
	    "SELECT name FROM mailbox WHERE postoffice_id = ? AND disabled = 0 "
	    "ORDER BY name", postoffice_id);
}

int
dir_sender_blacklisted(struct db *db, int64_t domain_id,
		       const char *sender_domain, const char **error_r)
{
	int64_t n;

	if (db_query_int(db, &n, 0, error_r,
	    "SELECT count(*) FROM domain_blacklist WHERE domain_id = ? AND "
	    "sender_domain = ?", "it", domain_id, sender_domain) < 0)
		return -1;
	return n > 0;
}

char *
dir_mailbox_path_names(struct db *db, const char *postoffice,
		       const char *mailbox)
{
	char *store = settings_store_path(db);
	char *po = xstrdup(postoffice), *mb = xstrdup(mailbox);
	char *path;

	str_lower(po);
	str_lower(mb);
	path = xasprintf("%s/%s/%s", store, po, mb);
	free(store);
	free(po);
	free(mb);
	return path;
}

char *
dir_mailbox_path(struct db *db, const struct dir_mailbox *mb)
{
	return dir_mailbox_path_names(db, mb->postoffice, mb->name);
}

/* dir_send_as - the sender policy of authenticated mail (directory.h) */
int
dir_send_as(struct db *db, int64_t mailbox_id, const char *address,
	    const char **error_r)
{
	char *mode = NULL;
	char base[ADDRESS_MAX_LEN + 1];
	const char *at = strrchr(address, '@');
	int64_t po_id, n;

	if (db_query_text(db, &mode, error_r,
	    "SELECT CASE WHEN m.send_as = 'inherit' THEN p.send_as "
	    "ELSE m.send_as END FROM mailbox m JOIN postoffice p "
	    "ON p.id = m.postoffice_id WHERE m.id = ?", "i", mailbox_id) < 0)
		return -1;
	if (mode == NULL)
		return 0;       /* the mailbox is gone: nothing is its own */
	bool any = strcmp(mode, "any") == 0;
	bool postoffice = strcmp(mode, "postoffice") == 0;
	free(mode);
	if (any)
		return 1;
	if (at == NULL || at == address || at[1] == '\0' ||
	    strlen(address) > ADDRESS_MAX_LEN)
		return 0;
	if (postoffice) {
		if (db_query_int(db, &po_id, 0, error_r,
		    "SELECT postoffice_id FROM mailbox WHERE id = ?", "i",
		    mailbox_id) < 0 ||
		    db_query_int(db, &n, 0, error_r,
		    "SELECT count(*) FROM domain WHERE name = ? AND "
		    "postoffice_id = ?", "ti", at + 1, po_id) < 0)
			return -1;
		if (n > 0)
			return 1;
	}
	/* local+detail@domain is the address local@domain */
	const char *plus = memchr(address, '+', (size_t)(at - address));
	if (plus != NULL && plus != address)
		snprintf(base, sizeof(base), "%.*s%s", (int)(plus - address),
		    address, at);
	else
		snprintf(base, sizeof(base), "%s", address);
	/* its own addresses, and those of groups and lists with
	 * members_send_as of which one of its addresses is a member */
	if (db_query_int(db, &n, 0, error_r,
	    "SELECT count(*) FROM address a WHERE a.address IN (?1, ?2) AND ("
	    " (a.kind = 'mailbox' AND a.target_id = ?3)"
	    " OR (a.kind = 'group' AND EXISTS (SELECT 1 FROM grp g"
	    "  JOIN grp_member gm ON gm.group_id = g.id"
	    "  JOIN address ma ON ma.address = gm.address AND"
	    "  ma.kind = 'mailbox' AND ma.target_id = ?3"
	    "  WHERE g.id = a.target_id AND g.members_send_as = 1))"
	    " OR (a.kind = 'list' AND EXISTS (SELECT 1 FROM list l"
	    "  JOIN list_member lm ON lm.list_id = l.id AND"
	    "  lm.status = 'active'"
	    "  JOIN address ma ON ma.address = lm.address AND"
	    "  ma.kind = 'mailbox' AND ma.target_id = ?3"
	    "  WHERE l.id = a.target_id AND l.members_send_as = 1)))",
	    "tti", address, base, mailbox_id) < 0)
		return -1;
	return n > 0;
}
