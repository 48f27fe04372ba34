/* notice - system notice mails to users (notice.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "envcopy.h"
#include "notice.h"
#include "queue.h"
#include "settings.h"
#include "xalloc.h"

#define NOTICE_TEXT_MAX 8192

int
notice_send(struct db *db, const char *to, const char *subject,
	    const char *text, const char **error_r)
{
	char id[QUEUE_ID_MAX + 1], date[64];
	struct queue_env env;
	struct buf msg;
	time_t now = time(NULL);
	struct tm tm;
	int r = -1;

	if (to == NULL || *to == '\0' || strlen(to) > 320 ||
	    strpbrk(to, "\r\n<>,;\" ") != NULL || strchr(to, '@') == NULL) {
		*error_r = "the notice's address is not one plain address";
		return -1;
	}
	if (strpbrk(subject, "\r\n") != NULL || strlen(text) > NOTICE_TEXT_MAX) {
		*error_r = "internal: a bad notice";
		return -1;
	}
	char *host = settings_hostname(db);
	char *nfy = settings_get_str(db, "smtp.notification_address");
	char *from = nfy[0] != '\0' ? xstrdup(nfy) :
	    xasprintf("postmaster@%s", host);
	free(nfy);
	queue_new_id(id);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&msg, 0);
	buf_printf(&msg, "From: Postern <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "Date: %s\r\nMessage-ID: <%s.notice@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", from, to, subject, date,
	    id, host);
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			buf_puts(&msg, "\r\n");
		else if (*p != '\r')
			buf_putc(&msg, *p);
	}
	queue_env_init(&env, id);
	env.arrival = now;
	queue_env_set(&env.sender, "");
	queue_env_set(&env.client_addr, "local");
	queue_env_set(&env.client_helo, host);
	env_origin_of_address(db, &env, from);
	queue_env_set(&env.body_type, "8BITMIME");
	env.bulk = true;
	queue_env_add_rcpt(&env, to, NULL, 0);
	char *qroot = settings_queue_path(db);
	char *q = queue_path(qroot, "smtp", QUEUE_INBOUND);
	free(qroot);
	struct queue_writer *w = NULL;
	if (queue_ensure(q) < 0) {
		*error_r = "the SMTP queue cannot be made";
		goto out;
	}
	if ((w = queue_writer_open(q, id, error_r)) == NULL)
		goto out;
	if (queue_writer_write(w, msg.data, msg.len) < 0) {
		queue_writer_abort(&w);
		*error_r = "the notice cannot be written to the queue";
		goto out;
	}
	if (queue_writer_commit(&w, &env, error_r) < 0)
		goto out;
	r = 0;
out:
	free(q);
	free(host);
	free(from);
	buf_free(&msg);
	queue_env_free(&env);
	return r;
}
