/* test - run a table of unit tests and print the summary */
#include "test.h"

int test_failures_current;

int
test_run(const struct test *tests)
{
	int passed = 0, failed = 0;

	for (const struct test *t = tests; t->name != NULL; t++) {
		test_failures_current = 0;
		t->fn();
		if (test_failures_current == 0) {
			passed++;
			printf("ok   %s\n", t->name);
		} else {
			failed++;
			printf("FAIL %s\n", t->name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
