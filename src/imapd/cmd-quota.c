/* cmd-quota - GETQUOTAROOT, GETQUOTA, SETQUOTA (RFC 9208) and the
 * logged-in mailbox's quota */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory.h"
#include "imapd.h"
#include "log.h"
#include "xalloc.h"

/* mailbox_quota_kb - the current quota of the logged-in mailbox */
int64_t
mailbox_quota_kb(struct session *s)
{
	struct dir_mailbox mb;
	const char *err;

	if (dir_mailbox_get(s->d->svc->db, s->mailbox_id, &mb, &err) != 1)
		return 0;
	return mb.quota_kb;
}

/* quota_line - "* QUOTA "" (STORAGE used limit)" */
static int
quota_line(struct session *s, int64_t quota_kb)
{
	int64_t bytes = 0, count = 0;
	const char *err;

	if (store_quota_usage(s->mbox->root, &bytes, &count, &err) < 0) {
		log_warnx("%s: quota usage: %s", s->sid, err);
		return -1;
	}
	session_printf(s, "* QUOTA \"\" (STORAGE %lld %lld)\r\n",
	    (long long)((bytes + 1023) / 1024), (long long)quota_kb);
	return 0;
}

void
cmd_getquotaroot(struct session *s, const char *tag, const struct imap_arg *a,
		 size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	struct buf q;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: GETQUOTAROOT mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	int64_t quota = mailbox_quota_kb(s);
	buf_init(&q, 0);
	quote_name(s, &q, name);
	/* one quota root, "", for the whole mailbox; none when unlimited */
	session_printf(s, "* QUOTAROOT %s%s\r\n", q.data, quota > 0 ? " \"\"" : "");
	buf_free(&q);
	if (quota > 0 && quota_line(s, quota) < 0) {
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot read the usage");
		return;
	}
	session_tagged(s, tag, "OK", "GETQUOTAROOT completed");
}

void
cmd_getquota(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	if (n != 1 || imap_arg_astring(&a[0]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: GETQUOTA root");
		return;
	}
	int64_t quota = mailbox_quota_kb(s);
	if (a[0].str[0] != '\0' || quota <= 0) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	if (quota_line(s, quota) < 0) {
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot read the usage");
		return;
	}
	session_tagged(s, tag, "OK", "GETQUOTA completed");
}

void
cmd_setquota(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	session_tagged(s, tag, "NO", "[NOPERM] Quotas are set by the "
	    "administrator");
}
