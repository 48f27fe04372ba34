/* test-dns - lib-dns against a real dnsmasq on a loopback port */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns.h"
#include "test.h"
#include "xalloc.h"

static pid_t dnsmasq_pid = -1;
static int dns_port;
static struct event_base *base;

/* free_udp_port - a port nobody uses on 127.0.0.1 right now */
static int free_udp_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static const char *dnsmasq_path(void)
{
	static const char *const paths[] = { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", NULL };

	for (int i = 0; paths[i] != NULL; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* dnsmasq_start - run dnsmasq in the foreground with the test records */
static bool dnsmasq_start(void)
{
	const char *path = dnsmasq_path();
	char port_arg[32];

	if (path == NULL)
		return false;
	dns_port = free_udp_port();
	snprintf(port_arg, sizeof(port_arg), "--port=%d", dns_port);
	dnsmasq_pid = fork();
	if (dnsmasq_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execl(path, "dnsmasq", "-k", port_arg,
		      "--listen-address=127.0.0.1", "--bind-interfaces",
		      "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
		      "--local=/test/",
		      "--mx-host=remote.test,mx1.remote.test,10",
		      "--mx-host=remote.test,mx2.remote.test,10",
		      "--mx-host=remote.test,backup.remote.test,20",
		      "--mx-host=nullmx.test,.,0",
		      /* SRV (RFC 2782): order, case, port 0 left out, "." */
		      "--srv-host=_xmpp-server._tcp.srv.test,XMPP2.srv.test,"
		      "5270,10,1",
		      "--srv-host=_xmpp-server._tcp.srv.test,xmpp1.srv.test,"
		      "5269,5,0",
		      "--srv-host=_xmpp-server._tcp.srv.test,xmpp0.srv.test,"
		      "0,1,0",
		      "--srv-host=_xmpp-server._tcp.nosrv.test",
		      "--host-record=mx1.remote.test,127.0.0.1",
		      "--host-record=mx2.remote.test,127.0.0.2,::1",
		      "--host-record=backup.remote.test,127.0.0.3",
		      "--host-record=amx.test,127.0.0.4",
		      "--txt-record=txt.test,v=spf1 -all",
		      "--txt-record=txt.test,second record",
		      /* TLSA 3 1 1 <32 bytes>, and one of 2 bytes */
		      "--dns-rr=_25._tcp.tlsa.test,52,030101"
		      "000102030405060708090a0b0c0d0e0f"
		      "101112131415161718191a1b1c1d1e1f",
		      "--dns-rr=_25._tcp.bad.test,52,0301",
		      /* IDN: b\u00fccher.test in A-label form */
		      "--mx-host=xn--bcher-kva.test,mx.xn--bcher-kva.test,5",
		      "--host-record=mx.xn--bcher-kva.test,127.0.0.6,::1",
		      (char *)NULL);
		_exit(127);
	}
	/* wait until it answers: a bounded number of short sleeps */
	for (int i = 0; i < 50; i++) {
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		unsigned char q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
				      4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
		unsigned char r[512];
		struct timeval tv = { 0, 100000 };

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(dns_port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sin, sizeof(sin));
		if (recv(fd, r, sizeof(r), 0) > 0) {
			close(fd);
			return true;
		}
		close(fd);
	}
	return false;
}

static void dnsmasq_stop(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
}

struct result {
	bool done;
	enum dns_status status;
	char mx[8][64];
	unsigned pref[8];
	bool implicit;
	char addrs[8][64];
	size_t n;
	char error[256];
};

static void mx_done(void *ctx, enum dns_status st, const struct dns_mx *mx,
		    size_t n, const char *error)
{
	struct result *res = ctx;

	res->done = true;
	res->status = st;
	res->n = n;
	for (size_t i = 0; i < n && i < 8; i++) {
		snprintf(res->mx[i], sizeof(res->mx[i]), "%s", mx[i].host);
		res->pref[i] = mx[i].pref;
		res->implicit = mx[i].implicit;
	}
	if (error != NULL)
		snprintf(res->error, sizeof(res->error), "%s", error);
}

static void addr_done(void *ctx, enum dns_status st,
		      const struct sockaddr_storage *addrs, size_t n,
		      const char *error)
{
	struct result *res = ctx;

	res->done = true;
	res->status = st;
	res->n = n;
	for (size_t i = 0; i < n && i < 8; i++) {
		if (addrs[i].ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&addrs[i])->sin_addr,
				  res->addrs[i], sizeof(res->addrs[i]));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&addrs[i])->sin6_addr,
				  res->addrs[i], sizeof(res->addrs[i]));
	}
	if (error != NULL)
		snprintf(res->error, sizeof(res->error), "%s", error);
}

static void strs_done(void *ctx, enum dns_status st, char *const *s, size_t n,
		      const char *error)
{
	struct result *res = ctx;

	res->done = true;
	res->status = st;
	res->n = n;
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(res->addrs[i], sizeof(res->addrs[i]), "%s", s[i]);
}

static void srv_done(void *ctx, enum dns_status st, const struct dns_srv *srv,
		     size_t n, const char *error)
{
	struct result *res = ctx;

	res->done = true;
	res->status = st;
	res->n = n;
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(res->addrs[i], sizeof(res->addrs[i]), "%s:%u",
			 srv[i].host, srv[i].port);
	if (error != NULL)
		snprintf(res->error, sizeof(res->error), "%s", error);
}

/* run_until - run the loop until res->done, at most 10 s */
static void run_until(struct result *res)
{
	time_t end = time(NULL) + 10;

	while (!res->done && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
}

static struct dns_resolver *resolver(void)
{
	char servers[64];
	const char *err = NULL;
	struct dns_resolver *r;

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", dns_port);
	r = dns_resolver_new(base, servers, 1000, 2, &err);
	if (r == NULL)
		fprintf(stderr, "resolver: %s\n", err);
	return r;
}

static void test_servers_csv(void)
{
	const char *err;
	char *s;

	s = dns_servers_to_csv("127.0.0.1:5353 ::1 [::1]:54  10.0.0.1", &err);
	CHECK_STREQ(s, "127.0.0.1:5353,[::1]:53,[::1]:54,10.0.0.1:53");
	free(s);
	s = dns_servers_to_csv("", &err);
	CHECK_STREQ(s, "");
	free(s);
	CHECK(dns_servers_to_csv("dns.example", &err) == NULL);
	CHECK(dns_servers_to_csv("1.2.3.4:0", &err) == NULL);
	CHECK(dns_servers_to_csv("1.2.3.4:99999", &err) == NULL);
	CHECK(dns_servers_to_csv("[::1", &err) == NULL);
	CHECK(dns_resolver_new(base, "nonsense", 1000, 1, &err) == NULL);
}

static void test_mx(void)
{
	struct dns_resolver *r = resolver();
	bool seen_mx1_first = false, seen_mx2_first = false;

	CHECK(r != NULL);
	if (r == NULL)
		return;
	/* equal preferences come in random order: 40 lookups see both */
	for (int i = 0; i < 40 && !(seen_mx1_first && seen_mx2_first); i++) {
		struct result res = { 0 };

		dns_lookup_mx(r, "remote.test", mx_done, &res);
		CHECK(!res.done);   /* never called from inside the lookup */
		run_until(&res);
		CHECK(res.done);
		CHECK_INTEQ(res.status, DNS_OK);
		CHECK_INTEQ(res.n, 3);
		CHECK_STREQ(res.mx[2], "backup.remote.test");
		CHECK_INTEQ(res.pref[0], 10);
		CHECK_INTEQ(res.pref[2], 20);
		CHECK(!res.implicit);
		if (strcmp(res.mx[0], "mx1.remote.test") == 0)
			seen_mx1_first = true;
		else if (strcmp(res.mx[0], "mx2.remote.test") == 0)
			seen_mx2_first = true;
	}
	CHECK(seen_mx1_first && seen_mx2_first);
	dns_resolver_free(&r);
	CHECK(r == NULL);
}

/* SRV records through dns_srv_parse: sorted, lowercased, a port 0
 * record left out; the "." target alone: not offered; none: not found */
static void test_srv(void)
{
	struct dns_resolver *r = resolver();
	struct result res;

	if (r == NULL)
		return;
	memset(&res, 0, sizeof(res));
	dns_lookup_srv(r, "_xmpp-server._tcp.srv.test", srv_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 2);
	CHECK_STREQ(res.addrs[0], "xmpp1.srv.test:5269");
	CHECK_STREQ(res.addrs[1], "xmpp2.srv.test:5270");
	memset(&res, 0, sizeof(res));
	dns_lookup_srv(r, "_xmpp-server._tcp.nosrv.test", srv_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NULLMX);
	memset(&res, 0, sizeof(res));
	dns_lookup_srv(r, "_xmpp-server._tcp.amx.test", srv_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NOTFOUND);
	CHECK(!dns_host_ok("bad host.test") && !dns_host_ok("-a.test") &&
	      !dns_host_ok("a..test") && !dns_host_ok("[127.0.0.1]") &&
	      dns_host_ok("a-b.test.") && dns_host_ok("_x.test"));
	dns_resolver_free(&r);
}

static void test_mx_fallback_null_nx(void)
{
	struct dns_resolver *r = resolver();
	struct result res;

	if (r == NULL)
		return;
	/* no MX but an address: implicit MX (RFC 5321 5.1) */
	memset(&res, 0, sizeof(res));
	dns_lookup_mx(r, "amx.test", mx_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 1);
	CHECK_STREQ(res.mx[0], "amx.test");
	CHECK(res.implicit);

	/* null MX (RFC 7505) */
	memset(&res, 0, sizeof(res));
	dns_lookup_mx(r, "nullmx.test", mx_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NULLMX);
	CHECK(strstr(res.error, "null MX") != NULL);

	/* no such domain */
	memset(&res, 0, sizeof(res));
	dns_lookup_mx(r, "nonexistent.test", mx_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NOTFOUND);
	dns_resolver_free(&r);
}

static void test_addr(void)
{
	struct dns_resolver *r = resolver();
	struct result res;
	bool v4 = false, v6 = false;

	if (r == NULL)
		return;
	memset(&res, 0, sizeof(res));
	dns_lookup_addr(r, "mx2.remote.test", addr_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 2);
	for (size_t i = 0; i < res.n; i++) {
		if (strcmp(res.addrs[i], "127.0.0.2") == 0)
			v4 = true;
		if (strcmp(res.addrs[i], "::1") == 0)
			v6 = true;
	}
	CHECK(v4 && v6);

	memset(&res, 0, sizeof(res));
	dns_lookup_addr(r, "127.0.0.9", addr_done, &res);
	CHECK(!res.done);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_STREQ(res.addrs[0], "127.0.0.9");

	memset(&res, 0, sizeof(res));
	dns_lookup_addr(r, "nohost.test", addr_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NOTFOUND);
	dns_resolver_free(&r);
}

static void test_txt_ptr(void)
{
	struct dns_resolver *r = resolver();
	struct result res;
	struct sockaddr_in sin;

	if (r == NULL)
		return;
	memset(&res, 0, sizeof(res));
	dns_lookup_txt(r, "txt.test", strs_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 2);
	CHECK((strcmp(res.addrs[0], "v=spf1 -all") == 0 &&
	       strcmp(res.addrs[1], "second record") == 0) ||
	      (strcmp(res.addrs[1], "v=spf1 -all") == 0 &&
	       strcmp(res.addrs[0], "second record") == 0));

	memset(&res, 0, sizeof(res));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.3", &sin.sin_addr);
	dns_lookup_ptr(r, (struct sockaddr *)&sin, strs_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK(res.n >= 1);
	CHECK_STREQ(res.addrs[0], "backup.remote.test");
	dns_resolver_free(&r);
}

struct tlsa_result {
	bool done, secure;
	enum dns_status status;
	size_t n, malformed;
	unsigned char usage, selector, mtype, last;
	size_t len;
};

static void tlsa_done(void *ctx, enum dns_status st, bool secure,
		      const struct dns_tlsa *t, size_t n, size_t malformed,
		      const char *error)
{
	struct tlsa_result *res = ctx;

	res->done = true;
	res->status = st;
	res->secure = secure;
	res->n = n;
	res->malformed = malformed;
	if (n > 0) {
		res->usage = t[0].usage;
		res->selector = t[0].selector;
		res->mtype = t[0].mtype;
		res->len = t[0].len;
		res->last = t[0].data[t[0].len - 1];
	}
}

static void run_tlsa(struct tlsa_result *res)
{
	time_t end = time(NULL) + 10;

	while (!res->done && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
}

/* TLSA over the wire (dnsmasq does no DNSSEC: never secure), and the
 * answer parser on every truncation of a real answer */
static void test_tlsa(void)
{
	struct dns_resolver *r = resolver();
	struct tlsa_result res;

	if (r == NULL)
		return;
	memset(&res, 0, sizeof(res));
	dns_lookup_tlsa(r, "_25._tcp.tlsa.test", tlsa_done, &res);
	run_tlsa(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK(!res.secure);
	CHECK_INTEQ(res.n, 1);
	CHECK_INTEQ(res.usage, 3);
	CHECK_INTEQ(res.selector, 1);
	CHECK_INTEQ(res.mtype, 1);
	CHECK_INTEQ(res.len, 32);
	CHECK_INTEQ(res.last, 0x1f);
	memset(&res, 0, sizeof(res));
	dns_lookup_tlsa(r, "_25._tcp.bad.test", tlsa_done, &res);
	run_tlsa(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 0);
	CHECK_INTEQ(res.malformed, 1);
	memset(&res, 0, sizeof(res));
	dns_lookup_tlsa(r, "_25._tcp.none.test", tlsa_done, &res);
	run_tlsa(&res);
	CHECK_INTEQ(res.status, DNS_NOTFOUND);
	dns_resolver_free(&r);

	/* an answer with the AD bit: a compressed owner name, 3 1 1 */
	static const unsigned char ans[] = {
		0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 1, 0, 0, 0, 0,
		3, '_', '2', '5', 4, '_', 't', 'c', 'p', 1, 'x', 0, 0, 52, 0, 1,
		0xc0, 12, 0, 52, 0, 1, 0, 0, 1, 0, 0, 7, 3, 1, 1, 0xaa, 0xbb,
		0xcc, 0xdd,
	};
	struct dns_tlsa t[DNS_TLSA_MAX];
	size_t n, bad;
	int rcode;
	bool ad;

	CHECK_INTEQ(dns_tlsa_parse(ans, sizeof(ans), &rcode, &ad, t, &n, &bad), 0);
	CHECK(ad);
	CHECK_INTEQ(rcode, 0);
	CHECK_INTEQ(n, 1);
	CHECK_INTEQ(t[0].len, 4);
	CHECK_INTEQ(t[0].data[3], 0xdd);
	for (size_t cut = 0; cut < sizeof(ans); cut++)
		CHECK_INTEQ(dns_tlsa_parse(ans, cut, &rcode, &ad, t, &n, &bad), -1);
}

/* the CNAME chain of an answer (RFC 7672 2.2.3's TLSA base domain):
 * records in any order, compressed names, loops and truncation */
static void test_answer_cname(void)
{
	/* mx.a A: c A 1.2.3.4; b CNAME c; mx.a (compressed) CNAME b */
	static const unsigned char ans[] = {
		0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 3, 0, 0, 0, 0,
		2, 'm', 'x', 1, 'a', 0, 0, 1, 0, 1,
		1, 'c', 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 1, 2, 3, 4,
		1, 'b', 0, 0, 5, 0, 1, 0, 0, 1, 0, 0, 3, 1, 'c', 0,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0, 0, 3, 1, 'b', 0,
	};
	/* mx.a CNAME b; b CNAME mx.a: a loop */
	static const unsigned char loop[] = {
		0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 2, 0, 0, 0, 0,
		2, 'm', 'x', 1, 'a', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0, 0, 3, 1, 'b', 0,
		1, 'b', 0, 0, 5, 0, 1, 0, 0, 1, 0, 0, 2, 0xc0, 12,
	};
	char out[256];

	CHECK_INTEQ(dns_answer_cname(ans, sizeof(ans), "mx.a", out,
	    sizeof(out)), 1);
	CHECK_STREQ(out, "c");
	CHECK_INTEQ(dns_answer_cname(ans, sizeof(ans), "MX.A.", out,
	    sizeof(out)), 1);
	CHECK_STREQ(out, "c");
	CHECK_INTEQ(dns_answer_cname(ans, sizeof(ans), "b", out,
	    sizeof(out)), 1);
	CHECK_STREQ(out, "c");
	/* no CNAME from this name */
	CHECK_INTEQ(dns_answer_cname(ans, sizeof(ans), "c", out,
	    sizeof(out)), 0);
	CHECK_INTEQ(dns_answer_cname(ans, sizeof(ans), "mx.a", out, 1), -1);
	CHECK_INTEQ(dns_answer_cname(loop, sizeof(loop), "mx.a", out,
	    sizeof(out)), -1);
	for (size_t cut = 0; cut < sizeof(ans); cut++)
		CHECK_INTEQ(dns_answer_cname(ans, cut, "mx.a", out,
		    sizeof(out)), -1);
}

/* U-labels are looked up as A-labels; A only; a cancelled lookup stays
 * silent while the others answer */
static void test_idn_a_cancel(void)
{
	struct dns_resolver *r = resolver();
	struct result res = { 0 }, gone = { 0 };

	if (r == NULL)
		return;
	dns_lookup_mx(r, "B\xc3\xbc" "cher.test", mx_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 1);
	CHECK_STREQ(res.mx[0], "mx.xn--bcher-kva.test");
	/* the implicit MX of a U-label domain is its A-label form */
	memset(&res, 0, sizeof(res));
	dns_lookup_addr(r, "mx.b\xc3\xbc" "cher.test", addr_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 2);
	/* dns_lookup_a: no AAAA */
	memset(&res, 0, sizeof(res));
	dns_lookup_a(r, "mx.xn--bcher-kva.test", addr_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_OK);
	CHECK_INTEQ(res.n, 1);
	CHECK_STREQ(res.addrs[0], "127.0.0.6");
	/* not valid IDNA2008: not found, without a query */
	memset(&res, 0, sizeof(res));
	dns_lookup_mx(r, "b\xc3" "cher.test", mx_done, &res);
	run_until(&res);
	CHECK_INTEQ(res.status, DNS_NOTFOUND);
	/* cancel one of two lookups */
	memset(&res, 0, sizeof(res));
	dns_lookup_a(r, "mx1.remote.test", addr_done, &gone);
	dns_lookup_a(r, "mx2.remote.test", addr_done, &res);
	dns_cancel(r, &gone);
	run_until(&res);
	CHECK(res.done);
	CHECK_STREQ(res.addrs[0], "127.0.0.2");
	for (int i = 0; i < 20 && dns_pending(r) > 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK_INTEQ(dns_pending(r), 0);
	CHECK(!gone.done);
	dns_resolver_free(&r);
}

static void test_timeout_and_cancel(void)
{
	char servers[64];
	const char *err = NULL;
	struct dns_resolver *r;
	struct result res = { 0 }, res2 = { 0 };
	time_t start = time(NULL);
	int silent = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	/* a UDP socket that never answers */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(silent, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(silent, (struct sockaddr *)&sin, &len);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", ntohs(sin.sin_port));
	r = dns_resolver_new(base, servers, 300, 1, &err);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	dns_lookup_mx(r, "remote.test", mx_done, &res);
	run_until(&res);
	CHECK(res.done);
	CHECK_INTEQ(res.status, DNS_TEMPFAIL);
	CHECK(time(NULL) - start < 5);
	/* freeing with a lookup in flight drops its callback */
	dns_lookup_mx(r, "remote.test", mx_done, &res2);
	CHECK_INTEQ(dns_pending(r), 1);
	dns_resolver_free(&r);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(!res2.done);
	close(silent);
}

int main(void)
{
	static const struct test tests[] = {
		TEST(test_servers_csv),
		TEST(test_mx),
		TEST(test_mx_fallback_null_nx),
		TEST(test_srv),
		TEST(test_addr),
		TEST(test_txt_ptr),
		TEST(test_tlsa),
		TEST(test_answer_cname),
		TEST(test_idn_a_cancel),
		TEST(test_timeout_and_cancel),
		{ NULL, NULL },
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!dnsmasq_start()) {
		fprintf(stderr, "dnsmasq not available or did not start "
			"(scripts/install-deps.sh installs it)\n");
		dnsmasq_stop();
		return 1;
	}
	rc = test_run(tests);
	dnsmasq_stop();
	event_base_free(base);
	return rc;
}
