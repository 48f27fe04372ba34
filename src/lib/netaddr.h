#ifndef POSTERN_NETADDR_H
#define POSTERN_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A listener address from a "<name>.listen" setting. */
struct netaddr {
	char host[64];              /* numeric, without brackets */
	int port;
	struct sockaddr_storage ss;
	socklen_t sslen;
};

/* netaddr_parse - parse "addr:port" or "[v6]:port" (numeric addresses
 * only) into a; -1 with an error. */
int netaddr_parse(const char *spec, struct netaddr *a, const char **error_r);
/* netaddr_parse_list - parse "a:p[,a:p...]" (spaces allowed); allocates
 * *list_r (free()) and sets *n_r. An empty string gives an empty list. */
int netaddr_parse_list(const char *spec, struct netaddr **list_r, size_t *n_r,
		       const char **error_r);
/* netaddr_format - "host:port" or "[v6]:port" into out. */
void netaddr_format(const struct netaddr *a, char *out, size_t size);
/* netaddr_listen - socket, SO_REUSEADDR, bind, listen, non-blocking,
 * close-on-exec; fd or -1 (errno set). */
int netaddr_listen(const struct netaddr *a, int backlog);
/* sockaddr_ntop - numeric text of a socket address (no port). */
void sockaddr_ntop(const struct sockaddr *sa, char *out, size_t size);

/* sockaddr_is_loopback - a client on this host: 127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104, or a UNIX socket */
bool sockaddr_is_loopback(const struct sockaddr *sa);

/* netaddr_cidr_match - whether the numeric address ip lies in net
 * ("a.b.c.d/n", "v6/n" or a bare address) */
bool netaddr_cidr_match(const char *ip, const char *net);
/* netaddr_in_list - the same for a space or comma separated list of
 * networks (smtp.relay_networks) */
bool netaddr_in_list(const char *ip, const char *list);
/* netaddr_list_match - netaddr_in_list, with the last malformed entry
 * (skipped) in *bad_r (NULL: none). The one relay-network matcher:
 * smtpd's smtpd_cidr_match and env_from_here both use it. A v4-mapped
 * IPv6 address matches as IPv4. */
bool netaddr_list_match(const char *ip, const char *list, const char **bad_r);

#endif
