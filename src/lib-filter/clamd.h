#ifndef POSTERN_CLAMD_H
#define POSTERN_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* clamd - the ClamAV daemon's client (clamd(8): the z-commands over a
 * unix or TCP socket). A message is sent with INSTREAM: chunks of a
 * 4-byte network-order length and the bytes, then a zero length. clamd
 * refuses a stream longer than its StreamMaxLength ("INSTREAM size limit
 * exceeded") and closes the connection, so the caller passes that limit
 * (setting antivirus.stream_max, the same value as clamd.conf's) and at
 * most that many bytes are sent: a longer message is scanned in its first
 * stream_max bytes (*partial_r). connect, send and answer share one
 * deadline of timeout_ms. */

#define CLAMD_REPLY_MAX 1024
#define CLAMD_CHUNK 65536

enum clamd_result {
	CLAMD_ERROR = -1,     /* scanner unreachable, slow, or an error reply */
	CLAMD_CLEAN = 0,
	CLAMD_FOUND = 1,      /* virus name in the caller's buffer */
};

/* clamd_scan_fd - scan what fd holds from its current offset. */
enum clamd_result clamd_scan_fd(const char *addr, int fd, off_t stream_max,
				int64_t timeout_ms, char *virus, size_t vlen,
				bool *partial_r, const char **error_r);
/* clamd_reply_parse - one INSTREAM answer ("stream: OK", "stream: NAME
 * FOUND", "... ERROR"); the NUL or newline already stripped. */
enum clamd_result clamd_reply_parse(const char *reply, char *virus,
				    size_t vlen, const char **error_r);
/* clamd_version - the VERSION answer ("ClamAV 1.4.6/27...") into out;
 * 0 or -1 (postern diag). */
int clamd_version(const char *addr, int64_t timeout_ms, char *out,
		  size_t outlen, const char **error_r);

#endif
