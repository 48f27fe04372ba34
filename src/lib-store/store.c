/* store - the per-mailbox index (SQLite) over the Maildir++ folders */
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

#define INDEX_NAME "postern-index.db"
#define STORE_WAL_PAGES 1000   /* SQLite's autocheckpoint default */
#define STORE_WAL_PAGES_MAX 4000 /* checkpointed inline past this */
/* the index schema version (PRAGMA user_version); an index made before
 * versioning reads 0 and is version 1. index_migrate upgrades older ones
 * step by step, each step in one transaction. */
#define INDEX_VERSION 2

struct store {
	char *root;
	sqlite3 *db;
	void (*checkpoint_cb)(void *ctx);
	void *checkpoint_ctx;
};

struct store_folder {
	struct store *st;
	char *name;
	char *dir;
	int64_t id;
	int64_t new_mtime;   /* new/'s mtime when last seen empty, -1 */
};

static const struct {
	const char *name;
	unsigned int su;
} default_folders[] = {
	{ "Sent", STORE_SU_SENT },
	{ "Drafts", STORE_SU_DRAFTS },
	{ "Trash", STORE_SU_TRASH },
	{ "Junk", STORE_SU_JUNK },
	{ "Archive", STORE_SU_ARCHIVE },
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE IF NOT EXISTS folder(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE, uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" special_use INTEGER NOT NULL DEFAULT 0,"
	" cur_mtime INTEGER NOT NULL DEFAULT -1,"
	" recent_uid INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS msg(folder INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, base TEXT NOT NULL, file TEXT NOT NULL,"
	" flags INTEGER NOT NULL, keywords TEXT NOT NULL DEFAULT '',"
	" modseq INTEGER NOT NULL, size INTEGER NOT NULL,"
	" vsize INTEGER NOT NULL, idate INTEGER NOT NULL,"
	" PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX IF NOT EXISTS msg_base ON msg(folder, base);"
	"CREATE INDEX IF NOT EXISTS msg_modseq ON msg(folder, modseq);"
	"CREATE TABLE IF NOT EXISTS expunged(folder INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS subscription(name TEXT PRIMARY KEY);";

/* ------------------------------------------------------------ sqlite glue */

static int
db_err(struct store *st, const char **error_r, const char *what)
{
	store_seterr(error_r, "index %s/%s: %s: %s", st->root, INDEX_NAME,
	    what, sqlite3_errmsg(st->db));
	return -1;
}

static sqlite3_stmt *
db_prep(struct store *st, const char *sql, const char **error_r)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_err(st, error_r, "prepare");
		return NULL;
	}
	return s;
}

static int
db_exec(struct store *st, const char *sql, const char **error_r)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(st, error_r, sql);
	return 0;
}

static int
db_begin(struct store *st, const char **error_r)
{
	return db_exec(st, "BEGIN IMMEDIATE", error_r);
}

static int
db_commit(struct store *st, const char **error_r)
{
	if (db_exec(st, "COMMIT", error_r) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void
db_rollback(struct store *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t
mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -2;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* ------------------------------------------------------------ folder names */

/* store_folder_name_check - a valid IMAP folder name for Maildir++ */
int
store_folder_name_check(const char *name, const char **error_r)
{
	size_t len = strlen(name);

	if (len == 0) {
		*error_r = "folder name is empty";
		return -1;
	}
	if (len > STORE_FOLDER_NAME_MAX) {
		/* the hierarchy is one directory name ("." + the name, as
		 * Maildir++ has it): the file system takes NAME_MAX bytes */
		store_seterr(error_r, "folder name too long: %zu bytes in "
		    "modified UTF-7 with its parents, at most %d", len,
		    STORE_FOLDER_NAME_MAX);
		return -1;
	}
	if (name[0] == '.' || name[len - 1] == '.' || strstr(name, "..")) {
		*error_r = "folder name has an empty level";
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\' ||
		    *p == '*' || *p == '%') {
			*error_r = "folder name has a forbidden character";
			return -1;
		}
	}
	if (str_eq_ci(name, "INBOX") == 0 && strncasecmp(name, "INBOX.", 6) == 0) {
		/* XXX INBOX children are plain folders named INBOX.x */
	}
	return 0;
}

static bool
is_inbox(const char *name)
{
	return str_eq_ci(name, "INBOX");
}

static char *
folder_dir(struct store *st, const char *name)
{
	if (is_inbox(name))
		return xstrdup(st->root);
	return xasprintf("%s/.%s", st->root, name);
}

/* ------------------------------------------------------------ open */

static uint32_t
new_uidvalidity(struct store *st)
{
	sqlite3_stmt *s;
	int64_t last = 0, now = (int64_t)time(NULL);

	s = db_prep(st, "SELECT value FROM meta WHERE key='uidvalidity'", NULL);
	if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (now <= last)
		now = last + 1;
	if (now > 0xffffffffLL)
		now = 1;
	s = db_prep(st, "INSERT OR REPLACE INTO meta VALUES('uidvalidity',?)",
	    NULL);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, now);
		sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return (uint32_t)now;
}

/* folder_row - the folder's row id, created when missing (in a
 * transaction); -1 error */
static int64_t
folder_row(struct store *st, const char *name, const char **error_r)
{
	const char *key = is_inbox(name) ? "INBOX" : name;
	sqlite3_stmt *s;
	int64_t id = -1;
	unsigned int su = 0;

	s = db_prep(st, "SELECT id FROM folder WHERE name=?", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (id >= 0)
		return id;
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(*default_folders); i++)
		if (strcmp(default_folders[i].name, key) == 0)
			su = default_folders[i].su;
	uint32_t uv = new_uidvalidity(st);
	s = db_prep(st, "INSERT INTO folder(name,uidvalidity,uidnext,modseq,"
	    "special_use) VALUES(?,?,1,1,?)", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uv);
	sqlite3_bind_int(s, 3, (int)su);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_err(st, error_r, "insert folder");
	}
	sqlite3_finalize(s);
	return sqlite3_last_insert_rowid(st->db);
}

/* the upgrade steps: migrations[i] takes an index from version i + 1 to
 * version i + 2 */
static const char *const migrations[] = {
	/* 2: \Recent (RFC 3501): UIDs from recent_uid up are recent for
	 * the next session that selects the folder. Existing messages were
	 * seen by earlier sessions: not recent. */
	"ALTER TABLE folder ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;"
	"UPDATE folder SET recent_uid=uidnext;",
};

/* index_version - whether the index is new (no tables) and its version */
static int
index_version(struct store *st, bool *fresh_r, int *version_r,
	      const char **error_r)
{
	sqlite3_stmt *s = db_prep(st, "SELECT (SELECT count(*) FROM "
	    "sqlite_master WHERE type='table' AND name='folder'),"
	    " (SELECT user_version FROM pragma_user_version)", error_r);

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return db_err(st, error_r, "read the index version");
	}
	*fresh_r = sqlite3_column_int(s, 0) == 0;
	*version_r = sqlite3_column_int(s, 1);
	sqlite3_finalize(s);
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
	if (db_begin(st, error_r) < 0)
		return -1;
	if (index_version(st, &fresh, &version, error_r) < 0) {
		db_rollback(st);
		return -1;
	}
	if (version > INDEX_VERSION) {
		db_rollback(st);
		return store_seterr(error_r, "index %s/%s: version %d is newer "
		    "than this program's %d", st->root, INDEX_NAME, version,
		    INDEX_VERSION), -1;
	}
	for (int v = fresh ? INDEX_VERSION : version; v < INDEX_VERSION; v++)
		if (db_exec(st, migrations[v - 1], error_r) < 0) {
			db_rollback(st);
			return -1;
		}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
	    INDEX_VERSION);
	if (db_exec(st, schema_sql, error_r) < 0 ||
	    db_exec(st, pragma, error_r) < 0) {
		db_rollback(st);
		return -1;
	}
	return db_commit(st, error_r);
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
		return db_err(st, error_r, "open");
	/* an idle IMAP session holds its mailbox open: SQLite's default
	 * lookaside (120 KB per connection) would be most of its memory */
	(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 128, 32);
	sqlite3_busy_timeout(st->db, 30000);
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
	if (db_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA cache_size=-256; PRAGMA journal_size_limit=4194304",
	    error_r) < 0)
		return -1;
	if (index_migrate(st, error_r) < 0)
		return -1;
	/* a cheap probe that reads the pages we need */
	if (db_exec(st, "SELECT count(*) FROM folder", error_r) < 0)
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

static int
defaults_create(struct store *st, const char **error_r)
{
	sqlite3_stmt *s;
	bool done = false;

	s = db_prep(st, "SELECT 1 FROM meta WHERE key='defaults'", error_r);
	if (s == NULL)
		return -1;
	done = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (done)
		return 0;
	if (db_begin(st, error_r) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(*default_folders); i++) {
		char *dir = folder_dir(st, default_folders[i].name);
		int r = store_maildir_make(dir);
		free(dir);
		if (r < 0) {
			db_rollback(st);
			return store_seterr(error_r, "create folder %s: %s",
			    default_folders[i].name, strerror(errno)), -1;
		}
		if (folder_row(st, default_folders[i].name, error_r) < 0) {
			db_rollback(st);
			return -1;
		}
	}
	if (db_exec(st, "INSERT OR IGNORE INTO subscription VALUES('INBOX'),"
	    "('Sent'),('Drafts'),('Trash'),('Junk'),('Archive');"
	    "INSERT OR REPLACE INTO meta VALUES('defaults',1)", error_r) < 0) {
		db_rollback(st);
		return -1;
	}
	return db_commit(st, error_r);
}

/* store_library_init - no bulk page cache per connection */
void
store_library_init(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
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
		sqlite3_close(st->db);
		st->db = NULL;
		index_move_aside(st);
		if (index_open(st, error_r) < 0) {
			store_close(&st);
			return NULL;
		}
	}
	if (defaults_create(st, error_r) < 0) {
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
		return db_err(st, error_r, "checkpoint");
	return 0;
}

/* store_close - close a mailbox */
void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
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

/* ------------------------------------------------------------ folders */

static int
cmp_info(const void *a, const void *b)
{
	const struct store_folder_info *x = a, *y = b;

	if (is_inbox(x->name))
		return -1;
	if (is_inbox(y->name))
		return 1;
	return strcmp(x->name, y->name);
}

static bool
subscribed(struct store *st, const char *name)
{
	sqlite3_stmt *s = db_prep(st, "SELECT 1 FROM subscription WHERE name=?",
	    NULL);
	bool r;

	if (s == NULL)
		return false;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return r;
}

static unsigned int
special_use(struct store *st, const char *name)
{
	sqlite3_stmt *s = db_prep(st, "SELECT special_use FROM folder WHERE "
	    "name=?", NULL);
	unsigned int su = 0;

	if (s == NULL)
		return 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		su = (unsigned int)sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return su;
}

/* folder_dirent - whether an entry of the mailbox root is a folder */
static bool
folder_dirent(const char *root, const struct dirent *de)
{
	const char *e;

	if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
	    de->d_name[1] == '.' ||
	    store_folder_name_check(de->d_name + 1, &e) < 0)
		return false;
	if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
		return false;
	if (de->d_type == DT_UNKNOWN) {
		struct stat sb;
		char *p = path_join(root, de->d_name);
		int r = stat(p, &sb);
		free(p);
		if (r < 0 || !S_ISDIR(sb.st_mode))
			return false;
	}
	return true;
}

/* store_folder_list - the folders, INBOX first */
int
store_folder_list(struct store *st, struct store_folder_info **list_r,
		  size_t *n_r, const char **error_r)
{
	struct store_folder_info *v = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(st->root);
	struct dirent *de;

	if (d == NULL)
		return store_seterr(error_r, "open %s: %s", st->root,
		    strerror(errno)), -1;
	v = xreallocarray(NULL, 8, sizeof(*v));
	cap = 8;
	v[n++] = (struct store_folder_info){ .name = xstrdup("INBOX") };
	while ((de = readdir(d)) != NULL) {
		if (!folder_dirent(st->root, de))
			continue;
		if (n == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (struct store_folder_info){
			.name = xstrdup(de->d_name + 1) };
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_info);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i].name);
		v[i].subscribed = subscribed(st, v[i].name);
		v[i].special_use = special_use(st, v[i].name);
		for (size_t j = 0; j < n; j++)
			if (j != i && strncmp(v[j].name, v[i].name, len) == 0 &&
			    v[j].name[len] == '.')
				v[i].has_children = true;
	}
	*list_r = v;
	*n_r = n;
	return 0;
}

void
store_folder_list_free(struct store_folder_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

/* store_folder_count - see store.h */
int
store_folder_count(const char *mailbox_root, size_t *n_r,
		   const char **error_r)
{
	DIR *d = opendir(mailbox_root);
	struct dirent *de;
	size_t n = 1; /* INBOX */

	if (d == NULL) {
		store_seterr(error_r, "opendir %s: %s", mailbox_root,
		    strerror(errno));
		return -1;
	}
	/* as store_folder_list finds them: ".Name" directories */
	while ((de = readdir(d)) != NULL)
		if (folder_dirent(mailbox_root, de))
			n++;
	closedir(d);
	*n_r = n;
	return 0;
}

/* store_folder_exists - whether the folder dir exists */
int
store_folder_exists(struct store *st, const char *name)
{
	const char *e;
	struct stat sb;
	char *dir;
	int r;

	if (is_inbox(name))
		return 1;
	if (store_folder_name_check(name, &e) < 0)
		return 0;
	dir = folder_dir(st, name);
	r = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
	free(dir);
	return r;
}

/* store_folder_create - make a folder */
int
store_folder_create(struct store *st, const char *name, const char **error_r)
{
	char *dir;

	if (store_folder_name_check(name, error_r) < 0)
		return -1;
	if (store_folder_exists(st, name)) {
		*error_r = "folder exists";
		return -1;
	}
	dir = folder_dir(st, name);
	if (mkdir(dir, 0700) < 0 || store_maildir_make(dir) < 0) {
		if (errno == ENAMETOOLONG)
			*error_r = "folder name too long for the file system";
		else
			store_seterr(error_r, "create %s: %s", dir,
			    strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	if (db_begin(st, error_r) < 0)
		return -1;
	/* a folder of that name deleted earlier leaves no row behind */
	if (folder_row(st, name, error_r) < 0) {
		db_rollback(st);
		return -1;
	}
	return db_commit(st, error_r);
}

/* folder_forget - drop the rows of a folder */
static int
folder_forget(struct store *st, const char *name, const char **error_r)
{
	sqlite3_stmt *s;
	static const char *const sqls[] = {
		"DELETE FROM msg WHERE folder=(SELECT id FROM folder WHERE name=?1)",
		"DELETE FROM expunged WHERE folder=(SELECT id FROM folder WHERE name=?1)",
		"DELETE FROM folder WHERE name=?1",
	};

	for (size_t i = 0; i < 3; i++) {
		s = db_prep(st, sqls[i], error_r);
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sqlite3_finalize(s);
			return db_err(st, error_r, "delete folder");
		}
		sqlite3_finalize(s);
	}
	return 0;
}

/* store_folder_delete - remove a folder and its messages */
int
store_folder_delete(struct store *st, const char *name, const char **error_r)
{
	int64_t bytes = 0, count = 0;
	char *dir;

	if (is_inbox(name)) {
		*error_r = "cannot delete INBOX";
		return -1;
	}
	if (!store_folder_exists(st, name)) {
		*error_r = "no such folder";
		return -1;
	}
	dir = folder_dir(st, name);
	if (db_begin(st, error_r) < 0) {
		free(dir);
		return -1;
	}
	if (folder_forget(st, name, error_r) < 0) {
		db_rollback(st);
		free(dir);
		return -1;
	}
	/* count what goes, for the quota */
	{
		char *cur = path_join(dir, "cur"), *nw = path_join(dir, "new");
		const char *subs[2] = { cur, nw };
		for (int i = 0; i < 2; i++) {
			DIR *d = opendir(subs[i]);
			struct dirent *de;
			if (d == NULL)
				continue;
			while ((de = readdir(d)) != NULL) {
				int64_t sz, w;
				unsigned int fl;
				if (de->d_name[0] == '.')
					continue;
				store_name_parse(de->d_name, &sz, &w, &fl);
				if (sz < 0) {
					struct stat sb;
					char *p = path_join(subs[i], de->d_name);
					sz = stat(p, &sb) == 0 ? sb.st_size : 0;
					free(p);
				}
				bytes += sz;
				count++;
			}
			closedir(d);
		}
		free(cur);
		free(nw);
	}
	/* rename out of sight first, so a crash leaves no half folder */
	char *uniq = store_unique_name();
	char *gone = xasprintf("%s/tmp/deleted.%s", st->root, uniq);
	free(uniq);
	if (rename(dir, gone) < 0) {
		store_seterr(error_r, "delete %s: %s", dir, strerror(errno));
		db_rollback(st);
		free(gone);
		free(dir);
		return -1;
	}
	if (db_commit(st, error_r) < 0) {
		(void)rename(gone, dir);
		free(gone);
		free(dir);
		return -1;
	}
	(void)rm_rf(gone);
	(void)store_quota_add(st->root, -bytes, -count, NULL);
	free(gone);
	free(dir);
	return 0;
}

/* inbox_rename - RFC 3501 6.3.5: renaming INBOX makes the new folder
 * and moves every message of INBOX into it (one transaction, flags,
 * keywords and dates kept); INBOX stays, empty, and its children (INBOX.x)
 * are not touched. A message delivered meanwhile stays in INBOX. */
static int
inbox_rename(struct store *st, const char *to, const char **error_r)
{
	struct store_folder *in;
	struct store_msg *m = NULL;
	size_t n = 0;
	uint32_t *uids;
	int r = 0;

	if (store_folder_create(st, to, error_r) < 0)
		return -1;
	in = store_folder_open(st, "INBOX", error_r);
	if (in == NULL || store_msgs_load(in, &m, &n, error_r) < 0) {
		const char *e;
		store_folder_close(&in);
		(void)store_folder_delete(st, to, &e);
		return -1;
	}
	uids = xcalloc(n + 1, sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		uids[i] = m[i].uid;
	store_msgs_free(m, n);
	if (n > 0)
		r = store_copy(in, uids, n, to, true, 0, NULL, NULL, NULL, NULL,
		    error_r);
	free(uids);
	store_folder_close(&in);
	if (r != 0) {
		const char *e;
		(void)store_folder_delete(st, to, &e);
		return -1;
	}
	return 0;
}

/* store_folder_rename - rename a folder and its children */
int
store_folder_rename(struct store *st, const char *from, const char *to,
		    const char **error_r)
{
	struct store_folder_info *list;
	size_t n, flen = strlen(from);
	int ret = 0;

	if (is_inbox(from)) {
		if (is_inbox(to)) {
			*error_r = "folder exists";
			return -1;
		}
		return inbox_rename(st, to, error_r);
	}
	if (is_inbox(to) || store_folder_name_check(to, error_r) < 0) {
		if (is_inbox(to))
			*error_r = "folder exists";
		return -1;
	}
	if (!store_folder_exists(st, from)) {
		*error_r = "no such folder";
		return -1;
	}
	if (store_folder_exists(st, to)) {
		*error_r = "folder exists";
		return -1;
	}
	if (strncmp(to, from, flen) == 0 && to[flen] == '.') {
		*error_r = "cannot move a folder into itself";
		return -1;
	}
	if (store_folder_list(st, &list, &n, error_r) < 0)
		return -1;
	/* every child's new name must fit too, before anything moves */
	for (size_t i = 0; i < n; i++) {
		const char *nm = list[i].name;
		if (strncmp(nm, from, flen) == 0 && nm[flen] == '.' &&
		    strlen(to) + strlen(nm + flen) > STORE_FOLDER_NAME_MAX) {
			store_seterr(error_r, "folder name too long: a child "
			    "would have %zu bytes in modified UTF-7 with its "
			    "parents, at most %d", strlen(to) +
			    strlen(nm + flen), STORE_FOLDER_NAME_MAX);
			store_folder_list_free(list, n);
			return -1;
		}
	}
	if (db_begin(st, error_r) < 0) {
		store_folder_list_free(list, n);
		return -1;
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *nm = list[i].name;
		if (strcmp(nm, from) != 0 &&
		    !(strncmp(nm, from, flen) == 0 && nm[flen] == '.'))
			continue;
		char *newname = xasprintf("%s%s", to, nm + flen);
		char *a = folder_dir(st, nm), *b = folder_dir(st, newname);
		sqlite3_stmt *s = db_prep(st, "UPDATE folder SET name=?2 WHERE "
		    "name=?1", error_r);
		if (s == NULL)
			ret = -1;
		else {
			sqlite3_bind_text(s, 1, nm, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, newname, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE)
				ret = db_err(st, error_r, "rename folder");
			sqlite3_finalize(s);
		}
		if (ret == 0 && rename(a, b) < 0) {
			store_seterr(error_r, "rename %s: %s", a,
			    strerror(errno));
			ret = -1;
		}
		free(a);
		free(b);
		free(newname);
	}
	store_folder_list_free(list, n);
	if (ret < 0) {
		db_rollback(st);
		/* XXX children renamed before a failure stay renamed */
		return -1;
	}
	return db_commit(st, error_r);
}

/* store_folder_subscribe - add or remove a subscription */
int
store_folder_subscribe(struct store *st, const char *name, bool on,
		       const char **error_r)
{
	sqlite3_stmt *s = db_prep(st, on ?
	    "INSERT OR IGNORE INTO subscription VALUES(?)" :
	    "DELETE FROM subscription WHERE name=?", error_r);

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, is_inbox(name) ? "INBOX" : name, -1,
	    SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_err(st, error_r, "subscribe");
	}
	sqlite3_finalize(s);
	return 0;
}

/* store_subscriptions - the subscription list */
int
store_subscriptions(struct store *st, char ***names_r, size_t *n_r,
		    const char **error_r)
{
	sqlite3_stmt *s = db_prep(st, "SELECT name FROM subscription ORDER BY "
	    "name='INBOX' DESC, name", error_r);
	char **v = NULL;
	size_t n = 0;

	if (s == NULL)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	*names_r = v;
	*n_r = n;
	return 0;
}

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

static char *
base_of(const char *name)
{
	const char *c = strchr(name, ':');

	return c ? xstrndup(name, (size_t)(c - name)) : xstrdup(name);
}

/* vsize_of - the CRLF size of a file (reads it) */
static int64_t
vsize_of(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char b[65536], last = '\0';
	int64_t v = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == '\n' && (i > 0 ? b[i - 1] : last) != '\r')
				v++;
		}
		last = b[n - 1];
		v += n;
	}
	close(fd);
	return v;
}

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

static int
state_load(struct store_folder *f, struct folder_state *fs,
	   const char **error_r)
{
	sqlite3_stmt *s = db_prep(f->st, "SELECT uidvalidity, uidnext, modseq,"
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
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW) {
		store_seterr(error_r, "folder %s vanished from the index",
		    f->name);
		return -1;
	}
	return 0;
}

static int
state_save(struct store_folder *f, const struct folder_state *fs,
	   const char **error_r)
{
	sqlite3_stmt *s = db_prep(f->st, "UPDATE folder SET uidnext=?,"
	    " modseq=?, cur_mtime=? WHERE id=?", error_r);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, fs->uidnext);
	sqlite3_bind_int64(s, 2, fs->modseq);
	sqlite3_bind_int64(s, 3, fs->cur_mtime);
	sqlite3_bind_int64(s, 4, f->id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_err(f->st, error_r, "update folder");
	return 0;
}

/* msg_insert - a row for a file now in cur/ */
static int
msg_insert(struct store_folder *f, struct folder_state *fs, const char *file,
	   unsigned int flags, const char *keywords, time_t idate,
	   uint32_t *uid_r, const char **error_r)
{
	char *path = xasprintf("%s/cur/%s", f->dir, file);
	char *base = base_of(file);
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
		vsize = vsize_of(path);
	free(path);
	if (vsize < 0)
		vsize = size;
	s = db_prep(f->st, "INSERT OR IGNORE INTO msg(folder,uid,base,file,"
	    "flags,keywords,modseq,size,vsize,idate) VALUES(?,?,?,?,?,?,?,?,?,?)",
	    error_r);
	if (s == NULL) {
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
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	free(base);
	if (rc != SQLITE_DONE)
		return db_err(f->st, error_r, "insert message");
	if (sqlite3_changes(f->st->db) == 0)
		return 0; /* same base twice: keep the first */
	if (uid_r != NULL)
		*uid_r = (uint32_t)fs->uidnext;
	fs->uidnext++;
	return 0;
}

static int
expunge_row(struct store_folder *f, struct folder_state *fs, int64_t uid,
	    const char **error_r)
{
	sqlite3_stmt *s;
	int rc;

	s = db_prep(f->st, "DELETE FROM msg WHERE folder=? AND uid=?", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_err(f->st, error_r, "expunge");
	fs->modseq++;
	s = db_prep(f->st, "INSERT OR REPLACE INTO expunged VALUES(?,?,?)",
	    error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, fs->modseq);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_err(f->st, error_r, "expunge");
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

	s = db_prep(f->st, "SELECT base, file, uid, flags, size FROM msg WHERE "
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
	sqlite3_finalize(s);
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
		char *base = base_of(files[i]);
		struct scan_ent key = { .base = base }, *e;
		e = nidx == 0 ? NULL :
		    bsearch(&key, idx, nidx, sizeof(*idx), cmp_ent);
		if (e == NULL) {
			/* added behind our back */
			int64_t sz, w;
			unsigned int fl;
			store_name_parse(files[i], &sz, &w, &fl);
			int r = msg_insert(f, fs, files[i], fl, NULL, 0, NULL,
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
			s = db_prep(f->st, "UPDATE msg SET file=?, flags=?,"
			    " modseq=? WHERE folder=? AND uid=?", error_r);
			if (s == NULL)
				goto out;
			sqlite3_bind_text(s, 1, files[i], -1, SQLITE_STATIC);
			sqlite3_bind_int(s, 2, (int)fl);
			sqlite3_bind_int64(s, 3, fs->modseq);
			sqlite3_bind_int64(s, 4, f->id);
			sqlite3_bind_int64(s, 5, e->uid);
			int rc = sqlite3_step(s);
			sqlite3_finalize(s);
			if (rc != SQLITE_DONE) {
				db_err(f->st, error_r, "update message");
				goto out;
			}
		}
	}
	for (size_t i = 0; i < nidx; i++) {
		if (idx[i].seen)
			continue;
		/* removed behind our back */
		if (expunge_row(f, fs, idx[i].uid, error_r) < 0)
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
	int64_t m = mtime_ns(nw);
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
			int64_t v = vsize_of(a);
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
			ret = msg_insert(f, fs, to, fl, NULL, 0, NULL, error_r);
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
static int
sync_locked(struct store_folder *f, struct folder_state *fs,
	    const char **error_r)
{
	char *cur = path_join(f->dir, "cur");
	int64_t m;

	if (state_load(f, fs, error_r) < 0) {
		free(cur);
		return -1;
	}
	m = mtime_ns(cur);
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
static int
finish(struct store_folder *f, struct folder_state *fs, const char **error_r)
{
	char *cur = path_join(f->dir, "cur");

	fs->cur_mtime = mtime_ns(cur);
	free(cur);
	if (state_save(f, fs, error_r) < 0) {
		db_rollback(f->st);
		return -1;
	}
	if (db_commit(f->st, error_r) < 0)
		return -1;
	if (fs->quota_bytes != 0 || fs->quota_count != 0)
		(void)store_quota_add(f->st->root, fs->quota_bytes,
		    fs->quota_count, NULL);
	store_touch_notify(f->dir);
	return 0;
}

/* store_sync - pick up changes made behind the index's back */
int
store_sync(struct store_folder *f, const char **error_r)
{
	struct folder_state fs;
	char *cur = path_join(f->dir, "cur");
	int64_t m = mtime_ns(cur);
	bool quick = false;

	/* the common case, without taking the write lock: cur/ as recorded
	 * and new/ empty (two stats, no readdir) */
	if (state_load(f, &fs, NULL) == 0 && m == fs.cur_mtime)
		quick = new_empty(f);
	free(cur);
	if (quick)
		return 0;
	if (db_begin(f->st, error_r) < 0)
		return -1;
	if (sync_locked(f, &fs, error_r) < 0) {
		db_rollback(f->st);
		return -1;
	}
	return finish(f, &fs, error_r);
}

/* ------------------------------------------------------------ folders open */

/* folder_find - the row id of a folder, -1 if it has none (or error) */
static int64_t
folder_find(struct store *st, const char *name)
{
	sqlite3_stmt *s = db_prep(st, "SELECT id FROM folder WHERE name=?",
	    NULL);
	int64_t id = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

/* store_folder_open - open a folder for reading and changes */
struct store_folder *
store_folder_open(struct store *st, const char *name, const char **error_r)
{
	struct store_folder *f;

	if (!store_folder_exists(st, name)) {
		*error_r = "no such folder";
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->name = xstrdup(is_inbox(name) ? "INBOX" : name);
	f->dir = folder_dir(st, name);
	f->new_mtime = -1;
	/* the row is there but for a folder made by another tool: no write
	 * lock for the lookup */
	f->id = folder_find(st, f->name);
	if (f->id >= 0) {
		/* found */
	} else if (db_begin(st, error_r) < 0) {
		store_folder_close(&f);
		return NULL;
	} else if ((f->id = folder_row(st, f->name, error_r)) < 0 ||
	    db_commit(st, error_r) < 0) {
		if (f->id < 0)
			db_rollback(st);
		store_folder_close(&f);
		return NULL;
	}
	if (store_sync(f, error_r) < 0) {
		store_folder_close(&f);
		return NULL;
	}
	return f;
}

void
store_folder_close(struct store_folder **fp)
{
	struct store_folder *f = *fp;

	if (f == NULL)
		return;
	free(f->name);
	free(f->dir);
	free(f);
	*fp = NULL;
}

const char *
store_folder_name(const struct store_folder *f)
{
	return f->name;
}

const char *
store_folder_dir(const struct store_folder *f)
{
	return f->dir;
}

/* store_folder_status - counters from the index */
int
store_folder_status(struct store_folder *f, struct store_folder_status *r,
		    const char **error_r)
{
	struct folder_state fs;
	sqlite3_stmt *s;

	memset(r, 0, sizeof(*r));
	if (state_load(f, &fs, error_r) < 0)
		return -1;
	r->uidvalidity = fs.uidvalidity;
	r->uidnext = (uint32_t)fs.uidnext;
	r->highestmodseq = (uint64_t)fs.modseq;
	s = db_prep(f->st, "SELECT count(*), total(vsize),"
	    " total((flags & 1) = 0), total((flags & 8) != 0),"
	    " total(uid >= (SELECT recent_uid FROM folder WHERE id=?1))"
	    " FROM msg WHERE folder=?1", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		r->messages = (uint32_t)sqlite3_column_int64(s, 0);
		r->size = (uint64_t)sqlite3_column_double(s, 1);
		r->unseen = (uint32_t)sqlite3_column_double(s, 2);
		r->deleted = (uint32_t)sqlite3_column_double(s, 3);
		r->recent = (uint32_t)sqlite3_column_double(s, 4);
	}
	sqlite3_finalize(s);
	return 0;
}

/* store_recent_claim - see store.h */
int
store_recent_claim(struct store_folder *f, bool peek, uint32_t *lo_r,
		   uint32_t *hi_r, const char **error_r)
{
	sqlite3_stmt *s;
	int64_t lo = 0, hi = 0;
	int rc;

	*lo_r = *hi_r = 0;
	for (int locked = 0; locked < 2; locked++) {
		s = db_prep(f->st, "SELECT recent_uid, uidnext FROM folder "
		    "WHERE id=?", error_r);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, f->id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			lo = sqlite3_column_int64(s, 0);
			hi = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_ROW) {
			store_seterr(error_r, "folder %s vanished from the index",
			    f->name);
			goto fail;
		}
		if (lo >= hi) {
			/* nothing new: no write lock taken */
			if (locked)
				db_rollback(f->st);
			return 0;
		}
		if (peek)
			break;
		if (!locked && db_begin(f->st, error_r) < 0)
			return -1;
	}
	if (!peek) {
		s = db_prep(f->st, "UPDATE folder SET recent_uid=? WHERE id=?",
		    error_r);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, hi);
		sqlite3_bind_int64(s, 2, f->id);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			db_err(f->st, error_r, "claim recent");
			goto fail;
		}
		if (db_commit(f->st, error_r) < 0)
			return -1;
	}
	*lo_r = (uint32_t)lo;
	*hi_r = (uint32_t)(hi - 1);
	return 1;
fail:
	if (sqlite3_get_autocommit(f->st->db) == 0)
		db_rollback(f->st);
	return -1;
}

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

static int
msgs_query(struct store_folder *f, const char *sql, int64_t arg,
	   struct store_msg **msgs_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = db_prep(f->st, sql, error_r);
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
		msg_from_row(s, &v[n++]);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_msgs_free(v, n);
		return db_err(f->st, error_r, "load messages");
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
	    "AND ?2=0 ORDER BY uid", 0, msgs_r, n_r, error_r);
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
	    msgs_r, n_r, error_r);
}

int
store_expunged_since(struct store_folder *f, uint64_t since, uint32_t **uids_r,
		     size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = db_prep(f->st, "SELECT uid FROM expunged WHERE "
	    "folder=? AND modseq>? ORDER BY uid", error_r);
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
	sqlite3_finalize(s);
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
	sqlite3_stmt *s = db_prep(f->st, "SELECT " MSG_COLS " FROM msg WHERE "
	    "folder=? AND uid=?", error_r);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		msg_from_row(s, m);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_err(f->st, error_r, "get message");
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
			char *base = base_of(m->file), letters[8];
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
	if (db_begin(f->st, error_r) < 0)
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
			char *base = base_of(m.file);
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
		sqlite3_stmt *s = db_prep(f->st, "UPDATE msg SET flags=?,"
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
		sqlite3_finalize(s);
		free(newfile);
		free(nk);
		store_msg_clear(&m);
		if (rc != SQLITE_DONE) {
			db_err(f->st, error_r, "store flags");
			goto fail;
		}
	}
	if (finish(f, &fs, error_r) < 0) {
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
	db_rollback(f->st);
	free(failed);
	return -1;
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

	if (db_begin(f->st, error_r) < 0)
		return -1;
	if (sync_locked(f, &fs, error_r) < 0)
		goto fail;
	if (uids == NULL) {
		if (msgs_query(f, "SELECT " MSG_COLS " FROM msg WHERE folder=?1"
		    " AND (flags & ?2) != 0 ORDER BY uid", STORE_DELETED, &v,
		    &nv, error_r) < 0)
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
		if (unlink(p) < 0 && errno != ENOENT) {
			store_seterr(error_r, "unlink %s: %s", p,
			    strerror(errno));
			free(p);
			goto fail;
		}
		free(p);
		if (expunge_row(f, &fs, v[i].uid, error_r) < 0)
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
	if (finish(f, &fs, error_r) < 0) {
		free(out);
		return -1;
	}
	if (nout > 0)
		(void)store_quota_add(f->st->root, -bytes, -(int64_t)nout, NULL);
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
	db_rollback(f->st);
	store_msgs_free(v, nv);
	free(out);
	return -1;
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

/* store_append_one - add a message with flags and internal date */
int
store_append_one(struct store *st, const char *folder,
		 const struct store_append_msg *m, int64_t quota_kb,
		 uint32_t *uid_r, uint32_t *uidvalidity_r, const char **error_r)
{
	size_t len = m->len;
	unsigned int flags = m->flags;
	const char *keywords = m->keywords;
	time_t internal_date = m->internal_date;
	struct store_folder *f;
	struct folder_state fs;
	char info[16], letters[8], *name = NULL, *tmp = NULL, *final = NULL;
	uint32_t uid = 0;
	int r;

	if (quota_kb > 0) {
		r = store_quota_check(st->root, quota_kb, (int64_t)len, error_r);
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
	store_flags_letters(flags & STORE_FLAGS_ALL, letters);
	snprintf(info, sizeof(info), ":2,%s", letters);
	/* the file is written and fsynced before the index is locked: other
	 * writers of the mailbox (and readers waiting on a session's
	 * change) never wait for this disk flush */
	if (msg_stage(f->dir, m, info, &tmp, &name, error_r) < 0)
		goto fail0;
	if (internal_date > 0) {
		struct timespec ts[2] = { { internal_date, 0 },
		    { internal_date, 0 } };
		(void)utimensat(AT_FDCWD, tmp, ts, 0);
	}
	final = xasprintf("%s/cur/%s", f->dir, name);
	if (db_begin(st, error_r) < 0)
		goto fail2;
	if (sync_locked(f, &fs, error_r) < 0)
		goto fail;
	/* into cur/ under the lock, so that no sync indexes it first */
	if (rename(tmp, final) < 0) {
		store_seterr(error_r, "rename into %s/cur: %s", f->dir,
		    strerror(errno));
		goto fail;
	}
	if (msg_insert(f, &fs, name, flags & STORE_FLAGS_ALL,
	    keywords, internal_date, &uid, error_r) < 0)
		goto fail1;
	if (finish(f, &fs, error_r) < 0)
		goto fail2;
	/* the directory entry on disk before the caller says OK; the lock
	 * is free meanwhile */
	char *cur = path_join(f->dir, "cur");
	r = fsync_dir(cur);
	free(cur);
	if (r < 0) {
		store_seterr(error_r, "fsync %s/cur: %s", f->dir,
		    strerror(errno));
		goto fail3;
	}
	(void)store_quota_add(st->root, (int64_t)len, 1, NULL);
	if (uid_r != NULL)
		*uid_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = fs.uidvalidity;
	free(tmp);
	free(final);
	free(name);
	store_folder_close(&f);
	return 0;
fail1:
	(void)rename(final, tmp);
fail:
	db_rollback(st);
fail2:
	(void)unlink(tmp);
	if (final != NULL)
		(void)unlink(final);
fail3:
fail0:
	free(tmp);
	free(final);
	free(name);
	store_folder_close(&f);
	return -1;
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
	if (db_begin(st, error_r) < 0)
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
		if (msg_insert(f, &fs, names[moved], msgs[moved].flags &
		    STORE_FLAGS_ALL, msgs[moved].keywords,
		    msgs[moved].internal_date, &uids[moved], error_r) < 0) {
			moved++;
			goto rollback;
		}
	}
	if (finish(f, &fs, error_r) < 0)
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
	db_rollback(st);
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
	if (dst->id == f->id && move) {
		store_folder_close(&dst);
		*error_r = "cannot move into the same folder";
		return -1;
	}
	v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
	src_uids = xreallocarray(NULL, n ? n : 1, sizeof(uint32_t));
	new_uids = xreallocarray(NULL, n ? n : 1, sizeof(uint32_t));
	if (db_begin(f->st, error_r) < 0)
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
			db_rollback(f->st);
			store_msgs_free(v, nv);
			free(src_uids);
			free(new_uids);
			store_folder_close(&dst);
			if (r == 0)
				*error_r = "mailbox over quota";
			return r == 0 ? 1 : -1;
		}
	}
	if (dst->id != f->id) {
		if (sync_locked(dst, &ds, error_r) < 0)
			goto fail;
	}
	struct folder_state *dsp = dst->id == f->id ? &fs : &ds;
	size_t ncopied = 0;
	for (size_t i = 0; i < nv; i++) {
		char *src = store_msg_path(f, &v[i]);
		char *base = store_unique_name(), letters[8];
		store_flags_letters(v[i].flags, letters);
		char *name = xasprintf("%s,S=%" PRIu64 ",W=%" PRIu64 ":2,%s",
		    base, v[i].file_size, v[i].size, letters);
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
		r = msg_insert(dst, dsp, name, v[i].flags, v[i].keywords,
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
	if (dst->id != f->id) {
		dst->st = f->st;
		char *c2 = path_join(dst->dir, "cur");
		ds.cur_mtime = mtime_ns(c2);
		free(c2);
		if (state_save(dst, &ds, error_r) < 0)
			goto fail;
	}
	if (move) {
		for (size_t i = 0; i < ncopied; i++) {
			struct store_msg m = { 0 };
			if (store_msg_get(f, src_uids[i], &m, error_r) != 1)
				continue;
			char *p = store_msg_path(f, &m);
			(void)unlink(p);
			free(p);
			store_msg_clear(&m);
			if (expunge_row(f, &fs, src_uids[i], error_r) < 0)
				goto fail;
		}
	}
	if (finish(f, &fs, error_r) < 0)
		goto fail0;
	if (dst->id != f->id) {
		if (ds.quota_bytes != 0 || ds.quota_count != 0)
			(void)store_quota_add(f->st->root, ds.quota_bytes,
			    ds.quota_count, NULL);
		store_touch_notify(dst->dir);
	}
	if (!move && ncopied > 0)
		(void)store_quota_add(f->st->root, bytes, (int64_t)ncopied, NULL);
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
	db_rollback(f->st);
fail0:
	store_msgs_free(v, nv);
	free(src_uids);
	free(new_uids);
	store_folder_close(&dst);
	return -1;
}
