/* test-store - Maildir delivery, quota, index, sync, concurrency */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "test.h"
#include "xalloc.h"

static char *
tmp_root(void)
{
	char tmpl[] = "/tmp/test-store.XXXXXX";
	char *d = mkdtemp(tmpl);

	return xasprintf("%s/po/mb", d);
}

static void
cleanup(char *root)
{
	char *top = xstrdup(root);
	char *slash = strrchr(top, '/');
	*slash = '\0';
	slash = strrchr(top, '/');
	*slash = '\0';
	rm_rf(top);
	free(top);
	free(root);
}

static int
count_dir(const char *root, const char *sub)
{
	char *p = path_join(root, sub);
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	free(p);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *
read_all(const char *path)
{
	struct buf b;

	buf_init(&b, 0);
	if (file_read(path, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void
test_deliver(void)
{
	char *root = tmp_root();
	const char *err = NULL;
	struct store_delivery d;
	char *name = NULL;
	const char *msg = "Subject: hi\r\n\r\nbody\r\n";
	const char *lf = "Subject: lf\n\nbody\n";

	store_delivery_init(&d);
	d.data = msg;
	d.len = strlen(msg);
	d.prefix = "Return-Path: <a@b>\r\n";
	d.prefix_len = strlen(d.prefix);
	CHECK_INTEQ(store_deliver(root, &d, &name, &err), STORE_DELIVER_OK);
	CHECK(name != NULL && strstr(name, ",S=41,W=41") != NULL);
	CHECK_INTEQ(count_dir(root, "new"), 1);
	CHECK_INTEQ(count_dir(root, "tmp"), 0);
	char *p = xasprintf("%s/new/%s", root, name);
	char *got = read_all(p);
	CHECK_STREQ(got, "Return-Path: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n");
	free(got);
	free(p);
	free(name);

	/* LF message: W= counts CRLF size */
	store_delivery_init(&d);
	d.data = lf;
	d.len = strlen(lf);
	CHECK_INTEQ(store_deliver(root, &d, &name, &err), STORE_DELIVER_OK);
	CHECK(strstr(name, ",S=18,W=21") != NULL);
	free(name);

	int64_t bytes, count;
	CHECK_INTEQ(store_quota_usage(root, &bytes, &count, &err), 0);
	CHECK_INTEQ(bytes, 41 + 18);
	CHECK_INTEQ(count, 2);

	/* over quota: refused before writing */
	char big[2048];
	memset(big, 'x', sizeof(big));
	store_delivery_init(&d);
	d.data = big;
	d.len = sizeof(big);
	d.quota_kb = 2;
	CHECK_INTEQ(store_deliver(root, &d, NULL, &err), STORE_DELIVER_OVER_QUOTA);
	CHECK_INTEQ(count_dir(root, "new"), 2);
	d.quota_kb = 3;
	CHECK_INTEQ(store_deliver(root, &d, NULL, &err), STORE_DELIVER_OK);

	/* from an fd, into a folder */
	int fds[2];
	CHECK(pipe(fds) == 0);
	CHECK(write(fds[1], "X: y\n\nz\n", 8) == 8);
	close(fds[1]);
	store_delivery_init(&d);
	d.src_fd = fds[0];
	d.folder = "Work";
	CHECK_INTEQ(store_deliver(root, &d, NULL, &err), STORE_DELIVER_NO_FOLDER);
	d.create_folder = true;
	d.flags = STORE_SEEN | STORE_FLAGGED;
	CHECK_INTEQ(store_deliver(root, &d, &name, &err), STORE_DELIVER_OK);
	CHECK(strstr(name, ":2,FS") != NULL);
	free(name);
	close(fds[0]);
	CHECK_INTEQ(count_dir(root, ".Work/new"), 1);
	d.folder = "../evil";
	CHECK_INTEQ(store_deliver(root, &d, NULL, &err), STORE_DELIVER_NO_FOLDER);

	/* usage survives a lost maildirsize (one walk) */
	char *ms = path_join(root, "maildirsize");
	unlink(ms);
	free(ms);
	CHECK_INTEQ(store_quota_usage(root, &bytes, &count, &err), 0);
	CHECK_INTEQ(bytes, 41 + 18 + 2048 + 8);
	CHECK_INTEQ(count, 4);
	cleanup(root);
}

static void
test_quota_compact(void)
{
	char *root = tmp_root();
	const char *err;
	int64_t bytes, count;

	mkdir_p(root, 0700);
	CHECK_INTEQ(store_quota_usage(root, &bytes, &count, &err), 0);
	for (int i = 0; i < 1000; i++)
		CHECK_INTEQ(store_quota_add(root, 10, 1, &err), 0);
	CHECK_INTEQ(store_quota_usage(root, &bytes, &count, &err), 0);
	CHECK_INTEQ(bytes, 10000);
	CHECK_INTEQ(count, 1000);
	struct stat sb;
	char *ms = path_join(root, "maildirsize");
	CHECK(stat(ms, &sb) == 0 && sb.st_size <= 5120);
	free(ms);
	cleanup(root);
}


static void
deliver_n(const char *root, const char *folder, int n)
{
	const char *err;
	struct store_delivery d;
	char msg[128];

	for (int i = 0; i < n; i++) {
		store_delivery_init(&d);
		snprintf(msg, sizeof(msg), "Subject: %d\n\nbody %d\n", i, i);
		d.data = msg;
		d.len = strlen(msg);
		d.folder = folder;
		if (store_deliver(root, &d, NULL, &err) != STORE_DELIVER_OK)
			fprintf(stderr, "deliver: %s\n", err);
	}
}

static void
test_index(void)
{
	char *root = tmp_root();
	const char *err = "";
	struct store *st;
	struct store_folder *f;
	struct store_folder_status fs;
	struct store_msg *msgs;
	size_t n;

	deliver_n(root, NULL, 3);
	st = store_open(root, &err);
	CHECK(st != NULL);
	/* default folders with SPECIAL-USE */
	struct store_folder_info *list;
	CHECK_INTEQ(store_folder_list(st, &list, &n, &err), 0);
	CHECK_INTEQ(n, 6);
	CHECK_STREQ(list[0].name, "INBOX");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, "Trash") == 0)
			CHECK(list[i].special_use == STORE_SU_TRASH && list[i].subscribed);
	}
	store_folder_list_free(list, n);

	f = store_folder_open(st, "inbox", &err);
	CHECK(f != NULL);
	CHECK_INTEQ(store_folder_status(f, &fs, &err), 0);
	CHECK_INTEQ(fs.messages, 3);
	CHECK_INTEQ(fs.uidnext, 4);
	CHECK_INTEQ(fs.unseen, 3);
	CHECK_INTEQ(count_dir(root, "new"), 0);
	CHECK_INTEQ(count_dir(root, "cur"), 3);
	uint32_t uv = fs.uidvalidity;
	uint64_t ms0 = fs.highestmodseq;

	/* flags: renamed files, modseq up */
	uint32_t u2 = 2;
	CHECK_INTEQ(store_flags_update(f, &u2, 1, STORE_FLAGS_ADD,
	    STORE_SEEN | STORE_DELETED, "$Work Urgent", 0, NULL, NULL, &err), 0);
	struct store_msg m = { 0 };
	CHECK_INTEQ(store_msg_get(f, 2, &m, &err), 1);
	CHECK_INTEQ(m.flags, STORE_SEEN | STORE_DELETED);
	CHECK_STREQ(m.keywords, "$Work Urgent");
	CHECK(strstr(m.file, ":2,ST") != NULL);
	CHECK(m.modseq > ms0);
	int fd = store_msg_open(f, &m, &err);
	CHECK(fd >= 0);
	close(fd);
	/* the file renamed by another program: still found */
	{
		char *a = xasprintf("%s/cur/%s", root, m.file);
		char *b = xasprintf("%s/cur/%.*s:2,FST", root,
		    (int)(strchr(m.file, ':') - m.file), m.file);
		CHECK(rename(a, b) == 0);
		fd = store_msg_open(f, &m, &err);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		CHECK(rename(b, a) == 0);
		free(a);
		free(b);
	}
	uint64_t ms2 = m.modseq;
	store_msg_clear(&m);
	CHECK_INTEQ(store_flags_update(f, &u2, 1, STORE_FLAGS_REMOVE, 0,
	    "urgent", 0, NULL, NULL, &err), 0);
	CHECK_INTEQ(store_msg_get(f, 2, &m, &err), 1);
	CHECK_STREQ(m.keywords, "$Work");
	store_msg_clear(&m);
	/* CONDSTORE UNCHANGEDSINCE */
	uint32_t *failed;
	size_t nfailed;
	CHECK_INTEQ(store_flags_update(f, &u2, 1, STORE_FLAGS_ADD, STORE_FLAGGED,
	    NULL, ms2 - 1, &failed, &nfailed, &err), 0);
	CHECK_INTEQ(nfailed, 1);
	free(failed);

	/* expunge \Deleted */
	uint32_t *ex;
	CHECK_INTEQ(store_expunge(f, NULL, 0, &ex, &n, &err), 0);
	CHECK_INTEQ(n, 1);
	CHECK_INTEQ(ex[0], 2);
	free(ex);
	CHECK_INTEQ(store_expunged_since(f, ms2, &ex, &n, &err), 0);
	CHECK_INTEQ(n, 1);
	free(ex);
	CHECK_INTEQ(count_dir(root, "cur"), 2);

	/* append with flags and date; copy; move */
	uint32_t uid, uvn;
	CHECK_INTEQ(store_append(st, "Drafts", "A: b\r\n\r\nc\r\n", 11,
	    STORE_DRAFT, NULL, 1000000000, 0, &uid, &uvn, &err), 0);
	CHECK_INTEQ(uid, 1);
	uint32_t cu[2] = { 1, 3 }, *src, *dst;
	CHECK_INTEQ(store_copy(f, cu, 2, "Archive", false, 0, &src, &dst, &n,
	    &uvn, &err), 0);
	CHECK_INTEQ(n, 2);
	CHECK_INTEQ(dst[0], 1);
	CHECK_INTEQ(dst[1], 2);
	free(src);
	free(dst);
	CHECK_INTEQ(store_copy(f, cu, 1, "Trash", true, 0, NULL, NULL, &n,
	    &uvn, &err), 0);
	CHECK_INTEQ(n, 1);
	CHECK_INTEQ(store_msgs_load(f, &msgs, &n, &err), 0);
	CHECK_INTEQ(n, 1);
	CHECK_INTEQ(msgs[0].uid, 3);
	store_msgs_free(msgs, n);
	struct store_folder *dr = store_folder_open(st, "Drafts", &err);
	CHECK(dr != NULL);
	CHECK_INTEQ(store_msgs_load(dr, &msgs, &n, &err), 0);
	CHECK_INTEQ(n, 1);
	CHECK_INTEQ(msgs[0].internal_date, 1000000000);
	CHECK_INTEQ(msgs[0].flags, STORE_DRAFT);
	CHECK_INTEQ(msgs[0].size, 11);
	store_msgs_free(msgs, n);
	store_folder_close(&dr);

	/* behind our back: a file added to cur/, one removed */
	int64_t qb0, qc0, qb1, qc1;
	CHECK_INTEQ(store_quota_usage(root, &qb0, &qc0, &err), 0);
	CHECK_INTEQ(store_msgs_load(f, &msgs, &n, &err), 0);
	int64_t removed = (int64_t)msgs[0].file_size;
	char *p = store_msg_path(f, &msgs[0]);
	CHECK(unlink(p) == 0);
	free(p);
	store_msgs_free(msgs, n);
	char *added = xasprintf("%s/cur/1.M1P1.x:2,S", root);
	CHECK(file_write_atomic(added, "Q: r\n\ns\n", 8, 0600) == 0);
	free(added);
	CHECK_INTEQ(store_sync(f, &err), 0);
	CHECK_INTEQ(store_quota_usage(root, &qb1, &qc1, &err), 0);
	CHECK_INTEQ(qb1, qb0 - removed + 8);
	CHECK_INTEQ(qc1, qc0);
	/* a foreign file in new/ (no sizes in its name) is counted and named */
	char *nf = xasprintf("%s/new/2.M2P2.x", root);
	CHECK(file_write_atomic(nf, "A: b\n\nc\n", 8, 0600) == 0);
	free(nf);
	CHECK_INTEQ(store_sync(f, &err), 0);
	CHECK_INTEQ(store_quota_usage(root, &qb1, &qc1, &err), 0);
	CHECK_INTEQ(qb1, qb0 - removed + 16);
	CHECK_INTEQ(qc1, qc0 + 1);
	struct store_msg m5 = { 0 };
	CHECK_INTEQ(store_msg_get(f, 5, &m5, &err), 1);
	CHECK_STREQ(m5.file, "2.M2P2.x,S=8,W=11:2,");
	CHECK_INTEQ(m5.size, 11);
	store_msg_clear(&m5);
	uint32_t u5 = 5;
	CHECK_INTEQ(store_expunge(f, &u5, 1, NULL, NULL, &err), 0);
	CHECK_INTEQ(store_msgs_load(f, &msgs, &n, &err), 0);
	CHECK_INTEQ(n, 1);
	if (n == 1) {
		CHECK_INTEQ(msgs[0].uid, 4);
		CHECK_INTEQ(msgs[0].flags, STORE_SEEN);
		CHECK_INTEQ(msgs[0].size, 11);
	}
	store_msgs_free(msgs, n);

	/* folders */
	CHECK_INTEQ(store_folder_create(st, "Work", &err), 0);
	CHECK_INTEQ(store_folder_create(st, "Work.Sub", &err), 0);
	CHECK(store_folder_create(st, "Work", &err) < 0);
	CHECK(store_folder_create(st, "a/b", &err) < 0);
	CHECK_INTEQ(store_folder_rename(st, "Work", "Job", &err), 0);
	CHECK(store_folder_exists(st, "Job.Sub"));
	CHECK(!store_folder_exists(st, "Work"));
	CHECK_INTEQ(store_folder_delete(st, "Job.Sub", &err), 0);
	CHECK(store_folder_delete(st, "INBOX", &err) < 0);
	CHECK_INTEQ(store_folder_subscribe(st, "Job", true, &err), 0);
	CHECK_INTEQ(store_folder_subscribe(st, "Trash", false, &err), 0);
	char **subs;
	size_t nsubs;
	CHECK_INTEQ(store_subscriptions(st, &subs, &nsubs, &err), 0);
	CHECK_INTEQ(nsubs, 6);
	if (nsubs == 6) {
		CHECK_STREQ(subs[0], "INBOX");
		CHECK_STREQ(subs[3], "Job");
	}
	for (size_t i = 0; i < nsubs; i++)
		free(subs[i]);
	free(subs);
	store_folder_close(&f);
	store_close(&st);

	/* rebuild: index deleted; flags come back from the file names */
	char *ix = path_join(root, "postern-index.db");
	unlink(ix);
	char *ixw = xasprintf("%s-wal", ix);
	unlink(ixw);
	free(ixw);
	free(ix);
	st = store_open(root, &err);
	CHECK(st != NULL);
	f = store_folder_open(st, "INBOX", &err);
	CHECK(f != NULL);
	CHECK_INTEQ(store_folder_status(f, &fs, &err), 0);
	CHECK_INTEQ(fs.messages, 1);
	CHECK(fs.uidvalidity != uv || 1);
	CHECK_INTEQ(fs.unseen, 0);
	store_folder_close(&f);
	store_close(&st);

	/* damaged index: moved aside and rebuilt */
	ix = path_join(root, "postern-index.db");
	CHECK(file_write_atomic(ix, "garbage garbage garbage garbage", 31, 0600) == 0);
	free(ix);
	st = store_open(root, &err);
	CHECK(st != NULL);
	if (st == NULL)
		fprintf(stderr, "open: %s\n", err);
	f = st ? store_folder_open(st, "Archive", &err) : NULL;
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK_INTEQ(store_folder_status(f, &fs, &err), 0);
		CHECK_INTEQ(fs.messages, 2);
	}
	store_folder_close(&f);
	store_close(&st);
	cleanup(root);
}

static void
test_concurrent(void)
{
	char *root = tmp_root();
	const char *err;
	struct store *st;
	pid_t pids[3];

	deliver_n(root, NULL, 1);
	st = store_open(root, &err);
	store_close(&st);
	/* two writers changing flags and syncing while one delivers */
	for (int w = 0; w < 3; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			if (w == 2) {
				deliver_n(root, NULL, 100);
				_exit(0);
			}
			struct store *s2 = store_open(root, &err);
			struct store_folder *f = s2 ? store_folder_open(s2, "INBOX", &err) : NULL;
			int bad = f == NULL;
			for (int i = 0; i < 100 && !bad; i++) {
				uint32_t u = (uint32_t)(i % 5) + 1;
				if (store_sync(f, &err) < 0 ||
				    store_flags_update(f, &u, 1, w ? STORE_FLAGS_ADD :
				    STORE_FLAGS_REMOVE, STORE_FLAGGED, NULL, 0, NULL,
				    NULL, &err) < 0) {
					fprintf(stderr, "writer %d: %s\n", w, err);
					bad = 1;
				}
			}
			store_folder_close(&f);
			store_close(&s2);
			_exit(bad);
		}
	}
	for (int w = 0; w < 3; w++) {
		int status;
		waitpid(pids[w], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	st = store_open(root, &err);
	struct store_folder *f = store_folder_open(st, "INBOX", &err);
	struct store_folder_status fs;
	CHECK_INTEQ(store_folder_status(f, &fs, &err), 0);
	CHECK_INTEQ(fs.messages, 101);
	CHECK_INTEQ(fs.uidnext, 102);
	CHECK_INTEQ(count_dir(root, "cur"), 101);
	/* UIDs unique and files consistent */
	struct store_msg *msgs;
	size_t n;
	CHECK_INTEQ(store_msgs_load(f, &msgs, &n, &err), 0);
	int missing = 0;
	for (size_t i = 0; i < n; i++) {
		int fd = store_msg_open(f, &msgs[i], &err);
		if (fd < 0)
			missing++;
		else
			close(fd);
	}
	CHECK_INTEQ(missing, 0);
	store_msgs_free(msgs, n);
	store_folder_close(&f);
	store_close(&st);
	cleanup(root);
}

static int notified;
static void
on_notify(void *ctx)
{
	(void)ctx;
	notified++;
}

/* test_recent_multiappend - \Recent claims (one claimant per UID, peek
 * changes nothing), MULTIAPPEND all or none, RENAME INBOX */
static void
test_recent_multiappend(void)
{
	char *root = tmp_root();
	const char *err;
	struct store *st = store_open(root, &err);
	struct store_folder *f;
	struct store_folder_status fs;
	uint32_t lo, hi, *uids = NULL, uv = 0;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	static const char m1[] = "Subject: a\r\n\r\nx\r\n";
	static const char m2[] = "Subject: b\r\n\r\nyy\r\n";
	struct store_append_msg msgs[3] = {
		{ m1, sizeof(m1) - 1, STORE_SEEN, "$x", 1700000000, -1 },
		{ m2, sizeof(m2) - 1, 0, NULL, 0, -1 },
		{ m1, sizeof(m1) - 1, STORE_FLAGGED, NULL, 0, -1 },
	};
	CHECK(store_append_multi(st, "INBOX", msgs, 3, 0, &uids, &uv, &err) == 0);
	CHECK(uids != NULL && uids[0] == 1 && uids[1] == 2 && uids[2] == 3);
	CHECK(uv != 0);
	free(uids);
	/* three more, under a quota they fit in */
	CHECK(store_append_multi(st, "INBOX", msgs, 3, 1, NULL, NULL,
	    &err) == 0);
	f = store_folder_open(st, "INBOX", &err);
	CHECK(f != NULL);
	if (f == NULL)
		goto out;
	CHECK(store_folder_status(f, &fs, &err) == 0);
	CHECK_INTEQ(fs.messages, 6);
	CHECK_INTEQ(fs.recent, 6);
	/* a peek claims nothing; the first claim gets all, the next none */
	CHECK(store_recent_claim(f, true, &lo, &hi, &err) == 1);
	CHECK(lo == 1 && hi == 6);
	CHECK(store_recent_claim(f, false, &lo, &hi, &err) == 1);
	CHECK(lo == 1 && hi == 6);
	CHECK(store_recent_claim(f, false, &lo, &hi, &err) == 0);
	CHECK(store_folder_status(f, &fs, &err) == 0);
	CHECK_INTEQ(fs.recent, 0);
	CHECK(store_append(st, "INBOX", m2, sizeof(m2) - 1, 0, NULL, 0, 0, NULL,
	    NULL, &err) == 0);
	CHECK(store_recent_claim(f, false, &lo, &hi, &err) == 1);
	CHECK(lo == 7 && hi == 7);
	/* two of 600 KB against 1 MB: each would fit, both do not: none */
	char *big = xmalloc(600 * 1024);
	memset(big, 'x', 600 * 1024);
	struct store_append_msg bigs[2] = {
		{ big, 600 * 1024, 0, NULL, 0, -1 },
		{ big, 600 * 1024, 0, NULL, 0, -1 },
	};
	CHECK(store_append_multi(st, "Archive", bigs, 2, 1024, NULL, NULL,
	    &err) == 1);
	free(big);
	CHECK(count_dir(root, ".Archive/cur") == 0);
	CHECK(count_dir(root, ".Archive/tmp") == 0);
	/* RENAME INBOX: all seven move, INBOX stays empty */
	CHECK(store_folder_rename(st, "INBOX", "Old", &err) == 0);
	CHECK(store_sync(f, &err) == 0);
	CHECK(store_folder_status(f, &fs, &err) == 0);
	CHECK_INTEQ(fs.messages, 0);
	CHECK(count_dir(root, ".Old/cur") == 7);
	store_folder_close(&f);
	f = store_folder_open(st, "Old", &err);
	CHECK(f != NULL && store_folder_status(f, &fs, &err) == 0);
	CHECK_INTEQ(fs.messages, 7);
	store_folder_close(&f);
	CHECK(store_folder_rename(st, "INBOX", "Old", &err) < 0);
out:
	store_close(&st);
	cleanup(root);
}

static void
test_notify(void)
{
	char *root = tmp_root();
	const char *err;
	struct store *st = store_open(root, &err);
	struct store_folder *f = store_folder_open(st, "INBOX", &err);
	struct store_notify *nt = store_notify_create(&err);

	CHECK(nt != NULL);
	int h = store_notify_watch(nt, f, on_notify, NULL, &err);
	CHECK(h > 0);
	store_notify_dispatch(nt);
	notified = 0;
	deliver_n(root, NULL, 1);
	store_notify_dispatch(nt);
	CHECK_INTEQ(notified, 1);
	CHECK_INTEQ(store_sync(f, &err), 0);
	store_notify_dispatch(nt);
	notified = 0;
	uint32_t u = 1;
	CHECK_INTEQ(store_flags_update(f, &u, 1, STORE_FLAGS_ADD, 0, "kw", 0,
	    NULL, NULL, &err), 0);
	store_notify_dispatch(nt);
	CHECK_INTEQ(notified, 1);
	store_notify_unwatch(nt, h);
	store_notify_free(&nt);
	store_folder_close(&f);
	store_close(&st);
	cleanup(root);
}

/* flags_of - a message's flags as connection f reads them, -1 if none */
static int
flags_of(struct store_folder *f, uint32_t uid)
{
	struct store_msg m = { 0 };
	const char *err;

	if (store_msg_get(f, uid, &m, &err) != 1)
		return -1;
	int fl = (int)m.flags;
	store_msg_clear(&m);
	return fl;
}

/* store_writes_begin/commit: several writes in one transaction, none
 * seen by another connection before the commit, all after it, the
 * watchers told at the commit (again); an expunge in the group too; and a sync
 * on another connection while the group holds the write lock returns at
 * once with the index as last committed (it waited for the lock, up to
 * 30 s, before) */
static void
test_writes_group(void)
{
	char *root = tmp_root();
	const char *err;
	struct store *st = store_open(root, &err);
	struct store_folder *f = store_folder_open(st, "INBOX", &err);

	deliver_n(root, NULL, 3);
	CHECK_INTEQ(store_sync(f, &err), 0);
	struct store *st2 = store_open(root, &err);
	struct store_folder *f2 = store_folder_open(st2, "INBOX", &err);
	CHECK(f2 != NULL);
	CHECK_INTEQ(store_sync(f2, &err), 0);
	uint64_t before = store_folder_modseq(f2);
	struct store_notify *nt = store_notify_create(&err);
	int h = store_notify_watch(nt, f2, on_notify, NULL, &err);
	CHECK(h > 0);
	store_notify_dispatch(nt);
	notified = 0;

	CHECK_INTEQ(store_writes_begin(st, &err), 0);
	uint32_t u1 = 1, u2 = 2, u3 = 3;
	CHECK_INTEQ(store_flags_update(f, &u1, 1, STORE_FLAGS_ADD,
	    STORE_FLAGGED, NULL, 0, NULL, NULL, &err), 0);
	CHECK_INTEQ(store_flags_update(f, &u2, 1, STORE_FLAGS_ADD,
	    STORE_DELETED, NULL, 0, NULL, NULL, &err), 0);
	CHECK_INTEQ(store_expunge(f, &u2, 1, NULL, NULL, &err), 0);
	/* uncommitted: the other connection sees the old index, and its
	 * sync (cur/ was renamed in) does not wait for the lock */
	CHECK_INTEQ(flags_of(f2, u1), 0);
	CHECK_INTEQ(flags_of(f2, u2), 0);
	CHECK_INTEQ(store_sync(f2, &err), 0);
	CHECK(store_folder_modseq(f2) == before);
	/* (the renames in cur/ wake the watchers already: their sync finds
	 * nothing yet; the commit wakes them again) */
	store_notify_dispatch(nt);
	notified = 0;
	CHECK_INTEQ(store_writes_commit(st, &err), 0);
	CHECK_INTEQ(flags_of(f2, u1), (int)STORE_FLAGGED);
	CHECK_INTEQ(flags_of(f2, u2), -1);
	CHECK_INTEQ(flags_of(f2, u3), 0);
	CHECK_INTEQ(store_sync(f2, &err), 0);
	CHECK(store_folder_modseq(f2) > before);
	store_notify_dispatch(nt);
	CHECK_INTEQ(notified, 1);
	/* after the group, writes are their own transactions again */
	CHECK_INTEQ(store_flags_update(f, &u3, 1, STORE_FLAGS_ADD,
	    STORE_FLAGGED, NULL, 0, NULL, NULL, &err), 0);
	CHECK_INTEQ(flags_of(f2, u3), (int)STORE_FLAGGED);

	store_notify_unwatch(nt, h);
	store_notify_free(&nt);
	store_folder_close(&f2);
	store_close(&st2);
	store_folder_close(&f);
	store_close(&st);
	cleanup(root);
}

static int checkpoint_asked;

static void
on_checkpoint(void *ctx)
{
	checkpoint_asked++;
}

/* the WAL of a store whose checkpoints are the caller's: commits never
 * checkpoint, the hook asks once the WAL is long, and a checkpoint on
 * another connection lets the WAL start over */
static void
test_checkpoint_by(void)
{
	char *root = tmp_root();
	const char *err;
	struct store *st = store_open(root, &err);
	struct store *other = store_open(root, &err);

	deliver_n(root, NULL, 1);
	struct store_folder *f = store_folder_open(st, "INBOX", &err);
	CHECK(f != NULL);
	store_checkpoint_by(st, on_checkpoint, NULL);
	uint32_t u = 1;
	int i;
	for (i = 0; i < 5000 && checkpoint_asked == 0; i++)
		CHECK_INTEQ(store_flags_update(f, &u, 1, i % 2 ?
		    STORE_FLAGS_ADD : STORE_FLAGS_REMOVE, STORE_SEEN, NULL, 0,
		    NULL, NULL, &err), 0);
	CHECK(checkpoint_asked > 0);
	CHECK(i > 10);   /* not at once: only once the WAL is long */
	CHECK_INTEQ(store_checkpoint(other, &err), 0);
	checkpoint_asked = 0;
	for (int k = 0; k < 10; k++)
		CHECK_INTEQ(store_flags_update(f, &u, 1, k % 2 ?
		    STORE_FLAGS_ADD : STORE_FLAGS_REMOVE, STORE_SEEN, NULL, 0,
		    NULL, NULL, &err), 0);
	CHECK_INTEQ(checkpoint_asked, 0); /* the WAL started over */
	store_folder_close(&f);
	store_close(&other);
	store_close(&st);
	cleanup(root);
}

/* a message already in a file (imapd's spilled APPEND literal): linked
 * into place when it is an unnamed O_TMPFILE file, copied when it cannot
 * be linked; the sizes in the name count the file's bare LFs */
static void
test_append_file(void)
{
	char *root = tmp_root();
	const char *err = NULL;
	struct store *st = store_open(root, &err);
	static const char msg[] = "Subject: f\n\nline\nline\n";
	char *tmpdir = path_join(root, "tmp");
	uint32_t uid = 0, uv = 0, *uids = NULL;
	int fds[3];

	CHECK(st != NULL);
	if (st == NULL)
		goto out;
	fds[0] = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fds[0] >= 0);
	/* a named file unlinked at once: not linkable, so copied */
	char *named = path_join(tmpdir, "lit.XXXXXX");
	fds[1] = mkstemp(named);
	unlink(named);
	free(named);
	fds[2] = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	for (int i = 0; i < 3; i++) {
		CHECK(fds[i] >= 0 && write_full(fds[i], msg, sizeof(msg) - 1) == 0);
	}
	struct store_append_msg m = { .data = NULL, .len = sizeof(msg) - 1,
	    .flags = STORE_SEEN, .fd = fds[0] };
	CHECK(store_append_one(st, "Drafts", &m, 0, &uid, &uv, &err) == 0);
	CHECK(uid == 1 && uv != 0);
	CHECK_INTEQ(count_dir(root, ".Drafts/cur"), 1);
	CHECK_INTEQ(count_dir(root, ".Drafts/tmp"), 0);
	struct store_append_msg two[2] = {
		{ .len = sizeof(msg) - 1, .fd = fds[1] },
		{ .len = sizeof(msg) - 1, .fd = fds[2] },
	};
	CHECK(store_append_multi(st, "Drafts", two, 2, 0, &uids, &uv, &err) == 0);
	CHECK(uids != NULL && uids[0] == 2 && uids[1] == 3);
	free(uids);
	CHECK_INTEQ(count_dir(root, ".Drafts/cur"), 3);
	CHECK_INTEQ(count_dir(root, ".Drafts/tmp"), 0);
	CHECK_INTEQ(count_dir(root, "tmp"), 0);
	struct store_folder *f = store_folder_open(st, "Drafts", &err);
	struct store_msg *v = NULL;
	size_t n = 0;
	CHECK(f != NULL && store_msgs_load(f, &v, &n, &err) == 0);
	CHECK_INTEQ(n, 3);
	for (size_t i = 0; i < n; i++) {
		/* RFC822.SIZE with CRLF: four bare LFs more */
		CHECK_INTEQ(v[i].size, sizeof(msg) - 1 + 4);
		char *path = store_msg_path(f, &v[i]);
		char *body = read_all(path);
		CHECK(body != NULL && strcmp(body, msg) == 0);
		free(body);
		free(path);
	}
	CHECK((v[0].flags & STORE_SEEN) != 0);
	store_msgs_free(v, n);
	store_folder_close(&f);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
out:
	free(tmpdir);
	store_close(&st);
	cleanup(root);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_deliver),
		TEST(test_quota_compact),
		TEST(test_index),
		TEST(test_concurrent),
		TEST(test_notify),
		TEST(test_writes_group),
		TEST(test_checkpoint_by),
		TEST(test_recent_multiappend),
		TEST(test_append_file),
		{ 0 },
	};
	return test_run(tests);
}
