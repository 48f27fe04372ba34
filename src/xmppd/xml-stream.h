#ifndef POSTERN_XML_STREAM_H
#define POSTERN_XML_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* xml-stream - the XML stream of an XMPP connection (RFC 6120 4, 11),
 * parsed incrementally with libexpat into one element tree per stanza.
 *
 * Restricted XML (RFC 6120 11.1) is enforced: a DOCTYPE (and so any
 * entity declaration: billion laughs never starts), comments and
 * processing instructions end the stream with <restricted-xml/>. Limits:
 * bytes between two stanzas (a stanza, or one never-ending token: expat
 * buffers a token whole), element depth, attributes per element and
 * children per stanza; past one, the stream ends with
 * <policy-violation/>. Names are kept as written (no namespace
 * processing): the stream root must be "stream:stream". */

#define XML_STANZA_MAX 262144     /* bytes of one stanza after login */
#define XML_PREAUTH_MAX 16384     /* ... before login */
#define XML_DEPTH_MAX 32          /* elements nested in a stanza */
#define XML_ATTRS_MAX 32          /* attributes of one element */
#define XML_NODES_MAX 4096        /* elements and text runs of a stanza */
#define XML_SLICE 4096            /* most bytes one feed call takes */

/* One node of a stanza: an element (name set) or a text run (name NULL,
 * text set). Attributes as name/value pairs, in order. */
struct xml_node {
	char *name;
	char **attr;            /* 2 * nattr strings */
	size_t nattr;
	char *text;
	struct xml_node *parent, *first, *last, *next;
};

enum xml_event {
	XML_EV_MORE,            /* all input taken; feed more */
	XML_EV_OPEN,            /* the stream header: xml_stream_root() */
	XML_EV_STANZA,          /* a top-level element: xml_stream_take() */
	XML_EV_CLOSE,           /* </stream:stream> */
	XML_EV_ERROR,           /* xml_stream_error() names the condition */
};

struct xml_stream;

struct xml_stream *xml_stream_new(size_t stanza_max);
void xml_stream_free(struct xml_stream **xs);
/* xml_stream_set_max - the stanza size limit from now on (login) */
void xml_stream_set_max(struct xml_stream *xs, size_t stanza_max);
/* xml_stream_feed - parse up to XML_SLICE bytes of input (*used_r says
 * how many were taken: the caller drains them) and return the first
 * event. Input taken but not parsed yet stays inside the parser: call
 * xml_stream_next() until XML_EV_MORE before feeding more (feed does so
 * itself, taking nothing). After XML_EV_ERROR every call returns
 * XML_EV_ERROR. */
enum xml_event xml_stream_feed(struct xml_stream *xs, const char *data,
			       size_t len, size_t *used_r);
/* xml_stream_idle - when the stream stands between two stanzas with
 * nothing fed left unparsed, free the parser (most of an idle stream's
 * memory); the next feed makes a new one that goes on from there. true
 * when idle so (or already). */
bool xml_stream_idle(struct xml_stream *xs);
/* xml_stream_next - the next event from input already fed */
enum xml_event xml_stream_next(struct xml_stream *xs);
/* xml_stream_root - the stream header element (attributes only) */
const struct xml_node *xml_stream_root(const struct xml_stream *xs);
/* xml_stream_take - the stanza of the last XML_EV_STANZA; the caller
 * frees it with xml_node_free */
struct xml_node *xml_stream_take(struct xml_stream *xs);
/* xml_stream_error - the RFC 6120 4.9.3 condition of the error
 * ("not-well-formed", "restricted-xml", "policy-violation", ...) and a
 * text for the log */
const char *xml_stream_error(const struct xml_stream *xs, const char **text_r);

/* --- trees ------------------------------------------------------------ */

void xml_node_free(struct xml_node **n);
/* xml_node_new - a new element; attributes given as name, value pairs
 * ending with NULL */
struct xml_node *xml_node_new(const char *name, ...);
struct xml_node *xml_node_add(struct xml_node *parent, const char *name, ...);
void xml_node_add_text(struct xml_node *parent, const char *text);
/* xml_node_attr - an attribute's value or NULL */
const char *xml_node_attr(const struct xml_node *n, const char *name);
/* xml_node_set_attr - set (value non-NULL) or remove an attribute */
void xml_node_set_attr(struct xml_node *n, const char *name,
		       const char *value);
/* xml_node_xmlns - the namespace of an element: its xmlns attribute, else
 * its parent's, up the tree; NULL when none is declared */
const char *xml_node_xmlns(const struct xml_node *n);
/* xml_node_child - the first child element with that name (and
 * namespace, when ns is not NULL) */
struct xml_node *xml_node_child(const struct xml_node *n, const char *name,
				const char *ns);
/* xml_node_text - the text of an element's direct text runs (new string) */
char *xml_node_text(const struct xml_node *n);
/* xml_node_detach - take a child out of its parent */
void xml_node_detach(struct xml_node *child);
/* xml_node_copy - a deep copy */
struct xml_node *xml_node_copy(const struct xml_node *n);
/* xml_node_write - serialise, escaping text and attribute values */
void xml_node_write(const struct xml_node *n, struct buf *out);
/* xml_escape - append s escaped for text and attribute values */
void xml_escape(struct buf *out, const char *s);
/* xml_node_parse - the first stanza of text (our own output, e.g. a
 * stored message; at most max bytes), or NULL when it does not parse */
struct xml_node *xml_node_parse(const char *xml, size_t max);

#endif
