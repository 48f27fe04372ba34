/* sieve-parse - Sieve lexer, parser and checker (RFC 5228 2, 8): a script
 * becomes a tree of commands and tests, each with its tagged and
 * positional arguments resolved (sieve-private.h); every error is
 * "line:col: message". */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sieve-private.h"
#include "strutil.h"
#include "xalloc.h"

static const struct {
	const char *name;
	unsigned bit;
} extensions[] = {
	{ "fileinto", EXT_FILEINTO },
	{ "envelope", EXT_ENVELOPE },
	{ "reject", EXT_REJECT },
	{ "ereject", EXT_EREJECT },
	{ "vacation", EXT_VACATION },
	{ "imap4flags", EXT_IMAP4FLAGS },
	{ "copy", EXT_COPY },
	{ "body", EXT_BODY },
	{ "relational", EXT_RELATIONAL },
	{ "variables", EXT_VARIABLES },
	{ "subaddress", EXT_SUBADDRESS },
	{ "comparator-i;ascii-numeric", EXT_NUMERIC },
	{ "vnd.postern.noautoreply", EXT_NOAUTOREPLY },
	{ "comparator-i;octet", 0 },
	{ "comparator-i;ascii-casemap", 0 },
};

const char *
sieve_extensions(void)
{
	return "fileinto envelope reject ereject vacation imap4flags copy body "
	    "relational variables subaddress comparator-i;ascii-numeric "
	    "vnd.postern.noautoreply";
}

/* ------------------------------------------------------------- lexer */

enum tok {
	T_EOF, T_ID, T_TAG, T_NUM, T_STR, T_LBRACK, T_RBRACK, T_COMMA,
	T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_SEMI,
};

struct parser {
	const char *p, *end;
	int line, col;
	/* the current token */
	enum tok t;
	int tline, tcol;
	struct buf s;            /* identifier, tag or string text */
	uint64_t num;
	char *err;
	unsigned exts;           /* required so far */
	bool past_require;       /* another command seen: no more require */
};

static int
perr(struct parser *ps, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
perr(struct parser *ps, int line, int col, const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	if (ps->err != NULL)
		return -1;
	buf_init(&b, 0);
	buf_printf(&b, "%d:%d: ", line, col);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	ps->err = buf_steal(&b);
	return -1;
}

static int
lx_getc(struct parser *ps)
{
	if (ps->p >= ps->end)
		return -1;
	int c = (unsigned char)*ps->p++;
	if (c == '\n') {
		ps->line++;
		ps->col = 1;
	} else {
		ps->col++;
	}
	return c;
}

static int
lx_peek(const struct parser *ps, size_t off)
{
	return ps->p + off < ps->end ? (unsigned char)ps->p[off] : -1;
}

/* lx_skip - blanks and comments */
static int
lx_skip(struct parser *ps)
{
	for (;;) {
		int c = lx_peek(ps, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx_getc(ps);
		} else if (c == '#') {
			while ((c = lx_peek(ps, 0)) != -1 && c != '\n')
				lx_getc(ps);
		} else if (c == '/' && lx_peek(ps, 1) == '*') {
			int l = ps->line, co = ps->col;
			lx_getc(ps);
			lx_getc(ps);
			for (;;) {
				c = lx_getc(ps);
				if (c == -1)
					return perr(ps, l, co, "unterminated comment");
				if (c == '*' && lx_peek(ps, 0) == '/') {
					lx_getc(ps);
					break;
				}
			}
		} else {
			return 0;
		}
	}
}

static int
str_add(struct parser *ps, int c)
{
	if (ps->s.len >= SIEVE_STRING_MAX)
		return perr(ps, ps->tline, ps->tcol, "string longer than %d bytes",
		    SIEVE_STRING_MAX);
	buf_putc(&ps->s, (char)c);
	return 0;
}

/* lx_multiline - "text:" up to a line holding only "." */
static int
lx_multiline(struct parser *ps)
{
	int c;

	/* the rest of the "text:" line: blanks and an optional comment */
	while ((c = lx_peek(ps, 0)) == ' ' || c == '\t')
		lx_getc(ps);
	if (c == '#')
		while ((c = lx_peek(ps, 0)) != -1 && c != '\n')
			lx_getc(ps);
	if (c == '\r')
		lx_getc(ps), c = lx_peek(ps, 0);
	if (c != '\n')
		return perr(ps, ps->line, ps->col,
		    "expected end of line after text:");
	lx_getc(ps);
	for (;;) {
		/* at the start of a line */
		if (lx_peek(ps, 0) == '.') {
			int n1 = lx_peek(ps, 1);
			if (n1 == '\n' || (n1 == '\r' && lx_peek(ps, 2) == '\n')) {
				lx_getc(ps);
				if (n1 == '\r')
					lx_getc(ps);
				lx_getc(ps);
				return 0;
			}
			if (n1 == '.')
				lx_getc(ps);   /* dot-stuffing */
		}
		for (;;) {
			c = lx_getc(ps);
			if (c == -1)
				return perr(ps, ps->tline, ps->tcol,
				    "unterminated multi-line string");
			if (c == '\r' && lx_peek(ps, 0) == '\n')
				continue;   /* stored as CRLF below */
			if (c == '\n') {
				if (str_add(ps, '\r') < 0 || str_add(ps, '\n') < 0)
					return -1;
				break;
			}
			if (str_add(ps, c) < 0)
				return -1;
		}
	}
}

/* lx_next - the next token into ps */
static int
lx_next(struct parser *ps)
{
	int c;

	if (lx_skip(ps) < 0)
		return -1;
	ps->tline = ps->line;
	ps->tcol = ps->col;
	buf_reset(&ps->s);
	c = lx_getc(ps);
	switch (c) {
	case -1: ps->t = T_EOF; return 0;
	case '[': ps->t = T_LBRACK; return 0;
	case ']': ps->t = T_RBRACK; return 0;
	case ',': ps->t = T_COMMA; return 0;
	case '(': ps->t = T_LPAREN; return 0;
	case ')': ps->t = T_RPAREN; return 0;
	case '{': ps->t = T_LBRACE; return 0;
	case '}': ps->t = T_RBRACE; return 0;
	case ';': ps->t = T_SEMI; return 0;
	case '"':
		ps->t = T_STR;
		for (;;) {
			c = lx_getc(ps);
			if (c == -1)
				return perr(ps, ps->tline, ps->tcol,
				    "unterminated string");
			if (c == '"')
				break;
			if (c == '\\') {
				c = lx_getc(ps);
				if (c == -1)
					return perr(ps, ps->tline, ps->tcol,
					    "unterminated string");
			}
			if (str_add(ps, c) < 0)
				return -1;
		}
		buf_putc(&ps->s, '\0');
		ps->s.len--;
		return 0;
	case ':':
		c = lx_peek(ps, 0);
		if (!(isalpha(c) || c == '_'))
			return perr(ps, ps->tline, ps->tcol, "bad tag");
		ps->t = T_TAG;
		while ((c = lx_peek(ps, 0)) != -1 && (isalnum(c) || c == '_')) {
			if (str_add(ps, lx_getc(ps)) < 0)
				return -1;
		}
		buf_putc(&ps->s, '\0');
		ps->s.len--;
		return 0;
	default:
		break;
	}
	if (c >= '0' && c <= '9') {
		uint64_t v = (uint64_t)(c - '0');
		while ((c = lx_peek(ps, 0)) >= '0' && c <= '9') {
			lx_getc(ps);
			if (v > (UINT64_C(1) << 50))
				return perr(ps, ps->tline, ps->tcol,
				    "number too large");
			v = v * 10 + (uint64_t)(c - '0');
		}
		c = lx_peek(ps, 0);
		unsigned shift = 0;
		if (c == 'K' || c == 'k')
			shift = 10;
		else if (c == 'M' || c == 'm')
			shift = 20;
		else if (c == 'G' || c == 'g')
			shift = 30;
		if (shift) {
			lx_getc(ps);
			if (v > (UINT64_C(1) << (62 - shift)))
				return perr(ps, ps->tline, ps->tcol,
				    "number too large");
			v <<= shift;
		}
		c = lx_peek(ps, 0);
		if (c != -1 && (isalnum(c) || c == '_'))
			return perr(ps, ps->tline, ps->tcol, "bad number");
		ps->t = T_NUM;
		ps->num = v;
		return 0;
	}
	if (isalpha(c) || c == '_') {
		buf_putc(&ps->s, (char)c);
		while ((c = lx_peek(ps, 0)) != -1 && (isalnum(c) || c == '_')) {
			if (str_add(ps, lx_getc(ps)) < 0)
				return -1;
		}
		buf_putc(&ps->s, '\0');
		ps->s.len--;
		if (strcmp(ps->s.data, "text") == 0 && lx_peek(ps, 0) == ':') {
			lx_getc(ps);
			ps->t = T_STR;
			buf_reset(&ps->s);
			if (lx_multiline(ps) < 0)
				return -1;
			buf_putc(&ps->s, '\0');
			ps->s.len--;
			return 0;
		}
		ps->t = T_ID;
		return 0;
	}
	if (c >= 0x20 && c < 0x7f)
		return perr(ps, ps->tline, ps->tcol, "unexpected character '%c'", c);
	return perr(ps, ps->tline, ps->tcol, "unexpected byte 0x%02x", c);
}

static char *
tok_str(struct parser *ps)
{
	return xstrndup(ps->s.data ? ps->s.data : "", ps->s.len);
}

/* ------------------------------------------------------------ parser */

static void
strlist_free(struct sv_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
node_free(struct sv_node *n)
{
	if (n == NULL)
		return;
	free(n->name);
	for (size_t i = 0; i < n->nargs; i++) {
		strlist_free(&n->args[i].sl);
		free(n->args[i].tag);
	}
	free(n->args);
	for (size_t i = 0; i < n->ntests; i++)
		node_free(n->tests[i]);
	free(n->tests);
	for (size_t i = 0; i < n->nblock; i++)
		node_free(n->block[i]);
	free(n->block);
	free(n);
}

void
sieve_script_free(struct sieve_script **sp)
{
	struct sieve_script *s = *sp;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ncmds; i++)
		node_free(s->cmds[i]);
	free(s->cmds);
	free(s);
	*sp = NULL;
}

static int parse_test(struct parser *ps, int depth, struct sv_node **out);
static int parse_commands(struct parser *ps, int depth, struct sv_node ***v,
			  size_t *n, bool in_block);
static int check_node(struct parser *ps, struct sv_node *n, bool test);

static struct sv_arg *
arg_new(struct sv_node *n, int kind, int line, int col)
{
	n->args = xreallocarray(n->args, n->nargs + 1, sizeof(*n->args));
	struct sv_arg *a = &n->args[n->nargs++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->line = line;
	a->col = col;
	return a;
}

static int
strlist_add(struct parser *ps, struct sv_strlist *l)
{
	if (l->n >= SIEVE_LIST_MAX)
		return perr(ps, ps->tline, ps->tcol, "more than %d strings in a list",
		    SIEVE_LIST_MAX);
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = tok_str(ps);
	return 0;
}

/* parse_arguments - arguments, then a test or test list; leaves the
 * token after them */
static int
parse_arguments(struct parser *ps, struct sv_node *n, int depth, bool want_tests)
{
	for (;;) {
		if (n->nargs >= 64)
			return perr(ps, ps->tline, ps->tcol, "too many arguments");
		if (ps->t == T_TAG) {
			struct sv_arg *a = arg_new(n, ARG_TAG, ps->tline, ps->tcol);
			a->tag = tok_str(ps);
		} else if (ps->t == T_NUM) {
			struct sv_arg *a = arg_new(n, ARG_NUM, ps->tline, ps->tcol);
			a->num = ps->num;
		} else if (ps->t == T_STR) {
			struct sv_arg *a = arg_new(n, ARG_STRS, ps->tline, ps->tcol);
			if (strlist_add(ps, &a->sl) < 0)
				return -1;
		} else if (ps->t == T_LBRACK) {
			struct sv_arg *a = arg_new(n, ARG_STRS, ps->tline, ps->tcol);
			a->sl.is_list = true;
			for (;;) {
				if (lx_next(ps) < 0)
					return -1;
				if (ps->t != T_STR)
					return perr(ps, ps->tline, ps->tcol,
					    "expected a string in the list");
				if (strlist_add(ps, &a->sl) < 0)
					return -1;
				if (lx_next(ps) < 0)
					return -1;
				if (ps->t == T_RBRACK)
					break;
				if (ps->t != T_COMMA)
					return perr(ps, ps->tline, ps->tcol,
					    "expected ',' or ']' in a string list");
			}
		} else {
			break;
		}
		if (lx_next(ps) < 0)
			return -1;
	}
	if (!want_tests)
		return 0;
	if (ps->t == T_ID) {
		struct sv_node *t;
		if (parse_test(ps, depth + 1, &t) < 0)
			return -1;
		n->tests = xmalloc(sizeof(*n->tests));
		n->tests[0] = t;
		n->ntests = 1;
	} else if (ps->t == T_LPAREN) {
		n->test_list = true;
		for (;;) {
			struct sv_node *t;
			if (lx_next(ps) < 0)
				return -1;
			if (ps->t != T_ID)
				return perr(ps, ps->tline, ps->tcol, "expected a test");
			if (n->ntests >= SIEVE_LIST_MAX)
				return perr(ps, ps->tline, ps->tcol, "too many tests");
			if (parse_test(ps, depth + 1, &t) < 0)
				return -1;
			n->tests = xreallocarray(n->tests, n->ntests + 1,
			    sizeof(*n->tests));
			n->tests[n->ntests++] = t;
			if (ps->t == T_RPAREN)
				break;
			if (ps->t != T_COMMA)
				return perr(ps, ps->tline, ps->tcol,
				    "expected ',' or ')' in a test list");
		}
		if (lx_next(ps) < 0)
			return -1;
	}
	return 0;
}

/* parse_test - an identifier and its arguments; the token after */
static int
parse_test(struct parser *ps, int depth, struct sv_node **out)
{
	struct sv_node *n = xcalloc(1, sizeof(*n));

	*out = NULL;
	if (depth > SIEVE_DEPTH_MAX) {
		node_free(n);
		return perr(ps, ps->tline, ps->tcol, "nesting deeper than %d",
		    SIEVE_DEPTH_MAX);
	}
	n->name = tok_str(ps);
	n->line = ps->tline;
	n->col = ps->tcol;
	if (lx_next(ps) < 0 || parse_arguments(ps, n, depth, true) < 0 ||
	    check_node(ps, n, true) < 0) {
		node_free(n);
		return -1;
	}
	*out = n;
	return 0;
}

/* parse_command - identifier arguments (";" / block) */
static int
parse_command(struct parser *ps, int depth, struct sv_node **out)
{
	struct sv_node *n = xcalloc(1, sizeof(*n));

	*out = NULL;
	n->name = tok_str(ps);
	n->line = ps->tline;
	n->col = ps->tcol;
	if (depth > SIEVE_DEPTH_MAX) {
		node_free(n);
		return perr(ps, ps->tline, ps->tcol, "nesting deeper than %d",
		    SIEVE_DEPTH_MAX);
	}
	if (lx_next(ps) < 0 || parse_arguments(ps, n, depth, true) < 0)
		goto fail;
	if (ps->t == T_LBRACE) {
		n->has_block = true;
		if (lx_next(ps) < 0 ||
		    parse_commands(ps, depth + 1, &n->block, &n->nblock, true) < 0)
			goto fail;
		/* parse_commands stops at '}' */
		if (lx_next(ps) < 0)
			goto fail;
	} else if (ps->t == T_SEMI) {
		if (lx_next(ps) < 0)
			goto fail;
	} else {
		perr(ps, ps->tline, ps->tcol, "expected ';' or '{' after %s",
		    n->name);
		goto fail;
	}
	if (check_node(ps, n, false) < 0)
		goto fail;
	*out = n;
	return 0;
fail:
	node_free(n);
	return -1;
}

static int
parse_commands(struct parser *ps, int depth, struct sv_node ***v, size_t *nv,
	       bool in_block)
{
	for (;;) {
		if (ps->t == T_EOF) {
			if (in_block)
				return perr(ps, ps->tline, ps->tcol,
				    "missing '}' at end of script");
			return 0;
		}
		if (ps->t == T_RBRACE) {
			if (!in_block)
				return perr(ps, ps->tline, ps->tcol, "unexpected '}'");
			return 0;
		}
		if (ps->t != T_ID)
			return perr(ps, ps->tline, ps->tcol, "expected a command");
		struct sv_node *c;
		if (parse_command(ps, depth, &c) < 0)
			return -1;
		/* elsif/else must follow if/elsif */
		if (c->op == OP_ELSIF || c->op == OP_ELSE) {
			int prev = *nv > 0 ? (*v)[*nv - 1]->op : -1;
			if (prev != OP_IF && prev != OP_ELSIF) {
				perr(ps, c->line, c->col, "%s without if", c->name);
				node_free(c);
				return -1;
			}
		}
		*v = xreallocarray(*v, *nv + 1, sizeof(**v));
		(*v)[(*nv)++] = c;
	}
}

/* ----------------------------------------------------------- checking */

static const struct {
	const char *name;
	int op;
	bool test;
	unsigned ext;
} commands[] = {
	{ "if", OP_IF, false, 0 },
	{ "elsif", OP_ELSIF, false, 0 },
	{ "else", OP_ELSE, false, 0 },
	{ "require", OP_REQUIRE, false, 0 },
	{ "stop", OP_STOP, false, 0 },
	{ "keep", OP_KEEP, false, 0 },
	{ "discard", OP_DISCARD, false, 0 },
	{ "fileinto", OP_FILEINTO, false, EXT_FILEINTO },
	{ "redirect", OP_REDIRECT, false, 0 },
	{ "reject", OP_REJECT, false, EXT_REJECT },
	{ "ereject", OP_EREJECT, false, EXT_EREJECT },
	{ "vacation", OP_VACATION, false, EXT_VACATION },
	{ "setflag", OP_SETFLAG, false, EXT_IMAP4FLAGS },
	{ "addflag", OP_ADDFLAG, false, EXT_IMAP4FLAGS },
	{ "removeflag", OP_REMOVEFLAG, false, EXT_IMAP4FLAGS },
	{ "set", OP_SET, false, EXT_VARIABLES },
	{ "noautoreply", OP_NOAUTOREPLY, false, EXT_NOAUTOREPLY },
	{ "address", OP_ADDRESS, true, 0 },
	{ "envelope", OP_ENVELOPE, true, EXT_ENVELOPE },
	{ "header", OP_HEADER, true, 0 },
	{ "exists", OP_EXISTS, true, 0 },
	{ "size", OP_SIZE, true, 0 },
	{ "allof", OP_ALLOF, true, 0 },
	{ "anyof", OP_ANYOF, true, 0 },
	{ "not", OP_NOT, true, 0 },
	{ "true", OP_TRUE, true, 0 },
	{ "false", OP_FALSE, true, 0 },
	{ "body", OP_BODY, true, EXT_BODY },
	{ "string", OP_STRING, true, EXT_VARIABLES },
	{ "hasflag", OP_HASFLAG, true, EXT_IMAP4FLAGS },
};

static const char *
ext_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (extensions[i].bit == bit)
			return extensions[i].name;
	return "?";
}

static bool
op_is_match_test(int op)
{
	return op == OP_ADDRESS || op == OP_ENVELOPE || op == OP_HEADER ||
	    op == OP_BODY || op == OP_STRING || op == OP_HASFLAG;
}

/* valid_var_name - identifier (RFC 5229 3) */
static bool
valid_var_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* check_address - a redirect target: local@domain */
static bool
check_address(const char *a)
{
	const char *at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == ',' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

/* has_ctl - a control character (CR, LF, ...; not TAB) in s */
static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') ||
		    (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static bool
has_vars(const struct parser *ps, const char *s)
{
	return (ps->exts & EXT_VARIABLES) && strstr(s, "${") != NULL;
}

/* take_tag - a tagged argument (and its value, args[*i + 1]) */
static int
take_tag(struct parser *ps, struct sv_node *n, size_t *i)
{
	struct sv_arg *a = &n->args[*i];
	struct sv_spec *sp = &n->sp;
	const char *t = a->tag;
	struct sv_arg *next = *i + 1 < n->nargs ? &n->args[*i + 1] : NULL;
	int op = n->op;

#define NEED(ext) do { if (!(ps->exts & (ext))) return perr(ps, a->line, \
	a->col, ":%s needs require \"%s\"", t, ext_name(ext)); } while (0)
#define VALUE(k) do { if (next == NULL || next->kind != (k)) \
	return perr(ps, a->line, a->col, ":%s needs a %s", t, \
	    (k) == ARG_NUM ? "number" : "string"); (*i)++; } while (0)
#define ONE_STRING() do { VALUE(ARG_STRS); if (next->sl.n != 1 || \
	next->sl.is_list) return perr(ps, next->line, next->col, \
	":%s needs a single string", t); } while (0)

	if (op_is_match_test(op) &&
	    (!strcmp(t, "is") || !strcmp(t, "contains") || !strcmp(t, "matches") ||
	    !strcmp(t, "value") || !strcmp(t, "count"))) {
		if (sp->match != 0)
			return perr(ps, a->line, a->col, "more than one match type");
		if (!strcmp(t, "is"))
			sp->match = M_IS;
		else if (!strcmp(t, "contains"))
			sp->match = M_CONTAINS;
		else if (!strcmp(t, "matches"))
			sp->match = M_MATCHES;
		else {
			NEED(EXT_RELATIONAL);
			sp->match = t[0] == 'v' ? M_VALUE : M_COUNT;
			ONE_STRING();
			const char *r = next->sl.v[0];
			static const char *const rels[] = { "gt", "ge", "lt", "le",
			    "eq", "ne" };
			sp->relop = -1;
			for (int k = 0; k < 6; k++)
				if (str_eq_ci(r, rels[k]))
					sp->relop = k;
			if (sp->relop < 0)
				return perr(ps, next->line, next->col,
				    "unknown relational operator \"%s\"", r);
		}
		return 0;
	}
	if (op_is_match_test(op) && !strcmp(t, "comparator")) {
		ONE_STRING();
		const char *c = next->sl.v[0];
		if (!strcmp(c, "i;octet"))
			sp->comp = C_OCTET;
		else if (!strcmp(c, "i;ascii-casemap"))
			sp->comp = C_CASEMAP;
		else if (!strcmp(c, "i;ascii-numeric")) {
			if (!(ps->exts & EXT_NUMERIC))
				return perr(ps, next->line, next->col,
				    "comparator \"%s\" needs require "
				    "\"comparator-i;ascii-numeric\"", c);
			sp->comp = C_NUMERIC;
		} else
			return perr(ps, next->line, next->col,
			    "unknown comparator \"%s\"", c);
		return 0;
	}
	if ((op == OP_ADDRESS || op == OP_ENVELOPE) &&
	    (!strcmp(t, "all") || !strcmp(t, "localpart") || !strcmp(t, "domain") ||
	    !strcmp(t, "user") || !strcmp(t, "detail"))) {
		if (sp->addrpart != 0)
			return perr(ps, a->line, a->col, "more than one address part");
		if (t[0] == 'u' || (t[0] == 'd' && t[1] == 'e'))
			NEED(EXT_SUBADDRESS);
		sp->addrpart = t[0] == 'a' ? A_ALL : t[0] == 'l' ? A_LOCAL :
		    t[0] == 'u' ? A_USER : t[1] == 'o' ? A_DOMAIN : A_DETAIL;
		return 0;
	}
	if (op == OP_BODY && (!strcmp(t, "raw") || !strcmp(t, "text") ||
	    !strcmp(t, "content"))) {
		if (sp->transform != 0)
			return perr(ps, a->line, a->col, "more than one body transform");
		sp->transform = t[0] == 'r' ? B_RAW : t[0] == 't' ? B_TEXT : B_CONTENT;
		if (sp->transform == B_CONTENT) {
			VALUE(ARG_STRS);
			sp->ctypes = &next->sl;
		}
		return 0;
	}
	if ((op == OP_FILEINTO || op == OP_REDIRECT) && !strcmp(t, "copy")) {
		NEED(EXT_COPY);
		sp->copy = true;
		return 0;
	}
	if ((op == OP_FILEINTO || op == OP_KEEP) && !strcmp(t, "flags")) {
		NEED(EXT_IMAP4FLAGS);
		VALUE(ARG_STRS);
		sp->flags = &next->sl;
		return 0;
	}
	if (op == OP_FILEINTO && !strcmp(t, "create"))
		return perr(ps, a->line, a->col, ":create needs require \"mailbox\" "
		    "(not supported: fileinto creates missing folders anyway)");
	if (op == OP_SIZE && (!strcmp(t, "over") || !strcmp(t, "under"))) {
		if (sp->sizeop != 0)
			return perr(ps, a->line, a->col, "more than one of :over, :under");
		sp->sizeop = t[0] == 'o' ? 1 : 2;
		return 0;
	}
	if (op == OP_VACATION) {
		if (!strcmp(t, "days")) {
			VALUE(ARG_NUM);
			sp->seconds = next->num * 86400;
			sp->seconds_set = true;
			return 0;
		}
		if (!strcmp(t, "subject") || !strcmp(t, "from") ||
		    !strcmp(t, "handle")) {
			ONE_STRING();
			const char **dst = t[0] == 's' ? &sp->subject :
			    t[0] == 'f' ? &sp->from : &sp->handle;
			*dst = next->sl.v[0];
			if (t[0] == 'f' && !has_vars(ps, *dst) &&
			    strchr(*dst, '@') == NULL)
				return perr(ps, next->line, next->col,
				    ":from needs an address");
			/* both become header fields of the reply (a value
			 * made by variables is cleaned when it is sent) */
			if (t[0] != 'h' && has_ctl(*dst))
				return perr(ps, next->line, next->col,
				    ":%s: no control characters (line breaks) "
				    "in a header field", t);
			return 0;
		}
		if (!strcmp(t, "addresses")) {
			VALUE(ARG_STRS);
			sp->addresses = &next->sl;
			return 0;
		}
		if (!strcmp(t, "mime")) {
			sp->mime = true;
			return 0;
		}
	}
	if (op == OP_SET) {
		static const char *const mods[] = { "lower", "upper", "lowerfirst",
		    "upperfirst", "quotewildcard", "length" };
		for (unsigned k = 0; k < 6; k++)
			if (!strcmp(t, mods[k])) {
				sp->mods |= 1u << k;
				return 0;
			}
	}
	return perr(ps, a->line, a->col, "unknown tag :%s for %s", t, n->name);
#undef NEED
#undef VALUE
#undef ONE_STRING
}

/* check_node - resolve a command or test: its extension, its tagged
 * arguments, the count and kind of its positional ones, tests, block */
static int
check_node(struct parser *ps, struct sv_node *n, bool test)
{
	struct sv_spec *sp = &n->sp;
	struct sv_arg *pos[4];
	size_t npos = 0;
	size_t k;

	n->op = -1;
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(commands[k].name, n->name) == 0)
			break;
	if (k == sizeof(commands) / sizeof(commands[0]) || commands[k].test != test)
		return perr(ps, n->line, n->col, "unknown %s \"%s\"",
		    test ? "test" : "command", n->name);
	n->op = commands[k].op;
	if (commands[k].ext != 0 && !(ps->exts & commands[k].ext))
		return perr(ps, n->line, n->col, "%s needs require \"%s\"",
		    n->name, ext_name(commands[k].ext));
	if (n->op == OP_REQUIRE) {
		if (ps->past_require)
			return perr(ps, n->line, n->col,
			    "require must come before other commands");
	} else if (!test) {
		ps->past_require = true;
	}
	for (size_t i = 0; i < n->nargs; i++) {
		if (n->args[i].kind == ARG_TAG) {
			if (take_tag(ps, n, &i) < 0)
				return -1;
			continue;
		}
		if (npos == 4)
			return perr(ps, n->args[i].line, n->args[i].col,
			    "too many arguments for %s", n->name);
		pos[npos++] = &n->args[i];
	}
	if (sp->match == 0)
		sp->match = M_IS;
	if (sp->comp == 0)
		sp->comp = C_CASEMAP;
	if (sp->addrpart == 0)
		sp->addrpart = A_ALL;
	if (sp->transform == 0)
		sp->transform = B_TEXT;
	if (sp->comp == C_NUMERIC && (sp->match == M_CONTAINS ||
	    sp->match == M_MATCHES))
		return perr(ps, n->line, n->col,
		    "i;ascii-numeric cannot do :contains or :matches");

	/* positional arguments: a letter per argument, s string, l string
	 * list, n number; '?' makes the first optional (imap4flags) */
	const char *want = "";
	bool want_test = false, want_tests = false, want_block = false;
	switch (n->op) {
	case OP_IF: case OP_ELSIF:
		want_test = want_block = true; break;
	case OP_ELSE:
		want_block = true; break;
	case OP_REQUIRE: want = "l"; break;
	case OP_STOP: case OP_KEEP: case OP_DISCARD: case OP_NOAUTOREPLY:
		break;
	case OP_FILEINTO: case OP_REDIRECT: case OP_REJECT: case OP_EREJECT:
	case OP_VACATION:
		want = "s"; break;
	case OP_SETFLAG: case OP_ADDFLAG: case OP_REMOVEFLAG:
		want = npos == 2 ? "sl" : "l"; break;
	case OP_SET: want = "ss"; break;
	case OP_ADDRESS: case OP_HEADER: case OP_STRING:
		want = "ll"; break;
	case OP_ENVELOPE: want = "ll"; break;
	case OP_EXISTS: want = "l"; break;
	case OP_SIZE: want = "n"; break;
	case OP_ALLOF: case OP_ANYOF: want_tests = true; break;
	case OP_NOT: want_test = true; break;
	case OP_TRUE: case OP_FALSE: break;
	case OP_BODY: want = "l"; break;
	case OP_HASFLAG: want = npos == 2 ? "ll" : "l"; break;
	}
	if (npos != strlen(want))
		return perr(ps, n->line, n->col, "%s takes %zu positional "
		    "argument%s, not %zu", n->name, strlen(want),
		    strlen(want) == 1 ? "" : "s", npos);
	for (size_t i = 0; i < npos; i++) {
		char w = want[i];
		if (w == 'n' && pos[i]->kind != ARG_NUM)
			return perr(ps, pos[i]->line, pos[i]->col,
			    "%s expects a number", n->name);
		if (w != 'n' && pos[i]->kind != ARG_STRS)
			return perr(ps, pos[i]->line, pos[i]->col,
			    "%s expects a string%s", n->name, w == 'l' ? " list" : "");
		if (w == 's' && (pos[i]->sl.is_list || pos[i]->sl.n != 1))
			return perr(ps, pos[i]->line, pos[i]->col,
			    "%s expects a single string", n->name);
	}
	if (want_test && (n->ntests != 1 || n->test_list))
		return perr(ps, n->line, n->col, "%s needs one test", n->name);
	if (want_tests && !n->test_list)
		return perr(ps, n->line, n->col, "%s needs a test list", n->name);
	if (!want_test && !want_tests && n->ntests > 0)
		return perr(ps, n->tests[0]->line, n->tests[0]->col,
		    "%s takes no test", n->name);
	if (want_block && !n->has_block)
		return perr(ps, n->line, n->col, "%s needs a block", n->name);
	if (!want_block && n->has_block)
		return perr(ps, n->line, n->col, "%s takes no block", n->name);
	if (n->op == OP_SIZE && sp->sizeop == 0)
		return perr(ps, n->line, n->col, "size needs :over or :under");

	for (size_t i = 0; i < npos && i < 2; i++)
		sp->p[i] = &pos[i]->sl;
	if (npos > 0 && pos[0]->kind == ARG_NUM)
		sp->num = pos[0]->num;

	switch (n->op) {
	case OP_REQUIRE:
		for (size_t i = 0; i < sp->p[0]->n; i++) {
			const char *e = sp->p[0]->v[i];
			size_t x;
			for (x = 0; x < sizeof(extensions) / sizeof(extensions[0]); x++)
				if (strcmp(extensions[x].name, e) == 0)
					break;
			if (x == sizeof(extensions) / sizeof(extensions[0]))
				return perr(ps, pos[0]->line, pos[0]->col,
				    "unsupported extension \"%s\"", e);
			ps->exts |= extensions[x].bit;
		}
		break;
	case OP_REDIRECT:
		if (!has_vars(ps, sp->p[0]->v[0]) && !check_address(sp->p[0]->v[0]))
			return perr(ps, pos[0]->line, pos[0]->col,
			    "redirect: bad address \"%s\"", sp->p[0]->v[0]);
		break;
	case OP_ENVELOPE:
		for (size_t i = 0; i < sp->p[0]->n; i++) {
			const char *e = sp->p[0]->v[i];
			if (!str_eq_ci(e, "from") && !str_eq_ci(e, "to"))
				return perr(ps, pos[0]->line, pos[0]->col,
				    "envelope part \"%s\" not supported "
				    "(from, to)", e);
		}
		break;
	case OP_SET:
		if (!valid_var_name(sp->p[0]->v[0]))
			return perr(ps, pos[0]->line, pos[0]->col,
			    "bad variable name \"%s\"", sp->p[0]->v[0]);
		break;
	case OP_SETFLAG: case OP_ADDFLAG: case OP_REMOVEFLAG: case OP_HASFLAG:
		if (npos == 2) {
			for (size_t i = 0; i < sp->p[0]->n; i++)
				if (!valid_var_name(sp->p[0]->v[i]))
					return perr(ps, pos[0]->line, pos[0]->col,
					    "bad variable name \"%s\"",
					    sp->p[0]->v[i]);
			if (!(ps->exts & EXT_VARIABLES))
				return perr(ps, pos[0]->line, pos[0]->col,
				    "a flag variable needs require \"variables\"");
			sp->flagvars = sp->p[0];
			sp->p[0] = sp->p[1];
			sp->p[1] = NULL;
		}
		break;
	case OP_VACATION:
		sp->reason = sp->p[0]->v[0];
		if (!sp->seconds_set)
			sp->seconds = 7 * 86400;
		if (sp->seconds < 86400)
			sp->seconds = 86400;
		if (sp->seconds > 365ull * 86400)
			sp->seconds = 365ull * 86400;
		break;
	default:
		break;
	}
	return 0;
}

struct sieve_script *
sieve_compile(const char *text, size_t len, char **error_r)
{
	struct parser ps;
	struct sieve_script *s = xcalloc(1, sizeof(*s));

	*error_r = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	ps.line = ps.col = 1;
	buf_init(&ps.s, 0);
	if (len > SIEVE_SCRIPT_MAX) {
		perr(&ps, 1, 1, "script larger than %d bytes", SIEVE_SCRIPT_MAX);
		goto fail;
	}
	if (lx_next(&ps) < 0 ||
	    parse_commands(&ps, 0, &s->cmds, &s->ncmds, false) < 0)
		goto fail;
	s->exts = ps.exts;
	buf_free(&ps.s);
	return s;
fail:
	buf_free(&ps.s);
	sieve_script_free(&s);
	*error_r = ps.err != NULL ? ps.err : xstrdup("1:1: error");
	return NULL;
}
