/* out-route - where a recipient goes and which hosts to try (pure) */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "out-route.h"
#include "strutil.h"
#include "xalloc.h"

/* route_free - free what *rt holds and zero it */
void route_free(struct route *rt)
{
	free(rt->key);
	free(rt->domain);
	free(rt->host);
	free(rt->user);
	if (rt->password != NULL)
		OPENSSL_cleanse(rt->password, strlen(rt->password));
	free(rt->password);
	free(rt->why);
	memset(rt, 0, sizeof(*rt));
}

/* route_hostport_split - "host[:port]" or "[v6]:port" */
void route_hostport_split(const char *s, char **host_r, int *port_r)
{
	const char *colon;

	*port_r = 25;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb != NULL) {
			*host_r = xstrndup(s + 1, (size_t)(rb - s - 1));
			if (rb[1] == ':')
				*port_r = atoi(rb + 2);
			if (*port_r <= 0 || *port_r > 65535)
				*port_r = 25;
			return;
		}
	}
	colon = strrchr(s, ':');
	if (colon != NULL && strchr(s, ':') == colon) {
		*host_r = xstrndup(s, (size_t)(colon - s));
		*port_r = atoi(colon + 1);
	} else {
		*host_r = xstrdup(s);
	}
	if (*port_r <= 0 || *port_r > 65535)
		*port_r = 25;
}

static void route_relay(struct route *rt, const char *hostport, bool auth,
			const char *user, const char *password, const char *why)
{
	route_hostport_split(hostport, &rt->host, &rt->port);
	rt->relay = true;
	rt->auth = auth && user != NULL && user[0] != '\0';
	rt->user = xstrdup(user ? user : "");
	rt->password = xstrdup(password ? password : "");
	rt->why = xstrdup(why);
	rt->key = xasprintf("relay:%s:%d:%s", rt->host, rt->port,
			    rt->auth ? rt->user : "");
}

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* route_domain - the lower-case domain of rcpt */
char *route_domain(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	char *domain = xstrdup(at ? at + 1 : "");

	str_lower(domain);
	return domain;
}

/* route_decide - domain smart host, post office smart host, global smart
 * host, address literal, else MX */
void route_decide(const struct route_conf *c, const char *rcpt,
		  struct route *rt)
{
	char *domain = route_domain(rcpt);
	size_t l = strlen(domain);

	memset(rt, 0, sizeof(*rt));
	/* 1. the recipient domain acts as smart host (manual 5.4.2) */
	if (set(c->domain_smarthost)) {
		route_relay(rt, c->domain_smarthost, false, NULL, NULL,
			    "domain smart host");
		free(domain);
		return;
	}
	/* 2. the sender's post office smart host (manual 5.3.3) */
	if (set(c->po_smarthost)) {
		route_relay(rt, c->po_smarthost, c->po_auth, c->po_user,
			    c->po_password, "post office smart host");
		free(domain);
		return;
	}
	/* 3. the global smart host */
	if (set(c->smarthost)) {
		route_relay(rt, c->smarthost, c->smarthost_auth,
			    c->smarthost_user, c->smarthost_password,
			    "smart host");
		free(domain);
		return;
	}
	/* 4. a domain literal: that address, no MX (RFC 5321 4.1.3) */
	if (l > 2 && domain[0] == '[' && domain[l - 1] == ']') {
		const char *ip = domain + 1;

		domain[l - 1] = '\0';
		if (strncasecmp(ip, "ipv6:", 5) == 0)
			ip += 5;
		rt->relay = true;
		rt->host = xstrdup(ip);
		rt->port = 0;
		rt->user = xstrdup("");
		rt->password = xstrdup("");
		rt->why = xstrdup("address literal");
		rt->key = xasprintf("literal:%s", ip);
		free(domain);
		return;
	}
	/* 5. MX */
	rt->domain = domain;
	rt->key = xasprintf("mx:%s", domain);
	rt->why = xstrdup("MX");
}

/* route_mx_hosts - which exchangers of an MX answer to try */
int route_mx_hosts(enum dns_status st, const struct dns_mx *mx, size_t n,
		   const char *self, const char *domain, const char *error,
		   size_t *keep_r, char **reply_r)
{
	size_t keep = n;

	*keep_r = 0;
	*reply_r = NULL;
	switch (st) {
	case DNS_OK:
		/* RFC 5321 5.1: when we are one of the MXs, only the more
		 * preferred ones may be used */
		for (size_t i = 0; self != NULL && i < n; i++)
			if (str_eq_ci(mx[i].host, self)) {
				keep = 0;
				while (keep < n && mx[keep].pref < mx[i].pref)
					keep++;
				break;
			}
		if (keep == 0) {
			*reply_r = xasprintf("554 5.4.6 mail for %s loops back "
					     "to myself (this host is its best "
					     "MX)", domain);
			return -1;
		}
		*keep_r = keep;
		return 1;
	case DNS_NULLMX:
		*reply_r = xasprintf("556 5.1.10 domain %s accepts no mail "
				     "(null MX)", domain);
		return -1;
	case DNS_NOTFOUND:
		*reply_r = xasprintf("550 5.1.2 domain %s not found", domain);
		return -1;
	default:
		*reply_r = xasprintf("451 4.4.3 MX lookup for %s failed: %s",
				     domain, error ? error : "temporary failure");
		return 0;
	}
}
