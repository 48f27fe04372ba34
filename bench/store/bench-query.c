/* bench-query - the account-wide query index and change log of lib-store
 * (what JMAP Email/query and /changes cost) on a mailbox of N messages in
 * 5 folders: sorted (date, size, from, subject), filtered (folder,
 * unseen, flagged, a keyword) windows, with and without a total, deep
 * windows, and Email/changes after a burst of flag changes. Not a test:
 * it prints the median of 21 runs of each query, in CPU time (the wall
 * time beside it: on a shared machine it measures the load).
 *
 *   BUILD/src/lib-store/bench-query [N] [DIR]     (N default 100000)
 *
 * With DIR the mailbox is kept, and a later run on the same DIR reuses
 * it (no new files: N is then ignored).
 *
 * The messages are dropped into the folders' new/ (as another tool
 * would, no fsync) and indexed by the first open of each folder. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "xalloc.h"

#define RUNS 21

static const char *const folders[] = { "INBOX", "Archive", "Sent", "Lists",
	"Work" };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cpu - this process's CPU time: on a shared, loaded machine the wall
 * time mostly measures the other processes */
static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* fill - n message files into the folders' new/, deterministic */
static void
fill(const char *root, long n)
{
	static const char *const names[] = { "Alice", "bob", "Carol", "dave",
	    "Eve", "Mallory", "Trent", "Peggy", "Victor", "Walter" };
	static const char *const words[] = { "report", "lunch", "meeting",
	    "invoice", "release", "party", "budget", "review", "travel",
	    "question" };
	char body[2048];

	srand(42);
	memset(body, 'x', sizeof(body));
	for (size_t k = 0; k < sizeof(folders) / sizeof(*folders); k++) {
		char *dir = k == 0 ? xstrdup(root) :
		    xasprintf("%s/.%s", root, folders[k]);
		char *nw = path_join(dir, "new");
		mkdir_p(nw, 0700);
		free(nw);
		free(dir);
	}
	for (long i = 0; i < n; i++) {
		size_t k = (size_t)i % 5;
		char *dir = k == 0 ? xstrdup(root) :
		    xasprintf("%s/.%s", root, folders[k]);
		int who = rand() % 10, w1 = rand() % 10, w2 = rand() % 10;
		int len = 100 + rand() % 1900;
		long date = 1700000000L + (long)(rand() % 30000000);
		const char *flags = (i % 10) < 7 ? "S" : "";
		const char *fl = (i % 50) == 0 ? "F" : "";
		char *hdr = xasprintf("From: %s <%s%ld@example.org>\r\n"
		    "Subject: %s%s %s %ld\r\nMessage-ID: <m%ld@bench>\r\n%s"
		    "\r\n", names[who], names[who], i % 97,
		    i % 3 == 0 ? "Re: " : "", words[w1], words[w2], i % 1000,
		    i, i % 4 == 1 ? "References: <m0@bench>\r\n" : "");
		char *path = xasprintf("%s/new/%ld.M%ldP1Q1.bench:2,%s%s",
		    dir, date, i, fl, flags);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			(void)write_full(fd, hdr, strlen(hdr));
			(void)write_full(fd, body, (size_t)len);
			close(fd);
			struct timespec ts[2] = { { date, 0 }, { date, 0 } };
			(void)utimensat(AT_FDCWD, path, ts, 0);
		}
		free(hdr);
		free(path);
		free(dir);
	}
}

/* time_query - median CPU ms of RUNS runs of q (median wall ms in
 * *wall_r) */
static double
time_query(struct store *st, const struct store_query *q, size_t *n_r,
	   int64_t *total_r, double *wall_r)
{
	double t[RUNS], w[RUNS];
	const char *err = NULL;

	for (int i = 0; i < RUNS; i++) {
		struct store_query_result r;
		double t0 = cpu(), w0 = now();
		if (store_query(st, q, &r, &err) != 1) {
			fprintf(stderr, "query: %s\n", err);
			exit(1);
		}
		t[i] = (cpu() - t0) * 1000;
		w[i] = (now() - w0) * 1000;
		*n_r = r.n;
		*total_r = r.total;
		store_query_result_free(&r);
	}
	qsort(t, RUNS, sizeof(*t), cmp_d);
	qsort(w, RUNS, sizeof(*w), cmp_d);
	*wall_r = w[RUNS / 2];
	return t[RUNS / 2];
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	char tmpl[] = "/tmp/bench-query.XXXXXX";
	const char *top = argc > 2 ? argv[2] : mkdtemp(tmpl);
	char *root = xasprintf("%s/po/mb", top);
	const char *err = NULL;
	static const char *const sorts[] = { "date", "size", "from",
	    "subject" };
	double t0;

	store_library_init();
	printf("bench-query: %ld messages in %zu folders under %s\n", n,
	    sizeof(folders) / sizeof(*folders), root);
	char *idx = path_join(root, "postern-index.db");
	if (access(idx, F_OK) == 0) {
		/* a mailbox of an earlier run (DIR given): reused as it is,
		 * its index upgraded when it is older */
		printf("  reusing the mailbox there\n");
	} else {
		t0 = now();
		fill(root, n);
		printf("  files written                      %8.1f s\n",
		    now() - t0);
	}
	free(idx);
	t0 = now();
	double c0 = cpu();
	struct store *st = store_open(root, &err);
	if (st == NULL || store_sync_all(st, &err) < 0) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	printf("  first open: index every file       %8.1f s (%.1f s cpu)\n",
	    now() - t0, cpu() - c0);
	struct store_folder *inbox = store_folder_open(st, "INBOX", &err);
	char mbid[STORE_ID_MAX];
	snprintf(mbid, sizeof(mbid), "%s", store_folder_mailboxid(inbox));

	printf("\n  %-48s %7s %7s %6s %7s\n", "query (limit 50, median of 21)",
	    "cpu ms", "wall ms", "rows", "total");
	for (int scope = 0; scope < 2; scope++) {
		for (int s = 0; s < 4; s++) {
			for (int filt = 0; filt < 4; filt++) {
				struct store_query q = { 0 };
				size_t rows;
				int64_t total;
				char label[128];
				q.mailboxid = scope ? mbid : NULL;
				q.sort = (enum store_sort_key)s;
				q.descending = s == 0;
				q.limit = 50;
				if (filt == 1)
					q.flags_none = STORE_SEEN;
				else if (filt == 2)
					q.flags_all = STORE_FLAGGED;
				else if (filt == 3)
					q.keyword = "$bench";
				snprintf(label, sizeof(label), "%s, by %s%s%s",
				    scope ? "INBOX" : "account", sorts[s],
				    s == 0 ? " desc" : "",
				    filt == 1 ? ", unseen" : filt == 2 ?
				    ", flagged (2%)" : filt == 3 ?
				    ", keyword (none have it)" : "");
				double wall;
				double ms = time_query(st, &q, &rows, &total,
				    &wall);
				printf("  %-48s %7.2f %7.2f %6zu\n", label, ms,
				    wall, rows);
				if (filt == 3)
					continue;
				q.want_total = true;
				ms = time_query(st, &q, &rows, &total, &wall);
				printf("  %-48s %7.2f %7.2f %6zu %7lld\n",
				    "   + total", ms, wall, rows,
				    (long long)total);
			}
		}
	}
	struct store_query q = { 0 };
	size_t rows;
	int64_t total;
	q.sort = STORE_SORT_DATE;
	q.descending = true;
	q.limit = 50;
	q.position = 10000;
	double wall, ms = time_query(st, &q, &rows, &total, &wall);
	printf("  %-48s %7.2f %7.2f %6zu\n",
	    "account, by date desc, position 10000", ms, wall, rows);
	q.mailboxid = mbid;
	ms = time_query(st, &q, &rows, &total, &wall);
	printf("  %-48s %7.2f %7.2f %6zu\n",
	    "INBOX, by date desc, position 10000", ms, wall, rows);

	/* the change log: 1000 flag changes, then Email/changes */
	char state[STORE_STATE_MAX];
	struct store_msg *m = NULL;
	size_t nm = 0;
	if (store_state(st, STORE_CHANGE_EMAIL, state, &err) < 0 ||
	    store_msgs_load(inbox, &m, &nm, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	uint32_t *uids = xcalloc(1000, sizeof(*uids));
	for (size_t i = 0; i < 1000 && i < nm; i++)
		uids[i] = m[i].uid;
	t0 = cpu();
	(void)store_flags_update(inbox, uids, nm < 1000 ? nm : 1000,
	    STORE_FLAGS_ADD, STORE_FLAGGED, NULL, 0, NULL, NULL, &err);
	printf("\n  %-48s %7.2f\n", "flag 1000 messages (one transaction)",
	    (cpu() - t0) * 1000);
	struct store_changes c;
	t0 = cpu();
	if (store_changes(st, STORE_CHANGE_EMAIL, state, 0, &c, &err) != 1) {
		fprintf(stderr, "changes: %s\n", err);
		return 1;
	}
	printf("  %-48s %7.2f %7s %6zu\n", "Email/changes since (1000 updated)",
	    (cpu() - t0) * 1000, "", c.nupdated);
	store_changes_free(&c);
	free(uids);
	store_msgs_free(m, nm);
	store_folder_close(&inbox);
	store_close(&st);
	if (argc <= 2)
		rm_rf(top);
	free(root);
	return 0;
}
