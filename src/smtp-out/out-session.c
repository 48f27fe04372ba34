/* out-session - the SMTP client on one connection: connect, EHLO,
 * STARTTLS, AUTH, pipelined transactions, the dot-stuffed body, replies */
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
#include "out-8bit.h"
#include "dsn.h"
#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "strutil.h"
#include "tls.h"
#include "xalloc.h"
#include "smtp-out.h"

/* -- settings ------------------------------------------------------ */

/* timeout_of - a RFC timeout capped by smtp.out_timeout */
static int timeout_of(struct outsvc *o, int secs)
{
	int64_t cap = settings_current(o->svc->db)->smtp_out_timeout;

	return cap > 0 && cap < secs ? (int)cap : secs;
}

/* -- connection ------------------------------------------------------ */

void dest_timer_set(struct dest *d, int secs)
{
	struct timeval tv = { timeout_of(d->o, secs), 0 };

	evtimer_add(d->timer, &tv);
}

void dest_conn_close(struct dest *d)
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


void conn_send(struct dest *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(d->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(d->bev), "\r\n", 2);
}

/* dest_reset_addrs - forget the MX and address lists */
void dest_reset_addrs(struct dest *d)
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

/* conn_lost_status - the connection failed (error, EOF, timeout, a TLS
 * authentication failure); status: the enhanced status code (RFC 3463)
 * of the deferral, "4.4.2" (bad connection) unless the cause is known,
 * "4.7.5" for DANE (cryptographic failure) */
static void conn_lost_status(struct dest *d, const char *status,
			     const char *why)
{
	char *msg = xasprintf("%s%s%s", why, d->peer[0] ? " with " : "", d->peer);

	if ((d->state == S_READY || d->state == S_QUIT) && d->jobs == NULL)
		log_debug("%s: idle connection: %s", d->rt.key, msg);
	else
		log_info("%s: %s (state %d)", d->rt.key, msg, (int)d->state);
	free(d->last_error);
	d->last_error = xasprintf("451 %s %s", status, msg);
	free(msg);
	switch (d->state) {
	case S_CONNECT: case S_GREETING: case S_EHLO: case S_HELO:
	case S_STARTTLS: case S_TLS:
		/* nothing sent yet: try the next address */
		if (d->state == S_TLS && !d->notls && !STS_ENFORCED(d) &&
		    !DANE_REQUIRED(d)) {
			d->notls = true;
			d->tls_retry = true;
		}
		dest_conn_close(d);
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

		dest_conn_close(d);
		dest_fail_all(d, RES_TEMP, reply);
		free(reply);
		dest_free(d);
		return;
	}
	default:
		/* idle or quitting: reconnect when mail is waiting */
		dest_conn_close(d);
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

/* conn_lost - the connection failed: 4.4.2 */
static void conn_lost(struct dest *d, const char *why)
{
	conn_lost_status(d, "4.4.2", why);
}

void dest_timeout(evutil_socket_t fd, short what, void *arg)
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
		dest_conn_close(d);
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
			long v = SSL_get_verify_result(ssl);

			d->tls = true;
			log_info("%s: TLS with %s: %s", d->rt.key, d->peer,
				 tls_describe(ssl, desc, sizeof(desc)));
			if (d->dane == DANE_VERIFY) {
				dane_describe(ssl, desc, sizeof(desc));
				log_info("%s: DANE: verified %s (%s)%s", d->rt.key,
				    d->peer, desc, d->sts != NULL ? "; DANE "
				    "takes precedence over MTA-STS (RFC 8461 2)" :
				    "");
				tlsrpt_record(d, TLSRPT_TLSA, "success", NULL);
			} else if (d->sts != NULL && v != X509_V_OK) {
				log_warnx("%s: MTA-STS testing: the certificate "
				    "of %s would be refused: %s", d->rt.key,
				    d->peer, X509_verify_cert_error_string(v));
				tlsrpt_record(d, TLSRPT_STS,
				    tlsrpt_verify_result(v),
				    X509_verify_cert_error_string(v));
			} else if (d->sts != NULL) {
				tlsrpt_record(d, TLSRPT_STS, "success", NULL);
			}
			if (d->dane == DANE_ENCRYPT)
				log_info("%s: DANE: encrypted, not authenticated "
				    "(no usable TLSA record)", d->rt.key);
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
		const char *status = "4.4.2";
		unsigned long e = bufferevent_get_openssl_error(bev);

		SSL *ssl = d->state == S_TLS ? bufferevent_openssl_get_ssl(bev) :
		    NULL;
		if (ssl != NULL && d->dane == DANE_VERIFY) {
			long v = SSL_get_verify_result(ssl);

			snprintf(why, sizeof(why), "DANE: the certificate "
			    "matches no TLSA record of _%d._tcp.%s (%s)",
			    dest_port(d), dane_base(d), v != X509_V_OK ?
			    X509_verify_cert_error_string(v) :
			    "handshake failed");
			log_warnx("%s: DANE: verification of %s failed: %s",
			    d->rt.key, d->peer, why + 6);
			tlsrpt_record(d, TLSRPT_TLSA, "validation-failure",
			    why + 6);
			/* RFC 3463 X.7.5, cryptographic failure: the
			 * certificate failed authentication; a handshake
			 * that broke before it keeps 4.4.2 */
			if (v != X509_V_OK)
				status = "4.7.5";
		} else if (ssl != NULL && d->sts != NULL &&
		    SSL_get_verify_result(ssl) != X509_V_OK) {
			snprintf(why, sizeof(why), "MTA-STS: certificate refused "
			    "(%s)", X509_verify_cert_error_string(
			    SSL_get_verify_result(ssl)));
			tlsrpt_record(d, TLSRPT_STS, tlsrpt_verify_result(
			    SSL_get_verify_result(ssl)), why + 9);
			status = "4.7.5";
		} else if (e != 0)
			snprintf(why, sizeof(why), "TLS error %lu", e);
		else
			snprintf(why, sizeof(why), "%s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_lost_status(d, status, why);
	}
}

/* conn_start - connect to d->cur_addr */
void conn_start(struct dest *d)
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
	if (!d->tls && DANE_REQUIRED(d) && (!d->ext.starttls || d->notls ||
	    d->o->tls == NULL)) {
		tlsrpt_record(d, TLSRPT_TLSA, "starttls-not-supported", NULL);
		log_warnx("%s: DANE: %s offers no STARTTLS, which its TLSA "
		    "records require: not sent in clear", d->rt.key, d->peer);
		conn_lost_status(d, "4.7.5", "DANE: no STARTTLS, which the TLSA records "
		    "require");
		return;
	}
	if (!d->tls && d->sts != NULL && (!d->ext.starttls || d->notls))
		tlsrpt_record(d, TLSRPT_STS, "starttls-not-supported", NULL);
	if (!d->tls && STS_ENFORCED(d) && (!d->ext.starttls || d->notls)) {
		conn_lost_status(d, "4.7.5", "MTA-STS: no STARTTLS, which the policy requires");
		return;
	}
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
	SSL_CTX *ctx = d->dane == DANE_VERIFY ? dane_tls_ctx(d->o) :
	    d->sts != NULL ? sts_tls_ctx(d->o) : d->o->tls;
	SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
	struct bufferevent *tb;

	if (ssl == NULL && DANE_REQUIRED(d)) {
		conn_lost_status(d, "4.7.5", "DANE: no TLS context");
		return;
	}
	if (ssl == NULL) {
		d->notls = true;
		after_ehlo(d);
		return;
	}
	if (!d->rt.relay || !isdigit((unsigned char)d->mxname[0]))
		/* RFC 7672 8.1: with DANE, the TLSA base domain */
		SSL_set_tlsext_host_name(ssl, d->dane != DANE_OFF &&
		    d->tlsa_base[0] != '\0' ? d->tlsa_base : d->mxname);
	if (d->dane == DANE_VERIFY) {
		/* RFC 7672 3: the TLSA records authenticate the server;
		 * they take precedence over MTA-STS (RFC 8461 2) */
		if (dane_setup(d, ssl) < 0) {
			SSL_free(ssl);
			conn_lost_status(d, "4.7.5", "DANE: OpenSSL took none of the TLSA "
			    "records");
			return;
		}
	} else if (d->sts != NULL) {
		/* RFC 8461 4.2: the MX host name, a CA the sender trusts */
		SSL_set1_host(ssl, d->mxname);
		SSL_set_verify(ssl, STS_ENFORCED(d) ? SSL_VERIFY_PEER :
		    SSL_VERIFY_NONE, NULL);
	}
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

/* run_downgrade - r->path7: the message with its 8-bit parts as
 * quoted-printable, in the queue's tmp/ until the item is done; NULL
 * when there is nothing to convert. 0, or -1 (logged). */
static int run_downgrade(struct outsvc *o, struct run *r)
{
	struct buf in, out;
	int rc = 0;

	if (r->down_done)
		return 0;
	buf_init(&in, (size_t)1 << 30);
	buf_init(&out, (size_t)1 << 31);
	if (file_read(r->item.msg_path, &in) < 0) {
		log_warn("%s: cannot read %s", r->item.id, r->item.msg_path);
		rc = -1;
	} else {
		int c = downgrade_8bit(in.data ? in.data : "", in.len, &out);
		if (c < 0) {
			log_warnx("%s: the message is too large to convert",
			    r->item.id);
			rc = -1;
		} else if (c > 0) {
			char *p = xasprintf("%s/tmp/%s.7bit", o->qpath, r->item.id);
			if (file_write_atomic(p, out.data, out.len, 0600) < 0) {
				log_warn("%s: cannot write %s", r->item.id, p);
				free(p);
				rc = -1;
			} else
				r->path7 = p;
		}
	}
	buf_free(&in);
	buf_free(&out);
	if (rc == 0)
		r->down_done = true;
	return rc;
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
void txn_start(struct dest *d)
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

	/* RFC 6152: no 8BITMIME there, the 8-bit body goes as
	 * quoted-printable (out-8bit.h), made once per item */
	d->down = false;
	if (env->body_type != NULL && str_eq_ci(env->body_type, "8BITMIME") &&
	    !d->ext.eightbit) {
		if (run_downgrade(d->o, j->run) < 0) {
			job_fail(d, j, RES_TEMP, "451 4.3.0 cannot convert the "
			    "8-bit message for a server without 8BITMIME");
			d->cur = NULL;
			job_done(d->o, j);
			dest_kick(d);
			return;
		}
		d->down = j->run->path7 != NULL;
		if (d->down)
			log_info("%s: %s does not announce 8BITMIME: sending "
			    "the message converted to quoted-printable",
			    env->id, d->peer);
	}
	const char *path = d->down ? j->run->path7 : j->run->item.msg_path;
	/* checks that make the transaction pointless */
	if (stat(path, &st) < 0) {
		job_fail(d, j, RES_TEMP, "451 4.3.0 message file missing");
		d->cur = NULL;
		job_done(d->o, j);
		dest_kick(d);
		return;
	}
	j->run->size = st.st_size;
	/* DKIM (dkim-out.h): signed once per item, counted in SIZE, sent
	 * ahead of the message after the 354 */
	struct queue_item signed_item = j->run->item;
	signed_item.msg_path = (char *)path;
	const char *sig = dkim_out_field(d->o->dkim, d->o->svc->db,
	    &signed_item, d->down ? &j->run->dkim7 : &j->run->dkim);
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
			d->body = fopen(d->down ? j->run->path7 :
			    j->run->item.msg_path, "r");
			if (d->body == NULL) {
				conn_lost(d, "cannot read the message file");
				return;
			}
			const char *dk = d->down ? j->run->dkim7 : j->run->dkim;
			if (dk != NULL && dk[0] != '\0')
				evbuffer_add(bufferevent_get_output(d->bev),
				    dk, strlen(dk));
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
			dest_conn_close(d);
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
		dest_conn_close(d);
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
		dest_conn_close(d);
		dest_fail_all(d, RES_TEMP, reply);
		free(reply);
		dest_free(d);
	}
	return -1;
}

