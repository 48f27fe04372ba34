/* selector - DKIM selectors of a domain (selector.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "dkim.h"
#include "selector.h"
#include "strutil.h"
#include "xalloc.h"

/* TX - one transaction around body (which sets r), as in admin.c */
#define TX(body) do { \
	bool outer_; \
	r = adm_tx_begin(db, &outer_, error_r); \
	if (r == ADM_OK) { \
		body; \
		const char *e2_; \
		if (adm_tx_end(db, outer_, r == ADM_OK, \
		    r == ADM_OK ? error_r : &e2_) < 0 && r == ADM_OK) \
			r = ADM_FAIL; \
	} \
} while (0)

bool
adm_selector_valid(const char *s)
{
	size_t label = 0, len = strlen(s);

	if (len == 0 || len > 63 * 2 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && !(s[i] == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return s[len - 1] != '-';
}

/* granularity_valid - a local part (dot-atom text) or "*" patterns of
 * RFC 4871 g=; nothing that would break the record */
static bool
granularity_valid(const char *g)
{
	if (strlen(g) > 64)
		return false;
	for (; *g != '\0'; g++)
		if ((unsigned char)*g <= 0x20 || (unsigned char)*g >= 0x7f ||
		    strchr(";\"\\@()<>[]:,", *g) != NULL)
			return false;
	return true;
}

static bool
one_line(const char *s, size_t max)
{
	if (strlen(s) > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
adm_selector_id(struct db *db, const char *domain, const char *selector,
		int64_t *id_r, const char **error_r)
{
	int64_t dom;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &dom, error_r)) < 0)
		return r;
	if (db_query_int(db, id_r, 0, error_r, "SELECT id FROM dkim_selector "
	    "WHERE domain_id = ? AND name = ?", "it", dom, selector) < 0)
		return ADM_FAIL;
	if (*id_r == 0) {
		db_errorf(db, error_r, "domain %s has no DKIM selector '%s'",
		    domain, selector);
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
adm_selector_add(struct db *db, const char *domain, const char *selector,
		 const struct adm_selector_spec *spec, const char **error_r)
{
	enum dkim_alg alg;
	char *alg_name = NULL, *pem = NULL, *pub = NULL, *name;
	const char *err;
	int64_t dom, exists, active;
	int r, bits = spec->bits;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &dom, error_r)) < 0)
		return r;
	if (!adm_selector_valid(selector)) {
		db_errorf(db, error_r, "selector '%s': letters, digits and hyphens "
		    "in dot-separated labels (RFC 6376 3.1)", selector);
		return ADM_INVALID;
	}
	if (spec->granularity != NULL && !granularity_valid(spec->granularity)) {
		db_errorf(db, error_r, "granularity '%s': a local part without "
		    "white space, quotes or ;", spec->granularity);
		return ADM_INVALID;
	}
	if (spec->notes != NULL && !one_line(spec->notes, 1000)) {
		db_errorf(db, error_r, "notes: one line of at most 1000 bytes");
		return ADM_INVALID;
	}
	if (spec->algorithm == NULL &&
	    db_query_text(db, &alg_name, error_r, "SELECT dkim_algorithm FROM "
	    "domain WHERE id = ?", "i", dom) < 0)
		return ADM_FAIL;
	const char *a = spec->algorithm ? spec->algorithm :
	    alg_name ? alg_name : "rsa-sha256";
	if (dkim_alg_parse(a, strlen(a), &alg) < 0) {
		db_errorf(db, error_r, "algorithm '%s': rsa-sha256 or ed25519-sha256", a);
		free(alg_name);
		return ADM_INVALID;
	}
	free(alg_name);
	if (alg == DKIM_ED25519_SHA256) {
		if (bits != 0 && bits != 256) {
			db_errorf(db, error_r, "an Ed25519 key has no size to choose");
			return ADM_INVALID;
		}
		bits = 256;
	} else if (bits == 0) {
		bits = 2048;
	}
	name = xstrdup(selector);
	str_lower(name);
	if (db_query_int(db, &exists, 0, error_r, "SELECT count(*) FROM "
	    "dkim_selector WHERE domain_id = ? AND name = ?", "it", dom, name) < 0) {
		free(name);
		return ADM_FAIL;
	}
	if (exists) {
		db_errorf(db, error_r, "domain %s has a selector '%s' already",
		    domain, name);
		free(name);
		return ADM_EXISTS;
	}
	if (spec->private_key != NULL) {
		struct dkim_key *k = dkim_key_private(spec->private_key, &err);
		if (k == NULL) {
			db_errorf(db, error_r, "the key to import: %s", err);
			free(name);
			return ADM_INVALID;
		}
		enum dkim_alg kalg = dkim_key_alg(k);
		int kbits = kalg == DKIM_ED25519_SHA256 ? 256 : dkim_key_bits(k);
		bool clash = (spec->algorithm != NULL && kalg != alg) ||
		    (spec->bits != 0 && spec->bits != kbits);
		if (clash || (kalg == DKIM_RSA_SHA256 && (kbits < 1024 ||
		    kbits > 8192))) {
			dkim_key_free(&k);
			db_errorf(db, error_r, clash ? "the key to import does not match "
			    "--algorithm or --bits" : "an imported RSA key has 1024 to "
			    "8192 bits (RFC 8301)");
			free(name);
			return ADM_INVALID;
		}
		alg = kalg;
		bits = kbits;
		pem = xstrdup(spec->private_key);
		pub = dkim_key_p(k);
		dkim_key_free(&k);
	} else if (dkim_keygen(alg, bits, &pem, &pub, &err) < 0) {
		/* (outside the transaction: a 4096-bit key takes a while) */
		db_errorf(db, error_r, "%s", err);
		free(name);
		return ADM_INVALID;
	}
	TX({
		if (db_query_int(db, &active, 0, error_r, "SELECT count(*) FROM "
		    "dkim_selector WHERE domain_id = ? AND active <> 0", "i", dom) < 0)
			r = ADM_FAIL;
		bool act = spec->activate || active == 0;
		if (r == ADM_OK && act && db_exec(db, error_r, "UPDATE dkim_selector "
		    "SET active = 0 WHERE domain_id = ?", "i", dom) < 0)
			r = ADM_FAIL;
		if (r == ADM_OK && db_exec(db, error_r, "INSERT INTO dkim_selector "
		    "(domain_id, name, algorithm, key_bits, private_key, public_key, "
		    "test_mode, granularity, notes, active, created) VALUES "
		    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "ittittbttbi", dom, name,
		    dkim_alg_name(alg), (int64_t)bits, pem, pub, spec->test,
		    spec->granularity ? spec->granularity : "",
		    spec->notes ? spec->notes : "", act, (int64_t)time(NULL)) < 0)
			r = ADM_FAIL;
	});
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	free(pub);
	free(name);
	return r;
}

int
adm_selector_activate(struct db *db, const char *domain, const char *selector,
		      const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_selector_id(db, domain, selector, &id, error_r)) < 0)
		return r;
	TX({
		if (db_exec(db, error_r, "UPDATE dkim_selector SET active = (id = ?) "
		    "WHERE domain_id = (SELECT domain_id FROM dkim_selector WHERE "
		    "id = ?)", "ii", id, id) < 0)
			r = ADM_FAIL;
	});
	return r;
}

int
adm_selector_set(struct db *db, const char *domain, const char *selector,
		 const char *field, const char *value, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_selector_id(db, domain, selector, &id, error_r)) < 0)
		return r;
	if (strcmp(field, "test_mode") == 0 || strcmp(field, "test") == 0) {
		bool b;
		if (parse_bool(value, &b) < 0) {
			db_errorf(db, error_r, "test_mode: yes or no");
			return ADM_INVALID;
		}
		TX({
			if (db_exec(db, error_r, "UPDATE dkim_selector SET test_mode = ? "
			    "WHERE id = ?", "bi", b, id) < 0)
				r = ADM_FAIL;
		});
		return r;
	}
	if (strcmp(field, "granularity") == 0 || strcmp(field, "notes") == 0) {
		bool g = field[0] == 'g';
		if (g ? !granularity_valid(value) : !one_line(value, 1000)) {
			db_errorf(db, error_r, "%s: '%s' is not valid", field, value);
			return ADM_INVALID;
		}
		TX({
			if (db_exec(db, error_r, g ? "UPDATE dkim_selector SET "
			    "granularity = ? WHERE id = ?" : "UPDATE dkim_selector SET "
			    "notes = ? WHERE id = ?", "ti", value, id) < 0)
				r = ADM_FAIL;
		});
		return r;
	}
	db_errorf(db, error_r, "a selector has no setting '%s' (test_mode, "
	    "granularity, notes)", field);
	return ADM_INVALID;
}

int
adm_selector_del(struct db *db, const char *domain, const char *selector,
		 const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_selector_id(db, domain, selector, &id, error_r)) < 0)
		return r;
	TX({
		if (db_exec(db, error_r, "DELETE FROM dkim_selector WHERE id = ?",
		    "i", id) < 0)
			r = ADM_FAIL;
	});
	return r;
}

static json_t *
col_json(struct db_stmt *st, int i)
{
	const char *v = db_col_text(st, i);
	return json_string(v ? (const char *)v : "");
}

int
adm_selector_json(struct db *db, const char *domain, const char *selector,
		  json_t **v_r, const char **error_r)
{
	int64_t dom;
	int r;

	if ((r = adm_object_id(db, ADM_DOMAIN, domain, &dom, error_r)) < 0)
		return r;
	/* the private key is never read here */
	struct db_stmt *st = db_query(db, error_r, "SELECT name, algorithm, "
	    "public_key, granularity, notes, key_bits, created, active, test_mode "
	    "FROM dkim_selector WHERE domain_id = ?1 AND (?2 = '*' OR CASE WHEN "
	    "?2 IS NULL THEN active ELSE name = lower(?2) END) ORDER BY name",
	    "it", dom, selector);
	if (st == NULL)
		return ADM_FAIL;
	json_t *arr = json_array();
	while (db_step(st, NULL) == DB_ROW) {
		enum dkim_alg alg = DKIM_RSA_SHA256;
		const char *an = db_col_text(st, 1);
		const char *pub = db_col_text(st, 2);
		const char *gran = db_col_text(st, 3);
		bool test = db_col_int(st, 8) != 0;
		dkim_alg_parse(an ? an : "", an ? strlen(an) : 0, &alg);
		char *rec = dkim_record(alg, pub ? pub : "", test, gran ? gran : "");
		char *zone = dkim_record_zone(rec);
		json_t *o = json_object();
		json_object_set_new(o, "domain", json_string(domain));
		json_object_set_new(o, "selector", col_json(st, 0));
		json_object_set_new(o, "algorithm", col_json(st, 1));
		json_object_set_new(o, "bits", json_integer(db_col_int(st,
		    5)));
		json_object_set_new(o, "active", json_boolean(db_col_int(st,
		    7)));
		json_object_set_new(o, "test_mode", json_boolean(test));
		json_object_set_new(o, "granularity", col_json(st, 3));
		json_object_set_new(o, "notes", col_json(st, 4));
		json_object_set_new(o, "created", json_integer(
		    db_col_int(st, 6)));
		json_object_set_new(o, "dns_name", json_sprintf("%s._domainkey.%s",
		    db_col_text(st, 0), domain));
		json_object_set_new(o, "record", json_string(rec));
		json_object_set_new(o, "zone", json_string(zone));
		free(rec);
		free(zone);
		json_array_append_new(arr, o);
	}
	db_stmt_free(&st);
	if (selector != NULL && strcmp(selector, "*") == 0) {
		*v_r = arr;
		return ADM_OK;
	}
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		*error_r = selector == NULL ? "the domain has no active DKIM "
		    "selector" : "the domain has no such DKIM selector";
		return ADM_NOTFOUND;
	}
	*v_r = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return ADM_OK;
}
