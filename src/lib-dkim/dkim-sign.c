/* dkim-sign - the signer: which fields to sign, the DKIM-Signature field */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dkim.h"
#include "msghdr.h"
#include "xalloc.h"

#define FOLD_COL 78

/* The fields signed when present, in h= order. Every one present is
 * signed once per instance and once more ("over-signed": an empty
 * instance), so nobody can add one after signing without breaking the
 * signature (RFC 6376 8.15). Those marked always are listed even when
 * absent, for the same reason. List-Unsubscribe and -Post are covered as
 * RFC 8058 3 requires for one-click unsubscription. */
static const struct {
	const char *name;
	bool always;
} sign_fields[] = {
	{ "from", true }, { "reply-to", true }, { "subject", true },
	{ "date", true }, { "to", true }, { "cc", true },
	{ "message-id", true }, { "in-reply-to", true }, { "references", true },
	{ "mime-version", true }, { "content-type", true },
	{ "content-transfer-encoding", true }, { "sender", false },
	{ "list-id", true }, { "list-unsubscribe", true },
	{ "list-unsubscribe-post", true }, { "list-post", true },
	{ "list-help", false }, { "list-subscribe", false },
	{ "list-owner", false }, { "list-archive", false },
	{ "autocrypt", false }, { "openpgp", false },
};

/* dkim_signed_names - the h= list for a header with these field names */
void
dkim_signed_names(const char *const *names, size_t n, struct buf *out)
{
	size_t count = 0;

	for (size_t i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++) {
		size_t c = 0;
		for (size_t j = 0; j < n; j++)
			if (strcasecmp(names[j], sign_fields[i].name) == 0)
				c++;
		if (c == 0 && !sign_fields[i].always)
			continue;
		for (size_t k = 0; k < c + 1 && count < DKIM_HNAMES_MAX; k++, count++) {
			if (out->len > 0)
				buf_putc(out, ':');
			buf_puts(out, sign_fields[i].name);
		}
	}
}

/* -- the header block ------------------------------------------------ */

struct scan_ctx {
	struct dkim_hdr *h;
	bool overflow;
};

static void
scan_field(void *ctx, const struct msghdr_field *f)
{
	struct scan_ctx *c = ctx;
	struct dkim_hdr *h = c->h;

	if (h->nf >= DKIM_FIELDS_MAX) {
		c->overflow = true;
		return;
	}
	h->start[h->nf] = f->raw_start;
	h->end[h->nf] = f->raw_end;
	h->name_len[h->nf] = strlen(f->name);
	h->nf++;
}

/* dkim_hdr_scan - the fields of a header block in memory */
int
dkim_hdr_scan(const char *data, size_t len, struct dkim_hdr *h,
	      const char **error_r)
{
	struct msghdr_parser p;
	struct scan_ctx c = { h, false };
	size_t used = 0;
	int r;

	h->data = data;
	h->nf = 0;
	h->body = len;
	h->complete = false;
	msghdr_parser_init(&p, DKIM_HEADER_MAX, scan_field, &c);
	r = msghdr_parser_feed(&p, data, len, &used, error_r);
	if (r == 1) {
		h->body = used;
		h->complete = true;
	} else if (r == 0) {
		msghdr_parser_finish(&p);
	}
	msghdr_parser_deinit(&p);
	if (r < 0)
		return -1;
	if (c.overflow) {
		*error_r = "more than 1000 header fields";
		return -1;
	}
	return 0;
}

static bool
field_is(const struct dkim_hdr *h, size_t i, const char *name, size_t len)
{
	return h->name_len[i] == len &&
	    strncasecmp(h->data + h->start[i], name, len) == 0;
}

/* dkim_hash_input - the header hash input (RFC 6376 3.7, 5.4.2) */
void
dkim_hash_input(const struct dkim_hdr *h, enum dkim_canon c,
		const char (*names)[80], size_t nnames, const char *sigfield,
		size_t siglen, struct buf *out)
{
	bool used[DKIM_FIELDS_MAX];

	memset(used, 0, sizeof(used));
	for (size_t k = 0; k < nnames; k++) {
		size_t nl = strlen(names[k]);
		for (size_t i = h->nf; i-- > 0;) {
			if (used[i] || !field_is(h, i, names[k], nl))
				continue;
			used[i] = true;
			dkim_canon_header(c, h->data + h->start[i],
			    h->end[i] - h->start[i], out);
			break;
		}
	}
	dkim_canon_header(c, sigfield, siglen, out);
	buf_truncate(out, out->len - 2);   /* without its CRLF */
}

/* -- folding --------------------------------------------------------- */

struct fold {
	struct buf *b;
	size_t col;
};

static void
fold_put(struct fold *f, const char *tok, bool space)
{
	size_t n = strlen(tok);

	if (f->col + (space ? 1 : 0) + n > FOLD_COL && f->col > 1) {
		buf_puts(f->b, "\r\n ");
		f->col = 1;
	} else if (space) {
		buf_putc(f->b, ' ');
		f->col++;
	}
	buf_puts(f->b, tok);
	f->col += n;
}

/* quoted_printable - dkim-quoted-printable (RFC 6376 2.11) for i= */
static void
quoted_printable(const char *s, struct buf *out)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 0x21 && ch <= 0x3a) || ch == 0x3c || (ch >= 0x3e && ch <= 0x7e))
			buf_putc(out, (char)ch);
		else
			buf_printf(out, "=%02X", ch);
	}
}

/* -- the signer ------------------------------------------------------ */

struct dkim_signer {
	const struct dkim_key *key;
	char *domain, *selector, *identity;
	enum dkim_canon hcanon, bcanon;
	int64_t body_limit;
	time_t now;
	int arc_instance;
	struct msghdr_parser parser;
	struct scan_ctx scan;
	struct dkim_hdr *hdr;
	struct buf head;
	bool in_body;
	struct dkim_body body;
};

struct dkim_signer *
dkim_signer_new(const struct dkim_sign_params *p)
{
	struct dkim_signer *s = xcalloc(1, sizeof(*s));

	s->key = p->key;
	s->domain = xstrdup(p->domain);
	s->selector = xstrdup(p->selector);
	s->identity = p->identity != NULL && *p->identity != '\0' ?
	    xstrdup(p->identity) : NULL;
	s->hcanon = p->hcanon;
	s->bcanon = p->bcanon;
	s->body_limit = p->body_limit;
	s->now = p->now;
	s->arc_instance = p->arc_instance;
	s->hdr = xcalloc(1, sizeof(*s->hdr));
	s->scan.h = s->hdr;
	msghdr_parser_init(&s->parser, DKIM_HEADER_MAX, scan_field, &s->scan);
	buf_init(&s->head, DKIM_HEADER_MAX + 1);
	dkim_body_init(&s->body, p->bcanon, p->body_limit > 0 ? p->body_limit : -1);
	return s;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	msghdr_parser_deinit(&s->parser);
	buf_free(&s->head);
	dkim_body_deinit(&s->body);
	free(s->hdr);
	free(s->domain);
	free(s->selector);
	free(s->identity);
	free(s);
	*sp = NULL;
}

int
dkim_signer_feed(struct dkim_signer *s, const void *data, size_t len,
		 const char **error_r)
{
	size_t used = 0;
	int r;

	if (s->in_body) {
		dkim_body_update(&s->body, data, len);
		return 0;
	}
	r = msghdr_parser_feed(&s->parser, data, len, &used, error_r);
	if (r < 0)
		return -1;
	if (s->scan.overflow) {
		*error_r = "more than 1000 header fields";
		return -1;
	}
	if (r == 0)
		used = len;
	if (buf_append(&s->head, data, used) < 0) {
		*error_r = "header block too long";
		return -1;
	}
	if (r == 1) {
		s->in_body = true;
		s->hdr->complete = true;
		dkim_body_update(&s->body, (const char *)data + used, len - used);
	}
	return 0;
}

int
dkim_signer_finish(struct dkim_signer *s, char **field_r, const char **error_r)
{
	struct dkim_hdr *h = s->hdr;
	const char *names[DKIM_FIELDS_MAX];
	char (*hn)[80];
	size_t nh = 0;
	unsigned char bh[32], sig[1024];
	size_t sig_len = sizeof(sig);
	struct buf hl, field, tmp, input;
	struct fold f;
	bool from = false;

	if (!s->in_body)
		msghdr_parser_finish(&s->parser);
	h->data = s->head.data != NULL ? s->head.data : "";
	/* the names, NUL terminated, for dkim_signed_names */
	buf_init(&tmp, 0);
	size_t *off = xcalloc(h->nf + 1, sizeof(size_t));
	for (size_t i = 0; i < h->nf; i++) {
		off[i] = tmp.len;
		buf_append(&tmp, h->data + h->start[i], h->name_len[i]);
		buf_putc(&tmp, '\0');
	}
	size_t nn = 0;
	for (size_t i = 0; i < h->nf; i++) {
		const char *nm = tmp.data + off[i];
		if (strcasecmp(nm, "from") == 0)
			from = true;
		/* an AMS does not sign the ARC fields nor
		 * Authentication-Results (RFC 8617 4.1.2) */
		if (s->arc_instance > 0 && (strncasecmp(nm, "arc-", 4) == 0 ||
		    strcasecmp(nm, "authentication-results") == 0))
			continue;
		names[nn++] = nm;
	}
	free(off);
	if (!from) {
		buf_free(&tmp);
		*error_r = "no From field (it must be signed)";
		return -1;
	}
	buf_init(&hl, 0);
	dkim_signed_names(names, nn, &hl);
	buf_free(&tmp);
	hn = xcalloc(DKIM_HNAMES_MAX, sizeof(*hn));
	for (char *save = NULL, *t = strtok_r(hl.data, ":", &save);
	    t != NULL && nh < DKIM_HNAMES_MAX; t = strtok_r(NULL, ":", &save))
		snprintf(hn[nh++], sizeof(hn[0]), "%s", t);
	dkim_body_final(&s->body, bh);

	/* the field, b= empty */
	buf_init(&field, 0);
	buf_init(&tmp, 0);
	f.b = &field;
	f.col = 0;
	if (s->arc_instance > 0) {
		buf_printf(&tmp, "ARC-Message-Signature: i=%d;", s->arc_instance);
		fold_put(&f, tmp.data, false);
		buf_reset(&tmp);
	} else
		fold_put(&f, "DKIM-Signature: v=1;", false);
	buf_printf(&tmp, "a=%s;", dkim_alg_name(dkim_key_alg(s->key)));
	fold_put(&f, tmp.data, true);
	buf_reset(&tmp);
	buf_printf(&tmp, "c=%s/%s;", dkim_canon_name(s->hcanon),
	    dkim_canon_name(s->bcanon));
	fold_put(&f, tmp.data, true);
	buf_reset(&tmp);
	buf_printf(&tmp, "d=%s;", s->domain);
	fold_put(&f, tmp.data, true);
	buf_reset(&tmp);
	buf_printf(&tmp, "s=%s;", s->selector);
	fold_put(&f, tmp.data, true);
	buf_reset(&tmp);
	buf_printf(&tmp, "t=%lld;", (long long)s->now);
	fold_put(&f, tmp.data, true);
	if (s->identity != NULL && s->arc_instance == 0) {
		buf_reset(&tmp);
		buf_puts(&tmp, "i=");
		quoted_printable(s->identity, &tmp);
		buf_putc(&tmp, ';');
		fold_put(&f, tmp.data, true);
	}
	if (s->body_limit > 0) {
		buf_reset(&tmp);
		buf_printf(&tmp, "l=%llu;", (unsigned long long)s->body.hashed);
		fold_put(&f, tmp.data, true);
	}
	for (size_t i = 0; i < nh; i++) {
		buf_reset(&tmp);
		buf_printf(&tmp, "%s%s%s", i == 0 ? "h=" : "", hn[i],
		    i + 1 < nh ? ":" : ";");
		fold_put(&f, tmp.data, i == 0);
	}
	buf_reset(&tmp);
	buf_puts(&tmp, "bh=");
	dkim_b64_encode(bh, sizeof(bh), &tmp);
	buf_putc(&tmp, ';');
	fold_put(&f, tmp.data, true);
	fold_put(&f, "b=", true);

	buf_init(&input, 0);
	dkim_hash_input(h, s->hcanon, (const char (*)[80])hn, nh, field.data,
	    field.len, &input);
	free(hn);
	buf_free(&hl);
	int r = dkim_sign_data(s->key, input.data, input.len, sig, &sig_len, error_r);
	buf_free(&input);
	if (r < 0) {
		buf_free(&tmp);
		buf_free(&field);
		return -1;
	}
	buf_reset(&tmp);
	dkim_b64_encode(sig, sig_len, &tmp);
	for (size_t i = 0; i < tmp.len;) {
		size_t room = f.col < FOLD_COL ? FOLD_COL - f.col : 0;
		if (room == 0) {
			buf_puts(&field, "\r\n ");
			f.col = 1;
			continue;
		}
		size_t n = tmp.len - i < room ? tmp.len - i : room;
		buf_append(&field, tmp.data + i, n);
		f.col += n;
		i += n;
	}
	buf_puts(&field, "\r\n");
	buf_free(&tmp);
	*field_r = buf_steal(&field);
	return 0;
}

/* dkim_sign_file - sign a message file */
int
dkim_sign_file(const struct dkim_sign_params *p, const char *path,
	       char **field_r, const char **error_r)
{
	struct dkim_signer *s;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		*error_r = "cannot open the message";
		return -1;
	}
	s = dkim_signer_new(p);
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = "cannot read the message";
			r = -1;
			break;
		}
		r = dkim_signer_feed(s, chunk, (size_t)n, error_r);
	}
	close(fd);
	if (r == 0)
		r = dkim_signer_finish(s, field_r, error_r);
	dkim_signer_free(&s);
	return r;
}
