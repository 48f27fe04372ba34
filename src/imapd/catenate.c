/* catenate - APPEND's CATENATE (RFC 4469): a message made of literal
 * TEXT parts and URL parts, IMAP URLs (RFC 5092) of a message or one of
 * its sections in a mailbox of the same user, or URLAUTH URLs of any
 * user's (RFC 4469 5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catenate.h"
#include "imap-url.h"
#include "url-content.h"
#include "xalloc.h"

/* url_part - append what an IMAP URL of the user's own mailbox names
 * to out; -1 with *error_r */
static int
url_part(struct session *s, const char *url, struct buf *out,
	 const char **error_r)
{
	struct imap_url u;
	int rc = -1;

	if (strcasestr(url, ";URLAUTH=") != NULL) {
		/* RFC 4469 5: a URLAUTH URL, maybe of another user */
		if (url_content_auth(s, url, NULL, out, error_r) < 0) {
			*error_r = "URL not valid for you";
			return -1;
		}
		return 0;
	}
	if (imap_url_parse(url, &u, error_r) == 0) {
		struct store_folder *f = url_folder_open(s, s->mbox->st, &u,
		    error_r);
		if (f == NULL)  /* the store's text may name its paths */
			*error_r = "No such mailbox";
		if (f != NULL) {
			rc = url_content(f, &u, NULL, out, error_r);
			store_folder_close(&f);
		}
	}
	imap_url_free(&u);
	return rc;
}

/* text_part - a TEXT literal, in memory or in a file */
static int
text_part(const struct imap_arg *a, struct buf *out, const char **error_r)
{
	if (!a->in_file) {
		if (out->len + a->len > IMAP_MAX_LITERAL) {
			*error_r = "Message too big";
			return -1;
		}
		buf_append(out, a->str, a->len);
		return 0;
	}
	if (out->len + a->file_len > IMAP_MAX_LITERAL) {
		*error_r = "Message too big";
		return -1;
	}
	char tmp[65536];
	for (uint64_t off = 0; off < a->file_len; ) {
		ssize_t r = pread(a->fd, tmp, sizeof(tmp), (off_t)off);
		if (r <= 0) {
			*error_r = "Cannot read the literal";
			return -1;
		}
		buf_append(out, tmp, (size_t)r);
		off += (uint64_t)r;
	}
	return 0;
}

/* catenate_build - see catenate.h */
int
catenate_build(struct session *s, const struct imap_arg *list,
	       struct buf *out, char **why_r)
{
	const char *err = NULL;

	if (list->type != IMAP_ARG_LIST || list->count == 0 ||
	    list->count % 2 != 0) {
		*why_r = xstrdup("BAD Syntax: CATENATE (TEXT literal / URL url"
		    " ...)");
		return -1;
	}
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *k = &list->list[i], *v = &list->list[i + 1];
		if (imap_arg_is_atom(k, "TEXT") && v->type == IMAP_ARG_LITERAL) {
			if (text_part(v, out, &err) < 0) {
				*why_r = xasprintf("NO [TOOBIG] %s", err);
				return -1;
			}
		} else if (imap_arg_is_atom(k, "URL") &&
		    imap_arg_astring(v) != NULL) {
			if (url_part(s, v->str, out, &err) < 0) {
				struct buf u;
				buf_init(&u, 0);
				imap_url_resp_text(&u, v->str, v->len);
				*why_r = xasprintf("NO [BADURL %s] %s", u.data,
				    err);
				buf_free(&u);
				/* one line, whatever err holds */
				for (char *p = *why_r; *p != '\0'; p++)
					if ((unsigned char)*p < 0x20)
						*p = ' ';
				return -1;
			}
		} else {
			*why_r = xstrdup("BAD Syntax: CATENATE (TEXT literal / "
			    "URL url ...)");
			return -1;
		}
	}
	if (out->len == 0) {
		*why_r = xstrdup("NO Empty message");
		return -1;
	}
	return 0;
}
