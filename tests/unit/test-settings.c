/* test-settings - the typed settings snapshot (settings.h) against the
 * per-key read, and its refresh when the database changes */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "fields.h"
#include "fsutil.h"
#include "settings.h"
#include "test.h"
#include "xalloc.h"

static char root[64];

/* open_db - a handle on the test's data root, made on first use */
static struct db *
open_db(void)
{
	const char *err;
	struct db *db;

	if (root[0] == '\0') {
		snprintf(root, sizeof(root), "/tmp/postern-test-settings-XXXXXX");
		if (mkdtemp(root) == NULL) {
			perror("mkdtemp");
			exit(1);
		}
		char *cfg = path_join(root, "config");
		mkdir_p(cfg, 0700);
		free(cfg);
	}
	if (db_open(root, true, &db, &err) < 0) {
		fprintf(stderr, "db_open: %s\n", err);
		exit(1);
	}
	return db;
}

/* per_key - the per-key read of a setting (new string) */
static char *
per_key(struct db *db, enum setting_id id)
{
	const char *err;
	char *v = NULL;

	if (settings_get(db, settings_field(id)->name, &v, &err) < 0) {
		fprintf(stderr, "  settings_get %s: %s\n", settings_field(id)->name,
		    err);
		return xstrdup("(error)");
	}
	return v;
}

/* choice - the text of choice i of an enum row (new string) */
static char *
choice(const struct field_def *f, int i)
{
	const char *c = f->choices;

	for (; i > 0 && c != NULL; i--) {
		c = strchr(c, '|');
		c = c ? c + 1 : NULL;
	}
	if (c == NULL)
		return xstrdup("(none)");
	return xstrndup(c, strcspn(c, "|"));
}

/* check_equal - every member of the snapshot equals the per-key read */
static void
check_equal(struct db *db)
{
	const struct settings *st = settings_current(db);
	char *v;

#define SETTING_STR(id, ...) \
	v = per_key(db, SETTING_##id); \
	CHECK_STREQ(st->id, v); \
	CHECK_STREQ(settings_text(st, SETTING_##id), v); \
	free(v);
#define SETTING_INT(id, ...) \
	v = per_key(db, SETTING_##id); \
	CHECK_INTEQ(st->id, strtoll(v, NULL, 10)); \
	CHECK_INTEQ(settings_num(st, SETTING_##id), st->id); \
	CHECK_STREQ(settings_text(st, SETTING_##id), v); \
	free(v);
#define SETTING_BOOL(id, ...) \
	v = per_key(db, SETTING_##id); \
	CHECK_INTEQ(st->id, strcmp(v, "0") != 0); \
	CHECK_STREQ(settings_text(st, SETTING_##id), v); \
	free(v);
#define SETTING_ENUM(id, ...) \
	v = per_key(db, SETTING_##id); \
	{ \
		char *c = choice(settings_field(SETTING_##id), (int)st->id); \
		CHECK_STREQ(c, v); \
		free(c); \
	} \
	CHECK_STREQ(settings_text(st, SETTING_##id), v); \
	free(v);
#include "settings-fields.def"
}

/* other_value - a valid input for f whose stored form is not the
 * default (new string) */
static char *
other_value(const struct field_def *f)
{
	long long d = f->def ? strtoll(f->def, NULL, 10) : 0;
	long long n = d != f->min ? f->min : f->min + 1;

	switch (f->type) {
	case FT_BOOL:
		return xstrdup(d ? "no" : "yes");
	case FT_INT:
		return xasprintf("%lld", n);
	case FT_SIZE:
		return xasprintf("%lldK", n);
	case FT_DURATION:
		return xasprintf("%llds", n);
	case FT_ENUM: {
		char *c = choice(f, 0);
		if (strcmp(c, f->def) == 0) {
			free(c);
			c = choice(f, 1);
		}
		return c;
	}
	case FT_ADDRESS:
		return xstrdup("someone@example.test");
	case FT_HOSTPORT:
		return xstrdup("relay.example.test:2525");
	case FT_LISTEN:
		return xstrdup("127.0.0.1:2999");
	case FT_TIME:
		return xstrdup("2026-01-02");
	case FT_TEXT:
		if (f->flags & FIELD_COUNTRIES)
			return xstrdup("DE,FR");
		if (f->flags & FIELD_MILTERS)
			return xstrdup("unix:/run/milter.sock");
		return xstrdup("x y");
	}
	return xstrdup("");
}

/* every row of the table is a member (the .def makes both; the ids are
 * the rows' order), and the loaded snapshot equals the per-key read with
 * every setting at its default, set, and unset again */
static void
test_snapshot_equals_per_key(void)
{
	struct db *db = open_db();
	const char *err;

	CHECK(settings_field(SETTING_NONE) == NULL);
	CHECK(settings_field(SETTING_END) == NULL);
	size_t rows = 0;
	for (const struct field_def *f = settings_fields; f->name; f++, rows++) {
		enum setting_id id = settings_id(f->name);
		CHECK_INTEQ(id, rows + 1);
		CHECK(settings_field(id) == f);
	}
	CHECK_INTEQ(rows, SETTING_END - 1);
	CHECK(settings_id("imap.idle_timout") == SETTING_NONE);
	CHECK_STREQ(settings_text(settings_current(db), SETTING_NONE), "");

	check_equal(db);
	const struct settings *st = settings_current(db);
	CHECK_INTEQ(st->imap_idle_timeout, 1800);
	CHECK_STREQ(st->smtp_listen, "0.0.0.0:25");
	CHECK(st->password_scheme == PASSWORD_SCHEME_YESCRYPT);
	CHECK(st->srs_enabled);

	/* set: every setting to a value other than its default */
	for (const struct field_def *f = settings_fields; f->name; f++) {
		char *in = other_value(f);
		if (settings_set(db, f->name, in, &err) < 0) {
			fprintf(stderr, "  set %s %s: %s\n", f->name, in, err);
			CHECK(!"every setting takes its other value");
		}
		free(in);
	}
	st = settings_current(db);
	for (int id = SETTING_NONE + 1; id < SETTING_END; id++) {
		const struct field_def *f = settings_field(id);
		if (strcmp(settings_text(st, id), f->def) == 0) {
			fprintf(stderr, "  %s still reads its default\n", f->name);
			CHECK(!"a set setting reads its new value");
		}
	}
	check_equal(db);
	CHECK(!st->srs_enabled);
	CHECK(st->password_scheme == PASSWORD_SCHEME_BCRYPT);
	CHECK_STREQ(st->smtp_listen, "127.0.0.1:2999");

	/* unset: back to the defaults */
	for (const struct field_def *f = settings_fields; f->name; f++)
		CHECK(settings_unset(db, f->name, &err) == 0);
	check_equal(db);
	st = settings_current(db);
	CHECK_INTEQ(st->imap_idle_timeout, 1800);
	CHECK(st->password_scheme == PASSWORD_SCHEME_YESCRYPT);

	/* a row written by hand that is no value of its type reads as the
	 * default in the typed member, as stored in the text */
	CHECK(db_exec(db, &err, "INSERT INTO setting (name, value) VALUES "
	    "('smtp.max_recipients', 'many'), ('log.level', 'loud'), "
	    "('no.such', '1')", "") == 0);
	st = settings_current(db);
	CHECK_INTEQ(st->smtp_max_recipients, 500);
	CHECK_STREQ(settings_text(st, SETTING_smtp_max_recipients), "many");
	CHECK(st->log_level == LOG_LEVEL_INFO);
	CHECK(db_exec(db, &err, "DELETE FROM setting", "") == 0);
	db_close(&db);
}

/* the snapshot is refreshed when, and only when, the database changed:
 * by another process, another connection, this connection (raw SQL too)
 * and a rollback */
static void
test_snapshot_refresh(void)
{
	struct db *db = open_db(), *other = open_db();
	const char *err;

	const struct settings *st = settings_current(db);
	CHECK_INTEQ(st->smtp_max_recipients, 500);
	/* nothing changed: the same snapshot */
	CHECK(settings_current(db) == st);

	/* another process sets a value; the held handle sees it next time */
	pid_t pid = fork();
	if (pid == 0) {
		struct db *child = open_db();
		int r = settings_set(child, "smtp.max_recipients", "77", &err);
		db_close(&child);
		_exit(r == 0 ? 0 : 1);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	st = settings_current(db);
	CHECK_INTEQ(st->smtp_max_recipients, 77);

	/* a commit that changes no setting keeps the snapshot */
	CHECK(db_exec(other, &err, "CREATE TABLE IF NOT EXISTS t_unrelated "
	    "(x INTEGER)", "") == 0);
	CHECK(db_exec(other, &err, "INSERT INTO t_unrelated VALUES (1)", "") == 0);
	CHECK(settings_current(db) == st);

	/* another connection of this process */
	CHECK(settings_set(other, "imap.idle_timeout", "10m", &err) == 0);
	st = settings_current(db);
	CHECK_INTEQ(st->imap_idle_timeout, 600);
	/* an older snapshot stays readable after a change */
	const struct settings *held = st;
	CHECK(settings_unset(other, "imap.idle_timeout", &err) == 0);
	st = settings_current(db);
	CHECK(st != held);
	CHECK_INTEQ(held->imap_idle_timeout, 600);
	CHECK_INTEQ(st->imap_idle_timeout, 1800);

	/* this connection: through settings_set and by raw SQL */
	CHECK(settings_set(db, "footer.scope", "global", &err) == 0);
	CHECK(settings_current(db)->footer_scope == FOOTER_SCOPE_GLOBAL);
	CHECK(db_exec(db, &err, "UPDATE setting SET value = 'postoffice' "
	    "WHERE name = 'footer.scope'", "") == 0);
	CHECK(settings_current(db)->footer_scope == FOOTER_SCOPE_POSTOFFICE);

	/* a rollback takes back what the transaction showed */
	CHECK(db_begin(db, &err) == 0);
	CHECK(settings_set(db, "smtp.max_recipients", "5", &err) == 0);
	CHECK_INTEQ(settings_current(db)->smtp_max_recipients, 5);
	db_rollback(db);
	CHECK_INTEQ(settings_current(db)->smtp_max_recipients, 77);
	/* the other connection never saw it */
	CHECK_INTEQ(settings_current(other)->smtp_max_recipients, 77);

	CHECK(db_exec(db, &err, "DELETE FROM setting", "") == 0);
	CHECK_INTEQ(settings_current(other)->smtp_max_recipients, 500);
	db_close(&other);
	db_close(&db);
	/* a handle opened after others closed starts afresh */
	db = open_db();
	CHECK_INTEQ(settings_current(db)->smtp_max_recipients, 500);
	db_close(&db);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_snapshot_equals_per_key), TEST(test_snapshot_refresh),
		{ NULL, NULL }
	};
	int r = test_run(tests);

	if (root[0] != '\0')
		rm_rf(root);
	return r;
}
