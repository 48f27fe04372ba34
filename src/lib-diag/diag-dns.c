/* diag-dns - DNS servers, the host name's records, the hosted domains'
 * MX, SPF and DKIM records: every query in parallel on a private event
 * loop, through lib-dns and the servers of dns.hosts, bounded in time */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "diag-private.h"
#include "dns.h"
#include "netaddr.h"
#include "publish.h"
#include "settings.h"
#include "tlsrpt.h"
#include "strutil.h"
#include "xalloc.h"

#define MAX_DOMAINS 200
#define MAX_NAMES 16     /* addresses or names kept per answer */

/* One answer: its status and up to MAX_NAMES texts. */
struct answer {
	bool done;
	enum dns_status status;
	char *error;
	char *v[MAX_NAMES];
	unsigned pref[MAX_NAMES];
	size_t n;
	bool implicit;
};

struct mxhost {
	char *name;
	struct answer addrs;
};

struct selector {
	char *name, *pub;
	struct answer txt;
};

struct domain {
	char *name;
	struct answer mx, txt;
	struct mxhost mx_hosts[MAX_NAMES];
	size_t nmx;
	struct selector *sel;
	size_t nsel;
	/* MTA-STS and TLS-RPT records, what we would publish */
	struct answer sts, rpt;
	struct publish_records pub;
};

struct server {
	char *spec;
	struct dns_resolver *res;
	struct answer probe;
};

struct ptr {
	char *ip;
	struct answer names;
};

struct dctx {
	struct event_base *base;
	struct dns_resolver *res;
	size_t pending;
	char *hostname;
	struct answer host;
	struct domain *dom;
	size_t ndom;
	struct server *srv;
	size_t nsrv;
	struct ptr ptr[2 * MAX_NAMES];
	size_t nptr;
	char *own[2 * MAX_NAMES];    /* this host's addresses */
	size_t nown;
	struct req **reqs;           /* every lookup's context, freed at the end */
	size_t nreqs;
	/* DANE: the TLSA records of _25._tcp.<hostname>, "u s m hex" */
	struct answer tlsa;
	char tlsa_want[80];          /* ours, "3 1 1 hex"; "" no certificate */
	char tlsa_error[300];
};

/* A lookup's callback context. */
struct req {
	struct dctx *d;
	struct answer *a;
	struct domain *dom;        /* MX: the domain */
};

static void
answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->error);
}

static void
finish(struct req *q, enum dns_status st, const char *error)
{
	q->a->done = true;
	q->a->status = st;
	q->a->error = error != NULL ? xstrdup(error) : NULL;
	if (--q->d->pending == 0)
		event_base_loopbreak(q->d->base);
}

static struct req *
req_new(struct dctx *d, struct answer *a)
{
	struct req *q = xcalloc(1, sizeof(*q));

	q->d = d;
	q->a = a;
	d->pending++;
	d->reqs = xreallocarray(d->reqs, d->nreqs + 1, sizeof(*d->reqs));
	d->reqs[d->nreqs++] = q;
	return q;
}

static void
add_own(struct dctx *d, const char *ip)
{
	/* loopback is everybody's: an MX at 127.0.0.1 is not this host */
	if (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0)
		return;
	for (size_t i = 0; i < d->nown; i++)
		if (strcmp(d->own[i], ip) == 0)
			return;
	if (d->nown < sizeof(d->own) / sizeof(d->own[0]))
		d->own[d->nown++] = xstrdup(ip);
}

static void ptr_cb(void *ctx, enum dns_status st, char *const *names, size_t n,
		   const char *error);

static void
want_ptr(struct dctx *d, const char *ip)
{
	struct sockaddr_storage ss;

	for (size_t i = 0; i < d->nptr; i++)
		if (strcmp(d->ptr[i].ip, ip) == 0)
			return;
	if (d->nptr == sizeof(d->ptr) / sizeof(d->ptr[0]))
		return;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return;
	struct ptr *p = &d->ptr[d->nptr++];
	p->ip = xstrdup(ip);
	dns_lookup_ptr(d->res, (struct sockaddr *)&ss, ptr_cb, req_new(d, &p->names));
}

static void
keep_addrs(struct answer *a, const struct sockaddr_storage *addrs, size_t n)
{
	for (size_t i = 0; i < n && a->n < MAX_NAMES; i++) {
		char ip[64];
		sockaddr_ntop((const struct sockaddr *)&addrs[i], ip, sizeof(ip));
		a->v[a->n++] = xstrdup(ip);
	}
}

static void
host_cb(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	size_t n, const char *error)
{
	struct req *q = ctx;
	struct dctx *d = q->d;

	keep_addrs(q->a, addrs, n);
	for (size_t i = 0; i < q->a->n; i++) {
		add_own(d, q->a->v[i]);
		want_ptr(d, q->a->v[i]);
	}
	finish(q, st, error);
}

static void
addr_cb(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	size_t n, const char *error)
{
	struct req *q = ctx;

	keep_addrs(q->a, addrs, n);
	finish(q, st, error);
}

static void
strs_cb(void *ctx, enum dns_status st, char *const *v, size_t n, const char *error)
{
	struct req *q = ctx;

	for (size_t i = 0; i < n && q->a->n < MAX_NAMES; i++)
		q->a->v[q->a->n++] = xstrdup(v[i]);
	finish(q, st, error);
}

static void
tlsa_cb(void *ctx, enum dns_status st, bool secure, const struct dns_tlsa *t,
	size_t n, size_t malformed, const char *error)
{
	struct req *q = ctx;

	for (size_t i = 0; i < n && q->a->n < MAX_NAMES; i++) {
		struct buf b;
		buf_init(&b, 0);
		buf_printf(&b, "%u %u %u ", t[i].usage, t[i].selector, t[i].mtype);
		for (size_t k = 0; k < t[i].len && k < 64; k++)
			buf_printf(&b, "%02x", t[i].data[k]);
		q->a->v[q->a->n++] = buf_steal(&b);
	}
	q->a->implicit = secure;     /* here: the answer was validated */
	finish(q, st, error);
}

static void
ptr_cb(void *ctx, enum dns_status st, char *const *names, size_t n, const char *error)
{
	strs_cb(ctx, st, names, n, error);
}

static bool
same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static void
mx_cb(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
      const char *error)
{
	struct req *q = ctx;
	struct dctx *d = q->d;
	struct domain *dom = q->dom;

	for (size_t i = 0; i < n && q->a->n < MAX_NAMES; i++) {
		q->a->pref[q->a->n] = mx[i].pref;
		q->a->v[q->a->n++] = xstrdup(mx[i].host);
		q->a->implicit = mx[i].implicit;
		/* where the MX points, unless it is this host by name */
		if (!same_host(mx[i].host, d->hostname) && dom->nmx < MAX_NAMES) {
			struct mxhost *h = &dom->mx_hosts[dom->nmx++];
			h->name = xstrdup(mx[i].host);
			dns_lookup_addr(d->res, h->name, addr_cb, req_new(d, &h->addrs));
		}
	}
	finish(q, st, error);
}

static void
server_cb(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	  size_t n, const char *error)
{
	addr_cb(ctx, st, addrs, n, error);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static const char *
status_text(const struct answer *a)
{
	if (!a->done)
		return "no answer in time";
	switch (a->status) {
	case DNS_OK: return "ok";
	case DNS_NOTFOUND: return "no such record";
	case DNS_NULLMX: return "null MX (accepts no mail)";
	case DNS_TEMPFAIL: return a->error != NULL ? a->error : "temporary failure";
	}
	return "?";
}

static void
join(struct buf *b, const struct answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		buf_printf(b, "%s%s", i ? ", " : "", a->v[i]);
}

/* listener_addrs - the explicit (not wildcard) addresses of every
 * listener: this host's too */
static void
listener_addrs(struct dctx *d, struct db *db)
{
	static const char *const lst[] = { "smtp", "submission", "smtps", "pop3",
		"pop3s", "imap", "imaps", "http", "https", "managesieve", "xmpp",
		"xmpps" };
	const char *err;

	for (size_t i = 0; i < sizeof(lst) / sizeof(lst[0]); i++) {
		char key[64];
		struct netaddr *a = NULL;
		size_t n = 0;
		snprintf(key, sizeof(key), "%s.listen", lst[i]);
		char *v = xstrdup(settings_text(settings_current(db), settings_id(key)));
		if (netaddr_parse_list(v, &a, &n, &err) == 0)
			for (size_t k = 0; k < n; k++)
				if (strcmp(a[k].host, "0.0.0.0") != 0 && strcmp(a[k].host, "::") != 0)
					add_own(d, a[k].host);
		free(a);
		free(v);
	}
}

static void
load_domains(struct dctx *d, struct db *db)
{
	const char *err;
	struct db_stmt *q = db_query(db, &err, "SELECT id, name FROM domain "
	    "WHERE disabled = 0 ORDER BY name LIMIT ?", "i", (int64_t)MAX_DOMAINS);

	while (q != NULL && db_step(q, NULL) == DB_ROW) {
		d->dom = xreallocarray(d->dom, d->ndom + 1, sizeof(*d->dom));
		struct domain *dom = &d->dom[d->ndom++];
		memset(dom, 0, sizeof(*dom));
		dom->name = xstrdup(db_col_text(q, 1));
		publish_records(db, dom->name, &dom->pub);
		/* DKIM: the selectors only where rows exist */
		struct db_stmt *s = db_query(db, &err, "SELECT name, public_key FROM "
		    "dkim_selector WHERE domain_id = ? ORDER BY name LIMIT 8", "i",
		    (int64_t)db_col_int(q, 0));
		while (s != NULL && db_step(s, NULL) == DB_ROW) {
			dom->sel = xreallocarray(dom->sel, dom->nsel + 1, sizeof(*dom->sel));
			struct selector *sel = &dom->sel[dom->nsel++];
			memset(sel, 0, sizeof(*sel));
			sel->name = xstrdup(db_col_text(s, 0));
			sel->pub = xstrdup(db_col_text(s, 1));
		}
		db_stmt_free(&s);
	}
	db_stmt_free(&q);
}

/* txt_has_p - whether a DKIM record publishes the key p (whitespace in
 * the record ignored) */
static bool
txt_has_p(const char *txt, const char *p)
{
	struct buf b;
	bool found;

	buf_init(&b, 0);
	for (const char *c = txt; *c; c++)
		if (*c != ' ' && *c != '\t')
			buf_putc(&b, *c);
	char *want = xasprintf("p=%s", p);
	const char *at = b.data ? strstr(b.data, want) : NULL;
	found = at != NULL && (at == b.data || at[-1] == ';') &&
	    (at[strlen(want)] == '\0' || at[strlen(want)] == ';');
	free(want);
	buf_free(&b);
	return found;
}

/* check_trust_records - the domain's MTA-STS and TLS-RPT records
 * against what `postern tls dns` says to publish */
static void
check_trust_records(struct diag_section *sd, const struct domain *dom)
{
	const struct publish_records *p = &dom->pub;
	char check[300], id[MTASTS_ID_MAX + 1] = "";
	const char *err = NULL;
	size_t nsts = 0;

	snprintf(check, sizeof(check), "MTA-STS %s", p->sts_name[0] ?
	    p->sts_name : dom->name);
	for (size_t k = 0; k < dom->sts.n; k++) {
		char one[MTASTS_ID_MAX + 1];
		int r = mtasts_txt_parse(dom->sts.v[k], one, &err);
		if (r != 0)
			nsts++;
		if (r == 1)
			snprintf(id, sizeof(id), "%s", one);
	}
	if (!p->sts) {
		if (nsts > 0)
			diag_add(sd, DIAG_WARNING, check, "remove the record, or "
			    "serve the policy (mta_sts.publish)", "an _mta-sts "
			    "record is published but mta_sts.publish is off: "
			    "senders cannot fetch the policy");
	} else if (p->sts_error[0] != '\0') {
		diag_add(sd, DIAG_ERROR, check, "fix mta_sts.publish_mx", "%s",
		    p->sts_error);
	} else if (nsts == 0) {
		diag_add(sd, DIAG_WARNING, check, "publish the record of "
		    "`postern tls dns`: senders do not look for the policy "
		    "without it", "not published (%s)", dom->sts.done &&
		    dom->sts.status == DNS_OK ? "TXT records, none v=STSv1" :
		    status_text(&dom->sts));
	} else if (nsts > 1 || id[0] == '\0') {
		diag_add(sd, DIAG_ERROR, check, "keep exactly one valid v=STSv1 "
		    "record (RFC 8461 3.1)", "%zu record(s), %s", nsts,
		    id[0] ? "several" : "malformed");
	} else if (strcmp(id, p->sts_id) != 0) {
		diag_add(sd, DIAG_ERROR, check, "publish the record of "
		    "`postern tls dns`: senders keep their cached copy of the "
		    "old policy until the id changes", "wrong id %s: the policy "
		    "served now has id %s", id, p->sts_id);
	} else {
		diag_add(sd, DIAG_OK, check, NULL, "%s", p->sts_txt);
	}

	snprintf(check, sizeof(check), "TLS-RPT %s", p->rpt_name);
	size_t nrpt = 0;
	for (size_t k = 0; k < dom->rpt.n; k++) {
		struct tlsrpt_record rec;
		err = NULL;
		int r = tlsrpt_record_parse(dom->rpt.v[k], &rec, &err);
		if (r < 0) {
			diag_add(sd, DIAG_ERROR, check, "publish the record of "
			    "`postern tls dns`", "malformed: %s", err);
			return;
		}
		if (r == 1)
			nrpt++;
	}
	if (nrpt == 1)
		diag_add(sd, DIAG_OK, check, NULL, "published");
	else if (nrpt > 1)
		diag_add(sd, DIAG_ERROR, check, "keep exactly one v=TLSRPTv1 "
		    "record (RFC 8460 3)", "%zu records", nrpt);
	else
		diag_add(sd, DIAG_INFO, check, "publish the record of `postern "
		    "tls dns` to hear of senders' TLS failures", "not published "
		    "(%s)", status_text(&dom->rpt));
}

/* check_tlsa - the TLSA records of this host's MX name against its
 * certificate */
static void
check_tlsa(struct dctx *d, struct diag_section *s)
{
	char check[300];
	bool match = false, ta = false;

	snprintf(check, sizeof(check), "DANE _25._tcp.%s", d->hostname);
	for (size_t i = 0; i < d->tlsa.n; i++) {
		if (d->tlsa_want[0] && strcasecmp(d->tlsa.v[i], d->tlsa_want) == 0)
			match = true;
		if (strncmp(d->tlsa.v[i], "2 ", 2) == 0)
			ta = true;
	}
	if (d->tlsa.n == 0) {
		diag_add(s, DIAG_INFO, check, d->tlsa_want[0] ? "publish the "
		    "TLSA record of `postern tls dns` in a DNSSEC-signed zone "
		    "for DANE" : NULL, "not published (%s)",
		    status_text(&d->tlsa));
	} else if (d->tlsa_want[0] == '\0') {
		diag_add(s, DIAG_WARNING, check, "fix tls.cert", "published, "
		    "but this server's certificate does not load: %s",
		    d->tlsa_error);
	} else if (match) {
		diag_add(s, d->tlsa.implicit ? DIAG_OK : DIAG_WARNING, check,
		    d->tlsa.implicit ? NULL : "sign the zone (DNSSEC): senders "
		    "ignore TLSA records that do not validate",
		    "%s matches this server's key%s", d->tlsa_want,
		    d->tlsa.implicit ? "" : "; the answer is not DNSSEC-validated "
		    "(or dns.hosts does not validate)");
	} else if (ta) {
		diag_add(s, DIAG_WARNING, check, NULL, "only DANE-TA records "
		    "match nothing of this key; not checked further");
	} else {
		diag_add(s, DIAG_ERROR, check, "publish the TLSA record of "
		    "`postern tls dns` (before a key change: both): DANE "
		    "senders defer all mail to this host",
		    "%zu record(s), none matches this server's key (%s)",
		    d->tlsa.n, d->tlsa_want);
	}
}

static void
report(struct dctx *d, struct diag_report *rep, const char *servers)
{
	struct diag_section *s = diag_section(rep, DIAG_S_DNS);
	struct diag_section *sp = diag_section(rep, DIAG_S_PTR);
	struct diag_section *sd = diag_section(rep, DIAG_S_DOMAINS);
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < d->nsrv; i++) {
		struct server *sv = &d->srv[i];
		char check[160];
		snprintf(check, sizeof(check), "DNS server %s", sv->spec);
		bool answered = sv->probe.done && sv->probe.status != DNS_TEMPFAIL;
		diag_add(s, answered ? DIAG_OK : DIAG_ERROR, check,
		    answered ? NULL : "outbound delivery and the DNS checks of smtpd need "
		    "a working resolver: fix dns.hosts or /etc/resolv.conf",
		    answered ? "answers (a query for %s: %s)" : "does not answer (a query for %s: %s)",
		    d->hostname, status_text(&sv->probe));
	}

	/* the host name's own addresses */
	buf_reset(&b);
	join(&b, &d->host);
	if (d->host.done && d->host.status == DNS_OK)
		diag_add(s, DIAG_OK, "Host name A/AAAA", NULL, "%s: %s", d->hostname, b.data);
	else
		diag_add(s, DIAG_WARNING, "Host name A/AAAA",
		    "publish an A (and AAAA) record for the host name (manual 4.4.2)",
		    "%s: %s", d->hostname, status_text(&d->host));

	check_tlsa(d, s);

	/* reverse lookups of this host's public addresses */
	size_t nptr = 0;
	for (size_t i = 0; i < d->nptr; i++) {
		struct ptr *p = &d->ptr[i];
		char check[120];
		if (diag_ip_private(p->ip))
			continue;
		nptr++;
		snprintf(check, sizeof(check), "PTR of %s", p->ip);
		bool match = false;
		for (size_t k = 0; k < p->names.n; k++)
			match = match || same_host(p->names.v[k], d->hostname);
		buf_reset(&b);
		join(&b, &p->names);
		if (match)
			diag_add(sp, DIAG_OK, check, NULL, "%s", b.data);
		else if (p->names.done && p->names.status == DNS_OK)
			diag_add(sp, DIAG_WARNING, check,
			    "the PTR should name the host name that resolves back to it: "
			    "some receivers refuse mail otherwise",
			    "%s, not %s", b.data, d->hostname);
		else
			diag_add(sp, DIAG_WARNING, check,
			    "ask the owner of the address block for a PTR record naming "
			    "the host name", "%s", status_text(&p->names));
	}
	if (nptr == 0)
		diag_add(sp, DIAG_INFO, "Public addresses", NULL,
		    "none known (the host name resolves to no public address and no "
		    "listener names one)");

	/* hosted domains */
	if (d->ndom == 0)
		diag_add(sd, DIAG_INFO, "Hosted domains", NULL, "none");
	for (size_t i = 0; i < d->ndom; i++) {
		struct domain *dom = &d->dom[i];
		char check[300];
		snprintf(check, sizeof(check), "MX of %s", dom->name);
		buf_reset(&b);
		for (size_t k = 0; k < dom->mx.n; k++)
			buf_printf(&b, "%s%u %s", k ? ", " : "", dom->mx.pref[k], dom->mx.v[k]);
		if (!dom->mx.done || dom->mx.status != DNS_OK) {
			diag_add(sd, dom->mx.done && dom->mx.status == DNS_TEMPFAIL ? DIAG_WARNING :
			    !dom->mx.done ? DIAG_WARNING : DIAG_ERROR, check,
			    "publish an MX record pointing to this host (manual 4.4.2)",
			    "%s", status_text(&dom->mx));
		} else if (dom->mx.implicit) {
			diag_add(sd, DIAG_WARNING, check,
			    "publish an MX record pointing to this host (manual 4.4.2)",
			    "no MX record: senders use the domain's own address");
		} else {
			/* does one of them reach this host? by name, or by address */
			const char *via = NULL;
			for (size_t k = 0; k < dom->mx.n && via == NULL; k++)
				if (same_host(dom->mx.v[k], d->hostname))
					via = dom->mx.v[k];
			for (size_t k = 0; k < dom->nmx && via == NULL; k++)
				for (size_t j = 0; j < dom->mx_hosts[k].addrs.n && via == NULL; j++)
					for (size_t o = 0; o < d->nown; o++)
						if (strcmp(dom->mx_hosts[k].addrs.v[j], d->own[o]) == 0)
							via = dom->mx_hosts[k].name;
			if (via != NULL) {
				diag_add(sd, DIAG_OK, check, NULL, "%s (%s is this host)", b.data, via);
			} else {
				struct buf where;
				buf_init(&where, 0);
				for (size_t k = 0; k < dom->nmx; k++) {
					buf_printf(&where, "%s%s -> ", k ? "; " : "", dom->mx_hosts[k].name);
					if (dom->mx_hosts[k].addrs.n > 0)
						join(&where, &dom->mx_hosts[k].addrs);
					else
						buf_puts(&where, status_text(&dom->mx_hosts[k].addrs));
				}
				struct buf own;
				buf_init(&own, 0);
				for (size_t k = 0; k < d->nown; k++)
					buf_printf(&own, "%s%s", k ? ", " : "", d->own[k]);
				diag_add(sd, DIAG_WARNING, check,
				    "mail for the domain goes elsewhere: point its MX to this "
				    "host (server.hostname) unless another server relays to it",
				    "%s; none is this host (%s, addresses %s): %s", b.data,
				    d->hostname, own.data ? own.data : "unknown",
				    where.data ? where.data : "");
				buf_free(&own);
				buf_free(&where);
			}
		}

		/* SPF */
		snprintf(check, sizeof(check), "SPF of %s", dom->name);
		const char *spf = NULL;
		size_t nspf = 0;
		for (size_t k = 0; k < dom->txt.n; k++)
			if (strncasecmp(dom->txt.v[k], "v=spf1", 6) == 0 &&
			    (dom->txt.v[k][6] == '\0' || dom->txt.v[k][6] == ' ')) {
				spf = dom->txt.v[k];
				nspf++;
			}
		if (nspf == 1)
			diag_add(sd, DIAG_OK, check, NULL, "%s", spf);
		else if (nspf > 1)
			diag_add(sd, DIAG_ERROR, check, "keep exactly one v=spf1 record (RFC 7208 4.5)",
			    "%zu SPF records", nspf);
		else
			diag_add(sd, DIAG_WARNING, check,
			    "publish a TXT record \"v=spf1 mx -all\" so receivers can check senders",
			    "no SPF record (%s)", dom->txt.done && dom->txt.status == DNS_OK ?
			    "TXT records, none v=spf1" : status_text(&dom->txt));

		/* DKIM selectors */
		for (size_t k = 0; k < dom->nsel; k++) {
			struct selector *sel = &dom->sel[k];
			bool found = false;
			snprintf(check, sizeof(check), "DKIM %s._domainkey.%s", sel->name, dom->name);
			for (size_t j = 0; j < sel->txt.n; j++)
				found = found || txt_has_p(sel->txt.v[j], sel->pub);
			if (found)
				diag_add(sd, DIAG_OK, check, NULL, "published, key matches");
			else if (sel->txt.done && sel->txt.status == DNS_OK)
				diag_add(sd, DIAG_ERROR, check,
				    "publish the record of `postern dkim dns`: signatures fail",
				    "published with another key");
			else
				diag_add(sd, DIAG_WARNING, check,
				    "publish the record of `postern dkim dns`",
				    "not published (%s)", status_text(&sel->txt));
		}
		check_trust_records(sd, dom);
	}
	(void)servers;
	buf_free(&b);
}

void
diag_check_dns(struct diag_report *rep, struct db *db, const struct diag_options *o)
{
	struct diag_section *s = diag_section(rep, DIAG_S_DNS);
	int tmo = o->dns_timeout_ms > 0 ? o->dns_timeout_ms : 2000;
	int total = o->dns_total_ms > 0 ? o->dns_total_ms : 15000;
	const char *err;
	struct dctx d;

	diag_section(rep, DIAG_S_PTR);
	diag_section(rep, DIAG_S_DOMAINS);
	char *servers = xstrdup(settings_current(db)->dns_hosts);
	diag_add(s, DIAG_INFO, "DNS servers (dns.hosts)", NULL, "%s",
	    *servers ? servers : "none set: /etc/resolv.conf");
	if (!o->dns) {
		diag_add(s, DIAG_INFO, "DNS checks", NULL, "not run (--no-dns)");
		free(servers);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.hostname = settings_hostname(db);
	d.base = event_base_new();
	d.res = d.base ? dns_resolver_new(d.base, servers, tmo, 2, &err) : NULL;
	if (d.res == NULL) {
		diag_add(s, DIAG_ERROR, "Resolver", "fix dns.hosts", "%s",
		    d.base ? err : "no event loop");
		goto out;
	}
	listener_addrs(&d, db);
	size_t nloc;
	char **loc = diag_local_addrs(&nloc);
	for (size_t i = 0; i < nloc; i++) {
		add_own(&d, loc[i]);
		free(loc[i]);
	}
	free(loc);
	load_domains(&d, db);

	/* every server on its own, so one that does not answer shows */
	char *copy = xstrdup(servers), *save = NULL;
	d.srv = xcalloc(16, sizeof(*d.srv));   /* fixed: lookups point into it */
	for (char *t = strtok_r(copy, " \t", &save); t != NULL && d.nsrv < 16;
	     t = strtok_r(NULL, " \t", &save)) {
		struct server *sv = &d.srv[d.nsrv++];
		sv->spec = xstrdup(t);
		sv->res = dns_resolver_new(d.base, t, tmo, 2, &err);
		if (sv->res == NULL) {
			sv->probe.done = true;
			sv->probe.status = DNS_TEMPFAIL;
			sv->probe.error = xstrdup(err);
		} else {
			dns_lookup_addr(sv->res, d.hostname, server_cb, req_new(&d, &sv->probe));
		}
	}
	free(copy);
	if (d.nsrv == 0) {
		d.nsrv = 1;
		d.srv[0].spec = xstrdup("(system resolver)");
		dns_lookup_addr(d.res, d.hostname, server_cb, req_new(&d, &d.srv[0].probe));
	}
	dns_lookup_addr(d.res, d.hostname, host_cb, req_new(&d, &d.host));
	{
		struct publish_records pub;
		publish_records(db, "", &pub);
		if (pub.tlsa)
			snprintf(d.tlsa_want, sizeof(d.tlsa_want), "%s",
			    pub.tlsa_rdata);
		else
			snprintf(d.tlsa_error, sizeof(d.tlsa_error), "%s",
			    pub.tlsa_error);
		char *name = xasprintf("_25._tcp.%s", d.hostname);
		dns_lookup_tlsa(d.res, name, tlsa_cb, req_new(&d, &d.tlsa));
		free(name);
	}
	for (size_t i = 0; i < d.nown; i++)
		want_ptr(&d, d.own[i]);
	for (size_t i = 0; i < d.ndom; i++) {
		struct domain *dom = &d.dom[i];
		struct req *q = req_new(&d, &dom->mx);
		q->dom = dom;
		dns_lookup_mx(d.res, dom->name, mx_cb, q);
		dns_lookup_txt(d.res, dom->name, strs_cb, req_new(&d, &dom->txt));
		char *sn = xasprintf("_mta-sts.%s", dom->name);
		dns_lookup_txt(d.res, sn, strs_cb, req_new(&d, &dom->sts));
		free(sn);
		sn = xasprintf("_smtp._tls.%s", dom->name);
		dns_lookup_txt(d.res, sn, strs_cb, req_new(&d, &dom->rpt));
		free(sn);
		for (size_t k = 0; k < dom->nsel; k++) {
			char *name = xasprintf("%s._domainkey.%s", dom->sel[k].name, dom->name);
			dns_lookup_txt(d.res, name, strs_cb, req_new(&d, &dom->sel[k].txt));
			free(name);
		}
	}
	struct timeval tv = { total / 1000, (total % 1000) * 1000 };
	struct event *deadline = evtimer_new(d.base, on_deadline, d.base);
	evtimer_add(deadline, &tv);
	if (d.pending > 0)
		event_base_dispatch(d.base);
	event_free(deadline);
	report(&d, rep, servers);

out:
	/* freeing the resolvers drops what has not answered (no callbacks) */
	dns_resolver_free(&d.res);
	for (size_t i = 0; i < d.nsrv; i++) {
		dns_resolver_free(&d.srv[i].res);
		free(d.srv[i].spec);
		answer_free(&d.srv[i].probe);
	}
	free(d.srv);
	for (size_t i = 0; i < d.ndom; i++) {
		struct domain *dom = &d.dom[i];
		answer_free(&dom->mx);
		answer_free(&dom->txt);
		answer_free(&dom->sts);
		answer_free(&dom->rpt);
		for (size_t k = 0; k < dom->nmx; k++) {
			free(dom->mx_hosts[k].name);
			answer_free(&dom->mx_hosts[k].addrs);
		}
		for (size_t k = 0; k < dom->nsel; k++) {
			free(dom->sel[k].name);
			free(dom->sel[k].pub);
			answer_free(&dom->sel[k].txt);
		}
		free(dom->sel);
		free(dom->name);
	}
	free(d.dom);
	for (size_t i = 0; i < d.nptr; i++) {
		free(d.ptr[i].ip);
		answer_free(&d.ptr[i].names);
	}
	for (size_t i = 0; i < d.nown; i++)
		free(d.own[i]);
	answer_free(&d.host);
	answer_free(&d.tlsa);
	for (size_t i = 0; i < d.nreqs; i++)
		free(d.reqs[i]);
	free(d.reqs);
	free(d.hostname);
	if (d.base != NULL)
		event_base_free(d.base);
	free(servers);
}
