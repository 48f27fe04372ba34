/* test-diag - the report structure and its renderings (lib-diag) */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"
#include "diag-private.h"
#include "test.h"
#include "xalloc.h"

static void
make(struct diag_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->root = xstrdup("/srv/<root>");
	rep->generated = 0;
	struct diag_section *a = diag_section(rep, "First");
	struct diag_section *b = diag_section(rep, "Second <b>");
	/* pointers stay valid while sections are added */
	for (int i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		diag_section(rep, name);
	}
	diag_add(a, DIAG_OK, "check one", NULL, "value %d", 1);
	diag_add(a, DIAG_ERROR, "Post office <script>alert('x')</script>",
	    "do \"this\" & that", "line1\nline2");
	diag_add(b, DIAG_WARNING, "bytes", NULL, "bad \xff\xfe utf8 \x01 and \xc3\xa9");
	CHECK(diag_section(rep, "First") == a);
}

static void
test_counts_and_text(void)
{
	struct diag_report rep;
	struct buf b;

	make(&rep);
	CHECK_INTEQ(rep.nsections, 42);
	CHECK_INTEQ(diag_count(&rep, DIAG_ERROR), 1);
	CHECK_INTEQ(diag_count(&rep, DIAG_WARNING), 1);
	CHECK_INTEQ(diag_count(&rep, DIAG_OK), 1);
	buf_init(&b, 0);
	diag_render_text(&rep, &b);
	CHECK(strstr(b.data, "\n== First ==\n") != NULL);
	CHECK(strstr(b.data, "  [ok]       check one: value 1\n") != NULL);
	/* a value's second line keeps the indentation */
	CHECK(strstr(b.data, "line1\n                line2\n") != NULL);
	CHECK(strstr(b.data, "-> do \"this\" & that") != NULL);
	/* invalid UTF-8 and control characters became '?', valid kept */
	CHECK(strstr(b.data, "bad ?? utf8 ? and \xc3\xa9") != NULL);
	CHECK(strstr(b.data, "Summary: 1 error(s), 1 warning(s)") != NULL);
	buf_free(&b);
	diag_report_free(&rep);
}

static void
test_html_escapes(void)
{
	struct diag_report rep;
	struct buf b;

	make(&rep);
	buf_init(&b, 0);
	diag_render_html(&rep, &b);
	CHECK(strncmp(b.data, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(b.data, "<script") == NULL);
	CHECK(strstr(b.data, "http") == NULL);   /* no external resource */
	CHECK(strstr(b.data, "Post office &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != NULL);
	CHECK(strstr(b.data, "do &quot;this&quot; &amp; that") != NULL);
	CHECK(strstr(b.data, "<h2>Second &lt;b&gt;</h2>") != NULL);
	CHECK(strstr(b.data, "/srv/&lt;root&gt;") != NULL);
	CHECK(strstr(b.data, "<tr class=\"error\"><td>error</td>") != NULL);
	buf_free(&b);
	diag_report_free(&rep);
}

static void
test_json(void)
{
	struct diag_report rep;
	json_error_t jerr;

	make(&rep);
	json_t *j = diag_render_json(&rep);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	CHECK(text != NULL);
	json_t *back = json_loads(text ? text : "", 0, &jerr);
	CHECK(back != NULL);
	CHECK_INTEQ(json_integer_value(json_object_get(back, "errors")), 1);
	json_t *s0 = json_array_get(json_object_get(back, "sections"), 0);
	CHECK_STREQ(json_string_value(json_object_get(s0, "name")), "First");
	json_t *it = json_array_get(json_object_get(s0, "items"), 1);
	CHECK_STREQ(json_string_value(json_object_get(it, "status")), "error");
	CHECK_STREQ(json_string_value(json_object_get(it, "value")), "line1\nline2");
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(s0, "items"), 0),
	    "advice")));
	json_decref(back);
	free(text);
	diag_report_free(&rep);
}

static void
test_private_addresses(void)
{
	CHECK(diag_ip_private("127.0.0.1"));
	CHECK(diag_ip_private("10.1.2.3"));
	CHECK(diag_ip_private("172.31.255.255"));
	CHECK(!diag_ip_private("172.32.0.1"));
	CHECK(diag_ip_private("192.168.7.1"));
	CHECK(!diag_ip_private("192.0.2.10"));
	CHECK(!diag_ip_private("8.8.8.8"));
	CHECK(diag_ip_private("::1"));
	CHECK(diag_ip_private("fd00::5"));
	CHECK(diag_ip_private("fe80::1"));
	CHECK(!diag_ip_private("2001:db8::1"));
	CHECK(!diag_ip_private("not an address"));
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_counts_and_text),
		TEST(test_html_escapes),
		TEST(test_json),
		TEST(test_private_addresses),
		{ NULL, NULL },
	};
	return test_run(tests);
}
