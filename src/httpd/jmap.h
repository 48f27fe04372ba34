#ifndef POSTERN_JMAP_H
#define POSTERN_JMAP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* jmap - the generic core of a JMAP API (RFC 8620): the request envelope,
 * back-references and the error model, without I/O and without any
 * object. The web admin (api-admin.c, capability urn:postern:admin) and
 * later the webmail (urn:ietf:params:jmap:mail) plug their methods in as
 * tables of struct jmap_method; the HTTP side (api.c) authenticates,
 * hands over the body and writes what comes back.
 *
 * Request-level errors (RFC 8620 3.6.1) are problem details (RFC 7807)
 * with HTTP 400: notJSON, notRequest, unknownCapability and limit (with
 * the limit's name). Method-level errors (3.6.2) are ["error", {type,
 * description}, callId] responses; the other calls still run. */

#define JMAP_CORE "urn:ietf:params:jmap:core"
#define JMAP_ERR "urn:ietf:params:jmap:error:"

/* the limits a session announces and a request is held to */
struct jmap_limits {
	size_t max_size_request;        /* bytes: http.max_body */
	size_t max_calls_in_request;
	size_t max_objects_in_get;
	size_t max_objects_in_set;
	size_t max_concurrent_requests;
	size_t max_size_upload;         /* bytes: http.max_upload */
};

#define JMAP_DEFAULT_LIMITS { 1024 * 1024, 16, 500, 500, 4, 50 * 1024 * 1024 }

/* a method: fn fills *result_r (the response arguments, a new object)
 * or returns an error object made by jmap_error() in *error_r. A result
 * member "@then" (an array of [name, arguments]) is taken out and its
 * items answered after it with the same call id (implicit responses,
 * RFC 8621 7.5). */
typedef void jmap_method_fn(void *ctx, json_t *args, json_t **result_r,
			    json_t **error_r);

struct jmap_method {
	const char *name;        /* "Mailbox/get" */
	const char *capability;  /* the capability "using" must hold */
	jmap_method_fn *fn;
};

/* jmap_error - a method-level error object {type, description} (a new
 * reference); description may be NULL */
json_t *jmap_error(const char *type, const char *description, ...)
	__attribute__((format(printf, 2, 3)));
/* jmap_error_props - invalidArguments/invalidProperties naming the
 * properties at fault: NULL-terminated list */
json_t *jmap_error_props(const char *type, const char *description,
			 const char *prop, ...) __attribute__((sentinel));

/* jmap_problem - a request-level error as a problem details object
 * (RFC 7807): type is the short name ("notJSON"); limit names the
 * limit for "limit" (else NULL) */
json_t *jmap_problem(const char *type, int status, const char *limit,
		     const char *detail);

/* jmap_run - run a JMAP request body against methods (a table ending
 * with a zeroed row; several tables may be chained through more: NULL
 * terminated). capabilities: the ones this server has (NULL
 * terminated). Fills *response_r (a new object) and returns the HTTP
 * status: 200 with a Response, or 400 with a problem details object. */
int jmap_run(const char *body, size_t len,
	     const struct jmap_method *const *tables,
	     const char *const *capabilities, const struct jmap_limits *lim,
	     const char *session_state, void *ctx, json_t **response_r);

/* jmap_args_check - invalidArguments naming every argument of args that
 * is not in allowed (NULL terminated): true when all are known */
bool jmap_args_check(json_t *args, const char *const *allowed,
		     json_t **error_r);

/* jmap_ids_arg - the "ids" argument of a /get: *ids_r the array (a
 * borrowed reference) or NULL for null/absent (all); false with
 * invalidArguments or requestTooLarge (RFC 8620 5.1: more than max) */
bool jmap_ids_arg(json_t *args, const char *name, size_t max, json_t **ids_r,
		  json_t **error_r);

/* jmap_set_args - the shape of a /set's create, update and destroy and
 * their number (at most max, maxObjectsInSet): false with
 * invalidArguments or requestTooLarge */
bool jmap_set_args(json_t *args, size_t max, json_t **error_r);

/* jmap_id_valid - an Id (RFC 8620 1.2): 1-255 of A-Za-z0-9_- */
bool jmap_id_valid(const char *s);

/* jmap_pointer - evaluate a JSON Pointer (RFC 6901) with the JMAP '*'
 * extension (RFC 8620 3.7) on v: a new reference, or NULL when the
 * path does not resolve */
json_t *jmap_pointer(json_t *v, const char *path);

#endif
