/* store-email - account-wide object ids (RFC 8474 OBJECTID, JMAP): email,
 * thread and mailbox ids, the sort keys of the query index, and lookups
 * by id. How each id is made, and why it survives a rebuild of the index,
 * is told in store.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "buf.h"
#include "fsutil.h"
#include "hfield.h"
#include "mime.h"
#include "msghdr.h"
#include "store.h"
#include "store-private.h"
#include "strutil.h"
#include "xalloc.h"

#define MAILBOXID_FILE "postern-mailboxid"
#define EMAIL_HEADER_READ (64 * 1024) /* header bytes read for the ids */
#define SORT_KEY_MAX 200               /* bytes of a sort key */

/* id_hex - prefix + the first 64 bits of SHA-256(data) in hex */
static void
id_hex(char prefix, const void *data, size_t len, char out[STORE_ID_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	out[0] = prefix;
	for (size_t i = 0; i < 8; i++)
		snprintf(out + 1 + i * 2, 3, "%02x", md[i]);
}

/* store_id_valid - an id as this store makes them: a letter and 16 hex
 * digits */
bool
store_id_valid(const char *id, char prefix)
{
	if (id == NULL || id[0] != prefix || strlen(id) != 17)
		return false;
	for (size_t i = 1; i < 17; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* ------------------------------------------------------------ mailbox ids */

/* email_mailboxid - the id of the folder in dir, from its
 * postern-mailboxid file; made (random) when the file is missing. The
 * file is linked into place, so two processes making it at once agree. */
int
email_mailboxid(const char *dir, char out[STORE_ID_MAX], const char **error_r)
{
	char *path = path_join(dir, MAILBOXID_FILE), *tmp;
	char b[STORE_ID_MAX + 2];
	unsigned char rnd[8];
	int fd, ret = -1;

	for (int tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, b, sizeof(b) - 1);
			close(fd);
			b[n > 0 ? n : 0] = '\0';
			b[strcspn(b, "\r\n")] = '\0';
			if (store_id_valid(b, 'F')) {
				memcpy(out, b, 18);
				ret = 0;
				break;
			}
			/* damaged: made again */
			(void)unlink(path);
		} else if (errno != ENOENT) {
			store_seterr(error_r, "read %s: %s", path,
			    strerror(errno));
			break;
		}
		random_bytes(rnd, sizeof(rnd));
		out[0] = 'F';
		for (size_t i = 0; i < 8; i++)
			snprintf(out + 1 + i * 2, 3, "%02x", rnd[i]);
		/* a folder made by another tool may lack its tmp/ */
		(void)store_maildir_make(dir);
		tmp = xasprintf("%s/tmp/%s.%s", dir, MAILBOXID_FILE, out);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write_full(fd, out, 17) < 0 ||
		    write_full(fd, "\n", 1) < 0 || fsync(fd) < 0) {
			store_seterr(error_r, "write %s: %s", tmp,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			(void)unlink(tmp);
			free(tmp);
			break;
		}
		close(fd);
		int r = link(tmp, path);
		int e = errno;
		(void)unlink(tmp);
		free(tmp);
		if (r == 0) {
			ret = 0;
			break;
		}
		if (e != EEXIST) {
			store_seterr(error_r, "link %s: %s", path, strerror(e));
			break;
		}
		/* made by another process meanwhile: read theirs */
	}
	free(path);
	return ret;
}

/* ------------------------------------------------------------ email meta */

struct hdr_scan {
	char *msgid, *refs, *irt, *from, *subject;
};

static void
hdr_cb(void *ctx, const struct msghdr_field *f)
{
	struct hdr_scan *h = ctx;
	char **slot = NULL;

	if (strcasecmp(f->name, "Message-ID") == 0)
		slot = &h->msgid;
	else if (strcasecmp(f->name, "References") == 0)
		slot = &h->refs;
	else if (strcasecmp(f->name, "In-Reply-To") == 0)
		slot = &h->irt;
	else if (strcasecmp(f->name, "From") == 0)
		slot = &h->from;
	else if (strcasecmp(f->name, "Subject") == 0)
		slot = &h->subject;
	if (slot != NULL && *slot == NULL)
		*slot = xstrdup(f->value);
}

/* first_msgid - the first "<...>" of a field value (without the
 * brackets), else its first word; NULL when empty */
static char *
first_msgid(const char *v)
{
	const char *a, *b;

	if (v == NULL)
		return NULL;
	a = strchr(v, '<');
	if (a != NULL && (b = strchr(a + 1, '>')) != NULL && b > a + 1)
		return xstrndup(a + 1, (size_t)(b - a - 1));
	a = v + strspn(v, " \t\r\n");
	b = a + strcspn(a, " \t\r\n");
	return b > a ? xstrndup(a, (size_t)(b - a)) : NULL;
}

/* sort_key - RFC 2047 words decoded, ASCII letters lowered, runs of
 * blanks one space, trimmed, cut at SORT_KEY_MAX bytes (on a UTF-8
 * character boundary) */
static char *
sort_key(const char *v, size_t len)
{
	struct buf d, o;
	bool space = false;

	buf_init(&d, 0);
	buf_init(&o, 0);
	mime_decode_words(v, len, &d);
	for (size_t i = 0; i < d.len; i++) {
		unsigned char c = (unsigned char)d.data[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o.len > 0;
			continue;
		}
		/* at the limit: only the rest of a character started below
		 * it (at most 3 continuation bytes: invalid UTF-8 may bring
		 * any number of them, found by fuzz-store-ids) */
		if (o.len >= SORT_KEY_MAX && ((c & 0xc0) != 0x80 ||
		    o.len >= SORT_KEY_MAX + 3))
			break;
		if (space)
			buf_putc(&o, ' ');
		space = false;
		buf_putc(&o, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
	}
	buf_free(&d);
	char *r = xstrdup(o.data != NULL ? o.data : "");
	buf_free(&o);
	return r;
}

/* from_key - the sort key of From (RFC 8621 4.4.2): the first address's
 * display name, else its address */
static char *
from_key(const char *v)
{
	const char *lt, *gt, *s, *e;

	if (v == NULL)
		return xstrdup("");
	lt = strchr(v, '<');
	if (lt != NULL) {
		s = v;
		e = lt;
		while (s < e && (*s == ' ' || *s == '\t' || *s == '"'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '"'))
			e--;
		if (e > s)
			return sort_key(s, (size_t)(e - s));
		gt = strchr(lt, '>');
		s = lt + 1;
		e = gt != NULL ? gt : s + strlen(s);
		return sort_key(s, (size_t)(e - s));
	}
	/* addr-spec, perhaps with a (comment): the address */
	s = v + strspn(v, " \t");
	e = s + strcspn(s, " \t(,");
	return sort_key(s, (size_t)(e - s));
}

/* strip_prefix - s past one "re:", "fw:", "fwd:" (with an optional
 * "[...]" before the colon) or "[...]" blob, else NULL */
static const char *
strip_prefix(const char *s)
{
	static const char *const pfx[] = { "re", "fwd", "fw" };

	if (*s == '[') {
		const char *e = strchr(s, ']');
		return e != NULL && e[1] != '\0' ? e + 1 : NULL;
	}
	for (size_t i = 0; i < sizeof(pfx) / sizeof(*pfx); i++) {
		size_t l = strlen(pfx[i]);
		if (strncmp(s, pfx[i], l) != 0)
			continue;
		const char *p = s + l;
		while (*p == ' ')
			p++;
		if (*p == '[') {
			const char *e = strchr(p, ']');
			if (e == NULL)
				continue;
			p = e + 1;
			while (*p == ' ')
				p++;
		}
		if (*p == ':')
			return p + 1;
	}
	return NULL;
}

/* subject_key - the sort key of Subject: the base subject, as RFC 5256
 * 2.1 has it for the common cases (leading Re:/Fw:/Fwd: and [blob]s,
 * trailing "(fwd)").
 * XXX lib-imap's imap_base_subject is the complete algorithm (it sits on
 * the same layer as lib-store, so it is not used here); this one does
 * not unwrap "[fwd: ...]". */
static char *
subject_key(const char *v)
{
	char *k, *r;
	const char *p, *n;
	size_t l;

	if (v == NULL)
		return xstrdup("");
	k = sort_key(v, strlen(v));
	p = k;
	for (;;) {
		while (*p == ' ')
			p++;
		n = strip_prefix(p);
		if (n == NULL)
			break;
		p = n;
	}
	l = strlen(p);
	for (;;) {
		while (l > 0 && p[l - 1] == ' ')
			l--;
		if (l >= 5 && strncmp(p + l - 5, "(fwd)", 5) == 0)
			l -= 5;
		else
			break;
	}
	r = xstrndup(p, l);
	free(k);
	return r;
}

/* ------------------------------------------------- header text (filters) */

/* The header text the query index keeps for JMAP's from/to/subject
 * filters must give the answers of httpd's reading of the file
 * (jmap-email.c field_contains), so both read it with lib-mime's
 * hfield.h: a value loses its CR and LF bytes and its outer blanks, and
 * its RFC 2047 words are decoded. tests/integration/test_jmap.py
 * (test_query_text_filter_index_*) compares the two. */

/* htext_add - one field's value v[0..n) onto out: NUL after an earlier
 * field, then the text with ASCII letters lowered */
static void
htext_add(struct buf *out, const char *v, size_t n)
{
	struct buf t;

	buf_init(&t, 0);
	hfield_text(v, n, &t);
	if (out->data != NULL)
		buf_putc(out, '\0');
	else
		buf_puts(out, "");      /* there: data not NULL */
	for (size_t i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.data[i];
		buf_putc(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
	}
	buf_free(&t);
}

/* htext_scan - the header text of data[0..len) into m; complete: len is
 * the whole file (else a header with no blank line in it is cut) */
static void
htext_scan(const char *d, size_t len, bool complete, struct email_meta *m)
{
	size_t end, p = 0;
	struct hfield f;

	buf_init(&m->hfrom, 0);
	buf_init(&m->hto, 0);
	buf_init(&m->hsubject, 0);
	m->htext = hfield_block_end(d, len, &end) || complete ? 1 : 2;
	while (hfield_next(d, &p, end, &f)) {
		struct buf *out = f.nlen == 4 && strncasecmp(f.name, "From", 4)
		    == 0 ? &m->hfrom : f.nlen == 2 && strncasecmp(f.name,
		    "To", 2) == 0 ? &m->hto : f.nlen == 7 &&
		    strncasecmp(f.name, "Subject", 7) == 0 ? &m->hsubject :
		    NULL;
		if (out != NULL)
			htext_add(out, f.value, f.vlen);
	}
}

/* email_meta_parse - see store-private.h */
void
email_meta_parse(const void *data, size_t len, const char *base,
		 struct email_meta *m)
{
	struct hdr_scan h = { 0 };
	struct msghdr_parser p;
	size_t used;
	const char *e;

	memset(m, 0, sizeof(*m));
	id_hex('M', base, strlen(base), m->emailid);
	msghdr_parser_init(&p, EMAIL_HEADER_READ, hdr_cb, &h);
	if (msghdr_parser_feed(&p, data, len, &used, &e) == 0)
		(void)msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
	char *root = first_msgid(h.refs);
	if (root == NULL)
		root = first_msgid(h.irt);
	if (root == NULL)
		root = first_msgid(h.msgid);
	if (root != NULL)
		id_hex('T', root, strlen(root), m->threadid);
	else {
		/* a thread of its own */
		memcpy(m->threadid, m->emailid, sizeof(m->threadid));
		m->threadid[0] = 'T';
	}
	m->sfrom = from_key(h.from);
	m->ssubject = subject_key(h.subject);
	htext_scan(data, len, len < EMAIL_HEADER_READ, m);
	free(root);
	free(h.msgid);
	free(h.refs);
	free(h.irt);
	free(h.from);
	free(h.subject);
}

/* email_meta_read - see store-private.h: the header is in the first
 * EMAIL_HEADER_READ bytes (a longer one is cut there) */
void
email_meta_read(const char *path, const char *base, struct email_meta *m)
{
	char *b = xmalloc(EMAIL_HEADER_READ);
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && len < EMAIL_HEADER_READ) {
		ssize_t n = read(fd, b + len, EMAIL_HEADER_READ - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		/* the header ends in what was read: enough */
		if (memmem(b, len, "\r\n\r\n", 4) != NULL ||
		    memmem(b, len, "\n\n", 2) != NULL)
			break;
	}
	if (fd >= 0)
		close(fd);
	email_meta_parse(b, len, base, m);
	free(b);
}

void
email_meta_clear(struct email_meta *m)
{
	free(m->sfrom);
	free(m->ssubject);
	m->sfrom = m->ssubject = NULL;
	buf_free(&m->hfrom);
	buf_free(&m->hto);
	buf_free(&m->hsubject);
}

/* email_bind_htext - m's header text into s at i.. (hfrom, hto,
 * hsubject, htext) */
void
email_bind_htext(sqlite3_stmt *s, int i, const struct email_meta *m)
{
	const struct buf *b[] = { &m->hfrom, &m->hto, &m->hsubject };

	for (int k = 0; k < 3; k++)
		if (b[k]->data != NULL)
			sqlite3_bind_blob(s, i + k, b[k]->data, (int)b[k]->len,
			    SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, i + k);
	sqlite3_bind_int(s, i + 3, m->htext);
}

/* email_backfill - the ids of rows made before the index had them (an
 * upgraded index), and of folders without one; INBOX's row; the state
 * epoch. Cheap when there is nothing to do (indexed lookups). 1 when the
 * index is new (no epoch yet: made or rebuilt now, or upgraded), 0, -1. */
int
email_backfill(struct store *st, const char **error_r)
{
	sqlite3_stmt *s, *u;
	bool need, fresh;
	char epoch[20];
	uint32_t rnd;

	s = index_prep(st, "SELECT (SELECT count(*) FROM meta WHERE "
	    "key='epoch'), EXISTS(SELECT 1 FROM folder WHERE mailboxid='')"
	    " OR EXISTS(SELECT 1 FROM msg WHERE emailid='')"
	    " OR EXISTS(SELECT 1 FROM msg INDEXED BY msg_htext WHERE htext!=1"
	    " AND htext=0) OR NOT"
	    " EXISTS(SELECT 1 FROM folder WHERE name='INBOX')", error_r);
	if (s == NULL)
		return -1;
	need = sqlite3_step(s) == SQLITE_ROW && (sqlite3_column_int(s, 0) == 0 ||
	    sqlite3_column_int(s, 1) != 0);
	fresh = sqlite3_column_int(s, 0) == 0;
	index_done(st, s);
	if (!need)
		return 0;
	if (index_begin(st, error_r) < 0)
		return -1;
	/* INBOX has a row (a mailbox id) from the start, as the defaults */
	if (folder_row(st, "INBOX", error_r) < 0)
		goto fail;
	random_bytes(&rnd, sizeof(rnd));
	snprintf(epoch, sizeof(epoch), "%08x", rnd);
	s = index_prep(st, "INSERT OR IGNORE INTO meta VALUES('epoch', ?)",
	    error_r);
	if (s == NULL)
		goto fail;
	sqlite3_bind_text(s, 1, epoch, -1, SQLITE_STATIC);
	sqlite3_step(s);
	index_done(st, s);
	/* folders */
	s = index_prep(st, "SELECT id, name FROM folder WHERE mailboxid=''",
	    error_r);
	u = index_prep(st, "UPDATE folder SET mailboxid=? WHERE id=?", error_r);
	if (s == NULL || u == NULL) {
		index_done(st, s);
		index_done(st, u);
		goto fail;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		char id[STORE_ID_MAX] = "";
		char *dir = folder_dir(st, (const char *)sqlite3_column_text(s,
		    1));
		if (email_mailboxid(dir, id, NULL) < 0) {
			/* a folder gone from disk: its row goes at its
			 * next listing; an id that is never stored */
			random_bytes(&rnd, sizeof(rnd));
			snprintf(id, sizeof(id), "F%08x%08x", rnd, rnd ^ 0x5a5a5a5au);
		}
		free(dir);
		sqlite3_reset(u);
		sqlite3_bind_text(u, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, 0));
		sqlite3_step(u);
	}
	index_done(st, s);
	index_done(st, u);
	/* messages */
	s = index_prep(st, "SELECT m.folder, m.uid, m.base, m.file, f.name "
	    "FROM msg m JOIN folder f ON f.id=m.folder WHERE m.emailid=''",
	    error_r);
	u = index_prep(st, "UPDATE msg SET emailid=?, threadid=?, sfrom=?,"
	    " ssubject=? WHERE folder=? AND uid=?", error_r);
	if (s == NULL || u == NULL) {
		index_done(st, s);
		index_done(st, u);
		goto fail;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct email_meta m;
		char *dir = folder_dir(st, (const char *)sqlite3_column_text(s,
		    4));
		char *path = xasprintf("%s/cur/%s", dir,
		    (const char *)sqlite3_column_text(s, 3));
		email_meta_read(path, (const char *)sqlite3_column_text(s, 2),
		    &m);
		free(path);
		free(dir);
		sqlite3_reset(u);
		sqlite3_bind_text(u, 1, m.emailid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(u, 2, m.threadid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(u, 3, m.sfrom, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(u, 4, m.ssubject, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 5, sqlite3_column_int64(s, 0));
		sqlite3_bind_int64(u, 6, sqlite3_column_int64(s, 1));
		sqlite3_step(u);
		email_meta_clear(&m);
	}
	index_done(st, s);
	index_done(st, u);
	/* the header text of rows made before the index had it (version
	 * 7): every file's header read once, in this transaction */
	s = index_prep(st, "SELECT m.folder, m.uid, m.base, m.file, f.name "
	    "FROM msg m INDEXED BY msg_htext JOIN folder f ON f.id=m.folder"
	    " WHERE m.htext!=1 AND m.htext=0", error_r);
	u = index_prep(st, "UPDATE msg SET hfrom=?, hto=?, hsubject=?,"
	    " htext=? WHERE folder=? AND uid=?", error_r);
	if (s == NULL || u == NULL) {
		index_done(st, s);
		index_done(st, u);
		goto fail;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct email_meta m;
		char *dir = folder_dir(st, (const char *)sqlite3_column_text(s,
		    4));
		char *path = xasprintf("%s/cur/%s", dir,
		    (const char *)sqlite3_column_text(s, 3));
		email_meta_read(path, (const char *)sqlite3_column_text(s, 2),
		    &m);
		free(path);
		free(dir);
		sqlite3_reset(u);
		email_bind_htext(u, 1, &m);
		sqlite3_bind_int64(u, 5, sqlite3_column_int64(s, 0));
		sqlite3_bind_int64(u, 6, sqlite3_column_int64(s, 1));
		sqlite3_step(u);
		email_meta_clear(&m);
	}
	index_done(st, s);
	index_done(st, u);
	if (index_commit(st, error_r) < 0)
		return -1;
	return fresh ? 1 : 0;
fail:
	index_rollback(st);
	return -1;
}

/* ------------------------------------------------------------ lookups */

/* store_msg_ids - see store.h */
int
store_msg_ids(struct store_folder *f, uint32_t uid,
	      char emailid[STORE_ID_MAX], char threadid[STORE_ID_MAX],
	      const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, "SELECT emailid, threadid FROM msg"
	    " WHERE folder=? AND uid=?", error_r);
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, uid);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		snprintf(emailid, STORE_ID_MAX, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(threadid, STORE_ID_MAX, "%s",
		    (const char *)sqlite3_column_text(s, 1));
	}
	index_done(f->st, s);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return index_err(f->st, error_r, "read ids");
}

/* store_folder_mailboxid - see store.h */
const char *
store_folder_mailboxid(const struct store_folder *f)
{
	return f->mailboxid;
}

/* store_mailbox_find - see store.h */
int
store_mailbox_find(struct store *st, const char *mailboxid, char **name_r,
		   const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, "SELECT name FROM folder WHERE "
	    "mailboxid=?", error_r);
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, mailboxid, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*name_r = xstrdup((const char *)sqlite3_column_text(s, 0));
	index_done(st, s);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return index_err(st, error_r, "find mailbox");
}

/* store_email_get - see store.h */
int
store_email_get(struct store *st, const char *emailid, struct store_email *e,
		const char **error_r)
{
	sqlite3_stmt *s = index_prep(st, "SELECT f.mailboxid, f.name, m.uid,"
	    " m.flags, m.keywords, m.vsize, m.idate, m.threadid, m.file,"
	    " m.modseq FROM msg m JOIN folder f ON f.id=m.folder"
	    " WHERE m.emailid=? ORDER BY m.folder, m.uid", error_r);
	int r;

	memset(e, 0, sizeof(*e));
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, emailid, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_email_place *p;
		e->places = xreallocarray(e->places, e->nplaces + 1,
		    sizeof(*e->places));
		p = &e->places[e->nplaces++];
		memset(p, 0, sizeof(*p));
		snprintf(p->mailboxid, sizeof(p->mailboxid), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		p->folder = xstrdup((const char *)sqlite3_column_text(s, 1));
		p->uid = (uint32_t)sqlite3_column_int64(s, 2);
		p->flags = (unsigned int)sqlite3_column_int(s, 3);
		p->keywords = xstrdup((const char *)sqlite3_column_text(s, 4));
		p->modseq = (uint64_t)sqlite3_column_int64(s, 9);
		if (e->nplaces == 1) {
			char *dir = folder_dir(st, p->folder);
			snprintf(e->emailid, sizeof(e->emailid), "%s", emailid);
			e->size = (uint64_t)sqlite3_column_int64(s, 5);
			e->received = (time_t)sqlite3_column_int64(s, 6);
			snprintf(e->threadid, sizeof(e->threadid), "%s",
			    (const char *)sqlite3_column_text(s, 7));
			e->path = xasprintf("%s/cur/%s", dir,
			    (const char *)sqlite3_column_text(s, 8));
			free(dir);
		}
	}
	index_done(st, s);
	if (r != SQLITE_DONE) {
		store_email_clear(e);
		return index_err(st, error_r, "read email");
	}
	return e->nplaces > 0 ? 1 : 0;
}

void
store_email_clear(struct store_email *e)
{
	for (size_t i = 0; i < e->nplaces; i++) {
		free(e->places[i].folder);
		free(e->places[i].keywords);
	}
	free(e->places);
	free(e->path);
	memset(e, 0, sizeof(*e));
}

/* store_thread_get - see store.h */
int
store_thread_get(struct store *st, const char *threadid, char ***emailids_r,
		 size_t *n_r, const char **error_r)
{
	/* oldest first; emails of the same second in the order they came
	 * (their UIDs; the random email ids put a reply before its
	 * original) */
	sqlite3_stmt *s = index_prep(st, "SELECT emailid FROM msg WHERE "
	    "threadid=? GROUP BY emailid ORDER BY min(idate), min(uid), emailid",
	    error_r);
	char **v = NULL;
	size_t n = 0;
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, threadid, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	index_done(st, s);
	if (r != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return index_err(st, error_r, "read thread");
	}
	*emailids_r = v;
	*n_r = n;
	return 0;
}

/* store_uids_by_id - see store.h */
int
store_uids_by_id(struct store_folder *f, bool thread, const char *id,
		 uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, thread ?
	    "SELECT uid FROM msg WHERE threadid=?1 AND folder=?2 ORDER BY uid" :
	    "SELECT uid FROM msg WHERE emailid=?1 AND folder=?2 ORDER BY uid",
	    error_r);
	uint32_t *v = NULL;
	size_t n = 0;
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, f->id);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	index_done(f->st, s);
	if (r != SQLITE_DONE) {
		free(v);
		return index_err(f->st, error_r, "find by id");
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

/* store_folder_thread_counts - see store.h */
int
store_folder_thread_counts(struct store_folder *f, uint32_t *threads_r,
			   uint32_t *unread_r, const char **error_r)
{
	sqlite3_stmt *s = index_prep(f->st, "SELECT count(DISTINCT threadid),"
	    " count(DISTINCT CASE WHEN (flags & 17)=0 THEN threadid END)"
	    " FROM msg WHERE folder=?", error_r);
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, f->id);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*threads_r = (uint32_t)sqlite3_column_int64(s, 0);
		*unread_r = (uint32_t)sqlite3_column_int64(s, 1);
	}
	index_done(f->st, s);
	return r == SQLITE_ROW ? 0 : index_err(f->st, error_r, "count threads");
}
