/* view - the selected folder as one session sees it: message sequence
 * numbers, \Recent, the compact view of an IDLE session, and the
 * reports of what other sessions changed (EXISTS, EXPUNGE, FETCH) */
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
#include "search.h"
#include "strutil.h"
#include "view.h"
#include "xalloc.h"

/* ---- the view ------------------------------------------------------ */

void
view_free(struct session *s)
{
	for (size_t i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].kw);
	xfree(&s->msgs);
	s->nmsgs = 0;
	s->ngone = 0;
	xfree(&s->idle_r);
	s->nidle_r = 0;
	s->nidle = 0;
}

/* kw_has - whether the list " k1 k2" has k[0..kl) (case-insensitive) */
static bool
kw_has(const char *list, const char *k, size_t kl)
{
	for (const char *p = list; p != NULL && *p; ) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > 0 && l == kl && strncasecmp(p, k, kl) == 0)
			return true;
		p += l;
	}
	return false;
}

/* kw_merge - add the keywords of kw missing from *list */
static bool
kw_merge(struct buf *list, const char *kw)
{
	bool added = false;

	for (const char *p = kw; p != NULL && *p; ) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > 0 && !kw_has(list->data, p, l) && list->len < 8000) {
			buf_putc(list, ' ');
			buf_append(list, p, l);
			added = true;
		}
		p += l;
	}
	return added;
}

/* view_keywords_send - see view.h */
void
view_keywords_send(struct session *s)
{
	struct buf kw;

	buf_init(&kw, 0);
	if (s->kw_known != NULL)
		buf_puts(&kw, s->kw_known);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].kw != NULL)
			kw_merge(&kw, s->msgs[i].kw);
	const char *k = kw.data ? kw.data : "";
	session_printf(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft%s)\r\n", k);
	if (s->readonly)
		session_printf(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		session_printf(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
		    "\\Deleted \\Seen \\Draft%s \\*)] Flags permitted\r\n", k);
	free(s->kw_known);
	s->kw_known = xstrdup(k);
	buf_free(&kw);
}

/* view_keywords_check - see view.h */
void
view_keywords_check(struct session *s, const char *kw)
{
	struct buf known;

	if (kw == NULL || *kw == '\0' || s->state != ST_SELECTED)
		return;
	buf_init(&known, 0);
	if (s->kw_known != NULL)
		buf_puts(&known, s->kw_known);
	bool added = kw_merge(&known, kw);
	if (added) {
		free(s->kw_known);
		s->kw_known = buf_steal(&known);
		view_keywords_send(s);
	}
	buf_free(&known);
}

static void
view_entry(struct view_msg *v, const struct store_msg *m)
{
	v->uid = m->uid;
	v->flags = m->flags;
	v->modseq = m->modseq;
	v->size = m->size;
	v->idate = m->internal_date;
	v->kw = m->keywords && *m->keywords ? xstrdup(m->keywords) : NULL;
	v->gone = false;
}

static void
status_remember(struct session *s, const struct store_folder_status *st)
{
	s->uidvalidity = st->uidvalidity;
	s->uidnext = st->uidnext;
	s->highestmodseq = st->highestmodseq;
	s->status_messages = st->messages;
}

/* ---- \Recent --------------------------------------------------------
 * The index hands each new UID to one session (store_recent_claim); the
 * session keeps the ranges it got. EXAMINE only looks (nothing changes),
 * an IMAP4rev2 session neither claims nor shows any (RFC 9051). */

/* recent_add - add lo..hi to the session's ranges, kept merged */
static void
recent_add(struct session *s, uint32_t lo, uint32_t hi)
{
	size_t k = 0, n = s->nrecent_r;
	struct imap_range *r;

	s->recent_r = xreallocarray(s->recent_r, n + 1, sizeof(*s->recent_r));
	r = s->recent_r;
	while (k < n && r[k].lo < lo)
		k++;
	memmove(r + k + 1, r + k, (n - k) * sizeof(*r));
	r[k].lo = lo;
	r[k].hi = hi;
	n++;
	/* merge overlapping or adjacent neighbours */
	size_t w = 0;
	for (size_t i = 1; i < n; i++) {
		if ((uint64_t)r[w].hi + 1 >= r[i].lo) {
			if (r[i].hi > r[w].hi)
				r[w].hi = r[i].hi;
		} else {
			r[++w] = r[i];
		}
	}
	s->nrecent_r = w + 1;
}

/* recent_claim - take the UIDs no session has had as recent yet */
static void
recent_claim(struct session *s)
{
	uint32_t lo, hi;
	const char *err;

	if (s->rev2 || s->folder == NULL)
		return;
	int r = store_recent_claim(s->folder, s->readonly, &lo, &hi, &err);
	/* the write lock is taken (a writer thread's group, an APPEND):
	 * the loop does not wait for it, the next sync claims them */
	s->recent_retry = r == 2;
	if (r < 0)
		log_warnx("%s: recent: %s", s->sid, err);
	else if (r == 1)
		recent_add(s, lo, hi);
}

/* recent_forget - see imapd.h */
void
recent_forget(struct session *s)
{
	xfree(&s->recent_r);
	s->nrecent_r = 0;
	s->recent_retry = false;
}

/* recent_retry - the claim a busy index put off, and its RECENT */
static void
recent_retry(struct session *s)
{
	size_t before = session_recent_count(s);

	recent_claim(s);
	if (!s->rev2 && session_recent_count(s) != before)
		session_printf(s, "* %zu RECENT\r\n", session_recent_count(s));
}

/* session_recent - see imapd.h */
bool
session_recent(const struct session *s, uint32_t uid)
{
	for (size_t k = 0; k < s->nrecent_r && !s->rev2; k++)
		if (uid >= s->recent_r[k].lo && uid <= s->recent_r[k].hi)
			return true;
	return false;
}

/* session_recent_count - see imapd.h */
size_t
session_recent_count(const struct session *s)
{
	size_t n = 0;

	if (s->rev2 || s->nrecent_r == 0)
		return 0;
	if (s->idle_r != NULL) {
		/* the compact view: intersect the two range lists */
		for (size_t i = 0; i < s->nidle_r; i++)
			for (size_t k = 0; k < s->nrecent_r; k++) {
				uint32_t lo = s->idle_r[i].lo > s->recent_r[k].lo ?
				    s->idle_r[i].lo : s->recent_r[k].lo;
				uint32_t hi = s->idle_r[i].hi < s->recent_r[k].hi ?
				    s->idle_r[i].hi : s->recent_r[k].hi;
				if (lo <= hi)
					n += (size_t)(hi - lo) + 1;
			}
		return n;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].gone && session_recent(s, s->msgs[i].uid))
			n++;
	return n;
}

/* report_exists - new messages: claim what is recent, "* n EXISTS" and,
 * for an IMAP4rev1 session, "* n RECENT" */
static void
report_exists(struct session *s, size_t count)
{
	recent_claim(s);
	session_printf(s, "* %zu EXISTS\r\n", count);
	if (!s->rev2)
		session_printf(s, "* %zu RECENT\r\n", session_recent_count(s));
}

/* view_load - see imapd.h */
int
view_load(struct session *s, const char **error_r)
{
	s->status_checked = time(NULL);
	struct store_folder_status st;
	struct store_msg *m;
	size_t n;

	view_free(s);
	/* the folder's state before its messages (a commit in between is
	 * seen again at the next sync); the count is the rows' */
	if (store_sync(s->folder, error_r) < 0 ||
	    store_folder_state(s->folder, &st, error_r) < 0 ||
	    store_msgs_view(s->folder, &m, &n, error_r) < 0)
		return -1;
	st.messages = (uint32_t)n;
	s->msgs = xcalloc(n ? n : 1, sizeof(*s->msgs));
	for (size_t i = 0; i < n; i++)
		view_entry(&s->msgs[i], &m[i]);
	s->nmsgs = n;
	store_msgs_free(m, n);
	status_remember(s, &st);
	s->view_modseq = store_folder_modseq(s->folder);
	recent_forget(s);
	recent_claim(s);
	return 0;
}

/* flags_format - see imapd.h */
void
flags_format(struct buf *out, unsigned flags, const char *kw, bool recent)
{
	static const struct {
		unsigned f;
		const char *name;
	} names[] = {
		{ STORE_SEEN, "\\Seen" }, { STORE_ANSWERED, "\\Answered" },
		{ STORE_FLAGGED, "\\Flagged" }, { STORE_DELETED, "\\Deleted" },
		{ STORE_DRAFT, "\\Draft" },
	};
	size_t mark;

	buf_putc(out, '(');
	mark = out->len;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].f) {
			if (out->len > mark)
				buf_putc(out, ' ');
			buf_puts(out, names[i].name);
		}
	if (recent) {
		if (out->len > mark)
			buf_putc(out, ' ');
		buf_puts(out, "\\Recent");
	}
	if (kw != NULL && *kw != '\0') {
		if (out->len > mark)
			buf_putc(out, ' ');
		buf_puts(out, kw);
	}
	buf_putc(out, ')');
}

bool
view_uid_in(const uint32_t *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == uid)
			return true;
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void
report_flags(struct session *s, size_t idx)
{
	struct buf b;
	const struct view_msg *v = &s->msgs[idx];

	view_keywords_check(s, v->kw);
	buf_init(&b, 0);
	buf_printf(&b, "* %zu FETCH (UID %u FLAGS ", idx + 1, v->uid);
	flags_format(&b, v->flags, v->kw, session_recent(s, v->uid));
	if (s->condstore)
		buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)v->modseq);
	buf_puts(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

int
view_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* view_find - the index of uid in the view, or -1 */
static ssize_t
view_find(const struct session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nmsgs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* expunge_contexts - CONTEXT=SEARCH: the message at seq (uid) goes; its
 * REMOVEFROM comes right before its EXPUNGE, by the number the EXPUNGE
 * gives it */
static void
expunge_contexts(struct session *s, uint32_t uid, size_t seq)
{
	uint32_t seq32 = (uint32_t)seq;

	if (s->sctx != NULL)
		search_ctx_expunged(s, &uid, &seq32, 1);
}

/* report_expunges - drop the gone messages from the view, telling the
 * client (EXPUNGE by sequence number, or VANISHED by UID for QRESYNC) */
static void
report_expunges(struct session *s)
{
	uint32_t *vanished = xcalloc(s->ngone + 1, sizeof(*vanished));
	size_t nv = 0, k = 0;

	for (size_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].gone) {
			s->msgs[k++] = s->msgs[i];
			continue;
		}
		expunge_contexts(s, s->msgs[i].uid, k + 1);
		if (s->qresync)
			vanished[nv++] = s->msgs[i].uid;
		else
			session_printf(s, "* %zu EXPUNGE\r\n", k + 1);
		free(s->msgs[i].kw);
	}
	bool any = k < s->nmsgs;
	s->nmsgs = k;
	s->ngone = 0;
	/* the \Recent count after expunges, as Dovecot sends it (an
	 * IMAP4rev1 client keeps it from EXPUNGE and RECENT responses) */
	if (any && !s->rev2)
		session_printf(s, "* %zu RECENT\r\n", session_recent_count(s));
	if (nv > 0) {
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, "* VANISHED ");
		imap_seqset_format(&b, vanished, nv);
		buf_puts(&b, "\r\n");
		session_write(s, b.data, b.len);
		buf_free(&b);
	}
	free(vanished);
}

/* view_sync_delta - apply what changed since our modseq (flag changes,
 * new messages, expunges) without reloading the folder: the work is the
 * size of the change, not of the folder. With st (the folder status) the
 * result is checked against its message count; without, the index's
 * modseq order is trusted (cheap: no count over the folder). -1 when the
 * delta does not add up (the caller reloads everything). */
static int
view_sync_delta(struct session *s, const struct store_folder_status *st,
		bool allow_expunge, const uint32_t *silent, size_t nsilent)
{
	struct store_msg *m = NULL;
	uint32_t *ex = NULL;
	size_t n = 0, nex = 0;
	const char *err;

	if (store_msgs_changed(s->folder, s->highestmodseq, &m, &n, &err) < 0 ||
	    store_expunged_since(s->folder, s->highestmodseq, &ex, &nex,
	    &err) < 0) {
		if (m != NULL)
			store_msgs_free(m, n);
		free(ex);
		return -1;
	}
	/* check first that the delta explains the new message count */
	size_t live = s->nmsgs - s->ngone, newly_gone = 0, added = 0;
	uint32_t last = s->nmsgs ? s->msgs[s->nmsgs - 1].uid : 0;
	uint64_t maxmod = s->highestmodseq;
	bool odd = false;
	for (size_t i = 0; i < nex; i++) {
		ssize_t k = view_find(s, ex[i]);
		if (k >= 0 && !s->msgs[k].gone)
			newly_gone++;
	}
	for (size_t i = 0; i < n; i++) {
		if (m[i].modseq > maxmod)
			maxmod = m[i].modseq;
		if (view_find(s, m[i].uid) >= 0)
			continue;
		if (m[i].uid > last)
			added++;
		else
			odd = true; /* an old UID we never had */
	}
	if (st == NULL && n == 0 && newly_gone == 0 &&
	    !(allow_expunge && s->ngone > 0)) {
		free(ex);
		return 0; /* nothing new */
	}
	if (odd || (st != NULL && live - newly_gone + added != st->messages)) {
		store_msgs_free(m, n);
		free(ex);
		return -1;
	}
	for (size_t i = 0; i < nex; i++) {
		ssize_t k = view_find(s, ex[i]);
		if (k >= 0 && !s->msgs[k].gone) {
			s->msgs[k].gone = true;
			s->ngone++;
		}
	}
	uint32_t *changed = xcalloc(n + 1, sizeof(*changed));
	size_t nchanged = 0;
	for (size_t i = 0; i < n; i++) {
		ssize_t k = view_find(s, m[i].uid);
		if (k < 0 || s->msgs[k].gone)
			continue;
		struct view_msg *o = &s->msgs[k];
		const char *kw = m[i].keywords && *m[i].keywords ? m[i].keywords : NULL;
		bool kw_same = (o->kw == NULL && kw == NULL) ||
		    (o->kw != NULL && kw != NULL && strcmp(o->kw, kw) == 0);
		if ((o->flags != m[i].flags || !kw_same ||
		    (s->condstore && o->modseq != m[i].modseq)) &&
		    !view_uid_in(silent, nsilent, o->uid))
			changed[nchanged++] = o->uid;
		free(o->kw);
		view_entry(o, &m[i]);
	}
	if (allow_expunge && s->ngone > 0)
		report_expunges(s);
	if (added > 0) {
		s->msgs = xreallocarray(s->msgs, s->nmsgs + added + 1,
		    sizeof(*s->msgs));
		for (size_t i = 0; i < n; i++)
			if (m[i].uid > last)
				view_entry(&s->msgs[s->nmsgs++], &m[i]);
		report_exists(s, s->nmsgs);
	}
	for (size_t i = 0; i < nchanged; i++) {
		ssize_t k = view_find(s, changed[i]);
		if (k >= 0)
			report_flags(s, (size_t)k);
	}
	free(changed);
	store_msgs_free(m, n);
	free(ex);
	if (st != NULL) {
		status_remember(s, st);
	} else {
		s->highestmodseq = maxmod;
		if (s->nmsgs > 0 && s->msgs[s->nmsgs - 1].uid >= s->uidnext)
			s->uidnext = s->msgs[s->nmsgs - 1].uid + 1;
		s->status_messages = (uint32_t)(s->nmsgs - s->ngone);
	}
	return 0;
}

/* ---- the compact view of an IDLE session ---------------------------
 * While a client idles, only its UIDs are kept, as ranges (a folder
 * without gaps is one range): that is the sequence number map. Flags,
 * sizes and dates come back from the index when IDLE ends; changes are
 * reported by modseq, so nothing else is needed to tell what changed. */

/* idle_seq - the sequence number of uid, 0 if absent */
static size_t
idle_seq(const struct session *s, uint32_t uid)
{
	size_t before = 0;

	for (size_t k = 0; k < s->nidle_r; k++) {
		const struct imap_range *r = &s->idle_r[k];
		if (uid >= r->lo && uid <= r->hi)
			return before + (uid - r->lo) + 1;
		before += (size_t)(r->hi - r->lo) + 1;
	}
	return 0;
}

static void
idle_remove(struct session *s, uint32_t uid)
{
	for (size_t k = 0; k < s->nidle_r; k++) {
		struct imap_range *r = &s->idle_r[k];
		if (uid < r->lo || uid > r->hi)
			continue;
		if (r->lo == r->hi) {
			memmove(r, r + 1, (s->nidle_r - k - 1) * sizeof(*r));
			s->nidle_r--;
		} else if (uid == r->lo) {
			r->lo++;
		} else if (uid == r->hi) {
			r->hi--;
		} else {
			s->idle_r = xreallocarray(s->idle_r, s->nidle_r + 1,
			    sizeof(*s->idle_r));
			r = &s->idle_r[k];
			memmove(r + 1, r, (s->nidle_r - k) * sizeof(*r));
			r[0].hi = uid - 1;
			r[1].lo = uid + 1;
			s->nidle_r++;
		}
		s->nidle--;
		return;
	}
}

static void
idle_append(struct session *s, uint32_t uid)
{
	if (s->nidle_r > 0 && s->idle_r[s->nidle_r - 1].hi + 1 == uid) {
		s->idle_r[s->nidle_r - 1].hi = uid;
	} else {
		s->idle_r = xreallocarray(s->idle_r, s->nidle_r + 1,
		    sizeof(*s->idle_r));
		s->idle_r[s->nidle_r].lo = s->idle_r[s->nidle_r].hi = uid;
		s->nidle_r++;
	}
	s->nidle++;
}

static void
report_msg(struct session *s, size_t seq, const struct store_msg *m)
{
	struct buf b;

	view_keywords_check(s, m->keywords);
	buf_init(&b, 0);
	buf_printf(&b, "* %zu FETCH (UID %u FLAGS ", seq, m->uid);
	flags_format(&b, m->flags, m->keywords, session_recent(s, m->uid));
	if (s->condstore)
		buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	buf_puts(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

/* view_compact - see imapd.h */
void
view_compact(struct session *s)
{
	if (s->folder == NULL || s->idle_r != NULL)
		return;
	view_sync(s, true, NULL, 0);   /* nothing held back after this */
	struct session tmp = { .idle_r = NULL };
	for (size_t i = 0; i < s->nmsgs; i++)
		idle_append(&tmp, s->msgs[i].uid);
	view_free(s);
	s->idle_r = tmp.idle_r ? tmp.idle_r : xcalloc(1, sizeof(*s->idle_r));
	s->nidle_r = tmp.nidle_r;
	s->nidle = tmp.nidle;
}

/* view_compact_sync - see imapd.h */
void
view_compact_sync(struct session *s)
{
	struct store_msg *m = NULL;
	uint32_t *ex = NULL, *vanished;
	size_t n = 0, nex = 0, nv = 0, added = 0;
	const char *err;

	if (s->idle_r == NULL)
		return;
	if (store_sync(s->folder, &err) < 0 ||
	    store_msgs_changed(s->folder, s->highestmodseq, &m, &n, &err) < 0 ||
	    store_expunged_since(s->folder, s->highestmodseq, &ex, &nex,
	    &err) < 0) {
		log_warnx("%s: sync: %s", s->sid, err);
		if (m != NULL)
			store_msgs_free(m, n);
		free(ex);
		return;
	}
	vanished = xcalloc(nex + 1, sizeof(*vanished));
	for (size_t i = 0; i < nex; i++) {
		size_t seq = idle_seq(s, ex[i]);
		if (seq == 0)
			continue;
		expunge_contexts(s, ex[i], seq);
		if (s->qresync)
			vanished[nv++] = ex[i];
		else
			session_printf(s, "* %zu EXPUNGE\r\n", seq);
		idle_remove(s, ex[i]);
	}
	if (nv > 0) {
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, "* VANISHED ");
		imap_seqset_format(&b, vanished, nv);
		buf_puts(&b, "\r\n");
		session_write(s, b.data, b.len);
		buf_free(&b);
	}
	free(vanished);
	uint32_t last = s->nidle_r ? s->idle_r[s->nidle_r - 1].hi : 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].uid > last) {
			idle_append(s, m[i].uid);
			added++;
		}
	if (added > 0)
		report_exists(s, s->nidle);
	for (size_t i = 0; i < n; i++) {
		if (m[i].modseq > s->highestmodseq)
			s->highestmodseq = m[i].modseq;
		if (m[i].uid > last)
			continue; /* new: told by EXISTS */
		size_t seq = idle_seq(s, m[i].uid);
		if (seq > 0)
			report_msg(s, seq, &m[i]);
	}
	store_msgs_free(m, n);
	free(ex);
}

/* view_expand - see imapd.h */
void
view_expand(struct session *s)
{
	struct store_msg *m;
	size_t n;
	const char *err;

	if (s->idle_r == NULL)
		return;
	/* what changed since the last report, told now: the full view is
	 * rebuilt from the index and compared with the UIDs we hold */
	view_compact_sync(s);
	bool failed = false;
	if (store_msgs_view(s->folder, &m, &n, &err) < 0) {
		/* keep the UIDs (not expunged!) and reload at the next sync */
		log_warnx("%s: reload: %s", s->sid, err);
		m = NULL;
		n = 0;
		failed = true;
	}
	struct view_msg *nv = xcalloc(s->nidle + 1, sizeof(*nv));
	size_t nn = 0, j = 0;
	uint64_t since = s->highestmodseq;
	for (size_t k = 0; k < s->nidle_r; k++) {
		for (uint64_t u = s->idle_r[k].lo; u <= s->idle_r[k].hi; u++) {
			uint32_t uid = (uint32_t)u;
			while (j < n && m[j].uid < uid)
				j++;
			if (j < n && m[j].uid == uid) {
				view_entry(&nv[nn], &m[j]);
				if (m[j].modseq > since) {
					report_msg(s, nn + 1, &m[j]);
					if (m[j].modseq > s->highestmodseq)
						s->highestmodseq = m[j].modseq;
				}
				nn++;
				j++;
			} else if (failed) {
				nv[nn++].uid = uid;
			} else {
				/* expunged since the last sync: held back,
				 * told at the next sync */
				nv[nn].uid = uid;
				nv[nn].gone = true;
				nn++;
				s->ngone++;
			}
		}
	}
	if (m != NULL)
		store_msgs_free(m, n);
	xfree(&s->idle_r);
	s->nidle_r = 0;
	s->nidle = 0;
	s->msgs = nv;
	s->nmsgs = nn;
	s->status_checked = 0; /* a full check at the next sync */
	if (failed)
		s->highestmodseq = 0; /* and a full reload */
}

/* view_sync - see imapd.h */
void
view_sync(struct session *s, bool allow_expunge, const uint32_t *silent,
	  size_t nsilent)
{
	struct store_folder_status st;
	struct store_msg *m;
	size_t n;
	const char *err;
	bool pending_gone = s->ngone > 0;

	if (s->folder == NULL)
		return;
	if (s->recent_retry)
		recent_retry(s);
	if (s->idle_r != NULL) {
		view_compact_sync(s); /* IDLE: the compact view */
		return;
	}
	if (store_sync(s->folder, &err) < 0) {
		log_warnx("%s: sync: %s", s->sid, err);
		return;
	}
	/* the cheap path: the changes since our modseq, straight from the
	 * index; every VIEW_STATUS_EVERY seconds the folder status (counts
	 * over the folder, UIDVALIDITY) is checked as well */
	time_t now = time(NULL);
	uint64_t fm = store_folder_modseq(s->folder);
	bool fresh = s->highestmodseq > 0 &&
	    now - s->status_checked < VIEW_STATUS_EVERY;
	/* the cheapest: the folder's modseq has not moved since the view
	 * was synced (store_sync read it anyway): no query at all */
	if (fresh && fm == s->view_modseq && !(allow_expunge && pending_gone))
		return;
	if (fresh && view_sync_delta(s, NULL, allow_expunge, silent,
	    nsilent) == 0) {
		s->view_modseq = fm;
		return;
	}
	s->status_checked = now;
	if (store_folder_status(s->folder, &st, &err) < 0) {
		log_warnx("%s: sync: %s", s->sid, err);
		return;
	}
	if (st.uidnext == s->uidnext && st.messages == s->status_messages &&
	    st.highestmodseq == s->highestmodseq &&
	    (!pending_gone || !allow_expunge)) {
		s->view_modseq = fm;
		return;
	}
	/* the changes since our modseq, when the index can tell them */
	if (s->highestmodseq > 0 && st.uidvalidity == s->uidvalidity &&
	    view_sync_delta(s, &st, allow_expunge, silent, nsilent) == 0) {
		s->view_modseq = fm;
		return;
	}
	if (store_msgs_view(s->folder, &m, &n, &err) < 0) {
		log_warnx("%s: sync: %s", s->sid, err);
		return;
	}
	struct view_msg *nv = xcalloc(n + s->nmsgs + 1, sizeof(*nv));
	size_t nn = 0, j = 0, old_count = s->nmsgs;
	uint32_t *changed = xcalloc(s->nmsgs + 1, sizeof(*changed));
	uint32_t *vanished = xcalloc(s->nmsgs + 1, sizeof(*vanished));
	size_t nvanished = 0;
	size_t nchanged = 0, kept_gone = 0;

	for (size_t i = 0; i < s->nmsgs; i++) {
		struct view_msg *o = &s->msgs[i];
		while (j < n && m[j].uid < o->uid)
			j++; /* cannot happen: UIDs only grow */
		if (j < n && m[j].uid == o->uid && !o->gone) {
			view_entry(&nv[nn], &m[j]);
			bool kw_same = (o->kw == NULL && nv[nn].kw == NULL) ||
			    (o->kw != NULL && nv[nn].kw != NULL &&
			    strcmp(o->kw, nv[nn].kw) == 0);
			if ((o->flags != nv[nn].flags || !kw_same ||
			    (s->condstore && o->modseq != nv[nn].modseq)) &&
			    !view_uid_in(silent, nsilent, o->uid))
				changed[nchanged++] = o->uid;
			free(o->kw);
			nn++;
			j++;
		} else if (allow_expunge) {
			expunge_contexts(s, o->uid, nn + 1);
			if (s->qresync)
				vanished[nvanished++] = o->uid;
			else
				session_printf(s, "* %zu EXPUNGE\r\n", nn + 1);
			free(o->kw);
		} else {
			nv[nn] = *o;
			nv[nn].gone = true;
			nn++;
			kept_gone++;
			if (j < n && m[j].uid == o->uid)
				j++;
		}
	}
	size_t added = 0;
	for (; j < n; j++) {
		if (nn > 0 && m[j].uid <= nv[nn - 1].uid)
			continue;
		view_entry(&nv[nn++], &m[j]);
		added++;
	}
	store_msgs_free(m, n);
	if (nvanished > 0) {
		/* QRESYNC: expunges by UID (RFC 7162 3.2.10) */
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, "* VANISHED ");
		imap_seqset_format(&b, vanished, nvanished);
		buf_puts(&b, "\r\n");
		session_write(s, b.data, b.len);
		buf_free(&b);
	}
	free(vanished);
	free(s->msgs);
	s->msgs = nv;
	s->nmsgs = nn;

	(void)old_count;
	if (added > 0)
		report_exists(s, nn);
	/* flag changes made by others (or us), by sequence number */
	for (size_t k = 0, i = 0; k < nchanged && i < nn; i++)
		if (nv[i].uid == changed[k]) {
			report_flags(s, i);
			k++;
		}
	free(changed);
	status_remember(s, &st);
	s->view_modseq = fm;
	s->ngone = kept_gone;
}

/* resolve - the view indexes a sequence set names; -1 with BAD sent */
int
view_resolve(struct session *s, const char *tag, const struct imap_arg *a,
	bool uid, size_t **idx_r, size_t *n_r)
{
	struct imap_seqset set;
	const char *err;
	const char *str = a->type == IMAP_ARG_ATOM ? a->str : NULL;

	if (str == NULL || imap_seqset_parse(str, &set, &err) < 0) {
		session_tagged(s, tag, "BAD", "Invalid sequence set");
		return -1;
	}
	size_t *idx = xcalloc(s->nmsgs + 1, sizeof(*idx)), n = 0;
	if (uid) {
		uint32_t star = s->nmsgs ? s->msgs[s->nmsgs - 1].uid : 0;
		for (size_t i = 0; i < s->nmsgs; i++)
			if (imap_seqset_contains(&set, s->msgs[i].uid, star))
				idx[n++] = i;
	} else {
		for (size_t r = 0; r < set.n; r++)
			if ((set.r[r].lo != IMAP_SEQ_STAR && set.r[r].lo > s->nmsgs) ||
			    (set.r[r].hi != IMAP_SEQ_STAR && set.r[r].hi > s->nmsgs) ||
			    s->nmsgs == 0) {
				imap_seqset_free(&set);
				free(idx);
				session_tagged(s, tag, "BAD", "Invalid message sequence "
				    "number");
				return -1;
			}
		for (size_t i = 0; i < s->nmsgs; i++)
			if (imap_seqset_contains(&set, (uint32_t)(i + 1),
			    (uint32_t)s->nmsgs))
				idx[n++] = i;
	}
	imap_seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

/* view_condstore - see view.h */
void
view_condstore(struct session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state == ST_SELECTED)
		session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		    (unsigned long long)s->highestmodseq);
}

/* vanished_earlier - "* VANISHED (EARLIER) uids": UIDs of the set
 * (NULL: all) expunged after modseq (QRESYNC) */
void
vanished_earlier(struct session *s, const char *set_str, uint64_t modseq)
{
	struct imap_seqset set;
	uint32_t *uids = NULL;
	size_t n = 0, k = 0;
	const char *err;

	if (set_str != NULL && imap_seqset_parse(set_str, &set, &err) < 0)
		return;
	if (store_expunged_since(s->folder, modseq, &uids, &n, &err) < 0) {
		log_warnx("%s: expunged since: %s", s->sid, err);
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (set_str == NULL || imap_seqset_contains(&set, uids[i],
		    s->uidnext ? s->uidnext - 1 : 0))
			uids[k++] = uids[i];
	if (k > 0) {
		struct buf b;
		qsort(uids, k, sizeof(*uids), view_uid_cmp);
		buf_init(&b, 0);
		buf_puts(&b, "* VANISHED (EARLIER) ");
		imap_seqset_format(&b, uids, k);
		buf_puts(&b, "\r\n");
		session_write(s, b.data, b.len);
		buf_free(&b);
	}
	free(uids);
	if (set_str != NULL)
		imap_seqset_free(&set);
}
