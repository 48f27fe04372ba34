/* store-msg - messages of a folder: load, get, open, flags, expunge */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
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

/* ------------------------------------------------------------ messages */

static void
msg_from_row(sqlite3_stmt *s, struct store_msg *m)
{
	m->uid = (uint32_t)sqlite3_column_int64(s, 0);
	m->flags = (unsigned int)sqlite3_column_int(s, 1);
	m->modseq = (uint64_t)sqlite3_column_int64(s, 2);
	m->size = (uint64_t)sqlite3_column_int64(s, 3);
	m->file_size = (uint64_t)sqlite3_column_int64(s, 4);
	m->internal_date = (time_t)sqlite3_column_int64(s, 5);
	m->keywords = xstrdup((const char *)sqlite3_column_text(s, 6));
	m->file = xstrdup((const char *)sqlite3_column_text(s, 7));
}

#define MSG_COLS "uid, flags, modseq, vsize, size, idate, keywords, file"

/* view_from_row - a row of msg_view's columns (store_msgs_view) */
static void
view_from_row(sqlite3_stmt *s, struct store_msg *m)
{
	const unsigned char *kw = sqlite3_column_text(s, 5);

	m->uid = (uint32_t)sqlite3_column_int64(s, 0);
	m->flags = (unsigned int)sqlite3_column_int(s, 1);
	m->modseq = (uint64_t)sqlite3_column_int64(s, 2);
	m->size = (uint64_t)sqlite3_column_int64(s, 3);
	m->file_size = 0;
	m->internal_date = (time_t)sqlite3_column_int64(s, 4);
	m->keywords = kw != NULL && *kw ? xstrdup((const char *)kw) : NULL;
	m->file = NULL;
}

/* msgs_query - the rows of sql (?1 the folder, ?2 arg), each made into
 * a message by row */
static int
msgs_query(struct store_folder *f, const char *sql, int64_t arg,
	   void (*row)(sqlite3_stmt *, struct store_msg *),
	   struct store_msg **msgs_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, sql, error_r);
	struct store_msg *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, arg);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		row(s, &v[n++]);
	}
	index_done(f->st, s);
	if (rc != SQLITE_DONE) {
		store_msgs_free(v, n);
		return index_err(f->st, error_r, "load messages");
	}
	*msgs_r = v;
	*n_r = n;
	return 0;
}

int
store_msgs_load(struct store_folder *f, struct store_msg **msgs_r,
		size_t *n_r, const char **error_r)
{
	return msgs_query(f, "SELECT " MSG_COLS " FROM msg WHERE folder=?1 "
	    "AND ?2=0 ORDER BY uid", 0, msg_from_row, msgs_r, n_r, error_r);
}

/* store_msgs_view - see store.h */
int
store_msgs_view(struct store_folder *f, struct store_msg **msgs_r,
		size_t *n_r, const char **error_r)
{
	/* by msg_view alone (it covers the query): the table's rows are
	 * never read */
	return msgs_query(f, "SELECT uid, flags, modseq, vsize, idate, keywords"
	    " FROM msg INDEXED BY msg_view WHERE folder=?1 AND ?2=0 ORDER BY"
	    " uid", 0, view_from_row, msgs_r, n_r, error_r);
}

int
store_msgs_changed(struct store_folder *f, uint64_t since,
		   struct store_msg **msgs_r, size_t *n_r,
		   const char **error_r)
{
	/* by the modseq index: without it SQLite walks every message of
	 * the folder in UID order (imapd asks this on each sync) */
	return msgs_query(f, "SELECT " MSG_COLS " FROM msg INDEXED BY msg_modseq"
	    " WHERE folder=?1 AND modseq>?2 ORDER BY uid", (int64_t)since,
	    msg_from_row, msgs_r, n_r, error_r);
}

int
store_expunged_since(struct store_folder *f, uint64_t since, uint32_t **uids_r,
		     size_t *n_r, const char **error_r)
{
	/* by modseq (index version 6): SQLite would walk the primary key
	 * for the ORDER BY, every expunge the folder ever had (830 us for
	 * 3,000 rows, 5 us by the index) at every sync of every session */
	sqlite3_stmt *s = index_prep(f->st, "SELECT uid FROM expunged "
	    "INDEXED BY expunged_modseq WHERE folder=?1 AND modseq>?2 "
	    "ORDER BY uid", error_r);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, (int64_t)since);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	index_done(f->st, s);
	*uids_r = v;
	*n_r = n;
	return 0;
}

void
store_msg_clear(struct store_msg *m)
{
	free(m->keywords);
	free(m->file);
	m->keywords = m->file = NULL;
}

void
store_msgs_free(struct store_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_msg_clear(&msgs[i]);
	free(msgs);
}

int
store_msg_get(struct store_folder *f, uint32_t uid, struct store_msg *m,
	      const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, "SELECT " MSG_COLS " FROM msg WHERE "
	    "folder=? AND uid=?", error_r);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		msg_from_row(s, m);
	index_done(f->st, s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	/* -1, not index_err's value: 1 must mean m is filled (clang's
	 * analyzer cannot see index_err, in another file) */
	index_err(f->st, error_r, "get message");
	return -1;
}

char *
store_msg_path(struct store_folder *f, const struct store_msg *m)
{
	return xasprintf("%s/cur/%s", f->dir, m->file);
}

int
store_msg_open(struct store_folder *f, const struct store_msg *m,
	       const char **error_r)
{
	char *p = store_msg_path(f, m);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		/* renamed by another session since we loaded it? */
		struct store_msg again = { 0 };
		if (e == ENOENT && store_msg_get(f, m->uid, &again, NULL) == 1) {
			free(p);
			p = store_msg_path(f, &again);
			fd = open(p, O_RDONLY | O_CLOEXEC);
			e = errno;
			store_msg_clear(&again);
		}
		if (fd < 0 && e == ENOENT) {
			/* a flag rename lost in a crash, or done by another
			 * program: try the base name with every flag set */
			char *base = store_name_base(m->file), letters[8];
			for (unsigned int fl = 0; fl <= STORE_FLAGS_ALL && fd < 0;
			     fl++) {
				store_flags_letters(fl, letters);
				free(p);
				p = xasprintf("%s/cur/%s:2,%s", f->dir, base,
				    letters);
				fd = open(p, O_RDONLY | O_CLOEXEC);
			}
			free(base);
		}
		if (fd < 0) {
			store_seterr(error_r, "message UID %" PRIu32 ": %s",
			    m->uid, e == ENOENT ? "expunged" : strerror(e));
			errno = e;
		}
	}
	free(p);
	return fd;
}

/* kw_merge - apply op to a keyword list */
static char *
kw_merge(const char *cur, const char *kws, enum store_flag_op op)
{
	struct buf b;
	char *work, *tok, *save;

	buf_init(&b, STORE_KEYWORDS_MAX);
	if (op != STORE_FLAGS_SET) {
		work = xstrdup(cur);
		for (tok = strtok_r(work, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			bool in_kws = false;
			if (kws != NULL) {
				char *w2 = xstrdup(kws), *t2, *s2;
				for (t2 = strtok_r(w2, " ", &s2); t2;
				     t2 = strtok_r(NULL, " ", &s2))
					if (strcasecmp(t2, tok) == 0)
						in_kws = true;
				free(w2);
			}
			if (op == STORE_FLAGS_REMOVE && in_kws)
				continue;
			if (op == STORE_FLAGS_ADD && in_kws)
				continue; /* re-added below */
			if (b.len > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, tok);
		}
		free(work);
	}
	if (op != STORE_FLAGS_REMOVE && kws != NULL) {
		work = xstrdup(kws);
		for (tok = strtok_r(work, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			if (b.len > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, tok);
		}
		free(work);
	}
	return buf_steal(&b);
}

/* store_flags_update - change flags and keywords */
int
store_flags_update(struct store_folder *f, const uint32_t *uids, size_t n,
		   enum store_flag_op op, unsigned int flags,
		   const char *keywords, uint64_t unchanged_since,
		   uint32_t **failed_r, size_t *nfailed_r,
		   const char **error_r)
{
	struct folder_state fs;
	uint32_t *failed = NULL;
	size_t nfailed = 0;

	flags &= STORE_FLAGS_ALL;
	if (index_begin(f->st, error_r) < 0)
		return -1;
	if (sync_locked(f, &fs, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct store_msg m = { 0 };
		int r = store_msg_get(f, uids[i], &m, error_r);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		if (unchanged_since != 0 && m.modseq > unchanged_since) {
			failed = xreallocarray(failed, nfailed + 1,
			    sizeof(*failed));
			failed[nfailed++] = m.uid;
			store_msg_clear(&m);
			continue;
		}
		unsigned int nf = op == STORE_FLAGS_SET ? flags :
		    op == STORE_FLAGS_ADD ? (m.flags | flags) :
		    (m.flags & ~flags);
		char *nk = (keywords == NULL && op != STORE_FLAGS_SET) ?
		    xstrdup(m.keywords) : kw_merge(m.keywords, keywords, op);
		if (nf == m.flags && strcmp(nk, m.keywords) == 0) {
			free(nk);
			store_msg_clear(&m);
			continue;
		}
		char letters[8], *newfile = NULL;
		if (nf != m.flags) {
			char *base = store_name_base(m.file);
			store_flags_letters(nf, letters);
			newfile = xasprintf("%s:2,%s", base, letters);
			free(base);
			char *a = xasprintf("%s/cur/%s", f->dir, m.file);
			char *b = xasprintf("%s/cur/%s", f->dir, newfile);
			int rr = rename(a, b);
			free(a);
			free(b);
			if (rr < 0) {
				/* gone behind our back: the next sync
				 * expunges it */
				free(newfile);
				free(nk);
				store_msg_clear(&m);
				continue;
			}
		}
		fs.modseq++;
		sqlite3_stmt *s = index_prep(f->st, "UPDATE msg SET flags=?,"
		    " keywords=?, modseq=?, file=? WHERE folder=? AND uid=?",
		    error_r);
		if (s == NULL) {
			free(newfile);
			free(nk);
			store_msg_clear(&m);
			goto fail;
		}
		sqlite3_bind_int(s, 1, (int)nf);
		sqlite3_bind_text(s, 2, nk, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, fs.modseq);
		sqlite3_bind_text(s, 4, newfile ? newfile : m.file, -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, f->id);
		sqlite3_bind_int64(s, 6, m.uid);
		int rc = sqlite3_step(s);
		index_done(f->st, s);
		free(newfile);
		free(nk);
		store_msg_clear(&m);
		if (rc != SQLITE_DONE) {
			index_err(f->st, error_r, "store flags");
			goto fail;
		}
	}
	if (sync_finish(f, &fs, error_r) < 0) {
		free(failed);
		return -1;
	}
	if (failed_r != NULL) {
		*failed_r = failed;
		*nfailed_r = nfailed;
	} else
		free(failed);
	return 0;
fail:
	index_rollback(f->st);
	free(failed);
	return -1;
}

/* ---- expunged files, readable a while longer (RFC 2180 4.1.1) ---- */

static char *
expunged_path(const struct store_folder *f, uint32_t uidvalidity,
	      uint32_t uid)
{
	return xasprintf("%s/tmp/expunged.%" PRIu32 ".%" PRIu32, f->dir,
	    uidvalidity, uid);
}

/* store_msg_retire - see store-private.h. Every IMAP process reads the
 * file there until its sessions are told of the expunge; the sessions
 * of another process had NO [EXPUNGEISSUED] when the file was unlinked.
 * tmp/ is on the same file system (a rename) and outside what the sync
 * and the quota count. */
int
store_msg_retire(struct store_folder *f, const char *path,
		 uint32_t uidvalidity, uint32_t uid)
{
	char *to = expunged_path(f, uidvalidity, uid);
	int r = rename(path, to);

	free(to);
	if (r == 0)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* sweep_due - true at most once per SWEEP_EVERY seconds for a folder
 * directory in this process (a busy shared folder holds thousands of
 * such files: reading tmp/ at every expunge cost more than the expunge).
 * A small table of the last folders, for the loop and the writer
 * threads. */
#define SWEEP_EVERY 10
#define SWEEP_SLOTS 64
static bool
sweep_due(const char *dir, time_t now)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct { uint64_t h; time_t at; } slot[SWEEP_SLOTS];
	uint64_t h = 1469598103934665603ULL;
	bool due = true;

	for (const char *p = dir; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	pthread_mutex_lock(&mu);
	size_t i = (size_t)(h % SWEEP_SLOTS);
	if (slot[i].h == h && slot[i].at + SWEEP_EVERY > now)
		due = false;
	else {
		slot[i].h = h;
		slot[i].at = now;
	}
	pthread_mutex_unlock(&mu);
	return due;
}

/* store_expunged_sweep - see store-private.h: by the change time the
 * rename gave the file */
void
store_expunged_sweep(struct store_folder *f)
{
	time_t now = time(NULL);

	if (!sweep_due(f->dir, now))
		return;
	char *tmp = path_join(f->dir, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *de;

	free(tmp);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (strncmp(de->d_name, "expunged.", 9) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    sb.st_ctime + STORE_EXPUNGED_SECONDS <= now)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* store_msg_open_expunged - see store.h */
int
store_msg_open_expunged(struct store_folder *f, uint32_t uidvalidity,
			uint32_t uid)
{
	char *p = expunged_path(f, uidvalidity, uid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	free(p);
	return fd;
}

/* store_expunge - remove messages */
int
store_expunge(struct store_folder *f, const uint32_t *uids, size_t n,
	      uint32_t **expunged_r, size_t *n_r, const char **error_r)
{
	struct folder_state fs;
	struct store_msg *v = NULL;
	size_t nv = 0;
	uint32_t *out = NULL;
	size_t nout = 0;
	int64_t bytes = 0;

	if (index_begin(f->st, error_r) < 0)
		return -1;
	if (sync_locked(f, &fs, error_r) < 0)
		goto fail;
	if (uids == NULL) {
		if (msgs_query(f, "SELECT " MSG_COLS " FROM msg WHERE folder=?1"
		    " AND (flags & ?2) != 0 ORDER BY uid", STORE_DELETED,
		    msg_from_row, &v, &nv, error_r) < 0)
			goto fail;
	} else {
		v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
		for (size_t i = 0; i < n; i++) {
			int r = store_msg_get(f, uids[i], &v[nv], error_r);
			if (r < 0)
				goto fail;
			if (r == 1)
				nv++;
		}
	}
	out = xreallocarray(NULL, nv ? nv : 1, sizeof(*out));
	for (size_t i = 0; i < nv; i++) {
		char *p = store_msg_path(f, &v[i]);
		if (store_msg_retire(f, p, fs.uidvalidity, v[i].uid) < 0) {
			store_seterr(error_r, "unlink %s: %s", p,
			    strerror(errno));
			free(p);
			goto fail;
		}
		free(p);
		if (sync_expunge_row(f, &fs, v[i].uid, error_r) < 0)
			goto fail;
		bytes += (int64_t)v[i].file_size;
		out[nout++] = v[i].uid;
	}
	/* no directory fsync: an expunge lost to a power failure brings the
	 * message back (and the index rolls back with it), it never loses
	 * one; a killed process loses nothing (the kernel has the unlinks).
	 * Dovecot's mail_fsync=optimized does not sync expunges either. */
	store_msgs_free(v, nv);
	v = NULL;
	if (sync_finish(f, &fs, error_r) < 0) {
		free(out);
		return -1;
	}
	if (nout > 0) {
		(void)store_quota_add(f->st->root, -bytes, -(int64_t)nout, NULL);
		store_expunged_sweep(f);
	}
	if (uids != NULL && nout > 1) {
		/* ascending */
		for (size_t i = 1; i < nout; i++)
			for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
				uint32_t t = out[j];
				out[j] = out[j - 1];
				out[j - 1] = t;
			}
	}
	if (expunged_r != NULL) {
		*expunged_r = out;
		*n_r = nout;
	} else
		free(out);
	return 0;
fail:
	index_rollback(f->st);
	store_msgs_free(v, nv);
	free(out);
	return -1;
}
