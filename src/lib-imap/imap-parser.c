/* imap-parser - incremental, bounded IMAP command reader (imap-parser.h) */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fsutil.h"
#include "imap-parser.h"
#include "xalloc.h"

/* imap_parser_init - see imap-parser.h */
void
imap_parser_init(struct imap_parser *p, size_t max_line, size_t max_literal,
		 unsigned max_depth)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line;
	p->max_literal = max_literal;
	p->max_depth = max_depth;
	buf_init(&p->line, 0);
}

/* imap_parser_spill - see imap-parser.h */
void
imap_parser_spill(struct imap_parser *p, const char *dir, size_t min,
		  size_t max_memory)
{
	free(p->spill_dir);
	p->spill_dir = dir != NULL ? xstrdup(dir) : NULL;
	p->spill_min = min;
	p->max_memory = max_memory;
}

static void
args_free(struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].str);
		if (a[i].in_file && a[i].fd >= 0)
			close(a[i].fd);
		args_free(a[i].list, a[i].count);
	}
	free(a);
}

/* lit_clear - drop one literal's data and file */
static void
lit_clear(struct imap_lit *l)
{
	buf_free(&l->data);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* spill_open - an unnamed file in dir for a literal's data; -1 and errno */
static int
spill_open(const char *dir)
{
	int fd = -1;

#ifdef O_TMPFILE
	/* gone with its last descriptor: a client that disconnects or a
	 * process that dies leaves nothing behind, and the store can still
	 * link it into place (linkat of /proc/self/fd) */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
#endif
	/* no O_TMPFILE on this file system: a named file unlinked at once
	 * (the store then copies it) */
	char *path = xasprintf("%s/imap-literal.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		(void)unlink(path);
	free(path);
	return fd;
}

/* command_is - whether the command being read is name (the word after
 * the tag on its first line) */
static bool
command_is(const struct imap_parser *p, const char *name)
{
	const char *s = p->line.data, *end;
	size_t n = strlen(name);

	if (s == NULL)
		return false;
	end = s + p->line.len;   /* no arithmetic on NULL */
	const char *sp = memchr(s, ' ', p->line.len);
	if (sp == NULL || (size_t)(end - sp - 1) <= n)
		return false;
	return strncasecmp(sp + 1, name, n) == 0 && sp[1 + n] == ' ';
}

/* imap_parser_reset - see imap-parser.h */
void
imap_parser_reset(struct imap_parser *p)
{
	args_free(p->args, p->nargs);
	p->args = NULL;
	p->nargs = 0;
	xfree(&p->tag);
	xfree(&p->cmd);
	for (size_t i = 0; i < p->nlits; i++)
		lit_clear(&p->lits[i]);
	p->nlits = 0;
	xfree(&p->lits);
	p->lits_cap = 0;
	if (p->line.cap > 4096)
		buf_free(&p->line);
	else
		buf_reset(&p->line);
	p->seg_start = 0;
	p->lit_left = 0;
	p->lit_total = 0;
	p->mem_total = 0;
	p->nspilled = 0;
	p->in_literal = false;
	p->spill_error = NULL;
	p->error = NULL;
	p->fatal = false;
}

/* imap_parser_free - see imap-parser.h */
void
imap_parser_free(struct imap_parser *p)
{
	imap_parser_reset(p);
	buf_free(&p->line);
	xfree(&p->spill_dir);
}

/* imap_parser_busy - see imap-parser.h */
bool
imap_parser_busy(const struct imap_parser *p)
{
	return p->line.len > 0 || p->in_literal || p->nlits > 0;
}

static bool
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

/* imap_parser_tag - see imap-parser.h */
const char *
imap_parser_tag(struct imap_parser *p)
{
	if (p->tag != NULL)
		return p->tag;
	size_t n = 0;
	while (n < p->line.len && is_atom_char((unsigned char)p->line.data[n]) &&
	    p->line.data[n] != '+' && p->line.data[n] != '%' && p->line.data[n] != '*')
		n++;
	if (n == 0 || (n < p->line.len && p->line.data[n] != ' '))
		return "*";
	p->tag = xstrndup(p->line.data, n);
	return p->tag;
}

/* literal_announce - if the line segment ends in {n}, {n+} or ~{n}, the
 * size; 1 found, 0 none, -1 bad. */
static int
literal_announce(const char *s, size_t len, uint64_t *n_r, bool *plus_r)
{
	size_t i;
	uint64_t n = 0;

	if (len < 3 || s[len - 1] != '}')
		return 0;
	i = len - 2;
	*plus_r = false;
	if (s[i] == '+') {
		*plus_r = true;
		i--;
	}
	size_t digits_end = i + 1;
	while (i > 0 && isdigit((unsigned char)s[i]))
		i--;
	if (s[i] != '{' || i + 1 == digits_end)
		return 0;
	if (digits_end - (i + 1) > 19)
		return -1;
	for (size_t k = i + 1; k < digits_end; k++)
		n = n * 10 + (uint64_t)(s[k] - '0');
	*n_r = n;
	return 1;
}

static int tokenize(struct imap_parser *p);

/* imap_parser_feed - see imap-parser.h */
int
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
		 size_t *used_r)
{
	size_t used = 0;

	*used_r = 0;
	while (used < len) {
		if (p->in_literal) {
			struct imap_lit *l = &p->lits[p->nlits - 1];
			size_t n = len - used < p->lit_left ? len - used : p->lit_left;
			if (l->fd < 0 && p->spill_error == NULL) {
				buf_append(&l->data, data + used, n);
			} else if (l->fd >= 0) {
				/* into the page cache: the store fsyncs it */
				if (write_full(l->fd, data + used, n) < 0) {
					p->spill_error = "[UNAVAILABLE] Cannot keep "
					    "the message: server out of temporary "
					    "space";
					close(l->fd);
					l->fd = -1;
				} else {
					l->size += n;
					if (!l->nul && memchr(data + used, '\0',
					    n) != NULL)
						l->nul = true;
				}
			}
			used += n;
			p->lit_left -= n;
			if (p->lit_left == 0) {
				p->in_literal = false;
				p->seg_start = p->line.len;
			}
			continue;
		}
		const char *nl = memchr(data + used, '\n', len - used);
		size_t n = nl ? (size_t)(nl - (data + used)) : len - used;
		if (p->skipping) {
			used += nl ? n + 1 : n;
			if (nl)
				p->skipping = false;
			continue;
		}
		if (p->line.len - p->seg_start + n > p->max_line) {
			used += nl ? n + 1 : n;
			p->skipping = nl == NULL;
			(void)imap_parser_tag(p);
			p->error = "Command line too long";
			*used_r = used;
			return IMAP_PARSE_ERROR;
		}
		buf_append(&p->line, data + used, n);
		used += n;
		if (nl == NULL)
			break;
		used++; /* the LF */
		if (p->line.len > p->seg_start && p->line.data[p->line.len - 1] == '\r')
			buf_truncate(&p->line, p->line.len - 1);
		uint64_t size;
		bool plus;
		int r = literal_announce(p->line.data + p->seg_start,
		    p->line.len - p->seg_start, &size, &plus);
		if (r == 0) {
			*used_r = used;
			(void)imap_parser_tag(p);
			return tokenize(p);
		}
		(void)imap_parser_tag(p);
		/* max_literal bounds the literals of one command together,
		 * max_memory those held in memory */
		size_t max_mem = p->max_memory > 0 &&
		    p->max_memory < p->max_literal ? p->max_memory :
		    p->max_literal;
		bool spill = false;
		if (r > 0 && size <= p->max_literal - p->lit_total &&
		    p->spill_dir != NULL && command_is(p, "APPEND"))
			spill = size >= p->spill_min ||
			    size > max_mem - p->mem_total;
		if (r < 0 || size > p->max_literal - p->lit_total ||
		    (!spill && size > max_mem - p->mem_total) ||
		    (spill && p->nspilled >= IMAP_MAX_SPILLED) ||
		    p->nlits >= IMAP_MAX_LITERALS) {
			/* refused before any allocation; after a non-
			 * synchronizing literal the data follows anyway */
			p->error = p->nlits >= IMAP_MAX_LITERALS ?
			    "Too many literals" : spill ? "[LIMIT] Too many "
			    "large messages in one APPEND: at most 16" :
			    "[TOOBIG] Literal too large";
			p->fatal = plus;
			*used_r = used;
			return IMAP_PARSE_ERROR;
		}
		buf_puts(&p->line, "\r\n");
		if (p->nlits == p->lits_cap) {
			p->lits_cap = p->lits_cap ? p->lits_cap * 2 : 2;
			p->lits = xreallocarray(p->lits, p->lits_cap,
			    sizeof(*p->lits));
		}
		struct imap_lit *l = &p->lits[p->nlits];
		memset(l, 0, sizeof(*l));
		buf_init(&l->data, 0);
		l->fd = -1;
		if (spill && p->spill_error == NULL) {
			p->nspilled++;
			l->fd = spill_open(p->spill_dir);
			if (l->fd < 0)
				p->spill_error = "[UNAVAILABLE] Cannot keep the "
				    "message: no temporary space on the server";
		} else if (!spill && size > 0) {
			/* grow with the data, not with the announcement: a
			 * client that announces much and sends little holds
			 * little */
			buf_reserve(&l->data,
			    (size_t)(size < 65536 ? size : 65536));
			p->mem_total += (size_t)size;
		}
		p->nlits++;
		p->lit_total += (size_t)size;
		p->lit_left = (size_t)size;
		p->in_literal = size > 0;
		p->seg_start = p->line.len;
		if (!plus) {
			*used_r = used;
			return IMAP_PARSE_CONTINUE;
		}
	}
	*used_r = used;
	return IMAP_PARSE_MORE;
}

/* ---- tokenizer over the complete command --------------------------- */

struct tok {
	struct imap_parser *p;
	const char *s, *end;
	size_t lit;
	const char *error;
};

static void
arg_add(struct imap_arg **v, size_t *n, size_t *cap, struct imap_arg *a)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = *a;
}

/* parse_list - arguments until ')' (depth > 0) or the end */
static int
parse_list(struct tok *t, unsigned depth, struct imap_arg **out, size_t *nout)
{
	struct imap_arg *v = NULL;
	size_t n = 0, cap = 0;
	bool first = true;

	for (;;) {
		struct imap_arg a;
		memset(&a, 0, sizeof(a));
		if (t->s >= t->end) {
			if (depth > 0) {
				t->error = "Missing ')'";
				goto fail;
			}
			break;
		}
		if (*t->s == ')') {
			if (depth == 0) {
				t->error = "Unexpected ')'";
				goto fail;
			}
			t->s++;
			break;
		}
		if (!first) {
			if (*t->s != ' ') {
				t->error = "Missing space between arguments";
				goto fail;
			}
			t->s++;
			if (t->s < t->end && *t->s == ')' && depth > 0)
				continue;
		}
		first = false;
		if (t->s >= t->end) {
			if (depth > 0) {
				t->error = "Missing ')'";
				goto fail;
			}
			break; /* a trailing space: lenient */
		}
		char c = *t->s;
		if (c == '(') {
			if (depth + 1 > t->p->max_depth) {
				t->error = "Too deep nesting";
				goto fail;
			}
			t->s++;
			a.type = IMAP_ARG_LIST;
			if (parse_list(t, depth + 1, &a.list, &a.count) < 0)
				goto fail;
		} else if (c == '"') {
			struct buf q;
			buf_init(&q, 0);
			t->s++;
			while (t->s < t->end && *t->s != '"') {
				if (*t->s == '\\') {
					t->s++;
					if (t->s >= t->end || (*t->s != '"' && *t->s != '\\')) {
						buf_free(&q);
						t->error = "Bad escape in quoted string";
						goto fail;
					}
				}
				buf_putc(&q, *t->s++);
			}
			if (t->s >= t->end) {
				buf_free(&q);
				t->error = "Unterminated quoted string";
				goto fail;
			}
			t->s++;
			a.type = IMAP_ARG_STRING;
			a.len = q.len;
			a.str = buf_steal(&q);
		} else if (c == '{' || (c == '~' && t->s + 1 < t->end && t->s[1] == '{')) {
			a.literal8 = c == '~';
			const char *cl = memchr(t->s, '}', (size_t)(t->end - t->s));
			if (cl == NULL || cl + 2 >= t->end + 0 || cl[1] != '\r' ||
			    cl[2] != '\n' || t->lit >= t->p->nlits) {
				t->error = "Bad literal";
				goto fail;
			}
			t->s = cl + 3;
			a.type = IMAP_ARG_LITERAL;
			struct imap_lit *l = &t->p->lits[t->lit];
			if (l->fd >= 0) {
				/* the argument owns the file from here */
				a.in_file = true;
				a.fd = l->fd;
				a.file_len = l->size;
				a.nul = l->nul;
				a.str = xstrdup("");
				l->fd = -1;
			} else {
				a.len = l->data.len;
				a.str = buf_steal(&l->data);
			}
			t->lit++;
		} else {
			const char *st = t->s;
			while (t->s < t->end) {
				unsigned char ch = (unsigned char)*t->s;
				if (ch == '[') {
					/* BODY[HEADER.FIELDS (A B)]: to the ']'; with
					 * none, '[' is an atom character (x[y) */
					const char *cb = memchr(t->s, ']', (size_t)(t->end - t->s));
					t->s = cb != NULL ? cb + 1 : t->s + 1;
					continue;
				}
				if (ch == ' ' || ch == '(' || ch == ')')
					break;
				if (!is_atom_char(ch) && ch != '\\' && ch < 0x80) {
					t->error = "Invalid character in atom";
					goto fail;
				}
				t->s++;
			}
			if (t->s == st) {
				t->error = "Empty argument";
				goto fail;
			}
			a.type = IMAP_ARG_ATOM;
			a.len = (size_t)(t->s - st);
			a.str = xstrndup(st, a.len);
		}
		arg_add(&v, &n, &cap, &a);
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	args_free(v, n);
	return -1;
}

/* tokenize - split the finished command into tag, name and arguments */
static int
tokenize(struct imap_parser *p)
{
	const char *s = p->line.data ? p->line.data : "", *end = s + p->line.len;
	const char *sp;

	if (p->line.len == 0) {
		p->error = "Empty command line";
		return IMAP_PARSE_ERROR;
	}
	if (p->spill_error != NULL) {
		(void)imap_parser_tag(p);
		p->error = p->spill_error;
		return IMAP_PARSE_ERROR;
	}
	if (strcmp(imap_parser_tag(p), "*") == 0) {
		p->error = "Missing or invalid tag";
		return IMAP_PARSE_ERROR;
	}
	s += strlen(p->tag);
	if (s >= end || *s != ' ') {
		p->error = "Missing command";
		return IMAP_PARSE_ERROR;
	}
	s++;
	sp = s;
	while (sp < end && isalnum((unsigned char)*sp))
		sp++;
	if (sp == s || (sp < end && *sp != ' ')) {
		p->error = "Invalid command name";
		return IMAP_PARSE_ERROR;
	}
	p->cmd = xstrndup(s, (size_t)(sp - s));
	for (char *c = p->cmd; *c != '\0'; c++)
		*c = (char)toupper((unsigned char)*c);
	if (sp < end)
		sp++;
	struct tok t = { .p = p, .s = sp, .end = end };
	if (parse_list(&t, 0, &p->args, &p->nargs) < 0) {
		p->error = t.error;
		return IMAP_PARSE_ERROR;
	}
	return IMAP_PARSE_DONE;
}

/* imap_arg_astring - see imap-parser.h */
const char *
imap_arg_astring(const struct imap_arg *a)
{
	/* a literal in a file is message data, never a string argument */
	return a->type == IMAP_ARG_LIST || a->in_file ? NULL : a->str;
}

/* imap_arg_is_atom - see imap-parser.h */
bool
imap_arg_is_atom(const struct imap_arg *a, const char *name)
{
	return a->type == IMAP_ARG_ATOM && strcasecmp(a->str, name) == 0;
}

/* ---- sequence sets ------------------------------------------------- */

static int
seq_number(const char **s, uint32_t *v)
{
	if (**s == '*') {
		(*s)++;
		*v = IMAP_SEQ_STAR;
		return 0;
	}
	if (!isdigit((unsigned char)**s) || **s == '0')
		return -1;
	uint64_t n = 0;
	while (isdigit((unsigned char)**s)) {
		n = n * 10 + (uint64_t)(**s - '0');
		if (n > UINT32_MAX)
			return -1;
		(*s)++;
	}
	*v = (uint32_t)n;
	return 0;
}

/* imap_seqset_parse - see imap-parser.h */
int
imap_seqset_parse(const char *s, struct imap_seqset *set, const char **error_r)
{
	memset(set, 0, sizeof(*set));
	for (size_t guard = 0; guard < 100000; guard++) {
		struct imap_range r;
		if (seq_number(&s, &r.lo) < 0)
			goto bad;
		r.hi = r.lo;
		if (*s == ':') {
			s++;
			if (seq_number(&s, &r.hi) < 0)
				goto bad;
		}
		if (r.lo > r.hi) {
			uint32_t x = r.lo;
			r.lo = r.hi;
			r.hi = x;
		}
		set->r = xreallocarray(set->r, set->n + 1, sizeof(*set->r));
		set->r[set->n++] = r;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	imap_seqset_free(set);
	*error_r = "Invalid sequence set";
	return -1;
}

/* imap_seqset_contains - see imap-parser.h */
bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t v, uint32_t star)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo == IMAP_SEQ_STAR ? star : set->r[i].lo;
		uint32_t hi = set->r[i].hi == IMAP_SEQ_STAR ? star : set->r[i].hi;
		if (lo > hi) {
			uint32_t x = lo;
			lo = hi;
			hi = x;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	xfree(&set->r);
	set->n = 0;
}

/* imap_seqset_format - see imap-parser.h */
void
imap_seqset_format(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; ) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", v[i], v[j]);
		else
			buf_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

/* ---- modified UTF-7 ------------------------------------------------ */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static void
put_utf8(struct buf *out, uint32_t c)
{
	if (c < 0x80) {
		buf_putc(out, (char)c);
	} else if (c < 0x800) {
		buf_putc(out, (char)(0xc0 | (c >> 6)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_putc(out, (char)(0xe0 | (c >> 12)));
		buf_putc(out, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_putc(out, (char)(0xf0 | (c >> 18)));
		buf_putc(out, (char)(0x80 | ((c >> 12) & 0x3f)));
		buf_putc(out, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	}
}

/* imap_mutf7_to_utf8 - see imap-parser.h */
int
imap_mutf7_to_utf8(const char *in, struct buf *out)
{
	while (*in != '\0') {
		unsigned char c = (unsigned char)*in;
		if (c >= 0x80 || c < 0x20)
			return -1;
		if (c != '&') {
			buf_putc(out, (char)c);
			in++;
			continue;
		}
		in++;
		if (*in == '-') {
			buf_putc(out, '&');
			in++;
			continue;
		}
		uint32_t acc = 0, hi = 0;
		int bits = 0;
		size_t nchars = 0;
		while (*in != '-') {
			const char *pos = *in ? strchr(b64chars, *in) : NULL;
			if (pos == NULL)
				return -1;
			acc = (acc << 6) | (uint32_t)(pos - b64chars);
			bits += 6;
			nchars++;
			in++;
			if (bits >= 16) {
				bits -= 16;
				uint32_t u = (acc >> bits) & 0xffff;
				if (u >= 0xd800 && u < 0xdc00) {
					if (hi != 0)
						return -1;
					hi = u;
				} else if (u >= 0xdc00 && u < 0xe000) {
					if (hi == 0)
						return -1;
					put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) +
					    (u - 0xdc00));
					hi = 0;
				} else {
					if (hi != 0 || u < 0x20 || (u >= 0x20 && u < 0x7f))
						return -1;
					put_utf8(out, u);
				}
			}
		}
		in++;
		if (nchars == 0 || hi != 0 || bits >= 6 ||
		    (acc & ((1u << bits) - 1)) != 0)
			return -1;
	}
	return 0;
}

/* utf8_next - decode one code point; -1 when invalid */
static int
utf8_next(const unsigned char **s, uint32_t *c)
{
	const unsigned char *p = *s;
	int n;

	if (p[0] < 0x80) {
		*c = p[0];
		n = 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		*c = p[0] & 0x1f;
		n = 2;
	} else if ((p[0] & 0xf0) == 0xe0) {
		*c = p[0] & 0x0f;
		n = 3;
	} else if ((p[0] & 0xf8) == 0xf0) {
		*c = p[0] & 0x07;
		n = 4;
	} else {
		return -1;
	}
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		*c = (*c << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && *c < 0x80) || (n == 3 && *c < 0x800) ||
	    (n == 4 && (*c < 0x10000 || *c > 0x10ffff)) ||
	    (*c >= 0xd800 && *c < 0xe000))
		return -1;
	*s = p + n;
	return 0;
}

/* imap_utf8_to_mutf7 - see imap-parser.h */
int
imap_utf8_to_mutf7(const char *in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;

	while (*s != '\0') {
		if (*s >= 0x20 && *s < 0x7f) {
			buf_putc(out, (char)*s);
			if (*s == '&')
				buf_putc(out, '-');
			s++;
			continue;
		}
		uint32_t acc = 0;
		int bits = 0;
		buf_putc(out, '&');
		while (*s != '\0' && (*s < 0x20 || *s >= 0x7f)) {
			uint32_t c;
			if (utf8_next(&s, &c) < 0)
				return -1;
			uint16_t units[2];
			int nu = 1;
			if (c >= 0x10000) {
				c -= 0x10000;
				units[0] = (uint16_t)(0xd800 + (c >> 10));
				units[1] = (uint16_t)(0xdc00 + (c & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)c;
			}
			for (int i = 0; i < nu; i++) {
				acc = (acc << 16) | units[i];
				bits += 16;
				while (bits >= 6) {
					bits -= 6;
					buf_putc(out, b64chars[(acc >> bits) & 0x3f]);
				}
			}
		}
		if (bits > 0)
			buf_putc(out, b64chars[(acc << (6 - bits)) & 0x3f]);
		buf_putc(out, '-');
	}
	return 0;
}

/* ---- dates --------------------------------------------------------- */

static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr",
	"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* imap_date_parse - see imap-parser.h */
int
imap_date_parse(const char *s, int *y, int *m, int *d)
{
	char mon[4];
	int n = 0;

	if (sscanf(s, "%2d-%3c-%4d%n", d, mon, y, &n) != 3 || s[n] != '\0')
		return -1;
	mon[3] = '\0';
	for (int i = 0; i < 12; i++)
		if (strcasecmp(mon, month_names[i]) == 0) {
			*m = i + 1;
			return *d >= 1 && *d <= 31 && *y >= 1900 ? 0 : -1;
		}
	return -1;
}

/* imap_datetime_parse - see imap-parser.h */
int
imap_datetime_parse(const char *s, time_t *t_r, int *tz_r)
{
	char date[16];
	int y, m, d, hh, mm, ss, n = 0;
	char sign;
	int zone;

	if (*s == ' ')
		s++;
	if (sscanf(s, "%11s %2d:%2d:%2d %c%4d%n", date, &hh, &mm, &ss, &sign,
	    &zone, &n) != 6 || s[n] != '\0' || (sign != '+' && sign != '-'))
		return -1;
	if (imap_date_parse(date, &y, &m, &d) < 0 || hh > 23 || mm > 59 ||
	    ss > 60 || zone % 100 > 59)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d,
	    .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	int tz = (zone / 100) * 60 + zone % 100;
	if (sign == '-')
		tz = -tz;
	*t_r = timegm(&tm) - (time_t)tz * 60;
	*tz_r = tz;
	return 0;
}

/* imap_datetime_format - see imap-parser.h */
void
imap_datetime_format(struct buf *out, time_t t, int tz)
{
	time_t local = t + (time_t)tz * 60;
	struct tm tm;

	gmtime_r(&local, &tm);
	int a = tz < 0 ? -tz : tz;
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday,
	    month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, tz < 0 ? '-' : '+', a / 60, a % 60);
}
