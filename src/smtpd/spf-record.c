/* spf-record - SPF record syntax and macro expansion (RFC 7208 4.6, 7, 12) */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spf-record.h"

#define EXPAND_MAX 2048          /* an expansion before it is cut to 253 */

bool
spf_record_is_spf(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (txt[6] == '\0' || txt[6] == ' ');
}

const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = { "none", "neutral", "pass", "fail",
	    "softfail", "temperror", "permerror" };
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* toplabel_ok - RFC 7208 toplabel: alphanumerics and '-', not at either
 * end, not all digits */
static bool
toplabel_ok(const char *p, size_t n)
{
	bool alpha = false;

	if (n == 0 || p[0] == '-' || p[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (isalpha((unsigned char)p[i]))
			alpha = true;
		else if (!isdigit((unsigned char)p[i]) && p[i] != '-')
			return false;
	}
	return alpha;
}

/* macro_string_ok - macro-string syntax; *ends_macro_r: it ends with a
 * macro-expand */
static bool
macro_string_ok(const char *s, size_t n, bool *ends_macro_r)
{
	*ends_macro_r = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		*ends_macro_r = false;
		if (c != '%') {
			if (c < 0x21 || c > 0x7e)
				return false;
			continue;
		}
		if (++i >= n)
			return false;
		if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
			*ends_macro_r = true;
			continue;
		}
		if (s[i] != '{' || ++i >= n)
			return false;
		if (strchr("slodiphcrtvSLODIPHCRTV", s[i]) == NULL)
			return false;
		for (i++; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i < n && (s[i] == 'r' || s[i] == 'R'))
			i++;
		for (; i < n && strchr(".-+,/_=", s[i]) != NULL; i++)
			;
		if (i >= n || s[i] != '}')
			return false;
		*ends_macro_r = true;
	}
	return true;
}

/* domain_spec_ok - RFC 7208 domain-spec = macro-string domain-end */
static bool
domain_spec_ok(const char *s, size_t n)
{
	bool ends_macro;
	size_t end, start;

	if (n == 0 || !macro_string_ok(s, n, &ends_macro))
		return false;
	if (ends_macro)
		return true;
	end = n;
	if (s[end - 1] == '.')
		end--;
	for (start = end; start > 0 && s[start - 1] != '.'; start--)
		;
	if (start == 0)
		return false;       /* "." toplabel: a dot is needed */
	return toplabel_ok(s + start, end - start);
}

/* parse_cidr - "/N" with N in 0..max, no leading zero */
static int
parse_cidr(const char **pp, const char *end, int max)
{
	const char *p = *pp + 1;
	int v = 0, digits = 0;

	while (p < end && isdigit((unsigned char)*p) && digits < 4) {
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || v > max || (digits > 1 && (*pp)[1] == '0'))
		return -1;
	*pp = p;
	return v;
}

/* parse_dual_cidr - the prefix lengths ending a term: a and mx
 * [ "/" ip4 ] [ "//" ip6 ]; ip4 [ "/" ip4 ]; ip6 [ "/" ip6 ] */
static int
parse_dual_cidr(const char *p, const char *end, struct spf_term *t,
		bool v4, bool v6)
{
	if (v4 && p < end && *p == '/' && (p + 1 >= end || p[1] != '/')) {
		if ((t->cidr4 = parse_cidr(&p, end, 32)) < 0)
			return -1;
	}
	if (v6 && p < end && *p == '/') {
		if (v4) {               /* dual: "//N" */
			if (p + 1 >= end || p[1] != '/')
				return -1;
			p++;
		}
		if ((t->cidr6 = parse_cidr(&p, end, 128)) < 0)
			return -1;
	}
	return p == end ? 0 : -1;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{ "all", SPF_ALL }, { "include", SPF_INCLUDE }, { "a", SPF_A },
	{ "mx", SPF_MX }, { "ptr", SPF_PTR }, { "ip4", SPF_IP4 },
	{ "ip6", SPF_IP6 }, { "exists", SPF_EXISTS },
};

/* parse_directive - one [qualifier] mechanism */
static int
parse_directive(const char *p, const char *end, struct spf_term *t,
		const char **error_r)
{
	size_t nlen;
	const char *arg;

	memset(t, 0, sizeof(*t));
	t->qualifier = SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	switch (*p) {
	case '+': t->qualifier = SPF_PASS; p++; break;
	case '-': t->qualifier = SPF_FAIL; p++; break;
	case '~': t->qualifier = SPF_SOFTFAIL; p++; break;
	case '?': t->qualifier = SPF_NEUTRAL; p++; break;
	}
	for (nlen = 0; p + nlen < end && isalnum((unsigned char)p[nlen]); nlen++)
		;
	size_t i;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == nlen &&
		    strncasecmp(mechs[i].name, p, nlen) == 0)
			break;
	if (i == sizeof(mechs) / sizeof(mechs[0])) {
		*error_r = "unknown mechanism";
		return -1;
	}
	t->mech = mechs[i].mech;
	arg = p + nlen;
	switch (t->mech) {
	case SPF_ALL:
		if (arg != end) {
			*error_r = "bad all";
			return -1;
		}
		return 0;
	case SPF_INCLUDE:
	case SPF_EXISTS:
		if (arg >= end || *arg != ':' ||
		    !domain_spec_ok(arg + 1, (size_t)(end - arg - 1))) {
			*error_r = "bad domain-spec";
			return -1;
		}
		t->domain = arg + 1;
		t->domain_len = (size_t)(end - arg - 1);
		return 0;
	case SPF_A:
	case SPF_MX:
	case SPF_PTR: {
		const char *slash = arg;
		if (arg < end && *arg == ':') {
			/* the domain-spec ends at a cidr: the first '/' */
			for (slash = arg + 1; slash < end && *slash != '/'; slash++)
				;
			if (t->mech == SPF_PTR)
				slash = end;
			if (!domain_spec_ok(arg + 1, (size_t)(slash - arg - 1))) {
				*error_r = "bad domain-spec";
				return -1;
			}
			t->domain = arg + 1;
			t->domain_len = (size_t)(slash - arg - 1);
		}
		if (t->mech == SPF_PTR) {
			if (slash != end) {
				*error_r = "bad ptr";
				return -1;
			}
			return 0;
		}
		if (parse_dual_cidr(slash, end, t, true, true) < 0) {
			*error_r = "bad cidr length";
			return -1;
		}
		return 0;
	}
	case SPF_IP4:
	case SPF_IP6: {
		char net[64];
		const char *slash;
		size_t n;

		if (arg >= end || *arg != ':') {
			*error_r = "bad ip network";
			return -1;
		}
		arg++;
		for (slash = arg; slash < end && *slash != '/'; slash++)
			;
		n = (size_t)(slash - arg);
		if (n == 0 || n >= sizeof(net)) {
			*error_r = "bad ip network";
			return -1;
		}
		memcpy(net, arg, n);
		net[n] = '\0';
		if (inet_pton(t->mech == SPF_IP4 ? AF_INET : AF_INET6, net,
		    t->addr) != 1) {
			*error_r = "bad ip network";
			return -1;
		}
		if (parse_dual_cidr(slash, end, t, t->mech == SPF_IP4,
		    t->mech == SPF_IP6) < 0) {
			*error_r = "bad cidr length";
			return -1;
		}
		return 0;
	}
	}
	*error_r = "unknown mechanism";
	return -1;
}

int
spf_record_parse(const char *txt, struct spf_record *rec,
		 const char **error_r)
{
	const char *p = txt;
	bool exp_seen = false;

	memset(rec, 0, sizeof(*rec));
	if (strlen(txt) > SPF_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	if (!spf_record_is_spf(txt)) {
		*error_r = "not an SPF record";
		return -1;
	}
	p += 6;
	for (;;) {
		const char *start, *end, *eq;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != ' ' && *p != '\0')
			p++;
		end = p;
		/* a modifier: name "=" (name = ALPHA *(ALPHA/DIGIT/-/_/.)) */
		for (n = 0; start + n < end && (isalnum((unsigned char)start[n]) ||
		    start[n] == '-' || start[n] == '_' || start[n] == '.'); n++)
			;
		eq = start + n;
		if (n > 0 && eq < end && *eq == '=' &&
		    isalpha((unsigned char)start[0])) {
			const char *val = eq + 1;
			size_t vlen = (size_t)(end - val);
			bool ends;

			if (n == 8 && strncasecmp(start, "redirect", 8) == 0) {
				if (rec->redirect != NULL || !domain_spec_ok(val, vlen)) {
					*error_r = "bad or repeated redirect";
					return -1;
				}
				rec->redirect = val;
				rec->redirect_len = vlen;
			} else if (n == 3 && strncasecmp(start, "exp", 3) == 0) {
				if (exp_seen || !domain_spec_ok(val, vlen)) {
					*error_r = "bad or repeated exp";
					return -1;
				}
				exp_seen = true;
			} else if (!macro_string_ok(val, vlen, &ends)) {
				*error_r = "bad modifier";
				return -1;
			}
			continue;
		}
		if (rec->nterms >= SPF_TERMS_MAX) {
			*error_r = "too many terms";
			return -1;
		}
		if (parse_directive(start, end, &rec->terms[rec->nterms],
		    error_r) < 0)
			return -1;
		rec->nterms++;
	}
	return 0;
}

/* ip_macro - %{i}: dotted IPv4, or dot-separated nibbles of IPv6 */
static void
ip_macro(const struct sockaddr *sa, char *out, size_t size)
{
	if (sa->sa_family == AF_INET6) {
		const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const char hex[] = "0123456789abcdef";
		size_t o = 0;
		for (int i = 0; i < 16 && o + 4 < size; i++) {
			out[o++] = hex[b[i] >> 4];
			out[o++] = '.';
			out[o++] = hex[b[i] & 0xf];
			out[o++] = i < 15 ? '.' : '\0';
		}
		out[o < size ? o : size - 1] = '\0';
		return;
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
	    (socklen_t)size);
}

/* put - append to out, false if it would not fit */
static bool
put(char *out, size_t *o, size_t max, const char *s, size_t n)
{
	if (*o + n >= max)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	return true;
}

/* expand_letter - one %{...}: letter, digits, r, delimiters */
static int
expand_letter(const char *m, size_t n, const struct spf_macro_ctx *ctx,
	      char *out, size_t *o, const char **error_r)
{
	char letter = (char)tolower((unsigned char)m[0]);
	bool url = isupper((unsigned char)m[0]);
	char val[EXPAND_MAX], ip[80], delims[8] = "";
	const char *v = "";
	size_t i = 1, nd = 0;
	long keep = 0;
	bool rev = false;

	switch (letter) {
	case 's': v = ctx->sender; break;
	case 'l': v = ctx->local; break;
	case 'o': v = ctx->sender_domain; break;
	case 'd': v = ctx->domain; break;
	case 'h': v = ctx->helo; break;
	case 'p': v = ctx->validated ? ctx->validated : "unknown"; break;
	case 'v': v = ctx->ip->sa_family == AF_INET6 ? "ip6" : "in-addr"; break;
	case 'i': ip_macro(ctx->ip, ip, sizeof(ip)); v = ip; break;
	default:
		*error_r = "macro letter only allowed in exp";
		return -1;
	}
	while (i < n && isdigit((unsigned char)m[i])) {
		keep = keep * 10 + (m[i] - '0');
		if (keep > 1000)
			keep = 1000;
		i++;
	}
	if (i > 1 && keep == 0) {
		*error_r = "macro digit 0";
		return -1;
	}
	if (i < n && (m[i] == 'r' || m[i] == 'R')) {
		rev = true;
		i++;
	}
	for (; i < n && nd < sizeof(delims) - 1; i++)
		if (strchr(delims, m[i]) == NULL)
			delims[nd++] = m[i];
	if (nd == 0)
		delims[nd++] = '.';
	delims[nd] = '\0';
	snprintf(val, sizeof(val), "%s", v ? v : "");
	/* split into parts, reverse, keep the rightmost, join with '.' */
	const char *parts[256];
	size_t plen[256], np = 0;
	const char *p = val;
	for (;;) {
		size_t l = strcspn(p, delims);
		if (np < 256) {
			parts[np] = p;
			plen[np++] = l;
		}
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	if (rev)
		for (size_t a = 0, b = np - 1; a < b; a++, b--) {
			const char *tp = parts[a]; size_t tl = plen[a];
			parts[a] = parts[b]; plen[a] = plen[b];
			parts[b] = tp; plen[b] = tl;
		}
	size_t first = keep > 0 && (size_t)keep < np ? np - (size_t)keep : 0;
	for (size_t k = first; k < np; k++) {
		if (k > first && !put(out, o, EXPAND_MAX, ".", 1))
			goto long_;
		for (size_t c = 0; c < plen[k]; c++) {
			unsigned char ch = (unsigned char)parts[k][c];
			if (url && !isalnum(ch) && strchr("-._~", ch) == NULL) {
				char esc[4];
				snprintf(esc, sizeof(esc), "%%%02X", ch);
				if (!put(out, o, EXPAND_MAX, esc, 3))
					goto long_;
			} else if (!put(out, o, EXPAND_MAX, (const char *)&ch, 1)) {
				goto long_;
			}
		}
	}
	return 0;
long_:
	*error_r = "macro expansion too long";
	return -1;
}

int
spf_macro_expand(const char *spec, size_t len, const struct spf_macro_ctx *ctx,
		 char *out, size_t out_size, const char **error_r)
{
	char buf[EXPAND_MAX];
	size_t o = 0, i;
	bool ends;

	if (!macro_string_ok(spec, len, &ends)) {
		*error_r = "bad macro";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (spec[i] != '%') {
			if (!put(buf, &o, sizeof(buf), spec + i, 1))
				goto long_;
			continue;
		}
		i++;
		if (spec[i] == '%') {
			if (!put(buf, &o, sizeof(buf), "%", 1))
				goto long_;
		} else if (spec[i] == '_') {
			if (!put(buf, &o, sizeof(buf), " ", 1))
				goto long_;
		} else if (spec[i] == '-') {
			if (!put(buf, &o, sizeof(buf), "%20", 3))
				goto long_;
		} else {
			const char *close = memchr(spec + i, '}', len - i);
			if (expand_letter(spec + i + 1, (size_t)(close - spec - i - 1),
			    ctx, buf, &o, error_r) < 0)
				return -1;
			i = (size_t)(close - spec);
		}
	}
	buf[o] = '\0';
	/* RFC 7208 7.3: over 253 octets, left-hand labels go */
	const char *res = buf;
	if (o > 0 && buf[o - 1] == '.')
		buf[--o] = '\0';
	while (strlen(res) > SPF_DOMAIN_MAX) {
		const char *dot = strchr(res, '.');
		if (dot == NULL) {
			*error_r = "expanded domain too long";
			return -1;
		}
		res = dot + 1;
	}
	if (strlen(res) >= out_size) {
		*error_r = "expanded domain too long";
		return -1;
	}
	memcpy(out, res, strlen(res) + 1);
	return 0;
long_:
	*error_r = "macro expansion too long";
	return -1;
}
