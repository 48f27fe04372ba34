/* clamd - ClamAV daemon client: INSTREAM scans, VERSION */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clamd.h"
#include "fnet.h"

static _Thread_local char clamd_err[CLAMD_REPLY_MAX + 64];

/* read_reply - up to the NUL that ends a z-command's answer */
static int
read_reply(int fd, int64_t deadline, char *out, size_t outlen,
	   const char **error_r)
{
	size_t len = 0;

	for (;;) {
		if (len + 1 >= outlen) {
			*error_r = "clamd answered more than 1 KB without an end";
			return -1;
		}
		ssize_t n = fnet_read(fd, out + len, outlen - 1 - len, deadline,
		    error_r);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (len == 0) {
				*error_r = "clamd closed the connection without an answer";
				return -1;
			}
			break;   /* an answer without its NUL: take it */
		}
		char *nul = memchr(out + len, '\0', (size_t)n);
		len += (size_t)n;
		if (nul != NULL) {
			len = (size_t)(nul - out);
			break;
		}
	}
	out[len] = '\0';
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return 0;
}

enum clamd_result
clamd_reply_parse(const char *reply, char *virus, size_t vlen,
		  const char **error_r)
{
	size_t len = strlen(reply);
	const char *p = reply;

	/* "stream: " (or an id prefix "1: stream: " with IDSESSION) */
	const char *tag = strstr(reply, "stream: ");
	if (tag != NULL)
		p = tag + 8;
	if (len >= 6 && strcmp(reply + len - 6, " ERROR") == 0)
		goto error;
	if (strcmp(p, "OK") == 0 && tag != NULL)
		return CLAMD_CLEAN;
	if (tag != NULL && len >= 6 && strcmp(reply + len - 6, " FOUND") == 0) {
		/* "stream: FOUND": the name would end before it starts */
		if (reply + len - 6 <= p)
			goto error;
		size_t n = (size_t)(reply + len - 6 - p);
		if (vlen > 0) {
			if (n >= vlen)
				n = vlen - 1;
			for (size_t i = 0; i < n; i++)
				virus[i] = isprint((unsigned char)p[i]) ? p[i] : '?';
			virus[n] = '\0';
		}
		return CLAMD_FOUND;
	}
error:
	snprintf(clamd_err, sizeof(clamd_err), "clamd: %.200s%s",
	    len ? reply : "(empty answer)",
	    strstr(reply, "size limit") ? " (antivirus.stream_max is larger "
	    "than clamd's StreamMaxLength)" : "");
	for (char *c = clamd_err; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
	*error_r = clamd_err;
	return CLAMD_ERROR;
}

enum clamd_result
clamd_scan_fd(const char *addr, int fd, off_t stream_max, int64_t timeout_ms,
	      char *virus, size_t vlen, bool *partial_r, const char **error_r)
{
	int64_t deadline = fnet_deadline(timeout_ms);
	char reply[CLAMD_REPLY_MAX];
	off_t sent = 0;
	int s;

	*partial_r = false;
	if ((s = fnet_connect(addr, deadline, error_r)) < 0)
		return CLAMD_ERROR;
	char *chunk = malloc(4 + CLAMD_CHUNK);
	if (chunk == NULL) {
		close(s);
		*error_r = "out of memory";
		return CLAMD_ERROR;
	}
	enum clamd_result r = CLAMD_ERROR;
	if (fnet_write(s, "zINSTREAM", 10, deadline, error_r) < 0)
		goto out;
	for (;;) {
		size_t want = CLAMD_CHUNK;
		if (stream_max > 0 && (off_t)want > stream_max - sent)
			want = (size_t)(stream_max - sent);
		if (want == 0) {
			char one;
			if (read(fd, &one, 1) == 1)
				*partial_r = true;
			break;
		}
		ssize_t n = read(fd, chunk + 4, want);
		if (n < 0) {
			*error_r = "cannot read the message";
			goto out;
		}
		if (n == 0)
			break;
		uint32_t be = htonl((uint32_t)n);
		memcpy(chunk, &be, 4);
		if (fnet_write(s, chunk, 4 + (size_t)n, deadline, error_r) < 0) {
			/* clamd may have answered (size limit) and closed */
			if (read_reply(s, deadline, reply, sizeof(reply),
			    error_r) == 0)
				r = clamd_reply_parse(reply, virus, vlen, error_r);
			if (r != CLAMD_FOUND)
				r = CLAMD_ERROR;
			goto out;
		}
		sent += n;
	}
	static const char end[4] = { 0, 0, 0, 0 };
	if (fnet_write(s, end, 4, deadline, error_r) < 0)
		goto out;
	if (read_reply(s, deadline, reply, sizeof(reply), error_r) < 0)
		goto out;
	r = clamd_reply_parse(reply, virus, vlen, error_r);
out:
	free(chunk);
	close(s);
	return r;
}

int
clamd_version(const char *addr, int64_t timeout_ms, char *out, size_t outlen,
	      const char **error_r)
{
	int64_t deadline = fnet_deadline(timeout_ms);
	char reply[CLAMD_REPLY_MAX];
	int s = fnet_connect(addr, deadline, error_r), r = -1;

	if (s < 0)
		return -1;
	if (fnet_write(s, "zVERSION", 9, deadline, error_r) == 0 &&
	    read_reply(s, deadline, reply, sizeof(reply), error_r) == 0) {
		if (strncmp(reply, "ClamAV ", 7) != 0) {
			snprintf(clamd_err, sizeof(clamd_err),
			    "not a clamd answer: %.100s", reply);
			*error_r = clamd_err;
		} else {
			snprintf(out, outlen, "%s", reply);
			r = 0;
		}
	}
	close(s);
	return r;
}
