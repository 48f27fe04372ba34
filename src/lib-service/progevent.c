/* progevent - run a delivery or pickup event program, bounded */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "progevent.h"
#include "xalloc.h"

/* now_ms - a monotonic clock in milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* child_exec - in the child: own process group, stdio, exec; never returns */
static void __attribute__((noreturn))
child_exec(char **argv, int out_fd)
{
	int null = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (null >= 0 && null != 0) {
		dup2(null, 0);
		close(null);
	}
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	if (out_fd > 2)
		close(out_fd);
	/* listeners and databases of the service are not the program's */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	execv(argv[0], argv);
	dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
	_exit(127);
}

/* output_keep - keep the first PROGEVENT_OUTPUT_MAX bytes, printable */
static void
output_keep(struct buf *out, const char *data, size_t n, size_t *total)
{
	*total += n;
	for (size_t i = 0; i < n && out->len < PROGEVENT_OUTPUT_MAX; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\n')
			buf_puts(out, " | ");
		else if (c == '\r' || c == '\t')
			buf_putc(out, ' ');
		else
			buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

/* progevent_run - fork, exec, read bounded output, wait bounded */
enum progevent_result
progevent_run(const char *what, const char *id, const char *program,
	      const char *file, const char *conn_type, int timeout_s)
{
	char *words = xstrdup(program), *save = NULL;
	char *argv[PROGEVENT_ARGS_MAX + 3];
	size_t argc = 0, total = 0;
	struct buf out;
	int pfd[2], status = 0;
	bool exited = false, timed_out = false;
	enum progevent_result res;

	for (char *t = strtok_r(words, " \t", &save); t != NULL &&
	    argc < PROGEVENT_ARGS_MAX; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (argc == 0) {
		free(words);
		return PROGEVENT_OK;
	}
	if (argv[0][0] != '/') {
		log_warnx("%s: %s: program '%s' is not an absolute path: not run",
		    id, what, argv[0]);
		free(words);
		return PROGEVENT_ERROR;
	}
	argv[argc++] = (char *)file;
	argv[argc++] = (char *)conn_type;
	argv[argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_warn("%s: %s: pipe", id, what);
		free(words);
		return PROGEVENT_ERROR;
	}
	long long start = now_ms(), deadline = start + (long long)timeout_s * 1000;
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("%s: %s: fork", id, what);
		close(pfd[0]);
		close(pfd[1]);
		free(words);
		return PROGEVENT_ERROR;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_exec(argv, pfd[1]);
	}
	setpgid(pid, pid);   /* either of us may win the race */
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	buf_init(&out, 0);

	bool eof = false;
	while (!exited || !eof) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = !exited;
			break;
		}
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				exited = true;
		}
		if (eof) {
			/* the pipe closed, the program still runs */
			struct timespec ts = { 0, 50 * 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, exited ? 0 : (int)(left < 100 ? left : 100));
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0) {
			if (exited)
				break;   /* exited; a grandchild may hold the pipe */
			continue;
		}
		char chunk[65536];
		for (int k = 0; k < 64; k++) {
			ssize_t n = read(pfd[0], chunk, sizeof(chunk));
			if (n > 0) {
				output_keep(&out, chunk, (size_t)n, &total);
				continue;
			}
			if (n == 0)
				eof = true;
			break;
		}
	}
	close(pfd[0]);
	/* the group goes: the program on timeout, leftovers otherwise */
	if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
		log_warn("%s: %s: kill", id, what);
	if (!exited) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	long long ms = now_ms() - start;
	const char *o = out.data ? out.data : "";
	if (timed_out) {
		log_warnx("%s: %s %s timed out after %d s: killed (%zu bytes of "
		    "output%s%s)", id, what, argv[0], timeout_s, total,
		    *o ? ": " : "", o);
		res = PROGEVENT_TIMEOUT;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("%s: %s %s %s ran in %lld ms (%zu bytes of output%s%s)",
		    id, what, argv[0], conn_type, ms, total, *o ? ": " : "", o);
		res = PROGEVENT_OK;
	} else if (WIFEXITED(status)) {
		log_warnx("%s: %s %s failed: exit %d (%zu bytes of output%s%s)",
		    id, what, argv[0], WEXITSTATUS(status), total,
		    *o ? ": " : "", o);
		res = WEXITSTATUS(status) == 127 ? PROGEVENT_ERROR :
		    PROGEVENT_FAILED;
	} else {
		log_warnx("%s: %s %s crashed: signal %d (%zu bytes of output%s%s)",
		    id, what, argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		    total, *o ? ": " : "", o);
		res = PROGEVENT_FAILED;
	}
	if (total > out.len && out.len >= PROGEVENT_OUTPUT_MAX)
		log_info("%s: %s output truncated in the log (%zu bytes)", id,
		    what, total);
	buf_free(&out);
	free(words);
	return res;
}
