/* dkim-verify - tag lists, DKIM-Signature and key records, verification
 * (RFC 6376 3.2, 3.5, 3.6.1, 6.1) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dkim.h"
#include "xalloc.h"

static const char *const result_names[] = {
	"pass", "fail", "permerror", "temperror", "none",
};

const char *
dkim_result_name(enum dkim_result r)
{
	return result_names[r];
}

static bool
fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* dkim_tags_parse - "tag=value; ..." */
int
dkim_tags_parse(const char *s, size_t len, struct dkim_tag *tags, size_t max,
		size_t *n_r, const char **error_r)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t a = i, e;
		while (a < len && fws(s[a]))
			a++;
		e = a;
		while (e < len && s[e] != ';')
			e++;
		if (a == e) {
			/* only an empty last element ("a=1;") is allowed */
			if (e < len) {
				*error_r = "empty tag";
				return -1;
			}
			break;
		}
		size_t nm = a;
		if (!isalpha((unsigned char)s[nm])) {
			*error_r = "a tag name starts with a letter";
			return -1;
		}
		while (nm < e && (isalnum((unsigned char)s[nm]) || s[nm] == '_'))
			nm++;
		size_t eq = nm;
		while (eq < e && fws(s[eq]))
			eq++;
		if (eq >= e || s[eq] != '=') {
			*error_r = "a tag without '='";
			return -1;
		}
		size_t v = eq + 1, ve = e;
		while (v < ve && fws(s[v]))
			v++;
		while (ve > v && fws(s[ve - 1]))
			ve--;
		for (size_t k = v; k < ve; k++) {
			unsigned char c = (unsigned char)s[k];
			if (!fws((char)c) && (c < 0x21 || c > 0x7e)) {
				*error_r = "a control or 8-bit character in a tag value";
				return -1;
			}
		}
		for (size_t k = 0; k < n; k++)
			if (tags[k].name_len == nm - a &&
			    memcmp(tags[k].name, s + a, nm - a) == 0) {
				*error_r = "a tag given twice";
				return -1;
			}
		if (n >= max) {
			*error_r = "too many tags";
			return -1;
		}
		tags[n].name = s + a;
		tags[n].name_len = nm - a;
		tags[n].value = s + v;
		tags[n].value_len = ve - v;
		n++;
		i = e + 1;
	}
	*n_r = n;
	return 0;
}

static const struct dkim_tag *
tag_get(const struct dkim_tag *t, size_t n, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (t[i].name_len == l && memcmp(t[i].name, name, l) == 0)
			return &t[i];
	return NULL;
}

/* copy_nows - a value into out without white space; -1 when too long */
static int
copy_nows(const struct dkim_tag *t, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < t->value_len; i++) {
		if (fws(t->value[i]))
			continue;
		if (o + 1 >= size)
			return -1;
		out[o++] = t->value[i];
	}
	out[o] = '\0';
	return 0;
}

static int
parse_num(const struct dkim_tag *t, int64_t *v)
{
	int64_t r = 0;

	if (t->value_len == 0 || t->value_len > 18)
		return -1;
	for (size_t i = 0; i < t->value_len; i++) {
		if (!isdigit((unsigned char)t->value[i]))
			return -1;
		r = r * 10 + (t->value[i] - '0');
	}
	*v = r;
	return 0;
}

/* qp_decode - dkim-quoted-printable in place */
static void
qp_decode(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '=' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char hex[3] = { s[1], s[2], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* dkim_sig_parse - a DKIM-Signature value */
static int sig_parse(const char *value, size_t len, struct dkim_sig *sig,
		     bool ams, const char **error_r);

int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
	       const char **error_r)
{
	return sig_parse(value, len, sig, false, error_r);
}

int
dkim_ams_parse(const char *value, size_t len, struct dkim_sig *sig,
	       const char **error_r)
{
	return sig_parse(value, len, sig, true, error_r);
}

/* sig_parse - a DKIM-Signature, or (ams) an ARC-Message-Signature: no
 * v=, i= the instance (RFC 8617 4.1.2) */
static int
sig_parse(const char *value, size_t len, struct dkim_sig *sig, bool ams,
	  const char **error_r)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	const struct dkim_tag *v;
	size_t n;
	char tmp[2048];

	memset(sig, 0, sizeof(*sig));
	sig->l = sig->t = sig->x = -1;
	if (len > DKIM_SIG_MAX) {
		*error_r = "signature field too long";
		return -1;
	}
	if (dkim_tags_parse(value, len, t, DKIM_TAGS_MAX, &n, error_r) < 0)
		return -1;
	if (ams) {
		if ((v = tag_get(t, n, "i")) == NULL || parse_num(v,
		    &sig->instance) < 0 || sig->instance < 1 ||
		    sig->instance > ARC_MAX_INSTANCES) {
			*error_r = "i= is not an ARC instance (1-50)";
			return -1;
		}
	} else if ((v = tag_get(t, n, "v")) == NULL || v->value_len != 1 ||
	    v->value[0] != '1') {
		*error_r = "v= is not 1";
		return -1;
	}
	if ((v = tag_get(t, n, "a")) == NULL ||
	    dkim_alg_parse(v->value, v->value_len, &sig->alg) < 0) {
		*error_r = "a= is missing or not rsa-sha256/ed25519-sha256";
		return -1;
	}
	if ((v = tag_get(t, n, "c")) != NULL) {
		const char *slash = memchr(v->value, '/', v->value_len);
		size_t hl = slash ? (size_t)(slash - v->value) : v->value_len;
		if (dkim_canon_parse(v->value, hl, &sig->hcanon) < 0 ||
		    (slash != NULL && dkim_canon_parse(slash + 1,
		    v->value_len - hl - 1, &sig->bcanon) < 0)) {
			*error_r = "c= is not simple or relaxed";
			return -1;
		}
	}
	if ((v = tag_get(t, n, "d")) == NULL || v->value_len == 0 ||
	    copy_nows(v, sig->domain, sizeof(sig->domain)) < 0) {
		*error_r = "d= is missing or too long";
		return -1;
	}
	if ((v = tag_get(t, n, "s")) == NULL || v->value_len == 0 ||
	    copy_nows(v, sig->selector, sizeof(sig->selector)) < 0) {
		*error_r = "s= is missing or too long";
		return -1;
	}
	if ((v = tag_get(t, n, "q")) != NULL && !(v->value_len >= 7 &&
	    strncasecmp(v->value, "dns/txt", 7) == 0)) {
		*error_r = "q= is not dns/txt";
		return -1;
	}
	if ((v = tag_get(t, n, "h")) == NULL ||
	    copy_nows(v, tmp, sizeof(tmp)) < 0) {
		*error_r = "h= is missing or too long";
		return -1;
	}
	bool from = false;
	for (char *save = NULL, *p = strtok_r(tmp, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save)) {
		if (sig->nh >= DKIM_HNAMES_MAX || strlen(p) >= sizeof(sig->h[0])) {
			*error_r = "h= names too many or too long fields";
			return -1;
		}
		snprintf(sig->h[sig->nh++], sizeof(sig->h[0]), "%s", p);
		if (strcasecmp(p, "from") == 0)
			from = true;
	}
	if (!from) {
		*error_r = "h= does not include From";
		return -1;
	}
	if ((v = tag_get(t, n, "bh")) == NULL ||
	    dkim_b64_decode(v->value, v->value_len, sig->bh, sizeof(sig->bh),
	    &sig->bh_len) < 0) {
		*error_r = "bh= is missing or not base64";
		return -1;
	}
	if ((v = tag_get(t, n, "b")) == NULL ||
	    dkim_b64_decode(v->value, v->value_len, sig->b, sizeof(sig->b),
	    &sig->b_len) < 0 || sig->b_len == 0) {
		*error_r = "b= is missing or not base64";
		return -1;
	}
	if ((v = tag_get(t, n, "l")) != NULL && parse_num(v, &sig->l) < 0) {
		*error_r = "l= is not a number";
		return -1;
	}
	if ((v = tag_get(t, n, "t")) != NULL && parse_num(v, &sig->t) < 0) {
		*error_r = "t= is not a number";
		return -1;
	}
	if ((v = tag_get(t, n, "x")) != NULL && parse_num(v, &sig->x) < 0) {
		*error_r = "x= is not a number";
		return -1;
	}
	if (sig->x >= 0 && sig->t >= 0 && sig->x < sig->t) {
		*error_r = "x= is before t=";
		return -1;
	}
	/* i= defaults to @d; its domain is d= or below it */
	if (!ams && (v = tag_get(t, n, "i")) != NULL) {
		if (copy_nows(v, sig->identity, sizeof(sig->identity)) < 0) {
			*error_r = "i= too long";
			return -1;
		}
		qp_decode(sig->identity);
		const char *at = strrchr(sig->identity, '@');
		size_t dl = strlen(sig->domain), il;
		if (at == NULL) {
			*error_r = "i= has no '@'";
			return -1;
		}
		at++;
		il = strlen(at);
		if (!(strcasecmp(at, sig->domain) == 0 || (il > dl &&
		    at[il - dl - 1] == '.' && strcasecmp(at + il - dl, sig->domain) == 0))) {
			*error_r = "i= is not in the d= domain";
			return -1;
		}
	} else {
		snprintf(sig->identity, sizeof(sig->identity), "@%s", sig->domain);
	}
	return 0;
}

/* find_sig - the n-th DKIM-Signature field; -1 if none */
static int
find_sig(const struct dkim_hdr *h, size_t n)
{
	for (size_t i = 0; i < h->nf; i++)
		if (h->name_len[i] == 14 &&
		    strncasecmp(h->data + h->start[i], "DKIM-Signature", 14) == 0 &&
		    n-- == 0)
			return (int)i;
	return -1;
}

size_t
dkim_count(const char *msg, size_t len)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	const char *err;
	size_t n = 0;

	if (dkim_hdr_scan(msg, len, h, &err) == 0)
		while (find_sig(h, n) >= 0)
			n++;
	free(h);
	return n;
}

/* dkim_sig_at - parse the n-th DKIM-Signature field */
int
dkim_sig_at(const char *msg, size_t len, size_t n, struct dkim_sig *sig,
	    const char **why_r)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	int i, r = -1;

	if (dkim_hdr_scan(msg, len, h, why_r) == 0) {
		if ((i = find_sig(h, n)) < 0) {
			*why_r = "no signature";
		} else {
			const char *fs = msg + h->start[i];
			size_t flen = h->end[i] - h->start[i];
			const char *colon = memchr(fs, ':', flen);
			r = dkim_sig_parse(colon + 1, flen - (size_t)(colon + 1 - fs),
			    sig, why_r);
		}
	}
	free(h);
	return r;
}

/* strip_b - the field with the b= value (and its white space) removed */
void
dkim_strip_b(const char *f, size_t len, struct buf *out)
{
	const char *colon = memchr(f, ':', len);
	size_t end = len, i;

	while (end > 0 && (f[end - 1] == '\n' || f[end - 1] == '\r'))
		end--;
	if (colon == NULL) {
		buf_append(out, f, len);
		return;
	}
	i = (size_t)(colon - f) + 1;
	buf_append(out, f, i);
	while (i < end) {
		size_t e = i;
		while (e < end && f[e] != ';')
			e++;
		size_t a = i;
		while (a < e && fws(f[a]))
			a++;
		if (a < e && f[a] == 'b') {
			size_t q = a + 1;
			while (q < e && fws(f[q]))
				q++;
			if (q < e && f[q] == '=') {
				buf_append(out, f + i, q + 1 - i);
				i = e;
				if (i < end) {
					buf_putc(out, ';');
					i++;
				}
				continue;
			}
		}
		buf_append(out, f + i, e - i);
		i = e;
		if (i < end) {
			buf_putc(out, ';');
			i++;
		}
	}
	buf_append(out, f + end, len - end);
}

/* key_from_record - the key record's checks (RFC 6376 3.6.1) */
struct dkim_key *
dkim_key_from_record(const char *record, const struct dkim_sig *sig,
		enum dkim_result *res, const char **why_r)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	const struct dkim_tag *v;
	size_t n;
	char p[2048];

	*res = DKIM_PERMERROR;
	if (strlen(record) > DKIM_RECORD_MAX ||
	    dkim_tags_parse(record, strlen(record), t, DKIM_TAGS_MAX, &n, why_r) < 0) {
		*why_r = "malformed key record";
		return NULL;
	}
	if ((v = tag_get(t, n, "v")) != NULL && (v != &t[0] ||
	    v->value_len != 5 || memcmp(v->value, "DKIM1", 5) != 0)) {
		*why_r = "key record v= is not DKIM1";
		return NULL;
	}
	if ((v = tag_get(t, n, "k")) != NULL) {
		bool ok = sig->alg == DKIM_RSA_SHA256 ?
		    (v->value_len == 3 && strncasecmp(v->value, "rsa", 3) == 0) :
		    (v->value_len == 7 && strncasecmp(v->value, "ed25519", 7) == 0);
		if (!ok) {
			*why_r = "key type does not match a=";
			return NULL;
		}
	} else if (sig->alg != DKIM_RSA_SHA256) {
		*why_r = "key record without k= is RSA";
		return NULL;
	}
	if ((v = tag_get(t, n, "h")) != NULL) {
		char hs[256];
		bool ok = false;
		if (copy_nows(v, hs, sizeof(hs)) == 0)
			for (char *save = NULL, *x = strtok_r(hs, ":", &save);
			    x != NULL; x = strtok_r(NULL, ":", &save))
				if (strcasecmp(x, "sha256") == 0)
					ok = true;
		if (!ok) {
			*why_r = "key record h= does not allow sha256";
			return NULL;
		}
	}
	if ((v = tag_get(t, n, "s")) != NULL) {
		char ss[256];
		bool ok = false;
		if (copy_nows(v, ss, sizeof(ss)) == 0)
			for (char *save = NULL, *x = strtok_r(ss, ":", &save);
			    x != NULL; x = strtok_r(NULL, ":", &save))
				if (strcmp(x, "*") == 0 || strcasecmp(x, "email") == 0)
					ok = true;
		if (!ok) {
			*why_r = "key record not for email (s=)";
			return NULL;
		}
	}
	if ((v = tag_get(t, n, "t")) != NULL) {
		char ts[256];
		if (copy_nows(v, ts, sizeof(ts)) == 0)
			for (char *save = NULL, *x = strtok_r(ts, ":", &save);
			    x != NULL; x = strtok_r(NULL, ":", &save)) {
				const char *at = strrchr(sig->identity, '@');
				if (strcmp(x, "s") == 0 && at != NULL &&
				    strcasecmp(at + 1, sig->domain) != 0) {
					*why_r = "t=s: i= must be in d= itself";
					return NULL;
				}
			}
	}
	if ((v = tag_get(t, n, "p")) == NULL || copy_nows(v, p, sizeof(p)) < 0) {
		*why_r = "key record without a usable p=";
		return NULL;
	}
	if (p[0] == '\0') {
		*why_r = "key revoked";
		return NULL;
	}
	struct dkim_key *k = dkim_key_public(sig->alg, p, why_r);
	if (k != NULL && sig->alg == DKIM_RSA_SHA256 && dkim_key_bits(k) < 1024) {
		*why_r = "RSA key shorter than 1024 bits (RFC 8301)";
		dkim_key_free(&k);
	}
	return k;
}

/* dkim_verify - one signature of a message */
enum dkim_result
dkim_verify(const char *msg, size_t len, size_t n, const char *record,
	    struct dkim_sig *sig_r, const char **why_r)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	enum dkim_result res = DKIM_PERMERROR;
	int i;

	if (dkim_hdr_scan(msg, len, h, why_r) < 0)
		goto out;
	if ((i = find_sig(h, n)) < 0) {
		res = DKIM_NONE;
		*why_r = "no signature";
		goto out;
	}
	res = dkim_verify_field(msg, len, h, (size_t)i, false, record, sig_r,
	    why_r);
out:
	free(h);
	return res;
}

enum dkim_result
dkim_verify_field(const char *msg, size_t len, const struct dkim_hdr *h,
		  size_t i, bool ams, const char *record,
		  struct dkim_sig *sig_r, const char **why_r)
{
	struct dkim_sig *sig = xcalloc(1, sizeof(*sig));
	struct dkim_key *key = NULL;
	struct dkim_body body;
	struct buf f, input;
	unsigned char bh[32];
	enum dkim_result res = DKIM_PERMERROR;

	buf_init(&f, 0);
	buf_init(&input, 0);
	const char *fs = msg + h->start[i], *colon;
	size_t flen = h->end[i] - h->start[i];
	colon = memchr(fs, ':', flen);
	if (sig_parse(colon + 1, flen - (size_t)(colon + 1 - fs), sig, ams,
	    why_r) < 0)
		goto out;
	if (sig_r != NULL)
		*sig_r = *sig;
	if (sig->x >= 0 && sig->x < (int64_t)time(NULL)) {
		res = DKIM_FAIL;
		*why_r = "signature expired";
		goto out;
	}
	if (record == NULL) {
		*why_r = "no key record";
		goto out;
	}
	if ((key = dkim_key_from_record(record, sig, &res, why_r)) == NULL)
		goto out;
	/* body */
	dkim_body_init(&body, sig->bcanon, sig->l);
	dkim_body_update(&body, msg + h->body, len - h->body);
	dkim_body_final(&body, bh);
	bool short_body = sig->l >= 0 && body.total < (uint64_t)sig->l;
	dkim_body_deinit(&body);
	if (short_body) {
		res = DKIM_FAIL;
		*why_r = "l= is longer than the body";
		goto out;
	}
	if (sig->bh_len != 32 || memcmp(bh, sig->bh, 32) != 0) {
		res = DKIM_FAIL;
		*why_r = "body hash did not verify";
		goto out;
	}
	dkim_strip_b(fs, flen, &f);
	dkim_hash_input(h, sig->hcanon, (const char (*)[80])sig->h, sig->nh,
	    f.data, f.len, &input);
	if (dkim_verify_data(key, input.data, input.len, sig->b, sig->b_len) != 1) {
		res = DKIM_FAIL;
		*why_r = "signature did not verify";
		goto out;
	}
	res = DKIM_PASS;
	*why_r = NULL;
out:
	dkim_key_free(&key);
	buf_free(&f);
	buf_free(&input);
	free(sig);
	return res;
}
