/* postern - the administration command line */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli-audit.h"
#include "cmd-maint.h"
#include "cmd-quarantine.h"
#include "dataroot.h"
#include "postern-config.h"
#include "xalloc.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *help;
} commands[] = {
	{ "init", cmd_init, "create a data root (config store, queues, store, certificate)" },
	{ "config", cmd_config, "global settings: get, set, unset, list" },
	{ "postoffice", cmd_postoffice, "post offices: add, list, show, set, del, set-quota" },
	{ "domain", cmd_domain, "domains: add, list, show, set, del, blacklist, autodiscover" },
	{ "dkim", cmd_dkim, "DKIM selectors (keys) of domains and their DNS records" },
	{ "dmarc", cmd_dmarc, "DMARC aggregate reports of inbound mail: report" },
	{ "tls", cmd_tls, "outbound TLS: DNS records to publish (dns), TLS-RPT reports (report)" },
	{ "mailbox", cmd_mailbox, "mailboxes: add, list, show, set, passwd, del, redirect" },
	{ "address", cmd_address, "e-mail addresses of mailboxes: add, del, list" },
	{ "group", cmd_group, "groups: add, list, show, set, del, member, import" },
	{ "list", cmd_list, "lists: add, list, show, set, del, member" },
	{ "popretrieval", cmd_popretrieval, "POP retrieval accounts: add, list, del, run, status" },
	{ "users", cmd_users, "bulk users: import FILE, export" },
	{ "queue", cmd_queue, "connector queues and bad mail: list, show, retry, delete, release" },
	{ "quarantine", cmd_quarantine, "mail the content filters held back: list, show, release, delete" },
	{ "track", cmd_track, "a message's path through every service, from the logs" },
	{ "filter", cmd_filter, "mailbox Sieve filters: set, show, check, list, activate, delete" },
	{ "messages", cmd_messages, "delete INBOX messages by age or date (manual 5.3.9.7)" },
	{ "welcome", cmd_welcome, "the default message of new mailboxes: show, set, clear" },
	{ "status", cmd_status, "services run by posternd, their PIDs and addresses" },
	{ "diag", cmd_diag, "diagnostic report: checks of the whole installation (text, HTML, JSON)" },
	{ "token", cmd_token, "API tokens of the web administration API: add, list, del" },
	{ "sendlimit", cmd_sendlimit, "outbound abuse limits: list, suspend, unsuspend, release" },
	{ "db", cmd_db, "the config store: status, migrate-to postgresql URL" },
	{ "cluster", cmd_cluster, "nodes on a PostgreSQL store and mailbox leases: status, drain" },
	{ "chat", cmd_chat, "chat (XMPP): sessions, rooms, room create/destroy, archive" },
};

/* Commands made of verbs ("postoffice add ..."): without a verb they print
 * their help and exit 0, as `postern` alone does (issue 12: one rule for
 * all; a wrong or incomplete verb is still exit 2). */
static const char *const verb_commands[] = {
	"config", "postoffice", "domain", "dkim", "mailbox", "address", "group",
	"list", "popretrieval", "users", "queue", "filter", "messages", "welcome",
	"token", "quarantine", "sendlimit", "chat", "tls", "db", "cluster", NULL
};

static bool
needs_verb(const char *command)
{
	for (const char *const *c = verb_commands; *c != NULL; c++)
		if (strcmp(*c, command) == 0)
			return true;
	return false;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern [-d DIR] [--json] COMMAND [ARGS...]\n\n"
	    "Administers a Postern data root, given by -d DIR or POSTERN_DIR.\n\n"
	    "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
	    "\n'postern COMMAND --help' (or a command without its verb)\n"
	    "describes a command.\n\n"
	    "Exit codes: 0 ok, 1 failed, 2 bad usage or value, 3 not found,\n"
	    "4 already exists, 5 partly done (import), 6 no usable data root,\n"
	    "7 config database locked by another writer.\n");
}

/* act_as_owner - whatever a command creates in the data root must belong
 * to the data root's owner, the user the services run as: root acts as
 * that user, and a third user is refused (mail stored by root would be
 * unreadable to the services). Help needs no data root. */
static int
act_as_owner(struct cli *cli, int argc, char **argv)
{
	const char *err;
	uid_t uid;
	gid_t gid;

	if (cli->root == NULL)
		return 0;
	for (int j = 1; j < argc; j++)
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0)
			return 0;
	if (dataroot_become_owner(cli->root, &uid, &gid, &err) < 0)
		return cli_error(EXIT_FAIL, "%s", err);
	return 0;
}

/* init_login_user - `postern init` as root makes the system user of the
 * pre-login processes (lib-service/login.h), before acting as the data
 * root's owner, who could not */
static void
init_login_user(void)
{
	const char *err;
	uid_t uid;
	gid_t gid;

	if (dataroot_login_user(true, &uid, &gid, &err) < 0)
		fprintf(stderr, "postern: warning: %s; pop3d will not start "
		    "without it\n", err);
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const char *dir = NULL;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--dir") == 0) {
			if (i + 1 >= argc)
				return cli_usage("-d needs a directory");
			dir = argv[++i];
		} else if (strncmp(argv[i], "--dir=", 6) == 0) {
			dir = argv[i] + 6;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("postern %s\n", POSTERN_VERSION);
			return 0;
		} else if (argv[i][0] == '-') {
			return cli_usage("unknown option %s (see postern --help)", argv[i]);
		} else {
			break;
		}
	}
	if (i >= argc) {
		usage(stdout);
		return 0;
	}
	/* --json is also accepted after the command */
	for (int j = i + 1; j < argc; j++)
		if (strcmp(argv[j], "--json") == 0) {
			cli.json = true;
			memmove(&argv[j], &argv[j + 1], sizeof(char *) * (size_t)(argc - j));
			argc--;
			j--;
		}
	cli.root = dataroot_resolve(dir);
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		if (argc - i == 1 && needs_verb(argv[i])) {
			char *help[] = { argv[i], (char *)"--help", NULL };
			r = commands[c].fn(&cli, 2, help);
		} else {
			struct cli_audit au;
			uid_t user = getuid();   /* before acting as the owner */
			if (strcmp(argv[i], "init") == 0 && geteuid() == 0)
				init_login_user();
			if ((r = act_as_owner(&cli, argc - i, argv + i)) == 0) {
				cli_audit_begin(&cli, argc - i, argv + i, user, &au);
				r = commands[c].fn(&cli, argc - i, argv + i);
				cli_audit_end(&cli, &au, r);
			}
		}
		db_close(&cli.db);
		free(cli.root);
		fflush(stdout);
		if (ferror(stdout))
			return cli_error(EXIT_FAIL, "writing the output failed");
		return r;
	}
	free(cli.root);
	return cli_usage("unknown command '%s' (see postern --help)", argv[i]);
}
