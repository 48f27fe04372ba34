/* test-smtpd - smtpd helpers: relay network matching */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "../../src/smtpd/smtpd.h"
#include "test.h"

static struct sockaddr_storage ss;

static const struct sockaddr *
addr(const char *text)
{
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	return (const struct sockaddr *)&ss;
}

static void
test_cidr(void)
{
	const char *bad;

	CHECK(!smtpd_cidr_match("", addr("127.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("127.0.0.0/8", addr("127.1.2.3"), &bad));
	CHECK(!smtpd_cidr_match("127.0.0.0/8", addr("128.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("10.0.0.0/8, 192.0.2.7", addr("192.0.2.7"), &bad));
	CHECK(!smtpd_cidr_match("192.0.2.7", addr("192.0.2.8"), &bad));
	CHECK(smtpd_cidr_match("192.0.2.0/25", addr("192.0.2.127"), &bad));
	CHECK(!smtpd_cidr_match("192.0.2.0/25", addr("192.0.2.128"), &bad));
	CHECK(smtpd_cidr_match("0.0.0.0/0", addr("203.0.113.9"), &bad));
	CHECK(smtpd_cidr_match("::1/128", addr("::1"), &bad));
	CHECK(!smtpd_cidr_match("::1/128", addr("127.0.0.1"), &bad));
	CHECK(smtpd_cidr_match("2001:db8::/32", addr("2001:db8:1::5"), &bad));
	/* v4-mapped v6 clients match v4 networks */
	CHECK(smtpd_cidr_match("127.0.0.0/8", addr("::ffff:127.0.0.1"), &bad));
	/* bad entries are skipped and reported */
	CHECK(smtpd_cidr_match("nonsense 127.0.0.1", addr("127.0.0.1"), &bad));
	CHECK(!smtpd_cidr_match("10.0.0.0/33", addr("10.0.0.1"), &bad));
	CHECK(bad != NULL);
	CHECK(!smtpd_cidr_match("10.0.0.0/", addr("10.0.0.1"), &bad));
	CHECK(bad != NULL);
}

int
main(void)
{
	static const struct test tests[] = { TEST(test_cidr), { 0 } };
	return test_run(tests);
}
