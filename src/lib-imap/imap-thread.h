#ifndef POSTERN_IMAP_THREAD_H
#define POSTERN_IMAP_THREAD_H

/* The pure parts of SORT and THREAD (RFC 5256, RFC 5957): base subject
 * extraction, Message-ID lists, and the two threading algorithms. No
 * message access here: imapd's cmd-sort.c reads the header fields and
 * hands over what these need. Comparisons of text use i;ascii-casemap
 * (RFC 4790: ASCII letters folded to upper case, other bytes as they
 * are); callers casemap once (imap_casemap) and compare with strcmp. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* imap_casemap - append s[0..len) with ASCII letters in upper case */
void imap_casemap(struct buf *out, const char *s, size_t len);

/* imap_base_subject - RFC 5256 2.1 steps 1-7 on a subject already turned
 * into UTF-8 (RFC 2047 words decoded by the caller): blanks folded,
 * "(fwd)" trailers, "Re:"/"Fw:"/"Fwd:" leaders, "[blob]" prefixes and
 * "[fwd: ...]" wrappers removed. out gets the base subject, casemapped.
 * *reply_r tells whether a reply or forward marker was removed (REFERENCES
 * step 5). */
void imap_base_subject(const char *s, size_t len, struct buf *out,
		       bool *reply_r);

/* imap_msgid_next - the next Message ID ("<left@right>", CFWS inside
 * dropped) of a header value from *p on; its text without the angle
 * brackets to out (reset first). *p moves past it. 1 found, 0 none left.
 * Text that is not a Message ID is skipped. */
int imap_msgid_next(const char **p, struct buf *out);

#define IMAP_THREAD_MAX_REFS 256   /* References used per message (the
				      last ones: the nearest ancestors) */

struct imap_thread_msg {
	uint32_t id;               /* printed: sequence number or UID */
	int64_t sent;              /* sent date (UTC), or internal date */
	const char *msgid;         /* NULL: none or not valid */
	const char *const *refs;   /* References, else In-Reply-To; oldest
				      first */
	size_t nrefs;
	const char *subject;       /* base subject, casemapped */
	bool reply;                /* imap_base_subject's *reply_r */
};

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* imap_thread - thread msgs (given in sequence number order) and append
 * the threads as RFC 5256 thread-lists ("(1 2)(3 (4)(5))") to out. */
void imap_thread(enum imap_thread_alg alg, const struct imap_thread_msg *msgs,
		 size_t n, struct buf *out);

#endif
