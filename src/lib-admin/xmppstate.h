#ifndef POSTERN_ADMIN_XMPPSTATE_H
#define POSTERN_ADMIN_XMPPSTATE_H

#include <jansson.h>

/* adm_xmpp_state - xmppd's state file <root>/run/xmpp-state.json
 * (sessions, live rooms; rewritten by xmppd within a second of a change)
 * while the xmppd that wrote it runs: a new reference, or NULL when
 * xmppd is not running. The code of `postern chat sessions` and of the
 * API's ChatSession/get. */
json_t *adm_xmpp_state(const char *root);

#endif
