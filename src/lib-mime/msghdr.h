#ifndef POSTERN_MSGHDR_H
#define POSTERN_MSGHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* A bounded, resumable scanner of an RFC 5322 header block, for the MTA
 * (pickup: envelope from headers) and the post office connector (hop
 * count, Delivered-To loops). It reads the bytes of a message from its
 * start, calls back once per header field with the unfolded value, and
 * stops at the blank line ending the header. CRLF and bare LF line ends are
 * both accepted (pickup files are often LF-only). Unlike lib-mime it needs
 * no whole message in memory and reports the raw byte range of each field,
 * so a caller can drop fields (Bcc:) when it copies the message. */

#define MSGHDR_FIELD_MAX (64 * 1024)   /* one unfolded field */
#define MSGHDR_HEADER_MAX (1024 * 1024) /* the whole header block */
#define MSGHDR_ADDRS_MAX 1000          /* addresses taken from one field */

struct msghdr_field {
	const char *name;        /* as written, NUL terminated */
	const char *value;       /* unfolded, blanks trimmed, NUL terminated */
	size_t raw_start;        /* offset of the field's first byte */
	size_t raw_end;          /* offset after its last line end */
};

typedef void msghdr_field_cb(void *ctx, const struct msghdr_field *f);

struct msghdr_parser {
	msghdr_field_cb *cb;
	void *ctx;
	size_t max;              /* header block limit */
	size_t offset;           /* bytes consumed so far */
	size_t field_start;
	size_t field_end;        /* offset after the field's last line end */
	struct buf field;        /* the field being collected */
	bool bol;                /* at the start of a line */
	bool bol_cr;             /* a CR seen at the start of a line */
	bool done;
};

/* msghdr_parser_init - start scanning; max 0 means MSGHDR_HEADER_MAX. */
void msghdr_parser_init(struct msghdr_parser *p, size_t max,
			msghdr_field_cb *cb, void *ctx);
void msghdr_parser_deinit(struct msghdr_parser *p);
/* msghdr_parser_feed - scan more bytes. Returns 1 when the header block
 * ended (*consumed_r: bytes of data used, the blank line included; the
 * body starts after them), 0 when all data was used and more is needed,
 * -1 for a header block or field past the limits (error_r). */
int msghdr_parser_feed(struct msghdr_parser *p, const void *data, size_t len,
		       size_t *consumed_r, const char **error_r);
/* msghdr_parser_finish - end of input: flush a pending field (a message
 * that is all header). Returns 1. */
int msghdr_parser_finish(struct msghdr_parser *p);

/* msghdr_scan_file - the header fields of the message file at path, to
 * cb. Returns 0; 1 when the header is past the limits (*error_r: the
 * fields before were given); -1 when the file cannot be read (errno). */
int msghdr_scan_file(const char *path, msghdr_field_cb *cb, void *ctx,
		     const char **error_r);

/* msghdr_addresses - the addr-specs of an address-list field value (To,
 * Cc, From, Return-Path, X-Postern-Recipients): display names, comments,
 * groups and source routes are dropped; only "local@domain" strings with
 * both parts non-empty are kept, at most MSGHDR_ADDRS_MAX. Appends new
 * strings to *list (count *n). Returns how many were added. */
size_t msghdr_addresses(const char *value, char ***list, size_t *n);
void msghdr_addresses_free(char **list, size_t n);

#endif
