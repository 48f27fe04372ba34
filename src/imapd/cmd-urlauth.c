/* cmd-urlauth - URLAUTH (RFC 4467) and URLFETCH BINARY (RFC 5524):
 * GENURLAUTH, RESETKEY, URLFETCH. The URL syntax and the token are
 * lib-imap's imap-urlauth.c; who may use a URL, imap-urlauth-check.c;
 * the keys, lib-store's store-urlauth.c; reading what a URL names,
 * url-content.c. Only the INTERNAL mechanism exists. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap-urlauth-check.h"
#include "imap-urlauth.h"
#include "log.h"
#include "mime.h"
#include "url-content.h"
#include "xalloc.h"

/* folder_of - the folder a client mailbox argument names in the user's
 * store; NULL with the tagged NO sent */
static struct store_folder *
folder_of(struct session *s, const char *tag, const struct imap_arg *a)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (mailbox_name(s, a, name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return NULL;
	}
	struct store_folder *f = store_folder_open(s->mbox->st, name, &err);
	if (f == NULL)
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
	return f;
}

/* is_internal - the mechanism argument names INTERNAL */
static bool
is_internal(const struct imap_arg *a)
{
	return imap_arg_astring(a) != NULL && strcasecmp(a->str, "INTERNAL") == 0;
}

/* genurlauth_one - append the authorized form of one rump URL to out
 * (as an astring); -1 with the tagged answer sent */
static int
genurlauth_one(struct session *s, const char *tag, const char *url,
	       struct buf *out)
{
	struct imap_urlauth u;
	struct dir_mailbox mb;
	unsigned char key[IMAP_URLAUTH_KEY_LEN];
	char tok[IMAP_URLAUTH_TOKEN_LEN + 1];
	const char *err = NULL;
	int rc = -1;

	if (imap_urlauth_parse(url, false, &u, &err) < 0) {
		session_tagged(s, tag, "NO", "Bad URL: %s", err);
		goto out;
	}
	int r = imap_urlauth_owner(s->d->svc->db, &u, &mb, &err);
	if (r < 0) {
		log_warnx("%s: GENURLAUTH: %s", s->sid, err);
		session_tagged(s, tag, "NO", "[UNAVAILABLE] Try again later");
		goto out;
	}
	if (r == 0 || mb.id != s->mailbox_id) {
		session_tagged(s, tag, "NO", "The URL is not for the mailbox "
		    "you are logged in to");
		goto out;
	}
	struct store_folder *f = url_folder_open(s, s->mbox->st, &u.url, &err);
	if (f == NULL) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		goto out;
	}
	r = store_urlauth_key(f, true, key, &err);
	store_folder_close(&f);
	if (r != 1) {
		log_warnx("%s: GENURLAUTH key: %s", s->sid, err);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot make the "
		    "mailbox's URLAUTH key");
		goto out;
	}
	imap_urlauth_token(key, url, u.rump_len, tok);
	memset(key, 0, sizeof(key));
	char *full = xasprintf("%.*s:INTERNAL:%s", (int)u.rump_len, url, tok);
	buf_putc(out, ' ');
	mime_imap_nstring(out, full, strlen(full));
	free(full);
	rc = 0;
out:
	imap_urlauth_free(&u);
	return rc;
}

/* cmd_genurlauth - GENURLAUTH url mechanism [url mechanism ...] */
void
cmd_genurlauth(struct session *s, const char *tag, const struct imap_arg *a,
	       size_t n, bool uid)
{
	struct buf out;

	(void)uid;
	if (n == 0 || n % 2 != 0) {
		session_tagged(s, tag, "BAD", "Syntax: GENURLAUTH url INTERNAL "
		    "[url INTERNAL ...]");
		return;
	}
	for (size_t i = 0; i < n; i += 2)
		if (imap_arg_astring(&a[i]) == NULL || a[i].in_file ||
		    strlen(a[i].str) != a[i].len || !is_internal(&a[i + 1])) {
			if (imap_arg_astring(&a[i + 1]) != NULL &&
			    !is_internal(&a[i + 1]))
				session_tagged(s, tag, "NO", "Unknown URLAUTH "
				    "mechanism (INTERNAL is the only one)");
			else
				session_tagged(s, tag, "BAD", "Syntax: "
				    "GENURLAUTH url INTERNAL");
			return;
		}
	buf_init(&out, 0);
	buf_puts(&out, "* GENURLAUTH");
	for (size_t i = 0; i < n; i += 2)
		if (genurlauth_one(s, tag, a[i].str, &out) < 0) {
			buf_free(&out);
			return;
		}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	session_tagged(s, tag, "OK", "GENURLAUTH completed");
}

/* cmd_resetkey - RESETKEY [mailbox [mechanism ...]] */
void
cmd_resetkey(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	const char *err;
	struct store_folder *f = NULL;

	(void)uid;
	for (size_t i = 1; i < n; i++)
		if (!is_internal(&a[i])) {
			session_tagged(s, tag, "NO", "Unknown URLAUTH mechanism "
			    "(INTERNAL is the only one)");
			return;
		}
	if (n > 0 && imap_arg_astring(&a[0]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: RESETKEY [mailbox "
		    "[INTERNAL]]");
		return;
	}
	if (n > 0 && (f = folder_of(s, tag, &a[0])) == NULL)
		return;
	int r = store_urlauth_reset(s->mbox->st, f, &err);
	store_folder_close(&f);
	if (r < 0) {
		log_warnx("%s: RESETKEY: %s", s->sid, err);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot reset the key");
		return;
	}
	log_info("%s: RESETKEY %s", s->sid, n > 0 ? "of one mailbox" : "of all");
	if (n == 0)
		session_tagged(s, tag, "OK", "All keys removed");
	else
		session_tagged(s, tag, "OK", "[URLMECH INTERNAL] Key reset");
}

/* cmd_urlfetch - URLFETCH url ... ; RFC 5524: URLFETCH (url [BODY]
 * [BINARY] [BODYPARTSTRUCTURE]) ... */
void
cmd_urlfetch(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	struct buf out, data, bps;

	(void)uid;
	if (n == 0) {
		session_tagged(s, tag, "BAD", "Syntax: URLFETCH url ...");
		return;
	}
	/* check the whole command before answering any of it */
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *u = &a[i];
		bool ok = true;
		if (u->type == IMAP_ARG_LIST) {
			ok = u->count >= 1;
			for (size_t j = 1; ok && j < u->count; j++)
				ok = imap_arg_is_atom(&u->list[j], "BODY") ||
				    imap_arg_is_atom(&u->list[j], "BINARY") ||
				    imap_arg_is_atom(&u->list[j],
				    "BODYPARTSTRUCTURE");
			if (ok)
				u = &u->list[0];
		}
		if (!ok || imap_arg_astring(u) == NULL || u->in_file ||
		    strlen(u->str) != u->len) {
			session_tagged(s, tag, "BAD", "Syntax: URLFETCH url ... "
			    "or (url [BODY] [BINARY] [BODYPARTSTRUCTURE]) ...");
			return;
		}
	}
	buf_init(&out, 0);
	buf_init(&data, 0);
	buf_init(&bps, 0);
	buf_puts(&out, "* URLFETCH");
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *u = a[i].type == IMAP_ARG_LIST ?
		    &a[i].list[0] : &a[i];
		bool ext = a[i].type == IMAP_ARG_LIST, body = false, nul = false;
		struct url_content_opts o = { .has_nul_r = &nul };
		for (size_t j = 1; ext && j < a[i].count; j++) {
			const struct imap_arg *p = &a[i].list[j];
			if (imap_arg_is_atom(p, "BODY"))
				body = true;
			else if (imap_arg_is_atom(p, "BINARY"))
				o.binary = true;
			else
				o.bps = &bps;
		}
		if (o.binary && body)
			body = false;  /* one form of the data: BINARY wins */
		buf_reset(&data);
		buf_reset(&bps);
		const char *why = NULL;
		buf_putc(&out, ' ');
		mime_imap_nstring(&out, u->str, u->len);
		bool want_data = !ext || body || o.binary;
		int r = url_content_auth(s, u->str, &o, &data, &why);
		if (r == 0 && out.len + data.len + bps.len > IMAP_MAX_LITERAL) {
			/* one answer holds at most IMAP_MAX_LITERAL of data */
			why = "the URLFETCH answer would be too big";
			r = -1;
		}
		if (r < 0) {
			log_info("%s: URLFETCH refused: %s", s->sid,
			    why ? why : "?");
			buf_puts(&out, " NIL");
			continue;
		}
		if (ext) {
			buf_puts(&out, " (");
			if (o.bps != NULL) {
				buf_puts(&out, "BODYPARTSTRUCTURE ");
				buf_append(&out, bps.data ? bps.data : "NIL",
				    bps.data ? bps.len : 3);
				if (want_data)
					buf_putc(&out, ' ');
			}
			if (want_data)
				buf_puts(&out, o.binary ? "BINARY " : "BODY ");
		} else {
			buf_putc(&out, ' ');
		}
		if (want_data) {
			buf_printf(&out, "%s{%zu}\r\n", nul ? "~" : "", data.len);
			buf_append(&out, data.data ? data.data : "", data.len);
		}
		if (ext)
			buf_putc(&out, ')');
	}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	buf_free(&data);
	buf_free(&bps);
	session_tagged(s, tag, "OK", "URLFETCH completed");
}
