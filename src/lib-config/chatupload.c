/* chatupload - XEP-0363 slots (chatupload.h) */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "chatupload.h"
#include "fsutil.h"
#include "settings.h"
#include "xalloc.h"

bool
chatupload_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CHATUPLOAD_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return false;
	return true;
}

bool
chatupload_number(const char *t, uint64_t *n_r)
{
	uint64_t v = 0;

	if (t == NULL || *t == '\0' || strlen(t) > 18)
		return false;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return false;
		v = v * 10 + (uint64_t)(*t - '0');
	}
	*n_r = v;
	return true;
}

bool
chatupload_slot_ok(const char *slot)
{
	size_t n = 0;

	for (const char *p = slot; *p; p++, n++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return n == CHATUPLOAD_SLOT_LEN;
}

bool
chatupload_path_parse(const char *p, int64_t *mailbox_id_r,
		      char slot[CHATUPLOAD_SLOT_LEN + 1],
		      char name[CHATUPLOAD_NAME_MAX + 1])
{
	const char *s1 = strchr(p, '/'), *s2;
	int64_t id = 0;

	if (s1 == NULL || s1 == p || s1 - p > 18 || *p == '0')
		return false;
	for (const char *q = p; q < s1; q++) {
		if (*q < '0' || *q > '9')
			return false;
		id = id * 10 + (*q - '0');
	}
	s2 = strchr(s1 + 1, '/');
	if (s2 == NULL || s2 - s1 - 1 != CHATUPLOAD_SLOT_LEN)
		return false;
	memcpy(slot, s1 + 1, CHATUPLOAD_SLOT_LEN);
	slot[CHATUPLOAD_SLOT_LEN] = '\0';
	if (!chatupload_slot_ok(slot) || !chatupload_name_ok(s2 + 1))
		return false;
	strcpy(name, s2 + 1);    /* chatupload_name_ok bounds it */
	*mailbox_id_r = id;
	return true;
}

int
chatupload_key(struct db *db, int64_t mailbox_id, const char *slot,
	       const char *name, uint64_t size, int64_t expires,
	       char key[CHATUPLOAD_KEY_LEN + 1], const char **error_r)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *secret = settings_secret(db, "xmpp.upload_secret", error_r);

	if (secret == NULL)
		return -1;
	/* NUL-separated: no field can run into the next */
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%lld", (long long)mailbox_id);
	buf_putc(&b, '\0');
	buf_puts(&b, slot);
	buf_putc(&b, '\0');
	buf_puts(&b, name);
	buf_putc(&b, '\0');
	buf_printf(&b, "%llu", (unsigned long long)size);
	buf_putc(&b, '\0');
	buf_printf(&b, "%lld", (long long)expires);
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)b.data, b.len, md, &mdlen);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	buf_free(&b);
	for (unsigned i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	return 0;
}

char *
chatupload_dir(const char *root, int64_t mailbox_id)
{
	return xasprintf("%s/chat/upload/%lld", root, (long long)mailbox_id);
}

uint64_t
chatupload_max(struct db *db)
{
	uint64_t max = (uint64_t)settings_current(db)->xmpp_upload_max_size * 1024;
	uint64_t body = (uint64_t)settings_current(db)->http_max_upload * 1024;

	return max < body ? max : body;
}

uint64_t
chatupload_quota(struct db *db)
{
	return (uint64_t)settings_current(db)->xmpp_upload_quota *
	    1024;
}

/* the two levels <slot>/<file> by hand: fsutil's dir_size keeps its
 * total in a static, and httpd counts on worker threads */
uint64_t
chatupload_used(const char *root, int64_t mailbox_id)
{
	char *dir = chatupload_dir(root, mailbox_id);
	DIR *d = opendir(dir);
	uint64_t n = 0;
	struct dirent *e;

	if (d == NULL) {
		free(dir);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *sd = path_join(dir, e->d_name);
		DIR *d2 = opendir(sd);
		struct dirent *f;
		struct stat st;
		while (d2 != NULL && (f = readdir(d2)) != NULL) {
			if (strcmp(f->d_name, ".") == 0 ||
			    strcmp(f->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(d2), f->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
				n += (uint64_t)st.st_size;
		}
		if (d2 != NULL)
			closedir(d2);
		free(sd);
	}
	closedir(d);
	free(dir);
	return n;
}

char *
chatupload_base(struct db *db)
{
	char *u = xstrdup(settings_current(db)->xmpp_upload_url);

	if (*u == '\0') {
		free(u);
		char *pub = xstrdup(settings_current(db)->http_public_url);
		if (*pub == '\0') {
			free(pub);
			return NULL;
		}
		size_t n = strlen(pub);
		while (n > 0 && pub[n - 1] == '/')
			pub[--n] = '\0';
		u = xasprintf("%s/chat/upload", pub);
		free(pub);
		return u;
	}
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}
