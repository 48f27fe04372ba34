/* admin - every change to the administration model, with its rules */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>

#include "admin.h"
#include "branding.h"
#include "directory.h"
#include "fsutil.h"
#include "idn.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"
#include "admin-private.h"
static const struct {
	const char *name, *table;
	const struct field_def *fields;
} kinds[] = {
	[ADM_POSTOFFICE] = { "post office", "postoffice", postoffice_fields },
	[ADM_DOMAIN] = { "domain", "domain", domain_fields },
	[ADM_MAILBOX] = { "mailbox", "mailbox", mailbox_fields },
	[ADM_GROUP] = { "group", "grp", group_fields },
	[ADM_LIST] = { "list", "list", list_fields },
};

const struct field_def *
adm_kind_fields(enum adm_kind kind)
{
	return kinds[kind].fields;
}

const char *
adm_kind_name(enum adm_kind kind)
{
	return kinds[kind].name;
}

const char *
adm_kind_table(enum adm_kind kind)
{
	return kinds[kind].table;
}

int
adm_tx_begin(struct db *db, bool *outer_r, const char **error_r)
{
	if (!db_in_transaction(db)) {
		*outer_r = true;
		if (db_begin(db, error_r) < 0)
			return adm_status_of(db);
		return ADM_OK;
	}
	*outer_r = false;
	if (db_exec(db, error_r, "SAVEPOINT adm", "") < 0)
		return adm_status_of(db);
	return ADM_OK;
}

int
adm_tx_end(struct db *db, bool outer, bool ok, const char **error_r)
{
	if (outer) {
		if (!ok) {
			db_rollback(db);
			return ADM_OK;
		}
		if (db_commit(db, error_r) < 0)
			return adm_status_of(db);
		return ADM_OK;
	}
	if (!ok) {
		const char *err;
		(void)db_exec(db, &err, "ROLLBACK TO adm", "");
		(void)db_exec(db, &err, "RELEASE adm", "");
		return ADM_OK;
	}
	if (db_exec(db, error_r, "RELEASE adm", "") < 0)
		return adm_status_of(db);
	return ADM_OK;
}

/* split_mailbox - "name@postoffice" into its parts. */
static int
split_mailbox(struct db *db, const char *ident, char *name, char *po,
	      const char **error_r)
{
	const char *at = strrchr(ident, '@');
	const char *err;

	if (at == NULL || (size_t)(at - ident) > NAME_MAX_LEN ||
	    strlen(at + 1) > NAME_MAX_LEN)
		return adm_invalid(db, error_r,
		    "'%s': a mailbox is named mailbox@postoffice%s", ident, "");
	memcpy(name, ident, (size_t)(at - ident));
	name[at - ident] = '\0';
	strcpy(po, at + 1);
	if (name_check(name, &err) < 0 || name_check(po, &err) < 0)
		return adm_invalid(db, error_r, "'%s': %s", ident, err);
	return ADM_OK;
}

int
adm_object_id(struct db *db, enum adm_kind kind, const char *ident,
	      int64_t *id_r, const char **error_r)
{
	char name[NAME_MAX_LEN + 1], po[NAME_MAX_LEN + 1];
	int r = 0;

	*id_r = 0;
	switch (kind) {
	case ADM_POSTOFFICE:
		r = db_query_int(db, id_r, 0, error_r,
		    "SELECT id FROM postoffice WHERE name = ?", "t", ident);
		break;
	case ADM_DOMAIN:
		r = db_query_int(db, id_r, 0, error_r,
		    "SELECT id FROM domain WHERE name = ?", "t", ident);
		break;
	case ADM_MAILBOX:
		if ((r = split_mailbox(db, ident, name, po, error_r)) < 0)
			return r;
		r = db_query_int(db, id_r, 0, error_r,
		    "SELECT m.id FROM mailbox m JOIN postoffice p ON p.id = "
		    "m.postoffice_id WHERE p.name = ? AND m.name = ?", "tt", po, name);
		break;
	case ADM_GROUP:
		r = db_query_int(db, id_r, 0, error_r,
		    "SELECT id FROM grp WHERE address = ?", "t", ident);
		break;
	case ADM_LIST:
		r = db_query_int(db, id_r, 0, error_r,
		    "SELECT id FROM list WHERE address = ?", "t", ident);
		break;
	}
	if (r < 0)
		return adm_status_of(db);
	if (*id_r == 0) {
		db_errorf(db, error_r, "%s '%s' does not exist", kinds[kind].name, ident);
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

/* check_target - a postmaster/abuse/catch-all target: a mailbox of the
 * post office or an e-mail address. */
static int
check_target(struct db *db, int64_t po_id, const char *value,
	     const char **error_r)
{
	const char *err;
	int64_t id;

	if (*value == '\0')
		return ADM_OK;
	if (strchr(value, '@') != NULL) {
		char *n = address_normalize(value, &err);
		if (n == NULL)
			return adm_invalid(db, error_r, "'%s': %s", value, err);
		free(n);
		return ADM_OK;
	}
	if (db_query_int(db, &id, 0, error_r,
	    "SELECT id FROM mailbox WHERE postoffice_id = ? AND name = ?", "it",
	    po_id, value) < 0)
		return adm_status_of(db);
	if (id == 0)
		return adm_invalid(db, error_r,
		    "'%s' is neither an e-mail address nor a mailbox of the post office%s",
		    value, "");
	return ADM_OK;
}

char *
adm_notification_address(struct db *db)
{
	char *v = xstrdup(settings_current(db)->smtp_notification_address);

	if (*v == '\0') {
		char *host = settings_hostname(db);
		free(v);
		v = xasprintf("postmaster@%s", host);
		free(host);
	}
	str_lower(v);
	return v;
}

int
adm_object_set(struct db *db, enum adm_kind kind, const char *ident,
	       const char *field, const char *value, const char **error_r)
{
	const struct field_def *f = field_find(kinds[kind].fields, field);
	const char *err;
	int64_t id;
	char *stored, *sql;
	int r;

	if (f == NULL) {
		db_errorf(db, error_r, "a %s has no setting '%s' (see --help)",
		    kinds[kind].name, field);
		return ADM_INVALID;
	}
	if ((r = adm_object_id(db, kind, ident, &id, error_r)) < 0)
		return r;
	stored = field_parse(f, value, &err);
	if (stored == NULL)
		return adm_invalid(db, error_r, "%s: %s", field, err);
	if (kind == ADM_DOMAIN && (strcmp(field, "abuse_address") == 0 ||
	    strcmp(field, "postmaster_address") == 0 ||
	    strcmp(field, "catchall_address") == 0)) {
		int64_t po_id;
		if (db_query_int(db, &po_id, 0, error_r,
		    "SELECT postoffice_id FROM domain WHERE id = ?", "i", id) < 0) {
			free(stored);
			return adm_status_of(db);
		}
		if ((r = check_target(db, po_id, stored, error_r)) < 0) {
			free(stored);
			return r;
		}
		if (strcmp(field, "postmaster_address") == 0 && *stored == '\0') {
			free(stored);
			return adm_invalid(db, error_r,
			    "the postmaster address is mandatory (manual 5.4.2)%s%s", "", "");
		}
	}
	if (kind == ADM_LIST && strcmp(field, "owner") == 0) {
		char *sys = adm_notification_address(db);
		bool same = strcmp(sys, stored) == 0;
		free(sys);
		if (same) {
			free(stored);
			return adm_invalid(db, error_r,
			    "the list moderator cannot be the system notification address %s%s",
			    "(manual 5.7.2)", "");
		}
	}
	if (kind == ADM_MAILBOX && strcmp(field, "autoresponder_enabled") == 0 &&
	    strcmp(stored, "1") == 0) {
		char *name = NULL;
		if (db_query_text(db, &name, error_r, "SELECT name FROM mailbox "
		    "WHERE id = ?", "i", id) < 0) {
			free(stored);
			return adm_status_of(db);
		}
		bool pm = name != NULL && strcasecmp(name, "postmaster") == 0;
		free(name);
		if (pm) {
			free(stored);
			return adm_invalid(db, error_r, "the postmaster mailbox cannot "
			    "have an auto responder%s%s", " (manual 5.5.6)", "");
		}
	}
	if (kind == ADM_POSTOFFICE && strcmp(field, "usage_notify_mailbox") == 0 &&
	    *stored != '\0' && (r = check_target(db, id, stored, error_r)) < 0) {
		free(stored);
		return r;
	}
	/* an administrator's two-factor setting is no longer the user's own
	 * (whom the webmail then lets turn it off) */
	if (kind == ADM_MAILBOX && strcmp(field, "twofactor_mode") == 0 &&
	    db_exec(db, error_r, "UPDATE mailbox SET twofactor_self = 0 "
	    "WHERE id = ?", "i", id) < 0) {
		free(stored);
		return adm_status_of(db);
	}
	sql = xasprintf("UPDATE %s SET %s = ? WHERE id = ?", kinds[kind].table,
	    field_column(f));
	if (field_is_numeric(f))
		r = db_exec(db, error_r, sql, "ii",
		    (int64_t)strtoll(stored, NULL, 10), id);
	else
		r = db_exec(db, error_r, sql, "ti", stored, id);
	free(sql);
	free(stored);
	return r < 0 ? adm_status_of(db) : ADM_OK;
}

/* utf8_chars - characters (code points) in s */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* contains_name - whether password contains name, ignoring ASCII case;
 * names under 3 characters ("al", "x") are too common to refuse */
static bool
contains_name(const char *password, const char *name)
{
	size_t n = strlen(name), len = strlen(password);

	if (n < 3 || n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(password + i, name, n) == 0)
			return true;
	return false;
}

int
adm_password_check(struct db *db, const char *postoffice, const char *mailbox,
		   const char *password, const char **error_r)
{
	int64_t min = 0, reject;
	char *rule = NULL;
	size_t chars = utf8_chars(password);

	/* the post office's own rule first; a post office not created yet
	 * (adm_postoffice_add checks before inserting) has the defaults */
	if (db_query_int(db, &min, 0, error_r, "SELECT password_min_length FROM "
	    "postoffice WHERE name = ?", "t", postoffice) < 0 ||
	    db_query_text(db, &rule, error_r, "SELECT password_reject_names FROM "
	    "postoffice WHERE name = ?", "t", postoffice) < 0) {
		free(rule);
		return adm_status_of(db);
	}
	bool own_min = min > 0;
	if (!own_min)
		min = settings_current(db)->password_min_length;
	if (rule != NULL && strcmp(rule, "yes") == 0)
		reject = 1;
	else if (rule != NULL && strcmp(rule, "no") == 0)
		reject = 0;
	else
		reject = settings_current(db)->password_reject_names;
	free(rule);
	if (chars < (size_t)min) {
		db_errorf(db, error_r, "the password is too short: %zu character%s, "
		    "at least %lld (%s%s)", chars, chars == 1 ? "" : "s", (long long)min,
		    own_min ? "password_min_length of post office " :
		    "password.min_length", own_min ? postoffice : "");
		return ADM_INVALID;
	}
	if (password[strspn(password, " \t")] == '\0') {
		db_errorf(db, error_r, "the password is only spaces");
		return ADM_INVALID;
	}
	if (reject && (contains_name(password, mailbox) ||
	    contains_name(password, postoffice))) {
		db_errorf(db, error_r, "the password contains the %s name '%s' "
		    "(password.reject_names; a post office may set "
		    "password_reject_names=no)", contains_name(password, mailbox) ?
		    "mailbox" : "post office", contains_name(password, mailbox) ?
		    mailbox : postoffice);
		return ADM_INVALID;
	}
	return ADM_OK;
}

static char *
make_hash(struct db *db, const char *password, const char *hash,
	  const char **error_r)
{
	const char *err;
	char *scheme, *h;

	if (password == NULL) {
		h = passwd_import_hash(hash, &err);
		if (h == NULL)
			db_errorf(db, error_r, "password hash: %s", err);
		return h;
	}
	if (*password == '\0') {
		db_errorf(db, error_r, "the password is empty");
		return NULL;
	}
	if (strlen(password) > 1024) {
		db_errorf(db, error_r, "the password is longer than 1024 bytes");
		return NULL;
	}
	scheme = xstrdup(settings_text(settings_current(db), SETTING_password_scheme));
	h = passwd_hash(password, scheme, &err);
	free(scheme);
	if (h == NULL)
		db_errorf(db, error_r, "hashing the password: %s", err);
	return h;
}

/* maildir_create - root/{cur,new,tmp}. The parents exist but for the
 * first mailbox of a post office, so the leaf is tried first: mkdir_p of
 * each subdirectory made 18 mkdir calls per mailbox, most of the time of
 * an import of hashes. */
static int
maildir_create(const char *root)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char *p;

	if (mkdir(root, 0700) < 0 && errno != EEXIST &&
	    (errno != ENOENT || mkdir_p(root, 0700) < 0))
		return -1;
	for (size_t i = 0; i < 3; i++) {
		p = path_join(root, subs[i]);
		int r = mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int
mailbox_insert(struct db *db, const struct adm_mailbox_spec *spec,
	       int64_t *id_r, const char **error_r)
{
	struct dir_postoffice po;
	const char *err;
	char *hash, *type;
	int64_t quota = spec->quota_kb, exists;
	int r;

	if (name_check(spec->name, &err) < 0)
		return adm_invalid(db, error_r, "mailbox name '%s': %s", spec->name, err);
	r = dir_postoffice_get(db, spec->postoffice, &po, error_r);
	if (r < 0)
		return adm_status_of(db);
	if (r == 0) {
		/* eve@contoso.test: a domain where the post office belongs */
		struct dir_domain dd;
		char *lower = xstrdup(spec->postoffice);
		str_lower(lower);
		if (dir_domain_get(db, lower, &dd, &err) == 1)
			db_errorf(db, error_r, "'%s@%s': a mailbox is named "
			    "NAME@POSTOFFICE, and %s is a domain of post office "
			    "'%s': give %s@%s", spec->name, spec->postoffice,
			    lower, dd.postoffice, spec->name, dd.postoffice);
		else
			db_errorf(db, error_r, "post office '%s' does not exist (a "
			    "mailbox is named NAME@POSTOFFICE; postern postoffice "
			    "list shows them)", spec->postoffice);
		free(lower);
		return ADM_NOTFOUND;
	}
	if (db_query_int(db, &exists, 0, error_r,
	    "SELECT count(*) FROM mailbox WHERE postoffice_id = ? AND name = ?",
	    "it", po.id, spec->name) < 0)
		return adm_status_of(db);
	if (exists) {
		db_errorf(db, error_r, "mailbox '%s@%s' already exists", spec->name,
		    po.name);
		return ADM_EXISTS;
	}
	type = field_parse(field_find(mailbox_fields, "type"),
	    spec->type ? spec->type : "USER", &err);
	if (type == NULL)
		return adm_invalid(db, error_r, "type '%s': %s", spec->type, err);
	if (spec->friendly_name && (strlen(spec->friendly_name) > 1000 ||
	    strpbrk(spec->friendly_name, "\r\n"))) {
		free(type);
		return adm_invalid(db, error_r, "friendly name '%s': %s", spec->friendly_name,
		    "must be one line of at most 1000 bytes");
	}
	if (quota < 0)
		quota = settings_current(db)->mailbox_default_quota;
	if (spec->password != NULL && *spec->password != '\0' &&
	    (r = adm_password_check(db, po.name, spec->name, spec->password,
	    error_r)) != ADM_OK) {
		free(type);
		return r;
	}
	hash = make_hash(db, spec->password, spec->password_hash, error_r);
	if (hash == NULL) {
		free(type);
		return ADM_INVALID;
	}
	r = db_exec(db, error_r,
	    "INSERT INTO mailbox (postoffice_id, name, created, password_hash, "
	    "type, quota_kb, friendly_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    "itittit",
	    po.id, spec->name, (int64_t)time(NULL), hash, type, quota,
	    spec->friendly_name ? spec->friendly_name : "");
	free(hash);
	free(type);
	if (r < 0)
		return adm_status_of(db);
	*id_r = db_last_id(db);
	if (!spec->no_auto_address &&
	    settings_current(db)->mailbox_auto_address != 0) {
		/* manual 5.3: name@domain for each domain of the post office;
		 * an address already taken by something else is left alone */
		if (db_exec(db, error_r,
		    "INSERT OR IGNORE INTO address (address, postoffice_id, domain_id, "
		    "kind, target_id) SELECT lower(?) || '@' || d.name, d.postoffice_id, "
		    "d.id, 'mailbox', ? FROM domain d WHERE d.postoffice_id = ?",
		    "tii", spec->name, *id_r, po.id) < 0)
			return adm_status_of(db);
	}
	return ADM_OK;
}

int
adm_mailbox_add(struct db *db, const struct adm_mailbox_spec *spec,
		const char **error_r)
{
	int64_t id = 0;
	int r;

	TX(r = mailbox_insert(db, spec, &id, error_r));
	if (r == ADM_OK && !spec->no_store)
		r = adm_mailbox_make_store(db, spec->postoffice, spec->name, error_r);
	return r;
}

int
adm_mailbox_make_store(struct db *db, const char *postoffice, const char *name,
		       const char **error_r)
{
	char *path = dir_mailbox_path_names(db, postoffice, name);
	int r = ADM_OK;

	if (maildir_create(path) < 0) {
		db_errorf(db, error_r, "mailbox created, but its store %s: %s",
		    path, strerror(errno));
		r = ADM_FAIL;
	}
	free(path);
	return r;
}

int
adm_postoffice_add(struct db *db, const char *name, const char *password,
		   const char **error_r)
{
	const char *err;
	int64_t id;
	int r;

	if (name_check(name, &err) < 0)
		return adm_invalid(db, error_r, "post office name '%s': %s", name, err);
	if (password == NULL || *password == '\0')
		return adm_invalid(db, error_r,
		    "post office '%s' needs a password for its postmaster mailbox%s",
		    name, " (manual 5.3.2)");
	if (adm_object_id(db, ADM_POSTOFFICE, name, &id, &err) == ADM_OK) {
		db_errorf(db, error_r, "post office '%s' already exists", name);
		return ADM_EXISTS;
	}
	struct adm_mailbox_spec pm = {
		.postoffice = name, .name = "postmaster", .password = password,
		.quota_kb = 0, .type = "ADMIN",
	};
	TX({
		r = db_exec(db, error_r,
		    "INSERT INTO postoffice (name, created) VALUES (?, ?)", "ti",
		    name, (int64_t)time(NULL)) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = mailbox_insert(db, &pm, &id, error_r);
	});
	if (r == ADM_OK) {
		char *path = dir_mailbox_path_names(db, name, "postmaster");
		if (maildir_create(path) < 0) {
			db_errorf(db, error_r, "post office created, but its store %s: %s",
			    path, strerror(errno));
			r = ADM_FAIL;
		}
		free(path);
	}
	return r;
}

static char *
postoffice_store(struct db *db, const char *name)
{
	char *store = settings_store_path(db), *lower = xstrdup(name), *p;

	str_lower(lower);
	p = path_join(store, lower);
	free(store);
	free(lower);
	return p;
}

int
adm_postoffice_del(struct db *db, const char *name, bool keep_data,
		   const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_POSTOFFICE, name, &id, error_r)) < 0)
		return r;
	TX(r = db_exec(db, error_r, "DELETE FROM postoffice WHERE id = ?", "i",
	    id) < 0 ? adm_status_of(db) : ADM_OK);
	/* its logos go with it, the mail only without keep_data */
	if (r == ADM_OK)
		(void)brand_remove(db_root(db), name, NULL);
	if (r == ADM_OK && !keep_data) {
		char *p = postoffice_store(db, name);
		if (rm_rf(p) < 0) {
			db_errorf(db, error_r, "post office deleted, but removing %s: %s",
			    p, strerror(errno));
			r = ADM_FAIL;
		}
		free(p);
	}
	return r;
}

int
adm_postoffice_set_quota(struct db *db, const char *name, int64_t quota_kb,
			 int *count_r, const char **error_r)
{
	int64_t id;
	int r;

	*count_r = 0;
	if ((r = adm_object_id(db, ADM_POSTOFFICE, name, &id, error_r)) < 0)
		return r;
	if (quota_kb < 0)
		return adm_invalid(db, error_r, "quota must not be negative%s%s", "", "");
	TX({
		r = db_exec(db, error_r,
		    "UPDATE mailbox SET quota_kb = ? WHERE postoffice_id = ?", "ii",
		    quota_kb, id) < 0 ? adm_status_of(db) : ADM_OK;
		*count_r = db_changes(db);
	});
	return r;
}

int
adm_domain_add(struct db *db, const char *name, const char *postoffice,
	       const char **error_r)
{
	const char *err;
	int64_t po_id, id;
	char *lower, alabel[IDN_DOMAIN_MAX + 1];
	int r;

	/* an IDN given in UTF-8 is kept in A-label form (lib/idn.h) */
	if (idn_has_utf8(name)) {
		if (idn_to_ascii(name, alabel, sizeof(alabel), &err) < 0)
			return adm_invalid(db, error_r, "domain '%s': not a valid "
			    "internationalized domain name: %s", name, err);
		name = alabel;
	}
	if (domain_check(name, &err) < 0)
		return adm_invalid(db, error_r, "domain '%s': %s", name, err);
	if ((r = adm_object_id(db, ADM_POSTOFFICE, postoffice, &po_id, error_r)) < 0)
		return r;
	if (adm_object_id(db, ADM_DOMAIN, name, &id, &err) == ADM_OK) {
		db_errorf(db, error_r, "domain '%s' already exists", name);
		return ADM_EXISTS;
	}
	lower = xstrdup(name);
	str_lower(lower);
	TX(r = db_exec(db, error_r,
	    "INSERT INTO domain (name, postoffice_id, created) VALUES (?, ?, ?)",
	    "tii", lower, po_id, (int64_t)time(NULL)) < 0 ? adm_status_of(db) : ADM_OK);
	free(lower);
	return r;
}

int
adm_domain_del(struct db *db, const char *name, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, name, &id, error_r)) < 0)
		return r;
	/* the domain's addresses and lists go with it (foreign keys); its
	 * groups have no domain column, so they are deleted here, or they
	 * would stay without an address */
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM grp WHERE id IN (SELECT target_id FROM address "
		    "WHERE kind = 'group' AND domain_id = ?)", "i", id) < 0 ?
		    adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = db_exec(db, error_r, "DELETE FROM domain WHERE id = ?",
			    "i", id) < 0 ? adm_status_of(db) : ADM_OK;
	});
	return r;
}

int
adm_blacklist_add(struct db *db, const char *domain, const char *sender,
		  const char **error_r)
{
	const char *err;
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	if (domain_check(sender, &err) < 0)
		return adm_invalid(db, error_r, "blacklisted domain '%s': %s", sender, err);
	char *lower = xstrdup(sender);
	str_lower(lower);
	int64_t have = 0;
	if (db_query_int(db, &have, 0, error_r, "SELECT count(*) FROM "
	    "domain_blacklist WHERE domain_id = ? AND sender_domain = ?", "it",
	    id, lower) == 0 && have > 0) {
		db_errorf(db, error_r, "%s is already blacklisted for %s", lower,
		    domain);
		free(lower);
		return ADM_EXISTS;
	}
	TX(r = db_exec(db, error_r,
	    "INSERT INTO domain_blacklist (domain_id, sender_domain) VALUES (?, ?)",
	    "it", id, lower) < 0 ? adm_status_of(db) : ADM_OK);
	free(lower);
	return r;
}

int
adm_blacklist_del(struct db *db, const char *domain, const char *sender,
		  const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM domain_blacklist WHERE domain_id = ? AND sender_domain = ?",
		    "it", id, sender) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK && db_changes(db) == 0) {
			db_errorf(db, error_r, "'%s' is not blacklisted for %s", sender, domain);
			r = ADM_NOTFOUND;
		}
	});
	return r;
}

int
adm_mailbox_passwd(struct db *db, const char *ident, const char *password,
		   const char *hash, const char **error_r)
{
	return adm_mailbox_passwd_keep(db, ident, password, hash, 0, error_r);
}

int
adm_mailbox_passwd_keep(struct db *db, const char *ident, const char *password,
			const char *hash, int64_t keep_session,
			const char **error_r)
{
	int64_t id;
	char *h;
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, ident, &id, error_r)) < 0)
		return r;
	if (password != NULL && *password != '\0') {
		struct dir_mailbox mb;
		if (dir_mailbox_get(db, id, &mb, error_r) != 1)
			return adm_status_of(db);
		if ((r = adm_password_check(db, mb.postoffice, mb.name, password,
		    error_r)) != ADM_OK)
			return r;
	}
	if ((h = make_hash(db, password, hash, error_r)) == NULL)
		return ADM_INVALID;
	/* a new password ends the mailbox's web sessions (the protocol
	 * services end theirs: lib-service/logins.c); API tokens are
	 * credentials of their own and stay until revoked */
	TX({
		r = db_exec(db, error_r, "UPDATE mailbox SET password_hash = ? "
		    "WHERE id = ?", "ti", h, id) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = db_exec(db, error_r, "DELETE FROM web_session WHERE "
			    "mailbox_id = ? AND id != ?", "ii", id,
			    keep_session) < 0 ? adm_status_of(db) : ADM_OK;
	});
	free(h);
	return r;
}

int
adm_mailbox_del(struct db *db, const char *ident, bool keep_data,
		const char **error_r)
{
	struct dir_mailbox mb;
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, ident, &id, error_r)) < 0)
		return r;
	if (dir_mailbox_get(db, id, &mb, error_r) != 1)
		return adm_status_of(db);
	if (strcasecmp(mb.name, "postmaster") == 0) {
		db_errorf(db, error_r,
		    "the postmaster mailbox is mandatory; delete the post office instead");
		return ADM_INVALID;
	}
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM address WHERE kind = 'mailbox' AND target_id = ?",
		    "i", id) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = db_exec(db, error_r, "DELETE FROM mailbox WHERE id = ?", "i",
			    id) < 0 ? adm_status_of(db) : ADM_OK;
	});
	if (r == ADM_OK && !keep_data) {
		char *p = dir_mailbox_path(db, &mb);
		if (rm_rf(p) < 0) {
			db_errorf(db, error_r, "mailbox deleted, but removing %s: %s", p,
			    strerror(errno));
			r = ADM_FAIL;
		}
		free(p);
	}
	return r;
}

int
adm_redirect_add(struct db *db, const char *ident, const char *address,
		 const char **error_r)
{
	const char *err;
	int64_t id, n;
	char *a;
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, ident, &id, error_r)) < 0)
		return r;
	if ((a = address_normalize(address, &err)) == NULL)
		return adm_invalid(db, error_r, "redirect address '%s': %s", address, err);
	if (db_query_int(db, &n, 0, error_r,
	    "SELECT count(*) FROM redirect WHERE mailbox_id = ?", "i", id) < 0) {
		free(a);
		return adm_status_of(db);
	}
	if (n >= 25) {
		free(a);
		return adm_invalid(db, error_r,
		    "'%s' has %s redirect addresses already; use a group for more (manual 5.5.5)",
		    ident, "25");
	}
	TX(r = db_exec(db, error_r,
	    "INSERT INTO redirect (mailbox_id, address) VALUES (?, ?)", "it", id, a) < 0 ?
	    adm_status_of(db) : ADM_OK);
	free(a);
	return r;
}

int
adm_redirect_del(struct db *db, const char *ident, const char *address,
		 const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, ident, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM redirect WHERE mailbox_id = ? AND address = ?", "it",
		    id, address) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK && db_changes(db) == 0) {
			db_errorf(db, error_r, "'%s' does not redirect to %s", ident, address);
			r = ADM_NOTFOUND;
		}
	});
	return r;
}

bool
adm_password_field_is_hash(const char *field)
{
	const char *err;
	char *h;

	if (field[0] != '{' && field[0] != '$')
		return false;
	h = passwd_import_hash(field, &err);
	free(h);
	return h != NULL;
}
