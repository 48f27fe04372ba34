/* sieve-run - the Sieve interpreter: runs a compiled script over one
 * message and collects the actions (RFC 5228 2.10, 4; extensions). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "sieve-private.h"
#include "strutil.h"
#include "xalloc.h"
#include "sieve-run-private.h"

static int
rerr(struct run *r, const struct sv_node *n, const char *msg)
{
	if (r->err == NULL)
		r->err = n != NULL ? xasprintf("%d:%d: %s", n->line, n->col,
		    msg) : xstrdup(msg);
	return -1;
}

/* ------------------------------------------------------------ header */

static void
header_load(struct run *r)
{
	const char *d = r->m->data, *end = d + r->m->len, *p = d;
	struct buf v;

	buf_init(&v, 0);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		size_t ll = (size_t)(le - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			p = eol ? eol + 1 : end;
			break;
		}
		if ((*p == ' ' || *p == '\t') && r->nhf > 0) {
			/* continuation: unfold */
			struct hfield *h = &r->hf[r->nhf - 1];
			size_t cur = strlen(h->value);
			if (cur + ll < 65536) {
				h->value = xrealloc(h->value, cur + ll + 1);
				memcpy(h->value + cur, p, ll);
				h->value[cur + ll] = '\0';
			}
		} else {
			const char *colon = memchr(p, ':', ll);
			if (colon != NULL && r->nhf < HDR_FIELDS_MAX) {
				r->hf = xreallocarray(r->hf, r->nhf + 1, sizeof(*r->hf));
				struct hfield *h = &r->hf[r->nhf++];
				size_t nl = (size_t)(colon - p);
				while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
					nl--;
				h->name = xstrndup(p, nl);
				h->value = xstrndup(colon + 1, ll - (size_t)(colon + 1 - p));
			}
		}
		p = eol ? eol + 1 : end;
	}
	r->body_off = (size_t)(p - d);
	for (size_t i = 0; i < r->nhf; i++) {
		/* trim */
		char *s = r->hf[i].value, *a = s;
		while (*a == ' ' || *a == '\t')
			a++;
		memmove(s, a, strlen(a) + 1);
		size_t l = strlen(s);
		while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
			s[--l] = '\0';
	}
	buf_free(&v);
}

/* ---------------------------------------------------------- variables */

static const char *
var_get(struct run *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->nvars; i++)
		if (strlen(r->vars[i].name) == len &&
		    strncasecmp(r->vars[i].name, name, len) == 0)
			return r->vars[i].value;
	return NULL;
}

static int
var_set(struct run *r, const struct sv_node *n, const char *name,
	const char *value)
{
	size_t len = strlen(value);
	if (len > SIEVE_VAR_VALUE_MAX)
		len = SIEVE_VAR_VALUE_MAX;
	for (size_t i = 0; i < r->nvars; i++)
		if (str_eq_ci(r->vars[i].name, name)) {
			free(r->vars[i].value);
			r->vars[i].value = xstrndup(value, len);
			return 0;
		}
	if (r->nvars >= SIEVE_VARS_MAX)
		return rerr(r, n, "too many variables");
	r->vars = xreallocarray(r->vars, r->nvars + 1, sizeof(*r->vars));
	r->vars[r->nvars].name = xstrdup(name);
	r->vars[r->nvars++].value = xstrndup(value, len);
	return 0;
}

/* sr_expand - a string with ${name} and ${N} replaced (variables only);
 * new string */
char *
sr_expand(struct run *r, const char *s)
{
	struct buf b;

	if (!(r->s->exts & EXT_VARIABLES) || strstr(s, "${") == NULL)
		return xstrdup(s);
	buf_init(&b, 0);
	while (*s) {
		if (s[0] == '$' && s[1] == '{') {
			const char *e = s + 2;
			while (*e && (isalnum((unsigned char)*e) || *e == '_' ||
			    *e == '.'))
				e++;
			size_t nl = (size_t)(e - (s + 2));
			if (*e == '}' && nl > 0) {
				const char *nm = s + 2;
				bool digits = true;
				for (size_t i = 0; i < nl; i++)
					if (!isdigit((unsigned char)nm[i]))
						digits = false;
				if (digits) {
					int k = nl <= 3 ? atoi(nm) : 99;
					if (k < MATCH_VARS && r->mv[k] != NULL)
						buf_puts(&b, r->mv[k]);
					s = e + 1;
					continue;
				}
				if (memchr(nm, '.', nl) == NULL) {
					const char *v = var_get(r, nm, nl);
					if (v != NULL)
						buf_puts(&b, v);
					s = e + 1;
					continue;
				}
				/* a namespace we do not have: left as it is */
			}
		}
		if (b.len < SIEVE_STRING_MAX)
			buf_putc(&b, *s);
		s++;
	}
	char *out = buf_steal(&b);
	return out != NULL ? out : xstrdup("");
}

/* ------------------------------------------------------------- tests */

static void
header_values(struct run *r, const struct sv_strlist *names, bool decode,
	      char ***vals, size_t *n)
{
	for (size_t k = 0; k < names->n; k++) {
		char *name = sr_expand(r, names->v[k]);
		for (size_t i = 0; i < r->nhf; i++) {
			if (!str_eq_ci(r->hf[i].name, name))
				continue;
			if (decode) {
				struct buf b;
				buf_init(&b, 0);
				mime_decode_words(r->hf[i].value,
				    strlen(r->hf[i].value), &b);
				char *s = buf_steal(&b);
				sr_strv_push(vals, n, s ? s : xstrdup(""));
			} else {
				sr_strv_push(vals, n, xstrdup(r->hf[i].value));
			}
		}
		free(name);
	}
}

static bool
ctype_wanted(const struct sv_strlist *ct, const struct mime_part *p)
{
	for (size_t i = 0; i < ct->n; i++) {
		const char *c = ct->v[i];
		const char *slash = strchr(c, '/');
		if (*c == '\0')
			return true;
		if (slash == NULL) {
			if (str_eq_ci(c, p->type ? p->type : "text"))
				return true;
		} else {
			size_t tl = (size_t)(slash - c);
			const char *t = p->type ? p->type : "text";
			const char *st = p->subtype ? p->subtype : "plain";
			if (strlen(t) == tl && strncasecmp(t, c, tl) == 0 &&
			    str_eq_ci(st, slash + 1))
				return true;
		}
	}
	return false;
}

/* body_parts - the texts the body test looks at */
static void
body_parts(struct run *r, const struct mime_part *p, const struct sv_spec *sp,
	   char ***vals, size_t *n, int depth)
{
	if (depth > MIME_MAX_DEPTH || *n >= 256)
		return;
	if (p->multipart || (p->rfc822 && sp->transform == B_CONTENT &&
	    !ctype_wanted(sp->ctypes, p))) {
		for (size_t i = 0; i < p->nchildren; i++)
			body_parts(r, &p->children[i], sp, vals, n, depth + 1);
		return;
	}
	bool want;
	if (sp->transform == B_CONTENT)
		want = ctype_wanted(sp->ctypes, p);
	else
		want = p->type == NULL || str_eq_ci(p->type, "text");
	if (!want)
		return;
	struct buf b;
	buf_init(&b, 0);
	if (p->type == NULL || str_eq_ci(p->type, "text"))
		mime_part_text(r->mime.data, p, &b);
	else if (mime_decode_body(r->mime.data, p, &b) < 0)
		buf_append(&b, r->mime.data + p->body_start, p->body_len);
	if (b.len > SIEVE_BODY_MAX)
		buf_truncate(&b, SIEVE_BODY_MAX);
	char *s = buf_steal(&b);
	/* NUL bytes end the text for matching */
	sr_strv_push(vals, n, s ? s : xstrdup(""));
}

static int eval_test(struct run *r, const struct sv_node *t, int *res);

/* flag set helpers: space separated, case-insensitive, no duplicates */
static void
flags_add(struct buf *set, const char *list)
{
	char *copy = xstrdup(list);
	char *save = NULL;
	for (char *f = strtok_r(copy, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		bool have = false;
		char *cur = xstrndup(set->data ? set->data : "", set->len);
		char *s2 = NULL;
		for (char *g = strtok_r(cur, " ", &s2); g; g = strtok_r(NULL, " ", &s2))
			if (str_eq_ci(g, f))
				have = true;
		free(cur);
		if (!have && set->len + strlen(f) < SIEVE_VAR_VALUE_MAX) {
			if (set->len)
				buf_putc(set, ' ');
			buf_puts(set, f);
		}
	}
	free(copy);
}

static char *
flags_remove(const char *set, const char *list)
{
	struct buf out;
	char *copy = xstrdup(set);
	char *save = NULL;
	buf_init(&out, 0);
	for (char *g = strtok_r(copy, " ", &save); g; g = strtok_r(NULL, " ", &save)) {
		bool drop = false;
		char *l = xstrdup(list), *s2 = NULL;
		for (char *f = strtok_r(l, " ", &s2); f; f = strtok_r(NULL, " ", &s2))
			if (str_eq_ci(g, f))
				drop = true;
		free(l);
		if (!drop) {
			if (out.len)
				buf_putc(&out, ' ');
			buf_puts(&out, g);
		}
	}
	free(copy);
	char *s = buf_steal(&out);
	return s ? s : xstrdup("");
}

/* strlist_joined - the (expanded) strings of l joined by spaces */
static char *
strlist_joined(struct run *r, const struct sv_strlist *l)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < l->n; i++) {
		char *e = sr_expand(r, l->v[i]);
		if (b.len + strlen(e) < SIEVE_VAR_VALUE_MAX) {
			if (b.len)
				buf_putc(&b, ' ');
			buf_puts(&b, e);
		}
		free(e);
	}
	char *s = buf_steal(&b);
	return s ? s : xstrdup("");
}

static int
eval_test(struct run *r, const struct sv_node *t, int *res)
{
	const struct sv_spec *sp = &t->sp;
	char **vals = NULL;
	size_t nv = 0;

	if (++r->steps > SIEVE_STEPS_MAX)
		return rerr(r, t, "script runs too long");
	*res = 0;
	switch (t->op) {
	case OP_TRUE:
		*res = 1;
		return 0;
	case OP_FALSE:
		return 0;
	case OP_NOT:
		if (eval_test(r, t->tests[0], res) < 0)
			return -1;
		*res = !*res;
		return 0;
	case OP_ALLOF:
	case OP_ANYOF:
		*res = t->op == OP_ALLOF;
		for (size_t i = 0; i < t->ntests; i++) {
			int x;
			if (eval_test(r, t->tests[i], &x) < 0)
				return -1;
			if (t->op == OP_ALLOF && !x) {
				*res = 0;
				break;
			}
			if (t->op == OP_ANYOF && x) {
				*res = 1;
				break;
			}
		}
		return 0;
	case OP_SIZE:
		*res = sp->sizeop == 1 ? r->m->len > sp->num : r->m->len < sp->num;
		return 0;
	case OP_EXISTS:
		*res = 1;
		for (size_t k = 0; k < sp->p[0]->n && *res; k++) {
			char *name = sr_expand(r, sp->p[0]->v[k]);
			bool found = false;
			for (size_t i = 0; i < r->nhf && !found; i++)
				found = str_eq_ci(r->hf[i].name, name);
			free(name);
			*res = found;
		}
		return 0;
	case OP_HEADER:
		header_values(r, sp->p[0], true, &vals, &nv);
		break;
	case OP_ADDRESS:
	case OP_ENVELOPE: {
		char **raw = NULL;
		size_t nraw = 0;
		if (t->op == OP_ADDRESS) {
			char **hv = NULL;
			size_t nh = 0;
			header_values(r, sp->p[0], false, &hv, &nh);
			for (size_t i = 0; i < nh; i++)
				sr_addr_list(hv[i], &raw, &nraw);
			sr_strv_free(hv, nh);
		} else {
			for (size_t k = 0; k < sp->p[0]->n; k++) {
				const char *e = str_eq_ci(sp->p[0]->v[k], "from") ?
				    r->m->env_from : r->m->env_to;
				sr_strv_push(&raw, &nraw, xstrdup(e ? e : ""));
			}
		}
		for (size_t i = 0; i < nraw; i++) {
			char *part = sr_addr_part(raw[i], sp->addrpart);
			if (part != NULL)
				sr_strv_push(&vals, &nv, part);
			else if (sp->match == M_COUNT)
				sr_strv_push(&vals, &nv, xstrdup(""));
		}
		sr_strv_free(raw, nraw);
		break;
	}
	case OP_BODY:
		if (!r->mime_done) {
			mime_parse(&r->mime, r->m->data, r->m->len);
			r->mime_done = true;
		}
		if (sp->transform == B_RAW) {
			size_t bl = r->m->len - r->body_off;
			if (bl > SIEVE_BODY_MAX)
				bl = SIEVE_BODY_MAX;
			sr_strv_push(&vals, &nv, xstrndup(r->m->data + r->body_off, bl));
		} else {
			body_parts(r, &r->mime.root, sp, &vals, &nv, 0);
		}
		break;
	case OP_STRING:
		for (size_t k = 0; k < sp->p[0]->n; k++) {
			char *v = sr_expand(r, sp->p[0]->v[k]);
			if (sp->match == M_COUNT && *v == '\0')
				free(v);
			else
				sr_strv_push(&vals, &nv, v);
		}
		break;
	case OP_HASFLAG:
		if (sp->flagvars != NULL) {
			for (size_t k = 0; k < sp->flagvars->n; k++) {
				const char *fv = var_get(r, sp->flagvars->v[k],
				    strlen(sp->flagvars->v[k]));
				char *c = xstrdup(fv ? fv : ""), *save = NULL;
				for (char *f = strtok_r(c, " ", &save); f;
				    f = strtok_r(NULL, " ", &save))
					sr_strv_push(&vals, &nv, xstrdup(f));
				free(c);
			}
		} else {
			char *c = xstrdup(r->flags), *save = NULL;
			for (char *f = strtok_r(c, " ", &save); f;
			    f = strtok_r(NULL, " ", &save))
				sr_strv_push(&vals, &nv, xstrdup(f));
			free(c);
		}
		break;
	default:
		return rerr(r, t, "not a test");
	}
	const struct sv_strlist *keys = t->op == OP_BODY ? sp->p[0] : sp->p[1];
	if (t->op == OP_HASFLAG)
		keys = sp->p[0];
	*res = sr_match_values(r, sp, vals, nv, keys);
	sr_strv_free(vals, nv);
	if (r->work < 0)
		return rerr(r, t, "script runs too long (matching)");
	return 0;
}

/* ----------------------------------------------------------- actions */

static struct sieve_action *
act_add(struct run *r, const struct sv_node *n, enum sieve_action_kind k)
{
	struct sieve_result *res = r->res;
	if (res->nactions >= SIEVE_ACTIONS_MAX) {
		rerr(r, n, "too many actions");
		return NULL;
	}
	res->actions = xreallocarray(res->actions, res->nactions + 1,
	    sizeof(*res->actions));
	struct sieve_action *a = &res->actions[res->nactions++];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	return a;
}

static bool
have_action(struct run *r, enum sieve_action_kind k)
{
	for (size_t i = 0; i < r->res->nactions; i++)
		if (r->res->actions[i].kind == k)
			return true;
	return false;
}

static void
action_clear(struct sieve_action *a)
{
	free(a->arg);
	free(a->keywords);
	free(a->vac.subject);
	free(a->vac.from);
	free(a->vac.handle);
	sr_strv_free(a->vac.addresses, a->vac.naddresses);
	memset(a, 0, sizeof(*a));
}

/* store_action - keep or fileinto with the flags in effect */
static int
store_action(struct run *r, const struct sv_node *n, enum sieve_action_kind k,
	     const char *folder)
{
	char *fl = n != NULL && n->sp.flags != NULL ?
	    strlist_joined(r, n->sp.flags) : xstrdup(r->flags);
	/* the same folder twice is one delivery (RFC 5228 4.1) */
	for (size_t i = 0; i < r->res->nactions; i++) {
		struct sieve_action *a = &r->res->actions[i];
		if (a->kind == k && (k == SIEVE_ACT_KEEP ||
		    strcmp(a->arg, folder) == 0)) {
			free(fl);
			return 0;
		}
	}
	struct sieve_action *a = act_add(r, n, k);
	if (a == NULL) {
		free(fl);
		return -1;
	}
	a->arg = folder ? xstrdup(folder) : NULL;
	sieve_flags_parse(fl, &a->flags, &a->keywords);
	free(fl);
	return 0;
}

void
sieve_flags_parse(const char *list, unsigned int *flags_r, char **keywords_r)
{
	static const struct { const char *n; unsigned f; } sys[] = {
		{ "\\Seen", F_SEEN }, { "\\Answered", F_ANSWERED },
		{ "\\Flagged", F_FLAGGED }, { "\\Deleted", F_DELETED },
		{ "\\Draft", F_DRAFT },
	};
	struct buf kw;
	char *copy = xstrdup(list ? list : ""), *save = NULL;

	*flags_r = 0;
	buf_init(&kw, 0);
	for (char *f = strtok_r(copy, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		bool done = false;
		for (size_t i = 0; i < 5; i++)
			if (str_eq_ci(f, sys[i].n)) {
				*flags_r |= sys[i].f;
				done = true;
			}
		if (done || *f == '\\')
			continue;
		bool atom = strlen(f) <= 64;
		for (const char *p = f; *p && atom; p++)
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
			    strchr("(){%*\"\\]", *p) != NULL)
				atom = false;
		if (atom && kw.len + strlen(f) < 1000) {
			if (kw.len)
				buf_putc(&kw, ' ');
			buf_puts(&kw, f);
		}
	}
	free(copy);
	*keywords_r = kw.len > 0 ? buf_steal(&kw) : NULL;
	buf_free(&kw);
}

static char *
apply_mods(const char *v, unsigned mods)
{
	struct buf b;
	buf_init(&b, 0);
	for (const char *p = v; *p; p++) {
		char c = *p;
		if (mods & MOD_LOWER)
			c = (char)tolower((unsigned char)c);
		if (mods & MOD_UPPER)
			c = (char)toupper((unsigned char)c);
		if (p == v && (mods & MOD_LOWERFIRST))
			c = (char)tolower((unsigned char)c);
		if (p == v && (mods & MOD_UPPERFIRST))
			c = (char)toupper((unsigned char)c);
		if ((mods & MOD_QUOTEWILD) && (c == '*' || c == '?' || c == '\\'))
			buf_putc(&b, '\\');
		buf_putc(&b, c);
	}
	if (mods & MOD_LENGTH) {
		/* characters, not bytes: UTF-8 continuation bytes skipped */
		size_t n = 0;
		for (size_t i = 0; i < b.len; i++)
			if (((unsigned char)b.data[i] & 0xc0) != 0x80)
				n++;
		buf_free(&b);
		return xasprintf("%zu", n);
	}
	char *s = buf_steal(&b);
	return s ? s : xstrdup("");
}

static int run_block(struct run *r, struct sv_node *const *cmds, size_t n);

/* check_address_rt - a redirect target after expansion: local@domain */
static bool
check_address_rt(const char *a)
{
	const char *at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == ',' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

static int
run_command(struct run *r, const struct sv_node *c, bool *last_if)
{
	const struct sv_spec *sp = &c->sp;
	char *arg = NULL;
	int rc = 0;

	if (++r->steps > SIEVE_STEPS_MAX)
		return rerr(r, c, "script runs too long");
	switch (c->op) {
	case OP_REQUIRE:
		return 0;
	case OP_IF:
	case OP_ELSIF:
	case OP_ELSE: {
		if (c->op != OP_IF && *last_if)
			return 0;   /* an earlier branch ran */
		int t = 1;
		if (c->op != OP_ELSE && eval_test(r, c->tests[0], &t) < 0)
			return -1;
		*last_if = t;
		if (t)
			return run_block(r, c->block, c->nblock);
		return 0;
	}
	case OP_STOP:
		r->stopped = true;
		return 0;
	case OP_KEEP:
		r->implicit_keep = false;
		return store_action(r, c, SIEVE_ACT_KEEP, NULL);
	case OP_DISCARD:
		r->implicit_keep = false;
		r->res->discarded = true;
		return 0;
	case OP_NOAUTOREPLY:
		r->res->no_autoreply = true;
		return 0;
	case OP_FILEINTO:
		arg = sr_expand(r, sp->p[0]->v[0]);
		if (!sp->copy)
			r->implicit_keep = false;
		rc = store_action(r, c, SIEVE_ACT_FILEINTO, arg);
		break;
	case OP_REDIRECT: {
		arg = sr_expand(r, sp->p[0]->v[0]);
		if (!check_address_rt(arg)) {
			rc = rerr(r, c, "redirect: bad address");
			break;
		}
		if (!sp->copy)
			r->implicit_keep = false;
		for (size_t i = 0; i < r->res->nactions; i++)
			if (r->res->actions[i].kind == SIEVE_ACT_REDIRECT &&
			    str_eq_ci(r->res->actions[i].arg, arg))
				goto out;   /* once per address */
		if (++r->nredirects > SIEVE_REDIRECTS_MAX) {
			rc = rerr(r, c, "too many redirects");
			break;
		}
		struct sieve_action *a = act_add(r, c, SIEVE_ACT_REDIRECT);
		if (a == NULL) {
			rc = -1;
			break;
		}
		a->arg = arg;
		arg = NULL;
		break;
	}
	case OP_REJECT:
	case OP_EREJECT: {
		if (have_action(r, SIEVE_ACT_REJECT)) {
			rc = rerr(r, c, "more than one reject");
			break;
		}
		r->implicit_keep = false;
		struct sieve_action *a = act_add(r, c, SIEVE_ACT_REJECT);
		if (a == NULL) {
			rc = -1;
			break;
		}
		a->arg = sr_expand(r, sp->p[0]->v[0]);
		a->ereject = c->op == OP_EREJECT;
		break;
	}
	case OP_VACATION: {
		if (have_action(r, SIEVE_ACT_VACATION)) {
			rc = rerr(r, c, "more than one vacation");
			break;
		}
		struct sieve_action *a = act_add(r, c, SIEVE_ACT_VACATION);
		if (a == NULL) {
			rc = -1;
			break;
		}
		a->arg = sr_expand(r, sp->reason);
		a->vac.subject = sp->subject ? sr_expand(r, sp->subject) : NULL;
		a->vac.from = sp->from ? sr_expand(r, sp->from) : NULL;
		a->vac.mime = sp->mime;
		a->vac.seconds = sp->seconds;
		if (sp->handle != NULL) {
			a->vac.handle = sr_expand(r, sp->handle);
		} else {
			/* RFC 5230 4.2: from the arguments */
			a->vac.handle = xasprintf("%s\n%s\n%s", a->arg,
			    a->vac.subject ? a->vac.subject : "",
			    a->vac.from ? a->vac.from : "");
		}
		if (sp->addresses != NULL)
			for (size_t i = 0; i < sp->addresses->n; i++)
				sr_strv_push(&a->vac.addresses, &a->vac.naddresses,
				    sr_expand(r, sp->addresses->v[i]));
		break;
	}
	case OP_SETFLAG:
	case OP_ADDFLAG:
	case OP_REMOVEFLAG: {
		char *list = strlist_joined(r, sp->p[0]);
		size_t nt = sp->flagvars ? sp->flagvars->n : 1;
		for (size_t i = 0; i < nt && rc == 0; i++) {
			const char *cur = r->flags;
			if (sp->flagvars != NULL) {
				cur = var_get(r, sp->flagvars->v[i],
				    strlen(sp->flagvars->v[i]));
				if (cur == NULL)
					cur = "";
			}
			char *nv;
			if (c->op == OP_REMOVEFLAG) {
				nv = flags_remove(cur, list);
			} else {
				struct buf b;
				buf_init(&b, 0);
				if (c->op == OP_ADDFLAG)
					flags_add(&b, cur);
				flags_add(&b, list);
				nv = buf_steal(&b);
				if (nv == NULL)
					nv = xstrdup("");
			}
			if (sp->flagvars != NULL) {
				rc = var_set(r, c, sp->flagvars->v[i], nv);
				free(nv);
			} else {
				free(r->flags);
				r->flags = nv;
			}
		}
		free(list);
		break;
	}
	case OP_SET: {
		char *v = sr_expand(r, sp->p[1]->v[0]);
		char *m = apply_mods(v, sp->mods);
		rc = var_set(r, c, sp->p[0]->v[0], m);
		free(m);
		free(v);
		break;
	}
	default:
		rc = rerr(r, c, "not a command");
		break;
	}
out:
	free(arg);
	return rc;
}

static int
run_block(struct run *r, struct sv_node *const *cmds, size_t n)
{
	bool last_if = false;

	for (size_t i = 0; i < n && !r->stopped; i++) {
		if (cmds[i]->op == OP_IF)
			last_if = false;
		if (run_command(r, cmds[i], &last_if) < 0)
			return -1;
	}
	return 0;
}

void
sieve_result_free(struct sieve_result *res)
{
	for (size_t i = 0; i < res->nactions; i++)
		action_clear(&res->actions[i]);
	free(res->actions);
	memset(res, 0, sizeof(*res));
}

int
sieve_execute(const struct sieve_script *s, const struct sieve_message *m,
	      struct sieve_result *res, char **error_r)
{
	struct run r;
	int rc;

	memset(res, 0, sizeof(*res));
	*error_r = NULL;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.m = m;
	r.res = res;
	r.flags = xstrdup("");
	r.implicit_keep = true;
	r.work = SIEVE_WORK_MAX;
	header_load(&r);
	rc = run_block(&r, s->cmds, s->ncmds);
	if (rc == 0 && have_action(&r, SIEVE_ACT_REJECT)) {
		/* RFC 5429 2.1: reject does not mix with delivery */
		for (size_t i = 0; i < res->nactions; i++) {
			enum sieve_action_kind k = res->actions[i].kind;
			if (k == SIEVE_ACT_KEEP || k == SIEVE_ACT_FILEINTO ||
			    k == SIEVE_ACT_REDIRECT || k == SIEVE_ACT_VACATION) {
				r.err = xstrdup("reject cannot be combined with "
				    "keep, fileinto, redirect or vacation");
				rc = -1;
				break;
			}
		}
	}
	if (rc < 0) {
		/* RFC 5228 2.10.6: on a run-time error, keep */
		sieve_result_free(res);
		store_action(&r, NULL, SIEVE_ACT_KEEP, NULL);
		res->actions[0].flags = 0;
		free(res->actions[0].keywords);
		res->actions[0].keywords = NULL;
		*error_r = r.err != NULL ? r.err : xstrdup("run-time error");
		r.err = NULL;
	} else if (r.implicit_keep) {
		store_action(&r, NULL, SIEVE_ACT_KEEP, NULL);
	}
	for (size_t i = 0; i < r.nhf; i++) {
		free(r.hf[i].name);
		free(r.hf[i].value);
	}
	free(r.hf);
	for (size_t i = 0; i < r.nvars; i++) {
		free(r.vars[i].name);
		free(r.vars[i].value);
	}
	free(r.vars);
	sr_mv_clear(&r);
	free(r.flags);
	free(r.err);
	if (r.mime_done)
		mime_free(&r.mime);
	return rc < 0 ? -1 : 0;
}
