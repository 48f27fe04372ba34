/* out-sts - MTA-STS (RFC 8461) for MX delivery: the TXT record, the
 * policy fetched over HTTPS (on a worker thread), its cache (memory and
 * <data root>/mta-sts/<domain>), and what the policy asks of the MX
 * hosts and their certificates (smtp-out.h: sts_*). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"
#include "smtp-out.h"

#define STS_IO_TIMEOUT 10         /* seconds per connect, read, write */
#define STS_HEADER_MAX 8192

struct sts_entry {
	char *domain;
	char id[MTASTS_ID_MAX + 1];      /* of the policy held */
	char want_id[MTASTS_ID_MAX + 1]; /* of the record that asked a fetch */
	time_t expires;                  /* 0: no policy held */
	struct mtasts_policy pol;
	bool fetching, cacheable;
	struct outsvc *o;
	struct sts_entry *next;
};

struct sts_fetch {
	struct work w;
	struct outsvc *o;
	struct sts_entry *e;
	char host[300];
	int port;
	char *ca_file;
	struct sockaddr_storage *addrs;
	size_t naddrs;
	struct buf body;
	char error[300];
	int ok;
};

/* -- the cache ---------------------------------------------------------- */

static char *
cache_path(struct outsvc *o, const char *domain)
{
	return xasprintf("%s/mta-sts/%s", db_root(o->svc->db), domain);
}

/* cache_load - "id expires\n" then the policy text */
static void
cache_load(struct outsvc *o, struct sts_entry *e)
{
	char *path = cache_path(o, e->domain);
	struct buf b;
	const char *err = NULL;

	buf_init(&b, MTASTS_POLICY_MAX + 256);
	if (file_read(path, &b) == 0 && b.len > 0) {
		char *nl = memchr(b.data, '\n', b.len);
		char id[MTASTS_ID_MAX + 1];
		long long exp = 0;
		if (nl != NULL && sscanf(b.data, "%32s %lld", id, &exp) == 2 &&
		    mtasts_policy_parse(nl + 1, b.len - (size_t)(nl + 1 - b.data),
		    &e->pol, &err) == 0) {
			snprintf(e->id, sizeof(e->id), "%s", id);
			e->expires = (time_t)exp;
		}
	}
	buf_free(&b);
	free(path);
}

static void
cache_save(struct outsvc *o, struct sts_entry *e, const struct buf *text)
{
	char *dir = xasprintf("%s/mta-sts", db_root(o->svc->db));
	char *path = cache_path(o, e->domain);
	struct buf b;

	if (!e->cacheable) {
		free(path);
		free(dir);
		return;
	}
	buf_init(&b, 0);
	buf_printf(&b, "%s %lld\n", e->id, (long long)e->expires);
	buf_append(&b, text->data, text->len);
	if (mkdir_p(dir, 0700) < 0 ||
	    file_write_atomic(path, b.data, b.len, 0600) < 0)
		log_warn("MTA-STS: cannot cache the policy of %s in %s",
		    e->domain, path);
	buf_free(&b);
	free(path);
	free(dir);
}

static struct sts_entry *
entry_get(struct outsvc *o, const char *domain)
{
	struct sts_entry *e;

	for (e = o->sts; e != NULL; e = e->next)
		if (strcasecmp(e->domain, domain) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->domain = xstrdup(domain);
	for (char *p = e->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* a domain name that could leave the cache directory is not cached */
	e->o = o;
	e->cacheable = strchr(e->domain, '/') == NULL && e->domain[0] != '.' &&
	    e->domain[0] != '\0';
	if (e->cacheable)
		cache_load(o, e);
	e->next = o->sts;
	o->sts = e;
	return e;
}

void
sts_free_all(struct outsvc *o)
{
	/* first: a skipped fetch's done() still looks at its entry */
	workpool_free(&o->sts_pool, false);
	while (o->sts != NULL) {
		struct sts_entry *e = o->sts;
		o->sts = e->next;
		free(e->domain);
		free(e);
	}
	if (o->tls_sts != NULL)
		SSL_CTX_free(o->tls_sts);
	o->tls_sts = NULL;
}

/* -- the HTTPS fetch (worker thread) ------------------------------------ */

static int
connect_timeout(const struct sockaddr_storage *sa, int port, char *err,
		size_t errlen)
{
	struct sockaddr_storage a = *sa;
	socklen_t len;

	if (a.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
	}
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, len) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (poll(&pfd, 1, STS_IO_TIMEOUT * 1000) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
		snprintf(err, errlen, "connect: %s", soerr ? strerror(soerr) :
		    "timed out");
		close(fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct timeval tv = { STS_IO_TIMEOUT, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* http_body - check the response's head (200, text/plain, no redirect)
 * and leave only the body in b */
static int
http_body(struct buf *b, char *err, size_t errlen)
{
	char *he = NULL;

	for (size_t i = 0; i + 3 < b->len; i++)
		if (memcmp(b->data + i, "\r\n\r\n", 4) == 0) {
			he = b->data + i;
			break;
		}
	if (he == NULL) {
		snprintf(err, errlen, "no complete HTTP response head");
		return -1;
	}
	*he = '\0';
	int code = 0;
	if (sscanf(b->data, "HTTP/%*d.%*d %d", &code) != 1) {
		snprintf(err, errlen, "not an HTTP response");
		return -1;
	}
	if (code != 200) {
		snprintf(err, errlen, "HTTP status %d%s", code, code >= 300 &&
		    code < 400 ? " (redirects are not followed, RFC 8461 3.3)" :
		    "");
		return -1;
	}
	bool text = false;
	for (char *l = strstr(b->data, "\r\n"); l != NULL;
	    l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Content-Type:", 13) == 0) {
			const char *v = l + 15;
			while (*v == ' ' || *v == '\t')
				v++;
			text = strncasecmp(v, "text/plain", 10) == 0 &&
			    (v[10] == '\0' || v[10] == ';' || v[10] == ' ' ||
			    v[10] == '\r');
		}
	}
	if (!text) {
		snprintf(err, errlen, "the policy is not served as text/plain");
		return -1;
	}
	size_t off = (size_t)(he + 4 - b->data);
	memmove(b->data, b->data + off, b->len - off);
	b->len -= off;
	b->data[b->len] = '\0';
	return 0;
}

static void
fetch_run(struct work *w)
{
	struct sts_fetch *f = (struct sts_fetch *)w;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char err[200] = "no address";

	f->ok = 0;
	if (ctx == NULL) {
		snprintf(f->error, sizeof(f->error), "no TLS context");
		return;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((f->ca_file[0] ? SSL_CTX_load_verify_locations(ctx, f->ca_file,
	    NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		snprintf(f->error, sizeof(f->error), "cannot load the CA "
		    "certificates %s", f->ca_file);
		SSL_CTX_free(ctx);
		return;
	}
	for (size_t i = 0; i < f->naddrs && !f->ok; i++) {
		int fd = connect_timeout(&f->addrs[i], f->port, err, sizeof(err));
		if (fd < 0)
			continue;
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		SSL_set_tlsext_host_name(ssl, f->host);
		SSL_set1_host(ssl, f->host);
		if (SSL_connect(ssl) != 1) {
			long v = SSL_get_verify_result(ssl);
			if (v != X509_V_OK)
				snprintf(err, sizeof(err), "certificate of %s: %s",
				    f->host, X509_verify_cert_error_string(v));
			else
				snprintf(err, sizeof(err), "TLS handshake failed");
			ERR_clear_error();
		} else {
			char req[400];
			int n = snprintf(req, sizeof(req), "GET /.well-known/"
			    "mta-sts.txt HTTP/1.0\r\nHost: %s\r\nUser-Agent: "
			    "Postern\r\nConnection: close\r\n\r\n", f->host);
			char chunk[4096];
			int r;
			buf_reset(&f->body);
			if (SSL_write(ssl, req, n) != n) {
				snprintf(err, sizeof(err), "cannot send the request");
			} else {
				bool big = false;
				while ((r = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
					if (buf_append(&f->body, chunk, (size_t)r) < 0) {
						big = true;
						break;
					}
				if (big)
					snprintf(err, sizeof(err), "policy over 64 KB");
				else if (http_body(&f->body, err, sizeof(err)) == 0)
					f->ok = 1;
			}
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
	if (!f->ok)
		snprintf(f->error, sizeof(f->error), "%s", err);
	SSL_CTX_free(ctx);
}

/* -- on the loop -------------------------------------------------------- */

/* proceed - the policy of d's domain is known (e, or none): the MX */
static void
proceed(struct dest *d, const struct sts_entry *e)
{
	d->sts_wait = false;
	free(d->sts);
	d->sts = NULL;
	if (e != NULL && e->expires > time(NULL) && e->pol.mode != MTASTS_NONE) {
		d->sts = xmalloc(sizeof(*d->sts));
		*d->sts = e->pol;
	}
	sts_mx_lookup(d);
}

/* wake - every destination waiting for e's domain goes on */
static void
wake(struct outsvc *o, struct sts_entry *e)
{
	struct dest *d, *next;

	for (d = o->dests; d != NULL; d = next) {
		next = d->next;
		if (d->sts_wait && strcasecmp(d->rt.domain, e->domain) == 0)
			proceed(d, e);
	}
}

static void
fetch_done(struct work *w)
{
	struct sts_fetch *f = (struct sts_fetch *)w;
	struct sts_entry *e = f->e;
	struct outsvc *o = f->o;
	const char *err = NULL;
	struct mtasts_policy p;

	e->fetching = false;
	if (w->skipped) {
		/* shutting down */
	} else if (!f->ok) {
		log_warnx("MTA-STS: %s: policy fetch from https://%s failed: %s%s",
		    e->domain, f->host, f->error, e->expires > time(NULL) ?
		    " (the cached policy stays)" : " (no policy)");
		tlsrpt_record_domain(o, e->domain, TLSRPT_STS,
		    "sts-policy-fetch-error", f->error);
	} else if (mtasts_policy_parse(f->body.data ? f->body.data : "",
	    f->body.len, &p, &err) < 0) {
		log_warnx("MTA-STS: %s: policy from https://%s refused: %s%s",
		    e->domain, f->host, err, e->expires > time(NULL) ?
		    " (the cached policy stays)" : " (no policy)");
		tlsrpt_record_domain(o, e->domain, TLSRPT_STS,
		    "sts-policy-invalid", err);
	} else {
		e->pol = p;
		snprintf(e->id, sizeof(e->id), "%s", e->want_id);
		e->expires = time(NULL) + p.max_age;
		log_info("MTA-STS: %s: policy id %s, mode %s, %zu mx, max_age %ld",
		    e->domain, e->id, mtasts_mode_name(p.mode), p.nmx, p.max_age);
		cache_save(o, e, &f->body);
	}
	buf_free(&f->body);
	free(f->addrs);
	free(f->ca_file);
	free(f);
	if (o->sts_pool != NULL)
		wake(o, e);
}

static void
policy_addr_done(void *ctx, enum dns_status st,
		 const struct sockaddr_storage *addrs, size_t n,
		 const char *error)
{
	struct sts_entry *e = ctx;
	struct outsvc *o = e->o;

	if (st != DNS_OK || n == 0) {
		log_warnx("MTA-STS: %s: cannot resolve mta-sts.%s: %s%s",
		    e->domain, e->domain, error ? error : "no address",
		    e->expires > time(NULL) ? " (the cached policy stays)" :
		    " (no policy)");
		e->fetching = false;
		wake(o, e);
		return;
	}
	struct sts_fetch *f = xcalloc(1, sizeof(*f));
	f->w.run = fetch_run;
	f->w.done = fetch_done;
	f->o = o;
	f->e = e;
	snprintf(f->host, sizeof(f->host), "mta-sts.%s", e->domain);
	f->port = (int)settings_current(o->svc->db)->mta_sts_port;
	f->ca_file = xstrdup(settings_current(o->svc->db)->mta_sts_ca_file);
	f->addrs = xmalloc(n * sizeof(*addrs));
	memcpy(f->addrs, addrs, n * sizeof(*addrs));
	f->naddrs = n;
	buf_init(&f->body, MTASTS_POLICY_MAX + STS_HEADER_MAX);
	workpool_submit(o->sts_pool, &f->w);
}

static void
txt_done(void *ctx, enum dns_status st, char *const *txt, size_t n,
	 const char *error)
{
	struct dest *d = ctx;
	struct outsvc *o = d->o;
	struct sts_entry *e = entry_get(o, d->rt.domain);
	char id[MTASTS_ID_MAX + 1] = "";
	size_t found = 0;
	const char *err = NULL;

	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		char one[MTASTS_ID_MAX + 1];
		int r = mtasts_txt_parse(txt[i], one, &err);
		if (r < 0)
			log_warnx("MTA-STS: _mta-sts.%s: record ignored: %s",
			    e->domain, err);
		if (r != 0)
			found++;
		if (r == 1)
			snprintf(id, sizeof(id), "%s", one);
	}
	if (found != 1 || id[0] == '\0') {
		/* no (usable) record: a cached policy still applies (RFC
		 * 8461 5.1: it is not removed by a missing record) */
		if (st == DNS_TEMPFAIL)
			log_info("MTA-STS: _mta-sts.%s: %s", e->domain,
			    error ? error : "lookup failed");
		if (found > 1)
			log_warnx("MTA-STS: _mta-sts.%s: %zu records: none used",
			    e->domain, found);
		proceed(d, e);
		return;
	}
	if (e->expires > time(NULL) && strcmp(e->id, id) == 0) {
		proceed(d, e);
		return;
	}
	d->sts_wait = true;
	if (e->fetching)
		return;   /* woken by the fetch under way */
	e->fetching = true;
	snprintf(e->want_id, sizeof(e->want_id), "%s", id);
	char *host = xasprintf("mta-sts.%s", e->domain);
	dns_lookup_addr(o->dns, host, policy_addr_done, e);
	free(host);
}

int
sts_start(struct dest *d)
{
	struct outsvc *o = d->o;
	const char *err = NULL;

	if (settings_current(o->svc->db)->mta_sts_enabled == 0)
		return 0;
	if (o->sts_pool == NULL) {
		o->sts_pool = workpool_create(o->svc->base, 1, NULL, &err);
		if (o->sts_pool == NULL) {
			log_warnx("MTA-STS: no worker thread: %s", err);
			return 0;
		}
	}
	char *name = xasprintf("_mta-sts.%s", d->rt.domain);
	d->state = S_RESOLVE;
	d->sts_wait = true;
	dns_lookup_txt(o->dns, name, txt_done, d);
	free(name);
	return 1;
}

bool
sts_filter_mx(struct dest *d, struct dns_mx *mx, size_t *n)
{
	size_t keep = 0;

	if (d->sts == NULL)
		return true;
	for (size_t i = 0; i < *n; i++) {
		if (mtasts_mx_match(d->sts, mx[i].host)) {
			mx[keep++] = mx[i];
			continue;
		}
		if (d->sts->mode == MTASTS_TESTING) {
			log_warnx("%s: MTA-STS testing: MX %s does not match the "
			    "policy of %s (used all the same)", d->rt.key,
			    mx[i].host, d->rt.domain);
			mx[keep++] = mx[i];
		} else {
			log_warnx("%s: MTA-STS: MX %s does not match the policy "
			    "of %s: not used", d->rt.key, mx[i].host,
			    d->rt.domain);
			free(mx[i].host);
		}
	}
	*n = keep;
	return keep > 0;
}

SSL_CTX *
sts_tls_ctx(struct outsvc *o)
{
	if (o->tls_sts != NULL)
		return o->tls_sts;
	const char *ca = settings_current(o->svc->db)->mta_sts_ca_file;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx != NULL) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		if ((ca[0] ? SSL_CTX_load_verify_locations(ctx, ca, NULL) :
		    SSL_CTX_set_default_verify_paths(ctx)) != 1) {
			log_warnx("MTA-STS: cannot load the CA certificates %s",
			    ca[0] ? ca : "(system)");
			ERR_clear_error();
		}
	}
	o->tls_sts = ctx;
	return ctx;
}
