#ifndef POSTERN_CMD_AUTODISCOVER_H
#define POSTERN_CMD_AUTODISCOVER_H

#include "cli.h"

/* cmd_domain_autodiscover - postern domain autodiscover list|add|del|
 * detect DOMAIN ... (a.pos[0] is "autodiscover") */
int cmd_domain_autodiscover(struct cli *cli, const struct cli_args *a);

#endif
