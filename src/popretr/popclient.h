#ifndef POSTERN_POPRETR_POPCLIENT_H
#define POSTERN_POPRETR_POPCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "pop3reply.h"

/* The client side of one POP3 connection of POP retrieval: blocking I/O
 * on a socket (optionally TLS), each connect and read bounded by a
 * timeout; replies read through pop3reply.h (bounded). The dialogue
 * itself is in popretr.c. */

#define PR_MSG_MAX (64 * 1024 * 1024)

struct popclient {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t len, pos;
	struct pop3_reply reply;
};

/* popclient_connect - TCP to host:port (every address tried), connect
 * and reads bounded by timeout seconds; 0, or -1 with error_r */
int popclient_connect(struct popclient *c, const char *host, int port,
		      int timeout, const char **error_r);
/* popclient_tls - TLS handshake on the connection (SNI host) */
int popclient_tls(struct popclient *c, const char *host, const char **error_r);
void popclient_close(struct popclient *c);
/* popclient_send - write a command line (with its CRLF) */
int popclient_send(struct popclient *c, const char *line, const char **error_r);
/* popclient_reply - read one reply into c->reply; 0, or -1 on I/O or
 * protocol errors */
int popclient_reply(struct popclient *c, bool multiline, const char **error_r);
/* popclient_cmd - send a command and read its reply */
int popclient_cmd(struct popclient *c, const char *cmd, bool multiline,
		  const char **error_r);

#endif
