/* smtpd-burl - BURL (RFC 4468): the message, or a part of it, that a
 * URLAUTH URL (RFC 4467) names, read from the store of the mailbox that
 * made the URL. Postern's submission server and IMAP server share the
 * store, so the URL is resolved here, without an IMAP connection: the
 * same checks as URLFETCH (lib-imap's imap-urlauth-check.c) with the
 * submission server as the requester, acting for the user logged in to
 * it ("submit+<that user>"; "authuser" and "anonymous" URLs too).
 * Sections are message parts ("1", "2.1"); HEADER, TEXT and MIME
 * sections are refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imap-parser.h"
#include "imap-urlauth-check.h"
#include "log.h"
#include "mime.h"
#include "smtpd-session.h"
#include "xalloc.h"

#define BURL_MAX_FILE (256u << 20)  /* a message file read, at most */

/* folder_name - the store name (modified UTF-7, "." between levels,
 * INBOX upper case) of a URL's mailbox, as imapd's mailbox_name takes it
 * from an IMAP client: ASCII as given (modified UTF-7), UTF-8 (RFC 5092
 * 3.3) converted; NULL if invalid */
static char *
folder_name(const char *m)
{
	struct buf b, chk;
	const char *e;
	bool ascii = true;

	for (const char *p = m; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	buf_init(&b, STORE_FOLDER_MAX + 1);
	buf_init(&chk, 0);
	if ((ascii ? buf_puts(&b, m) : imap_utf8_to_mutf7(m, &b)) < 0 ||
	    b.len == 0 || imap_mutf7_to_utf8(b.data, &chk) < 0 ||
	    store_folder_name_check(b.data, &e) < 0) {
		buf_free(&b);
		buf_free(&chk);
		return NULL;
	}
	buf_free(&chk);
	char *name = buf_steal(&b);
	if (strncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '.'))
		memcpy(name, "INBOX", 5);
	return name;
}

/* read_crlf - the file fd into out with bare LFs made CRLF */
static int
read_crlf(int fd, struct buf *out)
{
	char tmp[65536];
	char prev = 0;
	ssize_t r;

	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		for (ssize_t i = 0; i < r; i++) {
			if (tmp[i] == '\n' && prev != '\r')
				buf_putc(out, '\r');
			if (buf_putc(out, tmp[i]) < 0)
				return -1;
			prev = tmp[i];
		}
	}
	return r < 0 ? -1 : 0;
}

/* section - the bytes of a part section ("1.2") of the message in m */
static int
section(const char *sec, struct buf *m, const char **p_r, size_t *len_r)
{
	unsigned path[32];
	size_t n = 0;
	const char *p = sec;

	while (*p != '\0') {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v == 0 || v > 100000 || errno != 0 ||
		    n == sizeof(path) / sizeof(path[0]) ||
		    (*end != '.' && *end != '\0'))
			return -1;
		path[n++] = (unsigned)v;
		p = *end == '.' ? end + 1 : end;
		if (*end == '.' && *p == '\0')
			return -1;
	}
	struct mime_message mm;
	mime_parse(&mm, m->data ? m->data : "", m->len);
	const struct mime_part *part = mime_part_find(&mm, path, n);
	int rc = -1;
	if (part != NULL) {
		*p_r = m->data + part->body_start;
		*len_r = part->body_len;
		rc = 0;
	}
	mime_free(&mm);
	return rc;
}

/* burl_fetch - see smtpd-session.h */
int
burl_fetch(struct session *s, const char *url, struct buf *out, int *code_r,
	   const char **text_r)
{
	struct imap_urlauth u;
	struct dir_mailbox mb;
	struct store *st = NULL;
	struct store_folder *f = NULL;
	struct buf msg;
	const char *why = NULL;
	char *name = NULL;
	int rc = -1, fd = -1;

	*code_r = 554;
	/* never more in memory than a message may be, nor more read for
	 * one message than BURL_READ_FACTOR such messages */
	uint64_t budget = s->max_size * BURL_READ_FACTOR;
	uint64_t left = budget > s->tx.burl_read ? budget - s->tx.burl_read : 0;
	uint64_t cap = s->max_size < left ? s->max_size : left;
	buf_init(&msg, cap + 1 < BURL_MAX_FILE ? (size_t)cap + 1 : BURL_MAX_FILE);
	if (imap_urlauth_parse(url, true, &u, &why) < 0) {
		*text_r = why;
		goto out;
	}
	int r = imap_urlauth_owner(s->db, &u, &mb, &why);
	if (r == 1)
		r = imap_urlauth_allowed(s->db, &u, s->auth_mailbox, true, &why);
	if (r < 0) {
		*code_r = 454;
		*text_r = "Cannot check the URL now, try again later";
		log_warnx("%s: BURL: %s", s->sid, why ? why : "?");
		goto out;
	}
	if (r == 0) {
		*text_r = "The URL is not for you to submit";
		goto out;
	}
	char *root = dir_mailbox_path(s->db, &mb);
	st = store_open(root, &why);
	free(root);
	if (st == NULL) {
		*code_r = 454;
		*text_r = "Mailbox store not available, try again later";
		log_warnx("%s: BURL: %s", s->sid, why);
		goto out;
	}
	if ((name = folder_name(u.url.mailbox)) == NULL ||
	    (f = store_folder_open(st, name, &why)) == NULL ||
	    store_sync(f, &why) < 0) {
		*text_r = "No such mailbox";
		goto out;
	}
	r = imap_urlauth_check_folder(f, &u, url, time(NULL), &why);
	if (r != 1) {
		*code_r = r < 0 ? 454 : 554;
		*text_r = r < 0 ? "Cannot check the URL now, try again later" :
		    why;
		goto out;
	}
	struct store_msg m;
	memset(&m, 0, sizeof(m));
	if (store_msg_get(f, u.url.uid, &m, &why) == 1) {
		fd = store_msg_open(f, &m, &why);
		store_msg_clear(&m);
	}
	if (fd < 0) {
		*text_r = "No such message";
		goto out;
	}
	int rr = read_crlf(fd, &msg);
	s->tx.burl_read += msg.len;
	if (rr < 0 && cap < s->max_size && msg.len >= cap) {
		*code_r = 552;
		*text_r = "Too much read for the URLs of one message (at most "
		    "4 times smtp.max_message_size)";
		goto out;
	}
	if (rr < 0) {
		*text_r = "Message too big (smtp.max_message_size) or unreadable";
		goto out;
	}
	const char *d = msg.data ? msg.data : "";
	size_t len = msg.len;
	if (u.url.section != NULL && section(u.url.section, &msg, &d, &len) < 0) {
		*text_r = "No such message part (BURL takes part numbers only)";
		goto out;
	}
	if (u.url.partial) {
		if (u.url.offset >= len) {
			len = 0;
		} else {
			d += u.url.offset;
			len -= u.url.offset;
			if (u.url.partial_len && len > u.url.length)
				len = u.url.length;
		}
	}
	buf_append(out, d, len);
	rc = 0;
out:
	if (rc < 0)
		log_info("%s: BURL refused (%d): %s", s->sid, *code_r,
		    why ? why : *text_r);
	if (fd >= 0)
		close(fd);
	free(name);
	store_folder_close(&f);
	if (st != NULL)
		store_close(&st);
	buf_free(&msg);
	imap_urlauth_free(&u);
	return rc;
}
