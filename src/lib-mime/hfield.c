/* hfield - the fields of a header block in memory (hfield.h) */
#include <string.h>

#include "hfield.h"
#include "mime.h"

/* hfield_block_end - see hfield.h */
bool
hfield_block_end(const char *d, size_t len, size_t *end_r)
{
	for (size_t i = 0; i < len; i++) {
		if (d[i] != '\n')
			continue;
		if ((i + 1 < len && d[i + 1] == '\n') ||
		    (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n')) {
			*end_r = i + 1;
			return true;
		}
	}
	*end_r = len;
	return false;
}

/* hfield_next - see hfield.h */
int
hfield_next(const char *d, size_t *p, size_t end, struct hfield *f)
{
	while (*p < end) {
		size_t s = *p;
		if (d[s] == '\r' || d[s] == '\n')
			return 0;                   /* the blank line */
		size_t e = s;
		for (;;) {                          /* to the end of the field */
			const char *nl = memchr(d + e, '\n', end - e);
			e = nl != NULL ? (size_t)(nl - d) + 1 : end;
			if (e >= end || (d[e] != ' ' && d[e] != '\t'))
				break;
		}
		*p = e;
		const char *colon = memchr(d + s, ':', e - s);
		if (colon == NULL)
			continue;                   /* not a field: skip */
		f->name = d + s;
		f->nlen = (size_t)(colon - (d + s));
		while (f->nlen > 0 && (f->name[f->nlen - 1] == ' ' ||
		    f->name[f->nlen - 1] == '\t'))
			f->nlen--;
		f->value = colon + 1;
		f->vlen = e - (size_t)(colon + 1 - d);
		while (f->vlen > 0 && (f->value[f->vlen - 1] == '\n' ||
		    f->value[f->vlen - 1] == '\r'))
			f->vlen--;
		return 1;
	}
	return 0;
}

/* hfield_unfold - see hfield.h */
void
hfield_unfold(const char *v, size_t n, struct buf *out)
{
	size_t s = 0;

	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		if (v[i] != '\r' && v[i] != '\n')
			buf_putc(out, v[i]);
	while (s < out->len && (out->data[s] == ' ' || out->data[s] == '\t'))
		s++;
	buf_consume(out, s);
	while (out->len > 0 && (out->data[out->len - 1] == ' ' ||
	    out->data[out->len - 1] == '\t'))
		buf_truncate(out, out->len - 1);
	if (out->data == NULL)
		buf_puts(out, "");
}

/* hfield_text - see hfield.h */
void
hfield_text(const char *v, size_t n, struct buf *out)
{
	struct buf u;

	buf_init(&u, 0);
	hfield_unfold(v, n, &u);
	buf_reset(out);
	mime_decode_words(u.data, u.len, out);
	if (out->data == NULL)
		buf_puts(out, "");
	buf_free(&u);
}
