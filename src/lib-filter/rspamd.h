#ifndef POSTERN_RSPAMD_H
#define POSTERN_RSPAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* rspamd - rspamd's HTTP protocol: POST /checkv2 to the normal worker
 * with the message as the body and the envelope in request headers
 * (From, Rcpt, IP, Helo, Queue-Id, User), a JSON answer (score,
 * required_score, action, symbols); POST /learnspam or /learnham to the
 * controller for training. HTTP/1.0, one request per connection, one
 * deadline; the answer is bounded (RSPAMD_REPLY_MAX). */

#define RSPAMD_REPLY_MAX (1024 * 1024)

struct spam_result {
	double score, required;
	char action[32];          /* "no action", "add header", "reject"... */
	char symbols[512];        /* "NAME(score),..." the highest first */
};

/* rspamd_check - ask hostport about the message file path; 0 or -1. */
int rspamd_check(const char *hostport, int64_t timeout_ms, const char *path,
		 const struct queue_env *env, struct spam_result *res,
		 const char **error_r);
/* rspamd_learn - teach the controller the message is spam (or ham);
 * password may be empty. 0, or -1 (rspamd's error text included). */
int rspamd_learn(const char *hostport, const char *password,
		 int64_t timeout_ms, const char *path, bool spam,
		 const char **error_r);
/* rspamd_ping - GET /ping answers "pong" (postern diag); 0 or -1. */
int rspamd_ping(const char *hostport, int64_t timeout_ms, const char **error_r);
/* rspamd_reply_parse - an HTTP response (status line, header, JSON
 * body) as rspamd answers /checkv2; 0 or -1 (fuzz-rspamd). */
int rspamd_reply_parse(const char *data, size_t len, struct spam_result *res,
		       const char **error_r);

#endif
