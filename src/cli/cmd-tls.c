/* cmd-tls - postern tls: the DNS records hosted domains publish for
 * MTA-STS, TLS-RPT and DANE (publish.h), and the TLS-RPT aggregate
 * reports (RFC 8460) of the sessions smtp-out recorded (tlsrpt.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <zlib.h>

#include "cli.h"
#include "cli-mail.h"
#include "db.h"
#include "directory.h"
#include "dkim.h"
#include "dns.h"
#include "fsutil.h"
#include "outhttp.h"
#include "publish.h"
#include "queue.h"
#include "reports.h"
#include "settings.h"
#include "strutil.h"
#include "tlsrpt.h"
#include "xalloc.h"


static int
tls_help(int code)
{
	printf("usage: postern tls dns [DOMAIN]\n"
	    "       postern tls report [--date YYYY-MM-DD] [--out DIR] [--send]\n\n"
	    "dns: the records a hosted domain (default: each) publishes, zone\n"
	    "file syntax: _mta-sts TXT with the id of the policy httpd serves\n"
	    "(when mta_sts.publish is not off; the id changes with the policy),\n"
	    "_smtp._tls TXT for TLS-RPT (tlsrpt.publish_rua), and the TLSA\n"
	    "record 3 1 1 of this server's certificate (tls.cert) under\n"
	    "server.hostname. 'postern diag' checks the published ones.\n\n"
	    "report: the TLS-RPT aggregate reports (RFC 8460, JSON) of one UTC\n"
	    "day (default: yesterday) from the MTA-STS and DANE sessions\n"
	    "smtp-out recorded: one per recipient domain that publishes a\n"
	    "_smtp._tls record. --out writes each as DIR/<file>.json.gz;\n"
	    "--send queues each (gzip, application/tlsrpt+gzip) to the\n"
	    "record's mailto: rua addresses from tlsrpt.report_from (default\n"
	    "postmaster@<server.hostname>) and POSTs it to its https: ones\n"
	    "(certificates verified, tlsrpt.ca_file or the system's CAs).\n"
	    "Without either, the reports are listed. posternd runs\n"
	    "'report --send' for yesterday once a day (reports.daily).\n");
	return code;
}

/* -- dns -------------------------------------------------------------- */

static void
print_records(struct cli *cli, const char *domain, json_t *arr, bool *tlsa_done)
{
	struct publish_records p;

	publish_records(cli->db, domain, &p);
	if (p.sts) {
		if (p.sts_error[0] != '\0')
			fprintf(stderr, "postern: %s: %s\n", domain, p.sts_error);
		else if (arr != NULL)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}",
			    "domain", domain, "name", p.sts_name, "type", "TXT",
			    "record", p.sts_txt));
		else
			printf("%s. IN TXT \"%s\"\n", p.sts_name, p.sts_txt);
	}
	if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "domain",
		    domain, "name", p.rpt_name, "type", "TXT", "record",
		    p.rpt_txt));
	else
		printf("%s. IN TXT \"%s\"\n", p.rpt_name, p.rpt_txt);
	if (*tlsa_done)
		return;
	*tlsa_done = true;
	if (!p.tlsa)
		fprintf(stderr, "postern: no TLSA record: %s\n", p.tlsa_error);
	else if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name",
		    p.tlsa_name, "type", "TLSA", "record", p.tlsa_rdata));
	else
		printf("%s. IN TLSA %s\n", p.tlsa_name, p.tlsa_rdata);
}

static int
dns_records(struct cli *cli, const char *domain)
{
	json_t *arr = cli->json ? json_array() : NULL;
	bool tlsa_done = false;
	const char *err = NULL;
	struct dir_domain dom;
	int n = 0;

	if (domain != NULL) {
		int r = dir_domain_get(cli->db, domain, &dom, &err);
		if (r <= 0) {
			json_decref(arr);
			return cli_error(r < 0 ? EXIT_FAIL : EXIT_USAGE,
			    "%s: %s", domain, r < 0 ? err : "not a hosted domain");
		}
		print_records(cli, dom.name, arr, &tlsa_done);
		n = 1;
	} else {
		struct db_stmt *q = db_query(cli->db, &err, "SELECT name FROM "
		    "domain WHERE disabled = 0 ORDER BY name", "");
		while (q != NULL && db_step(q, NULL) == DB_ROW) {
			print_records(cli, db_col_text(q, 0),
			    arr, &tlsa_done);
			n++;
		}
		db_stmt_free(&q);
	}
	if (arr != NULL)
		cli_json_print(arr);
	else if (n == 0)
		printf("no hosted domain\n");
	return 0;
}

/* -- report ------------------------------------------------------------- */

/* gzip_buf - data as a gzip file (RFC 1952) */
static int
gzip_buf(const char *data, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char chunk[16384];
	int r;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -1;
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = deflate(&z, Z_FINISH);
		if (r == Z_STREAM_ERROR) {
			deflateEnd(&z);
			return -1;
		}
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	} while (r != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

/* report_send - RFC 8460 5.3: the report as a multipart/report message
 * to the record's mailto: addresses */
static int
report_send(struct cli *cli, const char *from, const char *host,
	    const char *domain, const char *report_id, const char *fname,
	    const struct tlsrpt_record *rec, const struct buf *gz)
{
	char *rcpts[TLSRPT_RUA_MAX];
	size_t n = 0;
	char id[QUEUE_ID_MAX + 1], date[64], boundary[48];
	const char *err = NULL;
	time_t now = time(NULL);
	struct tm tm;
	struct buf msg, b64;
	int rc = 0;

	for (size_t i = 0; i < rec->nrua; i++) {
		if (strncasecmp(rec->rua[i], "mailto:", 7) == 0) {
			/* the record parser %-decoded it (RFC 8460 3) */
			rcpts[n++] = (char *)rec->rua[i] + 7;
		} else {
			/* RFC 8460 5.4: a POST of the gzipped report */
			char why[256];
			const char *ca = settings_current(cli->db)->tlsrpt_ca_file;
			int pr = outhttp_post(rec->rua[i],
			    "application/tlsrpt+gzip", gz->data, gz->len, ca,
			    30L, why, sizeof(why));
			if (pr < 0) {
				fprintf(stderr, "postern: %s: rua %s: report not "
				    "posted: %s\n", domain, rec->rua[i], why);
				rc = EXIT_FAIL;
			} else {
				printf("%s: report %s posted to %s\n", domain,
				    report_id, rec->rua[i]);
			}
		}
	}
	if (n == 0)
		return rc;
	queue_new_id(id);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "=_tlsrpt_%s", id);
	buf_init(&msg, 0);
	buf_printf(&msg, "From: <%s>\r\nTo: ", from);
	for (size_t i = 0; i < n; i++)
		buf_printf(&msg, "%s<%s>", i ? ", " : "", rcpts[i]);
	buf_printf(&msg, "\r\nSubject: Report Domain: %s Submitter: %s "
	    "Report-ID: <%s>\r\nDate: %s\r\nMessage-ID: <%s.tlsrpt@%s>\r\n"
	    "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=\"tlsrpt\"; boundary=\"%s\"\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is an aggregate TLS report from %s.\r\n\r\n"
	    "--%s\r\nContent-Type: application/tlsrpt+gzip\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", domain, host,
	    report_id, date, id, host, domain, host, boundary, boundary, host,
	    boundary, fname);
	buf_init(&b64, 0);
	dkim_b64_encode((const unsigned char *)gz->data, gz->len, &b64);
	for (size_t i = 0; i < b64.len; i += 76)
		buf_printf(&msg, "%.*s\r\n", (int)(b64.len - i < 76 ? b64.len - i :
		    76), b64.data + i);
	buf_free(&b64);
	buf_printf(&msg, "\r\n--%s--\r\n", boundary);
	if (cli_queue_mail(cli, id, from, rcpts, n, &msg, &err) < 0) {
		rc = cli_error(EXIT_FAIL, "%s: cannot queue the report: %s",
		    domain, err ? err : "write failed");
	} else {
		printf("%s: report %s queued as %s to", domain, report_id, id);
		for (size_t i = 0; i < n; i++)
			printf(" %s", rcpts[i]);
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

	struct tlsrpt_row *rows;
	size_t n, bad;
	if (tlsrpt_day(cli->root, day, &rows, &n, &bad) < 0) {
		char *path = tlsrpt_path(cli->root, day);
		rc = cli_error(EXIT_FAIL, "cannot read %s", path);
		free(path);
		return rc;
	}
	if (bad > 0)
		fprintf(stderr, "postern: %zu malformed row(s) in the file of %s "
		    "skipped\n", bad, day);
	if (n == 0) {
		printf("no TLS sessions recorded for %s\n", day);
		free(rows);
		return 0;
	}
	if (out != NULL && mkdir(out, 0750) < 0 && errno != EEXIST) {
		free(rows);
		return cli_error(EXIT_FAIL, "cannot make %s", out);
	}
	const char *err = NULL;
	struct event_base *base = event_base_new();
	const char *servers = settings_current(cli->db)->dns_hosts;
	struct dns_resolver *res = base ? dns_resolver_new(base, servers, 3000,
	    2, &err) : NULL;
	if (res == NULL) {
		if (base != NULL)
			event_base_free(base);
		free(rows);
		return cli_error(EXIT_FAIL, "no resolver: %s", err ? err : "?");
	}
	char *host = settings_hostname(cli->db);
	char *from = report_from(cli->db, "tlsrpt.report_from");
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && strcasecmp(rows[k].domain,
		    rows[i].domain) == 0)
			k++;
		const char *domain = rows[i].domain;
		struct tlsrpt_record rec;
		char why[400];
		int r = report_tlsrpt_lookup(res, base, domain, &rec, why,
		    sizeof(why));
		if (r <= 0) {
			printf("%s: %zu session(s), no report: %s\n", domain,
			    k - i, why);
			i = k;
			continue;
		}
		char *rid, *fname;
		char *js = tlsrpt_report_make(host, from, day, begin, rows + i,
		    k - i, &rid, &fname);
		struct buf gz;
		buf_init(&gz, 0);
		if (gzip_buf(js, strlen(js), &gz) < 0) {
			rc = cli_error(EXIT_FAIL, "%s: gzip failed", domain);
		} else {
			if (out != NULL) {
				char *p = xasprintf("%s/%s", out, fname);
				if (file_write_atomic(p, gz.data, gz.len, 0640) < 0)
					rc = cli_error(EXIT_FAIL, "cannot write %s", p);
				else if (!send)
					printf("%s: %zu session(s): %s\n", domain,
					    k - i, p);
				free(p);
			}
			if (send && report_send(cli, from, host, domain, rid,
			    fname, &rec, &gz) != 0)
				rc = EXIT_FAIL;
			if (out == NULL && !send)
				printf("%s: %zu session(s), rua %s\n", domain,
				    k - i, rec.rua[0]);
		}
		buf_free(&gz);
		free(js);
		free(rid);
		free(fname);
		i = k;
	}
	dns_resolver_free(&res);
	event_base_free(base);
	free(host);
	free(from);
	free(rows);
	return rc;
}

int
cmd_tls(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "date=", "out=", "send", NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos == 0)
		return tls_help(0);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(a.pos[0], "dns") == 0 && a.npos <= 2)
		return dns_records(cli, a.npos == 2 ? a.pos[1] : NULL);
	if (strcmp(a.pos[0], "report") == 0 && a.npos == 1)
		return report(cli, &a);
	return tls_help(EXIT_USAGE);
}
