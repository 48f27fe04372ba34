/* cmd-diag - postern diag: the diagnostic report (manual 4.4.1) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "fsutil.h"
#include "strutil.h"

int
cmd_diag(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "html=", "no-dns", "no-network",
		"timeout=", NULL };
	struct diag_options o;
	struct diag_report rep;
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos > 0) {
		printf("usage: postern diag [--json] [--html FILE] [--no-dns] [--no-network]\n"
		    "                    [--timeout SECONDS]\n\n"
		    "Checks the installation and prints a report (manual 4.4.1): versions,\n"
		    "data root permissions, config store, certificates, services, queues,\n"
		    "filters, SMTP listeners and relay settings with a live open-relay test\n"
		    "from loopback (RCPT only, never a message), outbound queue, DNS of the\n"
		    "host name and hosted domains (MX, PTR, SPF, DKIM, through dns.hosts),\n"
		    "authentication and post offices. Each item is ok, info, warning or\n"
		    "error, with advice.\n\n"
		    "  --html FILE   also write the report as one self-contained HTML page\n"
		    "                (FILE '-': the page on stdout instead of the text)\n"
		    "  --json        the report as JSON on stdout\n"
		    "  --no-dns      skip the DNS checks\n"
		    "  --no-network  skip the connections to the SMTP listeners\n"
		    "  --timeout S   bound on all DNS work (default 15)\n\n"
		    "Exit 0 when no check reports an error (warnings included), 1 when\n"
		    "one does.\n");
		return a.help ? 0 : EXIT_USAGE;
	}
	if ((r = cli_open(cli)) != 0)
		return r;
	diag_options_default(&o);
	o.dns = !cli_flag(&a, "no-dns");
	o.network = !cli_flag(&a, "no-network");
	const char *t = cli_opt(&a, "timeout");
	if (t != NULL) {
		long long s;
		if (parse_long(t, 1, 600, &s) < 0)
			return cli_usage("--timeout: 1 to 600 seconds");
		o.dns_total_ms = (int)(s * 1000);
	}
	const char *html = cli_opt(&a, "html");

	/* a TLS listener that closes on us must not kill the report */
	signal(SIGPIPE, SIG_IGN);
	diag_run(cli->db, cli->root, &o, &rep);
	bool errors = diag_count(&rep, DIAG_ERROR) > 0;
	r = errors ? EXIT_FAIL : 0;
	if (html != NULL) {
		struct buf b;
		buf_init(&b, 0);
		diag_render_html(&rep, &b);
		if (strcmp(html, "-") == 0)
			fwrite(b.data, 1, b.len, stdout);
		else if (file_write_atomic(html, b.data, b.len, 0640) < 0)
			r = cli_error(EXIT_FAIL, "cannot write %s", html);
		buf_free(&b);
	}
	if (cli->json) {
		cli_json_print(diag_render_json(&rep));
	} else if (html == NULL || strcmp(html, "-") != 0) {
		struct buf b;
		buf_init(&b, 0);
		diag_render_text(&rep, &b);
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
	}
	diag_report_free(&rep);
	return r;
}
