/* cmd-dmarc - postern dmarc report: DMARC aggregate reports (RFC 9990)
 * from the results the MTA recorded (dmarc-report.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cli-mail.h"
#include "db.h"
#include "dkim.h"
#include "dmarc-report.h"
#include "fsutil.h"
#include "queue.h"
#include "reports.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"


static int
dmarc_help(int code)
{
	printf("usage: postern dmarc report [--date YYYY-MM-DD] [--out DIR] [--send]\n\n"
	    "Builds the DMARC aggregate reports (RFC 9990 XML) of one UTC day\n"
	    "(default: yesterday) from the results the MTA recorded for domains\n"
	    "whose DMARC record asks for them (rua=mailto:...): one report per\n"
	    "policy domain, rows grouped by source address and results. --out\n"
	    "writes each as DIR/<receiver>!<domain>!<begin>!<end>.xml; --send\n"
	    "queues each as a message to the domain's rua addresses (from\n"
	    "dmarc.report_from, default postmaster@<server.hostname>). Without\n"
	    "either, the reports are listed. Run it daily (cron, systemd timer).\n"
	    "Settings: dmarc.verify, dmarc.enforce, dmarc.reports.\n");
	return code;
}

/* report_send - queue the report as a message to the rua addresses */
static int
report_send(struct cli *cli, const char *from, const char *host,
	    const char *domain, const char *report_id, const char *fname,
	    const struct dmarc_report_row *last, const struct buf *xml)
{
	struct buf msg, b64;
	char id[QUEUE_ID_MAX + 1], date[64], boundary[40];
	const char *err = NULL;
	time_t now = time(NULL);
	struct tm tm;

	if (last->rec.nrua == 0)
		return 0;
	queue_new_id(id);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "=_dmarc_%s", id);
	buf_init(&msg, 0);
	buf_printf(&msg, "From: <%s>\r\nTo: ", from);
	for (size_t i = 0; i < last->rec.nrua; i++)
		buf_printf(&msg, "%s<%s>", i ? ", " : "", last->rec.rua[i] + 7);
	buf_printf(&msg, "\r\nSubject: Report Domain: %s Submitter: %s "
	    "Report-ID: <%s>\r\nDate: %s\r\nMessage-ID: <%s.dmarc@%s>\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
	    "boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nDMARC aggregate report for %s from %s.\r\n"
	    "\r\n--%s\r\nContent-Type: application/xml; name=\"%s\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", domain, host, report_id,
	    date, id, host, boundary, boundary, domain, host, boundary, fname,
	    fname);
	buf_init(&b64, 0);
	dkim_b64_encode((const unsigned char *)xml->data, xml->len, &b64);
	for (size_t i = 0; i < b64.len; i += 76)
		buf_printf(&msg, "%.*s\r\n", (int)(b64.len - i < 76 ? b64.len - i :
		    76), b64.data + i);
	buf_free(&b64);
	buf_printf(&msg, "\r\n--%s--\r\n", boundary);

	char *rcpts[DMARC_URIS_MAX];
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < last->rec.nrua && n < DMARC_URIS_MAX; i++)
		rcpts[n++] = (char *)last->rec.rua[i] + 7;
	if (cli_queue_mail(cli, id, from, rcpts, n, &msg, &err) < 0) {
		rc = cli_error(EXIT_FAIL, "%s: cannot queue the report: %s",
		    domain, err ? err : "write failed");
	} else {
		printf("%s: report %s queued as %s to", domain, report_id, id);
		for (size_t i = 0; i < last->rec.nrua; i++)
			printf(" %s", last->rec.rua[i] + 7);
		printf("\n");
	}
	buf_free(&msg);
	return rc;
}

static int
report(struct cli *cli, const struct cli_args *a)
{
	const char *date = cli_opt(a, "date"), *out = cli_opt(a, "out");
	bool send = cli_flag(a, "send");
	char day[16];
	time_t begin;
	int rc = 0;

	if ((rc = cli_report_day(date, day, &begin)) != 0)
		return rc;

	struct dmarc_report_row *rows;
	size_t n, bad;
	if (dmarc_report_day(cli->root, day, &rows, &n, &bad) < 0) {
		char *path = dmarc_report_path(cli->root, day);
		rc = cli_error(EXIT_FAIL, "cannot read %s", path);
		free(path);
		return rc;
	}
	if (bad > 0)
		fprintf(stderr, "postern: %zu malformed row(s) in the file of %s "
		    "skipped\n", bad, day);
	char *host = settings_hostname(cli->db);
	char *from = report_from(cli->db, "dmarc.report_from");
	if (out != NULL && mkdir(out, 0750) < 0 && errno != EEXIST) {
		free(host);
		free(from);
		free(rows);
		return cli_error(EXIT_FAIL, "cannot make %s", out);
	}
	size_t reports = 0;
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && strcmp(rows[k].policy_domain,
		    rows[i].policy_domain) == 0)
			k++;
		const char *domain = rows[i].policy_domain;
		char *rid, *fname;
		struct buf xml;
		buf_init(&xml, 0);
		dmarc_report_make(host, from, day, begin, rows + i, k - i, &xml,
		    &rid, &fname);
		reports++;
		if (out != NULL) {
			char *p = xasprintf("%s/%s", out, fname);
			if (file_write_atomic(p, xml.data, xml.len, 0640) < 0)
				rc = cli_error(EXIT_FAIL, "cannot write %s", p);
			else if (!send)
				printf("%s: %zu message(s): %s\n", domain, k - i, p);
			free(p);
		}
		if (send && report_send(cli, from, host, domain, rid, fname,
		    &rows[k - 1], &xml) != 0)
			rc = EXIT_FAIL;
		if (out == NULL && !send)
			printf("%s: %zu message(s), rua %s\n", domain, k - i,
			    rows[k - 1].rec.nrua ? rows[k - 1].rec.rua[0] : "-");
		buf_free(&xml);
		free(rid);
		free(fname);
		i = k;
	}
	if (reports == 0)
		printf("no DMARC results recorded for %s\n", day);
	free(host);
	free(from);
	free(rows);
	return rc;
}

int
cmd_dmarc(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "date=", "out=", "send", NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos == 0)
		return dmarc_help(0);    /* a verb command alone: its help */
	if (a.npos != 1 || strcmp(a.pos[0], "report") != 0)
		return dmarc_help(EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	return report(cli, &a);
}
