#ifndef POSTERN_LISTSERV_BOUNCE_H
#define POSTERN_LISTSERV_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What mail to a list's bounce address says, and the probe tokens.
 *
 * A bounce is an RFC 3464 delivery status notification: multipart/report
 * with report-type=delivery-status and a message/delivery-status (or
 * RFC 6533 message/global-delivery-status) part, whose per-recipient
 * groups give Final-Recipient and Action; only "Action: failed" counts
 * (delayed, delivered, relayed, expanded do not). Read receipts
 * (report-type=disposition-notification) are no bounces.
 *
 * Probes (Mailman's VERP probes): when a member reaches the bounce limit
 * the list server sends it a probe with the envelope sender
 * <list>-bounces+TOKEN@, TOKEN = "p" + 8 hex digits of the time sent +
 * the first 8 bytes (16 hex digits) of HMAC-SHA256 over
 * "probe:<list id>:<member, lower case>:<time sent>" under the list
 * server's secret (listkey.h). Only a bounce of the probe disables the
 * member, and nobody without the secret can make a token, so forged
 * bounces cannot get a member disabled. */

#define BOUNCE_RCPTS_MAX 100       /* failed recipients kept per report */
#define BOUNCE_FIELD_MAX 1000      /* longer (unfolded) fields are ignored */
#define BOUNCE_PROBE_LEN 25        /* "p" + 8 + 16 */

struct bounce_report {
	bool report;               /* multipart/report of any type */
	bool dsn;                  /* a delivery status notification */
	size_t nrcpts;             /* per-recipient groups with a recipient */
	char **failed;             /* Final-Recipient of "Action: failed" */
	size_t nfailed;
};

/* bounce_parse - read msg (a whole message); never fails: anything that
 * is no DSN gives dsn false. Free with bounce_report_free. */
void bounce_parse(const char *msg, size_t len, struct bounce_report *r);
void bounce_report_free(struct bounce_report *r);

/* bounce_probe_token - the token of a probe to member of list list_id
 * sent at time sent, into out (BOUNCE_PROBE_LEN + 1 bytes) */
void bounce_probe_token(const unsigned char *key, size_t keylen,
			int64_t list_id, const char *member, time_t sent,
			char *out);
/* bounce_probe_time - the time sent of a string shaped like a token
 * (lower-case hex), else 0 */
time_t bounce_probe_time(const char *token);
/* bounce_probe_ok - whether token is member's probe token (constant
 * time comparison) */
bool bounce_probe_ok(const unsigned char *key, size_t keylen, int64_t list_id,
		     const char *member, const char *token);

#endif
