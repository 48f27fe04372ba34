/* catenate - APPEND's CATENATE (RFC 4469): a message made of literal
 * TEXT parts and URL parts, IMAP URLs (RFC 5092) of a message or one of
 * its sections in a mailbox of the same user */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catenate.h"
#include "content.h"
#include "fetch.h"
#include "imap-spec.h"
#include "imap-url.h"
#include "xalloc.h"

/* url_part - append what an IMAP URL names to out; -1 with *error_r */
static int
url_part(struct session *s, const char *url, struct buf *out,
	 const char **error_r)
{
	struct imap_url u;
	int rc = -1;

	if (imap_url_parse(url, &u, error_r) < 0)
		goto out;
	/* the mailbox as a client would name it */
	char name[STORE_FOLDER_MAX + 1];
	struct imap_arg ma = { .type = IMAP_ARG_STRING, .str = u.mailbox,
	    .len = strlen(u.mailbox) };
	if (mailbox_name(s, &ma, name, sizeof(name), error_r) == NULL)
		goto out;
	struct store_folder *f = store_folder_open(s->mbox->st, name, error_r);
	if (f == NULL)
		goto out;
	struct store_folder_status st;
	struct store_msg m;
	memset(&m, 0, sizeof(m));
	if (store_sync(f, error_r) < 0 ||
	    store_folder_status(f, &st, error_r) < 0) {
		store_folder_close(&f);
		goto out;
	}
	if (u.uidvalidity != 0 && u.uidvalidity != st.uidvalidity) {
		store_folder_close(&f);
		*error_r = "UIDVALIDITY changed";
		goto out;
	}
	int fd = -1;
	if (store_msg_get(f, u.uid, &m, error_r) == 1) {
		fd = store_msg_open(f, &m, error_r);
		store_msg_clear(&m);
	}
	store_folder_close(&f);
	if (fd < 0) {
		*error_r = "No such message";
		goto out;
	}
	struct content c;
	memset(&c, 0, sizeof(c));
	content_load_fd(fd, &c);
	close(fd);
	const char *d = c.data.data ? c.data.data : "";
	size_t len = c.data.len;
	struct buf tmp;
	buf_init(&tmp, 0);
	struct imap_fetch fi;
	memset(&fi, 0, sizeof(fi));
	bool have_fi = false;
	if (u.section != NULL) {
		char *item = xasprintf("BODY.PEEK[%s]", u.section);
		struct imap_arg ia = { .type = IMAP_ARG_ATOM, .str = item,
		    .len = strlen(item) };
		const char *perr;
		int r = imap_fetch_parse(&ia, &fi, &perr);
		free(item);
		if (r < 0 || fi.n != 1) {
			if (r == 0)
				imap_fetch_free(&fi);
			content_free(&c);
			buf_free(&tmp);
			*error_r = "Bad SECTION in URL";
			goto out;
		}
		have_fi = true;
		if (fetch_section(&c, &fi.items[0], &tmp, &d, &len) < 0) {
			imap_fetch_free(&fi);
			content_free(&c);
			buf_free(&tmp);
			*error_r = "Unknown Content-Transfer-Encoding";
			goto out;
		}
	}
	if (u.partial) {
		if (u.offset >= len) {
			len = 0;
		} else {
			d += u.offset;
			len -= u.offset;
			if (u.partial_len && len > u.length)
				len = u.length;
		}
	}
	if (out->len + len > IMAP_MAX_LITERAL) {
		*error_r = "Message too big";
	} else {
		buf_append(out, d, len);
		rc = 0;
	}
	if (have_fi)
		imap_fetch_free(&fi);
	content_free(&c);
	buf_free(&tmp);
out:
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
				*why_r = xasprintf("NO [BADURL \"%s\"] %s",
				    strlen(v->str) < 200 ? v->str : "", err);
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
