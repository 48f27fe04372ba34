/* publish - the records a hosted domain publishes (publish.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "buf.h"
#include "publish.h"
#include "settings.h"
#include "xalloc.h"

int
publish_spki_sha256(const char *pem_path, char *out, size_t size,
		    char *error, size_t esize)
{
	FILE *f = fopen(pem_path, "r");
	X509 *x;
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	int len;

	if (f == NULL) {
		snprintf(error, esize, "cannot read the certificate %s",
		    pem_path);
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		snprintf(error, esize, "no PEM certificate in %s", pem_path);
		return -1;
	}
	/* selector 1: the SubjectPublicKeyInfo, which a renewal with the
	 * same key keeps (RFC 7671 8.1) */
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	X509_free(x);
	if (len <= 0) {
		snprintf(error, esize, "cannot encode the public key of %s",
		    pem_path);
		return -1;
	}
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	int n = snprintf(out, size, "3 1 1 ");
	for (size_t i = 0; i < sizeof(md) && (size_t)n + 3 <= size; i++)
		n += snprintf(out + n, size - (size_t)n, "%02x", md[i]);
	return 0;
}

void
publish_records(struct db *db, const char *domain, struct publish_records *p)
{
	const char *err = NULL;

	memset(p, 0, sizeof(*p));
	/* MTA-STS: the policy httpd serves (src/httpd/mta-sts.c) */
	const char *mode = settings_text(settings_current(db), SETTING_mta_sts_publish);
	if (mode[0] != '\0' && strcmp(mode, "off") != 0) {
		char *mx = xstrdup(settings_current(db)->mta_sts_publish_mx);
		if (mx[0] == '\0') {
			free(mx);
			mx = settings_hostname(db);
		}
		struct buf b;
		buf_init(&b, MTASTS_POLICY_MAX);
		p->sts = true;
		snprintf(p->sts_name, sizeof(p->sts_name), "_mta-sts.%s", domain);
		if (mtasts_policy_text(mode, mx, settings_current(db)->mta_sts_publish_max_age, &b, &err) < 0) {
			snprintf(p->sts_error, sizeof(p->sts_error), "the "
			    "MTA-STS settings make no valid policy: %s", err);
		} else {
			mtasts_policy_id(b.data, b.len, p->sts_id);
			snprintf(p->sts_txt, sizeof(p->sts_txt), "v=STSv1; id=%s",
			    p->sts_id);
		}
		buf_free(&b);
		free(mx);
	}

	/* TLS-RPT */
	char *rua = xstrdup(settings_current(db)->tlsrpt_publish_rua);
	snprintf(p->rpt_name, sizeof(p->rpt_name), "_smtp._tls.%s", domain);
	if (rua[0] == '\0')
		snprintf(p->rpt_txt, sizeof(p->rpt_txt), "v=TLSRPTv1; "
		    "rua=mailto:postmaster@%s", domain);
	else
		snprintf(p->rpt_txt, sizeof(p->rpt_txt), "v=TLSRPTv1; rua=%s",
		    rua);
	free(rua);

	/* DANE: this server's certificate under its MX name */
	char *host = settings_hostname(db);
	char *cert = xstrdup(settings_current(db)->tls_cert);
	if (cert[0] == '\0') {
		free(cert);
		cert = xasprintf("%s/certs/default.crt", db_root(db));
	}
	snprintf(p->tlsa_name, sizeof(p->tlsa_name), "_25._tcp.%s", host);
	p->tlsa = publish_spki_sha256(cert, p->tlsa_rdata, sizeof(p->tlsa_rdata),
	    p->tlsa_error, sizeof(p->tlsa_error)) == 0;
	free(cert);
	free(host);
}
