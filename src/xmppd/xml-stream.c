/* xml-stream - an XMPP XML stream parsed with libexpat, with limits */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <expat.h>

#include "xalloc.h"
#include "xml-stream.h"

struct xml_stream {
	XML_Parser p;
	size_t max;
	int level;                /* 0 before the root, 1 inside it */
	struct xml_node *root;    /* the stream header */
	struct xml_node *cur;     /* the stanza being built, deepest open */
	struct xml_node *done;    /* a finished stanza not yet taken */
	size_t nodes;
	uint64_t fed;             /* bytes given to expat */
	uint64_t boundary;        /* end of the last stanza or white space */
	enum xml_event pending;   /* what the handlers saw */
	bool close_pending;       /* <stream:stream/> empty root */
	bool suspended;
	bool reopening;           /* feeding the synthetic header (idle) */
	const char *cond, *text;
};

/* ------------------------------------------------------------ trees */

static struct xml_node *
node_vnew(const char *name, va_list ap)
{
	struct xml_node *n = xcalloc(1, sizeof(*n));
	const char *k;

	n->name = xstrdup(name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		xml_node_set_attr(n, k, v);
	}
	return n;
}

struct xml_node *
xml_node_new(const char *name, ...)
{
	va_list ap;
	struct xml_node *n;

	va_start(ap, name);
	n = node_vnew(name, ap);
	va_end(ap);
	return n;
}

static void
node_append(struct xml_node *parent, struct xml_node *n)
{
	n->parent = parent;
	if (parent->last != NULL)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
}

struct xml_node *
xml_node_add(struct xml_node *parent, const char *name, ...)
{
	va_list ap;
	struct xml_node *n;

	va_start(ap, name);
	n = node_vnew(name, ap);
	va_end(ap);
	node_append(parent, n);
	return n;
}

void
xml_node_add_text(struct xml_node *parent, const char *text)
{
	struct xml_node *n = xcalloc(1, sizeof(*n));

	n->text = xstrdup(text);
	node_append(parent, n);
}

void
xml_node_free(struct xml_node **np)
{
	struct xml_node *n = *np, *c, *next;

	if (n == NULL)
		return;
	for (c = n->first; c != NULL; c = next) {
		next = c->next;
		xml_node_free(&c);
	}
	for (size_t i = 0; i < 2 * n->nattr; i++)
		free(n->attr[i]);
	free(n->attr);
	free(n->name);
	free(n->text);
	free(n);
	*np = NULL;
}

const char *
xml_node_attr(const struct xml_node *n, const char *name)
{
	for (size_t i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[2 * i], name) == 0)
			return n->attr[2 * i + 1];
	return NULL;
}

void
xml_node_set_attr(struct xml_node *n, const char *name, const char *value)
{
	for (size_t i = 0; i < n->nattr; i++) {
		if (strcmp(n->attr[2 * i], name) != 0)
			continue;
		/* value may be this very attribute's (copied first) */
		char *v = value != NULL ? xstrdup(value) : NULL;
		free(n->attr[2 * i + 1]);
		if (v != NULL) {
			n->attr[2 * i + 1] = v;
			return;
		}
		free(n->attr[2 * i]);
		memmove(&n->attr[2 * i], &n->attr[2 * i + 2],
		    (n->nattr - i - 1) * 2 * sizeof(char *));
		n->nattr--;
		return;
	}
	if (value == NULL)
		return;
	n->attr = xreallocarray(n->attr, 2 * (n->nattr + 1), sizeof(char *));
	n->attr[2 * n->nattr] = xstrdup(name);
	n->attr[2 * n->nattr + 1] = xstrdup(value);
	n->nattr++;
}

const char *
xml_node_xmlns(const struct xml_node *n)
{
	for (; n != NULL; n = n->parent) {
		const char *ns = n->name ? xml_node_attr(n, "xmlns") : NULL;
		if (ns != NULL)
			return ns;
	}
	return NULL;
}

struct xml_node *
xml_node_child(const struct xml_node *n, const char *name, const char *ns)
{
	for (struct xml_node *c = n->first; c != NULL; c = c->next) {
		if (c->name == NULL || strcmp(c->name, name) != 0)
			continue;
		const char *cns = xml_node_xmlns(c);
		if (ns == NULL || (cns != NULL && strcmp(cns, ns) == 0))
			return c;
	}
	return NULL;
}

char *
xml_node_text(const struct xml_node *n)
{
	struct buf b;

	buf_init(&b, 0);
	for (struct xml_node *c = n->first; c != NULL; c = c->next)
		if (c->name == NULL)
			buf_puts(&b, c->text);
	return buf_steal(&b);
}

void
xml_node_detach(struct xml_node *child)
{
	struct xml_node *p = child->parent, *prev = NULL;

	if (p == NULL)
		return;
	for (struct xml_node *c = p->first; c != NULL; prev = c, c = c->next) {
		if (c != child)
			continue;
		if (prev != NULL)
			prev->next = c->next;
		else
			p->first = c->next;
		if (p->last == c)
			p->last = prev;
		break;
	}
	child->parent = NULL;
	child->next = NULL;
}

struct xml_node *
xml_node_copy(const struct xml_node *n)
{
	struct xml_node *c = xcalloc(1, sizeof(*c));

	c->name = n->name ? xstrdup(n->name) : NULL;
	c->text = n->text ? xstrdup(n->text) : NULL;
	for (size_t i = 0; i < n->nattr; i++)
		xml_node_set_attr(c, n->attr[2 * i], n->attr[2 * i + 1]);
	for (const struct xml_node *k = n->first; k != NULL; k = k->next)
		node_append(c, xml_node_copy(k));
	return c;
}

void
xml_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&apos;"); break;
		/* kept through attribute value normalisation and the
		 * end-of-line handling of a parser (XML 1.0 2.11, 3.3.3) */
		case '\r': buf_puts(out, "&#13;"); break;
		case '\n': buf_puts(out, "&#10;"); break;
		case '\t': buf_puts(out, "&#9;"); break;
		default: buf_putc(out, *s); break;
		}
	}
}

void
xml_node_write(const struct xml_node *n, struct buf *out)
{
	if (n->name == NULL) {
		xml_escape(out, n->text);
		return;
	}
	buf_printf(out, "<%s", n->name);
	for (size_t i = 0; i < n->nattr; i++) {
		buf_printf(out, " %s='", n->attr[2 * i]);
		xml_escape(out, n->attr[2 * i + 1]);
		buf_putc(out, '\'');
	}
	if (n->first == NULL) {
		buf_puts(out, "/>");
		return;
	}
	buf_putc(out, '>');
	for (const struct xml_node *c = n->first; c != NULL; c = c->next)
		xml_node_write(c, out);
	buf_printf(out, "</%s>", n->name);
}

/* ------------------------------------------------------------ parsing */

/* fail - stop the parser with an RFC 6120 4.9.3 condition */
static void
fail(struct xml_stream *xs, const char *cond, const char *text)
{
	if (xs->cond == NULL) {
		xs->cond = cond;
		xs->text = text;
	}
	XML_StopParser(xs->p, XML_FALSE);
}

static void
suspend(struct xml_stream *xs, enum xml_event ev)
{
	xs->pending = ev;
	if (!xs->suspended) {
		xs->suspended = true;
		XML_StopParser(xs->p, XML_TRUE);
	}
}

static uint64_t
event_end(struct xml_stream *xs)
{
	return (uint64_t)XML_GetCurrentByteIndex(xs->p) +
	    (uint64_t)XML_GetCurrentByteCount(xs->p);
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_stream *xs = ud;
	struct xml_node *n;
	size_t na = 0;

	if (xs->cond != NULL)
		return;
	while (atts[2 * na] != NULL)
		na++;
	if (na > XML_ATTRS_MAX) {
		fail(xs, "policy-violation", "too many attributes");
		return;
	}
	if (xs->level == 0 && xs->reopening) {
		xs->level = 1;    /* the header a woken parser was fed */
		return;
	}
	if (xs->level == 0) {
		if (strcmp(name, "stream:stream") != 0) {
			fail(xs, "invalid-namespace", "the stream root is not "
			    "stream:stream");
			return;
		}
		const char *sns = NULL;
		for (size_t i = 0; i < na; i++)
			if (strcmp(atts[2 * i], "xmlns:stream") == 0)
				sns = atts[2 * i + 1];
		if (sns == NULL || strcmp(sns,
		    "http://etherx.jabber.org/streams") != 0) {
			fail(xs, "invalid-namespace", "the stream prefix is not "
			    "bound to http://etherx.jabber.org/streams");
			return;
		}
		xml_node_free(&xs->root);
		xs->root = xml_node_new(name, NULL);
		for (size_t i = 0; i < na; i++)
			xml_node_set_attr(xs->root, atts[2 * i], atts[2 * i + 1]);
		xs->level = 1;
		xs->boundary = event_end(xs);
		suspend(xs, XML_EV_OPEN);
		return;
	}
	if (xs->level - 1 >= XML_DEPTH_MAX) {
		fail(xs, "policy-violation", "elements nested too deep");
		return;
	}
	if (++xs->nodes > XML_NODES_MAX) {
		fail(xs, "policy-violation", "too many elements in a stanza");
		return;
	}
	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	if (na > 0) {
		n->attr = xreallocarray(NULL, 2 * na, sizeof(char *));
		for (size_t i = 0; i < 2 * na; i++)
			n->attr[i] = xstrdup(atts[i]);
		n->nattr = na;
	}
	if (xs->cur != NULL)
		node_append(xs->cur, n);
	xs->cur = n;
	xs->level++;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct xml_stream *xs = ud;

	(void)name;
	if (xs->cond != NULL)
		return;
	if (xs->level == 1) {
		xs->level = 0;
		if (xs->pending == XML_EV_OPEN)
			xs->close_pending = true;   /* <stream:stream/> */
		else
			suspend(xs, XML_EV_CLOSE);
		return;
	}
	xs->level--;
	if (xs->level > 1) {
		xs->cur = xs->cur->parent;
		return;
	}
	xs->done = xs->cur;
	xs->cur = NULL;
	xs->nodes = 0;
	xs->boundary = event_end(xs);
	suspend(xs, XML_EV_STANZA);
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xml_stream *xs = ud;
	struct xml_node *last;

	if (xs->cond != NULL || len <= 0)
		return;
	if (xs->level <= 1) {
		/* between stanzas: white space (keepalives) only */
		for (int i = 0; i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
			    s[i] != '\n') {
				fail(xs, "bad-format", "text between stanzas");
				return;
			}
		xs->boundary = event_end(xs);
		return;
	}
	last = xs->cur->last;
	if (last != NULL && last->name == NULL) {
		size_t ol = strlen(last->text);
		last->text = xrealloc(last->text, ol + (size_t)len + 1);
		memcpy(last->text + ol, s, (size_t)len);
		last->text[ol + (size_t)len] = '\0';
		return;
	}
	if (++xs->nodes > XML_NODES_MAX) {
		fail(xs, "policy-violation", "too many text runs in a stanza");
		return;
	}
	last = xcalloc(1, sizeof(*last));
	last->text = xstrndup(s, (size_t)len);
	node_append(xs->cur, last);
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	fail(ud, "restricted-xml", "a DOCTYPE (no DTD, no entity "
	    "declarations in XMPP)");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int pe, const XML_Char *value,
	  int vlen, const XML_Char *base, const XML_Char *sysid,
	  const XML_Char *pubid, const XML_Char *notation)
{
	(void)name; (void)pe; (void)value; (void)vlen; (void)base;
	(void)sysid; (void)pubid; (void)notation;
	fail(ud, "restricted-xml", "an entity declaration");
}

static void XMLCALL
on_comment(void *ud, const XML_Char *data)
{
	(void)data;
	fail(ud, "restricted-xml", "a comment");
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	fail(ud, "restricted-xml", "a processing instruction");
}

/* parser_new - an expat parser with our handlers. Its hash salt comes
 * from one random value per process (expat would ask the kernel for one
 * per parser, and an idle stream's parser is made again at each wake). */
static void
parser_new(struct xml_stream *xs)
{
	static unsigned long salt;
	static unsigned long count;

	if (salt == 0) {
		FILE *f = fopen("/dev/urandom", "rb");
		if (f == NULL || fread(&salt, sizeof(salt), 1, f) != 1)
			salt = (unsigned long)time(NULL) ^
			    ((unsigned long)getpid() << 16);
		if (f != NULL)
			fclose(f);
		salt |= 1;
	}
	xs->p = XML_ParserCreate("UTF-8");
	if (xs->p == NULL)
		abort();
	XML_SetHashSalt(xs->p, salt ^ (++count * 0x9e3779b97f4a7c15ULL));
	XML_SetUserData(xs->p, xs);
	XML_SetElementHandler(xs->p, on_start, on_end);
	XML_SetCharacterDataHandler(xs->p, on_text);
	XML_SetStartDoctypeDeclHandler(xs->p, on_doctype);
	XML_SetEntityDeclHandler(xs->p, on_entity);
	XML_SetCommentHandler(xs->p, on_comment);
	XML_SetProcessingInstructionHandler(xs->p, on_pi);
	XML_SetParamEntityParsing(xs->p, XML_PARAM_ENTITY_PARSING_NEVER);
}

struct xml_stream *
xml_stream_new(size_t stanza_max)
{
	struct xml_stream *xs = xcalloc(1, sizeof(*xs));

	parser_new(xs);
	xs->max = stanza_max;
	xs->pending = XML_EV_MORE;
	return xs;
}

bool
xml_stream_idle(struct xml_stream *xs)
{
	if (xs->p == NULL)
		return true;
	if (xs->cond != NULL || xs->level != 1 || xs->suspended ||
	    xs->pending != XML_EV_MORE || xs->close_pending ||
	    xs->cur != NULL || xs->done != NULL || xs->fed != xs->boundary)
		return false;
	XML_ParserFree(xs->p);
	xs->p = NULL;
	return true;
}

/* wake - an idle stream gets input: a new parser, fed a stream header
 * (swallowed: the client's was seen long ago) so that it stands where
 * the old one stopped, between two stanzas inside the root */
static void
wake(struct xml_stream *xs)
{
	static const char hdr[] = "<stream:stream xmlns:stream="
	    "'http://etherx.jabber.org/streams'>";

	parser_new(xs);
	xs->level = 0;
	xs->reopening = true;
	enum XML_Status st = XML_Parse(xs->p, hdr, (int)sizeof(hdr) - 1,
	    XML_FALSE);
	xs->reopening = false;
	if (st != XML_STATUS_OK || xs->level != 1)
		abort();          /* our own header always parses */
	xs->fed = xs->boundary = sizeof(hdr) - 1;
}

void
xml_stream_free(struct xml_stream **xsp)
{
	struct xml_stream *xs = *xsp;

	if (xs == NULL)
		return;
	if (xs->p != NULL)
		XML_ParserFree(xs->p);
	if (xs->cur != NULL) {
		while (xs->cur->parent != NULL)
			xs->cur = xs->cur->parent;
		xml_node_free(&xs->cur);
	}
	xml_node_free(&xs->done);
	xml_node_free(&xs->root);
	free(xs);
	*xsp = NULL;
}

void
xml_stream_set_max(struct xml_stream *xs, size_t stanza_max)
{
	xs->max = stanza_max;
}

/* result - turn expat's status into the next event */
static enum xml_event
result(struct xml_stream *xs, enum XML_Status st)
{
	enum xml_event ev;

	if (xs->cond != NULL)
		return XML_EV_ERROR;
	if (st == XML_STATUS_ERROR) {
		xs->cond = "not-well-formed";
		xs->text = XML_ErrorString(XML_GetErrorCode(xs->p));
		return XML_EV_ERROR;
	}
	if (xs->fed - xs->boundary > xs->max + XML_SLICE) {
		xs->cond = "policy-violation";
		xs->text = "stanza over the size limit";
		return XML_EV_ERROR;
	}
	ev = xs->pending;
	xs->pending = XML_EV_MORE;
	if (ev == XML_EV_MORE && xs->close_pending) {
		xs->close_pending = false;
		return XML_EV_CLOSE;
	}
	return ev;
}

enum xml_event
xml_stream_feed(struct xml_stream *xs, const char *data, size_t len,
		size_t *used_r)
{
	*used_r = 0;
	if (xs->cond != NULL)
		return XML_EV_ERROR;
	if (xs->suspended || xs->pending != XML_EV_MORE || xs->close_pending)
		return xml_stream_next(xs);
	if (len == 0)
		return XML_EV_MORE;
	if (xs->p == NULL)
		wake(xs);
	if (len > XML_SLICE)
		len = XML_SLICE;
	*used_r = len;
	xs->fed += len;
	if (xs->fed - xs->boundary > xs->max + XML_SLICE) {
		/* more than a stanza's worth without a stanza's end: expat
		 * would buffer an unending token whole */
		xs->cond = "policy-violation";
		xs->text = "stanza over the size limit";
		return XML_EV_ERROR;
	}
	return result(xs, XML_Parse(xs->p, data, (int)len, XML_FALSE));
}

enum xml_event
xml_stream_next(struct xml_stream *xs)
{
	if (xs->cond != NULL)
		return XML_EV_ERROR;
	if (xs->pending != XML_EV_MORE || xs->close_pending)
		return result(xs, XML_STATUS_OK);
	if (!xs->suspended)
		return XML_EV_MORE;
	xs->suspended = false;
	return result(xs, XML_ResumeParser(xs->p));
}

const struct xml_node *
xml_stream_root(const struct xml_stream *xs)
{
	return xs->root;
}

struct xml_node *
xml_stream_take(struct xml_stream *xs)
{
	struct xml_node *n = xs->done;

	xs->done = NULL;
	return n;
}

const char *
xml_stream_error(const struct xml_stream *xs, const char **text_r)
{
	if (text_r != NULL)
		*text_r = xs->text;
	return xs->cond;
}

/* xml_node_parse - one stanza from text we wrote (the chat store's) */
struct xml_node *
xml_node_parse(const char *xml, size_t max)
{
	static const char head[] = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";
	struct xml_stream *xs = xml_stream_new(max);
	struct xml_node *n = NULL;
	const char *parts[2] = { head, xml };
	enum xml_event ev = XML_EV_MORE;

	for (int i = 0; i < 2 && ev != XML_EV_ERROR && n == NULL; i++) {
		size_t len = strlen(parts[i]), pos = 0, used;
		while (pos < len || ev != XML_EV_MORE) {
			if (ev == XML_EV_MORE) {
				ev = xml_stream_feed(xs, parts[i] + pos,
				    len - pos, &used);
				pos += used;
			} else
				ev = xml_stream_next(xs);
			if (ev == XML_EV_STANZA && n == NULL)
				n = xml_stream_take(xs);
			if (ev == XML_EV_ERROR || ev == XML_EV_CLOSE)
				break;
		}
	}
	xml_stream_free(&xs);
	if (n != NULL && n->name == NULL)
		xml_node_free(&n);
	return n;
}
