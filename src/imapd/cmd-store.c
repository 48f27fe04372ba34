/* cmd-store - STORE (RFC 3501 6.4.6, RFC 7162 UNCHANGEDSINCE) */
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
#include "view.h"
#include "xalloc.h"

/* ---- STORE --------------------------------------------------------- */

void
cmd_store(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	const char *err;
	size_t *idx, nidx, i = 1;
	uint64_t unchanged = 0;
	unsigned flags;
	char *kw;

	if (n >= 2 && a[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &a[1];
		char *end;
		if (m->count != 2 || !imap_arg_is_atom(&m->list[0], "UNCHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM) {
			session_tagged(s, tag, "BAD", "Unknown STORE modifier");
			return;
		}
		unchanged = strtoull(m->list[1].str, &end, 10);
		if (*end != '\0') {
			session_tagged(s, tag, "BAD", "Invalid UNCHANGEDSINCE");
			return;
		}
		view_condstore(s);
		i++;
	}
	if (n != i + 2 || a[i].type != IMAP_ARG_ATOM) {
		session_tagged(s, tag, "BAD", "Syntax: STORE set [(UNCHANGEDSINCE n)] "
		    "[+-]FLAGS[.SILENT] flags");
		return;
	}
	const char *op = a[i].str;
	enum store_flag_op fop = STORE_FLAGS_SET;
	if (*op == '+') {
		fop = STORE_FLAGS_ADD;
		op++;
	} else if (*op == '-') {
		fop = STORE_FLAGS_REMOVE;
		op++;
	}
	bool silent = false;
	if (strcasecmp(op, "FLAGS.SILENT") == 0)
		silent = true;
	else if (strcasecmp(op, "FLAGS") != 0) {
		session_tagged(s, tag, "BAD", "Unknown STORE operation");
		return;
	}
	if (imap_flags_parse(&a[i + 1], &flags, &kw, &err) < 0) {
		session_tagged(s, tag, "BAD", "%s", err);
		return;
	}
	if (s->readonly) {
		free(kw);
		session_tagged(s, tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	view_sync(s, uid, NULL, 0);
	if (view_resolve(s, tag, &a[0], uid, &idx, &nidx) < 0) {
		free(kw);
		return;
	}
	uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
	size_t nu = 0;
	for (size_t k = 0; k < nidx; k++)
		if (!s->msgs[idx[k]].gone)
			uids[nu++] = s->msgs[idx[k]].uid;
	free(idx);
	if (nu > 0) {
		/* off the loop, with the other sessions' STOREs (writer.c) */
		writer_store(s, tag, uids, nu, fop, flags, kw && *kw ? kw :
		    (fop == STORE_FLAGS_SET ? "" : NULL), unchanged, uid, silent);
		free(kw);
		free(uids);
		return;
	}
	free(kw);
	store_reply(s, tag, uid, silent, unchanged, uids, 0, 0, NULL, 0, NULL);
	free(uids);
}

/* store_reply - see imapd.h */
void
store_reply(struct session *s, const char *tag, bool uid, bool silent,
	    uint64_t unchanged, const uint32_t *uids, size_t nu, int r,
	    uint32_t *failed, size_t nfailed, const char *err)
{
	if (r < 0) {
		log_warnx("%s: STORE: %s", s->sid, err ? err : "?");
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot change flags");
		return;
	}
	/* the targets are reported below (or not, .SILENT); others' changes
	 * by view_sync */
	view_sync(s, uid, uids, nu);
	if (!silent || unchanged) {
		for (size_t k = 0; k < s->nmsgs; k++)
			if (view_uid_in(uids, nu, s->msgs[k].uid) && !s->msgs[k].gone &&
			    !(failed && view_uid_in(failed, nfailed, s->msgs[k].uid)))
				report_flags(s, k);
	}
	if (nfailed > 0) {
		struct buf b;
		buf_init(&b, 0);
		qsort(failed, nfailed, sizeof(*failed), view_uid_cmp);
		if (!uid) {
			/* MODIFIED lists sequence numbers for STORE */
			for (size_t k = 0; k < nfailed; k++)
				for (size_t m = 0; m < s->nmsgs; m++)
					if (s->msgs[m].uid == failed[k])
						failed[k] = (uint32_t)(m + 1);
			qsort(failed, nfailed, sizeof(*failed), view_uid_cmp);
		}
		imap_seqset_format(&b, failed, nfailed);
		session_tagged(s, tag, "OK", "[MODIFIED %s] Conditional STORE "
		    "failed for some messages", b.data);
		buf_free(&b);
	} else {
		session_tagged(s, tag, "OK", "STORE completed");
	}
}
