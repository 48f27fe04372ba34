/* cmd-autodiscover - postern domain autodiscover: the servers mail
 * clients are told to use for a domain (manual 5.4.5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiscover.h"
#include "cmd-autodiscover.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define USAGE "usage: postern domain autodiscover list DOMAIN\n" \
	"       postern domain autodiscover add DOMAIN imap|pop3|smtp HOST [PORT] " \
	"[--security tls|starttls|none]\n" \
	"       postern domain autodiscover del DOMAIN imap|pop3|smtp [HOST [PORT]]\n" \
	"       postern domain autodiscover detect DOMAIN"

/* srv_advice - the RFC 6186 (and RFC 8314) SRV records for the entries */
static void
srv_advice(const char *domain, const struct adm_autodiscover *v, size_t n)
{
	printf("\nDNS SRV records for clients that look them up (RFC 6186, "
	    "RFC 8314):\n");
	for (size_t i = 0; i < n; i++) {
		const char *svc = strcmp(v[i].protocol, "imap") == 0 ?
		    (strcmp(v[i].security, "tls") == 0 ? "_imaps" : "_imap") :
		    strcmp(v[i].protocol, "pop3") == 0 ?
		    (strcmp(v[i].security, "tls") == 0 ? "_pop3s" : "_pop3") :
		    (strcmp(v[i].security, "tls") == 0 ? "_submissions" : "_submission");
		printf("  %s._tcp.%s. 3600 IN SRV %zu 1 %d %s.\n", svc, domain, i,
		    v[i].port, v[i].host);
	}
	printf("Clients fetch https://autoconfig.%s/mail/config-v1.1.xml and "
	    "https://autodiscover.%s/autodiscover/autodiscover.xml:\npoint "
	    "those names at this server's https listener.\n", domain, domain);
}

static int
ad_list(struct cli *cli, const char *domain)
{
	struct adm_autodiscover *v;
	size_t n;
	const char *err;
	bool derived = false;
	int r;

	if ((r = adm_autodiscover_list(cli->db, domain, &v, &n, &err)) < 0)
		return cli_adm_exit(r, err);
	if (n == 0) {
		adm_autodiscover_derive(cli->db, &v, &n);
		derived = true;
	}
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:b}",
			    "protocol", v[i].protocol, "host", v[i].host, "port",
			    v[i].port, "security", v[i].security, "derived", derived));
		cli_json_print(arr);
	} else {
		static const char *const hdr[] = { "PROTOCOL", "HOST", "PORT",
		    "SECURITY" };
		struct cli_table *t = cli_table_new(4, hdr);
		for (size_t i = 0; i < n; i++) {
			char port[16];
			snprintf(port, sizeof(port), "%d", v[i].port);
			const char *cells[] = { v[i].protocol, v[i].host, port,
			    v[i].security };
			cli_table_row(t, cells);
		}
		cli_table_print(t);
		cli_table_free(&t);
		if (derived)
			printf("(no entries: derived from the listener settings; "
			    "`detect` stores them)\n");
		srv_advice(domain, v, n);
	}
	adm_autodiscover_free(v, n);
	return 0;
}

int
cmd_domain_autodiscover(struct cli *cli, const struct cli_args *a)
{
	const char *err;
	long long port = 0;
	int r;

	if (a->npos < 3)
		return cli_usage("%s", USAGE);
	const char *verb = a->pos[1], *domain = a->pos[2];
	if (strcmp(verb, "list") == 0 && a->npos == 3)
		return ad_list(cli, domain);
	if (strcmp(verb, "detect") == 0 && a->npos == 3) {
		size_t n;
		if ((r = adm_autodiscover_detect(cli->db, domain, &n, &err)) < 0)
			return cli_adm_exit(r, err);
		if (!cli->json)
			printf("%s: %zu entries from the listener settings\n", domain, n);
		return 0;
	}
	if (strcmp(verb, "add") == 0 && (a->npos == 5 || a->npos == 6)) {
		if (a->npos == 6 && parse_long(a->pos[5], 1, 65535, &port) < 0)
			return cli_usage("port '%s': 1 to 65535", a->pos[5]);
		r = adm_autodiscover_add(cli->db, domain, a->pos[3], a->pos[4],
		    (int)port, cli_opt(a, "security"), &err);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	if (strcmp(verb, "del") == 0 && a->npos >= 4 && a->npos <= 6) {
		if (a->npos == 6 && parse_long(a->pos[5], 1, 65535, &port) < 0)
			return cli_usage("port '%s': 1 to 65535", a->pos[5]);
		r = adm_autodiscover_del(cli->db, domain, a->pos[3],
		    a->npos >= 5 ? a->pos[4] : NULL, (int)port, &err);
		return r == ADM_OK ? 0 : cli_adm_exit(r, err);
	}
	return cli_usage("%s", USAGE);
}
