/* test-totp - RFC 6238 appendix B (SHA-1) and RFC 4648 base32, as
 * twofactor.c computes them */
#include <string.h>

#include "test.h"
#include "twofactor.h"

static void
test_rfc6238_vectors(void)
{
	static const unsigned char key[] = "12345678901234567890";
	static const struct { long long t; unsigned code; } v[] = {
		{ 59, 94287082 }, { 1111111109, 7081804 },
		{ 1111111111, 14050471 }, { 1234567890, 89005924 },
		{ 2000000000, 69279037 }, { 20000000000LL, 65353130 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(tf_totp(key, 20, (uint64_t)(v[i].t / 30), 8) == v[i].code);
	/* six digits: the last six of the eight */
	CHECK(tf_totp(key, 20, 59 / 30, 6) == 287082);
}

static void
test_base32(void)
{
	char out[64];

	tf_base32((const unsigned char *)"foobar", 6, out, sizeof(out));
	CHECK(strcmp(out, "MZXW6YTBOI") == 0);   /* RFC 4648 10, unpadded */
	tf_base32((const unsigned char *)"f", 1, out, sizeof(out));
	CHECK(strcmp(out, "MY") == 0);
	tf_base32((const unsigned char *)"", 0, out, sizeof(out));
	CHECK(strcmp(out, "") == 0);
	/* a small buffer truncates, NUL terminated */
	tf_base32((const unsigned char *)"foobar", 6, out, 4);
	CHECK(strcmp(out, "MZX") == 0);
}

int
main(void)
{
	static const struct test tests[] = { TEST(test_rfc6238_vectors),
	    TEST(test_base32), { 0 } };
	return test_run(tests);
}
