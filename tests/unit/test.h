#ifndef POSTERN_TEST_H
#define POSTERN_TEST_H

/* A tiny test harness in the manner of Dovecot's lib-test.
 *
 *   static void test_foo(void) { CHECK(1 + 1 == 2); CHECK_STREQ(s, "x"); }
 *   int main(void) { static const struct test t[] = { TEST(test_foo), {0} };
 *                    return test_run(t); }
 *
 * Each program prints "N passed, N failed" and exits non-zero on failure. */

#include <stdio.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
};

#define TEST(fn) { #fn, fn }

extern int test_failures_current;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		test_failures_current++; \
	} \
} while (0)

#define CHECK_STREQ(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { \
		fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		test_failures_current++; \
	} \
} while (0)

#define CHECK_INTEQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, \
		    __LINE__, #a, a_, b_); \
		test_failures_current++; \
	} \
} while (0)

int test_run(const struct test *tests);

#endif
