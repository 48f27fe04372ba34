/* jmap - the JMAP request envelope, back-references and errors (RFC 8620
 * 3.3-3.7); see jmap.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmap.h"
#include "xalloc.h"

#define JMAP_CALL_ID_MAX 256
#define JMAP_POINTER_DEPTH 32

json_t *
jmap_error(const char *type, const char *description, ...)
{
	json_t *e = json_pack("{s:s}", "type", type);

	if (description != NULL) {
		va_list ap;
		char b[1024];
		va_start(ap, description);
		vsnprintf(b, sizeof(b), description, ap);
		va_end(ap);
		json_object_set_new(e, "description", json_string(b));
	}
	return e;
}

json_t *
jmap_error_props(const char *type, const char *description, const char *prop,
		 ...)
{
	json_t *e = jmap_error(type, "%s", description);
	json_t *props = json_array();
	va_list ap;

	va_start(ap, prop);
	for (const char *p = prop; p != NULL; p = va_arg(ap, const char *))
		json_array_append_new(props, json_string(p));
	va_end(ap);
	json_object_set_new(e, "properties", props);
	return e;
}

json_t *
jmap_problem(const char *type, int status, const char *limit,
	     const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), JMAP_ERR "%s", type);
	json_t *p = json_pack("{s:s,s:i,s:s}", "type", t, "status", status,
	    "detail", detail);
	if (limit != NULL)
		json_object_set_new(p, "limit", json_string(limit));
	return p;
}

/* pointer_token - the next reference token of path (after its '/'),
 * unescaped (~1 is '/', ~0 is '~'); *rest_r points past it. NULL: a
 * bad escape. */
static char *
pointer_token(const char *path, const char **rest_r)
{
	size_t n = strcspn(path, "/");
	char *t = xmalloc(n + 1), *o = t;

	for (size_t i = 0; i < n; i++) {
		if (path[i] != '~') {
			*o++ = path[i];
			continue;
		}
		if (i + 1 < n && path[i + 1] == '0')
			*o++ = '~';
		else if (i + 1 < n && path[i + 1] == '1')
			*o++ = '/';
		else {
			free(t);
			return NULL;
		}
		i++;
	}
	*o = '\0';
	*rest_r = path + n;
	return t;
}

static json_t *
pointer_eval(json_t *v, const char *path, int depth)
{
	const char *rest;
	json_t *r = NULL;

	if (*path == '\0')
		return json_incref(v);
	if (*path != '/' || depth > JMAP_POINTER_DEPTH)
		return NULL;
	char *tok = pointer_token(path + 1, &rest);
	if (tok == NULL)
		return NULL;
	if (json_is_array(v) && strcmp(tok, "*") == 0) {
		/* 3.7: the rest applies to each item; arrays are flattened */
		size_t i;
		json_t *item;
		r = json_array();
		json_array_foreach(v, i, item) {
			json_t *x = pointer_eval(item, rest, depth + 1);
			if (x == NULL) {
				json_decref(r);
				r = NULL;
				break;
			}
			if (json_is_array(x))
				json_array_extend(r, x);
			else
				json_array_append(r, x);
			json_decref(x);
		}
	} else if (json_is_array(v)) {
		char *end;
		unsigned long idx = strtoul(tok, &end, 10);
		if (*tok >= '0' && *tok <= '9' && *end == '\0' &&
		    (tok[0] != '0' || tok[1] == '\0') && idx < json_array_size(v))
			r = pointer_eval(json_array_get(v, idx), rest, depth + 1);
	} else if (json_is_object(v)) {
		json_t *x = json_object_get(v, tok);
		if (x != NULL)
			r = pointer_eval(x, rest, depth + 1);
	}
	free(tok);
	return r;
}

json_t *
jmap_pointer(json_t *v, const char *path)
{
	return pointer_eval(v, path, 0);
}

bool
jmap_args_check(json_t *args, const char *const *allowed, json_t **error_r)
{
	const char *key;
	json_t *v;
	json_t *bad = json_array();

	json_object_foreach(args, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] != NULL && !ok; i++)
			ok = strcmp(allowed[i], key) == 0;
		if (!ok)
			json_array_append_new(bad, json_string(key));
	}
	if (json_array_size(bad) == 0) {
		json_decref(bad);
		return true;
	}
	*error_r = jmap_error("invalidArguments", "unknown argument %.200s",
	    json_string_value(json_array_get(bad, 0)));
	json_object_set_new(*error_r, "arguments", bad);
	return false;
}

bool
jmap_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool
jmap_ids_arg(json_t *args, const char *name, size_t max, json_t **ids_r,
	     json_t **error_r)
{
	json_t *ids = json_object_get(args, name);
	size_t i;
	json_t *v;

	*ids_r = NULL;
	if (ids == NULL || json_is_null(ids))
		return true;
	if (!json_is_array(ids)) {
		*error_r = jmap_error_props("invalidArguments", "must be an "
		    "array of ids or null", name, NULL);
		return false;
	}
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v)) {
			*error_r = jmap_error_props("invalidArguments", "ids "
			    "must be strings", name, NULL);
			return false;
		}
	}
	if (json_array_size(ids) > max) {
		*error_r = jmap_error("requestTooLarge", "at most %zu ids per "
		    "call (maxObjectsInGet/maxObjectsInSet)", max);
		return false;
	}
	*ids_r = ids;
	return true;
}

bool
jmap_set_args(json_t *args, size_t max, json_t **error_r)
{
	json_t *create = json_object_get(args, "create");
	json_t *update = json_object_get(args, "update");
	json_t *destroy = json_object_get(args, "destroy");

	if ((create != NULL && !json_is_object(create) && !json_is_null(create)) ||
	    (update != NULL && !json_is_object(update) && !json_is_null(update)) ||
	    (destroy != NULL && !json_is_array(destroy) && !json_is_null(destroy))) {
		*error_r = jmap_error("invalidArguments", "create and update are "
		    "objects, destroy an array");
		return false;
	}
	if (json_object_size(create) + json_object_size(update) +
	    json_array_size(destroy) > max) {
		*error_r = jmap_error("requestTooLarge", "more than %zu changes "
		    "(maxObjectsInSet)", max);
		return false;
	}
	return true;
}

/* find_method - the row for name in the tables, or NULL */
static const struct jmap_method *
find_method(const struct jmap_method *const *tables, const char *name)
{
	for (size_t t = 0; tables[t] != NULL; t++)
		for (const struct jmap_method *m = tables[t]; m->name != NULL; m++)
			if (strcmp(m->name, name) == 0)
				return m;
	return NULL;
}

static bool
str_in(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool
using_has(json_t *using, const char *cap)
{
	size_t i;
	json_t *v;

	json_array_foreach(using, i, v)
		if (strcmp(json_string_value(v), cap) == 0)
			return true;
	return false;
}

/* resolve_refs - replace each "#name" argument by the value its
 * ResultReference points at (3.7): 0, or -1 with a method error */
static int
resolve_refs(json_t *args, json_t *responses, json_t **error_r)
{
	const char *key;
	json_t *val;
	void *tmp;
	json_t *resolved = json_object();

	json_object_foreach_safe(args, tmp, key, val) {
		if (key[0] != '#')
			continue;
		if (json_object_get(args, key + 1) != NULL) {
			*error_r = jmap_error_props("invalidArguments", "an "
			    "argument is given both directly and as a result "
			    "reference", key + 1, NULL);
			goto fail;
		}
		const char *of, *name, *path;
		if (json_unpack(val, "{s:s,s:s,s:s}", "resultOf", &of, "name",
		    &name, "path", &path) < 0) {
			*error_r = jmap_error("invalidResultReference", "%s is not "
			    "a ResultReference {resultOf, name, path}", key);
			goto fail;
		}
		json_t *found = NULL, *resp;
		size_t i;
		json_array_foreach(responses, i, resp) {
			if (strcmp(json_string_value(json_array_get(resp, 2)), of) == 0 &&
			    strcmp(json_string_value(json_array_get(resp, 0)), name) == 0) {
				found = json_array_get(resp, 1);
				break;
			}
		}
		json_t *x = found != NULL ? jmap_pointer(found, path) : NULL;
		if (x == NULL) {
			*error_r = jmap_error("invalidResultReference", "%s: no "
			    "response of %s to call %s has a value at %s", key,
			    name, of, path);
			goto fail;
		}
		json_object_set_new(resolved, key + 1, x);
		json_object_del(args, key);
	}
	json_object_update(args, resolved);
	json_decref(resolved);
	return 0;
fail:
	json_decref(resolved);
	return -1;
}

/* creation_refs - replace "#creationId" (RFC 8620 5.3: an object
 * created earlier in the request) by its id, in string values and in the
 * keys of nested objects (update maps); top-level "#" keys are result
 * references and were resolved before */
static void
creation_refs(json_t *v, json_t *created, int depth)
{
	const char *key;
	json_t *val;
	void *tmp;
	size_t i;

	if (depth > JMAP_POINTER_DEPTH || json_object_size(created) == 0)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, val) {
			const char *s = json_string_value(val);
			json_t *id = s != NULL && s[0] == '#' ?
			    json_object_get(created, s + 1) : NULL;
			if (id != NULL)
				json_array_set(v, i, id);
			else
				creation_refs(val, created, depth + 1);
		}
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach_safe(v, tmp, key, val) {
		const char *s = json_string_value(val);
		json_t *id = s != NULL && s[0] == '#' ?
		    json_object_get(created, s + 1) : NULL;
		if (id != NULL)
			json_object_set(v, key, id);
		else
			creation_refs(val, created, depth + 1);
		json_t *kid = depth > 0 && key[0] == '#' ?
		    json_object_get(created, key + 1) : NULL;
		if (kid != NULL && json_object_get(v, json_string_value(kid)) ==
		    NULL) {
			json_object_set(v, json_string_value(kid),
			    json_object_get(v, key));
			json_object_del(v, key);
		}
	}
}

/* creation_note - remember the ids a /set or /import created */
static void
creation_note(json_t *result, json_t *created)
{
	const char *key;
	json_t *val;

	json_object_foreach(json_object_get(result, "created"), key, val) {
		json_t *id = json_object_get(val, "id");
		if (json_is_string(id))
			json_object_set(created, key, id);
	}
}

/* request_check - the shape of a Request (3.3): 0, or the problem */
static json_t *
request_check(json_t *req, const char *const *capabilities,
	      const struct jmap_limits *lim)
{
	json_t *using = json_object_get(req, "using");
	json_t *calls = json_object_get(req, "methodCalls");
	json_t *created = json_object_get(req, "createdIds");
	size_t i;
	json_t *v;

	if (!json_is_object(req) || !json_is_array(using) ||
	    !json_is_array(calls) || (created != NULL && !json_is_object(created)))
		return jmap_problem("notRequest", 400, NULL, "The request must "
		    "be an object with \"using\" (an array of capabilities) and "
		    "\"methodCalls\" (an array of [name, arguments, callId]).");
	json_array_foreach(using, i, v) {
		if (!json_is_string(v))
			return jmap_problem("notRequest", 400, NULL,
			    "\"using\" must hold strings.");
		if (!str_in(capabilities, json_string_value(v))) {
			char b[400];
			snprintf(b, sizeof(b), "The capability %.300s is not "
			    "supported by this server.", json_string_value(v));
			return jmap_problem("unknownCapability", 400, NULL, b);
		}
	}
	if (json_array_size(calls) > lim->max_calls_in_request) {
		char b[200];
		snprintf(b, sizeof(b), "At most %zu method calls per request "
		    "(maxCallsInRequest).", lim->max_calls_in_request);
		return jmap_problem("limit", 400, "maxCallsInRequest", b);
	}
	json_array_foreach(calls, i, v) {
		json_t *name = json_array_get(v, 0), *args = json_array_get(v, 1),
		    *id = json_array_get(v, 2);
		if (!json_is_array(v) || json_array_size(v) != 3 ||
		    !json_is_string(name) || !json_is_object(args) ||
		    !json_is_string(id) ||
		    json_string_length(id) > JMAP_CALL_ID_MAX) {
			char b[200];
			snprintf(b, sizeof(b), "methodCalls[%zu] must be [name, "
			    "{arguments}, callId] (a callId of at most %d bytes).",
			    i, JMAP_CALL_ID_MAX);
			return jmap_problem("notRequest", 400, NULL, b);
		}
	}
	return NULL;
}

int
jmap_run(const char *body, size_t len, const struct jmap_method *const *tables,
	 const char *const *capabilities, const struct jmap_limits *lim,
	 const char *session_state, void *ctx, json_t **response_r)
{
	json_error_t jerr;
	json_t *req, *problem, *using, *calls, *responses, *call;
	size_t i;

	if (len > lim->max_size_request) {
		*response_r = jmap_problem("limit", 400, "maxSizeRequest",
		    "The request is larger than maxSizeRequest.");
		return 400;
	}
	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		char b[300];
		snprintf(b, sizeof(b), "The request is not valid JSON (I-JSON, "
		    "RFC 7493): %s at line %d column %d.", jerr.text, jerr.line,
		    jerr.column);
		*response_r = jmap_problem("notJSON", 400, NULL, b);
		return 400;
	}
	if ((problem = request_check(req, capabilities, lim)) != NULL) {
		json_decref(req);
		*response_r = problem;
		return 400;
	}
	using = json_object_get(req, "using");
	calls = json_object_get(req, "methodCalls");
	responses = json_array();
	json_t *created_ids = json_object_get(req, "createdIds");
	created_ids = created_ids != NULL ? json_deep_copy(created_ids) :
	    json_object();
	json_array_foreach(calls, i, call) {
		const char *name = json_string_value(json_array_get(call, 0));
		json_t *args = json_array_get(call, 1);
		const char *id = json_string_value(json_array_get(call, 2));
		json_t *result = NULL, *error = NULL;
		const struct jmap_method *m = find_method(tables, name);

		if (m == NULL || !using_has(using, m->capability))
			error = m == NULL ? jmap_error("unknownMethod", "there "
			    "is no method %.200s", name) : jmap_error(
			    "unknownMethod", "%.200s needs %s in \"using\"", name,
			    m->capability);
		else if (resolve_refs(args, responses, &error) == 0) {
			creation_refs(args, created_ids, 0);
			m->fn(ctx, args, &result, &error);
			if (result != NULL)
				creation_note(result, created_ids);
		}
		if (error == NULL && result == NULL)
			error = jmap_error("serverFail", "the method gave no "
			    "result");
		if (error != NULL) {
			json_decref(result);
			json_array_append_new(responses, json_pack("[s,o,s]",
			    "error", error, id));
		} else {
			/* implicit responses (RFC 8621 7.5: the Email/set of
			 * onSuccessUpdateEmail) follow with the same call id */
			json_t *then = json_incref(json_object_get(result, "@then"));
			json_object_del(result, "@then");
			json_array_append_new(responses, json_pack("[s,o,s]",
			    name, result, id));
			size_t k;
			json_t *t;
			json_array_foreach(then, k, t)
				json_array_append_new(responses, json_pack("[O,O,s]",
				    json_array_get(t, 0), json_array_get(t, 1), id));
			json_decref(then);
		}
	}
	*response_r = json_pack("{s:o,s:s}", "methodResponses", responses,
	    "sessionState", session_state);
	if (json_object_get(req, "createdIds") != NULL)
		json_object_set(*response_r, "createdIds", created_ids);
	json_decref(created_ids);
	json_decref(req);
	return 200;
}
