#ifndef POSTERN_DMARC_REPORT_H
#define POSTERN_DMARC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "dmarc.h"

/* DMARC aggregate reports (RFC 9990, which replaces RFC 7489 7.2): the
 * MTA records one row per evaluated message whose policy domain asks
 * for reports (rua), appended to <data root>/dmarc/<YYYY-MM-DD>.tsv (the
 * UTC day; one write per row, O_APPEND); `postern dmarc report` reads
 * a day, groups the rows of each policy domain and builds the XML.
 *
 * A row is one line of tab separated fields (version first; values
 * never hold a tab or line end: domains, addresses, result words). */

#define DMARC_ROW_MAX 4096

struct dmarc_report_row {
	time_t when;
	char source_ip[64];
	char header_from[DMARC_DOMAIN_MAX + 1];
	char policy_domain[DMARC_DOMAIN_MAX + 1];
	char envelope_from[DMARC_DOMAIN_MAX + 1];
	struct dmarc_record rec;         /* the policy published */
	enum dmarc_policy dis;           /* the disposition applied */
	bool dkim_pass, spf_pass;        /* aligned passes (policy_evaluated) */
	char spf_result[16];             /* SPF of envelope_from */
	char dkim[512];                  /* "d:result d:result ..." */
};

/* dmarc_report_format / dmarc_report_parse - a row as a line (with its
 * LF) / from a line (without it): 0 or -1 for anything malformed */
void dmarc_report_format(const struct dmarc_report_row *row, struct buf *out);
int dmarc_report_parse(const char *line, size_t len,
		       struct dmarc_report_row *row);

/* dmarc_report_append - append a row to its day's file under root */
int dmarc_report_append(const char *root, const struct dmarc_report_row *row,
			const char **error_r);
/* dmarc_report_path - <root>/dmarc/<day>.tsv (new string) */
char *dmarc_report_path(const char *root, const char *day);

/* dmarc_report_xml - the aggregate report of rows (all of one policy
 * domain) into out: rows grouped by source, identifiers and results
 * with a count; the policy published is the last row's */
struct dmarc_report_meta {
	const char *org_name;
	const char *email;
	const char *report_id;
	time_t begin, end;
};
void dmarc_report_xml(const struct dmarc_report_meta *m,
		      const struct dmarc_report_row *rows, size_t n,
		      struct buf *out);

/* dmarc_report_day - the rows of one UTC day's file (dmarc_report_path),
 * sorted by policy domain, then time: 0 (no file: no rows) or -1; bad_r
 * counts the lines skipped (malformed, cut short, past
 * DMARC_DAY_ROWS_MAX). One reader for `postern dmarc report` and the
 * admin API's DmarcReport/query; *rows_r is freed by the caller. */
#define DMARC_DAY_ROWS_MAX 200000
int dmarc_report_day(const char *root, const char *day,
		     struct dmarc_report_row **rows_r, size_t *n_r,
		     size_t *bad_r);

/* dmarc_report_make - the report of one policy domain's rows of day
 * (begin: its UTC midnight) from host, the reporter's address from:
 * the XML appended to xml, its Report-ID ("<day>.<domain>@<host>") and
 * file name ("<host>!<domain>!<begin>!<end>.xml") as new strings */
void dmarc_report_make(const char *host, const char *from, const char *day,
		       time_t begin, const struct dmarc_report_row *rows,
		       size_t n, struct buf *xml, char **report_id_r,
		       char **file_name_r);

#endif
