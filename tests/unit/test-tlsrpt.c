/* test-tlsrpt - TLS-RPT records, report rows and the JSON report
 * (tlsrpt.h) */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tlsrpt.h"
#include "test.h"

static int
rec(const char *s, struct tlsrpt_record *r)
{
	const char *err = NULL;
	int rc = tlsrpt_record_parse(s, r, &err);

	if (rc < 0)
		CHECK(err != NULL);
	return rc;
}

static void
test_record(void)
{
	struct tlsrpt_record r;

	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:reports@example.com", &r), 1);
	CHECK_INTEQ((int)r.nrua, 1);
	CHECK_STREQ(r.rua[0], "mailto:reports@example.com");
	CHECK_INTEQ(rec("v=TLSRPTv1;rua=mailto:a@x.example, "
	    "https://reporting.example/v1/tlsrpt ;ext=5;", &r), 1);
	CHECK_INTEQ((int)r.nrua, 2);
	CHECK_STREQ(r.rua[1], "https://reporting.example/v1/tlsrpt");
	/* RFC 8460 3: commas and semicolons in a URI are %-encoded; a
	 * mailto: address is decoded (RFC 6068), its ?fields dropped */
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:%22tls%2Crpt%3Bx%22@example.com,"
	    "mailto:tls%2Brpt@Example.com?subject=x,"
	    "https://r.example/a%2Cb", &r), 1);
	CHECK_INTEQ((int)r.nrua, 3);
	CHECK_STREQ(r.rua[0], "mailto:\"tls,rpt;x\"@example.com");
	CHECK_STREQ(r.rua[1], "mailto:tls+rpt@Example.com");
	CHECK_STREQ(r.rua[2], "https://r.example/a%2Cb");
	/* decoded, a comma outside quotes is no mailbox; bad escapes,
	 * decoded spaces, controls, angle brackets, non-ASCII */
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:tls%2Crpt@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a%2@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a@example.com%", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a%20b@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a%00b@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a%3E@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:%C3%A9@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a@ex%2Cample.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a..b@example.com", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a@[192.0.2.1]", &r), 1);
	CHECK_INTEQ(rec("v=spf1 -all", &r), 0);
	CHECK_INTEQ(rec("rua=mailto:a@b; v=TLSRPTv1", &r), 0);
	CHECK_INTEQ(rec("v=TLSRPTv10; rua=mailto:a@b", &r), 0);
	CHECK_INTEQ(rec("v=TLSRPTv1", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=ftp://x.example/", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:nobody", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua", &r), -1);
	CHECK_INTEQ(rec("v=TLSRPTv1; rua=mailto:a@b,mailto:a@b,mailto:a@b,"
	    "mailto:a@b,mailto:a@b,mailto:a@b,mailto:a@b,mailto:a@b,mailto:a@b",
	    &r), -1);
	/* a huge record */
	char *big = malloc(10000);
	strcpy(big, "v=TLSRPTv1; rua=mailto:a@b; x=");
	memset(big + strlen(big), 'y', 9000);
	big[9100] = '\0';
	CHECK_INTEQ(rec(big, &r), -1);
	free(big);
}

static void
test_rows_and_report(void)
{
	struct tlsrpt_row rows[4], back;
	struct buf b;

	memset(rows, 0, sizeof(rows));
	for (int i = 0; i < 4; i++) {
		rows[i].when = 1796601600 + i;
		rows[i].type = TLSRPT_TLSA;
		strcpy(rows[i].domain, "dane.test");
		strcpy(rows[i].policy, "3 1 1 abcd");
		strcpy(rows[i].mx, "mx.dane.test");
		strcpy(rows[i].sending_ip, "127.0.0.1");
		strcpy(rows[i].receiving_ip, "127.0.0.2");
		strcpy(rows[i].result, i < 2 ? "success" : "validation-failure");
	}
	strcpy(rows[3].detail, "a\ttab");
	buf_init(&b, 0);
	tlsrpt_row_format(&rows[3], &b);
	CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
	CHECK_INTEQ(tlsrpt_row_parse(b.data, b.len - 1, &back), 0);
	CHECK_STREQ(back.detail, "a tab");
	CHECK_STREQ(back.result, "validation-failure");
	CHECK_INTEQ((int)back.type, TLSRPT_TLSA);
	CHECK_INTEQ(tlsrpt_row_parse("1\tx\ttlsa\td\t\t\t\t\tsuccess\t", 24,
	    &back), -1);
	CHECK_INTEQ(tlsrpt_row_parse(b.data, b.len - 3, &back), 0);
	buf_free(&b);
	CHECK_INTEQ(tlsrpt_row_parse("1\t5\ttlsa\td\t\t\t\t\tbogus\t", 20,
	    &back), -1);

	struct tlsrpt_meta m = { "Postern", "postmaster@mx.example",
		"r1", 1796601600, 1796601600 + 86399 };
	char *js = tlsrpt_report_json(&m, rows, 4);
	json_error_t e;
	json_t *j = json_loads(js, 0, &e);
	CHECK(j != NULL);
	json_t *p = json_array_get(json_object_get(j, "policies"), 0);
	json_t *s = json_object_get(p, "summary");
	CHECK_INTEQ((int)json_integer_value(json_object_get(s,
	    "total-successful-session-count")), 2);
	CHECK_INTEQ((int)json_integer_value(json_object_get(s,
	    "total-failure-session-count")), 2);
	json_t *f = json_object_get(p, "failure-details");
	/* one group: same result, MX and addresses */
	CHECK_INTEQ((int)json_array_size(f), 1);
	CHECK_INTEQ((int)json_integer_value(json_object_get(json_array_get(f, 0),
	    "failed-session-count")), 2);
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(j,
	    "date-range"), "start-datetime")), "2026-12-07T00:00:00Z");
	CHECK_STREQ(json_string_value(json_object_get(json_object_get(p,
	    "policy"), "policy-type")), "tlsa");
	json_decref(j);
	free(js);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_record),
		TEST(test_rows_and_report),
		{ NULL, NULL },
	};
	return test_run(tests);
}
