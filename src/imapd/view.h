#ifndef POSTERN_IMAPD_VIEW_H
#define POSTERN_IMAPD_VIEW_H

/* view - the selected folder as one session sees it (view.c): message
 * sequence numbers, \Recent, and the reports of what other sessions
 * changed (EXISTS, EXPUNGE, FETCH FLAGS) */

#include "imapd.h"

/* one message of the selected folder as this session sees it */
struct view_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	uint64_t size;
	time_t idate;
	char *kw;           /* NULL: no keywords */
	bool gone;          /* expunged, not reported yet */
};

/* view_load - fill the view of a freshly selected folder */
int view_load(struct session *s, const char **error_r);
/* view_sync - pick up changes and report them (EXISTS, EXPUNGE, FETCH
 * FLAGS); expunges held back when allow_expunge is false. silent_uids
 * (sorted, may be NULL) are left out of FETCH reports. */
void view_sync(struct session *s, bool allow_expunge,
	       const uint32_t *silent_uids, size_t nsilent);
void view_free(struct session *s);
/* view_compact - entering IDLE: keep only the UIDs (after reporting what
 * changed); view_compact_sync reports changes in that state, view_expand
 * rebuilds the full view when IDLE ends, reporting what changed meanwhile */
void view_compact(struct session *s);
void view_compact_sync(struct session *s);
void view_expand(struct session *s);
/* report_flags - "* n FETCH (UID u FLAGS (...) [MODSEQ (m)])" */
void report_flags(struct session *s, size_t idx);
/* vanished_earlier - QRESYNC: "* VANISHED (EARLIER) uids" of the UID set
 * (NULL: any) expunged after modseq */
void vanished_earlier(struct session *s, const char *set, uint64_t modseq);
/* flags_format - "(\Seen \Recent kw ...)"; recent adds \Recent */
void flags_format(struct buf *out, unsigned flags, const char *kw,
		  bool recent);
/* session_recent - whether uid is \Recent in this session (never for an
 * IMAP4rev2 session: RFC 9051 removed it); session_recent_count - how
 * many messages of the view are; recent_forget - drop the set (the
 * folder is left) */
bool session_recent(const struct session *s, uint32_t uid);
size_t session_recent_count(const struct session *s);
void recent_forget(struct session *s);
/* view_keywords_send - "* FLAGS" and "* OK [PERMANENTFLAGS]" with the
 * keywords of the view and those sent before (SELECT, and whenever a
 * new keyword turns up); view_keywords_check - send them first if kw
 * (space separated) has one the session was not told of, as a client
 * may not see a keyword in FETCH before FLAGS lists it (RFC 3501 7.2.6) */
void view_keywords_send(struct session *s);
void view_keywords_check(struct session *s, const char *kw);
/* view_condstore - a CONDSTORE-enabling command (FETCH MODSEQ, SEARCH
 * MODSEQ, STORE UNCHANGEDSINCE...): the first one in the selected folder
 * sends "* OK [HIGHESTMODSEQ n]" (RFC 7162 3.1) */
void view_condstore(struct session *s);
/* view_resolve - the view indexes (ascending, *idx_r to free) a sequence
 * set argument names; -1 with BAD sent */
int view_resolve(struct session *s, const char *tag, const struct imap_arg *a,
		 bool uid, size_t **idx_r, size_t *n_r);
/* view_uid_cmp - qsort comparator of uint32_t UIDs; view_uid_in - uid in
 * the sorted array v[0..n) */
int view_uid_cmp(const void *a, const void *b);
bool view_uid_in(const uint32_t *v, size_t n, uint32_t uid);

#endif
