/* test-dsn - RFC 3464 notices: content, NOTIFY, RET, null sender, queueing */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "dsn.h"
#include "fsutil.h"
#include "queue.h"
#include "settings.h"
#include "test.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/test-dsn-XXXXXX";

static char *write_original(void)
{
	char *path = path_join(tmpdir, "orig.msg");
	const char *m = "From: alice@acme.test\r\nTo: bob@remote.test\r\n"
			"Subject: hello\r\n\r\nsecret body line\r\n";

	file_write_atomic(path, m, strlen(m), 0600);
	return path;
}

static void env_fill(struct queue_env *env)
{
	queue_env_init(env, "0123456789ABCDEF");
	queue_env_set(&env->sender, "alice@acme.test");
	queue_env_set(&env->envid, "ENV-42");
}

static void test_wanted_status(void)
{
	char s[16];

	CHECK(dsn_wanted(0, DSN_ACTION_FAILED));
	CHECK(dsn_wanted(0, DSN_ACTION_DELAYED));
	CHECK(!dsn_wanted(0, DSN_ACTION_DELIVERED));
	CHECK(!dsn_wanted(DSN_NOTIFY_NEVER, DSN_ACTION_FAILED));
	CHECK(!dsn_wanted(DSN_NOTIFY_FAILURE, DSN_ACTION_DELAYED));
	CHECK(dsn_wanted(DSN_NOTIFY_FAILURE, DSN_ACTION_FAILED));
	CHECK(dsn_wanted(DSN_NOTIFY_SUCCESS, DSN_ACTION_RELAYED));
	CHECK(dsn_wanted(DSN_NOTIFY_DELAY | DSN_NOTIFY_SUCCESS, DSN_ACTION_DELAYED));

	dsn_status_from_reply("550 5.1.1 no such user", s, sizeof(s));
	CHECK_STREQ(s, "5.1.1");
	dsn_status_from_reply("550 no such user", s, sizeof(s));
	CHECK_STREQ(s, "5.0.0");
	dsn_status_from_reply("451 4.7.1 greylisted", s, sizeof(s));
	CHECK_STREQ(s, "4.7.1");
	dsn_status_from_reply("550 4.1.1 class mismatch", s, sizeof(s));
	CHECK_STREQ(s, "5.0.0");
	dsn_status_from_reply("552 5.3.4", s, sizeof(s));
	CHECK_STREQ(s, "5.3.4");
	dsn_status_from_reply("552 5.3.4444 x", s, sizeof(s));
	CHECK_STREQ(s, "5.0.0");
	/* found by fuzz-dsn: a 3xx reply's "3.x.x" is no DSN status */
	dsn_status_from_reply("326 3.3.3", s, sizeof(s));
	CHECK_STREQ(s, "4.0.0");
	dsn_status_from_reply("garbage", s, sizeof(s));
	CHECK_STREQ(s, "4.0.0");
	dsn_status_from_reply(NULL, s, sizeof(s));
	CHECK_STREQ(s, "4.0.0");
}

static void test_build_failed(void)
{
	struct queue_env env;
	char *orig = write_original();
	struct dsn_rcpt rc[3] = {
		{ .address = "bob@remote.test", .orcpt = "rfc822;Bob@Remote.test",
		  .action = DSN_ACTION_FAILED,
		  .diagnostic = "550 5.1.1 <bob@remote.test>: unknown\r\nuser",
		  .remote_mta = "mx.remote.test", .last_attempt = 1700000000 },
		{ .address = "quiet@remote.test", .notify = DSN_NOTIFY_NEVER,
		  .action = DSN_ACTION_FAILED, .diagnostic = "550 no" },
		{ .address = "later@remote.test", .action = DSN_ACTION_DELAYED,
		  .diagnostic = "451 4.4.1 try later", .will_retry_until = 1700100000 },
	};
	struct dsn_report rep = { &env, orig, rc, 3 };
	struct buf out;
	const char *err = NULL;

	env_fill(&env);
	buf_init(&out, 0);
	CHECK_INTEQ(dsn_build(&rep, "mx.postern.test", "postmaster@mx.postern.test",
			      "id@mx", 1700000100, &out, &err), 1);
	CHECK(strstr(out.data, "Content-Type: multipart/report; report-type=delivery-status;") != NULL);
	CHECK(strstr(out.data, "To: <alice@acme.test>\r\n") != NULL);
	CHECK(strstr(out.data, "From: Mail Delivery System <postmaster@mx.postern.test>\r\n") != NULL);
	CHECK(strstr(out.data, "Auto-Submitted: auto-replied\r\n") != NULL);
	CHECK(strstr(out.data, "Reporting-MTA: dns; mx.postern.test\r\n") != NULL);
	CHECK(strstr(out.data, "Original-Envelope-Id: ENV-42\r\n") != NULL);
	CHECK(strstr(out.data, "Original-Recipient: rfc822;Bob@Remote.test\r\n") != NULL);
	CHECK(strstr(out.data, "Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n") != NULL);
	CHECK(strstr(out.data, "Remote-MTA: dns; mx.remote.test\r\n") != NULL);
	/* the CRLF inside the diagnostic cannot inject a header */
	CHECK(strstr(out.data, "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: unknown  user\r\n") != NULL);
	CHECK(strstr(out.data, "quiet@remote.test") == NULL);    /* NOTIFY=NEVER */
	CHECK(strstr(out.data, "Action: delayed\r\nStatus: 4.4.1\r\n") != NULL);
	CHECK(strstr(out.data, "Will-Retry-Until: ") != NULL);
	CHECK(strstr(out.data, "Content-Type: message/rfc822\r\n") != NULL);
	CHECK(strstr(out.data, "secret body line") != NULL);
	buf_free(&out);

	/* RET=HDRS: the header only */
	queue_env_set(&env.ret, "HDRS");
	buf_init(&out, 0);
	CHECK_INTEQ(dsn_build(&rep, "h", "p@h", "id@h", 1, &out, &err), 1);
	CHECK(strstr(out.data, "Content-Type: text/rfc822-headers\r\n") != NULL);
	CHECK(strstr(out.data, "Subject: hello") != NULL);
	CHECK(strstr(out.data, "secret body line") == NULL);
	buf_free(&out);

	/* nobody asked: nothing built */
	rc[0].notify = DSN_NOTIFY_NEVER;
	rc[2].notify = DSN_NOTIFY_FAILURE;
	buf_init(&out, 0);
	CHECK_INTEQ(dsn_build(&rep, "h", "p@h", "id@h", 1, &out, &err), 0);
	CHECK_INTEQ(out.len, 0);
	buf_free(&out);
	queue_env_free(&env);
	free(orig);
}

static void test_send(void)
{
	struct db *db = NULL;
	const char *err = NULL;
	char *root = path_join(tmpdir, "root"), *orig = write_original();
	char *qpath, newid[QUEUE_ID_MAX + 1], **ids = NULL;
	struct queue_env env;
	struct dsn_rcpt rc = { .address = "bob@remote.test",
			       .action = DSN_ACTION_FAILED,
			       .diagnostic = "550 5.1.1 unknown",
			       .remote_mta = "mx.remote.test" };
	struct dsn_report rep = { &env, orig, &rc, 1 };
	struct queue_item item;
	size_t n = 0;

	{
		char *cfg = path_join(root, "config");

		mkdir_p(cfg, 0700);
		free(cfg);
	}
	CHECK(db_open(root, true, &db, &err) == 0);
	if (db == NULL) {
		fprintf(stderr, "db: %s\n", err);
		free(root);
		free(orig);
		return;
	}
	settings_set(db, "server.hostname", "mx.postern.test", &err);
	qpath = path_join(tmpdir, "q");
	env_fill(&env);
	CHECK_INTEQ(dsn_send(db, qpath, &rep, newid, &err), DSN_QUEUED);
	CHECK(queue_scan(qpath, &ids, &n) == 0);
	CHECK_INTEQ(n, 1);
	if (n == 1) {
		CHECK_STREQ(ids[0], newid);
		CHECK_INTEQ(queue_claim(qpath, ids[0], &item, &err), 1);
		CHECK_STREQ(item.env.sender, "");
		CHECK(item.env.bulk);
		CHECK_INTEQ(item.env.nrcpts, 1);
		CHECK_STREQ(item.env.rcpts[0].address, "alice@acme.test");
		CHECK_INTEQ(item.env.rcpts[0].notify, DSN_NOTIFY_NEVER);
		queue_item_free(&item);
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);

	/* never bounce a bounce */
	queue_env_set(&env.sender, "");
	CHECK_INTEQ(dsn_send(db, qpath, &rep, newid, &err), DSN_UNRETURNABLE);
	rc.action = DSN_ACTION_DELAYED;
	CHECK_INTEQ(dsn_send(db, qpath, &rep, newid, &err), DSN_SUPPRESSED);
	/* bulk mail is not returned either */
	queue_env_set(&env.sender, "list-bounces@acme.test");
	env.bulk = true;
	rc.action = DSN_ACTION_FAILED;
	CHECK_INTEQ(dsn_send(db, qpath, &rep, newid, &err), DSN_UNRETURNABLE);
	env.bulk = false;
	rc.notify = DSN_NOTIFY_NEVER;
	CHECK_INTEQ(dsn_send(db, qpath, &rep, newid, &err), DSN_SUPPRESSED);

	queue_env_free(&env);
	db_close(&db);
	free(qpath);
	free(root);
	free(orig);
}

int main(void)
{
	static const struct test tests[] = {
		TEST(test_wanted_status),
		TEST(test_build_failed),
		TEST(test_send),
		{ NULL, NULL },
	};
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rc = test_run(tests);
	rm_rf(tmpdir);
	return rc;
}
