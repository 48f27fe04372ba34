#ifndef POSTERN_IMAP_MATCH_H
#define POSTERN_IMAP_MATCH_H

/* imap-match - LIST/LSUB mailbox patterns (RFC 3501 6.3.8): '*' matches
 * any text, '%' any text without the hierarchy separator, every other
 * octet itself. A pattern is compiled once per command and run as a
 * bit-parallel NFA over each name: one pass over the name, each step
 * costing (pattern length / 64) word operations. No backtracking, so no
 * pattern makes a name expensive, and the cost of a LIST is bounded by
 * (pattern octets / 64) * name octets * folders. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_match;

/* imap_match_compile - pattern[0..len) with hierarchy separator sep; the
 * caller bounds len (imapd: LIST_PATTERN_MAX) */
struct imap_match *imap_match_compile(const char *pattern, size_t len,
				      char sep);
/* imap_match - whether name[0..len) matches the whole pattern */
bool imap_match(const struct imap_match *m, const char *name, size_t len);
void imap_match_free(struct imap_match **m);

#endif
