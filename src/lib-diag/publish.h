#ifndef POSTERN_PUBLISH_H
#define POSTERN_PUBLISH_H

/* publish - the DNS records a hosted domain publishes for outbound trust
 * towards it: MTA-STS (_mta-sts TXT with the id of the policy httpd
 * serves), TLS-RPT (_smtp._tls TXT) and DANE (the TLSA record of this
 * server's certificate under its MX name). One place for `postern tls
 * dns` and the checks of `postern diag`. */

#include <stdbool.h>

#include "db.h"
#include "mtasts.h"

struct publish_records {
	/* MTA-STS: only when mta_sts.publish is not off */
	bool sts;
	char sts_name[300];            /* "_mta-sts.<domain>" */
	char sts_id[MTASTS_ID_MAX + 1];
	char sts_txt[80];              /* "v=STSv1; id=<id>" */
	char sts_error[200];           /* settings that make no policy */
	/* TLS-RPT */
	char rpt_name[300];            /* "_smtp._tls.<domain>" */
	char rpt_txt[1100];            /* "v=TLSRPTv1; rua=..." */
	/* DANE: when the certificate of tls.cert loads */
	bool tlsa;
	char tlsa_name[300];           /* "_25._tcp.<server.hostname>" */
	char tlsa_rdata[80];           /* "3 1 1 <sha-256 of the key>" */
	char tlsa_error[300];
};

/* publish_records - what domain should publish (all fields filled) */
void publish_records(struct db *db, const char *domain,
		     struct publish_records *p);

/* publish_spki_sha256 - "3 1 1 <hex>" of the certificate in a PEM file;
 * -1 with error (size) when it does not load */
int publish_spki_sha256(const char *pem_path, char *out, size_t size,
			char *error, size_t esize);

#endif
