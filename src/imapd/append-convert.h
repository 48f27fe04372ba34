#ifndef POSTERN_IMAPD_APPEND_CONVERT_H
#define POSTERN_IMAPD_APPEND_CONVERT_H

#include <stddef.h>

#include "buf.h"

/* append_binary_convert - a message d[0..len) APPENDed as literal8: the
 * MIME leaf parts whose bodies hold NUL re-encoded as base64 (RFC 3516
 * 4.3), the rest byte for byte, into out. 1 converted, 0 nothing to
 * convert (out left empty). */
int append_binary_convert(const char *d, size_t len, struct buf *out);

#endif
