/* popclient - one POP3 client connection of POP retrieval (popclient.h) */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "popclient.h"
#include "tls.h"

int
popclient_connect(struct popclient *c, const char *host, int port,
		  int timeout, const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	char portstr[16];
	static char err[300];
	int e = 0;

	c->fd = -1;
	snprintf(portstr, sizeof(portstr), "%d", port);
	int g = getaddrinfo(host, portstr, &hints, &res);
	if (g != 0) {
		snprintf(err, sizeof(err), "cannot resolve %s: %s", host,
		    gai_strerror(g));
		*error_r = err;
		return -1;
	}
	for (ai = res; ai != NULL && c->fd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			socklen_t sl = sizeof(e);
			if (poll(&pfd, 1, timeout * 1000) <= 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
				e = errno;
		} else {
			e = errno == EISCONN ? 0 : errno;
		}
		if (e != 0) {
			close(fd);
			continue;
		}
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		struct timeval tv = { timeout, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c->fd = fd;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		snprintf(err, sizeof(err), "cannot connect to %s:%d: %s", host, port,
		    strerror(e ? e : ECONNREFUSED));
		*error_r = err;
		return -1;
	}
	pop3_reply_init(&c->reply, PR_MSG_MAX);
	return 0;
}

int
popclient_tls(struct popclient *c, const char *host, const char **error_r)
{
	SSL_CTX *ctx = tls_client_ctx();
	if (ctx == NULL || (c->ssl = SSL_new(ctx)) == NULL) {
		*error_r = "TLS: no context";
		return -1;
	}
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, host);
	if (SSL_connect(c->ssl) != 1) {
		*error_r = "TLS handshake failed";
		return -1;
	}
	return 0;
}

void
popclient_close(struct popclient *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0) {
		close(c->fd);
		pop3_reply_deinit(&c->reply);
	}
	c->ssl = NULL;
	c->fd = -1;
}

int
popclient_send(struct popclient *c, const char *line, const char **error_r)
{
	size_t n = strlen(line);
	int ok = c->ssl != NULL ? SSL_write(c->ssl, line, (int)n) == (int)n :
	    write_full(c->fd, line, n) == 0;
	if (!ok)
		*error_r = "connection lost (write)";
	return ok ? 0 : -1;
}

/* popclient_reply - read one reply; 0 with c->reply filled, -1 on I/O or
 * protocol errors */
int
popclient_reply(struct popclient *c, bool multiline, const char **error_r)
{
	pop3_reply_start(&c->reply, multiline);
	for (;;) {
		if (c->pos < c->len) {
			size_t used;
			int r = pop3_reply_feed(&c->reply, c->buf + c->pos,
			    c->len - c->pos, &used, error_r);
			c->pos += used;
			if (r < 0)
				return -1;
			if (r > 0)
				return 0;
		}
		c->pos = c->len = 0;
		ssize_t n = c->ssl != NULL ? SSL_read(c->ssl, c->buf, sizeof(c->buf)) :
		    read(c->fd, c->buf, sizeof(c->buf));
		if (n <= 0) {
			if (n < 0 && c->ssl == NULL && errno == EINTR)
				continue;
			*error_r = n == 0 ? "connection closed by the server" :
			    "connection lost or timed out (read)";
			return -1;
		}
		c->len = (size_t)n;
	}
}

/* popclient_cmd - send a command and read its reply */
int
popclient_cmd(struct popclient *c, const char *cmd, bool multiline,
	      const char **error_r)
{
	if (popclient_send(c, cmd, error_r) < 0)
		return -1;
	return popclient_reply(c, multiline, error_r);
}
