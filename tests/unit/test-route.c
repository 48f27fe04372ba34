/* test-route - smtp-out's route decisions: which hosts, in which order
 * (no network, no database: the settings and DNS answers are given) */
#include <stdlib.h>
#include <string.h>

#include "out-route.h"
#include "test.h"

static const struct route_conf none;

static void test_mx_default(void)
{
	struct route rt;

	route_decide(&none, "Bob@Example.ORG", &rt);
	CHECK(!rt.relay);
	CHECK_STREQ(rt.domain, "example.org");
	CHECK_STREQ(rt.key, "mx:example.org");
	CHECK_STREQ(rt.why, "MX");
	route_free(&rt);
	CHECK(rt.key == NULL && rt.domain == NULL);
}

/* manual 5.4.2, 5.3.3: domain smart host before the post office's, the
 * post office's before the global one */
static void test_smarthost_order(void)
{
	struct route_conf c = {
		.domain_smarthost = "dom.example:2525",
		.po_smarthost = "po.example", .po_auth = true,
		.po_user = "pouser", .po_password = "po-secret-1",
		.smarthost = "[2001:db8::1]:587", .smarthost_auth = true,
		.smarthost_user = "g", .smarthost_password = "global-secret",
	};
	struct route rt;

	route_decide(&c, "a@x.example", &rt);
	CHECK(rt.relay && !rt.auth);
	CHECK_STREQ(rt.host, "dom.example");
	CHECK_INTEQ(rt.port, 2525);
	CHECK_STREQ(rt.why, "domain smart host");
	CHECK_STREQ(rt.key, "relay:dom.example:2525:");
	route_free(&rt);

	c.domain_smarthost = "";
	route_decide(&c, "a@x.example", &rt);
	CHECK(rt.relay && rt.auth);
	CHECK_STREQ(rt.host, "po.example");
	CHECK_INTEQ(rt.port, 25);
	CHECK_STREQ(rt.user, "pouser");
	CHECK_STREQ(rt.password, "po-secret-1");
	CHECK_STREQ(rt.key, "relay:po.example:25:pouser");
	route_free(&rt);

	c.po_smarthost = NULL;
	route_decide(&c, "a@x.example", &rt);
	CHECK(rt.relay && rt.auth);
	CHECK_STREQ(rt.host, "2001:db8::1");
	CHECK_INTEQ(rt.port, 587);
	CHECK_STREQ(rt.why, "smart host");
	route_free(&rt);

	/* auth asked for without a user name: no AUTH */
	c.smarthost_user = "";
	route_decide(&c, "a@x.example", &rt);
	CHECK(rt.relay && !rt.auth);
	route_free(&rt);
}

/* RFC 5321 4.1.3: an address literal is that address, no MX */
static void test_literal(void)
{
	struct route rt;

	route_decide(&none, "u@[192.0.2.7]", &rt);
	CHECK(rt.relay);
	CHECK_STREQ(rt.host, "192.0.2.7");
	CHECK_INTEQ(rt.port, 0);
	CHECK_STREQ(rt.key, "literal:192.0.2.7");
	route_free(&rt);
	route_decide(&none, "u@[IPv6:2001:DB8::5]", &rt);
	CHECK_STREQ(rt.host, "2001:db8::5");
	route_free(&rt);
	/* unterminated: not a literal, an MX lookup that will fail */
	route_decide(&none, "u@[192.0.2.7", &rt);
	CHECK(!rt.relay);
	route_free(&rt);
}

static void test_hostport(void)
{
	char *h;
	int port;

	route_hostport_split("mx.example", &h, &port);
	CHECK_STREQ(h, "mx.example");
	CHECK_INTEQ(port, 25);
	free(h);
	route_hostport_split("mx.example:99999", &h, &port);
	CHECK_STREQ(h, "mx.example");
	CHECK_INTEQ(port, 25);
	free(h);
	route_hostport_split("[::1]:2525", &h, &port);
	CHECK_STREQ(h, "::1");
	CHECK_INTEQ(port, 2525);
	free(h);
	route_hostport_split("[::1]:0", &h, &port);
	CHECK_INTEQ(port, 25);
	free(h);
	/* a bare IPv6 address: no port */
	route_hostport_split("2001:db8::1", &h, &port);
	CHECK_STREQ(h, "2001:db8::1");
	CHECK_INTEQ(port, 25);
	free(h);
}

static void test_mx_hosts(void)
{
	struct dns_mx mx[] = {
		{ "a.example", 10, false, false }, { "b.example", 10, false, false },
		{ "me.example", 20, false, false }, { "c.example", 30, false, false },
	};
	size_t keep;
	char *reply;

	/* not one of them: all, in the given (preference) order */
	CHECK_INTEQ(route_mx_hosts(DNS_OK, mx, 4, "other.example", "d.example",
				   NULL, &keep, &reply), 1);
	CHECK_INTEQ(keep, 4);
	CHECK(reply == NULL);
	/* RFC 5321 5.1: only the more preferred ones than ourselves */
	CHECK_INTEQ(route_mx_hosts(DNS_OK, mx, 4, "ME.example", "d.example",
				   NULL, &keep, &reply), 1);
	CHECK_INTEQ(keep, 2);
	/* we are the best MX: a loop, permanent */
	CHECK_INTEQ(route_mx_hosts(DNS_OK, mx + 2, 2, "me.example",
				   "d.example", NULL, &keep, &reply), -1);
	CHECK(reply != NULL && strncmp(reply, "554 5.4.6", 9) == 0);
	free(reply);
	CHECK_INTEQ(route_mx_hosts(DNS_NULLMX, NULL, 0, "me", "d.example",
				   NULL, &keep, &reply), -1);
	CHECK(reply != NULL && strncmp(reply, "556 5.1.10", 10) == 0);
	free(reply);
	CHECK_INTEQ(route_mx_hosts(DNS_NOTFOUND, NULL, 0, "me", "d.example",
				   NULL, &keep, &reply), -1);
	CHECK(reply != NULL && strncmp(reply, "550 5.1.2", 9) == 0);
	free(reply);
	CHECK_INTEQ(route_mx_hosts(DNS_TEMPFAIL, NULL, 0, "me", "d.example",
				   "timeout", &keep, &reply), 0);
	CHECK(reply != NULL && strstr(reply, "451 4.4.3") == reply &&
	      strstr(reply, "timeout") != NULL);
	free(reply);
}

int main(void)
{
	static const struct test tests[] = {
		TEST(test_mx_default),
		TEST(test_smarthost_order),
		TEST(test_literal),
		TEST(test_hostport),
		TEST(test_mx_hosts),
		{ NULL, NULL },
	};
	return test_run(tests);
}
