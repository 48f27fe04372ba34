#ifndef POSTERN_THROTTLE_H
#define POSTERN_THROTTLE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "service.h"

/* Login throttling shared by every service that takes passwords (SMTP
 * AUTH, POP3, IMAP, ManageSieve): failed logins are counted per client
 * address; at auth.max_failures the address is refused until its failures
 * are older than THROTTLE_WINDOW. A good login clears the count. The table
 * is bounded: past THROTTLE_MAX addresses the stalest is forgotten. */

#define THROTTLE_WINDOW (15 * 60)
#define THROTTLE_MAX 20000

/* throttle_blocked - whether logins from sa are refused now */
bool throttle_blocked(struct service *svc, const struct sockaddr *sa);
/* throttle_failed - count a failed login from sa */
void throttle_failed(struct service *svc, const struct sockaddr *sa);
/* throttle_ok - a good login from sa clears its failures */
void throttle_ok(struct service *svc, const struct sockaddr *sa);
/* throttle_share - keep the failures in shared memory from now on, so
 * that pre-forked processes count together: call before forking (service
 * main does for a service with more than one process). 0 or -1. */
int throttle_share(void);
/* throttle_reset - forget everything (shutdown, tests) */
void throttle_reset(void);

#endif
