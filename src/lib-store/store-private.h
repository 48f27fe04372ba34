#ifndef POSTERN_STORE_PRIVATE_H
#define POSTERN_STORE_PRIVATE_H

/* internals shared by the store's files (Dovecot's maildir storage split):
 *   store-index.c     the index: SQLite glue, schema, open/close,
 *                     migrations, checkpoints, store_seterr
 *   store-folder.c    folders: names, list, create/delete/rename,
 *                     subscriptions, open, status, \Recent
 *   store-sync.c      the index brought in line with the Maildir; the
 *                     only place a UID is given (sync_msg_insert)
 *   store-msg.c       messages: load, get, open, flags, expunge
 *   store-save.c      the one road into a mailbox: stage in tmp/, then
 *                     new/ (unindexed delivery) or cur/ + index (append,
 *                     copy, delivery with keywords)
 *   store-filename.c  Maildir file names: unique bases, S= W=, flags
 *   store-quota.c     maildirsize and the mailbox size
 *   store-email.c     object ids (email, thread, mailbox), sort keys,
 *                     lookups by id
 *   store-changes.c   the change log (written by the index's triggers)
 *   store-query.c     the query index (sorted, filtered windows)
 *   store-notify.c    inotify for IDLE */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "buf.h"
#include "store.h"

#define INDEX_NAME "postern-index.db"

/* the prepared statements of a handle (index_prep): the store's texts
 * are about 60 */
#define INDEX_STMTS_MAX 96

struct index_stmt {
	const char *sql;         /* a static text: the key */
	sqlite3_stmt *s;
};

struct store {
	char *root;
	sqlite3 *db;
	struct index_stmt stmts[INDEX_STMTS_MAX];
	size_t nstmts;
	void (*checkpoint_cb)(void *ctx);
	void *checkpoint_ctx;
	/* store_writes_begin: one transaction, the writes' own ones are
	 * savepoints in it (nest deep); the folders whose watchers are
	 * told at the commit */
	bool batch;
	bool batch_failed;         /* rolled back under the batch */
	int nest;
	char **touch;
	size_t ntouch;
	bool nowait;               /* index_begin_nowait: no busy waiting */
};

struct store_folder {
	struct store *st;
	char *name;
	char *dir;
	int64_t id;
	int64_t new_mtime;   /* new/'s mtime when last seen empty, -1 */
	char mailboxid[STORE_ID_MAX];
	int64_t synced_modseq; /* the folder's modseq as store_sync read it */
};

/* store-msg.c: an expunged message's file moved to the folder's
 * tmp/expunged.<uidvalidity>.<uid> (store_msg_open_expunged reads it
 * there), or removed; 0, or -1 with errno */
int store_msg_retire(struct store_folder *f, const char *path,
		     uint32_t uidvalidity, uint32_t uid);
/* store-msg.c: remove what store_msg_retire kept past its time */
void store_expunged_sweep(struct store_folder *f);

/* a folder's counters, read and written under the index's write lock */
struct folder_state {
	uint32_t uidvalidity;
	int64_t uidnext;
	int64_t modseq;
	int64_t cur_mtime;
	/* usage changes found by a sync (files added or removed by other
	 * programs), applied to maildirsize after the commit */
	int64_t quota_bytes;
	int64_t quota_count;
};

/* store-index.c: errors go to a per-thread buffer (imapd appends on
 * worker threads while its loop reads); the SQLite glue returns -1 with
 * the index's path and SQLite's message in *error_r */
const char *store_seterr(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int index_err(struct store *st, const char **error_r, const char *what);
/* index_prep - the handle's cached statement for a static text (compiled
 * at the first use, finalized by store_close); index_prep_once compiles a
 * text made at run time. Either is given back with index_done (reset, or
 * finalized), on every path. */
sqlite3_stmt *index_prep(struct store *st, const char *sql,
			 const char **error_r);
sqlite3_stmt *index_prep_once(struct store *st, const char *sql,
			      const char **error_r);
void index_done(struct store *st, sqlite3_stmt *s);
int index_exec(struct store *st, const char *sql, const char **error_r);
/* index_begin - BEGIN IMMEDIATE: the mailbox's write lock */
int index_begin(struct store *st, const char **error_r);
/* index_commit - COMMIT (rolled back when it fails) */
int index_commit(struct store *st, const char **error_r);
void index_rollback(struct store *st);
/* index_begin_nowait - index_begin unless the write lock is taken by
 * another connection (a writer thread, another process): 1, 0 busy, -1 */
int index_begin_nowait(struct store *st, const char **error_r);
/* index_touch - tell the watchers of the folder in dir that it changed:
 * at once, or at the batch's commit (store_writes_begin) */
void index_touch(struct store *st, const char *dir);

/* store-folder.c */
bool folder_is_inbox(const char *name);
/* folder_dir - the Maildir of a folder (new string) */
char *folder_dir(struct store *st, const char *name);
/* folder_row - the folder's row id, created when missing (in a
 * transaction); -1 error */
int64_t folder_row(struct store *st, const char *name, const char **error_r);
int folder_defaults_create(struct store *st, const char **error_r);

/* store-sync.c: a change takes the write lock (index_begin), brings the
 * folder up to date (sync_locked), changes it, then sync_finish records
 * cur/'s mtime, commits and notifies */
int sync_state_load(struct store_folder *f, struct folder_state *fs,
		    const char **error_r);
int sync_state_save(struct store_folder *f, const struct folder_state *fs,
		    const char **error_r);
int sync_locked(struct store_folder *f, struct folder_state *fs,
		const char **error_r);
int sync_finish(struct store_folder *f, struct folder_state *fs,
		const char **error_r);
/* sync_msg_insert - index a file now in cur/: THE place a UID is given
 * (fs->uidnext, in the caller's transaction). 0 (also when the file is
 * gone or its base is indexed already: *uid_r untouched) or -1. */
int sync_msg_insert(struct store_folder *f, struct folder_state *fs,
		    const char *file, unsigned int flags, const char *keywords,
		    time_t idate, uint32_t *uid_r, const char **error_r);
/* sync_expunge_row - drop a message's row, remembering its UID and modseq
 * for QRESYNC */
int sync_expunge_row(struct store_folder *f, struct folder_state *fs,
		     int64_t uid, const char **error_r);

/* store-filename.c */
char *store_unique_name(void);
void store_flags_letters(unsigned int flags, char out[8]);
void store_name_parse(const char *name, int64_t *size_r, int64_t *vsize_r,
		      unsigned int *flags_r);
/* store_name_base - the base of a Maildir name, before ":" (new string) */
char *store_name_base(const char *name);
/* store_file_vsize - the CRLF size of a file (reads it), -1 */
int64_t store_file_vsize(const char *path);
int64_t store_mtime_ns(const char *path);
int store_maildir_make(const char *dir);

/* store-email.c */
/* what an indexed message carries besides its file name */
struct email_meta {
	char emailid[STORE_ID_MAX];
	char threadid[STORE_ID_MAX];
	char *sfrom;             /* sort keys of the query index */
	char *ssubject;
	/* the header text of the text filters (store-query.c): each field
	 * of the name lowered, joined by NUL; NULL data: no such field */
	struct buf hfrom, hto, hsubject;
	int htext;               /* 1 read, 2 the header is past the bytes
				  * read (the filters read the files) */
};
/* email_meta_read - the ids and sort keys of the file at path (base: its
 * Maildir base name); a file that cannot be read gets ids all the same
 * (its thread: its own) and empty keys. Clear with email_meta_clear. */
void email_meta_read(const char *path, const char *base,
		     struct email_meta *m);
/* email_meta_parse - the same from a message's first bytes (data, len:
 * untrusted; fuzz/fuzz-store-ids.c) */
void email_meta_parse(const void *data, size_t len, const char *base,
		      struct email_meta *m);
void email_meta_clear(struct email_meta *m);
/* email_bind_htext - m's header text into the parameters i, i+1, i+2
 * (hfrom, hto, hsubject: BLOB or NULL) and i+3 (htext) of s */
void email_bind_htext(sqlite3_stmt *s, int i, const struct email_meta *m);
/* email_mailboxid - the mailbox id kept in dir/postern-mailboxid, made
 * when missing. 0 or -1. */
int email_mailboxid(const char *dir, char out[STORE_ID_MAX],
		    const char **error_r);
/* email_backfill - ids for rows and folders of an upgraded index, the
 * state epoch of a new one (store_open): 1 new index, 0, -1 */
int email_backfill(struct store *st, const char **error_r);

/* store-changes.c */
/* changes_autotrim - store_changes_trim once the log is a quarter over
 * STORE_CHANGES_KEEP (store_open) */
int changes_autotrim(struct store *st, const char **error_r);

/* store-notify.c */
void store_touch_notify(const char *dir);

/* store-save.c */
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
