/* fuzz-xmpp-stream - the XMPP XML stream parser (xml-stream.c): stanzas,
 * limits and restricted XML, fed in slices of varying size; every stanza
 * is written back and parsed again, and must give the same text (also
 * with the parser freed whenever the stream is idle, xml_stream_idle) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xml-stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(const struct xml_node *n)
{
	struct buf a, b;
	struct xml_stream *xs = xml_stream_new(XML_STANZA_MAX * 4);
	size_t pos = 0, used;
	enum xml_event ev;
	static const char head[] = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";

	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_puts(&a, head);
	xml_node_write(n, &a);
	while (pos < a.len || (ev = xml_stream_next(xs)) != XML_EV_MORE) {
		if (pos < a.len) {
			ev = xml_stream_feed(xs, a.data + pos, a.len - pos,
			    &used);
			pos += used;
		}
		if (ev == XML_EV_ERROR)
			__builtin_trap();       /* we wrote it: must parse */
		if (ev == XML_EV_MORE)
			(void)xml_stream_idle(xs);   /* and across idle */
		if (ev == XML_EV_STANZA) {
			struct xml_node *m = xml_stream_take(xs);
			xml_node_write(m, &b);
			xml_node_free(&m);
		}
	}
	if (b.len != a.len - strlen(head) ||
	    memcmp(b.data, a.data + strlen(head), b.len) != 0)
		__builtin_trap();
	buf_free(&a);
	buf_free(&b);
	xml_stream_free(&xs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_stream *xs = xml_stream_new(size > 0 && data[0] & 1 ?
	    XML_PREAUTH_MAX : XML_STANZA_MAX);
	size_t pos = 0, used, slice = size > 0 ? 1 + data[0] % 64 : 1;
	enum xml_event ev = XML_EV_MORE;
	int stanzas = 0;

	while (ev != XML_EV_ERROR && ev != XML_EV_CLOSE) {
		if (ev == XML_EV_MORE) {
			if (pos >= size)
				break;
			/* xmppd frees an idle stream's parser between reads */
			if (size > 0 && (data[0] & 2))
				(void)xml_stream_idle(xs);
			size_t n = size - pos < slice ? size - pos : slice;
			ev = xml_stream_feed(xs, (const char *)data + pos, n,
			    &used);
			if (used > n)
				__builtin_trap();
			pos += used;
		} else
			ev = xml_stream_next(xs);
		if (ev == XML_EV_STANZA) {
			struct xml_node *n = xml_stream_take(xs);
			if (n == NULL || n->name == NULL)
				__builtin_trap();
			if (stanzas++ < 4)
				roundtrip(n);
			xml_node_free(&n);
		}
		if (ev == XML_EV_OPEN && xml_stream_root(xs) == NULL)
			__builtin_trap();
	}
	if (ev == XML_EV_ERROR && xml_stream_error(xs, NULL) == NULL)
		__builtin_trap();
	xml_stream_free(&xs);
	return 0;
}
