#ifndef POSTERN_LISTMSG_H
#define POSTERN_LISTMSG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* listmsg - the copy of a post that goes to list members (RFC 2369, 2919,
 * 8058): the original header without the fields a list server owns
 * (List-*, Precedence, Return-Path, Delivered-To, and Reply-To when the
 * list sets its own), the subject prefix (once), List-Id, List-Post,
 * List-Help, List-Subscribe, List-Owner, Precedence: list, Reply-To, and
 * the footer appended to a text/plain body or added as a text/plain part
 * of a multipart/mixed one (other bodies are left as they are: a footer
 * would break a signature or an encoding). The per-member List-Unsubscribe
 * is written by listmsg_copy. Pure functions: unit tested. */

#define LISTMSG_MAX (64 * 1024 * 1024)

struct listmsg_opts {
	const char *list_address;    /* news@acme.test */
	const char *description;     /* phrase of List-Id, may be "" */
	const char *subject_prefix;  /* "[news]" or "" */
	const char *footer;          /* plain text or "" */
	bool reply_to_list;
};

struct listmsg {
	struct buf head;             /* rewritten header, no blank line */
	struct buf body;             /* body with the footer */
	bool footer_added;
	char list_id[300];           /* "news.acme.test" */
};

/* listmsg_prepare - build the common part of every copy from the message
 * (CRLF lines). -1 with error_r for a header that cannot be parsed. */
int listmsg_prepare(const char *msg, size_t len, const struct listmsg_opts *o,
		    struct listmsg *out, const char **error_r);
/* listmsg_copy - one member's copy into out: the head, List-Unsubscribe
 * with the mailto address (and https URL plus List-Unsubscribe-Post when
 * https is not NULL), the blank line and the body. */
void listmsg_copy(const struct listmsg *m, const char *unsub_mailto,
		  const char *unsub_https, struct buf *out);
void listmsg_free(struct listmsg *m);

/* listmsg_has_list_id - whether the header of msg carries List-Id with
 * this id (a loop); header_value - the unfolded value of the first field
 * name in the header (new string) or NULL. */
bool listmsg_has_list_id(const char *msg, size_t len, const char *list_id);
char *listmsg_header_value(const char *msg, size_t len, const char *name);

#endif
