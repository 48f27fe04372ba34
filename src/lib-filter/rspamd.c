/* rspamd - rspamd HTTP client: /checkv2, /learnspam, /learnham */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "fnet.h"
#include "rspamd.h"

static _Thread_local char r_err[512];

static int
rerr(const char **error_r, const char *what, const char *detail)
{
	snprintf(r_err, sizeof(r_err), "rspamd: %s%s%.300s", what,
	    *detail ? ": " : "", detail);
	for (char *c = r_err; *c; c++)
		if ((unsigned char)*c < ' ')
			*c = ' ';
	*error_r = r_err;
	return -1;
}

/* hval - a request header value: no line breaks */
static void
put_header(struct buf *b, const char *name, const char *value)
{
	if (value == NULL || *value == '\0' || strpbrk(value, "\r\n") != NULL)
		return;
	buf_printf(b, "%s: %s\r\n", name, value);
}

/* http_post - send the request and the file; the whole answer in out */
static int
http_post(const char *hostport, int64_t timeout_ms, const char *path,
	  const char *headers, const char *msgpath, struct buf *out,
	  const char **error_r)
{
	int64_t deadline = fnet_deadline(timeout_ms);
	struct stat st;
	int fd = open(msgpath, O_RDONLY | O_CLOEXEC), s = -1, r = -1;
	struct buf req;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return rerr(error_r, "cannot read the message", "");
	}
	buf_init(&req, 0);
	buf_printf(&req, "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Length: %lld\r\n"
	    "%s\r\n", path, hostport, (long long)st.st_size, headers);
	if ((s = fnet_connect(hostport, deadline, error_r)) < 0)
		goto out;
	if (fnet_write(s, req.data, req.len, deadline, error_r) < 0)
		goto out;
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (fnet_write(s, chunk, (size_t)n, deadline, error_r) < 0)
			goto out;
	if (n < 0) {
		rerr(error_r, "cannot read the message", "");
		goto out;
	}
	for (;;) {
		n = fnet_read(s, chunk, sizeof(chunk), deadline, error_r);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0) {
			rerr(error_r, "answer over 1 MB", "");
			goto out;
		}
	}
	r = 0;
out:
	if (r < 0 && *error_r != r_err) {
		char e[300];
		snprintf(e, sizeof(e), "%s", *error_r);
		rerr(error_r, hostport, e);
	}
	buf_free(&req);
	if (s >= 0)
		close(s);
	close(fd);
	return r;
}

/* http_split - status code and the body of an HTTP response */
static int
http_split(const char *data, size_t len, int *status_r, const char **body_r,
	   size_t *blen_r, const char **error_r)
{
	if (len < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ')
		return rerr(error_r, "not an HTTP answer", "");
	int st = 0;
	for (size_t i = 9; i < 12; i++) {
		if (data[i] < '0' || data[i] > '9')
			return rerr(error_r, "bad HTTP status", "");
		st = st * 10 + (data[i] - '0');
	}
	const char *end = NULL;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
			end = data + i + 4;
			break;
		}
	if (end == NULL)
		return rerr(error_r, "HTTP answer without its end of header", "");
	*status_r = st;
	*body_r = end;
	*blen_r = len - (size_t)(end - data);
	return 0;
}

struct sym {
	const char *name;
	double score;
};

static int
cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	return x->score < y->score ? 1 : x->score > y->score ? -1 :
	    strcmp(x->name, y->name);
}

int
rspamd_reply_parse(const char *data, size_t len, struct spam_result *res,
		   const char **error_r)
{
	const char *body;
	size_t blen;
	int status;
	json_error_t je;

	memset(res, 0, sizeof(res[0]));
	if (http_split(data, len, &status, &body, &blen, error_r) < 0)
		return -1;
	json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
	if (status != 200) {
		const char *e = NULL;
		if (j != NULL && json_is_string(json_object_get(j, "error")))
			e = json_string_value(json_object_get(j, "error"));
		char code[16];
		snprintf(code, sizeof(code), "HTTP %d", status);
		rerr(error_r, code, e ? e : "");
		json_decref(j);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return rerr(error_r, "answer is not a JSON object", je.text);
	}
	json_t *score = json_object_get(j, "score");
	json_t *req = json_object_get(j, "required_score");
	json_t *act = json_object_get(j, "action");
	if (!json_is_number(score) || !json_is_string(act)) {
		json_decref(j);
		return rerr(error_r, "answer without score or action", "");
	}
	res->score = json_number_value(score);
	res->required = json_is_number(req) ? json_number_value(req) : 0;
	snprintf(res->action, sizeof(res->action), "%s", json_string_value(act));
	json_t *syms = json_object_get(j, "symbols");
	if (json_is_object(syms)) {
		size_t n = json_object_size(syms), k = 0;
		struct sym *v = calloc(n ? n : 1, sizeof(*v));
		const char *key;
		json_t *val;
		json_object_foreach(syms, key, val) {
			if (v == NULL || k >= n)
				break;
			json_t *sc = json_object_get(val, "score");
			v[k].name = key;
			v[k].score = json_is_number(sc) ? json_number_value(sc) : 0;
			k++;
		}
		if (v != NULL)
			qsort(v, k, sizeof(*v), cmp_sym);
		struct buf b;
		buf_init(&b, sizeof(res->symbols) - 1);
		for (size_t i = 0; i < k && v[i].score != 0; i++) {
			char one[160];
			snprintf(one, sizeof(one), "%s%.64s(%.2f)", b.len ? "," : "",
			    v[i].name, v[i].score);
			if (buf_puts(&b, one) < 0)
				break;
		}
		snprintf(res->symbols, sizeof(res->symbols), "%s",
		    b.data ? b.data : "");
		for (char *c = res->symbols; *c; c++)
			if ((unsigned char)*c < ' ' || (unsigned char)*c > '~')
				*c = '?';
		buf_free(&b);
		free(v);
	}
	for (char *c = res->action; *c; c++)
		if ((unsigned char)*c < ' ' || (unsigned char)*c > '~' || *c == '"')
			*c = '?';
	json_decref(j);
	return 0;
}

int
rspamd_check(const char *hostport, int64_t timeout_ms, const char *path,
	     const struct queue_env *env, struct spam_result *res,
	     const char **error_r)
{
	struct buf h, out;
	int r;

	buf_init(&h, 0);
	buf_init(&out, RSPAMD_REPLY_MAX);
	put_header(&h, "From", env->sender);
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].status == RCPT_PENDING)
			put_header(&h, "Rcpt", env->rcpts[i].address);
	if (env->client_addr != NULL && strcmp(env->client_addr, "local") != 0)
		put_header(&h, "IP", env->client_addr);
	put_header(&h, "Helo", env->client_helo);
	put_header(&h, "Queue-Id", env->id);
	put_header(&h, "User", env->auth_user);
	r = http_post(hostport, timeout_ms, "/checkv2", h.data ? h.data : "",
	    path, &out, error_r);
	if (r == 0)
		r = rspamd_reply_parse(out.data ? out.data : "", out.len, res,
		    error_r);
	buf_free(&h);
	buf_free(&out);
	return r;
}

int
rspamd_learn(const char *hostport, const char *password, int64_t timeout_ms,
	     const char *path, bool spam, const char **error_r)
{
	struct buf h, out;
	int r;

	buf_init(&h, 0);
	buf_init(&out, RSPAMD_REPLY_MAX);
	put_header(&h, "Password", password);
	r = http_post(hostport, timeout_ms, spam ? "/learnspam" : "/learnham",
	    h.data ? h.data : "", path, &out, error_r);
	if (r == 0) {
		/* set: the analyzer does not follow http_split's failures */
		const char *body = "";
		size_t blen = 0;
		int status = 0;
		if (http_split(out.data ? out.data : "", out.len, &status, &body,
		    &blen, error_r) < 0)
			r = -1;
		else if (status != 200) {
			char code[16], detail[200];
			snprintf(code, sizeof(code), "HTTP %d", status);
			snprintf(detail, sizeof(detail), "%.*s",
			    (int)(blen > 190 ? 190 : blen), body);
			r = rerr(error_r, code, detail);
		}
	}
	buf_free(&h);
	buf_free(&out);
	return r;
}

int
rspamd_ping(const char *hostport, int64_t timeout_ms, const char **error_r)
{
	int64_t deadline = fnet_deadline(timeout_ms);
	char req[400], ans[512];
	size_t len = 0;
	int s = fnet_connect(hostport, deadline, error_r), r = -1;

	if (s < 0)
		return -1;
	snprintf(req, sizeof(req), "GET /ping HTTP/1.0\r\nHost: %s\r\n\r\n",
	    hostport);
	if (fnet_write(s, req, strlen(req), deadline, error_r) == 0) {
		ssize_t n;
		while (len + 1 < sizeof(ans) && (n = fnet_read(s, ans + len,
		    sizeof(ans) - 1 - len, deadline, error_r)) > 0)
			len += (size_t)n;
		ans[len] = '\0';
		if (len > 0 && strstr(ans, "pong") != NULL &&
		    strncmp(ans, "HTTP/1.", 7) == 0)
			r = 0;
		else if (len > 0)
			rerr(error_r, "not rspamd's answer to /ping", "");
		else if (*error_r == NULL)
			rerr(error_r, "no answer to /ping", "");
	}
	close(s);
	return r;
}
