/* msghdr - scan an RFC 5322 header block; extract addresses of a field */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msghdr.h"
#include "xalloc.h"

/* msghdr_parser_init - start scanning */
void
msghdr_parser_init(struct msghdr_parser *p, size_t max, msghdr_field_cb *cb,
		   void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	p->max = max == 0 ? MSGHDR_HEADER_MAX : max;
	p->bol = true;
	buf_init(&p->field, MSGHDR_FIELD_MAX + 1);
}

/* msghdr_parser_deinit - free the parser's buffer */
void
msghdr_parser_deinit(struct msghdr_parser *p)
{
	buf_free(&p->field);
}

/* field_flush - report the collected field, if it is a valid one */
static void
field_flush(struct msghdr_parser *p)
{
	struct buf *b = &p->field;
	if (b->len == 0)
		return;
	if (buf_putc(b, '\0') < 0) {
		buf_reset(b);
		return;
	}
	char *s = b->data;
	char *colon = strchr(s, ':');
	size_t i;
	/* field-name: printable US-ASCII except ':' (RFC 5322 2.2) */
	if (colon == NULL || colon == s)
		goto skip;
	char *name_end = colon;
	while (name_end > s && (name_end[-1] == ' ' || name_end[-1] == '\t'))
		name_end--;   /* obsolete "Name :" form */
	if (name_end == s)
		goto skip;
	for (i = 0; s + i < name_end; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127)
			goto skip;
	*name_end = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' ||
	    v[vlen - 1] == '\r'))
		v[--vlen] = '\0';
	struct msghdr_field f = {
		.name = s, .value = v,
		.raw_start = p->field_start,
		.raw_end = p->field_end > p->field_start ? p->field_end : p->offset,
	};
	if (p->cb != NULL)
		p->cb(p->ctx, &f);
skip:
	buf_reset(b);
}

/* msghdr_parser_feed - scan bytes; 1 at the end of the header block */
int
msghdr_parser_feed(struct msghdr_parser *p, const void *data, size_t len,
		   size_t *consumed_r, const char **error_r)
{
	const unsigned char *d = data;
	size_t i;

	*consumed_r = 0;
	if (p->done)
		return 1;
	for (i = 0; i < len; i++) {
		unsigned char c = d[i];
		if (p->bol_cr) {
			/* CR at the start of a line: the blank line (CRLF),
			 * or a lone CR, which we take as the end too */
			p->bol_cr = false;
			if (c == '\n') {
				p->offset++;
				i++;
			}
			field_flush(p);
			p->done = true;
			*consumed_r = i;
			return 1;
		}
		if (p->offset >= p->max) {
			*error_r = "header block too large";
			return -1;
		}
		if (p->bol) {
			p->bol = false;
			if (c == '\r') {
				p->bol_cr = true;
				p->bol = true;
				p->offset++;
				continue;
			}
			if (c == '\n') {
				p->offset++;
				field_flush(p);
				p->done = true;
				*consumed_r = i + 1;
				return 1;
			}
			if (c != ' ' && c != '\t') {
				field_flush(p);
				p->field_start = p->offset;
			}
		}
		p->offset++;
		if (c == '\n') {
			/* unfold: the line end goes, the blank after it stays */
			if (p->field.len > 0 &&
			    p->field.data[p->field.len - 1] == '\r')
				buf_truncate(&p->field, p->field.len - 1);
			p->field_end = p->offset;
			p->bol = true;
			continue;
		}
		if (p->field.len >= MSGHDR_FIELD_MAX ||
		    buf_putc(&p->field, (char)c) < 0) {
			*error_r = "header field too long";
			return -1;
		}
	}
	*consumed_r = len;
	return 0;
}

/* msghdr_parser_finish - end of input: report the last field */
int
msghdr_parser_finish(struct msghdr_parser *p)
{
	if (!p->done) {
		field_flush(p);
		p->done = true;
	}
	return 1;
}

/* addr_take - keep one cleaned addr-spec candidate if it looks like one */
static size_t
addr_take(struct buf *a, char ***list, size_t *n)
{
	if (a->len == 0 || buf_putc(a, '\0') < 0)
		return 0;
	char *s = a->data;
	/* source route "@a,@b:user@dom" (obsolete): keep after the ':' */
	if (s[0] == '@') {
		char *c = strrchr(s, ':');
		if (c == NULL)
			return 0;
		s = c + 1;
	}
	char *at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' || *n >= MSGHDR_ADDRS_MAX)
		return 0;
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(s);
	return 1;
}

/* msghdr_addresses - the addr-specs of an address-list */
size_t
msghdr_addresses(const char *value, char ***list, size_t *n)
{
	struct buf plain, angle;
	size_t added = 0;
	int comment = 0;
	bool quoted = false, in_angle = false, have_angle = false;

	buf_init(&plain, MSGHDR_FIELD_MAX + 2);
	buf_init(&angle, MSGHDR_FIELD_MAX + 2);
	for (const char *p = value;; p++) {
		char c = *p;
		if (c == '\0' || (!quoted && comment == 0 && !in_angle &&
		    (c == ',' || c == ';' || c == ':'))) {
			if (c == ':' && !have_angle && plain.len > 0 &&
			    plain.data[0] == '@') {
				/* a source route inside a bare address */
				buf_putc(&plain, c);
				continue;
			}
			if (c != ':') {
				if (have_angle)
					added += addr_take(&angle, list, n);
				else
					added += addr_take(&plain, list, n);
			}
			/* "group:" drops its display name */
			buf_reset(&plain);
			buf_reset(&angle);
			have_angle = false;
			if (c == '\0')
				break;
			continue;
		}
		if (quoted) {
			if (c == '\\' && p[1] != '\0') {
				p++;
				c = *p;
			} else if (c == '"') {
				quoted = false;
			}
			buf_putc(in_angle ? &angle : &plain, c);
			continue;
		}
		if (comment > 0) {
			if (c == '\\' && p[1] != '\0')
				p++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		switch (c) {
		case '(':
			comment = 1;
			break;
		case '"':
			quoted = true;
			buf_putc(in_angle ? &angle : &plain, c);
			break;
		case '<':
			if (!in_angle) {
				in_angle = true;
				have_angle = true;
				buf_reset(&angle);
			}
			break;
		case '>':
			in_angle = false;
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			if ((unsigned char)c < 32 || c == 127)
				break;
			buf_putc(in_angle ? &angle : &plain, c);
			break;
		}
	}
	buf_free(&plain);
	buf_free(&angle);
	return added;
}

/* msghdr_addresses_free - free a list from msghdr_addresses */
void
msghdr_addresses_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* msghdr_scan_file - the header of a message file, field by field */
int
msghdr_scan_file(const char *path, msghdr_field_cb *cb, void *ctx,
		 const char **error_r)
{
	struct msghdr_parser p;
	char chunk[16384];
	size_t used;
	ssize_t n;
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC), saved;

	if (fd < 0)
		return -1;
	msghdr_parser_init(&p, 0, cb, ctx);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		r = msghdr_parser_feed(&p, chunk, (size_t)n, &used, error_r);
		if (r != 0)
			break;
	}
	saved = errno;
	if (r == 0)
		msghdr_parser_finish(&p);
	msghdr_parser_deinit(&p);
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	return r < 0 ? 1 : 0;
}
