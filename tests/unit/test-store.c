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

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_deliver),
		TEST(test_quota_compact),
		{ 0 },
	};
	return test_run(tests);
}
