/* milter - Sendmail milter protocol v6, the MTA side */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnet.h"
#include "fsutil.h"
#include "milter.h"
#include "msghdr.h"
#include "xalloc.h"

/* commands of the MTA (SMFIC_*) */
#define C_ABORT 'A'
#define C_BODY 'B'
#define C_CONNECT 'C'
#define C_MACRO 'D'
#define C_BODYEOB 'E'
#define C_HELO 'H'
#define C_HEADER 'L'
#define C_MAIL 'M'
#define C_EOH 'N'
#define C_OPTNEG 'O'
#define C_QUIT 'Q'
#define C_RCPT 'R'
#define C_DATA 'T'

/* protocol flags (SMFIP_*) */
#define P_NOCONNECT 0x1
#define P_NOHELO 0x2
#define P_NOMAIL 0x4
#define P_NORCPT 0x8
#define P_NOBODY 0x10
#define P_NOHDRS 0x20
#define P_NOEOH 0x40
#define P_NR_HDR 0x80
#define P_NODATA 0x200
#define P_SKIP 0x400
#define P_NR_CONN 0x1000
#define P_NR_HELO 0x2000
#define P_NR_MAIL 0x4000
#define P_NR_RCPT 0x8000
#define P_NR_DATA 0x10000
#define P_NR_EOH 0x40000
#define P_NR_BODY 0x80000
#define P_HDR_LEADSPC 0x100000
#define P_OFFERED 0x1FFFFF

/* actions (SMFIF_*) */
#define A_OFFERED (0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40 | 0x80)

/* ------------------------------------------------------------- replies */

int
milter_frame(const uint8_t *data, size_t len, uint32_t *plen_r,
	     const char **error_r)
{
	uint32_t be;

	if (len < 4)
		return 0;
	memcpy(&be, data, 4);
	*plen_r = ntohl(be);
	if (*plen_r == 0 || *plen_r > MILTER_PACKET_MAX) {
		*error_r = *plen_r == 0 ? "milter sent an empty packet" :
		    "milter sent a packet over 1 MB";
		return -1;
	}
	return len - 4 >= *plen_r ? 1 : 0;
}

/* cstr - a NUL-terminated string at *pos of d; NULL if unterminated */
static const char *
cstr(const uint8_t *d, size_t len, size_t *pos)
{
	if (*pos >= len)
		return NULL;
	const uint8_t *z = memchr(d + *pos, '\0', len - *pos);
	if (z == NULL)
		return NULL;
	const char *s = (const char *)d + *pos;
	*pos = (size_t)(z - d) + 1;
	return s;
}

static uint32_t
get32(const uint8_t *d)
{
	uint32_t be;
	memcpy(&be, d, 4);
	return ntohl(be);
}

int
milter_reply_parse(const uint8_t *pkt, size_t len, struct milter_reply *r,
		   const char **error_r)
{
	size_t pos = 1;

	memset(r, 0, sizeof(*r));
	if (len < 1) {
		*error_r = "empty milter packet";
		return -1;
	}
	const uint8_t *d = pkt;
	r->kind = (enum milter_reply_kind)pkt[0];
	switch (pkt[0]) {
	case MR_ACCEPT: case MR_CONTINUE: case MR_DISCARD: case MR_REJECT:
	case MR_TEMPFAIL: case MR_PROGRESS: case MR_SKIP:
		return 0;   /* data, if any, is ignored */
	case MR_REPLYCODE:
		if ((r->value = cstr(d, len, &pos)) == NULL)
			break;
		/* "4xx" or "5xx", a space or hyphen, text */
		if (strlen(r->value) < 3 || (r->value[0] != '4' &&
		    r->value[0] != '5') || !isdigit((unsigned char)r->value[1]) ||
		    !isdigit((unsigned char)r->value[2]) ||
		    (r->value[3] != '\0' && r->value[3] != ' ' &&
		    r->value[3] != '-')) {
			*error_r = "milter reply code is not 4xx or 5xx";
			return -1;
		}
		return 0;
	case MR_ADDHEADER:
		if ((r->name = cstr(d, len, &pos)) == NULL ||
		    (r->value = cstr(d, len, &pos)) == NULL)
			break;
		goto check_name;
	case MR_CHGHEADER: case MR_INSHEADER:
		if (len < 5)
			break;
		r->index = get32(d + 1);
		pos = 5;
		if ((r->name = cstr(d, len, &pos)) == NULL ||
		    (r->value = cstr(d, len, &pos)) == NULL)
			break;
		goto check_name;
	case MR_REPLBODY:
		r->data = d + 1;
		r->len = len - 1;
		return 0;
	case MR_ADDRCPT: case MR_DELRCPT:
		if ((r->name = cstr(d, len, &pos)) == NULL || *r->name == '\0')
			break;
		return 0;
	case MR_ADDRCPT_PAR: case MR_CHGFROM:
		if ((r->name = cstr(d, len, &pos)) == NULL)
			break;
		if (pos < len && (r->value = cstr(d, len, &pos)) == NULL)
			break;
		if (*r->name == '\0' && pkt[0] == MR_ADDRCPT_PAR)
			break;
		return 0;
	case MR_QUARANTINE:
		if ((r->value = cstr(d, len, &pos)) == NULL)
			break;
		return 0;
	case MR_OPTNEG:
		if (len < 13)
			break;
		r->version = get32(d + 1);
		r->actions = get32(d + 5);
		r->protocol = get32(d + 9);
		return 0;   /* macro lists after it are not used */
	case MR_SETSYMLIST:
		return 0;
	default:
		*error_r = "unknown milter reply";
		return -1;
	}
	*error_r = "malformed milter reply";
	return -1;
check_name:
	if (*r->name == '\0' || strlen(r->name) > 998) {
		*error_r = "bad header name in a milter reply";
		return -1;
	}
	for (const char *c = r->name; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 127 ||
		    *c == ':') {
			*error_r = "bad header name in a milter reply";
			return -1;
		}
	return 0;
}

/* -------------------------------------------------------- modifications */

void
milter_mods_init(struct milter_mods *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->body, 0);
}

void
milter_mods_free(struct milter_mods *m)
{
	for (size_t i = 0; i < m->nhdr; i++) {
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	free(m->hdr);
	for (size_t i = 0; i < m->naddrcpt; i++)
		free(m->addrcpt[i]);
	for (size_t i = 0; i < m->ndelrcpt; i++)
		free(m->delrcpt[i]);
	free(m->addrcpt);
	free(m->delrcpt);
	free(m->chgfrom);
	free(m->quarantine);
	buf_free(&m->body);
	memset(m, 0, sizeof(*m));
}

/* addr_plain - an address without its angle brackets (new string) */
static char *
addr_plain(const char *a)
{
	size_t l = strlen(a);
	if (l >= 2 && a[0] == '<' && a[l - 1] == '>')
		return xstrndup(a + 1, l - 2);
	return xstrdup(a);
}

static bool
addr_ok(const char *a)
{
	return strlen(a) <= 320 && strpbrk(a, "\r\n\t <>") == NULL;
}

int
milter_mods_add(struct milter_mods *m, const struct milter_reply *r,
		const char **error_r)
{
	if (m->nhdr + m->naddrcpt + m->ndelrcpt >= MILTER_MAX_MODS) {
		*error_r = "too many modifications";
		return -1;
	}
	switch (r->kind) {
	case MR_ADDHEADER: case MR_CHGHEADER: case MR_INSHEADER:
		if (strlen(r->value) > 65536) {
			*error_r = "header value over 64 KB";
			return -1;
		}
		m->hdr = xreallocarray(m->hdr, m->nhdr + 1, sizeof(*m->hdr));
		m->hdr[m->nhdr++] = (struct milter_hdrop){ (char)r->kind,
		    r->index, xstrdup(r->name), xstrdup(r->value) };
		return 0;
	case MR_REPLBODY:
		if (!m->body_replaced)
			buf_reset(&m->body);
		m->body_replaced = true;
		/* bare LF becomes CRLF */
		for (size_t i = 0; i < r->len; i++) {
			if (r->data[i] == '\n' && (i == 0 ?
			    (m->body.len == 0 || m->body.data[m->body.len - 1] != '\r') :
			    r->data[i - 1] != '\r'))
				buf_putc(&m->body, '\r');
			buf_putc(&m->body, (char)r->data[i]);
		}
		if (m->body.len > 64 * 1024 * 1024) {
			*error_r = "replacement body over 64 MB";
			return -1;
		}
		return 0;
	case MR_ADDRCPT: case MR_ADDRCPT_PAR: case MR_DELRCPT: {
		char *a = addr_plain(r->name);
		if (!addr_ok(a) || *a == '\0') {
			free(a);
			*error_r = "bad recipient address in a milter reply";
			return -1;
		}
		if (r->kind == MR_DELRCPT) {
			m->delrcpt = xreallocarray(m->delrcpt, m->ndelrcpt + 1,
			    sizeof(char *));
			m->delrcpt[m->ndelrcpt++] = a;
		} else {
			m->addrcpt = xreallocarray(m->addrcpt, m->naddrcpt + 1,
			    sizeof(char *));
			m->addrcpt[m->naddrcpt++] = a;
		}
		return 0;
	}
	case MR_CHGFROM: {
		char *a = addr_plain(r->name);
		if (!addr_ok(a)) {
			free(a);
			*error_r = "bad sender address in a milter reply";
			return -1;
		}
		free(m->chgfrom);
		m->chgfrom = a;
		return 0;
	}
	case MR_QUARANTINE:
		free(m->quarantine);
		m->quarantine = xstrndup(r->value, 300);
		return 0;
	default:
		*error_r = "not a modification";
		return -1;
	}
}

/* A header field of the block being edited. */
struct hfield {
	char *text;               /* "Name: value\r\n" (folded lines kept) */
	char *name;
};

struct hlist {
	struct hfield *f;
	size_t n;
};

static void
hlist_insert(struct hlist *h, size_t at, const char *name, const char *value)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "%s:", name);
	/* the value as the milter gave it; a leading space unless present */
	if (*value != ' ' && *value != '\t')
		buf_putc(&b, ' ');
	for (const char *v = value; *v; v++) {
		if (*v == '\r')
			continue;
		if (*v == '\n') {
			buf_puts(&b, "\r\n");
			if (v[1] != ' ' && v[1] != '\t')
				buf_putc(&b, '\t');
			continue;
		}
		buf_putc(&b, *v);
	}
	buf_puts(&b, "\r\n");
	if (at > h->n)
		at = h->n;
	h->f = xreallocarray(h->f, h->n + 1, sizeof(*h->f));
	memmove(h->f + at + 1, h->f + at, (h->n - at) * sizeof(*h->f));
	h->f[at].text = buf_steal(&b);
	h->f[at].name = xstrdup(name);
	h->n++;
	buf_free(&b);
}

struct split_ctx {
	struct hlist *h;
	const char *hdr;
};

static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct split_ctx *s = ctx;
	struct hlist *h = s->h;

	h->f = xreallocarray(h->f, h->n + 1, sizeof(*h->f));
	h->f[h->n].text = xstrndup(s->hdr + f->raw_start, f->raw_end - f->raw_start);
	h->f[h->n].name = xstrdup(f->name);
	h->n++;
}

/* header_split - the fields of a header block */
static void
header_split(const char *hdr, size_t len, struct hlist *h)
{
	struct msghdr_parser p;
	struct split_ctx s = { h, hdr };
	size_t used;
	const char *err;

	msghdr_parser_init(&p, len + 1, on_field, &s);
	if (msghdr_parser_feed(&p, hdr, len, &used, &err) == 0)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
}

void
milter_header_apply(const char *hdr, size_t len, const struct milter_mods *m,
		    struct buf *out)
{
	struct hlist h = { NULL, 0 };

	header_split(hdr, len, &h);
	for (size_t i = 0; i < m->nhdr; i++) {
		const struct milter_hdrop *op = &m->hdr[i];
		if (op->kind == MR_ADDHEADER) {
			hlist_insert(&h, h.n, op->name, op->value);
		} else if (op->kind == MR_INSHEADER) {
			hlist_insert(&h, op->index, op->name, op->value);
		} else {
			/* the index-th field of that name (1 based); an
			 * empty value deletes it; past the last: added */
			uint32_t seen = 0;
			size_t at = h.n;
			for (size_t k = 0; k < h.n; k++)
				if (strcasecmp(h.f[k].name, op->name) == 0 &&
				    ++seen == (op->index ? op->index : 1)) {
					at = k;
					break;
				}
			if (at < h.n) {
				free(h.f[at].text);
				free(h.f[at].name);
				h.n--;
				memmove(h.f + at, h.f + at + 1,
				    (h.n - at) * sizeof(*h.f));
			}
			if (*op->value != '\0')
				hlist_insert(&h, at, op->name, op->value);
		}
	}
	for (size_t k = 0; k < h.n; k++) {
		buf_puts(out, h.f[k].text);
		free(h.f[k].text);
		free(h.f[k].name);
	}
	buf_puts(out, "\r\n");
	free(h.f);
}

/* ------------------------------------------------------------- session */

struct msess {
	const struct milter_spec *spec;
	int fd;
	uint32_t proto;           /* negotiated protocol flags */
	uint8_t *pkt;             /* the last answer */
	size_t pktlen;
	const char *error;
};

/* send_pkt - one command with its data */
static int
send_pkt(struct msess *s, char cmd, const void *data, size_t len)
{
	uint8_t hdr[5];
	uint32_t be = htonl((uint32_t)(len + 1));
	int64_t deadline = fnet_deadline(s->spec->timeout_s * 1000);

	memcpy(hdr, &be, 4);
	hdr[4] = (uint8_t)cmd;
	if (fnet_write(s->fd, hdr, 5, deadline, &s->error) < 0 ||
	    (len > 0 && fnet_write(s->fd, data, len, deadline, &s->error) < 0))
		return -1;
	return 0;
}

/* read_reply - the next answer that is not "progress" */
static int
read_reply(struct msess *s, struct milter_reply *r)
{
	/* "progress" restarts the timeout; not for ever */
	for (int progress = 0; progress <= MILTER_MAX_PROGRESS; progress++) {
		int64_t deadline = fnet_deadline(s->spec->timeout_s * 1000);
		uint8_t lenb[4];
		uint32_t plen;
		if (fnet_read_full(s->fd, lenb, 4, deadline, &s->error) < 0)
			return -1;
		if (milter_frame(lenb, 4, &plen, &s->error) < 0)
			return -1;
		free(s->pkt);
		s->pkt = xmalloc(plen);
		s->pktlen = plen;
		if (fnet_read_full(s->fd, s->pkt, plen, deadline, &s->error) < 0)
			return -1;
		if (milter_reply_parse(s->pkt, plen, r, &s->error) < 0)
			return -1;
		if (r->kind != MR_PROGRESS)
			return 0;
	}
	s->error = "the milter sent progress answers for too long";
	return -1;
}

/* macro - a 'D' packet for command cmd: name\0value\0... */
static int
send_macros(struct msess *s, char cmd, const char *const *kv, size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	buf_putc(&b, cmd);
	for (size_t i = 0; i + 1 < n; i += 2) {
		if (kv[i + 1] == NULL)
			continue;
		buf_append(&b, kv[i], strlen(kv[i]) + 1);
		buf_append(&b, kv[i + 1], strlen(kv[i + 1]) + 1);
	}
	int r = send_pkt(s, C_MACRO, b.data, b.len);
	buf_free(&b);
	return r;
}

enum step { STEP_GO, STEP_ACCEPT, STEP_FINAL, STEP_FAIL };

/* step_answer - a command answered: go on, this milter accepts, or a
 * final verdict in *final_r */
static enum step
step_answer(struct msess *s, bool noreply, enum milter_outcome *final_r,
	    char *reason, size_t rlen, struct milter_reply *r)
{
	if (noreply)
		return STEP_GO;
	if (read_reply(s, r) < 0)
		return STEP_FAIL;
	switch (r->kind) {
	case MR_CONTINUE:
		return STEP_GO;
	case MR_SKIP:
		return STEP_GO;   /* the body loop handles it */
	case MR_ACCEPT:
		return STEP_ACCEPT;
	case MR_REJECT:
		*final_r = MILTER_REJECT;
		snprintf(reason, rlen, "milter %s: reject", s->spec->addr);
		return STEP_FINAL;
	case MR_TEMPFAIL:
		*final_r = MILTER_TEMPFAIL;
		snprintf(reason, rlen, "milter %s: tempfail", s->spec->addr);
		return STEP_FINAL;
	case MR_DISCARD:
		*final_r = MILTER_DISCARD;
		snprintf(reason, rlen, "milter %s: discard", s->spec->addr);
		return STEP_FINAL;
	case MR_REPLYCODE:
		*final_r = r->value[0] == '4' ? MILTER_TEMPFAIL : MILTER_REJECT;
		snprintf(reason, rlen, "milter %s: %.300s", s->spec->addr,
		    r->value);
		return STEP_FINAL;
	default:
		s->error = "unexpected milter answer";
		return STEP_FAIL;
	}
}

/* negotiate - OPTNEG: version 6, what we offer; what it wants */
static int
negotiate(struct msess *s)
{
	uint32_t o[3] = { htonl(MILTER_VERSION), htonl(A_OFFERED),
	    htonl(P_OFFERED) };
	struct milter_reply r;

	if (send_pkt(s, C_OPTNEG, o, sizeof(o)) < 0 || read_reply(s, &r) < 0)
		return -1;
	if (r.kind != MR_OPTNEG) {
		s->error = "the milter did not answer the option negotiation";
		return -1;
	}
	if (r.version < 2) {
		s->error = "the milter speaks a protocol version below 2";
		return -1;
	}
	if ((r.actions & ~(uint32_t)A_OFFERED) != 0) {
		s->error = "the milter asks for actions not offered";
		return -1;
	}
	s->proto = r.protocol & P_OFFERED;
	return 0;
}

static int
msess_open(struct msess *s, const struct milter_spec *spec)
{
	memset(s, 0, sizeof(*s));
	s->spec = spec;
	s->fd = fnet_connect(spec->addr, fnet_deadline(spec->timeout_s * 1000),
	    &s->error);
	if (s->fd < 0)
		return -1;
	return negotiate(s);
}

static void
msess_close(struct msess *s, bool quit)
{
	if (s->fd >= 0) {
		if (quit)
			(void)send_pkt(s, C_QUIT, NULL, 0);
		close(s->fd);
	}
	s->fd = -1;
	free(s->pkt);
	s->pkt = NULL;
}

static _Thread_local char m_err[512];

int
milter_probe(const struct milter_spec *m, const char **error_r)
{
	struct msess s;
	int r = msess_open(&s, m);

	if (r < 0) {
		snprintf(m_err, sizeof(m_err), "%s", s.error ? s.error : "failed");
		*error_r = m_err;
	}
	msess_close(&s, r == 0);
	return r;
}

/* addr_arg - "<address>" (new string) */
static char *
addr_arg(const char *a)
{
	return xasprintf("<%s>", a ? a : "");
}

/* read_header_block - the header block of fd (fields and the blank line)
 * into out; the file offset is left at the body. */
static int
read_header_block(int fd, struct buf *out, const char **error_r)
{
	char chunk[8192];
	struct msghdr_parser p;
	size_t used, total = 0;
	const char *err;
	int r = 0;

	msghdr_parser_init(&p, 0, NULL, NULL);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			*error_r = "cannot read the message";
			r = -1;
			break;
		}
		if (n == 0)
			break;   /* no body */
		int hr = msghdr_parser_feed(&p, chunk, (size_t)n, &used, &err);
		if (hr < 0) {
			*error_r = err;
			r = -1;
			break;
		}
		buf_append(out, chunk, hr == 1 ? used : (size_t)n);
		total += (size_t)n;
		if (hr == 1) {
			if (lseek(fd, (off_t)(total - ((size_t)n - used)),
			    SEEK_SET) < 0)
				r = -1;
			break;
		}
	}
	msghdr_parser_deinit(&p);
	return r;
}

/* send_headers - each field as name\0value\0 */
static int
send_headers(struct msess *s, const char *hdr, size_t len, bool *accept_r,
	     enum milter_outcome *final_r, char *reason, size_t rlen)
{
	struct hlist h = { NULL, 0 };
	int r = 0;

	header_split(hdr, len, &h);
	for (size_t k = 0; k < h.n && r == 0; k++) {
		const char *v = strchr(h.f[k].text, ':');
		v = v ? v + 1 : "";
		if (!(s->proto & P_HDR_LEADSPC) && (*v == ' ' || *v == '\t'))
			v++;
		size_t vl = strlen(v);
		if (vl >= 2 && v[vl - 2] == '\r')
			vl -= 2;
		struct buf b;
		buf_init(&b, 0);
		buf_append(&b, h.f[k].name, strlen(h.f[k].name) + 1);
		buf_append(&b, v, vl);
		buf_putc(&b, '\0');
		struct milter_reply rep;
		if (send_pkt(s, C_HEADER, b.data, b.len) < 0)
			r = -1;
		else {
			enum step st = step_answer(s, s->proto & P_NR_HDR,
			    final_r, reason, rlen, &rep);
			if (st == STEP_FAIL)
				r = -1;
			else if (st == STEP_ACCEPT)
				*accept_r = true, r = 1;
			else if (st == STEP_FINAL)
				r = 2;
		}
		buf_free(&b);
	}
	for (size_t k = 0; k < h.n; k++) {
		free(h.f[k].text);
		free(h.f[k].name);
	}
	free(h.f);
	return r;
}

/* one_milter - the whole conversation about one message; *mods filled at
 * the end of message. MILTER_OK with *accepted when it accepted early.
 * -1 (s->error) when the milter failed. */
static int
one_milter(struct msess *s, struct milter_msg *msg, struct milter_mods *mods,
	   enum milter_outcome *final_r)
{
	struct queue_env *env = msg->env;
	struct milter_reply r = { .kind = MR_CONTINUE };
	char *arg;
	enum step st = STEP_GO;
	char *rs = msg->reason;
	size_t rl = sizeof(msg->reason);
	const char *client = env->client_addr ? env->client_addr : "local";
	bool local = strcmp(client, "local") == 0;

	*final_r = MILTER_OK;
#define STEP(expr, nr) do { \
		if ((expr) < 0) return -1; \
		st = step_answer(s, (nr), final_r, rs, rl, &r); \
		if (st == STEP_FAIL) return -1; \
		if (st != STEP_GO) return 0; \
	} while (0)
	const char *cmac[] = { "j", msg->hostname, "{daemon_name}", "postern",
	    "_", client, "{client_addr}", local ? "127.0.0.1" : client,
	    "{client_name}", local ? "localhost" : "unknown" };
	if (send_macros(s, C_CONNECT, cmac, 10) < 0)
		return -1;
	if (!(s->proto & P_NOCONNECT)) {
		struct buf b;
		buf_init(&b, 0);
		const char *ip = local ? "127.0.0.1" : client;
		buf_append(&b, local ? "localhost" : "unknown",
		    strlen(local ? "localhost" : "unknown") + 1);
		buf_putc(&b, strchr(ip, ':') ? '6' : '4');
		uint16_t port = htons(0);
		buf_append(&b, &port, 2);
		buf_append(&b, ip, strlen(ip) + 1);
		int sr = send_pkt(s, C_CONNECT, b.data, b.len);
		buf_free(&b);
		STEP(sr, s->proto & P_NR_CONN);
	}
	if (!(s->proto & P_NOHELO)) {
		const char *helo = env->client_helo ? env->client_helo : "localhost";
		STEP(send_pkt(s, C_HELO, helo, strlen(helo) + 1),
		    s->proto & P_NR_HELO);
	}
	const char *mmac[] = { "i", msg->id, "{mail_addr}",
	    env->sender ? env->sender : "", "{auth_authen}", env->auth_user };
	if (send_macros(s, C_MAIL, mmac, 6) < 0)
		return -1;
	if (!(s->proto & P_NOMAIL)) {
		arg = addr_arg(env->sender);
		int sr = send_pkt(s, C_MAIL, arg, strlen(arg) + 1);
		free(arg);
		STEP(sr, s->proto & P_NR_MAIL);
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].status != RCPT_PENDING)
			continue;
		const char *rmac[] = { "{rcpt_addr}", env->rcpts[i].address };
		if (send_macros(s, C_RCPT, rmac, 2) < 0)
			return -1;
		if (s->proto & P_NORCPT)
			continue;
		arg = addr_arg(env->rcpts[i].address);
		int sr = send_pkt(s, C_RCPT, arg, strlen(arg) + 1);
		free(arg);
		if (sr < 0)
			return -1;
		st = step_answer(s, s->proto & P_NR_RCPT, final_r, rs, rl, &r);
		if (st == STEP_FAIL)
			return -1;
		if (st == STEP_ACCEPT)
			return 0;
		if (st == STEP_FINAL) {
			/* a refused recipient after the 250: the message
			 * still goes to the others (logged by the caller) */
			*final_r = MILTER_OK;
			snprintf(rs, rl, "milter %s refused recipient %s "
			    "(ignored after the SMTP 250)", s->spec->addr,
			    env->rcpts[i].address);
		}
	}
	if (!(s->proto & P_NODATA))
		STEP(send_pkt(s, C_DATA, NULL, 0), s->proto & P_NR_DATA);

	int fd = open(msg->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		s->error = "cannot open the message";
		return -1;
	}
	struct buf hdr;
	buf_init(&hdr, 0);
	int rc = 0;
	if (read_header_block(fd, &hdr, &s->error) < 0) {
		rc = -1;
		goto done;
	}
	bool accepted = false;
	if (!(s->proto & P_NOHDRS)) {
		int hr = send_headers(s, hdr.data ? hdr.data : "", hdr.len,
		    &accepted, final_r, rs, rl);
		if (hr != 0) {
			rc = hr < 0 ? -1 : 0;
			goto done;
		}
	}
	if (!(s->proto & P_NOEOH)) {
		if (send_pkt(s, C_EOH, NULL, 0) < 0) {
			rc = -1;
			goto done;
		}
		st = step_answer(s, s->proto & P_NR_EOH, final_r, rs, rl, &r);
		if (st != STEP_GO) {
			rc = st == STEP_FAIL ? -1 : 0;
			goto done;
		}
	}
	if (!(s->proto & P_NOBODY)) {
		char *chunk = xmalloc(MILTER_CHUNK);
		ssize_t n;
		while ((n = read(fd, chunk, MILTER_CHUNK)) > 0) {
			if (send_pkt(s, C_BODY, chunk, (size_t)n) < 0) {
				rc = -1;
				break;
			}
			r.kind = MR_CONTINUE;
			st = step_answer(s, s->proto & P_NR_BODY, final_r, rs,
			    rl, &r);
			if (st == STEP_FAIL)
				rc = -1;
			if (st != STEP_GO || r.kind == MR_SKIP)
				break;
		}
		free(chunk);
		if (rc < 0 || st == STEP_ACCEPT || st == STEP_FINAL)
			goto done;
	}
	const char *emac[] = { "i", msg->id };
	if (send_macros(s, C_BODYEOB, emac, 2) < 0 ||
	    send_pkt(s, C_BODYEOB, NULL, 0) < 0) {
		rc = -1;
		goto done;
	}
	/* modifications, then the verdict */
	for (;;) {
		if (read_reply(s, &r) < 0) {
			rc = -1;
			break;
		}
		if (r.kind == MR_ACCEPT || r.kind == MR_CONTINUE)
			break;
		if (r.kind == MR_REJECT || r.kind == MR_TEMPFAIL ||
		    r.kind == MR_DISCARD || r.kind == MR_REPLYCODE) {
			*final_r = r.kind == MR_DISCARD ? MILTER_DISCARD :
			    r.kind == MR_TEMPFAIL ? MILTER_TEMPFAIL :
			    r.kind == MR_REPLYCODE && r.value[0] == '4' ?
			    MILTER_TEMPFAIL : MILTER_REJECT;
			snprintf(rs, rl, "milter %s: %.300s", s->spec->addr,
			    r.kind == MR_REPLYCODE ? r.value :
			    r.kind == MR_DISCARD ? "discard" :
			    r.kind == MR_TEMPFAIL ? "tempfail" : "reject");
			break;
		}
		if (milter_mods_add(mods, &r, &s->error) < 0) {
			rc = -1;
			break;
		}
	}
done:
	close(fd);
	buf_free(&hdr);
	return rc;
#undef STEP
}

/* apply_mods - the envelope changes, and a new message file when the
 * header or body changed; 0 or -1 */
static int
apply_mods(struct milter_msg *msg, const struct milter_mods *mods,
	   const char **error_r)
{
	struct queue_env *env = msg->env;

	if (mods->chgfrom != NULL)
		queue_env_set(&env->sender, mods->chgfrom);
	for (size_t i = 0; i < mods->ndelrcpt; i++)
		for (size_t k = 0; k < env->nrcpts; k++)
			if (env->rcpts[k].status == RCPT_PENDING &&
			    strcasecmp(env->rcpts[k].address, mods->delrcpt[i]) == 0) {
				env->rcpts[k].status = RCPT_DELIVERED;
				queue_env_set(&env->rcpts[k].last_error,
				    "removed by a milter");
			}
	for (size_t i = 0; i < mods->naddrcpt; i++)
		queue_env_add_rcpt(env, mods->addrcpt[i], NULL, 0);
	if (mods->nhdr == 0 && !mods->body_replaced)
		return 0;

	int fd = open(msg->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = "cannot open the message";
		return -1;
	}
	struct buf hdr, out;
	buf_init(&hdr, 0);
	buf_init(&out, 0);
	int r = read_header_block(fd, &hdr, error_r);
	static unsigned seq;
	char *path = xasprintf("%s/%s.milter.%ld.%u", msg->tmpdir, msg->id,
	    (long)getpid(), ++seq);
	int ofd = -1;
	if (r == 0) {
		milter_header_apply(hdr.data ? hdr.data : "", hdr.len, mods, &out);
		ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (ofd < 0 || write_full(ofd, out.data, out.len) < 0)
			r = -1;
	}
	if (r == 0 && mods->body_replaced) {
		if (write_full(ofd, mods->body.data ? mods->body.data : "",
		    mods->body.len) < 0)
			r = -1;
	} else if (r == 0) {
		char chunk[65536];
		ssize_t n;
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			if (write_full(ofd, chunk, (size_t)n) < 0) {
				r = -1;
				break;
			}
		if (n < 0)
			r = -1;
	}
	if (r == 0 && fsync(ofd) < 0)
		r = -1;
	if (ofd >= 0)
		close(ofd);
	close(fd);
	buf_free(&hdr);
	buf_free(&out);
	if (r < 0) {
		unlink(path);
		free(path);
		if (*error_r == NULL)
			*error_r = "cannot write the changed message";
		return -1;
	}
	if (msg->new_path != NULL) {
		unlink(msg->new_path);
		free(msg->new_path);
	}
	msg->new_path = path;
	msg->path = path;
	return 0;
}

enum milter_outcome
milter_run_all(const struct milter_spec *v, size_t n, struct milter_msg *msg)
{
	msg->reason[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct msess s;
		struct milter_mods mods;
		enum milter_outcome out = MILTER_OK;
		int r;

		milter_mods_init(&mods);
		r = msess_open(&s, &v[i]);
		if (r == 0)
			r = one_milter(&s, msg, &mods, &out);
		if (r < 0) {
			/* down, slow, garbage or gone mid-message: its
			 * default; nothing it asked for applies */
			snprintf(msg->reason, sizeof(msg->reason),
			    "milter %s failed: %s; default action %s",
			    v[i].addr, s.error ? s.error : "error",
			    milter_default_name(v[i].dflt));
			msess_close(&s, false);
			milter_mods_free(&mods);
			if (v[i].dflt == MILTER_DEF_ACCEPT)
				continue;
			return v[i].dflt == MILTER_DEF_REJECT ? MILTER_REJECT :
			    MILTER_TEMPFAIL;
		}
		msess_close(&s, true);
		if (out == MILTER_OK && mods.quarantine != NULL) {
			snprintf(msg->reason, sizeof(msg->reason),
			    "milter %s: quarantine: %s", v[i].addr,
			    mods.quarantine);
			out = MILTER_QUARANTINE;
		}
		if (out != MILTER_OK) {
			milter_mods_free(&mods);
			return out;
		}
		const char *err = NULL;
		if (apply_mods(msg, &mods, &err) < 0) {
			snprintf(msg->reason, sizeof(msg->reason),
			    "milter %s: cannot apply its changes: %s", v[i].addr,
			    err);
			milter_mods_free(&mods);
			return MILTER_TEMPFAIL;
		}
		milter_mods_free(&mods);
	}
	return MILTER_OK;
}

int
filter_header_rewrite(const char *src, const char *dir, const char *id,
		      const char *prepend, const char *const *strip,
		      char **new_path_r, const char **error_r)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC), ofd = -1, r;
	struct buf hdr, out;
	struct hlist h = { NULL, 0 };
	static unsigned seq;

	*new_path_r = NULL;
	if (fd < 0) {
		*error_r = "cannot open the message";
		return -1;
	}
	buf_init(&hdr, 0);
	buf_init(&out, 0);
	r = read_header_block(fd, &hdr, error_r);
	if (r == 0) {
		header_split(hdr.data ? hdr.data : "", hdr.len, &h);
		buf_puts(&out, prepend);
		for (size_t k = 0; k < h.n; k++) {
			bool drop = false;
			for (size_t i = 0; strip[i] != NULL; i++)
				drop |= strcasecmp(h.f[k].name, strip[i]) == 0;
			if (!drop)
				buf_puts(&out, h.f[k].text);
			free(h.f[k].text);
			free(h.f[k].name);
		}
		free(h.f);
		buf_puts(&out, "\r\n");
	}
	char *path = xasprintf("%s/%s.filter.%ld.%u", dir, id, (long)getpid(),
	    ++seq);
	if (r == 0) {
		ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (ofd < 0 || write_full(ofd, out.data, out.len) < 0)
			r = -1;
	}
	char chunk[65536];
	ssize_t n = 0;
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		if (write_full(ofd, chunk, (size_t)n) < 0)
			r = -1;
	if (n < 0 || (r == 0 && fsync(ofd) < 0))
		r = -1;
	if (ofd >= 0)
		close(ofd);
	close(fd);
	buf_free(&hdr);
	buf_free(&out);
	if (r < 0) {
		unlink(path);
		free(path);
		*error_r = "cannot write the message with the new header";
		return -1;
	}
	*new_path_r = path;
	return 0;
}
