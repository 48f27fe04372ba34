/* netaddr - listener address specs and listening sockets */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netaddr.h"
#include "strutil.h"
#include "xalloc.h"

int
netaddr_parse(const char *spec, struct netaddr *a, const char **error_r)
{
	char host[64];
	const char *colon, *hs, *he;
	long long port;

	memset(a, 0, sizeof(*a));
	if (spec[0] == '[') {
		he = strchr(spec, ']');
		if (he == NULL || he[1] != ':') {
			*error_r = "expected [ipv6]:port";
			return -1;
		}
		hs = spec + 1;
		colon = he + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL) {
			*error_r = "expected addr:port";
			return -1;
		}
		hs = spec;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs) {
		*error_r = "bad address";
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (parse_long(colon + 1, 1, 65535, &port) < 0) {
		*error_r = "port must be 1-65535";
		return -1;
	}
	a->port = (int)port;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->sslen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->sslen = sizeof(*s6);
	} else {
		*error_r = "address must be a numeric IPv4 or IPv6 address";
		return -1;
	}
	memcpy(a->host, host, sizeof(a->host));
	return 0;
}

int
netaddr_parse_list(const char *spec, struct netaddr **list_r, size_t *n_r,
		   const char **error_r)
{
	char *copy = xstrdup(spec), *save = NULL, *tok;
	struct netaddr *list = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		list = xreallocarray(list, n + 1, sizeof(*list));
		if (netaddr_parse(tok, &list[n], error_r) < 0) {
			free(list);
			free(copy);
			return -1;
		}
		n++;
	}
	free(copy);
	*list_r = list;
	*n_r = n;
	return 0;
}

void
netaddr_format(const struct netaddr *a, char *out, size_t size)
{
	if (a->ss.ss_family == AF_INET6)
		snprintf(out, size, "[%s]:%d", a->host, a->port);
	else
		snprintf(out, size, "%s:%d", a->host, a->port);
}

int
netaddr_listen(const struct netaddr *a, int backlog)
{
	int fd, one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->sslen) < 0 ||
	    listen(fd, backlog) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
sockaddr_ntop(const struct sockaddr *sa, char *out, size_t size)
{
	const void *addr;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(out, size, "local");
		return;
	}
	if (inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL)
		snprintf(out, size, "?");
}

/* sockaddr_is_loopback - see netaddr.h */
bool
sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->
		    sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return sa->sa_family == AF_UNIX;
}

/* netaddr_cidr_match - whether numeric ip lies in net ("a.b.c.d/n", "v6/n" or a
 * bare address) */
bool
netaddr_cidr_match(const char *ip, const char *net)
{
	unsigned char a[16], b[16];
	char host[64];
	const char *slash = strchr(net, '/');
	size_t hlen = slash ? (size_t)(slash - net) : strlen(net);
	int fam, bits, alen;

	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, net, hlen);
	host[hlen] = '\0';
	fam = strchr(host, ':') ? AF_INET6 : AF_INET;
	alen = fam == AF_INET ? 4 : 16;
	if (inet_pton(fam, host, b) != 1 || inet_pton(fam, ip, a) != 1)
		return false;
	bits = alen * 8;
	if (slash != NULL) {
		long long v;
		if (parse_long(slash + 1, 0, alen * 8, &v) < 0)
			return false;
		bits = (int)v;
	}
	for (int i = 0; i < alen && bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}
	return true;
}

/* netaddr_in_list - whether ip lies in one of the networks of list */
bool
netaddr_in_list(const char *ip, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	bool ok = false;

	for (char *t = strtok_r(copy, " ,\t", &save); t != NULL && !ok;
	    t = strtok_r(NULL, " ,\t", &save))
		ok = netaddr_cidr_match(ip, t);
	free(copy);
	return ok;
}
