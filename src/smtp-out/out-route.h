#ifndef POSTERN_OUT_ROUTE_H
#define POSTERN_OUT_ROUTE_H

/* out-route - where a recipient's mail goes and which hosts to try, in
 * which order. Pure: the caller looks up the settings and asks DNS; this
 * module only decides (tests/unit/test-route.c runs it without a network
 * or a database). */

#include <stdbool.h>
#include <stddef.h>

#include "dns.h"

struct route {
	char *key;           /* one destination (connection pool) per key */
	bool relay;          /* smart host or address literal, else MX */
	char *domain;        /* MX: the recipient domain, lower case */
	char *host;          /* relay: host name or address */
	int port;            /* 0: smtp.out_port */
	bool auth;
	char *user, *password;
	char *why;           /* "smart host", "post office smart host", ... */
};

/* The configuration that applies to one recipient; "" or NULL for none. */
struct route_conf {
	const char *domain_smarthost;   /* the recipient domain's (5.4.2) */
	const char *po_smarthost;       /* the sender's post office (5.3.3) */
	bool po_auth;
	const char *po_user, *po_password;
	const char *smarthost;          /* the global one (smarthost.host) */
	bool smarthost_auth;
	const char *smarthost_user, *smarthost_password;
};

/* route_domain - the lower-case domain of rcpt (new string, "" if none) */
char *route_domain(const char *rcpt);
/* route_decide - the route for rcpt: domain smart host, post office smart
 * host, global smart host, address literal, else the MX of its domain.
 * Fills *rt (free with route_free). */
void route_decide(const struct route_conf *c, const char *rcpt,
		  struct route *rt);
/* route_free - free what *rt holds (the password is wiped) and zero it */
void route_free(struct route *rt);
/* route_hostport_split - "host[:port]" or "[v6]:port"; the port is 25
 * when absent or out of range. *host_r is a new string. */
void route_hostport_split(const char *s, char **host_r, int *port_r);

/* route_mx_hosts - the exchangers to try, from an MX answer: returns 1
 * with *keep_r (> 0) the number of leading entries of mx[] to try in that
 * order (RFC 5321 5.1: when self is one of them, only the more preferred
 * ones); 0 for a temporary failure, -1 for a permanent one, with the SMTP
 * reply to record in *reply_r (new string). */
int route_mx_hosts(enum dns_status st, const struct dns_mx *mx, size_t n,
		   const char *self, const char *domain, const char *error,
		   size_t *keep_r, char **reply_r);

#endif
