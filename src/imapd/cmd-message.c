/* cmd-message - the selected folder: the session's view of it (message
 * sequence numbers, change reports), FETCH, STORE, SEARCH, COPY, MOVE,
 * EXPUNGE, CHECK, NOOP */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "imapd.h"
#include "imap-spec.h"
#include "log.h"
#include "mime.h"
#include "strutil.h"
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
	if (r < 0)
		log_warnx("%s: recent: %s", s->sid, err);
	else if (r > 0)
		recent_add(s, lo, hi);
}

/* recent_forget - see imapd.h */
void
recent_forget(struct session *s)
{
	xfree(&s->recent_r);
	s->nrecent_r = 0;
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
	if (store_sync(s->folder, error_r) < 0 ||
	    store_folder_status(s->folder, &st, error_r) < 0 ||
	    store_msgs_load(s->folder, &m, &n, error_r) < 0)
		return -1;
	s->msgs = xcalloc(n ? n : 1, sizeof(*s->msgs));
	for (size_t i = 0; i < n; i++)
		view_entry(&s->msgs[i], &m[i]);
	s->nmsgs = n;
	store_msgs_free(m, n);
	status_remember(s, &st);
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

static bool
uid_in(const uint32_t *v, size_t n, uint32_t uid)
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

	buf_init(&b, 0);
	buf_printf(&b, "* %zu FETCH (UID %u FLAGS ", idx + 1, v->uid);
	flags_format(&b, v->flags, v->kw, session_recent(s, v->uid));
	if (s->condstore)
		buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)v->modseq);
	buf_puts(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

static int
uid_cmp(const void *a, const void *b)
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
		if (s->qresync)
			vanished[nv++] = s->msgs[i].uid;
		else
			session_printf(s, "* %zu EXPUNGE\r\n", k + 1);
		free(s->msgs[i].kw);
	}
	s->nmsgs = k;
	s->ngone = 0;
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
		    !uid_in(silent, nsilent, o->uid))
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
	if (store_msgs_load(s->folder, &m, &n, &err) < 0) {
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
	if (s->highestmodseq > 0 && now - s->status_checked < VIEW_STATUS_EVERY &&
	    view_sync_delta(s, NULL, allow_expunge, silent, nsilent) == 0)
		return;
	s->status_checked = now;
	if (store_folder_status(s->folder, &st, &err) < 0) {
		log_warnx("%s: sync: %s", s->sid, err);
		return;
	}
	if (st.uidnext == s->uidnext && st.messages == s->status_messages &&
	    st.highestmodseq == s->highestmodseq &&
	    (!pending_gone || !allow_expunge))
		return;
	/* the changes since our modseq, when the index can tell them */
	if (s->highestmodseq > 0 && st.uidvalidity == s->uidvalidity &&
	    view_sync_delta(s, &st, allow_expunge, silent, nsilent) == 0)
		return;
	if (store_msgs_load(s->folder, &m, &n, &err) < 0) {
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
			    !uid_in(silent, nsilent, o->uid))
				changed[nchanged++] = o->uid;
			free(o->kw);
			nn++;
			j++;
		} else if (allow_expunge) {
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
	s->ngone = kept_gone;
}

/* resolve - the view indexes a sequence set names; -1 with BAD sent */
static int
resolve(struct session *s, const char *tag, const struct imap_arg *a,
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
			if ((set.r[r].lo != UINT32_MAX && set.r[r].lo > s->nmsgs) ||
			    (set.r[r].hi != UINT32_MAX && set.r[r].hi > s->nmsgs) ||
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
		qsort(uids, k, sizeof(*uids), uid_cmp);
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

/* ---- message content ----------------------------------------------- */

struct content {
	bool loaded, parsed, failed;
	bool header_only;           /* data holds the header block only */
	struct buf data;            /* with CRLF line ends */
	struct mime_message mime;
	bool have_text;
	struct buf text;            /* decoded text for SEARCH */
};

static void
content_free(struct content *c)
{
	if (c->parsed)
		mime_free(&c->mime);
	buf_free(&c->data);
	buf_free(&c->text);
	memset(c, 0, sizeof(*c));
}

/* ---- header cache ---------------------------------------------------
 * SEARCH FROM/SUBJECT/HEADER, SENT* and FETCH of ENVELOPE or header
 * fields need only the header block. The process keeps the last ones
 * read, direct-mapped by (mailbox, folder, UIDVALIDITY, UID) and bounded
 * in bytes, so that a search over a folder reads its files once. */

#define HCACHE_SLOTS 65536
#define HCACHE_BYTES (32u << 20)
#define HCACHE_MAX_HEADER (64u << 10)

struct hcache_entry {
	int64_t mbox;
	uint32_t uidvalidity, uid;
	char *folder;
	char *hdr;
	size_t len;
};

static struct hcache_entry *hcache;
static size_t hcache_bytes;

static struct hcache_entry *
hcache_slot(struct session *s, uint32_t uid)
{
	const char *f = store_folder_name(s->folder);
	uint64_t h = 1469598103934665603ull;

	if (hcache == NULL)
		hcache = xcalloc(HCACHE_SLOTS, sizeof(*hcache));
	h = (h ^ (uint64_t)s->mailbox_id) * 1099511628211ull;
	h = (h ^ s->uidvalidity) * 1099511628211ull;
	h = (h ^ uid) * 1099511628211ull;
	for (; *f; f++)
		h = (h ^ (unsigned char)*f) * 1099511628211ull;
	return &hcache[h % HCACHE_SLOTS];
}

static bool
hcache_get(struct session *s, uint32_t uid, struct buf *out)
{
	struct hcache_entry *e = hcache_slot(s, uid);

	if (e->hdr == NULL || e->mbox != s->mailbox_id || e->uid != uid ||
	    e->uidvalidity != s->uidvalidity ||
	    strcmp(e->folder, store_folder_name(s->folder)) != 0)
		return false;
	buf_append(out, e->hdr, e->len);
	return true;
}

static void
hcache_put(struct session *s, uint32_t uid, const char *hdr, size_t len)
{
	struct hcache_entry *e = hcache_slot(s, uid);

	if (len > HCACHE_MAX_HEADER)
		return;
	if (e->hdr != NULL) {
		hcache_bytes -= e->len;
		free(e->hdr);
		free(e->folder);
		e->hdr = NULL;
	}
	if (hcache_bytes + len > HCACHE_BYTES)
		return;
	e->mbox = s->mailbox_id;
	e->uidvalidity = s->uidvalidity;
	e->uid = uid;
	e->folder = xstrdup(store_folder_name(s->folder));
	e->hdr = xmalloc(len + 1);
	memcpy(e->hdr, hdr, len);
	e->len = len;
	hcache_bytes += len;
}

/* header_end_at - the length of the header block in d[0..len) including
 * its blank line, or 0 when it is not complete */
static size_t
header_end_at(const char *d, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (d[i] != '\n')
			continue;
		if (d[i + 1] == '\n')
			return i + 2;
		if (d[i + 1] == '\r' && i + 2 < len && d[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* content_load - read a message file (header_only: its header block),
 * bare LFs turned into CRLF (what RFC822.SIZE counts); -1 if it vanished */
static int
content_load_part(struct session *s, const struct view_msg *v,
		  struct content *c, bool header_only)
{
	struct store_msg m;
	const char *err;
	char tmp[65536];

	if (c->loaded && !(c->header_only && !header_only))
		return c->failed ? -1 : 0;
	if (c->loaded) {
		/* had the header only: now the whole message */
		content_free(c);
	}
	c->loaded = true;
	buf_init(&c->data, 0);
	if (header_only && hcache_get(s, v->uid, &c->data)) {
		c->header_only = true;
		return 0;
	}
	memset(&m, 0, sizeof(m));
	if (store_msg_get(s->folder, v->uid, &m, &err) != 1) {
		c->failed = true;
		return -1;
	}
	int fd = store_msg_open(s->folder, &m, &err);
	store_msg_clear(&m);
	if (fd < 0) {
		c->failed = true;
		return -1;
	}
	if (!header_only)
		buf_reserve(&c->data, (size_t)v->size + 1);
	char prev = 0;
	size_t hend = 0;
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* copy runs, inserting CR before bare LFs */
		size_t i = 0;
		while (i < (size_t)r) {
			const char *nl = memchr(tmp + i, '\n', (size_t)r - i);
			size_t run = nl ? (size_t)(nl - (tmp + i)) : (size_t)r - i;
			if (run > 0) {
				buf_append(&c->data, tmp + i, run);
				prev = tmp[i + run - 1];
				i += run;
			}
			if (nl != NULL) {
				if (prev != '\r')
					buf_putc(&c->data, '\r');
				buf_putc(&c->data, '\n');
				prev = '\n';
				i++;
			}
		}
		if (header_only && (hend = header_end_at(c->data.data,
		    c->data.len)) > 0)
			break;
		if (header_only && c->data.len > HCACHE_MAX_HEADER * 4)
			break;
	}
	close(fd);
	if (header_only) {
		if (hend > 0)
			buf_truncate(&c->data, hend);
		c->header_only = true;
		hcache_put(s, v->uid, c->data.data ? c->data.data : "", c->data.len);
	}
	return 0;
}

static int
content_load(struct session *s, const struct view_msg *v, struct content *c)
{
	return content_load_part(s, v, c, false);
}

static struct mime_message *
content_mime(struct content *c)
{
	if (!c->parsed) {
		mime_parse(&c->mime, c->data.data ? c->data.data : "", c->data.len);
		c->parsed = true;
	}
	return &c->mime;
}

/* add_text - decoded text of the text parts, for BODY/TEXT search */
static void
add_text(const char *d, const struct mime_part *p, struct buf *out, int depth)
{
	if (depth > MIME_MAX_DEPTH)
		return;
	if (p->multipart || p->rfc822) {
		for (size_t i = 0; i < p->nchildren; i++)
			add_text(d, &p->children[i], out, depth + 1);
		return;
	}
	if (strcasecmp(p->type, "text") == 0 || strcasecmp(p->type, "message") == 0) {
		mime_part_text(d, p, out);
		buf_putc(out, '\n');
	}
}

/* ---- FETCH --------------------------------------------------------- */

/* put_literal - a string as a literal (literal8 for 8-bit BINARY) */
static void
put_literal(struct buf *out, const char *p, size_t len, bool binary)
{
	/* BINARY: literal8 for anything not 7-bit clean, as Dovecot */
	bool nul = false;
	for (size_t i = 0; binary && i < len && !nul; i++)
		nul = p[i] == '\0' || (unsigned char)p[i] >= 0x80;

	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, p, len);
}

/* section - the bytes a BODY[...]/BINARY[...] item names; -1 unknown CTE */
static int
section(struct content *c, const struct imap_fetch_item *it, struct buf *tmp,
	const char **p_r, size_t *len_r)
{
	const char *d = c->data.data ? c->data.data : "";
	struct mime_message *mm;

	*p_r = "";
	*len_r = 0;
	if (it->npath == 0 && it->spec == IMAP_SECTION_ALL) {
		*p_r = d;
		*len_r = c->data.len;
		return 0;
	}
	mm = content_mime(c);
	const struct mime_part *part = it->npath ?
	    mime_part_find(mm, it->path, it->npath) : &mm->root;
	if (part == NULL)
		return 0;
	const struct mime_part *target = part;
	if (it->npath > 0 && it->spec != IMAP_SECTION_ALL &&
	    it->spec != IMAP_SECTION_MIME) {
		target = mime_part_inner(part);
		if (target == NULL)
			return 0;
	}
	switch (it->spec) {
	case IMAP_SECTION_ALL:
		if (it->type == IMAP_FETCH_BINARY || it->type == IMAP_FETCH_BINARY_SIZE) {
			if (part->multipart || part->rfc822) {
				*p_r = d + part->body_start;
				*len_r = part->body_len;
				return 0;
			}
			if (mime_decode_body(d, part, tmp) < 0)
				return -1;
			*p_r = tmp->data ? tmp->data : "";
			*len_r = tmp->len;
			return 0;
		}
		*p_r = d + part->body_start;
		*len_r = part->body_len;
		return 0;
	case IMAP_SECTION_HEADER:
		*p_r = d + target->hdr_start;
		*len_r = target->hdr_len;
		return 0;
	case IMAP_SECTION_TEXT:
		*p_r = d + target->body_start;
		*len_r = target->body_len;
		return 0;
	case IMAP_SECTION_MIME:
		*p_r = d + part->hdr_start;
		*len_r = part->hdr_len;
		return 0;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		mime_header_fields(d, target->hdr_start, target->hdr_len,
		    (const char *const *)it->fields,
		    it->spec == IMAP_SECTION_HEADER_FIELDS_NOT, tmp);
		*p_r = tmp->data ? tmp->data : "";
		*len_r = tmp->len;
		return 0;
	}
	return 0;
}

/* fetch_one - the FETCH response of one message; -1 if it vanished,
 * -2 for an unknown transfer encoding (BINARY) */
static int
fetch_one(struct session *s, size_t idx, const struct imap_fetch *f, bool uid,
	  bool add_flags, bool add_modseq, struct buf *out)
{
	const struct view_msg *v = &s->msgs[idx];
	struct content c;
	struct buf tmp;
	bool first = true;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	buf_init(&tmp, 0);
	/* ENVELOPE and header fields need the header block only */
	bool hdr_only = true;
	for (size_t i = 0; i < f->n && hdr_only; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		if (it->type == IMAP_FETCH_BODYSTRUCTURE || it->type == IMAP_FETCH_BODY ||
		    it->type == IMAP_FETCH_BINARY || it->type == IMAP_FETCH_BINARY_SIZE)
			hdr_only = false;
		else if (it->type == IMAP_FETCH_SECTION && (it->npath > 0 ||
		    (it->spec != IMAP_SECTION_HEADER &&
		    it->spec != IMAP_SECTION_HEADER_FIELDS &&
		    it->spec != IMAP_SECTION_HEADER_FIELDS_NOT)))
			hdr_only = false;
	}
	if (f->wants_body && content_load_part(s, v, &c, hdr_only) < 0) {
		content_free(&c);
		buf_free(&tmp);
		return -1;
	}
	buf_printf(out, "* %zu FETCH (", idx + 1);
#define SEP() do { if (!first) buf_putc(out, ' '); first = false; } while (0)
	bool have_uid = false, have_flags = false, have_modseq = false;
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i].type == IMAP_FETCH_UID)
			have_uid = true;
		if (f->items[i].type == IMAP_FETCH_FLAGS)
			have_flags = true;
		if (f->items[i].type == IMAP_FETCH_MODSEQ)
			have_modseq = true;
	}
	if (uid && !have_uid) {
		SEP();
		buf_printf(out, "UID %u", v->uid);
	}
	if (add_flags && !have_flags) {
		SEP();
		buf_puts(out, "FLAGS ");
		flags_format(out, v->flags, v->kw, session_recent(s, v->uid));
	}
	if (add_modseq && !have_modseq) {
		SEP();
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)v->modseq);
	}
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		const char *d = c.data.data ? c.data.data : "";
		SEP();
		switch (it->type) {
		case IMAP_FETCH_FLAGS:
			buf_puts(out, "FLAGS ");
			flags_format(out, v->flags, v->kw,
			    session_recent(s, v->uid));
			break;
		case IMAP_FETCH_UID:
			buf_printf(out, "UID %u", v->uid);
			break;
		case IMAP_FETCH_MODSEQ:
			buf_printf(out, "MODSEQ (%llu)", (unsigned long long)v->modseq);
			break;
		case IMAP_FETCH_EMAILID:
		case IMAP_FETCH_THREADID: {
			/* RFC 8474 5.1: ids from lib-store */
			char eid[STORE_ID_MAX], tid[STORE_ID_MAX];
			const char *ierr;
			if (store_msg_ids(s->folder, v->uid, eid, tid, &ierr) == 1)
				buf_printf(out, "%s (%s)", it->type ==
				    IMAP_FETCH_EMAILID ? "EMAILID" : "THREADID",
				    it->type == IMAP_FETCH_EMAILID ? eid : tid);
			else
				buf_puts(out, it->type == IMAP_FETCH_EMAILID ?
				    "EMAILID NIL" : "THREADID NIL");
			break;
		}
		case IMAP_FETCH_INTERNALDATE:
			buf_puts(out, "INTERNALDATE ");
			imap_datetime_format(out, v->idate, 0);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)v->size);
			break;
		case IMAP_FETCH_ENVELOPE: {
			struct mime_message *mm = content_mime(&c);
			buf_puts(out, "ENVELOPE ");
			mime_envelope(d, mm->root.hdr_start, mm->root.hdr_len, out);
			break;
		}
		case IMAP_FETCH_BODYSTRUCTURE:
		case IMAP_FETCH_BODY:
			buf_puts(out, it->type == IMAP_FETCH_BODY ? "BODY " :
			    "BODYSTRUCTURE ");
			mime_bodystructure(d, &content_mime(&c)->root,
			    it->type == IMAP_FETCH_BODYSTRUCTURE, out);
			break;
		case IMAP_FETCH_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE: {
			const char *p;
			size_t len;
			buf_reset(&tmp);
			if (section(&c, it, &tmp, &p, &len) < 0) {
				rc = -2;
				break;
			}
			if (it->type == IMAP_FETCH_BINARY_SIZE) {
				buf_printf(out, "%s %zu", it->name, len);
				break;
			}
			if (it->partial) {
				if (it->offset >= len) {
					p = "";
					len = 0;
				} else {
					p += it->offset;
					len -= it->offset;
					if (len > it->length)
						len = it->length;
				}
			}
			buf_printf(out, "%s ", it->name);
			put_literal(out, p, len, it->type == IMAP_FETCH_BINARY);
			break;
		}
		}
	}
#undef SEP
	buf_puts(out, ")\r\n");
	content_free(&c);
	buf_free(&tmp);
	return rc;
}

void
cmd_fetch(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	struct imap_fetch f;
	const char *err;
	size_t *idx, nidx;
	uint64_t changedsince = 0;
	bool use_changedsince = false, want_vanished = false;

	if (n < 2 || n > 3) {
		session_tagged(s, tag, "BAD", "Syntax: FETCH set items");
		return;
	}
	if (imap_fetch_parse(&a[1], &f, &err) < 0) {
		session_tagged(s, tag, "BAD", "%s", err);
		return;
	}
	if (n == 3) {
		const struct imap_arg *m = &a[2];
		if (m->type != IMAP_ARG_LIST || m->count < 2 || m->count > 3 ||
		    !imap_arg_is_atom(&m->list[0], "CHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM ||
		    (m->count == 3 && (!imap_arg_is_atom(&m->list[2], "VANISHED") ||
		    !uid || !s->qresync))) {
			imap_fetch_free(&f);
			session_tagged(s, tag, "BAD", "Unknown FETCH modifier");
			return;
		}
		char *end;
		changedsince = strtoull(m->list[1].str, &end, 10);
		if (*end != '\0') {
			imap_fetch_free(&f);
			session_tagged(s, tag, "BAD", "Invalid CHANGEDSINCE");
			return;
		}
		use_changedsince = true;
		s->condstore = true;
		want_vanished = m->count == 3;
	}
	for (size_t i = 0; i < f.n; i++)
		if (f.items[i].type == IMAP_FETCH_MODSEQ)
			s->condstore = true;
	view_sync(s, uid, NULL, 0);
	if (resolve(s, tag, &a[0], uid, &idx, &nidx) < 0) {
		imap_fetch_free(&f);
		return;
	}
	if (want_vanished)
		vanished_earlier(s, a[0].str, changedsince);
	/* a non-peek body fetch sets \Seen first, and reports FLAGS */
	bool *seen_now = xcalloc(nidx + 1, sizeof(bool));
	if (f.sets_seen && !s->readonly) {
		uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
		size_t nu = 0;
		for (size_t i = 0; i < nidx; i++)
			if (!(s->msgs[idx[i]].flags & STORE_SEEN) && !s->msgs[idx[i]].gone)
				uids[nu++] = s->msgs[idx[i]].uid;
		if (nu > 0 && store_flags_update(s->folder, uids, nu, STORE_FLAGS_ADD,
		    STORE_SEEN, NULL, 0, NULL, NULL, &err) == 0) {
			for (size_t i = 0; i < nidx; i++)
				if (!(s->msgs[idx[i]].flags & STORE_SEEN)) {
					s->msgs[idx[i]].flags |= STORE_SEEN;
					seen_now[i] = true;
				}
		}
		free(uids);
	}
	struct fetch_job *j = xcalloc(1, sizeof(*j));
	j->tag = xstrdup(tag);
	j->f = f;
	j->idx = idx;
	j->n = nidx;
	j->seen_now = seen_now;
	j->uid = uid;
	j->use_changedsince = use_changedsince;
	j->changedsince = changedsince;
	s->job = j;
	fetch_continue(s);
}

/* fetch_job_free - see imapd.h */
void
fetch_job_free(struct fetch_job **jp)
{
	struct fetch_job *j = *jp;

	if (j == NULL)
		return;
	imap_fetch_free(&j->f);
	free(j->idx);
	free(j->seen_now);
	free(j->tag);
	free(j);
	*jp = NULL;
}

/* fetch_continue - see imapd.h */
bool
fetch_continue(struct session *s)
{
	struct fetch_job *j = s->job;
	struct buf out;

	if (j == NULL)
		return true;
	buf_init(&out, 0);
	while (j->pos < j->n) {
		if (s->bev == NULL || evbuffer_get_length(bufferevent_get_output(
		    s->bev)) > FETCH_OUTPUT_HIGH) {
			buf_free(&out);
			return false; /* on_write calls again once it drained */
		}
		size_t i = j->pos++;
		const struct view_msg *v = &s->msgs[j->idx[i]];
		if (j->use_changedsince && v->modseq <= j->changedsince)
			continue;
		if (v->gone) {
			j->vanished = true;
			continue;
		}
		buf_reset(&out);
		int r = fetch_one(s, j->idx[i], &j->f, j->uid, j->seen_now[i],
		    j->use_changedsince, &out);
		if (r == -1) {
			j->vanished = true;
			continue;
		}
		if (r == -2) {
			j->unknown_cte = true;
			break;
		}
		session_write(s, out.data, out.len);
		if (out.cap > 1 << 20)
			buf_free(&out);
	}
	buf_free(&out);
	if (j->unknown_cte)
		session_tagged(s, j->tag, "NO", "[UNKNOWN-CTE] Unknown "
		    "Content-Transfer-Encoding");
	else if (j->vanished)
		session_tagged(s, j->tag, "NO", "Some messages were expunged "
		    "meanwhile");
	else
		session_tagged(s, j->tag, "OK", "FETCH completed");
	fetch_job_free(&s->job);
	return true;
}

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
		s->condstore = true;
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
	if (resolve(s, tag, &a[0], uid, &idx, &nidx) < 0) {
		free(kw);
		return;
	}
	uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
	size_t nu = 0;
	for (size_t k = 0; k < nidx; k++)
		if (!s->msgs[idx[k]].gone)
			uids[nu++] = s->msgs[idx[k]].uid;
	uint32_t *failed = NULL;
	size_t nfailed = 0;
	int r = nu == 0 ? 0 : store_flags_update(s->folder, uids, nu, fop, flags,
	    kw && *kw ? kw : (fop == STORE_FLAGS_SET ? "" : NULL), unchanged,
	    unchanged ? &failed : NULL, unchanged ? &nfailed : NULL, &err);
	free(kw);
	if (r < 0) {
		log_warnx("%s: STORE: %s", s->sid, err);
		free(uids);
		free(idx);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot change flags");
		return;
	}
	/* the targets are reported below (or not, .SILENT); others' changes
	 * by view_sync */
	view_sync(s, uid, uids, nu);
	if (!silent || unchanged) {
		for (size_t k = 0; k < s->nmsgs; k++)
			if (uid_in(uids, nu, s->msgs[k].uid) && !s->msgs[k].gone &&
			    !(failed && uid_in(failed, nfailed, s->msgs[k].uid)))
				report_flags(s, k);
	}
	free(idx);
	free(uids);
	if (nfailed > 0) {
		struct buf b;
		buf_init(&b, 0);
		qsort(failed, nfailed, sizeof(*failed), uid_cmp);
		if (!uid) {
			/* MODIFIED lists sequence numbers for STORE */
			for (size_t k = 0; k < nfailed; k++)
				for (size_t m = 0; m < s->nmsgs; m++)
					if (s->msgs[m].uid == failed[k])
						failed[k] = (uint32_t)(m + 1);
			qsort(failed, nfailed, sizeof(*failed), uid_cmp);
		}
		imap_seqset_format(&b, failed, nfailed);
		session_tagged(s, tag, "OK", "[MODIFIED %s] Conditional STORE "
		    "failed for some messages", b.data);
		buf_free(&b);
	} else {
		session_tagged(s, tag, "OK", "STORE completed");
	}
	free(failed);
}

/* ---- SEARCH -------------------------------------------------------- */

/* contains_ci - case-insensitive (ASCII) substring search, linear in
 * hay + needle (lib strutil): a hostile needle on a large body costs a
 * pass over the body, not needle * body */
static bool
contains_ci(const char *hay, size_t hl, const char *needle)
{
	return mem_contains_ci(hay, hl, needle, strlen(needle));
}

static int
ymd_of(time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

struct sctx {
	struct session *s;
	size_t idx;
	struct content c;
	struct buf tmp;
};

/* header_len - the length of the top header block of a loaded message
 * (what mime_parse gives its root part), without a MIME parse: a search
 * on header fields needs no more */
static size_t
header_len(struct content *c)
{
	const char *d = c->data.data ? c->data.data : "";
	size_t n;

	if (c->parsed)
		return c->mime.root.hdr_len;
	if (c->data.len >= 2 && d[0] == '\r' && d[1] == '\n')
		return 2; /* no header */
	n = header_end_at(d, c->data.len);
	return n > 0 ? n : c->data.len;
}

static int
sent_ymd(struct sctx *x)
{
	const struct view_msg *v = &x->s->msgs[x->idx];

	if (content_load_part(x->s, v, &x->c, true) < 0)
		return ymd_of(v->idate);
	time_t t;
	int tz;
	buf_reset(&x->tmp);
	if (mime_header_get(x->c.data.data, 0, header_len(&x->c),
	    "Date", &x->tmp) > 0 && x->tmp.data != NULL &&
	    mime_date_parse(x->tmp.data, &t, &tz) == 0)
		return ymd_of(t + (time_t)tz * 60);
	return ymd_of(v->idate);
}

static bool
match(struct sctx *x, const struct imap_search_key *k)
{
	const struct view_msg *v = &x->s->msgs[x->idx];

	switch (k->type) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_AND:
		for (size_t i = 0; i < k->nsub; i++)
			if (!match(x, &k->sub[i]))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return match(x, &k->sub[0]) || match(x, &k->sub[1]);
	case IMAP_SEARCH_NOT:
		return !match(x, &k->sub[0]);
	case IMAP_SEARCH_FLAG:
		return ((v->flags & k->num) != 0) != k->neg;
	case IMAP_SEARCH_KEYWORD: {
		bool found = false;
		if (v->kw != NULL) {
			size_t l = strlen(k->str);
			for (const char *p = v->kw; *p && !found; ) {
				const char *e = strchr(p, ' ');
				size_t pl = e ? (size_t)(e - p) : strlen(p);
				found = pl == l && strncasecmp(p, k->str, l) == 0;
				p = e ? e + 1 : p + pl;
			}
		}
		return found != k->neg;
	}
	case IMAP_SEARCH_NEW:
		return session_recent(x->s, v->uid) && !(v->flags & STORE_SEEN);
	case IMAP_SEARCH_RECENT:
		return session_recent(x->s, v->uid);
	case IMAP_SEARCH_OLD:
		return !session_recent(x->s, v->uid);
	case IMAP_SEARCH_LARGER:
		return v->size > k->num;
	case IMAP_SEARCH_SMALLER:
		return v->size < k->num;
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_contains(&k->set, (uint32_t)(x->idx + 1),
		    (uint32_t)x->s->nmsgs);
	case IMAP_SEARCH_UID:
		return imap_seqset_contains(&k->set, v->uid,
		    x->s->nmsgs ? x->s->msgs[x->s->nmsgs - 1].uid : 0);
	case IMAP_SEARCH_MODSEQ:
		return v->modseq >= k->num;
	case IMAP_SEARCH_EMAILID:
	case IMAP_SEARCH_THREADID: {
		/* RFC 8474 6: ids compare exactly */
		char eid[STORE_ID_MAX], tid[STORE_ID_MAX];
		const char *ierr;
		if (store_msg_ids(x->s->folder, v->uid, eid, tid, &ierr) != 1)
			return false;
		return strcmp(k->type == IMAP_SEARCH_EMAILID ? eid : tid,
		    k->str) == 0;
	}
	case IMAP_SEARCH_BEFORE:
		return ymd_of(v->idate) < k->date;
	case IMAP_SEARCH_ON:
		return ymd_of(v->idate) == k->date;
	case IMAP_SEARCH_SINCE:
		return ymd_of(v->idate) >= k->date;
	case IMAP_SEARCH_SENTBEFORE:
		return sent_ymd(x) < k->date;
	case IMAP_SEARCH_SENTON:
		return sent_ymd(x) == k->date;
	case IMAP_SEARCH_SENTSINCE:
		return sent_ymd(x) >= k->date;
	case IMAP_SEARCH_HEADER: {
		if (content_load_part(x->s, v, &x->c, true) < 0)
			return false;
		buf_reset(&x->tmp);
		if (mime_header_get(x->c.data.data, 0, header_len(&x->c),
		    k->str, &x->tmp) <= 0)
			return false;
		struct buf dec;
		buf_init(&dec, 0);
		mime_decode_words(x->tmp.data ? x->tmp.data : "", x->tmp.len, &dec);
		bool r = contains_ci(dec.data ? dec.data : "", dec.len, k->str2);
		buf_free(&dec);
		return r;
	}
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT: {
		if (content_load(x->s, v, &x->c) < 0)
			return false;
		struct mime_message *mm = content_mime(&x->c);
		if (!x->c.have_text) {
			buf_init(&x->c.text, 0);
			add_text(x->c.data.data, &mm->root, &x->c.text, 0);
			x->c.have_text = true;
		}
		if (contains_ci(x->c.text.data ? x->c.text.data : "", x->c.text.len,
		    k->str))
			return true;
		if (k->type == IMAP_SEARCH_TEXT) {
			struct buf dec;
			buf_init(&dec, 0);
			mime_decode_words(x->c.data.data + mm->root.hdr_start,
			    mm->root.hdr_len, &dec);
			bool r = contains_ci(dec.data ? dec.data : "", dec.len, k->str);
			buf_free(&dec);
			return r;
		}
		return false;
	}
	}
	return false;
}

/* ---- SEARCH, SORT and THREAD in slices ------------------------------
 * imapd serves every session of its process on one event loop. The
 * matcher reads messages (a BODY search: every one, whole), and SORT and
 * THREAD parse the header of each match: on a large folder that is
 * seconds of work, during which no other session would be served. So a
 * search runs in slices of SEARCH_SLICE_USEC: the job goes back to the
 * loop (a zero timer: pending I/O of other sessions comes first) and
 * carries on from where it stopped. The session reads no command
 * meanwhile (session_suspend), so its view does not change under the
 * job. A slice ends after the message that passes the budget: a single
 * message bounds the overrun (its size times the search strings, which
 * imap-spec.h caps). */

#define SEARCH_SLICE_USEC 10000

struct search_job {
	struct session *s;
	struct event *ev;
	char *tag;
	bool uid;
	struct imap_search srch;
	struct sctx x;
	size_t pos;                 /* next view index; then next match */
	bool loading;               /* matching done: load() the matches */
	size_t *idx, n;
	uint64_t maxmod;
	search_load_fn *load;
	search_finish_fn *finish;
	void *arg;
};

static uint64_t
usec_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* search_slice - go on for SEARCH_SLICE_USEC; true when all is done */
static bool
search_slice(struct search_job *j)
{
	struct session *s = j->s;
	uint64_t until = usec_now() + SEARCH_SLICE_USEC;

	for (;;) {
		if (!j->loading) {
			if (j->pos >= s->nmsgs) {
				j->loading = true;
				j->pos = 0;
				continue;
			}
			size_t i = j->pos++;
			if (s->msgs[i].gone)
				continue;
			j->x.idx = i;
			if (match(&j->x, &j->srch.root)) {
				j->idx[j->n++] = i;
				if (s->msgs[i].modseq > j->maxmod)
					j->maxmod = s->msgs[i].modseq;
			}
			content_free(&j->x.c);
		} else {
			if (j->load == NULL || j->pos >= j->n)
				return true;
			j->load(s, j->arg, j->pos, j->idx[j->pos]);
			j->pos++;
		}
		if (usec_now() >= until)
			return false;
	}
}

/* search_job_end - the answer (or, s NULL, only freeing) */
static void
search_job_end(struct search_job *j, struct session *s)
{
	j->finish(s, j->tag, j->uid, &j->srch, j->idx, j->n, j->maxmod, j->arg);
	if (j->ev != NULL)
		event_free(j->ev);
	content_free(&j->x.c);
	buf_free(&j->x.tmp);
	imap_search_free(&j->srch);
	free(j->idx);
	free(j->tag);
	free(j);
}

static void
search_job_go(evutil_socket_t fd, short what, void *arg)
{
	struct search_job *j = arg;
	struct session *s = j->s;
	static const struct timeval now = { 0, 0 };

	if (!search_slice(j)) {
		evtimer_add(j->ev, &now);
		return;
	}
	s->sjob = NULL;
	search_job_end(j, s);
	session_resume(s);
}

/* search_start - see imapd.h */
void
search_start(struct session *s, const char *tag, bool uid,
	     struct imap_search *srch, search_load_fn *load,
	     search_finish_fn *finish, void *arg)
{
	struct search_job *j = xcalloc(1, sizeof(*j));
	static const struct timeval now = { 0, 0 };

	j->s = s;
	j->tag = xstrdup(tag);
	j->uid = uid;
	j->srch = *srch;            /* taken over */
	memset(srch, 0, sizeof(*srch));
	j->x.s = s;
	buf_init(&j->x.tmp, 0);
	j->idx = xcalloc(s->nmsgs + 1, sizeof(*j->idx));
	j->load = load;
	j->finish = finish;
	j->arg = arg;
	/* most searches end within one slice: answered at once */
	if (search_slice(j)) {
		search_job_end(j, s);
		return;
	}
	j->ev = evtimer_new(bufferevent_get_base(s->bev), search_job_go, j);
	if (j->ev == NULL) {
		/* no timer: finish inline, as before */
		while (!search_slice(j))
			;
		search_job_end(j, s);
		return;
	}
	s->sjob = j;
	session_suspend(s);
	evtimer_add(j->ev, &now);
}

/* search_job_free - see imapd.h */
void
search_job_free(struct search_job **jp)
{
	struct search_job *j = *jp;

	if (j == NULL)
		return;
	*jp = NULL;
	search_job_end(j, NULL);
}

/* view_header - see imapd.h */
int
view_header(struct session *s, size_t idx, struct buf *out)
{
	struct content c;

	memset(&c, 0, sizeof(c));
	if (content_load_part(s, &s->msgs[idx], &c, true) < 0) {
		content_free(&c);
		return -1;
	}
	if (c.data.len > 0)
		buf_append(out, c.data.data, c.data.len);
	content_free(&c);
	return 0;
}

/* search_reply - the answer of a SEARCH: "* SEARCH", or "* ESEARCH"
 * (RETURN options, or an IMAP4rev2 session) */
static void
search_reply(struct session *s, const char *tag, bool uid,
	     const struct imap_search *srch, const size_t *idx, size_t nres,
	     uint64_t maxmod, void *arg)
{
	if (s == NULL)
		return;
	uint32_t *res = xcalloc(nres + 1, sizeof(*res));
	for (size_t i = 0; i < nres; i++)
		res[i] = uid ? s->msgs[idx[i]].uid : (uint32_t)(idx[i] + 1);
	struct buf out;
	buf_init(&out, 0);
	if (srch->esearch || s->rev2) {
		unsigned ret = srch->esearch ? srch->ret : IMAP_SEARCH_RET_ALL;
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", tag, uid ? " UID" : "");
		if ((ret & IMAP_SEARCH_RET_MIN) && nres > 0)
			buf_printf(&out, " MIN %u", res[0]);
		if ((ret & IMAP_SEARCH_RET_MAX) && nres > 0)
			buf_printf(&out, " MAX %u", res[nres - 1]);
		if (ret & IMAP_SEARCH_RET_COUNT)
			buf_printf(&out, " COUNT %zu", nres);
		if ((ret & IMAP_SEARCH_RET_ALL) && nres > 0) {
			buf_puts(&out, " ALL ");
			imap_seqset_format(&out, res, nres);
		}
		if (srch->uses_modseq && nres > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)maxmod);
	} else {
		buf_puts(&out, "* SEARCH");
		for (size_t i = 0; i < nres; i++)
			buf_printf(&out, " %u", res[i]);
		if (srch->uses_modseq && nres > 0)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)maxmod);
	}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	free(res);
	session_tagged(s, tag, "OK", "SEARCH completed");
}

void
cmd_search(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	struct imap_search srch;
	const char *err;
	bool badcharset;

	if (imap_search_parse(a, n, &srch, &badcharset, &err) < 0) {
		session_tagged(s, tag, badcharset ? "NO" : "BAD", "%s", err);
		return;
	}
	if (srch.uses_modseq)
		s->condstore = true;
	view_sync(s, uid, NULL, 0);
	search_start(s, tag, uid, &srch, NULL, search_reply, NULL);
}

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
	if (resolve(s, tag, &a[0], uid, &idx, &nidx) < 0)
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
	const char *err;
	int r;

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
		if (resolve(s, tag, &a[0], true, &idx, &nidx) < 0)
			return;
		uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
		size_t nu = 0;
		for (size_t i = 0; i < nidx; i++)
			if (s->msgs[idx[i]].flags & STORE_DELETED)
				uids[nu++] = s->msgs[idx[i]].uid;
		free(idx);
		/* expunge only what is still \Deleted in the index */
		r = nu == 0 ? 0 : store_expunge(s->folder, uids, nu, NULL, NULL, &err);
		free(uids);
	} else {
		r = store_expunge(s->folder, NULL, 0, NULL, NULL, &err);
	}
	if (r < 0) {
		log_warnx("%s: EXPUNGE: %s", s->sid, err);
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
