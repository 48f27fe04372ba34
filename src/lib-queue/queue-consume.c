/* queue-consume - consuming: scan, claim by rename, finish,
 * quarantine (queue.h) */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crashpoint.h"
#include "fsutil.h"
#include "queue.h"
#include "strutil.h"
#include "xalloc.h"
#include "queue-private.h"

/* ---- consuming ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list_ext - ids of files with extension ext in qpath/sub */
static int
list_ext(const char *qpath, const char *sub, const char *ext, char ***ids_r,
	 size_t *n_r)
{
	char *dir = path_join(qpath, sub);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **ids = NULL;
	size_t n = 0, elen = strlen(ext);

	free(dir);
	*ids_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= elen + 1 || e->d_name[len - elen - 1] != '.' ||
		    strcmp(e->d_name + len - elen, ext) != 0)
			continue;
		char *id = xstrndup(e->d_name, len - elen - 1);
		if (!q_id_valid(id)) {
			free(id);
			continue;
		}
		ids = xreallocarray(ids, n + 1, sizeof(char *));
		ids[n++] = id;
	}
	closedir(d);
	if (n > 1)
		qsort(ids, n, sizeof(char *), cmp_str);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

static void
free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int
queue_scan(const char *qpath, char ***ids_r, size_t *n_r)
{
	return list_ext(qpath, "new", "env", ids_r, n_r);
}

static bool
older_than(const char *path, time_t age)
{
	struct stat st;

	return stat(path, &st) == 0 && time(NULL) - st.st_mtime > age;
}

int
queue_recover(const char *qpath)
{
	char **ids;
	size_t n;
	int r = 0;

	if (queue_ensure(qpath) < 0)
		return -1;
	/* batches a crash cut short: completed, their items retired */
	q_journal_recover_all(qpath);
	/* claimed items go back to new/: message first, then envelope */
	if (list_ext(qpath, "cur", "env", &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *cm = q_item_file(qpath, "cur", ids[i], "msg");
		char *ce = q_item_file(qpath, "cur", ids[i], "env");
		char *nm = q_item_file(qpath, "new", ids[i], "msg");
		char *ne = q_item_file(qpath, "new", ids[i], "env");
		if ((rename(cm, nm) < 0 && errno != ENOENT) || rename(ce, ne) < 0)
			r = -1;
		free(cm);
		free(ce);
		free(nm);
		free(ne);
	}
	free_ids(ids, n);
	/* a message left in cur/ without its envelope was done */
	if (list_ext(qpath, "cur", "msg", &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *ce = q_item_file(qpath, "cur", ids[i], "env");
			char *cm = q_item_file(qpath, "cur", ids[i], "msg");
			if (access(ce, F_OK) < 0)
				unlink(cm);
			free(ce);
			free(cm);
		}
		free_ids(ids, n);
	}
	/* orphans: a message in new/ whose envelope never came (a writer
	 * died between the two renames; it never answered 250) */
	if (list_ext(qpath, "new", "msg", &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *ne = q_item_file(qpath, "new", ids[i], "env");
			char *nm = q_item_file(qpath, "new", ids[i], "msg");
			if (access(ne, F_OK) < 0 && older_than(nm, ORPHAN_AGE))
				unlink(nm);
			free(ne);
			free(nm);
		}
		free_ids(ids, n);
	}
	/* stale partial writes */
	char *tmp = path_join(qpath, "tmp");
	DIR *d = opendir(tmp);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char *p = path_join(tmp, e->d_name);
			if (older_than(p, TMP_AGE))
				unlink(p);
			free(p);
		}
		closedir(d);
	}
	free(tmp);
	char *cur = path_join(qpath, "cur"), *nw = path_join(qpath, "new");
	fsync_dir(cur);
	fsync_dir(nw);
	free(cur);
	free(nw);
	return r;
}

int
queue_claim(const char *qpath, const char *id, struct queue_item *item,
	    const char **error_r)
{
	char *ne, *nm;
	struct buf b;
	int r;

	memset(item, 0, sizeof(*item));
	if (!q_id_valid(id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", id);
	}
	ne = q_item_file(qpath, "new", id, "env");
	nm = q_item_file(qpath, "new", id, "msg");
	snprintf(item->id, sizeof(item->id), "%s", id);
	item->qpath = xstrdup(qpath);
	item->env_path = q_item_file(qpath, "cur", id, "env");
	item->msg_path = q_item_file(qpath, "cur", id, "msg");
	if (rename(ne, item->env_path) < 0) {
		int gone = errno == ENOENT;
		r = gone ? 0 : qfail(error_r, "claim %s", ne);
		free(ne);
		free(nm);
		queue_item_free(item);
		return r;
	}
	free(ne);
	if (rename(nm, item->msg_path) < 0 && access(item->msg_path, F_OK) < 0) {
		r = qfail(error_r, "item %s has no message file", id);
		free(nm);
		return r;
	}
	free(nm);
	buf_init(&b, QUEUE_ENV_MAX);
	if (file_read(item->env_path, &b) < 0) {
		buf_free(&b);
		return qfail(error_r, "read %s", item->env_path);
	}
	r = queue_env_parse(b.data ? b.data : "", b.len, &item->env, error_r);
	buf_free(&b);
	if (r < 0)
		return -1;
	if (strcmp(item->env.id, id) != 0) {
		errno = 0;
		return qfail(error_r, "envelope of %s names id %s", id, item->env.id);
	}
	return 1;
}

int
queue_item_update(struct queue_item *item, const char **error_r)
{
	char *tmp = xasprintf("%s.new", item->env_path);
	int r;

	unlink(tmp);
	r = q_write_env_file(tmp, &item->env, true, error_r);
	if (r == 0 && rename(tmp, item->env_path) < 0)
		r = qfail(error_r, "rename %s", tmp);
	if (r == 0) {
		char *cur = path_join(item->qpath, "cur");
		if (fsync_dir(cur) < 0)
			r = qfail(error_r, "fsync %s", cur);
		free(cur);
	} else {
		unlink(tmp);
	}
	free(tmp);
	return r;
}

ino_t
queue_env_ino(const char *qpath, const char *id)
{
	char *p = q_item_file(qpath, "new", id, "env");
	struct stat st;
	ino_t ino = stat(p, &st) == 0 ? st.st_ino : 0;

	free(p);
	return ino;
}

int
queue_item_release(struct queue_item *item, const char **error_r)
{
	char *nm = q_item_file(item->qpath, "new", item->id, "msg");
	char *ne = q_item_file(item->qpath, "new", item->id, "env");
	char *newdir = path_join(item->qpath, "new");
	int r = 0;

	if (rename(item->msg_path, nm) < 0)
		r = qfail(error_r, "release %s", item->msg_path);
	else if (rename(item->env_path, ne) < 0)
		r = qfail(error_r, "release %s", item->env_path);
	else
		fsync_dir(newdir);
	free(nm);
	free(ne);
	free(newdir);
	return r;
}

int
queue_item_done(struct queue_item *item, const char **error_r)
{
	int r = 0;

	/* the envelope is the commit record: it goes first. No fsync of the
	 * directory: the item's result is already durable elsewhere, and a
	 * removal lost to a power failure only brings the item back, which
	 * gives a duplicate, never a loss (a killed process loses nothing:
	 * the kernel has the unlink). That saves one fsync per message on
	 * every hop. */
	if (unlink(item->env_path) < 0 && errno != ENOENT)
		r = qfail(error_r, "remove %s", item->env_path);
	else if (unlink(item->msg_path) < 0 && errno != ENOENT)
		r = qfail(error_r, "remove %s", item->msg_path);
	return r;
}

int
queue_item_badmail(struct queue_item *item, const char *root,
		   const char *reason, const char **error_r)
{
	char *dir = path_join(root, "badmail");
	char *bm = xasprintf("%s/%s.msg", dir, item->id);
	char *be = xasprintf("%s/%s.env", dir, item->id);
	char *br = xasprintf("%s/%s.reason", dir, item->id);
	char *text = xasprintf("%s\n", reason);
	int r = 0;

	if (mkdir_p(dir, 0750) < 0)
		r = qfail(error_r, "create %s", dir);
	/* the reason first, so a message in bad mail always has one */
	else if (file_write_atomic(br, text, strlen(text), 0640) < 0)
		r = qfail(error_r, "write %s", br);
	else if (rename(item->msg_path, bm) < 0 && errno != ENOENT)
		r = qfail(error_r, "move %s to bad mail", item->msg_path);
	else if (rename(item->env_path, be) < 0 && errno != ENOENT)
		r = qfail(error_r, "move %s to bad mail", item->env_path);
	else
		fsync_dir(dir);
	free(dir);
	free(bm);
	free(be);
	free(br);
	free(text);
	return r;
}

void
queue_item_free(struct queue_item *item)
{
	free(item->qpath);
	free(item->msg_path);
	free(item->env_path);
	queue_env_free(&item->env);
	item->qpath = item->msg_path = item->env_path = NULL;
}

int
queue_watch_open(const char *qpath)
{
	char *newdir = path_join(qpath, "new");
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd >= 0 && inotify_add_watch(fd, newdir,
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0) {
		close(fd);
		fd = -1;
	}
	free(newdir);
	return fd;
}

void
queue_watch_drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}
