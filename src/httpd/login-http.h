#ifndef POSTERN_LOGIN_HTTP_H
#define POSTERN_LOGIN_HTTP_H

#include <jansson.h>

#include "db.h"
#include "directory.h"
#include "http-response.h"

/* What the web login's own routes share (login-http.c, passkey-http.c):
 * JSON answers and the mailbox of a session cookie. */

/* lh_answer - v (stolen) as the JSON body: problem+json from 400 up,
 * never cached */
void lh_answer(struct http_response *r, int status, json_t *v);
/* lh_problem - an error answer: problem details with a type of ours */
void lh_problem(struct http_response *r, int status, const char *type,
		const char *detail);
/* lh_session_mailbox - the mailbox of the session id cookie (NULL: no
 * cookie): 1, or 0 with the answer made (401 with detail, or 503) */
int lh_session_mailbox(struct db *db, const char *cookie,
		       struct dir_mailbox *mb, struct http_response *r,
		       const char *detail);

#endif
