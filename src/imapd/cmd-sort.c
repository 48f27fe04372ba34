/* cmd-sort - SORT (RFC 5256; DISPLAYFROM/DISPLAYTO of RFC 5957; ESORT of
 * RFC 5267) and THREAD (ORDEREDSUBJECT, REFERENCES) on the selected
 * folder. The arguments are parsed by lib-imap (imap_sort_parse,
 * imap_thread_parse), the messages chosen by SEARCH's matcher and
 * their header fields read through the header cache (view_header), both
 * in slices between which the loop serves other sessions (search_start);
 * the base subject and the threading are lib-imap's (imap-thread.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "content.h"
#include "imap-spec.h"
#include "imap-thread.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "search.h"
#include "view.h"
#include "xalloc.h"

/* the text keys a message may need */
enum { K_CC, K_FROM, K_SUBJECT, K_TO, K_DISPLAYFROM, K_DISPLAYTO, K_MAX };

struct sort_item {
	size_t idx;               /* in the view */
	uint32_t uid;
	int64_t arrival, sent;
	uint64_t size;
	char *key[K_MAX];         /* casemapped; NULL when not needed */
	/* THREAD */
	char *msgid;
	char **refs;
	size_t nrefs;
	bool reply;
};

/* hdr_field - the unfolded value of a header field (empty if none) */
static bool
hdr_field(const struct buf *hdr, const char *name, struct buf *v)
{
	buf_reset(v);
	return hdr->len > 0 &&
	    mime_header_get(hdr->data, 0, hdr->len, name, v) > 0 &&
	    v->data != NULL;
}

/* key_address - FROM/TO/CC: the mailbox of the first address; DISPLAY*:
 * its display name (RFC 2047 decoded), else "mailbox@host" */
static char *
key_address(const struct buf *hdr, const char *field, bool display)
{
	struct buf v, dec, out;
	struct mime_address a;
	char *r;

	buf_init(&v, 0);
	buf_init(&dec, 0);
	buf_init(&out, 0);
	buf_init(&a.name, 0);
	buf_init(&a.mailbox, 0);
	buf_init(&a.host, 0);
	if (hdr_field(hdr, field, &v) && mime_address_first(v.data, &a)) {
		if (display && a.name.len > 0) {
			mime_decode_words(a.name.data, a.name.len, &dec);
			imap_casemap(&out, dec.data ? dec.data : "", dec.len);
		} else if (display) {
			imap_casemap(&out, a.mailbox.data ? a.mailbox.data : "",
			    a.mailbox.len);
			if (a.host.len > 0) {
				buf_putc(&out, '@');
				imap_casemap(&out, a.host.data, a.host.len);
			}
		} else {
			imap_casemap(&out, a.mailbox.data ? a.mailbox.data : "",
			    a.mailbox.len);
		}
	}
	buf_putc(&out, '\0');
	r = buf_steal(&out);
	buf_free(&v);
	buf_free(&dec);
	buf_free(&a.name);
	buf_free(&a.mailbox);
	buf_free(&a.host);
	return r;
}

/* key_subject - the base subject (RFC 5256 2.1), casemapped */
static char *
key_subject(const struct buf *hdr, bool *reply_r)
{
	struct buf v, dec, out;

	buf_init(&v, 0);
	buf_init(&dec, 0);
	buf_init(&out, 0);
	*reply_r = false;
	if (hdr_field(hdr, "Subject", &v)) {
		mime_decode_words(v.data, v.len, &dec);
		imap_base_subject(dec.data ? dec.data : "", dec.len, &out,
		    reply_r);
	}
	buf_putc(&out, '\0');
	buf_free(&v);
	buf_free(&dec);
	return buf_steal(&out);
}

/* sent_date - the Date: field in UTC, else the internal date (RFC 5256
 * 2.2) */
static int64_t
sent_date(const struct buf *hdr, time_t idate)
{
	struct buf v;
	time_t t;
	int tz;
	int64_t r = (int64_t)idate;

	buf_init(&v, 0);
	if (hdr_field(hdr, "Date", &v) && mime_date_parse(v.data, &t, &tz) == 0)
		r = (int64_t)t;
	buf_free(&v);
	return r;
}

/* thread_ids - Message-ID, and References (else In-Reply-To) */
static void
thread_ids(const struct buf *hdr, struct sort_item *it)
{
	struct buf v, id;
	const char *p;

	buf_init(&v, 0);
	buf_init(&id, 0);
	if (hdr_field(hdr, "Message-ID", &v)) {
		p = v.data;
		if (imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			it->msgid = xstrdup(id.data);
		}
	}
	if (hdr_field(hdr, "References", &v)) {
		p = v.data;
		size_t cap = 0;
		while (imap_msgid_next(&p, &id) == 1) {
			if (it->nrefs == cap) {
				cap = cap ? cap * 2 : 8;
				it->refs = xreallocarray(it->refs, cap,
				    sizeof(*it->refs));
			}
			buf_putc(&id, '\0');
			it->refs[it->nrefs++] = xstrdup(id.data);
			if (it->nrefs >= 4 * IMAP_THREAD_MAX_REFS) {
				/* keep the nearest ones: drop the oldest half */
				size_t half = it->nrefs / 2;
				for (size_t k = 0; k < half; k++)
					free(it->refs[k]);
				memmove(it->refs, it->refs + half,
				    (it->nrefs - half) * sizeof(*it->refs));
				it->nrefs -= half;
			}
		}
	}
	if (it->nrefs == 0 && hdr_field(hdr, "In-Reply-To", &v)) {
		p = v.data;
		if (imap_msgid_next(&p, &id) == 1) {
			buf_putc(&id, '\0');
			it->refs = xcalloc(1, sizeof(*it->refs));
			it->refs[it->nrefs++] = xstrdup(id.data);
		}
	}
	buf_free(&v);
	buf_free(&id);
}

/* what a SORT or THREAD needs of each match (search_start's arg) */
struct sort_ctx {
	struct imap_sort so;
	enum imap_thread_alg alg;
	bool thread;
	bool need[K_MAX], need_date;
	struct sort_item *items;    /* one per match, in view order */
	size_t n;                   /* kept (CONTEXT=SORT): how many */
	struct buf hdr;
};

/* item_load - what the criteria need of match k (view index idx) */
static void
item_load(struct session *s, void *arg, size_t k, size_t idx)
{
	struct sort_ctx *c = arg;
	const struct view_msg *m = &s->msgs[idx];
	struct sort_item *it = &c->items[k];
	bool need_hdr = c->need_date || c->thread;
	struct buf *hdr = &c->hdr;

	for (int i = 0; i < K_MAX; i++)
		need_hdr = need_hdr || c->need[i];
	it->idx = idx;
	it->uid = m->uid;
	it->arrival = (int64_t)m->idate;
	it->size = m->size;
	buf_reset(hdr);
	if (need_hdr && view_header(s, idx, hdr) < 0)
		buf_reset(hdr);  /* expunged meanwhile: empty keys */
	if (c->need_date || c->thread)
		it->sent = sent_date(hdr, m->idate);
	if (c->need[K_CC])
		it->key[K_CC] = key_address(hdr, "Cc", false);
	if (c->need[K_FROM])
		it->key[K_FROM] = key_address(hdr, "From", false);
	if (c->need[K_TO])
		it->key[K_TO] = key_address(hdr, "To", false);
	if (c->need[K_DISPLAYFROM])
		it->key[K_DISPLAYFROM] = key_address(hdr, "From", true);
	if (c->need[K_DISPLAYTO])
		it->key[K_DISPLAYTO] = key_address(hdr, "To", true);
	if (c->need[K_SUBJECT] || c->thread)
		it->key[K_SUBJECT] = key_subject(hdr, &it->reply);
	if (c->thread)
		thread_ids(hdr, it);
}

static void
items_free_one(struct sort_item *it)
{
	for (int k = 0; k < K_MAX; k++)
		free(it->key[k]);
	for (size_t r = 0; r < it->nrefs; r++)
		free(it->refs[r]);
	free(it->refs);
	free(it->msgid);
}

static void
items_free(struct sort_item *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		items_free_one(&v[i]);
	free(v);
}

static int
key_slot(enum imap_sort_key k)
{
	switch (k) {
	case IMAP_SORT_CC: return K_CC;
	case IMAP_SORT_FROM: return K_FROM;
	case IMAP_SORT_SUBJECT: return K_SUBJECT;
	case IMAP_SORT_TO: return K_TO;
	case IMAP_SORT_DISPLAYFROM: return K_DISPLAYFROM;
	case IMAP_SORT_DISPLAYTO: return K_DISPLAYTO;
	default: return -1;
	}
}

/* item_cmp - the criteria in order, each possibly reversed; equal
 * messages by sequence number, that is by UID (never reversed: RFC 5256
 * 3; a kept SORT's view indexes move with expunges, its UIDs do not) */
static int
item_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_item *x = a, *y = b;
	const struct imap_sort *so = arg;

	for (size_t i = 0; i < so->n; i++) {
		int c = 0;
		switch (so->keys[i].key) {
		case IMAP_SORT_ARRIVAL:
			c = x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
			break;
		case IMAP_SORT_DATE:
			c = x->sent < y->sent ? -1 : x->sent > y->sent;
			break;
		case IMAP_SORT_SIZE:
			c = x->size < y->size ? -1 : x->size > y->size;
			break;
		default: {
			int k = key_slot(so->keys[i].key);
			c = strcmp(x->key[k], y->key[k]);
			break;
		}
		}
		if (c != 0)
			return so->keys[i].reverse ? -c : c;
	}
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* sorted_set - ESORT ALL: the numbers in sort order as a sequence-set,
 * runs of consecutive ascending numbers as ranges */
static void
sorted_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", v[i], v[j]);
		else
			buf_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

static struct sort_ctx *
sort_ctx_new(struct session *s)
{
	struct sort_ctx *c = xcalloc(1, sizeof(*c));

	c->items = xcalloc(s->nmsgs + 1, sizeof(*c->items));
	buf_init(&c->hdr, 0);
	return c;
}

static void
sort_ctx_free(struct sort_ctx *c, size_t n)
{
	items_free(c->items, n);
	buf_free(&c->hdr);
	free(c);
}

/* ---- CONTEXT=SORT: a kept result's order (search.h) ---- */

/* sort_live_add - see search.h */
size_t
sort_live_add(struct session *s, struct sort_ctx *c, size_t idx)
{
	c->items = xreallocarray(c->items, c->n + 2, sizeof(*c->items));
	memset(&c->items[c->n], 0, 2 * sizeof(*c->items));
	item_load(s, c, c->n, idx);
	struct sort_item it = c->items[c->n];
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (item_cmp(&c->items[mid], &it, &c->so) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(c->items + lo + 1, c->items + lo,
	    (c->n - lo) * sizeof(*c->items));
	c->items[lo] = it;
	c->n++;
	return lo + 1;
}

/* sort_live_remove - see search.h */
size_t
sort_live_remove(struct sort_ctx *c, uint32_t uid)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->items[i].uid != uid)
			continue;
		items_free_one(&c->items[i]);
		memmove(c->items + i, c->items + i + 1,
		    (c->n - i - 1) * sizeof(*c->items));
		c->n--;
		return i + 1;
	}
	return 0;
}

/* sort_live_uid - see search.h */
uint32_t
sort_live_uid(const struct sort_ctx *c, size_t pos)
{
	return pos < c->n ? c->items[pos].uid : 0;
}

/* sort_live_free - see search.h */
void
sort_live_free(struct sort_ctx *c)
{
	sort_ctx_free(c, c->n);
}

/* sort_finish - sort the loaded matches and answer (search_start) */
static void
sort_finish(struct session *s, const char *tag, bool uid,
	    struct imap_search *srch, const size_t *idx, size_t nres,
	    uint64_t maxmod, void *arg)
{
	struct sort_ctx *c = arg;
	const struct imap_sort so_copy = c->so, *so = &so_copy;

	if (s == NULL) {
		sort_ctx_free(c, nres);
		return;
	}
	qsort_r(c->items, nres, sizeof(*c->items), item_cmp, &c->so);
	uint32_t *res = xcalloc(nres + 1, sizeof(*res));
	for (size_t i = 0; i < nres; i++)
		res[i] = uid ? s->msgs[c->items[i].idx].uid :
		    (uint32_t)(c->items[i].idx + 1);
	bool keep = so->esort && (so->ret & IMAP_SEARCH_RET_UPDATE);
	if (!keep)
		sort_ctx_free(c, nres);

	struct buf out;
	buf_init(&out, 0);
	if (so->esort) {
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", tag, uid ? " UID" : "");
		if ((so->ret & IMAP_SEARCH_RET_MIN) && nres > 0)
			buf_printf(&out, " MIN %u", res[0]);
		if ((so->ret & IMAP_SEARCH_RET_MAX) && nres > 0)
			buf_printf(&out, " MAX %u", res[nres - 1]);
		if ((so->ret & IMAP_SEARCH_RET_ALL) && nres > 0) {
			buf_puts(&out, " ALL ");
			sorted_set(&out, res, nres);
		}
		if (so->ret & IMAP_SEARCH_RET_COUNT)
			buf_printf(&out, " COUNT %zu", nres);
		if (so->ret & IMAP_SEARCH_RET_PARTIAL) {
			/* RFC 9394 3.1: positions in the sorted order */
			size_t from, to;
			imap_partial_slice(&so->partial, nres, &from, &to);
			buf_printf(&out, " PARTIAL (%s ", so->partial.text);
			if (from < to)
				sorted_set(&out, res + from, to - from);
			else
				buf_puts(&out, "NIL");
			buf_puts(&out, ")");
		}
		if (srch->uses_modseq && nres > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)maxmod);
	} else {
		buf_puts(&out, "* SORT");
		for (size_t i = 0; i < nres; i++)
			buf_printf(&out, " %u", res[i]);
		if (srch->uses_modseq && nres > 0)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)maxmod);
	}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	free(res);
	if (keep) {
		c->n = nres;
		if (!search_ctx_keep(s, tag, uid, srch, so->ret, idx, nres, c))
			sort_ctx_free(c, nres);
	}
	session_tagged(s, tag, "OK", "SORT completed");
}

void
cmd_sort(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	struct imap_sort so;
	struct imap_search srch;
	const char *err;
	bool badcharset;

	if (imap_sort_parse(a, n, &so, &srch, &badcharset, &err) < 0) {
		session_tagged(s, tag, badcharset ? "NO" : "BAD", "%s", err);
		return;
	}
	if (srch.uses_modseq)
		view_condstore(s);
	view_sync(s, uid, NULL, 0);
	struct sort_ctx *c = sort_ctx_new(s);
	c->so = so;
	for (size_t i = 0; i < so.n; i++) {
		int k = key_slot(so.keys[i].key);
		if (k >= 0)
			c->need[k] = true;
		if (so.keys[i].key == IMAP_SORT_DATE)
			c->need_date = true;
	}
	search_start(s, tag, uid, &srch, item_load, sort_finish, c);
}

/* thread_finish - thread the loaded matches and answer (search_start) */
static void
thread_finish(struct session *s, const char *tag, bool uid,
	      struct imap_search *srch, const size_t *idx, size_t nres,
	      uint64_t maxmod, void *arg)
{
	struct sort_ctx *c = arg;

	if (s == NULL) {
		sort_ctx_free(c, nres);
		return;
	}
	struct imap_thread_msg *tm = xcalloc(nres + 1, sizeof(*tm));
	for (size_t i = 0; i < nres; i++) {
		const struct sort_item *it = &c->items[i];
		tm[i] = (struct imap_thread_msg){
			.id = uid ? s->msgs[it->idx].uid : (uint32_t)(it->idx + 1),
			.sent = it->sent,
			.msgid = it->msgid,
			.refs = (const char *const *)it->refs,
			.nrefs = it->nrefs,
			.subject = it->key[K_SUBJECT],
			.reply = it->reply,
		};
	}
	struct buf out;
	buf_init(&out, 0);
	buf_puts(&out, "* THREAD ");
	imap_thread(c->alg, tm, nres, &out);
	if (nres == 0)
		buf_truncate(&out, out.len - 1);   /* "* THREAD" */
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	free(tm);
	sort_ctx_free(c, nres);
	session_tagged(s, tag, "OK", "THREAD completed");
}

void
cmd_thread(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	enum imap_thread_alg alg;
	struct imap_search srch;
	const char *err;
	bool badcharset;

	if (imap_thread_parse(a, n, &alg, &srch, &badcharset, &err) < 0) {
		session_tagged(s, tag, badcharset ? "NO" : "BAD", "%s", err);
		return;
	}
	if (srch.uses_modseq)
		view_condstore(s);
	view_sync(s, uid, NULL, 0);
	struct sort_ctx *c = sort_ctx_new(s);
	c->alg = alg;
	c->thread = true;
	c->need_date = true;
	search_start(s, tag, uid, &srch, item_load, thread_finish, c);
}
