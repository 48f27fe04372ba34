/* dialback - the keys of server dialback (XEP-0220 with XEP-0185's
 * recommended key: HMAC-SHA256 keyed by the hex SHA-256 of a secret of
 * ours, over "receiving originating stream-id"), which s2s.c sends for
 * its own domains and checks when a receiving server asks (db:verify) */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "buf.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"
#include "xmppd.h"

static char key_hex[2 * SHA256_DIGEST_LENGTH + 1];

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* dialback_init - the secret (xmpp.dialback_secret, made at first use) */
int
dialback_init(void)
{
	const char *err;
	char *secret = settings_secret(xsrv.svc->db, "xmpp.dialback_secret",
	    &err);
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (secret == NULL) {
		log_error("xmpp.dialback_secret: %s", err);
		return -1;
	}
	SHA256((const unsigned char *)secret, strlen(secret), md);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	hex(md, sizeof(md), key_hex);
	return 0;
}

/* dialback_key - the key the originating server (ours) gives for the
 * stream id the receiving server chose (new string, 64 hex digits) */
char *
dialback_key(const char *receiving, const char *originating, const char *id)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b;
	char *out = xmalloc(2 * SHA256_DIGEST_LENGTH + 1);

	buf_init(&b, 0);
	buf_printf(&b, "%s %s %s", receiving, originating, id);
	HMAC(EVP_sha256(), key_hex, (int)strlen(key_hex),
	    (const unsigned char *)b.data, b.len, md, &mdlen);
	buf_free(&b);
	hex(md, mdlen, out);
	return out;
}

/* dialback_check - whether key is the one we gave (constant time) */
bool
dialback_check(const char *receiving, const char *originating, const char *id,
	       const char *key)
{
	char *want = dialback_key(receiving, originating, id);
	bool ok = key != NULL && strlen(key) == strlen(want) &&
	    CRYPTO_memcmp(key, want, strlen(want)) == 0;

	free(want);
	return ok;
}
