/* maint - the administrator's mail into INBOXes (maint.h) */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maint.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

/* crlf - text with CRLF line ends into out */
static void
crlf(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			buf_puts(out, "\r\n");
		else
			buf_putc(out, s[i]);
	}
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_puts(out, "\r\n");
}

static bool
ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

void
maint_message(struct db *db, struct buf *m, const char *from, const char *to,
	      const char *subject, const char *body, size_t len)
{
	char date[64], rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	char *host = settings_hostname(db);

	if (body == NULL)
		body = "";
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	random_bytes(rnd, sizeof(rnd));
	if (from != NULL)
		buf_printf(m, "From: <%s>\r\n", from);
	else
		buf_printf(m, "From: Postmaster <postmaster@%s>\r\n", host);
	buf_printf(m, "To: <%s>\r\nSubject: ", to);
	for (const char *c = subject; *c; c++)
		buf_putc(m, (unsigned char)*c < 0x20 ? ' ' : *c);
	buf_printf(m, "\r\nDate: %s\r\nMessage-ID: <admin.", date);
	for (size_t i = 0; i < sizeof(rnd); i++)
		buf_printf(m, "%02x", (unsigned char)rnd[i]);
	bool a = ascii(body, len);
	buf_printf(m, "@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n", host,
	    a ? "us-ascii" : "utf-8", a ? "7bit" : "8bit");
	crlf(m, body, len);
	free(host);
}

int
maint_put_inbox(struct db *db, const struct dir_mailbox *mb,
		const struct buf *m, const char **error_r)
{
	struct store_delivery sd;
	char *root = dir_mailbox_path(db, mb);

	store_delivery_init(&sd);
	sd.prefix = "Return-Path: <>\r\n";
	sd.prefix_len = strlen(sd.prefix);
	sd.data = m->data;
	sd.len = m->len;
	enum store_deliver_result r = store_deliver(root, &sd, NULL, error_r);
	free(root);
	return r == STORE_DELIVER_OK ? 0 : -1;
}

char *
maint_mailbox_address(struct db *db, const struct dir_mailbox *mb)
{
	struct dir_strings a = { 0 };
	const char *err = NULL;
	char *s;

	if (dir_mailbox_addresses(db, mb->id, &a, &err) == 0 && a.n > 0)
		s = xstrdup(a.v[0]);
	else
		s = xasprintf("%s@%s", mb->name, mb->postoffice);
	dir_strings_free(&a);
	return s;
}

void
maint_welcome_message(struct db *db, const struct dir_mailbox *mb,
		      struct buf *m)
{
	char *text = xstrdup(settings_current(db)->welcome_message);
	size_t tl = strlen(text);

	if (tl == 0) {
		free(text);
		return;
	}
	/* a message of its own (a header field first), else a body */
	const char *colon = strchr(text, ':'), *nl = strchr(text, '\n');
	if (colon != NULL && (nl == NULL || colon < nl) &&
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-") == (size_t)(colon - text)) {
		crlf(m, text, tl);
	} else {
		char *to = maint_mailbox_address(db, mb);
		maint_message(db, m, NULL, to, "Welcome", text, tl);
		free(to);
	}
	free(text);
}

int
maint_welcome_deliver(struct db *db, const char *postoffice,
		      const char *mailbox, const char **error_r)
{
	struct dir_mailbox mb;
	struct buf m;
	int r;

	if ((r = dir_mailbox_find(db, postoffice, mailbox, &mb, error_r)) <= 0) {
		if (r == 0)
			*error_r = "no such mailbox";
		return -1;
	}
	buf_init(&m, 0);
	maint_welcome_message(db, &mb, &m);
	r = m.len == 0 ? 0 : maint_put_inbox(db, &mb, &m, error_r) < 0 ? -1 : 1;
	buf_free(&m);
	return r;
}

int
maint_inbox_delete(const char *root, time_t cutoff, bool everything, bool dry,
	     size_t *n_r, int64_t *bytes_r, const char **err)
{
	struct store *st = store_open(root, err);
	struct store_folder *f = NULL;
	struct store_msg *msgs = NULL;
	size_t n = 0, k = 0;
	uint32_t *uids = NULL;
	int r = -1;

	*n_r = 0;
	*bytes_r = 0;
	if (st == NULL)
		return -1;
	if ((f = store_folder_open(st, "INBOX", err)) == NULL ||
	    store_sync(f, err) < 0 || store_msgs_load(f, &msgs, &n, err) < 0)
		goto out;
	uids = xcalloc(n ? n : 1, sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		if (everything || msgs[i].internal_date < cutoff) {
			uids[k++] = msgs[i].uid;
			*bytes_r += (int64_t)msgs[i].file_size;
		}
	if (k > 0 && !dry && store_expunge(f, uids, k, NULL, NULL, err) < 0)
		goto out;
	*n_r = k;
	r = 0;
out:
	free(uids);
	store_msgs_free(msgs, n);
	if (f != NULL)
		store_folder_close(&f);
	store_close(&st);
	return r;
}

