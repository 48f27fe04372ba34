/* test-posting - the staged copies of a list post (src/listserv/posting.c):
 * a crash while staging starts over, a crash while handing over finishes
 * the move, and no copy is moved twice */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "posting.h"
#include "queue.h"
#include "test.h"
#include "xalloc.h"

static char root[256];

static void
put(const char *q, const char *id)
{
	struct queue_env env;
	const char *err = NULL;
	queue_env_init(&env, id);
	queue_env_set(&env.sender, "news-bounces@acme.test");
	queue_env_add_rcpt(&env, "m@remote.test", NULL, 0);
	struct queue_writer *w = queue_writer_open(q, id, &err);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: x\r\n\r\nx\r\n", 17) == 0);
	CHECK(queue_writer_commit(&w, &env, &err) == 0);
	queue_env_free(&env);
}

static size_t
count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_stage_and_hand_over(void)
{
	const char *err = NULL;
	char *dir = xasprintf("%s/posting", root);
	char *inbound = xasprintf("%s/inbound", root);
	char *inew = xasprintf("%s/new", inbound);
	size_t moved;
	CHECK(queue_ensure(inbound) == 0);
	CHECK_INTEQ(posting_state(dir, "00000000000000AA"), POSTING_NONE);

	/* staging cut short: partial, and a new start wipes it */
	char *q = posting_begin(dir, "00000000000000AA", &err);
	CHECK(q != NULL);
	put(q, "00000000000000AA.1");
	CHECK_INTEQ(posting_state(dir, "00000000000000AA"), POSTING_PARTIAL);
	free(q);
	q = posting_begin(dir, "00000000000000AA", &err);
	char *qnew = xasprintf("%s/new", q);
	CHECK_INTEQ(count(qnew, ".env"), 0);
	for (int i = 1; i <= 3; i++) {
		char id[QUEUE_ID_MAX + 1];
		snprintf(id, sizeof(id), "00000000000000AA.%d", i);
		put(q, id);
	}
	CHECK(posting_complete(dir, "00000000000000AA", &err) == 0);
	CHECK_INTEQ(posting_state(dir, "00000000000000AA"), POSTING_COMPLETE);

	/* a hand-over cut short: one copy moved whole, one only its message */
	char *sm = xasprintf("%s/00000000000000AA.1.msg", qnew);
	char *se = xasprintf("%s/00000000000000AA.1.env", qnew);
	char *dm = xasprintf("%s/00000000000000AA.1.msg", inew);
	char *de = xasprintf("%s/00000000000000AA.1.env", inew);
	CHECK(rename(sm, dm) == 0 && rename(se, de) == 0);
	free(sm);
	free(dm);
	sm = xasprintf("%s/00000000000000AA.2.msg", qnew);
	dm = xasprintf("%s/00000000000000AA.2.msg", inew);
	CHECK(rename(sm, dm) == 0);
	/* the next attempt moves the two left, the first not again */
	CHECK(posting_hand_over(dir, "00000000000000AA", inbound, &moved, &err) == 0);
	CHECK_INTEQ(moved, 2);
	CHECK_INTEQ(count(inew, ".env"), 3);
	CHECK_INTEQ(count(inew, ".msg"), 3);
	CHECK_INTEQ(count(qnew, ".env") + count(qnew, ".msg"), 0);
	CHECK(posting_hand_over(dir, "00000000000000AA", inbound, &moved, &err) == 0);
	CHECK_INTEQ(moved, 0);
	CHECK_INTEQ(count(inew, ".env"), 3);

	/* done: removed; the gc keeps what is young */
	posting_remove(dir, "00000000000000AA");
	CHECK_INTEQ(posting_state(dir, "00000000000000AA"), POSTING_NONE);
	free(q);
	q = posting_begin(dir, "00000000000000BB", &err);
	posting_gc(dir, 3600);
	CHECK_INTEQ(posting_state(dir, "00000000000000BB"), POSTING_PARTIAL);
	posting_gc(dir, -1);
	CHECK_INTEQ(posting_state(dir, "00000000000000BB"), POSTING_NONE);
	/* names that are not queue ids are refused */
	CHECK(posting_begin(dir, "../x", &err) == NULL);
	CHECK_INTEQ(posting_state(dir, ".."), POSTING_NONE);
	free(q);
	free(qnew);
	free(sm);
	free(se);
	free(dm);
	free(de);
	free(dir);
	free(inbound);
	free(inew);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_stage_and_hand_over),
		{ NULL, NULL },
	};
	snprintf(root, sizeof(root), "/tmp/postern-test-posting-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	int r = test_run(tests);
	rm_rf(root);
	return r;
}
