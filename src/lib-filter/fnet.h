#ifndef POSTERN_FNET_H
#define POSTERN_FNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fnet - blocking sockets with a deadline, for the content scanners'
 * clients (clamd, milters, rspamd). Every call takes an absolute deadline
 * (fnet_deadline) so a scanner that hangs costs at most the configured
 * time, however it trickles. Addresses:
 *   /path, unix:/path         a unix socket
 *   host:port, inet:host:port, [v6]:port   TCP (numeric or resolved)
 * Return values: 0 done, -1 with *error_r (static or thread-local text). */

/* fnet_deadline - now + ms, in ms of CLOCK_MONOTONIC. */
int64_t fnet_deadline(int64_t ms);
/* fnet_connect - a connected socket, or -1. */
int fnet_connect(const char *addr, int64_t deadline, const char **error_r);
/* fnet_write - all of data, or -1. */
int fnet_write(int fd, const void *data, size_t len, int64_t deadline,
	       const char **error_r);
/* fnet_read - at most len bytes: the count, 0 at the peer's end, -1. */
ssize_t fnet_read(int fd, void *data, size_t len, int64_t deadline,
		  const char **error_r);
/* fnet_read_full - exactly len bytes, or -1 (an early end is an error). */
int fnet_read_full(int fd, void *data, size_t len, int64_t deadline,
		   const char **error_r);

#endif
