/* url-content - what an IMAP URL names, from a store (see url-content.h) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content.h"
#include "fetch.h"
#include "imap-spec.h"
#include "url-content.h"
#include "xalloc.h"

/* url_folder_open - see url-content.h */
struct store_folder *
url_folder_open(struct session *s, struct store *st, const struct imap_url *u,
		const char **error_r)
{
	char name[STORE_FOLDER_MAX + 1];
	struct imap_arg ma = { .type = IMAP_ARG_STRING, .str = u->mailbox,
	    .len = strlen(u->mailbox) };

	/* the mailbox as a client would name it */
	if (mailbox_name(s, &ma, name, sizeof(name), error_r) == NULL)
		return NULL;
	struct store_folder *f = store_folder_open(st, name, error_r);
	if (f != NULL && store_sync(f, error_r) < 0)
		store_folder_close(&f);
	return f;
}

/* load - the message u names into c; -1 with *error_r */
static int
load(struct store_folder *f, const struct imap_url *u, struct content *c,
     const char **error_r)
{
	struct store_folder_status st;
	struct store_msg m;

	if (store_folder_status(f, &st, error_r) < 0)
		return -1;
	if (u->uidvalidity != 0 && u->uidvalidity != st.uidvalidity) {
		*error_r = "UIDVALIDITY changed";
		return -1;
	}
	memset(&m, 0, sizeof(m));
	int fd = -1;
	if (store_msg_get(f, u->uid, &m, error_r) == 1) {
		fd = store_msg_open(f, &m, error_r);
		store_msg_clear(&m);
	}
	if (fd < 0) {
		*error_r = "No such message";
		return -1;
	}
	content_load_fd(fd, c);
	close(fd);
	return 0;
}

/* section_part - the MIME part a section item names (NULL: none, or a
 * HEADER/TEXT/MIME section, which is no body part) */
static const struct mime_part *
section_part(struct content *c, const struct imap_fetch_item *it)
{
	if (it == NULL)
		return &content_mime(c)->root;
	if (it->spec != IMAP_SECTION_ALL)
		return NULL;
	return it->npath ? mime_part_find(content_mime(c), it->path,
	    it->npath) : &content_mime(c)->root;
}

/* url_content - see url-content.h */
int
url_content(struct store_folder *f, const struct imap_url *u,
	    const struct url_content_opts *o, struct buf *out,
	    const char **error_r)
{
	struct content c;
	struct imap_fetch fi;
	struct buf tmp;
	bool have_fi = false, binary = o != NULL && o->binary;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	memset(&fi, 0, sizeof(fi));
	buf_init(&tmp, 0);
	if (load(f, u, &c, error_r) < 0)
		goto out;
	const char *d = c.data.data ? c.data.data : "";
	size_t len = c.data.len;
	if (u->section != NULL || binary) {
		char *item = xasprintf("%s[%s]", binary ? "BINARY.PEEK" :
		    "BODY.PEEK", u->section ? u->section : "");
		struct imap_arg ia = { .type = IMAP_ARG_ATOM, .str = item,
		    .len = strlen(item) };
		const char *perr;
		int r = imap_fetch_parse(&ia, &fi, &perr);
		free(item);
		if (r < 0 || fi.n != 1) {
			if (r == 0)
				imap_fetch_free(&fi);
			*error_r = "Bad SECTION in URL";
			goto out;
		}
		have_fi = true;
		if (binary && fi.items[0].spec != IMAP_SECTION_ALL) {
			*error_r = "BINARY of a header or text section";
			goto out;
		}
		if (fi.items[0].npath > 0 &&
		    mime_part_find(content_mime(&c), fi.items[0].path,
		    fi.items[0].npath) == NULL) {
			*error_r = "No such section";
			goto out;
		}
		if (fetch_section(&c, &fi.items[0], &tmp, &d, &len) < 0) {
			*error_r = "Unknown Content-Transfer-Encoding";
			goto out;
		}
	}
	if (o != NULL && o->bps != NULL) {
		const struct mime_part *p = section_part(&c,
		    have_fi ? &fi.items[0] : NULL);
		if (p == NULL)
			buf_puts(o->bps, "NIL");
		else
			mime_bodystructure(c.data.data ? c.data.data : "", p,
			    true, o->bps);
	}
	if (u->partial) {
		if (u->offset >= len) {
			len = 0;
		} else {
			d += u->offset;
			len -= u->offset;
			if (u->partial_len && len > u->length)
				len = u->length;
		}
	}
	if (out->len + len > IMAP_MAX_LITERAL) {
		*error_r = "Message too big";
		goto out;
	}
	if (o != NULL && o->has_nul_r != NULL)
		*o->has_nul_r = memchr(d, '\0', len) != NULL;
	buf_append(out, d, len);
	rc = 0;
out:
	if (have_fi)
		imap_fetch_free(&fi);
	content_free(&c);
	buf_free(&tmp);
	return rc;
}
