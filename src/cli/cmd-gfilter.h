#ifndef POSTERN_CLI_CMD_GFILTER_H
#define POSTERN_CLI_CMD_GFILTER_H

#include "cli.h"

/* cmd_filter_global - postern filter global add|list|del|move; argv[0]
 * is "global". */
int cmd_filter_global(struct cli *cli, int argc, char **argv);

#endif
