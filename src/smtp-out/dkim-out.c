/* dkim-out - DKIM signing of outbound mail (dkim-out.h) */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "arc.h"
#include "dkim.h"
#include "dkim-out.h"
#include "directory.h"
#include "envcopy.h"
#include "log.h"
#include "msghdr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define CACHE_MAX 256

struct cached {
	char *domain;
	int64_t selector_id;
	char *pem;                  /* the key as loaded, to see a change */
	struct dkim_key *key;
	bool warned;                /* "no active selector" was logged */
};

struct dkim_out {
	struct cached c[CACHE_MAX];
	size_t n;
};

struct dkim_out *
dkim_out_new(void)
{
	return xcalloc(1, sizeof(struct dkim_out));
}

static void
pem_free(char **pem)
{
	if (*pem != NULL)
		OPENSSL_cleanse(*pem, strlen(*pem));
	free(*pem);
	*pem = NULL;
}

static void
cached_clear(struct cached *c)
{
	free(c->domain);
	pem_free(&c->pem);
	dkim_key_free(&c->key);
	memset(c, 0, sizeof(*c));
}

void
dkim_out_free(struct dkim_out **op)
{
	struct dkim_out *o = *op;

	if (o == NULL)
		return;
	for (size_t i = 0; i < o->n; i++)
		cached_clear(&o->c[i]);
	free(o);
	*op = NULL;
}

static struct cached *
cache_get(struct dkim_out *o, const char *domain)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcasecmp(o->c[i].domain, domain) == 0)
			return &o->c[i];
	if (o->n == CACHE_MAX) {
		/* full: forget everything (keys load again when used) */
		for (size_t i = 0; i < o->n; i++)
			cached_clear(&o->c[i]);
		o->n = 0;
	}
	struct cached *c = &o->c[o->n++];
	c->domain = xstrdup(domain);
	return c;
}

/* from_address - the first address of the first From field */
struct from_ctx {
	char *from;
};

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct from_ctx *c = ctx;
	char **v = NULL;
	size_t n = 0;

	if (c->from != NULL || strcasecmp(f->name, "From") != 0)
		return;
	if (msghdr_addresses(f->value, &v, &n) > 0)
		c->from = xstrdup(v[0]);
	msghdr_addresses_free(v, n);
}

static char *
from_address(const char *path)
{
	struct msghdr_parser p;
	struct from_ctx c = { NULL };
	char chunk[16384];
	size_t used;
	ssize_t n;
	const char *err;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return NULL;
	msghdr_parser_init(&p, DKIM_HEADER_MAX, on_field, &c);
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		r = msghdr_parser_feed(&p, chunk, (size_t)n, &used, &err);
	if (r == 0)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
	close(fd);
	return c.from;
}

struct dom_conf {
	int64_t id, postoffice_id;
	bool enabled, identity;
	enum dkim_canon hc, bc;
	int64_t body_limit;
	int64_t sel_id;             /* 0: no active selector */
	char *sel_name, *pem;
};

/* dom_conf_get - the domain's DKIM settings and active selector; 1
 * hosted, 0 not, -1 error */
static int
dom_conf_get(struct db *db, const char *domain, struct dom_conf *dc,
	     const char **error_r)
{
	struct db_stmt *st = db_query(db, error_r, "SELECT d.id, d.postoffice_id, "
	    "d.dkim_enabled, d.dkim_header_canon, d.dkim_body_canon, "
	    "d.dkim_body_limit, d.dkim_identity, s.id, s.name, s.private_key "
	    "FROM domain d LEFT JOIN dkim_selector s ON s.domain_id = d.id AND "
	    "s.active <> 0 WHERE d.name = ?", "t", domain);
	int r;

	memset(dc, 0, sizeof(*dc));
	if (st == NULL)
		return -1;
	r = db_step(st, NULL);
	if (r != DB_ROW) {
		db_stmt_free(&st);
		return r == DB_DONE ? 0 : -1;
	}
	dc->id = db_col_int(st, 0);
	dc->postoffice_id = db_col_int(st, 1);
	dc->enabled = db_col_int(st, 2) != 0;
	const char *h = db_col_text(st, 3);
	const char *b = db_col_text(st, 4);
	dc->hc = h != NULL && strcmp(h, "simple") == 0 ? DKIM_SIMPLE : DKIM_RELAXED;
	dc->bc = b != NULL && strcmp(b, "simple") == 0 ? DKIM_SIMPLE : DKIM_RELAXED;
	dc->body_limit = db_col_int(st, 5);
	dc->identity = db_col_int(st, 6) != 0;
	dc->sel_id = db_col_int(st, 7);
	const char *sn = db_col_text(st, 8);
	const char *pem = db_col_text(st, 9);
	dc->sel_name = xstrdup(sn ? sn : "");
	dc->pem = xstrdup(pem ? pem : "");
	db_stmt_free(&st);
	return 1;
}

static void
dom_conf_free(struct dom_conf *dc)
{
	free(dc->sel_name);
	pem_free(&dc->pem);
}

/* signing_domain - d= for the item (new string) or NULL: only a domain of
 * the post office the item originated in (env_origin): the list's when
 * the envelope sender is one of its addresses, else the From domain. A
 * client of smtp.relay_networks (no post office) may use any hosted one. */
static char *
signing_domain(struct db *db, const struct queue_env *env, const char *from,
	       bool *list_r)
{
	struct dir_route route;
	struct dir_domain dom;
	const char *err = NULL, *why = NULL, *at;
	int64_t po = 0;
	int o;

	*list_r = false;
	if ((o = env_origin(db, env, &po, &why)) < 0) {
		log_info("%s: DKIM: not signed: %s", env->id, why);
		return NULL;
	}
	/* who made the item, for the log */
	const char *kind = env->origin != NULL ? "origin" : "submitter";
	const char *who = env->origin != NULL ? env->origin : env->auth_user;
	if (env->sender != NULL && env->sender[0] != '\0' &&
	    dir_resolve(db, env->sender, &route, &err) == DIR_RESOLVE_LOCAL &&
	    route.kind == DIR_KIND_LIST && !route.catchall &&
	    (at = strrchr(env->sender, '@')) != NULL) {
		if (o == 0 || route.postoffice_id == po) {
			*list_r = true;
			return xstrdup(at + 1);
		}
		log_info("%s: DKIM: not signed as the list %s: the %s %s is not "
		    "of its post office", env->id, route.address, kind, who);
	}
	if (from == NULL || (at = strrchr(from, '@')) == NULL)
		return NULL;
	if (dir_domain_get(db, at + 1, &dom, &err) != 1)
		return NULL;
	if (o == 1 && dom.postoffice_id != po) {
		log_info("%s: DKIM: not signed for %s: the %s %s is not of its "
		    "post office", env->id, dom.name, kind, who);
		return NULL;
	}
	return xstrdup(dom.name);
}

/* sign - the signature field, or NULL */
static char *
sign(struct dkim_out *o, struct db *db, const struct queue_item *item)
{
	const struct queue_env *env = &item->env;
	struct dom_conf dc;
	const char *err = NULL;
	char *from, *domain, *field = NULL, *identity = NULL;
	bool list;

	if (settings_current(db)->dkim_sign == 0 || !env_from_here(db, env))
		return NULL;
	from = from_address(item->msg_path);
	domain = signing_domain(db, env, from, &list);
	if (domain == NULL) {
		free(from);
		return NULL;
	}
	str_lower(domain);
	if (dom_conf_get(db, domain, &dc, &err) != 1 || !dc.enabled) {
		dom_conf_free(&dc);
		free(domain);
		free(from);
		return NULL;
	}
	struct cached *c = cache_get(o, domain);
	if (dc.sel_id == 0) {
		if (!c->warned)
			log_warnx("DKIM: %s has dkim_enabled but no active selector: "
			    "its mail goes out unsigned (postern dkim selector add)",
			    domain);
		c->warned = true;
		goto out;
	}
	c->warned = false;
	if (c->selector_id != dc.sel_id || c->pem == NULL ||
	    strcmp(c->pem, dc.pem) != 0) {
		/* a new or changed key: load it (an unusable one is logged
		 * once, like a missing selector) */
		dkim_key_free(&c->key);
		pem_free(&c->pem);
		c->pem = xstrdup(dc.pem);
		c->selector_id = dc.sel_id;
		c->key = dkim_key_private(dc.pem, &err);
		if (c->key == NULL) {
			log_error("DKIM: selector %s of %s: %s; mail goes out unsigned",
			    dc.sel_name, domain, err);
			goto out;
		}
		log_info("DKIM: %s signs with selector %s (%s)", domain,
		    dc.sel_name, dkim_alg_name(dkim_key_alg(c->key)));
	}
	if (dc.identity) {
		const char *at = from ? strrchr(from, '@') : NULL;
		size_t al = at ? strlen(at + 1) : 0, dl = strlen(domain);
		bool inside = at != NULL && !list && (strcasecmp(at + 1, domain) == 0 ||
		    (al > dl && at[al - dl] == '.' && strcasecmp(at + 1 + al - dl,
		    domain) == 0));
		identity = inside ? xstrdup(from) : xasprintf("@%s", domain);
	}
	if (c->key == NULL)
		goto out;
	struct dkim_sign_params p = {
		.key = c->key, .domain = domain, .selector = dc.sel_name,
		.hcanon = dc.hc, .bcanon = dc.bc, .body_limit = dc.body_limit,
		.identity = identity, .now = time(NULL),
	};
	if (dkim_sign_file(&p, item->msg_path, &field, &err) < 0) {
		log_warnx("%s: DKIM: not signed: %s", env->id, err);
		field = NULL;
	} else {
		log_info("%s: DKIM signed d=%s s=%s%s", env->id, domain, dc.sel_name,
		    list ? " (list)" : "");
	}
out:
	free(identity);
	dom_conf_free(&dc);
	free(domain);
	free(from);
	return field;
}

/* -- ARC sealing (RFC 8617) ------------------------------------------ */

/* What the sealer needs from the header: our Authentication-Results
 * (authres in the MTA wrote it: the message came from outside) and the
 * topmost Delivered-To (the address here that forwarded it). */
struct arc_scan {
	const char *host;
	char *authres;            /* its value: "host; results" */
	char *delivered_to;
};

static void
arc_field(void *ctx, const struct msghdr_field *f)
{
	struct arc_scan *a = ctx;
	size_t hl = strlen(a->host);

	if (a->authres == NULL &&
	    strcasecmp(f->name, "Authentication-Results") == 0 &&
	    strncasecmp(f->value, a->host, hl) == 0 && f->value[hl] == ';')
		a->authres = xstrdup(f->value);
	else if (a->delivered_to == NULL &&
	    strcasecmp(f->name, "Delivered-To") == 0)
		a->delivered_to = xstrdup(f->value);
}

static void
arc_scan_file(const char *path, struct arc_scan *a)
{
	const char *err = NULL;
	(void)msghdr_scan_file(path, arc_field, a, &err);
}

/* arc_cv - the chain as the MTA found it: arc= in our field */
static int
arc_cv(const char *authres, enum arc_result *cv)
{
	const char *p = strstr(authres, "arc=");

	*cv = ARC_NONE;
	if (p == NULL)
		return 0;      /* not verified: none, unless there is a chain */
	if (strncmp(p + 4, "pass", 4) == 0)
		*cv = ARC_PASS;
	else if (strncmp(p + 4, "fail", 4) == 0)
		*cv = ARC_FAIL;
	return 0;
}

/* seal_key - the cached key of a domain with dkim_enabled and an active
 * selector, or NULL; *sel_r its selector (new string) */
static const struct dkim_key *
seal_key(struct dkim_out *o, struct db *db, const char *domain, char **sel_r)
{
	struct dom_conf dc;
	const char *err = NULL;
	const struct dkim_key *k = NULL;

	*sel_r = NULL;
	if (dom_conf_get(db, domain, &dc, &err) != 1 || !dc.enabled ||
	    dc.sel_id == 0) {
		dom_conf_free(&dc);
		return NULL;
	}
	struct cached *c = cache_get(o, domain);
	if (c->selector_id != dc.sel_id || c->pem == NULL ||
	    strcmp(c->pem, dc.pem) != 0) {
		dkim_key_free(&c->key);
		pem_free(&c->pem);
		c->pem = xstrdup(dc.pem);
		c->selector_id = dc.sel_id;
		c->key = dkim_key_private(dc.pem, &err);
	}
	if (c->key != NULL) {
		k = c->key;
		*sel_r = xstrdup(dc.sel_name);
	}
	dom_conf_free(&dc);
	return k;
}

/* arc_seal - the ARC set for mail from outside that leaves again (a
 * list post, a redirect, a group member outside), or NULL. The sealing
 * domain: the envelope sender's when hosted here (a list's bounce
 * address, an SRS address), else the forwarding address's (topmost
 * Delivered-To); it needs dkim_enabled and an active selector. */
static char *
arc_seal(struct dkim_out *o, struct db *db, const struct queue_item *item)
{
	const struct queue_env *env = &item->env;
	char *host, *fields = NULL, *sel = NULL;
	const struct dkim_key *key = NULL;
	const char *cand[2] = { NULL, NULL }, *err = NULL, *at;
	char dom[256] = "";

	if (settings_current(db)->arc_seal == 0)
		return NULL;
	host = settings_hostname(db);
	struct arc_scan a = { host, NULL, NULL };
	arc_scan_file(item->msg_path, &a);
	if (a.authres == NULL)
		goto out;    /* not mail from outside: DKIM signs it */
	if (env->sender != NULL && (at = strrchr(env->sender, '@')) != NULL)
		cand[0] = at + 1;
	if (a.delivered_to != NULL && (at = strrchr(a.delivered_to, '@')) != NULL)
		cand[1] = at + 1;
	for (int i = 0; i < 2 && key == NULL; i++) {
		if (cand[i] == NULL)
			continue;
		snprintf(dom, sizeof(dom), "%s", cand[i]);
		str_lower(dom);
		key = seal_key(o, db, dom, &sel);
	}
	if (key == NULL) {
		log_info("%s: ARC: not sealed: no domain of the forwarder with "
		    "dkim_enabled and an active selector", env->id);
		goto out;
	}
	enum arc_result cv;
	arc_cv(a.authres, &cv);
	/* the field as authres folded it (msghdr unfolds: a tab stays) */
	struct buf ar;
	buf_init(&ar, 0);
	for (const char *q = a.authres; *q != '\0'; q++) {
		if (*q == '\t')
			buf_puts(&ar, "\r\n");
		buf_putc(&ar, *q);
	}
	struct arc_seal_params p = { key, dom, sel, time(NULL), ar.data, cv };
	if (arc_seal_file(&p, item->msg_path, &fields, &err) < 0) {
		log_info("%s: ARC: not sealed: %s", env->id, err);
		fields = NULL;
	} else {
		log_info("%s: ARC sealed d=%s s=%s cv=%s", env->id, dom, sel,
		    arc_result_name(cv));
	}
	buf_free(&ar);
out:
	free(sel);
	free(a.authres);
	free(a.delivered_to);
	free(host);
	return fields;
}

const char *
dkim_out_field(struct dkim_out *o, struct db *db, const struct queue_item *item,
	       char **cache)
{
	if (*cache == NULL) {
		char *arc = arc_seal(o, db, item), *sig = sign(o, db, item);
		*cache = xasprintf("%s%s", arc ? arc : "", sig ? sig : "");
		free(arc);
		free(sig);
	}
	return (*cache)[0] != '\0' ? *cache : NULL;
}
