/* passwd - crypt_r password hashing and verification */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "passwd.h"
#include "strutil.h"
#include "xalloc.h"

static const char *
scheme_prefix(const char *scheme)
{
	if (strcmp(scheme, "yescrypt") == 0)
		return "$y$";
	if (strcmp(scheme, "bcrypt") == 0)
		return "$2b$";
	if (strcmp(scheme, "sha512-crypt") == 0)
		return "$6$";
	return NULL;
}

bool
passwd_scheme_valid(const char *scheme)
{
	return scheme_prefix(scheme) != NULL;
}

char *
passwd_hash(const char *password, const char *scheme, const char **error_r)
{
	const char *prefix = scheme_prefix(scheme);
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	unsigned char rnd[32];
	struct crypt_data *cd;
	char *result = NULL;

	if (prefix == NULL) {
		*error_r = "unknown password scheme";
		return NULL;
	}
	random_bytes(rnd, sizeof(rnd));
	if (crypt_gensalt_rn(prefix, 0, (const char *)rnd, sizeof(rnd),
	    salt, sizeof(salt)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return NULL;
	}
	cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] == '*')
		*error_r = "crypt failed";
	else
		result = xstrdup(h);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return result;
}

bool
passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	bool ok = false;

	if (hash == NULL || hash[0] != '$')
		return false;
	cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(password, hash, cd);
	if (h != NULL && h[0] != '*') {
		size_t lh = strlen(h), lx = strlen(hash);
		ok = lh == lx && CRYPTO_memcmp(h, hash, lh) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

char *
passwd_import_hash(const char *hash, const char **error_r)
{
	if (hash[0] == '{') {
		const char *end = strchr(hash, '}');
		if (end == NULL) {
			*error_r = "malformed {SCHEME} prefix";
			return NULL;
		}
		hash = end + 1;
	}
	if (!str_has_prefix(hash, "$y$") && !str_has_prefix(hash, "$2b$") &&
	    !str_has_prefix(hash, "$2y$") && !str_has_prefix(hash, "$2a$") &&
	    !str_has_prefix(hash, "$6$") && !str_has_prefix(hash, "$5$") &&
	    !str_has_prefix(hash, "$gy$")) {
		*error_r = "not a supported crypt hash (yescrypt, bcrypt, SHA-512-crypt)";
		return NULL;
	}
	if (strlen(hash) > 512 || strpbrk(hash, " \t\r\n,") != NULL) {
		*error_r = "malformed hash";
		return NULL;
	}
	return xstrdup(hash);
}
