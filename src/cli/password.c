/* password - where the CLI gets a password from */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli-password.h"
#include "strutil.h"
#include "xalloc.h"

int
cli_password(const struct cli_args *a, bool required, char **pw_r,
	     bool *generated_r)
{
	const char *pw = cli_opt(a, "password");
	const char *file = cli_opt(a, "password-file");
	char line[1100];

	*pw_r = NULL;
	if (generated_r != NULL)
		*generated_r = false;
	if (cli_flag(a, "random-password")) {
		*pw_r = random_password(12);
		if (generated_r != NULL)
			*generated_r = true;
		return 0;
	}
	if (file != NULL || (pw != NULL && strcmp(pw, "-") == 0)) {
		FILE *f = file && strcmp(file, "-") != 0 ? fopen(file, "r") : stdin;
		if (f == NULL)
			return cli_error(EXIT_USAGE, "cannot read %s", file);
		/* getline tells the length: a NUL would cut the password to a
		 * shorter one */
		char *got = NULL;
		size_t cap = 0;
		ssize_t n = getline(&got, &cap, f);
		if (f != stdin)
			fclose(f);
		if (n <= 0) {
			free(got);
			return cli_error(EXIT_USAGE, "no password in %s", file ? file : "stdin");
		}
		size_t len = strcspn(got, "\r\n");
		bool nul = len < (size_t)n && got[len] == '\0';
		if (nul || len > 1024) {
			explicit_bzero(got, (size_t)n);
			free(got);
			return cli_error(EXIT_USAGE, nul ? "the password in %s holds a "
			    "NUL byte: passwords may not contain NUL" : "the password "
			    "in %s is longer than 1024 bytes", file ? file : "stdin");
		}
		memcpy(line, got, len);
		line[len] = '\0';
		explicit_bzero(got, (size_t)n);
		free(got);
		*pw_r = xstrdup(line);
		explicit_bzero(line, sizeof(line));
		return 0;
	}
	if (pw != NULL) {
		*pw_r = xstrdup(pw);
		return 0;
	}
	if (required)
		return cli_usage("a password is needed: --password PW, --password-file FILE "
		    "(- for stdin) or --random-password");
	return 0;
}
