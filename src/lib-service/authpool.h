#ifndef POSTERN_AUTHPOOL_H
#define POSTERN_AUTHPOOL_H

#include <event2/event.h>

#include "directory.h"

/* authpool - password checks off the event loop, for the login services
 * (pop3d, managesieve): a hash costs 15-50 ms (yescrypt), which would
 * stall every other session of the process. The threads of a workpool
 * (workpool.h), each with its own config store connection, run
 * dir_authenticate(); the callback runs on the loop. */

struct auth_pool;
struct auth_req;

/* auth_done_cb - in the event loop; mb is valid only during the call,
 * error is set for DIR_AUTH_ERROR */
typedef void auth_done_cb(void *ctx, enum dir_auth_result r,
			  const struct dir_mailbox *mb, const char *error);

struct auth_pool *auth_pool_create(struct event_base *base, const char *root,
				   int threads, const char **error_r);
/* auth_pool_submit - queue a check; the password is copied and wiped
 * after use. */
struct auth_req *auth_pool_submit(struct auth_pool *p, const char *login,
				  const char *password, auth_done_cb *cb,
				  void *ctx);
/* auth_pool_submit_client - the same with the client (dir_client:
 * protocol and address, copied) for login security (loginsec.h) */
struct auth_req *auth_pool_submit_client(struct auth_pool *p,
					 const char *login,
					 const char *password,
					 const struct dir_client *client,
					 auth_done_cb *cb, void *ctx);
/* auth_req_cancel - the session went away: no callback. */
void auth_req_cancel(struct auth_pool *p, struct auth_req *r);
void auth_pool_free(struct auth_pool **p);

#endif
