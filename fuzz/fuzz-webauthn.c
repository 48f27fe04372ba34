/* fuzz-webauthn - the passkey parsers (lib-admin/passkey.h): the first
 * byte picks what the rest is: an attestation object, authenticator
 * data or a COSE key; every input also goes through the bounded CBOR
 * walk */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passkey_authdata ad;
	const char *err;
	unsigned char *out = NULL;
	size_t len = 0;
	int alg;

	if (size < 1 || size > PASSKEY_INPUT_MAX)
		return 0;
	const unsigned char *p = data + 1;
	size_t n = size - 1;
	if (passkey_cbor_check(p, n, &len, &err) == 0 && len > n)
		__builtin_trap();
	switch (data[0] % 3) {
	case 0:
		if (passkey_attestation_parse(p, n, &out, &len, &err) == 0) {
			if (passkey_authdata_parse(out, len, &ad, &err) == 0 &&
			    ad.cose_key != NULL) {
				unsigned char *der = NULL;
				if (passkey_cose_key(ad.cose_key, ad.cose_key_len,
				    &der, &len, &alg, &err) == 0)
					free(der);
			}
			free(out);
		}
		break;
	case 1:
		if (passkey_authdata_parse(p, n, &ad, &err) == 0 &&
		    ad.cred_id_len > PASSKEY_CRED_ID_MAX)
			__builtin_trap();
		break;
	default:
		if (passkey_cose_key(p, n, &out, &len, &alg, &err) == 0)
			free(out);
		break;
	}
	return 0;
}
