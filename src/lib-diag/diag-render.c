/* diag-render - the report as text, HTML and JSON */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "diag.h"

static void
time_text(long long t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, size, "%lld", t);
}

/* put_indented - text whose own newlines keep the indentation */
static void
put_indented(struct buf *out, const char *s, const char *indent)
{
	for (; *s != '\0'; s++) {
		buf_putc(out, *s);
		if (*s == '\n' && s[1] != '\0')
			buf_puts(out, indent);
	}
}

void
diag_render_text(const struct diag_report *rep, struct buf *out)
{
	char when[64];
	const char *ind = "                ";

	time_text(rep->generated, when, sizeof(when));
	buf_printf(out, "Postern diagnostic report\ndata root %s, %s\n",
	    rep->root, when);
	for (size_t i = 0; i < rep->nsections; i++) {
		const struct diag_section *s = rep->sections[i];
		buf_printf(out, "\n== %s ==\n", s->name);
		for (size_t j = 0; j < s->nitems; j++) {
			const struct diag_item *it = &s->items[j];
			char tag[16];
			snprintf(tag, sizeof(tag), "[%s]", diag_status_name(it->status));
			buf_printf(out, "  %-10s %s: ", tag, it->check);
			put_indented(out, it->value, ind);
			buf_putc(out, '\n');
			if (it->advice != NULL) {
				buf_printf(out, "%s-> ", ind);
				put_indented(out, it->advice, ind);
				buf_putc(out, '\n');
			}
		}
	}
	buf_printf(out, "\nSummary: %zu error(s), %zu warning(s)\n",
	    diag_count(rep, DIAG_ERROR), diag_count(rep, DIAG_WARNING));
}

/* html_escape - text as HTML character data or attribute value */
static void
html_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				buf_putc(out, '?');
			else
				buf_putc(out, *s);
		}
	}
}

void
diag_render_html(const struct diag_report *rep, struct buf *out)
{
	char when[64];

	time_text(rep->generated, when, sizeof(when));
	buf_puts(out,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<title>Postern diagnostic report</title>\n<style>\n"
	    "body{font-family:sans-serif;margin:2em;color:#222}\n"
	    "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\n"
	    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\n"
	    "td.v{white-space:pre-wrap;font-family:monospace}\n"
	    ".ok{background:#e6f4e6}.info{background:#eef2f8}"
	    ".warning{background:#fff4d6}.error{background:#fbe0e0}\n"
	    "</style>\n</head>\n<body>\n<h1>Postern diagnostic report</h1>\n<p>Data root <code>");
	html_escape(out, rep->root);
	buf_puts(out, "</code>, ");
	html_escape(out, when);
	buf_printf(out, ": %zu error(s), %zu warning(s).</p>\n",
	    diag_count(rep, DIAG_ERROR), diag_count(rep, DIAG_WARNING));
	for (size_t i = 0; i < rep->nsections; i++) {
		const struct diag_section *s = rep->sections[i];
		buf_puts(out, "<h2>");
		html_escape(out, s->name);
		buf_puts(out, "</h2>\n<table>\n<tr><th>Status</th><th>Check</th>"
		    "<th>Value</th><th>Advice</th></tr>\n");
		for (size_t j = 0; j < s->nitems; j++) {
			const struct diag_item *it = &s->items[j];
			const char *st = diag_status_name(it->status);
			buf_printf(out, "<tr class=\"%s\"><td>%s</td><td>", st, st);
			html_escape(out, it->check);
			buf_puts(out, "</td><td class=\"v\">");
			html_escape(out, it->value);
			buf_puts(out, "</td><td>");
			html_escape(out, it->advice != NULL ? it->advice : "");
			buf_puts(out, "</td></tr>\n");
		}
		buf_puts(out, "</table>\n");
	}
	buf_puts(out, "</body>\n</html>\n");
}

json_t *
diag_render_json(const struct diag_report *rep)
{
	json_t *o = json_object(), *secs = json_array();

	json_object_set_new(o, "root", json_string(rep->root));
	json_object_set_new(o, "generated", json_integer(rep->generated));
	json_object_set_new(o, "errors", json_integer((json_int_t)diag_count(rep, DIAG_ERROR)));
	json_object_set_new(o, "warnings", json_integer((json_int_t)diag_count(rep, DIAG_WARNING)));
	for (size_t i = 0; i < rep->nsections; i++) {
		const struct diag_section *s = rep->sections[i];
		json_t *so = json_object(), *items = json_array();
		json_object_set_new(so, "name", json_string(s->name));
		for (size_t j = 0; j < s->nitems; j++) {
			const struct diag_item *it = &s->items[j];
			json_t *io = json_object();
			/* diag_add made every text valid UTF-8 */
			json_object_set_new(io, "check", json_string(it->check));
			json_object_set_new(io, "status", json_string(diag_status_name(it->status)));
			json_object_set_new(io, "value", json_string(it->value));
			json_object_set_new(io, "advice", it->advice != NULL ?
			    json_string(it->advice) : json_null());
			json_array_append_new(items, io);
		}
		json_object_set_new(so, "items", items);
		json_array_append_new(secs, so);
	}
	json_object_set_new(o, "sections", secs);
	return o;
}
