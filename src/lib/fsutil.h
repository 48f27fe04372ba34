#ifndef POSTERN_FSUTIL_H
#define POSTERN_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

/* mkdir_p - create dir and its parents; 0 if it exists. */
int mkdir_p(const char *path, mode_t mode);
/* fsync_dir - fsync a directory so renames and creations in it persist. */
int fsync_dir(const char *path);
/* fsync_parent - fsync the directory that holds path. */
int fsync_parent(const char *path);
/* sync_start - start writing fd's dirty pages back without waiting for
 * them (sync_file_range), so that the fdatasyncs of a batch of files
 * written one after the other find their data on its way and share one
 * journal commit (group commit). A hint: it makes nothing durable. */
void sync_start(int fd);
/* dirset - the distinct directories of a batch, each fsynced once. */
struct dirset {
	char **v;
	int *err;      /* after dirset_fsync: 0, or the errno of its fsync */
	size_t n;
};
/* dirset_add - add dir unless it is there; its index. */
size_t dirset_add(struct dirset *s, const char *dir);
/* dirset_fsync - fsync every directory once; the number that failed
 * (their errno in err[i]). */
size_t dirset_fsync(struct dirset *s);
void dirset_free(struct dirset *s);
/* file_append_day - append one row with one write(2) to
 * <root>/<sub>/<YYYY-MM-DD>.tsv, the UTC day of when (the folder made when
 * missing), so rows of several processes never interleave: the day files
 * of the DMARC and TLS-RPT reports. 0, or -1 with *error_r. */
int file_append_day(const char *root, const char *sub, time_t when,
		    const void *row, size_t len, const char **error_r);

/* file_write_atomic - write data to path via a temporary file in the same
 * directory: write, fsync, rename, fsync the directory. */
int file_write_atomic(const char *path, const void *data, size_t len,
		      mode_t mode);
/* file_read - read a whole file into b (bounded by b->max); -1 on error
 * with errno set (EFBIG if it is larger than b->max). */
int file_read(const char *path, struct buf *b);
/* file_each_line - read the file path (at most max bytes) and call fn for
 * each line without its LF; complete is false for a last line cut short
 * (no LF). 0 (also when fn is called for none), or -1 with errno set
 * (ENOENT: no file). The day files of the DMARC and TLS-RPT rows. */
int file_each_line(const char *path, size_t max,
		   void (*fn)(void *ctx, const char *line, size_t len,
			      bool complete), void *ctx);
/* file_rows - the lines of the file path (at most max_rows * row_max
 * bytes) parsed by parse (0: a row) into a new array of size-byte rows,
 * at most max_rows, sorted by cmp; lines malformed, cut short or past
 * the limit are counted in *bad_r. No file: no rows, 0. -1 with errno on
 * another error. The day files of the DMARC and TLS-RPT rows. */
int file_rows(const char *path, size_t max_rows, size_t row_max, size_t size,
	      int (*parse)(const char *line, size_t len, void *row),
	      int (*cmp)(const void *, const void *), void **rows_r,
	      size_t *n_r, size_t *bad_r);
/* file_copy_atomic - len bytes of the file src (from offset 0, read with
 * pread: its offset is untouched) into path like file_write_atomic: a
 * temporary name, fsync, rename, the directory fsynced. 0, or -1 with
 * errno (EIO when src is shorter). */
int file_copy_atomic(const char *path, int src, uint64_t len, mode_t mode);
/* write_full - write all of data to fd, retrying on EINTR. */
int write_full(int fd, const void *data, size_t len);
/* dir_size - bytes in regular files under path (recursive); -1 on error. */
long long dir_size(const char *path);
/* rm_rf - remove a tree; 0 if it did not exist. */
int rm_rf(const char *path);
/* path_join - new string "a/b". */
char *path_join(const char *a, const char *b);

#endif
