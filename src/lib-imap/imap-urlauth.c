/* imap-urlauth - URLAUTH-authorized IMAP URLs (see imap-urlauth.h) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "imap-urlauth.h"
#include "url.h"
#include "xalloc.h"

/* find_last - the last case-insensitive occurrence of key in s[0..n) */
static const char *
find_last(const char *s, size_t n, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = n >= kl ? n - kl + 1 : 0; i-- > 0; )
		if (strncasecmp(s + i, key, kl) == 0)
			return s + i;
	return NULL;
}

/* decode - percent-decoding of s[0..n), non-empty and without NUL */
static char *
decode(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, IMAP_URL_MAX);
	if (n == 0 || url_decode(&b, s, n, false, false) < 0 || b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static int
digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* imap_urlauth_datetime - see imap-urlauth.h */
time_t
imap_urlauth_datetime(const char *s, size_t len)
{
	struct tm tm;
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	size_t i = 19;

	/* full-date "T" partial-time time-offset */
	if (len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
	    digits(s, 4, &y) < 0 || digits(s + 5, 2, &mo) < 0 ||
	    digits(s + 8, 2, &d) < 0 || digits(s + 11, 2, &h) < 0 ||
	    digits(s + 14, 2, &mi) < 0 || digits(s + 17, 2, &se) < 0)
		return -1;
	if (s[i] == '.') {
		size_t j = ++i;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		if (i == j || i - j > 9)
			return -1;
	}
	int sign = 0;
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':' && digits(s + i + 1, 2, &oh) == 0 &&
	    digits(s + i + 4, 2, &om) == 0) {
		sign = s[i] == '+' ? 1 : -1;
		i += 6;
	} else {
		return -1;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60 || oh > 23 || om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t - sign * (oh * 3600 + om * 60);
}

/* parse_access - "submit+user", "user+user", "authuser", "anonymous" */
static int
parse_access(const char *s, size_t n, struct imap_urlauth *u)
{
	if (n > 7 && strncasecmp(s, "submit+", 7) == 0) {
		u->access = IMAP_URLAUTH_SUBMIT;
		return (u->access_user = decode(s + 7, n - 7)) ? 0 : -1;
	}
	if (n > 5 && strncasecmp(s, "user+", 5) == 0) {
		u->access = IMAP_URLAUTH_USER;
		return (u->access_user = decode(s + 5, n - 5)) ? 0 : -1;
	}
	if (n == 8 && strncasecmp(s, "authuser", 8) == 0) {
		u->access = IMAP_URLAUTH_AUTHUSER;
		return 0;
	}
	if (n == 9 && strncasecmp(s, "anonymous", 9) == 0) {
		u->access = IMAP_URLAUTH_ANONYMOUS;
		return 0;
	}
	return -1;
}

/* parse_authority - "user[;AUTH=x]@host[:port]" of s[0..n) */
static int
parse_authority(const char *s, size_t n, struct imap_urlauth *u)
{
	const char *at = NULL;

	for (size_t i = n; i-- > 0; )
		if (s[i] == '@') {
			at = s + i;
			break;
		}
	if (at == NULL)
		return -1;
	size_t ul = (size_t)(at - s);
	const char *semi = memchr(s, ';', ul);
	if (semi != NULL) {
		if (strncasecmp(semi, ";AUTH=", 6) != 0)
			return -1;
		ul = (size_t)(semi - s);
	}
	if ((u->owner = decode(s, ul)) == NULL)
		return -1;
	const char *h = at + 1, *end = s + n;
	const char *he;
	if (h < end && *h == '[') {
		he = memchr(h, ']', (size_t)(end - h));
		if (he == NULL)
			return -1;
		he++;
	} else {
		he = memchr(h, ':', (size_t)(end - h));
		if (he == NULL)
			he = end;
	}
	if (he == h)
		return -1;
	if (he < end) {
		int port;
		if (*he != ':' || end - he < 2 || end - he > 6 ||
		    digits(he + 1, (size_t)(end - he - 1), &port) < 0 ||
		    port == 0 || port > 65535)
			return -1;
	}
	u->host = xstrndup(h, (size_t)(he - h));
	for (char *p = u->host; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && strchr("-.[]:", *p) == NULL)
			return -1;
	}
	return 0;
}

/* imap_urlauth_parse - see imap-urlauth.h */
int
imap_urlauth_parse(const char *url, bool need_token, struct imap_urlauth *u,
		   const char **error_r)
{
	size_t len = strlen(url);

	memset(u, 0, sizeof(*u));
	if (len > IMAP_URL_MAX) {
		*error_r = "URL too long";
		return -1;
	}
	if (strncasecmp(url, "imap://", 7) != 0) {
		*error_r = "Not an imap:// URL";
		return -1;
	}
	const char *ua = find_last(url, len, ";URLAUTH=");
	if (ua == NULL) {
		*error_r = "Not a URLAUTH URL";
		return -1;
	}
	/* ;URLAUTH=access[:mechanism:token] */
	const char *acc = ua + 9, *end = url + len;
	const char *colon = memchr(acc, ':', (size_t)(end - acc));
	const char *acc_end = colon ? colon : end;
	if (parse_access(acc, (size_t)(acc_end - acc), u) < 0) {
		*error_r = "Bad access identifier in URL";
		return -1;
	}
	u->rump_len = (size_t)(acc_end - url);
	if (colon != NULL) {
		const char *mech = colon + 1;
		const char *c2 = memchr(mech, ':', (size_t)(end - mech));
		size_t ml = c2 ? (size_t)(c2 - mech) : 0;
		size_t tl = c2 ? (size_t)(end - c2 - 1) : 0;
		if (c2 == NULL || ml == 0 || ml >= sizeof(u->mechanism) ||
		    tl < 32 || tl >= sizeof(u->token)) {
			*error_r = "Bad URLAUTH mechanism or token";
			return -1;
		}
		for (size_t i = 0; i < ml; i++) {
			if (!isalnum((unsigned char)mech[i]) &&
			    mech[i] != '-' && mech[i] != '.') {
				*error_r = "Bad URLAUTH mechanism";
				return -1;
			}
			u->mechanism[i] = (char)toupper((unsigned char)mech[i]);
		}
		for (size_t i = 0; i < tl; i++)
			if (!isxdigit((unsigned char)c2[1 + i])) {
				*error_r = "Bad URLAUTH token";
				return -1;
			}
		memcpy(u->token, c2 + 1, tl);
		u->have_token = true;
	}
	if (need_token && !u->have_token) {
		*error_r = "URL carries no URLAUTH token";
		return -1;
	}
	if (!need_token && u->have_token) {
		*error_r = "URL already carries a URLAUTH token";
		return -1;
	}
	/* [;EXPIRE=datetime] before it */
	const char *path_end = ua;
	const char *auth = url + 7;
	const char *slash = memchr(auth, '/', (size_t)(ua - auth));
	if (slash == NULL) {
		*error_r = "URL names no message";
		return -1;
	}
	const char *ex = find_last(slash, (size_t)(ua - slash), ";EXPIRE=");
	if (ex != NULL) {
		time_t t = imap_urlauth_datetime(ex + 8, (size_t)(ua - ex - 8));
		if (t <= 0) {
			*error_r = "Bad EXPIRE in URL";
			return -1;
		}
		u->expire = t;
		path_end = ex;
	}
	if (parse_authority(auth, (size_t)(slash - auth), u) < 0) {
		*error_r = "Bad user or host in URL";
		return -1;
	}
	char *path = xstrndup(slash, (size_t)(path_end - slash));
	int r = imap_url_parse(path, &u->url, error_r);
	free(path);
	return r;
}

/* imap_urlauth_free - see imap-urlauth.h */
void
imap_urlauth_free(struct imap_urlauth *u)
{
	imap_url_free(&u->url);
	xfree(&u->owner);
	xfree(&u->host);
	xfree(&u->access_user);
}

/* imap_urlauth_token - see imap-urlauth.h */
void
imap_urlauth_token(const unsigned char key[IMAP_URLAUTH_KEY_LEN],
		   const char *rump, size_t len,
		   char out[IMAP_URLAUTH_TOKEN_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	static const char hex[] = "0123456789abcdef";

	HMAC(EVP_sha256(), key, IMAP_URLAUTH_KEY_LEN,
	    (const unsigned char *)rump, len, mac, &ml);
	for (unsigned int i = 0; i < 32 && i < ml; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[IMAP_URLAUTH_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* imap_urlauth_verify - see imap-urlauth.h */
bool
imap_urlauth_verify(const struct imap_urlauth *u, const char *url,
		    const unsigned char key[IMAP_URLAUTH_KEY_LEN])
{
	char want[IMAP_URLAUTH_TOKEN_LEN + 1], got[IMAP_URLAUTH_TOKEN_LEN + 1];

	if (!u->have_token || strcmp(u->mechanism, "INTERNAL") != 0 ||
	    strlen(u->token) != IMAP_URLAUTH_TOKEN_LEN)
		return false;
	imap_urlauth_token(key, url, u->rump_len, want);
	for (size_t i = 0; i <= IMAP_URLAUTH_TOKEN_LEN; i++)
		got[i] = (char)tolower((unsigned char)u->token[i]);
	bool ok = CRYPTO_memcmp(want, got, IMAP_URLAUTH_TOKEN_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}
