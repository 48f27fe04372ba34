/* authres - DKIM verification into Authentication-Results (authres.h) */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "authres.h"
#include "arc.h"
#include "dkim.h"
#include "dmarc.h"
#include "dmarc-report.h"
#include "idn.h"
#include "dns.h"
#include "envcopy.h"
#include "fsutil.h"
#include "log.h"
#include "mime.h"
#include "msghdr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define DNS_WAIT 15   /* seconds: a bound on top of c-ares' own timeouts */
#define DMARC_CACHE 24  /* _dmarc names looked up per message */

/* One resolver for an item's lookups (DKIM keys, _dmarc records), each
 * waited for in turn; _dmarc answers are kept, as the tree walks of the
 * From domain and of the authenticated domains share names. */
struct lookups {
	const char *id;               /* queue id, for the log */
	const char *servers;
	struct event_base *base;
	struct dns_resolver *r;
	size_t ndm;
	struct dm_entry {
		char name[DMARC_DOMAIN_MAX + 1];
		int state;            /* 1 a record, 0 none, -1 DNS failure */
		struct dmarc_record rec;
	} dm[DMARC_CACHE];
};

struct txt_wait {
	bool done;
	enum dns_status status;
	char **txt;
	size_t n;
};

static void
on_txt(void *ctx, enum dns_status status, char *const *txt, size_t n,
       const char *error)
{
	struct txt_wait *w = ctx;

	(void)error;
	w->done = true;
	w->status = status;
	if (status != DNS_OK)
		return;
	w->txt = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		w->txt[w->n++] = xstrdup(txt[i]);
}

static void
txt_free(char **txt, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(txt[i]);
	free(txt);
}

/* lookups_ready - the resolver, made at the first lookup; false if it
 * cannot be made (a DNS failure for every lookup) */
static bool
lookups_ready(struct lookups *l)
{
	const char *err = NULL;

	if (l->r != NULL)
		return true;
	if (l->base == NULL)
		l->base = event_base_new();
	if (l->base == NULL)
		return false;
	l->r = dns_resolver_new(l->base, l->servers, 3000, 2, &err);
	return l->r != NULL;
}

static void
lookups_free(struct lookups *l)
{
	dns_resolver_free(&l->r);
	if (l->base != NULL)
		event_base_free(l->base);
	l->base = NULL;
}

/* txt_lookup - the TXT records of name, waiting for the answer */
static enum dns_status
txt_lookup(struct lookups *l, const char *name, char ***txt_r, size_t *n_r)
{
	struct txt_wait w = { false, DNS_TEMPFAIL, NULL, 0 };

	*txt_r = NULL;
	*n_r = 0;
	if (!lookups_ready(l))
		return DNS_TEMPFAIL;
	dns_lookup_txt(l->r, name, on_txt, &w);
	time_t end = time(NULL) + DNS_WAIT;
	while (!w.done && time(NULL) < end)
		event_base_loop(l->base, EVLOOP_ONCE);
	if (!w.done) {
		dns_cancel(l->r, &w);
		return DNS_TEMPFAIL;
	}
	*txt_r = w.txt;
	*n_r = w.n;
	return w.status;
}

/* key_lookup - the key record of s._domainkey.d */
static enum dns_status
key_lookup(struct lookups *l, const char *selector, const char *domain,
	   char **record_r)
{
	char *name = xasprintf("%s._domainkey.%s", selector, domain);
	char **txt;
	size_t n;
	enum dns_status st = txt_lookup(l, name, &txt, &n);

	free(name);
	*record_r = NULL;
	/* several records: the first that looks like a DKIM key */
	for (size_t i = 0; st == DNS_OK && i < n && *record_r == NULL; i++)
		if (strncmp(txt[i], "v=DKIM1", 7) == 0 || strstr(txt[i], "p=") != NULL)
			*record_r = xstrdup(txt[i]);
	txt_free(txt, n);
	if (st == DNS_OK && *record_r == NULL)
		st = DNS_NOTFOUND;
	return st;
}

/* dmarc_at - the DMARC record of _dmarc.<name>: 1 (*rec_r), 0 none (no
 * record, several, or none valid: logged), -1 DNS failure */
static int
dmarc_at(struct lookups *l, const char *name, const struct dmarc_record **rec_r)
{
	struct dm_entry *e = NULL;

	for (size_t i = 0; i < l->ndm; i++)
		if (strcmp(l->dm[i].name, name) == 0) {
			*rec_r = &l->dm[i].rec;
			return l->dm[i].state;
		}
	if (l->ndm == DMARC_CACHE)
		return -1;   /* unreachable with DMARC_WALK_MAX walks */
	e = &l->dm[l->ndm++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	*rec_r = &e->rec;

	char *q = xasprintf("_dmarc.%s", name), **txt;
	size_t n, found = 0;
	enum dns_status st = txt_lookup(l, q, &txt, &n);
	e->state = st == DNS_TEMPFAIL ? -1 : 0;
	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		struct dmarc_record r;
		const char *err = NULL;
		int pr = dmarc_record_parse(txt[i], strlen(txt[i]), &r, &err);
		if (pr < 0)
			log_info("%s: DMARC: %s: record ignored: %s", l->id, q, err);
		if (pr == 0)
			continue;
		found++;
		if (pr > 0)
			e->rec = r;
		e->state = pr > 0 ? 1 : 0;
	}
	if (found > 1) {
		/* RFC 9989 4.10: several records are none */
		log_info("%s: DMARC: %s: %zu records, none used", l->id, q, found);
		e->state = 0;
	}
	txt_free(txt, n);
	free(q);
	return e->state;
}

/* dmarc_walk_dns - the tree walk of domain (dmarc.h), all the way up
 * unless an answer is known before; -1 on a DNS failure */
static int
dmarc_walk_dns(struct lookups *l, const char *domain, struct dmarc_walked *w)
{
	memset(w, 0, sizeof(*w));
	w->n = dmarc_walk(domain, w->names);
	for (size_t i = 0; i < w->n; i++) {
		const struct dmarc_record *r = NULL;
		int st = dmarc_at(l, w->names[i], &r);
		if (st < 0)
			return -1;
		if (st == 1) {
			w->recs[i] = r;
			/* the Organizational Domain is settled */
			if (r->psd == DMARC_PSD_N || (r->psd == DMARC_PSD_Y && i > 0))
				break;
		}
	}
	return 0;
}

struct exists_wait {
	bool done;
	enum dns_status status;
};

static void
on_mx(void *ctx, enum dns_status status, const struct dns_mx *mx, size_t n,
      const char *error)
{
	struct exists_wait *w = ctx;

	(void)mx;
	(void)n;
	(void)error;
	w->done = true;
	w->status = status;
}

/* domain_exists - false only for an NXDOMAIN answer (RFC 9989 np) */
static bool
domain_exists(struct lookups *l, const char *domain)
{
	struct exists_wait w = { false, DNS_TEMPFAIL };

	if (!lookups_ready(l))
		return true;
	dns_lookup_mx(l->r, domain, on_mx, &w);
	time_t end = time(NULL) + DNS_WAIT;
	while (!w.done && time(NULL) < end)
		event_base_loop(l->base, EVLOOP_ONCE);
	if (!w.done)
		dns_cancel(l->r, &w);
	return !w.done || w.status != DNS_NOTFOUND;
}

/* reason - a comment for the result: printable, no parentheses */
static void
reason(struct buf *out, const char *why)
{
	buf_puts(out, " (");
	for (; *why != '\0'; why++)
		buf_putc(out, (*why == '(' || *why == ')' || (unsigned char)*why < 0x20 ||
		    (unsigned char)*why > 0x7e) ? ' ' : *why);
	buf_putc(out, ')');
}

/* safe_value - a property value RFC 8601 can carry unquoted */
static bool
safe_value(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(".-_+/=@", *s) == NULL)
			return false;
	return true;
}

/* DKIM results DMARC looks at: the d= of each passing signature */
struct dkim_passes {
	size_t n;
	char d[AUTHRES_MAX_SIGS][256];
};

/* verify_all - the dkim resinfo list for the message */
static void
verify_all(struct lookups *l, const char *msg, size_t len, struct buf *out,
	   struct dkim_passes *passes)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	const char *herr;
	int scan = dkim_hdr_scan(msg, len, h, &herr);
	size_t n = dkim_count(msg, len);

	free(h);
	passes->n = 0;
	if (scan < 0) {
		/* over the limits of dkim.h: not verified */
		buf_puts(out, ";\r\n\tdkim=permerror");
		reason(out, herr);
		return;
	}
	if (n == 0) {
		buf_puts(out, ";\r\n\tdkim=none");
		return;
	}
	for (size_t i = 0; i < n && i < AUTHRES_MAX_SIGS; i++) {
		struct dkim_sig sig;
		const char *why = NULL;
		char *record = NULL;
		enum dkim_result res;

		if (dkim_sig_at(msg, len, i, &sig, &why) < 0) {
			buf_puts(out, ";\r\n\tdkim=permerror");
			reason(out, why);
			continue;
		}
		switch (key_lookup(l, sig.selector, sig.domain, &record)) {
		case DNS_OK:
			res = dkim_verify(msg, len, i, record, NULL, &why);
			break;
		case DNS_TEMPFAIL:
			res = DKIM_TEMPERROR;
			why = "key lookup failed";
			break;
		default:
			res = DKIM_PERMERROR;
			why = "no key record";
			break;
		}
		free(record);
		if (res == DKIM_PASS && passes->n < AUTHRES_MAX_SIGS) {
			snprintf(passes->d[passes->n], sizeof(passes->d[0]), "%s",
			    sig.domain);
			str_lower(passes->d[passes->n++]);
		}
		buf_printf(out, ";\r\n\tdkim=%s", dkim_result_name(res));
		if (res != DKIM_PASS && why != NULL)
			reason(out, why);
		if (safe_value(sig.domain))
			buf_printf(out, " header.d=%s", sig.domain);
		if (safe_value(sig.selector))
			buf_printf(out, " header.s=%s", sig.selector);
		buf_printf(out, " header.a=%s", dkim_alg_name(sig.alg));
		/* RFC 6008: the first 8 characters of b= tell signatures apart */
		struct buf b64;
		buf_init(&b64, 0);
		dkim_b64_encode(sig.b, sig.b_len, &b64);
		if (b64.len >= 8) {
			b64.data[8] = '\0';
			buf_printf(out, " header.b=\"%s\"", b64.data);
		}
		buf_free(&b64);
	}
}

/* arc_lookup - the key records ARC asks for, through the item's resolver */
static char *
arc_lookup(void *ctx, const char *selector, const char *domain, bool *tempfail)
{
	char *rec = NULL;
	enum dns_status st = key_lookup(ctx, selector, domain, &rec);

	*tempfail = st == DNS_TEMPFAIL;
	return st == DNS_OK ? rec : (free(rec), NULL);
}

/* arc_resinfo - arc=pass/fail/none with the chain (RFC 8617 10.2) */
static void
arc_resinfo(struct lookups *l, const char *msg, size_t len,
	    const struct queue_env *env, struct buf *out, struct arc_verdict *v)
{
	arc_verify(msg, len, arc_lookup, l, v);
	buf_printf(out, ";\r\n\tarc=%s", arc_result_name(v->result));
	if (v->result == ARC_PASS) {
		buf_printf(out, " (i=%d sealed by %s)", v->instances, v->chain);
	} else if (v->result == ARC_FAIL && v->why != NULL) {
		char *why = xasprintf("i=%d %s", v->instances, v->why);
		reason(out, why);
		free(why);
	}
	if (env->client_addr != NULL && safe_value(env->client_addr))
		buf_printf(out, " smtp.remote-ip=%s", env->client_addr);
}

/* arc_trusted - the newest sealer is in arc.trusted_sealers */
static bool
arc_trusted(struct db *db, const struct arc_verdict *v)
{
	char first[256];
	size_t n = strcspn(v->chain, ",");
	bool ok = false;

	if (v->result != ARC_PASS || n == 0 || n >= sizeof(first))
		return false;
	memcpy(first, v->chain, n);
	first[n] = '\0';
	char *list = xstrdup(settings_current(db)->arc_trusted_sealers), *save = NULL;
	for (char *t = strtok_r(list, " ,", &save); t != NULL && !ok;
	    t = strtok_r(NULL, " ,", &save))
		ok = strcasecmp(t, first) == 0;
	free(list);
	return ok;
}

/* The header scan: Authentication-Results fields claiming our
 * authserv-id and quarantine marks, to remove (found with msghdr,
 * without the DKIM field count limit, so no number of filler fields
 * hides one); the From fields and our Received-SPF for DMARC. */
struct strip {
	const char *id;
	size_t *start, *end;
	size_t n, cap;
	size_t nfrom;
	char *from;               /* the first From field's value */
	bool received;            /* a Received field seen */
	char spf[16];             /* our Received-SPF result, "" none */
};

static void
strip_add(struct strip *s, const struct msghdr_field *f)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->start = xreallocarray(s->start, s->cap, sizeof(size_t));
		s->end = xreallocarray(s->end, s->cap, sizeof(size_t));
	}
	s->start[s->n] = f->raw_start;
	s->end[s->n] = f->raw_end;
	s->n++;
}

/* spf_field - our Received-SPF (smtpd writes it above its Received,
 * RFC 7208 9.1): the result word, if the comment names us */
static void
spf_field(struct strip *s, const char *v)
{
	size_t il = strlen(s->id), k = 0;
	const char *c = strchr(v, '(');

	if (c == NULL || strncasecmp(c + 1, s->id, il) != 0 || c[1 + il] != ':')
		return;
	while (k + 1 < sizeof(s->spf) && isalpha((unsigned char)v[k]))
		k++;
	memcpy(s->spf, v, k);
	s->spf[k] = '\0';
	str_lower(s->spf);
}

static void
strip_field(void *ctx, const struct msghdr_field *f)
{
	struct strip *s = ctx;
	size_t il = strlen(s->id);

	if (strcasecmp(f->name, "From") == 0) {
		if (s->nfrom++ == 0)
			s->from = xstrdup(f->value);
		return;
	}
	if (strcasecmp(f->name, "Received") == 0) {
		s->received = true;
		return;
	}
	if (strcasecmp(f->name, "Received-SPF") == 0) {
		if (!s->received && s->spf[0] == '\0')
			spf_field(s, f->value);
		return;
	}
	if (strcasecmp(f->name, AUTHRES_QUARANTINE) == 0) {
		strip_add(s, f);    /* only ours count */
		return;
	}
	if (strcasecmp(f->name, "Authentication-Results") != 0)
		return;
	const char *v = mime_skip_cfws(f->value);
	if (strncasecmp(v, s->id, il) != 0)
		return;
	v += il;
	if (*v != ';' && *v != '\0' && *v != ' ' && *v != '\t' && *v != '(')
		return;   /* a longer name, not ours */
	strip_add(s, f);
}

/* A DMARC evaluation (RFC 9989 4.7-4.10). */
enum dm_result { DM_NONE, DM_PASS, DM_FAIL, DM_TEMPERROR, DM_PERMERROR };
static const char *const dm_names[] = { "none", "pass", "fail", "temperror",
	"permerror" };

struct dm_eval {
	enum dm_result result;
	const char *why;                    /* none, temperror, permerror */
	char from[DMARC_DOMAIN_MAX + 1];    /* RFC5322.From domain (A-labels) */
	char from_org[DMARC_DOMAIN_MAX + 1];
	char policy_domain[DMARC_DOMAIN_MAX + 1];
	struct dmarc_record rec;
	enum dmarc_policy applied;          /* p, sp or np for this From */
	enum dmarc_policy dis;              /* what was done */
	bool spf_aligned, dkim_aligned;
	bool arc_override;                  /* a trusted ARC seal */
	char spf_domain[DMARC_DOMAIN_MAX + 1];
	const char *spf;                    /* SPF result word */
};

/* from_domain - the RFC5322.From domain: one From field whose addresses
 * share one domain (RFC 9989 4.4); NULL with a reason otherwise */
static const char *
from_domain(const struct strip *st, char *out, size_t size)
{
	char **v = NULL;
	size_t n = 0;
	const char *why = NULL, *err;

	if (st->nfrom == 0)
		return "no From field";
	if (st->nfrom > 1)
		return "more than one From field";
	msghdr_addresses(st->from, &v, &n);
	for (size_t i = 0; i < n && why == NULL; i++) {
		const char *at = strrchr(v[i], '@');
		char d[IDN_DOMAIN_MAX + 1];
		if (at == NULL || idn_to_ascii(at + 1, d, sizeof(d), &err) < 0)
			why = "a From address without a valid domain";
		else if (i == 0)
			snprintf(out, size, "%s", d);
		else if (strcmp(out, d) != 0)
			why = "From addresses in several domains";
	}
	if (n == 0)
		why = "no address in From";
	msghdr_addresses_free(v, n);
	return why;
}

/* org_of - the Organizational Domain of d into out; -1 DNS failure */
static int
org_of(struct lookups *l, const char *d, char *out, size_t size)
{
	struct dmarc_walked w;

	if (dmarc_walk_dns(l, d, &w) < 0)
		return -1;
	snprintf(out, size, "%s", dmarc_org_domain(&w));
	return 0;
}

/* aligned - an authenticated domain against the From domain */
static int
aligned(struct lookups *l, const struct dm_eval *e, const char *d, bool strict)
{
	char org[DMARC_DOMAIN_MAX + 1];

	if (strcasecmp(d, e->from) == 0)
		return 1;
	if (strict)
		return 0;
	if (org_of(l, d, org, sizeof(org)) < 0)
		return -1;
	return dmarc_aligned(d, org, e->from, e->from_org, false);
}

/* dmarc_eval - evaluate the message: From, our SPF result for the
 * envelope's domain, the passing DKIM domains */
static void
dmarc_eval(struct lookups *l, const struct strip *st,
	   const struct queue_env *env, const struct dkim_passes *dk,
	   struct dm_eval *e)
{
	struct dmarc_walked w;
	bool dns_failed = false;

	memset(e, 0, sizeof(*e));
	e->dis = DMARC_P_NONE;
	e->spf = st->spf[0] != '\0' ? st->spf : "none";
	/* the SPF identity: MAIL FROM's domain, HELO for the null sender */
	const char *at = env->sender != NULL ? strrchr(env->sender, '@') : NULL;
	const char *sd = at != NULL ? at + 1 :
	    env->sender != NULL && env->sender[0] == '\0' ? env->client_helo : NULL;
	const char *err;
	if (sd == NULL || idn_to_ascii(sd, e->spf_domain,
	    sizeof(e->spf_domain), &err) < 0)
		e->spf_domain[0] = '\0';

	e->why = from_domain(st, e->from, sizeof(e->from));
	if (e->why != NULL) {
		e->from[0] = '\0';
		e->result = DM_PERMERROR;
		return;
	}
	if (dmarc_walk_dns(l, e->from, &w) < 0) {
		e->result = DM_TEMPERROR;
		e->why = "DNS failure looking up the policy";
		return;
	}
	int pi = dmarc_policy_domain(&w);
	if (pi < 0) {
		e->result = DM_NONE;
		e->why = "no policy";
		return;
	}
	e->rec = *w.recs[pi];
	snprintf(e->policy_domain, sizeof(e->policy_domain), "%s", w.names[pi]);
	snprintf(e->from_org, sizeof(e->from_org), "%s", dmarc_org_domain(&w));
	e->applied = dmarc_applied(&e->rec, e->from, e->policy_domain, true);

	if (strcmp(e->spf, "pass") == 0 && e->spf_domain[0] != '\0') {
		int a = aligned(l, e, e->spf_domain, e->rec.aspf_strict);
		e->spf_aligned = a == 1;
		dns_failed |= a < 0;
	}
	for (size_t i = 0; i < dk->n && !e->dkim_aligned; i++) {
		int a = aligned(l, e, dk->d[i], e->rec.adkim_strict);
		e->dkim_aligned = a == 1;
		dns_failed |= a < 0;
	}
	if (e->spf_aligned || e->dkim_aligned) {
		e->result = DM_PASS;
		return;
	}
	if (dns_failed) {
		e->result = DM_TEMPERROR;
		e->why = "DNS failure finding an Organizational Domain";
		return;
	}
	e->result = DM_FAIL;
	bool exists = true;
	if (strcmp(e->from, e->policy_domain) != 0 && e->rec.np != DMARC_P_UNSET)
		exists = domain_exists(l, e->from);
	e->applied = dmarc_applied(&e->rec, e->from, e->policy_domain, exists);
}

/* dm_disposition - what to do with a failing message: the applied
 * policy unless the domain is testing (t=y, pct=0), RFC 7489's pct
 * sampling (the next policy down for the rest), or enforcement is off */
static enum dmarc_policy
dm_disposition(const struct dm_eval *e, bool enforce)
{
	enum dmarc_policy p = e->applied;

	if (e->result != DM_FAIL || !enforce || e->rec.testing ||
	    p == DMARC_P_UNSET)
		return DMARC_P_NONE;
	if (e->rec.pct >= 0 && e->rec.pct < 100) {
		unsigned char r;
		random_bytes(&r, 1);
		if ((unsigned)r % 100 >= (unsigned)e->rec.pct)
			p = p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
	}
	return p;
}

/* dm_resinfo - the dmarc resinfo (RFC 9989 / RFC 8601) */
static void
dm_resinfo(const struct dm_eval *e, struct buf *out)
{
	if (strcmp(e->spf, "none") != 0 || e->spf_domain[0] != '\0') {
		buf_printf(out, ";\r\n\tspf=%s", e->spf);
		if (safe_value(e->spf_domain))
			buf_printf(out, " smtp.mailfrom=%s", e->spf_domain);
	}
	buf_printf(out, ";\r\n\tdmarc=%s", dm_names[e->result]);
	if (e->result == DM_PASS || e->result == DM_FAIL)
		buf_printf(out, " (p=%s dis=%s%s)", dmarc_policy_name(e->applied),
		    dmarc_policy_name(e->dis), e->arc_override ?
		    " arc override" : "");
	else if (e->why != NULL)
		reason(out, e->why);
	if (e->from[0] != '\0' && safe_value(e->from))
		buf_printf(out, " header.from=%s", e->from);
}

/* dm_record - one line for the aggregate report of the policy domain
 * (dmarc-report.h) */
static void
dm_record(struct db *db, const struct queue_env *env, const struct dm_eval *e,
	  const struct dkim_passes *dk, const char *dkim_ar)
{
	if (e->rec.nrua == 0 || (e->result != DM_PASS && e->result != DM_FAIL))
		return;
	if (settings_current(db)->dmarc_reports == 0)
		return;
	struct dmarc_report_row row;
	memset(&row, 0, sizeof(row));
	row.when = time(NULL);
	snprintf(row.source_ip, sizeof(row.source_ip), "%s",
	    env->client_addr ? env->client_addr : "");
	snprintf(row.header_from, sizeof(row.header_from), "%s", e->from);
	snprintf(row.policy_domain, sizeof(row.policy_domain), "%s",
	    e->policy_domain);
	snprintf(row.envelope_from, sizeof(row.envelope_from), "%s",
	    e->spf_domain);
	row.rec = e->rec;
	row.dis = e->dis;
	row.dkim_pass = e->dkim_aligned;
	row.spf_pass = e->spf_aligned;
	snprintf(row.spf_result, sizeof(row.spf_result), "%s", e->spf);
	snprintf(row.dkim, sizeof(row.dkim), "%s", dkim_ar);
	(void)dk;
	const char *err = NULL;
	if (dmarc_report_append(db_root(db), &row, &err) < 0)
		log_warnx("%s: DMARC: result not recorded: %s", env->id, err);
}

/* dkim_summary - "d:result ..." of the dkim resinfos, for the report */
static void
dkim_summary(const char *ar, char *out, size_t size)
{
	size_t o = 0;

	out[0] = '\0';
	for (const char *p = ar; (p = strstr(p, "dkim=")) != NULL; p += 5) {
		const char *res = p + 5, *d = strstr(p, "header.d="), *next =
		    strstr(p + 5, "dkim=");
		size_t rl = strcspn(res, " ;\r");
		if (d == NULL || (next != NULL && d > next))
			continue;
		d += 9;
		size_t dl = strcspn(d, " ;\r");
		int w = snprintf(out + o, size - o, "%s%.*s:%.*s", o ? " " : "",
		    (int)dl, d, (int)rl, res);
		if (w < 0 || (size_t)w >= size - o) {
			out[o] = '\0';
			return;
		}
		o += (size_t)w;
	}
}

enum filter_result
authres_run(struct filter_ctx *ctx)
{
	struct buf msg, out;
	const char *err;
	char *host, *path;
	size_t removed = 0;

	if (strcmp(ctx->conn, "smtp") != 0 && strcmp(ctx->conn, "pr") != 0)
		return FILTER_CONTINUE;
	bool dmarc_on = settings_current(ctx->db)->dmarc_verify != 0;
	bool arc_on = settings_current(ctx->db)->arc_verify != 0;
	if ((settings_current(ctx->db)->dkim_verify == 0 && !dmarc_on &&
	    !arc_on) ||
	    env_from_here(ctx->db, ctx->env))
		return FILTER_CONTINUE;
	const char *src = ctx->new_msg_path ? ctx->new_msg_path : ctx->msg_path;
	buf_init(&msg, AUTHRES_MSG_MAX);
	if (file_read(src, &msg) < 0) {
		buf_free(&msg);
		log_info("%s: DKIM: not verified (message over %d MB or unreadable)",
		    ctx->env->id, AUTHRES_MSG_MAX >> 20);
		return FILTER_CONTINUE;
	}
	host = settings_hostname(ctx->db);
	/* the header: fields to remove, From, our Received-SPF */
	struct strip st = { .id = host };
	struct msghdr_parser hp;
	size_t used, pos = 0;
	msghdr_parser_init(&hp, msg.len + 1, strip_field, &st);
	int hr = msghdr_parser_feed(&hp, msg.data, msg.len, &used, &err);
	if (hr == 0)
		msghdr_parser_finish(&hp);
	msghdr_parser_deinit(&hp);
	if (hr < 0) {
		/* a field over 64 KB: we could not vouch that none claims
		 * to be ours */
		free(st.start);
		free(st.end);
		free(st.from);
		free(host);
		buf_free(&msg);
		ctx->reason = "a header field too long to check for forged "
		    "Authentication-Results";
		return FILTER_REJECT;
	}

	char *servers = xstrdup(settings_current(ctx->db)->dns_hosts);
	struct lookups lk = { .id = ctx->env->id, .servers = servers };
	struct dkim_passes dk;
	struct dm_eval *dm = NULL;
	buf_init(&out, 0);
	buf_printf(&out, "Authentication-Results: %s", host);
	verify_all(&lk, msg.data, msg.len, &out, &dk);
	struct arc_verdict av;
	memset(&av, 0, sizeof(av));
	if (arc_on)
		arc_resinfo(&lk, msg.data, msg.len, ctx->env, &out, &av);
	if (dmarc_on) {
		char summary[512];
		dm = xcalloc(1, sizeof(*dm));
		dkim_summary(out.data, summary, sizeof(summary));
		dmarc_eval(&lk, &st, ctx->env, &dk, dm);
		dm->dis = dm_disposition(dm, settings_current(ctx->db)->dmarc_enforce != 0);
		if (dm->dis != DMARC_P_NONE && arc_trusted(ctx->db, &av)) {
			/* RFC 8617 7.2: a forwarder we trust saw it pass */
			log_info("%s: DMARC: failure of %s overridden by the ARC "
			    "seal of %s", ctx->env->id, dm->policy_domain, av.chain);
			dm->dis = DMARC_P_NONE;
			dm->arc_override = true;
		}
		dm_resinfo(dm, &out);
		dm_record(ctx->db, ctx->env, dm, &dk, summary);
	}
	lookups_free(&lk);
	free(servers);
	buf_puts(&out, "\r\n");
	char *line = xstrndup(out.data, out.len - 2);
	for (char *q; (q = strstr(line, "\r\n\t")) != NULL;)
		memmove(q, q + 2, strlen(q + 2) + 1);
	for (char *q = line; *q != '\0'; q++)
		if (*q == '\t')
			*q = ' ';
	log_info("%s: %s", ctx->env->id, line);
	free(line);
	free(st.from);
	if (dm != NULL && dm->dis == DMARC_P_REJECT) {
		/* the MTA works after the 250: bad mail, never a bounce to a
		 * sender who is likely forged */
		log_info("%s: DMARC: %s publishes p=reject and the message has "
		    "no aligned SPF or DKIM pass: to bad mail", ctx->env->id,
		    dm->policy_domain);
		free(st.start);
		free(st.end);
		free(dm);
		free(host);
		buf_free(&out);
		buf_free(&msg);
		ctx->reason = "DMARC policy reject (no aligned SPF or DKIM pass)";
		return FILTER_REJECT;
	}
	if (dm != NULL && dm->dis == DMARC_P_QUARANTINE) {
		log_info("%s: DMARC: %s publishes p=quarantine and the message "
		    "has no aligned SPF or DKIM pass: to Junk", ctx->env->id,
		    dm->policy_domain);
		buf_printf(&out, "%s: dmarc (policy of %s)\r\n",
		    AUTHRES_QUARANTINE, dm->policy_domain);
	}
	free(dm);
	/* the message without A-R fields in our name */
	for (size_t i = 0; i < st.n; i++) {
		buf_append(&out, msg.data + pos, st.start[i] - pos);
		pos = st.end[i];
		removed++;
	}
	free(st.start);
	free(st.end);
	buf_append(&out, msg.data + pos, msg.len - pos);
	buf_free(&msg);
	if (removed > 0)
		log_info("%s: removed %zu Authentication-Results field(s) claiming "
		    "to be ours (%s)", ctx->env->id, removed, host);
	free(host);

	char rnd[6];
	random_bytes(rnd, sizeof(rnd));
	path = xasprintf("%s/smtp/inbound/tmp/%s.authres.%02x%02x%02x%02x%02x%02x",
	    ctx->queue_root, ctx->env->id, (unsigned char)rnd[0],
	    (unsigned char)rnd[1], (unsigned char)rnd[2], (unsigned char)rnd[3],
	    (unsigned char)rnd[4], (unsigned char)rnd[5]);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_full(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(path);
		buf_free(&out);
		ctx->reason = "cannot write the message with Authentication-Results";
		return FILTER_DEFER;
	}
	close(fd);
	buf_free(&out);
	if (ctx->new_msg_path != NULL) {
		unlink(ctx->new_msg_path);
		free(ctx->new_msg_path);
	}
	ctx->new_msg_path = path;
	return FILTER_CONTINUE;
}
