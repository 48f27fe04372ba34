#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

/* Asynchronous DNS on c-ares, driven by a libevent base: c-ares reports
 * the sockets it wants watched (socket state callback), each gets an
 * event, and one timer follows ares_timeout(). Lookups go only to DNS
 * (never /etc/hosts) and never through a search list.
 *
 * Every lookup calls its callback exactly once, from the event loop (never
 * from inside the lookup call), unless the resolver is freed first: then
 * pending callbacks are not called. Results are only valid during the
 * callback.
 *
 * Names given in UTF-8 (U-labels) are looked up in their A-label form
 * (IDNA2008, lib/idn.h); a name with no valid A-label form is
 * DNS_NOTFOUND. */

enum dns_status {
	DNS_OK = 0,
	DNS_NOTFOUND,    /* permanent: no such domain (NXDOMAIN) or no data */
	DNS_NULLMX,      /* permanent: the domain accepts no mail (RFC 7505) */
	DNS_TEMPFAIL,    /* server failure, timeout, refused: try later */
};

struct dns_resolver;

/* dns_resolver_new - a resolver on base. servers: setting dns.hosts,
 * space separated ip[:port] ("[v6]:port" for IPv6 with a port); NULL or
 * empty: /etc/resolv.conf. timeout_ms per try, tries per server. */
struct dns_resolver *dns_resolver_new(struct event_base *base,
				      const char *servers, int timeout_ms,
				      int tries, const char **error_r);
/* dns_resolver_free - cancel pending lookups (their callbacks are not
 * called) and free; NULLs *r. */
void dns_resolver_free(struct dns_resolver **r);
/* dns_servers_to_csv - "1.2.3.4:53 [::1]:5353" -> c-ares CSV form (new
 * string), NULL with an error for a malformed entry. */
char *dns_servers_to_csv(const char *servers, const char **error_r);

/* One mail exchanger. implicit: no MX records, the domain itself (RFC
 * 5321 5.1). secure: the answer carried the AD bit (DNSSEC-validated by
 * the resolver, which only means something when the administrator says
 * the resolver validates: setting dane.enabled). */
struct dns_mx {
	char *host;
	unsigned pref;
	bool implicit;
	bool secure;
};
/* MX lookup: sorted by preference, random order among equal preferences.
 * NODATA gives the implicit MX; NXDOMAIN DNS_NOTFOUND; a single "." MX
 * DNS_NULLMX. */
typedef void dns_mx_cb(void *ctx, enum dns_status status,
		       const struct dns_mx *mx, size_t n, const char *error);
void dns_lookup_mx(struct dns_resolver *r, const char *domain,
		   dns_mx_cb *cb, void *ctx);

/* A and AAAA lookup of a host name (or a literal address, answered
 * without a query); IPv6 first as the resolver orders them, each
 * sockaddr with port 0. */
typedef void dns_addr_cb(void *ctx, enum dns_status status,
			 const struct sockaddr_storage *addrs, size_t n,
			 const char *error);
void dns_lookup_addr(struct dns_resolver *r, const char *host,
		     dns_addr_cb *cb, void *ctx);

/* dns_lookup_a - A records only (DNS block lists: 127.0.0.x answers). */
void dns_lookup_a(struct dns_resolver *r, const char *name, dns_addr_cb *cb,
		  void *ctx);

/* TXT lookup: each record's strings concatenated (RFC 7208 3.3). */
typedef void dns_txt_cb(void *ctx, enum dns_status status,
			char *const *txt, size_t n, const char *error);
void dns_lookup_txt(struct dns_resolver *r, const char *name,
		    dns_txt_cb *cb, void *ctx);

/* SRV lookup (RFC 2782) of a full name ("_xmpp-server._tcp.example.org"):
 * sorted by priority, then weight; at most DNS_SRV_MAX. A single record
 * with the target "." is DNS_NULLMX ("the service is decidedly not
 * available here"); NXDOMAIN or no records DNS_NOTFOUND. */
#define DNS_SRV_MAX 16
struct dns_srv {
	char *host;
	unsigned prio, weight, port;
};
typedef void dns_srv_cb(void *ctx, enum dns_status status,
			const struct dns_srv *srv, size_t n, const char *error);
void dns_lookup_srv(struct dns_resolver *r, const char *name,
		    dns_srv_cb *cb, void *ctx);
/* dns_srv_parse - the SRV records of a DNS answer (pure, for the lookup
 * and the fuzz target): at most DNS_SRV_MAX, each target a host name
 * (lowercased, no final dot) with a port, sorted as above; records whose
 * target is no host name, or whose port is 0, are left out. DNS_OK with
 * *n_r > 0 (free the hosts with dns_srv_free), DNS_NULLMX for the single
 * "." target, DNS_NOTFOUND, or the parse failure with *error_r. */
enum dns_status dns_srv_parse(const unsigned char *abuf, size_t alen,
			      struct dns_srv srv[DNS_SRV_MAX], size_t *n_r,
			      const char **error_r);
void dns_srv_free(struct dns_srv *srv, size_t n);
/* dns_host_ok - whether a name is a host name (RFC 1123 2.1: 1-253
 * bytes, labels of 1-63 letters, digits, inner hyphens; underscores
 * too; a final dot allowed) or "." */
bool dns_host_ok(const char *h);

/* PTR lookup of an address: the names. */
typedef void dns_ptr_cb(void *ctx, enum dns_status status,
			char *const *names, size_t n, const char *error);
void dns_lookup_ptr(struct dns_resolver *r, const struct sockaddr *sa,
		    dns_ptr_cb *cb, void *ctx);

/* TLSA lookup (RFC 6698), asked with the AD bit set (RFC 6840 5.7).
 * secure: the answer (or the denial) carried the AD bit. DNS_NOTFOUND:
 * NXDOMAIN or no TLSA records; DNS_TEMPFAIL: SERVFAIL (a validating
 * resolver's answer to bogus data), timeout. Records whose RDATA is under
 * 4 bytes or over DNS_TLSA_DATA_MAX, and those past DNS_TLSA_MAX, are
 * counted in malformed, not returned. */
#define DNS_TLSA_MAX 32
#define DNS_TLSA_DATA_MAX 4096
struct dns_tlsa {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};
typedef void dns_tlsa_cb(void *ctx, enum dns_status status, bool secure,
			 const struct dns_tlsa *tlsa, size_t n, size_t malformed,
			 const char *error);
void dns_lookup_tlsa(struct dns_resolver *r, const char *name,
		     dns_tlsa_cb *cb, void *ctx);

/* dns_lookup_secure - whether name has records of type (ns_t_a...) and
 * whether the answer (or the denial) carried the AD bit: DANE asks it of
 * the MX host's address records (RFC 7672 2.2.2). cname: when the answer
 * followed CNAME records from name, the name they lead to (RFC 7672
 * 2.2.3, the TLSA base domain), else NULL. */
typedef void dns_secure_cb(void *ctx, enum dns_status status, bool secure,
			   const char *cname, const char *error);
void dns_lookup_secure(struct dns_resolver *r, const char *name, int type,
		       dns_secure_cb *cb, void *ctx);

/* dns_tlsa_parse - the TLSA records of a DNS answer (pure, for the
 * lookup and its fuzz target): *rcode, *ad the header's, the records
 * point into abuf (tlsa has room for DNS_TLSA_MAX). -1 for a message
 * that does not parse. */
int dns_tlsa_parse(const unsigned char *abuf, size_t alen, int *rcode,
		   bool *ad, struct dns_tlsa *tlsa, size_t *n,
		   size_t *malformed);

/* dns_answer_cname - the name the CNAME records of an answer lead to
 * from qname (pure, for dns_lookup_secure and the fuzz target): 1 and
 * the name in out (no final dot), 0 when no CNAME applies, -1 for a
 * malformed message, a loop or a chain of DNS_CNAME_MAX hops or more. */
#define DNS_CNAME_MAX 8
int dns_answer_cname(const unsigned char *abuf, size_t alen,
		     const char *qname, char *out, size_t size);

/* dns_cancel - the lookups started with ctx will not call back (for an
 * owner freed before its answers came). */
void dns_cancel(struct dns_resolver *r, const void *ctx);

/* dns_pending - lookups in flight. */
size_t dns_pending(const struct dns_resolver *r);

#endif
