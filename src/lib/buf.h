#ifndef POSTERN_BUF_H
#define POSTERN_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The one growable byte buffer of Postern: binary safe, always NUL
 * terminated (data[len] == 0), with an optional hard limit. Appends that
 * would pass max fail with -1 and leave the buffer unchanged. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0: no limit */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* buf_reserve - make room for n more bytes; -1 if that passes max. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_consume - drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* buf_steal - hand the data to the caller (never NULL) and reset b. */
char *buf_steal(struct buf *b);
void buf_truncate(struct buf *b, size_t len);

#endif
