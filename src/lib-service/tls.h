#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <openssl/ssl.h>

#include "service.h"

/* tls_server_ctx - the server TLS context of a service: TLS 1.2 and up,
 * the default certificate (settings tls.cert/tls.key, else
 * <root>/certs/default.crt/.key) and, chosen by SNI, <root>/certs/<name>.crt
 * and .key when they exist (a certificate per hosted domain). The context
 * is made once and shared; NULL with an error when the default
 * certificate cannot be loaded. */
SSL_CTX *tls_server_ctx(struct service *svc, const char **error_r);
/* tls_server_preload - load every <root>/certs/<name>.crt and .key now
 * (after tls_server_ctx) and look at no file again: a process about to
 * chroot away from the keys (login.h) keeps its SNI certificates. The
 * number loaded. */
int tls_server_preload(void);
/* tls_client_ctx - a client context for outbound opportunistic TLS (no
 * certificate verification, as RFC 7435 allows). */
SSL_CTX *tls_client_ctx(void);
/* tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and Received. */
const char *tls_describe(SSL *ssl, char *out, size_t size);

#endif
