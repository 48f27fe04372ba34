#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stdbool.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "conn.h"
#include "dns.h"
#include "service.h"

/* smtpd - the inbound SMTP connector (manual 3.2): ports 25 (smtp), 587
 * (submission: AUTH required) and 465 (smtps: implicit TLS). */

struct smtpd {
	struct service *svc;
	char *hostname;     /* server.hostname: greeting, Received */
	char *qpath;        /* <queue>/smtp/inbound */
	char *qroot;        /* <queue> (lib-filter: spam verdicts) */
	SSL_CTX *tls;       /* NULL: no certificate, no STARTTLS/smtps */
	struct conn_server *conns;  /* the connection layer (conn.h) */
	struct dns_resolver *dns;   /* client checks; NULL: none */
	char *dns_servers;  /* the dns.hosts it was made with */
};

/* session_ops - the SMTP session on the connection layer (session.c) */
extern const struct conn_ops session_ops;

/* session_shutdown_all - say 421 where possible and end every session. */
void session_shutdown_all(struct smtpd *sd);

/* Failed AUTH per client address: after auth.max_failures within 15
 * minutes, AUTH from that address is refused (454) without looking at
 * the credentials; a good login clears the count. */

/* smtpd_cidr_match - whether addr is inside one of the space or comma
 * separated networks of list ("10.0.0.0/8 ::1/128 192.0.2.7"). An empty
 * list matches nothing. Malformed entries are skipped and reported in
 * *bad_r (may be NULL). */
bool smtpd_cidr_match(const char *list, const struct sockaddr *sa,
		      const char **bad_r);

/* smtpd_is_loopback - 127.0.0.0/8, ::1 or v4-mapped loopback. */
bool smtpd_is_loopback(const struct sockaddr *sa);

/* smtpd_dns_reload - a changed dns.hosts applies once no lookup is out. */
void smtpd_dns_reload(struct smtpd *sd);

#endif
