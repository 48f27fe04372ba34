/* qadmin - the connector queues for the operator (qadmin.h), in lib-diag
 * because it sits above lib-queue; moved out of
 * the CLI's cmd-queue.c so that `postern queue` and the web admin act
 * through one place */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "admin.h"
#include "buf.h"
#include "fsutil.h"
#include "qadmin.h"
#include "sendlimit.h"
#include "xalloc.h"

static const char *const connectors[] = { "smtp", "sf", "ls", "pr", NULL };

void
qadm_ref_free(struct qadm_ref *r)
{
	free(r->qpath);
	free(r->label);
	r->qpath = r->label = NULL;
}

static const char *
status_word(enum rcpt_status s)
{
	switch (s) {
	case RCPT_PENDING: return "pending";
	case RCPT_DELIVERED: return "delivered";
	case RCPT_DEFERRED: return "deferred";
	case RCPT_FAILED: return "failed";
	}
	return "?";
}

/* load_env - read an envelope file */
static int
load_env(const char *path, struct queue_env *env, const char **error_r)
{
	struct buf b;
	int r;

	buf_init(&b, QUEUE_ENV_MAX);
	if (file_read(path, &b) < 0) {
		buf_free(&b);
		*error_r = strerror(errno);
		return -1;
	}
	r = queue_env_parse(b.data ? b.data : "", b.len, env, error_r);
	buf_free(&b);
	return r;
}

/* each_in - fn for each *.env of dir */
static int
each_in(const char *dir, const char *qpath, const char *label,
	const char *state, int (*fn)(const struct qadm_ref *, void *),
	void *ctx)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	int r = 0;

	while (dh != NULL && r == 0 && (e = readdir(dh)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".env") != 0 ||
		    len - 4 > QUEUE_ID_MAX)
			continue;
		struct qadm_ref ref = { 0 };
		ref.qpath = xstrdup(qpath);
		ref.label = xstrdup(label);
		ref.state = state;
		memcpy(ref.id, e->d_name, len - 4);
		ref.id[len - 4] = '\0';
		r = fn(&ref, ctx);
		qadm_ref_free(&ref);
	}
	if (dh != NULL)
		closedir(dh);
	return r;
}

int
qadm_each(const char *root, int (*fn)(const struct qadm_ref *, void *),
	  void *ctx)
{
	static const char *const subs[] = { "new", "cur" };
	int r = 0;

	for (const char *const *c = connectors; *c && r == 0; c++)
		for (int d = 0; d < 2 && r == 0; d++) {
			char *qp = queue_path(root, *c, d == 0 ? QUEUE_INBOUND :
			    QUEUE_OUTGOING);
			char *label = xasprintf("%s/%s", *c, d == 0 ? "inbound" :
			    "outgoing");
			for (int s = 0; s < 2 && r == 0; s++) {
				char *dir = path_join(qp, subs[s]);
				r = each_in(dir, qp, label, s == 0 ? "queued" :
				    "active", fn, ctx);
				free(dir);
			}
			free(label);
			free(qp);
		}
	if (r == 0) {
		char *bad = path_join(root, "badmail");
		r = each_in(bad, bad, "badmail", "badmail", fn, ctx);
		free(bad);
	}
	return r;
}

const char *const qadm_labels[] = { "smtp/inbound", "smtp/outgoing",
	"sf/inbound", "sf/outgoing", "ls/inbound", "ls/outgoing", "pr/inbound",
	"pr/outgoing", "badmail", NULL };

/* count_in - the *.env names of dir */
static int64_t
count_in(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	int64_t n = 0;

	while (dh != NULL && (e = readdir(dh)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len >= 5 && strcmp(e->d_name + len - 4, ".env") == 0)
			n++;
	}
	if (dh != NULL)
		closedir(dh);
	return n;
}

void
qadm_count(const char *root, int64_t *counts)
{
	size_t k = 0;

	for (const char *const *c = connectors; *c; c++)
		for (int d = 0; d < 2; d++, k++) {
			char *qp = queue_path(root, *c, d == 0 ? QUEUE_INBOUND :
			    QUEUE_OUTGOING);
			char *n = path_join(qp, "new"), *a = path_join(qp, "cur");
			counts[k] = count_in(n) + count_in(a);
			free(n);
			free(a);
			free(qp);
		}
	char *bad = path_join(root, "badmail");
	counts[k] = count_in(bad);
	free(bad);
}

static char *
env_path_of(const struct qadm_ref *ref)
{
	if (strcmp(ref->state, "badmail") == 0)
		return xasprintf("%s/%s.env", ref->qpath, ref->id);
	return xasprintf("%s/%s/%s.env", ref->qpath,
	    strcmp(ref->state, "active") == 0 ? "cur" : "new", ref->id);
}

static char *
msg_path_of(const struct qadm_ref *ref)
{
	if (strcmp(ref->state, "badmail") == 0)
		return xasprintf("%s/%s.msg", ref->qpath, ref->id);
	return xasprintf("%s/%s/%s.msg", ref->qpath,
	    strcmp(ref->state, "active") == 0 ? "cur" : "new", ref->id);
}

bool
qadm_queue_valid(const char *name)
{
	if (strcmp(name, "badmail") == 0)
		return true;
	for (const char *const *c = connectors; *c; c++) {
		size_t n = strlen(*c);
		if (strncmp(name, *c, n) == 0 && name[n] == '/' &&
		    (strcmp(name + n + 1, "inbound") == 0 ||
		    strcmp(name + n + 1, "outgoing") == 0))
			return true;
	}
	return false;
}

struct find_ctx {
	const char *id;
	struct qadm_ref *found;
};

static int
find_one(const struct qadm_ref *ref, void *arg)
{
	struct find_ctx *f = arg;

	if (strcmp(ref->id, f->id) != 0)
		return 0;
	f->found->qpath = xstrdup(ref->qpath);
	f->found->label = xstrdup(ref->label);
	f->found->state = ref->state;
	snprintf(f->found->id, sizeof(f->found->id), "%s", ref->id);
	return 1;
}

int
qadm_find(const char *root, const char *id, struct qadm_ref *r)
{
	struct find_ctx f = { .id = id, .found = r };

	memset(r, 0, sizeof(*r));
	return qadm_each(root, find_one, &f) == 1;
}

long long
qadm_msg_size(const struct qadm_ref *ref)
{
	char *mp = msg_path_of(ref);
	struct stat st;
	long long n = stat(mp, &st) == 0 ? (long long)st.st_size : -1;

	free(mp);
	return n;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* read_headers - the message's header (at most 64 KB; new string) */
static char *
read_headers(const struct qadm_ref *ref)
{
	char *mp = msg_path_of(ref);
	struct buf head;
	char line[1024];
	FILE *m = fopen(mp, "r");

	free(mp);
	buf_init(&head, 64 * 1024);
	while (m != NULL && fgets(line, sizeof(line), m) != NULL) {
		if (line[0] == '\r' || line[0] == '\n')
			break;
		if (buf_puts(&head, line) < 0)
			break;
	}
	if (m != NULL)
		fclose(m);
	char *s = xstrdup(head.data ? head.data : "");
	buf_free(&head);
	return s;
}

json_t *
qadm_item_json(const struct qadm_ref *ref, bool detail)
{
	struct queue_env env;
	const char *err = NULL;
	char *path = env_path_of(ref);
	int r = load_env(path, &env, &err);

	free(path);
	if (r < 0)
		queue_env_init(&env, ref->id);
	json_t *o = json_object(), *rc = json_array();
	json_object_set_new(o, "id", json_string(ref->id));
	json_object_set_new(o, "queue", json_string(ref->label));
	json_object_set_new(o, "state", json_string(ref->state));
	json_object_set_new(o, "arrival", json_integer(env.arrival));
	json_object_set_new(o, "sender", json_string(env.sender ? env.sender : ""));
	json_object_set_new(o, "size", json_integer(qadm_msg_size(ref)));
	if (r < 0)
		json_object_set_new(o, "error", json_string(err));
	for (size_t i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *x = &env.rcpts[i];
		json_array_append_new(rc, json_pack("{s:s,s:s,s:i,s:I,s:o}",
		    "address", x->address, "status", status_word(x->status),
		    "attempts", x->attempts, "next_attempt",
		    (json_int_t)x->next_attempt, "last_error",
		    str_or_null(x->last_error)));
	}
	json_object_set_new(o, "recipients", rc);
	/* bad mail held by the outbound limits (mta/limits.h): "held" */
	if (strcmp(ref->state, "badmail") == 0) {
		char *rp = xasprintf("%s/%s.reason", ref->qpath, ref->id);
		char head[256] = "";
		FILE *rf = fopen(rp, "re");
		if (rf != NULL) {
			if (fgets(head, sizeof(head), rf) == NULL)
				head[0] = '\0';
			fclose(rf);
		}
		bool held = strncmp(head, "held: ", 6) == 0;
		json_object_set_new(o, "held", json_boolean(held));
		head[strcspn(head, "\r\n")] = '\0';
		if (held && !detail)
			json_object_set_new(o, "reason", json_string(head));
		free(rp);
	}
	if (detail) {
		json_object_set_new(o, "auth_user", str_or_null(env.auth_user));
		json_object_set_new(o, "client", str_or_null(env.client_addr));
		json_object_set_new(o, "client_helo", str_or_null(env.client_helo));
		json_object_set_new(o, "origin", str_or_null(env.origin));
		char *h = read_headers(ref);
		json_object_set_new(o, "headers", json_string(h));
		free(h);
		if (strcmp(ref->state, "badmail") == 0) {
			char *rp = xasprintf("%s/%s.reason", ref->qpath, ref->id);
			struct buf rb;
			buf_init(&rb, 65536);
			if (file_read(rp, &rb) == 0)
				json_object_set_new(o, "reason", json_string(
				    rb.data ? rb.data : ""));
			buf_free(&rb);
			free(rp);
		}
	}
	queue_env_free(&env);
	return o;
}

/* unlink_bad - remove a bad mail item's files */
static void
unlink_bad(const struct qadm_ref *ref)
{
	char *ep = env_path_of(ref), *mp = msg_path_of(ref);
	char *rp = xasprintf("%s/%s.reason", ref->qpath, ref->id);

	unlink(ep);
	unlink(mp);
	unlink(rp);
	free(ep);
	free(mp);
	free(rp);
}

/* release_bad - bad mail back to the MTA through smtp/inbound, every
 * recipient not delivered pending again */
static int
release_bad(const char *root, const struct qadm_ref *ref,
	    const char **error_r)
{
	static __thread char msg[300];
	struct queue_env env;
	const char *err;
	char *ep = env_path_of(ref), *mp = msg_path_of(ref);
	int r = ADM_OK;

	if (load_env(ep, &env, &err) < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", ref->id, err);
		*error_r = msg;
		free(ep);
		free(mp);
		return ADM_FAIL;
	}
	for (size_t i = 0; i < env.nrcpts; i++)
		if (env.rcpts[i].status != RCPT_DELIVERED) {
			env.rcpts[i].status = RCPT_PENDING;
			env.rcpts[i].next_attempt = 0;
		}
	char *q = queue_path(root, "smtp", QUEUE_INBOUND);
	if (queue_put_file(q, mp, &env, &err) < 0) {
		snprintf(msg, sizeof(msg), "release %s: %s", ref->id, err);
		*error_r = msg;
		r = ADM_FAIL;
	} else
		unlink_bad(ref);
	free(q);
	queue_env_free(&env);
	free(ep);
	free(mp);
	return r;
}

int
qadm_act(const char *root, const struct qadm_ref *ref, const char *verb,
	 const char **error_r)
{
	static __thread char msg[300];
	struct queue_item item;
	const char *err;
	bool del = strcmp(verb, "delete") == 0;
	int r;

	if (strcmp(ref->state, "active") == 0) {
		snprintf(msg, sizeof(msg), "%s is being processed right now; try "
		    "again", ref->id);
		*error_r = msg;
		return ADM_BUSY;
	}
	if (strcmp(ref->state, "badmail") == 0) {
		if (!del)
			return release_bad(root, ref, error_r);
		unlink_bad(ref);
		return ADM_OK;
	}
	if (strcmp(verb, "release") == 0) {
		snprintf(msg, sizeof(msg), "release takes an item in bad mail; "
		    "%s is queued", ref->id);
		*error_r = msg;
		return ADM_INVALID;
	}
	r = queue_claim(ref->qpath, ref->id, &item, &err);
	if (r <= 0) {
		if (r == 0) {
			snprintf(msg, sizeof(msg), "%s was taken by a service; try "
			    "again", ref->id);
			*error_r = msg;
			return ADM_BUSY;
		}
		/* unreadable: put it back where it was for its consumer to
		 * quarantine, unless the order was to delete it */
		snprintf(msg, sizeof(msg), "%s: %s", ref->id, err);
		const char *e2;
		if (del && queue_item_done(&item, &e2) == 0)
			r = ADM_OK;
		else {
			queue_item_release(&item, &e2);
			*error_r = msg;
			r = ADM_FAIL;
		}
		queue_item_free(&item);
		return r;
	}
	if (del)
		r = queue_item_done(&item, &err);
	else {
		for (size_t i = 0; i < item.env.nrcpts; i++)
			if (item.env.rcpts[i].status == RCPT_DEFERRED)
				item.env.rcpts[i].next_attempt = 0;
		r = queue_item_update(&item, &err);
		if (r == 0)
			r = queue_item_release(&item, &err);
	}
	queue_item_free(&item);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "%s %s: %s", verb, ref->id, err);
		*error_r = msg;
		return ADM_FAIL;
	}
	return ADM_OK;
}

/* ---- track: one message's path from the service logs ---- */

struct track_line {
	char *text;
};

static int
cmp_line(const void *a, const void *b)
{
	/* lines start with an ISO time: text order is time order */
	return strcmp(((const struct track_line *)a)->text,
	    ((const struct track_line *)b)->text);
}

/* base_id - the queue id without a split suffix */
static void
base_id(const char *id, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(id, "."), id);
}

static bool
looks_like_id(const char *s)
{
	if (strlen(s) < QUEUE_ID_LEN)
		return false;
	for (int i = 0; i < QUEUE_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[QUEUE_ID_LEN] == '\0' || s[QUEUE_ID_LEN] == '.';
}

/* ids_in - queue ids (16 upper-case hex digits) mentioned in a line */
static void
ids_in(const char *line, char ***ids, size_t *n)
{
	for (const char *p = line; *p; p++) {
		if (p != line && ((p[-1] >= '0' && p[-1] <= '9') || (p[-1] >= 'A' && p[-1] <= 'F')))
			continue;
		int k = 0;
		while (k < QUEUE_ID_LEN && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'A' && p[k] <= 'F')))
			k++;
		if (k != QUEUE_ID_LEN || (p[k] >= '0' && p[k] <= '9') || (p[k] >= 'A' && p[k] <= 'F'))
			continue;
		bool seen = false;
		for (size_t i = 0; i < *n; i++)
			if (strncmp((*ids)[i], p, QUEUE_ID_LEN) == 0)
				seen = true;
		if (!seen && *n < 1000) {
			*ids = xreallocarray(*ids, *n + 1, sizeof(char *));
			(*ids)[(*n)++] = xstrndup(p, QUEUE_ID_LEN);
		}
	}
}


/* is_log_name - a service log or a rotated one: X.log, X.log.1,
 * X.log.2.gz, X.log-20261207(.gz) */
static bool
is_log_name(const char *name)
{
	const char *p = strstr(name, ".log");

	if (p == NULL || p == name)
		return false;
	return p[4] == '\0' || p[4] == '.' || p[4] == '-';
}

/* read_gzip - a compressed log, through gzip -dc (no shell), bounded by
 * b's limit */
static int
read_gzip(const char *path, struct buf *b)
{
	int fds[2];
	pid_t pid;
	char chunk[65536];
	ssize_t n;
	int st, r = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -1;
			break;
		}
		if (r == 0 && buf_append(b, chunk, (size_t)n) < 0)
			r = -1;   /* over the bound: keep draining */
	}
	close(fds[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		r = b->len > 0 ? r : -1;
	return r;
}

/* read_logs - every service log of root/log, rotated ones too, each
 * bounded by max: 0, or -1 when there is no log directory */
static int
read_logs(const char *root, size_t max, struct buf *all)
{
	char *logdir = path_join(root, "log");
	DIR *d = opendir(logdir);
	struct dirent *e;

	if (d == NULL) {
		free(logdir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (!is_log_name(e->d_name))
			continue;
		char *p = path_join(logdir, e->d_name);
		struct buf b;
		buf_init(&b, max);
		size_t len = strlen(e->d_name);
		int rr = len > 3 && strcmp(e->d_name + len - 3, ".gz") == 0 ?
		    read_gzip(p, &b) : file_read(p, &b);
		if (rr == 0 && b.len > 0) {
			buf_append(all, b.data, b.len);
			if (b.data[b.len - 1] != '\n')
				buf_putc(all, '\n');
		}
		buf_free(&b);
		free(p);
	}
	closedir(d);
	free(logdir);
	return 0;
}

struct now_ctx {
	char **ids;
	size_t nids;
	json_t *now;
};

static int
now_one(const struct qadm_ref *ref, void *arg)
{
	struct now_ctx *c = arg;
	char bid[QUEUE_ID_MAX + 1];

	base_id(ref->id, bid, sizeof(bid));
	for (size_t i = 0; i < c->nids; i++)
		if (strcmp(bid, c->ids[i]) == 0) {
			json_array_append_new(c->now, qadm_item_json(ref, false));
			break;
		}
	return 0;
}

json_t *
qadm_track(const char *root, const char *queue_root, const char *key,
	   size_t log_max, const char **error_r)
{
	char **ids = NULL;
	size_t nids = 0;
	struct buf all;

	buf_init(&all, 0);
	if (read_logs(root, log_max, &all) < 0) {
		buf_free(&all);
		*error_r = "no logs under the data root";
		return NULL;
	}
	if (looks_like_id(key)) {
		char bid[QUEUE_ID_MAX + 1];
		base_id(key, bid, sizeof(bid));
		ids = xcalloc(1, sizeof(char *));
		ids[nids++] = xstrdup(bid);
	} else {
		/* a Message-ID or an address: the ids on lines that mention it */
		for (char *line = all.data; line && *line; ) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (strcasestr(line, key) != NULL)
				ids_in(line, &ids, &nids);
			if (nl)
				*nl = '\n';
			line = nl ? nl + 1 : NULL;
		}
	}
	struct track_line *lines = NULL;
	size_t nlines = 0;
	for (char *line = all.data; line && *line; ) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		for (size_t i = 0; i < nids; i++) {
			if (memmem(line, len, ids[i], strlen(ids[i])) != NULL) {
				lines = xreallocarray(lines, nlines + 1, sizeof(*lines));
				lines[nlines++].text = xstrndup(line, len);
				break;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	buf_free(&all);
	if (nlines > 1)
		qsort(lines, nlines, sizeof(*lines), cmp_line);
	/* where it is now */
	struct now_ctx nc = { ids, nids, json_array() };
	if (queue_root != NULL && nids > 0)
		qadm_each(queue_root, now_one, &nc);
	json_t *ia = json_array(), *la = json_array();
	for (size_t i = 0; i < nids; i++) {
		json_array_append_new(ia, json_string(ids[i]));
		free(ids[i]);
	}
	free(ids);
	for (size_t i = 0; i < nlines; i++) {
		json_array_append_new(la, json_string(lines[i].text));
		free(lines[i].text);
	}
	free(lines);
	return json_pack("{s:o,s:o,s:o}", "ids", ia, "log", la, "queued", nc.now);
}

int
qadm_sendlimit_release(const char *root, struct sendlimit *sl, const char *id,
		       time_t now, const char **error_r)
{
	static _Thread_local char msg[200];
	struct qadm_ref ref;

	if (!qadm_find(root, id, &ref)) {
		snprintf(msg, sizeof(msg), "no queue item %.100s", id);
		*error_r = msg;
		return ADM_NOTFOUND;
	}
	if (strcmp(ref.state, "badmail") != 0) {
		qadm_ref_free(&ref);
		snprintf(msg, sizeof(msg), "%.100s is not held (release takes an "
		    "item in bad mail)", id);
		*error_r = msg;
		return ADM_INVALID;
	}
	int r;
	if (sendlimit_release(sl, ref.id, now) < 0) {
		*error_r = "cannot mark it in config/limits.db";
		r = ADM_FAIL;
	} else
		r = qadm_act(root, &ref, "release", error_r);
	qadm_ref_free(&ref);
	return r;
}
