#ifndef POSTERN_CLI_MAIL_H
#define POSTERN_CLI_MAIL_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

struct cli;

/* cli_queue_mail - queue msg (a whole message, CRLF lines) from from to
 * the n addresses of rcpts through the SMTP connector's inbound queue as
 * local, bulk mail under id (queue_new_id, also used in the message's
 * own fields); 0, or -1 with *error_r. */
int cli_queue_mail(struct cli *cli, const char *id, const char *from,
		   char *const *rcpts, size_t n, const struct buf *msg,
		   const char **error_r);

/* cli_report_day - the UTC day an aggregate report covers: --date
 * YYYY-MM-DD, or yesterday; its text into day and its first second into
 * *begin_r. 0, or the exit code of the usage error it printed. */
int cli_report_day(const char *date, char day[16], time_t *begin_r);

#endif
