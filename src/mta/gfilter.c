/* gfilter - global MTA filters from the config store (see gfilter.h) */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsn.h"
#include "fsutil.h"
#include "gfilter.h"
#include "log.h"
#include "mime.h"
#include "msghdr.h"
#include "strutil.h"
#include "xalloc.h"

#define GFILTER_RULES_MAX 1000
#define GFILTER_FIELDS_MAX 1000
#define GFILTER_MIME_MAX (64 * 1024 * 1024)

struct rule {
	int64_t id;
	char *criterion, *header, *pattern, *action, *argument;
};

struct fields {
	char **name, **value;
	size_t n;
};

/* the message as far as the rules looked at it */
struct gmsg {
	struct filter_ctx *ctx;
	const char *path;           /* current message file */
	bool have_fields;
	struct fields f;
	bool have_names;
	char **names;               /* attachment file names */
	size_t nnames;
};

static char reason_buf[512];

static void
rules_free(struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].criterion);
		free(r[i].header);
		free(r[i].pattern);
		free(r[i].action);
		free(r[i].argument);
	}
	free(r);
}

/* rules_load - the enabled rules in order; -1 on a database error */
static int
rules_load(struct db *db, struct rule **rules_r, size_t *n_r)
{
	const char *err = NULL;
	struct db_stmt *st = db_query_cached(db, &err, "SELECT id, criterion, header, "
	    "pattern, action, argument FROM global_filter WHERE enabled <> 0 "
	    "ORDER BY position, id", "");
	struct rule *r = NULL;
	size_t n = 0;
	int rc;

	if (st == NULL) {
		log_warnx("global filters: %s", err);
		return -1;
	}
	while ((rc = db_step(st, NULL)) == DB_ROW && n < GFILTER_RULES_MAX) {
		r = xreallocarray(r, n + 1, sizeof(*r));
		r[n].id = db_col_int(st, 0);
		r[n].criterion = db_col_dup(st, 1);
		r[n].header = db_col_dup(st, 2);
		r[n].pattern = db_col_dup(st, 3);
		r[n].action = db_col_dup(st, 4);
		r[n].argument = db_col_dup(st, 5);
		n++;
	}
	db_stmt_free(&st);
	if (rc != DB_DONE && rc != DB_ROW) {
		rules_free(r, n);
		return -1;
	}
	*rules_r = r;
	*n_r = n;
	return 0;
}

static bool
glob_ci(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

/* on_field - keep the fields (bounded) */
static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct fields *fs = ctx;
	if (fs->n >= GFILTER_FIELDS_MAX)
		return;
	fs->name = xreallocarray(fs->name, fs->n + 1, sizeof(char *));
	fs->value = xreallocarray(fs->value, fs->n + 1, sizeof(char *));
	fs->name[fs->n] = xstrdup(f->name);
	fs->value[fs->n] = xstrdup(f->value);
	fs->n++;
}

/* gmsg_fields - the header fields of the current message */
static void
gmsg_fields(struct gmsg *g)
{
	const char *err = NULL;

	if (g->have_fields)
		return;
	g->have_fields = true;
	(void)msghdr_scan_file(g->path, on_field, &g->f, &err);
}

static void
fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		free(f->value[i]);
	}
	free(f->name);
	free(f->value);
	memset(f, 0, sizeof(*f));
}

static const char *
param_of(const struct mime_param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].name != NULL && strcasecmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

/* collect_names - the file names of p and its children */
static void
collect_names(struct gmsg *g, const struct mime_part *p, int depth)
{
	if (depth > MIME_MAX_DEPTH || g->nnames >= 1000)
		return;
	const char *fn = param_of(p->disp_params, p->ndisp_params, "filename");
	if (fn == NULL)
		fn = param_of(p->params, p->nparams, "name");
	if (fn != NULL && *fn != '\0') {
		struct buf d;
		buf_init(&d, 4096);
		mime_decode_words(fn, strlen(fn), &d);
		g->names = xreallocarray(g->names, g->nnames + 1, sizeof(char *));
		g->names[g->nnames++] = xstrdup(d.data ? d.data : fn);
		buf_free(&d);
	}
	for (size_t i = 0; i < p->nchildren; i++)
		collect_names(g, &p->children[i], depth + 1);
}

/* gmsg_names - the attachment names of the current message */
static void
gmsg_names(struct gmsg *g)
{
	struct buf data;
	struct mime_message msg;

	if (g->have_names)
		return;
	g->have_names = true;
	buf_init(&data, GFILTER_MIME_MAX);
	if (file_read(g->path, &data) < 0) {
		log_warn("%s: global filters: cannot read the message for its "
		    "attachments", g->ctx->env->id);
		buf_free(&data);
		return;
	}
	mime_parse(&msg, data.data ? data.data : "", data.len);
	collect_names(g, &msg.root, 0);
	mime_free(&msg);
	buf_free(&data);
}

/* rule_match - whether the rule's criterion holds */
static bool
rule_match(struct gmsg *g, const struct rule *r)
{
	const struct queue_env *env = g->ctx->env;
	const char *c = r->criterion;

	if (strcmp(c, "all") == 0)
		return true;
	if (strcmp(c, "sender") == 0)
		return glob_ci(r->pattern, env->sender ? env->sender : "");
	if (strcmp(c, "recipient") == 0) {
		for (size_t i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].status == RCPT_PENDING &&
			    glob_ci(r->pattern, env->rcpts[i].address))
				return true;
		return false;
	}
	if (strcmp(c, "header") == 0) {
		gmsg_fields(g);
		for (size_t i = 0; i < g->f.n; i++)
			if (str_eq_ci(g->f.name[i], r->header) &&
			    glob_ci(r->pattern, g->f.value[i]))
				return true;
		return false;
	}
	if (strcmp(c, "size-over") == 0 || strcmp(c, "size-under") == 0) {
		struct stat st;
		long long kb = parse_size_kb(r->pattern, 'K');
		if (kb < 0 || stat(g->path, &st) < 0)
			return false;
		return c[5] == 'o' ? st.st_size > kb * 1024 : st.st_size < kb * 1024;
	}
	if (strcmp(c, "attachment") == 0) {
		gmsg_names(g);
		for (size_t i = 0; i < g->nnames; i++)
			if (glob_ci(r->pattern, g->names[i]))
				return true;
		return false;
	}
	return false;
}

/* act_add_header - a new message file with the field first */
static int
act_add_header(struct gmsg *g, const struct rule *r)
{
	struct filter_ctx *ctx = g->ctx;
	const char *colon = strchr(r->argument, ':');
	struct buf out;

	if (colon == NULL || colon == r->argument ||
	    strpbrk(r->argument, "\r\n") != NULL) {
		log_warnx("%s: global filter %lld: add-header '%s' is not "
		    "\"Name: value\": skipped", ctx->env->id, (long long)r->id,
		    r->argument);
		return 0;
	}
	buf_init(&out, GFILTER_MIME_MAX + 1024);
	buf_puts(&out, r->argument);
	buf_puts(&out, "\r\n");
	if (file_read(g->path, &out) < 0) {
		buf_free(&out);
		return -1;
	}
	char *tmpdir = xasprintf("%s/smtp/inbound/tmp", ctx->queue_root);
	char rnd[6];
	random_bytes(rnd, sizeof(rnd));
	char *path = xasprintf("%s/%s.gfilter.%02x%02x%02x%02x%02x%02x", tmpdir,
	    ctx->env->id, (unsigned char)rnd[0], (unsigned char)rnd[1],
	    (unsigned char)rnd[2], (unsigned char)rnd[3], (unsigned char)rnd[4],
	    (unsigned char)rnd[5]);
	free(tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(path);
		buf_free(&out);
		return -1;
	}
	close(fd);
	buf_free(&out);
	if (ctx->new_msg_path != NULL) {
		unlink(ctx->new_msg_path);
		free(ctx->new_msg_path);
	}
	ctx->new_msg_path = path;
	g->path = path;
	fields_free(&g->f);
	g->have_fields = false;
	return 0;
}

static void
rcpts_clear(struct queue_env *env)
{
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].address);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
		free(env->rcpts[i].extra);
	}
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}

/* act_reject - bounce every pending recipient */
static enum filter_result
act_reject(struct gmsg *g, const struct rule *r)
{
	struct filter_ctx *ctx = g->ctx;
	struct queue_env *env = ctx->env;
	struct dsn_rcpt *dr = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(*dr));
	char diag[128], newid[QUEUE_ID_MAX + 1] = "";
	const char *err = NULL;
	size_t n = 0;
	enum filter_result res;

	snprintf(diag, sizeof(diag), "message rejected by global filter %lld",
	    (long long)r->id);
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].status != RCPT_PENDING)
			continue;
		dr[n].address = env->rcpts[i].address;
		dr[n].orcpt = env->rcpts[i].orcpt;
		dr[n].notify = env->rcpts[i].notify;
		dr[n].action = DSN_ACTION_FAILED;
		dr[n].status = "5.7.1";
		dr[n].diagnostic = diag;
		dr[n].last_attempt = time(NULL);
		n++;
	}
	struct dsn_report rep = { .env = env, .msg_path = g->path,
	    .rcpts = dr, .nrcpts = n };
	/* through sf inbound like every locally made notice: the filters
	 * do not see it again (once per message) */
	char *qpath = queue_path(ctx->queue_root, "sf", QUEUE_INBOUND);
	switch (dsn_send(ctx->db, qpath, &rep, newid, &err)) {
	case DSN_QUEUED:
		log_info("%s: global filter %lld rejects: bounce %s to <%s>",
		    env->id, (long long)r->id, newid, env->sender);
		/* fall through */
	case DSN_SUPPRESSED:
		snprintf(reason_buf, sizeof(reason_buf), "rejected by global "
		    "filter %lld (sender notified)", (long long)r->id);
		res = FILTER_DISCARD;
		break;
	case DSN_UNRETURNABLE:
		snprintf(reason_buf, sizeof(reason_buf), "rejected by global "
		    "filter %lld; null sender or bulk: not bounced", (long long)r->id);
		res = FILTER_REJECT;
		break;
	case DSN_ERROR:
	default:
		snprintf(reason_buf, sizeof(reason_buf), "global filter %lld: "
		    "cannot queue the bounce: %s", (long long)r->id,
		    err ? err : "error");
		res = FILTER_DEFER;
		break;
	}
	ctx->reason = reason_buf;
	free(qpath);
	free(dr);
	return res;
}

/* gfilter_run - every matching rule acts, in order */
enum filter_result
gfilter_run(struct filter_ctx *ctx)
{
	struct rule *rules = NULL;
	size_t n = 0;
	enum filter_result res = FILTER_CONTINUE;
	struct gmsg g = { .ctx = ctx, .path = ctx->msg_path };

	if (strcmp(ctx->conn, "smtp") != 0 && strcmp(ctx->conn, "pr") != 0 &&
	    strcmp(ctx->conn, "pickup") != 0)
		return FILTER_CONTINUE;
	if (rules_load(ctx->db, &rules, &n) < 0) {
		ctx->reason = "global filters: cannot read the rules";
		return FILTER_DEFER;
	}
	for (size_t i = 0; i < n && res == FILTER_CONTINUE; i++) {
		const struct rule *r = &rules[i];
		if (!rule_match(&g, r))
			continue;
		const char *a = r->action;
		log_info("%s: global filter %lld (%s %s%s%s) matches: %s%s%s",
		    ctx->env->id, (long long)r->id, r->criterion, r->header,
		    *r->header ? " " : "", r->pattern, a, *r->argument ? " " : "",
		    r->argument);
		if (strcmp(a, "add-header") == 0) {
			if (act_add_header(&g, r) < 0) {
				ctx->reason = "global filter: cannot rewrite the message";
				res = FILTER_DEFER;
			}
		} else if (strcmp(a, "redirect") == 0 || strcmp(a, "copy") == 0) {
			const char *e = NULL;
			char *addr = address_normalize(r->argument, &e);
			if (addr == NULL) {
				log_warnx("%s: global filter %lld: '%s': %s: skipped",
				    ctx->env->id, (long long)r->id, r->argument, e);
				continue;
			}
			if (*a == 'r')
				rcpts_clear(ctx->env);
			bool have = false;
			for (size_t k = 0; k < ctx->env->nrcpts; k++)
				if (ctx->env->rcpts[k].status == RCPT_PENDING &&
				    str_eq_ci(ctx->env->rcpts[k].address, addr))
					have = true;
			if (!have)
				queue_env_add_rcpt(ctx->env, addr, NULL, 0);
			free(addr);
		} else if (strcmp(a, "quarantine") == 0) {
			snprintf(reason_buf, sizeof(reason_buf), "quarantined by "
			    "global filter %lld", (long long)r->id);
			ctx->reason = reason_buf;
			res = FILTER_REJECT;
		} else if (strcmp(a, "delete") == 0) {
			snprintf(reason_buf, sizeof(reason_buf), "deleted by global "
			    "filter %lld", (long long)r->id);
			ctx->reason = reason_buf;
			res = FILTER_DISCARD;
		} else if (strcmp(a, "reject") == 0) {
			res = act_reject(&g, r);
		}
	}
	fields_free(&g.f);
	for (size_t i = 0; i < g.nnames; i++)
		free(g.names[i]);
	free(g.names);
	rules_free(rules, n);
	return res;
}
