/* url-content - what an IMAP URL names, from a store (see url-content.h) */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "content.h"
#include "fetch.h"
#include "imap-spec.h"
#include "imap-urlauth-check.h"
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

/* encoded - whether a leaf part's body is base64 or quoted-printable */
static bool
encoded(const struct mime_part *p)
{
	return !p->multipart && !p->rfc822 && p->encoding != NULL &&
	    (strcasecmp(p->encoding, "base64") == 0 ||
	    strcasecmp(p->encoding, "quoted-printable") == 0);
}

/* header_relabel - append the header block of p with its
 * Content-Transfer-Encoding field made "binary" */
static void
header_relabel(const char *d, const struct mime_part *p, struct buf *out)
{
	const char *h = d + p->hdr_start, *end = h + p->hdr_len;

	while (h < end) {
		const char *nl = memchr(h, '\n', (size_t)(end - h));
		const char *next = nl ? nl + 1 : end;
		if ((size_t)(end - h) > 26 &&
		    strncasecmp(h, "Content-Transfer-Encoding:", 26) == 0) {
			/* the field and its folded lines */
			while (next < end && (*next == ' ' || *next == '\t')) {
				nl = memchr(next, '\n', (size_t)(end - next));
				next = nl ? nl + 1 : end;
			}
			buf_puts(out, "Content-Transfer-Encoding: binary\r\n");
		} else {
			buf_append(out, h, (size_t)(next - h));
		}
		h = next;
	}
}

/* binary_body - append the body of p with the body of every base64 or
 * quoted-printable leaf under it decoded (RFC 5524 BINARY of a message
 * or multipart part); relabel: their Content-Transfer-Encoding fields
 * say "binary" (else they keep theirs: the sizes BODYPARTSTRUCTURE gives
 * of the decoded form). -1 for an unknown encoding. */
static int
binary_body(const char *d, const struct mime_part *p, bool relabel,
	    struct buf *out, int depth)
{
	if (depth > 64)
		return -1;
	if (!p->multipart && !p->rfc822) {
		if (!encoded(p)) {
			buf_append(out, d + p->body_start, p->body_len);
			return 0;
		}
		return mime_decode_body(d, p, out);
	}
	size_t pos = p->body_start, end = p->body_start + p->body_len;
	for (size_t i = 0; i < p->nchildren; i++) {
		const struct mime_part *c = &p->children[i];
		if (c->hdr_start < pos || c->body_start + c->body_len > end)
			return -1;
		buf_append(out, d + pos, c->hdr_start - pos);
		if (relabel && encoded(c))
			header_relabel(d, c, out);
		else
			buf_append(out, d + c->hdr_start, c->hdr_len);
		if (binary_body(d, c, relabel, out, depth + 1) < 0)
			return -1;
		pos = c->body_start + c->body_len;
	}
	buf_append(out, d + pos, end - pos);
	return 0;
}

/* binary_structure - the BODYPARTSTRUCTURE of the part at path in the
 * decoded form of the message (sizes and lines of the decoded bodies, as
 * Dovecot gives them) */
static int
binary_structure(struct content *c, const struct imap_fetch_item *it,
		 struct buf *out)
{
	const char *d = c->data.data ? c->data.data : "";
	const struct mime_part *root = &content_mime(c)->root;
	struct buf conv;
	struct mime_message mm;
	int rc = -1;

	buf_init(&conv, 0);
	buf_append(&conv, d + root->hdr_start, root->hdr_len);
	if (binary_body(d, root, false, &conv, 0) == 0) {
		mime_parse(&mm, conv.data ? conv.data : "", conv.len);
		const struct mime_part *p = it != NULL && it->npath > 0 ?
		    mime_part_find(&mm, it->path, it->npath) : &mm.root;
		if (p != NULL) {
			mime_bodystructure(conv.data ? conv.data : "", p, true,
			    out);
			rc = 0;
		}
		mime_free(&mm);
	}
	buf_free(&conv);
	return rc;
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
		const struct mime_part *p = section_part(&c, &fi.items[0]);
		if (binary && p != NULL && (p->multipart || p->rfc822 ||
		    fi.items[0].npath == 0)) {
			/* a message or multipart: every leaf under it
			 * decoded (the whole message: its header too) */
			if (fi.items[0].npath == 0) {
				if (encoded(p))
					header_relabel(d, p, &tmp);
				else
					buf_append(&tmp, d + p->hdr_start,
					    p->hdr_len);
			}
			if (binary_body(d, p, true, &tmp, 0) < 0) {
				*error_r = "Unknown Content-Transfer-Encoding";
				goto out;
			}
			d = tmp.data ? tmp.data : "";
			len = tmp.len;
		} else if (fetch_section(&c, &fi.items[0], &tmp, &d, &len) < 0) {
			*error_r = "Unknown Content-Transfer-Encoding";
			goto out;
		}
	}
	if (o != NULL && o->bps != NULL) {
		const struct imap_fetch_item *it = have_fi ? &fi.items[0] : NULL;
		const struct mime_part *p = section_part(&c, it);
		if (p == NULL)
			buf_puts(o->bps, "NIL");
		else if (!binary || binary_structure(&c, it, o->bps) < 0)
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

/* url_content_auth - see url-content.h */
int
url_content_auth(struct session *s, const char *url,
	     const struct url_content_opts *o, struct buf *data,
		 const char **why_r)
{
	struct imap_urlauth u;
	struct dir_mailbox mb;
	struct imapd_mbox *other = NULL;
	int rc = -1;

	if (imap_urlauth_parse(url, true, &u, why_r) < 0)
		goto out;
	int r = imap_urlauth_owner(s->d->svc->db, &u, &mb, why_r);
	if (r == 0)
		*why_r = "No such user";
	if (r != 1)
		goto out;
	r = imap_urlauth_allowed(s->d->svc->db, &u, s->mailbox_id, false,
	    why_r);
	if (r == 0)
		*why_r = "The URL's access identifier does not admit you";
	if (r != 1)
		goto out;
	struct store *st = s->mbox->st;
	if (mb.id != s->mailbox_id) {
		char *root = dir_mailbox_path(s->d->svc->db, &mb);
		other = imapd_mbox_get(s->d, mb.id, root, why_r);
		free(root);
		if (other == NULL)
			goto out;
		st = other->st;
	}
	struct store_folder *f = url_folder_open(s, st, &u.url, why_r);
	if (f == NULL)
		goto out;
	r = imap_urlauth_check_folder(f, &u, url, time(NULL), why_r);
	if (r == 1)
		rc = url_content(f, &u.url, o, data, why_r);
	store_folder_close(&f);
out:
	imapd_mbox_put(s->d, &other);
	imap_urlauth_free(&u);
	return rc;
}
