/* out-dane - DANE (RFC 7672) for MX delivery: the TLSA records of each
 * MX host looked up on a DNSSEC-validated answer, what they ask of the
 * TLS session, and OpenSSL's DANE verification of the peer (smtp-out.h:
 * dane_*).
 *
 * Trust in DNSSEC: the answers' AD bit, set by the resolver of dns.hosts
 * (or /etc/resolv.conf). c-ares does no validation itself, so the AD bit
 * is believed only when the administrator says, with dane.enabled, that
 * this resolver validates and that the path to it is trusted (loopback:
 * unbound, knot-resolver, systemd-resolved with DNSSEC=yes). */
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "settings.h"
#include "xalloc.h"
#include "smtp-out.h"

static void tlsa_done(void *ctx, enum dns_status st, bool secure,
		      const struct dns_tlsa *tlsa, size_t n, size_t malformed,
		      const char *error);

bool
dane_enabled(struct outsvc *o)
{
	return settings_current(o->svc->db)->dane_enabled != 0;
}

void
dane_reset(struct dest *d)
{
	for (size_t i = 0; i < d->ntlsa; i++)
		free(d->tlsa[i].data);
	free(d->tlsa);
	d->tlsa = NULL;
	d->ntlsa = 0;
	d->dane = DANE_OFF;
	d->tlsa_base[0] = '\0';
	d->dane_orig = false;
}

/* dane_base - the TLSA base domain: the CNAME-expanded MX host name when
 * its TLSA records decided (RFC 7672 2.2.3), else the MX host name */
const char *
dane_base(const struct dest *d)
{
	return d->tlsa_base[0] != '\0' ? d->tlsa_base : d->mxname;
}

/* tlsa_lookup - the TLSA records of _port._tcp.name */
static void
tlsa_lookup(struct dest *d, const char *name)
{
	char *q = xasprintf("_%d._tcp.%s", dest_port(d), name);

	dns_lookup_tlsa(d->o->dns, q, tlsa_done, d);
	free(q);
}

/* tlsa_usable - RFC 7672 3.1: DANE-TA(2) and DANE-EE(3) only (PKIX-TA
 * and PKIX-EE are unusable for SMTP), selector 0 or 1, matching type 0,
 * 1 (SHA2-256, 32 bytes) or 2 (SHA2-512, 64 bytes) */
static bool
tlsa_usable(const struct dns_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		return false;
	if (t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->len > 0;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return false;
	}
}

void
dane_tlsa_text(const struct dest *d, struct buf *out)
{
	for (size_t i = 0; i < d->ntlsa; i++) {
		const struct dane_tlsa *t = &d->tlsa[i];

		if (i > 0)
			buf_putc(out, '|');
		buf_printf(out, "%u %u %u ", t->usage, t->selector, t->mtype);
		for (size_t k = 0; k < t->len && k < 64; k++)
			buf_printf(out, "%02x", t->data[k]);
		if (t->len > 64)
			buf_puts(out, "...");
	}
}

static void
tlsa_done(void *ctx, enum dns_status st, bool secure,
	  const struct dns_tlsa *tlsa, size_t n, size_t malformed,
	  const char *error)
{
	struct dest *d = ctx;
	size_t unusable = malformed;

	if (d->tlsa_base[0] != '\0' && !d->dane_orig && st != DNS_TEMPFAIL &&
	    (st != DNS_OK || !secure)) {
		/* RFC 7672 2.2.3: no secure TLSA records at the expanded
		 * name: those of the original name */
		log_info("%s: DANE: %s: no secure TLSA records at its CNAME "
		    "target %s: trying _%d._tcp.%s", d->rt.key, d->mxname,
		    d->tlsa_base, dest_port(d), d->mxname);
		d->tlsa_base[0] = '\0';
		d->dane_orig = true;
		tlsa_lookup(d, d->mxname);
		return;
	}
	if (st == DNS_TEMPFAIL) {
		/* RFC 7672 2.2: a failed or bogus TLSA lookup makes the
		 * host unusable; no plain-text nor unauthenticated fall back */
		free(d->last_error);
		d->last_error = xasprintf("451 4.7.5 DANE: TLSA lookup of "
		    "_%d._tcp.%s failed: %s", dest_port(d), dane_base(d),
		    error ? error : "failed");
		log_warnx("%s: DANE: TLSA lookup of _%d._tcp.%s failed (%s): "
		    "MX host skipped", d->rt.key, dest_port(d), dane_base(d),
		    error ? error : "failed");
		tlsrpt_record(d, TLSRPT_TLSA, "dnssec-invalid", error);
		d->naddrs = d->addr_i = 0;
		dest_next_addr(d);
		return;
	}
	if (st != DNS_OK || !secure) {
		/* no records, or not validated: no DANE (RFC 7672 2.2) */
		log_info("%s: DANE: %s: %s: no DANE", d->rt.key, d->mxname,
		    st != DNS_OK ? (secure ? "no TLSA records (secure denial)" :
		    "no TLSA records") : "TLSA records insecure (no AD bit)");
		dest_resolve_host(d);
		return;
	}
	d->tlsa = xcalloc(n ? n : 1, sizeof(*d->tlsa));
	for (size_t i = 0; i < n; i++) {
		if (!tlsa_usable(&tlsa[i])) {
			unusable++;
			continue;
		}
		struct dane_tlsa *t = &d->tlsa[d->ntlsa++];
		t->usage = tlsa[i].usage;
		t->selector = tlsa[i].selector;
		t->mtype = tlsa[i].mtype;
		t->len = tlsa[i].len;
		t->data = xmalloc(t->len);
		memcpy(t->data, tlsa[i].data, t->len);
	}
	if (d->ntlsa > 0) {
		d->dane = DANE_VERIFY;
		log_info("%s: DANE: %s: %zu usable TLSA record(s)%s%s%s",
		    d->rt.key, d->mxname, d->ntlsa, unusable ?
		    ", others unusable" : "", d->tlsa_base[0] != '\0' ?
		    " at its CNAME target " : "", d->tlsa_base);
	} else {
		/* RFC 7672 2.2: a secure RRset whose records are all unusable
		 * still says that the server does TLS: encrypt, without
		 * authentication (Postfix: security level "encrypt") */
		d->dane = DANE_ENCRYPT;
		log_warnx("%s: DANE: %s: no usable TLSA record (%zu unusable "
		    "or malformed): TLS required, not authenticated",
		    d->rt.key, d->mxname, unusable);
		tlsrpt_record(d, TLSRPT_TLSA, "tlsa-invalid",
		    "no usable TLSA record");
	}
	d->notls = false;
	dest_resolve_host(d);
}

static void
addr_secure_done(void *ctx, enum dns_status st, bool secure,
		 const char *cname, const char *error)
{
	struct dest *d = ctx;

	if (st == DNS_NOTFOUND && !d->dane_aaaa) {
		/* no A records: the AAAA records decide */
		d->dane_aaaa = true;
		dns_lookup_secure(d->o->dns, d->mxname, ns_t_aaaa,
		    addr_secure_done, d);
		return;
	}
	if (st != DNS_OK || !secure) {
		/* a failure shows again in the address lookup that follows */
		log_info("%s: DANE: the address records of %s are %s: no DANE",
		    d->rt.key, d->mxname, st == DNS_OK ? "insecure" :
		    error ? error : "not found");
		dest_resolve_host(d);
		return;
	}
	if (cname != NULL && strcasecmp(cname, d->mxname) != 0 &&
	    strlen(cname) < sizeof(d->tlsa_base)) {
		/* RFC 7672 2.2.3: a secure CNAME chain; the expanded name
		 * is the TLSA base domain first */
		snprintf(d->tlsa_base, sizeof(d->tlsa_base), "%s", cname);
		tlsa_lookup(d, cname);
		return;
	}
	tlsa_lookup(d, d->mxname);
}

int
dane_start(struct dest *d, const struct dns_mx *mx)
{
	dane_reset(d);
	if (d->rt.relay || !dane_enabled(d->o))
		return 0;
	if (!mx->secure) {
		log_info("%s: DANE: the MX RRset of %s is insecure: no DANE for "
		    "%s", d->rt.key, d->rt.domain, mx->host);
		return 0;
	}
	/* RFC 7672 2.2.2: the host's address records must be secure too */
	d->dane_aaaa = false;
	dns_lookup_secure(d->o->dns, mx->host, ns_t_a, addr_secure_done, d);
	return 1;
}

SSL_CTX *
dane_tls_ctx(struct outsvc *o)
{
	if (o->tls_dane != NULL)
		return o->tls_dane;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		log_warnx("DANE: OpenSSL refuses SSL_CTX_dane_enable");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	o->tls_dane = ctx;
	return ctx;
}

int
dane_setup(struct dest *d, SSL *ssl)
{
	size_t added = 0;

	/* RFC 7672 3.2.2: the reference identifiers are the TLSA base
	 * domain and, when it is the CNAME-expanded name, the MX host name */
	if (SSL_dane_enable(ssl, dane_base(d)) <= 0 ||
	    (d->tlsa_base[0] != '\0' && SSL_add1_host(ssl, d->mxname) != 1)) {
		ERR_clear_error();
		return -1;
	}
	/* RFC 7672 3.1.1: DANE-EE(3) ignores names and validity dates */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < d->ntlsa; i++) {
		const struct dane_tlsa *t = &d->tlsa[i];

		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype,
		    t->data, t->len) > 0)
			added++;
	}
	ERR_clear_error();
	if (added == 0)
		return -1;
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return 0;
}

void
dane_describe(SSL *ssl, char *out, size_t size)
{
	uint8_t usage = 0, sel = 0, mtype = 0;
	const unsigned char *data = NULL;
	size_t dlen = 0;
	int depth = SSL_get0_dane_tlsa(ssl, &usage, &sel, &mtype, &data, &dlen);

	if (depth < 0)
		snprintf(out, size, "no TLSA record matched");
	else
		snprintf(out, size, "TLSA %u %u %u matched the certificate at "
		    "depth %d", usage, sel, mtype, depth);
}
