#ifndef POSTERN_CLI_REMOVE_H
#define POSTERN_CLI_REMOVE_H

#include "cli.h"

/* cli_removal_of - what deleting the object removes (see cli_confirm);
 * 0 or an exit code (after saying why). */
int cli_removal_of(struct cli *cli, enum adm_kind kind, const char *ident,
		   bool keep_data, json_t **removal_r);
/* cli_delete_object - postern postoffice|domain|mailbox|group|list del:
 * count, confirm (--yes), delete, print what went; an exit code. */
int cli_delete_object(struct cli *cli, enum adm_kind kind, const char *ident,
		      const struct cli_args *a);

#endif
