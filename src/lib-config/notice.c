/* notice - system notice mails to users, through the pickup directory
 * (notice.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "notice.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define NOTICE_TEXT_MAX 8192

int
notice_send(struct db *db, const char *to, const char *subject,
	    const char *text, const char **error_r)
{
	char date[64], id[33];
	unsigned char raw[16];
	time_t now = time(NULL);
	struct tm tm;
	struct buf msg;
	int r = -1, fd = -1;

	if (to == NULL || *to == '\0' || strlen(to) > 320 ||
	    strpbrk(to, "\r\n<>,;\"() ") != NULL || strchr(to, '@') == NULL) {
		*error_r = "the notice's address is not one plain address";
		return -1;
	}
	if (strpbrk(subject, "\r\n") != NULL ||
	    strlen(text) > NOTICE_TEXT_MAX) {
		*error_r = "internal: a bad notice";
		return -1;
	}
	random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	char *host = settings_hostname(db);
	const char *nfy = settings_current(db)->smtp_notification_address;
	char *from = nfy[0] != '\0' ? xstrdup(nfy) :
	    xasprintf("postmaster@%s", host);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&msg, 0);
	buf_printf(&msg, "Return-Path: <>\nX-Postern-Recipients: %s\n"
	    "From: Postern <%s>\nTo: <%s>\nSubject: %s\nDate: %s\n"
	    "Message-ID: <%s.notice@%s>\nAuto-Submitted: auto-generated\n"
	    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\n%s", to, from, to, subject,
	    date, id, host, text);
	char *qroot = settings_queue_path(db);
	char *dir = path_join(qroot, "pickup");
	char *name = xasprintf("notice-%s", id);
	char *tmp = xasprintf("%s/.%s", dir, name);
	char *path = path_join(dir, name);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = "the pickup directory cannot be made";
		goto out;
	}
	/* a dot name, then renamed: the pickup never takes it half written */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write_full(fd, msg.data, msg.len) == 0 &&
	    fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	ok = ok && rename(tmp, path) == 0 && fsync_dir(dir) == 0;
	if (!ok) {
		if (fd >= 0)
			(void)unlink(tmp);
		*error_r = "the notice cannot be written to the pickup directory";
		goto out;
	}
	r = 0;
out:
	free(qroot);
	free(dir);
	free(name);
	free(tmp);
	free(path);
	free(host);
	free(from);
	buf_free(&msg);
	return r;
}
