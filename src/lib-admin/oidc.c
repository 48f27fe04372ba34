/* oidc - OpenID Connect login per post office (oidc.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl-load.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "branding.h"
#include "buf.h"
#include "oidc.h"
#include "outhttp.h"
#include "strutil.h"
#include "twofactor.h"
#include "xalloc.h"

#define FETCH_MAX (256 * 1024)
#define FETCH_TIMEOUT 10L
#define LEEWAY 60

/* ---------------------------------------------------------- outside HTTP */

static size_t
on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;

	if (b->len + n > FETCH_MAX)
		return 0;   /* too big: the transfer fails */
	buf_append(b, p, n);
	return n;
}

/* fetch_json - GET url, or POST the form body with HTTP Basic user:pw;
 * the answer's JSON object into *out. 0, or -1 with *why_r. */
static int
fetch_json(const char *url, const char *form, const char *user,
	   const char *pw, json_t **out, const char **why_r)
{
	struct buf b;
	long status = 0;
	int r = -1;

	*out = NULL;
	if (!outhttp_url_allowed(url)) {
		*why_r = "the provider's endpoint is not https (http only to a "
		    "loopback address)";
		return -1;
	}
	outhttp_init();
	CURL *c = curl_easy_init();
	if (c == NULL) {
		*why_r = curl_load() ? "libcurl cannot start" : curl_load_error();
		return -1;
	}
	buf_init(&b, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Postern");
	struct curl_slist *h = curl_slist_append(NULL,
	    "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pw);
	}
	CURLcode cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK) {
		*why_r = cr == CURLE_WRITE_ERROR ? "the provider's answer is too "
		    "long" : "the provider cannot be reached";
	} else if (status != 200) {
		*why_r = form != NULL ? "the provider refused the code" :
		    "the provider's discovery or key document is not there";
	} else {
		*out = json_loadb(b.data != NULL ? b.data : "", b.len,
		    JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(*out))
			r = 0;
		else {
			json_decref(*out);
			*out = NULL;
			*why_r = "the provider's answer is not a JSON object";
		}
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	buf_free(&b);
	return r;
}

/* form_add - "&name=value" (value escaped) onto b */
static void
form_add(struct buf *b, const char *name, const char *value)
{
	char *e = curl_easy_escape(NULL, value, 0);

	if (e == NULL)
		abort();
	buf_printf(b, "%s%s=%s", b->len > 0 ? "&" : "", name, e);
	curl_free(e);
}

/* ------------------------------------------------------ the post office */

struct po_conf {
	int64_t id;
	bool enabled;
	char *issuer, *client_id, *secret;
};

static void
po_free(struct po_conf *p)
{
	free(p->issuer);
	free(p->client_id);
	if (p->secret != NULL)
		OPENSSL_cleanse(p->secret, strlen(p->secret));
	free(p->secret);
}

/* po_load - by name (name non-NULL) or id: 1, 0 unknown, -1 error */
static int
po_load(struct db *db, const char *name, int64_t id, struct po_conf *p,
	const char **error_r)
{
	memset(p, 0, sizeof(*p));
	struct db_stmt *st = name != NULL ? db_query(db, error_r, "SELECT id, "
	    "oauth_enabled, oauth_issuer, oauth_client_id, oauth_client_secret "
	    "FROM postoffice WHERE name = ? AND disabled = 0", "t", name) :
	    db_query(db, error_r, "SELECT id, oauth_enabled, oauth_issuer, "
	    "oauth_client_id, oauth_client_secret FROM postoffice WHERE id = ? "
	    "AND disabled = 0", "i", id);
	if (st == NULL)
		return -1;
	int r = db_step(st, NULL);
	if (r == DB_ROW) {
		p->id = db_col_int(st, 0);
		p->enabled = db_col_int(st, 1) != 0;
		p->issuer = xstrdup(db_col_text(st, 2));
		p->client_id = xstrdup(db_col_text(st, 3));
		p->secret = xstrdup(db_col_text(st, 4));
		/* an issuer is compared without a trailing slash */
		size_t n = strlen(p->issuer);
		while (n > 0 && p->issuer[n - 1] == '/')
			p->issuer[--n] = '\0';
	}
	db_stmt_free(&st);
	if (r != DB_ROW && r != DB_DONE)
		return db_fail(db, error_r, "post office");
	return r == DB_ROW;
}

int
oidc_offered(struct db *db, const char *login, char *po_r, size_t po_size,
	     char *provider_r, size_t provider_size, const char **error_r)
{
	const char *at = login != NULL ? strrchr(login, '@') : NULL;
	char po[NAME_MAX_LEN + 1];
	struct po_conf p;
	bool disabled;

	if (at == NULL)
		return 0;
	/* a domain of a post office, else a post office's own name */
	int r = brand_login_postoffice(db, at + 1, po, sizeof(po), &disabled,
	    error_r);
	if (r <= 0 || disabled)
		return r < 0 ? -1 : 0;
	r = po_load(db, po, 0, &p, error_r);
	if (r > 0 && (!p.enabled || p.issuer[0] == '\0' ||
	    p.client_id[0] == '\0'))
		r = 0;
	if (r > 0) {
		/* the issuer's host (and port): https://HOST[:PORT]/... */
		const char *h = strstr(p.issuer, "://");
		h = h != NULL ? h + 3 : p.issuer;
		snprintf(po_r, po_size, "%s", po);
		snprintf(provider_r, provider_size, "%.*s", (int)strcspn(h, "/?#"),
		    h);
	}
	po_free(&p);
	return r;
}

/* discover - the provider's metadata (checked): 0, or -1 with *why_r */
static int
discover(const struct po_conf *p, json_t **meta_r, const char **why_r)
{
	char *url = xasprintf("%s/.well-known/openid-configuration", p->issuer);
	int r = fetch_json(url, NULL, NULL, NULL, meta_r, why_r);

	free(url);
	if (r < 0)
		return -1;
	const char *iss = json_string_value(json_object_get(*meta_r, "issuer"));
	size_t n = iss != NULL ? strlen(iss) : 0;
	while (n > 0 && iss[n - 1] == '/')
		n--;
	if (iss == NULL || n != strlen(p->issuer) ||
	    strncmp(iss, p->issuer, n) != 0) {
		*why_r = "the provider's discovery document names another issuer";
		goto bad;
	}
	static const char *const need[] = { "authorization_endpoint",
	    "token_endpoint", "jwks_uri" };
	for (size_t i = 0; i < 3; i++) {
		const char *u = json_string_value(json_object_get(*meta_r,
		    need[i]));
		if (u == NULL || !outhttp_url_allowed(u)) {
			*why_r = "the provider's discovery document lacks an "
			    "endpoint, or one is not https";
			goto bad;
		}
	}
	return 0;
bad:
	json_decref(*meta_r);
	*meta_r = NULL;
	return -1;
}

/* -------------------------------------------------------------- state */

/* derive - hex HMAC of the state text for purpose (nonce, verifier) */
static int
derive(struct db *db, const char *purpose, const char *text, char out[65],
       const char **error_r)
{
	return tf_key_mac(db, purpose, text, out, error_r);
}

/* state_check - the state's post office id, its text part (before the
 * mac) into text: 1, 0 forged or expired, -1 error */
static int
state_check(struct db *db, const char *state, int64_t *po_r, char *text,
	    size_t text_size, const char **error_r)
{
	long long po, exp;
	char rnd[33], mac[65], want[65];
	int n = 0;

	if (state == NULL || strlen(state) > OIDC_STATE_MAX ||
	    sscanf(state, "%lld.%lld.%32[0-9a-f].%64[0-9a-f]%n", &po, &exp,
	    rnd, mac, &n) != 4 || state[n] != '\0' || strlen(rnd) != 32 ||
	    strlen(mac) != 64)
		return 0;
	snprintf(text, text_size, "%lld.%lld.%s", po, exp, rnd);
	if (derive(db, "postern oidc state", text, want, error_r) < 0)
		return -1;
	if (CRYPTO_memcmp(want, mac, 64) != 0 || exp < (long long)time(NULL))
		return 0;
	*po_r = po;
	return 1;
}

/* pkce_challenge - BASE64URL(SHA256(verifier)) (new string) */
static char *
pkce_challenge(const char *verifier)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	return b64url_encode(md, sizeof(md));
}

int
oidc_start(struct db *db, const char *po_name, const char *redirect_uri,
	   char **location_r, char **state_r, const char **why_r,
	   const char **error_r)
{
	struct po_conf p;
	json_t *meta = NULL;
	unsigned char raw[16];
	char rnd[33], text[96], mac[65], nonce[65], verifier[65];
	int r = po_load(db, po_name, 0, &p, error_r);

	*location_r = *state_r = NULL;
	if (r <= 0) {
		*why_r = "No such post office.";
		return r;
	}
	if (!p.enabled || p.issuer[0] == '\0' || p.client_id[0] == '\0') {
		*why_r = "This post office has no outside login (oauth_enabled, "
		    "oauth_issuer, oauth_client_id).";
		r = 0;
		goto out;
	}
	if (discover(&p, &meta, why_r) < 0) {
		r = 0;
		goto out;
	}
	random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(rnd + 2 * i, 3, "%02x", raw[i]);
	snprintf(text, sizeof(text), "%lld.%lld.%s", (long long)p.id,
	    (long long)time(NULL) + OIDC_STATE_LIFETIME, rnd);
	if (derive(db, "postern oidc state", text, mac, error_r) < 0 ||
	    derive(db, "postern oidc nonce", text, nonce, error_r) < 0 ||
	    derive(db, "postern oidc pkce", text, verifier, error_r) < 0) {
		r = -1;
		goto out;
	}
	*state_r = xasprintf("%s.%s", text, mac);
	char *challenge = pkce_challenge(verifier);
	struct buf q;
	buf_init(&q, 0);
	form_add(&q, "response_type", "code");
	form_add(&q, "client_id", p.client_id);
	form_add(&q, "redirect_uri", redirect_uri);
	form_add(&q, "scope", "openid email");
	form_add(&q, "state", *state_r);
	form_add(&q, "nonce", nonce);
	form_add(&q, "code_challenge", challenge);
	form_add(&q, "code_challenge_method", "S256");
	const char *ae = json_string_value(json_object_get(meta,
	    "authorization_endpoint"));
	*location_r = xasprintf("%s%c%.*s", ae, strchr(ae, '?') ? '&' : '?',
	    (int)q.len, q.data);
	buf_free(&q);
	free(challenge);
	r = 1;
out:
	OPENSSL_cleanse(verifier, sizeof(verifier));
	json_decref(meta);
	po_free(&p);
	return r;
}

/* ------------------------------------------------------------- ID token */

/* part_json - a JWS part (base64url JSON object), or NULL */
static json_t *
part_json(const char *s, size_t n)
{
	char *t = xstrndup(s, n);
	size_t len;
	unsigned char *d = b64url_decode(t, OIDC_TOKEN_MAX, &len);
	json_t *v = d != NULL ? json_loadb((const char *)d, len,
	    JSON_REJECT_DUPLICATES, NULL) : NULL;

	free(t);
	free(d);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* rsa_of_jwk - the RSA public key of a JWK (2048 to 8192 bits), or NULL */
static EVP_PKEY *
rsa_of_jwk(json_t *k)
{
	const char *n64 = json_string_value(json_object_get(k, "n"));
	const char *e64 = json_string_value(json_object_get(k, "e"));
	size_t nl = 0, el = 0;
	EVP_PKEY *key = NULL;

	if (n64 == NULL || e64 == NULL)
		return NULL;
	unsigned char *n = b64url_decode(n64, 1024, &nl);
	unsigned char *e = b64url_decode(e64, 8, &el);
	if (n != NULL && e != NULL && nl >= 256 && nl <= 1024 && el >= 1) {
		BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL);
		BIGNUM *be = BN_bin2bn(e, (int)el, NULL);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (bn == NULL || be == NULL || bld == NULL)
			abort();
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
		OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		if (params == NULL || c == NULL ||
		    EVP_PKEY_fromdata_init(c) != 1 ||
		    EVP_PKEY_fromdata(c, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
			key = NULL;
		EVP_PKEY_CTX_free(c);
		OSSL_PARAM_free(params);
		OSSL_PARAM_BLD_free(bld);
		BN_free(bn);
		BN_free(be);
	}
	free(n);
	free(e);
	return key;
}

/* jwk_find - the JWKS's RSA signing key of kid (NULL: the only one) */
static json_t *
jwk_find(json_t *jwks, const char *kid)
{
	json_t *keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	size_t i, n = 0;

	json_array_foreach(keys, i, k) {
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *use = json_string_value(json_object_get(k, "use"));
		const char *id = json_string_value(json_object_get(k, "kid"));
		if (kty == NULL || strcmp(kty, "RSA") != 0 ||
		    (use != NULL && strcmp(use, "sig") != 0))
			continue;
		if (kid != NULL && (id == NULL || strcmp(id, kid) != 0))
			continue;
		found = k;
		n++;
	}
	return n == 1 ? found : NULL;
}

/* aud_ok - aud is the client id, or a list holding it (then azp, when
 * there are others or azp is present, must be the client id) */
static bool
aud_ok(json_t *claims, const char *client_id)
{
	json_t *aud = json_object_get(claims, "aud"), *v;
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	size_t i;
	bool in = false;

	if (azp != NULL && strcmp(azp, client_id) != 0)
		return false;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), client_id) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    client_id) == 0)
			in = true;
	return in && (json_array_size(aud) == 1 || azp != NULL);
}

int
oidc_id_token_check(const char *jwt, json_t *jwks, const char *issuer,
		    const char *client_id, const char *nonce, int64_t now,
		    char **email_r, bool *mfa_r, const char **why_r)
{
	json_t *hdr = NULL, *claims = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *sig = NULL;
	size_t sl = 0;
	int r = 0;

	*email_r = NULL;
	*mfa_r = false;
	const char *d1 = jwt != NULL ? strchr(jwt, '.') : NULL;
	const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	if (jwt == NULL || strlen(jwt) > OIDC_TOKEN_MAX || d2 == NULL ||
	    strchr(d2 + 1, '.') != NULL) {
		*why_r = "the ID token is not a signed JWT (three parts)";
		return 0;
	}
	hdr = part_json(jwt, (size_t)(d1 - jwt));
	claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
	sig = b64url_decode(d2 + 1, 1024, &sl);
	if (hdr == NULL || claims == NULL || sig == NULL) {
		*why_r = "the ID token is malformed";
		goto out;
	}
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		*why_r = "the ID token is not signed with RS256";
		goto out;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		*why_r = "the ID token has critical header fields";
		goto out;
	}
	json_t *kid = json_object_get(hdr, "kid");
	if (kid != NULL && !json_is_string(kid)) {
		*why_r = "the ID token's kid is not a string";
		goto out;
	}
	json_t *jwk = jwk_find(jwks, json_string_value(kid));
	if (jwk == NULL || (key = rsa_of_jwk(jwk)) == NULL) {
		*why_r = "no usable RSA key of the provider matches the ID token";
		goto out;
	}
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	if (mc == NULL)
		abort();
	bool good = EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL,
	    key) == 1 && EVP_DigestVerify(mc, sig, sl, (const unsigned char *)
	    jwt, (size_t)(d2 - jwt)) == 1;
	EVP_MD_CTX_free(mc);
	if (!good) {
		*why_r = "the ID token's signature is not the provider's";
		goto out;
	}
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	size_t il = iss != NULL ? strlen(iss) : 0;
	while (il > 0 && iss[il - 1] == '/')
		il--;
	if (iss == NULL || il != strlen(issuer) || strncmp(iss, issuer, il)) {
		*why_r = "the ID token is from another issuer";
		goto out;
	}
	if (!aud_ok(claims, client_id)) {
		*why_r = "the ID token is for another audience";
		goto out;
	}
	json_t *exp = json_object_get(claims, "exp");
	json_t *iat = json_object_get(claims, "iat");
	if (!json_is_number(exp) || json_number_value(exp) + LEEWAY <
	    (double)now) {
		*why_r = "the ID token has expired";
		goto out;
	}
	if (iat != NULL && (!json_is_number(iat) || json_number_value(iat) >
	    (double)now + LEEWAY)) {
		*why_r = "the ID token was issued in the future";
		goto out;
	}
	const char *nc = json_string_value(json_object_get(claims, "nonce"));
	if (nc == NULL || strcmp(nc, nonce) != 0) {
		*why_r = "the ID token's nonce is not this login's";
		goto out;
	}
	const char *email = json_string_value(json_object_get(claims, "email"));
	if (email == NULL || !json_is_true(json_object_get(claims,
	    "email_verified"))) {
		*why_r = "the provider gave no verified e-mail address";
		goto out;
	}
	if (strlen(email) > ADDRESS_MAX_LEN || strpbrk(email, "\r\n") != NULL) {
		*why_r = "the provider's e-mail address is not an address";
		goto out;
	}
	json_t *amr = json_object_get(claims, "amr"), *m;
	size_t i;
	json_array_foreach(amr, i, m)
		if (json_is_string(m) && strcmp(json_string_value(m), "mfa") == 0)
			*mfa_r = true;
	*email_r = xstrdup(email);
	r = 1;
out:
	json_decref(hdr);
	json_decref(claims);
	EVP_PKEY_free(key);
	free(sig);
	return r;
}

/* ------------------------------------------------------------ callback */

/* mailbox_of - the mailbox of address in post office po: 1, 0, -1 */
static int
mailbox_of(struct db *db, const char *address, int64_t po,
	   struct dir_mailbox *mb, const char **error_r)
{
	int64_t id = 0;

	if (db_query_int(db, &id, 0, error_r, "SELECT target_id FROM address "
	    "WHERE address = ? AND kind = 'mailbox' AND postoffice_id = ?",
	    "ti", address, po) < 0)
		return -1;
	if (id == 0)
		return 0;
	return dir_mailbox_get(db, id, mb, error_r);
}

int
oidc_finish(struct db *db, const char *code, const char *state,
	    const char *cookie_state, const char *redirect_uri,
	    struct dir_mailbox *mb, bool *mfa_r, char *why, size_t why_size,
	    const char **error_r)
{
	struct po_conf p;
	json_t *meta = NULL, *tok = NULL, *jwks = NULL;
	char text[96], nonce[65], verifier[65];
	const char *w = NULL;
	char *email = NULL;
	int64_t po = 0;
	int r;

	memset(&p, 0, sizeof(p));
	*mfa_r = false;
	if (cookie_state == NULL || state == NULL ||
	    strcmp(state, cookie_state) != 0) {
		snprintf(why, why_size, "the login's state is not this "
		    "browser's (start the login again)");
		return 0;
	}
	if ((r = state_check(db, state, &po, text, sizeof(text), error_r)) <= 0) {
		snprintf(why, why_size, "the login's state is forged or "
		    "expired (start the login again)");
		return r;
	}
	if (code == NULL || *code == '\0' || strlen(code) > 2048) {
		snprintf(why, why_size, "the provider sent no code");
		return 0;
	}
	if ((r = po_load(db, NULL, po, &p, error_r)) <= 0 || !p.enabled) {
		snprintf(why, why_size, "the post office has no outside login");
		if (r > 0)
			r = 0;
		goto out;
	}
	r = 0;
	if (derive(db, "postern oidc nonce", text, nonce, error_r) < 0 ||
	    derive(db, "postern oidc pkce", text, verifier, error_r) < 0) {
		r = -1;
		goto out;
	}
	if (discover(&p, &meta, &w) < 0)
		goto refused;
	struct buf f;
	buf_init(&f, 0);
	form_add(&f, "grant_type", "authorization_code");
	form_add(&f, "code", code);
	form_add(&f, "redirect_uri", redirect_uri);
	form_add(&f, "code_verifier", verifier);
	/* client_secret_basic: id and secret form-encoded (RFC 6749 2.3.1) */
	char *u = curl_easy_escape(NULL, p.client_id, 0);
	char *pw = curl_easy_escape(NULL, p.secret, 0);
	if (u == NULL || pw == NULL)
		abort();
	int fr = fetch_json(json_string_value(json_object_get(meta,
	    "token_endpoint")), f.data != NULL ? f.data : "", u, pw, &tok, &w);
	OPENSSL_cleanse(pw, strlen(pw));
	curl_free(u);
	curl_free(pw);
	OPENSSL_cleanse(f.data, f.len);
	buf_free(&f);
	if (fr < 0)
		goto refused;
	const char *idt = json_string_value(json_object_get(tok, "id_token"));
	if (idt == NULL) {
		w = "the provider sent no ID token";
		goto refused;
	}
	if (fetch_json(json_string_value(json_object_get(meta, "jwks_uri")),
	    NULL, NULL, NULL, &jwks, &w) < 0)
		goto refused;
	if (oidc_id_token_check(idt, jwks, p.issuer, p.client_id, nonce,
	    (int64_t)time(NULL), &email, mfa_r, &w) <= 0)
		goto refused;
	r = mailbox_of(db, email, p.id, mb, error_r);
	if (r == 0)
		snprintf(why, why_size, "%s is not a mailbox of this post "
		    "office", email);
	goto out;
refused:
	snprintf(why, why_size, "%s", w != NULL ? w : "refused");
	r = 0;
out:
	OPENSSL_cleanse(verifier, sizeof(verifier));
	json_decref(meta);
	json_decref(tok);
	json_decref(jwks);
	free(email);
	po_free(&p);
	return r;
}
