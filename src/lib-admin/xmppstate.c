/* xmppstate - xmppd's state file (xmppstate.h) */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "xalloc.h"
#include "xmppstate.h"

json_t *
adm_xmpp_state(const char *root)
{
	char *path = xasprintf("%s/run/xmpp-state.json", root);
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);

	free(path);
	if (o == NULL)
		return NULL;
	json_int_t pid = json_integer_value(json_object_get(o, "pid"));
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
