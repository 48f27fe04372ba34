/* test-listkey - the list unsubscribe keys and links shared by the list
 * server and the HTTP service (lib-admin/listkey.h) */
#include <stdlib.h>
#include <string.h>

#include "listkey.h"
#include "test.h"

static void
test_member_key(void)
{
	unsigned char secret[LIST_SECRET_LEN], other[LIST_SECRET_LEN];
	char k1[LIST_TOKEN_LEN + 1], k2[LIST_TOKEN_LEN + 1], k3[LIST_TOKEN_LEN + 1];

	memset(secret, 7, sizeof(secret));
	memset(other, 8, sizeof(other));
	list_member_key(secret, 12, "Bob+x@Acme.Test", k1);
	list_member_key(secret, 12, "bob+x@acme.test", k2);
	CHECK_INTEQ(strlen(k1), LIST_TOKEN_LEN);
	CHECK_STREQ(k1, k2);                 /* the address case does not matter */
	CHECK(list_token_valid(k1));
	list_member_key(secret, 13, "bob+x@acme.test", k3);
	CHECK(strcmp(k1, k3) != 0);          /* another list, another key */
	list_member_key(other, 12, "bob+x@acme.test", k3);
	CHECK(strcmp(k1, k3) != 0);          /* another secret, another key */
	CHECK(list_member_key_ok(secret, 12, "bob+x@acme.test", k1));
	CHECK(!list_member_key_ok(secret, 12, "bob@acme.test", k1));
	CHECK(!list_member_key_ok(secret, 13, "bob+x@acme.test", k1));
	CHECK(!list_member_key_ok(secret, 12, "bob+x@acme.test", ""));
	k1[LIST_TOKEN_LEN - 1] = '\0';
	CHECK(!list_member_key_ok(secret, 12, "bob+x@acme.test", k1));
}

static void
test_url(void)
{
	char *u = list_unsubscribe_url("https://m.test/list/unsubscribe",
	    "news@acme.test", "a+b&c=d@x.test", "0123456789abcdef0123");
	CHECK_STREQ(u, "https://m.test/list/unsubscribe?list=news%40acme.test"
	    "&member=a%2Bb%26c%3Dd%40x.test&key=0123456789abcdef0123");
	free(u);
	u = list_unsubscribe_url("https://m.test/u?x=1", "l@a.test", "m@a.test", "k");
	CHECK_STREQ(u, "https://m.test/u?x=1&list=l%40a.test&member=m%40a.test&key=k");
	free(u);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_member_key),
		TEST(test_url),
		{ NULL, NULL },
	};
	return test_run(tests);
}
