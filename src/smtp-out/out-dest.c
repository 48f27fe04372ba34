/* out-dest - destinations: one connection pool per route key, the MX
 * and address iteration, the settings behind a route */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "directory.h"
#include "dkim-out.h"
#include "dsn.h"
#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "tls.h"
#include "xalloc.h"
#include "smtp-out.h"

/* -- address iteration ------------------------------------------------ */

static void addr_done(void *ctx, enum dns_status st,
		      const struct sockaddr_storage *addrs, size_t n,
		      const char *error)
{
	struct dest *d = ctx;

	free(d->addrs);
	d->addrs = NULL;
	d->naddrs = d->addr_i = 0;
	if (st != DNS_OK) {
		free(d->last_error);
		d->last_error = xasprintf("451 4.4.3 cannot resolve %s: %s",
					  d->mxname, error ? error : "no address");
		log_info("%s: %s", d->rt.key, d->last_error + 10);
	} else {
		d->addrs = xmalloc(n * sizeof(*addrs));
		memcpy(d->addrs, addrs, n * sizeof(*addrs));
		d->naddrs = n;
	}
	dest_next_addr(d);
}

int dest_port(const struct dest *d)
{
	return d->rt.port ? d->rt.port :
	    (int)settings_current(d->o->svc->db)->smtp_out_port;
}

void dest_resolve_host(struct dest *d)
{
	d->state = S_RESOLVE;
	dns_lookup_addr(d->o->dns, d->mxname, addr_done, d);
}

/* dest_next_addr - connect to the next address, resolving the next MX */
void dest_next_addr(struct dest *d)
{
	if (d->addr_i < d->naddrs) {
		int port = dest_port(d);
		char ip[INET6_ADDRSTRLEN];

		d->cur_addr = d->addrs[d->addr_i++];
		if (d->cur_addr.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->cur_addr;

			s6->sin6_port = htons((uint16_t)port);
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&d->cur_addr;

			s4->sin_port = htons((uint16_t)port);
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		}
		snprintf(d->peer, sizeof(d->peer), "%s[%s]:%d", d->mxname, ip, port);
		conn_start(d);
		return;
	}
	if (d->mx_i < d->nmx) {
		snprintf(d->mxname, sizeof(d->mxname), "%s", d->mx[d->mx_i].host);
		d->mx_i++;
		d->state = S_RESOLVE;
		/* DANE: the host's TLSA records first (out-dane.c) */
		if (dane_start(d, &d->mx[d->mx_i - 1]) == 0)
			dest_resolve_host(d);
		return;
	}
	/* every address failed: defer all */
	{
		char *reply = xstrdup(d->last_error ? d->last_error :
				      "451 4.4.1 no reachable mail exchanger");

		d->peer[0] = '\0';
		dest_fail_all(d, RES_TEMP, reply);
		free(reply);
		dest_free(d);
	}
}

static void mx_done(void *ctx, enum dns_status st, const struct dns_mx *mx,
		    size_t n, const char *error)
{
	struct dest *d = ctx;
	char *self = settings_hostname(d->o->svc->db);
	char *reply = NULL;
	size_t keep = 0;
	int r = route_mx_hosts(st, mx, n, self, d->rt.domain, error, &keep,
			       &reply);

	free(self);
	if (r > 0) {
		d->mx = xcalloc(keep, sizeof(*d->mx));
		for (size_t i = 0; i < keep; i++) {
			d->mx[i].host = xstrdup(mx[i].host);
			d->mx[i].pref = mx[i].pref;
			d->mx[i].secure = mx[i].secure;
		}
		d->nmx = keep;
		d->mx_i = 0;
		if (!sts_filter_mx(d, d->mx, &d->nmx)) {
			reply = xasprintf("451 4.7.5 MTA-STS: no MX host of %s "
			    "matches its policy", d->rt.domain);
			tlsrpt_record(d, TLSRPT_STS, "validation-failure",
			    "no MX host matches the policy");
			dest_fail_all(d, RES_TEMP, reply);
			log_info("%s: %s", d->rt.key, reply);
			free(reply);
			dest_free(d);
			return;
		}
		dest_next_addr(d);
		return;
	}
	dest_fail_all(d, r < 0 ? RES_PERM : RES_TEMP, reply);
	log_info("%s: %s", d->rt.key, reply);
	free(reply);
	dest_free(d);
}

void sts_mx_lookup(struct dest *d)
{
	d->state = S_RESOLVE;
	dns_lookup_mx(d->o->dns, d->rt.domain, mx_done, d);
}

/* dests_busy - destinations resolving, connecting or connected */
static size_t dests_busy(struct outsvc *o)
{
	size_t n = 0;

	for (struct dest *d = o->dests; d != NULL; d = d->next)
		if (d->state != S_NONE)
			n++;
	return n;
}

/* on_kick - start waiting destinations while there is room */
void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct outsvc *o = arg;
	struct dest *d, *next;

	for (d = o->dests; d != NULL; d = next) {
		next = d->next;
		if (dests_busy(o) >= MAX_CONNECTIONS)
			break;
		if (d->state == S_NONE && d->jobs != NULL) {
			dest_kick(d);
			next = o->dests;   /* the list may have changed */
		}
	}
}

/* dest_kick - make progress: connect, or start the next transaction */

void dest_kick(struct dest *d)
{
	switch (d->state) {
	case S_NONE:
		if (d->jobs == NULL) {
			dest_free(d);
			return;
		}
		if (dests_busy(d->o) >= MAX_CONNECTIONS)
			return;   /* started by on_kick when one finishes */
		d->state = S_RESOLVE;
		if (d->rt.relay) {
			d->mx = xcalloc(1, sizeof(*d->mx));
			d->mx[0].host = xstrdup(d->rt.host);
			d->nmx = 1;
			d->mx_i = 0;
			dest_next_addr(d);
		} else if (sts_start(d) == 0) {
			sts_mx_lookup(d);
		}
		return;
	case S_READY:
		if (d->jobs == NULL) {
			dest_timer_set(d, IDLE_KEEP);
			return;
		}
		if (d->txns > 0 && !d->rset_pending) {
			if (!d->ext.pipelining) {
				d->state = S_RSET;
				conn_send(d, "RSET");
				dest_timer_set(d, T_CMD);
				return;
			}
			/* RFC 2920: RSET may lead a pipelined group */
			conn_send(d, "RSET");
			d->rset_pending = true;
			d->txns = 0;
		}
		txn_start(d);
		return;
	default:
		return;   /* busy: the job waits its turn */
	}
}

/* -- destinations ----------------------------------------------------- */

/* dest_free - fail what d still holds; freed at the next loop turn */
void dest_free(struct dest *d)
{
	struct outsvc *o = d->o;
	struct dest **pp;

	for (pp = &o->dests; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->dead)
		return;
	if (d->jobs != NULL || d->cur != NULL)
		dest_fail_all(d, RES_TEMP, "451 4.3.0 delivery interrupted");
	dest_conn_close(d);
	/* callers up the stack may still look at d: free it from the loop */
	d->dead = true;
	event_active(o->kick_ev, 0, 0);
	d->next = o->graveyard;
	o->graveyard = d;
	{
		struct timeval tv = { 0, 0 };

		evtimer_add(d->timer, &tv);
	}
}

/* dest_reap - really free a dead dest */
void dest_reap(struct dest *d)
{
	struct outsvc *o = d->o;
	struct dest **pp;

	for (pp = &o->graveyard; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	dest_conn_close(d);
	smtp_reply_parser_free(&d->parser);
	event_free(d->timer);
	dest_reset_addrs(d);
	free(d->last_error);
	free(d->sts);
	dane_reset(d);
	route_free(&d->rt);
	free(d);
}

/* postoffice_of_sender - the post office that sends this message */
int64_t postoffice_of_sender(struct db *db, const struct queue_env *env)
{
	const char *err = NULL, *at;
	struct dir_mailbox mb;
	struct dir_domain dom;

	if (env->auth_user != NULL && env->auth_user[0] != '\0' &&
	    dir_login_lookup(db, env->auth_user, &mb, &err) == 1)
		return mb.postoffice_id;
	at = env->sender ? strrchr(env->sender, '@') : NULL;
	if (at != NULL && dir_domain_get(db, at + 1, &dom, &err) == 1)
		return dom.postoffice_id;
	return 0;
}

static char *field(struct db *db, const char *kind, int64_t id, const char *name)
{
	char *v = NULL;
	const char *err = NULL;

	if (dir_object_field(db, kind, id, name, &v, &err) < 0) {
		free(v);
		return xstrdup("");
	}
	return v ? v : xstrdup("");
}

/* wipe_free - free a string that may hold a password */
static void wipe_free(char *s)
{
	if (s != NULL && s[0] != '\0')
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* route_for - look up what applies to rcpt and let route_decide choose */
void route_for(struct outsvc *o, int64_t po_id, const char *rcpt,
	       struct route *rt)
{
	struct db *db = o->svc->db;
	const char *err = NULL;
	struct dir_domain dom;
	struct route_conf c;
	char *domain = route_domain(rcpt);
	char *dsh = NULL, *psh = NULL, *pa = NULL, *pu = NULL, *pp = NULL;
	char *gsh, *gu, *gp;

	memset(&c, 0, sizeof(c));
	if (domain[0] != '\0' && dir_domain_get(db, domain, &dom, &err) == 1)
		dsh = field(db, "domain", dom.id, "smarthost");
	if (po_id > 0) {
		psh = field(db, "postoffice", po_id, "smarthost");
		pa = field(db, "postoffice", po_id, "smarthost_auth");
		pu = field(db, "postoffice", po_id, "smarthost_user");
		pp = field(db, "postoffice", po_id, "smarthost_password");
	}
	gsh = xstrdup(settings_current(db)->smarthost_host);
	gu = xstrdup(settings_current(db)->smarthost_user);
	gp = xstrdup(settings_current(db)->smarthost_password);
	c.domain_smarthost = dsh;
	c.po_smarthost = psh;
	c.po_auth = pa != NULL && strcmp(pa, "1") == 0;
	c.po_user = pu;
	c.po_password = pp;
	c.smarthost = gsh;
	c.smarthost_auth = settings_current(db)->smarthost_auth != 0;
	c.smarthost_user = gu;
	c.smarthost_password = gp;
	route_decide(&c, rcpt, rt);
	free(domain);
	free(dsh);
	free(psh);
	free(pa);
	free(pu);
	wipe_free(pp);
	free(gsh);
	free(gu);
	wipe_free(gp);
}

/* dest_get - the destination (connection) for a route: the least loaded
 * one, or a new one while all have a backlog and there are fewer than
 * MAX_CONN_PER_DEST */
struct dest *dest_get(struct outsvc *o, struct route *rt)
{
	struct dest *d, *best = NULL;
	size_t count = 0;

	for (d = o->dests; d != NULL; d = d->next)
		if (strcmp(d->rt.key, rt->key) == 0 && d->state != S_QUIT) {
			count++;
			if (best == NULL || d->njobs < best->njobs)
				best = d;
		}
	if (best != NULL && (best->njobs < DEST_BACKLOG ||
			     count >= MAX_CONN_PER_DEST)) {
		route_free(rt);
		return best;
	}
	d = xcalloc(1, sizeof(*d));
	d->o = o;
	d->rt = *rt;
	memset(rt, 0, sizeof(*rt));
	d->timer = evtimer_new(o->svc->base, dest_timeout, d);
	smtp_reply_parser_init(&d->parser);
	d->next = o->dests;
	o->dests = d;
	return d;
}

