/* smtp-out - the outbound SMTP connector: consumes queue smtp/outgoing,
 * delivers by MX or smart host, retries, bounces and delay notices. This
 * file: main, the queue scan, items and the sleep of released ones. */
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

/* -- sleepers: released items and when they are due ----------------- */

static time_t sleeper_get(struct outsvc *o, const char *id)
{
	for (size_t i = 0; i < o->nsleep; i++)
		if (strcmp(o->sleep[i].id, id) == 0)
			return o->sleep[i].wake;
	return 0;
}

void sleeper_del(struct outsvc *o, const char *id)
{
	for (size_t i = 0; i < o->nsleep; i++)
		if (strcmp(o->sleep[i].id, id) == 0) {
			o->sleep[i] = o->sleep[--o->nsleep];
			return;
		}
}

void sleeper_set(struct outsvc *o, const char *id, time_t wake)
{
	sleeper_del(o, id);
	if (o->nsleep == o->capsleep) {
		o->capsleep = o->capsleep ? o->capsleep * 2 : 64;
		o->sleep = xreallocarray(o->sleep, o->capsleep, sizeof(*o->sleep));
	}
	snprintf(o->sleep[o->nsleep].id, sizeof(o->sleep[0].id), "%s", id);
	o->sleep[o->nsleep].ino = queue_env_ino(o->qpath, id);
	o->sleep[o->nsleep++].wake = wake;
}

/* sleeper_rewritten - the envelope changed since we released the item
 * (postern queue retry): it is due by its own times, now */
static bool sleeper_rewritten(struct outsvc *o, const char *id)
{
	for (size_t i = 0; i < o->nsleep; i++)
		if (strcmp(o->sleep[i].id, id) == 0)
			return queue_env_ino(o->qpath, id) != o->sleep[i].ino;
	return false;
}

/* wake_arm - the wake timer at the earliest sleeper */
void wake_arm(struct outsvc *o)
{
	time_t now = time(NULL), min = 0;
	struct timeval tv;

	for (size_t i = 0; i < o->nsleep; i++)
		if (min == 0 || o->sleep[i].wake < min)
			min = o->sleep[i].wake;
	if (min == 0) {
		evtimer_del(o->wake_ev);
		return;
	}
	tv.tv_sec = min > now ? min - now : 0;
	tv.tv_usec = 100000;
	evtimer_add(o->wake_ev, &tv);
}


/* -- items ---------------------------------------------------------------- */

/* smtp_safe - a value that can go into a command line as is: no
 * controls, spaces or angle brackets (NULL is fine: not sent) */
static bool smtp_safe(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	return true;
}

static void item_start(struct outsvc *o, struct run *r)
{
	struct queue_env *env = &r->item.env;
	time_t now = time(NULL);
	size_t n = env->nrcpts, i, k;
	struct route *routes = xcalloc(n ? n : 1, sizeof(*routes));
	bool *due = xcalloc(n ? n : 1, sizeof(bool)), any_due = false;
	struct dest **touched = xcalloc(n ? n : 1, sizeof(*touched));
	size_t ntouched = 0;
	int64_t po_id = postoffice_of_sender(o->svc->db, env);

	r->res = xcalloc(n ? n : 1, sizeof(*r->res));
	r->reply = xcalloc(n ? n : 1, sizeof(char *));
	r->host = xcalloc(n ? n : 1, sizeof(char *));
	r->next_dsn = xcalloc(n ? n : 1, sizeof(bool));
	r->next = o->runs;
	o->runs = r;
	o->nruns++;

	for (i = 0; i < n; i++) {
		struct queue_rcpt *q = &env->rcpts[i];

		if (q->status == RCPT_PENDING ||
		    (q->status == RCPT_DEFERRED && q->next_attempt <= now)) {
			const char *at = strrchr(q->address, '@');

			due[i] = true;
			any_due = true;
			if (at == NULL || at[1] == '\0' || !smtp_safe(q->address) ||
			    !smtp_safe(q->orcpt) || q->address[0] == '\0') {
				rcpt_result(r, i, RES_PERM, "553 5.1.3 malformed "
					    "recipient address", NULL);
				due[i] = false;
				continue;
			}
			route_for(o, po_id, q->address, &routes[i]);
		}
	}
	/* one job per route */
	r->jobs_left = 1;   /* held until the loop below is done */
	for (i = 0; i < n; i++) {
		struct job *j;
		struct dest *d;

		if (!due[i])
			continue;
		j = xcalloc(1, sizeof(*j));
		j->run = r;
		j->idx = xcalloc(n, sizeof(size_t));
		j->idx[j->n++] = i;
		for (k = i + 1; k < n; k++)
			if (due[k] && strcmp(routes[k].key, routes[i].key) == 0) {
				j->idx[j->n++] = k;
				due[k] = false;
				route_free(&routes[k]);
			}
		due[i] = false;
		log_info("%s: from=<%s> to %zu recipient(s) via %s %s",
			 env->id, env->sender, j->n, routes[i].why,
			 routes[i].relay ? routes[i].host : routes[i].domain);
		d = dest_get(o, &routes[i]);
		if (d->jobs_tail != NULL)
			d->jobs_tail->next = j;
		else
			d->jobs = j;
		d->jobs_tail = j;
		d->njobs++;
		r->jobs_left++;
		touched[ntouched++] = d;
	}
	(void)any_due;
	free(routes);
	free(due);
	/* start the destinations after every job is queued */
	for (i = 0; i < ntouched; i++) {
		struct dest *d;

		for (d = o->dests; d != NULL; d = d->next)
			if (d == touched[i])
				break;
		if (d != NULL && (d->state == S_NONE || d->state == S_READY))
			dest_kick(d);
	}
	free(touched);
	if (--r->jobs_left == 0)
		run_finish(o, r);
}

static bool item_active(struct outsvc *o, const char *id)
{
	for (struct run *r = o->runs; r != NULL; r = r->next)
		if (strcmp(r->item.id, id) == 0)
			return true;
	return false;
}

/* dns_reload - a changed dns.hosts applies once no lookup is in flight */
static void dns_reload(struct outsvc *o)
{
	char *servers = xstrdup(settings_current(o->svc->db)->dns_hosts);
	struct dns_resolver *r;
	const char *err = NULL;

	if (strcmp(servers, o->dns_servers) == 0 || dns_pending(o->dns) > 0) {
		free(servers);
		return;
	}
	r = dns_resolver_new(o->svc->base, servers, 3000, 2, &err);
	if (r == NULL) {
		log_error("DNS resolver (dns.hosts '%s'): %s; keeping '%s'",
			  servers, err, o->dns_servers);
		free(o->dns_servers);
		o->dns_servers = servers;   /* do not retry the same value */
		return;
	}
	dns_resolver_free(&o->dns);
	o->dns = r;
	free(o->dns_servers);
	o->dns_servers = servers;
	log_info("DNS servers now: %s", servers[0] ? servers : "/etc/resolv.conf");
}

/* skip_item - full, already in progress, or released and not yet due */
static bool skip_item(void *ctx, const char *id)
{
	struct outsvc *o = ctx;
	time_t wake = sleeper_get(o, id);

	return o->nruns >= MAX_ACTIVE_ITEMS || item_active(o, id) ||
	       (wake != 0 && wake > time(NULL) && !sleeper_rewritten(o, id));
}

/* handle_item - a claimed item: checked, then its run takes it over */
static void handle_item(void *ctx, struct queue_item *item)
{
	struct outsvc *o = ctx;
	const char *err = NULL;
	struct run *r;

	sleeper_del(o, item->id);
	if (!smtp_safe(item->env.sender) || !smtp_safe(item->env.envid) ||
	    !smtp_safe(item->env.ret) || item->env.nrcpts == 0) {
		const char *reason = item->env.nrcpts == 0 ?
			"envelope without recipients" :
			"malformed sender, ENVID or RET in the envelope";

		log_error("%s: %s; moved to bad mail", item->id, reason);
		if (queue_item_badmail(item, o->qroot, reason, &err) < 0)
			log_error("%s: cannot move to bad mail: %s", item->id, err);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->item = *item;
	memset(item, 0, sizeof(*item));   /* the run's now */
	item_start(o, r);
}

/* scan_queue - claim what is due in smtp/outgoing */
static void scan_queue(void *ctx)
{
	struct outsvc *o = ctx;

	if (o->svc->stopping)
		return;
	dns_reload(o);
	consumer_pass(&o->c);
	wake_arm(o);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	scan_queue(arg);
}

static struct outsvc *the_svc;

static int smtpout_init(struct service *svc)
{
	struct outsvc *o = xcalloc(1, sizeof(*o));
	const char *err = NULL;
	char *servers;

	o->c.watch_fd = -1;
	o->svc = svc;
	svc->ctx = o;
	the_svc = o;
	o->qroot = settings_queue_path(svc->db);
	o->qpath = queue_path(o->qroot, "smtp", QUEUE_OUTGOING);
	o->inbound = queue_path(o->qroot, "smtp", QUEUE_INBOUND);
	if (queue_ensure(o->qpath) < 0 || queue_ensure(o->inbound) < 0) {
		log_warn("cannot create the queues under %s", o->qroot);
		return -1;
	}
	o->c = (struct consumer){ .qpath = o->qpath, .qroot = o->qroot,
		.name = "smtp outgoing", .skip = skip_item,
		.handle = handle_item, .pass = scan_queue, .ctx = o,
		.watch_fd = -1 };
	if (queue_recover(o->qpath) < 0)
		log_warn("recovering %s", o->qpath);
	servers = xstrdup(settings_current(svc->db)->dns_hosts);
	o->dns = dns_resolver_new(svc->base, servers, 3000, 2, &err);
	if (o->dns == NULL) {
		log_error("DNS resolver (dns.hosts '%s'): %s", servers, err);
		free(servers);
		return -1;
	}
	log_info("DNS servers: %s", servers[0] ? servers : "/etc/resolv.conf");
	o->dns_servers = servers;
	o->tls = tls_client_ctx();
	o->dkim = dkim_out_new();
	if (o->tls == NULL)
		log_warnx("no TLS client context: STARTTLS will not be used");
	o->wake_ev = evtimer_new(svc->base, on_wake, o);
	o->kick_ev = event_new(svc->base, -1, 0, on_kick, o);
	if (consumer_start(&o->c, svc->base, SCAN_INTERVAL) < 0)
		return -1;
	return 0;
}

static void smtpout_shutdown(struct service *svc)
{
	struct outsvc *o = svc->ctx;

	if (o == NULL)
		return;
	/* claimed items go back to new/ untouched: retried at next start */
	while (o->dests != NULL) {
		struct dest *d = o->dests;
		struct job *j;

		o->dests = d->next;
		if (d->cur != NULL) {
			free(d->cur->idx);
			free(d->cur);
		}
		while ((j = d->jobs) != NULL) {
			d->jobs = j->next;
			free(j->idx);
			free(j);
		}
		d->cur = d->jobs = NULL;
		d->next = o->graveyard;
		o->graveyard = d;
	}
	while (o->graveyard != NULL)
		dest_reap(o->graveyard);
	while (o->runs != NULL) {
		struct run *r = o->runs;
		const char *err = NULL;
		bool decided = false;

		/* unlinked before anything may free it (run_finish does) */
		o->runs = r->next;
		o->nruns--;
		for (size_t i = 0; i < r->item.env.nrcpts; i++)
			if (r->res[i] != RES_NONE)
				decided = true;
		if (decided) {
			/* keep what is known (no duplicate for those later);
			 * the undecided recipients stay pending */
			run_finish(o, r);
			continue;
		}
		if (queue_item_release(&r->item, &err) < 0)
			log_warnx("%s: release at shutdown: %s", r->item.id, err);
		run_free(r);
	}
	dns_resolver_free(&o->dns);
	sts_free_all(o);
	if (o->tls_dane != NULL)
		SSL_CTX_free(o->tls_dane);
	dkim_out_free(&o->dkim);
	free(o->dns_servers);
	consumer_stop(&o->c);
	event_free(o->wake_ev);
	event_free(o->kick_ev);
	free(o->sleep);
	free(o->qroot);
	free(o->qpath);
	free(o->inbound);
	free(o);
	svc->ctx = NULL;
	the_svc = NULL;
}

int main(int argc, char **argv)
{
	static const struct service_def def = {
		.name = "smtp-out",
		.init = smtpout_init,
		.shutdown = smtpout_shutdown,
	};

	return service_main(argc, argv, &def);
}
