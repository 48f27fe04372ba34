/* crashpoint - SIGKILL at a named stage, for the crash tests */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

static int armed = -1;           /* -1 not read yet, 0 off, 1 on */
static char cp_stage[128];
static const char *cp_file;

void
crashpoint(const char *stage)
{
	if (armed < 0) {
		const char *v = getenv("POSTERN_CRASHPOINT");
		const char *colon = v != NULL ? strchr(v, ':') : NULL;

		armed = 0;
		if (colon != NULL && (size_t)(colon - v) < sizeof(cp_stage) &&
		    colon[1] != '\0') {
			memcpy(cp_stage, v, (size_t)(colon - v));
			cp_stage[colon - v] = '\0';
			cp_file = colon + 1;
			armed = 1;
		}
	}
	if (armed == 0 || strcmp(stage, cp_stage) != 0 || unlink(cp_file) < 0)
		return;
	/* the service's group (posternd gives each service its own): a
	 * worker takes its main process and siblings with it */
	pid_t g = getpgid(0);
	if (g == getpid() || g == getppid())
		kill(-g, SIGKILL);
	kill(getpid(), SIGKILL);
}
