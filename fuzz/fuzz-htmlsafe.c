/* fuzz-htmlsafe - the HTML signature sanitiser: the output holds only the
 * allowed tags, no attribute but a safe href, and is its own clean form */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htmlsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - every '<' of out opens an allowed tag of the form the cleaner
 * writes */
static void
check(const char *s, size_t n)
{
	static const char *const ok[] = { "a", "b", "blockquote", "br", "code",
	    "div", "em", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span",
	    "strong", "sub", "sup", "u", "ul", NULL };

	for (const char *p = memchr(s, '<', n); p != NULL;
	    p = memchr(p + 1, '<', n - (size_t)(p + 1 - s))) {
		const char *q = p + 1 + (p[1] == '/');
		size_t len = strspn(q, "abcdefghijklmnopqrstuvwxyz");
		bool found = false;
		for (int i = 0; ok[i] != NULL; i++)
			if (strlen(ok[i]) == len && strncmp(ok[i], q, len) == 0)
				found = true;
		if (!found)
			__builtin_trap();
		if (q[len] == '>')
			continue;
		/* only <a href="http..., https... or mailto:..."> */
		if (len != 1 || *q != 'a' || p[1] == '/' ||
		    (strncasecmp(q + len, " href=\"http://", 14) != 0 &&
		    strncasecmp(q + len, " href=\"https://", 15) != 0 &&
		    strncasecmp(q + len, " href=\"mailto:", 14) != 0))
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a, b;
	const char *err;

	buf_init(&a, 0);
	buf_init(&b, 0);
	if (htmlsafe_clean((const char *)data, size, &a, &err) == 0) {
		buf_putc(&a, '\0');
		a.len--;
		check(a.data, a.len);
		if (htmlsafe_clean(a.data, a.len, &b, &err) != 0 || a.len != b.len ||
		    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
			__builtin_trap();
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
