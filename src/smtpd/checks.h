#ifndef POSTERN_SMTPD_CHECKS_H
#define POSTERN_SMTPD_CHECKS_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "dns.h"
#include "dnsbl.h"

/* checks - what DNS says about an SMTP client, asked at connect while the
 * client talks: the DNS block lists of smtp.dnsbl (A, then TXT for the
 * reason of a listing) and its reverse DNS (PTR, then A/AAAA of each name
 * to confirm it). Everything runs on the event loop; after timeout_s what
 * has not answered counts as not listed / unknown (logged). done() is
 * called once, from the loop, when every answer is in or the time is up.
 * DNS failures are logged and count as not listed: the checks fail open. */

#define CHECKS_PTR_NAMES 4      /* PTR names tried for forward confirmation */
#define CHECKS_RDNS_MAX 253

struct checks_zone {
	struct checks *c;
	char zone[DNSBL_ZONE_MAX + 1];
	char qname[256];
	bool done;
	bool listed;
	char code[16];
	char reason[DNSBL_REASON_MAX + 1];
};

struct checks_fwd {
	struct checks *c;
	char name[CHECKS_RDNS_MAX + 1];
	bool done, match;
};

struct checks {
	struct dns_resolver *r;
	struct event *timer;
	struct sockaddr_storage sa;     /* v4-mapped IPv6 as IPv4 */
	char sid[24];
	void (*done)(void *arg);
	void *arg;
	bool finished;                  /* done() was called */
	size_t nzones;
	struct checks_zone zones[DNSBL_MAX_ZONES];
	bool ptr_done;
	size_t nfwd;
	struct checks_fwd fwd[CHECKS_PTR_NAMES];
	char rdns[CHECKS_RDNS_MAX + 1]; /* "" : unknown */
};

/* checks_start - start the lookups; zones may be NULL (no block lists),
 * rdns false: no reverse DNS. done(arg) follows from the loop. */
struct checks *checks_start(struct dns_resolver *r, struct event_base *base,
			    const struct sockaddr *sa, const char *sid,
			    char zones[][DNSBL_ZONE_MAX + 1], size_t nzones,
			    bool rdns, int timeout_s,
			    void (*done)(void *arg), void *arg);
/* checks_finished - every answer is in (or the time is up). */
bool checks_finished(const struct checks *c);
/* checks_listed - the first zone listing the client, or NULL. */
const struct checks_zone *checks_listed(const struct checks *c);
/* checks_rdns - the forward-confirmed name of the client, or NULL. */
const char *checks_rdns(const struct checks *c);
/* checks_free - cancel what is pending; NULLs *c. */
void checks_free(struct checks **c);

#endif
