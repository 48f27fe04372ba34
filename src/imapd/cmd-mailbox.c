/* cmd-mailbox - commands on folders: SELECT/EXAMINE, CREATE, DELETE,
 * RENAME, (UN)SUBSCRIBE, LIST/LSUB (LIST-EXTENDED, SPECIAL-USE,
 * LIST-STATUS), NAMESPACE, STATUS, APPEND, QUOTA (RFC 9208), CLOSE,
 * UNSELECT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "append-convert.h"
#include "catenate.h"
#include "directory.h"
#include "imap-match.h"
#include "imap-spec.h"
#include "imapd.h"
#include "notify.h"
#include "search.h"
#include "log.h"
#include "mime.h"
#include "settings.h"
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

/* folder_refuse - the NO of a failed folder change. The store's texts
 * about the name are the client's to read; any other failure (I/O, the
 * index) is logged and answered without its text, which may name server
 * paths. */
static void
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

/* folder_limit - whether one more folder would pass mailbox.max_folders;
 * if so the client has its NO [LIMIT] */
static bool
folder_limit(struct session *s, const char *tag)
{
	int64_t max = settings_current(s->d->svc->db)->mailbox_max_folders;
	const char *err;
	size_t n;

	if (store_folder_count(s->mbox->root, &n, &err) < 0) {
		log_warnx("%s: counting folders: %s", s->sid, err);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot count the "
		    "folders (logged)");
		return true;
	}
	if ((int64_t)n < max)
		return false;
	log_info("%s: folder limit reached: %zu folders, mailbox.max_folders %"
	    PRId64, s->sid, n, max);
	session_tagged(s, tag, "NO", "[LIMIT] Too many folders: this mailbox "
	    "has %zu, at most %" PRId64 " are allowed (mailbox.max_folders)", n,
	    max);
	return true;
}

void
cmd_create(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n < 1 || n > 2) {
		session_tagged(s, tag, "BAD", "Syntax: CREATE mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s %s", strstr(err, "long") != NULL ?
		    "[LIMIT]" : "[CANNOT]", err);
		return;
	}
	size_t l = strlen(name);
	if (l > 1 && name[l - 1] == '.')
		name[l - 1] = '\0';  /* "foo." announces children to come */
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (store_folder_name_check(name, &err) < 0) {
		folder_refuse(s, tag, "CREATE", name, err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) == 1) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] Mailbox exists");
		return;
	}
	if (folder_limit(s, tag))
		return;
	if (store_folder_create(s->mbox->st, name, &err) < 0) {
		folder_refuse(s, tag, "CREATE", name, err);
		return;
	}
	/* RFC 8474 3.1: the new mailbox's id */
	struct store_folder *nf = store_folder_open(s->mbox->st, name, &err);
	if (nf != NULL) {
		session_tagged(s, tag, "OK", "[MAILBOXID (%s)] CREATE completed",
		    store_folder_mailboxid(nf));
		store_folder_close(&nf);
		return;
	}
	session_tagged(s, tag, "OK", "CREATE completed");
}

void
cmd_delete(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: DELETE mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, tag, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (s->state == ST_SELECTED &&
	    strcmp(store_folder_name(s->folder), name) == 0)
		session_deselect(s);
	if (store_folder_delete(s->mbox->st, name, &err) < 0) {
		folder_refuse(s, tag, "DELETE", name, err);
		return;
	}
	session_tagged(s, tag, "OK", "DELETE completed");
}

void
cmd_rename(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char from[STORE_FOLDER_MAX + 1], to[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 2) {
		session_tagged(s, tag, "BAD", "Syntax: RENAME from to");
		return;
	}
	if (mailbox_name(s, &a[0], from, sizeof(from), &err) == NULL ||
	    mailbox_name(s, &a[1], to, sizeof(to), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, from) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (store_folder_exists(s->mbox->st, to) == 1) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] Target exists");
		return;
	}
	if (store_folder_name_check(to, &err) < 0) {
		folder_refuse(s, tag, "RENAME", to, err);
		return;
	}
	/* RENAME INBOX makes a new folder (RFC 3501 6.3.5) */
	if (strcmp(from, "INBOX") == 0 && folder_limit(s, tag))
		return;
	/* a selected INBOX stays selected: its messages leave it, which
	 * the next sync reports as expunges */
	if (s->state == ST_SELECTED && strcmp(from, "INBOX") != 0 &&
	    strcmp(store_folder_name(s->folder), from) == 0)
		session_deselect(s);
	if (store_folder_rename(s->mbox->st, from, to, &err) < 0) {
		folder_refuse(s, tag, "RENAME", from, err);
		return;
	}
	if (s->state == ST_SELECTED && strcmp(from, "INBOX") == 0 &&
	    strcmp(store_folder_name(s->folder), "INBOX") == 0)
		view_sync(s, true, NULL, 0);
	session_tagged(s, tag, "OK", "RENAME completed");
}

static void
subscribe(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool on)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: %s mailbox",
		    on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (on && store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (store_folder_subscribe(s->mbox->st, name, on, &err) < 0) {
		folder_refuse(s, tag, on ? "SUBSCRIBE" : "UNSUBSCRIBE", name, err);
		return;
	}
	session_tagged(s, tag, "OK", "%s completed",
	    on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

void
cmd_subscribe(struct session *s, const char *tag, const struct imap_arg *a,
	      size_t n, bool uid)
{
	subscribe(s, tag, a, n, true);
}

void
cmd_unsubscribe(struct session *s, const char *tag, const struct imap_arg *a,
		size_t n, bool uid)
{
	subscribe(s, tag, a, n, false);
}

/* LIST patterns. A folder name is at most STORE_FOLDER_MAX octets, so a
 * longer pattern can only match through its wildcards; 1000 octets of
 * reference + pattern leave room for any name with some wildcards, and
 * keep the matching of a LIST (pattern / 64 word operations per name
 * octet, per folder) small. RFC 5258 clients send a few patterns. */
#define LIST_PATTERN_MAX 1000u   /* octets of reference + one pattern */
#define LIST_PATTERNS_MAX 32u    /* patterns of one LIST */

/* list_patterns_compile - the matchers of a LIST's patterns (reference
 * prepended, UTF-8 turned into modified UTF-7 after ENABLE UTF8=ACCEPT,
 * INBOX case folded); NULL with a text for the BAD reply in err (size
 * errsize) when a limit is passed */
static struct imap_match **
list_patterns_compile(struct session *s, const char *ref,
		      const struct imap_arg *pv, size_t pn, char *err,
		      size_t errsize)
{
	struct imap_match **m;
	struct buf pat;
	size_t rl = strlen(ref);

	if (pn > LIST_PATTERNS_MAX) {
		snprintf(err, errsize, "Too many LIST patterns (%zu, at most %u)",
		    pn, LIST_PATTERNS_MAX);
		return NULL;
	}
	for (size_t p = 0; p < pn; p++) {
		const char *ps = imap_arg_astring(&pv[p]);
		if (ps != NULL && rl + strlen(ps) > LIST_PATTERN_MAX) {
			snprintf(err, errsize, "LIST pattern too long (%zu octets "
			    "with the reference, at most %u)", rl + strlen(ps),
			    LIST_PATTERN_MAX);
			return NULL;
		}
	}
	m = xcalloc(pn + 1, sizeof(*m));
	buf_init(&pat, 0);
	for (size_t p = 0; p < pn; p++) {
		const char *ps = imap_arg_astring(&pv[p]);
		if (ps == NULL)
			continue;   /* a list in a list matches nothing */
		buf_reset(&pat);
		buf_puts(&pat, ref);
		buf_puts(&pat, ps);
		if (s->utf8 && pat.data != NULL) {
			/* a UTF-8 pattern against the stored names */
			struct buf m7;
			buf_init(&m7, 0);
			if (imap_utf8_to_mutf7(pat.data, &m7) == 0) {
				buf_reset(&pat);
				if (m7.len > 0)
					buf_append(&pat, m7.data, m7.len);
			}
			buf_free(&m7);
		}
		if (pat.len >= 5 && strncasecmp(pat.data, "INBOX", 5) == 0 &&
		    (pat.len == 5 || pat.data[5] == '.'))
			memcpy(pat.data, "INBOX", 5);
		m[p] = imap_match_compile(pat.data ? pat.data : "", pat.len, '.');
	}
	buf_free(&pat);
	return m;
}

static void
list_patterns_free(struct imap_match **m, size_t pn)
{
	for (size_t p = 0; p < pn; p++)
		imap_match_free(&m[p]);
	free(m);
}

/* status_items - "(MESSAGES n ...)" of a folder; -1 if it cannot open */
static int
status_items(struct session *s, const char *name, const struct imap_arg *items,
	     struct buf *out, const char **error_r)
{
	struct store_folder *f;
	struct store_folder_status st;
	bool own = false;

	if (s->state == ST_SELECTED && strcmp(store_folder_name(s->folder), name) == 0) {
		f = s->folder;
	} else {
		f = store_folder_open(s->mbox->st, name, error_r);
		if (f == NULL)
			return -1;
		own = true;
	}
	if (store_sync(f, error_r) < 0 || store_folder_status(f, &st, error_r) < 0) {
		if (own)
			store_folder_close(&f);
		return -1;
	}
	if (own)
		store_folder_close(&f);
	buf_putc(out, '(');
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *it = &items->list[i];
		if (i > 0)
			buf_putc(out, ' ');
		if (imap_arg_is_atom(it, "MESSAGES"))
			buf_printf(out, "MESSAGES %u", st.messages);
		else if (imap_arg_is_atom(it, "UIDNEXT"))
			buf_printf(out, "UIDNEXT %u", st.uidnext);
		else if (imap_arg_is_atom(it, "UIDVALIDITY"))
			buf_printf(out, "UIDVALIDITY %u", st.uidvalidity);
		else if (imap_arg_is_atom(it, "UNSEEN"))
			buf_printf(out, "UNSEEN %u", st.unseen);
		else if (imap_arg_is_atom(it, "RECENT"))
			/* not claimed yet, plus ours when it is selected */
			buf_printf(out, "RECENT %zu", (size_t)st.recent +
			    (own ? 0 : session_recent_count(s)));
		else if (imap_arg_is_atom(it, "DELETED"))
			buf_printf(out, "DELETED %u", st.deleted);
		else if (imap_arg_is_atom(it, "SIZE"))
			buf_printf(out, "SIZE %llu", (unsigned long long)st.size);
		else if (imap_arg_is_atom(it, "HIGHESTMODSEQ")) {
			buf_printf(out, "HIGHESTMODSEQ %llu",
			    (unsigned long long)st.highestmodseq);
			s->condstore = true;
		} else if (imap_arg_is_atom(it, "MAILBOXID")) {
			buf_printf(out, "MAILBOXID (%s)", st.mailboxid);
		} else {
			*error_r = "Unknown STATUS item";
			return -2;
		}
	}
	buf_putc(out, ')');
	return 0;
}

static bool
status_items_valid(const struct imap_arg *items)
{
	static const char *const ok[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY",
	    "UNSEEN", "RECENT", "DELETED", "SIZE", "HIGHESTMODSEQ", "MAILBOXID",
	    NULL };

	if (items->type != IMAP_ARG_LIST || items->count == 0)
		return false;
	for (size_t i = 0; i < items->count; i++) {
		bool found = false;
		for (size_t k = 0; ok[k] != NULL; k++)
			if (imap_arg_is_atom(&items->list[i], ok[k]))
				found = true;
		if (!found)
			return false;
	}
	return true;
}

void
cmd_status(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	struct buf out;

	if (n != 2 || !status_items_valid(&a[1])) {
		session_tagged(s, tag, "BAD", "Syntax: STATUS mailbox (items)");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	buf_init(&out, 0);
	buf_puts(&out, "* STATUS ");
	quote_name(s, &out, name);
	buf_putc(&out, ' ');
	if (status_items(s, name, &a[1], &out, &err) < 0) {
		buf_free(&out);
		folder_refuse(s, tag, "STATUS", name, err);
		return;
	}
	buf_puts(&out, "\r\n");
	session_write(s, out.data, out.len);
	buf_free(&out);
	session_tagged(s, tag, "OK", "STATUS completed");
}

static const char *
special_use_name(unsigned su)
{
	if (su & STORE_SU_SENT) return "\\Sent";
	if (su & STORE_SU_DRAFTS) return "\\Drafts";
	if (su & STORE_SU_TRASH) return "\\Trash";
	if (su & STORE_SU_JUNK) return "\\Junk";
	if (su & STORE_SU_ARCHIVE) return "\\Archive";
	return NULL;
}

/* one name LIST or LSUB may show: a folder, a subscription of a name
 * that does not exist (any more), or the implicit parent of either */
struct list_entry {
	char *name;
	unsigned special_use;
	bool exists, subscribed, has_children, match;
};

static int
list_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name,
	    ((const struct list_entry *)b)->name);
}

static struct list_entry *
list_entry_find(struct list_entry *le, size_t n, const char *name)
{
	struct list_entry key = { .name = (char *)name };

	return bsearch(&key, le, n, sizeof(*le), list_entry_cmp);
}

static void
list_entries_free(struct list_entry *le, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(le[i].name);
	free(le);
}

/* list_entry_add - name, unless it is there already; keeps le sorted */
static struct list_entry *
list_entry_add(struct list_entry **le, size_t *n, const char *name)
{
	struct list_entry *e = list_entry_find(*le, *n, name);

	if (e != NULL)
		return e;
	*le = xreallocarray(*le, *n + 1, sizeof(**le));
	size_t at = 0;
	while (at < *n && strcmp((*le)[at].name, name) < 0)
		at++;
	memmove(&(*le)[at + 1], &(*le)[at], (*n - at) * sizeof(**le));
	memset(&(*le)[at], 0, sizeof(**le));
	(*le)[at].name = xstrdup(name);
	(*n)++;
	return &(*le)[at];
}

/* list_entries - the folders, the subscriptions and their implicit
 * parents, sorted by name */
static int
list_entries(struct session *s, struct list_entry **le_r, size_t *n_r,
	     const char **error_r)
{
	struct store_folder_info *fl;
	size_t nf, ns = 0, n = 0;
	char **subs = NULL;
	struct list_entry *le = NULL;

	if (store_folder_list(s->mbox->st, &fl, &nf, error_r) < 0)
		return -1;
	if (store_subscriptions(s->mbox->st, &subs, &ns, error_r) < 0) {
		store_folder_list_free(fl, nf);
		return -1;
	}
	le = xcalloc(nf + ns + 1, sizeof(*le));
	for (size_t i = 0; i < nf; i++) {
		le[n].name = xstrdup(fl[i].name);
		le[n].special_use = fl[i].special_use;
		le[n].exists = true;
		le[n].subscribed = fl[i].subscribed;
		le[n].has_children = fl[i].has_children;
		n++;
	}
	store_folder_list_free(fl, nf);
	qsort(le, n, sizeof(*le), list_entry_cmp);
	for (size_t i = 0; i < ns; i++) {
		list_entry_add(&le, &n, subs[i])->subscribed = true;
		free(subs[i]);
	}
	free(subs);
	/* the implicit parents of every name */
	size_t nreal = n;
	char **names = xcalloc(nreal + 1, sizeof(*names));
	for (size_t i = 0; i < nreal; i++)
		names[i] = xstrdup(le[i].name);
	for (size_t i = 0; i < nreal; i++) {
		char *dot;
		while ((dot = strrchr(names[i], '.')) != NULL) {
			*dot = '\0';
			if (names[i][0] == '\0')
				break;
			struct list_entry *p = list_entry_add(&le, &n, names[i]);
			p->has_children = p->has_children || !p->exists;
		}
		free(names[i]);
	}
	free(names);
	*le_r = le;
	*n_r = n;
	return 0;
}

/* list_descendant - whether entry f has a descendant that the selection
 * takes (subscribed, or existing) but no pattern matched */
static bool
list_descendant(const struct list_entry *le, size_t n, size_t f,
		bool subscribed)
{
	size_t l = strlen(le[f].name);

	for (size_t i = 0; i < n; i++)
		if (i != f && strncmp(le[i].name, le[f].name, l) == 0 &&
		    le[i].name[l] == '.' && !le[i].match &&
		    (subscribed ? le[i].subscribed : le[i].exists))
			return true;
	return false;
}

/* list - LIST and LSUB (RFC 3501 6.3.8/9, RFC 5258, 6154, 5819) */
static void
list(struct session *s, const char *tag, const struct imap_arg *a, size_t n,
     bool lsub)
{
	bool sel_subscribed = lsub, sel_special = false, recursive = false;
	bool extended = false;
	bool ret_subscribed = false, ret_children = true, ret_special = true;
	const struct imap_arg *status = NULL;
	size_t i = 0;
	const char *err;

	if (!lsub && i < n && a[i].type == IMAP_ARG_LIST) {
		for (size_t k = 0; k < a[i].count; k++) {
			const struct imap_arg *o = &a[i].list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				sel_subscribed = true;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				sel_special = true;
			else if (imap_arg_is_atom(o, "RECURSIVEMATCH"))
				recursive = true;
			else if (!imap_arg_is_atom(o, "REMOTE")) {
				session_tagged(s, tag, "BAD", "Unknown LIST selection "
				    "option");
				return;
			}
		}
		/* RECURSIVEMATCH needs a selection option it can apply
		 * to, SUBSCRIBED (RFC 5258 3) */
		if (recursive && !sel_subscribed) {
			session_tagged(s, tag, "BAD", "RECURSIVEMATCH without "
			    "SUBSCRIBED");
			return;
		}
		extended = true;
		i++;
	}
	if (n < i + 2 || imap_arg_astring(&a[i]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: LIST reference pattern");
		return;
	}
	const char *ref = a[i].str;
	const struct imap_arg *pats = &a[i + 1];
	i += 2;
	if (!lsub && i < n) {
		if (!imap_arg_is_atom(&a[i], "RETURN") || i + 1 >= n ||
		    a[i + 1].type != IMAP_ARG_LIST || i + 2 != n) {
			session_tagged(s, tag, "BAD", "Syntax: LIST ... RETURN (options)");
			return;
		}
		const struct imap_arg *r = &a[i + 1];
		for (size_t k = 0; k < r->count; k++) {
			const struct imap_arg *o = &r->list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				ret_subscribed = true;
			else if (imap_arg_is_atom(o, "CHILDREN"))
				ret_children = true;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				ret_special = true;
			else if (imap_arg_is_atom(o, "STATUS") && k + 1 < r->count &&
			    status_items_valid(&r->list[k + 1]))
				status = &r->list[++k];
			else {
				session_tagged(s, tag, "BAD", "Unknown LIST return option");
				return;
			}
		}
		extended = true;
	} else if (i != n) {
		session_tagged(s, tag, "BAD", "Syntax: LIST reference pattern");
		return;
	}
	if (sel_subscribed && !lsub)
		ret_subscribed = true;

	/* the patterns: one astring or a list of them */
	const struct imap_arg *pv = pats->type == IMAP_ARG_LIST ? pats->list : pats;
	size_t pn = pats->type == IMAP_ARG_LIST ? pats->count : 1;
	if (pn == 0) {
		session_tagged(s, tag, "BAD", "Empty pattern list");
		return;
	}
	if (pn == 1 && imap_arg_astring(&pv[0]) != NULL && pv[0].str[0] == '\0') {
		/* LIST "" "": the hierarchy delimiter */
		session_printf(s, "* %s (\\Noselect) \".\" \"\"\r\n",
		    lsub ? "LSUB" : "LIST");
		session_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
		return;
	}
	char perr[128];
	struct imap_match **pm = list_patterns_compile(s, ref, pv, pn, perr,
	    sizeof(perr));
	if (pm == NULL) {
		session_tagged(s, tag, "BAD", "%s", perr);
		return;
	}
	if (pats->type == IMAP_ARG_LIST)
		extended = true;
	struct list_entry *le;
	size_t nle;
	if (list_entries(s, &le, &nle, &err) < 0) {
		list_patterns_free(pm, pn);
		folder_refuse(s, tag, lsub ? "LSUB" : "LIST", "", err);
		return;
	}
	for (size_t f = 0; f < nle; f++) {
		bool match = false;
		size_t nl = strlen(le[f].name);
		for (size_t p = 0; p < pn && !match; p++)
			match = pm[p] != NULL && imap_match(pm[p], le[f].name, nl);
		le[f].match = match;
	}
	struct buf out;
	buf_init(&out, 0);
	for (size_t f = 0; f < nle; f++) {
		const struct list_entry *e = &le[f];
		if (!e->match || (sel_special && e->special_use == 0))
			continue;
		bool eligible = sel_subscribed ? e->subscribed : e->exists;
		bool parent_only = false;  /* listed for a descendant */
		if (!eligible) {
			/* a descendant selected but not matched: the
			 * implicit parent (RFC 3501 6.3.8/9), or CHILDINFO
			 * with RECURSIVEMATCH (RFC 5258 3.5) */
			if (sel_subscribed && !lsub && !recursive)
				continue;
			if (!list_descendant(le, nle, f, sel_subscribed))
				continue;
			parent_only = true;
		}
		buf_reset(&out);
		buf_printf(&out, "* %s (", lsub ? "LSUB" : "LIST");
		size_t mark = out.len;
#define ATTR(x) buf_printf(&out, "%s%s", out.len > mark ? " " : "", (x))
		if (lsub && parent_only)
			ATTR("\\Noselect");
		else if (!e->exists && (extended || sel_subscribed))
			ATTR("\\NonExistent");
		else if (!e->exists)
			ATTR("\\Noselect");
		if (ret_children && !(lsub && parent_only))
			ATTR(e->has_children ? "\\HasChildren" :
			    "\\HasNoChildren");
		if (ret_subscribed && e->subscribed && !lsub)
			ATTR("\\Subscribed");
		const char *su = special_use_name(e->special_use);
		if (ret_special && su != NULL)
			ATTR(su);
#undef ATTR
		buf_puts(&out, ") \".\" ");
		quote_name(s, &out, e->name);
		if (parent_only && !lsub && sel_subscribed)
			buf_puts(&out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_puts(&out, "\r\n");
		if (status != NULL && e->exists) {
			size_t before = out.len;
			buf_puts(&out, "* STATUS ");
			quote_name(s, &out, e->name);
			buf_putc(&out, ' ');
			if (status_items(s, e->name, status, &out, &err) < 0)
				buf_truncate(&out, before);
			else
				buf_puts(&out, "\r\n");
		}
		session_write(s, out.data, out.len);
	}
	buf_free(&out);
	list_patterns_free(pm, pn);
	list_entries_free(le, nle);
	session_tagged(s, tag, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

void
cmd_list(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	list(s, tag, a, n, false);
}

void
cmd_lsub(struct session *s, const char *tag, const struct imap_arg *a,
	 size_t n, bool uid)
{
	list(s, tag, a, n, true);
}

void
cmd_namespace(struct session *s, const char *tag, const struct imap_arg *a,
	      size_t n, bool uid)
{
	session_printf(s, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	session_tagged(s, tag, "OK", "NAMESPACE completed");
}

/* mailbox_quota_kb - the current quota of the logged-in mailbox */
int64_t
mailbox_quota_kb(struct session *s)
{
	struct dir_mailbox mb;
	const char *err;

	if (dir_mailbox_get(s->d->svc->db, s->mailbox_id, &mb, &err) != 1)
		return 0;
	return mb.quota_kb;
}

/* append_literal - the message of an APPEND literal into m: in memory,
 * or in the file the parser kept it in (imap_parser_spill), which the
 * store then links into place. NULL, or why the message is refused. */
static const char *
append_literal(const struct imap_arg *a, struct store_append_msg *m,
	       struct buf *conv)
{
	bool nul = a->in_file ? a->nul :
	    memchr(a->str, '\0', a->len) != NULL;

	if ((a->in_file ? a->file_len : a->len) == 0)
		return "Empty message";
	if (!a->literal8 && nul)
		return "Message contains NUL: use a literal8";
	if (a->in_file) {
		m->data = NULL;
		m->fd = a->fd;
		m->len = (size_t)a->file_len;
	} else if (nul && append_binary_convert(a->str, a->len, conv) == 1) {
		/* parts with NUL as base64: BODY[] needs no NUL */
		m->data = conv->data;
		m->fd = -1;
		m->len = conv->len;
	} else {
		m->data = a->str;
		m->fd = -1;
		m->len = a->len;
	}
	return NULL;
}

/* multiappend - APPEND with several messages (RFC 3502): every message
 * checked first, then all stored in one store transaction, or none */
static void
multiappend(struct session *s, const char *tag, const struct imap_arg *a,
	    size_t n, size_t count)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err, *why = NULL, *status = "BAD";
	struct store_append_msg *m = xcalloc(count, sizeof(*m));
	char **kws = xcalloc(count, sizeof(*kws));
	struct buf *conv = xcalloc(count, sizeof(*conv));
	size_t k = 0, i = 1;

	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		why = err;
		status = "NO";
	}
	/* 1*(SP [flag-list] [SP date-time] SP literal) */
	while (why == NULL && i < n) {
		if (a[i].type == IMAP_ARG_LIST) {
			if (imap_flags_parse(&a[i], &m[k].flags, &kws[k],
			    &err) < 0) {
				why = err;
				break;
			}
			if (kws[k] != NULL && *kws[k] != '\0')
				m[k].keywords = kws[k];
			i++;
		}
		if (i < n && a[i].type == IMAP_ARG_STRING) {
			int tz;
			if (imap_datetime_parse(a[i].str, &m[k].internal_date,
			    &tz) < 0) {
				why = "Invalid date-time";
				break;
			}
			i++;
		}
		if (i >= n || a[i].type != IMAP_ARG_LITERAL || k >= count) {
			why = "Syntax: APPEND mailbox 1*([(flags)] [date-time] "
			    "literal)";
			break;
		}
		if ((why = append_literal(&a[i], &m[k], &conv[k])) != NULL) {
			status = "NO";
			break;
		}
		k++;
		i++;
	}
	if (why == NULL && store_folder_exists(s->mbox->st, name) != 1) {
		why = "[TRYCREATE] No such mailbox";
		status = "NO";
	}
	/* stored on a worker thread, all or none; writer.c answers */
	if (why == NULL)
		writer_append(s, tag, name, m, k, mailbox_quota_kb(s));
	for (size_t x = 0; x < count; x++) {
		free(kws[x]);
		buf_free(&conv[x]);
	}
	free(kws);
	free(conv);
	free(m);
	if (why != NULL)
		session_tagged(s, tag, status, "%s", why);
}

/* append_utf8 - UTF8=ACCEPT's APPEND data, "UTF8 (~{n}...)" (RFC 6855
 * 4): a copy of the arguments with each such pair replaced by its
 * literal (the strings stay the parser's), or NULL when there is none */
static struct imap_arg *
append_utf8(const struct imap_arg *a, size_t n, size_t *n_r)
{
	struct imap_arg *v = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && i + 1 < n && imap_arg_is_atom(&a[i], "UTF8") &&
		    a[i + 1].type == IMAP_ARG_LIST && a[i + 1].count == 1 &&
		    a[i + 1].list[0].type == IMAP_ARG_LITERAL) {
			if (v == NULL) {
				v = xcalloc(n, sizeof(*v));
				memcpy(v, a, i * sizeof(*v));
				k = i;
			}
			v[k++] = a[i + 1].list[0];
			i++;
		} else if (v != NULL) {
			v[k++] = a[i];
		}
	}
	*n_r = k;
	return v;
}

/* append_catenate - CATENATE (RFC 4469): a copy of the arguments with
 * each "CATENATE (parts)" replaced by a literal of the message it makes
 * (in bufs, *nbufs of them, to free), or NULL when there is none, or
 * NULL with the answer sent (*sent) */
static struct imap_arg *
append_catenate(struct session *s, const char *tag, const struct imap_arg *a,
		size_t n, size_t *n_r, struct buf **bufs_r, size_t *nbufs_r,
		bool *sent)
{
	struct imap_arg *v = NULL;
	struct buf *bufs = NULL;
	size_t k = 0, nb = 0;

	*sent = false;
	for (size_t i = 1; i + 1 < n; i++)
		if (imap_arg_is_atom(&a[i], "CATENATE") &&
		    a[i + 1].type == IMAP_ARG_LIST)
			nb++;
	if (nb == 0)
		return NULL;
	/* a missing target first: TRYCREATE, whatever the URLs say */
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		*sent = true;
		return NULL;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[TRYCREATE] No such mailbox");
		*sent = true;
		return NULL;
	}
	bufs = xcalloc(nb, sizeof(*bufs));
	v = xcalloc(n, sizeof(*v));
	nb = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && i + 1 < n && imap_arg_is_atom(&a[i], "CATENATE") &&
		    a[i + 1].type == IMAP_ARG_LIST) {
			char *why = NULL;
			buf_init(&bufs[nb], 0);
			if (catenate_build(s, &a[i + 1], &bufs[nb], &why) < 0) {
				char *sp = strchr(why, ' ');
				*sp = '\0';
				session_tagged(s, tag, why, "%s", sp + 1);
				free(why);
				for (size_t b = 0; b <= nb; b++)
					buf_free(&bufs[b]);
				free(bufs);
				free(v);
				*sent = true;
				return NULL;
			}
			v[k] = (struct imap_arg){ .type = IMAP_ARG_LITERAL,
			    .str = bufs[nb].data, .len = bufs[nb].len,
			    .literal8 = memchr(bufs[nb].data, '\0',
			    bufs[nb].len) != NULL, .fd = -1 };
			k++;
			nb++;
			i++;
		} else {
			v[k++] = a[i];
		}
	}
	*n_r = k;
	*bufs_r = bufs;
	*nbufs_r = nb;
	return v;
}

void
cmd_append(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	size_t count = 0;

	{
		size_t nc, nb = 0;
		struct buf *bufs = NULL;
		bool sent;
		struct imap_arg *c = append_catenate(s, tag, a, n, &nc, &bufs,
		    &nb, &sent);
		if (sent)
			return;
		if (c != NULL) {
			/* the strings of c are bufs': freed after */
			cmd_append(s, tag, c, nc, uid);
			for (size_t b = 0; b < nb; b++)
				buf_free(&bufs[b]);
			free(bufs);
			free(c);
			return;
		}
	}

	if (s->utf8) {
		size_t nu;
		struct imap_arg *u = append_utf8(a, n, &nu);
		if (u != NULL) {
			cmd_append(s, tag, u, nu, uid);
			free(u);
			return;
		}
	}
	for (size_t k = 1; k < n; k++)
		if (a[k].type == IMAP_ARG_LITERAL)
			count++;
	if (count > 1) {
		multiappend(s, tag, a, n, count);
		return;
	}
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	unsigned flags = 0;
	char *kw = NULL;
	time_t idate = 0;
	size_t i = 1;

	if (n < 2 || n > 4 || a[n - 1].type != IMAP_ARG_LITERAL) {
		session_tagged(s, tag, "BAD", "Syntax: APPEND mailbox [(flags)] "
		    "[date-time] literal");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (i < n - 1 && a[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(&a[i], &flags, &kw, &err) < 0) {
			session_tagged(s, tag, "BAD", "%s", err);
			return;
		}
		i++;
	}
	if (i < n - 1) {
		int tz;
		if (a[i].type != IMAP_ARG_STRING ||
		    imap_datetime_parse(a[i].str, &idate, &tz) < 0) {
			free(kw);
			session_tagged(s, tag, "BAD", "Invalid date-time");
			return;
		}
		i++;
	}
	if (i != n - 1) {
		free(kw);
		session_tagged(s, tag, "BAD", "Syntax: APPEND mailbox [(flags)] "
		    "[date-time] literal");
		return;
	}
	struct store_append_msg m = { .flags = flags,
	    .keywords = kw && *kw ? kw : NULL, .internal_date = idate };
	struct buf conv;
	buf_init(&conv, 0);
	const char *why = append_literal(&a[i], &m, &conv);
	if (why != NULL) {
		buf_free(&conv);
		free(kw);
		session_tagged(s, tag, "NO", "%s", why);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		buf_free(&conv);
		free(kw);
		session_tagged(s, tag, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	/* the write and its fsyncs on a worker thread; the answer (OK
	 * [APPENDUID] once durable) comes from writer.c */
	writer_append(s, tag, name, &m, 1, mailbox_quota_kb(s));
	buf_free(&conv);
	free(kw);
}

/* quota_line - "* QUOTA "" (STORAGE used limit)" */
static int
quota_line(struct session *s, int64_t quota_kb)
{
	int64_t bytes = 0, count = 0;
	const char *err;

	if (store_quota_usage(s->mbox->root, &bytes, &count, &err) < 0) {
		log_warnx("%s: quota usage: %s", s->sid, err);
		return -1;
	}
	session_printf(s, "* QUOTA \"\" (STORAGE %lld %lld)\r\n",
	    (long long)((bytes + 1023) / 1024), (long long)quota_kb);
	return 0;
}

void
cmd_getquotaroot(struct session *s, const char *tag, const struct imap_arg *a,
		 size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;
	struct buf q;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: GETQUOTAROOT mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	int64_t quota = mailbox_quota_kb(s);
	buf_init(&q, 0);
	quote_name(s, &q, name);
	/* one quota root, "", for the whole mailbox; none when unlimited */
	session_printf(s, "* QUOTAROOT %s%s\r\n", q.data, quota > 0 ? " \"\"" : "");
	buf_free(&q);
	if (quota > 0 && quota_line(s, quota) < 0) {
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot read the usage");
		return;
	}
	session_tagged(s, tag, "OK", "GETQUOTAROOT completed");
}

void
cmd_getquota(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	if (n != 1 || imap_arg_astring(&a[0]) == NULL) {
		session_tagged(s, tag, "BAD", "Syntax: GETQUOTA root");
		return;
	}
	int64_t quota = mailbox_quota_kb(s);
	if (a[0].str[0] != '\0' || quota <= 0) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	if (quota_line(s, quota) < 0) {
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot read the usage");
		return;
	}
	session_tagged(s, tag, "OK", "GETQUOTA completed");
}

void
cmd_setquota(struct session *s, const char *tag, const struct imap_arg *a,
	     size_t n, bool uid)
{
	session_tagged(s, tag, "NO", "[NOPERM] Quotas are set by the "
	    "administrator");
}
