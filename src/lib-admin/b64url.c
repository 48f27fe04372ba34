/* b64url - base64url encoding (b64url.h) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "xalloc.h"

static const char b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64url_encode(const unsigned char *p, size_t n)
{
	char *out = xmalloc(n / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = b64u[v >> 18];
		*o++ = b64u[(v >> 12) & 63];
		*o++ = b64u[(v >> 6) & 63];
		*o++ = b64u[v & 63];
	}
	if (n - i == 1) {
		*o++ = b64u[p[i] >> 2];
		*o++ = b64u[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = b64u[p[i] >> 2];
		*o++ = b64u[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64u[(p[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

unsigned char *
b64url_decode(const char *s, size_t max, size_t *n_r)
{
	size_t len = strlen(s);

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1 || len / 4 * 3 + 3 > max)
		return NULL;
	unsigned char *out = xmalloc(len / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		const char *c = memchr(b64u, s[i], 64);
		if (s[i] == '\0' || c == NULL) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)(c - b64u);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*n_r = o;
	return out;
}
