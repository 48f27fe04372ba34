/* store-urlauth - the URLAUTH keys of a mailbox's folders (RFC 4467 3:
 * one secret key per IMAP mailbox). They live in the mailbox's own store,
 * in <root>/urlauth-keys (mode 0600, one "<mailboxid> <64 hex>" line per
 * folder, replaced atomically under <root>/urlauth-keys.lock), keyed by
 * the folder's MAILBOXID: a deleted folder's key goes with its id, and a
 * new folder of the same name gets a new id and so a new key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "buf.h"
#include "fsutil.h"
#include "store-private.h"
#include "store.h"
#include "xalloc.h"

#define KEYS_FILE "urlauth-keys"
#define KEYS_MAX  (1u << 20)    /* the file, at most */

/* keys_lock - an exclusive lock of the key file of st; the fd, or -1 */
static int
keys_lock(struct store *st, const char **error_r)
{
	char *p = path_join(store_root(st), KEYS_FILE ".lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		store_seterr(error_r, "lock %s: %s", p, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(p);
	return fd;
}

/* keys_read - the key file's lines into b; 0 (empty if none), -1 */
static int
keys_read(struct store *st, struct buf *b, const char **error_r)
{
	char *p = path_join(store_root(st), KEYS_FILE);
	int r = file_read(p, b);
	if (r < 0 && errno == ENOENT) {
		buf_reset(b);
		r = 0;
	} else if (r < 0) {
		store_seterr(error_r, "read %s: %s", p, strerror(errno));
	}
	free(p);
	return r;
}

/* key_find - the key of id in the lines of b: 1 (key set), 0 none */
static int
key_find(const struct buf *b, const char *id, unsigned char *key,
	 size_t *line_r, size_t *line_len_r)
{
	size_t il = strlen(id);

	for (size_t pos = 0; pos < b->len; ) {
		const char *ln = b->data + pos;
		const char *nl = memchr(ln, '\n', b->len - pos);
		size_t n = nl ? (size_t)(nl - ln) + 1 : b->len - pos;
		if (n == il + 1 + (2 * STORE_URLAUTH_KEY_LEN) + 1 && memcmp(ln, id, il) == 0 &&
		    ln[il] == ' ') {
			for (size_t i = 0; i < STORE_URLAUTH_KEY_LEN; i++) {
				unsigned int v;
				if (sscanf(ln + il + 1 + 2 * i, "%2x", &v) != 1)
					return 0;
				key[i] = (unsigned char)v;
			}
			*line_r = pos;
			*line_len_r = n;
			return 1;
		}
		pos += n;
	}
	return 0;
}

/* keys_write - replace the key file by b (removed when empty) */
static int
keys_write(struct store *st, const struct buf *b, const char **error_r)
{
	char *p = path_join(store_root(st), KEYS_FILE);
	int r = b->len == 0 ? (unlink(p) < 0 && errno != ENOENT ? -1 : 0) :
	    file_write_atomic(p, b->data, b->len, 0600);
	if (r < 0)
		store_seterr(error_r, "write %s: %s", p, strerror(errno));
	free(p);
	return r;
}

/* key_new_line - a new random key for id, appended to b as a line */
static int
key_new_line(struct buf *b, const char *id, unsigned char *key,
	     const char **error_r)
{
	if (RAND_bytes(key, STORE_URLAUTH_KEY_LEN) != 1) {
		store_seterr(error_r, "no random bytes for a URLAUTH key");
		return -1;
	}
	buf_printf(b, "%s ", id);
	for (size_t i = 0; i < STORE_URLAUTH_KEY_LEN; i++)
		buf_printf(b, "%02x", key[i]);
	buf_putc(b, '\n');
	return 0;
}

/* store_urlauth_key - see store.h */
int
store_urlauth_key(struct store_folder *f, bool create,
		  unsigned char key[STORE_URLAUTH_KEY_LEN],
		  const char **error_r)
{
	struct buf b;
	size_t at, n;
	int rc = -1, lock = -1;

	buf_init(&b, KEYS_MAX);
	if (create && (lock = keys_lock(f->st, error_r)) < 0)
		goto out;
	if (keys_read(f->st, &b, error_r) < 0)
		goto out;
	if (key_find(&b, f->mailboxid, key, &at, &n) == 1) {
		rc = 1;
	} else if (!create) {
		rc = 0;
	} else if (key_new_line(&b, f->mailboxid, key, error_r) == 0 &&
	    keys_write(f->st, &b, error_r) == 0) {
		rc = 1;
	}
out:
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	if (lock >= 0)
		close(lock);
	return rc;
}

/* store_urlauth_reset - see store.h */
int
store_urlauth_reset(struct store *st, struct store_folder *f,
		    const char **error_r)
{
	struct buf b;
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	size_t at, n;
	int rc = -1;
	int lock = keys_lock(st, error_r);

	if (lock < 0)
		return -1;
	buf_init(&b, KEYS_MAX);
	if (f != NULL) {
		if (keys_read(st, &b, error_r) < 0)
			goto out;
		if (key_find(&b, f->mailboxid, key, &at, &n) == 1) {
			memmove(b.data + at, b.data + at + n, b.len - at - n);
			buf_truncate(&b, b.len - n);
		}
		if (key_new_line(&b, f->mailboxid, key, error_r) < 0)
			goto out;
	}
	rc = keys_write(st, &b, error_r);
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	close(lock);
	return rc;
}
