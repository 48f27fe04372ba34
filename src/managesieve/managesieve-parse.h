#ifndef POSTERN_MANAGESIEVE_PARSE_H
#define POSTERN_MANAGESIEVE_PARSE_H

#include <stddef.h>

/* The ManageSieve command reader (RFC 5804 4): a verb, then up to
 * MS_MAX_ARGS arguments, each an atom, a quoted string or a literal
 * {n}/{n+} CRLF <n bytes>, then CRLF (a bare LF is taken). A line with no
 * verb is a SASL response. Incremental: it is given all the bytes
 * buffered so far and says whether a whole command is there. */

#define MS_LINE_MAX 8192           /* a quoted string or a line's tokens */
#define MS_MAX_ARGS 4

/* one parsed command: verb and string arguments (binary safe, each
 * NUL terminated too) */
struct ms_cmd {
	char verb[32];
	char *argv[MS_MAX_ARGS];
	size_t argl[MS_MAX_ARGS];
	size_t argc;
};

/* ms_parse - one command from data[0..len): 1 complete (*used_r bytes
 * make it), 0 need more, -1 bad command (*used_r: up to the end of its
 * line, or 0 when the line is not complete yet) with *error_r, -2 a
 * literal larger than max_lit (*error_r). On 1 free c with cmd_clear. */
int ms_parse(const char *data, size_t len, size_t max_lit, struct ms_cmd *c,
	     size_t *used_r, const char **error_r);
void cmd_clear(struct ms_cmd *c);

#endif
