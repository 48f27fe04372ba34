/* cmd-dkim - postern dkim: selectors and the DNS records to publish
 * (manual 5.4.4); the per-domain settings are `postern domain set` */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "dkim.h"
#include "fsutil.h"
#include "selector.h"
#include "strutil.h"
#include "xalloc.h"

static int
dkim_help(int code)
{
	printf("usage: postern dkim selector add DOMAIN SELECTOR [--algorithm rsa-sha256|ed25519-sha256]\n"
	    "                 [--bits 1024|2048|4096] [--test] [--granularity G] [--notes TEXT]\n"
	    "                 [--activate] [--key PEM-FILE]\n"
	    "       postern dkim selector list [DOMAIN]\n"
	    "       postern dkim selector show DOMAIN SELECTOR\n"
	    "       postern dkim selector activate DOMAIN SELECTOR\n"
	    "       postern dkim selector set DOMAIN SELECTOR test_mode=yes|no|granularity=G|notes=T\n"
	    "       postern dkim selector delete DOMAIN SELECTOR [--yes]\n"
	    "       postern dkim dns DOMAIN [SELECTOR]\n\n"
	    "A selector is a key pair made by 'selector add' (RSA 2048 bits by\n"
	    "default; the algorithm defaults to the domain's dkim_algorithm). The\n"
	    "private key stays in the config store; 'dns' prints the TXT record to\n"
	    "publish as SELECTOR._domainkey.DOMAIN (default: the active selector).\n"
	    "--key imports an existing private key (PEM, e.g. from OpenDKIM) instead.\n"
	    "One selector per domain is active; the first one added is. smtp-out\n"
	    "signs mail from the domain with it once the domain has dkim_enabled:\n"
	    "  postern domain set DOMAIN dkim_enabled=yes [dkim_header_canon=relaxed]\n"
	    "      [dkim_body_canon=relaxed] [dkim_body_limit=0] [dkim_identity=no]\n");
	return code;
}

/* selector_list - every selector, or those of one domain */
static int
selector_list(struct cli *cli, const char *domain)
{
	const char *err;
	struct db_stmt *st = db_query(cli->db, &err,
	    "SELECT d.name, s.name, s.algorithm, s.key_bits, "
	    "CASE WHEN s.active <> 0 THEN 'yes' ELSE 'no' END, "
	    "CASE WHEN s.test_mode <> 0 THEN 'yes' ELSE 'no' END, s.granularity, "
	    "strftime('%Y-%m-%d %H:%M:%S', s.created, 'unixepoch'), s.notes "
	    "FROM dkim_selector s JOIN domain d ON d.id = s.domain_id "
	    "WHERE ? IS NULL OR d.name = ? ORDER BY d.name, s.name", "tt",
	    domain, domain);
	if (st == NULL)
		return cli_error(EXIT_FAIL, "%s", err);
	static const char *const hdr[] = { "DOMAIN", "SELECTOR", "ALGORITHM",
		"BITS", "ACTIVE", "TEST", "GRANULARITY", "CREATED", "NOTES" };
	static const char *const keys[] = { "domain", "selector", "algorithm",
		"bits", "active", "test_mode", "granularity", "created", "notes" };
	return cli_print_query(cli, st, 9, hdr, keys);
}

/* sel_load - one selector as adm_selector_json gives it, or the active
 * one (selector NULL); 0, or the exit status with the message printed */
static int
sel_load(struct cli *cli, const char *domain, const char *selector,
	 json_t **o_r)
{
	const char *err;
	int r = adm_selector_json(cli->db, domain, selector, o_r, &err);

	if (r == ADM_NOTFOUND && strstr(err, "DKIM") != NULL) {
		if (selector == NULL)
			return cli_error(EXIT_NOTFOUND, "domain %s has no active DKIM "
			    "selector (postern dkim selector add %s NAME)", domain, domain);
		return cli_error(EXIT_NOTFOUND, "domain %s has no DKIM selector '%s'",
		    domain, selector);
	}
	return r == ADM_OK ? 0 : cli_adm_exit(r, err);
}

#define S(o, k) json_string_value(json_object_get(o, k))

/* dns - the record to publish, zone file syntax */
static int
dns(struct cli *cli, const char *domain, const char *selector)
{
	json_t *s;
	int r;

	if ((r = sel_load(cli, domain, selector, &s)) != 0)
		return r;
	char *name = xasprintf("%s.", S(s, "dns_name"));
	if (cli->json) {
		cli_json_print(json_pack("{s:s,s:s,s:s,s:s,s:O}", "name", name,
		    "type", "TXT", "record", S(s, "record"), "zone", S(s, "zone"),
		    "active", json_object_get(s, "active")));
	} else {
		printf("%s IN TXT %s\n", name, S(s, "zone"));
	}
	free(name);
	json_decref(s);
	return 0;
}

static int
show(struct cli *cli, const char *domain, const char *selector)
{
	json_t *s;
	int r;

	if ((r = sel_load(cli, domain, selector, &s)) != 0)
		return r;
	json_object_del(s, "zone");
	if (cli->json) {
		cli_json_print(s);
		return 0;
	}
	char bits[32];
	snprintf(bits, sizeof(bits), "%lld", (long long)json_integer_value(
	    json_object_get(s, "bits")));
	const char *hdr[] = { "setting", "value" };
	struct cli_table *t = cli_table_new(2, hdr);
	const char *rows[][2] = {
		{ "domain", domain }, { "selector", S(s, "selector") },
		{ "algorithm", S(s, "algorithm") }, { "bits", bits },
		{ "active", json_is_true(json_object_get(s, "active")) ? "yes" : "no" },
		{ "test_mode", json_is_true(json_object_get(s, "test_mode")) ?
		    "yes" : "no" },
		{ "granularity", S(s, "granularity") }, { "notes", S(s, "notes") },
		{ "dns_name", S(s, "dns_name") }, { "record", S(s, "record") },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cli_table_row(t, rows[i]);
	cli_table_print(t);
	cli_table_free(&t);
	json_decref(s);
	return 0;
}
#undef S

static int
selector_cmd(struct cli *cli, const struct cli_args *a)
{
	const char *verb = a->npos > 1 ? a->pos[1] : NULL, *err;
	int r;

	if (verb == NULL)
		return dkim_help(EXIT_USAGE);
	if (strcmp(verb, "list") == 0) {
		if (a->npos > 3)
			return cli_usage("usage: postern dkim selector list [DOMAIN]");
		return selector_list(cli, a->npos == 3 ? a->pos[2] : NULL);
	}
	if (strcmp(verb, "set") == 0) {
		if (a->npos < 5)
			return cli_usage("usage: postern dkim selector set DOMAIN SELECTOR "
			    "setting=value...");
		for (size_t i = 4; i < a->npos; i++) {
			const char *eq = strchr(a->pos[i], '=');
			if (eq == NULL)
				return cli_usage("'%s': setting=value expected", a->pos[i]);
			char *field = xstrndup(a->pos[i], (size_t)(eq - a->pos[i]));
			r = adm_selector_set(cli->db, a->pos[2], a->pos[3], field, eq + 1,
			    &err);
			free(field);
			if (r != ADM_OK)
				return cli_adm_exit(r, err);
		}
		return 0;
	}
	if (a->npos != 4)
		return cli_usage("usage: postern dkim selector %s DOMAIN SELECTOR", verb);
	const char *domain = a->pos[2], *sel = a->pos[3];
	if (strcmp(verb, "add") == 0) {
		struct adm_selector_spec spec = {
			.algorithm = cli_opt(a, "algorithm"),
			.test = cli_flag(a, "test"),
			.granularity = cli_opt(a, "granularity"),
			.notes = cli_opt(a, "notes"),
			.activate = cli_flag(a, "activate"),
		};
		const char *keyfile = cli_opt(a, "key");
		struct buf pem;
		buf_init(&pem, 64 * 1024);
		if (keyfile != NULL) {
			if (file_read(keyfile, &pem) < 0) {
				buf_free(&pem);
				return cli_error(EXIT_USAGE, "--key %s: cannot read it (or "
				    "over 64 KB)", keyfile);
			}
			spec.private_key = pem.data;
		}
		const char *bits = cli_opt(a, "bits");
		if (bits != NULL) {
			long long b;
			if (parse_long(bits, 1, 65536, &b) < 0) {
				buf_free(&pem);
				return cli_usage("--bits: a number (1024, 2048, 4096)");
			}
			spec.bits = (int)b;
		}
		r = adm_selector_add(cli->db, domain, sel, &spec, &err);
		if (pem.data != NULL)
			OPENSSL_cleanse(pem.data, pem.len);
		buf_free(&pem);
		if (r != ADM_OK)
			return cli_adm_exit(r, err);
		if (!cli->json)
			printf("selector %s of %s created; publish its record:\n", sel,
			    domain);
		return dns(cli, domain, sel);
	}
	if (strcmp(verb, "show") == 0)
		return show(cli, domain, sel);
	if (strcmp(verb, "activate") == 0)
		r = adm_selector_activate(cli->db, domain, sel, &err);
	else if (strcmp(verb, "delete") == 0 || strcmp(verb, "del") == 0) {
		/* the private key goes: mail signed with it still verifies
		 * while its DNS record stays published */
		int64_t sid;
		if ((r = adm_selector_id(cli->db, domain, sel, &sid, &err)) != ADM_OK)
			return cli_adm_exit(r, err);
		char *name = xasprintf("%s of %s", sel, domain);
		json_t *o = cli_removal_new("DKIM selector", name);
		free(name);
		if ((r = cli_confirm(cli, a, o)) != 0) {
			json_decref(o);
			return r;
		}
		if ((r = adm_selector_del(cli->db, domain, sel, &err)) != ADM_OK) {
			json_decref(o);
			return cli_adm_exit(r, err);
		}
		cli_removed(cli, o);
		return 0;
	} else
		return cli_usage("unknown dkim selector command '%s' (see postern dkim "
		    "--help)", verb);
	return r == ADM_OK ? 0 : cli_adm_exit(r, err);
}

int
cmd_dkim(struct cli *cli, int argc, char **argv)
{
	static const char *const opts[] = { "algorithm=", "bits=", "test",
		"granularity=", "notes=", "activate", "key=", CLI_YES_OPTION, NULL };
	struct cli_args a;
	int r;

	if ((r = cli_parse(argc, argv, opts, &a)) != 0)
		return r;
	if (a.help || a.npos == 0)
		return dkim_help(a.help ? 0 : EXIT_USAGE);
	if ((r = cli_open(cli)) != 0)
		return r;
	if (strcmp(a.pos[0], "selector") == 0)
		return selector_cmd(cli, &a);
	if (strcmp(a.pos[0], "dns") == 0) {
		if (a.npos < 2 || a.npos > 3)
			return cli_usage("usage: postern dkim dns DOMAIN [SELECTOR]");
		return dns(cli, a.pos[1], a.npos == 3 ? a.pos[2] : NULL);
	}
	return cli_usage("unknown dkim command '%s' (see postern dkim --help)",
	    a.pos[0]);
}
