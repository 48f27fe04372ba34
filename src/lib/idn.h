#ifndef POSTERN_IDN_H
#define POSTERN_IDN_H

#include <stdbool.h>
#include <stddef.h>

/* idn - internationalized domain names (IDNA2008, RFC 5890-5893, with the
 * UTS #46 mapping of libidn2). Postern keeps domains in A-label form
 * (xn--...): the config store, DNS lookups and address-map matching all
 * use it; a domain given in UTF-8 (SMTPUTF8 sessions, RFC 6531) is
 * converted at the edge. */

#define IDN_DOMAIN_MAX 253

/* idn_has_utf8 - whether s has a byte above 0x7f. */
bool idn_has_utf8(const char *s);

/* idn_to_ascii - the A-label form of a domain, lowercased, into out
 * (size > IDN_DOMAIN_MAX). An ASCII domain is only lowercased. -1 with an
 * error for a name IDNA2008 refuses (bad UTF-8, disallowed code points,
 * labels over 63 octets, over IDN_DOMAIN_MAX in all). */
int idn_to_ascii(const char *domain, char *out, size_t out_size,
		 const char **error_r);

/* idn_to_utf8 - the U-label form of an A-label domain (for display and
 * comparison); -1 with an error if an xn-- label is not valid. */
int idn_to_utf8(const char *domain, char *out, size_t out_size,
		const char **error_r);

#endif
