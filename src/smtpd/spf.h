#ifndef POSTERN_SMTPD_SPF_H
#define POSTERN_SMTPD_SPF_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "dns.h"
#include "spf-record.h"

/* spf - check_host() of RFC 7208 on lib-dns, on the event loop: the
 * client's address against the SPF record of the MAIL FROM domain (of
 * the HELO name for the null sender, 2.4). Limits of 4.6.4: 10 terms
 * that query DNS (include, a, mx, ptr, exists, redirect), 10 MX names
 * per mx, 2 void lookups; beyond, permerror. include and redirect nest
 * at most 10 deep by the same limit. done(arg) is called once, from the
 * loop; after timeout_s the result is temperror. smtpd records the result
 * (Received-SPF), it never rejects on it. */

struct spf;

struct spf *spf_start(struct dns_resolver *r, struct event_base *base,
		      const struct sockaddr *ip, const char *sender,
		      const char *helo, const char *validated_name,
		      int timeout_s, void (*done)(void *arg), void *arg);
bool spf_done(const struct spf *s);
enum spf_result spf_result(const struct spf *s);
/* spf_header - the Received-SPF field (RFC 7208 9.1) for this result,
 * without CRLF; receiver: our host name. New string. */
char *spf_header(const struct spf *s, const char *receiver);
/* spf_reason - a short text for the log. */
const char *spf_reason(const struct spf *s);
void spf_free(struct spf **s);

#endif
