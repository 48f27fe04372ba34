/* socks5-parse - SOCKS5 client messages (socks5-parse.h) */
#include <string.h>

#include "socks5-parse.h"

int
s5_greeting(const unsigned char *p, size_t len, size_t *used_r,
	    const char **why_r)
{
	if (len < 2)
		return 0;
	if (p[0] != 5 || p[1] == 0) {
		*why_r = "not a SOCKS5 greeting";
		return -1;
	}
	if (len < 2u + p[1])
		return 0;
	if (memchr(p + 2, 0, p[1]) == NULL) {
		*why_r = "no acceptable SOCKS5 method (only 'no "
		    "authentication')";
		return -1;
	}
	*used_r = 2u + p[1];
	return 1;
}

int
s5_request(const unsigned char *p, size_t len, char hash[S5_HASH_LEN + 1],
	   unsigned char *code_r, const char **why_r)
{
	if (len < 5)
		return 0;
	*code_r = 2;
	if (p[0] != 5 || p[2] != 0) {
		*code_r = 1;
		*why_r = "malformed SOCKS5 request";
		return -1;
	}
	if (p[1] != 1) {
		*code_r = 7;
		*why_r = "SOCKS5 command other than CONNECT";
		return -1;
	}
	if (p[3] != 3) {
		*code_r = 8;
		*why_r = "SOCKS5 address not a DOMAINNAME";
		return -1;
	}
	if (len < 5u + p[4] + 2)
		return 0;
	*why_r = "SOCKS5 address not a SHA-1 hash";
	if (p[4] != S5_HASH_LEN)
		return -1;
	for (int i = 0; i < S5_HASH_LEN; i++) {
		unsigned char h = p[5 + i];
		if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
			return -1;
	}
	if (p[45] != 0 || p[46] != 0) {
		*why_r = "SOCKS5 port not 0";
		return -1;
	}
	memcpy(hash, p + 5, S5_HASH_LEN);
	hash[S5_HASH_LEN] = '\0';
	return 1;
}
