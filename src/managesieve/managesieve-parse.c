/* managesieve-parse - the ManageSieve command reader (see the header) */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "managesieve-parse.h"
#include "xalloc.h"

void
cmd_clear(struct ms_cmd *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	memset(c, 0, sizeof(*c));
}

/* ms_parse - one command from data[0..len): 1 complete (*used_r bytes),
 * 0 need more, -1 bad command (*used_r: up to the end of the line, or 0
 * when the line is not complete yet) with *error_r. max_lit bounds a
 * literal. */
static int
ms_parse1(const char *data, size_t len, size_t max_lit, struct ms_cmd *c,
	  size_t *used_r, const char **error_r)
{
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	*used_r = 0;
	/* the verb (or, for a SASL response, nothing) */
	while (i < len && isalpha((unsigned char)data[i])) {
		if (i + 1 >= sizeof(c->verb)) {
			*error_r = "command too long";
			goto bad;
		}
		c->verb[i] = (char)toupper((unsigned char)data[i]);
		i++;
	}
	for (;;) {
		if (i >= len)
			return 0;
		if (data[i] == '\r' && i + 1 >= len)
			return 0;
		if (data[i] == '\n' || (data[i] == '\r' && data[i + 1] == '\n')) {
			*used_r = i + (data[i] == '\r' ? 2 : 1);
			return 1;
		}
		if (data[i] == ' ' && c->verb[0] != '\0') {
			i++;
			continue;
		}
		if (c->argc >= MS_MAX_ARGS) {
			*error_r = "too many arguments";
			goto bad;
		}
		if (data[i] == '"') {
			struct buf b;
			buf_init(&b, MS_LINE_MAX);
			for (i++;; i++) {
				if (i >= len) {
					buf_free(&b);
					return 0;
				}
				char ch = data[i];
				if (ch == '"')
					break;
				if (ch == '\r' || ch == '\n') {
					buf_free(&b);
					*error_r = "unterminated string";
					goto bad;
				}
				if (ch == '\\') {
					if (++i >= len) {
						buf_free(&b);
						return 0;
					}
					ch = data[i];
				}
				if (buf_putc(&b, ch) < 0) {
					buf_free(&b);
					*error_r = "string too long";
					goto bad;
				}
			}
			i++;
			c->argl[c->argc] = b.len;
			buf_putc(&b, '\0');
			c->argv[c->argc++] = buf_steal(&b);
			if (c->argv[c->argc - 1] == NULL)
				c->argv[c->argc - 1] = xstrdup("");
			continue;
		}
		if (data[i] == '{') {
			size_t j = i + 1;
			uint64_t n = 0;
			while (j < len && isdigit((unsigned char)data[j]) && j - i < 12)
				n = n * 10 + (uint64_t)(data[j++] - '0');
			if (j >= len)
				return 0;
			if (j == i + 1 || j - i >= 12) {
				*error_r = "bad literal";
				goto bad;
			}
			if (j < len && data[j] == '+')
				j++;
			if (j >= len)
				return 0;
			if (data[j] != '}') {
				*error_r = "bad literal";
				goto bad;
			}
			j++;
			if (j < len && data[j] == '\r')
				j++;
			if (j >= len)
				return 0;
			if (data[j] != '\n') {
				*error_r = "bad literal";
				goto bad;
			}
			j++;
			if (n > max_lit) {
				*error_r = "literal too large";
				return -2;
			}
			if (len - j < n)
				return 0;
			c->argv[c->argc] = xmalloc((size_t)n + 1);
			memcpy(c->argv[c->argc], data + j, (size_t)n);
			c->argv[c->argc][n] = '\0';
			c->argl[c->argc++] = (size_t)n;
			i = j + (size_t)n;
			continue;
		}
		/* an atom argument (NOOP tag, numbers of HAVESPACE) */
		size_t st = i;
		while (i < len && data[i] != ' ' && data[i] != '\r' && data[i] != '\n')
			i++;
		if (i >= len)
			return 0;
		if (i - st > 64) {
			*error_r = "argument too long";
			goto bad;
		}
		/* binary safe: a NUL inside stays (need() refuses it) */
		c->argv[c->argc] = xmalloc(i - st + 1);
		memcpy(c->argv[c->argc], data + st, i - st);
		c->argv[c->argc][i - st] = '\0';
		c->argl[c->argc] = i - st;
		c->argc++;
	}
bad:
	cmd_clear(c);
	{
		const char *nl = memchr(data, '\n', len);
		*used_r = nl ? (size_t)(nl - data) + 1 : 0;
	}
	return -1;
}

int
ms_parse(const char *data, size_t len, size_t max_lit, struct ms_cmd *c,
	 size_t *used_r, const char **error_r)
{
	int r = ms_parse1(data, len, max_lit, c, used_r, error_r);
	if (r != 1 && r != -1)
		cmd_clear(c);   /* need more (0) or a literal too large (-2) */
	return r;
}

