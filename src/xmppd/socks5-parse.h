#ifndef POSTERN_SOCKS5_PARSE_H
#define POSTERN_SOCKS5_PARSE_H

#include <stddef.h>

/* socks5-parse - the two client messages of the XEP-0065 subset of
 * SOCKS5 (RFC 1928), without I/O (socks5.c; fuzz/fuzz-socks5.c). Each
 * returns 0 when more bytes are needed, 1 when the message is whole and
 * acceptable (*used_r bytes), -1 when it is refused (*why_r says why;
 * for a request *code_r is the RFC 1928 reply code). */

#define S5_HASH_LEN 40
#define S5_REQUEST_LEN (5 + S5_HASH_LEN + 2)

/* s5_greeting - VER NMETHODS METHODS: version 5, "no authentication"
 * among the methods */
int s5_greeting(const unsigned char *p, size_t len, size_t *used_r,
		const char **why_r);
/* s5_request - VER CMD RSV ATYP DST.ADDR DST.PORT: CONNECT to a
 * DOMAINNAME of 40 lower-case hex digits (the stream's hash, copied to
 * hash), port 0 */
int s5_request(const unsigned char *p, size_t len,
	       char hash[S5_HASH_LEN + 1], unsigned char *code_r,
	       const char **why_r);

#endif
