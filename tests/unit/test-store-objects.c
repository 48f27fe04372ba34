/* test-store-objects - object ids, the change log and the query index of
 * lib-store (what IMAP OBJECTID and JMAP build on) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "test.h"
#include "xalloc.h"

static char *
tmp_root(void)
{
	char tmpl[] = "/tmp/test-store-obj.XXXXXX";
	char *d = mkdtemp(tmpl);

	return xasprintf("%s/po/mb", d);
}

static void
cleanup(char *root)
{
	char *top = xstrdup(root);
	*strrchr(top, '/') = '\0';
	*strrchr(top, '/') = '\0';
	rm_rf(top);
	free(top);
	free(root);
}

static uint32_t
put(struct store *st, const char *folder, const char *msgid,
    const char *refs, const char *from, const char *subject, time_t date)
{
	char *m = xasprintf("From: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
	    "%s%s%s\r\nbody %s\r\n", from, subject, msgid,
	    refs ? "References: " : "", refs ? refs : "", refs ? "\r\n" : "",
	    msgid);
	const char *err = NULL;
	uint32_t uid = 0;
	int r = store_append(st, folder, m, strlen(m), 0, NULL, date, 0, &uid,
	    NULL, &err);

	if (r != 0)
		fprintf(stderr, "append: %s\n", err);
	CHECK(r == 0);
	free(m);
	return uid;
}

static bool
has(char **v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], id) == 0)
			return true;
	return false;
}

/* ids: distinct per message, kept by COPY/MOVE and a rebuild; a reply
 * shares its original's thread */
static void
test_ids(void)
{
	char *root = tmp_root();
	const char *err = NULL;
	struct store *st = store_open(root, &err);
	struct store_folder *f;
	char e1[STORE_ID_MAX], t1[STORE_ID_MAX], e2[STORE_ID_MAX],
	    t2[STORE_ID_MAX], e3[STORE_ID_MAX], t3[STORE_ID_MAX],
	    x[STORE_ID_MAX], y[STORE_ID_MAX];
	uint32_t *nu = NULL, *su = NULL;
	size_t n = 0;

	CHECK(st != NULL);
	uint32_t u1 = put(st, "INBOX", "a@x", NULL, "A <a@x>", "Hello", 1000);
	uint32_t u2 = put(st, "INBOX", "b@x", "<a@x>", "B <b@x>", "Re: Hello",
	    2000);
	uint32_t u3 = put(st, "INBOX", "c@x", NULL, "C <c@x>", "Other", 3000);
	f = store_folder_open(st, "INBOX", &err);
	CHECK(f != NULL);
	CHECK(store_msg_ids(f, u1, e1, t1, &err) == 1);
	CHECK(store_msg_ids(f, u2, e2, t2, &err) == 1);
	CHECK(store_msg_ids(f, u3, e3, t3, &err) == 1);
	CHECK(store_msg_ids(f, 999, x, y, &err) == 0);
	CHECK(store_id_valid(e1, 'M') && store_id_valid(t1, 'T'));
	CHECK(strcmp(e1, e2) != 0 && strcmp(e1, e3) != 0);
	CHECK_STREQ(t1, t2);             /* the reply */
	CHECK(strcmp(t1, t3) != 0);
	CHECK(store_id_valid(store_folder_mailboxid(f), 'F'));
	uint32_t nth = 0, nun = 0;
	CHECK(store_folder_thread_counts(f, &nth, &nun, &err) == 0);
	CHECK(nth == 2 && nun == 2);
	CHECK(store_flags_update(f, &u3, 1, STORE_FLAGS_ADD, STORE_SEEN, NULL,
	    0, NULL, NULL, &err) == 0);
	CHECK(store_folder_thread_counts(f, &nth, &nun, &err) == 0);
	CHECK(nth == 2 && nun == 1);

	/* COPY keeps the id (one email, two mailboxes); MOVE too */
	CHECK(store_copy(f, &u1, 1, "Archive", false, 0, &su, &nu, &n, NULL,
	    &err) == 0);
	CHECK(n == 1);
	struct store_folder *a = store_folder_open(st, "Archive", &err);
	CHECK(store_msg_ids(a, nu[0], x, y, &err) == 1);
	CHECK_STREQ(x, e1);
	CHECK_STREQ(y, t1);
	struct store_email em;
	CHECK(store_email_get(st, e1, &em, &err) == 1);
	CHECK(em.nplaces == 2);
	CHECK_STREQ(em.threadid, t1);
	store_email_clear(&em);
	free(nu);
	free(su);
	CHECK(store_copy(f, &u3, 1, "Trash", true, 0, &su, &nu, &n, NULL,
	    &err) == 0);
	struct store_folder *tr = store_folder_open(st, "Trash", &err);
	CHECK(store_msg_ids(tr, nu[0], x, y, &err) == 1);
	CHECK_STREQ(x, e3);
	CHECK(store_msg_ids(f, u3, x, y, &err) == 0);
	free(nu);
	free(su);
	/* a copy into its own folder is a new email */
	CHECK(store_copy(f, &u2, 1, "INBOX", false, 0, &su, &nu, &n, NULL,
	    &err) == 0);
	CHECK(store_msg_ids(f, nu[0], x, y, &err) == 1);
	CHECK(strcmp(x, e2) != 0);
	CHECK_STREQ(y, t2);
	free(nu);
	free(su);
	char **tv = NULL;
	CHECK(store_thread_get(st, t1, &tv, &n, &err) == 0);
	CHECK(n == 3 && has(tv, n, e1) && has(tv, n, e2) && has(tv, n, x));
	for (size_t i = 0; i < n; i++)
		free(tv[i]);
	free(tv);
	char mbid[STORE_ID_MAX], *name = NULL;
	snprintf(mbid, sizeof(mbid), "%s", store_folder_mailboxid(a));
	store_folder_close(&a);
	store_folder_close(&tr);
	store_folder_close(&f);

	/* rename keeps the mailbox id */
	CHECK(store_folder_rename(st, "Archive", "Old", &err) == 0);
	CHECK(store_mailbox_find(st, mbid, &name, &err) == 1);
	CHECK_STREQ(name, "Old");
	free(name);
	store_close(&st);

	/* a rebuild (the index gone) gives the same ids back */
	char *idx = xasprintf("%s/postern-index.db", root);
	char *wal = xasprintf("%s/postern-index.db-wal", root);
	char *shm = xasprintf("%s/postern-index.db-shm", root);
	unlink(idx);
	unlink(wal);
	unlink(shm);
	free(idx);
	free(wal);
	free(shm);
	st = store_open(root, &err);
	CHECK(st != NULL);
	CHECK(store_email_get(st, e1, &em, &err) == 1);
	CHECK(em.nplaces == 2);
	CHECK_STREQ(em.threadid, t1);
	CHECK(strcmp(em.places[0].mailboxid, em.places[1].mailboxid) != 0);
	CHECK(has((char *[]){ em.places[0].mailboxid, em.places[1].mailboxid },
	    2, mbid));
	store_email_clear(&em);
	CHECK(store_email_get(st, e3, &em, &err) == 1);
	CHECK(em.nplaces == 1 && strcmp(em.places[0].folder, "Trash") == 0);
	store_email_clear(&em);
	name = NULL;
	CHECK(store_mailbox_find(st, mbid, &name, &err) == 1);
	CHECK_STREQ(name, "Old");
	free(name);
	store_close(&st);
	cleanup(root);
}

/* the change log: created/updated/destroyed since a state, a bounded
 * walk, and "cannot calculate" for a foreign, trimmed or rebuilt state */
static void
test_changes(void)
{
	char *root = tmp_root();
	const char *err = NULL;
	struct store *st = store_open(root, &err);
	char s0[STORE_STATE_MAX], m0[STORE_STATE_MAX], t0[STORE_STATE_MAX];
	char e1[STORE_ID_MAX], e2[STORE_ID_MAX], th[STORE_ID_MAX];
	struct store_changes c;
	struct store_folder *f;

	CHECK(st != NULL);
	CHECK(store_state(st, STORE_CHANGE_EMAIL, s0, &err) == 0);
	CHECK(store_state(st, STORE_CHANGE_MAILBOX, m0, &err) == 0);
	CHECK(store_state(st, STORE_CHANGE_THREAD, t0, &err) == 0);
	uint32_t u1 = put(st, "INBOX", "1@x", NULL, "A <a@x>", "one", 10);
	uint32_t u2 = put(st, "INBOX", "2@x", NULL, "A <a@x>", "two", 20);
	f = store_folder_open(st, "INBOX", &err);
	CHECK(store_msg_ids(f, u1, e1, th, &err) == 1);
	CHECK(store_msg_ids(f, u2, e2, th, &err) == 1);

	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s0, 0, &c, &err) == 1);
	CHECK(c.ncreated == 2 && c.nupdated == 0 && c.ndestroyed == 0);
	CHECK(has(c.created, c.ncreated, e1) && has(c.created, c.ncreated, e2));
	CHECK(!c.has_more);
	char s1[STORE_STATE_MAX];
	snprintf(s1, sizeof(s1), "%s", c.new_state);
	CHECK(strcmp(s1, s0) != 0);
	store_changes_free(&c);
	/* nothing since the new state */
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s1, 0, &c, &err) == 1);
	CHECK(c.ncreated + c.nupdated + c.ndestroyed == 0);
	CHECK_STREQ(c.new_state, s1);
	store_changes_free(&c);
	/* maxChanges: one id at a time, then the rest */
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s0, 1, &c, &err) == 1);
	CHECK(c.ncreated == 1 && c.has_more);
	char mid[STORE_STATE_MAX];
	snprintf(mid, sizeof(mid), "%s", c.new_state);
	store_changes_free(&c);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, mid, 1, &c, &err) == 1);
	CHECK(c.ncreated == 1 && !c.has_more);
	CHECK_STREQ(c.new_state, s1);
	store_changes_free(&c);

	/* flags: updated; \Seen also updates the mailbox (its counts) */
	CHECK(store_flags_update(f, &u1, 1, STORE_FLAGS_ADD, STORE_SEEN, NULL,
	    0, NULL, NULL, &err) == 0);
	/* expunge: destroyed */
	CHECK(store_expunge(f, &u2, 1, NULL, NULL, &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s1, 0, &c, &err) == 1);
	CHECK(c.ncreated == 0 && c.nupdated == 1 && c.ndestroyed == 1);
	CHECK(has(c.updated, c.nupdated, e1));
	CHECK(has(c.destroyed, c.ndestroyed, e2));
	store_changes_free(&c);
	/* created and destroyed in the window: in no list */
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s0, 0, &c, &err) == 1);
	CHECK(c.ncreated == 1 && has(c.created, c.ncreated, e1));
	CHECK(c.ndestroyed == 0 && c.nupdated == 0);
	store_changes_free(&c);
	/* threads: both made, one gone */
	CHECK(store_changes(st, STORE_CHANGE_THREAD, t0, 0, &c, &err) == 1);
	CHECK(c.ncreated == 1 && c.ndestroyed == 0);
	store_changes_free(&c);
	/* mailboxes: a new folder, INBOX's counts */
	CHECK(store_folder_create(st, "Work", &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_MAILBOX, m0, 0, &c, &err) == 1);
	CHECK(c.ncreated == 1 && c.nupdated == 1);
	CHECK(has(c.updated, c.nupdated, store_folder_mailboxid(f)));
	CHECK(c.counts_only);
	store_changes_free(&c);
	/* a subscription is more than counts */
	CHECK(store_folder_subscribe(st, "INBOX", false, &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_MAILBOX, m0, 0, &c, &err) == 1);
	CHECK(c.nupdated == 1 && !c.counts_only);
	store_changes_free(&c);
	CHECK(store_state(st, STORE_CHANGE_MAILBOX, m0, &err) == 0);
	CHECK(store_folder_delete(st, "Work", &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_MAILBOX, m0, 0, &c, &err) == 1);
	CHECK(c.ndestroyed == 1 && c.ncreated == 0);
	store_changes_free(&c);

	/* not a state of this index */
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, "junk", 0, &c, &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, "0-1", 0, &c, &err) == 0);
	/* trimmed past the state */
	CHECK(store_changes_trim(st, 1, &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s0, 0, &c, &err) == 0);
	CHECK(strstr(err, "trimmed") != NULL);
	char s2[STORE_STATE_MAX];
	CHECK(store_state(st, STORE_CHANGE_EMAIL, s2, &err) == 0);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s2, 0, &c, &err) == 1);
	store_changes_free(&c);
	store_folder_close(&f);
	store_close(&st);
	/* a rebuilt index: states of the old one cannot be calculated */
	char *idx = xasprintf("%s/postern-index.db", root);
	char *wal = xasprintf("%s/postern-index.db-wal", root);
	unlink(idx);
	unlink(wal);
	free(idx);
	free(wal);
	st = store_open(root, &err);
	CHECK(st != NULL);
	CHECK(store_changes(st, STORE_CHANGE_EMAIL, s2, 0, &c, &err) == 0);
	store_close(&st);
	cleanup(root);
}

/* the query index: sort keys, filters, windows, each email once */
static void
test_query(void)
{
	char *root = tmp_root();
	const char *err = NULL;
	struct store *st = store_open(root, &err);
	struct store_query q;
	struct store_query_result r;
	struct store_folder *f;
	char ea[STORE_ID_MAX], eb[STORE_ID_MAX], ec[STORE_ID_MAX],
	    th[STORE_ID_MAX];

	CHECK(st != NULL);
	uint32_t ua = put(st, "INBOX", "a@x", NULL, "\"Zed\" <z@x>",
	    "Re: [list] banana", 300);
	uint32_t ub = put(st, "INBOX", "b@x", NULL, "adam@x", "apple", 100);
	uint32_t uc = put(st, "Sent", "c@x", NULL,
	    "=?utf-8?q?Mia?= <m@x>", "Fwd: cherry", 200);
	f = store_folder_open(st, "INBOX", &err);
	CHECK(store_msg_ids(f, ua, ea, th, &err) == 1);
	CHECK(store_msg_ids(f, ub, eb, th, &err) == 1);
	struct store_folder *sent = store_folder_open(st, "Sent", &err);
	CHECK(store_msg_ids(sent, uc, ec, th, &err) == 1);

	memset(&q, 0, sizeof(q));
	q.sort = STORE_SORT_DATE;
	q.want_total = true;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 3 && r.total == 3);
	CHECK_STREQ(r.ids[0].emailid, eb);
	CHECK_STREQ(r.ids[1].emailid, ec);
	CHECK_STREQ(r.ids[2].emailid, ea);
	store_query_result_free(&r);
	q.descending = true;
	q.position = 1;
	q.limit = 1;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 1 && r.total == 3);
	CHECK_STREQ(r.ids[0].emailid, ec);
	store_query_result_free(&r);
	/* subject: base subjects apple < banana < cherry */
	memset(&q, 0, sizeof(q));
	q.sort = STORE_SORT_SUBJECT;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 3);
	CHECK_STREQ(r.ids[0].emailid, eb);
	CHECK_STREQ(r.ids[1].emailid, ea);
	CHECK_STREQ(r.ids[2].emailid, ec);
	store_query_result_free(&r);
	/* from: adam@x < mia (decoded) < zed */
	q.sort = STORE_SORT_FROM;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 3);
	CHECK_STREQ(r.ids[0].emailid, eb);
	CHECK_STREQ(r.ids[1].emailid, ec);
	CHECK_STREQ(r.ids[2].emailid, ea);
	store_query_result_free(&r);
	/* a folder, and flags and keywords */
	CHECK(store_flags_update(f, &ua, 1, STORE_FLAGS_ADD, STORE_FLAGGED,
	    "$Important", 0, NULL, NULL, &err) == 0);
	memset(&q, 0, sizeof(q));
	q.mailboxid = store_folder_mailboxid(f);
	q.sort = STORE_SORT_SIZE;
	q.want_total = true;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 2 && r.total == 2);
	store_query_result_free(&r);
	q.flags_all = STORE_FLAGGED;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 1 && r.total == 1);
	CHECK_STREQ(r.ids[0].emailid, ea);
	store_query_result_free(&r);
	q.flags_all = 0;
	q.flags_none = STORE_FLAGGED;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 1);
	CHECK_STREQ(r.ids[0].emailid, eb);
	store_query_result_free(&r);
	q.flags_none = 0;
	q.keyword = "$important";
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 1);
	CHECK_STREQ(r.ids[0].emailid, ea);
	store_query_result_free(&r);
	q.keyword = NULL;
	q.not_keyword = "$Important";
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 1);
	CHECK_STREQ(r.ids[0].emailid, eb);
	store_query_result_free(&r);
	/* a copy is one email account-wide, two rows in their folders */
	CHECK(store_copy(f, &ub, 1, "Archive", false, 0, NULL, NULL, NULL,
	    NULL, &err) == 0);
	memset(&q, 0, sizeof(q));
	q.want_total = true;
	CHECK(store_query(st, &q, &r, &err) == 1);
	CHECK(r.n == 3 && r.total == 3);
	store_query_result_free(&r);
	q.mailboxid = "Fnosuchmailbox00";
	CHECK(store_query(st, &q, &r, &err) == 0);
	store_folder_close(&sent);
	store_folder_close(&f);
	store_close(&st);
	cleanup(root);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_ids),
		TEST(test_changes),
		TEST(test_query),
		{ 0 },
	};

	store_library_init();
	return test_run(tests);
}
