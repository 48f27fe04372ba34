#ifndef POSTERN_TLSRPT_H
#define POSTERN_TLSRPT_H

/* TLS-RPT (RFC 8460): smtp-out records one row per session (or policy
 * failure) with an MTA-STS or DANE policy, appended to
 * <data root>/tlsrpt/<YYYY-MM-DD>.tsv (the UTC day, one write per row,
 * O_APPEND); `postern tls report` reads a day, looks up each policy
 * domain's _smtp._tls TXT record and sends the aggregate report (JSON,
 * gzip) to its rua. Pure code with limits: the row format, the record
 * parser, the JSON report. */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define TLSRPT_ROW_MAX 4096
#define TLSRPT_RECORD_MAX 2048    /* bytes of a TXT record parsed */
#define TLSRPT_RUA_MAX 8          /* rua URIs kept */
#define TLSRPT_URI_MAX 256

enum tlsrpt_policy { TLSRPT_STS = 0, TLSRPT_TLSA, TLSRPT_NOPOLICY };

struct tlsrpt_row {
	time_t when;
	enum tlsrpt_policy type;
	char domain[254];
	char policy[1024];        /* policy strings, '|' separated */
	char mx[256];             /* "" for a failure of the policy itself */
	char sending_ip[64], receiving_ip[64];
	char result[32];          /* "success" or an RFC 8460 4.3 type */
	char detail[400];
};

/* tlsrpt_result_valid - "success" or one of RFC 8460 4.3's result types */
bool tlsrpt_result_valid(const char *s);
const char *tlsrpt_policy_name(enum tlsrpt_policy t);

/* tlsrpt_row_format / tlsrpt_row_parse - a row as a line (with its LF;
 * tabs and line ends in values become spaces, other bytes outside
 * printable ASCII '?') / from a line (without it; fields over their size
 * or with such bytes refused): 0 or -1 */
void tlsrpt_row_format(const struct tlsrpt_row *row, struct buf *out);
int tlsrpt_row_parse(const char *line, size_t len, struct tlsrpt_row *row);
/* tlsrpt_append - append a row to its day's file under root */
int tlsrpt_append(const char *root, const struct tlsrpt_row *row,
		  const char **error_r);
/* tlsrpt_path - <root>/tlsrpt/<day>.tsv (new string) */
char *tlsrpt_path(const char *root, const char *day);

/* The _smtp._tls TXT record (RFC 8460 3): "v=TLSRPTv1; rua=uri,uri".
 * tlsrpt_record_parse: 1 a TLSRPTv1 record (rua filled: mailto: and
 * https: URIs, at most TLSRPT_RUA_MAX; a mailto: as "mailto:" and its
 * %-decoded address, without ?header fields), 0 not one (no or another
 * v=), -1 malformed (*error_r): no rua, a URI of another scheme, a
 * mailto: whose decoded address is not a mailbox, over the limits. */
struct tlsrpt_record {
	size_t nrua;
	char rua[TLSRPT_RUA_MAX][TLSRPT_URI_MAX];
};
int tlsrpt_record_parse(const char *txt, struct tlsrpt_record *rec,
			const char **error_r);

/* tlsrpt_report_json - the aggregate report (RFC 8460 4.4) of rows (all
 * of one policy domain): one policy entry per (type, policy strings),
 * its success and failure counts, failures grouped by result, MX host
 * and addresses. New string. */
struct tlsrpt_meta {
	const char *org_name;
	const char *contact;
	const char *report_id;
	time_t begin, end;
};
char *tlsrpt_report_json(const struct tlsrpt_meta *m,
			 const struct tlsrpt_row *rows, size_t n);

/* tlsrpt_day - the rows of one UTC day's file (tlsrpt_path), sorted by
 * policy domain (case-insensitively), then time: 0 (no file: no rows)
 * or -1; bad_r counts the lines skipped (malformed, cut short, past
 * TLSRPT_DAY_ROWS_MAX). One reader for `postern tls report` and the
 * admin API's TlsReport/query; *rows_r is freed by the caller. */
#define TLSRPT_DAY_ROWS_MAX 50000
int tlsrpt_day(const char *root, const char *day, struct tlsrpt_row **rows_r,
	       size_t *n_r, size_t *bad_r);

/* tlsrpt_report_make - the report (JSON, new string) of one policy
 * domain's rows of day (begin: its UTC midnight) from host, contact
 * from; its report-id ("<day>.<domain>@<host>") and file name
 * ("<host>!<domain>!<begin>!<end>.json.gz") as new strings */
char *tlsrpt_report_make(const char *host, const char *from, const char *day,
			 time_t begin, const struct tlsrpt_row *rows, size_t n,
			 char **report_id_r, char **file_name_r);

#endif
