#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

/* RFC 5322 + MIME parsing of a message held in memory (or mmap'd).
 *
 * Why not GMime: IMAP needs the exact byte offsets of every part's header
 * and body (BODY[1.2.MIME], BODY[1.TEXT], <partial>, BODYSTRUCTURE sizes
 * and line counts) and the raw, undecoded header text for ENVELOPE. GMime
 * reserializes and normalizes; a small parser over the original bytes gives
 * offsets for free and keeps every limit (depth, part count) in our hands.
 *
 * The tree refers to the caller's bytes by offset; the data must outlive
 * the tree. Parsing never fails: malformed input gives a best-effort tree
 * (a missing boundary ends the multipart at the end of its body), bounded
 * by MIME_MAX_DEPTH nesting and MIME_MAX_PARTS parts. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define MIME_MAX_DEPTH 32
#define MIME_MAX_PARTS 2000
#define MIME_MAX_PARAMS 32

struct mime_param {
	char *name;
	char *value;
};

struct mime_part {
	size_t hdr_start;   /* offset of the first header byte */
	size_t hdr_len;     /* header incl. the blank line ending it */
	size_t body_start;
	size_t body_len;
	size_t body_lines;  /* lines of the body */

	char *type;         /* "text" by default, case as given */
	char *subtype;      /* "plain" */
	struct mime_param *params;
	size_t nparams;
	char *id, *description, *encoding, *md5;
	char *disposition;  /* NULL: none */
	struct mime_param *disp_params;
	size_t ndisp_params;
	char *language, *location;

	bool multipart;
	bool rfc822;                /* message/rfc822 (or global) */
	struct mime_part *children; /* multipart children, or [0] = the
				       encapsulated message for rfc822 */
	size_t nchildren;
};

struct mime_message {
	const char *data;
	size_t len;
	struct mime_part root;
	size_t nparts;
};

/* mime_parse - parse data[0..len) into msg (free with mime_free). */
void mime_parse(struct mime_message *msg, const char *data, size_t len);
void mime_free(struct mime_message *msg);
/* mime_skip_cfws - skip blanks and (nested) RFC 5322 comments. */
const char *mime_skip_cfws(const char *s);

/* mime_part_find - the part at an IMAP section path ("1.2" as {1,2}); a
 * non-multipart message's part 1 is itself. For a message/rfc822 part,
 * further numbers go into the encapsulated message. NULL if absent. */
const struct mime_part *mime_part_find(const struct mime_message *msg,
				       const unsigned *path, size_t n);
/* mime_part_message - the header/body owner for HEADER/TEXT of a part:
 * the encapsulated message for message/rfc822, else NULL. */
const struct mime_part *mime_part_inner(const struct mime_part *part);

/* mime_header_get - the unfolded value (CRLF removed, leading blanks
 * trimmed) of the first field called name in the header block
 * data[start..start+len); 1 found, 0 not. */
int mime_header_get(const char *data, size_t start, size_t len,
		    const char *name, struct buf *out);
/* mime_header_fields - append to out the fields of the header block whose
 * names are (or with not_ are not) in the NULL terminated names list,
 * raw with their folding, and a final CRLF (HEADER.FIELDS). */
void mime_header_fields(const char *data, size_t start, size_t len,
			const char *const *names, bool not_, struct buf *out);

/* mime_decode_words - RFC 2047 encoded words to UTF-8 (unknown charsets
 * and bad words are left as they are). */
void mime_decode_words(const char *in, size_t len, struct buf *out);
/* mime_charset_to_utf8 - convert with iconv; -1 for an unknown charset. */
int mime_charset_to_utf8(const char *charset, const char *in, size_t len,
			 struct buf *out);
/* mime_decode_body - Content-Transfer-Encoding decode of a part's body
 * (base64, quoted-printable; others copied). -1 for an unknown encoding
 * (IMAP BINARY: UNKNOWN-CTE). */
int mime_decode_body(const char *data, const struct mime_part *part,
		     struct buf *out);
/* mime_decoded_size - the length mime_decode_body gives (the body's as
 * it is for an unknown encoding), counted without a copy. */
size_t mime_decoded_size(const char *data, const struct mime_part *part);
/* mime_part_text - the body text of a text part as UTF-8 for SEARCH. */
void mime_part_text(const char *data, const struct mime_part *part,
		    struct buf *out);

/* mime_date_parse - an RFC 5322 date (lenient); utc_r the instant,
 * tz_r the zone offset in minutes; -1 if unparsable. */
int mime_date_parse(const char *s, time_t *utc_r, int *tz_r);

/* mime_imap_nstring - append s as an IMAP nstring: NIL for NULL, a quoted
 * string when possible, else a literal. */
void mime_imap_nstring(struct buf *out, const char *s, size_t len);
void mime_imap_nstr(struct buf *out, const char *s);
/* mime_address_first - the first address of an address-list field value
 * as ENVELOPE gives it: display name (raw, RFC 2047 words not decoded),
 * mailbox (local part) and host; a group comes first as itself (mailbox
 * its name, no host). The bufs
 * are the caller's (buf_init them); true when there was one. */
struct mime_address {
	struct buf name, mailbox, host;
	bool found;
};
bool mime_address_first(const char *value, struct mime_address *a);
/* mime_address_text - append the addresses of an address-list field
 * value as parsed text, "name <mailbox@host>, " each (comments and
 * folding gone; a group as "name , "): what SEARCH FROM/TO/CC/BCC match */
void mime_address_text(const char *value, struct buf *out);
/* mime_envelope - the IMAP ENVELOPE of a message header block. */
void mime_envelope(const char *data, size_t hdr_start, size_t hdr_len,
		   struct buf *out);
/* mime_bodystructure - the IMAP BODYSTRUCTURE (extended true) or BODY
 * of a part, byte exact per RFC 3501 7.4.2 / RFC 9051 7.5.2. */
void mime_bodystructure(const char *data, const struct mime_part *part,
			bool extended, struct buf *out);

#endif
