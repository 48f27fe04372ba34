/* mailto - the mailto: URIs of DNS report records (DMARC rua, RFC 7489
 * 6.2; TLS-RPT rua, RFC 8460 3): one decoder for both */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailto.h"

/* mailto_mailbox_ok - see mailto.h */
bool
mailto_mailbox_ok(const char *a)
{
	const char *at = strrchr(a, '@'), *p;

	if (at == NULL || at == a || at[1] == '\0')
		return false;
	if (a[0] == '"') {
		if (at - a < 2 || at[-1] != '"')
			return false;
		for (p = a + 1; p < at - 1; p++) {
			if (*p == '\\' && p + 1 < at - 1)
				p++;
			else if (*p == '"' || *p == '\\')
				return false;
		}
	} else {
		if (a[0] == '.' || at[-1] == '.')
			return false;
		for (p = a; p < at; p++)
			if (!isalnum((unsigned char)*p) &&
			    strchr("!#$%&'*+-/=?^_`{|}~.", *p) == NULL)
				return false;
			else if (*p == '.' && p[1] == '.')
				return false;
	}
	p = at + 1;
	if (*p == '[')
		return strlen(p) > 2 && p[strlen(p) - 1] == ']' &&
		    strchr(p + 1, '[') == NULL && strchr(p, ']') == p +
		    strlen(p) - 1;
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return true;
}

/* mailto_uri_decode - see mailto.h */
bool
mailto_uri_decode(const char *u, size_t len, char *out, size_t outsz)
{
	const char *q = memchr(u, '?', len);
	size_t o = 7;

	if (q != NULL)
		len = (size_t)(q - u);
	if (len <= 7 || len >= outsz || strncasecmp(u, "mailto:", 7) != 0)
		return false;
	memcpy(out, "mailto:", 7);
	for (size_t i = 7; i < len; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)u[i + 1]) ||
			    !isxdigit((unsigned char)u[i + 2]))
				return false;
			char hex[3] = { u[i + 1], u[i + 2], '\0' };
			c = (unsigned char)strtoul(hex, NULL, 16);
			i += 2;
		}
		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>')
			return false;
		out[o++] = (char)c;   /* o <= i < len < outsz */
	}
	out[o] = '\0';
	return mailto_mailbox_ok(out + 7);
}
