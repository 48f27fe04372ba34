#ifndef POSTERN_SMTPD_DNSBL_H
#define POSTERN_SMTPD_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* dnsbl - DNS block lists (RFC 5782): the query names, what an answer
 * means, and the text (TXT) a list gives as its reason. No I/O here:
 * checks.c asks DNS, session.c applies the verdict. */

#define DNSBL_MAX_ZONES 8
#define DNSBL_ZONE_MAX 200       /* the query name must fit in 253 */
#define DNSBL_REASON_MAX 200     /* the reason shown in a reply */

/* dnsbl_zones_parse - the zones of smtp.dnsbl (space or comma separated
 * DNS names), at most DNSBL_MAX_ZONES; each valid zone (lowercased) is
 * copied into zones[i]. Returns how many; a malformed or surplus entry
 * is skipped and reported in *bad_r (may be NULL). */
size_t dnsbl_zones_parse(const char *list,
			 char zones[][DNSBL_ZONE_MAX + 1], size_t max,
			 const char **bad_r);

/* dnsbl_query_name - RFC 5782 2.1 and 2.4: the address's octets
 * (IPv4, v4-mapped IPv6 too) or nibbles (IPv6) reversed, then the zone:
 * 192.0.2.99 -> "99.2.0.192.<zone>". -1 if sa is not IP or out is small. */
int dnsbl_query_name(const struct sockaddr *sa, const char *zone,
		     char *out, size_t out_size);

enum dnsbl_answer {
	DNSBL_NOT_LISTED = 0,
	DNSBL_LISTED,           /* an answer in 127.0.0.0/8 */
	DNSBL_LIST_ERROR,       /* 127.255.255.0/24: the list refuses the query
				   (Spamhaus .252 typo, .254 public resolver,
				   .255 excessive queries): not listed */
	DNSBL_BOGUS,            /* only answers outside 127.0.0.0/8 (a
				   hijacked NXDOMAIN, a dead list's wildcard):
				   not listed */
};

/* dnsbl_classify - what the A records of a query name say; *code_r (may be
 * NULL) gets the deciding address as text (the listing code, or the error
 * code). One listing code is enough: it wins over error codes. */
enum dnsbl_answer dnsbl_classify(const struct sockaddr_storage *addrs,
				 size_t n, char *code_r, size_t code_size);

/* dnsbl_reason_clean - the TXT text of a listing made fit for a reply and
 * a log line: printable ASCII only (others become '?'), white space runs
 * as one space, trimmed, at most DNSBL_REASON_MAX bytes ("..." ends a cut
 * text). out must hold DNSBL_REASON_MAX + 1. Returns the length. */
size_t dnsbl_reason_clean(const char *txt, size_t len, char *out);

#endif
