/* passkey - WebAuthn credentials of the web login (passkey.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "admin.h"
#include "b64url.h"
#include "passkey.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define CHALLENGE_LEN 32
#define CBOR_ITEMS_MAX 512
#define CHALLENGES_MAX 10000      /* pending at once */

/* field_bytes - the base64url string obj.name decoded (new), or NULL */
static unsigned char *
field_bytes(json_t *obj, const char *name, size_t *n_r)
{
	const char *s = json_string_value(json_object_get(obj, name));

	return s != NULL ? b64url_decode(s, PASSKEY_INPUT_MAX, n_r) : NULL;
}

/* ----------------------------------------------------------------- CBOR */

/* the walk's view of one item header: a container opened, or an error */
struct walk {
	bool opened;
	uint64_t count;         /* its items (a map's: 2 per entry) */
	const char *error;
};

static void
walk_fail(struct walk *w, const char *why)
{
	if (w->error == NULL)
		w->error = why;
}

static void
cb_array(void *c, uint64_t n)
{
	struct walk *w = c;

	w->opened = true;
	w->count = n;
}

static void
cb_map(void *c, uint64_t n)
{
	struct walk *w = c;

	if (n > UINT64_MAX / 2) {
		walk_fail(w, "a CBOR map too large");
		return;
	}
	w->opened = true;
	w->count = 2 * n;
}

static void
cb_indef(void *c)
{
	walk_fail(c, "indefinite-length CBOR (not CTAP2 canonical)");
}

static void
cb_tag(void *c, uint64_t t)
{
	(void)t;
	walk_fail(c, "tagged CBOR items are not expected here");
}

static void cb_str(void *c, cbor_data d, uint64_t n) { (void)c; (void)d; (void)n; }
static void cb_u8(void *c, uint8_t v) { (void)c; (void)v; }
static void cb_u16(void *c, uint16_t v) { (void)c; (void)v; }
static void cb_u32(void *c, uint32_t v) { (void)c; (void)v; }
static void cb_u64(void *c, uint64_t v) { (void)c; (void)v; }
static void cb_f(void *c, float v) { (void)c; (void)v; }
static void cb_d(void *c, double v) { (void)c; (void)v; }
static void cb_b(void *c, bool v) { (void)c; (void)v; }
static void cb_none(void *c) { (void)c; }

static const struct cbor_callbacks walk_callbacks = {
	.uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
	.negint8 = cb_u8, .negint16 = cb_u16, .negint32 = cb_u32,
	.negint64 = cb_u64, .byte_string = cb_str, .string = cb_str,
	.byte_string_start = cb_indef, .string_start = cb_indef,
	.indef_array_start = cb_indef, .indef_map_start = cb_indef,
	.array_start = cb_array, .map_start = cb_map, .tag = cb_tag,
	.float2 = cb_f, .float4 = cb_f, .float8 = cb_d, .undefined = cb_none,
	.null = cb_none, .boolean = cb_b, .indef_break = cb_indef,
};

int
passkey_cbor_check(const unsigned char *p, size_t n, size_t *len_r,
		   const char **error_r)
{
	size_t due[PASSKEY_CBOR_DEPTH + 1], off = 0;
	int depth = 0, items = 0;

	due[0] = 1;
	for (;;) {
		struct walk w = { .opened = false };
		if (off >= n) {
			*error_r = "the CBOR item is cut short";
			return -1;
		}
		if (++items > CBOR_ITEMS_MAX) {
			*error_r = "too many CBOR items";
			return -1;
		}
		/* one header (with a definite string's bytes) at a time */
		struct cbor_decoder_result r = cbor_stream_decode(p + off,
		    n - off, &walk_callbacks, &w);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
			*error_r = r.status == CBOR_DECODER_NEDATA ? "the CBOR "
			    "item is cut short" : "malformed CBOR";
			return -1;
		}
		if (w.error != NULL) {
			*error_r = w.error;
			return -1;
		}
		off += r.read;
		due[depth]--;
		if (w.opened) {
			/* each item takes a byte at least */
			if (w.count > n - off) {
				*error_r = "a CBOR container claims more items "
				    "than there are bytes";
				return -1;
			}
			if (depth == PASSKEY_CBOR_DEPTH) {
				*error_r = "CBOR nested too deep";
				return -1;
			}
			due[++depth] = (size_t)w.count;
		}
		while (depth > 0 && due[depth] == 0)
			depth--;
		if (depth == 0 && due[0] == 0) {
			*len_r = off;
			return 0;
		}
	}
}

/* cbor_parse - the one item at p, after the bounded walk (new item) */
static cbor_item_t *
cbor_parse(const unsigned char *p, size_t n, size_t *len_r,
	   const char **error_r)
{
	struct cbor_load_result res;
	size_t len;

	if (passkey_cbor_check(p, n, &len, error_r) < 0)
		return NULL;
	cbor_item_t *it = cbor_load(p, len, &res);
	if (it == NULL) {
		*error_r = "malformed CBOR";
		return NULL;
	}
	*len_r = len;
	return it;
}

/* map_get_text - the value of text key in map, or NULL */
static cbor_item_t *
map_get_text(cbor_item_t *map, const char *key)
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t kl = strlen(key);

	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (cbor_isa_string(pairs[i].key) &&
		    cbor_string_is_definite(pairs[i].key) &&
		    cbor_string_length(pairs[i].key) == kl &&
		    memcmp(cbor_string_handle(pairs[i].key), key, kl) == 0)
			return pairs[i].value;
	return NULL;
}

/* cbor_int_of - an integer item's value (major types 0 and 1) */
static bool
cbor_int_of(cbor_item_t *it, int64_t *v)
{
	if (!cbor_is_int(it))
		return false;
	uint64_t u = cbor_get_int(it);
	if (u > INT64_MAX)
		return false;
	*v = cbor_isa_uint(it) ? (int64_t)u : -1 - (int64_t)u;
	return true;
}

/* map_get_int - the value of integer key in map, or NULL */
static cbor_item_t *
map_get_int(cbor_item_t *map, int64_t key)
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	int64_t k;

	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (cbor_int_of(pairs[i].key, &k) && k == key)
			return pairs[i].value;
	return NULL;
}

/* bytes_of - a definite byte string's data and length */
static const unsigned char *
bytes_of(cbor_item_t *it, size_t *n)
{
	if (it == NULL || !cbor_isa_bytestring(it) ||
	    !cbor_bytestring_is_definite(it))
		return NULL;
	*n = cbor_bytestring_length(it);
	return cbor_bytestring_handle(it);
}

int
passkey_authdata_parse(const unsigned char *p, size_t n,
		       struct passkey_authdata *ad, const char **error_r)
{
	size_t off = 37, len;

	memset(ad, 0, sizeof(*ad));
	if (n < 37) {
		*error_r = "the authenticator data is too short";
		return -1;
	}
	memcpy(ad->rp_id_hash, p, 32);
	ad->flags = p[32];
	ad->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 |
	    (uint32_t)p[35] << 8 | p[36];
	if (ad->flags & PASSKEY_AT) {
		if (n < off + 18) {
			*error_r = "the attested credential data is cut short";
			return -1;
		}
		off += 16;   /* AAGUID */
		size_t idl = (size_t)p[off] << 8 | p[off + 1];
		off += 2;
		if (idl == 0 || idl > PASSKEY_CRED_ID_MAX || n - off < idl) {
			*error_r = "the credential id is empty, too long or cut "
			    "short";
			return -1;
		}
		ad->cred_id = p + off;
		ad->cred_id_len = idl;
		off += idl;
		if (passkey_cbor_check(p + off, n - off, &len, error_r) < 0)
			return -1;
		ad->cose_key = p + off;
		ad->cose_key_len = len;
		off += len;
	}
	if (ad->flags & PASSKEY_ED) {
		if (passkey_cbor_check(p + off, n - off, &len, error_r) < 0)
			return -1;
		off += len;
	}
	if (off != n) {
		*error_r = "bytes after the authenticator data";
		return -1;
	}
	return 0;
}

int
passkey_attestation_parse(const unsigned char *p, size_t n,
			  unsigned char **authdata_r, size_t *len_r,
			  const char **error_r)
{
	size_t len, adl = 0;

	*authdata_r = NULL;
	cbor_item_t *it = cbor_parse(p, n, &len, error_r);
	if (it == NULL)
		return -1;
	int r = -1;
	if (len != n || !cbor_isa_map(it)) {
		*error_r = "the attestation object is not one CBOR map";
		goto out;
	}
	cbor_item_t *fmt = map_get_text(it, "fmt");
	cbor_item_t *st = map_get_text(it, "attStmt");
	const unsigned char *ad = bytes_of(map_get_text(it, "authData"), &adl);
	if (fmt == NULL || !cbor_isa_string(fmt) || st == NULL ||
	    !cbor_isa_map(st) || ad == NULL) {
		*error_r = "the attestation object lacks fmt, attStmt or "
		    "authData";
		goto out;
	}
	if (!cbor_string_is_definite(fmt) || cbor_string_length(fmt) != 4 ||
	    memcmp(cbor_string_handle(fmt), "none", 4) != 0 ||
	    cbor_map_size(st) != 0) {
		*error_r = "only attestation \"none\" is accepted (the "
		    "registration asks for none)";
		goto out;
	}
	*authdata_r = xmalloc(adl > 0 ? adl : 1);
	memcpy(*authdata_r, ad, adl);
	*len_r = adl;
	r = 0;
out:
	cbor_decref(&it);
	return r;
}

/* key_der - a public key's DER SubjectPublicKeyInfo (new) */
static int
key_der(EVP_PKEY *k, unsigned char **der_r, size_t *n_r)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	if (n <= 0)
		return -1;
	*der_r = xmalloc((size_t)n);
	memcpy(*der_r, der, (size_t)n);
	*n_r = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

/* pkey_fromdata - a public key of type from params */
static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	if (params == NULL || c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	return k;
}

int
passkey_cose_key(const unsigned char *p, size_t n, unsigned char **der_r,
		 size_t *der_len_r, int *alg_r, const char **error_r)
{
	size_t len, xl = 0, yl = 0;
	int64_t kty, alg, crv = 0;
	EVP_PKEY *k = NULL;
	int r = -1;

	*der_r = NULL;
	cbor_item_t *it = cbor_parse(p, n, &len, error_r);
	if (it == NULL)
		return -1;
	if (len != n || !cbor_isa_map(it) || map_get_int(it, 1) == NULL ||
	    !cbor_int_of(map_get_int(it, 1), &kty) || map_get_int(it, 3) == NULL ||
	    !cbor_int_of(map_get_int(it, 3), &alg)) {
		*error_r = "the public key is not a COSE key with kty and alg";
		goto out;
	}
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (bld == NULL)
		abort();
	/* EC2 and OKP keys (RFC 9053 7.1, 7.2): -1 crv, -2 x, -3 y; RSA
	 * (RFC 8230 4): -1 n, -2 e */
	if (kty != 3 && map_get_int(it, -1) != NULL)
		(void)cbor_int_of(map_get_int(it, -1), &crv);
	const unsigned char *x = bytes_of(map_get_int(it, -2), &xl);
	const unsigned char *y = bytes_of(map_get_int(it, -3), &yl);
	if (alg == PASSKEY_ES256 && kty == 2 && crv == 1 && x != NULL &&
	    xl == 32 && y != NULL && yl == 32) {
		unsigned char pt[65];
		pt[0] = 0x04;
		memcpy(pt + 1, x, 32);
		memcpy(pt + 33, y, 32);
		OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		    "prime256v1", 0);
		OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
		    sizeof(pt));
		k = pkey_fromdata("EC", bld);
	} else if (alg == PASSKEY_EDDSA && kty == 1 && crv == 6 && x != NULL &&
	    xl == 32) {
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
	} else if (alg == PASSKEY_RS256 && kty == 3) {
		size_t nl = 0;
		const unsigned char *nn = bytes_of(map_get_int(it, -1), &nl);
		/* x is e here */
		if (nn != NULL && x != NULL && nl >= 256 && nl <= 512 &&
		    xl >= 1 && xl <= 8) {
			BIGNUM *bn = BN_bin2bn(nn, (int)nl, NULL);
			BIGNUM *be = BN_bin2bn(x, (int)xl, NULL);
			if (bn == NULL || be == NULL)
				abort();
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
			k = pkey_fromdata("RSA", bld);
			BN_free(bn);
			BN_free(be);
		}
	} else {
		*error_r = "the public key's algorithm is not ES256, EdDSA "
		    "(Ed25519) or RS256, or its parameters are wrong";
		OSSL_PARAM_BLD_free(bld);
		goto out;
	}
	OSSL_PARAM_BLD_free(bld);
	if (k == NULL || key_der(k, der_r, der_len_r) < 0) {
		*error_r = "the public key is not a valid key of its algorithm";
		goto out;
	}
	*alg_r = (int)alg;
	r = 0;
out:
	EVP_PKEY_free(k);
	cbor_decref(&it);
	return r;
}

/* ---------------------------------------------------------------- site */

/* origin_of - the scheme://host[:port] of url into out ("" when none) */
static void
origin_of(const char *url, char *out, size_t size)
{
	const char *h = strstr(url, "://");

	out[0] = '\0';
	if (h == NULL)
		return;
	size_t n = (size_t)(h + 3 - url) + strcspn(h + 3, "/?#");
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n < size)
		snprintf(out, size, "%.*s", (int)n, url);
}

/* host_ok - a DNS name: letters, digits, '-', '.', not an IP literal */
static bool
host_ok(const char *h)
{
	bool alpha = false;

	if (*h == '\0' || strlen(h) > 253 || *h == '.' || *h == '-')
		return false;
	for (const char *c = h; *c; c++) {
		if (isalpha((unsigned char)*c))
			alpha = true;
		else if (!isdigit((unsigned char)*c) && *c != '-' && *c != '.')
			return false;
	}
	return alpha;
}

int
passkey_site_make(struct db *db, const char *host, bool tls,
		  struct passkey_site *s, const char **error_r)
{
	const char *rp = settings_current(db)->auth_passkey_rp_id;
	const char *pub = settings_current(db)->http_public_url;

	memset(s, 0, sizeof(*s));
	if (host == NULL)
		host = "";
	snprintf(s->origin, sizeof(s->origin), "%s://%s", tls ? "https" :
	    "http", host);
	for (char *c = s->origin; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	origin_of(pub, s->public_origin, sizeof(s->public_origin));
	if (*rp != '\0')
		snprintf(s->rp_id, sizeof(s->rp_id), "%s", rp);
	else
		snprintf(s->rp_id, sizeof(s->rp_id), "%.*s",
		    (int)strcspn(host, ":"), host);
	for (char *c = s->rp_id; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!host_ok(s->rp_id)) {
		*error_r = "passkeys need a host name (not an address): open "
		    "the page by its name, or set auth.passkey_rp_id";
		return -1;
	}
	return 0;
}

/* origin_allowed - is origin one of the site's, on its rp id? */
static bool
origin_allowed(const struct passkey_site *s, const char *origin)
{
	if (strcasecmp(origin, s->origin) != 0 &&
	    (s->public_origin[0] == '\0' ||
	    strcasecmp(origin, s->public_origin) != 0))
		return false;
	/* and its host is the rp id or below it (WebAuthn 5.1.3 step 8) */
	const char *h = strstr(origin, "://") + 3;
	size_t hl = strcspn(h, ":"), rl = strlen(s->rp_id);
	return hl == rl ? strncasecmp(h, s->rp_id, hl) == 0 :
	    hl > rl && h[hl - rl - 1] == '.' &&
	    strncasecmp(h + hl - rl, s->rp_id, rl) == 0;
}

/* ----------------------------------------------------------- challenges */

/* challenge_new - a new challenge for purpose (base64url, new string) */
static char *
challenge_new(struct db *db, int64_t mailbox_id, const char *purpose,
	      const struct passkey_site *s, const char **error_r)
{
	unsigned char raw[CHALLENGE_LEN];
	int64_t now = (int64_t)time(NULL);

	int64_t pending = 0;
	if (db_exec(db, error_r, "DELETE FROM passkey_challenge WHERE expires "
	    "< ?", "i", now) < 0 || db_query_int(db, &pending, 0, error_r,
	    "SELECT count(*) FROM passkey_challenge", "") < 0)
		return NULL;
	/* unauthenticated clients ask for login challenges: bounded */
	if (pending >= CHALLENGES_MAX) {
		*error_r = "too many passkey requests at once; try again in a "
		    "few minutes";
		return NULL;
	}
	random_bytes(raw, sizeof(raw));
	char *c = b64url_encode(raw, sizeof(raw));
	if (db_exec(db, error_r, "INSERT INTO "
	    "passkey_challenge (challenge, mailbox_id, purpose, rp_id, expires) "
	    "VALUES (?, ?, ?, ?, ?)", "titti", c, mailbox_id, purpose, s->rp_id,
	    now + PASSKEY_CHALLENGE_TTL) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* challenge_take - consume challenge c of purpose: 1 with the mailbox
 * and rp id it was made for, 0 unknown, used or expired, -1 error */
static int
challenge_take(struct db *db, const char *c, const char *purpose,
	       int64_t *mailbox_r, char rp_id[256], const char **error_r)
{
	char *rp = NULL;
	int64_t mid = -1;

	if (db_query_int(db, &mid, -1, error_r, "SELECT mailbox_id FROM "
	    "passkey_challenge WHERE challenge = ? AND purpose = ? AND "
	    "expires >= ?", "tti", c, purpose, (int64_t)time(NULL)) < 0 ||
	    db_query_text(db, &rp, error_r, "SELECT rp_id FROM "
	    "passkey_challenge WHERE challenge = ?", "t", c) < 0)
		return -1;
	/* deleted whatever happens next: each challenge once */
	if (db_exec(db, error_r, "DELETE FROM passkey_challenge WHERE "
	    "challenge = ?", "t", c) < 0) {
		free(rp);
		return -1;
	}
	if (mid < 0 || rp == NULL || db_changes(db) != 1) {
		free(rp);
		return 0;
	}
	snprintf(rp_id, 256, "%s", rp);
	free(rp);
	*mailbox_r = mid;
	return 1;
}

/* ------------------------------------------------------------- options */

static json_t *
pub_key_params(void)
{
	return json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i}]",
	    "type", "public-key", "alg", PASSKEY_ES256,
	    "type", "public-key", "alg", PASSKEY_EDDSA,
	    "type", "public-key", "alg", PASSKEY_RS256);
}

/* credentials_of - [{type, id}] of mailbox_id's passkeys */
static json_t *
credentials_of(struct db *db, int64_t mailbox_id, const char **error_r)
{
	json_t *a = json_array();
	struct db_stmt *st = NULL;

	if ((st = db_query(db, error_r, "SELECT credential_id FROM passkey "
	    "WHERE mailbox_id = ? ORDER BY id", "i", mailbox_id)) == NULL) {
		json_decref(a);
		return NULL;
	}
	while (db_step(st, NULL) == DB_ROW)
		json_array_append_new(a, json_pack("{s:s,s:s}", "type",
		    "public-key", "id", db_col_text(st, 0)));
	db_stmt_free(&st);
	return a;
}

/* user_handle - the WebAuthn user handle of a mailbox: "m<id>" */
static void
user_handle(int64_t mailbox_id, char out[32])
{
	snprintf(out, 32, "m%lld", (long long)mailbox_id);
}

json_t *
passkey_register_options(struct db *db, const struct dir_mailbox *mb,
			 const struct passkey_site *s, const char **error_r)
{
	char who[NAME_MAX_LEN * 2 + 2], uh[32];

	if (passkey_count(db, mb->id) >= PASSKEY_MAX) {
		*error_r = "this mailbox has 20 passkeys already: remove one "
		    "first";
		return NULL;
	}
	json_t *ex = credentials_of(db, mb->id, error_r);
	if (ex == NULL)
		return NULL;
	char *c = challenge_new(db, mb->id, "register", s, error_r);
	if (c == NULL) {
		json_decref(ex);
		return NULL;
	}
	snprintf(who, sizeof(who), "%s@%s", mb->name, mb->postoffice);
	user_handle(mb->id, uh);
	char *uhb = b64url_encode((unsigned char *)uh, strlen(uh));
	json_t *o = json_pack("{s:s,s:{s:s,s:s},s:{s:s,s:s,s:s},s:o,s:i,"
	    "s:s,s:o,s:{s:s,s:s}}",
	    "challenge", c,
	    "rp", "id", s->rp_id, "name", "Postern",
	    "user", "id", uhb, "name", who, "displayName", who,
	    "pubKeyCredParams", pub_key_params(),
	    "timeout", PASSKEY_CHALLENGE_TTL * 1000,
	    "attestation", "none",
	    "excludeCredentials", ex,
	    "authenticatorSelection", "residentKey", "preferred",
	    "userVerification", "preferred");
	free(uhb);
	free(c);
	return o;
}

json_t *
passkey_login_options(struct db *db, int64_t mailbox_id,
		      const struct passkey_site *s, const char **error_r)
{
	json_t *allow = mailbox_id != 0 ? credentials_of(db, mailbox_id,
	    error_r) : json_array();

	if (allow == NULL)
		return NULL;
	char *c = challenge_new(db, mailbox_id, "login", s, error_r);
	if (c == NULL) {
		json_decref(allow);
		return NULL;
	}
	json_t *o = json_pack("{s:s,s:s,s:i,s:o,s:s}", "challenge", c,
	    "rpId", s->rp_id, "timeout", PASSKEY_CHALLENGE_TTL * 1000,
	    "allowCredentials", allow, "userVerification",
	    mailbox_id != 0 ? "preferred" : "required");
	free(c);
	return o;
}

/* ------------------------------------------------------------ verifying */

/* client_data_check - clientDataJSON (WebAuthn 5.8.1) of type: 1 with
 * its challenge taken (the mailbox and rp id it was made for), 0 refused
 * (*error_r), -1 error */
static int
client_data_check(struct db *db, const unsigned char *cd, size_t n,
		  const char *type, const char *purpose,
		  const struct passkey_site *s, int64_t *mailbox_r,
		  char rp_id[256], const char **error_r)
{
	json_t *v = json_loadb((const char *)cd, n, 0, NULL);
	const char *t = json_string_value(json_object_get(v, "type"));
	const char *c = json_string_value(json_object_get(v, "challenge"));
	const char *o = json_string_value(json_object_get(v, "origin"));
	int r = 0;

	if (t == NULL || c == NULL || o == NULL) {
		*error_r = "clientDataJSON lacks type, challenge or origin";
		goto out;
	}
	if (strcmp(t, type) != 0) {
		*error_r = "clientDataJSON is of the wrong type";
		goto out;
	}
	if (json_is_true(json_object_get(v, "crossOrigin"))) {
		*error_r = "a cross-origin passkey request is refused";
		goto out;
	}
	/* the challenge goes first, so a bad origin still uses it up */
	r = challenge_take(db, c, purpose, mailbox_r, rp_id, error_r);
	if (r == 0)
		*error_r = "the challenge is unknown, used already or expired";
	if (r <= 0)
		goto out;
	if (!origin_allowed(s, o) || strcasecmp(rp_id, s->rp_id) != 0) {
		*error_r = "the passkey was used from another origin";
		r = 0;
	}
out:
	json_decref(v);
	return r;
}

int
passkey_register(struct db *db, const struct dir_mailbox *mb,
		 const char *name, json_t *cred, const struct passkey_site *s,
		 const char **error_r)
{
	json_t *resp = json_object_get(cred, "response");
	size_t cdl = 0, aol = 0, adl = 0, derl = 0;
	unsigned char *cd = field_bytes(resp, "clientDataJSON", &cdl);
	unsigned char *ao = field_bytes(resp, "attestationObject", &aol);
	unsigned char *ad = NULL, *der = NULL;
	struct passkey_authdata a;
	unsigned char want[SHA256_DIGEST_LENGTH];
	char rp[256];
	int64_t mid = 0;
	int alg, r = ADM_INVALID;

	if (name == NULL || *name == '\0' || strlen(name) > PASSKEY_NAME_MAX) {
		*error_r = "a passkey needs a name of 1 to 64 characters";
		goto out;
	}
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*error_r = "a passkey name has no control characters";
			goto out;
		}
	if (cd == NULL || ao == NULL) {
		*error_r = "send the credential's response.clientDataJSON and "
		    "response.attestationObject (base64url)";
		goto out;
	}
	int c = client_data_check(db, cd, cdl, "webauthn.create", "register",
	    s, &mid, rp, error_r);
	if (c <= 0) {
		r = c < 0 ? ADM_FAIL : ADM_INVALID;
		goto out;
	}
	if (mid != mb->id) {
		*error_r = "the challenge was made for another mailbox";
		goto out;
	}
	if (passkey_attestation_parse(ao, aol, &ad, &adl, error_r) < 0 ||
	    passkey_authdata_parse(ad, adl, &a, error_r) < 0)
		goto out;
	SHA256((unsigned char *)rp, strlen(rp), want);
	if (CRYPTO_memcmp(want, a.rp_id_hash, sizeof(want)) != 0) {
		*error_r = "the authenticator data is for another relying party";
		goto out;
	}
	if (!(a.flags & PASSKEY_UP) || !(a.flags & PASSKEY_AT)) {
		*error_r = "the authenticator data lacks user presence or the "
		    "credential";
		goto out;
	}
	if (passkey_cose_key(a.cose_key, a.cose_key_len, &der, &derl, &alg,
	    error_r) < 0)
		goto out;
	char *id = b64url_encode(a.cred_id, a.cred_id_len);
	const char *sent = json_string_value(json_object_get(cred, "id"));
	if (sent != NULL && strcmp(sent, id) != 0) {
		*error_r = "the credential id does not match the authenticator "
		    "data's";
		free(id);
		goto out;
	}
	if (passkey_count(db, mb->id) >= PASSKEY_MAX) {
		*error_r = "this mailbox has 20 passkeys already: remove one "
		    "first";
		free(id);
		goto out;
	}
	char *pub = b64url_encode(der, derl);
	r = db_exec(db, error_r, "INSERT INTO passkey (mailbox_id, name, "
	    "credential_id, public_key, alg, sign_count, created) VALUES (?, ?, "
	    "?, ?, ?, ?, ?)", "itttiii", mb->id, name, id, pub, (int64_t)alg,
	    (int64_t)a.sign_count, (int64_t)time(NULL));
	free(pub);
	free(id);
	if (r < 0) {
		if (db_last_error(db) == DB_ECONSTRAINT) {
			*error_r = "a passkey of that name, or this passkey, is "
			    "registered already";
			r = ADM_EXISTS;
		} else
			r = ADM_FAIL;
		goto out;
	}
	r = ADM_OK;
out:
	free(cd);
	free(ao);
	free(ad);
	free(der);
	return r;
}

/* sig_ok - the signature of alg over data with the DER public key */
static bool
sig_ok(const unsigned char *der, size_t derl, int alg,
       const unsigned char *data, size_t n, const unsigned char *sig,
       size_t sigl)
{
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)derl);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = false;

	if (k != NULL && c != NULL && EVP_DigestVerifyInit(c, NULL,
	    alg == PASSKEY_EDDSA ? NULL : EVP_sha256(), NULL, k) == 1)
		ok = EVP_DigestVerify(c, sig, sigl, data, n) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return ok;
}

int
passkey_assert(struct db *db, json_t *cred, int64_t mailbox_id,
	       const struct passkey_site *s, int64_t *mailbox_r,
	       const char **error_r)
{
	json_t *resp = json_object_get(cred, "response");
	const char *id = json_string_value(json_object_get(cred, "id"));
	size_t cdl = 0, adl = 0, sgl = 0, uhl = 0, pkl = 0;
	unsigned char *cd = field_bytes(resp, "clientDataJSON", &cdl);
	unsigned char *ad = field_bytes(resp, "authenticatorData", &adl);
	unsigned char *sg = field_bytes(resp, "signature", &sgl);
	unsigned char *uh = NULL, *pk = NULL, *signed_data = NULL;
	char *pkt = NULL;
	struct passkey_authdata a;
	unsigned char want[SHA256_DIGEST_LENGTH];
	int64_t owner = 0, cmid = 0, alg = 0, count = 0, row = 0;
	char rp[256], handle[32];
	int r = 0;

	*mailbox_r = 0;
	if (id == NULL || cd == NULL || ad == NULL || sg == NULL ||
	    strlen(id) > 2 * PASSKEY_CRED_ID_MAX) {
		*error_r = "send the credential's id and response."
		    "clientDataJSON, authenticatorData and signature (base64url)";
		goto out;
	}
	/* the challenge first: any attempt uses it up */
	r = client_data_check(db, cd, cdl, "webauthn.get", "login", s, &cmid,
	    rp, error_r);
	if (r <= 0)
		goto out;
	r = 0;
	if (cmid != mailbox_id) {
		*error_r = "the challenge was made for another login";
		goto out;
	}
	if (db_query_int(db, &row, 0, error_r, "SELECT id FROM passkey WHERE "
	    "credential_id = ?", "t", id) < 0) {
		r = -1;
		goto out;
	}
	if (row == 0) {
		*error_r = "this passkey is not registered (or was removed)";
		goto out;
	}
	if (db_query_int(db, &owner, 0, error_r, "SELECT mailbox_id FROM "
	    "passkey WHERE id = ?", "i", row) < 0 ||
	    db_query_int(db, &alg, 0, error_r, "SELECT alg FROM passkey WHERE "
	    "id = ?", "i", row) < 0 ||
	    db_query_int(db, &count, 0, error_r, "SELECT sign_count FROM "
	    "passkey WHERE id = ?", "i", row) < 0 ||
	    db_query_text(db, &pkt, error_r, "SELECT public_key FROM "
	    "passkey WHERE id = ?", "i", row) < 0) {
		r = -1;
		goto out;
	}
	if (pkt != NULL)
		pk = b64url_decode(pkt, PASSKEY_INPUT_MAX, &pkl);
	*mailbox_r = owner;   /* also when refused: for the login record */
	if (mailbox_id != 0 && owner != mailbox_id) {
		*error_r = "this passkey belongs to another mailbox";
		goto out;
	}
	user_handle(owner, handle);
	if ((uh = field_bytes(resp, "userHandle", &uhl)) != NULL &&
	    (uhl != strlen(handle) || memcmp(uh, handle, uhl) != 0)) {
		*error_r = "the user handle is not this passkey's";
		goto out;
	}
	if (passkey_authdata_parse(ad, adl, &a, error_r) < 0)
		goto out;
	SHA256((unsigned char *)rp, strlen(rp), want);
	if (CRYPTO_memcmp(want, a.rp_id_hash, sizeof(want)) != 0) {
		*error_r = "the authenticator data is for another relying party";
		goto out;
	}
	if (!(a.flags & PASSKEY_UP) ||
	    (mailbox_id == 0 && !(a.flags & PASSKEY_UV))) {
		*error_r = mailbox_id == 0 ? "a passwordless login needs user "
		    "verification (PIN or biometrics)" : "the authenticator did "
		    "not see the user";
		goto out;
	}
	signed_data = xmalloc(adl + SHA256_DIGEST_LENGTH);
	memcpy(signed_data, ad, adl);
	SHA256(cd, cdl, signed_data + adl);
	if (pk == NULL || !sig_ok(pk, pkl, (int)alg, signed_data,
	    adl + SHA256_DIGEST_LENGTH, sg, sgl)) {
		*error_r = "the passkey's signature is not right";
		goto out;
	}
	/* WebAuthn 7.2 step 21: a counter that does not grow is a clone */
	if ((a.sign_count != 0 || count != 0) &&
	    (int64_t)a.sign_count <= count) {
		*error_r = "the passkey's sign counter went backwards (a cloned "
		    "authenticator?): refused";
		goto out;
	}
	if (db_exec(db, error_r, "UPDATE passkey SET sign_count = ?, last_used "
	    "= ? WHERE id = ? AND sign_count = ?", "iiii",
	    (int64_t)a.sign_count, (int64_t)time(NULL), row, count) < 0) {
		r = -1;
		goto out;
	}
	if (db_changes(db) != 1) {
		*error_r = "the passkey was used at the same time elsewhere";
		goto out;
	}
	*mailbox_r = owner;
	r = 1;
out:
	free(cd);
	free(ad);
	free(sg);
	free(uh);
	free(pk);
	free(pkt);
	free(signed_data);
	return r;
}

/* --------------------------------------------------------- management */

int
passkey_count(struct db *db, int64_t mailbox_id)
{
	int64_t n = 0;
	const char *err;

	if (db_query_int(db, &n, 0, &err, "SELECT count(*) FROM passkey WHERE "
	    "mailbox_id = ?", "i", mailbox_id) < 0)
		return 0;
	return (int)n;
}

json_t *
passkey_list(struct db *db, int64_t mailbox_id, const char **error_r)
{
	struct db_stmt *st = NULL;
	json_t *a = json_array();
	static const char *const algs[] = { "ES256", "EdDSA", "RS256" };

	if ((st = db_query(db, error_r, "SELECT id, name, alg, created, "
	    "last_used, sign_count FROM passkey WHERE mailbox_id = ? ORDER BY "
	    "id", "i", mailbox_id)) == NULL) {
		json_decref(a);
		return NULL;
	}
	while (db_step(st, NULL) == DB_ROW) {
		int alg = db_col_int(st, 2);
		json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}",
		    "id", (json_int_t)db_col_int(st, 0),
		    "name", db_col_text(st, 1),
		    "alg", alg == PASSKEY_ES256 ? algs[0] : alg == PASSKEY_EDDSA ?
		    algs[1] : algs[2],
		    "created", (json_int_t)db_col_int(st, 3),
		    "lastUsed", (json_int_t)db_col_int(st, 4),
		    "signCount", (json_int_t)db_col_int(st, 5)));
	}
	db_stmt_free(&st);
	return a;
}

int
passkey_rename(struct db *db, int64_t mailbox_id, int64_t id,
	       const char *name, const char **error_r)
{
	if (name == NULL || *name == '\0' || strlen(name) > PASSKEY_NAME_MAX) {
		*error_r = "a passkey needs a name of 1 to 64 characters";
		return ADM_INVALID;
	}
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*error_r = "a passkey name has no control characters";
			return ADM_INVALID;
		}
	if (db_exec(db, error_r, "UPDATE passkey SET name = ? WHERE id = ? AND "
	    "mailbox_id = ?", "tii", name, id, mailbox_id) < 0) {
		if (db_last_error(db) == DB_ECONSTRAINT) {
			*error_r = "another passkey has that name";
			return ADM_EXISTS;
		}
		return ADM_FAIL;
	}
	if (db_changes(db) == 0) {
		*error_r = "no such passkey";
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
passkey_remove(struct db *db, int64_t mailbox_id, int64_t id,
	       const char **error_r)
{
	if (db_exec(db, error_r, "DELETE FROM passkey WHERE id = ? AND "
	    "mailbox_id = ?", "ii", id, mailbox_id) < 0)
		return ADM_FAIL;
	if (db_changes(db) == 0) {
		*error_r = "no such passkey";
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
passkey_reset(struct db *db, int64_t mailbox_id, int *n_r,
	      const char **error_r)
{
	if (db_exec(db, error_r, "DELETE FROM passkey WHERE mailbox_id = ?",
	    "i", mailbox_id) < 0)
		return ADM_FAIL;
	*n_r = db_changes(db);
	return ADM_OK;
}
