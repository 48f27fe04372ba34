#ifndef POSTERN_REPORTS_H
#define POSTERN_REPORTS_H

/* reports - the pieces of the daily DMARC and TLS-RPT aggregate reports
 * that `postern dmarc|tls report` and the admin API share (the rows and
 * the report bodies are lib-dkim's dmarc-report.h and tlsrpt.h) */

#include <stddef.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "dns.h"
#include "tlsrpt.h"

/* report_day - the UTC day a report covers: date YYYY-MM-DD, or NULL
 * for yesterday; its text into day and its first second into *begin_r.
 * 0, or -1 when date is not a date. */
int report_day(const char *date, char day[16], time_t *begin_r);

/* report_from - the reports' sender: the setting (dmarc.report_from,
 * tlsrpt.report_from), else postmaster@<server.hostname>; new string */
char *report_from(struct db *db, const char *setting);

/* report_tlsrpt_lookup - the domain's _smtp._tls record on a private
 * loop (base, with res made on it), at most 15 s: 1 found (rec), 0 none,
 * -1 unusable; why (wsize) says why not */
int report_tlsrpt_lookup(struct dns_resolver *res, struct event_base *base,
			 const char *domain, struct tlsrpt_record *rec,
			 char *why, size_t wsize);

#endif
