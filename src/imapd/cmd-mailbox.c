/* cmd-mailbox - the selected folder's commands, SELECT/EXAMINE, CLOSE,
 * UNSELECT, and what the folder commands share: a client's mailbox name
 * (mailbox_name, quote_name) and the NO of a failed folder change
 * (folder_refuse). The others: cmd-folder.c (CREATE, DELETE, RENAME,
 * (UN)SUBSCRIBE), cmd-list.c (LIST/LSUB, STATUS, NAMESPACE), cmd-append.c
 * (APPEND), cmd-quota.c (QUOTA, RFC 9208) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-spec.h"
#include "imapd.h"
#include "notify.h"
#include "search.h"
#include "log.h"
#include "mime.h"
#include "view.h"
#include "xalloc.h"

/* mailbox_name - see imapd.h */
const char *
mailbox_name(struct session *ss, const struct imap_arg *a, char *out,
	     size_t size, const char **error_r)
{
	const char *s = imap_arg_astring(a);
	struct buf utf8, m7;

	if (s != NULL && a->len >= size) {
		*error_r = "Mailbox name too long: at most 254 bytes in "
		    "modified UTF-7 with its parents";
		return NULL;
	}
	if (s == NULL || strlen(s) != a->len || a->len == 0) {
		*error_r = "Invalid mailbox name";
		return NULL;
	}
	if (ss->utf8) {
		/* UTF8=ACCEPT (RFC 6855 3): the name is UTF-8; the store
		 * keeps the modified UTF-7 form */
		buf_init(&m7, size - 1);
		if (imap_utf8_to_mutf7(s, &m7) < 0 || m7.len == 0) {
			buf_free(&m7);
			*error_r = "Mailbox name is not valid UTF-8 (or too long)";
			return NULL;
		}
		buf_putc(&m7, '\0');
		snprintf(out, size, "%s", m7.data);
		buf_free(&m7);
		s = out;
	}
	buf_init(&utf8, 0);
	int r = imap_mutf7_to_utf8(s, &utf8);
	buf_free(&utf8);
	if (r < 0) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		return NULL;
	}
	if (s != out)
		snprintf(out, size, "%s", s);
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '.'))
		memcpy(out, "INBOX", 5);
	return out;
}

/* quote_name - a mailbox name as an IMAP string: modified UTF-7 as
 * stored, or UTF-8 for a session that enabled UTF8=ACCEPT (quoted when
 * it can be: RFC 6855 allows UTF-8 in quoted strings) */
void
quote_name(struct session *s, struct buf *out, const char *name)
{
	struct buf u;
	bool quotable = true;

	buf_init(&u, 0);
	if (!s->utf8 || imap_mutf7_to_utf8(name, &u) < 0 || u.len == 0) {
		buf_free(&u);
		mime_imap_nstr(out, name);
		return;
	}
	for (size_t i = 0; i < u.len && quotable; i++)
		quotable = u.data[i] != '\r' && u.data[i] != '\n' &&
		    u.data[i] != '\0';
	if (!quotable) {
		mime_imap_nstring(out, u.data, u.len);
	} else {
		buf_putc(out, '"');
		for (size_t i = 0; i < u.len; i++) {
			if (u.data[i] == '"' || u.data[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, u.data[i]);
		}
		buf_putc(out, '"');
	}
	buf_free(&u);
}

/* session_deselect - leave the selected state */
void
session_deselect(struct session *s)
{
	if (s->notify_handle > 0 && s->d->notify != NULL)
		store_notify_unwatch(s->d->notify, s->notify_handle);
	s->notify_handle = 0;
	if (s->folder != NULL)
		store_folder_close(&s->folder);
	search_ctx_free_all(s);
	view_free(s);
	xfree(&s->kw_known);
	recent_forget(s);
	if (s->state == ST_SELECTED) {
		s->state = ST_AUTH;
		notify_reselect(s);
	}
}

static void
select_common(struct session *s, const char *tag, const struct imap_arg *a,
	      size_t n, bool readonly)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n < 1 || n > 2 || (n == 2 && a[1].type != IMAP_ARG_LIST)) {
		session_tagged(s, tag, "BAD", "Syntax: SELECT mailbox [(CONDSTORE)]");
		return;
	}
	/* QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]) */
	bool qresync = false;
	uint32_t q_uidvalidity = 0;
	uint64_t q_modseq = 0;
	const char *q_known = NULL;
	if (n == 2) {
		for (size_t i = 0; i < a[1].count; i++) {
			const struct imap_arg *p = &a[1].list[i];
			if (imap_arg_is_atom(p, "CONDSTORE")) {
				s->condstore = true;
			} else if (imap_arg_is_atom(p, "QRESYNC") && s->qresync &&
			    i + 1 < a[1].count && a[1].list[i + 1].type == IMAP_ARG_LIST &&
			    a[1].list[i + 1].count >= 2 &&
			    a[1].list[i + 1].list[0].type == IMAP_ARG_ATOM &&
			    a[1].list[i + 1].list[1].type == IMAP_ARG_ATOM) {
				const struct imap_arg *q = &a[1].list[++i];
				char *e1, *e2;
				unsigned long long uv = strtoull(q->list[0].str, &e1, 10);
				q_modseq = strtoull(q->list[1].str, &e2, 10);
				if (*e1 != '\0' || *e2 != '\0' || uv == 0 ||
				    uv > UINT32_MAX || q_modseq == 0 ||
				    (q->count >= 3 && q->list[2].type != IMAP_ARG_ATOM)) {
					session_tagged(s, tag, "BAD", "Invalid QRESYNC "
					    "parameters");
					return;
				}
				q_uidvalidity = (uint32_t)uv;
				q_known = q->count >= 3 ? q->list[2].str : NULL;
				qresync = true;
			} else {
				session_tagged(s, tag, "BAD", "Unsupported SELECT "
				    "parameter (CONDSTORE, QRESYNC after ENABLE)");
				return;
			}
		}
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (s->state == ST_SELECTED) {
		session_deselect(s);
		if (s->rev2 || s->qresync)
			session_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	s->readonly = readonly;    /* EXAMINE: \Recent is only looked at */
	s->folder = store_folder_open(s->mbox->st, name, &err);
	if (s->folder == NULL) {
		log_warnx("%s: cannot open %s: %s", s->sid, name, err);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return;
	}
	if (view_load(s, &err) < 0) {
		log_warnx("%s: cannot load %s: %s", s->sid, name, err);
		store_folder_close(&s->folder);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot read the mailbox");
		return;
	}
	s->readonly = readonly;
	s->state = ST_SELECTED;
	notify_reselect(s);

	/* the keywords in use */
	xfree(&s->kw_known);
	view_keywords_send(s);
	session_printf(s, "* %zu EXISTS\r\n", s->nmsgs);
	if (!s->rev2)
		session_printf(s, "* %zu RECENT\r\n", session_recent_count(s));
	for (size_t i = 0; i < s->nmsgs && !s->rev2; i++)
		if ((s->msgs[i].flags & STORE_SEEN) == 0) {
			session_printf(s, "* OK [UNSEEN %zu] First unseen\r\n", i + 1);
			break;
		}
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", s->uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", s->uidnext);
	session_printf(s, "* OK [URLMECH INTERNAL] URLAUTH mechanisms\r\n");
	session_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)s->highestmodseq);
	/* RFC 8474 OBJECTID */
	session_printf(s, "* OK [MAILBOXID (%s)] Ok\r\n",
	    store_folder_mailboxid(s->folder));
	if (s->rev2) {
		struct buf l;
		buf_init(&l, 0);
		quote_name(s, &l, name);
		session_printf(s, "* LIST () \".\" %s\r\n", l.data);
		buf_free(&l);
	}
	if (qresync && q_uidvalidity == s->uidvalidity) {
		/* what changed since the client's last sync */
		struct imap_seqset known;
		const char *serr;
		bool have_known = q_known != NULL &&
		    imap_seqset_parse(q_known, &known, &serr) == 0;
		vanished_earlier(s, have_known ? q_known : NULL, q_modseq);
		for (size_t i = 0; i < s->nmsgs; i++)
			if (s->msgs[i].modseq > q_modseq && (!have_known ||
			    imap_seqset_contains(&known, s->msgs[i].uid,
			    s->uidnext - 1)))
				report_flags(s, i);
		if (have_known)
			imap_seqset_free(&known);
	}
	session_tagged(s, tag, "OK", "[%s] %s completed",
	    readonly ? "READ-ONLY" : "READ-WRITE", readonly ? "EXAMINE" : "SELECT");
}

void
cmd_select(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	select_common(s, tag, a, n, false);
}

void
cmd_examine(struct session *s, const char *tag, const struct imap_arg *a,
	    size_t n, bool uid)
{
	select_common(s, tag, a, n, true);
}

void
cmd_unselect(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	session_deselect(s);
	session_tagged(s, tag, "OK", "UNSELECT completed");
}

void
cmd_close(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	const char *err;

	/* expunge silently: no EXPUNGE responses for a closing mailbox */
	if (!s->readonly && store_expunge(s->folder, NULL, 0, NULL, NULL, &err) < 0)
		log_warnx("%s: expunge on CLOSE: %s", s->sid, err);
	session_deselect(s);
	session_tagged(s, tag, "OK", "CLOSE completed");
}

/* folder_error - the response code for a store error text */
static const char *
folder_error(const char *err)
{
	if (err == NULL)
		return "[SERVERBUG]";
	if (strstr(err, "exists") != NULL)
		return "[ALREADYEXISTS]";
	if (strstr(err, "no such") != NULL || strstr(err, "not exist") != NULL)
		return "[NONEXISTENT]";
	if (strstr(err, "too long") != NULL)
		return "[LIMIT]";
	if (strstr(err, "INBOX") != NULL)
		return "[CANNOT]";
	if (strstr(err, "name") != NULL || strstr(err, "invalid") != NULL ||
	    strstr(err, "into itself") != NULL)
		return "[CANNOT]";
	return "[SERVERBUG]";
}

/* folder_refuse - see imapd.h */
void
folder_refuse(struct session *s, const char *tag, const char *cmd,
	      const char *name, const char *err)
{
	const char *code = folder_error(err);

	if (strcmp(code, "[SERVERBUG]") == 0 || strchr(err, '/') != NULL) {
		log_warnx("%s: %s %s: %s", s->sid, cmd, name,
		    err != NULL ? err : "?");
		session_tagged(s, tag, "NO", "[SERVERBUG] %s failed on the "
		    "server (logged)", cmd);
		return;
	}
	session_tagged(s, tag, "NO", "%s %s", code, err);
}
