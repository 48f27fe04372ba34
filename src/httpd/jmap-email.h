#ifndef POSTERN_JMAP_EMAIL_H
#define POSTERN_JMAP_EMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "mime.h"

/* jmap-email - RFC 8621 Email objects from a message's bytes (no store):
 * header fields in their parsed forms (4.1.2), bodyStructure, textBody,
 * htmlBody, attachments (4.1.4), bodyValues, preview; and the
 * Email/query FilterCondition parser and matcher (4.4.1). Limits: a
 * header block of JE_HEADER_MAX bytes, JE_ADDR_MAX addresses per field,
 * a filter of JE_FILTER_DEPTH levels and JE_FILTER_MAX conditions, the
 * MIME limits of lib-mime. */

#define JE_HEADER_MAX (256 * 1024)
#define JE_ADDR_MAX 1000
#define JE_FILTER_DEPTH 16
#define JE_FILTER_MAX 256
#define JE_PREVIEW_MAX 256

/* what the message is, besides its bytes */
struct je_meta {
	const char *id;          /* Email id, or NULL (Email/parse) */
	const char *blob_id;     /* the message's blob */
	const char *thread_id;   /* or NULL */
	json_t *mailbox_ids;     /* {id: true} or NULL (borrowed) */
	json_t *keywords;        /* {kw: true} or NULL (borrowed) */
	uint64_t size;
	time_t received;
};

struct je_props {
	json_t *props;           /* requested properties, or NULL: default */
	json_t *body_props;      /* bodyProperties or NULL: default */
	bool fetch_text, fetch_html, fetch_all;
	size_t max_body_value_bytes;  /* 0: no limit */
};

/* je_props_check - validate the requested properties: false with an
 * invalidArguments error */
bool je_props_check(json_t *props, json_t *body_props, json_t **error_r);

/* je_email - the Email object of data[0..len) (a new object) */
json_t *je_email(const char *data, size_t len, const struct je_meta *meta,
		 const struct je_props *p);

/* je_part_blob - the decoded bytes of the leaf part at path ("1-2" or
 * "1.2") into out: 0, or -1 when there is no such leaf */
int je_part_blob(const char *data, size_t len, const char *path,
		 struct buf *out);

/* je_blob_fn - the bytes of a blob of the account into out: 1, 0 not
 * found, -1 error */
typedef int je_blob_fn(void *ctx, const char *blob_id, struct buf *out);

/* je_compose - an RFC 5322 message (CRLF lines) from the properties of
 * an Email/set create (RFC 8621 4.6): the address, subject, date and
 * id header fields, "header:Name" fields as raw text, textBody/htmlBody
 * with their bodyValues, attachments by blobId. 0, or -1 with *why_r
 * and the property at fault in *prop_r. host: the Message-ID's right
 * side when none is given. */
int je_compose(json_t *email, je_blob_fn *blob, void *ctx, const char *host,
	       struct buf *out, const char **why_r, const char **prop_r);

/* je_thread_root - the thread key of a message (the first References id,
 * else In-Reply-To, else Message-ID; "" when none) into out */
void je_thread_root(const char *data, size_t len, struct buf *out);

/* je_header_text - a header field's value as asText (decoded, unfolded),
 * "" when absent */
void je_header_text(const char *data, size_t len, const char *name,
		    struct buf *out);
/* je_first_address - the first address of a field for sorting: the
 * display name or else the address, lower case */
void je_sort_address(const char *data, size_t len, const char *name,
		     struct buf *out);
/* je_sent_at - the Date field as a time, or 0 */
time_t je_sent_at(const char *data, size_t len);
/* je_rfc3339 - a UTCDate ("2026-12-07T04:00:00Z") into out (21 bytes) */
void je_rfc3339(time_t t, char *out, size_t size);
/* je_parse_date - a UTCDate/Date argument: 0 or -1 */
int je_parse_date(const char *s, time_t *t_r);

/* a parsed FilterOperator/FilterCondition tree */
enum je_fkind {
	JF_AND, JF_OR, JF_NOT,
	JF_IN_MAILBOX, JF_IN_MAILBOX_OTHER, JF_BEFORE, JF_AFTER,
	JF_MIN_SIZE, JF_MAX_SIZE, JF_HAS_KEYWORD, JF_NOT_KEYWORD,
	JF_HAS_ATTACHMENT, JF_TEXT, JF_FROM, JF_TO, JF_CC, JF_BCC,
	JF_SUBJECT, JF_BODY, JF_HEADER,
};

struct je_filter {
	enum je_fkind kind;
	char *str;               /* the value: text, keyword, mailbox id */
	char *str2;              /* header: the value to find (or NULL) */
	char **ids;              /* inMailboxOtherThan */
	size_t nids;
	int64_t num;             /* sizes, dates */
	bool flag;
	struct je_filter *sub;   /* operators */
	size_t nsub;
};

/* je_filter_parse - a filter argument (NULL or json null: none): 0 with
 * *f_r (may be NULL), -1 with an error object (unsupportedFilter,
 * invalidArguments) */
int je_filter_parse(json_t *v, struct je_filter **f_r, json_t **error_r);
void je_filter_free(struct je_filter **f);
/* je_filter_needs_text - whether matching reads the message's bytes */
bool je_filter_needs_bytes(const struct je_filter *f);

/* what a message is to the matcher */
struct je_match {
	const char *mailbox_id;
	const char *keywords;    /* space separated, system flags as $seen... */
	uint64_t size;
	time_t received;
	const char *data;        /* the bytes, when je_filter_needs_bytes */
	size_t len;
};
bool je_filter_match(const struct je_filter *f, const struct je_match *m);

#endif
