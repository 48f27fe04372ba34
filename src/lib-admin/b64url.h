#ifndef POSTERN_B64URL_H
#define POSTERN_B64URL_H

#include <stddef.h>

/* b64url - base64url (RFC 4648 5) as WebAuthn and JOSE use it */

/* b64url_encode - base64url without padding of n bytes (new string) */
char *b64url_encode(const unsigned char *p, size_t n);
/* b64url_decode - decode base64url (padding tolerated) into a new buffer
 * of *n_r bytes, at most max; NULL when malformed or longer */
unsigned char *b64url_decode(const char *s, size_t max, size_t *n_r);

#endif
