/* bounce - DSN reading and probe tokens of the list server (bounce.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bounce.h"
#include "buf.h"
#include "mime.h"
#include "msghdr.h"
#include "strutil.h"
#include "xalloc.h"

static const char *
param(const struct mime_part *p, const char *name)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

static bool
is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return p->type != NULL && p->subtype != NULL &&
	    strcasecmp(p->type, type) == 0 && strcasecmp(p->subtype, subtype) == 0;
}

/* group - the fields of one per-recipient group */
struct group {
	char *recipient;
	bool failed;
};

static void
group_end(struct bounce_report *r, struct group *g)
{
	if (g->recipient != NULL) {
		r->nrcpts++;
		bool seen = false;
		for (size_t i = 0; i < r->nfailed && !seen; i++)
			seen = str_eq_ci(r->failed[i], g->recipient);
		if (g->failed && !seen && r->nfailed < BOUNCE_RCPTS_MAX) {
			r->failed = xreallocarray(r->failed, r->nfailed + 1,
			    sizeof(*r->failed));
			r->failed[r->nfailed++] = g->recipient;
			g->recipient = NULL;
		}
	}
	free(g->recipient);
	g->recipient = NULL;
	g->failed = false;
}

/* field - one unfolded field of the delivery-status body */
static void
field(struct group *g, const char *f, size_t len)
{
	const char *colon = memchr(f, ':', len);
	if (colon == NULL)
		return;
	size_t nl = (size_t)(colon - f);
	char *v = xstrndup(colon + 1, len - nl - 1);
	char *t = str_trim(v);
	if (nl == 15 && strncasecmp(f, "Final-Recipient", 15) == 0) {
		/* address-type ";" generic-address */
		char *semi = strchr(t, ';');
		char **a = NULL;
		size_t n = 0;
		msghdr_addresses(semi != NULL ? semi + 1 : t, &a, &n);
		if (n > 0 && g->recipient == NULL) {
			g->recipient = a[0];
			a[0] = NULL;
		}
		msghdr_addresses_free(a, n);
	} else if (nl == 6 && strncasecmp(f, "Action", 6) == 0) {
		g->failed = strncasecmp(t, "failed", 6) == 0 &&
		    (t[6] == '\0' || t[6] == ' ' || t[6] == '\t' || t[6] == '(');
	}
	free(v);
}

/* status_fields - the groups of a message/delivery-status body */
static void
status_fields(struct bounce_report *r, const char *d, size_t len)
{
	struct group g = { NULL, false };
	struct buf f;
	bool skip = false;   /* the current field is too long */
	size_t i = 0;

	buf_init(&f, BOUNCE_FIELD_MAX);
	while (i <= len) {
		const char *nl = i < len ? memchr(d + i, '\n', len - i) : NULL;
		size_t e = nl != NULL ? (size_t)(nl - d) : len;
		size_t ll = e - i;
		if (ll > 0 && d[i + ll - 1] == '\r')
			ll--;
		const char *line = d + i;
		if (ll > 0 && (line[0] == ' ' || line[0] == '\t')) {
			/* a continuation of the current field */
			if (!skip && f.len > 0 && buf_append(&f, line, ll) < 0)
				skip = true;
		} else {
			if (f.len > 0 && !skip)
				field(&g, f.data, f.len);
			buf_reset(&f);
			skip = false;
			if (ll == 0)
				group_end(r, &g);
			else if (buf_append(&f, line, ll) < 0)
				skip = true;
		}
		if (nl == NULL)
			break;
		i = e + 1;
	}
	if (f.len > 0 && !skip)
		field(&g, f.data, f.len);
	group_end(r, &g);
	buf_free(&f);
}

void
bounce_parse(const char *msg, size_t len, struct bounce_report *r)
{
	struct mime_message m;

	memset(r, 0, sizeof(*r));
	mime_parse(&m, msg, len);
	const struct mime_part *root = &m.root;
	const char *rt = param(root, "report-type");
	r->report = is_type(root, "multipart", "report");
	if (r->report && rt != NULL &&
	    strcasecmp(rt, "delivery-status") == 0) {
		for (size_t i = 0; i < root->nchildren; i++) {
			const struct mime_part *c = &root->children[i];
			if (!is_type(c, "message", "delivery-status") &&
			    !is_type(c, "message", "global-delivery-status"))
				continue;
			struct buf body;
			buf_init(&body, len + 1);
			if (mime_decode_body(msg, c, &body) == 0) {
				r->dsn = true;
				status_fields(r, body.data ? body.data : "", body.len);
			}
			buf_free(&body);
			break;
		}
	}
	mime_free(&m);
}

void
bounce_report_free(struct bounce_report *r)
{
	for (size_t i = 0; i < r->nfailed; i++)
		free(r->failed[i]);
	free(r->failed);
	memset(r, 0, sizeof(*r));
}

void
bounce_probe_token(const unsigned char *key, size_t keylen, int64_t list_id,
		   const char *member, time_t sent, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *lower = xstrdup(member);
	str_lower(lower);
	uint32_t t = (uint32_t)sent;
	char *data = xasprintf("probe:%lld:%s:%08x", (long long)list_id, lower,
	    (unsigned)t);
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data,
	    strlen(data), md, &mdlen);
	snprintf(out, 10, "p%08x", (unsigned)t);
	for (size_t i = 0; i < 8; i++)
		snprintf(out + 9 + 2 * i, 3, "%02x", md[i]);
	free(data);
	free(lower);
}

time_t
bounce_probe_time(const char *token)
{
	if (token == NULL || token[0] != 'p' ||
	    strlen(token) != BOUNCE_PROBE_LEN)
		return 0;
	for (size_t i = 1; i < BOUNCE_PROBE_LEN; i++)
		if (!((token[i] >= '0' && token[i] <= '9') ||
		    (token[i] >= 'a' && token[i] <= 'f')))
			return 0;
	char hex[9];
	memcpy(hex, token + 1, 8);
	hex[8] = '\0';
	return (time_t)strtoul(hex, NULL, 16);
}

bool
bounce_probe_ok(const unsigned char *key, size_t keylen, int64_t list_id,
		const char *member, const char *token)
{
	char want[BOUNCE_PROBE_LEN + 1];
	time_t t = bounce_probe_time(token);
	if (t == 0)
		return false;
	bounce_probe_token(key, keylen, list_id, member, t, want);
	return CRYPTO_memcmp(want, token, BOUNCE_PROBE_LEN) == 0;
}
