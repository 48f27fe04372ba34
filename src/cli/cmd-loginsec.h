#ifndef POSTERN_CMD_LOGINSEC_H
#define POSTERN_CMD_LOGINSEC_H

#include <stdbool.h>
#include <string.h>

#include "cli.h"

/* cmd_loginsec - postern mailbox app-password|twofactor|logins|
 * failed-logins (argv as cmd_mailbox got it: argv[1] is the word) */
int cmd_loginsec(struct cli *cli, int argc, char **argv);
/* cmd_loginsec_word - is word one of cmd_loginsec's? */
static inline bool
cmd_loginsec_word(const char *word)
{
	return strcmp(word, "app-password") == 0 ||
	    strcmp(word, "twofactor") == 0 || strcmp(word, "logins") == 0 ||
	    strcmp(word, "failed-logins") == 0 || strcmp(word, "passkey") == 0;
}

#endif
