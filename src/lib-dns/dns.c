/* dns - asynchronous MX, A/AAAA, TXT and PTR lookups on c-ares + libevent */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "buf.h"
#include "dns.h"
#include "idn.h"
#include "strutil.h"
#include "xalloc.h"

enum query_kind { Q_MX, Q_ADDR, Q_TXT, Q_PTR, Q_A, Q_TLSA, Q_SECURE, Q_SRV };

struct dns_sockev {
	ares_socket_t fd;
	struct event *ev;
	struct dns_sockev *next;
};

struct dns_query {
	struct dns_resolver *r;
	enum query_kind kind;
	char *name;
	void *cb;
	void *ctx;
	struct event *done_ev;   /* fires the user callback from the loop */
	bool finished;           /* c-ares is done with it */
	enum dns_status status;
	char *error;
	struct dns_mx *mx;
	struct dns_srv *srv;
	struct sockaddr_storage *addrs;
	char **strs;
	size_t n;
	/* TLSA: the records point into abuf */
	unsigned char *abuf;
	struct dns_tlsa *tlsa;
	size_t malformed;
	bool secure;
	char *cname;             /* secure: the CNAME-expanded name */
	struct dns_query *prev, *next;
};

struct dns_resolver {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;
	struct dns_sockev *socks;
	struct dns_query *queries;
	size_t pending;
	bool destroying;
};

static int library_refs;

/* dns_servers_to_csv - convert the dns.hosts form to the c-ares CSV form */
char *dns_servers_to_csv(const char *servers, const char **error_r)
{
	struct buf out;
	char *copy = xstrdup(servers), *save = NULL, *tok;

	buf_init(&out, 0);
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		struct in6_addr a6;
		struct in_addr a4;
		char host[INET6_ADDRSTRLEN + 1];
		const char *port = NULL, *colon;

		if (tok[0] == '[') {
			const char *end = strchr(tok, ']');
			size_t len;

			if (end == NULL || (end[1] != '\0' && end[1] != ':'))
				goto bad;
			len = (size_t)(end - tok - 1);
			if (len >= sizeof(host))
				goto bad;
			memcpy(host, tok + 1, len);
			host[len] = '\0';
			if (inet_pton(AF_INET6, host, &a6) != 1)
				goto bad;
			if (end[1] == ':')
				port = end + 2;
		} else if (inet_pton(AF_INET6, tok, &a6) == 1) {
			snprintf(host, sizeof(host), "%s", tok);
		} else {
			colon = strchr(tok, ':');
			size_t len = colon ? (size_t)(colon - tok) : strlen(tok);

			if (len >= sizeof(host))
				goto bad;
			memcpy(host, tok, len);
			host[len] = '\0';
			if (inet_pton(AF_INET, host, &a4) != 1)
				goto bad;
			if (colon != NULL)
				port = colon + 1;
		}
		if (port != NULL) {
			long long p;

			if (parse_long(port, 1, 65535, &p) < 0)
				goto bad;
		}
		if (out.len > 0)
			buf_putc(&out, ',');
		if (strchr(host, ':') != NULL)
			buf_printf(&out, "[%s]:%s", host, port ? port : "53");
		else
			buf_printf(&out, "%s:%s", host, port ? port : "53");
	}
	free(copy);
	return buf_steal(&out);
bad:
	free(copy);
	buf_free(&out);
	*error_r = "dns.hosts: expected space separated ip[:port] or [ipv6]:port";
	return NULL;
}

static void resolver_arm_timer(struct dns_resolver *r)
{
	struct timeval tv, *tvp;

	if (r->destroying)
		return;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp == NULL) {
		evtimer_del(r->timer);
		return;
	}
	evtimer_add(r->timer, tvp);
}

static void resolver_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_arm_timer(r);
}

static void resolver_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->channel,
			(what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	resolver_arm_timer(r);
}

/* resolver_sock_state - c-ares tells which sockets to watch */
static void resolver_sock_state(void *data, ares_socket_t fd, int readable,
				int writable)
{
	struct dns_resolver *r = data;
	struct dns_sockev **pp, *s;

	for (pp = &r->socks; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	s = *pp;
	if (s != NULL) {
		event_free(s->ev);
		if (!readable && !writable) {
			*pp = s->next;
			free(s);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	}
	s->ev = event_new(r->base, fd,
			  (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) |
			  EV_PERSIST, resolver_sock_cb, r);
	event_add(s->ev, NULL);
}

/* dns_resolver_new - create a resolver on an event base */
struct dns_resolver *dns_resolver_new(struct event_base *base,
				      const char *servers, int timeout_ms,
				      int tries, const char **error_r)
{
	struct dns_resolver *r;
	struct ares_options opt;
	int optmask, rc;
	char *csv = NULL;

	if (servers != NULL && *servers != '\0') {
		csv = dns_servers_to_csv(servers, error_r);
		if (csv == NULL)
			return NULL;
	}
	if (library_refs++ == 0 && ares_library_init(ARES_LIB_INIT_ALL) != 0) {
		library_refs--;
		free(csv);
		*error_r = "c-ares library init failed";
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	memset(&opt, 0, sizeof(opt));
	opt.sock_state_cb = resolver_sock_state;
	opt.sock_state_cb_data = r;
	opt.timeout = timeout_ms > 0 ? timeout_ms : 3000;
	opt.tries = tries > 0 ? tries : 2;
	opt.lookups = (char *)"b";
	opt.ndomains = 0;
	opt.domains = NULL;
	opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
		  ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_FLAGS;
	rc = ares_init_options(&r->channel, &opt, optmask);
	if (rc != ARES_SUCCESS) {
		*error_r = ares_strerror(rc);
		goto fail;
	}
	if (csv != NULL) {
		rc = ares_set_servers_ports_csv(r->channel, csv);
		if (rc != ARES_SUCCESS) {
			ares_destroy(r->channel);
			*error_r = ares_strerror(rc);
			goto fail;
		}
	}
	free(csv);
	r->timer = evtimer_new(base, resolver_timer_cb, r);
	return r;
fail:
	free(csv);
	free(r);
	if (--library_refs == 0)
		ares_library_cleanup();
	return NULL;
}

static void query_free(struct dns_query *q)
{
	size_t i;

	if (q->mx != NULL)
		for (i = 0; i < q->n; i++)
			free(q->mx[i].host);
	if (q->strs != NULL)
		for (i = 0; i < q->n; i++)
			free(q->strs[i]);
	if (q->srv != NULL)
		for (i = 0; i < q->n; i++)
			free(q->srv[i].host);
	free(q->mx);
	free(q->srv);
	free(q->strs);
	free(q->abuf);
	free(q->tlsa);
	free(q->addrs);
	free(q->error);
	free(q->cname);
	free(q->name);
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	free(q);
}

static void query_unlink(struct dns_query *q)
{
	struct dns_resolver *r = q->r;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	r->pending--;
}

/* dns_resolver_free - destroy the channel; pending callbacks are dropped */
void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;
	struct dns_sockev *s, *snext;

	if (r == NULL)
		return;
	r->destroying = true;
	ares_destroy(r->channel);
	while (r->queries != NULL) {
		struct dns_query *q = r->queries;

		query_unlink(q);
		query_free(q);
	}
	for (s = r->socks; s != NULL; s = snext) {
		snext = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(r->timer);
	free(r);
	*rp = NULL;
	if (--library_refs == 0)
		ares_library_cleanup();
}

size_t dns_pending(const struct dns_resolver *r)
{
	return r->pending;
}

/* query_deliver - the loop callback that hands a result to the user */
static void query_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	const char *err = q->error;

	query_unlink(q);
	if (q->cb == NULL) {            /* dns_cancel() */
		query_free(q);
		return;
	}
	switch (q->kind) {
	case Q_MX:
		((dns_mx_cb *)q->cb)(q->ctx, q->status, q->mx, q->n, err);
		break;
	case Q_ADDR:
	case Q_A:
		((dns_addr_cb *)q->cb)(q->ctx, q->status, q->addrs, q->n, err);
		break;
	case Q_TXT:
		((dns_txt_cb *)q->cb)(q->ctx, q->status, q->strs, q->n, err);
		break;
	case Q_PTR:
		((dns_ptr_cb *)q->cb)(q->ctx, q->status, q->strs, q->n, err);
		break;
	case Q_TLSA:
		((dns_tlsa_cb *)q->cb)(q->ctx, q->status, q->secure, q->tlsa,
		    q->n, q->malformed, err);
		break;
	case Q_SECURE:
		((dns_secure_cb *)q->cb)(q->ctx, q->status, q->secure,
		    q->cname, err);
		break;
	case Q_SRV:
		((dns_srv_cb *)q->cb)(q->ctx, q->status, q->srv, q->n, err);
		break;
	}
	query_free(q);
}

static struct dns_query *query_new(struct dns_resolver *r,
				   enum query_kind kind, const char *name,
				   void *cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->kind = kind;
	q->name = xstrdup(name);
	q->cb = cb;
	q->ctx = ctx;
	q->done_ev = event_new(r->base, -1, 0, query_deliver, q);
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;
	r->pending++;
	return q;
}

/* query_finish - c-ares is done: schedule the user callback */
static void query_finish(struct dns_query *q, enum dns_status st,
			 const char *error)
{
	q->finished = true;
	q->status = st;
	if (error != NULL && q->error == NULL)
		q->error = xasprintf("%s: %s", q->name, error);
	event_active(q->done_ev, 0, 0);
}

/* query_name - the name to ask DNS for: a UTF-8 domain in A-label form
 * (IDNA2008). false (and the query finished with DNS_NOTFOUND) if it has
 * no valid A-label form. out has room for IDN_DOMAIN_MAX + 2: a name given
 * with its root dot, and the NUL. */
static bool query_name(struct dns_query *q, char out[IDN_DOMAIN_MAX + 2])
{
	const char *err;

	if (!idn_has_utf8(q->name)) {
		if (strlen(q->name) > IDN_DOMAIN_MAX + 1) {
			query_finish(q, DNS_NOTFOUND, "name too long");
			return false;
		}
		snprintf(out, IDN_DOMAIN_MAX + 2, "%s", q->name);
		return true;
	}
	if (idn_to_ascii(q->name, out, IDN_DOMAIN_MAX + 1, &err) < 0) {
		query_finish(q, DNS_NOTFOUND, err);
		return false;
	}
	free(q->name);          /* the implicit MX is the A-label form */
	q->name = xstrdup(out);
	return true;
}

/* dns_cancel - forget the callbacks of the lookups of ctx */
void dns_cancel(struct dns_resolver *r, const void *ctx)
{
	struct dns_query *q;

	for (q = r->queries; q != NULL; q = q->next)
		if (q->ctx == ctx)
			q->cb = NULL;
}

/* status_of - map an ares status to ours */
static enum dns_status status_of(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_ENONAME:
		return DNS_NOTFOUND;
	default:
		return DNS_TEMPFAIL;
	}
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return 0;
}

/* mx_sort - by preference, shuffled among equal preferences */
static void mx_sort(struct dns_mx *mx, size_t n)
{
	size_t i, j, start;

	qsort(mx, n, sizeof(*mx), mx_cmp);
	for (start = 0; start < n; start = j) {
		for (j = start + 1; j < n && mx[j].pref == mx[start].pref; j++)
			;
		for (i = j - 1; i > start; i--) {
			unsigned rnd;
			size_t k;
			struct dns_mx t;

			random_bytes(&rnd, sizeof(rnd));
			k = start + rnd % (i - start + 1);
			t = mx[i];
			mx[i] = mx[k];
			mx[k] = t;
		}
	}
}

/* send_ad - a query with the AD bit set (RFC 6840 5.7: a validating
 * resolver then tells whether the answer is authentic), through
 * ares_send: the callback gets the raw answer, whatever its rcode */
static void send_ad(struct dns_query *q, const char *name, int type,
		    ares_callback cb)
{
	unsigned char *qbuf = NULL;
	int qlen = 0;
	int rc = ares_create_query(name, ns_c_in, type, 0, 1, &qbuf, &qlen, 0);

	if (rc != ARES_SUCCESS || qlen < 12) {
		if (qbuf != NULL)
			ares_free_string(qbuf);
		query_finish(q, DNS_NOTFOUND, ares_strerror(rc));
		return;
	}
	qbuf[3] |= 0x20;                /* AD */
	ares_send(q->r->channel, qbuf, qlen, cb, q);
	ares_free_string(qbuf);
	resolver_arm_timer(q->r);
}

/* answer_status - what ares_query would have said of a raw answer:
 * NXDOMAIN ARES_ENOTFOUND, no answer records ARES_ENODATA; *ad the AD
 * bit */
static int answer_status(int status, const unsigned char *abuf, int alen,
			 bool *ad)
{
	*ad = false;
	if (status != ARES_SUCCESS)
		return status;
	if (abuf == NULL || alen < 12)
		return ARES_EBADRESP;
	*ad = (abuf[3] & 0x20) != 0;
	switch (abuf[3] & 0x0f) {
	case 0:
		break;
	case 3:
		return ARES_ENOTFOUND;
	case 2:
		return ARES_ESERVFAIL;
	case 5:
		return ARES_EREFUSED;
	default:
		return ARES_EBADRESP;
	}
	if (abuf[6] == 0 && abuf[7] == 0)
		return ARES_ENODATA;
	return ARES_SUCCESS;
}

static void mx_callback(void *arg, int status, int timeouts,
			unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct ares_mx_reply *reply = NULL, *m;
	size_t n = 0, i;
	bool ad = false;
	int rc;

	if (q->r->destroying)
		return;
	status = answer_status(status, abuf, alen, &ad);
	if (status == ARES_ENODATA) {
		/* no MX: the domain itself is the implicit MX */
		q->mx = xcalloc(1, sizeof(*q->mx));
		q->mx[0].host = xstrdup(q->name);
		q->mx[0].implicit = true;
		q->mx[0].secure = ad;
		q->n = 1;
		query_finish(q, DNS_OK, NULL);
		return;
	}
	if (status != ARES_SUCCESS) {
		query_finish(q, status_of(status), ares_strerror(status));
		return;
	}
	rc = ares_parse_mx_reply(abuf, alen, &reply);
	if (rc == ARES_ENODATA) {
		q->mx = xcalloc(1, sizeof(*q->mx));
		q->mx[0].host = xstrdup(q->name);
		q->mx[0].implicit = true;
		q->mx[0].secure = ad;
		q->n = 1;
		query_finish(q, DNS_OK, NULL);
		return;
	}
	if (rc != ARES_SUCCESS) {
		query_finish(q, DNS_TEMPFAIL, ares_strerror(rc));
		return;
	}
	for (m = reply; m != NULL; m = m->next)
		n++;
	/* RFC 7505: a single MX whose exchange is "." */
	if (n == 1 && (reply->host[0] == '\0' || strcmp(reply->host, ".") == 0)) {
		ares_free_data(reply);
		query_finish(q, DNS_NULLMX, "null MX: the domain accepts no mail");
		return;
	}
	q->mx = xcalloc(n, sizeof(*q->mx));
	for (m = reply, i = 0; m != NULL; m = m->next) {
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0)
			continue;   /* a "." among real MXs: ignore it */
		q->mx[i].host = xstrdup(m->host);
		q->mx[i].pref = m->priority;
		q->mx[i].secure = ad;
		i++;
	}
	q->n = i;
	ares_free_data(reply);
	if (q->n == 0) {
		query_finish(q, DNS_NULLMX, "null MX: the domain accepts no mail");
		return;
	}
	mx_sort(q->mx, q->n);
	query_finish(q, DNS_OK, NULL);
}

/* dns_lookup_mx - the mail exchangers of a domain */
void dns_lookup_mx(struct dns_resolver *r, const char *domain, dns_mx_cb *cb,
		   void *ctx)
{
	struct dns_query *q = query_new(r, Q_MX, domain, (void *)cb, ctx);
	char name[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, name))
		return;
	send_ad(q, name, ns_t_mx, mx_callback);
}

static void addr_callback(void *arg, int status, int timeouts,
			  struct ares_addrinfo *res)
{
	struct dns_query *q = arg;
	struct ares_addrinfo_node *nd;
	size_t n = 0, i = 0;

	if (q->r->destroying) {
		if (res != NULL)
			ares_freeaddrinfo(res);
		return;
	}
	if (status != ARES_SUCCESS || res == NULL) {
		if (res != NULL)
			ares_freeaddrinfo(res);
		query_finish(q, status_of(status), ares_strerror(status));
		return;
	}
	for (nd = res->nodes; nd != NULL; nd = nd->ai_next)
		n++;
	q->addrs = xcalloc(n ? n : 1, sizeof(*q->addrs));
	for (nd = res->nodes; nd != NULL; nd = nd->ai_next) {
		bool dup = false;
		size_t j;

		if ((nd->ai_family != AF_INET && nd->ai_family != AF_INET6) ||
		    (size_t)nd->ai_addrlen > sizeof(q->addrs[0]))
			continue;
		for (j = 0; j < i; j++)
			if (memcmp(&q->addrs[j], nd->ai_addr, nd->ai_addrlen) == 0)
				dup = true;
		if (dup)
			continue;
		memcpy(&q->addrs[i], nd->ai_addr, nd->ai_addrlen);
		i++;
	}
	q->n = i;
	ares_freeaddrinfo(res);
	if (q->n == 0)
		query_finish(q, DNS_NOTFOUND, "no address");
	else
		query_finish(q, DNS_OK, NULL);
}

/* dns_lookup_addr - the A and AAAA addresses of a host */
static void lookup_addr(struct dns_resolver *r, const char *host,
			enum query_kind kind, dns_addr_cb *cb, void *ctx)
{
	struct dns_query *q = query_new(r, kind, host, (void *)cb, ctx);
	struct ares_addrinfo_hints hints;
	char name[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, name))
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = kind == Q_A ? AF_INET : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(r->channel, name, NULL, &hints, addr_callback, q);
	resolver_arm_timer(r);
}

void dns_lookup_addr(struct dns_resolver *r, const char *host, dns_addr_cb *cb,
		     void *ctx)
{
	lookup_addr(r, host, Q_ADDR, cb, ctx);
}

/* dns_lookup_a - the A records of a name (DNS block lists) */
void dns_lookup_a(struct dns_resolver *r, const char *name, dns_addr_cb *cb,
		  void *ctx)
{
	lookup_addr(r, name, Q_A, cb, ctx);
}

static void txt_callback(void *arg, int status, int timeouts,
			 unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct ares_txt_ext *reply = NULL, *t;
	struct buf cur;
	size_t cap = 0;
	int rc;

	if (q->r->destroying)
		return;
	if (status != ARES_SUCCESS) {
		query_finish(q, status_of(status), ares_strerror(status));
		return;
	}
	rc = ares_parse_txt_reply_ext(abuf, alen, &reply);
	if (rc != ARES_SUCCESS) {
		query_finish(q, status_of(rc), ares_strerror(rc));
		return;
	}
	buf_init(&cur, 0);
	for (t = reply; t != NULL; t = t->next) {
		/* record_start marks the first string of each record */
		if (t->record_start && (cur.len > 0 || t != reply)) {
			if (q->n == cap) {
				cap = cap ? cap * 2 : 4;
				q->strs = xreallocarray(q->strs, cap, sizeof(char *));
			}
			q->strs[q->n++] = buf_steal(&cur);
		}
		buf_append(&cur, t->txt, t->length);
	}
	if (reply != NULL) {
		if (q->n == cap)
			q->strs = xreallocarray(q->strs, cap + 1, sizeof(char *));
		q->strs[q->n++] = buf_steal(&cur);
	}
	buf_free(&cur);
	ares_free_data(reply);
	query_finish(q, q->n ? DNS_OK : DNS_NOTFOUND, q->n ? NULL : "no TXT");
}

/* dns_lookup_txt - the TXT records of a name */
void dns_lookup_txt(struct dns_resolver *r, const char *name, dns_txt_cb *cb,
		    void *ctx)
{
	struct dns_query *q = query_new(r, Q_TXT, name, (void *)cb, ctx);
	char qname[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, qname))
		return;
	ares_query(r->channel, qname, ns_c_in, ns_t_txt, txt_callback, q);
	resolver_arm_timer(r);
}

/* srv_cmp - RFC 2782 order: priority, then the larger weight first (a
 * random pick weighted by it would spread the load; the order is kept
 * deterministic here: a peer's few servers are tried in turn anyway) */
static int srv_cmp(const void *a, const void *b)
{
	const struct dns_srv *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return 0;
}

/* dns_host_ok - an SRV target is a host name (RFC 2782, RFC 1123 2.1):
 * 1-253 bytes, labels of 1-63 letters, digits and inner hyphens (an
 * underscore allowed, as resolvers pass them); "." is the null target */
bool dns_host_ok(const char *h)
{
	size_t len = strlen(h), label = 0;

	if (strcmp(h, ".") == 0)
		return true;
	if (len > 0 && h[len - 1] == '.')
		len--;                  /* the absolute form */
	if (len == 0 || len > IDN_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || (c == '-' &&
		    label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[len - 1] != '-';
}

void dns_srv_free(struct dns_srv *srv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(srv[i].host);
}

enum dns_status dns_srv_parse(const unsigned char *abuf, size_t alen,
			      struct dns_srv srv[DNS_SRV_MAX], size_t *n_r,
			      const char **error_r)
{
	struct ares_srv_reply *reply = NULL, *t;
	size_t n = 0;
	int rc;

	*n_r = 0;
	*error_r = NULL;
	if (alen > 65535) {
		*error_r = "DNS answer too long";
		return DNS_TEMPFAIL;
	}
	rc = ares_parse_srv_reply(abuf, (int)alen, &reply);
	if (rc != ARES_SUCCESS) {
		*error_r = ares_strerror(rc);
		return status_of(rc);
	}
	for (t = reply; t != NULL && n < DNS_SRV_MAX; t = t->next) {
		/* the root name: c-ares writes it "" or "." */
		bool null_target = t->host != NULL && (t->host[0] == '\0' ||
		    strcmp(t->host, ".") == 0);
		/* names that are no host, port 0 (but for the null
		 * target, whose port does not matter): left out */
		if (t->host == NULL || (!null_target && (!dns_host_ok(t->host)
		    || t->port == 0)))
			continue;
		srv[n].host = xstrdup(null_target ? "." : t->host);
		str_lower(srv[n].host);
		size_t hl = strlen(srv[n].host);
		if (hl > 1 && srv[n].host[hl - 1] == '.')
			srv[n].host[hl - 1] = '\0';
		srv[n].prio = t->priority;
		srv[n].weight = t->weight;
		srv[n].port = t->port;
		n++;
	}
	ares_free_data(reply);
	if (n > 0)
		qsort(srv, n, sizeof(*srv), srv_cmp);
	/* RFC 2782: "." alone says the service is decidedly not here; among
	 * others it is not a host to try */
	if (n == 1 && strcmp(srv[0].host, ".") == 0) {
		dns_srv_free(srv, n);
		*error_r = "the service is not offered (SRV target \".\")";
		return DNS_NULLMX;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(srv[i].host, ".") == 0)
			free(srv[i].host);
		else
			srv[k++] = srv[i];
	}
	*n_r = k;
	if (k == 0)
		*error_r = "no SRV";
	return k > 0 ? DNS_OK : DNS_NOTFOUND;
}

static void srv_callback(void *arg, int status, int timeouts,
			 unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_srv srv[DNS_SRV_MAX];
	const char *err;
	size_t n;

	(void)timeouts;
	if (q->r->destroying)
		return;
	if (status != ARES_SUCCESS) {
		query_finish(q, status_of(status), ares_strerror(status));
		return;
	}
	enum dns_status st = dns_srv_parse(abuf, (size_t)alen, srv, &n, &err);
	if (n > 0) {
		q->srv = xreallocarray(NULL, n, sizeof(*q->srv));
		memcpy(q->srv, srv, n * sizeof(*srv));
		q->n = n;
	}
	query_finish(q, st, err);
}

/* dns_lookup_srv - the SRV records of _service._proto.domain */
void dns_lookup_srv(struct dns_resolver *r, const char *name, dns_srv_cb *cb,
		    void *ctx)
{
	struct dns_query *q = query_new(r, Q_SRV, name, (void *)cb, ctx);
	char qname[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, qname))
		return;
	ares_query(r->channel, qname, ns_c_in, ns_t_srv, srv_callback, q);
	resolver_arm_timer(r);
}

static void ptr_callback(void *arg, int status, int timeouts,
			 struct hostent *he)
{
	struct dns_query *q = arg;
	size_t n = 0, i;

	if (q->r->destroying)
		return;
	if (status != ARES_SUCCESS || he == NULL) {
		query_finish(q, status_of(status), ares_strerror(status));
		return;
	}
	if (he->h_name != NULL)
		n++;
	for (i = 0; he->h_aliases != NULL && he->h_aliases[i] != NULL; i++)
		n++;
	q->strs = xcalloc(n ? n : 1, sizeof(char *));
	if (he->h_name != NULL)
		q->strs[q->n++] = xstrdup(he->h_name);
	for (i = 0; he->h_aliases != NULL && he->h_aliases[i] != NULL; i++)
		q->strs[q->n++] = xstrdup(he->h_aliases[i]);
	query_finish(q, q->n ? DNS_OK : DNS_NOTFOUND, q->n ? NULL : "no PTR");
}

/* dns_lookup_ptr - the names of an address */
void dns_lookup_ptr(struct dns_resolver *r, const struct sockaddr *sa,
		    dns_ptr_cb *cb, void *ctx)
{
	char name[INET6_ADDRSTRLEN];
	struct dns_query *q;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, name, sizeof(name));
		q = query_new(r, Q_PTR, name, (void *)cb, ctx);
		ares_gethostbyaddr(r->channel, &s6->sin6_addr,
				   sizeof(s6->sin6_addr), AF_INET6,
				   ptr_callback, q);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, name, sizeof(name));
		q = query_new(r, Q_PTR, name, (void *)cb, ctx);
		ares_gethostbyaddr(r->channel, &s4->sin_addr,
				   sizeof(s4->sin_addr), AF_INET,
				   ptr_callback, q);
	} else {
		q = query_new(r, Q_PTR, "?", (void *)cb, ctx);
		query_finish(q, DNS_NOTFOUND, "not an IP address");
		return;
	}
	resolver_arm_timer(r);
}

/* -- TLSA ---------------------------------------------------------------- */

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* skip_name - past a (possibly compressed) name at off; -1 if malformed */
static long skip_name(const unsigned char *m, size_t len, size_t off)
{
	size_t labels = 0;

	while (off < len) {
		unsigned c = m[off];

		if ((c & 0xc0) == 0xc0)
			return off + 2 <= len ? (long)(off + 2) : -1;
		if ((c & 0xc0) != 0)
			return -1;
		off += 1 + c;
		if (c == 0)
			return (long)off;
		if (++labels > 127)
			return -1;
	}
	return -1;
}

/* dns_tlsa_parse - the TLSA records of an answer */
int dns_tlsa_parse(const unsigned char *abuf, size_t alen, int *rcode,
		   bool *ad, struct dns_tlsa *tlsa, size_t *n,
		   size_t *malformed)
{
	size_t off = 12, qd, an;
	long e;

	*n = *malformed = 0;
	if (abuf == NULL || alen < 12)
		return -1;
	*rcode = abuf[3] & 0x0f;
	*ad = (abuf[3] & 0x20) != 0;
	qd = get16(abuf + 4);
	an = get16(abuf + 6);
	for (size_t i = 0; i < qd; i++) {
		if ((e = skip_name(abuf, alen, off)) < 0 || (size_t)e + 4 > alen)
			return -1;
		off = (size_t)e + 4;
	}
	for (size_t i = 0; i < an; i++) {
		unsigned type, rdlen;

		if ((e = skip_name(abuf, alen, off)) < 0 || (size_t)e + 10 > alen)
			return -1;
		off = (size_t)e;
		type = get16(abuf + off);
		rdlen = get16(abuf + off + 8);
		off += 10;
		if (off + rdlen > alen)
			return -1;
		if (type == 52) {       /* TLSA; CNAMEs and RRSIGs are skipped */
			if (rdlen < 4 || rdlen - 3 > DNS_TLSA_DATA_MAX ||
			    *n >= DNS_TLSA_MAX) {
				(*malformed)++;
			} else {
				tlsa[*n].usage = abuf[off];
				tlsa[*n].selector = abuf[off + 1];
				tlsa[*n].mtype = abuf[off + 2];
				tlsa[*n].data = abuf + off + 3;
				tlsa[*n].len = rdlen - 3;
				(*n)++;
			}
		}
		off += rdlen;
	}
	return 0;
}

static void tlsa_callback(void *arg, int status, int timeouts,
			  unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	int rcode = 0;
	bool ad = false;

	if (q->r->destroying)
		return;
	if (status != ARES_SUCCESS || abuf == NULL) {
		/* c-ares tries every server on SERVFAIL and then reports
		 * ECONNREFUSED: say what it most likely was */
		query_finish(q, status_of(status), status == ARES_ECONNREFUSED ?
		    "server failure (SERVFAIL: the validating resolver's "
		    "answer to bogus data) or no resolver reachable" :
		    ares_strerror(status));
		return;
	}
	q->abuf = xmalloc((size_t)alen);
	memcpy(q->abuf, abuf, (size_t)alen);
	q->tlsa = xcalloc(DNS_TLSA_MAX, sizeof(*q->tlsa));
	if (dns_tlsa_parse(q->abuf, (size_t)alen, &rcode, &ad, q->tlsa, &q->n,
	    &q->malformed) < 0) {
		query_finish(q, DNS_TEMPFAIL, "malformed answer");
		return;
	}
	q->secure = ad;
	if (rcode == 3) {
		query_finish(q, DNS_NOTFOUND, "no such name");
		return;
	}
	if (rcode != 0) {
		query_finish(q, DNS_TEMPFAIL, rcode == 2 ? "server failure "
		    "(a validating resolver's answer to bogus data)" :
		    "lookup refused or failed");
		return;
	}
	if (q->n == 0 && q->malformed == 0) {
		query_finish(q, DNS_NOTFOUND, "no TLSA records");
		return;
	}
	query_finish(q, DNS_OK, NULL);
}

/* dns_lookup_tlsa - the TLSA records of a name, with the AD bit */
void dns_lookup_tlsa(struct dns_resolver *r, const char *name,
		     dns_tlsa_cb *cb, void *ctx)
{
	struct dns_query *q = query_new(r, Q_TLSA, name, (void *)cb, ctx);
	char qname[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, qname))
		return;
	send_ad(q, qname, 52, tlsa_callback);
}

/* dns_answer_cname - the CNAME chain of an answer from qname */
int dns_answer_cname(const unsigned char *abuf, size_t alen,
		     const char *qname, char *out, size_t size)
{
	size_t off = 12, qd, an, hops = 0;
	char cur[IDN_DOMAIN_MAX + 2];
	long e;
	bool moved = true;

	if (abuf == NULL || alen < 12 || alen > 65535 || size == 0)
		return -1;
	snprintf(cur, sizeof(cur), "%s", qname);
	if (cur[0] != '\0' && cur[strlen(cur) - 1] == '.')
		cur[strlen(cur) - 1] = '\0';
	qd = get16(abuf + 4);
	an = get16(abuf + 6);
	for (size_t i = 0; i < qd; i++) {
		if ((e = skip_name(abuf, alen, off)) < 0 || (size_t)e + 4 > alen)
			return -1;
		off = (size_t)e + 4;
	}
	size_t first = off;
	/* the records may come in any order: one pass per hop */
	while (moved && hops < DNS_CNAME_MAX) {
		moved = false;
		off = first;
		for (size_t i = 0; i < an && !moved; i++) {
			char *owner = NULL, *target = NULL;
			long enclen = 0;
			unsigned type, rdlen;

			if (ares_expand_name(abuf + off, abuf, (int)alen, &owner,
			    &enclen) != ARES_SUCCESS)
				return -1;
			off += (size_t)enclen;
			if (off + 10 > alen) {
				ares_free_string(owner);
				return -1;
			}
			type = get16(abuf + off);
			rdlen = get16(abuf + off + 8);
			off += 10;
			if (off + rdlen > alen) {
				ares_free_string(owner);
				return -1;
			}
			if (type == 5 && strcasecmp(owner, cur) == 0) {
				if (ares_expand_name(abuf + off, abuf, (int)alen,
				    &target, &enclen) != ARES_SUCCESS) {
					ares_free_string(owner);
					return -1;
				}
				if (strlen(target) > IDN_DOMAIN_MAX ||
				    target[0] == '\0') {
					ares_free_string(owner);
					ares_free_string(target);
					return -1;
				}
				snprintf(cur, sizeof(cur), "%s", target);
				ares_free_string(target);
				moved = true;
				hops++;
			}
			ares_free_string(owner);
			off += rdlen;
		}
	}
	if (moved)
		return -1;      /* a loop, or a chain over DNS_CNAME_MAX */
	if (hops == 0)
		return 0;
	if (strlen(cur) >= size)
		return -1;
	snprintf(out, size, "%s", cur);
	return 1;
}

static void secure_callback(void *arg, int status, int timeouts,
			    unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	bool ad = false;
	char cname[IDN_DOMAIN_MAX + 2];

	if (q->r->destroying)
		return;
	status = answer_status(status, abuf, alen, &ad);
	q->secure = ad;
	if (status == ARES_SUCCESS &&
	    dns_answer_cname(abuf, (size_t)alen, q->name, cname,
	    sizeof(cname)) > 0)
		q->cname = xstrdup(cname);
	if (status == ARES_ENODATA)
		status = ARES_ENOTFOUND;
	query_finish(q, status_of(status), status == ARES_SUCCESS ? NULL :
	    ares_strerror(status));
}

/* dns_lookup_secure - records of a type exist, and is the answer secure */
void dns_lookup_secure(struct dns_resolver *r, const char *name, int type,
		       dns_secure_cb *cb, void *ctx)
{
	struct dns_query *q = query_new(r, Q_SECURE, name, (void *)cb, ctx);
	char qname[IDN_DOMAIN_MAX + 2];

	if (!query_name(q, qname))
		return;
	send_ad(q, qname, type, secure_callback);
}
