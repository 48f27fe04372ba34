#ifndef POSTERN_URL_H
#define POSTERN_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Percent-encoding of URL components (RFC 3986 2.1). Used by the HTTP
 * service (lib-http decodes request targets and forms) and by whatever
 * builds URLs for it (the list server's one-click unsubscribe links). */

/* url_encode - append s to out with everything but the unreserved
 * characters (ALPHA DIGIT - . _ ~) percent-encoded: fit for a query
 * value or a path segment. -1 when out's limit is reached. */
int url_encode(struct buf *out, const char *s);
/* url_decode - append the percent-decoding of s[0..len) to out; with
 * plus_space a '+' is a space (application/x-www-form-urlencoded). -1 on
 * a bad escape ('%' not followed by two hex digits), on a decoded NUL
 * unless allow_nul, or when out's limit is reached. */
int url_decode(struct buf *out, const char *s, size_t len, bool plus_space,
	       bool allow_nul);

#endif
