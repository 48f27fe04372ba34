#ifndef POSTERN_CLI_AUDIT_H
#define POSTERN_CLI_AUDIT_H

#include <sys/types.h>

#include "cli.h"

/* cli-audit - a CLI change's row in the audit store (cli-audit.c) */
struct audited;
struct cli_audit {
	const struct audited *what;  /* the command's entry; NULL: not recorded */
	char actor[80];        /* cli:<unix user> */
	char object[330];
	char po[80];
	char text[400];
};

/* cli_audit_begin - before running argv (command, verb, object...):
 * what to record if it succeeds (a->what NULL: nothing) */
void cli_audit_begin(struct cli *cli, int argc, char **argv, uid_t user,
		     struct cli_audit *a);
/* cli_audit_end - the row, when the command exited 0 */
void cli_audit_end(struct cli *cli, const struct cli_audit *a, int status);

#endif
