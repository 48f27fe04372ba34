#ifndef POSTERN_MTA_FOOTER_H
#define POSTERN_MTA_FOOTER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "queue.h"

/* Footers / disclaimers (manual 5.2.5, 5.3.4), added by the MTA to the
 * copy of a message it queues for smtp outgoing (external recipients),
 * when the envelope sender's domain is hosted here (a local sender) and
 * footer.scope is not "none":
 *   global             footer.text / footer.html
 *   postoffice         the sender's post office footer_text / footer_html
 *   postoffice+global  both, the post office's first
 * Local copies (sf, ls) are never changed. The footer goes in before any
 * DKIM signing (smtp-out signs what it sends).
 *
 * Where the footer goes (footer_apply):
 *  - the body text: a text/plain or text/html part that is not an
 *    attachment; in a multipart/alternative every text/plain and
 *    text/html alternative (through a multipart/related to its first
 *    part); in a multipart/mixed (or any other multipart but signed and
 *    encrypted) its first part, the same way;
 *  - text/plain gets a blank line and the text footer (or the HTML one
 *    with its tags removed); text/html gets the HTML footer (or the text
 *    one escaped, lines as <br>) before the last </body>, else before the
 *    last </html>, else at the end (broken HTML stays as broken as it was);
 *  - a part is edited in its own transfer encoding: 7bit/8bit/binary are
 *    appended to, quoted-printable and base64 are decoded, edited and
 *    encoded again; its header is not changed. A part is edited only when
 *    that keeps it valid: its charset is ASCII compatible (absent, us-ascii,
 *    utf-8, iso-8859-*, windows-*), and a footer with non-ASCII text needs
 *    charset utf-8 and an 8bit, binary, quoted-printable or base64 part;
 *  - otherwise (no text body, a signed or encrypted message, a body that
 *    cannot be edited safely, a malformed tree without a usable part) the
 *    message is wrapped: a new multipart/mixed whose first part is the
 *    original body with its Content-* fields and whose second part is the
 *    footer (text/plain, or text/html when only an HTML footer is set;
 *    base64 when not ASCII). Nothing of the original is re-encoded. */

#define FOOTER_MESSAGE_MAX (64 * 1024 * 1024)  /* larger: sent without */

enum footer_result {
	FOOTER_NONE = 0,       /* nothing to add (no footer text) */
	FOOTER_EDITED,         /* added into the body text part(s) */
	FOOTER_WRAPPED,        /* added as a new MIME part */
};

/* footer_apply - the message data[0..len) with the footers into out.
 * text and html are the footers (either may be empty, CRLF or LF). */
enum footer_result footer_apply(const char *data, size_t len, const char *text,
				const char *html, struct buf *out);

/* footer_prepare - whether the smtp copy of this item gets a footer, and
 * if so write the footered message to a new file under dir (removed by
 * the caller after queueing); *path_r NULL when no footer applies.
 * 0, or -1 (logged; the message is then sent without a footer). */
int footer_prepare(struct db *db, const struct queue_env *env,
		   const char *msg_path, const char *dir, char **path_r);

#endif
