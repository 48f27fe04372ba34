/* cmd-copy - COPY, MOVE (RFC 6851), EXPUNGE, CHECK, NOOP */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "strutil.h"
#include "train-store.h"
#include "view.h"
#include "xalloc.h"

/* ---- COPY / MOVE / EXPUNGE ----------------------------------------- */

static void
copy_move(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid, bool move)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err, *cmd = move ? "MOVE" : "COPY";
	size_t *idx, nidx;

	if (n != 2) {
		session_tagged(s, tag, "BAD", "Syntax: %s set mailbox", cmd);
		return;
	}
	if (mailbox_name(s, &a[1], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (move && s->readonly) {
		session_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	view_sync(s, uid || move, NULL, 0);
	if (view_resolve(s, tag, &a[0], uid, &idx, &nidx) < 0)
		return;
	if (store_folder_exists(s->mbox->st, name) != 1) {
		free(idx);
		session_tagged(s, tag, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
	size_t nu = 0;
	for (size_t i = 0; i < nidx; i++)
		if (!s->msgs[idx[i]].gone)
			uids[nu++] = s->msgs[idx[i]].uid;
	free(idx);
	if (nu == 0) {
		free(uids);
		session_tagged(s, tag, "OK", "%s completed (nothing to do)", cmd);
		return;
	}
	/* the links and the target directory's fsync on a worker thread;
	 * writer.c sends COPYUID (and MOVE's expunges) */
	/* into or out of Junk: rspamd learns (lib-filter, queued) */
	spam_learn_copy(s->d->svc->db, s->folder, name, uids, nu);
	writer_copy(s, tag, name, uids, nu, move, uid,
	    move ? 0 : mailbox_quota_kb(s));
	free(uids);
}

void
cmd_copy(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	copy_move(s, tag, a, n, uid, false);
}

void
cmd_move(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	copy_move(s, tag, a, n, uid, true);
}

void
cmd_expunge(struct session *s, const char *tag, const struct imap_arg *a,
	    size_t n, bool uid)
{
	if ((uid && n != 1) || (!uid && n != 0)) {
		session_tagged(s, tag, "BAD", uid ? "Syntax: UID EXPUNGE set" :
		    "Syntax: EXPUNGE");
		return;
	}
	if (s->readonly) {
		session_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (uid) {
		size_t *idx, nidx;
		view_sync(s, true, NULL, 0);
		if (view_resolve(s, tag, &a[0], true, &idx, &nidx) < 0)
			return;
		uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
		size_t nu = 0;
		for (size_t i = 0; i < nidx; i++)
			if (s->msgs[idx[i]].flags & STORE_DELETED)
				uids[nu++] = s->msgs[idx[i]].uid;
		free(idx);
		/* expunge only what is still \Deleted in the index; off the
		 * loop, with the other sessions' STOREs and EXPUNGEs */
		if (nu > 0)
			writer_expunge(s, tag, uids, nu);
		else
			expunge_reply(s, tag, 0, NULL);
		free(uids);
	} else {
		writer_expunge(s, tag, NULL, 0);
	}
}

/* expunge_reply - see imapd.h */
void
expunge_reply(struct session *s, const char *tag, int r, const char *err)
{
	if (r < 0) {
		log_warnx("%s: EXPUNGE: %s", s->sid, err ? err : "?");
		session_tagged(s, tag, "NO", "[SERVERBUG] EXPUNGE failed");
		return;
	}
	view_sync(s, true, NULL, 0);
	session_tagged(s, tag, "OK", "EXPUNGE completed");
}

void
cmd_check(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	view_sync(s, true, NULL, 0);
	session_tagged(s, tag, "OK", "CHECK completed");
}

void
cmd_noop(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	if (s->state == ST_SELECTED)
		view_sync(s, true, NULL, 0);
	session_tagged(s, tag, "OK", "NOOP completed");
}
