/* queue-journal - the retire journal (a batch's moves made
 * durable, recovered after a crash) and group commit (one directory fsync
 * for the items of many writers) (queue.h) */
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

/* ---- retire journal ---- */

#define JOURNAL_MAGIC "POSTERN-RETIRE 1"
#define JOURNAL_MAX (16 * 1024 * 1024)

struct queue_journal {
	char *path;
	struct buf text;
	size_t item_at;      /* offset of the current item's line */
	size_t nmoves;       /* moves of the current item */
	char cur_id[QUEUE_ID_MAX + 1];
	bool written;
};

struct queue_journal *
queue_journal_new(const char *qpath)
{
	struct queue_journal *j = xcalloc(1, sizeof(*j));

	j->path = xasprintf("%s/cur/retire.%ld", qpath, (long)getpid());
	buf_init(&j->text, JOURNAL_MAX);
	buf_puts(&j->text, JOURNAL_MAGIC "\n");
	return j;
}

/* journal_close_item - the count of the current item's moves */
static void
journal_close_item(struct queue_journal *j)
{
	if (j->cur_id[0] == '\0')
		return;
	buf_printf(&j->text, "end %zu\n", j->nmoves);
	j->cur_id[0] = '\0';
}

void
queue_journal_item(struct queue_journal *j, const char *id)
{
	journal_close_item(j);
	snprintf(j->cur_id, sizeof(j->cur_id), "%s", id);
	j->nmoves = 0;
	buf_puts(&j->text, "item");
	q_put_value(&j->text, id);
	buf_putc(&j->text, '\n');
}

void
queue_journal_move(struct queue_journal *j, const char *from, const char *to,
		   bool gone_ok, bool maildir)
{
	buf_printf(&j->text, "move %d %d", gone_ok ? 1 : 0, maildir ? 1 : 0);
	q_put_value(&j->text, from);
	q_put_value(&j->text, to);
	buf_putc(&j->text, '\n');
	j->nmoves++;
}

int
queue_journal_write(struct queue_journal *j, const char **error_r)
{
	char *tmp = xasprintf("%s.tmp", j->path);
	int fd, r = 0;

	journal_close_item(j);
	/* a rename: a crash leaves the whole journal or none */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, j->text.data, j->text.len) < 0 ||
	    close(fd) < 0 || rename(tmp, j->path) < 0) {
		r = qfail(error_r, "write %s", j->path);
		unlink(tmp);
	} else {
		j->written = true;
	}
	free(tmp);
	return r;
}

void
queue_journal_free(struct queue_journal **jp)
{
	struct queue_journal *j = *jp;

	if (j == NULL)
		return;
	if (j->written)
		unlink(j->path);
	buf_free(&j->text);
	free(j->path);
	free(j);
	*jp = NULL;
}

/* maildir_moved_on - a <folder>/cur/<name>:<flags> for to =
 * <folder>/new/<name> (a mail client took the message to cur/) */
static bool
maildir_moved_on(const char *to)
{
	const char *slash = strrchr(to, '/');
	bool found = false;

	if (slash == NULL || slash - to < 4 || strncmp(slash - 4, "/new", 4) != 0)
		return false;
	const char *name = slash + 1;
	size_t nl = strlen(name);
	char *cur = xasprintf("%.*s/cur", (int)(slash - 4 - to), to);
	DIR *d = opendir(cur);
	if (d != NULL) {
		struct dirent *e;
		while (!found && (e = readdir(d)) != NULL)
			found = strncmp(e->d_name, name, nl) == 0 &&
			    (e->d_name[nl] == '\0' || e->d_name[nl] == ':');
		closedir(d);
	}
	free(cur);
	return found;
}

struct jitem {
	char *id;
	bool ok;             /* its end line seen, every move proven */
	bool unproven;       /* a move neither made nor provably made */
};

/* journal_recover - complete one journal file: see queue.h */
static void
journal_recover(const char *qpath, const char *path)
{
	struct buf b;
	struct dirset dirs = { 0 };
	struct jitem *items = NULL;
	size_t nitems = 0;

	buf_init(&b, JOURNAL_MAX);
	if (file_read(path, &b) < 0 || b.len < strlen(JOURNAL_MAGIC) + 1 ||
	    memcmp(b.data, JOURNAL_MAGIC "\n", strlen(JOURNAL_MAGIC) + 1) != 0)
		goto out;
	const char *p = b.data + strlen(JOURNAL_MAGIC) + 1, *end = b.data + b.len;
	struct jitem *it = NULL;
	size_t nmoves = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s;
		char *a = NULL, *c = NULL;
		if (nl == NULL)
			break;
		if (strncmp(p, "item ", 5) == 0) {
			s = p + 4;
			if (q_take_value(&s, nl, &a) < 0 || a == NULL || s != nl ||
			    !q_id_valid(a)) {
				free(a);
				break;
			}
			items = xreallocarray(items, nitems + 1, sizeof(*items));
			it = &items[nitems++];
			it->id = a;
			it->ok = false;    /* until its end line */
			it->unproven = false;
			nmoves = 0;
		} else if (strncmp(p, "move ", 5) == 0 && it != NULL &&
		    nl - p > 9 && (p[5] == '0' || p[5] == '1') && p[6] == ' ' &&
		    (p[7] == '0' || p[7] == '1')) {
			bool gone_ok = p[5] == '1', maildir = p[7] == '1';
			s = p + 8;
			if (q_take_value(&s, nl, &a) < 0 || a == NULL ||
			    q_take_value(&s, nl, &c) < 0 || c == NULL || s != nl) {
				free(a);
				free(c);
				break;
			}
			/* the moves of one item are made in order, each
			 * whatever happened to the one before: the item is
			 * retired only if every one is proven */
			bool made;
			if (access(a, F_OK) == 0)
				made = rename(a, c) == 0;
			else
				made = access(c, F_OK) == 0 || gone_ok ||
				    (maildir && maildir_moved_on(c));
			if (made) {
				char *dir = xstrdup(c), *sl = strrchr(dir, '/');
				if (sl != NULL) {
					*sl = '\0';
					dirset_add(&dirs, dir);
				}
				free(dir);
			}
			nmoves++;
			if (!made)
				it->unproven = true;
			free(a);
			free(c);
		} else if (strncmp(p, "end ", 4) == 0 && it != NULL) {
			char num[24];
			size_t n = (size_t)(nl - p - 4);
			long long want;
			if (n == 0 || n >= sizeof(num))
				break;
			memcpy(num, p + 4, n);
			num[n] = '\0';
			if (parse_long(num, 0, 1000000, &want) < 0)
				break;
			it->ok = (size_t)want == nmoves && !it->unproven;
			it = NULL;
		} else {
			break;
		}
		p = nl + 1;
	}
	/* the results durable before any item goes */
	if (dirset_fsync(&dirs) == 0) {
		for (size_t i = 0; i < nitems; i++) {
			if (!items[i].ok)
				continue;
			char *ce = q_item_file(qpath, "cur", items[i].id, "env");
			char *cm = q_item_file(qpath, "cur", items[i].id, "msg");
			unlink(ce);
			unlink(cm);
			free(ce);
			free(cm);
		}
	}
out:
	for (size_t i = 0; i < nitems; i++)
		free(items[i].id);
	free(items);
	dirset_free(&dirs);
	buf_free(&b);
	unlink(path);
}

/* q_journal_recover_all - every retire journal in qpath/cur */
void
q_journal_recover_all(const char *qpath)
{
	char *cur = path_join(qpath, "cur");
	DIR *d = opendir(cur);
	struct dirent *e;
	char **paths = NULL;
	size_t n = 0;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "retire.", 7) != 0)
				continue;
			paths = xreallocarray(paths, n + 1, sizeof(*paths));
			paths[n++] = path_join(cur, e->d_name);
		}
		closedir(d);
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(paths[i]);
		if (len > 4 && strcmp(paths[i] + len - 4, ".tmp") == 0)
			unlink(paths[i]);   /* never complete */
		else
			journal_recover(qpath, paths[i]);
		free(paths[i]);
	}
	free(paths);
	free(cur);
}

/* ---- group commit ---- */

enum qb_state { QB_STAGED, QB_SYNCED, QB_PUBLISHED, QB_FAILED, QB_DROPPED };

struct qb_entry {
	int tag;
	char *qpath;
	char id[QUEUE_ID_MAX + 1];
	int env_fd;               /* open until the commit's fdatasync */
	enum qb_state state;
	size_t dir;               /* index of qpath/new in the dirset */
};

struct queue_batch {
	struct qb_entry *e;
	size_t n;
	char err[512];
};

struct queue_batch *
queue_batch_new(void)
{
	return xcalloc(1, sizeof(struct queue_batch));
}

/* qb_unstage - remove an entry's files from tmp/ (or new/ once published) */
static void
qb_unstage(struct qb_entry *e, const char *sub)
{
	char *m = q_item_file(e->qpath, sub, e->id, "msg");
	char *v = q_item_file(e->qpath, sub, e->id, "env");

	/* the envelope first: it is the commit record */
	unlink(v);
	unlink(m);
	free(m);
	free(v);
	if (e->env_fd >= 0)
		close(e->env_fd);
	e->env_fd = -1;
}

int
queue_batch_put_file(struct queue_batch *b, int tag, const char *qpath,
		     const char *msg_path, const struct queue_env *env,
		     const char **error_r)
{
	struct buf text;
	struct qb_entry *e;
	char *tm, *te;
	int fd, r = 0;

	if (!q_id_valid(env->id)) {
		errno = 0;
		return qfail(error_r, "invalid queue id '%s'", env->id);
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_STAGED && strcmp(b->e[i].id, env->id) == 0 &&
		    strcmp(b->e[i].qpath, qpath) == 0) {
			errno = 0;
			return qfail(error_r, "item %s is in this batch already",
			    env->id);
		}
	if (queue_ensure(qpath) < 0)
		return qfail(error_r, "create queue %s", qpath);
	tm = q_item_file(qpath, "tmp", env->id, "msg");
	te = q_item_file(qpath, "tmp", env->id, "env");
	unlink(tm);
	unlink(te);
	/* a hard link shares the already durable message; across file
	 * systems, a copy (fsynced by copy_file) */
	if (link(msg_path, tm) < 0 && q_copy_file(msg_path, tm) < 0) {
		r = qfail(error_r, "link %s to %s", msg_path, tm);
		goto out;
	}
	buf_init(&text, 0);
	queue_env_format(env, &text);
	fd = open(te, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, text.data, text.len) < 0) {
		r = qfail(error_r, "write %s", te);
		if (fd >= 0)
			close(fd);
		unlink(te);
		unlink(tm);
		buf_free(&text);
		goto out;
	}
	buf_free(&text);
	sync_start(fd);
	b->e = xreallocarray(b->e, b->n + 1, sizeof(*b->e));
	e = &b->e[b->n++];
	memset(e, 0, sizeof(*e));
	e->tag = tag;
	e->qpath = xstrdup(qpath);
	snprintf(e->id, sizeof(e->id), "%s", env->id);
	e->env_fd = fd;
	e->state = QB_STAGED;
out:
	free(tm);
	free(te);
	return r;
}

void
queue_batch_drop(struct queue_batch *b, int tag)
{
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->tag == tag && e->state == QB_STAGED) {
			qb_unstage(e, "tmp");
			e->state = QB_DROPPED;
		}
	}
}

size_t
queue_batch_size(const struct queue_batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_STAGED)
			n++;
	return n;
}

/* qb_fail - an entry that cannot be committed; its tag's other entries
 * fail with it (the caller retries the whole unit) */
static void
qb_fail(struct queue_batch *b, struct qb_entry *e, const char *what)
{
	snprintf(b->err, sizeof(b->err), "%s %s/%s: %s", what, e->qpath,
	    e->id, strerror(errno));
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *o = &b->e[i];
		if (o->tag != e->tag)
			continue;
		if (o->state == QB_STAGED || o->state == QB_SYNCED)
			qb_unstage(o, "tmp");
		else if (o->state == QB_PUBLISHED)
			qb_unstage(o, "new");
		if (o->state != QB_DROPPED)
			o->state = QB_FAILED;
	}
}

/* journal_fill - jr lists every unit of tag_items none of whose entries
 * failed, with the moves of its entries into new/ */
static void
journal_fill(struct queue_journal *jr, const struct queue_batch *b,
	     const char *const *tag_items, size_t ntags)
{
	buf_reset(&jr->text);
	jr->cur_id[0] = '\0';
	buf_puts(&jr->text, JOURNAL_MAGIC "\n");
	for (size_t t = 0; t < ntags; t++) {
		bool whole = tag_items[t] != NULL;
		for (size_t i = 0; whole && i < b->n; i++)
			if (b->e[i].tag == (int)t && b->e[i].state == QB_FAILED)
				whole = false;
		if (!whole)
			continue;
		queue_journal_item(jr, tag_items[t]);
		for (size_t i = 0; i < b->n; i++) {
			const struct qb_entry *e = &b->e[i];
			if (e->tag != (int)t || (e->state != QB_SYNCED &&
			    e->state != QB_PUBLISHED))
				continue;
			char *tm = q_item_file(e->qpath, "tmp", e->id, "msg");
			char *te = q_item_file(e->qpath, "tmp", e->id, "env");
			char *nm = q_item_file(e->qpath, "new", e->id, "msg");
			char *ne = q_item_file(e->qpath, "new", e->id, "env");
			queue_journal_move(jr, tm, nm, true, false);
			queue_journal_move(jr, te, ne, true, false);
			free(tm);
			free(te);
			free(nm);
			free(ne);
		}
	}
}

size_t
queue_batch_commit(struct queue_batch *b, struct queue_journal *jr,
		   const char *const *tag_items, size_t ntags,
		   const char **error_r)
{
	struct dirset dirs = { 0 };
	size_t failed = 0;

	b->err[0] = '\0';
	crashpoint("queue.batch.staged");
	/* 1. the envelopes' data (the messages are durable already) */
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state != QB_STAGED)
			continue;
		if (fdatasync(e->env_fd) < 0 || close(e->env_fd) < 0) {
			e->env_fd = -1;
			qb_fail(b, e, "sync");
			continue;
		}
		e->env_fd = -1;
		e->state = QB_SYNCED;
	}
	crashpoint("queue.batch.synced");
	/* the retire journal, once the staged names are durable too: its
	 * recovery may take a file gone from tmp/ for moved (and taken by
	 * the next consumer) only if it cannot have lost its name there */
	if (jr != NULL) {
		struct dirset tmps = { 0 };
		const char *jerr;
		for (size_t i = 0; i < b->n; i++)
			if (b->e[i].state == QB_SYNCED) {
				char *t = path_join(b->e[i].qpath, "tmp");
				dirset_add(&tmps, t);
				free(t);
			}
		if (dirset_fsync(&tmps) == 0) {
			journal_fill(jr, b, tag_items, ntags);
			(void)queue_journal_write(jr, &jerr);
		}
		dirset_free(&tmps);
		crashpoint("queue.batch.journaled");
	}
	/* 2. into new/: message, then envelope (the commit record) */
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state != QB_SYNCED)
			continue;
		char *tm = q_item_file(e->qpath, "tmp", e->id, "msg");
		char *te = q_item_file(e->qpath, "tmp", e->id, "env");
		char *nm = q_item_file(e->qpath, "new", e->id, "msg");
		char *ne = q_item_file(e->qpath, "new", e->id, "env");
		if (rename(tm, nm) < 0) {
			qb_fail(b, e, "publish");
		} else if (rename(te, ne) < 0) {
			int saved = errno;
			unlink(nm);
			errno = saved;
			qb_fail(b, e, "publish");
		} else {
			char *newdir = path_join(e->qpath, "new");
			e->dir = dirset_add(&dirs, newdir);
			free(newdir);
			e->state = QB_PUBLISHED;
		}
		free(tm);
		free(te);
		free(nm);
		free(ne);
	}
	crashpoint("queue.batch.published");
	/* 3. one fsync per new/ directory for the whole batch */
	if (dirset_fsync(&dirs) > 0) {
		/* those items may not survive a power loss: take them back,
		 * so that what they came from is not retired */
		for (size_t i = 0; i < b->n; i++) {
			struct qb_entry *e = &b->e[i];
			if (e->state == QB_PUBLISHED && dirs.err[e->dir] != 0) {
				errno = dirs.err[e->dir];
				qb_fail(b, e, "fsync new/ of");
			}
		}
	}
	dirset_free(&dirs);
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].state == QB_FAILED)
			failed++;
	if (failed > 0 && jr != NULL && jr->written) {
		/* the failed units are taken back: out of the journal */
		const char *jerr;
		journal_fill(jr, b, tag_items, ntags);
		if (queue_journal_write(jr, &jerr) < 0) {
			unlink(jr->path);
			jr->written = false;
		}
	}
	*error_r = b->err;
	crashpoint("queue.batch.committed");
	return failed;
}

bool
queue_batch_ok(const struct queue_batch *b, int tag)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].tag == tag && b->e[i].state != QB_PUBLISHED &&
		    b->e[i].state != QB_DROPPED)
			return false;
	return true;
}

void
queue_batch_free(struct queue_batch **bp)
{
	struct queue_batch *b = *bp;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct qb_entry *e = &b->e[i];
		if (e->state == QB_STAGED || e->state == QB_SYNCED)
			qb_unstage(e, "tmp");
		free(e->qpath);
	}
	free(b->e);
	free(b);
	*bp = NULL;
}
