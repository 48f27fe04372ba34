/* usage - post office usage notifications (manual 5.3.5)
 *
 * The usage of a post office is the sum of its mailboxes' incremental
 * quota usage (each mailbox's maildirsize, kept by lib-store at every
 * delivery and expunge; no tree walk). After a delivery into a post
 * office with usage_notify on and a usage_threshold, deliver compares:
 * at or over the threshold and usage_notified not set -> set it (one
 * UPDATE ... WHERE usage_notified = 0, so of concurrent workers exactly
 * one wins) and deliver ONE notice into usage_notify_mailbox (a mailbox
 * name of the post office, or an address routed to a mailbox; empty:
 * postmaster); below it with usage_notified set -> clear the flag, so the
 * next crossing notifies again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "postdeliver.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

/* usage_postoffice_bytes - sum of maildirsize usage of the mailboxes */
int
usage_postoffice_bytes(struct db *db, int64_t postoffice_id, int64_t *bytes_r,
		       int64_t *messages_r, const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r, "SELECT p.name, m.name FROM "
	    "mailbox m JOIN postoffice p ON p.id = m.postoffice_id WHERE "
	    "m.postoffice_id = ?", "i", postoffice_id);
	int64_t total = 0, count = 0;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = db_step(st, NULL)) == DB_ROW) {
		const char *po = db_col_text(st, 0);
		const char *mb = db_col_text(st, 1);
		char *root = dir_mailbox_path_names(db, po ? po : "", mb ? mb : "");
		int64_t b = 0, c = 0;
		const char *err = NULL;
		/* a mailbox never delivered to has no store yet: 0 */
		if (store_quota_usage(root, &b, &c, &err) == 0) {
			total += b;
			count += c;
		}
		free(root);
	}
	db_stmt_free(&st);
	if (rc != DB_DONE) {
		*error_r = "cannot list the mailboxes";
		return -1;
	}
	*bytes_r = total;
	if (messages_r != NULL)
		*messages_r = count;
	return 0;
}

/* notice_target - the mailbox to notify */
static int
notice_target(struct db *db, const char *po, const char *setting,
	      struct dir_mailbox *mb)
{
	const char *err = NULL;
	const char *name = *setting != '\0' ? setting : "postmaster";

	if (strchr(name, '@') != NULL) {
		struct dir_route route;
		if (dir_resolve(db, name, &route, &err) == DIR_RESOLVE_LOCAL &&
		    route.kind == DIR_KIND_MAILBOX)
			return dir_mailbox_get(db, route.target_id, mb, &err);
		return 0;
	}
	return dir_mailbox_find(db, po, name, mb, &err);
}

/* notice_deliver - the notice straight into the mailbox (system mail:
 * no quota, null sender) */
static int
notice_deliver(struct db *db, const struct dir_mailbox *mb, const char *po,
	       int64_t bytes, int64_t threshold_kb, const char **error_r)
{
	char date[64], *host = settings_hostname(db);
	time_t now = time(NULL);
	struct tm tm;
	struct buf m;
	char rnd[8];
	char *root = dir_mailbox_path(db, mb);
	struct store_delivery sd;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	random_bytes(rnd, sizeof(rnd));
	buf_init(&m, 0);
	buf_printf(&m, "Return-Path: <>\r\nFrom: Postern <postmaster@%s>\r\n"
	    "To: %s@%s\r\nSubject: Post office %s has reached its usage "
	    "threshold\r\nDate: %s\r\nMessage-ID: <usage.", host, mb->name, po,
	    po, date);
	for (size_t i = 0; i < sizeof(rnd); i++)
		buf_printf(&m, "%02x", (unsigned char)rnd[i]);
	buf_printf(&m, "@%s>\r\nAuto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "\r\nThe post office %s now uses %lld KB, which reaches its usage "
	    "threshold of %lld KB.\r\n\r\nThis notice is sent once; it is sent "
	    "again only after the usage has gone below the threshold and "
	    "reached it again.\r\n", host, po, (long long)(bytes / 1024),
	    (long long)threshold_kb);
	store_delivery_init(&sd);
	sd.data = m.data;
	sd.len = m.len;
	enum store_deliver_result r = store_deliver(root, &sd, NULL, error_r);
	buf_free(&m);
	free(root);
	free(host);
	return r == STORE_DELIVER_OK ? 0 : -1;
}

/* usage_check - notify once per crossing */
void
usage_check(struct db *db, const char *id, int64_t postoffice_id)
{
	const char *err = NULL;
	struct db_stmt *st = db_query_cached(db, &err, "SELECT name, usage_notify, "
	    "usage_threshold_kb, usage_notify_mailbox, usage_notified FROM "
	    "postoffice WHERE id = ?", "i", postoffice_id);
	char *po = NULL, *target = NULL;
	int64_t threshold = 0, bytes = 0;
	bool on = false, notified = false;

	if (st == NULL) {
		log_warnx("%s: usage check: %s", id, err);
		return;
	}
	if (db_step(st, NULL) == DB_ROW) {
		po = db_col_dup(st, 0);
		on = db_col_int(st, 1) != 0;
		threshold = db_col_int(st, 2);
		target = db_col_dup(st, 3);
		notified = db_col_int(st, 4) != 0;
	}
	db_stmt_free(&st);
	if (!on || threshold <= 0)
		goto out;
	if (usage_postoffice_bytes(db, postoffice_id, &bytes, NULL, &err) < 0) {
		log_warnx("%s: usage of post office %s: %s", id, po, err);
		goto out;
	}
	if (bytes < threshold * 1024) {
		if (notified && db_exec(db, &err, "UPDATE postoffice SET "
		    "usage_notified = 0 WHERE id = ?", "i", postoffice_id) == 0)
			log_info("%s: post office %s below its usage threshold "
			    "again (%lld KB): notification re-armed", id, po,
			    (long long)(bytes / 1024));
		goto out;
	}
	if (notified)
		goto out;
	if (db_exec(db, &err, "UPDATE postoffice SET usage_notified = 1 WHERE "
	    "id = ? AND usage_notified = 0", "i", postoffice_id) < 0) {
		log_warnx("%s: usage notification of %s: %s", id, po, err);
		goto out;
	}
	if (db_changes(db) != 1)
		goto out;   /* another worker notifies */
	struct dir_mailbox mb;
	if (notice_target(db, po, target, &mb) <= 0) {
		log_warnx("%s: post office %s reached its usage threshold "
		    "(%lld of %lld KB) but usage_notify_mailbox '%s' is not a "
		    "mailbox", id, po, (long long)(bytes / 1024),
		    (long long)threshold, target);
		goto out;
	}
	if (notice_deliver(db, &mb, po, bytes, threshold, &err) < 0) {
		log_warnx("%s: cannot deliver the usage notice to %s@%s: %s", id,
		    mb.name, mb.postoffice, err ? err : "error");
		/* let the next delivery try again */
		db_exec(db, &err, "UPDATE postoffice SET usage_notified = 0 WHERE "
		    "id = ?", "i", postoffice_id);
		goto out;
	}
	log_info("%s: post office %s reached its usage threshold (%lld of %lld "
	    "KB): notice delivered to %s@%s", id, po, (long long)(bytes / 1024),
	    (long long)threshold, mb.name, mb.postoffice);
out:
	free(po);
	free(target);
}
