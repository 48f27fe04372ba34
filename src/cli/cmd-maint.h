#ifndef POSTERN_CLI_CMD_MAINT_H
#define POSTERN_CLI_CMD_MAINT_H

#include "cli.h"

/* Maintenance actions (manual 5.3.9.5-9), cmd-maint.c:
 *   postern postoffice email PO --subject S --body-file F [--from ADDR]
 *   postern mailbox email NAME@PO --subject S --body-file F [--from ADDR]
 *   postern messages delete --postoffice PO | --mailbox NAME@PO | --all
 *                           --older-than DAYS | --before YYYY-MM-DD | --everything
 *   postern welcome show | set --file F | clear
 * Mail from the administrator and the welcome message are put straight
 * into each INBOX through lib-store (durable, counted in the quota usage,
 * not refused by it); deletions go through the INBOX index (store_expunge)
 * so UIDs, IMAP sessions and the quota usage stay right. */

/* cmd_maint_email - argv[0] is "email"; kind "postoffice" or "mailbox" */
int cmd_maint_email(struct cli *cli, const char *kind, int argc, char **argv);
int cmd_messages(struct cli *cli, int argc, char **argv);
int cmd_welcome(struct cli *cli, int argc, char **argv);
/* cli_welcome_deliver - the welcome message (setting welcome.message,
 * lib-diag maint.h) into a new mailbox; 0 (also when none is set) or -1
 * (printed). */
int cli_welcome_deliver(struct cli *cli, const char *postoffice,
			const char *mailbox);

#endif
