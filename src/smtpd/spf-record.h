#ifndef POSTERN_SMTPD_SPF_RECORD_H
#define POSTERN_SMTPD_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* spf-record - the SPF record syntax (RFC 7208 4.6, 12) and macro
 * expansion (7): pure functions of outside text (a TXT record), bounded.
 * spf.c evaluates records against DNS. */

#define SPF_RECORD_MAX 4096     /* a TXT record longer than this: permerror */
#define SPF_TERMS_MAX 64        /* terms in one record */
#define SPF_DOMAIN_MAX 253      /* an expanded domain-spec, after cutting */

enum spf_result {
	SPF_NONE = 0, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL,
	SPF_TEMPERROR, SPF_PERMERROR,
};

enum spf_mech {
	SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6,
	SPF_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qualifier;    /* PASS, FAIL, SOFTFAIL, NEUTRAL */
	const char *domain;           /* domain-spec (unexpanded), NULL: none */
	size_t domain_len;
	unsigned char addr[16];       /* ip4 / ip6 */
	int cidr4, cidr6;             /* prefix lengths (32 / 128 if absent) */
};

struct spf_record {
	size_t nterms;
	struct spf_term terms[SPF_TERMS_MAX];
	const char *redirect;         /* redirect= domain-spec, NULL: none */
	size_t redirect_len;
};

/* spf_record_is_spf - whether a TXT string is an SPF record: "v=spf1"
 * alone or followed by a space (RFC 7208 4.5). */
bool spf_record_is_spf(const char *txt);

/* spf_record_parse - the terms of an SPF record; pointers point into txt,
 * which must outlive rec. -1 with an error: a syntax error, an unknown
 * mechanism, two redirect= or exp=, too many terms (all permerror). */
int spf_record_parse(const char *txt, struct spf_record *rec,
		     const char **error_r);

/* What macros expand to (RFC 7208 7.3). */
struct spf_macro_ctx {
	const char *sender;           /* s: local-part@domain */
	const char *local;            /* l */
	const char *sender_domain;    /* o */
	const char *domain;           /* d: the current domain */
	const struct sockaddr *ip;    /* i, v */
	const char *helo;             /* h */
	const char *validated;        /* p: a validated name, NULL "unknown" */
};

/* spf_macro_expand - expand a domain-spec of len bytes into out (a domain
 * name: over 253 octets, labels are cut from the left, RFC 7208 7.3).
 * -1 with an error for bad macro syntax (permerror). */
int spf_macro_expand(const char *spec, size_t len,
		     const struct spf_macro_ctx *ctx, char *out,
		     size_t out_size, const char **error_r);

const char *spf_result_name(enum spf_result r);

#endif
