/* pop3reply - parse POP3 server replies (pop3reply.h) */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3reply.h"

void
pop3_reply_init(struct pop3_reply *p, size_t data_max)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, POP3_DATA_LINE_MAX);
	buf_init(&p->text, POP3_STATUS_MAX);
	buf_init(&p->data, data_max);
	p->state = 2;
}

void
pop3_reply_deinit(struct pop3_reply *p)
{
	buf_free(&p->line);
	buf_free(&p->text);
	buf_free(&p->data);
}

void
pop3_reply_start(struct pop3_reply *p, bool multiline)
{
	p->multiline = multiline;
	p->state = 0;
	p->ok = false;
	buf_reset(&p->line);
	buf_reset(&p->text);
	buf_reset(&p->data);
}

/* status_line - "+OK[ text]" or "-ERR[ text]"; -1 otherwise */
static int
status_line(struct pop3_reply *p, const char *l, size_t n)
{
	size_t skip;
	if (n >= 3 && strncasecmp(l, "+OK", 3) == 0) {
		p->ok = true;
		skip = 3;
	} else if (n >= 4 && strncasecmp(l, "-ERR", 4) == 0) {
		p->ok = false;
		skip = 4;
	} else {
		return -1;
	}
	if (n > skip && l[skip] != ' ' && l[skip] != '\t')
		return -1;
	while (skip < n && (l[skip] == ' ' || l[skip] == '\t'))
		skip++;
	if (buf_append(&p->text, l + skip, n - skip) < 0)
		return -1;
	return 0;
}

/* line_done - one complete line (without its line end); 1 reply done */
static int
line_done(struct pop3_reply *p, const char **error_r)
{
	const char *l = p->line.data ? p->line.data : "";
	size_t n = p->line.len;

	if (p->state == 0) {
		if (status_line(p, l, n) < 0) {
			*error_r = "malformed status line (neither +OK nor -ERR)";
			return -1;
		}
		p->state = p->ok && p->multiline ? 1 : 2;
		return p->state == 2;
	}
	if (n == 1 && l[0] == '.') {
		p->state = 2;
		return 1;
	}
	if (n > 0 && l[0] == '.') {   /* byte-stuffed */
		l++;
		n--;
	}
	if (buf_append(&p->data, l, n) < 0 || buf_append(&p->data, "\r\n", 2) < 0) {
		*error_r = "multi-line answer too large";
		return -1;
	}
	return 0;
}

int
pop3_reply_feed(struct pop3_reply *p, const void *data, size_t len,
		size_t *used_r, const char **error_r)
{
	const char *d = data;
	size_t i = 0;

	*used_r = 0;
	if (p->state == 2) {
		*error_r = "no reply expected";
		return -1;
	}
	while (i < len) {
		const char *nl = memchr(d + i, '\n', len - i);
		size_t take = nl != NULL ? (size_t)(nl - (d + i)) : len - i;
		size_t limit = p->state == 0 ? POP3_STATUS_MAX : POP3_DATA_LINE_MAX;
		if (p->line.len + take > limit ||
		    buf_append(&p->line, d + i, take) < 0) {
			*error_r = p->state == 0 ? "status line too long" :
			    "data line too long";
			return -1;
		}
		i += take;
		if (nl == NULL)
			break;
		i++;   /* the LF */
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			buf_truncate(&p->line, p->line.len - 1);
		int r = line_done(p, error_r);
		buf_reset(&p->line);
		if (r != 0) {
			*used_r = i;
			return r;
		}
	}
	*used_r = i;
	return 0;
}

int
pop3_uidl_line(const char *line, size_t len, unsigned long *n_r, char *uid,
	       size_t uid_size)
{
	size_t i = 0;
	unsigned long n = 0;

	while (i < len && line[i] >= '0' && line[i] <= '9') {
		if (n > 100000000UL)
			return -1;
		n = n * 10 + (unsigned long)(line[i++] - '0');
	}
	if (i == 0 || n == 0 || i >= len || line[i] != ' ')
		return -1;
	while (i < len && line[i] == ' ')
		i++;
	size_t s = i;
	while (i < len && line[i] >= 0x21 && line[i] <= 0x7e)
		i++;
	size_t ul = i - s;
	while (i < len && (line[i] == ' ' || line[i] == '\r' || line[i] == '\n'))
		i++;
	if (ul == 0 || ul > 70 || ul >= uid_size || i != len)
		return -1;
	memcpy(uid, line + s, ul);
	uid[ul] = '\0';
	*n_r = n;
	return 0;
}

int
pop3_apop_stamp(const char *greeting, char *out, size_t size)
{
	const char *lt = strchr(greeting, '<');
	const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (gt == NULL || (size_t)(gt - lt + 1) >= size || gt - lt < 3)
		return -1;
	for (const char *c = lt; c <= gt; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return -1;
	memcpy(out, lt, (size_t)(gt - lt + 1));
	out[gt - lt + 1] = '\0';
	return 0;
}
