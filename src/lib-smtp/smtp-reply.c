/* smtp-reply - resumable parser of SMTP server replies */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-reply.h"
#include "strutil.h"

void smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, SMTP_REPLY_LINE_MAX);
	buf_init(&p->reply.text, SMTP_REPLY_LINE_MAX * 8);
}

void smtp_reply_parser_free(struct smtp_reply_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->reply.text);
}

/* enhanced_parse - an RFC 3463 code "c.sss.ddd" at s of class cls */
static size_t enhanced_parse(const char *s, char cls, char *out, size_t size)
{
	size_t i = 0, digits;
	int part;

	if (s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; isdigit((unsigned char)s[i]) && digits < 4; digits++)
			i++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	if (s[i] != '\0' && s[i] != ' ')
		return 0;
	if (i >= size)
		return 0;
	memcpy(out, s, i);
	out[i] = '\0';
	return i;
}

/* reply_line - one complete line (without its line end) */
static int reply_line(struct smtp_reply_parser *p, const char **error_r)
{
	const char *l = p->line.data;
	struct smtp_reply *r = &p->reply;
	int code;
	bool last;

	if (p->line.len < 3 || !isdigit((unsigned char)l[0]) ||
	    !isdigit((unsigned char)l[1]) || !isdigit((unsigned char)l[2]) ||
	    l[0] < '2' || l[0] > '5') {
		*error_r = "malformed reply line (no 3-digit code)";
		return -1;
	}
	if (l[3] != '\0' && l[3] != ' ' && l[3] != '-') {
		*error_r = "malformed reply line (bad separator)";
		return -1;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		*error_r = "multi-line reply changes its code";
		return -1;
	}
	if (++r->nlines > SMTP_REPLY_LINES_MAX) {
		*error_r = "reply has too many lines";
		return -1;
	}
	last = l[3] != '-';
	r->code = code;
	if (r->nlines > 1)
		buf_putc(&r->text, '\n');
	if (l[3] != '\0') {
		const char *t = l + 4;

		if (r->nlines == 1)
			enhanced_parse(t, l[0], r->enhanced, sizeof(r->enhanced));
		/* the text is kept up to its bound; the rest is dropped */
		if (buf_puts(&r->text, t) < 0) {
			size_t room = r->text.max - r->text.len;

			buf_append(&r->text, t, room > 0 ? room - 1 : 0);
		}
	}
	buf_reset(&p->line);
	if (last)
		p->complete = true;
	return 0;
}

/* smtp_reply_parse - feed bytes, 1 when a reply is complete */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len,
		     size_t *used_r, const char **error_r)
{
	size_t i;

	if (p->complete) {
		/* start the next reply */
		p->complete = false;
		p->reply.code = 0;
		p->reply.enhanced[0] = '\0';
		p->reply.nlines = 0;
		buf_reset(&p->reply.text);
	}
	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
				buf_truncate(&p->line, p->line.len - 1);
			if (reply_line(p, error_r) < 0) {
				*used_r = i + 1;
				return -1;
			}
			if (p->complete) {
				*used_r = i + 1;
				return 1;
			}
			continue;
		}
		if (c == '\0') {
			*used_r = i + 1;
			*error_r = "NUL in reply";
			return -1;
		}
		if (buf_putc(&p->line, c) < 0) {
			*used_r = i + 1;
			*error_r = "reply line too long";
			return -1;
		}
	}
	*used_r = len;
	return 0;
}

void smtp_reply_summary(const struct smtp_reply *r, char *out, size_t size)
{
	const char *nl = memchr(r->text.data ? r->text.data : "", '\n',
				r->text.len);
	int tlen = nl ? (int)(nl - r->text.data) : (int)r->text.len;
	size_t i;

	snprintf(out, size, "%03d %.*s", r->code, tlen,
		 r->text.data ? r->text.data : "");
	/* keep logs and DSN fields to printable ASCII */
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			out[i] = '?';
}

/* smtp_ext_parse - the extensions of an EHLO reply (lines after the first) */
void smtp_ext_parse(const struct smtp_reply *r, struct smtp_ext *ext)
{
	const char *s = r->text.data ? r->text.data : "";
	const char *nl;
	bool first = true;

	memset(ext, 0, sizeof(*ext));
	for (; *s != '\0' || first; s = nl + 1) {
		char line[256];
		size_t l;

		nl = strchr(s, '\n');
		l = nl ? (size_t)(nl - s) : strlen(s);
		if (!first) {
			if (l >= sizeof(line))
				l = sizeof(line) - 1;
			memcpy(line, s, l);
			line[l] = '\0';
			for (size_t i = 0; i < l; i++)
				line[i] = (char)toupper((unsigned char)line[i]);
			if (strcmp(line, "STARTTLS") == 0)
				ext->starttls = true;
			else if (strcmp(line, "PIPELINING") == 0)
				ext->pipelining = true;
			else if (strcmp(line, "8BITMIME") == 0)
				ext->eightbit = true;
			else if (strcmp(line, "SMTPUTF8") == 0)
				ext->smtputf8 = true;
			else if (strcmp(line, "DSN") == 0)
				ext->dsn = true;
			else if (strcmp(line, "SIZE") == 0)
				ext->size_given = true;
			else if (strncmp(line, "SIZE ", 5) == 0) {
				long long v;

				ext->size_given = true;
				if (parse_long(line + 5, 0, 1LL << 50, &v) == 0)
					ext->size = (unsigned long long)v;
			} else if (strncmp(line, "AUTH ", 5) == 0 ||
				   strncmp(line, "AUTH=", 5) == 0) {
				char *save = NULL, *tok;

				for (tok = strtok_r(line + 5, " ", &save); tok;
				     tok = strtok_r(NULL, " ", &save)) {
					if (strcmp(tok, "PLAIN") == 0)
						ext->auth_plain = true;
					else if (strcmp(tok, "LOGIN") == 0)
						ext->auth_login = true;
				}
			}
		}
		first = false;
		if (nl == NULL)
			break;
	}
}
