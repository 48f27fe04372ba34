/* cmd-append - APPEND (MULTIAPPEND RFC 3502, CATENATE RFC 4469, UTF8
 * RFC 6855, literal8 RFC 3516); the writes themselves are writer.c's */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "append-convert.h"
#include "catenate.h"
#include "imap-spec.h"
#include "imapd.h"
#include "log.h"
#include "mime.h"
#include "xalloc.h"

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
