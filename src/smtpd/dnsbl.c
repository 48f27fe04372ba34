/* dnsbl - DNS block list query names, answers and reasons (RFC 5782) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dnsbl.h"
#include "strutil.h"

size_t
dnsbl_zones_parse(const char *list, char zones[][DNSBL_ZONE_MAX + 1],
		  size_t max, const char **bad_r)
{
	const char *p = list, *err;
	size_t n = 0;

	if (bad_r != NULL)
		*bad_r = NULL;
	while (*p != '\0') {
		size_t len = strcspn(p, " ,\t");
		char zone[DNSBL_ZONE_MAX + 1];

		if (len == 0) {
			p++;
			continue;
		}
		if (len > DNSBL_ZONE_MAX) {
			if (bad_r != NULL)
				*bad_r = "zone name too long";
		} else if (n >= max) {
			if (bad_r != NULL)
				*bad_r = "too many zones";
		} else {
			memcpy(zone, p, len);
			zone[len] = '\0';
			if (zone[len - 1] == '.')
				zone[len - 1] = '\0';
			if (domain_check(zone, &err) < 0) {
				if (bad_r != NULL)
					*bad_r = "not a DNS name";
			} else {
				str_lower(zone);
				memcpy(zones[n++], zone, strlen(zone) + 1);
			}
		}
		p += len;
	}
	return n;
}

int
dnsbl_query_name(const struct sockaddr *sa, const char *zone, char *out,
		 size_t out_size)
{
	const unsigned char *b;
	size_t len = 0;
	int n;

	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		static const char hex[] = "0123456789abcdef";

		b = a->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			goto v4;
		if (out_size < 64 + 1)
			return -1;
		for (int i = 15; i >= 0; i--) {
			out[len++] = hex[b[i] & 0xf];
			out[len++] = '.';
			out[len++] = hex[b[i] >> 4];
			out[len++] = '.';
		}
		n = snprintf(out + len, out_size - len, "%s", zone);
		return n < 0 || (size_t)n >= out_size - len ? -1 : 0;
	}
	if (sa->sa_family != AF_INET)
		return -1;
	b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	n = snprintf(out, out_size, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
	    zone);
	return n < 0 || (size_t)n >= out_size ? -1 : 0;
v4:
	b += 12;
	n = snprintf(out, out_size, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
	    zone);
	return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

enum dnsbl_answer
dnsbl_classify(const struct sockaddr_storage *addrs, size_t n, char *code_r,
	       size_t code_size)
{
	enum dnsbl_answer res = DNSBL_NOT_LISTED;

	if (code_r != NULL && code_size > 0)
		code_r[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b;
		enum dnsbl_answer this;

		if (addrs[i].ss_family != AF_INET) {
			if (res == DNSBL_NOT_LISTED)
				res = DNSBL_BOGUS;
			continue;
		}
		b = (const unsigned char *)
		    &((const struct sockaddr_in *)&addrs[i])->sin_addr;
		if (b[0] != 127)
			this = DNSBL_BOGUS;
		else if (b[1] == 255 && b[2] == 255)
			this = DNSBL_LIST_ERROR;
		else
			this = DNSBL_LISTED;
		/* LISTED > LIST_ERROR > BOGUS > NOT_LISTED */
		if ((this == DNSBL_LISTED && res != DNSBL_LISTED) ||
		    (this == DNSBL_LIST_ERROR && res != DNSBL_LISTED &&
		     res != DNSBL_LIST_ERROR) ||
		    (this == DNSBL_BOGUS && res == DNSBL_NOT_LISTED)) {
			res = this;
			if (code_r != NULL)
				snprintf(code_r, code_size, "%u.%u.%u.%u", b[0], b[1],
				    b[2], b[3]);
		}
	}
	return res;
}

size_t
dnsbl_reason_clean(const char *txt, size_t len, char *out)
{
	size_t o = 0;
	bool space = false, cut = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)txt[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (o + (space ? 2 : 1) > DNSBL_REASON_MAX) {
			cut = true;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (c >= 0x21 && c <= 0x7e) ? (char)c : '?';
	}
	if (cut) {
		if (o > DNSBL_REASON_MAX - 3)
			o = DNSBL_REASON_MAX - 3;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}
