/* checks - DNS block lists and reverse DNS of an SMTP client, on the loop */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "log.h"
#include "netaddr.h"
#include "xalloc.h"

/* checks_maybe_done - call done() once everything has answered */
static void
checks_maybe_done(struct checks *c)
{
	if (c->finished)
		return;
	for (size_t i = 0; i < c->nzones; i++)
		if (!c->zones[i].done)
			return;
	if (!c->ptr_done)
		return;
	for (size_t i = 0; i < c->nfwd; i++)
		if (!c->fwd[i].done)
			return;
	/* the first confirmed name in PTR order */
	for (size_t i = 0; i < c->nfwd && c->rdns[0] == '\0'; i++)
		if (c->fwd[i].match)
			snprintf(c->rdns, sizeof(c->rdns), "%s", c->fwd[i].name);
	c->finished = true;
	evtimer_del(c->timer);
	c->done(c->arg);
}

static void
zone_txt_done(void *ctx, enum dns_status st, char *const *txt, size_t n,
	      const char *error)
{
	struct checks_zone *z = ctx;

	if (st == DNS_OK && n > 0)
		dnsbl_reason_clean(txt[0], strlen(txt[0]), z->reason);
	z->done = true;
	checks_maybe_done(z->c);
}

static void
zone_a_done(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	    size_t n, const char *error)
{
	struct checks_zone *z = ctx;
	struct checks *c = z->c;

	if (st == DNS_TEMPFAIL) {
		log_warnx("%s: dnsbl %s: DNS failure (%s): not listed", c->sid,
		    z->zone, error ? error : "?");
	} else if (st == DNS_OK) {
		switch (dnsbl_classify(addrs, n, z->code, sizeof(z->code))) {
		case DNSBL_LISTED:
			z->listed = true;
			/* the reason, if the list gives one */
			dns_lookup_txt(c->r, z->qname, zone_txt_done, z);
			return;
		case DNSBL_LIST_ERROR:
			log_warnx("%s: dnsbl %s: answer %s is an error code of the "
			    "list (query refused, or a mistyped zone): not listed",
			    c->sid, z->zone, z->code);
			break;
		case DNSBL_BOGUS:
			log_warnx("%s: dnsbl %s: answer %s outside 127.0.0.0/8 "
			    "ignored: not listed", c->sid, z->zone,
			    z->code[0] ? z->code : "(IPv6)");
			break;
		case DNSBL_NOT_LISTED:
			break;
		}
	}
	z->done = true;
	checks_maybe_done(c);
}

/* same_addr - whether a forward answer is the client's address */
static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

static void
fwd_done(void *ctx, enum dns_status st, const struct sockaddr_storage *addrs,
	 size_t n, const char *error)
{
	struct checks_fwd *f = ctx;

	for (size_t i = 0; st == DNS_OK && i < n; i++)
		if (same_addr(&addrs[i], &f->c->sa))
			f->match = true;
	f->done = true;
	checks_maybe_done(f->c);
}

static void
ptr_done(void *ctx, enum dns_status st, char *const *names, size_t n,
	 const char *error)
{
	struct checks *c = ctx;

	if (st == DNS_TEMPFAIL)
		log_info("%s: reverse DNS: %s", c->sid, error ? error : "failure");
	for (size_t i = 0; st == DNS_OK && i < n && c->nfwd < CHECKS_PTR_NAMES;
	    i++) {
		const char *name = names[i];
		size_t len = strlen(name);
		bool ok = len > 0 && len <= CHECKS_RDNS_MAX;

		/* it goes into Received: a host name, nothing else */
		for (size_t k = 0; ok && k < len; k++) {
			unsigned char ch = (unsigned char)name[k];
			ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
			    ch == '_';
		}
		if (!ok)
			continue;
		struct checks_fwd *f = &c->fwd[c->nfwd++];
		f->c = c;
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	c->ptr_done = true;
	/* after ptr_done: an answer cannot complete the set early */
	for (size_t i = 0; i < c->nfwd; i++)
		dns_lookup_addr(c->r, c->fwd[i].name, fwd_done, &c->fwd[i]);
	checks_maybe_done(c);
}

/* checks_cancel - forget every lookup still out */
static void
checks_cancel(struct checks *c)
{
	dns_cancel(c->r, c);
	for (size_t i = 0; i < c->nzones; i++)
		dns_cancel(c->r, &c->zones[i]);
	for (size_t i = 0; i < c->nfwd; i++)
		dns_cancel(c->r, &c->fwd[i]);
}

static void
checks_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct checks *c = arg;

	checks_cancel(c);
	for (size_t i = 0; i < c->nzones; i++) {
		if (!c->zones[i].done) {
			log_warnx("%s: dnsbl %s: no answer in time: %s", c->sid,
			    c->zones[i].zone, c->zones[i].listed ?
			    "listed, without a reason" : "not listed");
			c->zones[i].done = true;
		}
	}
	if (!c->ptr_done)
		log_info("%s: reverse DNS: no answer in time", c->sid);
	c->ptr_done = true;
	for (size_t i = 0; i < c->nfwd; i++)
		c->fwd[i].done = true;
	checks_maybe_done(c);
}

struct checks *
checks_start(struct dns_resolver *r, struct event_base *base,
	     const struct sockaddr *sa, const char *sid,
	     char zones[][DNSBL_ZONE_MAX + 1], size_t nzones, bool rdns,
	     int timeout_s, void (*done)(void *arg), void *arg)
{
	struct checks *c = xcalloc(1, sizeof(*c));
	struct timeval tv = { timeout_s > 0 ? timeout_s : 10, 0 };

	c->r = r;
	c->done = done;
	c->arg = arg;
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c->sa;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr,
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET) {
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in));
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&c->sa, sa, sizeof(struct sockaddr_in6));
	} else {
		nzones = 0;
		rdns = false;
	}
	c->timer = evtimer_new(base, checks_timeout, c);
	evtimer_add(c->timer, &tv);
	for (size_t i = 0; i < nzones && i < DNSBL_MAX_ZONES; i++) {
		struct checks_zone *z = &c->zones[c->nzones];
		z->c = c;
		snprintf(z->zone, sizeof(z->zone), "%s", zones[i]);
		if (dnsbl_query_name((struct sockaddr *)&c->sa, z->zone, z->qname,
		    sizeof(z->qname)) < 0)
			continue;
		c->nzones++;
	}
	c->ptr_done = !rdns;
	/* every lookup calls back from the loop, never from here */
	for (size_t i = 0; i < c->nzones; i++)
		dns_lookup_a(r, c->zones[i].qname, zone_a_done, &c->zones[i]);
	if (rdns)
		dns_lookup_ptr(r, (struct sockaddr *)&c->sa, ptr_done, c);
	if (c->nzones == 0 && !rdns) {
		/* nothing to ask: still answer from the loop */
		struct timeval now = { 0, 0 };
		evtimer_add(c->timer, &now);
	}
	return c;
}

bool
checks_finished(const struct checks *c)
{
	return c->finished;
}

const struct checks_zone *
checks_listed(const struct checks *c)
{
	for (size_t i = 0; i < c->nzones; i++)
		if (c->zones[i].listed)
			return &c->zones[i];
	return NULL;
}

const char *
checks_rdns(const struct checks *c)
{
	return c->rdns[0] != '\0' ? c->rdns : NULL;
}

void
checks_free(struct checks **cp)
{
	struct checks *c = *cp;

	if (c == NULL)
		return;
	if (!c->finished)
		checks_cancel(c);
	event_free(c->timer);
	free(c);
	*cp = NULL;
}
