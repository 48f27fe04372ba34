/* bench-store - the message store with many messages in one folder:
 * delivery rate, first index build, open/select (sync + load) of a large
 * folder, a flag change, a sync with one new delivery.
 *
 *   BUILD/src/lib-store/bench-store [N] [DIR]   (N default 100000)
 *   BUILD/src/lib-store/bench-store mem N       memory per open mailbox */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "store.h"
#include "xalloc.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f != NULL)
		fclose(f);
	return kb;
}

/* bench_mem - memory of open mailboxes with INBOX selected (what an idle
 * IMAP session holds), N mailboxes of 10 messages each */
static int
bench_mem(long n)
{
	char tmpl[] = "/tmp/bench-store-mem.XXXXXX";
	const char *top = mkdtemp(tmpl);
	struct store **st = xcalloc((size_t)n, sizeof(*st));
	struct store_folder **f = xcalloc((size_t)n, sizeof(*f));
	const char *err = "";
	struct store_delivery d;

	store_delivery_init(&d);
	d.data = "Subject: x\r\n\r\ny\r\n";
	d.len = strlen(d.data);
	for (long i = 0; i < n; i++) {
		char *root = xasprintf("%s/po/mb%ld", top, i);
		for (int k = 0; k < 10; k++)
			store_deliver(root, &d, NULL, &err);
		struct store *s1 = store_open(root, &err);
		struct store_folder *f1 = store_folder_open(s1, "INBOX", &err);
		store_folder_close(&f1);
		store_close(&s1);
		free(root);
	}
	long before = rss_kb();
	for (long i = 0; i < n; i++) {
		char *root = xasprintf("%s/po/mb%ld", top, i);
		st[i] = store_open(root, &err);
		f[i] = st[i] ? store_folder_open(st[i], "INBOX", &err) : NULL;
		if (f[i] == NULL) {
			fprintf(stderr, "open %s: %s\n", root, err);
			return 1;
		}
		free(root);
	}
	long after = rss_kb();
	printf("%ld open mailboxes (INBOX selected): %.1f KB each (RSS), "
	    "SQLite heap %.1f KB each\n", n,
	    (double)(after - before) / (double)n,
	    (double)sqlite3_memory_used() / 1024.0 / (double)n);
	for (long i = 0; i < n; i++) {
		store_folder_close(&f[i]);
		store_close(&st[i]);
	}
	free(st);
	free(f);
	rm_rf(top);
	return 0;
}

int
main(int argc, char **argv)
{
	store_library_init();
	if (argc > 2 && strcmp(argv[1], "mem") == 0)
		return bench_mem(atol(argv[2]));
	long n = argc > 1 ? atol(argv[1]) : 100000;
	char tmpl[] = "/tmp/bench-store.XXXXXX";
	const char *top = argc > 2 ? argv[2] : mkdtemp(tmpl);
	char *root = xasprintf("%s/po/mb", top);
	const char *err = "";
	struct store_delivery d;
	char msg[600];
	double t0, t;
	struct store_msg *msgs;
	size_t nm;

	memset(msg, 'x', sizeof(msg));
	memcpy(msg, "Subject: bench\r\n\r\n", 18);
	memcpy(msg + sizeof(msg) - 2, "\r\n", 2);
	/* fsync per delivery is the real cost; the bench measures the store
	 * path, so bulk-fill with plain files and time 1000 real deliveries */
	mkdir_p(root, 0700);
	store_delivery_init(&d);
	d.data = msg;
	d.len = sizeof(msg);
	t0 = now();
	for (int i = 0; i < 1000; i++)
		if (store_deliver(root, &d, NULL, &err) != STORE_DELIVER_OK) {
			fprintf(stderr, "deliver: %s\n", err);
			return 1;
		}
	t = now() - t0;
	printf("store_deliver (fsync'd):     %8.0f msg/s\n", 1000 / t);
	t0 = now();
	for (long i = 1000; i < n; i++) {
		char *p = xasprintf("%s/new/%ld.M%ldP1.bench,S=600,W=600", root,
		    1700000000 + i / 1000, i);
		FILE *f = fopen(p, "w");
		fwrite(msg, 1, sizeof(msg), f);
		fclose(f);
		free(p);
	}
	printf("bulk fill %ld files:       %8.2f s\n", n - 1000, now() - t0);

	t0 = now();
	struct store *st = store_open(root, &err);
	struct store_folder *f = st ? store_folder_open(st, "INBOX", &err) : NULL;
	if (f == NULL) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	printf("first open (index %ld):   %8.2f s\n", n, now() - t0);
	store_folder_close(&f);
	store_close(&st);

	for (int round = 0; round < 3; round++) {
		t0 = now();
		st = store_open(root, &err);
		f = store_folder_open(st, "INBOX", &err);
		double t_open = now() - t0;
		store_msgs_load(f, &msgs, &nm, &err);
		double t_load = now() - t0;
		struct store_folder_status fs;
		store_folder_status(f, &fs, &err);
		double t_status = now() - t0;
		printf("open+select %zu msgs:     open %6.1f ms, +load %6.1f ms,"
		    " +status %6.1f ms\n", nm, t_open * 1e3, t_load * 1e3,
		    t_status * 1e3);
		store_msgs_free(msgs, nm);
		if (round < 2) {
			store_folder_close(&f);
			store_close(&st);
		}
	}
	t0 = now();
	for (int i = 0; i < 100; i++)
		store_sync(f, &err);
	printf("store_sync, nothing new:     %8.3f ms\n", (now() - t0) * 10);
	uint32_t uid = 5;
	t0 = now();
	for (int i = 0; i < 100; i++)
		store_flags_update(f, &uid, 1, i % 2 ? STORE_FLAGS_ADD :
		    STORE_FLAGS_REMOVE, STORE_SEEN, NULL, 0, NULL, NULL, &err);
	printf("flag change (fsync'd):       %8.3f ms\n", (now() - t0) * 10);
	store_deliver(root, &d, NULL, &err);
	t0 = now();
	store_sync(f, &err);
	printf("sync with 1 new delivery:    %8.3f ms\n", (now() - t0) * 1e3);
	/* a change behind our back in cur/: full rescan */
	char *p = xasprintf("%s/cur/999.M1P1.x:2,S", root);
	file_write_atomic(p, msg, sizeof(msg), 0600);
	free(p);
	t0 = now();
	store_sync(f, &err);
	printf("sync after foreign cur/ add: %8.1f ms (readdir of %ld)\n",
	    (now() - t0) * 1e3, n);
	int64_t bytes, count;
	t0 = now();
	store_quota_usage(root, &bytes, &count, &err);
	printf("quota usage (maildirsize):    %8.3f ms (%lld bytes, %lld msgs; bulk-filled files bypass it)\n",
	    (now() - t0) * 1e3, (long long)bytes, (long long)count);
	store_folder_close(&f);
	store_close(&st);
	if (argc <= 2)
		rm_rf(top);
	free(root);
	return 0;
}
