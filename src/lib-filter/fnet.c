/* fnet - blocking client sockets bounded by a deadline */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fnet.h"

static _Thread_local char fnet_err[256];

static int
fail(const char **error_r, const char *fmt, const char *arg)
{
	snprintf(fnet_err, sizeof(fnet_err), fmt, arg);
	*error_r = fnet_err;
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
fnet_deadline(int64_t ms)
{
	return now_ms() + ms;
}

/* wait_for - poll fd for events until the deadline: 0 ready, -1 */
static int
wait_for(int fd, short events, int64_t deadline, const char **error_r)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return fail(error_r, "%s", "timed out");
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return fail(error_r, "poll: %s", strerror(errno));
	}
}

/* connect_wait - finish a non-blocking connect */
static int
connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
	     int64_t deadline, const char **error_r)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN)
		return fail(error_r, "%s", strerror(errno));
	if (wait_for(fd, POLLOUT, deadline, error_r) < 0)
		return -1;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
		return fail(error_r, "%s", strerror(soerr ? soerr : errno));
	return 0;
}

int
fnet_connect(const char *addr, int64_t deadline, const char **error_r)
{
	const char *path = NULL;
	char host[256], port[16];
	int fd;

	if (strncmp(addr, "unix:", 5) == 0)
		path = addr + 5;
	else if (addr[0] == '/')
		path = addr;
	if (path != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(path) >= sizeof(sun.sun_path))
			return fail(error_r, "socket path too long: %.100s", path);
		memcpy(sun.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(error_r, "socket: %s", strerror(errno));
		if (connect_wait(fd, (struct sockaddr *)&sun, sizeof(sun),
		    deadline, error_r) < 0) {
			char e[200];
			snprintf(e, sizeof(e), "%s", *error_r);
			close(fd);
			snprintf(fnet_err, sizeof(fnet_err), "connect %.100s: %s",
			    path, e);
			*error_r = fnet_err;
			return -1;
		}
		return fd;
	}
	if (strncmp(addr, "inet:", 5) == 0)
		addr += 5;
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || colon[1] == '\0' ||
	    strlen(colon + 1) >= sizeof(port))
		return fail(error_r, "not host:port or a socket path: %.100s", addr);
	size_t hl = (size_t)(colon - addr);
	if (addr[0] == '[' && hl > 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return fail(error_r, "host name too long: %.100s", addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int gr = getaddrinfo(host, port, &hints, &res);
	if (gr != 0)
		return fail(error_r, "%s", gai_strerror(gr));
	const char *last = "no address";
	char lastbuf[200];
	fd = -1;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		const char *e;
		if (connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline,
		    &e) == 0)
			break;
		snprintf(lastbuf, sizeof(lastbuf), "%s", e);
		last = lastbuf;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(fnet_err, sizeof(fnet_err), "connect %.100s:%s: %s",
		    host, port, last);
		*error_r = fnet_err;
	}
	return fd;
}

int
fnet_write(int fd, const void *data, size_t len, int64_t deadline,
	   const char **error_r)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(fd, POLLOUT, deadline, error_r) < 0)
				return -1;
			continue;
		}
		return fail(error_r, "write: %s", strerror(errno));
	}
	return 0;
}

ssize_t
fnet_read(int fd, void *data, size_t len, int64_t deadline,
	  const char **error_r)
{
	for (;;) {
		ssize_t n = recv(fd, data, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(error_r, "read: %s", strerror(errno));
		if (wait_for(fd, POLLIN, deadline, error_r) < 0)
			return -1;
	}
}

int
fnet_read_full(int fd, void *data, size_t len, int64_t deadline,
	       const char **error_r)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = fnet_read(fd, p, len, deadline, error_r);
		if (n < 0)
			return -1;
		if (n == 0)
			return fail(error_r, "%s", "connection closed by the peer");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
