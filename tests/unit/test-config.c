/* test-config - the config store, the admin API and the directory API on a
 * temporary data root */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "db.h"
#include "directory.h"
#include "fields.h"
#include "fsutil.h"
#include "settings.h"
#include "test.h"
#include "users.h"
#include "xalloc.h"

static char *tmp_roots[16];
static size_t n_tmp_roots;

/* fresh_db - a new data root with an empty, migrated config store. */
static struct db *
fresh_db(void)
{
	char tmpl[] = "/tmp/postern-test-config-XXXXXX";
	const char *err;
	struct db *db;

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	char *cfg = path_join(tmpl, "config");
	mkdir_p(cfg, 0700);
	free(cfg);
	if (db_open(tmpl, true, &db, &err) < 0) {
		fprintf(stderr, "db_open: %s\n", err);
		exit(1);
	}
	if (n_tmp_roots < sizeof(tmp_roots) / sizeof(tmp_roots[0]))
		tmp_roots[n_tmp_roots++] = xstrdup(tmpl);
	/* a hostname with two labels, so postmaster@ of it is an address */
	settings_set(db, "server.hostname", "mx.example.test", &err);
	/* fast hashes keep the tests quick; yescrypt is tested below */
	settings_set(db, "password.scheme", "sha512-crypt", &err);
	/* the short fixed passwords below predate the password policy;
	 * test_password_policy tests it with its defaults */
	settings_set(db, "password.min_length", "1", &err);
	settings_set(db, "password.reject_names", "no", &err);
	return db;
}

/* test_password_policy - adm_password_check: length, spaces, names, the
 * post office's own rules over the global ones */
static void
test_password_policy(void)
{
	struct db *db = fresh_db();
	const char *err;

	CHECK(settings_unset(db, "password.min_length", &err) == 0);
	CHECK(settings_unset(db, "password.reject_names", &err) == 0);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "short", &err), ADM_INVALID);
	CHECK(strstr(err, "at least 8") != NULL);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "acme-secret", &err), ADM_INVALID);
	CHECK(strstr(err, "post office name 'acme'") != NULL);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "         ", &err), ADM_INVALID);
	CHECK(strstr(err, "spaces") != NULL);
	/* 8 characters, not bytes */
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9xyz", &err),
	    ADM_INVALID);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "Correct-Horse", &err), ADM_OK);
	struct adm_mailbox_spec spec = {
		.postoffice = "acme", .name = "robert", .password = "xROBERTx99",
		.quota_kb = -1,
	};
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	CHECK(strstr(err, "mailbox name 'robert'") != NULL);
	/* names under 3 characters are not refused */
	spec.name = "al";
	spec.password = "always-fine";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_OK);
	/* the post office's rules win over the global ones */
	CHECK_INTEQ(adm_object_set(db, ADM_POSTOFFICE, "acme",
	    "password_reject_names", "no", &err), ADM_OK);
	spec.name = "robert";
	spec.password = "xROBERTx99";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_OK);
	CHECK_INTEQ(adm_object_set(db, ADM_POSTOFFICE, "acme",
	    "password_min_length", "12", &err), ADM_OK);
	CHECK_INTEQ(adm_mailbox_passwd(db, "robert@acme", "eleven-char", NULL, &err),
	    ADM_INVALID);
	CHECK(strstr(err, "password_min_length of post office acme") != NULL);
	CHECK_INTEQ(adm_mailbox_passwd(db, "robert@acme", "twelve-chars", NULL, &err),
	    ADM_OK);
	/* imported hashes cannot be checked: they pass */
	CHECK_INTEQ(adm_mailbox_passwd(db, "robert@acme", NULL,
	    "$6$saltsalt$0123456789012345678901234567890123456789012345678901234567890123456789012345678901234", &err),
	    ADM_OK);
	db_close(&db);
}

static int64_t
count(struct db *db, const char *sql)
{
	const char *err;
	int64_t n = -1;

	if (db_query_int(db, &n, -1, &err, sql, "") < 0)
		fprintf(stderr, "  count: %s\n", err);
	return n;
}

/* acme - post office acme, domains acme.test and acme2.test, mailboxes
 * alice and bob. */
static void
acme(struct db *db)
{
	const char *err;
	struct adm_mailbox_spec spec = { .postoffice = "acme", .quota_kb = -1 };

	CHECK(adm_postoffice_add(db, "acme", "pm-pw", &err) == ADM_OK);
	CHECK(adm_domain_add(db, "acme.test", "acme", &err) == ADM_OK);
	CHECK(adm_domain_add(db, "acme2.test", "acme", &err) == ADM_OK);
	spec.name = "alice";
	spec.password = "alice-pw";
	CHECK(adm_mailbox_add(db, &spec, &err) == ADM_OK);
	spec.name = "bob";
	spec.password = "bob-pw";
	CHECK(adm_mailbox_add(db, &spec, &err) == ADM_OK);
}

static void
test_migrations(void)
{
	struct db *db = fresh_db(), *db2;
	const char *err;
	int64_t v;
	char *root = xstrdup(db_root(db));

	CHECK(db_query_int(db, &v, 0, &err, "PRAGMA user_version", "") == 0);
	CHECK_INTEQ(v, DB_SCHEMA_VERSION);
	for (const char *t = "setting\0postoffice\0domain\0mailbox\0address\0grp\0"
	     "grp_member\0list\0list_member\0redirect\0domain_blacklist\0"; *t;
	     t += strlen(t) + 1) {
		char *sql = xasprintf("SELECT count(*) FROM sqlite_master WHERE "
		    "type = 'table' AND name = '%s'", t);
		CHECK_INTEQ(count(db, sql), 1);
		free(sql);
	}
	char *mode = NULL;
	CHECK(db_query_text(db, &mode, &err, "PRAGMA journal_mode", "") == 0);
	CHECK_STREQ(mode, "wal");
	free(mode);
	db_close(&db);
	CHECK(db == NULL);
	/* reopening migrates nothing and keeps the data */
	CHECK(db_open(root, false, &db2, &err) == 0);
	CHECK_INTEQ(count(db2, "SELECT count(*) FROM setting"), 4);
	/* a schema from the future is refused */
	CHECK(db_exec(db2, &err, "PRAGMA user_version = 99", "") == 0);
	db_close(&db2);
	CHECK(db_open(root, false, &db2, &err) < 0);
	CHECK(db2 == NULL);
	CHECK(strstr(err, "newer") != NULL);
	/* a missing data root */
	char *missing = path_join(root, "nope");
	CHECK(db_open(missing, false, &db2, &err) < 0);
	CHECK(strstr(err, "no Postern data root") != NULL);
	free(missing);
	/* not a database */
	char *path = db_path(root);
	CHECK(file_write_atomic(path, "garbage, not sqlite\n", 20, 0600) == 0);
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
	CHECK(db_open(root, false, &db2, &err) < 0);
	CHECK(strstr(err, "config database") != NULL);
	free(path);
	free(root);
}

static void
test_settings(void)
{
	struct db *db = fresh_db();
	const char *err;
	char *v;

	CHECK(settings_get(db, "smtp.listen", &v, &err) == 0);
	CHECK_STREQ(v, "0.0.0.0:25");
	free(v);
	CHECK(!settings_is_set(db, "smtp.listen"));
	CHECK(settings_set(db, "smtp.listen", "127.0.0.1:2525, [::1]:2526", &err) == 0);
	CHECK(settings_is_set(db, "smtp.listen"));
	CHECK(settings_get(db, "smtp.listen", &v, &err) == 0);
	CHECK_STREQ(v, "127.0.0.1:2525,[::1]:2526");
	free(v);
	/* a bad value changes nothing */
	CHECK(settings_set(db, "smtp.listen", "localhost:25", &err) < 0);
	CHECK(strstr(err, "smtp.listen") != NULL);
	CHECK(settings_get(db, "smtp.listen", &v, &err) == 0);
	CHECK_STREQ(v, "127.0.0.1:2525,[::1]:2526");
	free(v);
	CHECK(settings_unset(db, "smtp.listen", &err) == 0);
	CHECK(!settings_is_set(db, "smtp.listen"));
	CHECK(settings_set(db, "mailbox.default_quota", "2G", &err) == 0);
	CHECK_INTEQ(settings_current(db)->mailbox_default_quota, 2 * 1024 * 1024);
	CHECK(settings_set(db, "smtp.max_recipients", "0", &err) < 0);
	CHECK_INTEQ(settings_current(db)->smtp_max_recipients, 500);
	CHECK(settings_get(db, "no.such", &v, &err) < 0);
	CHECK(v == NULL);
	CHECK(strstr(err, "unknown setting") != NULL);
	CHECK(settings_set(db, "no.such", "1", &err) < 0);
	CHECK(settings_unset(db, "no.such", &err) < 0);
	CHECK(settings_id("no.such") == SETTING_NONE);
	CHECK_STREQ(settings_text(settings_current(db), settings_id("no.such")), "");
	v = settings_store_path(db);
	char *want = path_join(db_root(db), "store");
	CHECK_STREQ(v, want);
	free(v);
	free(want);
	CHECK(settings_set(db, "path.store", "/srv/mail", &err) == 0);
	v = settings_store_path(db);
	CHECK_STREQ(v, "/srv/mail");
	free(v);
	/* every default is valid for its own field and parses to itself
	 * (sizes and times are stored in another unit than they are typed) */
	const struct field_def *const tables[] = {
		settings_fields, postoffice_fields, domain_fields, mailbox_fields,
		group_fields, list_fields,
	};
	for (size_t t = 0; t < 6; t++)
		for (const struct field_def *f = tables[t]; f->name; f++) {
			if (f->type == FT_SIZE || f->type == FT_TIME ||
			    (f->type == FT_TEXT && f->min > 0))
				continue;
			char *p = field_parse(f, f->def, &err);
			if (p == NULL || strcmp(p, f->def) != 0)
				fprintf(stderr, "  default of %s: %s\n", f->name,
				    p ? p : err);
			CHECK(p != NULL && strcmp(p, f->def) == 0);
			free(p);
		}
	db_close(&db);
}

/* parse_ok - field_parse of input gives stored. */
static void
parse_ok(const struct field_def *f, const char *input, const char *stored)
{
	const char *err = NULL;
	char *v = field_parse(f, input, &err);

	if (v == NULL)
		fprintf(stderr, "  %s '%s': %s\n", f->name, input, err);
	CHECK_STREQ(v, stored);
	free(v);
}

static void
parse_bad(const struct field_def *f, const char *input)
{
	const char *err = NULL;
	char *v = field_parse(f, input, &err);

	if (v != NULL)
		fprintf(stderr, "  %s '%s' accepted as '%s'\n", f->name, input, v);
	CHECK(v == NULL);
	CHECK(err != NULL && *err != '\0');
	free(v);
}

static void
test_field_parse(void)
{
	const struct field_def *f;
	char *s;

	f = field_find(settings_fields, "mailbox.auto_address");     /* FT_BOOL */
	CHECK(f != NULL && f->type == FT_BOOL);
	parse_ok(f, "yes", "1");
	parse_ok(f, "OFF", "0");
	parse_ok(f, "true", "1");
	parse_ok(f, "0", "0");
	parse_bad(f, "maybe");
	parse_bad(f, "");
	f = field_find(settings_fields, "smtp.max_recipients");      /* FT_INT */
	parse_ok(f, "1", "1");
	parse_ok(f, "100000", "100000");
	parse_bad(f, "0");
	parse_bad(f, "100001");
	parse_bad(f, "12x");
	parse_bad(f, "-3");
	parse_bad(f, "");
	parse_bad(f, "99999999999999999999999");
	f = field_find(postoffice_fields, "webadmin_max_mailboxes"); /* 0 unlimited */
	parse_ok(f, "unlimited", "0");
	f = field_find(settings_fields, "mailbox.default_quota");    /* FT_SIZE */
	parse_ok(f, "100", "102400");
	parse_ok(f, "512K", "512");
	parse_ok(f, "2G", "2097152");
	parse_ok(f, "unlimited", "0");
	parse_bad(f, "-1");
	parse_bad(f, "10X");
	parse_bad(f, "");
	f = field_find(settings_fields, "smtp.max_message_size");    /* min 1 */
	parse_bad(f, "0");
	parse_bad(f, "unlimited");
	f = field_find(settings_fields, "smtp.timeout");             /* FT_DURATION */
	parse_ok(f, "90s", "90");
	parse_ok(f, "15m", "900");
	parse_ok(f, "1h", "3600");
	parse_ok(f, "300", "300");
	parse_bad(f, "2d");         /* above the maximum of 3600 */
	parse_bad(f, "5");          /* below the minimum of 10 */
	parse_bad(f, "5y");
	parse_bad(f, "m");
	parse_bad(f, "10mm");
	f = field_find(mailbox_fields, "autoresponder_start");       /* FT_TIME */
	parse_ok(f, "0", "0");
	parse_ok(f, "2030-01-02", "1893542400");
	parse_ok(f, "2030-01-02 10:00", "1893578400");
	parse_bad(f, "tomorrow");
	parse_bad(f, "2030-13-45");
	f = field_find(mailbox_fields, "friendly_name");             /* FT_TEXT */
	parse_ok(f, "Bob, B", "Bob, B");
	parse_bad(f, "a\nb");
	char *long_text = xcalloc(1, 1002);
	memset(long_text, 'x', 1001);
	parse_bad(f, long_text);
	free(long_text);
	f = field_find(mailbox_fields, "autoresponder_body");        /* multiline */
	parse_ok(f, "line 1\nline 2", "line 1\nline 2");
	f = field_find(group_fields, "name");                        /* min 1 */
	parse_bad(f, "");
	f = field_find(mailbox_fields, "type");                      /* FT_ENUM */
	parse_ok(f, "admin", "ADMIN");
	parse_ok(f, "USER", "USER");
	parse_bad(f, "ADMINS");
	parse_bad(f, "ADM");
	parse_bad(f, "");
	f = field_find(mailbox_fields, "reply_to");                  /* FT_ADDRESS */
	parse_ok(f, "", "");
	parse_ok(f, "Bob@Example.COM", "bob@example.com");
	parse_bad(f, "bob");
	parse_bad(f, "bob@");
	parse_bad(f, "a b@example.com");
	f = field_find(settings_fields, "smarthost.host");           /* FT_HOSTPORT */
	parse_ok(f, "", "");
	parse_ok(f, "relay.example.com", "relay.example.com");
	parse_ok(f, "relay.example.com:587", "relay.example.com:587");
	parse_ok(f, "[::1]:25", "[::1]:25");
	parse_bad(f, "relay:0");
	parse_bad(f, "relay:65536");
	parse_bad(f, "re lay");
	parse_bad(f, ":25");
	parse_bad(f, "[::1");
	f = field_find(settings_fields, "imaps.listen");             /* FT_LISTEN */
	parse_ok(f, "127.0.0.1:993", "127.0.0.1:993");
	parse_ok(f, "0.0.0.0:993 , [::]:993", "0.0.0.0:993,[::]:993");
	parse_bad(f, "localhost:993");
	parse_bad(f, "127.0.0.1");
	parse_bad(f, "127.0.0.1:99999");
	parse_bad(f, "300.0.0.1:1");
	/* every listener the scripts rely on exists */
	for (const char *n = "smtp\0submission\0smtps\0pop3\0pop3s\0imap\0imaps\0"
	     "http\0https\0"; *n; n += strlen(n) + 1) {
		char key[64];
		snprintf(key, sizeof(key), "%s.listen", n);
		f = field_find(settings_fields, key);
		CHECK(f != NULL && f->type == FT_LISTEN);
	}
	/* field_format */
	f = field_find(settings_fields, "mailbox.default_quota");
	s = field_format(f, "0");
	CHECK_STREQ(s, "unlimited");
	free(s);
	s = field_format(f, "2097152");
	CHECK_STREQ(s, "2 GB");
	free(s);
	s = field_format(f, "1500");
	CHECK_STREQ(s, "1500 KB");
	free(s);
	f = field_find(settings_fields, "smarthost.password");
	s = field_format(f, "secret");
	CHECK_STREQ(s, "********");
	free(s);
	f = field_find(settings_fields, "mailbox.size_cache_age");
	s = field_format(f, "1200");
	CHECK_STREQ(s, "20m");
	free(s);
	CHECK_STREQ(field_json_name(f), "mailbox.size_cache_age_s");
	CHECK(field_find(settings_fields, "nope") == NULL);
	CHECK_INTEQ(parse_duration("2d"), 172800);
	CHECK_INTEQ(parse_duration(""), -1);
}

/* test_object_defaults - a new object's stored settings are the defaults
 * its field table announces (help, `show`, the web admin). */
static void
test_object_defaults(void)
{
	struct db *db = fresh_db();
	const char *err;
	static const char *const kinds[] = {
		"postoffice", "domain", "mailbox", "group", "list",
	};
	static const enum adm_kind akinds[] = {
		ADM_POSTOFFICE, ADM_DOMAIN, ADM_MAILBOX, ADM_GROUP, ADM_LIST,
	};
	static const char *const idents[] = {
		"acme", "acme.test", "alice@acme", "g@acme.test", "l@acme.test",
	};

	acme(db);
	CHECK(adm_group_add(db, "g@acme.test", "acme", "g", &err) == ADM_OK);
	CHECK(adm_list_add(db, "l@acme.test", "acme", NULL, &err) == ADM_OK);
	for (size_t k = 0; k < 5; k++) {
		int64_t id;
		CHECK(adm_object_id(db, akinds[k], idents[k], &id, &err) == ADM_OK);
		for (const struct field_def *f = adm_kind_fields(akinds[k]); f->name; f++) {
			char *v = NULL;
			if (dir_object_field(db, kinds[k], id, f->name, &v, &err) < 0) {
				fprintf(stderr, "  %s %s: %s\n", kinds[k], f->name, err);
				CHECK(0);
				continue;
			}
			/* set by the add calls themselves */
			if ((akinds[k] == ADM_GROUP && strcmp(f->name, "name") == 0)) {
				free(v);
				continue;
			}
			if (strcmp(v, f->def) != 0)
				fprintf(stderr, "  %s %s: stored '%s', default '%s'\n",
				    kinds[k], f->name, v, f->def);
			CHECK_STREQ(v, f->def);
			free(v);
		}
	}
	db_close(&db);
}

static void
test_admin_names(void)
{
	struct db *db = fresh_db();
	const char *err;
	static const char *const bad[] = {
		"", "..", "a/b", "../x", ".x", "-x", "a b", "a..b", "x\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INTEQ(adm_postoffice_add(db, bad[i], "pw", &err), ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM postoffice"), 0);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "", &err), ADM_INVALID);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", NULL, &err), ADM_INVALID);
	CHECK(strstr(err, "password") != NULL);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM postoffice"), 0);
	acme(db);
	CHECK_INTEQ(adm_postoffice_add(db, "acme", "x", &err), ADM_EXISTS);
	CHECK_INTEQ(adm_postoffice_add(db, "ACME", "x", &err), ADM_EXISTS);
	/* the postmaster mailbox is an ADMIN with the given password */
	struct dir_mailbox mb;
	CHECK(dir_mailbox_find(db, "acme", "postmaster", &mb, &err) == 1);
	CHECK_STREQ(mb.type, "ADMIN");
	CHECK(dir_authenticate(db, "postmaster@acme", "pm-pw", &mb, &err) == DIR_AUTH_OK);
	/* mailboxes */
	struct adm_mailbox_spec spec = {
		.postoffice = "acme", .password = "x", .quota_kb = -1,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spec.name = bad[i];
		CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	}
	spec.name = "Alice";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_EXISTS);
	spec.name = "carl";
	spec.postoffice = "nope";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_NOTFOUND);
	spec.postoffice = "acme";
	spec.type = "ROOT";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	spec.type = NULL;
	spec.password = "";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	spec.password = NULL;
	spec.password_hash = "plain-text";
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox"), 3);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address"), 4);
	/* domains */
	CHECK_INTEQ(adm_domain_add(db, "acme", "acme", &err), ADM_INVALID);
	CHECK_INTEQ(adm_domain_add(db, "a/b.test", "acme", &err), ADM_INVALID);
	CHECK_INTEQ(adm_domain_add(db, "ACME.test", "acme", &err), ADM_EXISTS);
	CHECK_INTEQ(adm_domain_add(db, "new.test", "nope", &err), ADM_NOTFOUND);
	/* objects that do not exist */
	int64_t id;
	CHECK_INTEQ(adm_object_id(db, ADM_MAILBOX, "zed@acme", &id, &err), ADM_NOTFOUND);
	CHECK_INTEQ(adm_object_id(db, ADM_MAILBOX, "zed", &id, &err), ADM_INVALID);
	CHECK_INTEQ(adm_object_set(db, ADM_MAILBOX, "alice@acme", "nope", "1", &err),
	    ADM_INVALID);
	CHECK_INTEQ(adm_object_set(db, ADM_MAILBOX, "alice@acme", "quota", "x", &err),
	    ADM_INVALID);
	CHECK_INTEQ(adm_mailbox_del(db, "zed@acme", false, &err), ADM_NOTFOUND);
	db_close(&db);
}

static void
test_admin_rules(void)
{
	struct db *db = fresh_db();
	const char *err;

	acme(db);
	CHECK(adm_postoffice_add(db, "other", "x", &err) == ADM_OK);
	CHECK(adm_domain_add(db, "other.test", "other", &err) == ADM_OK);
	/* auto addresses: one per domain of the post office */
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address a JOIN mailbox m ON "
	    "m.id = a.target_id WHERE m.name = 'alice'"), 2);
	/* an address only on a domain of the mailbox's post office (5.5.4) */
	CHECK_INTEQ(adm_address_add(db, "x@other.test", "alice@acme", &err), ADM_INVALID);
	CHECK(strstr(err, "5.5.4") != NULL);
	CHECK_INTEQ(adm_address_add(db, "x@unknown.test", "alice@acme", &err), ADM_INVALID);
	CHECK_INTEQ(adm_address_add(db, "bob@acme.test", "alice@acme", &err), ADM_EXISTS);
	CHECK_INTEQ(adm_address_add(db, "Sales@ACME.test", "alice@acme", &err), ADM_OK);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address WHERE address = 'sales@acme.test'"), 1);
	CHECK_INTEQ(adm_group_add(db, "g@other.test", "acme", NULL, &err), ADM_INVALID);
	CHECK_INTEQ(adm_list_add(db, "l@other.test", "acme", "bob@acme.test", &err),
	    ADM_INVALID);
	/* postmaster is mandatory (5.4.2) */
	CHECK_INTEQ(adm_object_set(db, ADM_DOMAIN, "acme.test", "postmaster_address", "",
	    &err), ADM_INVALID);
	CHECK_INTEQ(adm_object_set(db, ADM_DOMAIN, "acme.test", "postmaster_address",
	    "nobody", &err), ADM_INVALID);
	CHECK_INTEQ(adm_object_set(db, ADM_DOMAIN, "acme.test", "postmaster_address",
	    "bob", &err), ADM_OK);
	CHECK_INTEQ(adm_mailbox_del(db, "postmaster@acme", false, &err), ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox WHERE name = 'postmaster'"), 2);
	/* the list moderator is not the system notification address (5.7.2) */
	CHECK_INTEQ(adm_list_add(db, "news@acme.test", "acme", "Postmaster@mx.example.test",
	    &err), ADM_INVALID);
	CHECK(settings_set(db, "smtp.notification_address", "notices@acme.test", &err) == 0);
	CHECK_INTEQ(adm_list_add(db, "news@acme.test", "acme", "notices@acme.test", &err),
	    ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM list"), 0);
	CHECK_INTEQ(adm_list_add(db, "news@acme.test", "acme", "bob@acme.test", &err), ADM_OK);
	CHECK_INTEQ(adm_object_set(db, ADM_LIST, "news@acme.test", "owner",
	    "NOTICES@acme.test", &err), ADM_INVALID);
	CHECK_INTEQ(adm_list_add(db, "news@acme.test", "acme", "bob@acme.test", &err),
	    ADM_EXISTS);
	/* members */
	CHECK_INTEQ(adm_list_member_add(db, "news@acme.test", "news@acme.test", NULL, &err),
	    ADM_INVALID);
	CHECK_INTEQ(adm_list_member_add(db, "news@acme.test", "a@ext.test", "A", &err), ADM_OK);
	CHECK_INTEQ(adm_list_member_add(db, "news@acme.test", "A@ext.test", NULL, &err),
	    ADM_EXISTS);
	CHECK_INTEQ(adm_group_add(db, "staff@acme.test", "acme", "Staff", &err), ADM_OK);
	CHECK_INTEQ(adm_group_member_add(db, "staff@acme.test", "bob@acme.test", &err), ADM_OK);
	CHECK_INTEQ(adm_group_member_add(db, "staff@acme.test", "staff@acme.test", &err),
	    ADM_INVALID);
	CHECK_INTEQ(adm_group_member_del(db, "staff@acme.test", "x@y.test", &err),
	    ADM_NOTFOUND);
	/* redirects: at most 25 (5.5.5) */
	for (int i = 0; i < 25; i++) {
		char a[64];
		snprintf(a, sizeof(a), "r%d@ext.test", i);
		CHECK_INTEQ(adm_redirect_add(db, "bob@acme", a, &err), ADM_OK);
	}
	CHECK_INTEQ(adm_redirect_add(db, "bob@acme", "r25@ext.test", &err), ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM redirect"), 25);
	/* a domain takes its addresses, groups and lists with it */
	CHECK_INTEQ(adm_domain_add(db, "gone.test", "acme", &err), ADM_OK);
	CHECK_INTEQ(adm_group_add(db, "g@gone.test", "acme", NULL, &err), ADM_OK);
	CHECK_INTEQ(adm_group_member_add(db, "g@gone.test", "x@ext.test", &err), ADM_OK);
	CHECK_INTEQ(adm_list_add(db, "l@gone.test", "acme", "bob@acme.test", &err), ADM_OK);
	CHECK_INTEQ(adm_address_add(db, "a@gone.test", "alice@acme", &err), ADM_OK);
	CHECK_INTEQ(adm_domain_del(db, "gone.test", &err), ADM_OK);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address WHERE address LIKE '%@gone.test'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM grp WHERE address = 'g@gone.test'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM grp_member WHERE address = 'x@ext.test'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM list WHERE address = 'l@gone.test'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM grp WHERE address = 'staff@acme.test'"), 1);
	CHECK_INTEQ(adm_domain_add(db, "gone.test", "acme", &err), ADM_OK);
	CHECK_INTEQ(adm_group_add(db, "g@gone.test", "acme", NULL, &err), ADM_OK);
	/* set-quota touches every current mailbox */
	int n = 0;
	CHECK_INTEQ(adm_postoffice_set_quota(db, "acme", 2048, &n, &err), ADM_OK);
	CHECK_INTEQ(n, 3);
	CHECK_INTEQ(adm_postoffice_set_quota(db, "acme", -1, &n, &err), ADM_INVALID);
	/* deleting a post office takes everything of it */
	CHECK_INTEQ(adm_postoffice_del(db, "acme", false, &err), ADM_OK);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox"), 1);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM domain"), 1);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM list_member"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM grp_member"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM redirect"), 0);
	db_close(&db);
}

static void
test_admin_rollback(void)
{
	struct db *db = fresh_db();
	const char *err;
	bool outer;

	acme(db);
	/* a call that fails inside a caller's transaction rolls back only its
	 * own savepoint */
	CHECK(adm_tx_begin(db, &outer, &err) == ADM_OK);
	CHECK(outer);
	CHECK_INTEQ(adm_domain_add(db, "kept.test", "acme", &err), ADM_OK);
	struct adm_mailbox_spec spec = {
		.postoffice = "acme", .name = "carl", .password = "x", .quota_kb = -1,
		.type = "ROOT",
	};
	CHECK_INTEQ(adm_mailbox_add(db, &spec, &err), ADM_INVALID);
	CHECK(adm_tx_end(db, outer, true, &err) == ADM_OK);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM domain WHERE name = 'kept.test'"), 1);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox WHERE name = 'carl'"), 0);
	/* the caller's rollback undoes the calls that succeeded */
	CHECK(adm_tx_begin(db, &outer, &err) == ADM_OK);
	CHECK_INTEQ(adm_object_set(db, ADM_MAILBOX, "alice@acme", "disabled", "yes", &err),
	    ADM_OK);
	CHECK_INTEQ(adm_domain_del(db, "kept.test", &err), ADM_OK);
	CHECK(adm_tx_end(db, outer, false, &err) == ADM_OK);
	CHECK_INTEQ(count(db, "SELECT disabled FROM mailbox WHERE name = 'alice'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM domain WHERE name = 'kept.test'"), 1);
	/* a failure after the first insert of a call leaves nothing of it:
	 * the post office row goes when its postmaster cannot be hashed */
	CHECK(db_exec(db, &err, "UPDATE setting SET value = 'md5' WHERE name = "
	    "'password.scheme'", "") == 0);
	CHECK(adm_postoffice_add(db, "half", "pw", &err) < 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM postoffice WHERE name = 'half'"), 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox m WHERE NOT EXISTS "
	    "(SELECT 1 FROM postoffice p WHERE p.id = m.postoffice_id)"), 0);
	char *store = settings_store_path(db), *half = path_join(store, "half");
	struct stat st;
	CHECK(stat(half, &st) < 0);
	free(store);
	free(half);
	CHECK(!db_in_transaction(db));
	db_close(&db);
}

static void
test_dir_resolve(void)
{
	struct db *db = fresh_db();
	struct dir_route r;
	const char *err;
	int64_t alice, bob, pm;

	acme(db);
	CHECK(adm_object_id(db, ADM_MAILBOX, "alice@acme", &alice, &err) == ADM_OK);
	CHECK(adm_object_id(db, ADM_MAILBOX, "bob@acme", &bob, &err) == ADM_OK);
	CHECK(adm_object_id(db, ADM_MAILBOX, "postmaster@acme", &pm, &err) == ADM_OK);
	/* exact, case-insensitive */
	CHECK_INTEQ(dir_resolve(db, "Alice@ACME.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_MAILBOX && r.target_id == alice && !r.disabled);
	CHECK(!r.catchall);
	CHECK_STREQ(r.address, "alice@acme.test");
	/* +subaddress */
	CHECK_INTEQ(dir_resolve(db, "alice+news@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == alice);
	CHECK_STREQ(r.address, "alice@acme2.test");
	/* unknown, remote, invalid */
	CHECK_INTEQ(dir_resolve(db, "zed@acme.test", &r, &err), DIR_RESOLVE_UNKNOWN);
	CHECK_INTEQ(dir_resolve(db, "+x@acme.test", &r, &err), DIR_RESOLVE_UNKNOWN);
	CHECK_INTEQ(dir_resolve(db, "bob@elsewhere.example", &r, &err), DIR_RESOLVE_REMOTE);
	CHECK_INTEQ(dir_resolve(db, "not an address", &r, &err), DIR_RESOLVE_UNKNOWN);
	/* IDN: a domain added in UTF-8 is kept as its A-label, and found in
	 * either form */
	CHECK(adm_domain_add(db, "B\xc3\xbc" "cher.test", "acme", &err) == ADM_OK);
	CHECK(adm_object_id(db, ADM_DOMAIN, "xn--bcher-kva.test", &bob, &err) ==
	    ADM_OK);
	CHECK(adm_domain_add(db, "x\xe2\x99\xa5.test", "acme", &err) != ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "postmaster@b\xc3\xbc" "cher.test", &r, &err),
	    DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == pm);
	CHECK_STREQ(r.address, "postmaster@xn--bcher-kva.test");
	CHECK_INTEQ(dir_resolve(db, "postmaster@xn--bcher-kva.test", &r, &err),
	    DIR_RESOLVE_LOCAL);
	CHECK_INTEQ(dir_resolve(db, "x@b\xc3\xa4" "cher.test", &r, &err),
	    DIR_RESOLVE_REMOTE);
	struct dir_domain dd;
	CHECK(dir_domain_get(db, "b\xc3\xbc" "cher.test", &dd, &err) == 1);
	CHECK_STREQ(dd.name, "xn--bcher-kva.test");
	/* postmaster@ and abuse@ default to the postmaster mailbox (5.4.2) */
	CHECK_INTEQ(dir_resolve(db, "postmaster@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_MAILBOX && r.target_id == pm);
	CHECK_INTEQ(dir_resolve(db, "Abuse@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == pm);
	CHECK_STREQ(r.address, "abuse@acme2.test");
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme.test", "postmaster_address", "bob",
	    &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "abuse@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == bob);
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme.test", "abuse_address",
	    "abuse-desk@ext.example", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "abuse@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_REDIRECT);
	CHECK_STREQ(r.target, "abuse-desk@ext.example");
	/* a target that is gone falls back to the postmaster mailbox */
	struct adm_mailbox_spec carl = {
		.postoffice = "acme", .name = "carl", .password = "x", .quota_kb = -1,
	};
	CHECK(adm_mailbox_add(db, &carl, &err) == ADM_OK);
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme2.test", "postmaster_address", "carl",
	    &err) == ADM_OK);
	CHECK(adm_mailbox_del(db, "carl@acme", false, &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "postmaster@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_MAILBOX && r.target_id == pm);
	/* a real abuse@ address wins over the default */
	CHECK(adm_address_add(db, "abuse@acme2.test", "alice@acme", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "abuse@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == alice);
	/* catch-all, to a mailbox name and to an address */
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme.test", "catchall_address", "alice",
	    &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "whoever@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.target_id == alice && r.catchall);
	CHECK_INTEQ(dir_resolve(db, "whoever@acme2.test", &r, &err), DIR_RESOLVE_UNKNOWN);
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme2.test", "catchall_address",
	    "bob@acme.test", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "whoever@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_MAILBOX && r.target_id == bob && r.catchall);
	/* groups and lists */
	CHECK(adm_group_add(db, "staff@acme.test", "acme", NULL, &err) == ADM_OK);
	CHECK(adm_list_add(db, "news@acme.test", "acme", "bob@acme.test", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "staff@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_GROUP && !r.catchall);
	CHECK_INTEQ(dir_resolve(db, "news+x@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.kind == DIR_KIND_LIST);
	/* disabled: the target, the domain, the post office */
	CHECK(adm_object_set(db, ADM_GROUP, "staff@acme.test", "disabled", "yes",
	    &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "staff@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.disabled);
	CHECK(adm_object_set(db, ADM_MAILBOX, "bob@acme", "disabled", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "bob@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.disabled);
	CHECK_INTEQ(dir_resolve(db, "alice@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(!r.disabled);
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme.test", "disabled", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "alice@acme.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.disabled);
	CHECK_INTEQ(dir_resolve(db, "alice@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(!r.disabled);
	CHECK(adm_object_set(db, ADM_POSTOFFICE, "acme", "disabled", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_resolve(db, "alice@acme2.test", &r, &err), DIR_RESOLVE_LOCAL);
	CHECK(r.disabled);
	/* blacklist */
	struct dir_domain d;
	CHECK(dir_domain_get(db, "acme.test", &d, &err) == 1);
	CHECK(d.disabled && d.postoffice_disabled);
	CHECK(adm_blacklist_add(db, "acme.test", "Spam.Example", &err) == ADM_OK);
	CHECK(dir_sender_blacklisted(db, d.id, "spam.example", &err) == 1);
	CHECK(dir_sender_blacklisted(db, d.id, "ham.example", &err) == 0);
	db_close(&db);
}

static void
test_dir_authenticate(void)
{
	struct db *db = fresh_db();
	struct dir_mailbox mb;
	const char *err;

	acme(db);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme", "alice-pw", &mb, &err), DIR_AUTH_OK);
	CHECK_STREQ(mb.name, "alice");
	CHECK_STREQ(mb.postoffice, "acme");
	CHECK_INTEQ(dir_authenticate(db, "ALICE@acme", "alice-pw", &mb, &err), DIR_AUTH_OK);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme", "bob-pw", &mb, &err), DIR_AUTH_FAILED);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme", "", &mb, &err), DIR_AUTH_FAILED);
	CHECK_INTEQ(dir_authenticate(db, "zed@acme", "x", &mb, &err), DIR_AUTH_FAILED);
	CHECK_INTEQ(dir_authenticate(db, "alice", "alice-pw", &mb, &err), DIR_AUTH_FAILED);
	CHECK_INTEQ(dir_authenticate(db, "", "", &mb, &err), DIR_AUTH_FAILED);
	/* an address logs in only when the post office allows it (5.5.9) */
	CHECK_INTEQ(dir_authenticate(db, "alice@acme.test", "alice-pw", &mb, &err),
	    DIR_AUTH_FAILED);
	CHECK(adm_object_set(db, ADM_POSTOFFICE, "acme", "allow_address_login", "yes",
	    &err) == ADM_OK);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme2.test", "alice-pw", &mb, &err),
	    DIR_AUTH_OK);
	CHECK_STREQ(mb.name, "alice");
	CHECK_INTEQ(dir_authenticate(db, "alice+tag@acme.test", "alice-pw", &mb, &err),
	    DIR_AUTH_OK);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme.test", "wrong", &mb, &err),
	    DIR_AUTH_FAILED);
	/* not through the catch-all */
	CHECK(adm_object_set(db, ADM_DOMAIN, "acme.test", "catchall_address", "alice",
	    &err) == ADM_OK);
	CHECK_INTEQ(dir_authenticate(db, "nobody@acme.test", "alice-pw", &mb, &err),
	    DIR_AUTH_FAILED);
	/* refusals are told apart only after the right password */
	CHECK(adm_object_set(db, ADM_MAILBOX, "bob@acme", "prevent_auth", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_authenticate(db, "bob@acme", "bob-pw", &mb, &err), DIR_AUTH_PREVENTED);
	CHECK_INTEQ(dir_authenticate(db, "bob@acme", "bad", &mb, &err), DIR_AUTH_FAILED);
	CHECK(adm_object_set(db, ADM_MAILBOX, "bob@acme", "prevent_auth", "no", &err) == ADM_OK);
	CHECK(adm_object_set(db, ADM_MAILBOX, "bob@acme", "disabled", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_authenticate(db, "bob@acme", "bob-pw", &mb, &err), DIR_AUTH_DISABLED);
	CHECK_INTEQ(dir_authenticate(db, "bob@acme", "bad", &mb, &err), DIR_AUTH_FAILED);
	CHECK(adm_object_set(db, ADM_POSTOFFICE, "acme", "disabled", "yes", &err) == ADM_OK);
	CHECK_INTEQ(dir_authenticate(db, "alice@acme", "alice-pw", &mb, &err),
	    DIR_AUTH_DISABLED);
	CHECK(adm_object_set(db, ADM_POSTOFFICE, "acme", "disabled", "no", &err) == ADM_OK);
	/* a new password, in every scheme */
	static const char *const schemes[] = { "yescrypt", "bcrypt", "sha512-crypt" };
	for (size_t i = 0; i < 3; i++) {
		CHECK(settings_set(db, "password.scheme", schemes[i], &err) == 0);
		CHECK_INTEQ(adm_mailbox_passwd(db, "alice@acme", "pw-2", NULL, &err), ADM_OK);
		CHECK_INTEQ(dir_authenticate(db, "alice@acme", "pw-2", &mb, &err), DIR_AUTH_OK);
		CHECK_INTEQ(dir_authenticate(db, "alice@acme", "alice-pw", &mb, &err),
		    DIR_AUTH_FAILED);
	}
	char *h = NULL;
	CHECK(db_query_text(db, &h, &err, "SELECT password_hash FROM mailbox WHERE "
	    "name = 'alice'", "") == 0);
	CHECK(h != NULL && strncmp(h, "$6$", 3) == 0);
	free(h);
	db_close(&db);
}

struct import_log {
	size_t errors;
	size_t lines[16];
	size_t generated;
	char password[64];
};

static void
on_row_error(void *ctx, size_t line, const char *message)
{
	struct import_log *l = ctx;

	if (l->errors < 16)
		l->lines[l->errors] = line;
	l->errors++;
}

static void
on_generated(void *ctx, const char *address, const char *password)
{
	struct import_log *l = ctx;

	l->generated++;
	snprintf(l->password, sizeof(l->password), "%s", password);
}

static void
test_users_round_trip(void)
{
	struct db *db = fresh_db(), *db2 = fresh_db();
	struct users_import_result res;
	struct import_log log = { 0 };
	struct dir_mailbox mb;
	struct buf out1, out2;
	const char *err;
	const char *data =
	    "emailaddress,password,quota,friendly name\r\n"
	    "ann@acme.test,ann-pw,5,\"Ann, A\"\r\n"
	    "bad row\r\n"
	    "ben@acme.test,,1500K,\"Ben \"\"B\"\"\"\r\n"
	    "cy@acme.test,cy-pw,,Cy\r\n"
	    "dot@acme.test,x,lots\r\n";
	struct users_import_opts opts = {
		.postoffice = "acme", .quota_kb = -1, .sep = ',', .ctx = &log,
		.row_error = on_row_error, .generated = on_generated,
		.create_domains = true,
	};

	CHECK(adm_postoffice_add(db, "acme", "pw", &err) == ADM_OK);
	/* atomic: nothing */
	opts.atomic = true;
	CHECK_INTEQ(users_import(db, data, strlen(data), &opts, &res, &err), ADM_INVALID);
	CHECK_INTEQ(res.imported, 0);
	CHECK_INTEQ(log.errors, 2);
	CHECK_INTEQ(log.generated, 0);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox"), 1);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM domain"), 0);
	/* the good rows import, the domain is created */
	memset(&log, 0, sizeof(log));
	opts.atomic = false;
	CHECK_INTEQ(users_import(db, data, strlen(data), &opts, &res, &err), ADM_INVALID);
	CHECK_INTEQ(res.total, 5);
	CHECK_INTEQ(res.imported, 3);
	CHECK_INTEQ(res.failed, 2);
	CHECK_INTEQ(log.errors, 2);
	CHECK_INTEQ(log.lines[0], 3);
	CHECK_INTEQ(log.lines[1], 6);
	CHECK_INTEQ(log.generated, 1);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM domain WHERE name = 'acme.test'"), 1);
	CHECK_INTEQ(dir_authenticate(db, "ben@acme", log.password, &mb, &err), DIR_AUTH_OK);
	CHECK_INTEQ(dir_authenticate(db, "ann@acme", "ann-pw", &mb, &err), DIR_AUTH_OK);
	CHECK_INTEQ(mb.quota_kb, 5120);
	/* export, import into another data root, export again: same bytes */
	buf_init(&out1, 0);
	CHECK_INTEQ(users_export(db, "acme", NULL, ',', false, &out1, &err), ADM_OK);
	CHECK(out1.data != NULL && strstr(out1.data, "ann@acme.test,{CRYPT}$6$") == out1.data);
	CHECK(strstr(out1.data, ",1500K,\"Ben \"\"B\"\"\"\r\n") != NULL);
	CHECK(strstr(out1.data, "postmaster") == NULL);
	CHECK(adm_postoffice_add(db2, "acme", "other-pw", &err) == ADM_OK);
	struct users_import_opts opts2 = {
		.postoffice = "acme", .quota_kb = -1, .sep = ',', .create_domains = true,
	};
	CHECK_INTEQ(users_import(db2, out1.data, out1.len, &opts2, &res, &err), ADM_OK);
	CHECK_INTEQ(res.imported, 3);
	buf_init(&out2, 0);
	CHECK_INTEQ(users_export(db2, "acme", NULL, ',', false, &out2, &err), ADM_OK);
	CHECK_INTEQ(out1.len, out2.len);
	CHECK(out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0);
	CHECK_INTEQ(dir_authenticate(db2, "ann@acme", "ann-pw", &mb, &err), DIR_AUTH_OK);
	CHECK_INTEQ(dir_authenticate(db2, "ben@acme", log.password, &mb, &err), DIR_AUTH_OK);
	/* TSV with chosen fields and a header */
	buf_reset(&out2);
	CHECK_INTEQ(users_export(db2, "acme", "mailbox,quota,type,disabled", '\t', true,
	    &out2, &err), ADM_OK);
	CHECK(strncmp(out2.data, "mailbox\tquota\ttype\tdisabled\r\nann\t5\tUSER\tno\r\n",
	    41) == 0);
	CHECK_INTEQ(users_export(db2, "acme", "mailbox,secret", ',', false, &out2, &err),
	    ADM_INVALID);
	CHECK_INTEQ(users_export(db2, "nope", NULL, ',', false, &out2, &err), ADM_NOTFOUND);
	/* a domain of another post office is refused */
	CHECK(adm_postoffice_add(db2, "other", "x", &err) == ADM_OK);
	const char *row = "zed@acme.test,pw\n";
	opts2.postoffice = "other";
	memset(&log, 0, sizeof(log));
	opts2.ctx = &log;
	opts2.row_error = on_row_error;
	CHECK_INTEQ(users_import(db2, row, strlen(row), &opts2, &res, &err), ADM_INVALID);
	CHECK_INTEQ(log.errors, 1);
	CHECK_INTEQ(count(db2, "SELECT count(*) FROM mailbox WHERE name = 'zed'"), 0);
	buf_free(&out1);
	buf_free(&out2);
	db_close(&db);
	db_close(&db2);
}

/* test_users_domains - users of several domains export with their own
 * addresses, and the export imports back to the same bytes. */
static void
test_users_domains(void)
{
	struct db *db = fresh_db(), *db2 = fresh_db();
	struct users_import_result res;
	struct buf out1, out2;
	const char *err;
	const char *data =
	    "zed@b.test,{CRYPT}$6$s$x.M3Zc6Xe0p2ah7Y9dB9yM6qWlpc9Ofu2tHjlGk2tW9XxXzpeVbyCFs7N6m0Q9i4zRNYVY2DsFjGsIA8TiE1a.,1,Z\n"
	    "amy@a.test,{CRYPT}$6$s$x.M3Zc6Xe0p2ah7Y9dB9yM6qWlpc9Ofu2tHjlGk2tW9XxXzpeVbyCFs7N6m0Q9i4zRNYVY2DsFjGsIA8TiE1a.,2,A\n"
	    "bo@c.test,{CRYPT}$6$s$x.M3Zc6Xe0p2ah7Y9dB9yM6qWlpc9Ofu2tHjlGk2tW9XxXzpeVbyCFs7N6m0Q9i4zRNYVY2DsFjGsIA8TiE1a.,3,B\n";
	struct users_import_opts opts = {
		.postoffice = "acme", .quota_kb = -1, .sep = ',', .create_domains = true,
	};

	CHECK(adm_postoffice_add(db, "acme", "pw", &err) == ADM_OK);
	CHECK_INTEQ(users_import(db, data, strlen(data), &opts, &res, &err), ADM_OK);
	/* every mailbox has an address on each domain that existed */
	CHECK_INTEQ(count(db, "SELECT count(*) FROM address"), 1 + 2 + 3);
	buf_init(&out1, 0);
	CHECK_INTEQ(users_export(db, "acme", "emailaddress,quota", ',', false, &out1,
	    &err), ADM_OK);
	CHECK_STREQ(out1.data, "amy@a.test,2\r\nbo@c.test,3\r\nzed@b.test,1\r\n");
	buf_reset(&out1);
	CHECK_INTEQ(users_export(db, "acme", NULL, ',', false, &out1, &err), ADM_OK);
	CHECK(adm_postoffice_add(db2, "acme", "pw", &err) == ADM_OK);
	CHECK_INTEQ(users_import(db2, out1.data, out1.len, &opts, &res, &err), ADM_OK);
	buf_init(&out2, 0);
	CHECK_INTEQ(users_export(db2, "acme", NULL, ',', false, &out2, &err), ADM_OK);
	CHECK(out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0);
	/* a row whose address is taken by something else fails */
	CHECK(adm_group_add(db, "team@a.test", "acme", NULL, &err) == ADM_OK);
	const char *row = "team@a.test,pw\n";
	CHECK_INTEQ(users_import(db, row, strlen(row), &opts, &res, &err), ADM_INVALID);
	CHECK_INTEQ(count(db, "SELECT count(*) FROM mailbox WHERE name = 'team'"), 0);
	buf_free(&out1);
	buf_free(&out2);
	db_close(&db);
	db_close(&db2);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_migrations), TEST(test_settings), TEST(test_field_parse),
		TEST(test_object_defaults), TEST(test_admin_names), TEST(test_admin_rules), TEST(test_admin_rollback),
		TEST(test_dir_resolve), TEST(test_dir_authenticate),
		TEST(test_users_round_trip), TEST(test_users_domains),
		TEST(test_password_policy),
		{ NULL, NULL }
	};
	int r = test_run(tests);

	for (size_t i = 0; i < n_tmp_roots; i++) {
		rm_rf(tmp_roots[i]);
		free(tmp_roots[i]);
	}
	return r;
}
