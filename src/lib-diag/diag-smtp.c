/* diag-smtp - SMTP settings, the listeners' greetings, the relay probe */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "diag-private.h"
#include "netaddr.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

/* The probe addresses: RFC 2606 .invalid, which never resolves, so a
 * relay that does accept cannot deliver anything. */
#define PROBE_SENDER "postern-diag@relay-probe-sender.invalid"
#define PROBE_RCPT   "postern-diag@relay-probe-rcpt.invalid"

/* ------------------------------------------------ networks: public? */

struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

static int
cidr_parse(const char *s, struct cidr *c)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);

	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, host, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, host, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	int max = c->family == AF_INET ? 32 : 128;
	long long bits = max;
	if (slash != NULL && parse_long(slash + 1, 0, max, &bits) < 0)
		return -1;
	c->bits = (int)bits;
	return 0;
}

/* cidr_within - whether network n lies inside network in */
static bool
cidr_within(const struct cidr *n, const struct cidr *in)
{
	if (n->family != in->family || n->bits < in->bits)
		return false;
	for (int i = 0; i < in->bits; i++) {
		unsigned char m = (unsigned char)(0x80 >> (i % 8));
		if ((n->addr[i / 8] & m) != (in->addr[i / 8] & m))
			return false;
	}
	return true;
}

/* cidr_private - whether a network lies in loopback, RFC 1918, shared
 * (RFC 6598), link-local or unique-local space */
static bool
cidr_private(const struct cidr *n)
{
	static const char *const priv[] = {
		"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"100.64.0.0/10", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
	};
	struct cidr p;

	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (cidr_parse(priv[i], &p) == 0 && cidr_within(n, &p))
			return true;
	return false;
}

bool
diag_ip_private(const char *ip)
{
	struct cidr c;

	return cidr_parse(ip, &c) == 0 && cidr_private(&c);
}

/* -------------------------------------------------- an SMTP client */

struct probe {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[8192];
	size_t len;
	struct timespec deadline;  /* for one whole reply (a trickling server) */
	int timeout_ms;
};

static void
deadline_set(struct probe *p)
{
	clock_gettime(CLOCK_MONOTONIC, &p->deadline);
	p->deadline.tv_sec += p->timeout_ms / 1000 + 1;
}

static bool
deadline_passed(const struct probe *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > p->deadline.tv_sec ||
	    (now.tv_sec == p->deadline.tv_sec && now.tv_nsec > p->deadline.tv_nsec);
}

/* probe_connect - a blocking connection with timeouts on every step */
static int
probe_connect(struct probe *p, const struct sockaddr *sa, socklen_t salen,
	      bool tls, int timeout_ms, const char **error_r)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	memset(p, 0, sizeof(*p));
	p->timeout_ms = timeout_ms;
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (connect(p->fd, sa, salen) < 0 && errno != EINPROGRESS) {
		*error_r = strerror(errno);
		return -1;
	}
	struct pollfd pf = { p->fd, POLLOUT, 0 };
	int r = poll(&pf, 1, timeout_ms);
	if (r == 0) {
		*error_r = "connection timed out";
		return -1;
	}
	if (r < 0 || getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
		*error_r = strerror(soerr ? soerr : errno);
		return -1;
	}
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (tls) {
		p->ctx = SSL_CTX_new(TLS_client_method());
		if (p->ctx == NULL || (p->ssl = SSL_new(p->ctx)) == NULL) {
			*error_r = "cannot make a TLS context";
			return -1;
		}
		SSL_set_fd(p->ssl, p->fd);
		if (SSL_connect(p->ssl) != 1) {
			ERR_clear_error();
			*error_r = "TLS handshake failed";
			return -1;
		}
	}
	return 0;
}

static void
probe_close(struct probe *p)
{
	if (p->ssl != NULL) {
		SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
	}
	SSL_CTX_free(p->ctx);
	if (p->fd >= 0)
		close(p->fd);
	ERR_clear_error();
	p->fd = -1;
	p->ssl = NULL;
	p->ctx = NULL;
}

static int
probe_send(struct probe *p, const char *line)
{
	char out[600];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);

	if (p->ssl != NULL)
		return SSL_write(p->ssl, out, n) == n ? 0 : -1;
	return send(p->fd, out, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* probe_reply - one (multi-line) reply: its code and first line; -1 on
 * a timeout, a closed connection or something that is not SMTP */
static int
probe_reply(struct probe *p, int *code_r, char *text, size_t size)
{
	*code_r = 0;
	snprintf(text, size, "no reply");
	deadline_set(p);
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl != NULL) {
			size_t l = (size_t)(nl - p->buf) + 1;
			char line[sizeof(p->buf)];
			memcpy(line, p->buf, l);
			line[l] = '\0';
			memmove(p->buf, p->buf + l, p->len - l);
			p->len -= l;
			line[strcspn(line, "\r\n")] = '\0';
			if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' ||
			    line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' ||
			    (line[3] != ' ' && line[3] != '-' && line[3] != '\0')) {
				snprintf(text, size, "not an SMTP reply: %.80s", line);
				return -1;
			}
			if (*code_r == 0)
				snprintf(text, size, "%.200s", line);
			*code_r = atoi(line);
			if (line[3] != '-')
				return 0;
			continue;
		}
		if (p->len == sizeof(p->buf)) {
			snprintf(text, size, "reply line too long");
			return -1;
		}
		if (deadline_passed(p)) {
			snprintf(text, size, "no complete reply in time");
			return -1;
		}
		ssize_t n = p->ssl != NULL ?
		    SSL_read(p->ssl, p->buf + p->len, (int)(sizeof(p->buf) - p->len)) :
		    recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
		if (n <= 0) {
			snprintf(text, size, "%s", n == 0 ? "connection closed" :
			    errno == EAGAIN || errno == EWOULDBLOCK ? "no reply in time" :
			    "connection lost");
			ERR_clear_error();
			return -1;
		}
		p->len += (size_t)n;
	}
}

/* probe_cmd - send a command, read its reply */
static int
probe_cmd(struct probe *p, const char *cmd, int *code_r, char *text, size_t size)
{
	if (probe_send(p, cmd) < 0) {
		snprintf(text, size, "cannot send %s", cmd);
		return -1;
	}
	return probe_reply(p, code_r, text, size);
}

/* probe_target - where to reach a listener: a wildcard address on
 * loopback, anything else as configured */
static void
probe_target(const struct netaddr *a, struct sockaddr_storage *ss, socklen_t *len,
	     char *text, size_t size)
{
	memcpy(ss, &a->ss, sizeof(*ss));
	*len = a->sslen;
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			s6->sin6_addr = in6addr_loopback;
	}
	char host[64];
	sockaddr_ntop((struct sockaddr *)ss, host, sizeof(host));
	snprintf(text, size, ss->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, a->port);
}

/* ------------------------------------------------------------ checks */

/* check_listener - connect, read the greeting, QUIT */
static void
check_listener(struct diag_section *s, const char *name, const struct netaddr *a,
	       int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char target[96], check[160], text[256];
	struct probe p;
	const char *err;
	int code;

	probe_target(a, &ss, &len, target, sizeof(target));
	snprintf(check, sizeof(check), "%s listener %s:%d", name, a->host, a->port);
	if (probe_connect(&p, (struct sockaddr *)&ss, len, strcmp(name, "smtps") == 0,
	    timeout_ms, &err) < 0) {
		diag_add(s, DIAG_ERROR, check,
		    "is smtpd running (postern status)? is the address this host's?",
		    "%s: %s", target, err);
	} else if (probe_reply(&p, &code, text, sizeof(text)) < 0 || code != 220) {
		diag_add(s, DIAG_ERROR, check, "see log/smtpd.log", "%s: %s", target, text);
	} else {
		probe_cmd(&p, "QUIT", &code, text + 128, sizeof(text) - 128);
		text[127] = '\0';
		diag_add(s, DIAG_OK, check, NULL, "%s answers: %s", target, text);
	}
	probe_close(&p);
}

/* relay_probe - from loopback, without AUTH: a relay to an outside
 * address must be refused at RCPT. Never sends DATA. */
static void
relay_probe(struct diag_section *s, struct db *db, const struct netaddr *a,
	    const char *relay_nets, bool nets_public, int timeout_ms)
{
	const char *check = "Open relay test";
	struct sockaddr_storage ss;
	socklen_t len;
	char target[96], text[256], cmd[300], ip[64];
	struct probe p;
	const char *err;
	int code;

	probe_target(a, &ss, &len, target, sizeof(target));
	if (probe_connect(&p, (struct sockaddr *)&ss, len, false, timeout_ms, &err) < 0) {
		diag_add(s, DIAG_WARNING, check, "the listener is down: see SMTP inbound bindings",
		    "not run: %s: %s", target, err);
		probe_close(&p);
		return;
	}
	char *host = settings_hostname(db);
	snprintf(cmd, sizeof(cmd), "EHLO %s", host);
	free(host);
	if (probe_reply(&p, &code, text, sizeof(text)) < 0 || code != 220 ||
	    probe_cmd(&p, cmd, &code, text, sizeof(text)) < 0 || code != 250 ||
	    probe_cmd(&p, "MAIL FROM:<" PROBE_SENDER ">", &code, text, sizeof(text)) < 0 ||
	    code != 250) {
		diag_add(s, DIAG_WARNING, check, "see log/smtpd.log",
		    "inconclusive: %s: %s", target, text);
		probe_close(&p);
		return;
	}
	int r = probe_cmd(&p, "RCPT TO:<" PROBE_RCPT ">", &code, text, sizeof(text));
	char done[64];
	int dcode;
	if (probe_cmd(&p, "RSET", &dcode, done, sizeof(done)) == 0)
		probe_cmd(&p, "QUIT", &dcode, done, sizeof(done));
	probe_close(&p);
	/* the client address the server saw: a loopback address */
	sockaddr_ntop((struct sockaddr *)&ss, ip, sizeof(ip));
	if (r < 0)
		diag_add(s, DIAG_WARNING, check, NULL, "inconclusive: %s", text);
	else if (code >= 500)
		diag_add(s, DIAG_OK, check, NULL,
		    "relay from %s without AUTH refused: %s", target, text);
	else if (code >= 400)
		diag_add(s, DIAG_WARNING, check, "run the report again",
		    "inconclusive, temporary refusal: %s", text);
	else if (nets_public)
		diag_add(s, DIAG_ERROR, check,
		    "OPEN RELAY: spammers can send through this server. Remove public "
		    "ranges from smtp.relay_networks; remote users should authenticate",
		    "relay to an outside address accepted without AUTH (%s); "
		    "smtp.relay_networks contains public networks: %s", text, relay_nets);
	else if (netaddr_in_list(ip, relay_nets))
		diag_add(s, DIAG_INFO, check, NULL,
		    "relay accepted from %s, which smtp.relay_networks trusts; clients "
		    "outside those private networks cannot be tested from here", ip);
	else
		diag_add(s, DIAG_ERROR, check,
		    "OPEN RELAY: the server relays for clients outside smtp.relay_networks",
		    "relay to an outside address accepted without AUTH: %s", text);
}

void
diag_check_smtp(struct diag_report *rep, struct db *db, const struct diag_options *o)
{
	struct diag_section *s = diag_section(rep, DIAG_S_SMTP);
	struct diag_section *sr = diag_section(rep, DIAG_S_RELAY);
	struct diag_section *sb = diag_section(rep, DIAG_S_BINDINGS);
	int tmo = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	const char *err;

	int64_t size = settings_current(db)->smtp_max_message_size;
	diag_add(s, DIAG_INFO, "Largest message (smtp.max_message_size)", NULL,
	    "%lld KB", (long long)size);
	diag_add(s, DIAG_INFO, "Recipients per message (smtp.max_recipients)", NULL,
	    "%lld", (long long)settings_current(db)->smtp_max_recipients);
	diag_add(s, DIAG_INFO, "Connections (smtp.max_connections, per IP)", NULL,
	    "%lld, %lld per client address",
	    (long long)settings_current(db)->smtp_max_connections,
	    (long long)settings_current(db)->smtp_max_connections_per_ip);
	const char *bl = settings_current(db)->smtp_dnsbl;
	if (*bl == '\0')
		diag_add(s, DIAG_INFO, "DNS block lists (smtp.dnsbl)",
		    "block lists stop much spam at connect: postern config set smtp.dnsbl ZONE",
		    "none");
	else
		diag_add(s, DIAG_OK, "DNS block lists (smtp.dnsbl)", NULL,
		    "%s (answers awaited up to %lld s)", bl,
		    (long long)settings_current(db)->smtp_dns_timeout);

	/* relay settings */
	char *nets = xstrdup(settings_current(db)->smtp_relay_networks);
	char *copy = xstrdup(nets), *save = NULL;
	struct buf pub, bad;
	buf_init(&pub, 0);
	buf_init(&bad, 0);
	for (char *t = strtok_r(copy, " \t,", &save); t != NULL;
	     t = strtok_r(NULL, " \t,", &save)) {
		struct cidr c;
		if (cidr_parse(t, &c) < 0)
			buf_printf(&bad, " %s", t);
		else if (!cidr_private(&c))
			buf_printf(&pub, " %s", t);
	}
	free(copy);
	if (*nets == '\0')
		diag_add(sr, DIAG_OK, "Relay networks (smtp.relay_networks)", NULL,
		    "none: only authenticated clients may relay");
	else if (pub.len > 0)
		diag_add(sr, DIAG_WARNING, "Relay networks (smtp.relay_networks)",
		    "every address of a public network may send anywhere through this "
		    "server: list only your own hosts",
		    "%s; public:%s", nets, pub.data);
	else
		diag_add(sr, DIAG_OK, "Relay networks (smtp.relay_networks)", NULL,
		    "%s (private networks only)", nets);
	if (bad.len > 0)
		diag_add(sr, DIAG_WARNING, "Relay networks syntax", "smtpd skips them",
		    "not networks:%s", bad.data);
	bool tls_only = settings_current(db)->smtp_require_tls_for_auth != 0;
	diag_add(sr, DIAG_INFO, "Relay for authenticated clients", NULL,
	    "yes (AUTH%s)", tls_only ? " over TLS only" : ", also without TLS");

	/* the listeners and the live probe */
	static const char *const lst[] = { "smtp", "submission", "smtps" };
	bool probed = false;
	for (size_t i = 0; i < sizeof(lst) / sizeof(lst[0]); i++) {
		char key[64];
		struct netaddr *a = NULL;
		size_t n = 0;
		snprintf(key, sizeof(key), "%s.listen", lst[i]);
		char *v = xstrdup(settings_text(settings_current(db), settings_id(key)));
		if (netaddr_parse_list(v, &a, &n, &err) < 0)
			diag_add(sb, DIAG_ERROR, key, NULL, "%s: %s", v, err);
		else if (n == 0)
			diag_add(sb, DIAG_INFO, key, NULL, "not listening");
		for (size_t k = 0; k < n; k++) {
			if (!o->network) {
				diag_add(sb, DIAG_INFO, key, NULL, "%s:%d (not probed)",
				    a[k].host, a[k].port);
				continue;
			}
			check_listener(sb, lst[i], &a[k], tmo);
			if (i == 0 && !probed) {
				relay_probe(sr, db, &a[k], nets, pub.len > 0, tmo);
				probed = true;
			}
		}
		free(a);
		free(v);
	}
	if (!probed)
		diag_add(sr, DIAG_INFO, "Open relay test", NULL, "%s",
		    o->network ? "not run: no smtp listener" : "not run (--no-network)");
	buf_free(&pub);
	buf_free(&bad);
	free(nets);
}
