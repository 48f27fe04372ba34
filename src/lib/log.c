/* log - per-service log lines to a file and/or stderr */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum log_level log_level_current = LOG_LVL_INFO;
static char log_service[32] = "postern";
static char *log_path;
static int log_fd = -1;
static bool log_stderr = true;

int
log_init(const char *service, const char *path, bool to_stderr)
{
	snprintf(log_service, sizeof(log_service), "%s", service);
	log_stderr = to_stderr || path == NULL;
	free(log_path);
	log_path = path ? strdup(path) : NULL;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	if (path != NULL) {
		log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (log_fd < 0)
			return -1;
	}
	if (getenv("POSTERN_DEBUG") != NULL)
		log_level_current = LOG_LVL_DEBUG;
	return 0;
}

void
log_set_level(enum log_level level)
{
	log_level_current = level;
}

void
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return;
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	log_use_fd(fd);
}

void
log_use_fd(int fd)
{
	if (log_fd >= 0) {
		/* stdout and stderr that went to the old file (posternd makes
		 * them the log, for crashes and sanitizer reports) follow it;
		 * a terminal or a journal stays */
		struct stat old, st;
		if (fstat(log_fd, &old) == 0)
			for (int std = STDOUT_FILENO; std <= STDERR_FILENO; std++)
				if (fstat(std, &st) == 0 && st.st_dev == old.st_dev &&
				    st.st_ino == old.st_ino)
					(void)dup2(fd, std);
		close(log_fd);
	}
	log_fd = fd;
}

static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[4096];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (level > log_level_current)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%ld]: %s: ",
	    ts.tv_nsec / 1000000, log_service, (long)getpid(), names[level]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (errnum != 0 && n < sizeof(line) - 2) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r;
		if (n >= sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	/* never let control characters from input forge extra log lines */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line[n++] = '\n';
	if (log_fd >= 0)
		(void)!write(log_fd, line, n);
	if (log_stderr)
		(void)!write(STDERR_FILENO, line, n);
}

void
log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
