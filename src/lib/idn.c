/* idn - domain names between U-labels and A-labels (libidn2, IDNA2008) */
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "idn.h"
#include "strutil.h"

bool
idn_has_utf8(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* idn_to_ascii - UTF-8 domain to A-labels (lookup form, UTS #46 mapped) */
int
idn_to_ascii(const char *domain, char *out, size_t out_size,
	     const char **error_r)
{
	char *res = NULL;
	size_t len = strlen(domain);
	int rc;

	if (len == 0 || len > 4 * IDN_DOMAIN_MAX) {
		*error_r = "domain empty or too long";
		return -1;
	}
	if (!idn_has_utf8(domain)) {
		if (len >= out_size || len > IDN_DOMAIN_MAX) {
			*error_r = "domain too long";
			return -1;
		}
		memcpy(out, domain, len + 1);
		str_lower(out);
		return 0;
	}
	rc = idn2_lookup_u8((const uint8_t *)domain, (uint8_t **)&res,
	    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		*error_r = idn2_strerror(rc);
		return -1;
	}
	len = strlen(res);
	if (len > IDN_DOMAIN_MAX || len >= out_size) {
		idn2_free(res);
		*error_r = "domain too long";
		return -1;
	}
	memcpy(out, res, len + 1);
	idn2_free(res);
	str_lower(out);
	return 0;
}

/* idn_to_utf8 - A-labels to U-labels */
int
idn_to_utf8(const char *domain, char *out, size_t out_size,
	    const char **error_r)
{
	char *res = NULL;
	size_t len;
	int rc;

	if (strlen(domain) > IDN_DOMAIN_MAX) {
		*error_r = "domain too long";
		return -1;
	}
	rc = idn2_to_unicode_8z8z(domain, &res, 0);
	if (rc != IDN2_OK) {
		*error_r = idn2_strerror(rc);
		return -1;
	}
	len = strlen(res);
	if (len >= out_size) {
		idn2_free(res);
		*error_r = "domain too long";
		return -1;
	}
	memcpy(out, res, len + 1);
	idn2_free(res);
	return 0;
}
