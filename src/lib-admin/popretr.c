/* popretr - POP retrieval accounts (popretr.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "fsutil.h"
#include "popretr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* one_line - a value fit for the table: non-empty when required, no
 * control characters, bounded */
static bool
one_line(const char *s, size_t max, bool required)
{
	if (s == NULL)
		return !required;
	size_t n = strlen(s);
	if ((required && n == 0) || n > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
adm_pop_add(struct db *db, const struct adm_pop_spec *spec, int64_t *id_r,
	    const char **error_r)
{
	const char *tls = spec->tls != NULL ? spec->tls : "starttls";
	int64_t mb;
	int r, port = spec->port;

	if (strcmp(tls, "none") != 0 && strcmp(tls, "starttls") != 0 &&
	    strcmp(tls, "tls") != 0) {
		db_errorf(db, error_r, "tls '%s': none, starttls or tls", tls);
		return ADM_INVALID;
	}
	if (port == 0)
		port = strcmp(tls, "tls") == 0 ? 995 : 110;
	if (port < 1 || port > 65535) {
		db_errorf(db, error_r, "port %d: 1 to 65535", port);
		return ADM_INVALID;
	}
	if (!one_line(spec->host, 253, true) || strchr(spec->host, ' ') != NULL) {
		db_errorf(db, error_r, "host: a name or address is needed");
		return ADM_INVALID;
	}
	if (!one_line(spec->username, 255, true) ||
	    !one_line(spec->password, 255, false)) {
		db_errorf(db, error_r, "user and password: one line of at most 255 "
		    "bytes each%s", "");
		return ADM_INVALID;
	}
	if ((r = adm_object_id(db, ADM_MAILBOX, spec->mailbox, &mb, error_r)) < 0)
		return r;
	bool outer;
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	r = db_exec(db, error_r, "INSERT INTO pop_account (mailbox_id, host, port, "
	    "username, password, apop, tls, leave_on_server, created) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?)", "itittbtbi", mb, spec->host,
	    (int64_t)port, spec->username, spec->password ? spec->password : "",
	    spec->apop, tls, spec->leave_on_server, (int64_t)time(NULL)) < 0 ?
	    ADM_FAIL : ADM_OK;
	*id_r = db_last_id(db);
	const char *e2;
	if (adm_tx_end(db, outer, r == ADM_OK, r == ADM_OK ? error_r : &e2) < 0 &&
	    r == ADM_OK)
		r = ADM_FAIL;
	return r;
}

static int
change(struct db *db, int64_t id, const char **error_r, const char *sql,
       const char *types, int64_t a, int64_t b, const char *t)
{
	bool outer;
	int r;

	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	if (t != NULL)
		r = db_exec(db, error_r, sql, types, a, t, id) < 0 ? ADM_FAIL : ADM_OK;
	else if (strlen(types) == 2)
		r = db_exec(db, error_r, sql, types, a, id) < 0 ? ADM_FAIL : ADM_OK;
	else
		r = db_exec(db, error_r, sql, types, id) < 0 ? ADM_FAIL : ADM_OK;
	(void)b;
	if (r == ADM_OK && db_changes(db) == 0) {
		db_errorf(db, error_r, "no POP retrieval account %lld", (long long)id);
		r = ADM_NOTFOUND;
	}
	const char *e2;
	if (adm_tx_end(db, outer, r == ADM_OK, r == ADM_OK ? error_r : &e2) < 0 &&
	    r == ADM_OK)
		r = ADM_FAIL;
	return r;
}

int
adm_pop_del(struct db *db, int64_t id, const char **error_r)
{
	return change(db, id, error_r, "DELETE FROM pop_account WHERE id = ?", "i",
	    0, 0, NULL);
}

int
adm_pop_set_enabled(struct db *db, int64_t id, bool enabled,
		    const char **error_r)
{
	return change(db, id, error_r, "UPDATE pop_account SET enabled = ? WHERE "
	    "id = ?", "ii", enabled, 0, NULL);
}

int
adm_pop_status(struct db *db, int64_t id, int64_t when, const char *status,
	       const char **error_r)
{
	return change(db, id, error_r, "UPDATE pop_account SET last_run = ?, "
	    "last_status = ? WHERE id = ?", "iti", when, 0, status);
}

int
adm_pop_run(struct db *db, int64_t id, const char **error_r)
{
	int64_t n = 0;
	struct stat st;
	int r = ADM_OK;

	if (id != 0 && (db_query_int(db, &n, 0, error_r, "SELECT count(*) "
	    "FROM pop_account WHERE id = ?", "i", id) < 0 || n == 0)) {
		if (n == 0)
			db_errorf(db, error_r, "no POP retrieval account %lld",
			    (long long)id);
		return n == 0 ? ADM_NOTFOUND : ADM_FAIL;
	}
	char *q = settings_queue_path(db);
	char *dir = path_join(q, "pr");
	char *path = id != 0 ? xasprintf("%s/run.%lld", dir, (long long)id) :
	    xasprintf("%s/run.all", dir);
	if (mkdir_p(dir, 0770) < 0) {
		db_errorf(db, error_r, "cannot create %s: %s", dir,
		    strerror(errno));
		r = ADM_FAIL;
		goto out;
	}
	/* a directory made here by root belongs to the data root's owner */
	if (geteuid() == 0 && stat(q, &st) == 0 && st.st_uid != 0 &&
	    chown(dir, st.st_uid, st.st_gid) < 0) {
		db_errorf(db, error_r, "chown %s: %s", dir, strerror(errno));
		r = ADM_FAIL;
		goto out;
	}
	if (file_write_atomic(path, "", 0, 0660) < 0) {
		db_errorf(db, error_r, "cannot write %s: %s", path,
		    strerror(errno));
		r = ADM_FAIL;
	}
out:
	free(q);
	free(dir);
	free(path);
	return r;
}
