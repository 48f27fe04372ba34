/* cmd-fetch - FETCH (RFC 3501 6.4.5, RFC 3516 BINARY, RFC 7162
 * CHANGEDSINCE/VANISHED), sent while the client reads it */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "content.h"
#include "fetch.h"
#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "strutil.h"
#include "view.h"
#include "xalloc.h"

/* ---- FETCH --------------------------------------------------------- */

/* put_literal - a string as a literal (literal8 for 8-bit BINARY) */
static void
put_literal(struct buf *out, const char *p, size_t len, bool binary)
{
	/* BINARY: literal8 for anything not 7-bit clean, as Dovecot; and a
	 * plain literal never carries NUL (RFC 3501 4.3, RFC 3516 4.2):
	 * a BODY[] section with one goes as literal8 too */
	bool nul = false;
	for (size_t i = 0; i < len && !nul; i++)
		nul = p[i] == '\0' || (binary && (unsigned char)p[i] >= 0x80);

	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, p, len);
}

/* fetch_section - see fetch.h */
int
fetch_section(struct content *c, const struct imap_fetch_item *it, struct buf *tmp,
	const char **p_r, size_t *len_r)
{
	const char *d = c->data.data ? c->data.data : "";
	struct mime_message *mm;

	*p_r = "";
	*len_r = 0;
	if (it->npath == 0 && it->spec == IMAP_SECTION_ALL) {
		*p_r = d;
		*len_r = c->data.len;
		return 0;
	}
	mm = content_mime(c);
	const struct mime_part *part = it->npath ?
	    mime_part_find(mm, it->path, it->npath) : &mm->root;
	if (part == NULL)
		return 0;
	const struct mime_part *target = part;
	if (it->npath > 0 && it->spec != IMAP_SECTION_ALL &&
	    it->spec != IMAP_SECTION_MIME) {
		target = mime_part_inner(part);
		if (target == NULL)
			return 0;
	}
	switch (it->spec) {
	case IMAP_SECTION_ALL:
		if (it->type == IMAP_FETCH_BINARY || it->type == IMAP_FETCH_BINARY_SIZE) {
			if (part->multipart || part->rfc822) {
				*p_r = d + part->body_start;
				*len_r = part->body_len;
				return 0;
			}
			if (mime_decode_body(d, part, tmp) < 0)
				return -1;
			*p_r = tmp->data ? tmp->data : "";
			*len_r = tmp->len;
			return 0;
		}
		*p_r = d + part->body_start;
		*len_r = part->body_len;
		return 0;
	case IMAP_SECTION_HEADER:
		*p_r = d + target->hdr_start;
		*len_r = target->hdr_len;
		return 0;
	case IMAP_SECTION_TEXT:
		*p_r = d + target->body_start;
		*len_r = target->body_len;
		return 0;
	case IMAP_SECTION_MIME:
		*p_r = d + part->hdr_start;
		*len_r = part->hdr_len;
		return 0;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		mime_header_fields(d, target->hdr_start, target->hdr_len,
		    (const char *const *)it->fields,
		    it->spec == IMAP_SECTION_HEADER_FIELDS_NOT, tmp);
		*p_r = tmp->data ? tmp->data : "";
		*len_r = tmp->len;
		return 0;
	}
	return 0;
}

/* fetch_one - the FETCH response of one message; -1 if it vanished,
 * -2 for an unknown transfer encoding (BINARY) */
static int
fetch_one(struct session *s, size_t idx, const struct imap_fetch *f, bool uid,
	  bool add_flags, bool add_modseq, struct buf *out)
{
	const struct view_msg *v = &s->msgs[idx];
	struct content c;
	struct buf tmp;
	bool first = true;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	buf_init(&tmp, 0);
	/* ENVELOPE and header fields need the header block only */
	bool hdr_only = true;
	for (size_t i = 0; i < f->n && hdr_only; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		if (it->type == IMAP_FETCH_BODYSTRUCTURE || it->type == IMAP_FETCH_BODY ||
		    it->type == IMAP_FETCH_BINARY || it->type == IMAP_FETCH_BINARY_SIZE)
			hdr_only = false;
		else if (it->type == IMAP_FETCH_SECTION && (it->npath > 0 ||
		    (it->spec != IMAP_SECTION_HEADER &&
		    it->spec != IMAP_SECTION_HEADER_FIELDS &&
		    it->spec != IMAP_SECTION_HEADER_FIELDS_NOT)))
			hdr_only = false;
	}
	if (f->wants_body && content_load_part(s, v, &c, hdr_only) < 0) {
		content_free(&c);
		buf_free(&tmp);
		return -1;
	}
	/* a keyword new to this session: * FLAGS goes first (it is
	 * written at once, before what out holds) */
	view_keywords_check(s, v->kw);
	buf_printf(out, "* %zu FETCH (", idx + 1);
#define SEP() do { if (!first) buf_putc(out, ' '); first = false; } while (0)
	bool have_uid = false, have_flags = false, have_modseq = false;
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i].type == IMAP_FETCH_UID)
			have_uid = true;
		if (f->items[i].type == IMAP_FETCH_FLAGS)
			have_flags = true;
		if (f->items[i].type == IMAP_FETCH_MODSEQ)
			have_modseq = true;
	}
	if (uid && !have_uid) {
		SEP();
		buf_printf(out, "UID %u", v->uid);
	}
	if (add_flags && !have_flags) {
		SEP();
		buf_puts(out, "FLAGS ");
		flags_format(out, v->flags, v->kw, session_recent(s, v->uid));
	}
	if (add_modseq && !have_modseq) {
		SEP();
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)v->modseq);
	}
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		const struct imap_fetch_item *it = &f->items[i];
		const char *d = c.data.data ? c.data.data : "";
		SEP();
		switch (it->type) {
		case IMAP_FETCH_FLAGS:
			buf_puts(out, "FLAGS ");
			flags_format(out, v->flags, v->kw,
			    session_recent(s, v->uid));
			break;
		case IMAP_FETCH_UID:
			buf_printf(out, "UID %u", v->uid);
			break;
		case IMAP_FETCH_MODSEQ:
			buf_printf(out, "MODSEQ (%llu)", (unsigned long long)v->modseq);
			break;
		case IMAP_FETCH_EMAILID:
		case IMAP_FETCH_THREADID: {
			/* RFC 8474 5.1: ids from lib-store */
			char eid[STORE_ID_MAX], tid[STORE_ID_MAX];
			const char *ierr;
			if (store_msg_ids(s->folder, v->uid, eid, tid, &ierr) == 1)
				buf_printf(out, "%s (%s)", it->type ==
				    IMAP_FETCH_EMAILID ? "EMAILID" : "THREADID",
				    it->type == IMAP_FETCH_EMAILID ? eid : tid);
			else
				buf_puts(out, it->type == IMAP_FETCH_EMAILID ?
				    "EMAILID NIL" : "THREADID NIL");
			break;
		}
		case IMAP_FETCH_INTERNALDATE:
			buf_puts(out, "INTERNALDATE ");
			imap_datetime_format(out, v->idate, 0);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)v->size);
			break;
		case IMAP_FETCH_ENVELOPE: {
			struct mime_message *mm = content_mime(&c);
			buf_puts(out, "ENVELOPE ");
			mime_envelope(d, mm->root.hdr_start, mm->root.hdr_len, out);
			break;
		}
		case IMAP_FETCH_BODYSTRUCTURE:
		case IMAP_FETCH_BODY:
			buf_puts(out, it->type == IMAP_FETCH_BODY ? "BODY " :
			    "BODYSTRUCTURE ");
			mime_bodystructure(d, &content_mime(&c)->root,
			    it->type == IMAP_FETCH_BODYSTRUCTURE, out);
			break;
		case IMAP_FETCH_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE: {
			const char *p;
			size_t len;
			buf_reset(&tmp);
			if (fetch_section(&c, it, &tmp, &p, &len) < 0) {
				rc = -2;
				break;
			}
			if (it->type == IMAP_FETCH_BINARY_SIZE) {
				buf_printf(out, "%s %zu", it->name, len);
				break;
			}
			if (it->partial) {
				if (it->offset >= len) {
					p = "";
					len = 0;
				} else {
					p += it->offset;
					len -= it->offset;
					if (len > it->length)
						len = it->length;
				}
			}
			buf_printf(out, "%s ", it->name);
			put_literal(out, p, len, it->type == IMAP_FETCH_BINARY);
			break;
		}
		}
	}
#undef SEP
	buf_puts(out, ")\r\n");
	content_free(&c);
	buf_free(&tmp);
	return rc;
}

/* fetch_message - see fetch.h */
int
fetch_message(struct session *s, size_t idx, const struct imap_fetch *f,
	      struct buf *out)
{
	return fetch_one(s, idx, f, false, false, false, out) < 0 ? -1 : 0;
}

void
cmd_fetch(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool uid)
{
	struct imap_fetch f;
	const char *err;
	size_t *idx, nidx;
	uint64_t changedsince = 0;
	bool use_changedsince = false, want_vanished = false;

	if (n < 2 || n > 3) {
		session_tagged(s, tag, "BAD", "Syntax: FETCH set items");
		return;
	}
	if (imap_fetch_parse(&a[1], &f, &err) < 0) {
		session_tagged(s, tag, "BAD", "%s", err);
		return;
	}
	if (n == 3) {
		const struct imap_arg *m = &a[2];
		if (m->type != IMAP_ARG_LIST || m->count < 2 || m->count > 3 ||
		    !imap_arg_is_atom(&m->list[0], "CHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM ||
		    (m->count == 3 && (!imap_arg_is_atom(&m->list[2], "VANISHED") ||
		    !uid || !s->qresync))) {
			imap_fetch_free(&f);
			session_tagged(s, tag, "BAD", "Unknown FETCH modifier");
			return;
		}
		char *end;
		changedsince = strtoull(m->list[1].str, &end, 10);
		if (*end != '\0') {
			imap_fetch_free(&f);
			session_tagged(s, tag, "BAD", "Invalid CHANGEDSINCE");
			return;
		}
		use_changedsince = true;
		view_condstore(s);
		want_vanished = m->count == 3;
	}
	for (size_t i = 0; i < f.n; i++)
		if (f.items[i].type == IMAP_FETCH_MODSEQ)
			view_condstore(s);
	view_sync(s, uid, NULL, 0);
	if (view_resolve(s, tag, &a[0], uid, &idx, &nidx) < 0) {
		imap_fetch_free(&f);
		return;
	}
	if (want_vanished)
		vanished_earlier(s, a[0].str, changedsince);
	struct fetch_job *j = xcalloc(1, sizeof(*j));
	j->tag = xstrdup(tag);
	j->f = f;
	j->idx = idx;
	j->n = nidx;
	j->seen_now = xcalloc(nidx + 1, sizeof(bool));
	j->uid = uid;
	j->use_changedsince = use_changedsince;
	j->changedsince = changedsince;
	/* a non-peek body fetch sets \Seen first, and reports FLAGS: the
	 * write goes the way of STORE's (writer.c), then the job is sent */
	if (f.sets_seen && !s->readonly) {
		uint32_t *uids = xcalloc(nidx + 1, sizeof(*uids));
		size_t nu = 0;
		for (size_t i = 0; i < nidx; i++)
			if (!(s->msgs[idx[i]].flags & STORE_SEEN) && !s->msgs[idx[i]].gone)
				uids[nu++] = s->msgs[idx[i]].uid;
		if (nu > 0) {
			writer_seen(s, j, uids, nu);
			free(uids);
			return;
		}
		free(uids);
	}
	s->job = j;
	fetch_continue(s);
}

/* fetch_seen_done - see imapd.h */
void
fetch_seen_done(struct session *s, struct fetch_job *j, int rc,
		const char *err)
{
	if (rc < 0) {
		log_warnx("%s: FETCH: setting \\Seen: %s", s->sid,
		    err != NULL ? err : "?");
	} else {
		for (size_t i = 0; i < j->n; i++) {
			struct view_msg *v = &s->msgs[j->idx[i]];
			if (!(v->flags & STORE_SEEN) && !v->gone) {
				v->flags |= STORE_SEEN;
				j->seen_now[i] = true;
			}
		}
	}
	s->job = j;
	(void)fetch_continue(s);  /* or on_drained goes on with it */
}

/* fetch_job_free - see imapd.h */
void
fetch_job_free(struct fetch_job **jp)
{
	struct fetch_job *j = *jp;

	if (j == NULL)
		return;
	imap_fetch_free(&j->f);
	free(j->idx);
	free(j->seen_now);
	free(j->tag);
	free(j);
	*jp = NULL;
}

/* fetch_continue - see imapd.h */
bool
fetch_continue(struct session *s)
{
	struct fetch_job *j = s->job;
	struct buf out;

	if (j == NULL)
		return true;
	buf_init(&out, 0);
	while (j->pos < j->n) {
		if (s->bev == NULL || evbuffer_get_length(bufferevent_get_output(
		    s->bev)) > FETCH_OUTPUT_HIGH) {
			buf_free(&out);
			return false; /* on_write calls again once it drained */
		}
		size_t i = j->pos++;
		const struct view_msg *v = &s->msgs[j->idx[i]];
		if (j->use_changedsince && v->modseq <= j->changedsince)
			continue;
		/* a message expunged meanwhile (v->gone, not reported
		 * yet) is still this session's: fetched if its file can
		 * be read (store_msg_open_expunged), RFC 2180 4.1.1 */
		buf_reset(&out);
		int r = fetch_one(s, j->idx[i], &j->f, j->uid, j->seen_now[i],
		    j->use_changedsince, &out);
		if (r == -1) {
			j->vanished = true;
			continue;
		}
		if (r == -2) {
			j->unknown_cte = true;
			break;
		}
		session_write(s, out.data, out.len);
		if (out.cap > 1 << 20)
			buf_free(&out);
	}
	buf_free(&out);
	if (j->unknown_cte)
		session_tagged(s, j->tag, "NO", "[UNKNOWN-CTE] Unknown "
		    "Content-Transfer-Encoding");
	else if (j->vanished)
		session_tagged(s, j->tag, "NO", "[EXPUNGEISSUED] Some messages "
		    "were expunged meanwhile");
	else
		session_tagged(s, j->tag, "OK", "FETCH completed");
	fetch_job_free(&s->job);
	return true;
}
