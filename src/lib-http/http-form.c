/* http-form - form data decoding (http-form.h) */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-form.h"
#include "mime.h"
#include "url.h"
#include "xalloc.h"

static int
form_add(struct http_form *f, char *name, char *value, const char **error_r)
{
	if (f->n >= HTTP_FORM_FIELDS_MAX) {
		free(name);
		free(value);
		*error_r = "too many form fields";
		return -1;
	}
	f->v = xreallocarray(f->v, f->n + 1, sizeof(*f->v));
	f->v[f->n].name = name;
	f->v[f->n].value = value;
	f->n++;
	return 0;
}

int
http_form_parse(const char *s, size_t len, struct http_form *f,
		const char **error_r)
{
	size_t i = 0;

	while (i < len) {
		const char *p = s + i, *amp = memchr(p, '&', len - i);
		size_t plen = amp != NULL ? (size_t)(amp - p) : len - i;
		i += plen + 1;
		if (plen == 0)
			continue;
		const char *eq = memchr(p, '=', plen);
		size_t nlen = eq != NULL ? (size_t)(eq - p) : plen;
		struct buf n, v;
		buf_init(&n, 0);
		buf_init(&v, 0);
		if (url_decode(&n, p, nlen, true, false) < 0 ||
		    (eq != NULL && url_decode(&v, eq + 1, plen - nlen - 1, true,
		    false) < 0)) {
			buf_free(&n);
			buf_free(&v);
			*error_r = "bad percent-encoding in form data";
			return -1;
		}
		if (form_add(f, buf_steal(&n), buf_steal(&v), error_r) < 0)
			return -1;
	}
	return 0;
}

/* disp_name - the name parameter of a form-data part, or NULL */
static const char *
disp_name(const struct mime_part *part)
{
	if (part->disposition == NULL ||
	    strcasecmp(part->disposition, "form-data") != 0)
		return NULL;
	for (size_t i = 0; i < part->ndisp_params; i++)
		if (strcasecmp(part->disp_params[i].name, "name") == 0)
			return part->disp_params[i].value;
	return NULL;
}

int
http_form_multipart(const char *content_type, const char *body, size_t len,
		    struct http_form *f, const char **error_r)
{
	struct mime_message msg;
	struct buf m;
	int r = 0;

	/* lib-mime parses messages: give it the type as a header */
	buf_init(&m, 0);
	buf_printf(&m, "Content-Type: %s\r\n\r\n", content_type);
	buf_append(&m, body, len);
	mime_parse(&msg, m.data, m.len);
	if (!msg.root.multipart) {
		*error_r = "not a multipart body";
		r = -1;
	}
	for (size_t i = 0; r == 0 && i < msg.root.nchildren; i++) {
		const struct mime_part *c = &msg.root.children[i];
		const char *name = disp_name(c);
		if (name == NULL)
			continue;
		if (memchr(m.data + c->body_start, '\0', c->body_len) != NULL) {
			*error_r = "a NUL in form data";
			r = -1;
			break;
		}
		r = form_add(f, xstrdup(name), xstrndup(m.data + c->body_start,
		    c->body_len), error_r);
	}
	mime_free(&msg);
	buf_free(&m);
	return r;
}

int
http_form_request(const struct http_request *req, struct http_form *f,
		  const char **error_r)
{
	const char *ct = http_request_field(req, "content-type");
	size_t tl;

	if (ct == NULL) {
		*error_r = "no Content-Type";
		return -2;
	}
	tl = strcspn(ct, "; \t");
	if (tl == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", tl) == 0)
		return http_form_parse(req->body.data ? req->body.data : "",
		    req->body.len, f, error_r);
	if (tl == 19 && strncasecmp(ct, "multipart/form-data", tl) == 0)
		return http_form_multipart(ct, req->body.data ? req->body.data : "",
		    req->body.len, f, error_r);
	*error_r = "not a form";
	return -2;
}

const char *
http_form_get(const struct http_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value;
	return NULL;
}

void
http_form_free(struct http_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}
