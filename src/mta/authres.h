#ifndef POSTERN_MTA_AUTHRES_H
#define POSTERN_MTA_AUTHRES_H

#include "filter.h"

/* DKIM verification of inbound mail into Authentication-Results (RFC 6376
 * 6, RFC 8601), a filter of the MTA chain (filter.h), with setting
 * dkim.verify (off by default: each signature costs a TXT lookup).
 *
 * For items from smtp and pr inbound that did not originate here
 * (env_from_here: not authenticated, local or of smtp.relay_networks) it
 * verifies up to AUTHRES_MAX_SIGS DKIM-Signature fields, each with the
 * key record <s>._domainkey.<d> looked up through lib-dns (dns.hosts; the
 * worker waits for the answer), and puts on top one field
 *   Authentication-Results: <server.hostname>;
 *     dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256
 *     header.b=abcdEFGH; dkim=fail (body hash did not verify) header.d=...
 * (dkim=none without a signature; temperror for a DNS failure, permerror
 * for a malformed signature or key record). Authentication-Results fields
 * already in the message that claim our authserv-id are removed (RFC 8601
 * 5: nobody outside may speak for us), however many fields come before
 * them; a message with a field too long to scan (over 64 KB) goes to bad
 * mail instead. A header over the DKIM limits (dkim.h: 1000 fields, 1 MB)
 * gets dkim=permerror. Messages over AUTHRES_MSG_MAX are passed on
 * unchanged.
 *
 * DMARC (RFC 9989; setting dmarc.verify, which verifies DKIM for it):
 * the From domain's policy by the DNS tree walk (lib-dkim dmarc.h), SPF
 * from our own Received-SPF (smtpd's, above the first Received) for the
 * envelope domain, aligned with the From domain relaxed or strict;
 * "spf=pass smtp.mailfrom=d; dmarc=fail (p=reject dis=none)
 * header.from=d" in the field. With dmarc.enforce a reject goes to bad
 * mail (never a bounce: this runs after the 250) and a quarantine gets
 * AUTHRES_QUARANTINE. Results of domains asking for aggregate reports
 * are recorded (dmarc-report.h) unless dmarc.reports is off. */

#define AUTHRES_MAX_SIGS 5
#define AUTHRES_MSG_MAX (64 * 1024 * 1024)
/* the field marking a message for Junk (a DMARC p=quarantine failure
 * with dmarc.enforce); deliver files such mail in Junk. Any such field
 * that came from outside is removed. */
#define AUTHRES_QUARANTINE "X-Postern-Quarantine"

enum filter_result authres_run(struct filter_ctx *ctx);

#endif
