/* cli-mail - reports the CLI sends (DMARC, TLS-RPT): a message queued
 * as local mail in the SMTP connector's inbound queue */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli-mail.h"
#include "queue.h"
#include "reports.h"
#include "settings.h"

int
cli_queue_mail(struct cli *cli, const char *id, const char *from,
	       char *const *rcpts, size_t n, const struct buf *msg,
	       const char **error_r)
{
	struct queue_env env;
	struct queue_writer *w = NULL;
	char *qroot = settings_queue_path(cli->db);
	char *qpath = queue_path(qroot, "smtp", QUEUE_INBOUND);
	int rc = -1;

	queue_env_init(&env, id);
	env.arrival = time(NULL);
	queue_env_set(&env.sender, from);
	queue_env_set(&env.client_addr, "local");
	env.bulk = true;
	for (size_t i = 0; i < n; i++)
		queue_env_add_rcpt(&env, rcpts[i], NULL, 0);
	*error_r = "cannot make the queue";
	if (queue_ensure(qpath) == 0 &&
	    (w = queue_writer_open(qpath, id, error_r)) != NULL) {
		if (queue_writer_write(w, msg->data, msg->len) < 0) {
			*error_r = "write failed";
			queue_writer_abort(&w);
		} else if (queue_writer_commit(&w, &env, error_r) == 0) {
			rc = 0;
		} else if (w != NULL) {
			queue_writer_abort(&w);
		}
	}
	free(qpath);
	free(qroot);
	queue_env_free(&env);
	return rc;
}

int
cli_report_day(const char *date, char day[16], time_t *begin_r)
{
	if (report_day(date, day, begin_r) < 0)
		return cli_error(EXIT_USAGE, "--date: YYYY-MM-DD");
	return 0;
}
