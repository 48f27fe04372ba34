/* smtp-out - the outbound SMTP connector: consumes queue smtp/outgoing,
 * delivers by MX or smart host, retries, bounces and delay notices. */
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
#include "dns.h"
#include "dsn.h"
#include "fsutil.h"
#include "log.h"
#include "queue.h"
#include "service.h"
#include "settings.h"
#include "smtp-reply.h"
#include "strutil.h"
#include "tls.h"
#include "xalloc.h"

#define SCAN_INTERVAL 60          /* fallback scan, seconds */
#define IDLE_KEEP 2               /* keep an idle connection for more mail */
#define MAX_ACTIVE_ITEMS 2000
#define MAX_RECONNECTS 3
#define MAX_CONNECTIONS 100       /* destinations connecting at once */
#define MAX_CONN_PER_DEST 5       /* connections to one destination */
#define DEST_BACKLOG 10           /* queued jobs before another connection */
#define BODY_CHUNK 65536

/* RFC 5321 4.5.3.2 timeouts, seconds */
enum { T_CONNECT = 30, T_GREETING = 300, T_CMD = 300, T_MAIL = 300,
       T_RCPT = 300, T_DATA = 120, T_BLOCK = 180, T_DOT = 600 };

enum rres { RES_NONE = 0, RES_OK, RES_TEMP, RES_PERM };

struct run;

/* a claimed item in progress */
struct run {
	struct queue_item item;
	int jobs_left;
	enum rres *res;
	char **reply;
	char **host;
	bool *next_dsn;      /* the next hop took NOTIFY/ORCPT */
	off_t size;
	char *dkim;          /* DKIM-Signature field ("" unsigned), once */
	struct run *next;
};

struct job {
	struct run *run;
	size_t *idx;         /* recipients of run handled by this job */
	size_t n;
	struct job *next;
};

struct route {
	char *key;
	bool relay;          /* smart host, else MX of domain */
	char *domain;
	char *host;
	int port;            /* 0: smtp.out_port */
	bool auth;
	char *user, *password;
	char *why;           /* "smart host", "post office smart host", ... */
};

enum dstate {
	S_NONE, S_RESOLVE, S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS,
	S_TLS, S_AUTH, S_AUTH_USER, S_AUTH_PASS, S_READY, S_RSET, S_TXN,
	S_BODY, S_DOT, S_QUIT,
};

enum cmdkind { C_MAIL, C_RCPT, C_DATA };

struct dest {
	struct outsvc *o;
	struct route rt;
	struct job *jobs, *jobs_tail;
	struct job *cur;              /* the job in its transaction */
	enum dstate state;
	/* address iteration */
	struct dns_mx *mx;
	size_t nmx, mx_i;
	struct sockaddr_storage *addrs;
	size_t naddrs, addr_i;
	char mxname[256];
	char peer[300];               /* "mx.example[192.0.2.1]:25" */
	struct sockaddr_storage cur_addr;
	bool notls;                   /* TLS failed with this peer: retry plain */
	bool tls_retry;
	int reconnects;
	char *last_error;
	/* connection */
	struct bufferevent *bev;
	struct event *timer;
	struct smtp_reply_parser parser;
	struct smtp_ext ext;
	bool tls;
	int txns;                     /* transactions since the last RSET */
	bool rset_pending;            /* a pipelined RSET awaits its reply */
	size_t njobs;                 /* jobs queued (not counting cur) */
	/* transaction */
	enum cmdkind *cmds;
	size_t ncmds, cmd_sent, cmd_done;
	size_t accepted;              /* recipients accepted so far */
	bool mail_ok;
	FILE *body;
	bool body_bol;                /* at the beginning of a line */
	bool body_cr;                 /* last byte sent was CR */
	bool dead;                    /* freed at the next loop turn */
	struct dest *next;
};

struct sleeper {
	char id[QUEUE_ID_MAX + 1];
	time_t wake;
	ino_t ino;   /* of the envelope as released (queue_env_ino) */
};

struct outsvc {
	struct service *svc;
	char *qroot, *qpath, *inbound;
	struct dns_resolver *dns;
	char *dns_servers;            /* dns.hosts the resolver was made with */
	int watch_fd;
	struct event *watch_ev, *scan_ev, *wake_ev, *kick_ev;
	struct dest *dests;
	struct dest *graveyard;       /* dead dests awaiting their reap */
	struct run *runs;
	size_t nruns;
	struct sleeper *sleep;
	size_t nsleep, capsleep;
	SSL_CTX *tls;
	struct dkim_out *dkim;        /* signing keys by domain */
};

static void dest_kick(struct dest *d);
static void dest_next_addr(struct dest *d);
static void dest_free(struct dest *d);
static void scan_queue(struct outsvc *o);

/* -- settings ------------------------------------------------------ */

/* timeout_of - a RFC timeout capped by smtp.out_timeout */
static int timeout_of(struct outsvc *o, int secs)
{
	int64_t cap = settings_get_int(o->svc->db, "smtp.out_timeout", 0);

	return cap > 0 && cap < secs ? (int)cap : secs;
}

/* retry_delay - the n-th (1-based) delay of queue.retry_schedule */
static long retry_delay(struct outsvc *o, int attempt)
{
	char *s = settings_get_str(o->svc->db, "queue.retry_schedule");
	char *save = NULL, *tok;
	long last = 300, v;
	int i = 0;

	for (tok = strtok_r(s, " \t,", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *end;

		v = strtol(tok, &end, 10);
		if (end == tok || v < 0)
			continue;
		switch (tolower((unsigned char)*end)) {
		case 'm': v *= 60; break;
		case 'h': v *= 3600; break;
		case 'd': v *= 86400; break;
		default: break;
		}
		last = v > 0 ? v : 1;
		if (++i >= attempt)
			break;
	}
	free(s);
	return last;
}

/* -- sleepers: released items and when they are due ----------------- */

static time_t sleeper_get(struct outsvc *o, const char *id)
{
	for (size_t i = 0; i < o->nsleep; i++)
		if (strcmp(o->sleep[i].id, id) == 0)
			return o->sleep[i].wake;
	return 0;
}

static void sleeper_del(struct outsvc *o, const char *id)
{
	for (size_t i = 0; i < o->nsleep; i++)
		if (strcmp(o->sleep[i].id, id) == 0) {
			o->sleep[i] = o->sleep[--o->nsleep];
			return;
		}
}

static void sleeper_set(struct outsvc *o, const char *id, time_t wake)
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
static void wake_arm(struct outsvc *o)
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

/* -- item results --------------------------------------------------- */

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->item.env.nrcpts; i++) {
		free(r->reply[i]);
		free(r->host[i]);
	}
	free(r->reply);
	free(r->host);
	free(r->res);
	free(r->next_dsn);
	free(r->dkim);
	queue_item_free(&r->item);
	free(r);
}

static void run_unlink(struct outsvc *o, struct run *r)
{
	struct run **pp;

	for (pp = &o->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			o->nruns--;
			return;
		}
}

/* rcpt_result - record the outcome of one recipient in this run */
static void rcpt_result(struct run *r, size_t i, enum rres res,
			const char *reply, const char *host)
{
	r->res[i] = res;
	free(r->reply[i]);
	r->reply[i] = xstrdup(reply);
	free(r->host[i]);
	r->host[i] = host ? xstrdup(host) : NULL;
}

/* notify_dsn - send one kind of notice for the marked recipients */
static enum dsn_result notify_dsn(struct outsvc *o, struct run *r,
				  const bool *mark, enum dsn_action action,
				  time_t retry_until)
{
	struct queue_env *env = &r->item.env;
	struct dsn_rcpt *rc = xcalloc(env->nrcpts, sizeof(*rc));
	struct dsn_report rep = { env, r->item.msg_path, rc, 0 };
	char newid[QUEUE_ID_MAX + 1];
	const char *err = NULL;
	enum dsn_result res;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];
		struct dsn_rcpt *d;

		if (!mark[i])
			continue;
		d = &rc[rep.nrcpts++];
		d->address = q->address;
		d->orcpt = q->orcpt;
		d->notify = q->notify;
		d->action = action;
		d->diagnostic = q->last_error;
		d->remote_mta = r->host[i];
		d->last_attempt = r->res[i] != RES_NONE ? time(NULL) : 0;
		d->will_retry_until = retry_until;
		if (action == DSN_ACTION_FAILED && q->last_error != NULL &&
		    strstr(q->last_error, "(gave up after") != NULL)
			d->status = NULL;
	}
	res = dsn_send(o->svc->db, o->inbound, &rep, newid, &err);
	switch (res) {
	case DSN_QUEUED:
		log_info("%s: %s notice queued as %s", env->id,
			 action == DSN_ACTION_FAILED ? "bounce" :
			 action == DSN_ACTION_DELAYED ? "delay" : "success",
			 newid);
		break;
	case DSN_SUPPRESSED:
		log_info("%s: %s notice not wanted (NOTIFY)", env->id,
			 action == DSN_ACTION_FAILED ? "bounce" :
			 action == DSN_ACTION_DELAYED ? "delay" : "success");
		break;
	case DSN_UNRETURNABLE:
		break;
	case DSN_ERROR:
		log_error("%s: cannot queue a notice: %s", env->id, err);
		break;
	}
	free(rc);
	return res;
}

/* run_finish - all jobs of an item are done: states, notices, requeue */
static void run_finish(struct outsvc *o, struct run *r)
{
	struct queue_env *env = &r->item.env;
	time_t now = time(NULL), wake = 0;
	int64_t bounce_after = settings_get_int(o->svc->db, "queue.bounce_after", 108000);
	int64_t delay_after = settings_get_int(o->svc->db, "queue.delay_notice_after", 14400);
	bool *mark = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(bool));
	bool any = false, open_rcpts = false, unreturnable = false;
	const char *err = NULL;
	struct buf reason;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];

		if (r->res[i] == RES_NONE)
			continue;
		q->attempts++;
		queue_env_set(&q->last_error, r->reply[i]);
		if (r->res[i] == RES_OK) {
			q->status = RCPT_DELIVERED;
		} else if (r->res[i] == RES_PERM) {
			q->status = RCPT_FAILED;
			queue_env_set(&q->extra, NULL);
		} else if (now - env->arrival >= bounce_after) {
			char *e = xasprintf("%s (gave up after %lld hours)",
					    r->reply[i],
					    (long long)(now - env->arrival) / 3600);

			queue_env_set(&q->last_error, e);
			free(e);
			q->status = RCPT_FAILED;
			queue_env_set(&q->extra, NULL);
			log_info("%s: to=<%s> status=expired (in queue since "
				 "%lld s)", env->id, q->address,
				 (long long)(now - env->arrival));
		} else {
			q->status = RCPT_DEFERRED;
			q->next_attempt = now + retry_delay(o, q->attempts);
		}
	}

	/* bounces: failed recipients not yet reported */
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *q = &env->rcpts[i];

		mark[i] = q->status == RCPT_FAILED && q->extra == NULL;
		any |= mark[i];
	}
	if (any) {
		enum dsn_result res = notify_dsn(o, r, mark, DSN_ACTION_FAILED, 0);

		for (i = 0; i < env->nrcpts; i++) {
			if (!mark[i])
				continue;
			if (res == DSN_QUEUED || res == DSN_SUPPRESSED)
				queue_env_set(&env->rcpts[i].extra, "bounced");
			else if (res == DSN_UNRETURNABLE)
				queue_env_set(&env->rcpts[i].extra, "unreturnable");
		}
		if (res == DSN_ERROR)
			wake = now + 300;
	}

	/* success reports for a next hop without DSN (relayed) */
	any = false;
	for (i = 0; i < env->nrcpts; i++) {
		mark[i] = r->res[i] == RES_OK && !r->next_dsn[i] &&
			  (env->rcpts[i].notify & DSN_NOTIFY_SUCCESS);
		any |= mark[i];
	}
	if (any)
		notify_dsn(o, r, mark, DSN_ACTION_RELAYED, 0);

	/* one delay notice */
	any = false;
	for (i = 0; i < env->nrcpts; i++) {
		mark[i] = env->rcpts[i].status == RCPT_DEFERRED;
		any |= mark[i];
		if (env->rcpts[i].status == RCPT_PENDING ||
		    env->rcpts[i].status == RCPT_DEFERRED)
			open_rcpts = true;
		if (env->rcpts[i].status == RCPT_FAILED &&
		    env->rcpts[i].extra == NULL)
			open_rcpts = true;
		if (env->rcpts[i].extra != NULL &&
		    strcmp(env->rcpts[i].extra, "unreturnable") == 0)
			unreturnable = true;
	}
	if (any && delay_after > 0 && env->delay_notified == 0 &&
	    now - env->arrival >= delay_after) {
		enum dsn_result res = notify_dsn(o, r, mark, DSN_ACTION_DELAYED,
						 env->arrival + bounce_after);

		if (res != DSN_ERROR)
			env->delay_notified = now;
	}
	free(mark);

	if (!open_rcpts) {
		if (unreturnable) {
			buf_init(&reason, 0);
			buf_printf(&reason, "undeliverable and cannot be returned "
				   "(sender <%s>%s):", env->sender,
				   env->bulk ? ", bulk mail" : "");
			for (i = 0; i < env->nrcpts; i++)
				if (env->rcpts[i].extra != NULL &&
				    strcmp(env->rcpts[i].extra, "unreturnable") == 0)
					buf_printf(&reason, " <%s>: %s;",
						   env->rcpts[i].address,
						   env->rcpts[i].last_error ?
						   env->rcpts[i].last_error : "failed");
			if (queue_item_badmail(&r->item, o->qroot, reason.data, &err) < 0)
				log_error("%s: cannot move to bad mail: %s", env->id, err);
			else
				log_warnx("%s: moved to bad mail: %s", env->id, reason.data);
			buf_free(&reason);
		} else if (queue_item_done(&r->item, &err) < 0) {
			log_error("%s: cannot remove: %s", env->id, err);
		} else {
			log_info("%s: done", env->id);
		}
		sleeper_del(o, env->id);
	} else {
		for (i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].status == RCPT_DEFERRED &&
			    (wake == 0 || env->rcpts[i].next_attempt < wake))
				wake = env->rcpts[i].next_attempt;
		if (wake == 0)
			wake = now + 60;
		if (queue_item_update(&r->item, &err) < 0)
			log_error("%s: cannot update the envelope: %s", env->id, err);
		if (queue_item_release(&r->item, &err) < 0)
			log_error("%s: cannot release: %s", env->id, err);
		sleeper_set(o, env->id, wake);
	}
	run_unlink(o, r);
	run_free(r);
	wake_arm(o);
}

static void job_done(struct outsvc *o, struct job *j)
{
	struct run *r = j->run;

	free(j->idx);
	free(j);
	if (--r->jobs_left == 0)
		run_finish(o, r);
}

/* job_fail - every undecided recipient of a job gets res/reply */
static void job_fail(struct dest *d, struct job *j, enum rres res,
		     const char *reply)
{
	for (size_t k = 0; k < j->n; k++) {
		size_t i = j->idx[k];
		struct queue_rcpt *q = &j->run->item.env.rcpts[i];

		if (j->run->res[i] != RES_NONE)
			continue;
		rcpt_result(j->run, i, res, reply, d->peer[0] ? d->peer : NULL);
		log_info("%s: to=<%s> relay=%s status=%s (%s)",
			 j->run->item.env.id, q->address,
			 d->peer[0] ? d->peer : "none",
			 res == RES_PERM ? "bounced" : res == RES_OK ? "sent" : "deferred",
			 reply);
	}
}

/* dest_fail_all - finish every queued job of d with res/reply */
static void dest_fail_all(struct dest *d, enum rres res, const char *reply)
{
	struct job *j;

	if (d->cur != NULL) {
		j = d->cur;
		d->cur = NULL;
		job_fail(d, j, res, reply);
		job_done(d->o, j);
	}
	while ((j = d->jobs) != NULL) {
		d->jobs = j->next;
		d->njobs--;
		job_fail(d, j, res, reply);
		job_done(d->o, j);
	}
	d->jobs_tail = NULL;
}

/* -- connection ------------------------------------------------------ */

static void dest_timer_set(struct dest *d, int secs)
{
	struct timeval tv = { timeout_of(d->o, secs), 0 };

	evtimer_add(d->timer, &tv);
}

static void conn_close(struct dest *d)
{
	if (d->bev != NULL) {
		bufferevent_free(d->bev);
		d->bev = NULL;
	}
	if (d->body != NULL) {
		fclose(d->body);
		d->body = NULL;
	}
	evtimer_del(d->timer);
	smtp_reply_parser_free(&d->parser);
	smtp_reply_parser_init(&d->parser);
	d->tls = false;
	d->txns = 0;
	d->rset_pending = false;
	free(d->cmds);
	d->cmds = NULL;
	d->ncmds = d->cmd_sent = d->cmd_done = 0;
	d->state = S_NONE;
}

static void conn_send(struct dest *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void conn_send(struct dest *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(d->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(d->bev), "\r\n", 2);
}

/* dest_reset_addrs - forget the MX and address lists */
static void dest_reset_addrs(struct dest *d)
{
	for (size_t i = 0; i < d->nmx; i++)
		free(d->mx[i].host);
	free(d->mx);
	d->mx = NULL;
	d->nmx = d->mx_i = 0;
	free(d->addrs);
	d->addrs = NULL;
	d->naddrs = d->addr_i = 0;
	d->state = S_NONE;
}

/* conn_lost - the connection failed (error, EOF, timeout) */
static void conn_lost(struct dest *d, const char *why)
{
	char *msg = xasprintf("%s%s%s", why, d->peer[0] ? " with " : "", d->peer);

	if ((d->state == S_READY || d->state == S_QUIT) && d->jobs == NULL)
		log_debug("%s: idle connection: %s", d->rt.key, msg);
	else
		log_info("%s: %s (state %d)", d->rt.key, msg, (int)d->state);
	free(d->last_error);
	d->last_error = xasprintf("451 4.4.2 %s", msg);
	free(msg);
	switch (d->state) {
	case S_CONNECT: case S_GREETING: case S_EHLO: case S_HELO:
	case S_STARTTLS: case S_TLS:
		/* nothing sent yet: try the next address */
		if (d->state == S_TLS && !d->notls) {
			d->notls = true;
			d->tls_retry = true;
		}
		conn_close(d);
		if (d->tls_retry) {
			d->tls_retry = false;
			d->addr_i--;   /* the same address, without TLS */
		}
		dest_next_addr(d);
		return;
	case S_TXN: case S_BODY: case S_DOT: case S_AUTH: case S_AUTH_USER:
	case S_AUTH_PASS: {
		/* mid-transaction: defer what is undecided, and the rest */
		char *reply = xstrdup(d->last_error);

		conn_close(d);
		dest_fail_all(d, RES_TEMP, reply);
		free(reply);
		dest_free(d);
		return;
	}
	default:
		/* idle or quitting: reconnect when mail is waiting */
		conn_close(d);
		if (d->jobs != NULL && d->reconnects++ < MAX_RECONNECTS) {
			dest_reset_addrs(d);
			dest_kick(d);
		} else if (d->jobs != NULL) {
			char *reply = xstrdup(d->last_error);

			dest_fail_all(d, RES_TEMP, reply);
			free(reply);
			dest_free(d);
		} else {
			dest_free(d);
		}
		return;
	}
}

static void dest_reap(struct dest *d);

static void dest_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dest *d = arg;

	if (d->dead) {
		dest_reap(d);
		return;
	}

	if (d->state == S_READY && d->bev != NULL) {
		/* idle keep-alive over: say goodbye */
		if (d->jobs != NULL) {
			dest_kick(d);
			return;
		}
		d->state = S_QUIT;
		conn_send(d, "QUIT");
		dest_timer_set(d, 10);
		return;
	}
	if (d->state == S_QUIT) {
		conn_close(d);
		if (d->jobs == NULL)
			dest_free(d);
		else
			conn_lost(d, "closed");
		return;
	}
	conn_lost(d, "timeout");
}

static int handle_reply(struct dest *d, const struct smtp_reply *rep);

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct dest *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!d->dead && d->bev == bev && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_contiguous_space(in), used = 0;
		const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
		const char *err = NULL;
		int r = smtp_reply_parse(&d->parser, data, len, &used, &err);

		evbuffer_drain(in, used);
		if (r < 0) {
			conn_lost(d, err);
			return;
		}
		if (r == 0)
			continue;
		if (handle_reply(d, &d->parser.reply) < 0)
			return;   /* d is dead or has a new connection */
	}
}

static void body_pump(struct dest *d);

static void conn_write(struct bufferevent *bev, void *arg)
{
	struct dest *d = arg;

	if (d->state == S_BODY)
		body_pump(d);
}

static void send_ehlo(struct dest *d)
{
	char *host = settings_hostname(d->o->svc->db);

	d->state = S_EHLO;
	conn_send(d, "EHLO %s", host);
	free(host);
	dest_timer_set(d, T_CMD);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct dest *d = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (d->state == S_TLS) {
			char desc[128];
			SSL *ssl = bufferevent_openssl_get_ssl(bev);

			d->tls = true;
			log_info("%s: TLS with %s: %s", d->rt.key, d->peer,
				 tls_describe(ssl, desc, sizeof(desc)));
			send_ehlo(d);
			return;
		}
		d->state = S_GREETING;
		dest_timer_set(d, T_GREETING);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_lost(d, "connection closed");
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		char why[200];
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e != 0)
			snprintf(why, sizeof(why), "TLS error %lu", e);
		else
			snprintf(why, sizeof(why), "%s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_lost(d, why);
	}
}

/* conn_start - connect to d->cur_addr */
static void conn_start(struct dest *d)
{
	struct outsvc *o = d->o;
	socklen_t len = d->cur_addr.ss_family == AF_INET6 ?
			sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	smtp_reply_parser_free(&d->parser);
	smtp_reply_parser_init(&d->parser);
	d->bev = bufferevent_socket_new(o->svc->base, -1,
					BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(d->bev, conn_read, conn_write, conn_event, d);
	bufferevent_setwatermark(d->bev, EV_WRITE, BODY_CHUNK / 2, 0);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	d->state = S_CONNECT;
	d->txns = 0;
	dest_timer_set(d, T_CONNECT);
	if (bufferevent_socket_connect(d->bev, (struct sockaddr *)&d->cur_addr,
				       (int)len) < 0) {
		conn_lost(d, "connect failed");
		return;
	}
}

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

/* dest_next_addr - connect to the next address, resolving the next MX */
static void dest_next_addr(struct dest *d)
{
	if (d->addr_i < d->naddrs) {
		int port = d->rt.port ? d->rt.port :
			   (int)settings_get_int(d->o->svc->db, "smtp.out_port", 25);
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
		dns_lookup_addr(d->o->dns, d->mxname, addr_done, d);
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
	char *reply;

	switch (st) {
	case DNS_OK: {
		/* RFC 5321 5.1: when we are one of the MXs, only the more
		 * preferred ones may be used */
		char *self = settings_hostname(d->o->svc->db);
		size_t keep = n;

		for (size_t i = 0; i < n; i++)
			if (str_eq_ci(mx[i].host, self)) {
				keep = 0;
				while (keep < n && mx[keep].pref < mx[i].pref)
					keep++;
				break;
			}
		free(self);
		if (keep == 0) {
			reply = xasprintf("554 5.4.6 mail for %s loops back to "
					  "myself (this host is its best MX)",
					  d->rt.domain);
			dest_fail_all(d, RES_PERM, reply);
			break;
		}
		d->mx = xcalloc(keep, sizeof(*d->mx));
		for (size_t i = 0; i < keep; i++) {
			d->mx[i].host = xstrdup(mx[i].host);
			d->mx[i].pref = mx[i].pref;
		}
		d->nmx = keep;
		d->mx_i = 0;
		dest_next_addr(d);
		return;
	}
	case DNS_NULLMX:
		reply = xasprintf("556 5.1.10 domain %s accepts no mail (null MX)",
				  d->rt.domain);
		dest_fail_all(d, RES_PERM, reply);
		break;
	case DNS_NOTFOUND:
		reply = xasprintf("550 5.1.2 domain %s not found", d->rt.domain);
		dest_fail_all(d, RES_PERM, reply);
		break;
	default:
		reply = xasprintf("451 4.4.3 MX lookup for %s failed: %s",
				  d->rt.domain, error ? error : "temporary failure");
		dest_fail_all(d, RES_TEMP, reply);
		break;
	}
	log_info("%s: %s", d->rt.key, reply);
	free(reply);
	dest_free(d);
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
static void on_kick(evutil_socket_t fd, short what, void *arg)
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
static void txn_start(struct dest *d);

static void dest_kick(struct dest *d)
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
		} else {
			dns_lookup_mx(d->o->dns, d->rt.domain, mx_done, d);
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

/* -- SMTP dialogue ----------------------------------------------------- */

static void auth_start(struct dest *d)
{
	if (!d->ext.auth_plain && !d->ext.auth_login) {
		conn_lost(d, "smart host does not offer AUTH PLAIN or LOGIN");
		return;
	}
	if (d->ext.auth_plain) {
		struct buf raw;
		unsigned char *b64;
		int n;

		buf_init(&raw, 0);
		buf_putc(&raw, '\0');
		buf_puts(&raw, d->rt.user);
		buf_putc(&raw, '\0');
		buf_puts(&raw, d->rt.password);
		b64 = xmalloc(raw.len * 2 + 8);
		n = EVP_EncodeBlock(b64, (unsigned char *)raw.data, (int)raw.len);
		conn_send(d, "AUTH PLAIN %.*s", n, b64);
		OPENSSL_cleanse(raw.data, raw.len);
		OPENSSL_cleanse(b64, (size_t)n);
		free(b64);
		buf_free(&raw);
		d->state = S_AUTH;
	} else {
		conn_send(d, "AUTH LOGIN");
		d->state = S_AUTH_USER;
	}
	dest_timer_set(d, T_CMD);
}

static void send_b64(struct dest *d, const char *s)
{
	size_t l = strlen(s);
	unsigned char *b64 = xmalloc(l * 2 + 8);
	int n = EVP_EncodeBlock(b64, (const unsigned char *)s, (int)l);

	conn_send(d, "%.*s", n, b64);
	OPENSSL_cleanse(b64, (size_t)n);
	free(b64);
}

/* after_ehlo - STARTTLS, AUTH, or ready */
static void after_ehlo(struct dest *d)
{
	if (!d->tls && d->ext.starttls && !d->notls && d->o->tls != NULL) {
		d->state = S_STARTTLS;
		conn_send(d, "STARTTLS");
		dest_timer_set(d, T_CMD);
		return;
	}
	if (d->rt.auth) {
		if (!d->tls) {
			conn_lost(d, "smart host offers no TLS; not sending the "
				  "password in the clear");
			return;
		}
		auth_start(d);
		return;
	}
	d->state = S_READY;
	d->reconnects = 0;
	dest_kick(d);
}

static void tls_start(struct dest *d)
{
	SSL *ssl = SSL_new(d->o->tls);
	struct bufferevent *tb;

	if (ssl == NULL) {
		d->notls = true;
		after_ehlo(d);
		return;
	}
	if (!d->rt.relay || !isdigit((unsigned char)d->mxname[0]))
		SSL_set_tlsext_host_name(ssl, d->mxname);
	/* anything the server sent after its 220 is dropped (RFC 3207 5) */
	evbuffer_drain(bufferevent_get_input(d->bev),
		       evbuffer_get_length(bufferevent_get_input(d->bev)));
	smtp_reply_parser_free(&d->parser);
	smtp_reply_parser_init(&d->parser);
	tb = bufferevent_openssl_filter_new(d->o->svc->base, d->bev, ssl,
					    BUFFEREVENT_SSL_CONNECTING,
					    BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		conn_lost(d, "TLS setup failed");
		return;
	}
	d->bev = tb;
	d->state = S_TLS;
	bufferevent_setcb(tb, conn_read, conn_write, conn_event, d);
	bufferevent_setwatermark(tb, EV_WRITE, BODY_CHUNK / 2, 0);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
	dest_timer_set(d, T_CMD);
}

static const char *xtext_notify(unsigned notify, char *out, size_t size)
{
	out[0] = '\0';
	if (notify & DSN_NOTIFY_NEVER) {
		snprintf(out, size, "NEVER");
		return out;
	}
	if (notify & DSN_NOTIFY_SUCCESS)
		strncat(out, "SUCCESS,", size - strlen(out) - 1);
	if (notify & DSN_NOTIFY_FAILURE)
		strncat(out, "FAILURE,", size - strlen(out) - 1);
	if (notify & DSN_NOTIFY_DELAY)
		strncat(out, "DELAY,", size - strlen(out) - 1);
	if (out[0] != '\0')
		out[strlen(out) - 1] = '\0';
	return out;
}

/* send_cmd - the k-th command of the transaction */
static void send_cmd(struct dest *d, size_t k)
{
	struct job *j = d->cur;
	struct queue_env *env = &j->run->item.env;
	struct buf line;

	buf_init(&line, 0);
	switch (d->cmds[k]) {
	case C_MAIL:
		buf_printf(&line, "MAIL FROM:<%s>", env->sender);
		if (d->ext.size_given)
			buf_printf(&line, " SIZE=%lld", (long long)j->run->size);
		if (env->body_type != NULL && d->ext.eightbit &&
		    str_eq_ci(env->body_type, "8BITMIME"))
			buf_puts(&line, " BODY=8BITMIME");
		if (env->smtputf8 && d->ext.smtputf8)
			buf_puts(&line, " SMTPUTF8");
		if (d->ext.dsn) {
			if (env->ret != NULL)
				buf_printf(&line, " RET=%s", env->ret);
			if (env->envid != NULL)
				buf_printf(&line, " ENVID=%s", env->envid);
		}
		d->state = S_TXN;
		dest_timer_set(d, T_MAIL);
		break;
	case C_RCPT: {
		size_t ri = j->idx[k - 1];
		struct queue_rcpt *q = &env->rcpts[ri];
		char nfy[64];

		buf_printf(&line, "RCPT TO:<%s>", q->address);
		if (d->ext.dsn) {
			if (q->notify != 0)
				buf_printf(&line, " NOTIFY=%s",
					   xtext_notify(q->notify, nfy, sizeof(nfy)));
			if (q->orcpt != NULL)
				buf_printf(&line, " ORCPT=%s", q->orcpt);
		}
		dest_timer_set(d, T_RCPT);
		break;
	}
	case C_DATA:
		buf_puts(&line, "DATA");
		dest_timer_set(d, T_DATA);
		break;
	}
	conn_send(d, "%s", line.data);
	buf_free(&line);
	d->cmd_sent = k + 1;
}

/* txn_start - MAIL, RCPT..., DATA for the next job */
static void txn_start(struct dest *d)
{
	struct job *j = d->jobs;
	struct queue_env *env;
	struct stat st;

	d->jobs = j->next;
	if (d->jobs == NULL)
		d->jobs_tail = NULL;
	d->njobs--;
	j->next = NULL;
	d->cur = j;
	env = &j->run->item.env;
	d->reconnects = 0;

	/* checks that make the transaction pointless */
	if (stat(j->run->item.msg_path, &st) < 0) {
		job_fail(d, j, RES_TEMP, "451 4.3.0 message file missing");
		d->cur = NULL;
		job_done(d->o, j);
		dest_kick(d);
		return;
	}
	j->run->size = st.st_size;
	/* DKIM (dkim-out.h): signed once per item, counted in SIZE, sent
	 * ahead of the message after the 354 */
	const char *sig = dkim_out_field(d->o->dkim, d->o->svc->db,
	    &j->run->item, &j->run->dkim);
	if (sig != NULL)
		j->run->size += (off_t)strlen(sig);
	if (env->smtputf8 && !d->ext.smtputf8) {
		job_fail(d, j, RES_PERM, "553 5.6.7 the message needs SMTPUTF8 "
			 "and the remote server does not support it");
		d->cur = NULL;
		job_done(d->o, j);
		dest_kick(d);
		return;
	}
	if (d->ext.size != 0 && (unsigned long long)j->run->size > d->ext.size) {
		char *r = xasprintf("552 5.3.4 message of %lld bytes exceeds "
				    "the remote limit of %llu", (long long)j->run->size,
				    d->ext.size);

		job_fail(d, j, RES_PERM, r);
		free(r);
		d->cur = NULL;
		job_done(d->o, j);
		dest_kick(d);
		return;
	}
	if (env->body_type != NULL && str_eq_ci(env->body_type, "8BITMIME") &&
	    !d->ext.eightbit)
		log_warnx("%s: %s does not announce 8BITMIME; sending the "
			  "8-bit message unchanged", env->id, d->peer);

	free(d->cmds);
	d->ncmds = j->n + 2;
	d->cmds = xcalloc(d->ncmds, sizeof(*d->cmds));
	d->cmds[0] = C_MAIL;
	for (size_t k = 0; k < j->n; k++)
		d->cmds[k + 1] = C_RCPT;
	d->cmds[d->ncmds - 1] = C_DATA;
	d->cmd_sent = d->cmd_done = 0;
	d->accepted = 0;
	d->mail_ok = false;
	d->txns++;
	if (d->ext.pipelining) {
		for (size_t k = 0; k < d->ncmds; k++)
			send_cmd(d, k);
		d->state = S_TXN;
		dest_timer_set(d, T_MAIL);
	} else {
		send_cmd(d, 0);
	}
}

/* body_pump - stream the message, dot-stuffed, into the output buffer */
static void body_pump(struct dest *d)
{
	struct evbuffer *out = bufferevent_get_output(d->bev);
	char in[BODY_CHUNK];
	struct buf b;
	size_t n, i;

	if (evbuffer_get_length(out) >= BODY_CHUNK)
		return;
	n = fread(in, 1, sizeof(in), d->body);
	buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (d->body_bol && c == '.')
			buf_putc(&b, '.');
		if (c == '\n' && !d->body_cr)
			buf_putc(&b, '\r');   /* a bare LF becomes CRLF */
		buf_putc(&b, c);
		d->body_cr = c == '\r';
		d->body_bol = c == '\n';
	}
	if (b.len > 0)
		evbuffer_add(out, b.data, b.len);
	buf_free(&b);
	dest_timer_set(d, T_BLOCK);
	if (n < sizeof(in)) {
		if (!d->body_bol)
			evbuffer_add(out, "\r\n", 2);
		evbuffer_add(out, ".\r\n", 3);
		fclose(d->body);
		d->body = NULL;
		d->state = S_DOT;
		dest_timer_set(d, T_DOT);
	}
}

/* txn_end - the job's transaction is over: next one or idle */
static void txn_end(struct dest *d)
{
	struct job *j = d->cur;

	d->cur = NULL;
	d->state = S_READY;
	if (j != NULL)
		job_done(d->o, j);
	dest_kick(d);
}

/* txn_reply - a reply to MAIL, RCPT or DATA */
static void txn_reply(struct dest *d, const struct smtp_reply *rep,
		      const char *summary)
{
	struct job *j = d->cur;
	struct queue_env *env = &j->run->item.env;
	size_t k = d->cmd_done++;
	enum rres res = rep->code < 400 ? RES_OK : rep->code < 500 ? RES_TEMP : RES_PERM;

	switch (d->cmds[k]) {
	case C_MAIL:
		d->mail_ok = res == RES_OK;
		if (!d->mail_ok) {
			job_fail(d, j, res, summary);
			if (!d->ext.pipelining) {
				txn_end(d);
				return;
			}
		}
		break;
	case C_RCPT: {
		size_t ri = j->idx[k - 1];

		if (!d->mail_ok)
			break;
		if (res == RES_OK) {
			d->accepted++;
		} else {
			rcpt_result(j->run, ri, res, summary, d->peer);
			log_info("%s: to=<%s> relay=%s status=%s (%s)", env->id,
				 env->rcpts[ri].address, d->peer,
				 res == RES_PERM ? "bounced" : "deferred", summary);
		}
		break;
	}
	case C_DATA:
		if (rep->code == 354) {
			if (!d->mail_ok || d->accepted == 0) {
				/* RFC 2920 3.1: nobody to send to, end it */
				evbuffer_add(bufferevent_get_output(d->bev), ".\r\n", 3);
				d->state = S_DOT;
				dest_timer_set(d, T_DOT);
				return;
			}
			d->body = fopen(j->run->item.msg_path, "r");
			if (d->body == NULL) {
				conn_lost(d, "cannot read the message file");
				return;
			}
			if (j->run->dkim != NULL && j->run->dkim[0] != '\0')
				evbuffer_add(bufferevent_get_output(d->bev),
				    j->run->dkim, strlen(j->run->dkim));
			d->body_bol = true;
			d->body_cr = false;
			d->state = S_BODY;
			body_pump(d);
			return;
		}
		if (d->mail_ok && d->accepted > 0)
			job_fail(d, j, res == RES_OK ? RES_TEMP : res, summary);
		txn_end(d);
		return;
	}
	if (!d->ext.pipelining && d->cmd_sent < d->ncmds) {
		/* without PIPELINING: skip DATA when nobody was accepted */
		if (d->cmds[d->cmd_sent] == C_DATA && d->accepted == 0) {
			txn_end(d);
			return;
		}
		send_cmd(d, d->cmd_sent);
	}
}

/* handle_reply - one complete reply; -1 when d may be gone */
static int handle_reply(struct dest *d, const struct smtp_reply *rep)
{
	char summary[600];
	struct job *j;

	smtp_reply_summary(rep, summary, sizeof(summary));
	log_debug("%s: %s <- %s", d->rt.key, d->peer, summary);
	if (d->rset_pending) {
		/* the reply to the RSET that led the pipelined group */
		d->rset_pending = false;
		if (rep->code != 250) {
			conn_lost(d, summary);
			return -1;
		}
		return 0;
	}
	switch (d->state) {
	case S_GREETING:
		if (rep->code != 220) {
			free(d->last_error);
			d->last_error = xasprintf("%s (greeting)", summary);
			log_info("%s: %s greets with %s; next MX", d->rt.key,
				 d->peer, summary);
			conn_close(d);
			dest_next_addr(d);
			return -1;
		}
		send_ehlo(d);
		return 0;
	case S_EHLO:
		if (rep->code == 250) {
			smtp_ext_parse(rep, &d->ext);
			after_ehlo(d);
			return (d->dead || d->bev == NULL) ? -1 : 0;
		}
		if (rep->code >= 500) {
			char *host = settings_hostname(d->o->svc->db);

			d->state = S_HELO;
			conn_send(d, "HELO %s", host);
			free(host);
			dest_timer_set(d, T_CMD);
			return 0;
		}
		conn_lost(d, summary);
		return -1;
	case S_HELO:
		if (rep->code != 250) {
			conn_lost(d, summary);
			return -1;
		}
		memset(&d->ext, 0, sizeof(d->ext));
		after_ehlo(d);
		return (d->dead || d->bev == NULL) ? -1 : 0;
	case S_STARTTLS:
		if (rep->code != 220) {
			/* opportunistic: go on without TLS */
			log_info("%s: %s refused STARTTLS (%s)", d->rt.key,
				 d->peer, summary);
			d->notls = true;
			after_ehlo(d);
			return (d->dead || d->bev == NULL) ? -1 : 0;
		}
		tls_start(d);
		return -1;   /* the input buffer changed */
	case S_AUTH_USER:
		if (rep->code != 334)
			break;
		send_b64(d, d->rt.user);
		d->state = S_AUTH_PASS;
		dest_timer_set(d, T_CMD);
		return 0;
	case S_AUTH_PASS:
		if (rep->code != 334)
			break;
		send_b64(d, d->rt.password);
		d->state = S_AUTH;
		dest_timer_set(d, T_CMD);
		return 0;
	case S_AUTH:
		if (rep->code == 235) {
			log_info("%s: authenticated to %s as %s", d->rt.key,
				 d->peer, d->rt.user);
			d->state = S_READY;
			dest_kick(d);
			return (d->dead || d->bev == NULL) ? -1 : 0;
		}
		break;
	case S_RSET:
		if (rep->code != 250) {
			conn_lost(d, summary);
			return -1;
		}
		d->state = S_READY;
		txn_start(d);
		return (d->dead || d->bev == NULL) ? -1 : 0;
	case S_TXN:
		txn_reply(d, rep, summary);
		return (d->dead || d->bev == NULL) ? -1 : 0;
	case S_DOT: {
		enum rres res;

		j = d->cur;
		res = rep->code < 300 ? RES_OK : rep->code < 500 ? RES_TEMP : RES_PERM;
		if (j != NULL && d->mail_ok && d->accepted > 0) {
			for (size_t k = 0; k < j->n; k++) {
				size_t i = j->idx[k];

				if (j->run->res[i] != RES_NONE)
					continue;
				j->run->next_dsn[i] = d->ext.dsn;
			}
			job_fail(d, j, res, summary);
		}
		txn_end(d);
		return (d->dead || d->bev == NULL) ? -1 : 0;
	}
	case S_QUIT:
		conn_close(d);
		if (d->jobs == NULL)
			dest_free(d);
		else
			conn_lost(d, "closed");
		return -1;
	case S_READY:
		/* an unsolicited reply (421 before closing, say) */
		conn_lost(d, summary);
		return -1;
	default:
		conn_lost(d, "unexpected reply");
		return -1;
	}
	/* AUTH failed: a configuration problem, never a bounce */
	{
		char *reply = xasprintf("454 4.7.0 authentication to smart host "
					"%s failed: %s", d->peer, summary);

		log_warnx("%s: %s", d->rt.key, reply);
		conn_close(d);
		dest_fail_all(d, RES_TEMP, reply);
		free(reply);
		dest_free(d);
	}
	return -1;
}

/* -- destinations ----------------------------------------------------- */

static void route_free(struct route *rt)
{
	free(rt->key);
	free(rt->domain);
	free(rt->host);
	free(rt->user);
	if (rt->password != NULL)
		OPENSSL_cleanse(rt->password, strlen(rt->password));
	free(rt->password);
	free(rt->why);
	memset(rt, 0, sizeof(*rt));
}

static void dest_free(struct dest *d)
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
	conn_close(d);
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
static void dest_reap(struct dest *d)
{
	struct outsvc *o = d->o;
	struct dest **pp;

	for (pp = &o->graveyard; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	conn_close(d);
	smtp_reply_parser_free(&d->parser);
	event_free(d->timer);
	dest_reset_addrs(d);
	free(d->last_error);
	route_free(&d->rt);
	free(d);
}

/* hostport_split - "host[:port]" or "[v6]:port" */
static void hostport_split(const char *s, char **host_r, int *port_r)
{
	const char *colon;

	*port_r = 25;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb != NULL) {
			*host_r = xstrndup(s + 1, (size_t)(rb - s - 1));
			if (rb[1] == ':')
				*port_r = atoi(rb + 2);
			return;
		}
	}
	colon = strrchr(s, ':');
	if (colon != NULL && strchr(s, ':') == colon) {
		*host_r = xstrndup(s, (size_t)(colon - s));
		*port_r = atoi(colon + 1);
	} else {
		*host_r = xstrdup(s);
	}
	if (*port_r <= 0 || *port_r > 65535)
		*port_r = 25;
}

static void route_relay(struct route *rt, const char *hostport, bool auth,
			const char *user, const char *password, const char *why)
{
	hostport_split(hostport, &rt->host, &rt->port);
	rt->relay = true;
	rt->auth = auth && user != NULL && user[0] != '\0';
	rt->user = xstrdup(user ? user : "");
	rt->password = xstrdup(password ? password : "");
	rt->why = xstrdup(why);
	rt->key = xasprintf("relay:%s:%d:%s", rt->host, rt->port,
			    rt->auth ? rt->user : "");
}

/* postoffice_of_sender - the post office that sends this message */
static int64_t postoffice_of_sender(struct db *db, const struct queue_env *env)
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

/* route_for - where a recipient goes: domain smart host, post office
 * smart host, global smart host, else the MX of its domain */
static void route_for(struct outsvc *o, const struct queue_env *env,
		      int64_t po_id, const char *rcpt, struct route *rt)
{
	struct db *db = o->svc->db;
	const char *at = strrchr(rcpt, '@'), *err = NULL;
	struct dir_domain dom;
	char *domain = xstrdup(at ? at + 1 : "");
	char *v;

	memset(rt, 0, sizeof(*rt));
	str_lower(domain);
	/* 1. the recipient domain acts as smart host (manual 5.4.2) */
	if (domain[0] != '\0' && dir_domain_get(db, domain, &dom, &err) == 1) {
		v = field(db, "domain", dom.id, "smarthost");
		if (v[0] != '\0') {
			route_relay(rt, v, false, NULL, NULL, "domain smart host");
			free(v);
			free(domain);
			return;
		}
		free(v);
	}
	/* 2. the sender's post office smart host (manual 5.3.3) */
	if (po_id > 0) {
		v = field(db, "postoffice", po_id, "smarthost");
		if (v[0] != '\0') {
			char *a = field(db, "postoffice", po_id, "smarthost_auth");
			char *u = field(db, "postoffice", po_id, "smarthost_user");
			char *p = field(db, "postoffice", po_id, "smarthost_password");

			route_relay(rt, v, strcmp(a, "1") == 0, u, p,
				    "post office smart host");
			free(a);
			free(u);
			if (p[0] != '\0')
				OPENSSL_cleanse(p, strlen(p));
			free(p);
			free(v);
			free(domain);
			return;
		}
		free(v);
	}
	/* 3. the global smart host */
	v = settings_get_str(db, "smarthost.host");
	if (v[0] != '\0') {
		char *u = settings_get_str(db, "smarthost.user");
		char *p = settings_get_str(db, "smarthost.password");

		route_relay(rt, v, settings_get_int(db, "smarthost.auth", 0) != 0,
			    u, p, "smart host");
		free(u);
		if (p[0] != '\0')
			OPENSSL_cleanse(p, strlen(p));
		free(p);
		free(v);
		free(domain);
		return;
	}
	free(v);
	/* 4. a domain literal: that address, no MX (RFC 5321 4.1.3) */
	if (domain[0] == '[') {
		size_t l = strlen(domain);
		const char *ip = domain + 1;

		if (l > 2 && domain[l - 1] == ']') {
			domain[l - 1] = '\0';
			if (strncasecmp(ip, "ipv6:", 5) == 0)
				ip += 5;
			rt->relay = true;
			rt->host = xstrdup(ip);
			rt->port = 0;
			rt->user = xstrdup("");
			rt->password = xstrdup("");
			rt->why = xstrdup("address literal");
			rt->key = xasprintf("literal:%s", ip);
			free(domain);
			return;
		}
	}
	/* 5. MX */
	rt->domain = domain;
	rt->key = xasprintf("mx:%s", domain);
	rt->why = xstrdup("MX");
	(void)env;
}

/* dest_get - the destination (connection) for a route: the least loaded
 * one, or a new one while all have a backlog and there are fewer than
 * MAX_CONN_PER_DEST */
static struct dest *dest_get(struct outsvc *o, struct route *rt)
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
			route_for(o, env, po_id, q->address, &routes[i]);
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
	char *servers = settings_get_str(o->svc->db, "dns.hosts");
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

/* scan_queue - claim what is due in smtp/outgoing */
static void scan_queue(struct outsvc *o)
{
	char **ids = NULL;
	size_t n = 0, i;
	time_t now = time(NULL);

	if (o->svc->stopping)
		return;
	dns_reload(o);
	if (queue_scan(o->qpath, &ids, &n) < 0) {
		log_warn("scan %s", o->qpath);
		return;
	}
	for (i = 0; i < n; i++) {
		struct run *r;
		const char *err = NULL;
		time_t wake = sleeper_get(o, ids[i]);
		int c;

		if (o->nruns >= MAX_ACTIVE_ITEMS || item_active(o, ids[i]) ||
		    (wake != 0 && wake > now && !sleeper_rewritten(o, ids[i])))
			continue;
		r = xcalloc(1, sizeof(*r));
		c = queue_claim(o->qpath, ids[i], &r->item, &err);
		if (c == 0) {
			free(r);
			continue;
		}
		if (c < 0) {
			char *reason = xasprintf("corrupt queue item: %s", err);

			log_error("%s: %s", ids[i], reason);
			if (r->item.qpath != NULL &&
			    queue_item_badmail(&r->item, o->qroot, reason, &err) < 0)
				log_error("%s: cannot move to bad mail: %s", ids[i], err);
			free(reason);
			queue_item_free(&r->item);
			free(r);
			continue;
		}
		sleeper_del(o, ids[i]);
		if (!smtp_safe(r->item.env.sender) || !smtp_safe(r->item.env.envid) ||
		    !smtp_safe(r->item.env.ret) || r->item.env.nrcpts == 0) {
			const char *reason = r->item.env.nrcpts == 0 ?
				"envelope without recipients" :
				"malformed sender, ENVID or RET in the envelope";

			log_error("%s: %s; moved to bad mail", ids[i], reason);
			if (queue_item_badmail(&r->item, o->qroot, reason, &err) < 0)
				log_error("%s: cannot move to bad mail: %s", ids[i], err);
			queue_item_free(&r->item);
			free(r);
			continue;
		}
		item_start(o, r);
	}
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	wake_arm(o);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct outsvc *o = arg;

	queue_watch_drain(o->watch_fd);
	scan_queue(o);
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
	scan_queue(arg);
}

static struct outsvc *the_svc;

static int smtpout_init(struct service *svc)
{
	struct outsvc *o = xcalloc(1, sizeof(*o));
	const char *err = NULL;
	char *servers;
	struct timeval tv = { SCAN_INTERVAL, 0 };

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
	if (queue_recover(o->qpath) < 0)
		log_warn("recovering %s", o->qpath);
	servers = settings_get_str(svc->db, "dns.hosts");
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
	o->watch_fd = queue_watch_open(o->qpath);
	if (o->watch_fd >= 0) {
		o->watch_ev = event_new(svc->base, o->watch_fd, EV_READ | EV_PERSIST,
					on_watch, o);
		event_add(o->watch_ev, NULL);
	} else {
		log_warn("inotify on %s; periodic scans only", o->qpath);
	}
	o->scan_ev = event_new(svc->base, -1, EV_PERSIST, on_scan, o);
	event_add(o->scan_ev, &tv);
	o->wake_ev = evtimer_new(svc->base, on_scan, o);
	o->kick_ev = event_new(svc->base, -1, 0, on_kick, o);
	scan_queue(o);
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

		for (size_t i = 0; i < r->item.env.nrcpts; i++)
			if (r->res[i] != RES_NONE)
				decided = true;
		if (decided) {
			/* keep what is known (no duplicate for those later);
			 * the undecided recipients stay pending */
			run_finish(o, r);
			continue;
		}
		o->runs = r->next;
		o->nruns--;
		if (queue_item_release(&r->item, &err) < 0)
			log_warnx("%s: release at shutdown: %s", r->item.id, err);
		run_free(r);
	}
	dns_resolver_free(&o->dns);
	dkim_out_free(&o->dkim);
	free(o->dns_servers);
	if (o->watch_ev != NULL)
		event_free(o->watch_ev);
	if (o->watch_fd >= 0)
		close(o->watch_fd);
	event_free(o->scan_ev);
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
