#ifndef POSTERN_SMTP_OUT_H
#define POSTERN_SMTP_OUT_H

/* smtp-out - the outbound SMTP connector's own pieces, shared by its files:
 *   smtp-out.c     main, the queue scan, items and their sleep
 *   out-route.c    which hosts to try, in which order (pure)
 *   out-dest.c     destinations: one connection pool per route, MX and
 *                  address iteration
 *   out-session.c  the SMTP client dialogue on one connection
 *   out-result.c   recipients' results: states, bounces, delay notices
 *   out-sts.c      MTA-STS policies: lookup, fetch, cache, enforcement
 *   out-dane.c     DANE (RFC 7672): TLSA lookups, OpenSSL's DANE checks
 *   out-tlsrpt.c   TLS-RPT (RFC 8460): each session's result recorded
 *   out-8bit.c     8BITMIME downgrade to quoted-printable (out-8bit.h) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "consumer.h"
#include "dns.h"
#include "mtasts.h"
#include "out-route.h"
#include "queue.h"
#include "tlsrpt.h"
#include "service.h"
#include "smtp-reply.h"
#include "workpool.h"

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
	/* 8BITMIME downgrade (out-8bit.h), made once for servers without */
	bool down_done;
	char *path7;         /* the quoted-printable copy, NULL: none needed */
	char *dkim7;         /* its DKIM-Signature field */
	struct run *next;
};

struct job {
	struct run *run;
	size_t *idx;         /* recipients of run handled by this job */
	size_t n;
	struct job *next;
};

enum dstate {
	S_NONE, S_RESOLVE, S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS,
	S_TLS, S_AUTH, S_AUTH_USER, S_AUTH_PASS, S_READY, S_RSET, S_TXN,
	S_BODY, S_DOT, S_QUIT,
};

enum cmdkind { C_MAIL, C_RCPT, C_DATA };

/* DANE for the current MX host (out-dane.c) */
enum dane_state {
	DANE_OFF = 0,     /* no (secure) TLSA records: as without DANE */
	DANE_VERIFY,      /* usable TLSA records: TLS authenticated by them */
	DANE_ENCRYPT,     /* only unusable records: TLS, unauthenticated */
};
struct dane_tlsa {
	unsigned char usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

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
	bool down;                    /* this transaction sends cur->path7 */
	/* MTA-STS (out-sts.c): the policy of rt.domain, NULL none */
	struct mtasts_policy *sts;
	bool sts_wait;                /* its lookup or fetch is under way */
	/* DANE (out-dane.c) of the MX host mxname */
	enum dane_state dane;
	struct dane_tlsa *tlsa;       /* its usable records */
	size_t ntlsa;
	bool dane_aaaa;               /* its AAAA records are asked */
	/* RFC 7672 2.2.3: the TLSA base domain, the CNAME-expanded name of
	 * mxname or mxname; dane_orig: the lookup at the expanded name
	 * found nothing, mxname's runs */
	char tlsa_base[256];
	bool dane_orig;
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
	struct consumer c;            /* smtp/outgoing: watch, scan timer */
	struct event *wake_ev, *kick_ev;
	struct dest *dests;
	struct dest *graveyard;       /* dead dests awaiting their reap */
	struct run *runs;
	size_t nruns;
	struct sleeper *sleep;
	size_t nsleep, capsleep;
	SSL_CTX *tls;
	struct dkim_out *dkim;        /* signing keys by domain */
	struct sts_entry *sts;        /* MTA-STS policies by domain */
	struct workpool *sts_pool;    /* their HTTPS fetches */
	SSL_CTX *tls_sts;             /* verifying client context */
	SSL_CTX *tls_dane;            /* DANE-enabled client context */
};

/* smtp-out.c */
void sleeper_del(struct outsvc *o, const char *id);
void sleeper_set(struct outsvc *o, const char *id, time_t wake);
void wake_arm(struct outsvc *o);

/* out-result.c */
void run_free(struct run *r);
/* rcpt_result - record the outcome of one recipient in this run */
void rcpt_result(struct run *r, size_t i, enum rres res,
		 const char *reply, const char *host);
/* run_finish - all jobs of an item are done: states, notices, requeue */
void run_finish(struct outsvc *o, struct run *r);
void job_done(struct outsvc *o, struct job *j);
/* job_fail - every undecided recipient of a job gets res/reply */
void job_fail(struct dest *d, struct job *j, enum rres res,
	      const char *reply);
/* dest_fail_all - finish every queued job of d with res/reply */
void dest_fail_all(struct dest *d, enum rres res, const char *reply);

/* out-session.c */
void dest_timer_set(struct dest *d, int secs);
void dest_timeout(evutil_socket_t fd, short what, void *arg);
void dest_reset_addrs(struct dest *d);
void dest_conn_close(struct dest *d);
void conn_send(struct dest *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* conn_start - connect to d->cur_addr */
void conn_start(struct dest *d);
/* txn_start - MAIL, RCPT..., DATA for the next job */
void txn_start(struct dest *d);

/* out-sts.c: MTA-STS (RFC 8461), setting mta_sts.enabled */
/* sts_start - 1: the policy lookup runs and then calls sts_mx_lookup; 0:
 * MTA-STS is off, go on */
int sts_start(struct dest *d);
#define STS_ENFORCED(d) ((d)->sts != NULL && (d)->sts->mode == MTASTS_ENFORCE)
/* sts_filter_mx - drop the MX hosts an enforced policy does not name
 * (logged; testing mode keeps them); false when none is left */
bool sts_filter_mx(struct dest *d, struct dns_mx *mx, size_t *n);
/* sts_tls_ctx - the client context that verifies certificates
 * (mta_sts.ca_file, else the system's CAs) */
SSL_CTX *sts_tls_ctx(struct outsvc *o);
void sts_free_all(struct outsvc *o);

/* out-dane.c: DANE (RFC 7672), setting dane.enabled */
bool dane_enabled(struct outsvc *o);
/* dane_start - 1: the TLSA lookup of mx runs and then calls
 * dest_resolve_host (or dest_next_addr when the host is unusable); 0: no
 * DANE for it (off, a smart host, an insecure MX RRset), go on */
int dane_start(struct dest *d, const struct dns_mx *mx);
/* dane_reset - forget the TLSA records of the last MX host */
void dane_reset(struct dest *d);
SSL_CTX *dane_tls_ctx(struct outsvc *o);
/* dane_setup - OpenSSL's DANE checks of d's records on ssl; -1 when none
 * could be added */
int dane_setup(struct dest *d, SSL *ssl);
/* dane_base - the TLSA base domain (RFC 7672 2.2.3) of the MX host */
const char *dane_base(const struct dest *d);
/* dane_describe - which record matched (after the handshake) */
void dane_describe(SSL *ssl, char *out, size_t size);
/* dane_tlsa_text - the records as "u s m hex|..." (TLS-RPT policy) */
void dane_tlsa_text(const struct dest *d, struct buf *out);
#define DANE_REQUIRED(d) ((d)->dane != DANE_OFF)

/* out-tlsrpt.c: TLS-RPT (RFC 8460) rows, setting tlsrpt.enabled */
/* tlsrpt_record - one session of d (or its MX host) with an STS or TLSA
 * policy: result "success" or an RFC 8460 4.3 result type */
void tlsrpt_record(struct dest *d, enum tlsrpt_policy type,
		   const char *result, const char *detail);
/* tlsrpt_record_domain - a failure of the domain's policy itself (the
 * MTA-STS fetch), with no MX host */
void tlsrpt_record_domain(struct outsvc *o, const char *domain,
			  enum tlsrpt_policy type, const char *result,
			  const char *detail);
/* tlsrpt_verify_result - the result type of a certificate error */
const char *tlsrpt_verify_result(long verify);

/* out-dest.c */
/* dest_port - the port MX hosts are connected on (smtp.out_port) */
int dest_port(const struct dest *d);
/* dest_resolve_host - the address lookup of mxname */
void dest_resolve_host(struct dest *d);
/* sts_mx_lookup - the MX lookup of d's domain */
void sts_mx_lookup(struct dest *d);
/* dest_next_addr - connect to the next address, resolving the next MX */
void dest_next_addr(struct dest *d);
/* dest_kick - make progress: connect, or start the next transaction */
void dest_kick(struct dest *d);
/* on_kick - start waiting destinations while there is room */
void on_kick(evutil_socket_t fd, short what, void *arg);
/* dest_free - fail what d still holds and free it at the next loop turn */
void dest_free(struct dest *d);
/* dest_reap - really free a dead dest */
void dest_reap(struct dest *d);
/* postoffice_of_sender - the post office that sends this message */
int64_t postoffice_of_sender(struct db *db, const struct queue_env *env);
/* route_for - the route for one recipient (settings looked up here, the
 * decision is out-route.c's) */
void route_for(struct outsvc *o, int64_t po_id, const char *rcpt,
	       struct route *rt);
/* dest_get - the destination for a route; takes over *rt */
struct dest *dest_get(struct outsvc *o, struct route *rt);

#endif
