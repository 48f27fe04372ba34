/* store-save - the one road into a mailbox: files staged in tmp/, then
 * delivered into new/ or moved into cur/ and indexed (append, copy,
 * deliver) */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crashpoint.h"
#include "fsutil.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

/* store_delivery_init - defaults for a delivery */
void
store_delivery_init(struct store_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->src_fd = -1;
}

/* store_append - see store.h */
int
store_append(struct store *st, const char *folder, const void *data,
	     size_t len, unsigned int flags, const char *keywords,
	     time_t internal_date, int64_t quota_kb, uint32_t *uid_r,
	     uint32_t *uidvalidity_r, const char **error_r)
{
	struct store_append_msg m = { .data = data, .len = len, .flags = flags,
	    .keywords = keywords, .internal_date = internal_date, .fd = -1 };

	return store_append_one(st, folder, &m, quota_kb, uid_r, uidvalidity_r,
	    error_r);
}

/* msg_stage - the file of an appended message written (or, in a file
 * already, linked) and fsynced into dir/tmp: see store_file_stage */
static int
msg_stage(const char *dir, const struct store_append_msg *m, const char *info,
	  char **tmp_r, char **name_r, const char **error_r)
{
	if (m->data == NULL)
		return store_file_adopt(dir, m->fd, info, tmp_r, name_r, NULL,
		    NULL, error_r);
	return store_file_stage(dir, NULL, 0, m->data, m->len, -1, info, tmp_r,
	    name_r, NULL, NULL, error_r);
}

/* save_staged - a file staged in f's tmp/ (tmp, final base name with
 * info) moved into cur/ and indexed, the one way a message enters a
 * folder's index: under the write lock (so that no sync indexes it
 * first), its UID given by sync_msg_insert; cur/ fsynced after the lock
 * is released. On failure the file is removed. 0 or -1. */
static int
save_staged(struct store_folder *f, const char *tmp, const char *name,
	    unsigned int flags, const char *keywords, time_t internal_date,
	    uint32_t *uid_r, uint32_t *uidvalidity_r, const char **error_r)
{
	struct folder_state fs;
	char *final = xasprintf("%s/cur/%s", f->dir, name), *cur;
	uint32_t uid = 0;
	int r;

	if (index_begin(f->st, error_r) < 0)
		goto fail;
	if (sync_locked(f, &fs, error_r) < 0) {
		index_rollback(f->st);
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		store_seterr(error_r, "rename into %s/cur: %s", f->dir,
		    strerror(errno));
		index_rollback(f->st);
		goto fail;
	}
	if (sync_msg_insert(f, &fs, name, flags & STORE_FLAGS_ALL,
	    keywords, internal_date, &uid, error_r) < 0) {
		(void)rename(final, tmp);
		index_rollback(f->st);
		goto fail;
	}
	if (sync_finish(f, &fs, error_r) < 0)
		goto fail;
	/* the directory entry on disk before the caller says OK; the lock
	 * is free meanwhile */
	cur = path_join(f->dir, "cur");
	r = fsync_dir(cur);
	free(cur);
	free(final);
	if (r < 0)
		return store_seterr(error_r, "fsync %s/cur: %s", f->dir,
		    strerror(errno)), -1;
	if (uid_r != NULL)
		*uid_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = fs.uidvalidity;
	return 0;
fail:
	(void)unlink(tmp);
	(void)unlink(final);
	free(final);
	return -1;
}

/* store_append_one - add a message with flags and internal date */
int
store_append_one(struct store *st, const char *folder,
		 const struct store_append_msg *m, int64_t quota_kb,
		 uint32_t *uid_r, uint32_t *uidvalidity_r, const char **error_r)
{
	struct store_folder *f;
	char info[16], letters[8], *name = NULL, *tmp = NULL;
	int r;

	if (quota_kb > 0) {
		r = store_quota_check(st->root, quota_kb, (int64_t)m->len,
		    error_r);
		if (r < 0)
			return -1;
		if (r == 0) {
			*error_r = "mailbox over quota";
			return 1;
		}
	}
	f = store_folder_open(st, folder, error_r);
	if (f == NULL)
		return -1;
	store_flags_letters(m->flags & STORE_FLAGS_ALL, letters);
	snprintf(info, sizeof(info), ":2,%s", letters);
	/* the file is written and fsynced before the index is locked: other
	 * writers of the mailbox (and readers waiting on a session's
	 * change) never wait for this disk flush */
	r = msg_stage(f->dir, m, info, &tmp, &name, error_r);
	if (r == 0 && m->internal_date > 0) {
		struct timespec ts[2] = { { m->internal_date, 0 },
		    { m->internal_date, 0 } };
		(void)utimensat(AT_FDCWD, tmp, ts, 0);
	}
	if (r == 0)
		r = save_staged(f, tmp, name, m->flags, m->keywords,
		    m->internal_date, uid_r, uidvalidity_r, error_r);
	if (r == 0)
		(void)store_quota_add(st->root, (int64_t)m->len, 1, NULL);
	free(tmp);
	free(name);
	store_folder_close(&f);
	return r;
}

/* store_append_multi - see store.h */
int
store_append_multi(struct store *st, const char *folder,
		   const struct store_append_msg *msgs, size_t n,
		   int64_t quota_kb, uint32_t **uids_r, uint32_t *uidvalidity_r,
		   const char **error_r)
{
	struct store_folder *f;
	struct folder_state fs;
	char **names = xcalloc(n + 1, sizeof(*names));
	char **tmps = xcalloc(n + 1, sizeof(*tmps));
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	size_t written = 0, moved = 0;
	int64_t total = 0;
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		total += (int64_t)msgs[i].len;
	if (quota_kb > 0) {
		int r = store_quota_check(st->root, quota_kb, total, error_r);
		if (r <= 0) {
			free(names);
			free(tmps);
			free(uids);
			if (r == 0)
				*error_r = "mailbox over quota";
			return r == 0 ? 1 : -1;
		}
	}
	f = store_folder_open(st, folder, error_r);
	if (f == NULL)
		goto out;
	/* every file written and fsynced into tmp/ before the index is
	 * locked; a failure there leaves nothing behind */
	for (; written < n; written++) {
		const struct store_append_msg *m = &msgs[written];
		char info[16], letters[8];
		store_flags_letters(m->flags & STORE_FLAGS_ALL, letters);
		snprintf(info, sizeof(info), ":2,%s", letters);
		if (m->data == NULL) {
			/* already in a file: linked, not copied */
			if (store_file_adopt(f->dir, m->fd, info, &tmps[written],
			    &names[written], NULL, NULL, error_r) < 0)
				goto unlink;
		} else {
			if (store_file_write(f->dir, "tmp", NULL, 0, m->data,
			    m->len, -1, info, &names[written], NULL, NULL,
			    error_r) < 0)
				goto unlink;
			tmps[written] = xasprintf("%s/tmp/%s", f->dir,
			    names[written]);
		}
		if (m->internal_date > 0) {
			struct timespec ts[2] = { { m->internal_date, 0 },
			    { m->internal_date, 0 } };
			(void)utimensat(AT_FDCWD, tmps[written], ts, 0);
		}
	}
	/* all into cur/ and the index in one transaction: all or none */
	if (index_begin(st, error_r) < 0)
		goto unlink;
	if (sync_locked(f, &fs, error_r) < 0)
		goto rollback;
	for (; moved < n; moved++) {
		char *final = xasprintf("%s/cur/%s", f->dir, names[moved]);
		int r = rename(tmps[moved], final);
		free(final);
		if (r < 0) {
			store_seterr(error_r, "rename into %s/cur: %s", f->dir,
			    strerror(errno));
			goto rollback;
		}
		if (sync_msg_insert(f, &fs, names[moved], msgs[moved].flags &
		    STORE_FLAGS_ALL, msgs[moved].keywords,
		    msgs[moved].internal_date, &uids[moved], error_r) < 0) {
			moved++;
			goto rollback;
		}
	}
	if (sync_finish(f, &fs, error_r) < 0)
		goto unmove;
	char *cur = path_join(f->dir, "cur");
	(void)fsync_dir(cur);
	free(cur);
	(void)store_quota_add(st->root, total, (int64_t)n, NULL);
	if (uidvalidity_r != NULL)
		*uidvalidity_r = fs.uidvalidity;
	if (uids_r != NULL) {
		*uids_r = uids;
		uids = NULL;
	}
	ret = 0;
	goto out;
rollback:
	index_rollback(st);
unmove:
	/* back out of cur/ (where no index row names them now) */
	for (size_t i = 0; i < moved; i++) {
		char *final = xasprintf("%s/cur/%s", f->dir, names[i]);
		(void)unlink(final);
		free(final);
	}
unlink:
	for (size_t i = 0; i < written; i++)
		if (tmps[i] != NULL)
			(void)unlink(tmps[i]);
out:
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
		free(tmps[i]);
	}
	free(names);
	free(tmps);
	free(uids);
	store_folder_close(&f);
	return ret;
}

/* copy_file - hard link src to dst, or copy and fsync */
static int
copy_file(const char *src, const char *dst)
{
	int in, out;
	char b[65536];
	ssize_t n;

	if (link(src, dst) == 0)
		return 0;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, b, sizeof(b))) > 0) {
		if (write_full(out, b, (size_t)n) < 0) {
			n = -1;
			break;
		}
	}
	if (n < 0 || fsync(out) < 0) {
		close(in);
		close(out);
		unlink(dst);
		return -1;
	}
	close(in);
	close(out);
	return 0;
}

/* copy_base - the base name of a copy of m in dst: m's own, so that the
 * copy keeps its email id (store.h), unless dst has it already (a copy
 * into the same folder, or a second copy): then a new one, a new email */
static char *
copy_base(struct store_folder *dst, const struct store_msg *m)
{
	char *base = store_name_base(m->file);
	sqlite3_stmt *s = index_prep(dst->st, "SELECT 1 FROM msg WHERE "
	    "folder=? AND base=?", NULL);
	bool taken = true;

	if (s != NULL) {
		sqlite3_bind_int64(s, 1, dst->id);
		sqlite3_bind_text(s, 2, base, -1, SQLITE_STATIC);
		taken = sqlite3_step(s) != SQLITE_DONE;
		index_done(dst->st, s);
	}
	if (taken) {
		char *u = store_unique_name();
		free(base);
		base = xasprintf("%s,S=%" PRIu64 ",W=%" PRIu64, u, m->file_size,
		    m->size);
		free(u);
	}
	return base;
}

/* store_copy - copy (or move) messages to another folder */
int
store_copy(struct store_folder *f, const uint32_t *uids, size_t n,
	   const char *to, bool move, int64_t quota_kb, uint32_t **src_uids_r,
	   uint32_t **new_uids_r, size_t *n_r, uint32_t *uidvalidity_r,
	   const char **error_r)
{
	struct store_folder *dst;
	struct folder_state fs, ds;
	struct store_msg *v;
	size_t nv = 0;
	uint32_t *src_uids, *new_uids;
	int64_t bytes = 0;

	dst = store_folder_open(f->st, to, error_r);
	if (dst == NULL)
		return -1;
	/* once: the analyzer cannot know the ids stay put across calls */
	bool same = dst->id == f->id;
	if (same && move) {
		store_folder_close(&dst);
		*error_r = "cannot move into the same folder";
		return -1;
	}
	v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
	src_uids = xreallocarray(NULL, n ? n : 1, sizeof(uint32_t));
	new_uids = xreallocarray(NULL, n ? n : 1, sizeof(uint32_t));
	if (index_begin(f->st, error_r) < 0)
		goto fail0;
	if (sync_locked(f, &fs, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int r = store_msg_get(f, uids[i], &v[nv], error_r);
		if (r < 0)
			goto fail;
		if (r == 1) {
			bytes += (int64_t)v[nv].file_size;
			nv++;
		}
	}
	if (!move && quota_kb > 0) {
		int r = store_quota_check(f->st->root, quota_kb, bytes, error_r);
		if (r <= 0) {
			index_rollback(f->st);
			store_msgs_free(v, nv);
			free(src_uids);
			free(new_uids);
			store_folder_close(&dst);
			if (r == 0)
				*error_r = "mailbox over quota";
			return r == 0 ? 1 : -1;
		}
	}
	if (!same) {
		if (sync_locked(dst, &ds, error_r) < 0)
			goto fail;
	}
	struct folder_state *dsp = same ? &fs : &ds;
	size_t ncopied = 0;
	for (size_t i = 0; i < nv; i++) {
		char *src = store_msg_path(f, &v[i]);
		char *base = copy_base(dst, &v[i]), letters[8];
		store_flags_letters(v[i].flags, letters);
		char *name = xasprintf("%s:2,%s", base, letters);
		char *dp = xasprintf("%s/cur/%s", dst->dir, name);
		uint32_t uid = 0;
		int r = copy_file(src, dp);
		free(src);
		free(base);
		free(dp);
		if (r < 0) {
			if (errno == ENOENT) {
				free(name);
				continue; /* expunged meanwhile */
			}
			store_seterr(error_r, "copy: %s", strerror(errno));
			free(name);
			goto fail;
		}
		r = sync_msg_insert(dst, dsp, name, v[i].flags, v[i].keywords,
		    v[i].internal_date, &uid, error_r);
		free(name);
		if (r < 0)
			goto fail;
		src_uids[ncopied] = v[i].uid;
		new_uids[ncopied++] = uid;
	}
	char *dcur = path_join(dst->dir, "cur");
	(void)fsync_dir(dcur);
	free(dcur);
	if (!same) {
		dst->st = f->st;
		char *c2 = path_join(dst->dir, "cur");
		ds.cur_mtime = store_mtime_ns(c2);
		free(c2);
		if (sync_state_save(dst, &ds, error_r) < 0)
			goto fail;
	}
	if (move) {
		for (size_t i = 0; i < ncopied; i++) {
			struct store_msg m = { 0 };
			if (store_msg_get(f, src_uids[i], &m, error_r) != 1)
				continue;
			char *p = store_msg_path(f, &m);
			(void)store_msg_retire(f, p, fs.uidvalidity, m.uid);
			free(p);
			store_msg_clear(&m);
			if (sync_expunge_row(f, &fs, src_uids[i], error_r) < 0)
				goto fail;
		}
	}
	if (sync_finish(f, &fs, error_r) < 0)
		goto fail0;
	if (!same) {
		if (ds.quota_bytes != 0 || ds.quota_count != 0)
			(void)store_quota_add(f->st->root, ds.quota_bytes,
			    ds.quota_count, NULL);
		store_touch_notify(dst->dir);
	}
	if (!move && ncopied > 0)
		(void)store_quota_add(f->st->root, bytes, (int64_t)ncopied, NULL);
	if (move && ncopied > 0)
		store_expunged_sweep(f);
	if (uidvalidity_r != NULL)
		*uidvalidity_r = dsp->uidvalidity;
	if (n_r != NULL)
		*n_r = ncopied;
	if (src_uids_r != NULL)
		*src_uids_r = src_uids;
	else
		free(src_uids);
	if (new_uids_r != NULL)
		*new_uids_r = new_uids;
	else
		free(new_uids);
	store_msgs_free(v, nv);
	store_folder_close(&dst);
	return 0;
fail:
	index_rollback(f->st);
fail0:
	store_msgs_free(v, nv);
	free(src_uids);
	free(new_uids);
	store_folder_close(&dst);
	return -1;
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

/* file_stage - store_file_stage; with fd_r, the file is not fsynced but
 * its writeback started and it is left open in *fd_r (a batch's) */
static int
file_stage(const char *dir, const void *prefix, size_t prefix_len,
	   const void *data, size_t len, int src_fd, const char *info,
	   char **tmp_r, char **name_r, uint64_t *size_r, uint64_t *vsize_r,
	   int *fd_r, const char **error_r)
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
	if (fd_r != NULL) {
		sync_start(fd);
		*fd_r = fd;
	} else {
		if (fsync(fd) < 0)
			goto werr;
		if (close(fd) < 0) {
			fd = -1;
			goto werr;
		}
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

/* store_file_stage - see store-private.h */
int
store_file_stage(const char *dir, const void *prefix, size_t prefix_len,
		 const void *data, size_t len, int src_fd, const char *info,
		 char **tmp_r, char **name_r, uint64_t *size_r,
		 uint64_t *vsize_r, const char **error_r)
{
	return file_stage(dir, prefix, prefix_len, data, len, src_fd, info,
	    tmp_r, name_r, size_r, vsize_r, NULL, error_r);
}

/* ---- group commit of deliveries (store.h) ---- */

enum sb_state { SB_STAGED, SB_SYNCED, SB_PUBLISHED, SB_FAILED };

struct sb_file {
	int tag;
	char *root;               /* the mailbox: its maildirsize */
	char *tmp;                /* in <folder>/tmp */
	char *final;              /* in <folder>/new */
	int fd;                   /* open until the commit's fdatasync */
	uint64_t size;
	enum sb_state state;
	size_t dir;               /* index of <folder>/new in the dirset */
};

struct store_batch {
	struct sb_file *f;
	size_t n;
	char err[512];
};

struct store_batch *
store_batch_new(void)
{
	return xcalloc(1, sizeof(struct store_batch));
}

size_t
store_batch_size(const struct store_batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].state == SB_STAGED)
			n++;
	return n;
}

/* sb_staged_bytes - bytes staged for mailbox root (the quota check) */
static int64_t
sb_staged_bytes(const struct store_batch *b, const char *root)
{
	int64_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].state == SB_STAGED && strcmp(b->f[i].root, root) == 0)
			n += (int64_t)b->f[i].size;
	return n;
}

/* sb_add - a file staged by file_stage joins the batch */
static void
sb_add(struct store_batch *b, const struct store_delivery *d,
       const char *root, const char *dir, char *tmp, const char *name,
       int fd, uint64_t size)
{
	struct sb_file *f;

	b->f = xreallocarray(b->f, b->n + 1, sizeof(*b->f));
	f = &b->f[b->n++];
	memset(f, 0, sizeof(*f));
	f->tag = d->batch_tag;
	f->root = xstrdup(root);
	f->tmp = tmp;
	f->final = xasprintf("%s/new/%s", dir, name);
	f->fd = fd;
	f->size = size;
	f->state = SB_STAGED;
}

/* sb_fail - a file that cannot be committed: every file of its tag is
 * removed (the caller retries the whole unit) */
static void
sb_fail(struct store_batch *b, struct sb_file *f, const char *what, int err)
{
	int tag = f->tag;

	snprintf(b->err, sizeof(b->err), "%s %s: %s", what, f->final,
	    strerror(err));
	for (size_t i = 0; i < b->n; i++) {
		struct sb_file *o = &b->f[i];
		if (o->tag != tag || o->state == SB_FAILED)
			continue;
		if (o->fd >= 0)
			close(o->fd);
		o->fd = -1;
		(void)unlink(o->state == SB_PUBLISHED ? o->final : o->tmp);
		o->state = SB_FAILED;
	}
}

bool
store_batch_moves(const struct store_batch *b, int tag,
		  void (*fn)(void *ctx, const char *tmp, const char *final),
		  void *ctx)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].tag == tag && b->f[i].state == SB_FAILED)
			return false;
	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].tag == tag)
			fn(ctx, b->f[i].tmp, b->f[i].final);
	return true;
}

size_t
store_batch_commit(struct store_batch *b, void (*before)(void *ctx, bool after),
		   void *ctx, const char **error_r)
{
	struct dirset dirs = { 0 };
	size_t failed = 0;

	b->err[0] = '\0';
	*error_r = b->err;
	crashpoint("store.batch.staged");
	/* 1. the data of every file (their writeback runs already) */
	for (size_t i = 0; i < b->n; i++) {
		struct sb_file *f = &b->f[i];
		if (f->state != SB_STAGED)
			continue;
		int r = fdatasync(f->fd);
		int saved = errno;
		if (close(f->fd) < 0 && r == 0) {
			r = -1;
			saved = errno;
		}
		f->fd = -1;
		if (r < 0)
			sb_fail(b, f, "fsync", saved);
		else
			f->state = SB_SYNCED;
	}
	crashpoint("store.batch.synced");
	if (before != NULL)
		before(ctx, false);
	crashpoint("store.batch.journaled");
	/* 2. into new/ */
	for (size_t i = 0; i < b->n; i++) {
		struct sb_file *f = &b->f[i];
		if (f->state != SB_SYNCED)
			continue;
		if (rename(f->tmp, f->final) < 0) {
			sb_fail(b, f, "rename into", errno);
			continue;
		}
		f->state = SB_PUBLISHED;
		char *newdir = xstrdup(f->final);
		*strrchr(newdir, '/') = '\0';
		f->dir = dirset_add(&dirs, newdir);
		free(newdir);
	}
	crashpoint("store.batch.published");
	/* 3. one fsync per new/ for the whole batch */
	if (dirset_fsync(&dirs) > 0)
		for (size_t i = 0; i < b->n; i++) {
			struct sb_file *f = &b->f[i];
			if (f->state == SB_PUBLISHED && dirs.err[f->dir] != 0)
				sb_fail(b, f, "fsync the directory of",
				    dirs.err[f->dir]);
		}
	dirset_free(&dirs);
	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].state == SB_FAILED) {
			if (before != NULL)
				before(ctx, true);
			break;
		}
	/* 4. the usage: one line per mailbox. The messages are safe; a
	 * failed update only makes the next reader recalculate */
	for (size_t i = 0; i < b->n; i++) {
		struct sb_file *f = &b->f[i];
		if (f->state == SB_FAILED) {
			failed++;
			continue;
		}
		if (f->size == UINT64_MAX)
			continue;   /* counted with an earlier file */
		int64_t bytes = 0, count = 0;
		for (size_t k = i; k < b->n; k++) {
			struct sb_file *o = &b->f[k];
			if (o->state != SB_PUBLISHED || o->size == UINT64_MAX ||
			    strcmp(o->root, f->root) != 0)
				continue;
			bytes += (int64_t)o->size;
			count++;
			if (k != i)
				o->size = UINT64_MAX;
		}
		f->size = UINT64_MAX;
		(void)store_quota_add(f->root, bytes, count, NULL);
	}
	crashpoint("store.batch.committed");
	return failed;
}

bool
store_batch_ok(const struct store_batch *b, int tag)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].tag == tag && b->f[i].state != SB_PUBLISHED)
			return false;
	return true;
}

void
store_batch_free(struct store_batch **bp)
{
	struct store_batch *b = *bp;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct sb_file *f = &b->f[i];
		if (f->fd >= 0)
			close(f->fd);
		if (f->state == SB_STAGED || f->state == SB_SYNCED)
			(void)unlink(f->tmp);
		free(f->root);
		free(f->tmp);
		free(f->final);
	}
	free(b->f);
	free(b);
	*bp = NULL;
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

/* deliver_indexed - a delivery staged in tmp/ (tmp, name) moved into
 * cur/ and the index with its keywords (save_staged) */
static int
deliver_indexed(const char *mailbox_root, const struct store_delivery *d,
		const char *tmp, const char *name, const char **error_r)
{
	struct store *st = store_open(mailbox_root, error_r);
	struct store_folder *f;
	int r;

	if (st == NULL)
		return -1;
	f = store_folder_open(st, d->folder != NULL ? d->folder : "INBOX",
	    error_r);
	if (f == NULL) {
		store_close(&st);
		return -1;
	}
	r = save_staged(f, tmp, name, d->flags, d->keywords, 0, NULL, NULL,
	    error_r);
	store_folder_close(&f);
	store_close(&st);
	return r;
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
		if (d->batch != NULL)
			msg += sb_staged_bytes(d->batch, mailbox_root);
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
	bool indexed = d->keywords != NULL && d->keywords[0] != '\0';
	info[0] = '\0';
	if ((d->flags & STORE_FLAGS_ALL) != 0 || indexed) {
		char letters[8];
		store_flags_letters(d->flags & STORE_FLAGS_ALL, letters);
		snprintf(info, sizeof(info), ":2,%s", letters);
	}
	if (!indexed && d->batch != NULL) {
		/* staged: into new/ at store_batch_commit, which also
		 * counts it in maildirsize */
		char *tmp = NULL;
		int fd = -1;
		if (file_stage(dir, d->prefix, d->prefix_len, d->data, d->len,
		    d->data == NULL ? d->src_fd : -1, info, &tmp, &name, &size,
		    &vsize, &fd, error_r) < 0) {
			free(dir);
			return STORE_DELIVER_ERROR;
		}
		sb_add(d->batch, d, mailbox_root, dir, tmp, name, fd, size);
		free(dir);
		if (filename_r != NULL)
			*filename_r = name;
		else
			free(name);
		return STORE_DELIVER_OK;
	}
	if (!indexed) {
		/* new/ only: the next sync gives it its UID */
		if (store_file_write(dir, "new", d->prefix, d->prefix_len,
		    d->data, d->len, d->data == NULL ? d->src_fd : -1, info,
		    &name, &size, &vsize, error_r) < 0) {
			free(dir);
			return STORE_DELIVER_ERROR;
		}
	} else {
		/* keywords live in the index only: staged the same way, then
		 * into cur/ and the index as an APPEND is */
		char *tmp = NULL;
		if (store_file_stage(dir, d->prefix, d->prefix_len, d->data,
		    d->len, d->data == NULL ? d->src_fd : -1, info, &tmp, &name,
		    &size, &vsize, error_r) < 0 ||
		    deliver_indexed(mailbox_root, d, tmp, name, error_r) < 0) {
			if (tmp != NULL)
				(void)unlink(tmp);
			free(tmp);
			free(name);
			free(dir);
			return STORE_DELIVER_ERROR;
		}
		free(tmp);
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

