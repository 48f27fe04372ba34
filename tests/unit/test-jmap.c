/* test-jmap - the JMAP core (src/httpd/jmap.c): request checks,
 * back-references, JSON pointers with '*', method errors */
#include <stdlib.h>
#include <string.h>

#include "jmap.h"
#include "test.h"

static void
echo(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	int *calls = ctx;
	(*calls)++;
	if (json_object_get(args, "fail") != NULL)
		*error_r = jmap_error_props("invalidArguments", "bad", "fail", NULL);
	else
		*result_r = json_deep_copy(args);
}

static const struct jmap_method methods[] = {
	{ "Core/echo", JMAP_CORE, echo },
	{ "X/echo", "urn:x", echo },
	{ NULL, NULL, NULL },
};
static const char *const caps[] = { JMAP_CORE, "urn:x", NULL };

/* run - the response of a request as compact JSON (new string) */
static char *
run(const char *req, int *status, int *calls)
{
	const struct jmap_method *const tables[] = { methods, NULL };
	struct jmap_limits lim = JMAP_DEFAULT_LIMITS;
	json_t *out;

	lim.max_calls_in_request = 3;
	*status = jmap_run(req, strlen(req), tables, caps, &lim, "st", calls, &out);
	char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	return s;
}

static bool
has(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

static void
test_request_errors(void)
{
	int st, calls = 0;
	char *s;

	s = run("{\"using\":", &st, &calls);
	CHECK_INTEQ(st, 400);
	CHECK(has(s, "urn:ietf:params:jmap:error:notJSON"));
	free(s);
	s = run("[1,2]", &st, &calls);
	CHECK(has(s, "error:notRequest"));
	free(s);
	s = run("{\"using\":[],\"methodCalls\":[[\"Core/echo\",{}]]}", &st, &calls);
	CHECK(has(s, "error:notRequest"));
	free(s);
	s = run("{\"using\":[\"urn:nope\"],\"methodCalls\":[]}", &st, &calls);
	CHECK(has(s, "error:unknownCapability"));
	CHECK(has(s, "urn:nope"));
	free(s);
	s = run("{\"using\":[],\"methodCalls\":[[\"a\",{},\"1\"],[\"a\",{},\"2\"],"
	    "[\"a\",{},\"3\"],[\"a\",{},\"4\"]]}", &st, &calls);
	CHECK(has(s, "error:limit"));
	CHECK(has(s, "\"limit\":\"maxCallsInRequest\""));
	free(s);
	/* duplicate keys are not I-JSON */
	s = run("{\"using\":[],\"using\":[],\"methodCalls\":[]}", &st, &calls);
	CHECK(has(s, "error:notJSON"));
	free(s);
	CHECK_INTEQ(calls, 0);
}

static void
test_method_errors(void)
{
	int st, calls = 0;
	char *s = run("{\"using\":[\"" JMAP_CORE "\"],\"methodCalls\":["
	    "[\"Nope/get\",{},\"a\"],[\"X/echo\",{},\"b\"],"
	    "[\"Core/echo\",{\"fail\":1},\"c\"]]}", &st, &calls);

	CHECK_INTEQ(st, 200);
	CHECK(has(s, "[\"error\",{\"description\":\"there is no method Nope/get\","
	    "\"type\":\"unknownMethod\"},\"a\"]"));
	/* a capability not in "using" */
	CHECK(has(s, "needs urn:x in"));
	CHECK(has(s, "\"properties\":[\"fail\"],\"type\":\"invalidArguments\"},\"c\"]"));
	CHECK(has(s, "\"sessionState\":\"st\""));
	CHECK_INTEQ(calls, 1);
	free(s);
}

static void
test_back_references(void)
{
	int st, calls = 0;
	char *s = run("{\"using\":[\"" JMAP_CORE "\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"list\":[{\"id\":\"x\"},{\"id\":[\"y\",\"z\"]}]},\"c0\"],"
	    "[\"Core/echo\",{\"#ids\":{\"resultOf\":\"c0\",\"name\":\"Core/echo\","
	    "\"path\":\"/list/*/id\"}},\"c1\"],"
	    "[\"Core/echo\",{\"#ids\":{\"resultOf\":\"c9\",\"name\":\"Core/echo\","
	    "\"path\":\"/list\"}},\"c2\"],"
	    "]}", &st, &calls);
	/* a trailing comma is not JSON */
	CHECK(has(s, "notJSON"));
	free(s);
	s = run("{\"using\":[\"" JMAP_CORE "\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"list\":[{\"id\":\"x\"},{\"id\":[\"y\",\"z\"]}]},\"c0\"],"
	    "[\"Core/echo\",{\"#ids\":{\"resultOf\":\"c0\",\"name\":\"Core/echo\","
	    "\"path\":\"/list/*/id\"}},\"c1\"],"
	    "[\"Core/echo\",{\"#ids\":{\"resultOf\":\"c9\",\"name\":\"Core/echo\","
	    "\"path\":\"/list\"}},\"c2\"]"
	    "]}", &st, &calls);
	CHECK_INTEQ(st, 200);
	/* '*' maps over the array and flattens arrays */
	CHECK(has(s, "[\"Core/echo\",{\"ids\":[\"x\",\"y\",\"z\"]},\"c1\"]"));
	CHECK(has(s, "\"type\":\"invalidResultReference\"},\"c2\"]"));
	free(s);
	/* both direct and referenced */
	s = run("{\"using\":[\"" JMAP_CORE "\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"a\":1},\"c0\"],"
	    "[\"Core/echo\",{\"a\":1,\"#a\":{\"resultOf\":\"c0\",\"name\":"
	    "\"Core/echo\",\"path\":\"/a\"}},\"c1\"]]}", &st, &calls);
	CHECK(has(s, "\"properties\":[\"a\"],\"type\":\"invalidArguments\"},\"c1\"]"));
	free(s);
}

static void
test_pointer(void)
{
	json_t *v = json_loads("{\"a/b\":{\"m~n\":[10,20]},\"l\":[[1,2],[3]]}", 0,
	    NULL);
	json_t *x;

	x = jmap_pointer(v, "/a~1b/m~0n/1");
	CHECK(json_integer_value(x) == 20);
	json_decref(x);
	CHECK(jmap_pointer(v, "/a~1b/m~0n/01") == NULL);
	CHECK(jmap_pointer(v, "/a~1b/m~0n/2") == NULL);
	CHECK(jmap_pointer(v, "/a~2b") == NULL);
	CHECK(jmap_pointer(v, "nope") == NULL);
	x = jmap_pointer(v, "/l/*");
	CHECK(json_array_size(x) == 3);
	json_decref(x);
	x = jmap_pointer(v, "");
	CHECK(x == v);
	json_decref(x);
	json_decref(v);
}

/* creation ids (RFC 8620 5.3): "#k" after a call whose result created k,
 * in values and in the keys of nested maps; implicit responses */
static void
test_creation_refs_and_implicit(void)
{
	int st, calls = 0;
	char *s;

	s = run("{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"created\":{\"k\":{\"id\":\"X1\"}}},\"c0\"],"
	    "[\"Core/echo\",{\"ids\":[\"#k\",\"#zz\"],\"update\":{\"#k\":1},"
	    "\"p\":\"#k\"},\"c1\"]],\"createdIds\":{\"a\":\"A0\"}}",
	    &st, &calls);
	CHECK_INTEQ(st, 200);
	CHECK(has(s, "\"ids\":[\"X1\",\"#zz\"]"));
	CHECK(has(s, "\"update\":{\"X1\":1}"));
	CHECK(has(s, "\"p\":\"X1\""));
	CHECK(has(s, "\"createdIds\":{\"a\":\"A0\",\"k\":\"X1\"}"));
	free(s);
	/* without createdIds in the request, none in the response */
	s = run("{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"created\":{\"k\":{\"id\":\"X1\"}}},\"c0\"]]}",
	    &st, &calls);
	CHECK(!has(s, "createdIds"));
	free(s);
	/* "@then": answered after the call, with its call id */
	s = run("{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":["
	    "[\"Core/echo\",{\"@then\":[[\"Email/set\",{\"x\":1}]]},\"c7\"]]}",
	    &st, &calls);
	CHECK(has(s, "[[\"Core/echo\",{},\"c7\"],[\"Email/set\",{\"x\":1},"
	    "\"c7\"]]"));
	free(s);
}

static void
test_argument_helpers(void)
{
	static const char *const allowed[] = { "accountId", "ids", NULL };
	json_t *args = json_loads("{\"accountId\":\"a\",\"ids\":[\"1\",\"2\"],"
	    "\"bogus\":1}", 0, NULL);
	json_t *err = NULL, *ids;

	CHECK(!jmap_args_check(args, allowed, &err));
	CHECK_STREQ(json_string_value(json_object_get(err, "type")),
	    "invalidArguments");
	CHECK_STREQ(json_string_value(json_array_get(json_object_get(err,
	    "arguments"), 0)), "bogus");
	json_decref(err);
	err = NULL;
	CHECK(jmap_ids_arg(args, "ids", 2, &ids, &err) && json_array_size(ids) == 2);
	CHECK(!jmap_ids_arg(args, "ids", 1, &ids, &err));
	CHECK_STREQ(json_string_value(json_object_get(err, "type")),
	    "requestTooLarge");
	json_decref(err);
	err = NULL;
	CHECK(jmap_ids_arg(args, "none", 1, &ids, &err) && ids == NULL);
	json_object_set_new(args, "ids", json_pack("[i]", 1));
	CHECK(!jmap_ids_arg(args, "ids", 5, &ids, &err));
	json_decref(err);
	json_decref(args);
	CHECK(jmap_id_valid("m123u4_-Z"));
	CHECK(!jmap_id_valid(""));
	CHECK(!jmap_id_valid("a/b"));
	CHECK(!jmap_id_valid("../x"));
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_request_errors),
		TEST(test_method_errors),
		TEST(test_back_references),
		TEST(test_pointer),
		TEST(test_creation_refs_and_implicit),
		TEST(test_argument_helpers),
		{ NULL, NULL },
	};
	return test_run(tests);
}
