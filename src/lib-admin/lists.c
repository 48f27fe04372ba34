/* lists - the list server's held posts and bounce counting (lists.h) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin.h"
#include "buf.h"
#include "fsutil.h"
#include "lists.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define HELD_INFO_MAX 4096

bool
list_token_valid(const char *token)
{
	size_t i;
	for (i = 0; token[i] != '\0'; i++)
		if (!((token[i] >= '0' && token[i] <= '9') ||
		    (token[i] >= 'a' && token[i] <= 'f')))
			return false;
	return i == LIST_TOKEN_LEN;
}

char *
list_dir(struct db *db, const char *sub)
{
	char *q = settings_queue_path(db);
	char *p = xasprintf("%s/ls/%s", q, sub);
	free(q);
	return p;
}

/* clean - a copy of s, one line, at most LIST_TEXT_MAX bytes */
static char *
clean(const char *s)
{
	char *c = xstrndup(s != NULL ? s : "", LIST_TEXT_MAX);
	for (char *p = c; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	return c;
}

char *
list_held_format(const struct list_held *h)
{
	char *f = clean(h->from), *s = clean(h->subject);
	char *l = clean(h->list), *e = clean(h->sender), *q = clean(h->queue_id);
	char *out = xasprintf("v1\n%s\n%s\n%s\n%lld\n%s\n%s\n", l, e, q,
	    (long long)h->held, f, s);
	free(f);
	free(s);
	free(l);
	free(e);
	free(q);
	return out;
}

void
list_held_free(struct list_held *h)
{
	free(h->list);
	free(h->sender);
	free(h->queue_id);
	free(h->from);
	free(h->subject);
	memset(h, 0, sizeof(*h));
}

int
list_held_read(const char *held_dir, const char *token, struct list_held *h)
{
	struct buf b;
	char *lines[7];
	size_t n = 0;

	memset(h, 0, sizeof(*h));
	if (!list_token_valid(token))
		return -1;
	char *path = xasprintf("%s/%s.info", held_dir, token);
	buf_init(&b, HELD_INFO_MAX);
	int r = file_read(path, &b);
	free(path);
	if (r < 0) {
		buf_free(&b);
		return errno == ENOENT ? 0 : -1;
	}
	char *s = b.data ? b.data : (char *)"";
	while (n < 7 && *s != '\0') {
		char *nl = strchr(s, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		lines[n++] = s;
		s = nl + 1;
	}
	long long t;
	if (n != 7 || strcmp(lines[0], "v1") != 0 ||
	    parse_long(lines[4], 0, (long long)1 << 40, &t) < 0) {
		buf_free(&b);
		return -1;
	}
	snprintf(h->token, sizeof(h->token), "%s", token);
	h->list = xstrdup(lines[1]);
	h->sender = xstrdup(lines[2]);
	h->queue_id = xstrdup(lines[3]);
	h->held = (time_t)t;
	h->from = xstrdup(lines[5]);
	h->subject = xstrdup(lines[6]);
	buf_free(&b);
	return 1;
}

static int
held_cmp(const void *a, const void *b)
{
	const struct list_held *x = a, *y = b;
	if (x->held != y->held)
		return x->held < y->held ? -1 : 1;
	return strcmp(x->token, y->token);
}

int
adm_list_held(struct db *db, const char *list, struct list_held **v_r,
	      size_t *n_r, const char **error_r)
{
	int64_t id;
	int r;

	*v_r = NULL;
	*n_r = 0;
	if ((r = adm_object_id(db, ADM_LIST, list, &id, error_r)) < 0)
		return r;
	char *dir = list_dir(db, "held");
	DIR *d = opendir(dir);
	if (d == NULL) {
		free(dir);
		return ADM_OK;   /* nothing held yet */
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l != LIST_TOKEN_LEN + 5 || strcmp(de->d_name + LIST_TOKEN_LEN,
		    ".info") != 0)
			continue;
		char tok[LIST_TOKEN_LEN + 1];
		memcpy(tok, de->d_name, LIST_TOKEN_LEN);
		tok[LIST_TOKEN_LEN] = '\0';
		struct list_held h;
		if (list_held_read(dir, tok, &h) != 1)
			continue;
		if (strcasecmp(h.list, list) != 0) {
			list_held_free(&h);
			continue;
		}
		*v_r = xreallocarray(*v_r, *n_r + 1, sizeof(**v_r));
		(*v_r)[(*n_r)++] = h;
	}
	closedir(d);
	free(dir);
	if (*n_r > 1)
		qsort(*v_r, *n_r, sizeof(**v_r), held_cmp);
	return ADM_OK;
}

int
adm_list_moderate(struct db *db, const char *list, const char *token,
		  bool approve, const char **error_r)
{
	struct list_held h;
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_LIST, list, &id, error_r)) < 0)
		return r;
	if (!list_token_valid(token)) {
		db_errorf(db, error_r, "'%s' is not a moderation token (20 hex digits)",
		    token);
		return ADM_INVALID;
	}
	char *dir = list_dir(db, "held");
	r = list_held_read(dir, token, &h);
	if (r != 1 || strcasecmp(h.list, list) != 0) {
		if (r == 1)
			list_held_free(&h);
		free(dir);
		db_errorf(db, error_r, "no post held for %s with token %s", list, token);
		return ADM_NOTFOUND;
	}
	list_held_free(&h);
	char *path = xasprintf("%s/%s.%s", dir, token, approve ? "approve" : "reject");
	r = file_write_atomic(path, "", 0, 0660);
	free(path);
	free(dir);
	if (r < 0) {
		db_errorf(db, error_r, "cannot record the decision: %s", strerror(errno));
		return ADM_FAIL;
	}
	return ADM_OK;
}

int
adm_list_member_bounce(struct db *db, int64_t list_id, const char *member,
		       time_t now, time_t stale_after, int *count_r,
		       time_t *probe_r, const char **error_r)
{
	bool outer;
	int r;

	*count_r = 0;
	*probe_r = 0;
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	struct db_stmt *st = db_query(db, error_r, "SELECT m.status, m.bounces, "
	    "m.bounce_last, m.probe_sent, l.bounce_limit FROM list_member m "
	    "JOIN list l ON l.id = m.list_id WHERE m.list_id = ? AND "
	    "m.address = ?", "it", list_id, member);
	if (st == NULL) {
		r = ADM_FAIL;
	} else if (db_step(st, NULL) != DB_ROW) {
		r = ADM_NOTFOUND;
	} else {
		const char *status = db_col_text(st, 0);
		bool active = status != NULL && strcmp(status, "active") == 0;
		int64_t n = db_col_int(st, 1);
		int64_t last = db_col_int(st, 2);
		int64_t probe = db_col_int(st, 3);
		int64_t limit = db_col_int(st, 4);
		r = ADM_OK;
		if (active) {
			if (now - last > stale_after)
				n = 0;   /* the old bounces are forgotten */
			n++;
			if (n >= limit && (probe == 0 || now - probe > stale_after)) {
				probe = now;
				*probe_r = now;
			}
			*count_r = (int)(n > INT32_MAX ? INT32_MAX : n);
		}
		db_stmt_free(&st);
		st = NULL;
		if (active && db_exec(db, error_r, "UPDATE list_member SET "
		    "bounces = ?, bounce_last = ?, probe_sent = ? WHERE list_id = ? "
		    "AND address = ?", "iiiit", n, (int64_t)now, probe, list_id,
		    member) < 0)
			r = ADM_FAIL;
	}
	if (st != NULL)
		db_stmt_free(&st);
	const char *e2;
	if (adm_tx_end(db, outer, r == ADM_OK, r == ADM_OK ? error_r : &e2) < 0 &&
	    r == ADM_OK)
		r = ADM_FAIL;
	if (r != ADM_OK) {
		*count_r = 0;
		*probe_r = 0;
	}
	return r;
}

int
adm_list_member_probe_failed(struct db *db, int64_t list_id,
			     const char *member, time_t sent,
			     const char **error_r)
{
	if (sent <= 0)
		return ADM_NOTFOUND;
	if (db_exec(db, error_r, "UPDATE list_member SET status = 'disabled' "
	    "WHERE list_id = ? AND address = ? AND probe_sent = ? AND status = "
	    "'active'", "iti", list_id, member, (int64_t)sent) < 0)
		return ADM_FAIL;
	return db_changes(db) > 0 ? ADM_OK : ADM_NOTFOUND;
}
