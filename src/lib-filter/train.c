/* train - spam training requests: queued by imapd when a user moves mail
 * into or out of Junk, sent to rspamd's controller by the MTA */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "rspamd.h"
#include "settings.h"
#include "verdict.h"
#include "xalloc.h"

#define TRAIN_PER_RUN 20

/* copy_file - src to dst (new), fsynced; 0 or -1 */
static int
copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out, r = 0;
	char chunk[65536];
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, chunk, sizeof(chunk))) > 0)
		if (write_full(out, chunk, (size_t)n) < 0) {
			r = -1;
			break;
		}
	if (n < 0)
		r = -1;
	close(in);
	close(out);
	if (r < 0)
		unlink(dst);
	return r;
}

int
spam_learn_request(struct db *db, const char *msg_path, bool spam,
		   const char **error_r)
{
	const char *ctl = settings_current(db)->spam_rspamd_controller;
	int r = 0;

	if (*ctl == '\0')
		return 0;
	char *qroot = settings_queue_path(db);
	char *dir = path_join(qroot, "spamtrain");
	static unsigned seq;
	char *tmp = xasprintf("%s/.%lld.%ld.%u", dir, (long long)time(NULL),
	    (long)getpid(), ++seq);
	char *dst = xasprintf("%s/%lld.%ld.%u.%s", dir, (long long)time(NULL),
	    (long)getpid(), seq, spam ? "spam" : "ham");
	if (mkdir_p(dir, 0750) < 0) {
		*error_r = "cannot create the training queue";
		r = -1;
	} else if (link(msg_path, tmp) < 0 && copy_file(msg_path, tmp) < 0) {
		*error_r = "cannot queue the message for training";
		r = -1;
	} else if (rename(tmp, dst) < 0) {
		unlink(tmp);
		*error_r = "cannot queue the message for training";
		r = -1;
	}
	free(tmp);
	free(dst);
	free(dir);
	free(qroot);
	return r;
}

int
spam_learn_run(struct db *db, const char *qroot)
{
	char *dir = path_join(qroot, "spamtrain");
	DIR *d = opendir(dir);
	struct dirent *de;
	int sent = 0;

	if (d == NULL) {
		free(dir);
		return 0;
	}
	const char *ctl = settings_current(db)->spam_rspamd_controller;
	const char *pw = settings_current(db)->spam_rspamd_password;
	int64_t timeout = settings_current(db)->spam_timeout * 1000;
	while (*ctl != '\0' && sent < TRAIN_PER_RUN &&
	    (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		bool spam = l > 5 && strcmp(de->d_name + l - 5, ".spam") == 0;
		bool ham = l > 4 && strcmp(de->d_name + l - 4, ".ham") == 0;
		if (de->d_name[0] == '.' || (!spam && !ham))
			continue;
		char *p = path_join(dir, de->d_name);
		const char *err;
		if (rspamd_learn(ctl, pw, timeout, p, spam, &err) == 0)
			log_info("spam training: learned %s as %s", de->d_name,
			    spam ? "spam" : "ham");
		else
			log_warnx("spam training: %s as %s: %s (dropped)",
			    de->d_name, spam ? "spam" : "ham", err);
		unlink(p);
		free(p);
		sent++;
	}
	closedir(d);
	free(dir);
	return sent;
}
