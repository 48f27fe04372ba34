#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdbool.h>

/* Logging. Each line: "<UTC time> <service>[pid]: <level>: <text>".
 * log_warn appends strerror(errno); log_warnx does not. Never log AUTH
 * payloads or passwords. log_debug skips argument evaluation when off. */

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* log_init - set the service name; path NULL logs to stderr only, otherwise
 * lines go to the file (opened O_APPEND) and, if to_stderr, to stderr too. */
int log_init(const char *service, const char *path, bool to_stderr);
void log_set_level(enum log_level level);
extern enum log_level log_level_current;
/* log_reopen - reopen the log file (after rotation); stdout and stderr
 * that pointed to the old file are pointed to the new one (dup2). */
void log_reopen(void);
/* log_use_fd - log to fd from now on (ours), as log_reopen does with the
 * file it opens: a process that cannot open the log (a chrooted pre-login
 * process) gets it from one that can */
void log_use_fd(int fd);

void log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define log_warn(...) log_msg(LOG_LVL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, false, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, false, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, false, __VA_ARGS__)
#define log_debug(...) do { \
	if (log_level_current >= LOG_LVL_DEBUG) \
		log_msg(LOG_LVL_DEBUG, false, __VA_ARGS__); \
} while (0)

#endif
