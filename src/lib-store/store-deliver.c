/* store-deliver - durable Maildir delivery and Maildir++ quota usage */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

#define MAILDIRSIZE_COMPACT 5120

/* per thread: imapd appends on worker threads while its loop reads */
static __thread char errbuf[512];

/* store_seterr - format an error into the static buffer for error_r */
const char *
store_seterr(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	if (error_r != NULL)
		*error_r = errbuf;
	return errbuf;
}

/* store_delivery_init - defaults for a delivery */
void
store_delivery_init(struct store_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->src_fd = -1;
}

/* store_unique_name - a new Maildir base name (without ,S= ,W=) */
char *
store_unique_name(void)
{
	static unsigned long counter;
	char host[256], clean[256];
	struct timeval tv;
	uint32_t rnd;
	size_t j = 0;

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 0; host[i] != '\0' && j < sizeof(clean) - 5; i++) {
		/* Maildir: '/' -> \057, ':' -> \072; ',' would clash with ,S= */
		if (host[i] == '/' || host[i] == ':' || host[i] == ',')
			clean[j++] = '_';
		else
			clean[j++] = host[i];
	}
	clean[j] = '\0';
	gettimeofday(&tv, NULL);
	random_bytes(&rnd, sizeof(rnd));
	return xasprintf("%lld.M%06ldP%ldQ%luR%08" PRIx32 ".%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), rnd, clean);
}

/* store_flags_letters - Maildir info letters (sorted) of flags */
void
store_flags_letters(unsigned int flags, char out[8])
{
	size_t i = 0;

	if (flags & STORE_DRAFT)
		out[i++] = 'D';
	if (flags & STORE_FLAGGED)
		out[i++] = 'F';
	if (flags & STORE_ANSWERED)
		out[i++] = 'R';
	if (flags & STORE_SEEN)
		out[i++] = 'S';
	if (flags & STORE_DELETED)
		out[i++] = 'T';
	out[i] = '\0';
}

/* store_name_parse - sizes and flags from a Maildir file name: S= and W=
 * (-1 if absent), flags from ":2,". */
void
store_name_parse(const char *name, int64_t *size_r, int64_t *vsize_r,
		 unsigned int *flags_r)
{
	const char *colon = strchr(name, ':');
	size_t baselen = colon ? (size_t)(colon - name) : strlen(name);

	*size_r = -1;
	*vsize_r = -1;
	*flags_r = 0;
	for (const char *p = name; p < name + baselen; p++) {
		if (*p != ',' || p + 3 > name + baselen || p[2] != '=')
			continue;
		char *end;
		long long v = strtoll(p + 3, &end, 10);
		if (end == p + 3 || v < 0)
			continue;
		if (p[1] == 'S')
			*size_r = v;
		else if (p[1] == 'W')
			*vsize_r = v;
	}
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		for (const char *p = colon + 3; *p != '\0'; p++) {
			switch (*p) {
			case 'D': *flags_r |= STORE_DRAFT; break;
			case 'F': *flags_r |= STORE_FLAGGED; break;
			case 'R': *flags_r |= STORE_ANSWERED; break;
			case 'S': *flags_r |= STORE_SEEN; break;
			case 'T': *flags_r |= STORE_DELETED; break;
			default: break;
			}
		}
	}
}

/* crlf_count - count bare LFs in data, carrying the last byte across calls */
static uint64_t
crlf_count(const char *p, size_t n, char *last)
{
	uint64_t extra = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i > 0 ? p[i - 1] : *last) != '\r')
			extra++;
	}
	if (n > 0)
		*last = p[n - 1];
	return extra;
}

/* write_counted - write and count the CRLF size */
static int
write_counted(int fd, const void *p, size_t n, uint64_t *size, uint64_t *vsize,
	      char *last)
{
	if (n == 0)
		return 0;
	if (write_full(fd, p, n) < 0)
		return -1;
	*size += n;
	*vsize += n + crlf_count(p, n, last);
	return 0;
}

/* store_file_write - write a message file into dir/tmp and move it to
 * dir/<sub>/ with its final name (fsyncs included). The new name (base
 * name, with ,S= ,W= and info) goes to *name_r. */
int
store_file_write(const char *dir, const char *sub, const void *prefix,
		 size_t prefix_len, const void *data, size_t len, int src_fd,
		 const char *info, char **name_r, uint64_t *size_r,
		 uint64_t *vsize_r, const char **error_r)
{
	char *tmp = NULL, *name = NULL, *final, *subdir;

	if (store_file_stage(dir, prefix, prefix_len, data, len, src_fd, info,
	    &tmp, &name, size_r, vsize_r, error_r) < 0)
		return -1;
	final = xasprintf("%s/%s/%s", dir, sub, name);
	subdir = path_join(dir, sub);
	if (rename(tmp, final) < 0) {
		store_seterr(error_r, "rename into %s/%s: %s", dir, sub,
		    strerror(errno));
		unlink(tmp);
		free(name);
		name = NULL;
	} else if (fsync_dir(subdir) < 0) {
		store_seterr(error_r, "fsync %s: %s", subdir, strerror(errno));
		unlink(final);
		free(name);
		name = NULL;
	}
	free(tmp);
	free(final);
	free(subdir);
	*name_r = name;
	return name != NULL ? 0 : -1;
}

/* store_file_stage - see store-private.h */
int
store_file_stage(const char *dir, const void *prefix, size_t prefix_len,
		 const void *data, size_t len, int src_fd, const char *info,
		 char **tmp_r, char **name_r, uint64_t *size_r,
		 uint64_t *vsize_r, const char **error_r)
{
	char *base = store_unique_name();
	char *tmp = xasprintf("%s/tmp/%s", dir, base);
	char *name = NULL;
	uint64_t size = 0, vsize = 0;
	char last = '\0';
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* a Maildir missing its tmp/: repair */
		char *t = path_join(dir, "tmp");
		mkdir_p(t, 0700);
		free(t);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		store_seterr(error_r, "create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_counted(fd, prefix, prefix_len, &size, &vsize, &last) < 0)
		goto werr;
	if (data != NULL) {
		if (write_counted(fd, data, len, &size, &vsize, &last) < 0)
			goto werr;
	} else if (src_fd >= 0) {
		char chunk[65536];
		for (;;) {
			ssize_t n = read(src_fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				store_seterr(error_r, "read message: %s",
				    strerror(errno));
				goto fail;
			}
			if (n == 0)
				break;
			if (write_counted(fd, chunk, (size_t)n, &size, &vsize,
			    &last) < 0)
				goto werr;
		}
	}
	if (fsync(fd) < 0)
		goto werr;
	if (close(fd) < 0) {
		fd = -1;
		goto werr;
	}
	fd = -1;
	name = xasprintf("%s,S=%" PRIu64 ",W=%" PRIu64 "%s", base, size, vsize,
	    info != NULL ? info : "");
	*name_r = name;
	*tmp_r = tmp;
	tmp = NULL;
	if (size_r != NULL)
		*size_r = size;
	if (vsize_r != NULL)
		*vsize_r = vsize;
	ret = 0;
	goto out;
werr:
	store_seterr(error_r, "write %s: %s", tmp, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(base);
	free(tmp);
	return ret;
}

/* store_file_adopt - see store-private.h */
int
store_file_adopt(const char *dir, int fd, const char *info, char **tmp_r,
		 char **name_r, uint64_t *size_r, uint64_t *vsize_r,
		 const char **error_r)
{
	char chunk[65536], last = '\0', proc[64];
	uint64_t size = 0, vsize = 0;
	char *base, *tmp;

	/* the sizes the file name carries: one read of the page cache */
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			store_seterr(error_r, "read message: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		size += (uint64_t)n;
		vsize += (uint64_t)n + crlf_count(chunk, (size_t)n, &last);
	}
	if (fsync(fd) < 0) {
		store_seterr(error_r, "fsync message: %s", strerror(errno));
		return -1;
	}
	base = store_unique_name();
	tmp = xasprintf("%s/tmp/%s", dir, base);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0) {
		/* not linkable (a named file already unlinked, another file
		 * system, no /proc): copy it */
		free(base);
		free(tmp);
		if (lseek(fd, 0, SEEK_SET) < 0) {
			store_seterr(error_r, "rewind message: %s",
			    strerror(errno));
			return -1;
		}
		return store_file_stage(dir, NULL, 0, NULL, 0, fd, info, tmp_r,
		    name_r, size_r, vsize_r, error_r);
	}
	*name_r = xasprintf("%s,S=%" PRIu64 ",W=%" PRIu64 "%s", base, size,
	    vsize, info != NULL ? info : "");
	*tmp_r = tmp;
	if (size_r != NULL)
		*size_r = size;
	if (vsize_r != NULL)
		*vsize_r = vsize;
	free(base);
	return 0;
}

/* store_deliver - durably write one message into a mailbox folder */
enum store_deliver_result
store_deliver(const char *mailbox_root, const struct store_delivery *d,
	      char **filename_r, const char **error_r)
{
	char *dir, *name = NULL, info[16];
	uint64_t size, vsize;
	struct stat st;
	int r;

	if (d->folder == NULL || str_eq_ci(d->folder, "INBOX")) {
		dir = xstrdup(mailbox_root);
		if (store_maildir_make(dir) < 0) {
			store_seterr(error_r, "mailbox %s: %s", dir,
			    strerror(errno));
			free(dir);
			return STORE_DELIVER_ERROR;
		}
	} else {
		if (store_folder_name_check(d->folder, error_r) < 0)
			return STORE_DELIVER_NO_FOLDER;
		dir = xasprintf("%s/.%s", mailbox_root, d->folder);
		if (stat(dir, &st) < 0) {
			if (errno != ENOENT || !d->create_folder) {
				store_seterr(error_r, "no folder %s",
				    d->folder);
				free(dir);
				return errno == ENOENT ?
				    STORE_DELIVER_NO_FOLDER :
				    STORE_DELIVER_ERROR;
			}
			size_t nf;
			if (d->max_folders > 0 && store_folder_count(
			    mailbox_root, &nf, error_r) == 0 &&
			    nf >= d->max_folders) {
				store_seterr(error_r, "no folder %s, and the "
				    "mailbox has %zu folders already "
				    "(mailbox.max_folders)", d->folder, nf);
				free(dir);
				return STORE_DELIVER_NO_FOLDER;
			}
		}
		if (store_maildir_make(dir) < 0) {
			store_seterr(error_r, "folder %s: %s", dir,
			    strerror(errno));
			free(dir);
			return STORE_DELIVER_ERROR;
		}
	}
	if (d->quota_kb > 0) {
		int64_t msg = (int64_t)d->prefix_len;
		if (d->data != NULL)
			msg += (int64_t)d->len;
		else if (d->src_fd >= 0 && fstat(d->src_fd, &st) == 0) {
			off_t pos = lseek(d->src_fd, 0, SEEK_CUR);
			msg += (int64_t)(st.st_size - (pos > 0 ? pos : 0));
		}
		r = store_quota_check(mailbox_root, d->quota_kb, msg, error_r);
		if (r < 0) {
			free(dir);
			return STORE_DELIVER_ERROR;
		}
		if (r == 0) {
			store_seterr(error_r, "mailbox over quota (%" PRId64
			    " KB)", d->quota_kb);
			free(dir);
			return STORE_DELIVER_OVER_QUOTA;
		}
	}
	info[0] = '\0';
	if ((d->flags & STORE_FLAGS_ALL) != 0) {
		char letters[8];
		store_flags_letters(d->flags, letters);
		snprintf(info, sizeof(info), ":2,%s", letters);
	}
	if (store_file_write(dir, "new", d->prefix, d->prefix_len, d->data,
	    d->len, d->data == NULL ? d->src_fd : -1, info, &name, &size,
	    &vsize, error_r) < 0) {
		free(dir);
		return STORE_DELIVER_ERROR;
	}
	free(dir);
	/* the message is safe; a failed usage update only makes the next
	 * reader recalculate */
	(void)store_quota_add(mailbox_root, (int64_t)size, 1, NULL);
	if (filename_r != NULL)
		*filename_r = name;
	else
		free(name);
	return STORE_DELIVER_OK;
}

/* store_maildir_make - create dir with cur/ new/ tmp/ (0 if they exist) */
int
store_maildir_make(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char p[4096];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, subs[i]);
		if (access(p, F_OK) == 0)
			continue;
		if (mkdir_p(p, 0700) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ quota */

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
