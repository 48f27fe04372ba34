/* content - message files of the selected folder read for FETCH and
 * SEARCH, and the process's header cache */
#include <errno.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "content.h"
#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "strutil.h"
#include "xalloc.h"

/* ---- message content ----------------------------------------------- */

void
content_free(struct content *c)
{
	if (c->parsed)
		mime_free(&c->mime);
	buf_free(&c->data);
	buf_free(&c->text);
	memset(c, 0, sizeof(*c));
}

/* ---- header cache ---------------------------------------------------
 * SEARCH FROM/SUBJECT/HEADER, SENT* and FETCH of ENVELOPE or header
 * fields need only the header block. The process keeps the last ones
 * read, direct-mapped by (mailbox, folder, UIDVALIDITY, UID) and bounded
 * in bytes, so that a search over a folder reads its files once. */

#define HCACHE_SLOTS 65536
#define HCACHE_BYTES (32u << 20)
#define HCACHE_MAX_HEADER (64u << 10)

struct hcache_entry {
	int64_t mbox;
	uint32_t uidvalidity, uid;
	char *folder;
	char *hdr;
	size_t len;
};

static struct hcache_entry *hcache;
static size_t hcache_bytes;

static struct hcache_entry *
hcache_slot(struct session *s, uint32_t uid)
{
	const char *f = store_folder_name(s->folder);
	uint64_t h = 1469598103934665603ull;

	if (hcache == NULL)
		hcache = xcalloc(HCACHE_SLOTS, sizeof(*hcache));
	h = (h ^ (uint64_t)s->mailbox_id) * 1099511628211ull;
	h = (h ^ s->uidvalidity) * 1099511628211ull;
	h = (h ^ uid) * 1099511628211ull;
	for (; *f; f++)
		h = (h ^ (unsigned char)*f) * 1099511628211ull;
	return &hcache[h % HCACHE_SLOTS];
}

static bool
hcache_get(struct session *s, uint32_t uid, struct buf *out)
{
	struct hcache_entry *e = hcache_slot(s, uid);

	if (e->hdr == NULL || e->mbox != s->mailbox_id || e->uid != uid ||
	    e->uidvalidity != s->uidvalidity ||
	    strcmp(e->folder, store_folder_name(s->folder)) != 0)
		return false;
	buf_append(out, e->hdr, e->len);
	return true;
}

static void
hcache_put(struct session *s, uint32_t uid, const char *hdr, size_t len)
{
	struct hcache_entry *e = hcache_slot(s, uid);

	if (len > HCACHE_MAX_HEADER)
		return;
	if (e->hdr != NULL) {
		hcache_bytes -= e->len;
		free(e->hdr);
		free(e->folder);
		e->hdr = NULL;
	}
	if (hcache_bytes + len > HCACHE_BYTES)
		return;
	e->mbox = s->mailbox_id;
	e->uidvalidity = s->uidvalidity;
	e->uid = uid;
	e->folder = xstrdup(store_folder_name(s->folder));
	e->hdr = xmalloc(len + 1);
	memcpy(e->hdr, hdr, len);
	e->len = len;
	hcache_bytes += len;
}

/* header_end_at - the length of the header block in d[0..len) including
 * its blank line, or 0 when it is not complete */
size_t
content_header_end(const char *d, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (d[i] != '\n')
			continue;
		if (d[i + 1] == '\n')
			return i + 2;
		if (d[i + 1] == '\r' && i + 2 < len && d[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* read_fd - the file fd (from its offset) into c->data, bare LFs turned
 * into CRLF; header_only: up to the header's end, whose
 * length it returns (0: not found) */
static size_t
read_fd(int fd, struct content *c, bool header_only)
{
	char tmp[65536];
	char prev = 0;
	size_t hend = 0;
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* copy runs, inserting CR before bare LFs */
		size_t i = 0;
		while (i < (size_t)r) {
			const char *nl = memchr(tmp + i, '\n', (size_t)r - i);
			size_t run = nl ? (size_t)(nl - (tmp + i)) : (size_t)r - i;
			if (run > 0) {
				buf_append(&c->data, tmp + i, run);
				prev = tmp[i + run - 1];
				i += run;
			}
			if (nl != NULL) {
				if (prev != '\r')
					buf_putc(&c->data, '\r');
				buf_putc(&c->data, '\n');
				prev = '\n';
				i++;
			}
		}
		if (header_only && (hend = content_header_end(c->data.data,
		    c->data.len)) > 0)
			break;
		if (header_only && c->data.len > HCACHE_MAX_HEADER * 4)
			break;
	}
	return hend;
}

/* content_load_fd - see content.h */
void
content_load_fd(int fd, struct content *c)
{
	content_free(c);
	c->loaded = true;
	buf_init(&c->data, 0);
	(void)read_fd(fd, c, false);
}

/* content_load - read a message file (header_only: its header block),
 * bare LFs turned into CRLF (what RFC822.SIZE counts); -1 if it vanished */
int
content_load_part(struct session *s, const struct view_msg *v,
		  struct content *c, bool header_only)
{
	struct store_msg m;
	const char *err;

	if (c->loaded && !(c->header_only && !header_only))
		return c->failed ? -1 : 0;
	if (c->loaded) {
		/* had the header only: now the whole message */
		content_free(c);
	}
	c->loaded = true;
	buf_init(&c->data, 0);
	if (header_only && hcache_get(s, v->uid, &c->data)) {
		c->header_only = true;
		return 0;
	}
	int fd = -1;
	/* a writer thread's STOREs rename the file (its flags) and its
	 * EXPUNGE moves it to tmp/ before their transaction commits: the
	 * name read from the index can be gone for a moment, and a file
	 * renamed twice meanwhile can slip between the probes. A few
	 * rounds; a message really gone costs them once. */
	for (int round = 0; round < 4 && fd < 0; round++) {
		if (round > 0)
			sched_yield();
		memset(&m, 0, sizeof(m));
		if (store_msg_get(s->folder, v->uid, &m, &err) == 1) {
			fd = store_msg_open(s->folder, &m, &err);
			store_msg_clear(&m);
		}
		if (fd < 0) {
			/* expunged by another session (of any process) that
			 * this one was not told of yet: the file the store
			 * keeps a while (RFC 2180 4.1.1) */
			fd = store_msg_open_expunged(s->folder, s->uidvalidity,
			    v->uid);
		}
	}
	if (fd < 0) {
		c->failed = true;
		return -1;
	}
	if (!header_only)
		buf_reserve(&c->data, (size_t)v->size + 1);
	size_t hend = read_fd(fd, c, header_only);
	close(fd);
	if (header_only) {
		if (hend > 0)
			buf_truncate(&c->data, hend);
		c->header_only = true;
		hcache_put(s, v->uid, c->data.data ? c->data.data : "", c->data.len);
	}
	return 0;
}

int
content_load(struct session *s, const struct view_msg *v, struct content *c)
{
	return content_load_part(s, v, c, false);
}

struct mime_message *
content_mime(struct content *c)
{
	if (!c->parsed) {
		mime_parse(&c->mime, c->data.data ? c->data.data : "", c->data.len);
		c->parsed = true;
	}
	return &c->mime;
}

/* add_text - decoded text of the text parts, for BODY/TEXT search */
void
content_text(const char *d, const struct mime_part *p, struct buf *out, int depth)
{
	if (depth > MIME_MAX_DEPTH)
		return;
	if (p->multipart || p->rfc822) {
		for (size_t i = 0; i < p->nchildren; i++)
			content_text(d, &p->children[i], out, depth + 1);
		return;
	}
	if (strcasecmp(p->type, "text") == 0 || strcasecmp(p->type, "message") == 0) {
		mime_part_text(d, p, out);
		buf_putc(out, '\n');
	}
}

/* view_header - see content.h */
int
view_header(struct session *s, size_t idx, struct buf *out)
{
	struct content c;

	memset(&c, 0, sizeof(c));
	if (content_load_part(s, &s->msgs[idx], &c, true) < 0) {
		content_free(&c);
		return -1;
	}
	if (c.data.len > 0)
		buf_append(out, c.data.data, c.data.len);
	content_free(&c);
	return 0;
}
