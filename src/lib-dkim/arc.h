#ifndef POSTERN_ARC_H
#define POSTERN_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dkim.h"

/* ARC (RFC 8617) on the DKIM code: the chain of ARC sets (ARC-Seal,
 * ARC-Message-Signature, ARC-Authentication-Results with i=1..N) is
 * verified, and a new set is sealed by an intermediary that changes and
 * re-sends mail (lists, redirects, groups). Key records are looked up
 * by the caller (lookup callback); no other I/O but reading a message
 * file to seal it. */

enum arc_result { ARC_NONE = 0, ARC_PASS, ARC_FAIL };
const char *arc_result_name(enum arc_result r);

/* The key lookup: the TXT record of selector._domainkey.domain (new
 * string), NULL for none; *tempfail for a DNS failure. */
typedef char *arc_lookup_fn(void *ctx, const char *selector,
			    const char *domain, bool *tempfail);

struct arc_verdict {
	enum arc_result result;
	int instances;              /* N, the newest set */
	const char *why;            /* for fail */
	char chain[512];            /* the sealers' d=, newest first, "," */
	bool tempfail;              /* a key lookup failed (result fail) */
};

/* arc_verify - the chain of msg[0..len) (RFC 8617 5.2) */
enum arc_result arc_verify(const char *msg, size_t len, arc_lookup_fn *lookup,
			   void *ctx, struct arc_verdict *v);

struct arc_seal_params {
	const struct dkim_key *key;
	const char *domain, *selector;
	time_t now;
	const char *authres;        /* our Authentication-Results value:
				     * "authserv-id; results" */
	enum arc_result cv;         /* the chain as we received it: none
				     * when there was none */
};

/* arc_seal_file - the new ARC set for the message file (three fields,
 * each ending in CRLF: ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results) with i= one past the file's newest set.
 * -1 for a chain over 50 sets, a malformed one, or a file that cannot
 * be read or signed. */
int arc_seal_file(const struct arc_seal_params *p, const char *path,
		  char **fields_r, const char **error_r);

#endif
