/* srs - Sender Rewriting Scheme addresses (srs.h) */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "srs.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool
srs_is_srs(const char *address)
{
	return strncasecmp(address, "SRS0=", 5) == 0 ||
	    strncasecmp(address, "SRS1=", 5) == 0;
}

/* srs_hash - the base32 hash of tt, domain and local (lowercased) */
static int
srs_hash(const void *key, size_t keylen, const char *tt, const char *domain,
	 size_t domain_len, const char *local, size_t local_len,
	 char out[SRS_HASH_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char data[2 * SRS_ADDRESS_MAX + 8];
	size_t n = 0;

	if (domain_len + local_len + 2 >= sizeof(data))
		return -1;
	for (size_t i = 0; i < 2; i++)
		data[n++] = (char)toupper((unsigned char)tt[i]);
	for (size_t i = 0; i < domain_len; i++)
		data[n++] = (char)tolower((unsigned char)domain[i]);
	for (size_t i = 0; i < local_len; i++)
		data[n++] = (char)tolower((unsigned char)local[i]);
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n,
	    md, &mdlen) == NULL || mdlen < 5)
		return -1;
	/* 40 bits, 8 base32 digits */
	uint64_t v = 0;
	for (int i = 0; i < 5; i++)
		v = v << 8 | md[i];
	for (int i = SRS_HASH_LEN - 1; i >= 0; i--) {
		out[i] = b32[v & 31];
		v >>= 5;
	}
	out[SRS_HASH_LEN] = '\0';
	return 0;
}

/* srs_day - today in two base32 digits */
static void
srs_day(time_t now, char tt[3])
{
	unsigned d = (unsigned)((now / 86400) % SRS_DAY_MOD);

	tt[0] = b32[d >> 5];
	tt[1] = b32[d & 31];
	tt[2] = '\0';
}

int
srs_forward(const void *key, size_t keylen, const char *sender,
	    const char *srs_domain, time_t now, char *out, size_t outlen,
	    const char **error_r)
{
	const char *at = strrchr(sender, '@');
	char tt[3], hash[SRS_HASH_LEN + 1];

	if (at == NULL || at == sender || at[1] == '\0' ||
	    strlen(sender) > SRS_ADDRESS_MAX) {
		*error_r = "the sender is no local@domain address";
		return -1;
	}
	srs_day(now, tt);
	if (srs_hash(key, keylen, tt, at + 1, strlen(at + 1), sender,
	    (size_t)(at - sender), hash) < 0) {
		*error_r = "cannot compute the SRS hash";
		return -1;
	}
	int n = snprintf(out, outlen, "SRS0=%s=%s=%s=%.*s@%s", hash, tt, at + 1,
	    (int)(at - sender), sender, srs_domain);
	if (n < 0 || (size_t)n >= outlen || n > SRS_ADDRESS_MAX) {
		*error_r = "the SRS address would be too long";
		return -1;
	}
	return 0;
}

/* b32_value - value of a base32 digit (either case), -1 if none */
static int
b32_value(char c)
{
	const char *p = strchr(b32, toupper((unsigned char)c));

	return c != '\0' && p != NULL ? (int)(p - b32) : -1;
}

enum srs_result
srs_reverse(const void *key, size_t keylen, const char *address, time_t now,
	    int max_age_days, char *out, size_t outlen, const char **error_r)
{
	char hash[SRS_HASH_LEN + 1];
	size_t len = strlen(address);

	if (strncasecmp(address, "SRS0=", 5) != 0)
		return SRS_NOT_SRS;
	if (len > SRS_ADDRESS_MAX) {
		*error_r = "SRS address too long";
		return SRS_MALFORMED;
	}
	/* SRS0=HASH=TT=domain=local@srs-domain */
	const char *at = strrchr(address, '@');
	if (at == NULL) {
		*error_r = "SRS address without a domain";
		return SRS_MALFORMED;
	}
	const char *h = address + 5;
	const char *e1 = memchr(h, '=', (size_t)(at - h));
	if (e1 == NULL || e1 - h != SRS_HASH_LEN) {
		*error_r = "SRS address without a valid hash";
		return SRS_MALFORMED;
	}
	const char *t = e1 + 1;
	if (at - t < 3 || t[2] != '=' || b32_value(t[0]) < 0 ||
	    b32_value(t[1]) < 0) {
		*error_r = "SRS address without a valid timestamp";
		return SRS_MALFORMED;
	}
	const char *dom = t + 3;
	const char *e3 = memchr(dom, '=', (size_t)(at - dom));
	if (e3 == NULL || e3 == dom || e3 + 1 == at) {
		*error_r = "SRS address without the original domain and local part";
		return SRS_MALFORMED;
	}
	const char *local = e3 + 1;
	size_t dom_len = (size_t)(e3 - dom), local_len = (size_t)(at - local);
	if (memchr(dom, '@', dom_len) != NULL) {
		*error_r = "SRS address with a bad original domain";
		return SRS_MALFORMED;
	}
	if (srs_hash(key, keylen, t, dom, dom_len, local, local_len, hash) < 0) {
		*error_r = "cannot compute the SRS hash";
		return SRS_MALFORMED;
	}
	/* compare all of it, whatever differs first */
	unsigned diff = 0;
	for (size_t i = 0; i < SRS_HASH_LEN; i++)
		diff |= (unsigned)(toupper((unsigned char)h[i]) ^ hash[i]);
	if (diff != 0) {
		*error_r = "SRS address with a wrong hash (forged)";
		return SRS_BAD_HASH;
	}
	unsigned then = (unsigned)(b32_value(t[0]) << 5 | b32_value(t[1]));
	unsigned today = (unsigned)((now / 86400) % SRS_DAY_MOD);
	unsigned age = (today + SRS_DAY_MOD - then) % SRS_DAY_MOD;
	if (max_age_days < 0 || age > (unsigned)max_age_days) {
		*error_r = "SRS address expired";
		return SRS_EXPIRED;
	}
	int n = snprintf(out, outlen, "%.*s@%.*s", (int)local_len, local,
	    (int)dom_len, dom);
	if (n < 0 || (size_t)n >= outlen) {
		*error_r = "SRS address too long";
		return SRS_MALFORMED;
	}
	return SRS_OK;
}
