/* fuzz-dkim - canonicalization of arbitrary messages (every field both
 * ways, the body both ways in two chunkings that must agree), the
 * DKIM-Signature and key record parsers, and verification */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char record[] =
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static void
body_twice(enum dkim_canon c, const char *d, size_t len)
{
	struct dkim_body a, b;
	struct buf ca, cb;
	unsigned char ha[32], hb[32];

	buf_init(&ca, 0);
	buf_init(&cb, 0);
	dkim_body_init(&a, c, 100);
	dkim_body_init(&b, c, 100);
	a.copy = &ca;
	b.copy = &cb;
	dkim_body_update(&a, d, len);
	for (size_t i = 0; i < len; i += 3)
		dkim_body_update(&b, d + i, len - i < 3 ? len - i : 3);
	dkim_body_final(&a, ha);
	dkim_body_final(&b, hb);
	/* chunking never changes the result; canonical bodies end in CRLF */
	if (memcmp(ha, hb, 32) != 0 || ca.len != cb.len || a.total != ca.len ||
	    a.hashed > 100 || (ca.len > 0 && (ca.len < 2 ||
	    memcmp(ca.data + ca.len - 2, "\r\n", 2) != 0)))
		__builtin_trap();
	dkim_body_deinit(&a);
	dkim_body_deinit(&b);
	buf_free(&ca);
	buf_free(&cb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data, *why;
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	struct dkim_tag tags[DKIM_TAGS_MAX];
	struct dkim_sig sig;
	struct buf out;
	size_t n;

	buf_init(&out, 0);
	if (dkim_hdr_scan(d, size, h, &why) == 0) {
		for (size_t i = 0; i < h->nf; i++) {
			const char *f = d + h->start[i];
			size_t len = h->end[i] - h->start[i];
			buf_reset(&out);
			dkim_canon_header(DKIM_RELAXED, f, len, &out);
			/* relaxed: one line, lower-case name, no blank at the end */
			if (out.len < 3 || memchr(out.data, '\n', out.len - 1) != NULL ||
			    (out.len > 3 && out.data[out.len - 3] == ' '))
				__builtin_trap();
			buf_reset(&out);
			dkim_canon_header(DKIM_SIMPLE, f, len, &out);
			const char *colon = memchr(f, ':', len);
			if (colon != NULL)
				(void)dkim_sig_parse(colon + 1, len - (size_t)(colon + 1 - f),
				    &sig, &why);
		}
		body_twice(DKIM_SIMPLE, d + h->body, size - h->body);
		body_twice(DKIM_RELAXED, d + h->body, size - h->body);
		for (size_t k = 0; k < 3; k++)
			(void)dkim_verify(d, size, k, record, NULL, &why);
	}
	(void)dkim_tags_parse(d, size, tags, DKIM_TAGS_MAX, &n, &why);
	buf_free(&out);
	free(h);
	return 0;
}
