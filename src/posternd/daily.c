/* daily - once-a-day jobs of posternd (daily.h)
 *
 * The day last done is a line "YYYY-MM-DD" in run/daily.day, written by
 * the job after both reports of that day were handed over (queued or
 * posted), so a posternd that was down at midnight catches up when it
 * starts again, and a day is reported once even when posternd restarts
 * in the middle: a report command that fails leaves the day to the
 * next try.
 *
 * After the days were reported, the job removes the row files
 * (dmarc/<day>.tsv, tlsrpt/<day>.tsv) of reported days older than
 * reports.keep_days. With reports.daily off, an hourly job only removes
 * the row files older than reports.keep_days (nothing is reported). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daily.h"
#include "db.h"
#include "fsutil.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"

#define DAY 86400
#define CATCH_UP 7          /* days back a late start still reports */
#define AFTER_MIDNIGHT 120  /* seconds: the day's last rows are written */
#define RETRY 3600

static char *root, *cli;
static long keep_days = 31;  /* reports.keep_days, read with reports.daily */
static long done = -1;      /* the last day done, days since 1970 */
static pid_t job;
static time_t next_try;

static void
day_text(long day, char out[16])
{
	time_t t = (time_t)day * DAY;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

static long
day_read(void)
{
	char *path = xasprintf("%s/run/daily.day", root);
	char line[32] = "";
	struct tm tm;
	long day = -1;
	FILE *f = fopen(path, "r");

	free(path);
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL) {
		memset(&tm, 0, sizeof(tm));
		char *e = strptime(line, "%Y-%m-%d", &tm);
		if (e != NULL && (*e == '\n' || *e == '\0'))
			day = (long)(timegm(&tm) / DAY);
	}
	fclose(f);
	return day;
}

static int
day_write(long day)
{
	char *path = xasprintf("%s/run/daily.day", root);
	char text[20];
	int rc;

	day_text(day, text);
	strcat(text, "\n");
	rc = file_write_atomic(path, text, strlen(text), 0644);
	/* the data root's owner owns what posternd makes in it */
	struct stat st;
	if (rc == 0 && stat(root, &st) == 0 && geteuid() == 0 &&
	    chown(path, st.st_uid, st.st_gid) < 0)
		log_warn("chown %s", path);
	free(path);
	return rc;
}

void
daily_init(const char *r, const char *c)
{
	root = xstrdup(r);
	cli = xstrdup(c);
	done = day_read();
	if (done < 0) {
		done = (long)(time(NULL) / DAY) - 1;
		if (day_write(done) < 0)
			log_warn("cannot write %s/run/daily.day", root);
	}
}

/* has_rows - a report file of the day exists */
static bool
has_rows(const char *day)
{
	static const char *const dirs[] = { "dmarc", "tlsrpt" };
	for (size_t i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s/%s.tsv", root, dirs[i], day);
		bool here = access(p, F_OK) == 0;
		free(p);
		if (here)
			return true;
	}
	return false;
}

static bool
wanted(void)
{
	struct db *db;
	const char *err;
	bool on;

	if (db_open(root, false, &db, &err) < 0) {
		log_warnx("daily reports: %s", err);
		return false;
	}
	on = settings_current(db)->reports_daily != 0;
	keep_days = (long)settings_current(db)->reports_keep_days;
	if (keep_days < 1)
		keep_days = 1;
	db_close(&db);
	return on;
}

/* prune - in the job process: remove the row files of days before
 * first (all reported: run only calls it when every day up to the last
 * one ended is done); other names are left alone */
static void
prune(long first)
{
	static const char *const dirs[] = { "dmarc", "tlsrpt" };

	for (size_t i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", root, dirs[i]);
		DIR *dir = opendir(path);
		struct dirent *e;

		if (dir == NULL) {
			free(path);
			continue;
		}
		while ((e = readdir(dir)) != NULL) {
			struct tm tm;
			char *end;

			/* YYYY-MM-DD.tsv exactly */
			if (strlen(e->d_name) != 14)
				continue;
			memset(&tm, 0, sizeof(tm));
			end = strptime(e->d_name, "%Y-%m-%d", &tm);
			if (end == NULL || end != e->d_name + 10 ||
			    strcmp(end, ".tsv") != 0)
				continue;
			if ((long)(timegm(&tm) / DAY) >= first)
				continue;
			char *f = xasprintf("%s/%s", path, e->d_name);
			if (unlink(f) == 0)
				printf("removed %s/%s (reports.keep_days %ld)\n",
				    dirs[i], e->d_name, keep_days);
			else if (errno != ENOENT)
				fprintf(stderr, "posternd: cannot remove %s: %s\n",
				    f, strerror(errno));
			free(f);
		}
		closedir(dir);
		free(path);
	}
	fflush(stdout);
}

/* run - the job process: each day's two reports, in order */
static int
run(long from, long to)
{
	static const char *const kinds[] = { "dmarc", "tls" };

	for (long d = from; d <= to; d++) {
		char day[16];
		bool ok = true;
		day_text(d, day);
		if (!has_rows(day)) {
			(void)day_write(d);
			continue;
		}
		for (size_t i = 0; i < 2; i++) {
			pid_t pid = fork();
			int st = 0;
			if (pid < 0)
				return 1;
			if (pid == 0) {
				execl(cli, cli, "-d", root, kinds[i], "report",
				    "--date", day, "--send", (char *)NULL);
				fprintf(stderr, "posternd: exec %s: %s\n", cli,
				    strerror(errno));
				_exit(127);
			}
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "posternd: %s report of %s failed "
				    "(status %d); tried again in an hour\n",
				    kinds[i], day, WIFEXITED(st) ?
				    WEXITSTATUS(st) : 128 + WTERMSIG(st));
				ok = false;
			}
		}
		if (!ok)
			return 1;
		if (day_write(d) < 0)
			return 1;
	}
	/* every day up to to is done: rows older than keep_days go (today
	 * is to + 1: the files of the keep_days days before it stay) */
	prune(to + 1 - keep_days);
	return 0;
}

void
daily_tick(time_t now)
{
	long yesterday = (long)(now / DAY) - 1;

	if (job != 0 || now < next_try || done >= yesterday ||
	    now % DAY < AFTER_MIDNIGHT)
		return;
	bool report = wanted();
	long from = done + 1;
	if (from < yesterday - CATCH_UP + 1)
		from = yesterday - CATCH_UP + 1;
	char *logpath = xasprintf("%s/log/daily.log", root);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	free(logpath);
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork for the daily reports");
		if (fd >= 0)
			close(fd);
		next_try = now + RETRY;
		return;
	}
	if (pid == 0) {
		/* posternd's handlers (libevent's signal pipe) are not ours */
		static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP,
		    SIGPIPE };
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setpgid(0, 0);
		if (report)
			_exit(run(from, yesterday));
		/* reports.daily off: nothing is reported, the rows of
		 * days older than keep_days still go */
		prune(yesterday + 1 - keep_days);
		_exit(0);
	}
	if (fd >= 0)
		close(fd);
	job = pid;
	if (!report) {
		next_try = now + RETRY;
		return;
	}
	char a[16], b[16];
	day_text(from, a);
	day_text(yesterday, b);
	log_info("daily reports of %s to %s: pid %ld (log/daily.log)", a, b,
	    (long)pid);
}

bool
daily_reaped(pid_t pid, int status, time_t now)
{
	if (job == 0 || pid != job)
		return false;
	job = 0;
	done = day_read();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		next_try = now + RETRY;
		log_warnx("daily reports failed (see log/daily.log); tried "
		    "again in an hour");
	}
	return true;
}

void
daily_free(void)
{
	free(root);
	free(cli);
	root = cli = NULL;
}
