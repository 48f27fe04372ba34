/* strutil - string helpers and the validation of names and addresses */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "log.h"
#include "strutil.h"
#include "xalloc.h"

void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

char *
str_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static unsigned char
fold_ascii(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

#define CONTAINS_STACK 256   /* needles up to this need no allocation */

/* mem_contains_ci - see strutil.h */
bool
mem_contains_ci(const char *hay, size_t hl, const char *needle, size_t nl)
{
	const unsigned char *h = (const unsigned char *)hay;
	size_t stack[CONTAINS_STACK], *fail = stack, k = 0;
	unsigned char pstack[CONTAINS_STACK], *p = pstack;
	bool found = false;

	if (nl == 0)
		return true;
	if (nl > hl)
		return false;
	if (nl > CONTAINS_STACK) {
		fail = xcalloc(nl, sizeof(*fail));
		p = xmalloc(nl);
	}
	for (size_t i = 0; i < nl; i++)
		p[i] = fold_ascii((unsigned char)needle[i]);
	/* fail[i]: the length of the longest proper border of p[0..i] */
	fail[0] = 0;
	for (size_t i = 1; i < nl; i++) {
		while (k > 0 && p[i] != p[k])
			k = fail[k - 1];
		if (p[i] == p[k])
			k++;
		fail[i] = k;
	}
	k = 0;
	unsigned char first = p[0];
	unsigned char other = first >= 'a' && first <= 'z' ?
	    (unsigned char)(first - 'a' + 'A') : first;
	for (size_t i = 0; i < hl; i++) {
		if (k == 0) {
			/* nothing matched yet: skip to the first octet */
			while (i < hl && h[i] != first && h[i] != other)
				i++;
			if (i == hl)
				break;
		}
		unsigned char c = fold_ascii(h[i]);
		while (k > 0 && c != p[k])
			k = fail[k - 1];
		if (c == p[k] && ++k == nl) {
			found = true;
			break;
		}
	}
	if (fail != stack) {
		free(fail);
		free(p);
	}
	return found;
}

bool
str_eq_ci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int
name_check(const char *name, const char **error_r)
{
	size_t len = strlen(name);

	if (len == 0) {
		*error_r = "name is empty";
		return -1;
	}
	if (len > NAME_MAX_LEN) {
		*error_r = "name is longer than 64 characters";
		return -1;
	}
	if (name[0] == '.' || name[0] == '-') {
		*error_r = "name must not start with '.' or '-'";
		return -1;
	}
	if (strstr(name, "..") != NULL) {
		*error_r = "name must not contain '..'";
		return -1;
	}
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-') {
			*error_r = "name may only contain letters, digits, '.', '_' and '-'";
			return -1;
		}
	}
	return 0;
}

int
domain_check(const char *domain, const char **error_r)
{
	size_t len = strlen(domain), label = 0;

	if (len == 0) {
		*error_r = "domain is empty";
		return -1;
	}
	if (len > DOMAIN_MAX_LEN) {
		*error_r = "domain is longer than 253 characters";
		return -1;
	}
	for (const char *p = domain; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0) {
				*error_r = "domain has an empty label";
				return -1;
			}
			if (p[-1] == '-') {
				*error_r = "domain label ends with '-'";
				return -1;
			}
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (label == 0 && *p == '-') {
			*error_r = "domain label starts with '-'";
			return -1;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			*error_r = "domain may only contain letters, digits, '-' and '.'";
			return -1;
		}
		if (++label > 63) {
			*error_r = "domain label is longer than 63 characters";
			return -1;
		}
	}
	if (strchr(domain, '.') == NULL && strcasecmp(domain, "localhost") != 0) {
		*error_r = "domain needs at least two labels (like example.com)";
		return -1;
	}
	return 0;
}

static bool
atext(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

int
localpart_check(const char *local, const char **error_r)
{
	size_t len = strlen(local);

	if (len == 0) {
		*error_r = "local part is empty";
		return -1;
	}
	if (len > LOCALPART_MAX_LEN) {
		*error_r = "local part is longer than 64 characters";
		return -1;
	}
	if (local[0] == '.' || local[len - 1] == '.' || strstr(local, "..")) {
		*error_r = "local part has a misplaced '.'";
		return -1;
	}
	for (const char *p = local; *p; p++) {
		if (*p != '.' && !atext((unsigned char)*p)) {
			*error_r = "local part has a character that is not allowed";
			return -1;
		}
	}
	return 0;
}

int
address_split(const char *addr, char *local, size_t local_size,
	      char *domain, size_t domain_size, const char **error_r)
{
	const char *at = strrchr(addr, '@');
	size_t llen;

	if (at == NULL) {
		*error_r = "address has no '@'";
		return -1;
	}
	llen = (size_t)(at - addr);
	if (llen >= local_size || strlen(at + 1) >= domain_size) {
		*error_r = "address is too long";
		return -1;
	}
	memcpy(local, addr, llen);
	local[llen] = '\0';
	strcpy(domain, at + 1);
	str_lower(domain);
	if (localpart_check(local, error_r) < 0 ||
	    domain_check(domain, error_r) < 0)
		return -1;
	return 0;
}

char *
address_normalize(const char *addr, const char **error_r)
{
	char local[LOCALPART_MAX_LEN + 2], domain[DOMAIN_MAX_LEN + 2];

	if (strlen(addr) > ADDRESS_MAX_LEN) {
		*error_r = "address is longer than 254 characters";
		return NULL;
	}
	if (address_split(addr, local, sizeof(local), domain, sizeof(domain),
	    error_r) < 0)
		return NULL;
	str_lower(local);
	return xasprintf("%s@%s", local, domain);
}

void
random_bytes(void *p, size_t n)
{
	unsigned char *c = p;

	while (n > 0) {
		ssize_t r = getrandom(c, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("getrandom");
		}
		c += r;
		n -= (size_t)r;
	}
}

char *
random_password(size_t len)
{
	static const char set[] =
	    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	char *s = xmalloc(len + 1);
	size_t i = 0;

	while (i < len) {
		unsigned char r[32];
		random_bytes(r, sizeof(r));
		for (size_t j = 0; j < sizeof(r) && i < len; j++) {
			/* reject to avoid modulo bias */
			if (r[j] >= 256 - 256 % (sizeof(set) - 1))
				continue;
			s[i++] = set[r[j] % (sizeof(set) - 1)];
		}
	}
	s[len] = '\0';
	return s;
}

int
parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long long
parse_size_kb(const char *s, char default_unit)
{
	char num[32], unit;
	size_t len = strlen(s);
	long long v, mul;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	unit = (char)toupper((unsigned char)num[len - 1]);
	if (unit == 'B' && len >= 2) {
		num[--len] = '\0';
		unit = (char)toupper((unsigned char)num[len - 1]);
	}
	if (isalpha((unsigned char)unit))
		num[--len] = '\0';
	else
		unit = default_unit;
	switch (unit) {
	case 'K': mul = 1; break;
	case 'M': mul = 1024; break;
	case 'G': mul = 1024 * 1024; break;
	default: return -1;
	}
	if (parse_long(num, 0, LLONG_MAX / (1024LL * 1024 * 1024), &v) < 0)
		return -1;
	return v * mul;
}

int
parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "1") || !strcasecmp(s, "yes") ||
	    !strcasecmp(s, "true") || !strcasecmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "0") || !strcasecmp(s, "no") ||
	    !strcasecmp(s, "false") || !strcasecmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -1;
}
