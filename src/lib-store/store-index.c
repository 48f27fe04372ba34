/* store-index - the per-mailbox index: SQLite glue, schema, open/close,
 * migrations, WAL checkpoints */
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

#define STORE_WAL_PAGES 1000   /* SQLite's autocheckpoint default */
#define STORE_WAL_PAGES_MAX 4000 /* checkpointed inline past this */
/* the index schema version (PRAGMA user_version); an index made before
 * versioning reads 0 and is version 1. index_migrate upgrades older ones
 * step by step, each step in one transaction. */
#define INDEX_VERSION 8

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE IF NOT EXISTS folder(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE, uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" special_use INTEGER NOT NULL DEFAULT 0,"
	" cur_mtime INTEGER NOT NULL DEFAULT -1,"
	" recent_uid INTEGER NOT NULL DEFAULT 1,"
	" mailboxid TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS msg(folder INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, base TEXT NOT NULL, file TEXT NOT NULL,"
	" flags INTEGER NOT NULL, keywords TEXT NOT NULL DEFAULT '',"
	" modseq INTEGER NOT NULL, size INTEGER NOT NULL,"
	" vsize INTEGER NOT NULL, idate INTEGER NOT NULL,"
	" emailid TEXT NOT NULL DEFAULT '', threadid TEXT NOT NULL DEFAULT '',"
	" sfrom TEXT NOT NULL DEFAULT '', ssubject TEXT NOT NULL DEFAULT '',"
	" hfrom BLOB, hto BLOB, hsubject BLOB,"
	" htext INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX IF NOT EXISTS msg_base ON msg(folder, base);"
	"CREATE INDEX IF NOT EXISTS msg_modseq ON msg(folder, modseq);"
	"CREATE TABLE IF NOT EXISTS expunged(folder INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	/* version 6: a view's "expunged since its modseq" (every sync of
	 * every session) reads the new rows only, not every expunge the
	 * folder ever had */
	"CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(folder, modseq);"
	/* version 7: the header text of the filters from, to, subject
	 * (store-query.c), htext 1 when it is there (0: not read yet, 2:
	 * a header past what the store reads); the few rows without it */
	"CREATE INDEX IF NOT EXISTS msg_htext ON msg(folder) WHERE htext!=1;"
	/* version 8: what a session's view of a folder holds (IMAP SELECT,
	 * a full resync, STATUS's counts): the table's rows carry the file
	 * name, the ids and the header text, so a walk of 100,000 of them
	 * read some 40 MB of pages; this index is a tenth of that */
	"CREATE INDEX IF NOT EXISTS msg_view ON msg(folder, uid, flags,"
	" modseq, vsize, idate, keywords);"
	"CREATE TABLE IF NOT EXISTS subscription(name TEXT PRIMARY KEY);"
	/* version 3: object ids, the query index, the change log; the
	 * sort indexes (version 4) hold what a filter reads (flags,
	 * keywords, the email id), so a window walks the index alone */
	"CREATE INDEX IF NOT EXISTS msg_emailid ON msg(emailid);"
	"CREATE INDEX IF NOT EXISTS msg_threadid ON msg(threadid);"
	"CREATE INDEX IF NOT EXISTS msg_a_idate ON msg(idate, folder, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_a_vsize ON msg(vsize, folder, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_a_sfrom ON msg(sfrom, folder, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_a_ssubject ON msg(ssubject, folder, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_f_idate ON msg(folder, idate, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_f_vsize ON msg(folder, vsize, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_f_sfrom ON msg(folder, sfrom, uid,"
	" flags, keywords, emailid);"
	"CREATE INDEX IF NOT EXISTS msg_f_ssubject ON msg(folder, ssubject, uid,"
	" flags, keywords, emailid);"
	"CREATE UNIQUE INDEX IF NOT EXISTS folder_mailboxid ON folder(mailboxid)"
	" WHERE mailboxid!='';"
	"CREATE TABLE IF NOT EXISTS changelog(seq INTEGER PRIMARY KEY"
	" AUTOINCREMENT, type INTEGER NOT NULL, id TEXT NOT NULL,"
	" op INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS changelog_type ON changelog(type, seq);"
	/* the log, written here so that no road into the index misses it
	 * (types and ops: STORE_CHANGE_* in store.h) */
	"CREATE TRIGGER IF NOT EXISTS log_msg_ins AFTER INSERT ON msg BEGIN"
	" INSERT INTO changelog(type,id,op) VALUES(1, NEW.emailid,"
	"  CASE WHEN EXISTS(SELECT 1 FROM msg WHERE emailid=NEW.emailid AND"
	"  (folder!=NEW.folder OR uid!=NEW.uid)) THEN 2 ELSE 1 END);"
	" INSERT INTO changelog(type,id,op) VALUES(3, NEW.threadid,"
	"  CASE WHEN EXISTS(SELECT 1 FROM msg WHERE threadid=NEW.threadid AND"
	"  (folder!=NEW.folder OR uid!=NEW.uid)) THEN 2 ELSE 1 END);"
	" INSERT INTO changelog(type,id,op) SELECT 2, mailboxid, 4 FROM folder"
	"  WHERE id=NEW.folder;"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS log_msg_del AFTER DELETE ON msg BEGIN"
	" INSERT INTO changelog(type,id,op) VALUES(1, OLD.emailid,"
	"  CASE WHEN EXISTS(SELECT 1 FROM msg WHERE emailid=OLD.emailid)"
	"  THEN 2 ELSE 3 END);"
	" INSERT INTO changelog(type,id,op) VALUES(3, OLD.threadid,"
	"  CASE WHEN EXISTS(SELECT 1 FROM msg WHERE threadid=OLD.threadid)"
	"  THEN 2 ELSE 3 END);"
	" INSERT INTO changelog(type,id,op) SELECT 2, mailboxid, 4 FROM folder"
	"  WHERE id=OLD.folder;"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS log_msg_upd AFTER UPDATE OF flags,"
	" keywords ON msg WHEN OLD.flags!=NEW.flags OR"
	" OLD.keywords!=NEW.keywords BEGIN"
	" INSERT INTO changelog(type,id,op) VALUES(1, NEW.emailid, 2);"
	" INSERT INTO changelog(type,id,op) SELECT 2, mailboxid, 4 FROM folder"
	"  WHERE id=NEW.folder AND (OLD.flags & 1)!=(NEW.flags & 1);"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS log_folder_ins AFTER INSERT ON folder"
	" BEGIN INSERT INTO changelog(type,id,op) VALUES(2, NEW.mailboxid, 1);"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS log_folder_del AFTER DELETE ON folder"
	" BEGIN INSERT INTO changelog(type,id,op) VALUES(2, OLD.mailboxid, 3);"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS log_folder_upd AFTER UPDATE OF name ON"
	" folder BEGIN INSERT INTO changelog(type,id,op)"
	" VALUES(2, NEW.mailboxid, 2); END;"
	"CREATE TRIGGER IF NOT EXISTS log_sub_ins AFTER INSERT ON subscription"
	" BEGIN INSERT INTO changelog(type,id,op) SELECT 2, mailboxid, 2 FROM"
	" folder WHERE name=NEW.name; END;"
	"CREATE TRIGGER IF NOT EXISTS log_sub_del AFTER DELETE ON subscription"
	" BEGIN INSERT INTO changelog(type,id,op) SELECT 2, mailboxid, 2 FROM"
	" folder WHERE name=OLD.name; END;";


/* ------------------------------------------------------------ sqlite glue */

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


int
index_err(struct store *st, const char **error_r, const char *what)
{
	store_seterr(error_r, "index %s/%s: %s: %s", st->root, INDEX_NAME,
	    what, sqlite3_errmsg(st->db));
	return -1;
}

sqlite3_stmt *
index_prep_once(struct store *st, const char *sql, const char **error_r)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		index_err(st, error_r, "prepare");
		return NULL;
	}
	return s;
}

/* index_prep - the handle's prepared statement for sql (compiled once per
 * handle: sqlite3Parser was a tenth of imapd's SQLite time when every
 * call prepared its statement again). The cache is keyed by the text's
 * address, checked against the text; a statement still stepping (the
 * same query nested in its own loop) gets a fresh one, which index_done
 * finalizes. */
sqlite3_stmt *
index_prep(struct store *st, const char *sql, const char **error_r)
{
	struct index_stmt *e = NULL;
	sqlite3_stmt *s;

	for (size_t i = 0; i < st->nstmts; i++)
		if (st->stmts[i].sql == sql) {
			e = &st->stmts[i];
			break;
		}
	if (e != NULL && strcmp(sqlite3_sql(e->s), sql) != 0) {
		/* the address of a text no longer alive: not ours */
		sqlite3_finalize(e->s);
		*e = st->stmts[--st->nstmts];
		e = NULL;
	}
	if (e != NULL)
		return sqlite3_stmt_busy(e->s) ? index_prep_once(st, sql,
		    error_r) : e->s;
	if ((s = index_prep_once(st, sql, error_r)) == NULL)
		return NULL;
	if (st->nstmts < INDEX_STMTS_MAX) {
		st->stmts[st->nstmts].sql = sql;
		st->stmts[st->nstmts++].s = s;
	}
	return s;
}

/* index_done - give back a statement of index_prep or index_prep_once:
 * a cached one is reset (its read lock released), any other finalized */
void
index_done(struct store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < st->nstmts; i++)
		if (st->stmts[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return;
		}
	sqlite3_finalize(s);
}

/* index_stmts_free - finalize the cached statements (before the close) */
static void
index_stmts_free(struct store *st)
{
	for (size_t i = 0; i < st->nstmts; i++)
		sqlite3_finalize(st->stmts[i].s);
	st->nstmts = 0;
}

int
index_exec(struct store *st, const char *sql, const char **error_r)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return index_err(st, error_r, sql);
	return 0;
}

int
index_begin(struct store *st, const char **error_r)
{
	if (st->batch) {
		if (st->batch_failed)
			return store_seterr(error_r, "index %s: the batch's "
			    "transaction was rolled back", st->root), -1;
		if (index_exec(st, "SAVEPOINT w", error_r) < 0)
			return -1;
		st->nest++;
		return 0;
	}
	return index_exec(st, "BEGIN IMMEDIATE", error_r);
}

/* index_begin_nowait - BEGIN IMMEDIATE unless another connection holds
 * the write lock: 1 begun, 0 busy, -1 error */
int
index_begin_nowait(struct store *st, const char **error_r)
{
	if (st->batch)
		return index_begin(st, error_r) < 0 ? -1 : 1;
	st->nowait = true;
	int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	st->nowait = false;
	if (rc == SQLITE_OK)
		return 1;
	if (rc == SQLITE_BUSY)
		return 0;
	return index_err(st, error_r, "BEGIN IMMEDIATE");
}

int
index_commit(struct store *st, const char **error_r)
{
	if (st->batch && st->nest > 0) {
		st->nest--;
		if (index_exec(st, "RELEASE w", error_r) < 0) {
			sqlite3_exec(st->db, "ROLLBACK TO w; RELEASE w", NULL,
			    NULL, NULL);
			return -1;
		}
		return 0;
	}
	if (index_exec(st, "COMMIT", error_r) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void
index_rollback(struct store *st)
{
	if (st->batch && st->nest > 0) {
		st->nest--;
		sqlite3_exec(st->db, "ROLLBACK TO w; RELEASE w", NULL, NULL,
		    NULL);
		return;
	}
	if (st->batch)
		st->batch_failed = true;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* index_touch - see store-private.h */
void
index_touch(struct store *st, const char *dir)
{
	if (!st->batch) {
		store_touch_notify(dir);
		return;
	}
	for (size_t i = 0; i < st->ntouch; i++)
		if (strcmp(st->touch[i], dir) == 0)
			return;
	st->touch = xreallocarray(st->touch, st->ntouch + 1,
	    sizeof(*st->touch));
	st->touch[st->ntouch++] = xstrdup(dir);
}

/* touch_flush - tell the watchers a batch recorded (or forget them) */
static void
touch_flush(struct store *st, bool tell)
{
	for (size_t i = 0; i < st->ntouch; i++) {
		if (tell)
			store_touch_notify(st->touch[i]);
		free(st->touch[i]);
	}
	xfree(&st->touch);
	st->ntouch = 0;
}

/* store_writes_begin - see store.h */
int
store_writes_begin(struct store *st, const char **error_r)
{
	if (index_exec(st, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	st->batch = true;
	st->batch_failed = false;
	st->nest = 0;
	return 0;
}

/* store_writes_try - see store.h */
int
store_writes_try(struct store *st, const char **error_r)
{
	int r = index_begin_nowait(st, error_r);

	if (r == 1) {
		st->batch = true;
		st->batch_failed = false;
		st->nest = 0;
	}
	return r;
}

/* store_writes_commit - see store.h */
int
store_writes_commit(struct store *st, const char **error_r)
{
	bool failed = st->batch_failed;

	st->batch = false;
	st->batch_failed = false;
	st->nest = 0;
	if (failed) {
		touch_flush(st, true);  /* what committed before: re-read */
		return store_seterr(error_r, "index %s: the batch was rolled "
		    "back", st->root), -1;
	}
	int r = index_commit(st, error_r);
	touch_flush(st, true);
	return r;
}

static const char *const migrations[] = {
	/* 2: \Recent (RFC 3501): UIDs from recent_uid up are recent for
	 * the next session that selects the folder. Existing messages were
	 * seen by earlier sessions: not recent. */
	"ALTER TABLE folder ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;"
	"UPDATE folder SET recent_uid=uidnext;",
	/* 3: object ids (filled from the files by email_backfill at the
	 * next open), sort keys of the query index, the change log (made
	 * by schema_sql) */
	"ALTER TABLE folder ADD COLUMN mailboxid TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE msg ADD COLUMN emailid TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE msg ADD COLUMN threadid TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE msg ADD COLUMN sfrom TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE msg ADD COLUMN ssubject TEXT NOT NULL DEFAULT '';",
	/* 4: the sort indexes cover the filters (made again by schema_sql) */
	"DROP INDEX IF EXISTS msg_a_idate; DROP INDEX IF EXISTS msg_a_vsize;"
	"DROP INDEX IF EXISTS msg_a_sfrom; DROP INDEX IF EXISTS msg_a_ssubject;"
	"DROP INDEX IF EXISTS msg_f_idate; DROP INDEX IF EXISTS msg_f_vsize;"
	"DROP INDEX IF EXISTS msg_f_sfrom; DROP INDEX IF EXISTS msg_f_ssubject;",
	/* 5: the folder ones hold the email id too (a window reads no row:
	 * SQLite reads a WITHOUT ROWID row before any WHERE term unless the
	 * index covers the query) */
	"DROP INDEX IF EXISTS msg_f_idate; DROP INDEX IF EXISTS msg_f_vsize;"
	"DROP INDEX IF EXISTS msg_f_sfrom; DROP INDEX IF EXISTS msg_f_ssubject;",
	/* 6: expunged_modseq (made by schema_sql) */
	"",
	/* 7: the header text of the text filters, read from the files by
	 * email_backfill at the next open (htext=0 until then: queries
	 * with a text filter read the messages meanwhile); msg_htext made
	 * by schema_sql */
	"ALTER TABLE msg ADD COLUMN hfrom BLOB;"
	"ALTER TABLE msg ADD COLUMN hto BLOB;"
	"ALTER TABLE msg ADD COLUMN hsubject BLOB;"
	"ALTER TABLE msg ADD COLUMN htext INTEGER NOT NULL DEFAULT 0;",
	/* 8: msg_view (made by schema_sql) */
	"",
};

/* index_version - whether the index is new (no tables) and its version */
static int
index_version(struct store *st, bool *fresh_r, int *version_r,
	      const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, "SELECT (SELECT count(*) FROM "
	    "sqlite_master WHERE type='table' AND name='folder'),"
	    " (SELECT user_version FROM pragma_user_version)", error_r);

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW) {
		index_done(st, s);
		return index_err(st, error_r, "read the index version");
	}
	*fresh_r = sqlite3_column_int(s, 0) == 0;
	*version_r = sqlite3_column_int(s, 1);
	index_done(st, s);
	if (*fresh_r)
		*version_r = 0;
	else if (*version_r < 0)   /* user_version is signed: not ours */
		return store_seterr(error_r, "index %s/%s: version %d is not "
		    "valid", st->root, INDEX_NAME, *version_r), -1;
	else if (*version_r == 0)
		*version_r = 1;     /* made before the index was versioned */
	return 0;
}

/* index_migrate - create a new index at INDEX_VERSION, or upgrade an
 * older one through each step (under the write lock: two processes
 * opening one index migrate it once) */
static int
index_migrate(struct store *st, const char **error_r)
{
	bool fresh;
	int version;
	char pragma[64];

	if (index_version(st, &fresh, &version, error_r) < 0)
		return -1;
	if (!fresh && version == INDEX_VERSION)
		return 0;
	if (index_begin(st, error_r) < 0)
		return -1;
	if (index_version(st, &fresh, &version, error_r) < 0) {
		index_rollback(st);
		return -1;
	}
	if (version > INDEX_VERSION) {
		index_rollback(st);
		return store_seterr(error_r, "index %s/%s: version %d is newer "
		    "than this program's %d", st->root, INDEX_NAME, version,
		    INDEX_VERSION), -1;
	}
	int from = fresh ? INDEX_VERSION : version;
	if (from < 1) {     /* index_version never says so: checked anyway */
		index_rollback(st);
		return store_seterr(error_r, "index %s/%s: version %d is not "
		    "valid", st->root, INDEX_NAME, version), -1;
	}
	for (int v = from; v < INDEX_VERSION; v++)
		if (index_exec(st, migrations[v - 1], error_r) < 0) {
			index_rollback(st);
			return -1;
		}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
	    INDEX_VERSION);
	if (index_exec(st, schema_sql, error_r) < 0 ||
	    index_exec(st, pragma, error_r) < 0) {
		index_rollback(st);
		return -1;
	}
	return index_commit(st, error_r);
}

/* index_busy - the index is locked by another connection: a writer
 * thread's or another process's commit, a few milliseconds at most. Poll
 * every 50 us at first, then every 250 us, then every 1 ms, 30 s in all.
 * SQLite's own handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20,
 * 25... ms: imapd's event loop, whose STORE waited on a writer thread's
 * APPEND, slept ten times longer than the lock was held, with every
 * session of the process behind it (the shared-mailbox stress run). */
#define BUSY_FAST 40        /* tries 50 us apart: 2 ms */
#define BUSY_MEDIUM 120     /* then 250 us apart: 20 ms more */
#define BUSY_TRIES (BUSY_MEDIUM + 30000)   /* then 1 ms apart: 30 s */
static int
index_busy(void *arg, int count)
{
	struct store *st = arg;

	if (count >= BUSY_TRIES || st->nowait)
		return 0;
	long us = count < BUSY_FAST ? 50 : count < BUSY_MEDIUM ? 250 : 1000;
	struct timespec ts = { 0, us * 1000 };
	(void)nanosleep(&ts, NULL);
	return 1;
}

static int
index_open(struct store *st, const char **error_r)
{
	char *path = path_join(st->root, INDEX_NAME);
	int rc;

	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	free(path);
	if (rc != SQLITE_OK)
		return index_err(st, error_r, "open");
	/* an idle IMAP session holds its mailbox open: SQLite's default
	 * lookaside (120 KB per connection) would be most of its memory */
	(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 128, 32);
	sqlite3_busy_handler(st->db, index_busy, st);
	/* synchronous=NORMAL in WAL mode: a killed process loses nothing,
	 * and a power failure can only roll back the last index changes
	 * (flags, expunges), never corrupt the index. The messages
	 * themselves are fsynced by delivery and append before anyone is
	 * told they are there, and the flags are in the Maildir file names
	 * too. Dovecot's mail_fsync=optimized makes the same trade: an
	 * fsync per STORE would cost one disk flush per flag change. */
	/* journal_size_limit: once a checkpoint has caught up, the WAL
	 * file is cut back to 4 MB instead of keeping the size a burst of
	 * changes (thousands of CREATEs) gave it */
	if (index_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA cache_size=-256; PRAGMA journal_size_limit=4194304",
	    error_r) < 0)
		return -1;
	if (index_migrate(st, error_r) < 0)
		return -1;
	/* a cheap probe that reads the pages we need */
	if (index_exec(st, "SELECT count(*) FROM folder", error_r) < 0)
		return -1;
	return 0;
}

static void
index_move_aside(struct store *st)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };

	for (size_t i = 0; i < 3; i++) {
		char *from = xasprintf("%s/%s%s", st->root, INDEX_NAME, sfx[i]);
		char *to = xasprintf("%s/%s%s.damaged", st->root, INDEX_NAME,
		    sfx[i]);
		(void)rename(from, to);
		free(from);
		free(to);
	}
}

/* store_library_init - no bulk page cache per connection; no memory
 * statistics (SQLite takes a process-wide mutex on every allocation to
 * count them: imapd's loop and writer threads queued on it) */
void
store_library_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* store_open - open (create, or rebuild) the index of a mailbox */
struct store *
store_open(const char *mailbox_root, const char **error_r)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->root = xstrdup(mailbox_root);
	if (store_maildir_make(st->root) < 0) {
		store_seterr(error_r, "mailbox %s: %s", st->root,
		    strerror(errno));
		store_close(&st);
		return NULL;
	}
	if (index_open(st, error_r) < 0) {
		int code = st->db ? sqlite3_errcode(st->db) : SQLITE_CANTOPEN;
		if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) {
			store_close(&st);
			return NULL;
		}
		/* damaged: keep it for a post mortem, rebuild from files */
		index_stmts_free(st);
		sqlite3_close(st->db);
		st->db = NULL;
		index_move_aside(st);
		if (index_open(st, error_r) < 0) {
			store_close(&st);
			return NULL;
		}
	}
	int fresh;
	if (folder_defaults_create(st, error_r) < 0 ||
	    (fresh = email_backfill(st, error_r)) < 0 ||
	    changes_autotrim(st, error_r) < 0) {
		store_close(&st);
		return NULL;
	}
	/* a new or rebuilt index knows every folder at once: the ids and
	 * the change log are account-wide */
	if (fresh == 1 && store_sync_all(st, error_r) < 0) {
		store_close(&st);
		return NULL;
	}
	return st;
}

/* wal_hook - after each commit: ask for a checkpoint once the WAL is
 * long (what SQLite's autocheckpoint does inline, with its fsyncs) */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;

	if (pages >= STORE_WAL_PAGES_MAX) {
		/* commits outpace the checkpoints of the other thread (a
		 * burst of CREATEs): those can never catch up with a WAL
		 * that grows meanwhile, so it would grow without bound.
		 * Checkpoint here, between two commits, once in a while;
		 * the next commit then starts the WAL over and
		 * journal_size_limit cuts the file back */
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (pages >= STORE_WAL_PAGES && st->checkpoint_cb != NULL) {
		st->checkpoint_cb(st->checkpoint_ctx);
	}
	return SQLITE_OK;
}

/* store_checkpoint_by - see store.h */
void
store_checkpoint_by(struct store *st, void (*cb)(void *ctx), void *ctx)
{
	st->checkpoint_cb = cb;
	st->checkpoint_ctx = ctx;
	if (cb == NULL) /* SQLite's own again */
		sqlite3_wal_autocheckpoint(st->db, STORE_WAL_PAGES);
	else /* replaces the autocheckpoint, which is a WAL hook too */
		sqlite3_wal_hook(st->db, wal_hook, st);
}

/* store_checkpoint - see store.h */
int
store_checkpoint(struct store *st, const char **error_r)
{
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return index_err(st, error_r, "checkpoint");
	return 0;
}

/* store_close - close a mailbox */
void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	touch_flush(st, false);
	index_stmts_free(st);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st->root);
	free(st);
	*stp = NULL;
}

const char *
store_root(const struct store *st)
{
	return st->root;
}
