#ifndef POSTERN_MAILTO_H
#define POSTERN_MAILTO_H

#include <stdbool.h>
#include <stddef.h>

/* mailto_mailbox_ok - an SMTP mailbox (RFC 5321 4.1.2) in ASCII: a
 * dot-atom or quoted-string local part, '@', a domain of letters, digits,
 * '-' and '.' or an address literal in [] */
bool mailto_mailbox_ok(const char *a);

/* mailto_uri_decode - the address of the mailto: URI u (len bytes, RFC
 * 6068 2): the part before any '?' (header fields are ignored),
 * %-decoded (report records %-encode commas, semicolons and '!', so a
 * quoted local part "a,b" comes as %22a%2Cb%22), into out (outsz bytes)
 * as "mailto:<address>". False for a URI not starting "mailto:", one
 * that does not fit, a bad escape, a decoded byte outside printable ASCII
 * or one of "<>", or no valid mailbox. */
bool mailto_uri_decode(const char *u, size_t len, char *out, size_t outsz);

#endif
