/* jmap-mail-query - Email/query and Email/queryChanges (RFC 8621
 * 4.4, 4.5): sorting, filters, the store's query index (jmap-mail.h) */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "http-response.h"
#include "imap-parser.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-store.h"
#include "settings.h"
#include "store.h"
#include "xalloc.h"
#include "jmap-mail-private.h"

/* one message as the query sees it */
struct qmsg {
	const struct jms_msg *m;
	char *from, *to, *subject;   /* sort keys, lower case */
	time_t sent;
	char tid[24];
};

struct sort_key {
	enum { SK_RECEIVED, SK_SIZE, SK_FROM, SK_TO, SK_SUBJECT, SK_SENT } k;
	bool asc;
};


static int
qmsg_cmp_keys(const struct qmsg *a, const struct qmsg *b,
	      const struct sort_key *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		int r = 0;
		switch (keys[i].k) {
		case SK_RECEIVED:
			r = a->m->received < b->m->received ? -1 :
			    a->m->received > b->m->received;
			break;
		case SK_SIZE:
			r = a->m->size < b->m->size ? -1 : a->m->size > b->m->size;
			break;
		case SK_FROM:
			r = strcmp(a->from, b->from);
			break;
		case SK_TO:
			r = strcmp(a->to, b->to);
			break;
		case SK_SUBJECT:
			r = strcmp(a->subject, b->subject);
			break;
		case SK_SENT:
			r = a->sent < b->sent ? -1 : a->sent > b->sent;
			break;
		}
		if (r != 0)
			return keys[i].asc ? r : -r;
	}
	return strcmp(a->m->id, b->m->id);
}

/* qsort has no context argument: the keys of this thread's sort */
static __thread const struct sort_key *t_keys;
static __thread size_t t_nkeys;

/* tid_cmp - positions in t_list by thread id, then position (stable) */
static __thread const struct qmsg *t_list;

static int
tid_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int r = strcmp(t_list[a].tid, t_list[b].tid);

	return r != 0 ? r : a < b ? -1 : a > b;
}

static int
qmsg_cmp(const void *x, const void *y)
{
	return qmsg_cmp_keys(x, y, t_keys, t_nkeys);
}

/* subject_base - a subject without Re:/Fwd: prefixes, lower case */
static char *
subject_base(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, "re:", 3) == 0)
			s += 3;
		else if (strncasecmp(s, "fwd:", 4) == 0)
			s += 4;
		else if (strncasecmp(s, "fw:", 3) == 0)
			s += 3;
		else
			break;
	}
	char *r = xstrdup(s);
	for (char *p = r; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static int
sort_parse(json_t *sort, struct sort_key *keys, size_t *n_r, bool *hdr_r,
	   json_t **error_r)
{
	size_t i;
	json_t *s;

	*n_r = 0;
	*hdr_r = false;
	if (sort == NULL || json_is_null(sort)) {
		keys[0] = (struct sort_key){ SK_RECEIVED, false };
		*n_r = 1;
		return 0;
	}
	if (!json_is_array(sort) || json_array_size(sort) > 8) {
		*error_r = jmap_error("unsupportedSort", "sort must be an array of "
		    "at most 8 Comparators");
		return -1;
	}
	json_array_foreach(sort, i, s) {
		const char *p = json_string_value(json_object_get(s, "property"));
		json_t *asc = json_object_get(s, "isAscending");
		static const struct { const char *name; int k; bool hdr; } props[] = {
			{ "receivedAt", SK_RECEIVED, false }, { "size", SK_SIZE, false },
			{ "from", SK_FROM, true }, { "to", SK_TO, true },
			{ "subject", SK_SUBJECT, true }, { "sentAt", SK_SENT, true },
		};
		size_t k;
		for (k = 0; p != NULL && k < sizeof(props) / sizeof(props[0]); k++)
			if (strcmp(props[k].name, p) == 0)
				break;
		if (p == NULL || k == sizeof(props) / sizeof(props[0])) {
			*error_r = jmap_error("unsupportedSort", "Emails sort by "
			    "receivedAt, size, from, to, subject or sentAt, not "
			    "%.100s", p != NULL ? p : "(none)");
			return -1;
		}
		keys[*n_r].k = props[k].k;
		keys[*n_r].asc = asc == NULL || json_is_true(asc);
		*hdr_r = *hdr_r || props[k].hdr;
		(*n_r)++;
	}
	return 0;
}

/* query_run - the sorted, filtered list of Emails; collapse: one per
 * thread. *list_r (free each field with qmsgs_free) */
static int
query_run(struct jmap_mail_ctx *c, struct jms *j, struct je_filter *filter,
	  const struct sort_key *keys, size_t nkeys, bool need_hdr,
	  bool collapse, struct qmsg **list_r, size_t *n_r, json_t **error_r)
{
	struct qmsg *list = NULL;
	size_t n = 0, cap = 0;
	const char *err;
	bool bytes = je_filter_needs_bytes(filter);
	/* a top-level inMailbox: only that folder is read */
	const char *only = NULL;
	for (size_t i = 0; filter != NULL && filter->kind == JF_AND &&
	    i < filter->nsub; i++)
		if (filter->sub[i].kind == JF_IN_MAILBOX)
			only = filter->sub[i].str;
		else if (filter->sub[i].kind == JF_AND)
			for (size_t k = 0; k < filter->sub[i].nsub; k++)
				if (filter->sub[i].sub[k].kind == JF_IN_MAILBOX)
					only = filter->sub[i].sub[k].str;

	for (size_t f = 0; f < jms_nfolders(j); f++) {
		const struct jms_msg *m;
		size_t nm;
		if (only != NULL && strcmp(jms_folder(j, f)->id, only) != 0)
			continue;
		if (jms_msgs(j, f, &m, &nm, &err) < 0) {
			*error_r = server_fail(c, err);
			goto fail;
		}
		for (size_t k = 0; k < nm; k++) {
			struct buf data;
			char *kw = keywords_flat(&m[k]);
			struct je_match jm = { .mailbox_id = jms_folder(j, f)->id,
			    .keywords = kw, .size = m[k].size,
			    .received = m[k].received };
			buf_init(&data, MESSAGE_READ_MAX);
			if ((bytes || need_hdr) && jms_msg_read(j, &m[k],
			    bytes ? 0 : HEADER_READ, &data, &err) < 0) {
				free(kw);
				buf_free(&data);
				continue;     /* expunged meanwhile */
			}
			if (data.data == NULL)
				buf_puts(&data, "");
			jm.data = data.data;
			jm.len = data.len;
			bool ok = je_filter_match(filter, &jm);
			free(kw);
			if (!ok) {
				buf_free(&data);
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				list = xreallocarray(list, cap, sizeof(*list));
			}
			struct qmsg *q = &list[n++];
			memset(q, 0, sizeof(*q));
			q->m = &m[k];
			if (need_hdr) {
				struct buf b;
				buf_init(&b, 0);
				je_sort_address(data.data, data.len, "From", &b);
				q->from = buf_steal(&b);
				buf_init(&b, 0);
				je_sort_address(data.data, data.len, "To", &b);
				q->to = buf_steal(&b);
				buf_init(&b, 0);
				je_header_text(data.data, data.len, "Subject", &b);
				q->subject = subject_base(b.data);
				buf_free(&b);
				q->sent = je_sent_at(data.data, data.len);
			}
			if (collapse)
				snprintf(q->tid, sizeof(q->tid), "%s",
				    m[k].threadid);
			buf_free(&data);
		}
	}
	t_keys = keys;
	t_nkeys = nkeys;
	if (n > 1)
		qsort(list, n, sizeof(*list), qmsg_cmp);
	if (collapse) {
		/* the first of each thread: a stable sort by thread id of the
		 * positions, so that a thread's first in the order is known
		 * in O(n log n) (a walk of the kept ones for each was 17 s
		 * of CPU at 100,000 threads) */
		size_t *by = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*by));
		bool *first = xcalloc(n > 0 ? n : 1, sizeof(*first));
		for (size_t i = 0; i < n; i++)
			by[i] = i;
		t_list = list;
		if (n > 1)
			qsort(by, n, sizeof(*by), tid_cmp);
		for (size_t i = 0; i < n; i++)
			first[by[i]] = i == 0 ||
			    strcmp(list[by[i]].tid, list[by[i - 1]].tid) != 0;
		free(by);
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			bool dup = !first[i];
			if (dup) {
				free(list[i].from);
				free(list[i].to);
				free(list[i].subject);
			} else
				list[o++] = list[i];
		}
		free(first);
		n = o;
	}
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++) {
		free(list[i].from);
		free(list[i].to);
		free(list[i].subject);
	}
	free(list);
	return -1;
}

static void
qmsgs_free(struct qmsg *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].from);
		free(list[i].to);
		free(list[i].subject);
	}
	free(list);
}

/* index_text - a from/to/subject condition f into q as a term of group
 * g: false for any other condition or past STORE_QUERY_TEXT_MAX */
static bool
index_text(const struct je_filter *f, struct store_query *q,
	   unsigned int g)
{
	if ((f->kind != JF_FROM && f->kind != JF_TO && f->kind != JF_SUBJECT)
	    || q->ntext == STORE_QUERY_TEXT_MAX)
		return false;
	q->text[q->ntext].field = f->kind == JF_FROM ? STORE_TEXT_FROM :
	    f->kind == JF_TO ? STORE_TEXT_TO : STORE_TEXT_SUBJECT;
	q->text[q->ntext].value = f->str;
	q->text[q->ntext++].group = g;
	return true;
}

/* index_filter - put f into q when the store's query index can serve it:
 * ANDs of inMailbox (one), hasKeyword and notKeyword (system keywords as
 * flags, one other keyword each), from, to and subject (the index's
 * header text, up to STORE_QUERY_TEXT_MAX), ORs of from, to and subject
 * conditions; false for anything else (text and body read the
 * bodies) */
static bool
index_filter(const struct je_filter *f, struct store_query *q)
{
	if (f == NULL)
		return true;
	switch (f->kind) {
	case JF_AND:
		for (size_t i = 0; i < f->nsub; i++)
			if (!index_filter(&f->sub[i], q))
				return false;
		return true;
	case JF_IN_MAILBOX:
		if (q->mailboxid != NULL && strcmp(q->mailboxid, f->str) != 0)
			return false;
		q->mailboxid = f->str;
		return true;
	case JF_HAS_KEYWORD:
		if (keyword_flag(f->str) != 0)
			q->flags_all |= keyword_flag(f->str);
		else if (q->keyword == NULL)
			q->keyword = f->str;
		else
			return false;
		return true;
	case JF_NOT_KEYWORD:
		if (keyword_flag(f->str) != 0)
			q->flags_none |= keyword_flag(f->str);
		else if (q->not_keyword == NULL)
			q->not_keyword = f->str;
		else
			return false;
		return true;
	case JF_FROM: case JF_TO: case JF_SUBJECT:
		return index_text(f, q, q->ntext == 0 ? 0 :
		    q->text[q->ntext - 1].group + 1);
	case JF_OR: {
		/* an OR of from/to/subject conditions (the webmail's and
		 * Roundcube's search): one group of the store's terms */
		unsigned int g = q->ntext == 0 ? 0 :
		    q->text[q->ntext - 1].group + 1;
		if (f->nsub == 0)
			return false;
		for (size_t i = 0; i < f->nsub; i++) {
			const struct je_filter *t = &f->sub[i];
			if (t->kind == JF_AND && t->nsub == 1)
				t = &t->sub[0];   /* a FilterCondition */
			if (!index_text(t, q, g))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* index_sort - the store's sort key for k: false when the index has
 * none (to, sentAt) */
static bool
index_sort(const struct sort_key *k, struct store_query *q)
{
	switch (k->k) {
	case SK_RECEIVED: q->sort = STORE_SORT_DATE; break;
	case SK_SIZE: q->sort = STORE_SORT_SIZE; break;
	case SK_FROM: q->sort = STORE_SORT_FROM; break;
	case SK_SUBJECT: q->sort = STORE_SORT_SUBJECT; break;
	default: return false;
	}
	q->descending = !k->asc;
	return true;
}

/* index_query - Email/query from the store's query index (store_query)
 * when it can answer: one sort key of receivedAt, size, from, subject; a
 * filter index_filter takes (collapseThreads too), no anchor, a
 * position from the start, a limit above 0. 1 answered (*result_r or *error_r),
 * 0 not servable: the caller reads the messages instead. */
static int
index_query(struct jmap_mail_ctx *c, struct jms *j, json_t *args,
	    const struct je_filter *filter, const struct sort_key *keys,
	    size_t nkeys, json_int_t start, json_int_t lim, bool capped,
	    json_t **result_r, json_t **error_r)
{
	json_t *anchor = json_object_get(args, "anchor");
	struct store_query q = { 0 };
	const char *err = NULL;

	if (json_is_string(anchor) || start < 0 || lim <= 0 || nkeys != 1 ||
	    !index_filter(filter, &q))
		return 0;
	q.collapse = json_is_true(json_object_get(args, "collapseThreads"));
	if (!index_sort(&keys[0], &q))
		return 0;
	q.position = (size_t)start;
	q.limit = (size_t)lim + 1;   /* one more: are there more? */
	q.want_total = json_is_true(json_object_get(args, "calculateTotal"));
	json_t *ids;
	int64_t total;
	int r = jms_query(j, &q, &ids, &total, &err);
	if (r != 0)
		json_decref(ids);
	if (r < 0) {
		*error_r = server_fail(c, err);
		return 1;
	}
	if (r > 0)
		return 0;   /* a text filter the index cannot answer */
	bool more = (json_int_t)json_array_size(ids) > lim;
	if (more)
		json_array_remove(ids, (size_t)lim);
	/* queryChanges calculates uncollapsed queries only */
	*result_r = json_pack("{s:s,s:o,s:b,s:I,s:o}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'E'),
	    "canCalculateChanges", !q.collapse, "position", start, "ids", ids);
	if (q.want_total)
		json_object_set_new(*result_r, "total", json_integer(total));
	if (capped || (json_object_get(args, "limit") == NULL && more))
		json_object_set_new(*result_r, "limit", json_integer(lim));
	return 1;
}

void
email_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "position", "anchor", "anchorOffset", "limit", "calculateTotal",
	    "collapseThreads", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *pos = json_object_get(args, "position");
	json_t *anchor = json_object_get(args, "anchor");
	json_t *aoff = json_object_get(args, "anchorOffset");
	json_t *limit = json_object_get(args, "limit");
	struct je_filter *filter = NULL;
	struct sort_key keys[8];
	size_t nkeys;
	bool need_hdr;

	if (j == NULL)
		return;
	if ((pos != NULL && !json_is_integer(pos)) ||
	    (aoff != NULL && !json_is_integer(aoff)) ||
	    (anchor != NULL && !json_is_null(anchor) && !json_is_string(anchor)) ||
	    (limit != NULL && !json_is_null(limit) && (!json_is_integer(limit) ||
	    json_integer_value(limit) < 0))) {
		*error_r = jmap_error("invalidArguments", "position and "
		    "anchorOffset are integers, limit a non-negative integer, "
		    "anchor an id");
		return;
	}
	if (sort_parse(json_object_get(args, "sort"), keys, &nkeys, &need_hdr,
	    error_r) < 0 || je_filter_parse(json_object_get(args, "filter"),
	    &filter, error_r) < 0)
		return;
	json_int_t start = pos != NULL ? json_integer_value(pos) : 0;
	json_int_t lim = limit != NULL && json_is_integer(limit) ?
	    json_integer_value(limit) : QUERY_LIMIT_MAX;
	bool capped = lim > QUERY_LIMIT_MAX;
	if (capped)
		lim = QUERY_LIMIT_MAX;
	if (index_query(c, j, args, filter, keys, nkeys, start, lim, capped,
	    result_r, error_r) > 0) {
		je_filter_free(&filter);
		return;
	}
	struct qmsg *list;
	size_t n;
	bool collapse = json_is_true(json_object_get(args, "collapseThreads"));
	int r = query_run(c, j, filter, keys, nkeys, need_hdr, collapse, &list,
	    &n, error_r);
	je_filter_free(&filter);
	if (r < 0)
		return;
	if (json_is_string(anchor)) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(list[i].m->id, json_string_value(anchor)) == 0)
				break;
		if (i == n) {
			qmsgs_free(list, n);
			*error_r = jmap_error("anchorNotFound", "the anchor is not in "
			    "the results");
			return;
		}
		start = (json_int_t)i + (aoff != NULL ? json_integer_value(aoff) : 0);
	} else if (start < 0)
		start += (json_int_t)n;
	if (start < 0)
		start = 0;
	if (start > (json_int_t)n)
		start = (json_int_t)n;
	json_t *ids = json_array();
	for (json_int_t i = start; i < (json_int_t)n && i < start + lim; i++)
		json_array_append_new(ids, json_string(list[i].m->id));
	*result_r = json_pack("{s:s,s:o,s:b,s:I,s:o}", "accountId",
	    c->account_id, "queryState", jmap_mail_state(j, 'E'), "canCalculateChanges",
	    0, "position", start, "ids", ids);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(*result_r, "total", json_integer((json_int_t)n));
	if (capped || (limit == NULL && (json_int_t)n - start > lim))
		json_object_set_new(*result_r, "limit", json_integer(lim));
	qmsgs_free(list, n);
}

/* email_query_changes - Email/queryChanges (RFC 8620 5.6) of a query
 * the store's index serves (index_query: canCalculateChanges true): the
 * change log's created, updated and destroyed ids since the state are
 * all "removed" (5.6 allows ids that were not in the old results), and
 * those of them in the current results "added" at their index. The
 * whole result is read, so a query of more than STORE_QUERY_LIMIT_MAX
 * Emails cannot be calculated; upToId is not used. */
void
email_query_changes(void *ctx, json_t *args, json_t **result_r,
		    json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "filter", "sort",
	    "sinceQueryState", "maxChanges", "upToId", "calculateTotal",
	    "collapseThreads", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *mc = json_object_get(args, "maxChanges");
	struct je_filter *filter = NULL;
	struct sort_key keys[8];
	size_t nkeys;
	bool need_hdr;
	struct store_query q = { 0 };
	struct jms_changes ch;
	const char *err = NULL;

	if (j == NULL)
		return;
	const char *since = json_string_value(json_object_get(args,
	    "sinceQueryState"));
	if (since == NULL || (mc != NULL && !json_is_null(mc) &&
	    (!json_is_integer(mc) || json_integer_value(mc) <= 0))) {
		*error_r = jmap_error("invalidArguments", "sinceQueryState is "
		    "required, maxChanges a positive integer");
		return;
	}
	if (sort_parse(json_object_get(args, "sort"), keys, &nkeys, &need_hdr,
	    error_r) < 0 || je_filter_parse(json_object_get(args, "filter"),
	    &filter, error_r) < 0)
		return;
	if (json_is_true(json_object_get(args, "collapseThreads")) ||
	    nkeys != 1 || !index_filter(filter, &q) ||
	    !index_sort(&keys[0], &q)) {
		je_filter_free(&filter);
		*error_r = jmap_error("cannotCalculateChanges", "changes are "
		    "calculated for queries with one sort of receivedAt, size, "
		    "from or subject, inMailbox/hasKeyword/notKeyword/from/to/"
		    "subject filters and no collapseThreads (canCalculateChanges): run the "
		    "query again");
		return;
	}
	q.limit = STORE_QUERY_LIMIT_MAX;
	q.want_total = true;
	int r = jms_changes(j, 'E', since, 0, &ch, &err);
	if (r <= 0) {
		je_filter_free(&filter);
		*error_r = r < 0 ? server_fail(c, err) : jmap_error(
		    "cannotCalculateChanges", "sinceQueryState cannot be "
		    "calculated from: %s", err != NULL ? err : "unknown state");
		return;
	}
	json_t *ids;
	int64_t total;
	r = jms_query(j, &q, &ids, &total, &err);
	je_filter_free(&filter);
	if (r != 0 || total > (int64_t)json_array_size(ids)) {
		*error_r = r < 0 ? server_fail(c, err) : r > 0 ? jmap_error(
		    "cannotCalculateChanges", "the index does not hold the "
		    "header text of every message yet: run the query again") :
		    jmap_error("cannotCalculateChanges", "the query has more "
		    "than %d results: run it again", STORE_QUERY_LIMIT_MAX);
		goto out;
	}
	json_t *changed = json_object(), *removed = json_array(),
	    *added = json_array();
	json_t *lists[3] = { ch.created, ch.updated, ch.destroyed };
	for (size_t l = 0; l < 3; l++) {
		size_t i;
		json_t *v;
		json_array_foreach(lists[l], i, v) {
			json_array_append(removed, v);
			if (l < 2)
				json_object_set(changed, json_string_value(v),
				    json_true());
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_object_get(changed, json_string_value(v)) != NULL)
			json_array_append_new(added, json_pack("{s:O,s:I}", "id",
			    v, "index", (json_int_t)i));
	json_decref(changed);
	if (json_is_integer(mc) && (json_int_t)(json_array_size(removed) +
	    json_array_size(added)) > json_integer_value(mc)) {
		json_decref(removed);
		json_decref(added);
		*error_r = jmap_error("tooManyChanges", "more changes than "
		    "maxChanges: run the query again");
		goto out;
	}
	*result_r = json_pack("{s:s,s:s,s:s,s:o,s:o}", "accountId",
	    c->account_id, "oldQueryState", since, "newQueryState",
	    ch.new_state, "removed", removed, "added", added);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(*result_r, "total", json_integer(total));
out:
	json_decref(ids);
	json_decref(ch.created);
	json_decref(ch.updated);
	json_decref(ch.destroyed);
}
