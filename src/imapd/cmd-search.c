/* cmd-search - SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH) and the
 * sliced matcher SORT and THREAD share */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "content.h"
#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "search.h"
#include "strutil.h"
#include "view.h"
#include "xalloc.h"

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

/* A SUBJECT key answered from the index's header text (lib-store
 * store_text_uids) rather than by reading every message's file: the
 * matches, and the messages the index has no text of (read as before) */
struct text_pre {
	const struct imap_search_key *k;
	uint32_t *match, *unknown;
	size_t nmatch, nunknown;
};
#define TEXT_PRE_MAX 8

struct sctx {
	struct session *s;
	size_t idx;
	struct content c;
	struct buf tmp;
	struct text_pre pre[TEXT_PRE_MAX];
	size_t npre;
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
	n = content_header_end(d, c->data.len);
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

/* is_address_field - the fields SEARCH FROM/TO/CC/BCC name */
static bool
is_address_field(const char *name)
{
	return strcasecmp(name, "From") == 0 || strcasecmp(name, "To") == 0 ||
	    strcasecmp(name, "Cc") == 0 || strcasecmp(name, "Bcc") == 0;
}

/* header_match - whether any instance of field name in the loaded header
 * contains str (RFC 3501 6.4.4: HEADER over every instance; "" matches
 * any message with the field). Address fields match the value as
 * written (RFC 2047 words decoded) or as parsed, "name <local@domain>"
 * without comments and folding. */
static bool
header_match(struct sctx *x, const char *name, const char *str)
{
	const char *names[] = { name, NULL };
	struct buf dec;
	bool r = false;

	buf_reset(&x->tmp);
	mime_header_fields(x->c.data.data, 0, header_len(&x->c), names, false,
	    &x->tmp);
	const char *d = x->tmp.data ? x->tmp.data : "";
	size_t len = x->tmp.len, pos = 0;
	buf_init(&dec, 0);
	while (!r && pos < len) {
		/* one field: to a CRLF not followed by a blank */
		size_t end = pos;
		while (end < len && !(d[end] == '\n' && (end + 1 >= len ||
		    (d[end + 1] != ' ' && d[end + 1] != '\t'))))
			end++;
		const char *colon = memchr(d + pos, ':', end - pos);
		if (colon == NULL)
			break;
		struct buf val;
		buf_init(&val, 0);
		for (const char *p = colon + 1; p < d + end; p++)
			if (*p != '\r' && *p != '\n')
				buf_putc(&val, *p);
		const char *vs = val.data ? val.data : "";
		while (*vs == ' ' || *vs == '\t')
			vs++;
		buf_reset(&dec);
		mime_decode_words(vs, strlen(vs), &dec);
		r = contains_ci(dec.data ? dec.data : "", dec.len, str);
		if (!r && is_address_field(name)) {
			buf_reset(&dec);
			mime_address_text(vs, &dec);
			r = contains_ci(dec.data ? dec.data : "", dec.len, str);
		}
		buf_free(&val);
		pos = end + 1;
	}
	buf_free(&dec);
	return r;
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
	case IMAP_SEARCH_HEADER:
		for (size_t i = 0; i < x->npre; i++) {
			const struct text_pre *p = &x->pre[i];
			if (p->k != k)
				continue;
			if (view_uid_in(p->match, p->nmatch, v->uid))
				return true;
			if (!view_uid_in(p->unknown, p->nunknown, v->uid))
				return false;
			break;  /* no text in the index: read the file */
		}
		if (content_load_part(x->s, v, &x->c, true) < 0)
			return false;
		return header_match(x, k->str, k->str2);
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT: {
		if (content_load(x->s, v, &x->c) < 0)
			return false;
		struct mime_message *mm = content_mime(&x->c);
		if (!x->c.have_text) {
			buf_init(&x->c.text, 0);
			content_text(x->c.data.data, &mm->root, &x->c.text, 0);
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

/* text_pre_key - whether the index's header text decides key k: a
 * SUBJECT (or HEADER Subject) string. The index keeps each field's value
 * with CR and LF dropped, the outer blanks trimmed and RFC 2047 words
 * decoded, ASCII letters lowered (lib-store htext_scan); header_match
 * trims only the leading blanks, so a string ending in a blank, and ""
 * (any message with the field), are left to the files. */
static bool
text_pre_key(const struct imap_search_key *k)
{
	size_t l;

	if (k->type != IMAP_SEARCH_HEADER || k->str == NULL ||
	    k->str2 == NULL || strcasecmp(k->str, "Subject") != 0)
		return false;
	l = strlen(k->str2);
	return l > 0 && k->str2[l - 1] != ' ' && k->str2[l - 1] != '\t';
}

/* text_pre_collect - the index's answers for the keys under k it
 * decides (text_pre_key), into x->pre */
static void
text_pre_collect(struct sctx *x, const struct imap_search_key *k)
{
	const char *err;

	for (size_t i = 0; i < k->nsub; i++)
		text_pre_collect(x, &k->sub[i]);
	if (!text_pre_key(k) || x->npre == TEXT_PRE_MAX)
		return;
	struct text_pre *p = &x->pre[x->npre];
	if (store_text_uids(x->s->folder, STORE_TEXT_SUBJECT, k->str2,
	    &p->match, &p->nmatch, &p->unknown, &p->nunknown, &err) < 0) {
		log_warnx("%s: SEARCH by the index: %s (the files are read)",
		    x->s->sid, err);
		return;
	}
	p->k = k;
	x->npre++;
}

static void
text_pre_free(struct sctx *x)
{
	for (size_t i = 0; i < x->npre; i++) {
		free(x->pre[i].match);
		free(x->pre[i].unknown);
	}
	x->npre = 0;
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
	text_pre_free(&j->x);
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
	session_hold(s);
	search_job_end(j, s);
	session_resume(s);
	(void)session_release(s);
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
	if (s->folder != NULL)
		text_pre_collect(&j->x, &j->srch.root);
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

/* ---- CONTEXT=SEARCH, CONTEXT=SORT (RFC 5267) ----------------------- */

struct search_ctx {
	struct search_ctx *next;
	char *tag;
	bool uid;
	struct imap_search srch;   /* its keys */
	unsigned ret;              /* its RETURN options */
	uint32_t *uids;            /* the result, ascending */
	size_t n;
	struct sort_ctx *sort;     /* a SORT's: the result in sort order */
	uint64_t modseq;           /* the view's highest when last checked */
};

static uint64_t
view_maxmod(const struct session *s)
{
	uint64_t m = 0;

	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].modseq > m)
			m = s->msgs[i].modseq;
	return m;
}

static void
ctx_free(struct search_ctx *c)
{
	imap_search_free(&c->srch);
	if (c->sort != NULL)
		sort_live_free(c->sort);
	free(c->uids);
	free(c->tag);
	free(c);
}

/* search_ctx_free_all - see search.h */
void
search_ctx_free_all(struct session *s)
{
	while (s->sctx != NULL) {
		struct search_ctx *c = s->sctx;
		s->sctx = c->next;
		ctx_free(c);
	}
	s->nsctx = 0;
}

static ssize_t
uid_pos(const uint32_t *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == uid)
			return (ssize_t)mid;
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -((ssize_t)lo) - 1;
}

/* ctx_update_line - "* ESEARCH (TAG "t") [UID] what (0 set)": positions
 * are 0 for an unsorted SEARCH (RFC 5267 4.3); for a SORT one pair
 * "position number" per message, the position it has (ADDTO) or had
 * (REMOVEFROM) when the pairs before it were applied */
static void
ctx_update_line(struct session *s, const struct search_ctx *c,
		const char *what, const uint32_t *v, const size_t *pos,
		size_t n)
{
	struct buf b;

	if (n == 0)
		return;
	buf_init(&b, 0);
	buf_printf(&b, "* ESEARCH (TAG \"%s\")%s %s (", c->tag,
	    c->uid ? " UID" : "", what);
	if (c->sort == NULL) {
		buf_puts(&b, "0 ");
		imap_seqset_format(&b, v, n);
	} else {
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, "%s%zu %u", i ? " " : "", pos[i], v[i]);
	}
	buf_puts(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

/* ctx_counts - MIN, MAX and COUNT asked for with UPDATE: their new values
 * once the result changed */
static void
ctx_counts(struct session *s, const struct search_ctx *c)
{
	unsigned ret = c->ret;
	struct buf b;

	if (!(ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX |
	    IMAP_SEARCH_RET_COUNT)))
		return;
	buf_init(&b, 0);
	buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", c->tag, c->uid ? " UID" : "");
	uint32_t lo = 0, hi = 0;
	if (c->n > 0) {
		/* a SORT's MIN and MAX are its first and last (ESORT) */
		lo = c->sort ? sort_live_uid(c->sort, 0) : c->uids[0];
		hi = c->sort ? sort_live_uid(c->sort, c->n - 1) :
		    c->uids[c->n - 1];
		if (!c->uid)
			for (size_t i = 0; i < s->nmsgs; i++) {
				if (s->msgs[i].uid == lo)
					lo = (uint32_t)(i + 1);
				if (s->msgs[i].uid == hi) {
					hi = (uint32_t)(i + 1);
					break;
				}
			}
	}
	if ((ret & IMAP_SEARCH_RET_MIN) && c->n > 0)
		buf_printf(&b, " MIN %u", lo);
	if ((ret & IMAP_SEARCH_RET_MAX) && c->n > 0)
		buf_printf(&b, " MAX %u", hi);
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(&b, " COUNT %zu", c->n);
	buf_puts(&b, "\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

/* ctx_set_add, ctx_set_del - the ascending result set */
static void
ctx_set_add(struct search_ctx *c, size_t k, uint32_t uid)
{
	c->uids = xreallocarray(c->uids, c->n + 1, sizeof(*c->uids));
	memmove(c->uids + k + 1, c->uids + k, (c->n - k) * sizeof(*c->uids));
	c->uids[k] = uid;
	c->n++;
}

static void
ctx_set_del(struct search_ctx *c, size_t at)
{
	memmove(c->uids + at, c->uids + at + 1,
	    (c->n - at - 1) * sizeof(*c->uids));
	c->n--;
}

/* search_ctx_refresh - see search.h. The removals first, then the
 * additions, as the REMOVEFROM and ADDTO lines give them (a SORT's
 * positions count on that order). */
void
search_ctx_refresh(struct session *s)
{
	if (s->sctx == NULL || s->msgs == NULL || s->idle_r != NULL)
		return;
	uint64_t now = view_maxmod(s);
	uint32_t *add = xcalloc(s->nmsgs + 1, sizeof(*add));
	uint32_t *del = xcalloc(s->nmsgs + 1, sizeof(*del));
	size_t *apos = xcalloc(s->nmsgs + 1, sizeof(*apos));
	size_t *dpos = xcalloc(s->nmsgs + 1, sizeof(*dpos));
	bool *hit = xcalloc(s->nmsgs + 1, sizeof(*hit));
	struct sctx x = { .s = s };

	buf_init(&x.tmp, 0);
	for (struct search_ctx *c = s->sctx; c != NULL; c = c->next) {
		size_t na = 0, nd = 0;
		if (now <= c->modseq)
			continue;
		for (size_t i = 0; i < s->nmsgs; i++) {
			const struct view_msg *v = &s->msgs[i];
			if (v->gone || v->modseq <= c->modseq)
				continue;
			x.idx = i;
			hit[i] = match(&x, &c->srch.root);
			content_free(&x.c);
			ssize_t at = uid_pos(c->uids, c->n, v->uid);
			if (hit[i] || at < 0)
				continue;
			ctx_set_del(c, (size_t)at);
			if (c->sort != NULL)
				dpos[nd] = sort_live_remove(c->sort, v->uid);
			del[nd++] = c->uid ? v->uid : (uint32_t)(i + 1);
		}
		for (size_t i = 0; i < s->nmsgs; i++) {
			const struct view_msg *v = &s->msgs[i];
			if (v->gone || v->modseq <= c->modseq || !hit[i])
				continue;
			hit[i] = false;
			ssize_t at = uid_pos(c->uids, c->n, v->uid);
			if (at >= 0)
				continue;
			ctx_set_add(c, (size_t)(-at - 1), v->uid);
			if (c->sort != NULL)
				apos[na] = sort_live_add(s, c->sort, i);
			add[na++] = c->uid ? v->uid : (uint32_t)(i + 1);
		}
		c->modseq = now;
		ctx_update_line(s, c, "REMOVEFROM", del, dpos, nd);
		ctx_update_line(s, c, "ADDTO", add, apos, na);
		if (na + nd > 0)
			ctx_counts(s, c);
	}
	buf_free(&x.tmp);
	free(hit);
	free(apos);
	free(dpos);
	free(add);
	free(del);
}

/* search_ctx_expunged - see search.h */
void
search_ctx_expunged(struct session *s, const uint32_t *uids,
		    const uint32_t *seqs, size_t n)
{
	uint32_t *del = xcalloc(n + 1, sizeof(*del));
	size_t *dpos = xcalloc(n + 1, sizeof(*dpos));

	for (struct search_ctx *c = s->sctx; c != NULL; c = c->next) {
		size_t nd = 0;
		for (size_t i = 0; i < n; i++) {
			ssize_t at = uid_pos(c->uids, c->n, uids[i]);
			if (at < 0)
				continue;
			ctx_set_del(c, (size_t)at);
			if (c->sort != NULL)
				dpos[nd] = sort_live_remove(c->sort, uids[i]);
			del[nd++] = c->uid ? uids[i] : seqs[i];
		}
		ctx_update_line(s, c, "REMOVEFROM", del, dpos, nd);
		if (nd > 0)
			ctx_counts(s, c);
	}
	free(dpos);
	free(del);
}

/* search_ctx_keep - see search.h */
bool
search_ctx_keep(struct session *s, const char *tag, bool uid,
		struct imap_search *srch, unsigned ret, const size_t *idx,
		size_t nres, struct sort_ctx *sort)
{
	if (s->nsctx >= SEARCH_CONTEXTS_MAX) {
		session_printf(s, "* NO [NOUPDATE \"%s\"] At most %d searches "
		    "are kept up to date\r\n", tag, SEARCH_CONTEXTS_MAX);
		return false;
	}
	struct search_ctx *c = xcalloc(1, sizeof(*c));
	c->tag = xstrdup(tag);
	c->uid = uid;
	c->ret = ret;
	c->sort = sort;
	c->srch = *srch;          /* taken over */
	memset(srch, 0, sizeof(*srch));
	c->uids = xcalloc(nres + 1, sizeof(*c->uids));
	for (size_t i = 0; i < nres; i++)
		c->uids[i] = s->msgs[idx[i]].uid;
	c->n = nres;
	c->modseq = view_maxmod(s);
	c->next = s->sctx;
	s->sctx = c;
	s->nsctx++;
	return true;
}

/* cmd_cancelupdate - CANCELUPDATE "tag" ... (RFC 5267 4.3) */
void
cmd_cancelupdate(struct session *s, const char *tag, const struct imap_arg *a,
		 size_t n, bool uid)
{
	if (n == 0) {
		session_tagged(s, tag, "BAD", "Syntax: CANCELUPDATE \"tag\" ...");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = imap_arg_astring(&a[i]);
		struct search_ctx *c = s->sctx;
		while (t != NULL && c != NULL && strcmp(c->tag, t) != 0)
			c = c->next;
		if (c == NULL) {
			session_tagged(s, tag, "BAD", "No search context with "
			    "that tag");
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *t = imap_arg_astring(&a[i]);
		for (struct search_ctx **pp = &s->sctx; *pp != NULL;
		    pp = &(*pp)->next)
			if (strcmp((*pp)->tag, t) == 0) {
				struct search_ctx *c = *pp;
				*pp = c->next;
				ctx_free(c);
				s->nsctx--;
				break;
			}
	}
	session_tagged(s, tag, "OK", "CANCELUPDATE completed");
}

/* search_reply - the answer of a SEARCH: "* SEARCH", or "* ESEARCH"
 * (RETURN options, or an IMAP4rev2 session) */
static void
search_reply(struct session *s, const char *tag, bool uid,
	     struct imap_search *srch, const size_t *idx, size_t nres,
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
		if (ret & IMAP_SEARCH_RET_PARTIAL) {
			/* RFC 9394 3.1: the positions asked for, NIL when
			 * none of them exists */
			size_t from, to;
			imap_partial_slice(&srch->partial, nres, &from, &to);
			buf_printf(&out, " PARTIAL (%s ", srch->partial.text);
			if (from < to)
				imap_seqset_format(&out, res + from, to - from);
			else
				buf_puts(&out, "NIL");
			buf_puts(&out, ")");
		}
		/* with only MIN and/or MAX, MODSEQ is that of the messages
		 * returned (RFC 7162 3.1.5), else of every match */
		if ((ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
		    !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT |
		    IMAP_SEARCH_RET_PARTIAL)) &&
		    nres > 0) {
			maxmod = 0;
			if (ret & IMAP_SEARCH_RET_MIN)
				maxmod = s->msgs[idx[0]].modseq;
			if ((ret & IMAP_SEARCH_RET_MAX) &&
			    s->msgs[idx[nres - 1]].modseq > maxmod)
				maxmod = s->msgs[idx[nres - 1]].modseq;
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
	if (srch->esearch && (srch->ret & IMAP_SEARCH_RET_UPDATE))
		(void)search_ctx_keep(s, tag, uid, srch, srch->ret, idx, nres,
		    NULL);
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
		view_condstore(s);
	view_sync(s, uid, NULL, 0);
	search_start(s, tag, uid, &srch, NULL, search_reply, NULL);
}
