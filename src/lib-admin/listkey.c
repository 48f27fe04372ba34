/* listkey - per-member unsubscribe keys and links (listkey.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "fsutil.h"
#include "listkey.h"
#include "settings.h"
#include "strutil.h"
#include "url.h"
#include "xalloc.h"

/* secret_read - 1 read, 0 absent (or not the right size), -1 error */
static int
secret_read(const char *path, unsigned char *secret)
{
	struct buf b;
	int r;

	buf_init(&b, 1024);
	r = file_read(path, &b);
	if (r == 0 && b.len == LIST_SECRET_LEN) {
		memcpy(secret, b.data, LIST_SECRET_LEN);
		r = 1;
	} else {
		r = r < 0 && errno != ENOENT ? -1 : 0;
	}
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return r;
}

int
list_secret_load(struct db *db, unsigned char secret[LIST_SECRET_LEN],
		 const char **error_r)
{
	char *dir = list_dir(db, ""), *path = list_dir(db, "secret");
	char *tmp = xasprintf("%s.%ld", path, (long)getpid());
	int r = secret_read(path, secret);

	if (r == 0) {
		/* made here: written aside, then linked into place, which
		 * fails when another process was first (its secret wins) */
		random_bytes(secret, LIST_SECRET_LEN);
		r = -1;
		if (mkdir_p(dir, 0770) == 0 &&
		    file_write_atomic(tmp, secret, LIST_SECRET_LEN, 0600) == 0) {
			if (link(tmp, path) == 0 || errno == EEXIST) {
				r = secret_read(path, secret) == 1 ? 0 : -1;
				if (r < 0) {
					/* a damaged secret: replaced */
					random_bytes(secret, LIST_SECRET_LEN);
					r = file_write_atomic(path, secret,
					    LIST_SECRET_LEN, 0600);
				}
			}
			unlink(tmp);
			(void)fsync_parent(path);
		}
	} else if (r == 1) {
		r = 0;
	}
	if (r < 0)
		*error_r = "cannot read or make the list secret (queue/ls/secret)";
	free(tmp);
	free(path);
	free(dir);
	return r;
}

void
list_member_key(const unsigned char secret[LIST_SECRET_LEN], int64_t list_id,
		const char *member, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *lower = xstrdup(member);
	str_lower(lower);
	char *data = xasprintf("unsub:%lld:%s", (long long)list_id, lower);

	HMAC(EVP_sha256(), secret, LIST_SECRET_LEN, (const unsigned char *)data,
	    strlen(data), md, &mdlen);
	for (size_t i = 0; i < LIST_TOKEN_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	free(data);
	free(lower);
}

bool
list_member_key_ok(const unsigned char secret[LIST_SECRET_LEN],
		   int64_t list_id, const char *member, const char *key)
{
	char k[LIST_TOKEN_LEN + 1];

	if (strlen(key) != LIST_TOKEN_LEN)
		return false;
	list_member_key(secret, list_id, member, k);
	return CRYPTO_memcmp(k, key, LIST_TOKEN_LEN) == 0;
}

char *
list_unsubscribe_base(struct db *db)
{
	char *url = xstrdup(settings_current(db)->list_unsubscribe_url);

	if (*url != '\0')
		return url;
	free(url);
	url = xstrdup(settings_current(db)->http_public_url);
	if (strncasecmp(url, "https://", 8) != 0 &&
	    strncasecmp(url, "http://", 7) != 0) {   /* unset, or not a URL */
		free(url);
		return NULL;
	}
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	char *r = xasprintf("%.*s%s", (int)n, url, LIST_UNSUBSCRIBE_PATH);
	free(url);
	return r;
}

char *
list_unsubscribe_url(const char *base, const char *list, const char *member,
		     const char *key)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, base);
	buf_puts(&b, strchr(base, '?') != NULL ? "&list=" : "?list=");
	url_encode(&b, list);
	buf_puts(&b, "&member=");
	url_encode(&b, member);
	buf_puts(&b, "&key=");
	url_encode(&b, key);
	return buf_steal(&b);
}
