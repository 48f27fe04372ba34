/* test-queue - queue items: envelope text, write/claim/done, recovery */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "queue.h"
#include "test.h"
#include "xalloc.h"

static char *
tempdir(void)
{
	char tmpl[] = "/tmp/postern-test-queue-XXXXXX";
	char *d = mkdtemp(tmpl);
	return xstrdup(d);
}

static void
test_env_roundtrip(void)
{
	struct queue_env env, back;
	struct buf b;
	const char *err;

	queue_env_init(&env, "0123456789ABCDEF");
	queue_env_set(&env.sender, "a b%c@x.test");
	queue_env_set(&env.auth_user, "bob@acme");
	queue_env_set(&env.origin, "acme");
	queue_env_set(&env.client_addr, "127.0.0.1");
	queue_env_set(&env.client_helo, "helo\nname");
	queue_env_set(&env.body_type, "8BITMIME");
	env.smtputf8 = true;
	env.hops = 3;
	env.bulk = true;
	struct queue_rcpt *r = queue_env_add_rcpt(&env, "alice@acme.test",
	    "rfc822;alice@acme.test", DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
	r->status = RCPT_DEFERRED;
	r->attempts = 2;
	r->next_attempt = 12345;
	r->last_error = xstrdup("451 4.3.0 try later");
	queue_env_add_rcpt(&env, "-", NULL, 0);
	buf_init(&b, 0);
	queue_env_format(&env, &b);
	CHECK(queue_env_parse(b.data, b.len, &back, &err) == 0);
	CHECK_STREQ(back.id, "0123456789ABCDEF");
	CHECK_STREQ(back.sender, "a b%c@x.test");
	CHECK_STREQ(back.client_helo, "helo\nname");
	CHECK_STREQ(back.origin, "acme");
	CHECK(back.envid == NULL);
	CHECK(back.smtputf8 && back.bulk && back.hops == 3);
	CHECK(back.nrcpts == 2);
	CHECK_STREQ(back.rcpts[0].orcpt, "rfc822;alice@acme.test");
	CHECK(back.rcpts[0].status == RCPT_DEFERRED);
	CHECK(back.rcpts[0].next_attempt == 12345);
	CHECK_STREQ(back.rcpts[0].last_error, "451 4.3.0 try later");
	CHECK_STREQ(back.rcpts[1].address, "-");
	CHECK(back.rcpts[1].orcpt == NULL);
	queue_env_free(&back);

	/* every truncation of a valid envelope is refused */
	for (size_t len = 0; len < b.len; len++) {
		int pr = queue_env_parse(b.data, len, &back, &err);
		CHECK(pr < 0);
		if (pr == 0)
			queue_env_free(&back);
	}
	CHECK(queue_env_parse("POSTERN-ENV 1\nid =../x\nend\n", 27, &back, &err) < 0);
	buf_free(&b);
	queue_env_free(&env);
}

/* version 1 envelopes (queued before "origin") are read, without an
 * origin; version 2 ones (before "relaynet") without smtpd's relay
 * network verdict; "origin" in version 1, "relaynet" in version 2 and
 * unknown versions are not */
static void
test_env_versions(void)
{
	static const char v1[] = "POSTERN-ENV 1\nid =0123456789ABCDEF\n"
	    "auth =bob@acme\nclient =local -\nend\n";
	static const char v1o[] = "POSTERN-ENV 1\nid =0123456789ABCDEF\n"
	    "origin =acme\nend\n";
	static const char v2[] = "POSTERN-ENV 2\nid =0123456789ABCDEF\n"
	    "origin =acme\nend\n";
	static const char v2r[] = "POSTERN-ENV 2\nid =0123456789ABCDEF\n"
	    "relaynet 1\nend\n";
	static const char v3[] = "POSTERN-ENV 3\nid =0123456789ABCDEF\n"
	    "client =192.0.2.1 -\nrelaynet 1\nend\n";
	static const char v3bad[] = "POSTERN-ENV 3\nid =0123456789ABCDEF\n"
	    "relaynet 2\nend\n";
	static const char v4[] = "POSTERN-ENV 4\nid =0123456789ABCDEF\nend\n";
	struct queue_env env;
	struct buf b;
	const char *err;

	CHECK(queue_env_parse(v1, strlen(v1), &env, &err) == 0);
	CHECK(env.origin == NULL);
	CHECK(env.relay_net == -1);
	CHECK_STREQ(env.auth_user, "bob@acme");
	buf_init(&b, 0);
	queue_env_format(&env, &b);
	CHECK(strncmp(b.data, "POSTERN-ENV 3\n", 14) == 0);
	CHECK(strstr(b.data, "\norigin -\n") != NULL);
	CHECK(strstr(b.data, "relaynet") == NULL);   /* not recorded */
	buf_free(&b);
	queue_env_free(&env);
	CHECK(queue_env_parse(v1o, strlen(v1o), &env, &err) < 0);
	CHECK(queue_env_parse(v2, strlen(v2), &env, &err) == 0);
	CHECK_STREQ(env.origin, "acme");
	CHECK(env.relay_net == -1);
	queue_env_free(&env);
	CHECK(queue_env_parse(v2r, strlen(v2r), &env, &err) < 0);
	CHECK(queue_env_parse(v3, strlen(v3), &env, &err) == 0);
	CHECK(env.relay_net == 1);
	buf_init(&b, 0);
	queue_env_format(&env, &b);
	CHECK(strstr(b.data, "\nrelaynet 1\n") != NULL);
	buf_free(&b);
	env.relay_net = 0;
	buf_init(&b, 0);
	queue_env_format(&env, &b);
	queue_env_free(&env);
	CHECK(queue_env_parse(b.data, b.len, &env, &err) == 0);
	CHECK(env.relay_net == 0);
	queue_env_free(&env);
	buf_free(&b);
	CHECK(queue_env_parse(v3bad, strlen(v3bad), &env, &err) < 0);
	CHECK(queue_env_parse(v4, strlen(v4), &env, &err) < 0);
}

static void
test_write_claim_done(void)
{
	char *root = tempdir(), *q = queue_path(root, "smtp", QUEUE_INBOUND);
	struct queue_writer *w;
	struct queue_env env;
	struct queue_item item;
	const char *err;
	char id[QUEUE_ID_MAX + 1];
	char **ids;
	size_t n;

	queue_new_id(id);
	CHECK(strlen(id) == QUEUE_ID_LEN);
	w = queue_writer_open(q, id, &err);
	CHECK(w != NULL);
	CHECK(queue_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20) == 0);
	CHECK(queue_writer_size(w) == 20);
	/* nothing is visible before commit */
	CHECK(queue_scan(q, &ids, &n) == 0 && n == 0);
	free(ids);
	queue_env_init(&env, id);
	queue_env_add_rcpt(&env, "alice@acme.test", NULL, 0);
	CHECK(queue_writer_commit(&w, &env, &err) == 0);
	CHECK(w == NULL);
	CHECK(queue_scan(q, &ids, &n) == 0 && n == 1);
	CHECK(n == 1 && strcmp(ids[0], id) == 0);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);

	CHECK(queue_claim(q, id, &item, &err) == 1);
	CHECK(item.env.nrcpts == 1);
	/* claimed: gone from new/, a second claim finds nothing */
	struct queue_item again;
	CHECK(queue_claim(q, id, &again, &err) == 0);
	item.env.rcpts[0].status = RCPT_DELIVERED;
	CHECK(queue_item_update(&item, &err) == 0);

	/* a crash now: recovery puts it back with the updated envelope */
	CHECK(queue_recover(q) == 0);
	queue_item_free(&item);
	CHECK(queue_claim(q, id, &item, &err) == 1);
	CHECK(item.env.rcpts[0].status == RCPT_DELIVERED);
	struct buf b;
	buf_init(&b, 0);
	CHECK(file_read(item.msg_path, &b) == 0);
	CHECK(b.len == 20);
	buf_free(&b);

	/* split into another queue by hard link, then done */
	char *q2 = queue_path(root, "sf", QUEUE_OUTGOING);
	snprintf(env.id, sizeof(env.id), "%s.1", id);
	CHECK(queue_put_file(q2, item.msg_path, &env, &err) == 0);
	CHECK(queue_item_done(&item, &err) == 0);
	queue_item_free(&item);
	CHECK(queue_scan(q, &ids, &n) == 0 && n == 0);
	free(ids);
	CHECK(queue_scan(q2, &ids, &n) == 0 && n == 1);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);

	/* bad mail keeps the item and a reason */
	char bid[QUEUE_ID_MAX + 4];
	snprintf(bid, sizeof(bid), "%s.1", id);
	CHECK(queue_claim(q2, bid, &item, &err) == 1);
	CHECK(queue_item_badmail(&item, root, "test reason", &err) == 0);
	char *reason = xasprintf("%s/badmail/%s.reason", root, bid);
	CHECK(access(reason, F_OK) == 0);
	free(reason);
	queue_item_free(&item);
	queue_env_free(&env);
	free(q);
	free(q2);
	rm_rf(root);
	free(root);
}

static void
test_orphans_and_abort(void)
{
	char *root = tempdir(), *q = queue_path(root, "smtp", QUEUE_INBOUND);
	const char *err;
	char id[QUEUE_ID_MAX + 1];
	char **ids;
	size_t n;

	queue_new_id(id);
	struct queue_writer *w = queue_writer_open(q, id, &err);
	CHECK(w != NULL);
	queue_writer_write(w, "x", 1);
	queue_writer_abort(&w);
	char *tm = xasprintf("%s/tmp/%s.msg", q, id);
	CHECK(access(tm, F_OK) < 0);
	free(tm);

	/* an old message without an envelope is an orphan */
	char *nm = xasprintf("%s/new/%s.msg", q, id);
	int fd = open(nm, O_WRONLY | O_CREAT, 0640);
	CHECK(fd >= 0);
	close(fd);
	struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	utimensat(AT_FDCWD, nm, old, 0);
	CHECK(queue_recover(q) == 0);
	CHECK(access(nm, F_OK) < 0);
	CHECK(queue_scan(q, &ids, &n) == 0 && n == 0);
	free(ids);
	free(nm);
	free(q);
	rm_rf(root);
	free(root);
}

/* put_claimed - a committed and claimed item of q with message text */
static void
put_claimed(const char *q, char *id, struct queue_item *item)
{
	struct queue_env env;
	const char *err;

	queue_new_id(id);
	struct queue_writer *w = queue_writer_open(q, id, &err);
	CHECK(w != NULL);
	queue_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20);
	queue_env_init(&env, id);
	queue_env_add_rcpt(&env, "alice@acme.test", NULL, 0);
	CHECK(queue_writer_commit(&w, &env, &err) == 0);
	queue_env_free(&env);
	CHECK(queue_claim(q, id, item, &err) == 1);
}

static size_t
scan_count(const char *q)
{
	char **ids;
	size_t n;

	if (queue_scan(q, &ids, &n) < 0)
		return (size_t)-1;
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return n;
}

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0640);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "x", 1) == 1);
		close(fd);
	}
}

static void
test_batch_and_journal(void)
{
	char *root = tempdir();
	char *q = queue_path(root, "smtp", QUEUE_INBOUND);
	char *q2 = queue_path(root, "sf", QUEUE_OUTGOING);
	char a[QUEUE_ID_MAX + 1], b[QUEUE_ID_MAX + 1];
	struct queue_item ia, ib;
	struct queue_env env;
	const char *err;

	put_claimed(q, a, &ia);
	put_claimed(q, b, &ib);
	struct queue_batch *bt = queue_batch_new();
	queue_env_init(&env, a);
	queue_env_add_rcpt(&env, "alice@acme.test", NULL, 0);
	CHECK(queue_batch_put_file(bt, 0, q2, ia.msg_path, &env, &err) == 0);
	/* the same item twice in one batch is refused */
	CHECK(queue_batch_put_file(bt, 0, q2, ia.msg_path, &env, &err) < 0);
	snprintf(env.id, sizeof(env.id), "%s", b);
	CHECK(queue_batch_put_file(bt, 1, q2, ib.msg_path, &env, &err) == 0);
	CHECK(queue_batch_size(bt) == 2);
	/* staged: nothing visible yet */
	CHECK(scan_count(q2) == 0);
	const char *items[2] = { a, b };
	struct queue_journal *jr = queue_journal_new(q);
	CHECK(queue_batch_commit(bt, jr, items, 2, &err) == 0);
	CHECK(queue_batch_ok(bt, 0) && queue_batch_ok(bt, 1));
	CHECK(scan_count(q2) == 2);
	char *jpath = xasprintf("%s/cur/retire.%ld", q, (long)getpid());
	CHECK(access(jpath, F_OK) == 0);
	/* a crash before the items are retired: the restart's recovery
	 * completes the journal, nothing is routed again */
	CHECK(queue_recover(q) == 0);
	CHECK(access(jpath, F_OK) < 0);
	CHECK(scan_count(q) == 0);
	CHECK(access(ia.env_path, F_OK) < 0 && access(ib.env_path, F_OK) < 0);
	CHECK(scan_count(q2) == 2);
	queue_journal_free(&jr);
	queue_batch_free(&bt);
	queue_item_free(&ia);
	queue_item_free(&ib);

	/* a journal whose moves were not made yet: made at the recovery;
	 * an item whose move cannot be proven is not retired (done again) */
	put_claimed(q, a, &ia);
	put_claimed(q, b, &ib);
	char *from = xasprintf("%s/tmp/moved-later", q2);
	char *to = xasprintf("%s/new/moved-later", q2);
	char *gone = xasprintf("%s/tmp/never-written", q2);
	char *gone_to = xasprintf("%s/new/never-written", q2);
	touch(from);
	jr = queue_journal_new(q);
	queue_journal_item(jr, a);
	queue_journal_move(jr, from, to, false, false);
	queue_journal_item(jr, b);
	queue_journal_move(jr, gone, gone_to, false, false);
	CHECK(queue_journal_write(jr, &err) == 0);
	CHECK(queue_recover(q) == 0);
	CHECK(access(to, F_OK) == 0 && access(from, F_OK) < 0);
	CHECK(scan_count(q) == 1);   /* b is back in new/, a is retired */
	queue_journal_free(&jr);
	queue_item_free(&ia);
	queue_item_free(&ib);
	CHECK(queue_claim(q, b, &ib, &err) == 1);
	CHECK(queue_item_done(&ib, &err) == 0);
	queue_item_free(&ib);

	/* a Maildir copy a client already took to cur/ proves its move; a
	 * truncated journal (no end line) retires nothing */
	put_claimed(q, a, &ia);
	char *md = xasprintf("%s/mbox", root);
	char *mdnew = xasprintf("%s/new", md), *mdcur = xasprintf("%s/cur", md);
	CHECK(mkdir_p(mdnew, 0700) == 0 && mkdir_p(mdcur, 0700) == 0);
	char *final = xasprintf("%s/123.M1P1.host,S=1", mdnew);
	char *taken = xasprintf("%s/123.M1P1.host,S=1:2,S", mdcur);
	char *mdtmp = xasprintf("%s/tmp-gone", md);
	touch(taken);
	jr = queue_journal_new(q);
	queue_journal_item(jr, a);
	queue_journal_move(jr, mdtmp, final, false, true);
	CHECK(queue_journal_write(jr, &err) == 0);
	CHECK(queue_recover(q) == 0);
	CHECK(scan_count(q) == 0 && access(ia.env_path, F_OK) < 0);
	queue_journal_free(&jr);
	queue_item_free(&ia);
	put_claimed(q, a, &ia);
	struct buf t;
	buf_init(&t, 0);
	buf_printf(&t, "POSTERN-RETIRE 1\nitem =%s\n", a);
	CHECK(file_write_atomic(jpath, t.data, t.len, 0640) == 0);
	buf_free(&t);
	CHECK(queue_recover(q) == 0);
	CHECK(scan_count(q) == 1 && access(jpath, F_OK) < 0);
	queue_item_free(&ia);

	queue_env_free(&env);
	free(from);
	free(to);
	free(gone);
	free(gone_to);
	free(md);
	free(mdnew);
	free(mdcur);
	free(final);
	free(taken);
	free(mdtmp);
	free(jpath);
	free(q);
	free(q2);
	rm_rf(root);
	free(root);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_env_roundtrip), TEST(test_env_versions),
		TEST(test_write_claim_done),
		TEST(test_orphans_and_abort), TEST(test_batch_and_journal),
		{ NULL, NULL }
	};
	return test_run(tests);
}
