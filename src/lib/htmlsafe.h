#ifndef POSTERN_HTMLSAFE_H
#define POSTERN_HTMLSAFE_H

#include <stddef.h>

#include "buf.h"

/* htmlsafe - reduce HTML a user wrote (a signature) to a small safe
 * subset that any page may show as it is: the tags a b blockquote br
 * code div em hr i li ol p pre s small span strong sub sup u ul, without
 * attributes, but for the href of <a> when it is an http:, https: or
 * mailto: URL (its entities decoded before the scheme is checked, and
 * escaped again). The content of script, style, iframe, object, svg,
 * math and the like goes with them; comments and declarations go; every
 * other tag is dropped and its text kept; text is escaped; open tags are
 * closed at the end, close tags without an open one dropped. The output
 * is valid input: cleaning it again gives the same bytes. Bounds: the
 * input (HTMLSAFE_MAX bytes) and the nesting (HTMLSAFE_DEPTH). */

#define HTMLSAFE_MAX (64 * 1024)
#define HTMLSAFE_DEPTH 32

/* htmlsafe_clean - the safe form of in into out (appended). 0, or -1
 * with *error_r when the input is too long (out untouched). */
int htmlsafe_clean(const char *in, size_t len, struct buf *out,
		   const char **error_r);

#endif
