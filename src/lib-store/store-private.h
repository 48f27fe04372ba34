#ifndef POSTERN_STORE_PRIVATE_H
#define POSTERN_STORE_PRIVATE_H

#include <stdarg.h>
#include <stdint.h>

#include "store.h"

/* internals shared by the store's files */
const char *store_seterr(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *store_unique_name(void);
void store_flags_letters(unsigned int flags, char out[8]);
void store_name_parse(const char *name, int64_t *size_r, int64_t *vsize_r,
		      unsigned int *flags_r);
int store_maildir_make(const char *dir);
void store_touch_notify(const char *dir);
int store_file_write(const char *dir, const char *sub, const void *prefix,
		     size_t prefix_len, const void *data, size_t len,
		     int src_fd, const char *info, char **name_r,
		     uint64_t *size_r, uint64_t *vsize_r, const char **error_r);
/* store_file_stage - the first half of store_file_write: the file written
 * and fsynced in dir/tmp (path in *tmp_r), its final name (with ,S= ,W=
 * and info) in *name_r; the caller renames it and fsyncs the directory */
int store_file_stage(const char *dir, const void *prefix, size_t prefix_len,
		     const void *data, size_t len, int src_fd, const char *info,
		     char **tmp_r, char **name_r, uint64_t *size_r,
		     uint64_t *vsize_r, const char **error_r);
/* store_file_adopt - store_file_stage for a message already in a file
 * on the store's file system (fd, e.g. an unnamed O_TMPFILE file in the
 * mailbox's tmp/, from offset 0 to its end): fsynced and linked into
 * dir/tmp instead of copied (copied when it cannot be linked). The
 * caller still closes fd. */
int store_file_adopt(const char *dir, int fd, const char *info, char **tmp_r,
		     char **name_r, uint64_t *size_r, uint64_t *vsize_r,
		     const char **error_r);

#endif
