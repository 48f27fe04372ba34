#ifndef POSTERN_IMAP_URL_H
#define POSTERN_IMAP_URL_H

/* imap-url - the IMAP URLs CATENATE takes (RFC 5092, RFC 4469 5): a
 * message or one of its sections in a mailbox of the user,
 * "/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]", or the
 * same after "imap://[user@]host[:port]". URLAUTH, EXPIRE and searches
 * are refused. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAX 4096  /* longer URLs are refused */

struct imap_url {
	char *mailbox;            /* percent-decoded, NUL terminated */
	char *section;            /* NULL: the whole message */
	uint32_t uidvalidity;     /* 0: not given */
	uint32_t uid;
	bool partial, partial_len;
	uint32_t offset, length;  /* PARTIAL=offset[.length] */
};

/* imap_url_parse - 0, or -1 with *error_r (static text); free u with
 * imap_url_free either way */
int imap_url_parse(const char *url, struct imap_url *u, const char **error_r);
void imap_url_free(struct imap_url *u);

struct buf;
/* imap_url_resp_text - append url[0..len) to out as the quoted string of
 * a BADURL response code (RFC 4469 6: text without "]"): CR, LF, NUL,
 * controls, 8-bit octets, space, '"', '\\', '[' and ']' percent-encoded
 * (the same URL to a URL reader), at most IMAP_URL_MAX octets of it */
void imap_url_resp_text(struct buf *out, const char *url, size_t len);

#endif
