/* settings - typed global settings over the setting table */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "db-int.h"
#include "fsutil.h"
#include "netaddr.h"
#include "settings.h"
#include "xalloc.h"

/* One snapshot cache per connection of the config store. SQLite: found
 * by its handle; the cache keeps a prepared "PRAGMA data_version" and a
 * trace callback on the connection's close finalizes it and frees the
 * cache. PostgreSQL: found by the struct db, whose db_close calls
 * settings_db_closed; the version is db_data_version's (the NOTIFYs
 * heard, the connection's own included). */
struct settings_cache {
	struct settings_cache *next;
	const void *key;           /* the sqlite3 handle, or the struct db */
	sqlite3_stmt *version;     /* PRAGMA data_version */
	int64_t data_version;      /* when cur was loaded; -1: reload */
	int64_t changes;           /* sqlite3_total_changes64 then */
	struct settings *cur;
	struct settings *old[SETTINGS_KEEP];   /* replaced, oldest first */
	size_t nold;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static struct settings_cache *caches;

static void cache_lock_take(void) { pthread_mutex_lock(&cache_lock); }
static void cache_lock_give(void) { pthread_mutex_unlock(&cache_lock); }

static void
cache_init(void)
{
	/* a fork while another thread holds the lock must not leave the
	 * child's copy locked */
	pthread_atfork(cache_lock_take, cache_lock_give, cache_lock_give);
}

const struct field_def *
settings_field(enum setting_id id)
{
	if (id <= SETTING_NONE || id >= SETTING_END)
		return NULL;
	return &settings_fields[id - 1];
}

enum setting_id
settings_id(const char *name)
{
	const struct field_def *f = field_find(settings_fields, name);

	return f == NULL ? SETTING_NONE :
	    (enum setting_id)(f - settings_fields + 1);
}

/* snapshot_free - a snapshot and the stored values it owns (the defaults
 * point into the table) */
static void
snapshot_free(struct settings *st)
{
	if (st == NULL)
		return;
	for (int i = SETTING_NONE + 1; i < SETTING_END; i++)
		if (st->text[i] != settings_fields[i - 1].def)
			free((char *)st->text[i]);
	free(st);
}

/* choice_index - the index of stored among a row's "a|b|c", or -1 */
static int64_t
choice_index(const struct field_def *f, const char *stored)
{
	size_t len = strlen(stored);
	int64_t i = 0;

	for (const char *c = f->choices; c != NULL; i++) {
		const char *bar = strchr(c, '|');
		size_t clen = bar ? (size_t)(bar - c) : strlen(c);
		if (clen == len && memcmp(c, stored, len) == 0)
			return i;
		c = bar ? bar + 1 : NULL;
	}
	return -1;
}

/* typed_value - the number a stored form stands for; the default's when
 * it is not one (a row written by hand) */
static int64_t
typed_value(const struct field_def *f, const char *stored)
{
	char *end;
	long long x;

	if (f->type == FT_ENUM) {
		int64_t i = choice_index(f, stored);
		return i >= 0 ? i : choice_index(f, f->def);
	}
	if (!field_is_numeric(f))
		return 0;
	x = strtoll(stored, &end, 10);
	if (*stored == '\0' || *end != '\0')
		x = strtoll(f->def, NULL, 10);
	return x;
}

/* snapshot_fill - the numbers and typed members from text[] */
static void
snapshot_fill(struct settings *st)
{
	st->text[SETTING_NONE] = "";
	for (int i = SETTING_NONE + 1; i < SETTING_END; i++)
		st->num[i] = typed_value(&settings_fields[i - 1], st->text[i]);
#define SETTING_STR(id, ...) st->id = st->text[SETTING_##id];
#define SETTING_INT(id, ...) st->id = st->num[SETTING_##id];
#define SETTING_BOOL(id, ...) st->id = st->num[SETTING_##id] != 0;
#define SETTING_ENUM(id, ...) \
	st->id = (enum settings_##id)st->num[SETTING_##id];
#include "settings-fields.def"
}

/* snapshot_defaults - every setting at its default */
static struct settings *
snapshot_defaults(void)
{
	struct settings *st = xcalloc(1, sizeof(*st));

	for (int i = SETTING_NONE + 1; i < SETTING_END; i++)
		st->text[i] = settings_fields[i - 1].def != NULL ?
		    settings_fields[i - 1].def : "";
	return st;
}

struct settings *
settings_from_pairs(const char *const *pairs, size_t n)
{
	struct settings *st = snapshot_defaults();

	for (size_t i = 0; i + 1 < n; i += 2) {
		enum setting_id id = settings_id(pairs[i]);
		if (id == SETTING_NONE || pairs[i + 1] == NULL)
			continue;
		if (st->text[id] != settings_fields[id - 1].def)
			free((char *)st->text[id]);
		st->text[id] = xstrdup(pairs[i + 1]);
	}
	snapshot_fill(st);
	return st;
}

void
settings_free(struct settings *st)
{
	if (st != NULL)
		snapshot_free(st);
}

/* snapshot_load - every global setting in one query; NULL on a database
 * error */
static struct settings *
snapshot_load(struct db *db)
{
	const char *err;
	struct settings *st = snapshot_defaults();
	struct db_stmt *q = db_query(db, &err, "SELECT name, value FROM setting",
	    "");
	int rc;

	if (q == NULL) {
		snapshot_free(st);
		return NULL;
	}
	while ((rc = db_step(q, NULL)) == DB_ROW) {
		const char *name = db_col_text(q, 0);
		const char *value = db_col_text(q, 1);
		enum setting_id id = name ? settings_id(name) : SETTING_NONE;
		/* rows of settings this build does not know are skipped */
		if (id == SETTING_NONE || value == NULL)
			continue;
		if (st->text[id] != settings_fields[id - 1].def)
			free((char *)st->text[id]);
		st->text[id] = xstrdup(value);
	}
	db_stmt_free(&q);
	if (rc != DB_DONE) {
		snapshot_free(st);
		return NULL;
	}
	snapshot_fill(st);
	return st;
}

static bool
snapshot_equal(const struct settings *a, const struct settings *b)
{
	for (int i = SETTING_NONE + 1; i < SETTING_END; i++)
		if (strcmp(a->text[i], b->text[i]) != 0)
			return false;
	return true;
}

static void
cache_free(struct settings_cache *c)
{
	if (c->version != NULL)
		sqlite3_finalize(c->version);
	snapshot_free(c->cur);
	for (size_t i = 0; i < c->nold; i++)
		snapshot_free(c->old[i]);
	free(c);
}

/* on_close - the connection closes: drop its cache (before SQLite
 * checks for unfinalized statements) */
static int
on_close(unsigned type, void *arg, void *p, void *x)
{
	(void)p;
	(void)x;
	if (type != SQLITE_TRACE_CLOSE)
		return 0;
	cache_lock_take();
	for (struct settings_cache **pp = &caches; *pp; pp = &(*pp)->next)
		if (*pp == arg) {
			*pp = (*pp)->next;
			break;
		}
	cache_lock_give();
	cache_free(arg);
	return 0;
}

void
settings_db_closed(struct db *db)
{
	struct settings_cache *c = NULL;

	pthread_once(&cache_once, cache_init);
	cache_lock_take();
	for (struct settings_cache **pp = &caches; *pp; pp = &(*pp)->next)
		if ((*pp)->key == db) {
			c = *pp;
			*pp = c->next;
			break;
		}
	cache_lock_give();
	if (c != NULL)
		cache_free(c);
}

/* cache_get - the connection's cache, made on first use */
static struct settings_cache *
cache_get(struct db *db)
{
	struct settings_cache *c;
	const void *key = db->h != NULL ? (const void *)db->h : (const void *)db;

	pthread_once(&cache_once, cache_init);
	cache_lock_take();
	for (c = caches; c != NULL && c->key != key; c = c->next)
		;
	cache_lock_give();
	if (c != NULL)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->key = key;
	c->data_version = -1;
	if (db->h != NULL) {
		if (sqlite3_prepare_v3(db->h, "PRAGMA data_version", -1,
		    SQLITE_PREPARE_PERSISTENT, &c->version, NULL) != SQLITE_OK) {
			free(c);
			return NULL;
		}
		sqlite3_trace_v2(db->h, SQLITE_TRACE_CLOSE, on_close, c);
	}
	cache_lock_take();
	c->next = caches;
	caches = c;
	cache_lock_give();
	return c;
}

/* data_version - the connection's PRAGMA data_version (PostgreSQL:
 * db_data_version), or -1 */
static int64_t
data_version(struct settings_cache *c, struct db *db)
{
	int64_t v = -1;

	const char *err;

	if (c->version == NULL)
		return db_data_version(db, &v, &err) < 0 ? -1 : v;
	if (sqlite3_step(c->version) == SQLITE_ROW)
		v = sqlite3_column_int64(c->version, 0);
	sqlite3_reset(c->version);
	return v;
}

/* cache_install - make st current; the one before is kept for readers
 * that still hold it (SETTINGS_KEEP) */
static void
cache_install(struct settings_cache *c, struct settings *st)
{
	if (c->cur != NULL) {
		if (c->nold == SETTINGS_KEEP) {
			snapshot_free(c->old[0]);
			memmove(c->old, c->old + 1,
			    (SETTINGS_KEEP - 1) * sizeof(c->old[0]));
			c->nold--;
		}
		c->old[c->nold++] = c->cur;
	}
	c->cur = st;
}

const struct settings *
settings_current(struct db *db)
{
	static __thread struct settings *fallback;
	struct settings_cache *c = cache_get(db);

	if (c == NULL) {
		/* no statement could be prepared: the database is unusable;
		 * the defaults, made once per thread */
		if (fallback == NULL) {
			fallback = snapshot_defaults();
			snapshot_fill(fallback);
		}
		return fallback;
	}
	/* PRAGMA data_version tells of other connections' commits only; the
	 * connection's own writes (any table: one reload too many is cheap)
	 * are counted by total_changes */
	int64_t changes = db->h != NULL ? sqlite3_total_changes64(db->h) : 0;
	int64_t v = data_version(c, db);
	if (c->cur != NULL && v >= 0 && v == c->data_version &&
	    changes == c->changes)
		return c->cur;
	struct settings *st = snapshot_load(db);
	if (st == NULL) {
		if (c->cur == NULL) {
			st = snapshot_defaults();
			snapshot_fill(st);
			cache_install(c, st);
		}
		c->data_version = -1;   /* try again next time */
		return c->cur;
	}
	/* inside a transaction the rows may be this connection's uncommitted
	 * writes, which a rollback takes back without a sign: read again */
	c->data_version = !db_in_transaction(db) ? v : -1;
	c->changes = changes;
	if (c->cur != NULL && snapshot_equal(c->cur, st))
		snapshot_free(st);
	else
		cache_install(c, st);
	return c->cur;
}

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
path_setting(struct db *db, const char *v, const char *sub)
{
	if (*v != '\0')
		return xstrdup(v);
	return path_join(db_root(db), sub);
}

char *
settings_store_path(struct db *db)
{
	return path_setting(db, settings_current(db)->path_store, "store");
}

char *
settings_queue_path(struct db *db)
{
	return path_setting(db, settings_current(db)->path_queue, "queue");
}

char *
settings_hostname(struct db *db)
{
	const char *v = settings_current(db)->server_hostname;
	char host[256];

	if (*v != '\0')
		return xstrdup(v);
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
	    "excluded.value WHERE setting.value = ''", "tt", key, hex);
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
	char *key = xasprintf("%s.listen", name);
	enum setting_id id = settings_id(key);
	const char *spec = settings_text(settings_current(db), id), *err;
	struct netaddr *list = NULL;
	size_t cnt = 0, nlen = strlen(name), have = 0;
	bool differs = true;

	for (size_t j = 0; j < nbound; j++)
		if (strncmp(bound[j], name, nlen) == 0 && bound[j][nlen] == '=')
			have++;
	if (id != SETTING_NONE && netaddr_parse_list(spec, &list, &cnt, &err) == 0 && cnt == have) {
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
