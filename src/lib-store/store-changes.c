/* store-changes - the account-wide change log: what JMAP /changes and
 * push need without walking folders. The rows are written by the
 * index's triggers (store-index.c), so every road that changes a message
 * or a folder logs it; this file reads and trims the log. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

/* changes_epoch - the index's epoch (made with the index: a rebuilt index
 * has another, so states of the old one cannot be calculated from) */
static int
changes_epoch(struct store *st, char out[16], const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, "SELECT value FROM meta WHERE "
	    "key='epoch'", error_r);
	int r;

	if (s == NULL)
		return -1;
	r = sqlite3_step(s);
	snprintf(out, 16, "%s", r == SQLITE_ROW ?
	    (const char *)sqlite3_column_text(s, 0) : "0");
	index_done(st, s);
	return 0;
}

static int64_t
meta_int(struct store *st, const char *key)
{
	sqlite3_stmt *s = index_prep(st, "SELECT value FROM meta WHERE key=?",
	    NULL);
	int64_t v = 0;

	if (s == NULL)
		return 0;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	index_done(st, s);
	return v;
}

/* store_state - see store.h */
int
store_state(struct store *st, enum store_change_type type,
	    char state[STORE_STATE_MAX], const char **error_r)
{
	char epoch[16];
	sqlite3_stmt *s;
	int64_t seq = 0;

	if (changes_epoch(st, epoch, error_r) < 0)
		return -1;
	s = index_prep(st, "SELECT max(seq) FROM changelog WHERE type=?",
	    error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, (int)type);
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = sqlite3_column_int64(s, 0);
	index_done(st, s);
	if (seq == 0) /* none of this type: the log's floor stands for it */
		seq = meta_int(st, "log_floor");
	snprintf(state, STORE_STATE_MAX, "%s-%" PRId64, epoch, seq);
	return 0;
}

/* state_parse - the sequence number of a state of this index; -1 when it
 * is not one (another index's epoch, garbage) */
static int64_t
state_parse(const char *state, const char *epoch)
{
	size_t el = strlen(epoch);
	char *end;
	long long v;

	if (state == NULL || strncmp(state, epoch, el) != 0 ||
	    state[el] != '-')
		return -1;
	errno = 0;
	v = strtoll(state + el + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == state + el + 1 || v < 0)
		return -1;
	return (int64_t)v;
}

struct change_ent {
	char *id;
	int first_op, last_op;
	bool full;               /* an update other than counts */
};

static int
cmp_ent_id(const void *a, const void *b)
{
	return strcmp(((const struct change_ent *)a)->id,
	    ((const struct change_ent *)b)->id);
}

static void
push(char ***v, size_t *n, const char *id)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(id);
}

/* store_changes - see store.h */
int
store_changes(struct store *st, enum store_change_type type,
	      const char *since_state, size_t max_changes,
	      struct store_changes *c, const char **error_r)
{
	char epoch[16];
	struct change_ent *ents = NULL;
	size_t nents = 0, cap = 0;
	int64_t since, last, floor;
	sqlite3_stmt *s;
	int r;

	memset(c, 0, sizeof(*c));
	if (changes_epoch(st, epoch, error_r) < 0)
		return -1;
	since = state_parse(since_state, epoch);
	floor = meta_int(st, "log_floor");
	if (since < 0 || since < floor) {
		*error_r = since < 0 ? "state of another index or not a state"
		    : "the change log was trimmed past that state";
		return 0;
	}
	last = since;
	/* walk the entries after since; ids in a small sorted array */
	s = index_prep(st, "SELECT seq, id, op FROM changelog WHERE type=?1"
	    " AND seq>?2 ORDER BY seq", error_r);
	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, (int)type);
	sqlite3_bind_int64(s, 2, since);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);
		const char *id = (const char *)sqlite3_column_text(s, 1);
		int op = sqlite3_column_int(s, 2);
		struct change_ent *e = NULL;
		/* linear probe of the last entries first: a burst logs one
		 * id several times in a row */
		for (size_t i = nents; i > 0 && i + 8 > nents; i--)
			if (strcmp(ents[i - 1].id, id) == 0) {
				e = &ents[i - 1];
				break;
			}
		if (e == NULL) {
			for (size_t i = 0; i < nents; i++)
				if (strcmp(ents[i].id, id) == 0) {
					e = &ents[i];
					break;
				}
		}
		if (e == NULL) {
			if (max_changes > 0 && nents >= max_changes) {
				c->has_more = true;
				break;
			}
			if (nents == cap) {
				cap = cap ? cap * 2 : 64;
				ents = xreallocarray(ents, cap, sizeof(*ents));
			}
			e = &ents[nents++];
			e->id = xstrdup(id);
			e->first_op = op;
			e->full = false;
		}
		if (op == STORE_CHANGE_UPDATED)
			e->full = true;
		e->last_op = op;
		last = seq;
	}
	index_done(st, s);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		for (size_t i = 0; i < nents; i++)
			free(ents[i].id);
		free(ents);
		return index_err(st, error_r, "read the change log");
	}
	if (nents > 1)
		qsort(ents, nents, sizeof(*ents), cmp_ent_id);
	c->counts_only = type == STORE_CHANGE_MAILBOX;
	for (size_t i = 0; i < nents; i++) {
		struct change_ent *e = &ents[i];
		bool created = e->first_op == STORE_CHANGE_CREATED;
		if (e->last_op == STORE_CHANGE_DESTROYED) {
			if (!created)
				push(&c->destroyed, &c->ndestroyed, e->id);
		} else if (created) {
			push(&c->created, &c->ncreated, e->id);
		} else {
			push(&c->updated, &c->nupdated, e->id);
			if (e->full)
				c->counts_only = false;
		}
		free(e->id);
	}
	free(ents);
	/* every entry of the type up to last was read (one statement: one
	 * snapshot), so last is the state the client has now */
	snprintf(c->new_state, sizeof(c->new_state), "%s-%" PRId64, epoch,
	    last);
	return 1;
}

void
store_changes_free(struct store_changes *c)
{
	for (size_t i = 0; i < c->ncreated; i++)
		free(c->created[i]);
	for (size_t i = 0; i < c->nupdated; i++)
		free(c->updated[i]);
	for (size_t i = 0; i < c->ndestroyed; i++)
		free(c->destroyed[i]);
	free(c->created);
	free(c->updated);
	free(c->destroyed);
	memset(c, 0, sizeof(*c));
}

/* store_changes_trim - see store.h */
int
store_changes_trim(struct store *st, uint64_t keep, const char **error_r)
{
	sqlite3_stmt *s;
	int64_t max = 0, cut;

	if (index_begin(st, error_r) < 0)
		return -1;
	s = index_prep(st, "SELECT max(seq) FROM changelog", error_r);
	if (s == NULL) {
		index_rollback(st);
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		max = sqlite3_column_int64(s, 0);
	index_done(st, s);
	cut = max - (int64_t)keep;
	if (cut <= meta_int(st, "log_floor")) {
		index_rollback(st);
		return 0;
	}
	s = index_prep(st, "DELETE FROM changelog WHERE seq<=?", error_r);
	if (s == NULL) {
		index_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(s, 1, cut);
	if (sqlite3_step(s) != SQLITE_DONE) {
		index_done(st, s);
		index_rollback(st);
		return index_err(st, error_r, "trim the change log");
	}
	index_done(st, s);
	s = index_prep(st, "INSERT OR REPLACE INTO meta VALUES('log_floor',?)",
	    error_r);
	if (s == NULL) {
		index_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(s, 1, cut);
	sqlite3_step(s);
	index_done(st, s);
	return index_commit(st, error_r);
}

/* changes_autotrim - trim the log to STORE_CHANGES_KEEP entries once it
 * holds a quarter more (two lookups of the primary key otherwise) */
int
changes_autotrim(struct store *st, const char **error_r)
{
	/* two subqueries: SQLite answers a lone min() or max() from the
	 * primary key at once, but max(seq)-min(seq) in one SELECT scans the
	 * whole log (200,000 rows, 20 ms, at every store_open) */
	sqlite3_stmt *s = index_prep(st, "SELECT (SELECT max(seq) FROM "
	    "changelog) - (SELECT min(seq) FROM changelog)", error_r);
	int64_t span = 0;

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		span = sqlite3_column_int64(s, 0);
	index_done(st, s);
	if (span <= STORE_CHANGES_KEEP + STORE_CHANGES_KEEP / 4)
		return 0;
	return store_changes_trim(st, STORE_CHANGES_KEEP, error_r);
}
