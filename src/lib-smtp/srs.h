#ifndef POSTERN_SRS_H
#define POSTERN_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The Sender Rewriting Scheme, in the form postsrsd and libsrs2 use:
 *
 *   SRS0=HHHHHHHH=TT=domain=local@srs-domain
 *
 * TT is the day (days since the epoch, modulo 1024) in two base32 digits,
 * HHHHHHHH the first 40 bits of HMAC-SHA256(key, lowercase(TT domain
 * local)) in base32. Both are compared without regard to case (a relay
 * may change it). An SRS0 address of someone else is wrapped again as
 * SRS0 (its local part is kept whole); SRS1 is not produced. */

#define SRS_ADDRESS_MAX 254   /* the longest address made or parsed */
#define SRS_HASH_LEN 8
#define SRS_DAY_MOD 1024

enum srs_result {
	SRS_NOT_SRS = 0,      /* the address is no SRS0 address */
	SRS_OK = 1,
	SRS_MALFORMED = -1,
	SRS_BAD_HASH = -2,
	SRS_EXPIRED = -3,     /* older than max_age_days, or in the future */
};

/* srs_is_srs - whether the local part starts with SRS0= or SRS1= */
bool srs_is_srs(const char *address);
/* srs_forward - the SRS0 address at srs_domain for sender (local@domain)
 * at time now. 0, or -1 (error_r) when sender has no domain or the result
 * would pass SRS_ADDRESS_MAX or outlen. */
int srs_forward(const void *key, size_t keylen, const char *sender,
		const char *srs_domain, time_t now, char *out, size_t outlen,
		const char **error_r);
/* srs_reverse - the original sender of an SRS0 address made with key,
 * checked for its hash and its age (at most max_age_days days old).
 * SRS_OK fills out; other results say why (error_r for the negative
 * ones). */
enum srs_result srs_reverse(const void *key, size_t keylen,
			    const char *address, time_t now, int max_age_days,
			    char *out, size_t outlen, const char **error_r);

#endif
