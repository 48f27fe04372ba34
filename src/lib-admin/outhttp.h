/* outhttp - requests Postern makes to outside web servers (OpenID
 * Connect discovery and tokens, TLS-RPT reports): libcurl set up once,
 * the one rule for which URLs may be asked, bounded POSTs. */
#ifndef POSTERN_OUTHTTP_H
#define POSTERN_OUTHTTP_H

#include <stdbool.h>
#include <stddef.h>

/* outhttp_init - curl_global_init, once per process (thread safe) */
void outhttp_init(void);

/* outhttp_url_allowed - https anywhere, http to a loopback host only (an
 * address of 127.0.0.0/8, [::1] or localhost; not a name that merely
 * starts with "127.") */
bool outhttp_url_allowed(const char *url);

/* outhttp_post - POST body (of type ctype) to url, no redirects, the
 * server's certificate verified against ca_file (PEM), or the system's
 * CAs when it is NULL or empty; timeout in seconds for the whole
 * request. 0 on a 2xx answer; -1 with why (the HTTP status or curl's
 * error) otherwise. */
int outhttp_post(const char *url, const char *ctype, const void *body,
		 size_t len, const char *ca_file, long timeout, char *why,
		 size_t whysize);

#endif
