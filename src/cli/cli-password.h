#ifndef POSTERN_CLI_PASSWORD_H
#define POSTERN_CLI_PASSWORD_H

#include <stdbool.h>

#include "cli.h"

#define CLI_PASSWORD_OPTIONS "password=", "password-file=", "random-password"

/* cli_password - a password from --password PW, --password-file FILE (or
 * - for standard input) or --random-password; 0 or an exit code. */
int cli_password(const struct cli_args *a, bool required, char **pw_r,
		 bool *generated_r);

#endif
