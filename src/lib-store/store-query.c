/* store-query - the account-wide query index: a sorted, filtered window
 * of the emails of a mailbox (JMAP Email/query) from SQLite indexes on
 * (sort key) and (folder, sort key), walked in order and stopped after the
 * window, so its cost follows position + limit (and how rare the filter
 * is), not the size of the account. bench/store/bench-query.c measures
 * it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "buf.h"
#include "store.h"
#include "store-private.h"
#include "xalloc.h"

static const char *const sort_cols[] = {
	[STORE_SORT_DATE] = "idate",
	[STORE_SORT_SIZE] = "vsize",
	[STORE_SORT_FROM] = "sfrom",
	[STORE_SORT_SUBJECT] = "ssubject",
};

static const char *const text_cols[] = {
	[STORE_TEXT_FROM] = "hfrom",
	[STORE_TEXT_TO] = "hto",
	[STORE_TEXT_SUBJECT] = "hsubject",
};

/* query_where - the filter, with ?1 the folder, ?2 the flags that must
 * be set, ?3 the flags that must not, ?4 a keyword it has, ?5 one it
 * lacks, ?8... the header texts (lowered: query_bind). A column holds
 * each field of its name lowered, the fields joined by a NUL byte (no
 * needle has one: a match never spans two fields), NULL without one;
 * instr() of two BLOBs compares bytes. */
static void
query_where(const struct store_query *q, bool folder, struct buf *b)
{
	buf_puts(b, folder ? " WHERE m.folder=?1" : " WHERE 1");
	if (q->flags_all != 0)
		buf_puts(b, " AND (m.flags & ?2)=?2");
	if (q->flags_none != 0)
		buf_puts(b, " AND (m.flags & ?3)=0");
	if (q->keyword != NULL)
		buf_puts(b, " AND instr(' '||lower(m.keywords)||' ',"
		    " ' '||lower(?4)||' ')>0");
	if (q->not_keyword != NULL)
		buf_puts(b, " AND instr(' '||lower(m.keywords)||' ',"
		    " ' '||lower(?5)||' ')=0");
	for (size_t i = 0; i < q->ntext; i++) {
		bool first = i == 0 || q->text[i].group != q->text[i - 1].group;
		bool last = i + 1 == q->ntext ||
		    q->text[i].group != q->text[i + 1].group;
		buf_printf(b, "%sinstr(m.%s, ?%zu)>0%s", first ? " AND (" :
		    " OR ", text_cols[q->text[i].field], 8 + i, last ? ")" : "");
	}
	if (!folder) {
		/* each email once: the copy in the lowest folder, UID */
		buf_puts(b, " AND NOT EXISTS(SELECT 1 FROM msg c WHERE"
		    " c.emailid=m.emailid AND (c.folder<m.folder OR"
		    " (c.folder=m.folder AND c.uid<m.uid)))");
	}
}

static void
query_bind(sqlite3_stmt *s, const struct store_query *q, int64_t folder)
{
	if (folder >= 0)
		sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int(s, 2, (int)(q->flags_all & STORE_FLAGS_ALL));
	sqlite3_bind_int(s, 3, (int)(q->flags_none & STORE_FLAGS_ALL));
	if (q->keyword != NULL)
		sqlite3_bind_text(s, 4, q->keyword, -1, SQLITE_STATIC);
	if (q->not_keyword != NULL)
		sqlite3_bind_text(s, 5, q->not_keyword, -1, SQLITE_STATIC);
	for (size_t i = 0; i < q->ntext; i++) {
		/* ASCII letters lowered, as the column (and as
		 * mem_contains_ci folds them) */
		size_t n = strlen(q->text[i].value);
		char *v = xmalloc(n + 1);
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)q->text[i].value[k];
			v[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		sqlite3_bind_blob(s, (int)(8 + i), v, (int)n, free);
	}
}

/* query_text_ready - whether every message in the scope (folder >= 0:
 * that one) has its header text in the index (htext=1; the partial
 * index msg_htext lists the others): 1, 0, -1 */
static int
query_text_ready(struct store *st, int64_t folder, const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, folder >= 0 ?
	    "SELECT EXISTS(SELECT 1 FROM msg INDEXED BY msg_htext WHERE"
	    " htext!=1 AND folder=?)" : "SELECT EXISTS(SELECT 1 FROM msg"
	    " INDEXED BY msg_htext WHERE htext!=1)", error_r);
	int r;

	if (s == NULL)
		return -1;
	if (folder >= 0)
		sqlite3_bind_int64(s, 1, folder);
	r = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) == 0 :
	    -1;
	index_done(st, s);
	return r < 0 ? index_err(st, error_r, "query") : r;
}

/* a set of thread ids (open addressing; collapse's "seen") */
struct tid_set {
	char (*slot)[STORE_ID_MAX];
	size_t cap, n;
};

static size_t
tid_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* tid_add - add tid: true when it was not there yet */
static bool
tid_add(struct tid_set *t, const char *tid)
{
	if (2 * (t->n + 1) > t->cap) {
		struct tid_set bigger = { NULL, t->cap ? t->cap * 2 : 256, 0 };
		bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i][0] != '\0')
				(void)tid_add(&bigger, t->slot[i]);
		free(t->slot);
		*t = bigger;
	}
	size_t i = tid_hash(tid) & (t->cap - 1);
	while (t->slot[i][0] != '\0') {
		if (strcmp(t->slot[i], tid) == 0)
			return false;
		i = (i + 1) & (t->cap - 1);
	}
	snprintf(t->slot[i], sizeof(t->slot[i]), "%s", tid);
	t->n++;
	return true;
}

/* store_query - see store.h */
int
store_query(struct store *st, const struct store_query *q,
	    struct store_query_result *r, const char **error_r)
{
	const char *col, *dir = q->descending ? " DESC" : "";
	int64_t folder = -1;
	size_t limit = q->limit;
	struct buf sql;
	sqlite3_stmt *s;
	int rc;

	memset(r, 0, sizeof(*r));
	r->total = -1;
	if ((unsigned)q->sort >= sizeof(sort_cols) / sizeof(*sort_cols)) {
		*error_r = "unknown sort key";
		return -1;
	}
	if (q->ntext > STORE_QUERY_TEXT_MAX) {
		*error_r = "too many text filters";
		return -1;
	}
	for (size_t i = 0; i < q->ntext; i++)
		if ((unsigned)q->text[i].field >= sizeof(text_cols) /
		    sizeof(*text_cols) || q->text[i].value == NULL) {
			*error_r = "unknown text filter";
			return -1;
		}
	col = sort_cols[q->sort];
	if (limit == 0 || limit > STORE_QUERY_LIMIT_MAX)
		limit = STORE_QUERY_LIMIT_MAX;
	if (q->mailboxid != NULL) {
		s = index_prep(st, "SELECT id FROM folder WHERE mailboxid=?",
		    error_r);
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, q->mailboxid, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			folder = sqlite3_column_int64(s, 0);
		index_done(st, s);
		if (folder < 0) {
			*error_r = "no such mailbox";
			return 0;
		}
	}
	if (q->ntext > 0) {
		int ready = query_text_ready(st, folder, error_r);
		if (ready <= 0)
			return ready < 0 ? -1 : 2;
	}
	buf_init(&sql, 0);
	/* the order is the index's: (folder,) key, then the primary key
	 * (folder, uid) that SQLite keeps in every index of the table, so
	 * the walk needs no sort and ties have a stable order */
	/* only columns the index holds: SQLite reads a WITHOUT ROWID row
	 * before it tries any WHERE term unless the index covers the whole
	 * query, so the thread ids of the window are read after */
	buf_printf(&sql, "SELECT m.emailid, m.folder, m.uid FROM msg m%s%s",
	    folder >= 0 ? " INDEXED BY msg_f_" : " INDEXED BY msg_a_",
	    col);
	query_where(q, folder >= 0, &sql);
	if (folder >= 0)
		buf_printf(&sql, " ORDER BY m.%s%s, m.uid%s", col, dir, dir);
	else
		buf_printf(&sql, " ORDER BY m.%s%s, m.folder%s, m.uid%s", col,
		    dir, dir, dir);
	buf_puts(&sql, " LIMIT ?6 OFFSET ?7");
	s = index_prep_once(st, sql.data, error_r);
	buf_free(&sql);
	if (s == NULL)
		return -1;
	query_bind(s, q, folder);
	/* collapsed: the rows are walked from the start (the window counts
	 * threads, not rows) */
	sqlite3_bind_int64(s, 6, q->collapse ? -1 : (int64_t)limit);
	sqlite3_bind_int64(s, 7, q->collapse ? 0 : (int64_t)q->position);
	r->ids = xreallocarray(NULL, limit, sizeof(*r->ids));
	sqlite3_stmt *t = index_prep(st, "SELECT threadid FROM msg WHERE "
	    "folder=? AND uid=?", error_r);
	if (t == NULL) {
		index_done(st, s);
		store_query_result_free(r);
		return -1;
	}
	struct tid_set seen = { NULL, 0, 0 };
	size_t skipped = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && r->n < limit) {
		struct store_query_row *row = &r->ids[r->n];
		snprintf(row->emailid, sizeof(row->emailid), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		sqlite3_reset(t);
		sqlite3_bind_int64(t, 1, sqlite3_column_int64(s, 1));
		sqlite3_bind_int64(t, 2, sqlite3_column_int64(s, 2));
		row->threadid[0] = '\0';
		if (sqlite3_step(t) == SQLITE_ROW)
			snprintf(row->threadid, sizeof(row->threadid), "%s",
			    (const char *)sqlite3_column_text(t, 0));
		/* collapsed: a thread seen before, or one before the window */
		if (q->collapse) {
			if (row->threadid[0] != '\0' &&
			    !tid_add(&seen, row->threadid))
				continue;
			if (skipped < q->position) {
				skipped++;
				continue;
			}
		}
		r->n++;
	}
	free(seen.slot);
	index_done(st, t);
	index_done(st, s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_query_result_free(r);
		return index_err(st, error_r, "query");
	}
	if (!q->want_total)
		return 1;
	buf_init(&sql, 0);
	buf_puts(&sql, q->collapse ? "SELECT count(DISTINCT m.threadid) FROM "
	    "msg m" : "SELECT count(*) FROM msg m");
	query_where(q, folder >= 0, &sql);
	s = index_prep_once(st, sql.data, error_r);
	buf_free(&sql);
	if (s == NULL) {
		store_query_result_free(r);
		return -1;
	}
	query_bind(s, q, folder);
	if (sqlite3_step(s) == SQLITE_ROW)
		r->total = sqlite3_column_int64(s, 0);
	index_done(st, s);
	return 1;
}

void
store_query_result_free(struct store_query_result *r)
{
	free(r->ids);
	memset(r, 0, sizeof(*r));
	r->total = -1;
}

/* uids_query - the UIDs a one-column statement s gives, ascending */
static int
uids_query(struct store *st, sqlite3_stmt *s, uint32_t **uids_r,
	   size_t *n_r, const char **error_r)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	index_done(st, s);
	if (rc != SQLITE_DONE) {
		free(v);
		return index_err(st, error_r, "text uids");
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

/* store_text_uids - see store.h */
int
store_text_uids(struct store_folder *f, enum store_text_field field,
		const char *needle, uint32_t **match_r, size_t *nmatch_r,
		uint32_t **unknown_r, size_t *nunknown_r, const char **error_r)
{
	/* one statement per column: the texts are static (index_prep) */
	static const char *const sql[] = {
		[STORE_TEXT_FROM] = "SELECT uid FROM msg WHERE folder=?1 AND"
		    " htext=1 AND instr(hfrom, ?2)>0 ORDER BY uid",
		[STORE_TEXT_TO] = "SELECT uid FROM msg WHERE folder=?1 AND"
		    " htext=1 AND instr(hto, ?2)>0 ORDER BY uid",
		[STORE_TEXT_SUBJECT] = "SELECT uid FROM msg WHERE folder=?1 AND"
		    " htext=1 AND instr(hsubject, ?2)>0 ORDER BY uid",
	};
	size_t len = strlen(needle);
	char *low = xmalloc(len + 1);
	sqlite3_stmt *s;

	*match_r = *unknown_r = NULL;
	*nmatch_r = *nunknown_r = 0;
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)(needle[i] >= 'A' && needle[i] <= 'Z' ?
		    needle[i] + 32 : needle[i]);
	s = index_prep(f->st, sql[field], error_r);
	if (s == NULL) {
		free(low);
		return -1;
	}
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_blob(s, 2, low, (int)len, SQLITE_TRANSIENT);
	free(low);
	if (uids_query(f->st, s, match_r, nmatch_r, error_r) < 0)
		return -1;
	/* the rows without the text: the partial index lists them */
	s = index_prep(f->st, "SELECT uid FROM msg INDEXED BY msg_htext"
	    " WHERE folder=?1 AND htext!=1 ORDER BY uid", error_r);
	if (s == NULL || (sqlite3_bind_int64(s, 1, f->id),
	    uids_query(f->st, s, unknown_r, nunknown_r, error_r)) < 0) {
		xfree(match_r);
		*nmatch_r = 0;
		return -1;
	}
	return 0;
}
