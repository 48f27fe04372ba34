/* autodiscover - the autodiscover entries of domains (autodiscover.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "autodiscover.h"
#include "directory.h"
#include "netaddr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* the listeners a client may use, in the order of preference */
static const struct {
	const char *listener, *protocol, *security;
	int port;
} offered[] = {
	{ "imaps", "imap", "tls", 993 },
	{ "imap", "imap", "starttls", 143 },
	{ "pop3s", "pop3", "tls", 995 },
	{ "pop3", "pop3", "starttls", 110 },
	{ "smtps", "smtp", "tls", 465 },
	{ "submission", "smtp", "starttls", 587 },
};

static int
default_port(const char *protocol, const char *security)
{
	bool tls = strcmp(security, "tls") == 0;

	if (strcmp(protocol, "imap") == 0)
		return tls ? 993 : 143;
	if (strcmp(protocol, "pop3") == 0)
		return tls ? 995 : 110;
	return tls ? 465 : 587;
}

static void
push(struct adm_autodiscover **v, size_t *n, const char *protocol,
     const char *host, int port, const char *security)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[*n].protocol = xstrdup(protocol);
	(*v)[*n].host = xstrdup(host);
	(*v)[*n].port = port;
	(*v)[*n].security = xstrdup(security);
	(*n)++;
}

void
adm_autodiscover_free(struct adm_autodiscover *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].protocol);
		free(v[i].host);
		free(v[i].security);
	}
	free(v);
}

int
adm_autodiscover_list(struct db *db, const char *domain,
		      struct adm_autodiscover **v_r, size_t *n_r,
		      const char **error_r)
{
	int64_t id;
	int r;

	*v_r = NULL;
	*n_r = 0;
	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	struct db_stmt *st = db_query(db, error_r,
	    "SELECT protocol, host, port, security FROM autodiscover "
	    "WHERE domain_id = ? ORDER BY CASE protocol WHEN 'imap' THEN 0 "
	    "WHEN 'pop3' THEN 1 ELSE 2 END, CASE security WHEN 'tls' THEN 0 "
	    "WHEN 'starttls' THEN 1 ELSE 2 END, host, port", "i", id);
	if (st == NULL)
		return ADM_FAIL;
	while ((r = db_step(st, NULL)) == DB_ROW)
		push(v_r, n_r, db_col_text(st, 0),
		    db_col_text(st, 1),
		    db_col_int(st, 2),
		    db_col_text(st, 3));
	db_stmt_free(&st);
	if (r != DB_DONE) {
		db_errorf(db, error_r, "reading the autodiscover entries of %s",
		    domain);
		adm_autodiscover_free(*v_r, *n_r);
		*v_r = NULL;
		*n_r = 0;
		return ADM_FAIL;
	}
	return ADM_OK;
}

int
adm_autodiscover_add(struct db *db, const char *domain, const char *protocol,
		     const char *host, int port, const char *security,
		     const char **error_r)
{
	const char *err;
	int64_t id;
	int r;

	if (security == NULL)
		security = "tls";
	if (strcmp(protocol, "imap") != 0 && strcmp(protocol, "pop3") != 0 &&
	    strcmp(protocol, "smtp") != 0) {
		db_errorf(db, error_r, "protocol '%s': imap, pop3 or smtp", protocol);
		return ADM_INVALID;
	}
	if (strcmp(security, "tls") != 0 && strcmp(security, "starttls") != 0 &&
	    strcmp(security, "none") != 0) {
		db_errorf(db, error_r, "security '%s': tls, starttls or none",
		    security);
		return ADM_INVALID;
	}
	if (domain_check(host, &err) < 0) {
		db_errorf(db, error_r, "host '%s': %s", host, err);
		return ADM_INVALID;
	}
	if (port == 0)
		port = default_port(protocol, security);
	if (port < 1 || port > 65535) {
		db_errorf(db, error_r, "port %d: 1 to 65535", port);
		return ADM_INVALID;
	}
	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	char *lower = xstrdup(host);
	str_lower(lower);
	if (db_exec(db, error_r, "INSERT INTO autodiscover (domain_id, protocol, "
	    "host, port, security) VALUES (?, ?, ?, ?, ?)", "ittit", id, protocol,
	    lower, (int64_t)port, security) < 0) {
		r = db_last_error(db) == DB_ECONSTRAINT ? ADM_EXISTS :
		    db_last_error(db) == DB_EBUSY ? ADM_BUSY : ADM_FAIL;
		if (r == ADM_EXISTS)
			db_errorf(db, error_r, "%s %s:%d is listed already for %s",
			    protocol, lower, port, domain);
	}
	free(lower);
	return r;
}

int
adm_autodiscover_del(struct db *db, const char *domain, const char *protocol,
		     const char *host, int port, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	if (db_exec(db, error_r, "DELETE FROM autodiscover WHERE domain_id = ? "
	    "AND protocol = ? AND (? IS NULL OR host = lower(?)) AND "
	    "(? = 0 OR port = ?)", "itttii", id, protocol, host, host,
	    (int64_t)port, (int64_t)port) < 0)
		return db_last_error(db) == DB_EBUSY ? ADM_BUSY : ADM_FAIL;
	if (db_changes(db) == 0) {
		db_errorf(db, error_r, "no %s entry of %s matches", protocol, domain);
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

void
adm_autodiscover_derive(struct db *db, struct adm_autodiscover **v_r,
			size_t *n_r)
{
	char *host = settings_hostname(db);

	*v_r = NULL;
	*n_r = 0;
	for (size_t i = 0; i < sizeof(offered) / sizeof(offered[0]); i++) {
		char *key = xasprintf("%s.listen", offered[i].listener);
		char *spec = xstrdup(settings_text(settings_current(db), settings_id(key)));
		struct netaddr *list = NULL;
		size_t n = 0;
		const char *err;
		if (*spec != '\0' && netaddr_parse_list(spec, &list, &n, &err) == 0 &&
		    n > 0)
			push(v_r, n_r, offered[i].protocol, host, list[0].port,
			    offered[i].security);
		free(list);
		free(spec);
		free(key);
	}
	free(host);
}

int
adm_autodiscover_detect(struct db *db, const char *domain, size_t *n_r,
			const char **error_r)
{
	struct adm_autodiscover *v;
	size_t n;
	int64_t id;
	bool outer;
	int r;

	*n_r = 0;
	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	adm_autodiscover_derive(db, &v, &n);
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0) {
		adm_autodiscover_free(v, n);
		return r;
	}
	r = db_exec(db, error_r, "DELETE FROM autodiscover WHERE domain_id = ?",
	    "i", id) < 0 ? ADM_FAIL : ADM_OK;
	for (size_t i = 0; i < n && r == ADM_OK; i++)
		r = adm_autodiscover_add(db, domain, v[i].protocol, v[i].host,
		    v[i].port, v[i].security, error_r);
	if (adm_tx_end(db, outer, r == ADM_OK, error_r) < 0 && r == ADM_OK)
		r = ADM_FAIL;
	if (r == ADM_OK)
		*n_r = n;
	adm_autodiscover_free(v, n);
	return r;
}

char *
adm_autodiscover_login(struct db *db, const char *email, const char *postoffice,
		       bool address_login)
{
	struct dir_route route;
	struct dir_mailbox mb;
	const char *err, *at = strrchr(email, '@');

	if (address_login)
		return xstrdup(email);
	if (dir_resolve(db, email, &route, &err) == DIR_RESOLVE_LOCAL &&
	    route.kind == DIR_KIND_MAILBOX && !route.catchall &&
	    dir_mailbox_get(db, route.target_id, &mb, &err) == 1)
		return xasprintf("%s@%s", mb.name, mb.postoffice);
	return xasprintf("%.*s@%s", at ? (int)(at - email) : (int)strlen(email),
	    email, postoffice);
}
