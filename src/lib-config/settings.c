/* settings - typed global settings over the setting table */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fsutil.h"
#include "netaddr.h"
#include "settings.h"
#include "xalloc.h"

int
settings_get(struct db *db, const char *key, char **value_r,
	     const char **error_r)
{
	const struct field_def *f = field_find(settings_fields, key);

	*value_r = NULL;
	if (f == NULL)
		return db_errorf(db, error_r, "unknown setting '%s' (see 'postern config list')", key);
	if (db_query_text(db, value_r, error_r,
	    "SELECT value FROM setting WHERE name = ?", "t", key) < 0)
		return -1;
	if (*value_r == NULL)   /* a field without a default reads "" */
		*value_r = xstrdup(f->def != NULL ? f->def : "");
	return 0;
}

int64_t
settings_get_int(struct db *db, const char *key, int64_t def)
{
	const char *err;
	char *v;
	int64_t r = def;

	if (settings_get(db, key, &v, &err) == 0) {
		char *end;
		long long x = strtoll(v, &end, 10);
		if (*v != '\0' && *end == '\0')
			r = x;
	}
	free(v);
	return r;
}

char *
settings_get_str(struct db *db, const char *key)
{
	const char *err;
	char *v;

	if (settings_get(db, key, &v, &err) < 0) {
		free(v);
		return xstrdup("");
	}
	return v;
}

int
settings_set(struct db *db, const char *key, const char *input,
	     const char **error_r)
{
	const struct field_def *f = field_find(settings_fields, key);
	const char *err;
	char *value;
	int r;

	if (f == NULL)
		return db_errorf(db, error_r, "unknown setting '%s' (see 'postern config list')", key);
	value = field_parse(f, input, &err);
	if (value == NULL)
		return db_errorf(db, error_r, "%s: %s", key, err);
	r = db_exec(db, error_r,
	    "INSERT INTO setting (name, value) VALUES (?, ?) "
	    "ON CONFLICT(name) DO UPDATE SET value = excluded.value", "tt",
	    key, value);
	free(value);
	return r;
}

int
settings_unset(struct db *db, const char *key, const char **error_r)
{
	if (field_find(settings_fields, key) == NULL)
		return db_errorf(db, error_r, "unknown setting '%s'", key);
	return db_exec(db, error_r, "DELETE FROM setting WHERE name = ?", "t", key);
}

bool
settings_is_set(struct db *db, const char *key)
{
	const char *err;
	int64_t n;

	if (db_query_int(db, &n, 0, &err,
	    "SELECT count(*) FROM setting WHERE name = ?", "t", key) < 0)
		return false;
	return n > 0;
}

static char *
path_setting(struct db *db, const char *key, const char *sub)
{
	char *v = settings_get_str(db, key);

	if (*v != '\0')
		return v;
	free(v);
	return path_join(db_root(db), sub);
}

char *
settings_store_path(struct db *db)
{
	return path_setting(db, "path.store", "store");
}

char *
settings_queue_path(struct db *db)
{
	return path_setting(db, "path.queue", "queue");
}

char *
settings_hostname(struct db *db)
{
	char *v = settings_get_str(db, "server.hostname");
	char host[256];

	if (*v != '\0')
		return v;
	free(v);
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

/* settings_secret - a secret setting, made on first use (settings.h) */
char *
settings_secret(struct db *db, const char *key, const char **error_r)
{
	unsigned char raw[32];
	char hex[sizeof(raw) * 2 + 1];
	char *v = NULL;

	if (settings_get(db, key, &v, error_r) < 0)
		return NULL;
	if (*v != '\0')
		return v;
	free(v);
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		db_errorf(db, error_r, "%s: no random bytes", key);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	/* two processes may get here at once: the first stored key wins and
	 * both read it back */
	int r = db_exec(db, error_r, "INSERT INTO setting (name, value) "
	    "VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
	    "excluded.value WHERE value = ''", "tt", key, hex);
	explicit_bzero(hex, sizeof(hex));
	if (r < 0 || settings_get(db, key, &v, error_r) < 0)
		return NULL;
	if (*v == '\0') {
		free(v);
		db_errorf(db, error_r, "%s: not stored", key);
		return NULL;
	}
	return v;
}

/* listen_differs - whether name.listen names other addresses than the
 * bound "name=addr" entries */
static bool
listen_differs(struct db *db, const char *name, const char *const *bound,
	       size_t nbound)
{
	char *key = xasprintf("%s.listen", name), *spec = NULL;
	const char *err;
	struct netaddr *list = NULL;
	size_t cnt = 0, nlen = strlen(name), have = 0;
	bool differs = true;

	for (size_t j = 0; j < nbound; j++)
		if (strncmp(bound[j], name, nlen) == 0 && bound[j][nlen] == '=')
			have++;
	if (settings_get(db, key, &spec, &err) == 0 &&
	    netaddr_parse_list(spec, &list, &cnt, &err) == 0 && cnt == have) {
		differs = false;
		for (size_t i = 0; i < cnt && !differs; i++) {
			char a[96];
			bool found = false;
			netaddr_format(&list[i], a, sizeof(a));
			for (size_t j = 0; j < nbound && !found; j++)
				found = strncmp(bound[j], name, nlen) == 0 &&
				    bound[j][nlen] == '=' &&
				    strcmp(bound[j] + nlen + 1, a) == 0;
			differs = !found;
		}
	}
	free(list);
	free(spec);
	free(key);
	return differs;
}

char *
settings_listen_changes(struct db *db, const char *const *names, size_t nnames,
			const char *const *bound, size_t nbound)
{
	char *out = NULL;

	for (size_t i = 0; i < nnames; i++) {
		if (!listen_differs(db, names[i], bound, nbound))
			continue;
		char *more = xasprintf("%s%s%s.listen", out ? out : "",
		    out ? ", " : "", names[i]);
		free(out);
		out = more;
	}
	return out;
}
