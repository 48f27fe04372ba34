/* store-sync - bring the index in line with the Maildir: new/ drained
 * into cur/ (UIDs given here), cur/ rescanned when changed */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

/* ------------------------------------------------------------ sync */

struct scan_ent {
	char *base;
	char *file;
	int64_t uid;       /* 0: not in the index */
	int64_t size;
	unsigned int flags;
	bool seen;
};

static int
cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct scan_ent *)a)->base,
	    ((const struct scan_ent *)b)->base);
}


int
sync_state_load(struct store_folder *f, struct folder_state *fs,
	   const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, "SELECT uidvalidity, uidnext, modseq,"
	    " cur_mtime FROM folder WHERE id=?", error_r);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		fs->uidvalidity = (uint32_t)sqlite3_column_int64(s, 0);
		fs->uidnext = sqlite3_column_int64(s, 1);
		fs->modseq = sqlite3_column_int64(s, 2);
		fs->cur_mtime = sqlite3_column_int64(s, 3);
		fs->quota_bytes = 0;
		fs->quota_count = 0;
	}
	index_done(f->st, s);
	if (rc != SQLITE_ROW) {
		store_seterr(error_r, "folder %s vanished from the index",
		    f->name);
		return -1;
	}
	return 0;
}

int
sync_state_save(struct store_folder *f, const struct folder_state *fs,
	   const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, "UPDATE folder SET uidnext=?,"
	    " modseq=?, cur_mtime=? WHERE id=?", error_r);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, fs->uidnext);
	sqlite3_bind_int64(s, 2, fs->modseq);
	sqlite3_bind_int64(s, 3, fs->cur_mtime);
	sqlite3_bind_int64(s, 4, f->id);
	rc = sqlite3_step(s);
	index_done(f->st, s);
	if (rc != SQLITE_DONE)
		return index_err(f->st, error_r, "update folder");
	return 0;
}

/* sync_msg_insert - a row for a file now in cur/, with its ids and sort
 * keys read from the file (store-email.c); see store-private.h */
int
sync_msg_insert(struct store_folder *f, struct folder_state *fs,
		const char *file, unsigned int flags, const char *keywords,
		time_t idate, uint32_t *uid_r, const char **error_r)
{
	char *path = xasprintf("%s/cur/%s", f->dir, file);
	char *base = store_name_base(file);
	struct email_meta em;
	int64_t size, vsize;
	unsigned int fl;
	sqlite3_stmt *s;
	int rc;

	store_name_parse(file, &size, &vsize, &fl);
	if (size < 0 || idate == 0) {
		struct stat sb;
		if (stat(path, &sb) < 0) {
			free(path);
			free(base);
			return 0; /* gone already */
		}
		if (size < 0)
			size = sb.st_size;
		if (idate == 0)
			idate = sb.st_mtime;
	}
	if (vsize < 0)
		vsize = store_file_vsize(path);
	email_meta_read(path, base, &em);
	free(path);
	if (vsize < 0)
		vsize = size;
	s = index_prep(f->st, "INSERT OR IGNORE INTO msg(folder,uid,base,file,"
	    "flags,keywords,modseq,size,vsize,idate,emailid,threadid,sfrom,"
	    "ssubject,hfrom,hto,hsubject,htext) VALUES(?,?,?,?,?,?,?,?,?,?,?,"
	    "?,?,?,?,?,?,?)", error_r);
	if (s == NULL) {
		email_meta_clear(&em);
		free(base);
		return -1;
	}
	fs->modseq++;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, fs->uidnext);
	sqlite3_bind_text(s, 3, base, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, file, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, (int)flags);
	sqlite3_bind_text(s, 6, keywords ? keywords : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, fs->modseq);
	sqlite3_bind_int64(s, 8, size);
	sqlite3_bind_int64(s, 9, vsize);
	sqlite3_bind_int64(s, 10, (int64_t)idate);
	sqlite3_bind_text(s, 11, em.emailid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12, em.threadid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, em.sfrom, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, em.ssubject, -1, SQLITE_STATIC);
	email_bind_htext(s, 15, &em);
	rc = sqlite3_step(s);
	index_done(f->st, s);
	email_meta_clear(&em);
	free(base);
	if (rc != SQLITE_DONE)
		return index_err(f->st, error_r, "insert message");
	if (sqlite3_changes(f->st->db) == 0)
		return 0; /* same base twice: keep the first */
	if (uid_r != NULL)
		*uid_r = (uint32_t)fs->uidnext;
	fs->uidnext++;
	return 0;
}

int
sync_expunge_row(struct store_folder *f, struct folder_state *fs, int64_t uid,
	    const char **error_r)
{
	sqlite3_stmt *s;
	int rc;

	s = index_prep(f->st, "DELETE FROM msg WHERE folder=? AND uid=?", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	index_done(f->st, s);
	if (rc != SQLITE_DONE)
		return index_err(f->st, error_r, "expunge");
	fs->modseq++;
	s = index_prep(f->st, "INSERT OR REPLACE INTO expunged VALUES(?,?,?)",
	    error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, fs->modseq);
	rc = sqlite3_step(s);
	index_done(f->st, s);
	if (rc != SQLITE_DONE)
		return index_err(f->st, error_r, "expunge");
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* scan_cur - reconcile the index with the files of cur/ */
static int
scan_cur(struct store_folder *f, struct folder_state *fs, const char **error_r)
{
	char *cur = path_join(f->dir, "cur");
	struct scan_ent *idx = NULL;
	char **files = NULL;
	size_t nidx = 0, cidx = 0, nfiles = 0, cfiles = 0;
	sqlite3_stmt *s;
	DIR *d;
	struct dirent *de;
	int ret = -1;

	s = index_prep(f->st, "SELECT base, file, uid, flags, size FROM msg WHERE "
	    "folder=?", error_r);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, f->id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (nidx == cidx) {
			cidx = cidx ? cidx * 2 : 256;
			idx = xreallocarray(idx, cidx, sizeof(*idx));
		}
		idx[nidx++] = (struct scan_ent){
			.base = xstrdup((const char *)sqlite3_column_text(s, 0)),
			.file = xstrdup((const char *)sqlite3_column_text(s, 1)),
			.uid = sqlite3_column_int64(s, 2),
			.flags = (unsigned int)sqlite3_column_int(s, 3),
			.size = sqlite3_column_int64(s, 4) };
	}
	index_done(f->st, s);
	if (nidx > 1)
		qsort(idx, nidx, sizeof(*idx), cmp_ent);

	d = opendir(cur);
	if (d == NULL) {
		store_seterr(error_r, "open %s: %s", cur, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (nfiles == cfiles) {
			cfiles = cfiles ? cfiles * 2 : 256;
			files = xreallocarray(files, cfiles, sizeof(*files));
		}
		files[nfiles++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (nfiles > 1)
		qsort(files, nfiles, sizeof(*files), cmp_str);

	for (size_t i = 0; i < nfiles; i++) {
		char *base = store_name_base(files[i]);
		struct scan_ent key = { .base = base }, *e;
		e = nidx == 0 ? NULL :
		    bsearch(&key, idx, nidx, sizeof(*idx), cmp_ent);
		if (e == NULL) {
			/* added behind our back */
			int64_t sz, w;
			unsigned int fl;
			store_name_parse(files[i], &sz, &w, &fl);
			int r = sync_msg_insert(f, fs, files[i], fl, NULL, 0, NULL,
			    error_r);
			free(base);
			if (r < 0)
				goto out;
			/* not delivered by Postern (no W=) into a folder
			 * indexed before: not in maildirsize yet. (After a
			 * rebuild, cur_mtime is -1 and we cannot tell.) */
			if (w < 0 && fs->cur_mtime != -1) {
				struct stat sb;
				char *fp = xasprintf("%s/%s", cur, files[i]);
				if (sz < 0 && stat(fp, &sb) == 0)
					sz = sb.st_size;
				free(fp);
				if (sz >= 0) {
					fs->quota_bytes += sz;
					fs->quota_count++;
				}
			}
			continue;
		}
		free(base);
		if (e->seen)
			continue; /* a second file with the same base */
		e->seen = true;
		if (strcmp(e->file, files[i]) != 0) {
			/* renamed behind our back: flags from the name,
			 * keywords kept */
			int64_t sz, w;
			unsigned int fl;
			store_name_parse(files[i], &sz, &w, &fl);
			fs->modseq++;
			s = index_prep(f->st, "UPDATE msg SET file=?, flags=?,"
			    " modseq=? WHERE folder=? AND uid=?", error_r);
			if (s == NULL)
				goto out;
			sqlite3_bind_text(s, 1, files[i], -1, SQLITE_STATIC);
			sqlite3_bind_int(s, 2, (int)fl);
			sqlite3_bind_int64(s, 3, fs->modseq);
			sqlite3_bind_int64(s, 4, f->id);
			sqlite3_bind_int64(s, 5, e->uid);
			int rc = sqlite3_step(s);
			index_done(f->st, s);
			if (rc != SQLITE_DONE) {
				index_err(f->st, error_r, "update message");
				goto out;
			}
		}
	}
	for (size_t i = 0; i < nidx; i++) {
		if (idx[i].seen)
			continue;
		/* removed behind our back */
		if (sync_expunge_row(f, fs, idx[i].uid, error_r) < 0)
			goto out;
		fs->quota_bytes -= idx[i].size;
		fs->quota_count--;
	}
	ret = 0;
out:
	for (size_t i = 0; i < nidx; i++) {
		free(idx[i].base);
		free(idx[i].file);
	}
	free(idx);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(cur);
	return ret;
}

/* new_empty - whether new/ holds no message, without a readdir when its
 * mtime is the one it had when a readdir last found it empty. That mtime
 * is remembered only when it was over a second old then: a file added in
 * the same clock tick as that readdir would leave it unchanged (Dovecot's
 * MAILDIR_SYNC_SECS rule). */
static bool
new_empty(struct store_folder *f)
{
	char *nw = path_join(f->dir, "new");
	int64_t m = store_mtime_ns(nw);
	bool empty = true;

	if (m >= 0 && m == f->new_mtime) {
		free(nw);
		return true;
	}
	DIR *d = opendir(nw);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.') {
			empty = false;
			break;
		}
	}
	if (d != NULL)
		closedir(d);
	free(nw);
	if (empty && m >= 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (m < (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
		    1000000000)
			f->new_mtime = m;
	}
	return empty;
}

/* drain_new - move the files of new/ to cur/ and index them */
static int
drain_new(struct store_folder *f, struct folder_state *fs,
	  const char **error_r)
{
	char *nw, **files = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (new_empty(f))
		return 0;
	nw = path_join(f->dir, "new");
	d = opendir(nw);
	if (d == NULL) {
		free(nw);
		if (errno == ENOENT)
			return 0;
		return store_seterr(error_r, "open new/: %s",
		    strerror(errno)), -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			files = xreallocarray(files, cap, sizeof(*files));
		}
		files[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	/* delivery order: names start with the time */
	if (n > 1)
		qsort(files, n, sizeof(*files), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *a = xasprintf("%s/%s", nw, files[i]);
		char *colon = strchr(files[i], ':');
		const char *info = colon ? colon : ":2,";
		int baselen = colon ? (int)(colon - files[i]) :
		    (int)strlen(files[i]);
		int64_t sz, w;
		unsigned int fl;
		char *to;
		store_name_parse(files[i], &sz, &w, &fl);
		if (w >= 0) {
			to = xasprintf("%.*s%s", baselen, files[i], info);
		} else {
			/* put there by another program: give it its sizes
			 * (no one has seen its name yet) and count it */
			struct stat sb;
			int64_t v = store_file_vsize(a);
			if (stat(a, &sb) < 0 || v < 0) {
				free(a);
				free(files[i]);
				continue;
			}
			if (sz < 0)
				to = xasprintf("%.*s,S=%lld,W=%lld%s", baselen,
				    files[i], (long long)sb.st_size,
				    (long long)v, info);
			else
				to = xasprintf("%.*s,W=%lld%s", baselen,
				    files[i], (long long)v, info);
			fs->quota_bytes += sb.st_size;
			fs->quota_count++;
		}
		char *b = xasprintf("%s/cur/%s", f->dir, to);
		if (ret == 0 && rename(a, b) == 0) {
			store_name_parse(to, &sz, &w, &fl);
			ret = sync_msg_insert(f, fs, to, fl, NULL, 0, NULL, error_r);
		}
		free(a);
		free(b);
		free(to);
		free(files[i]);
	}
	free(files);
	free(nw);
	return ret;
}

/* sync_locked - the sync, inside a write transaction; leaves fs current */
int
sync_locked(struct store_folder *f, struct folder_state *fs,
	    const char **error_r)
{
	char *cur = path_join(f->dir, "cur");
	int64_t m;

	if (sync_state_load(f, fs, error_r) < 0) {
		free(cur);
		return -1;
	}
	m = store_mtime_ns(cur);
	if (m == -2 && errno == ENOENT) {
		free(cur);
		return store_seterr(error_r, "folder %s does not exist",
		    f->name), -1;
	}
	if (m != fs->cur_mtime && scan_cur(f, fs, error_r) < 0) {
		free(cur);
		return -1;
	}
	if (drain_new(f, fs, error_r) < 0) {
		free(cur);
		return -1;
	}
	free(cur);
	return 0;
}

/* finish - record cur/'s mtime after our own changes and commit.
 * XXX a change by another (non-Postern) program in the same clock tick as
 * ours goes unnoticed until cur/ changes again. */
int
sync_finish(struct store_folder *f, struct folder_state *fs, const char **error_r)
{
	char *cur = path_join(f->dir, "cur");

	fs->cur_mtime = store_mtime_ns(cur);
	free(cur);
	if (sync_state_save(f, fs, error_r) < 0) {
		index_rollback(f->st);
		return -1;
	}
	if (index_commit(f->st, error_r) < 0)
		return -1;
	if (fs->quota_bytes != 0 || fs->quota_count != 0)
		(void)store_quota_add(f->st->root, fs->quota_bytes,
		    fs->quota_count, NULL);
	index_touch(f->st, f->dir);
	return 0;
}

/* store_sync - pick up changes made behind the index's back */
int
store_sync(struct store_folder *f, const char **error_r)
{
	struct folder_state fs;
	char *cur = path_join(f->dir, "cur");
	int64_t m = store_mtime_ns(cur);
	bool quick = false;

	/* the common case, without taking the write lock: cur/ as recorded
	 * and new/ empty (two stats, no readdir) */
	if (sync_state_load(f, &fs, NULL) == 0 && m == fs.cur_mtime)
		quick = new_empty(f);
	free(cur);
	if (quick) {
		f->synced_modseq = fs.modseq;
		return 0;
	}
	/* cur/ changed or new/ has files: usually a writer of ours (a
	 * STORE's renames, a delivery) in the middle of its transaction,
	 * which records cur/ and drains new/ itself under the lock before
	 * it commits. Never wait for it (imapd's loop would stall every
	 * session): report the index as last committed; what the writer
	 * leaves, the next sync picks up. */
	int b = index_begin_nowait(f->st, error_r);
	if (b < 0)
		return -1;
	if (b == 0) {
		if (sync_state_load(f, &fs, error_r) < 0)
			return -1;
		f->synced_modseq = fs.modseq;
		return 0;
	}
	if (sync_locked(f, &fs, error_r) < 0) {
		index_rollback(f->st);
		return -1;
	}
	if (sync_finish(f, &fs, error_r) < 0)
		return -1;
	f->synced_modseq = fs.modseq;
	return 0;
}


/* store_folder_modseq - see store.h */
uint64_t
store_folder_modseq(const struct store_folder *f)
{
	return (uint64_t)f->synced_modseq;
}
