/* store-quota - Maildir++ quota usage (maildirsize) and the mailbox size */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

#define MAILDIRSIZE_COMPACT 5120


/* quota_walk_dir - add up the messages of one Maildir */
static void
quota_walk_dir(const char *dir, int64_t *bytes, int64_t *count)
{
	static const char *const subs[] = { "cur", "new" };

	for (size_t i = 0; i < 2; i++) {
		char *p = path_join(dir, subs[i]);
		DIR *d = opendir(p);
		struct dirent *de;

		if (d == NULL) {
			free(p);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			int64_t s, w;
			unsigned int fl;
			if (de->d_name[0] == '.')
				continue;
			store_name_parse(de->d_name, &s, &w, &fl);
			if (s < 0) {
				struct stat st;
				char *f = path_join(p, de->d_name);
				if (stat(f, &st) == 0)
					s = st.st_size;
				free(f);
			}
			if (s >= 0) {
				*bytes += s;
				(*count)++;
			}
		}
		closedir(d);
		free(p);
	}
}

int
store_mailbox_size(const char *root, int64_t *bytes_r, int64_t *count_r,
		   const char **error_r)
{
	int64_t bytes = 0, count = 0;
	DIR *d;
	struct dirent *de;

	quota_walk_dir(root, &bytes, &count);
	d = opendir(root);
	if (d == NULL)
		return store_seterr(error_r, "open %s: %s", root,
		    strerror(errno)), -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		char *sub = path_join(root, de->d_name);
		quota_walk_dir(sub, &bytes, &count);
		free(sub);
	}
	closedir(d);
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

/* quota_recalc - walk the mailbox and rewrite maildirsize */
static int
quota_recalc(const char *root, int64_t *bytes_r, int64_t *count_r,
	     const char **error_r)
{
	int64_t bytes, count;
	char *path, line[96];
	int n;

	if (store_mailbox_size(root, &bytes, &count, error_r) < 0)
		return -1;
	n = snprintf(line, sizeof(line), "0S\n%" PRId64 " %" PRId64 "\n",
	    bytes, count);
	path = path_join(root, "maildirsize");
	(void)file_write_atomic(path, line, (size_t)n, 0600);
	free(path);
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

/* quota_parse - sum a maildirsize file; -1 if damaged */
static int
quota_parse(const char *text, size_t len, int64_t *bytes_r, int64_t *count_r)
{
	const char *p = text, *end = text + len;
	int64_t bytes = 0, count = 0;
	bool first = true;

	if (len == 0 || text[len - 1] != '\n')
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -1;
		if (first) {
			first = false; /* the quota definition line */
		} else {
			char *e1, *e2;
			long long b = strtoll(p, &e1, 10);
			if (e1 == p || *e1 != ' ')
				return -1;
			long long c = strtoll(e1 + 1, &e2, 10);
			if (e2 != nl)
				return -1;
			bytes += b;
			count += c;
		}
		p = nl + 1;
	}
	if (first)
		return -1;
	*bytes_r = bytes < 0 ? 0 : bytes;
	*count_r = count < 0 ? 0 : count;
	return 0;
}

/* store_quota_usage - usage from maildirsize, recalculating if needed */
int
store_quota_usage(const char *mailbox_root, int64_t *bytes_r,
		  int64_t *count_r, const char **error_r)
{
	char *path = path_join(mailbox_root, "maildirsize");
	struct buf b;
	int fd, r;

	buf_init(&b, 1024 * 1024);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)flock(fd, LOCK_SH);
		close(fd); /* compaction is done: the path is current */
	}
	r = file_read(path, &b);
	if (r == 0 && quota_parse(b.data, b.len, bytes_r, count_r) == 0) {
		bool big = b.len > MAILDIRSIZE_COMPACT;
		buf_free(&b);
		free(path);
		if (big)
			(void)store_quota_add(mailbox_root, 0, 0, NULL);
		return 0;
	}
	buf_free(&b);
	free(path);
	return quota_recalc(mailbox_root, bytes_r, count_r, error_r);
}

/* store_quota_check - whether msg_size more bytes fit in quota_kb */
int
store_quota_check(const char *mailbox_root, int64_t quota_kb,
		  int64_t msg_size, const char **error_r)
{
	int64_t bytes, count;

	if (quota_kb <= 0)
		return 1;
	if (store_quota_usage(mailbox_root, &bytes, &count, error_r) < 0)
		return -1;
	return bytes + msg_size <= quota_kb * 1024 ? 1 : 0;
}

/* quota_compact - rewrite maildirsize as its sum, under an exclusive lock
 * so no appender writes into the file being replaced */
static void
quota_compact(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b;
	int64_t bytes, count;

	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return;
	}
	buf_init(&b, 1024 * 1024);
	if (file_read(path, &b) == 0 && b.len > MAILDIRSIZE_COMPACT &&
	    quota_parse(b.data, b.len, &bytes, &count) == 0) {
		char line[96];
		const char *nl = memchr(b.data, '\n', b.len);
		int hl = (int)(nl - b.data);
		int n = snprintf(line, sizeof(line), "%.*s\n%" PRId64 " %"
		    PRId64 "\n", hl < 40 ? hl : 40, b.data, bytes, count);
		(void)file_write_atomic(path, line, (size_t)n, 0600);
	}
	buf_free(&b);
	close(fd);
}

/* store_quota_add - append one usage line to maildirsize */
int
store_quota_add(const char *mailbox_root, int64_t bytes, int64_t count,
		const char **error_r)
{
	char *path = path_join(mailbox_root, "maildirsize");
	char line[64];
	struct stat st1, st2;
	int fd = -1, n;

	for (int tries = 0; tries < 10; tries++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			int64_t b, c;
			free(path);
			/* missing: the walk counts this message already */
			return quota_recalc(mailbox_root, &b, &c, error_r);
		}
		if (flock(fd, LOCK_SH) < 0 || fstat(fd, &st1) < 0 ||
		    stat(path, &st2) < 0) {
			close(fd);
			fd = -1;
			break;
		}
		if (st1.st_ino == st2.st_ino)
			break;
		/* compacted under us: append to the new file */
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		store_seterr(error_r, "maildirsize: %s", strerror(errno));
		free(path);
		return -1;
	}
	if (bytes != 0 || count != 0) {
		n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n",
		    bytes, count);
		if (write_full(fd, line, (size_t)n) < 0) {
			store_seterr(error_r, "maildirsize: %s",
			    strerror(errno));
			close(fd);
			free(path);
			return -1;
		}
	}
	bool big = fstat(fd, &st1) == 0 && st1.st_size > MAILDIRSIZE_COMPACT;
	close(fd);
	if (big)
		quota_compact(path);
	free(path);
	return 0;
}

