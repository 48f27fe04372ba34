#ifndef POSTERN_CMD_QUARANTINE_H
#define POSTERN_CMD_QUARANTINE_H

#include "cli.h"

/* postern quarantine list|show|release|delete (lib-filter/quarantine.h) */
int cmd_quarantine(struct cli *cli, int argc, char **argv);

#endif
