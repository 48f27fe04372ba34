/* fuzz-oidc - the ID token check of OpenID Connect logins (lib-admin/
 * oidc.h): the input is a compact JWS, a NUL, then the provider's JWKS
 * document (JSON); a token must never pass unless it verifies */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oidc.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *email = NULL;
	const char *why = NULL;
	bool mfa;

	if (nul == NULL || size > 4 * OIDC_TOKEN_MAX)
		return 0;
	char *jwt = xstrndup((const char *)data, (size_t)(nul - data));
	json_t *jwks = json_loadb((const char *)nul + 1,
	    size - (size_t)(nul - data) - 1, 0, NULL);
	if (jwks != NULL) {
		int r = oidc_id_token_check(jwt, jwks, "http://127.0.0.1:8080",
		    "postern-acme", "n0nce", 1700000000, &email, &mfa, &why);
		if ((r == 1) != (email != NULL) || (r == 0 && why == NULL))
			__builtin_trap();
		free(email);
		json_decref(jwks);
	}
	free(jwt);
	return 0;
}
