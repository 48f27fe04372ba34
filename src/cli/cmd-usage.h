#ifndef POSTERN_CLI_CMD_USAGE_H
#define POSTERN_CLI_CMD_USAGE_H

#include "cli.h"

/* cli_postoffice_usage - postern postoffice usage NAME; exit code */
int cli_postoffice_usage(struct cli *cli, const char *name);

#endif
