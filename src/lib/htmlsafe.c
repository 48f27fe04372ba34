/* htmlsafe - HTML reduced to a safe subset (htmlsafe.h) */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htmlsafe.h"

#define TAG_NAME_MAX 16
#define HREF_MAX 2048

static const char *const allowed_tags[] = { "a", "b", "blockquote", "br",
	"code", "div", "em", "hr", "i", "li", "ol", "p", "pre", "s", "small",
	"span", "strong", "sub", "sup", "u", "ul", NULL };
/* dropped with everything up to their close tag */
static const char *const dropped_tags[] = { "script", "style", "iframe",
	"object", "embed", "svg", "math", "template", "noscript", "textarea",
	"title", "xmp", "noembed", "noframes", "select", "head", NULL };

static int
tag_index(const char *const *list, const char *name)
{
	for (int i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return i;
	return -1;
}

static bool
is_void(const char *name)
{
	return strcmp(name, "br") == 0 || strcmp(name, "hr") == 0;
}

/* entity_len - the length of a well-formed character reference at p
 * (&name; &#123; &#x1F;), or 0 */
static size_t
entity_len(const char *p, const char *end)
{
	const char *q = p + 1;
	size_t n = 0;

	if (q < end && *q == '#') {
		q++;
		bool hex = q < end && (*q == 'x' || *q == 'X');
		if (hex)
			q++;
		while (q < end && n < 7 && (hex ? isxdigit((unsigned char)*q) :
		    isdigit((unsigned char)*q))) {
			q++;
			n++;
		}
	} else {
		while (q < end && n < 12 && isalnum((unsigned char)*q)) {
			q++;
			n++;
		}
	}
	if (n == 0 || q >= end || *q != ';')
		return 0;
	return (size_t)(q + 1 - p);
}

static void
put_text(struct buf *out, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		size_t e;
		switch (*p) {
		case '&':
			if ((e = entity_len(p, end)) > 0) {
				buf_append(out, p, e);
				p += e;
				continue;
			}
			buf_puts(out, "&amp;");
			break;
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		case '"':
			buf_puts(out, "&quot;");
			break;
		case '\0':
			break;
		default:
			buf_putc(out, *p);
		}
		p++;
	}
}

/* href_decode - the few references a URL needs decoded: &amp; &lt; &gt;
 * &quot; &apos; and numeric ones (ASCII only; others make it unsafe) */
static bool
href_decode(const char *p, size_t n, char *out, size_t size)
{
	const char *end = p + n;
	size_t o = 0;

	while (p < end) {
		if (o + 2 > size)
			return false;
		if (*p != '&') {
			out[o++] = *p++;
			continue;
		}
		size_t e = entity_len(p, end);
		if (e == 0) {
			out[o++] = *p++;
			continue;
		}
		long v = -1;
		if (p[1] == '#')
			v = (p[2] == 'x' || p[2] == 'X') ? strtol(p + 3, NULL, 16) :
			    strtol(p + 2, NULL, 10);
		else if (strncmp(p, "&amp;", e) == 0)
			v = '&';
		else if (strncmp(p, "&lt;", e) == 0)
			v = '<';
		else if (strncmp(p, "&gt;", e) == 0)
			v = '>';
		else if (strncmp(p, "&quot;", e) == 0)
			v = '"';
		else if (strncmp(p, "&apos;", e) == 0)
			v = '\'';
		if (v <= 0 || v > 126)
			return false;
		out[o++] = (char)v;
		p += e;
	}
	out[o] = '\0';
	return true;
}

/* href_ok - an http:, https: or mailto: URL without control bytes */
static bool
href_ok(const char *u)
{
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return strncasecmp(u, "https://", 8) == 0 ||
	    strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "mailto:", 7) == 0;
}

/* attr_href - find href="..." among a tag's attributes [p, end) and put
 * it, escaped, into out: true when one was safe */
static bool
attr_href(const char *p, const char *end, struct buf *out)
{
	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == '/'))
			p++;
		const char *name = p;
		while (p < end && !isspace((unsigned char)*p) && *p != '=' &&
		    *p != '/')
			p++;
		size_t nl = (size_t)(p - name);
		while (p < end && isspace((unsigned char)*p))
			p++;
		const char *val = NULL;
		size_t vl = 0;
		if (p < end && *p == '=') {
			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char q = *p++;
				val = p;
				while (p < end && *p != q)
					p++;
				vl = (size_t)(p - val);
				if (p < end)
					p++;
			} else {
				val = p;
				while (p < end && !isspace((unsigned char)*p))
					p++;
				vl = (size_t)(p - val);
			}
		}
		if (nl == 0) {
			if (p < end)
				p++;
			continue;
		}
		if (nl == 4 && strncasecmp(name, "href", 4) == 0 && val != NULL) {
			char url[HREF_MAX];
			if (vl >= sizeof(url) || !href_decode(val, vl, url,
			    sizeof(url)) || !href_ok(url))
				return false;
			buf_puts(out, " href=\"");
			for (const char *u = url; *u != '\0'; u++) {
				if (*u == '&')
					buf_puts(out, "&amp;");
				else if (*u == '"')
					buf_puts(out, "&quot;");
				else if (*u == '<')
					buf_puts(out, "&lt;");
				else if (*u == '>')
					buf_puts(out, "&gt;");
				else
					buf_putc(out, *u);
			}
			buf_putc(out, '"');
			return true;
		}
	}
	return false;
}

/* tag_end - the '>' closing a tag opened at p (quotes respected), or
 * NULL */
static const char *
tag_end(const char *p, const char *end)
{
	char q = 0;

	for (; p < end; p++) {
		if (q != 0) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '>') {
			return p;
		}
	}
	return NULL;
}

/* find_ci - the first case-insensitive occurrence of s in [p, end) */
static const char *
find_ci(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	for (; p + n <= end; p++)
		if (strncasecmp(p, s, n) == 0)
			return p;
	return NULL;
}

int
htmlsafe_clean(const char *in, size_t len, struct buf *out,
	       const char **error_r)
{
	const char *p = in, *end = in + len;
	int stack[HTMLSAFE_DEPTH];
	size_t depth = 0;

	if (len > HTMLSAFE_MAX) {
		*error_r = "the HTML is longer than 64 KB";
		return -1;
	}
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL) {
			put_text(out, p, (size_t)(end - p));
			break;
		}
		put_text(out, p, (size_t)(lt - p));
		p = lt;
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *c = find_ci(p + 4, end, "-->");
			p = c != NULL ? c + 3 : end;
			continue;
		}
		if (p + 1 < end && (p[1] == '!' || p[1] == '?')) {
			const char *c = memchr(p, '>', (size_t)(end - p));
			p = c != NULL ? c + 1 : end;
			continue;
		}
		const char *q = p + 1;
		bool closing = q < end && *q == '/';
		if (closing)
			q++;
		char name[TAG_NAME_MAX + 1];
		size_t n = 0;
		if (q >= end || !isalpha((unsigned char)*q)) {
			buf_puts(out, "&lt;");
			p++;
			continue;
		}
		while (q < end && isalnum((unsigned char)*q)) {
			if (n < TAG_NAME_MAX)
				name[n] = (char)tolower((unsigned char)*q);
			n++;
			q++;
		}
		name[n < TAG_NAME_MAX ? n : TAG_NAME_MAX] = '\0';
		const char *gt = tag_end(q, end);
		if (gt == NULL)
			break;           /* an unfinished tag: the rest goes */
		p = gt + 1;
		if (n > TAG_NAME_MAX)
			continue;
		if (!closing && tag_index(dropped_tags, name) >= 0) {
			char close[TAG_NAME_MAX + 3];
			close[0] = '<';
			close[1] = '/';
			strcpy(close + 2, name);
			const char *c = find_ci(p, end, close);
			const char *cg = c != NULL ? tag_end(c, end) : NULL;
			p = cg != NULL ? cg + 1 : end;
			continue;
		}
		int t = tag_index(allowed_tags, name);
		if (t < 0)
			continue;
		if (closing) {
			size_t k = depth;
			while (k > 0 && stack[k - 1] != t)
				k--;
			if (k == 0)
				continue;
			while (depth >= k) {
				buf_printf(out, "</%s>", allowed_tags[stack[--depth]]);
				if (depth == 0)
					break;
			}
			continue;
		}
		if (is_void(name)) {
			buf_printf(out, "<%s>", name);
			continue;
		}
		if (depth == HTMLSAFE_DEPTH)
			continue;
		buf_printf(out, "<%s", name);
		if (strcmp(name, "a") == 0)
			(void)attr_href(q, gt, out);
		buf_putc(out, '>');
		stack[depth++] = t;
	}
	while (depth > 0)
		buf_printf(out, "</%s>", allowed_tags[stack[--depth]]);
	return 0;
}
