/* test-idn - domains between U-labels and A-labels (IDNA2008) */
#include <string.h>

#include "idn.h"
#include "test.h"

static void
test_to_ascii(void)
{
	char out[IDN_DOMAIN_MAX + 1];
	const char *err;

	CHECK(idn_to_ascii("b\xc3\xbc" "cher.example", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "xn--bcher-kva.example") == 0);
	/* UTS #46 mapping: upper case folds */
	CHECK(idn_to_ascii("B\xc3\x9c" "CHER.Example", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "xn--bcher-kva.example") == 0);
	/* ASCII is only lowercased, A-labels stay */
	CHECK(idn_to_ascii("XN--Bcher-KVA.Example", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "xn--bcher-kva.example") == 0);
	/* IDNA2008, non-transitional: sharp s stays (not "ss") */
	CHECK(idn_to_ascii("fa\xc3\x9f.de", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "xn--fa-hia.de") == 0);
	/* refused: broken UTF-8, a label over 63 octets, empty */
	CHECK(idn_to_ascii("b\xc3" "cher.example", out, sizeof(out), &err) < 0);
	char longl[200];
	memset(longl, 0, sizeof(longl));
	strcpy(longl, "\xc3\xbc");
	memset(longl + 2, 'a', 70);
	strcat(longl, ".test");
	CHECK(idn_to_ascii(longl, out, sizeof(out), &err) < 0);
	CHECK(idn_to_ascii("", out, sizeof(out), &err) < 0);
	/* a small output buffer is an error, never a truncation */
	char small[8];
	CHECK(idn_to_ascii("b\xc3\xbc" "cher.example", small, sizeof(small), &err) < 0);
	CHECK(idn_to_ascii("example.org", small, sizeof(small), &err) < 0);
}

static void
test_to_utf8(void)
{
	char out[4 * IDN_DOMAIN_MAX];
	const char *err;

	CHECK(idn_to_utf8("xn--bcher-kva.example", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "b\xc3\xbc" "cher.example") == 0);
	CHECK(idn_to_utf8("plain.example", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "plain.example") == 0);
	CHECK(!idn_has_utf8("plain.example"));
	CHECK(idn_has_utf8("b\xc3\xbc" "cher"));
}

int
main(void)
{
	static const struct test tests[] = { TEST(test_to_ascii),
	    TEST(test_to_utf8), { 0 } };
	return test_run(tests);
}
