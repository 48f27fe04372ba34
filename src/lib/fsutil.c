/* fsutil - durable file and directory helpers */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "strutil.h"
#include "xalloc.h"

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* the common case, the directory or its parent there: one call (the
	 * queue writers ensure their directories per item) */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

void
sync_start(int fd)
{
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

size_t
dirset_add(struct dirset *s, const char *dir)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], dir) == 0)
			return i;
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->err = xreallocarray(s->err, s->n + 1, sizeof(*s->err));
	s->v[s->n] = xstrdup(dir);
	s->err[s->n] = 0;
	return s->n++;
}

size_t
dirset_fsync(struct dirset *s)
{
	size_t failed = 0;

	for (size_t i = 0; i < s->n; i++) {
		s->err[i] = fsync_dir(s->v[i]) < 0 ? (errno ? errno : EIO) : 0;
		if (s->err[i] != 0)
			failed++;
	}
	return failed;
}

void
dirset_free(struct dirset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->err);
	memset(s, 0, sizeof(*s));
}

int
fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int r = fsync_dir(dirname(copy));

	free(copy);
	return r;
}

int
write_full(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	if (write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	free(tmp);
	return fsync_parent(path);
fail:
	free(tmp);
	return -1;
}

int
file_copy_atomic(const char *path, int src, uint64_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char chunk[65536];
	uint64_t off = 0;
	int fd, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	while (off < len) {
		size_t want = len - off < sizeof(chunk) ? (size_t)(len - off) :
		    sizeof(chunk);
		ssize_t n = pread(src, chunk, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_full(fd, chunk, (size_t)n) < 0) {
			saved = n == 0 ? EIO : errno;
			goto fail_fd;
		}
		off += (uint64_t)n;
	}
	if (fsync(fd) < 0) {
		saved = errno;
		goto fail_fd;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto fail;
	}
	free(tmp);
	return fsync_parent(path);
fail_fd:
	close(fd);
	unlink(tmp);
	errno = saved;
fail:
	free(tmp);
	return -1;
}

int
file_read(const char *path, struct buf *b)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		if (buf_append(b, chunk, (size_t)n) < 0) {
			errno = EFBIG;
			n = -1;
			break;
		}
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 0;
}

static long long dir_size_total;

static int
dir_size_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F && S_ISREG(st->st_mode))
		dir_size_total += st->st_size;
	return 0;
}

long long
dir_size(const char *path)
{
	dir_size_total = 0;
	if (nftw(path, dir_size_cb, 16, FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -1;
	return dir_size_total;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
rm_rf(const char *path)
{
	if (nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -1;
	return 0;
}

char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (la > 0 && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

int
file_append_day(const char *root, const char *sub, time_t when,
		const void *row, size_t len, const char **error_r)
{
	char day[16];
	struct tm tm;
	int fd, rc = 0;

	gmtime_r(&when, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	char *dir = xasprintf("%s/%s", root, sub);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		free(dir);
		*error_r = "cannot make the report rows' directory";
		return -1;
	}
	char *path = xasprintf("%s/%s.tsv", dir, day);
	free(dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	free(path);
	if (fd < 0) {
		*error_r = "cannot open the day's file";
		return -1;
	}
	if (write(fd, row, len) != (ssize_t)len) {
		*error_r = "cannot write the row";
		rc = -1;
	}
	close(fd);
	return rc;
}

int
file_each_line(const char *path, size_t max,
	       void (*fn)(void *ctx, const char *line, size_t len, bool complete),
	       void *ctx)
{
	struct buf b;

	buf_init(&b, max);
	if (file_read(path, &b) < 0) {
		int e = errno;
		buf_free(&b);
		errno = e;
		return -1;
	}
	for (size_t i = 0; i < b.len;) {
		char *nl = memchr(b.data + i, '\n', b.len - i);
		size_t l = nl ? (size_t)(nl - (b.data + i)) : b.len - i;
		fn(ctx, b.data + i, l, nl != NULL);
		i += l + 1;
	}
	buf_free(&b);
	return 0;
}

struct file_rows_ctx {
	char *rows;
	size_t n, cap, bad, max, size;
	int (*parse)(const char *line, size_t len, void *row);
};

static void
file_rows_line(void *ctx, const char *line, size_t len, bool complete)
{
	struct file_rows_ctx *d = ctx;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->rows = xreallocarray(d->rows, d->cap, d->size);
	}
	if (complete && d->n < d->max &&
	    d->parse(line, len, d->rows + d->n * d->size) == 0)
		d->n++;
	else
		d->bad++;
}

int
file_rows(const char *path, size_t max_rows, size_t row_max, size_t size,
	  int (*parse)(const char *line, size_t len, void *row),
	  int (*cmp)(const void *, const void *), void **rows_r, size_t *n_r,
	  size_t *bad_r)
{
	struct file_rows_ctx d = { .max = max_rows, .size = size,
	    .parse = parse };
	int r = file_each_line(path, max_rows * row_max, file_rows_line, &d);
	int e = errno;

	*rows_r = NULL;
	*n_r = *bad_r = 0;
	if (r < 0) {
		free(d.rows);
		errno = e;
		return e == ENOENT ? 0 : -1;
	}
	if (d.n > 1)
		qsort(d.rows, d.n, size, cmp);
	*rows_r = d.rows;
	*n_r = d.n;
	*bad_r = d.bad;
	return 0;
}
