#ifndef POSTERN_HTTP_FORM_H
#define POSTERN_HTTP_FORM_H

#include <stddef.h>

#include "http-parser.h"

/* HTML form data: application/x-www-form-urlencoded (query strings and
 * bodies) and multipart/form-data (through lib-mime). Names and values
 * are decoded; at most HTTP_FORM_FIELDS_MAX pairs; a pair with a NUL
 * after decoding is refused. */

#define HTTP_FORM_FIELDS_MAX 256

struct http_form {
	struct http_field *v;   /* name as sent (case kept), value */
	size_t n;
};

/* http_form_parse - name=value pairs separated by '&' ('+' is a space);
 * 0, or -1 with an error. */
int http_form_parse(const char *s, size_t len, struct http_form *f,
		    const char **error_r);
/* http_form_multipart - the form-data parts (RFC 7578) of body under
 * content_type (its boundary parameter); parts without a name are
 * skipped. 0, or -1 with an error. */
int http_form_multipart(const char *content_type, const char *body,
			size_t len, struct http_form *f, const char **error_r);
/* http_form_request - the form of a POST body by its Content-Type: 0,
 * -1 malformed, -2 not a form type (415). */
int http_form_request(const struct http_request *req, struct http_form *f,
		      const char **error_r);
/* http_form_get - the first value of name (case-sensitive), or NULL */
const char *http_form_get(const struct http_form *f, const char *name);
void http_form_free(struct http_form *f);

#endif
