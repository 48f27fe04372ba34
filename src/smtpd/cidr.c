/* cidr - client address matching against smtp.relay_networks */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "smtpd.h"

/* addr_bytes - the address of sa as 4 or 16 bytes (v4-mapped v6 as v4) */
static int
addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(out, a->s6_addr, 16);
		return 16;
	}
	return 0;
}

bool
smtpd_cidr_match(const char *list, const struct sockaddr *sa,
		 const char **bad_r)
{
	unsigned char client[16];
	int clen = addr_bytes(sa, client);
	const char *p = list;

	if (bad_r != NULL)
		*bad_r = NULL;
	while (clen > 0 && *p != '\0') {
		char item[80], *slash;
		size_t n = strcspn(p, " ,\t");
		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(item)) {
			if (bad_r != NULL)
				*bad_r = "entry too long";
			p += n;
			continue;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		unsigned char net[16];
		int nlen, bits;
		slash = strchr(item, '/');
		if (slash != NULL)
			*slash = '\0';
		if (inet_pton(AF_INET, item, net) == 1)
			nlen = 4;
		else if (inet_pton(AF_INET6, item, net) == 1)
			nlen = 16;
		else {
			if (bad_r != NULL)
				*bad_r = "not a numeric address";
			continue;
		}
		bits = nlen * 8;
		if (slash != NULL) {
			char *end;
			long b = strtol(slash + 1, &end, 10);
			if (*end != '\0' || end == slash + 1 || b < 0 || b > nlen * 8) {
				if (bad_r != NULL)
					*bad_r = "bad prefix length";
				continue;
			}
			bits = (int)b;
		}
		if (nlen != clen)
			continue;
		int full = bits / 8, rest = bits % 8;
		if (memcmp(net, client, (size_t)full) != 0)
			continue;
		if (rest != 0) {
			unsigned char mask = (unsigned char)(0xff << (8 - rest));
			if ((net[full] & mask) != (client[full] & mask))
				continue;
		}
		return true;
	}
	return false;
}

/* smtpd_is_loopback - a client on this host (lib's sockaddr_is_loopback,
 * which imapd and pop3d use for their plaintext login rule) */
bool
smtpd_is_loopback(const struct sockaddr *sa)
{
	return sa->sa_family != AF_UNIX && sockaddr_is_loopback(sa);
}
