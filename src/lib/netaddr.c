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

/* addr_bytes - numeric ip as 4 or 16 bytes (v4-mapped v6 as v4); 0 if
 * it is not a numeric address */
static int
addr_bytes(const char *ip, unsigned char out[16])
{
	if (inet_pton(AF_INET, ip, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, ip, out) != 1)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)out)) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

/* cidr_match - 1 when ip lies in net, 0 when not, -1 for a malformed net
 * (*bad_r says what) */
static int
cidr_match(const unsigned char *a, int alen, const char *net,
	   const char **bad_r)
{
	unsigned char b[16];
	char host[64];
	const char *slash = strchr(net, '/');
	size_t hlen = slash ? (size_t)(slash - net) : strlen(net);
	int blen, bits;

	if (hlen == 0 || hlen >= sizeof(host)) {
		*bad_r = "entry too long";
		return -1;
	}
	memcpy(host, net, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, b) == 1)
		blen = 4;
	else if (inet_pton(AF_INET6, host, b) == 1)
		blen = 16;
	else {
		*bad_r = "not a numeric address";
		return -1;
	}
	bits = blen * 8;
	if (slash != NULL) {
		long long v;
		if (parse_long(slash + 1, 0, blen * 8, &v) < 0) {
			*bad_r = "bad prefix length";
			return -1;
		}
		bits = (int)v;
	}
	if (alen != blen)
		return 0;
	for (int i = 0; i < alen && bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & mask) != (b[i] & mask))
			return 0;
	}
	return 1;
}

/* netaddr_cidr_match - whether numeric ip lies in net ("a.b.c.d/n", "v6/n" or a
 * bare address) */
bool
netaddr_cidr_match(const char *ip, const char *net)
{
	unsigned char a[16];
	const char *bad = NULL;
	int alen = addr_bytes(ip, a);

	return alen > 0 && cidr_match(a, alen, net, &bad) == 1;
}

/* netaddr_list_match - whether ip lies in one of the networks of list;
 * malformed entries are skipped, the last one reported in *bad_r */
bool
netaddr_list_match(const char *ip, const char *list, const char **bad_r)
{
	unsigned char a[16];
	int alen = addr_bytes(ip, a);
	char *copy = xstrdup(list), *save = NULL;
	const char *bad = NULL;
	bool ok = false;

	for (char *t = strtok_r(copy, " ,\t", &save); t != NULL && !ok;
	    t = strtok_r(NULL, " ,\t", &save))
		ok = cidr_match(a, alen, t, &bad) == 1 && alen > 0;
	free(copy);
	if (bad_r != NULL)
		*bad_r = bad;
	return ok;
}

/* netaddr_in_list - whether ip lies in one of the networks of list */
bool
netaddr_in_list(const char *ip, const char *list)
{
	return netaddr_list_match(ip, list, NULL);
}
