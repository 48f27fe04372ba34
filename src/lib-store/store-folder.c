/* store-folder - folders: names, list, create/delete/rename, subscriptions,
 * open, status, \Recent */
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

bool
folder_is_inbox(const char *name)
{
	return str_eq_ci(name, "INBOX");
}

char *
folder_dir(struct store *st, const char *name)
{
	if (folder_is_inbox(name))
		return xstrdup(st->root);
	return xasprintf("%s/.%s", st->root, name);
}

/* ------------------------------------------------------------ folder rows */

static uint32_t
new_uidvalidity(struct store *st)
{
	sqlite3_stmt *s;
	int64_t last = 0, now = (int64_t)time(NULL);

	s = index_prep(st, "SELECT value FROM meta WHERE key='uidvalidity'", NULL);
	if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	index_done(st, s);
	if (now <= last)
		now = last + 1;
	if (now > 0xffffffffLL)
		now = 1;
	s = index_prep(st, "INSERT OR REPLACE INTO meta VALUES('uidvalidity',?)",
	    NULL);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, now);
		sqlite3_step(s);
	}
	index_done(st, s);
	return (uint32_t)now;
}

/* folder_mailboxid - the mailbox id for a new row of folder name: its
 * postern-mailboxid file (made when missing), or a new one when another
 * row has that id already (a folder directory copied by another tool) */
static int
folder_mailboxid(struct store *st, const char *name, char out[STORE_ID_MAX],
		 const char **error_r)
{
	char *dir = folder_dir(st, name), *path;
	int r = -1;

	for (int tries = 0; tries < 2; tries++) {
		sqlite3_stmt *s;
		bool taken;
		if (email_mailboxid(dir, out, error_r) < 0)
			break;
		s = index_prep(st, "SELECT 1 FROM folder WHERE mailboxid=?",
		    error_r);
		if (s == NULL)
			break;
		sqlite3_bind_text(s, 1, out, -1, SQLITE_STATIC);
		taken = sqlite3_step(s) == SQLITE_ROW;
		index_done(st, s);
		if (!taken) {
			r = 0;
			break;
		}
		path = xasprintf("%s/postern-mailboxid", dir);
		(void)unlink(path);
		free(path);
	}
	free(dir);
	return r;
}

/* folder_row - the folder's row id, created when missing (in a
 * transaction); -1 error */
int64_t
folder_row(struct store *st, const char *name, const char **error_r)
{
	const char *key = folder_is_inbox(name) ? "INBOX" : name;
	sqlite3_stmt *s;
	int64_t id = -1;
	unsigned int su = 0;

	s = index_prep(st, "SELECT id FROM folder WHERE name=?", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	index_done(st, s);
	if (id >= 0)
		return id;
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(*default_folders); i++)
		if (strcmp(default_folders[i].name, key) == 0)
			su = default_folders[i].su;
	uint32_t uv = new_uidvalidity(st);
	char mbid[STORE_ID_MAX];
	if (folder_mailboxid(st, key, mbid, error_r) < 0)
		return -1;
	s = index_prep(st, "INSERT INTO folder(name,uidvalidity,uidnext,modseq,"
	    "special_use,mailboxid) VALUES(?,?,1,1,?,?)", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uv);
	sqlite3_bind_int(s, 3, (int)su);
	sqlite3_bind_text(s, 4, mbid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		index_done(st, s);
		return index_err(st, error_r, "insert folder");
	}
	index_done(st, s);
	return sqlite3_last_insert_rowid(st->db);
}

/* folder_defaults_create - the default folders of a new mailbox, once */
int
folder_defaults_create(struct store *st, const char **error_r)
{
	sqlite3_stmt *s;
	bool done = false;

	s = index_prep(st, "SELECT 1 FROM meta WHERE key='defaults'", error_r);
	if (s == NULL)
		return -1;
	done = sqlite3_step(s) == SQLITE_ROW;
	index_done(st, s);
	if (done)
		return 0;
	if (index_begin(st, error_r) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(default_folders) / sizeof(*default_folders); i++) {
		char *dir = folder_dir(st, default_folders[i].name);
		int r = store_maildir_make(dir);
		free(dir);
		if (r < 0) {
			index_rollback(st);
			return store_seterr(error_r, "create folder %s: %s",
			    default_folders[i].name, strerror(errno)), -1;
		}
		if (folder_row(st, default_folders[i].name, error_r) < 0) {
			index_rollback(st);
			return -1;
		}
	}
	if (index_exec(st, "INSERT OR IGNORE INTO subscription VALUES('INBOX'),"
	    "('Sent'),('Drafts'),('Trash'),('Junk'),('Archive');"
	    "INSERT OR REPLACE INTO meta VALUES('defaults',1)", error_r) < 0) {
		index_rollback(st);
		return -1;
	}
	return index_commit(st, error_r);
}

/* ------------------------------------------------------------ folders */

static int
cmp_info(const void *a, const void *b)
{
	const struct store_folder_info *x = a, *y = b;

	if (folder_is_inbox(x->name))
		return -1;
	if (folder_is_inbox(y->name))
		return 1;
	return strcmp(x->name, y->name);
}

static bool
subscribed(struct store *st, const char *name)
{
	sqlite3_stmt *s = index_prep(st, "SELECT 1 FROM subscription WHERE name=?",
	    NULL);
	bool r;

	if (s == NULL)
		return false;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_ROW;
	index_done(st, s);
	return r;
}

static unsigned int
special_use(struct store *st, const char *name)
{
	sqlite3_stmt *s = index_prep(st, "SELECT special_use FROM folder WHERE "
	    "name=?", NULL);
	unsigned int su = 0;

	if (s == NULL)
		return 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		su = (unsigned int)sqlite3_column_int(s, 0);
	index_done(st, s);
	return su;
}

/* folder_dirent - whether an entry of the mailbox root is a folder */
/* folder_mailboxid_of - the mailbox id of a folder's row, "" without */
static void
folder_mailboxid_of(struct store *st, const char *name,
		    char out[STORE_ID_MAX])
{
	sqlite3_stmt *s = index_prep(st, "SELECT mailboxid FROM folder WHERE "
	    "name=?", NULL);

	out[0] = '\0';
	if (s == NULL)
		return;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(out, STORE_ID_MAX, "%s",
		    (const char *)sqlite3_column_text(s, 0));
	index_done(st, s);
}

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
		folder_mailboxid_of(st, v[i].name, v[i].mailboxid);
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

/* store_sync_all - see store.h */
int
store_sync_all(struct store *st, const char **error_r)
{
	struct store_folder_info *v;
	size_t n;
	int ret = 0;

	if (store_folder_list(st, &v, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct store_folder *f = store_folder_open(st, v[i].name,
		    error_r);
		if (f == NULL)
			ret = -1;
		store_folder_close(&f);
	}
	store_folder_list_free(v, n);
	return ret;
}

/* store_folder_exists - whether the folder dir exists */
int
store_folder_exists(struct store *st, const char *name)
{
	const char *e;
	struct stat sb;
	char *dir;
	int r;

	if (folder_is_inbox(name))
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
	if (index_begin(st, error_r) < 0)
		return -1;
	/* a folder of that name deleted earlier leaves no row behind */
	if (folder_row(st, name, error_r) < 0) {
		index_rollback(st);
		return -1;
	}
	return index_commit(st, error_r);
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
		s = index_prep(st, sqls[i], error_r);
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE) {
			index_done(st, s);
			return index_err(st, error_r, "delete folder");
		}
		index_done(st, s);
	}
	return 0;
}

/* store_folder_delete - remove a folder and its messages */
int
store_folder_delete(struct store *st, const char *name, const char **error_r)
{
	int64_t bytes = 0, count = 0;
	char *dir;

	if (folder_is_inbox(name)) {
		*error_r = "cannot delete INBOX";
		return -1;
	}
	if (!store_folder_exists(st, name)) {
		*error_r = "no such folder";
		return -1;
	}
	dir = folder_dir(st, name);
	if (index_begin(st, error_r) < 0) {
		free(dir);
		return -1;
	}
	if (folder_forget(st, name, error_r) < 0) {
		index_rollback(st);
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
		index_rollback(st);
		free(gone);
		free(dir);
		return -1;
	}
	if (index_commit(st, error_r) < 0) {
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

	if (folder_is_inbox(from)) {
		if (folder_is_inbox(to)) {
			*error_r = "folder exists";
			return -1;
		}
		return inbox_rename(st, to, error_r);
	}
	if (folder_is_inbox(to) || store_folder_name_check(to, error_r) < 0) {
		if (folder_is_inbox(to))
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
	if (index_begin(st, error_r) < 0) {
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
		sqlite3_stmt *s = index_prep(st, "UPDATE folder SET name=?2 WHERE "
		    "name=?1", error_r);
		if (s == NULL)
			ret = -1;
		else {
			sqlite3_bind_text(s, 1, nm, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, newname, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE)
				ret = index_err(st, error_r, "rename folder");
			index_done(st, s);
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
		index_rollback(st);
		/* XXX children renamed before a failure stay renamed */
		return -1;
	}
	return index_commit(st, error_r);
}

/* store_folder_subscribe - add or remove a subscription */
int
store_folder_subscribe(struct store *st, const char *name, bool on,
		       const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, on ?
	    "INSERT OR IGNORE INTO subscription VALUES(?)" :
	    "DELETE FROM subscription WHERE name=?", error_r);

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, folder_is_inbox(name) ? "INBOX" : name, -1,
	    SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		index_done(st, s);
		return index_err(st, error_r, "subscribe");
	}
	index_done(st, s);
	return 0;
}

/* store_subscriptions - the subscription list */
int
store_subscriptions(struct store *st, char ***names_r, size_t *n_r,
		    const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, "SELECT name FROM subscription ORDER BY "
	    "name='INBOX' DESC, name", error_r);
	char **v = NULL;
	size_t n = 0;

	if (s == NULL)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	index_done(st, s);
	*names_r = v;
	*n_r = n;
	return 0;
}

/* ------------------------------------------------------------ folders open */

/* folder_find - the row id of a folder, -1 if it has none (or error) */
static int64_t
folder_find(struct store *st, const char *name)
{
	sqlite3_stmt *s = index_prep(st, "SELECT id FROM folder WHERE name=?",
	    NULL);
	int64_t id = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	index_done(st, s);
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
	f->name = xstrdup(folder_is_inbox(name) ? "INBOX" : name);
	f->dir = folder_dir(st, name);
	f->new_mtime = -1;
	/* the row is there but for a folder made by another tool: no write
	 * lock for the lookup */
	f->id = folder_find(st, f->name);
	if (f->id >= 0) {
		/* found */
	} else if (index_begin(st, error_r) < 0) {
		store_folder_close(&f);
		return NULL;
	} else if ((f->id = folder_row(st, f->name, error_r)) < 0 ||
	    index_commit(st, error_r) < 0) {
		if (f->id < 0)
			index_rollback(st);
		store_folder_close(&f);
		return NULL;
	}
	folder_mailboxid_of(st, f->name, f->mailboxid);
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

/* folder_status - the folder's state, and with counts its counters
 * over the messages */
static int
folder_status(struct store_folder *f, struct store_folder_status *r,
	      bool counts, const char **error_r)
{
	struct folder_state fs;
	sqlite3_stmt *s;

	memset(r, 0, sizeof(*r));
	if (sync_state_load(f, &fs, error_r) < 0)
		return -1;
	r->uidvalidity = fs.uidvalidity;
	r->uidnext = (uint32_t)fs.uidnext;
	r->highestmodseq = (uint64_t)fs.modseq;
	memcpy(r->mailboxid, f->mailboxid, sizeof(r->mailboxid));
	if (!counts)
		return 0;
	s = index_prep(f->st, "SELECT count(*), total(vsize),"
	    " total((flags & 1) = 0), total((flags & 8) != 0),"
	    " total(uid >= (SELECT recent_uid FROM folder WHERE id=?1))"
	    " FROM msg INDEXED BY msg_view WHERE folder=?1", error_r);
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
	index_done(f->st, s);
	return 0;
}

/* store_folder_status - see store.h */
int
store_folder_status(struct store_folder *f, struct store_folder_status *r,
		    const char **error_r)
{
	return folder_status(f, r, true, error_r);
}

/* store_folder_state - see store.h */
int
store_folder_state(struct store_folder *f, struct store_folder_status *r,
		   const char **error_r)
{
	return folder_status(f, r, false, error_r);
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
		s = index_prep(f->st, "SELECT recent_uid, uidnext FROM folder "
		    "WHERE id=?", error_r);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, f->id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			lo = sqlite3_column_int64(s, 0);
			hi = sqlite3_column_int64(s, 1);
		}
		index_done(f->st, s);
		if (rc != SQLITE_ROW) {
			store_seterr(error_r, "folder %s vanished from the index",
			    f->name);
			goto fail;
		}
		if (lo >= hi) {
			/* nothing new: no write lock taken */
			if (locked)
				index_rollback(f->st);
			return 0;
		}
		if (peek)
			break;
		if (!locked) {
			int b = index_begin_nowait(f->st, error_r);
			if (b <= 0)
				return b < 0 ? -1 : 2;
		}
	}
	if (!peek) {
		s = index_prep(f->st, "UPDATE folder SET recent_uid=? WHERE id=?",
		    error_r);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, hi);
		sqlite3_bind_int64(s, 2, f->id);
		rc = sqlite3_step(s);
		index_done(f->st, s);
		if (rc != SQLITE_DONE) {
			index_err(f->st, error_r, "claim recent");
			goto fail;
		}
		if (index_commit(f->st, error_r) < 0)
			return -1;
	}
	*lo_r = (uint32_t)lo;
	*hi_r = (uint32_t)(hi - 1);
	return 1;
fail:
	if (sqlite3_get_autocommit(f->st->db) == 0)
		index_rollback(f->st);
	return -1;
}

