/* cidr - client address matching against smtp.relay_networks */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "smtpd.h"

/* smtpd_cidr_match - lib's one matcher (netaddr_list_match) */
bool
smtpd_cidr_match(const char *list, const struct sockaddr *sa,
		 const char **bad_r)
{
	char ip[INET6_ADDRSTRLEN];
	const char *bad = NULL;
	bool ok;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		if (bad_r != NULL)
			*bad_r = NULL;
		return false;
	}
	sockaddr_ntop(sa, ip, sizeof(ip));
	ok = netaddr_list_match(ip, list, &bad);
	if (bad_r != NULL)
		*bad_r = bad;
	return ok;
}

/* smtpd_is_loopback - a client on this host (lib's sockaddr_is_loopback,
 * which imapd and pop3d use for their plaintext login rule) */
bool
smtpd_is_loopback(const struct sockaddr *sa)
{
	return sa->sa_family != AF_UNIX && sockaddr_is_loopback(sa);
}
