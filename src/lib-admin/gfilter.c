/* gfilter - the global MTA filter rules (gfilter.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "gfilter.h"
#include "strutil.h"
#include "xalloc.h"

const char *const adm_gfilter_criteria[] = { "all", "sender", "recipient",
    "header", "size-over", "size-under", "attachment", NULL };
const char *const adm_gfilter_actions[] = { "add-header", "redirect", "copy",
    "quarantine", "delete", "reject", NULL };

static bool
in_list(const char *const *l, const char *s)
{
	for (size_t i = 0; s != NULL && l[i] != NULL; i++)
		if (strcmp(l[i], s) == 0)
			return true;
	return false;
}

int
adm_gfilter_check(const struct adm_gfilter_spec *s, const char **field_r,
		  const char **error_r)
{
	static __thread char b[300];
	const char *crit = s->criterion, *act = s->action, *err = NULL;

	*field_r = NULL;
	if (!in_list(adm_gfilter_criteria, crit)) {
		*field_r = "criterion";
		*error_r = "must be one of all, sender, recipient, header, "
		    "size-over, size-under, attachment";
		return ADM_INVALID;
	}
	if (!in_list(adm_gfilter_actions, act)) {
		*field_r = "action";
		*error_r = "must be one of add-header, redirect, copy, "
		    "quarantine, delete, reject";
		return ADM_INVALID;
	}
	const char *pat = s->pattern, *hdr = s->header, *arg = s->argument;
	if (strcmp(crit, "all") != 0 && (pat == NULL || *pat == '\0')) {
		*field_r = "pattern";
		snprintf(b, sizeof(b), "criterion %s needs a pattern", crit);
		*error_r = b;
		return ADM_INVALID;
	}
	if (strcmp(crit, "header") == 0 && (hdr == NULL || *hdr == '\0' ||
	    strpbrk(hdr, ": \t\r\n") != NULL)) {
		*field_r = "header";
		*error_r = "criterion header needs a header field name";
		return ADM_INVALID;
	}
	if (strncmp(crit, "size-", 5) == 0 && parse_size_kb(pat, 'K') < 0) {
		*field_r = "pattern";
		snprintf(b, sizeof(b), "'%.200s' is not a size (K, or with K, M, "
		    "G)", pat);
		*error_r = b;
		return ADM_INVALID;
	}
	if (strcmp(act, "add-header") == 0 && (arg == NULL ||
	    strchr(arg, ':') == NULL || *arg == ':' || strpbrk(arg, "\r\n"))) {
		*field_r = "argument";
		*error_r = "action add-header needs 'Name: value'";
		return ADM_INVALID;
	}
	if (strcmp(act, "redirect") == 0 || strcmp(act, "copy") == 0) {
		char *n = arg ? address_normalize(arg, &err) : NULL;
		if (n == NULL) {
			*field_r = "argument";
			snprintf(b, sizeof(b), "action %s needs an address%s%s",
			    act, err ? ": " : "", err ? err : "");
			*error_r = b;
			return ADM_INVALID;
		}
		free(n);
	}
	if (s->position < 0 || s->position > 1000000) {
		*field_r = "position";
		*error_r = "a position is a number from 1";
		return ADM_INVALID;
	}
	return ADM_OK;
}

/* renumber - positions 1..n in the current order, id moved to pos (0:
 * no move) */
static int
renumber(struct db *db, int64_t move_id, int64_t pos, const char **err)
{
	struct db_stmt *st = db_query(db, err, "SELECT id FROM global_filter "
	    "ORDER BY position, id", "");
	int64_t *ids = NULL;
	size_t n = 0;

	if (st == NULL)
		return -1;
	while (db_step(st, NULL) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		if (id == move_id)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = id;
	}
	db_stmt_free(&st);
	if (move_id > 0) {
		size_t at = pos < 1 ? 0 : (size_t)pos - 1 > n ? n : (size_t)pos - 1;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		memmove(ids + at + 1, ids + at, (n - at) * sizeof(*ids));
		ids[at] = move_id;
		n++;
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = db_exec(db, err, "UPDATE global_filter SET position = ? "
		    "WHERE id = ?", "ii", (int64_t)(i + 1), ids[i]);
	free(ids);
	return r;
}

/* done - end the transaction of a change: r as it went */
static int
done(struct db *db, bool outer, int r, const char **error_r)
{
	const char *err;

	if (r != ADM_OK) {
		(void)adm_tx_end(db, outer, false, &err);
		return r;
	}
	return adm_tx_end(db, outer, true, error_r);
}

int
adm_gfilter_add(struct db *db, const struct adm_gfilter_spec *s,
		int64_t *id_r, const char **field_r, const char **error_r)
{
	int64_t next = 0;
	bool outer;
	int r;

	if ((r = adm_gfilter_check(s, field_r, error_r)) != ADM_OK)
		return r;
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	if (db_query_int(db, &next, 0, error_r, "SELECT coalesce(max(position), "
	    "0) + 1 FROM global_filter", "") < 0 ||
	    db_exec(db, error_r, "INSERT INTO global_filter (position, enabled, "
	    "criterion, header, pattern, action, argument, created) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)", "iittttti", next, (int64_t)!s->disabled,
	    s->criterion, s->header ? s->header : "", s->pattern ? s->pattern :
	    "", s->action, s->argument ? s->argument : "",
	    (int64_t)time(NULL)) < 0)
		return done(db, outer, ADM_FAIL, error_r);
	*id_r = db_last_id(db);
	r = renumber(db, s->position > 0 ? *id_r : 0, s->position, error_r) < 0 ?
	    ADM_FAIL : ADM_OK;
	return done(db, outer, r, error_r);
}

/* exists - ADM_OK when rule id exists, ADM_NOTFOUND, ADM_FAIL */
static int
exists(struct db *db, int64_t id, const char **error_r)
{
	static __thread char b[80];
	int64_t have = 0;

	if (db_query_int(db, &have, 0, error_r, "SELECT count(*) FROM "
	    "global_filter WHERE id = ?", "i", id) < 0)
		return ADM_FAIL;
	if (have == 0) {
		snprintf(b, sizeof(b), "no global filter %lld", (long long)id);
		*error_r = b;
		return ADM_NOTFOUND;
	}
	return ADM_OK;
}

int
adm_gfilter_del(struct db *db, int64_t id, const char **error_r)
{
	bool outer;
	int r;

	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	if ((r = exists(db, id, error_r)) == ADM_OK &&
	    (db_exec(db, error_r, "DELETE FROM global_filter WHERE id = ?", "i",
	    id) < 0 || renumber(db, 0, 0, error_r) < 0))
		r = ADM_FAIL;
	return done(db, outer, r, error_r);
}

int
adm_gfilter_move(struct db *db, int64_t id, int64_t pos, const char **error_r)
{
	bool outer;
	int r;

	if (pos < 1 || pos > 1000000) {
		*error_r = "a position is a number from 1";
		return ADM_INVALID;
	}
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	if ((r = exists(db, id, error_r)) == ADM_OK &&
	    renumber(db, id, pos, error_r) < 0)
		r = ADM_FAIL;
	return done(db, outer, r, error_r);
}

int
adm_gfilter_enable(struct db *db, int64_t id, bool on, const char **error_r)
{
	bool outer;
	int r;

	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	if ((r = exists(db, id, error_r)) == ADM_OK &&
	    db_exec(db, error_r, "UPDATE global_filter SET enabled = ? WHERE "
	    "id = ?", "ii", (int64_t)on, id) < 0)
		r = ADM_FAIL;
	return done(db, outer, r, error_r);
}
