/* spf - SPF check_host() (RFC 7208 4) on the event loop */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "spf.h"
#include "strutil.h"
#include "xalloc.h"

#define SPF_LOOKUPS_MAX 10
#define SPF_VOIDS_MAX 2
#define SPF_MX_MAX 10
#define SPF_DEPTH_MAX (SPF_LOOKUPS_MAX + 1)

struct spf_frame {
	char domain[SPF_DOMAIN_MAX + 1];
	char *txt;                      /* the record; rec points into it */
	struct spf_record rec;
	size_t pos;                     /* the term being evaluated */
	bool redirecting;               /* this frame replaced by redirect= */
};

struct spf {
	struct dns_resolver *r;
	struct event *timer;
	struct sockaddr_storage ip;
	char ipstr[64];
	char sender[SPF_DOMAIN_MAX + 80];
	char local[80];
	char sender_domain[SPF_DOMAIN_MAX + 1];
	char helo[SPF_DOMAIN_MAX + 1];
	char validated[SPF_DOMAIN_MAX + 1];
	int lookups, voids;
	struct spf_frame *stack[SPF_DEPTH_MAX];
	int depth;
	/* mx in progress */
	size_t mx_pending;
	bool mx_match;
	bool mx_temp;
	bool finished;
	enum spf_result result;
	char why[200];
	void (*done)(void *arg);
	void *arg;
};

static void evaluate(struct spf *s);
static void frame_result(struct spf *s, enum spf_result r);

static void
finish(struct spf *s, enum spf_result r, const char *why)
{
	if (s->finished)
		return;
	s->finished = true;
	s->result = r;
	if (why != NULL && s->why[0] == '\0')
		snprintf(s->why, sizeof(s->why), "%s", why);
	evtimer_del(s->timer);
	dns_cancel(s->r, s);
	s->done(s->arg);
}

static struct spf_frame *
top(struct spf *s)
{
	return s->stack[s->depth - 1];
}

static bool
count_lookup(struct spf *s)
{
	if (++s->lookups > SPF_LOOKUPS_MAX) {
		snprintf(s->why, sizeof(s->why), "more than %d DNS lookups",
		    SPF_LOOKUPS_MAX);
		frame_result(s, SPF_PERMERROR);
		return false;
	}
	return true;
}

/* count_void - a lookup that found nothing; false: limit passed */
static bool
count_void(struct spf *s)
{
	if (++s->voids > SPF_VOIDS_MAX) {
		snprintf(s->why, sizeof(s->why), "more than %d void lookups",
		    SPF_VOIDS_MAX);
		frame_result(s, SPF_PERMERROR);
		return false;
	}
	return true;
}

/* in_net - whether addr (the client) is inside a/bits of its family */
static bool
in_net(const struct sockaddr_storage *client, const struct sockaddr_storage *a,
       int cidr4, int cidr6)
{
	const unsigned char *x, *y;
	int bits;

	if (client->ss_family != a->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		x = (const unsigned char *)&((const struct sockaddr_in *)client)->sin_addr;
		y = (const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr;
		bits = cidr4;
	} else {
		x = ((const struct sockaddr_in6 *)client)->sin6_addr.s6_addr;
		y = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		bits = cidr6;
	}
	int full = bits / 8, rest = bits % 8;
	if (memcmp(x, y, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (x[full] & mask) == (y[full] & mask);
}

/* target - the expanded domain-spec of a term, or the current domain */
static bool
target(struct spf *s, const char *spec, size_t len, char *out)
{
	struct spf_frame *f = top(s);
	struct spf_macro_ctx ctx = {
		.sender = s->sender, .local = s->local,
		.sender_domain = s->sender_domain, .domain = f->domain,
		.ip = (struct sockaddr *)&s->ip, .helo = s->helo,
		.validated = s->validated[0] ? s->validated : NULL,
	};
	const char *err;

	if (spec == NULL) {
		snprintf(out, SPF_DOMAIN_MAX + 1, "%s", f->domain);
		return true;
	}
	if (spf_macro_expand(spec, len, &ctx, out, SPF_DOMAIN_MAX + 1, &err) < 0) {
		snprintf(s->why, sizeof(s->why), "%s", err);
		frame_result(s, SPF_PERMERROR);
		return false;
	}
	return true;
}

/* matched - the current term matched (or not): go on */
static void
matched(struct spf *s, bool match)
{
	struct spf_frame *f = top(s);

	if (match) {
		frame_result(s, f->rec.terms[f->pos].qualifier);
		return;
	}
	f->pos++;
	evaluate(s);
}

static void
addr_done(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	  size_t n, const char *error)
{
	struct spf *s = ctx;
	struct spf_frame *f = top(s);
	const struct spf_term *t = &f->rec.terms[f->pos];
	bool match = false;

	if (st == DNS_TEMPFAIL) {
		snprintf(s->why, sizeof(s->why), "DNS: %s", error ? error : "?");
		frame_result(s, SPF_TEMPERROR);
		return;
	}
	if (st != DNS_OK) {
		if (!count_void(s))
			return;
	}
	for (size_t i = 0; st == DNS_OK && i < n; i++)
		if (in_net(&s->ip, &addrs[i], t->mech == SPF_EXISTS ? 0 : t->cidr4,
		    t->mech == SPF_EXISTS ? 0 : t->cidr6) ||
		    (t->mech == SPF_EXISTS && addrs[i].ss_family == AF_INET))
			match = true;
	matched(s, match);
}

static void
mx_addr_done(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	     size_t n, const char *error)
{
	struct spf *s = ctx;
	struct spf_frame *f = top(s);
	const struct spf_term *t = &f->rec.terms[f->pos];

	if (st == DNS_TEMPFAIL)
		s->mx_temp = true;
	for (size_t i = 0; st == DNS_OK && i < n; i++)
		if (in_net(&s->ip, &addrs[i], t->cidr4, t->cidr6))
			s->mx_match = true;
	if (--s->mx_pending > 0)
		return;
	if (s->mx_temp && !s->mx_match) {
		snprintf(s->why, sizeof(s->why), "DNS: an MX address failed");
		frame_result(s, SPF_TEMPERROR);
		return;
	}
	matched(s, s->mx_match);
}

static void
mx_done(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
	const char *error)
{
	struct spf *s = ctx;

	if (st == DNS_TEMPFAIL) {
		snprintf(s->why, sizeof(s->why), "DNS: %s", error ? error : "?");
		frame_result(s, SPF_TEMPERROR);
		return;
	}
	/* RFC 7208 5.4: no implicit MX */
	if (st != DNS_OK || (n == 1 && mx[0].implicit)) {
		if (st != DNS_NULLMX && !count_void(s))
			return;
		matched(s, false);
		return;
	}
	if (n > SPF_MX_MAX) {
		snprintf(s->why, sizeof(s->why), "more than %d MX names",
		    SPF_MX_MAX);
		frame_result(s, SPF_PERMERROR);
		return;
	}
	s->mx_pending = n;
	s->mx_match = s->mx_temp = false;
	for (size_t i = 0; i < n; i++)
		dns_lookup_addr(s->r, mx[i].host, mx_addr_done, s);
}

static void txt_done(void *ctx, enum dns_status st, char *const *txt,
		     size_t n, const char *error);

/* push - evaluate the record of domain (include, redirect or the start) */
static void
push(struct spf *s, const char *domain)
{
	struct spf_frame *f;

	if (s->depth >= SPF_DEPTH_MAX) {
		snprintf(s->why, sizeof(s->why), "nested too deep");
		frame_result(s, SPF_PERMERROR);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	s->stack[s->depth++] = f;
	dns_lookup_txt(s->r, f->domain, txt_done, s);
}

static void
frame_free(struct spf_frame *f)
{
	free(f->txt);
	free(f);
}

/* frame_result - the current record evaluated to r: pop it and give r to
 * its include (or the caller) */
static void
frame_result(struct spf *s, enum spf_result r)
{
	struct spf_frame *f = top(s);

	frame_free(f);
	s->depth--;
	if (s->depth == 0) {
		finish(s, r, NULL);
		return;
	}
	/* RFC 7208 5.2: the include mechanism */
	switch (r) {
	case SPF_PASS:
		matched(s, true);
		return;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		matched(s, false);
		return;
	case SPF_TEMPERROR:
		frame_result(s, SPF_TEMPERROR);
		return;
	case SPF_NONE:
	case SPF_PERMERROR:
		frame_result(s, SPF_PERMERROR);
		return;
	}
}

static void
txt_done(void *ctx, enum dns_status st, char *const *txt, size_t n,
	 const char *error)
{
	struct spf *s = ctx;
	struct spf_frame *f = top(s);
	const char *err;
	size_t found = 0, which = 0;

	if (st == DNS_TEMPFAIL) {
		snprintf(s->why, sizeof(s->why), "DNS: %s", error ? error : "?");
		frame_result(s, SPF_TEMPERROR);
		return;
	}
	for (size_t i = 0; st == DNS_OK && i < n; i++)
		if (spf_record_is_spf(txt[i])) {
			found++;
			which = i;
		}
	if (found == 0) {
		/* an include or redirect without a record is a permerror
		 * (frame_result turns NONE into it for includes) */
		bool redirected = f->redirecting;
		if (s->why[0] == '\0')
			snprintf(s->why, sizeof(s->why), "no SPF record for %s",
			    f->domain);
		frame_result(s, redirected ? SPF_PERMERROR : SPF_NONE);
		return;
	}
	if (found > 1) {
		snprintf(s->why, sizeof(s->why), "%s has more than one SPF "
		    "record", f->domain);
		frame_result(s, SPF_PERMERROR);
		return;
	}
	f->txt = xstrdup(txt[which]);
	if (spf_record_parse(f->txt, &f->rec, &err) < 0) {
		snprintf(s->why, sizeof(s->why), "%s: %s", f->domain, err);
		frame_result(s, SPF_PERMERROR);
		return;
	}
	f->pos = 0;
	evaluate(s);
}

/* evaluate - the terms of the top record from its position on */
static void
evaluate(struct spf *s)
{
	struct spf_frame *f = top(s);
	char dom[SPF_DOMAIN_MAX + 1];

	while (f->pos < f->rec.nterms) {
		const struct spf_term *t = &f->rec.terms[f->pos];
		struct sockaddr_storage net;

		switch (t->mech) {
		case SPF_ALL:
			frame_result(s, t->qualifier);
			return;
		case SPF_IP4:
		case SPF_IP6:
			memset(&net, 0, sizeof(net));
			if (t->mech == SPF_IP4) {
				net.ss_family = AF_INET;
				memcpy(&((struct sockaddr_in *)&net)->sin_addr, t->addr, 4);
			} else {
				net.ss_family = AF_INET6;
				memcpy(&((struct sockaddr_in6 *)&net)->sin6_addr, t->addr, 16);
			}
			if (in_net(&s->ip, &net, t->cidr4, t->cidr6)) {
				frame_result(s, t->qualifier);
				return;
			}
			f->pos++;
			continue;
		case SPF_A:
		case SPF_EXISTS:
			if (!count_lookup(s) || !target(s, t->domain, t->domain_len, dom))
				return;
			if (t->mech == SPF_EXISTS)
				dns_lookup_a(s->r, dom, addr_done, s);
			else
				dns_lookup_addr(s->r, dom, addr_done, s);
			return;
		case SPF_MX:
			if (!count_lookup(s) || !target(s, t->domain, t->domain_len, dom))
				return;
			dns_lookup_mx(s->r, dom, mx_done, s);
			return;
		case SPF_PTR: {
			/* the client's forward-confirmed name (smtpd's reverse
			 * DNS check) in or under the target domain */
			size_t vl = strlen(s->validated), dl;
			bool m = false;
			if (!count_lookup(s) || !target(s, t->domain, t->domain_len, dom))
				return;
			dl = strlen(dom);
			if (vl > 0 && (strcasecmp(s->validated, dom) == 0 ||
			    (vl > dl && s->validated[vl - dl - 1] == '.' &&
			     strcasecmp(s->validated + vl - dl, dom) == 0)))
				m = true;
			if (m) {
				frame_result(s, t->qualifier);
				return;
			}
			f->pos++;
			continue;
		}
		case SPF_INCLUDE:
			if (!count_lookup(s) || !target(s, t->domain, t->domain_len, dom))
				return;
			push(s, dom);
			return;
		}
	}
	if (f->rec.redirect != NULL) {
		if (!count_lookup(s) ||
		    !target(s, f->rec.redirect, f->rec.redirect_len, dom))
			return;
		/* the redirect's result is the record's result */
		free(f->txt);
		f->txt = NULL;
		memset(&f->rec, 0, sizeof(f->rec));
		snprintf(f->domain, sizeof(f->domain), "%s", dom);
		f->redirecting = true;
		f->pos = 0;
		dns_lookup_txt(s->r, f->domain, txt_done, s);
		return;
	}
	frame_result(s, SPF_NEUTRAL);
}

static void
spf_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct spf *s = arg;

	dns_cancel(s->r, s);
	snprintf(s->why, sizeof(s->why), "no DNS answer in time");
	while (s->depth > 0)
		frame_free(s->stack[--s->depth]);
	finish(s, SPF_TEMPERROR, NULL);
}

/* domain_ok - a name check_host() can look up (RFC 7208 4.3) */
static bool
domain_ok(const char *d)
{
	const char *err;
	return strchr(d, '.') != NULL && domain_check(d, &err) == 0;
}

struct spf *
spf_start(struct dns_resolver *r, struct event_base *base,
	  const struct sockaddr *ip, const char *sender, const char *helo,
	  const char *validated, int timeout_s, void (*done)(void *arg),
	  void *arg)
{
	struct spf *s = xcalloc(1, sizeof(*s));
	struct timeval tv = { timeout_s > 0 ? timeout_s : 10, 0 };
	const char *at;

	s->r = r;
	s->done = done;
	s->arg = arg;
	s->timer = evtimer_new(base, spf_timeout, s);
	if (ip->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((const struct sockaddr_in6 *)ip)->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&s->ip;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr,
		    ((const struct sockaddr_in6 *)ip)->sin6_addr.s6_addr + 12, 4);
	} else {
		memcpy(&s->ip, ip, ip->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	}
	if (s->ip.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&s->ip)->sin_addr,
		    s->ipstr, sizeof(s->ipstr));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s->ip)->sin6_addr,
		    s->ipstr, sizeof(s->ipstr));
	snprintf(s->helo, sizeof(s->helo), "%s", helo ? helo : "");
	snprintf(s->validated, sizeof(s->validated), "%s",
	    validated ? validated : "");
	/* RFC 7208 2.4: the null sender is postmaster@<HELO> */
	if (sender == NULL || *sender == '\0')
		snprintf(s->sender, sizeof(s->sender), "postmaster@%s", s->helo);
	else
		snprintf(s->sender, sizeof(s->sender), "%s", sender);
	at = strrchr(s->sender, '@');
	if (at != NULL) {
		snprintf(s->local, sizeof(s->local), "%.*s",
		    (int)(at - s->sender), s->sender);
		snprintf(s->sender_domain, sizeof(s->sender_domain), "%s", at + 1);
	}
	evtimer_add(s->timer, &tv);
	if (s->ip.ss_family != AF_INET && s->ip.ss_family != AF_INET6)
		at = NULL;
	if (at == NULL || !domain_ok(s->sender_domain)) {
		/* RFC 7208 4.3: not a usable domain: none */
		snprintf(s->why, sizeof(s->why), "no usable domain");
		s->result = SPF_NONE;
		s->finished = true;   /* spf_done: no call back needed */
		evtimer_del(s->timer);
		return s;
	}
	push(s, s->sender_domain);
	return s;
}

bool
spf_done(const struct spf *s)
{
	return s->finished;
}

enum spf_result
spf_result(const struct spf *s)
{
	return s->result;
}

const char *
spf_reason(const struct spf *s)
{
	return s->why;
}

/* clean - a copy fit for a quoted string or comment of a header field */
static void
clean(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;
		out[o++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\' ||
		    c == '(' || c == ')') ? '?' : (char)c;
	}
	out[o] = '\0';
}

char *
spf_header(const struct spf *s, const char *receiver)
{
	struct buf b;
	const char *res = spf_result_name(s->result);
	char sender[sizeof(s->sender)], why[sizeof(s->why)];

	clean(s->sender, sender, sizeof(sender));
	clean(s->why, why, sizeof(why));
	buf_init(&b, 0);
	buf_printf(&b, "Received-SPF: %s (%s: ", res, receiver);
	switch (s->result) {
	case SPF_PASS:
		buf_printf(&b, "domain of %s designates %s as permitted sender)",
		    sender, s->ipstr);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
		buf_printf(&b, "domain of %s does not designate %s as permitted "
		    "sender)", sender, s->ipstr);
		break;
	case SPF_NEUTRAL:
		buf_printf(&b, "%s is neither permitted nor denied by domain of "
		    "%s)", s->ipstr, sender);
		break;
	default:
		buf_printf(&b, "%s)", why[0] ? why : res);
		break;
	}
	buf_printf(&b, "\r\n\tclient-ip=%s; envelope-from=\"%s\"; helo=%s;",
	    s->ipstr, sender, s->helo[0] ? s->helo : "unknown");
	return buf_steal(&b);
}

void
spf_free(struct spf **sp)
{
	struct spf *s = *sp;

	if (s == NULL)
		return;
	if (!s->finished)
		dns_cancel(s->r, s);
	while (s->depth > 0)
		frame_free(s->stack[--s->depth]);
	event_free(s->timer);
	free(s);
	*sp = NULL;
}
