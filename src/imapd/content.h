#ifndef POSTERN_IMAPD_CONTENT_H
#define POSTERN_IMAPD_CONTENT_H

/* content - a message file of the selected folder read for FETCH and
 * SEARCH (content.c), with the process's header cache */

#include "imapd.h"
#include "mime.h"
#include "view.h"

struct content {
	bool loaded, parsed, failed;
	bool header_only;           /* data holds the header block only */
	struct buf data;            /* with CRLF line ends */
	struct mime_message mime;
	bool have_text;
	struct buf text;            /* decoded text for SEARCH */
};

void content_free(struct content *c);
/* content_load_part - read the message file of v into c (header_only:
 * its header block, through the header cache), bare LFs turned into CRLF
 * (what RFC822.SIZE counts); -1 if it vanished. content_load - the
 * whole message. */
int content_load_part(struct session *s, const struct view_msg *v,
		      struct content *c, bool header_only);
int content_load(struct session *s, const struct view_msg *v,
		 struct content *c);
/* content_load_fd - the whole message in the file fd (from its
 * offset; the caller closes it) into c, with CRLF line ends */
void content_load_fd(int fd, struct content *c);
/* content_mime - the MIME structure of the loaded message (parsed once) */
struct mime_message *content_mime(struct content *c);
/* content_text - append the decoded text of the text parts under p (for
 * BODY/TEXT search) */
void content_text(const char *d, const struct mime_part *p, struct buf *out,
		  int depth);
/* content_header_end - the length of the header block in d[0..len)
 * including its blank line, or 0 when it is not complete */
size_t content_header_end(const char *d, size_t len);
/* view_header - append the header block of message idx (CRLF line ends;
 * through the header cache); -1 if it is gone */
int view_header(struct session *s, size_t idx, struct buf *out);

#endif
