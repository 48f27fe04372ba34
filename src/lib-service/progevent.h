#ifndef POSTERN_PROGEVENT_H
#define POSTERN_PROGEVENT_H

#include <stddef.h>

/* Event programs (manual 5.5.6): the post office connector's delivery
 * event and the MTA's pickup event run a configured program with a
 * message file and a connector type:
 *
 *     program [its own words] messagefile connectortype
 *
 * The program setting is split on blanks (no shell, no quoting); the two
 * arguments are appended. The program runs in its own process group with
 * stdin from /dev/null and stdout+stderr on a pipe. At most
 * PROGEVENT_OUTPUT_MAX bytes of its output go to the log (one line,
 * control characters replaced); the rest is read and dropped, so a
 * program printing megabytes neither blocks nor floods the log. When it
 * has not exited after timeout seconds its whole process group is killed
 * (SIGKILL); when it exits, what it left running in its group is killed
 * too. Every outcome (exit code, signal, timeout, exec failure) is logged
 * with the queue id. The caller has made its result durable before: the
 * event never changes what happens to the message. */

#define PROGEVENT_OUTPUT_MAX 2048
#define PROGEVENT_ARGS_MAX 32

enum progevent_result {
	PROGEVENT_OK = 0,       /* exited 0 */
	PROGEVENT_FAILED,       /* exited non-zero, or killed by a signal */
	PROGEVENT_TIMEOUT,      /* killed after the timeout */
	PROGEVENT_ERROR,        /* could not be started */
};

/* progevent_run - run program with file and conn_type, bounded by
 * timeout_s seconds; what names the event in the log ("delivery event",
 * "pickup event"), id is the queue id. */
enum progevent_result progevent_run(const char *what, const char *id,
				    const char *program, const char *file,
				    const char *conn_type, int timeout_s);

#endif
