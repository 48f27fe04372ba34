/* dkim-key - DKIM keys: load, generate, sign and verify data, the DNS
 * record to publish */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim.h"
#include "xalloc.h"

struct dkim_key {
	EVP_PKEY *pkey;
	enum dkim_alg alg;
};

static struct dkim_key *
key_wrap(EVP_PKEY *pkey, const char **error_r)
{
	struct dkim_key *k;
	int id = EVP_PKEY_get_base_id(pkey);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		*error_r = "not an RSA or Ed25519 key";
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->alg = id == EVP_PKEY_RSA ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256;
	return k;
}

/* dkim_key_private - a private key from PEM text */
struct dkim_key *
dkim_key_private(const char *pem, const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey;

	if (bio == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "not a PEM private key";
		return NULL;
	}
	return key_wrap(pkey, error_r);
}

/* dkim_key_public - a public key from a p= value */
struct dkim_key *
dkim_key_public(enum dkim_alg alg, const char *b64, const char **error_r)
{
	unsigned char der[2048];
	const unsigned char *p = der;
	size_t len;
	EVP_PKEY *pkey = NULL;

	if (dkim_b64_decode(b64, strlen(b64), der, sizeof(der), &len) < 0) {
		*error_r = "p= is not base64 or too long";
		return NULL;
	}
	if (len == 0) {
		*error_r = "the key is revoked (empty p=)";
		return NULL;
	}
	if (alg == DKIM_ED25519_SHA256) {
		if (len != 32) {
			*error_r = "an Ed25519 key is 32 bytes";
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
	} else {
		pkey = d2i_PUBKEY(NULL, &p, (long)len);
		if (pkey == NULL) {
			p = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		}
	}
	if (pkey == NULL) {
		*error_r = "p= is not a usable public key";
		return NULL;
	}
	struct dkim_key *k = key_wrap(pkey, error_r);
	if (k != NULL && k->alg != alg) {
		*error_r = "the key type does not match the algorithm";
		dkim_key_free(&k);
	}
	return k;
}

struct dkim_key *
dkim_key_raw_ed25519(const unsigned char seed[32])
{
	const char *err;
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, 32);
	return pkey != NULL ? key_wrap(pkey, &err) : NULL;
}

enum dkim_alg
dkim_key_alg(const struct dkim_key *k)
{
	return k->alg;
}

int
dkim_key_bits(const struct dkim_key *k)
{
	return EVP_PKEY_get_bits(k->pkey);
}

void
dkim_key_free(struct dkim_key **k)
{
	if (*k == NULL)
		return;
	EVP_PKEY_free((*k)->pkey);
	free(*k);
	*k = NULL;
}

/* dkim_key_p - the public half as p= */
char *
dkim_key_p(const struct dkim_key *k)
{
	struct buf out;
	unsigned char raw[32], *der = NULL;
	size_t len = sizeof(raw);

	buf_init(&out, 0);
	if (k->alg == DKIM_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) == 1)
			dkim_b64_encode(raw, len, &out);
	} else {
		int n = i2d_PUBKEY(k->pkey, &der);
		if (n > 0)
			dkim_b64_encode(der, (size_t)n, &out);
		OPENSSL_free(der);
	}
	return buf_steal(&out);
}

/* dkim_keygen - a new key pair */
int
dkim_keygen(enum dkim_alg alg, int bits, char **pem_r, char **pub_r,
	    const char **error_r)
{
	EVP_PKEY *pkey;
	BIO *bio;
	char *data;
	long n;
	const char *err;

	if (alg == DKIM_RSA_SHA256) {
		if (bits != 1024 && bits != 2048 && bits != 4096) {
			*error_r = "RSA keys are 1024, 2048 or 4096 bits";
			return -1;
		}
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	if (pkey == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
	    NULL, NULL) != 1) {
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		*error_r = "cannot write the private key";
		return -1;
	}
	n = BIO_get_mem_data(bio, &data);
	*pem_r = xstrndup(data, (size_t)n);
	BIO_free(bio);
	struct dkim_key *k = key_wrap(pkey, &err);
	*pub_r = dkim_key_p(k);
	dkim_key_free(&k);
	return 0;
}

/* dkim_record - the TXT record text */
char *
dkim_record(enum dkim_alg alg, const char *p, bool test,
	    const char *granularity)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "v=DKIM1; k=%s; ", alg == DKIM_RSA_SHA256 ? "rsa" : "ed25519");
	if (test)
		buf_puts(&b, "t=y; ");
	if (granularity != NULL && *granularity != '\0')
		buf_printf(&b, "g=%s; ", granularity);
	buf_printf(&b, "p=%s", p);
	return buf_steal(&b);
}

/* dkim_record_zone - character-strings of at most 255 bytes */
char *
dkim_record_zone(const char *record)
{
	struct buf b;
	size_t len = strlen(record);

	buf_init(&b, 0);
	for (size_t i = 0; i < len || i == 0; i += 255) {
		size_t n = len - i < 255 ? len - i : 255;
		if (i > 0)
			buf_putc(&b, ' ');
		buf_putc(&b, '"');
		for (size_t j = 0; j < n; j++) {
			if (record[i + j] == '"' || record[i + j] == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, record[i + j]);
		}
		buf_putc(&b, '"');
		if (len == 0)
			break;
	}
	return buf_steal(&b);
}

/* dkim_sign_data - b= over the header hash input: RSASSA-PKCS1-v1_5 with
 * SHA-256, or PureEd25519 of its SHA-256 (RFC 8463 3) */
int
dkim_sign_data(const struct dkim_key *k, const void *data, size_t len,
	       unsigned char *sig, size_t *sig_len, const char **error_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	int ok;

	if (ctx == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	if (k->alg == DKIM_ED25519_SHA256) {
		EVP_Digest(data, len, hash, NULL, EVP_sha256(), NULL);
		ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		    EVP_DigestSign(ctx, sig, sig_len, hash, 32) == 1;
	} else {
		size_t need = 0;
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		    EVP_DigestSignUpdate(ctx, data, len) == 1 &&
		    EVP_DigestSignFinal(ctx, NULL, &need) == 1 && need <= *sig_len &&
		    EVP_DigestSignFinal(ctx, sig, sig_len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	if (!ok)
		*error_r = "signing failed (is it a private key?)";
	return ok ? 0 : -1;
}

/* dkim_verify_data - 1 valid, 0 not */
int
dkim_verify_data(const struct dkim_key *k, const void *data, size_t len,
		 const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	int ok;

	if (ctx == NULL)
		return 0;
	if (k->alg == DKIM_ED25519_SHA256) {
		EVP_Digest(data, len, hash, NULL, EVP_sha256(), NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		    EVP_DigestVerify(ctx, sig, sig_len, hash, 32) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		    EVP_DigestVerifyUpdate(ctx, data, len) == 1 &&
		    EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return ok ? 1 : 0;
}

/* dkim_b64_encode - base64, no line breaks */
void
dkim_b64_encode(const unsigned char *in, size_t len, struct buf *out)
{
	size_t need = 4 * ((len + 2) / 3) + 1;

	if (buf_reserve(out, need) < 0)
		return;
	int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, in, (int)len);
	out->len += (size_t)n;
	out->data[out->len] = '\0';
}

/* dkim_b64_decode - white space (FWS) ignored; -1 for anything else that
 * is not base64, bad padding, or more than max bytes */
int
dkim_b64_decode(const char *in, size_t len, unsigned char *out, size_t max,
		size_t *out_len)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		const char *p = c != '\0' ? strchr(alpha, c) : NULL;
		if (p == NULL || pad > 0)
			return -1;
		acc = (acc << 6) | (unsigned)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= max)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* 4 leftover bits need "==", 2 need "=" */
	if (pad > 2 || (bits == 4 && pad != 2) || (bits == 2 && pad != 1) ||
	    (bits == 0 && pad != 0) || bits == 6)
		return -1;
	*out_len = n;
	return 0;
}
