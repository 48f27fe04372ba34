/* smtp-data - the DATA reader: dot-unstuffing, end of data, bare CR/LF */
#include <string.h>

#include "smtp-data.h"
#include "smtp-parser.h"

enum {
	DS_LINE_START = 0,  /* after CRLF (or at the start of data) */
	DS_DOT,             /* a line started with '.' */
	DS_DOT_CR,          /* ".\r" at the start of a line */
	DS_TEXT,            /* inside a line */
	DS_CR,              /* a CR inside a line (or after stuffed dot) */
};

void
smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	memset(d, 0, sizeof(*d));
	d->state = DS_LINE_START;
	d->max_size = max_size;
}

/* emit - append message bytes unless the message is already flagged */
static void
emit(struct smtp_data *d, struct buf *out, const char *p, size_t n)
{
	if (n == 0)
		return;
	d->size += n;
	if (d->max_size > 0 && d->size > d->max_size)
		d->flags |= SMTP_DATA_TOO_BIG;
	if (smtp_data_errors(d) == 0 && buf_append(out, p, n) < 0)
		d->flags |= SMTP_DATA_TOO_BIG;
}

/* count - one more octet of the current line as sent */
static void
count(struct smtp_data *d)
{
	if (++d->line_len > SMTP_TEXT_LINE_MAX)
		d->flags |= SMTP_DATA_LONG_LINE;
}

int
smtp_data_feed(struct smtp_data *d, const void *data, size_t len,
	       size_t *consumed_r, struct buf *out)
{
	const char *p = data;
	size_t i = 0;

	while (i < len) {
		char c = p[i];

		switch (d->state) {
		case DS_LINE_START:
			d->line_len = 0;
			if (c == '.') {
				count(d);
				d->state = DS_DOT;
				i++;
				continue;
			}
			d->state = DS_TEXT;
			continue;
		case DS_DOT:
			if (c == '\r') {
				count(d);
				d->state = DS_DOT_CR;
				i++;
				continue;
			}
			/* a stuffed dot: dropped, the line goes on */
			d->state = DS_TEXT;
			continue;
		case DS_DOT_CR:
			if (c == '\n') {
				i++;
				*consumed_r = i;
				return 1;
			}
			/* ".\r" then not LF: the dot was stuffing, the CR bare */
			d->state = DS_CR;
			continue;
		case DS_TEXT: {
			/* fast path: a run of ordinary bytes */
			size_t start = i;
			while (i < len && p[i] != '\r' && p[i] != '\n') {
				if (p[i] == '\0')
					d->flags |= SMTP_DATA_NUL;
				i++;
			}
			size_t run = i - start;
			d->line_len += run;
			if (d->line_len > SMTP_TEXT_LINE_MAX)
				d->flags |= SMTP_DATA_LONG_LINE;
			emit(d, out, p + start, run);
			if (i == len)
				break;
			if (p[i] == '\r') {
				count(d);
				d->state = DS_CR;
				i++;
			} else {
				/* bare LF: content, never a line end */
				d->flags |= SMTP_DATA_BARE_LF;
				count(d);
				emit(d, out, "\n", 1);
				i++;
			}
			continue;
		}
		case DS_CR:
			if (c == '\n') {
				count(d);
				emit(d, out, "\r\n", 2);
				d->state = DS_LINE_START;
				i++;
				continue;
			}
			/* bare CR: content, never a line end */
			d->flags |= SMTP_DATA_BARE_CR;
			emit(d, out, "\r", 1);
			if (c == '\r') {
				count(d);
				i++;
				continue;   /* still after a CR */
			}
			d->state = DS_TEXT;
			continue;
		}
	}
	*consumed_r = len;
	return 0;
}
