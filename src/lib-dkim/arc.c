/* arc - ARC chains: verification and sealing (arc.h) */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arc.h"
#include "xalloc.h"

#define ARC_AAR 0
#define ARC_AMS 1
#define ARC_AS 2

static const char *const arc_names[] = { "none", "pass", "fail" };

const char *
arc_result_name(enum arc_result r)
{
	return arc_names[r];
}

/* The ARC fields of a header, by instance: idx[i][kind] = field + 1. */
struct arc_sets {
	int n;                                  /* newest instance */
	size_t idx[ARC_MAX_INSTANCES + 1][3];
};

static bool
name_is(const struct dkim_hdr *h, size_t i, const char *name)
{
	size_t l = strlen(name);
	return h->name_len[i] == l &&
	    strncasecmp(h->data + h->start[i], name, l) == 0;
}

/* instance_of - i= of an ARC field: a tag list for AMS and AS, the
 * first "i=N;" for AAR; -1 if there is none */
static int
instance_of(const struct dkim_hdr *h, size_t f)
{
	const char *s = h->data + h->start[f], *end = h->data + h->end[f];
	s = memchr(s, ':', (size_t)(end - s));
	if (s == NULL)
		return -1;
	s++;
	/* i= is the first tag in practice; RFC 8617 makes it so for AAR.
	 * For the others look through the tags. */
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' ||
		    *s == '\n'))
			s++;
		if (s + 1 < end && s[0] == 'i') {
			const char *q = s + 1;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q == '=') {
				q++;
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
				int v = 0, k = 0;
				for (; q < end && isdigit((unsigned char)*q) &&
				    k < 3; q++, k++)
					v = v * 10 + (*q - '0');
				return k > 0 ? v : -1;
			}
		}
		const char *semi = memchr(s, ';', (size_t)(end - s));
		if (semi == NULL || name_is(h, f, "ARC-Authentication-Results"))
			return -1;
		s = semi + 1;
	}
	return -1;
}

/* sets_collect - the ARC sets of a header: 0 none, 1 a structurally
 * sound chain (sets 1..n, one field of each kind), -1 otherwise */
static int
sets_collect(const struct dkim_hdr *h, struct arc_sets *s, const char **why)
{
	static const char *const kinds[3] = { "ARC-Authentication-Results",
		"ARC-Message-Signature", "ARC-Seal" };
	size_t found = 0;

	memset(s, 0, sizeof(*s));
	for (size_t f = 0; f < h->nf; f++)
		for (int k = 0; k < 3; k++) {
			if (!name_is(h, f, kinds[k]))
				continue;
			int i = instance_of(h, f);
			found++;
			if (i < 1 || i > ARC_MAX_INSTANCES) {
				*why = "an ARC field without a valid i=";
				return -1;
			}
			if (s->idx[i][k] != 0) {
				*why = "two ARC fields of one kind and instance";
				return -1;
			}
			s->idx[i][k] = f + 1;
			if (i > s->n)
				s->n = i;
		}
	if (found == 0)
		return 0;
	for (int i = 1; i <= s->n; i++)
		for (int k = 0; k < 3; k++)
			if (s->idx[i][k] == 0) {
				*why = "an ARC set is incomplete";
				return -1;
			}
	return 1;
}

/* A parsed ARC-Seal. */
struct arc_seal {
	enum dkim_alg alg;
	char domain[256], selector[256];
	enum arc_result cv;
	unsigned char b[1024];
	size_t b_len;
};

static int
seal_parse(const char *f, size_t len, struct arc_seal *as, const char **why)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t n;
	const char *colon = memchr(f, ':', len);
	bool have[5] = { false };

	memset(as, 0, sizeof(*as));
	if (colon == NULL || len > DKIM_SIG_MAX)
		return -1;
	colon++;
	if (dkim_tags_parse(colon, len - (size_t)(colon - f), t, DKIM_TAGS_MAX,
	    &n, why) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct dkim_tag *x = &t[i];
		char v[300];
		size_t o = 0;
		for (size_t k = 0; k < x->value_len && o + 1 < sizeof(v); k++)
			if (!isspace((unsigned char)x->value[k]))
				v[o++] = x->value[k];
		v[o] = '\0';
		if (x->name_len == 1 && x->name[0] == 'a') {
			if (dkim_alg_parse(v, o, &as->alg) < 0) {
				*why = "ARC-Seal a= unknown";
				return -1;
			}
			have[0] = true;
		} else if (x->name_len == 1 && x->name[0] == 'd') {
			snprintf(as->domain, sizeof(as->domain), "%s", v);
			have[1] = o > 0;
		} else if (x->name_len == 1 && x->name[0] == 's') {
			snprintf(as->selector, sizeof(as->selector), "%s", v);
			have[2] = o > 0;
		} else if (x->name_len == 2 && memcmp(x->name, "cv", 2) == 0) {
			as->cv = strcasecmp(v, "pass") == 0 ? ARC_PASS :
			    strcasecmp(v, "fail") == 0 ? ARC_FAIL : ARC_NONE;
			have[3] = strcasecmp(v, "none") == 0 || as->cv != ARC_NONE;
		} else if (x->name_len == 1 && x->name[0] == 'b') {
			if (dkim_b64_decode(x->value, x->value_len, as->b,
			    sizeof(as->b), &as->b_len) < 0 || as->b_len == 0) {
				*why = "ARC-Seal b= is not base64";
				return -1;
			}
			have[4] = true;
		} else if (x->name_len == 1 && x->name[0] == 'h') {
			*why = "ARC-Seal with h=";
			return -1;
		}
	}
	for (int k = 0; k < 5; k++)
		if (!have[k]) {
			*why = "ARC-Seal misses a=, d=, s=, cv= or b=";
			return -1;
		}
	return 0;
}

/* seal_input - the ARC-Seal hash input of sets 1..upto (RFC 8617 5.1.1):
 * AAR, AMS, AS of each instance in order, relaxed; the last AS with b=
 * empty and without its CRLF. last_as overrides the AS of upto (when
 * sealing: not in the header yet). */
static void
seal_input(const struct dkim_hdr *h, const struct arc_sets *s, int upto,
	   const char *aar, const char *ams, const char *last_as,
	   struct buf *out)
{
	for (int i = 1; i <= upto; i++)
		for (int k = 0; k < 3; k++) {
			const char *f;
			size_t len;
			if (i == upto && last_as != NULL) {
				f = k == ARC_AAR ? aar : k == ARC_AMS ? ams : last_as;
				len = strlen(f);
			} else {
				size_t x = s->idx[i][k] - 1;
				f = h->data + h->start[x];
				len = h->end[x] - h->start[x];
			}
			if (i == upto && k == ARC_AS) {
				struct buf nb;
				buf_init(&nb, 0);
				dkim_strip_b(f, len, &nb);
				dkim_canon_header(DKIM_RELAXED, nb.data, nb.len, out);
				buf_free(&nb);
				if (out->len >= 2)
					out->len -= 2;   /* no CRLF after it */
				out->data[out->len] = '\0';
			} else {
				dkim_canon_header(DKIM_RELAXED, f, len, out);
			}
		}
}

/* chain_add - a sealer's domain to the chain text */
static void
chain_add(struct arc_verdict *v, const char *d)
{
	size_t l = strlen(v->chain);
	snprintf(v->chain + l, sizeof(v->chain) - l, "%s%s", l ? "," : "", d);
}

enum arc_result
arc_verify(const char *msg, size_t len, arc_lookup_fn *lookup, void *ctx,
	   struct arc_verdict *v)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	struct arc_sets *s = xcalloc(1, sizeof(*s));
	struct buf input;
	const char *why = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	buf_init(&input, 0);
	v->result = ARC_FAIL;
	if (dkim_hdr_scan(msg, len, h, &why) < 0)
		goto out;
	if ((r = sets_collect(h, s, &why)) <= 0) {
		if (r == 0)
			v->result = ARC_NONE;
		goto out;
	}
	v->instances = s->n;
	/* the newest AMS (5.2 step 4) */
	size_t ams = s->idx[s->n][ARC_AMS] - 1;
	struct dkim_sig sig;
	const char *ws = NULL;
	if (dkim_ams_parse(strchr(h->data + h->start[ams], ':') + 1,
	    h->end[ams] - h->start[ams] - h->name_len[ams] - 1, &sig, &ws) < 0) {
		why = ws;
		goto out;
	}
	bool tf = false;
	char *rec = lookup(ctx, sig.selector, sig.domain, &tf);
	if (rec == NULL) {
		v->tempfail = tf;
		why = tf ? "AMS key lookup failed" : "no AMS key record";
		goto out;
	}
	enum dkim_result dr = dkim_verify_field(msg, len, h, ams, true, rec,
	    NULL, &ws);
	free(rec);
	if (dr != DKIM_PASS) {
		why = "the newest ARC-Message-Signature did not verify";
		goto out;
	}
	/* every seal, newest first (5.2 steps 3, 6) */
	for (int i = s->n; i >= 1; i--) {
		size_t x = s->idx[i][ARC_AS] - 1;
		struct arc_seal as;
		if (seal_parse(h->data + h->start[x], h->end[x] - h->start[x],
		    &as, &why) < 0)
			goto out;
		if ((i == 1 && as.cv != ARC_NONE) || (i > 1 && as.cv != ARC_PASS)) {
			why = as.cv == ARC_FAIL ? "a sealer saw a failed chain" :
			    "ARC-Seal cv= out of order";
			goto out;
		}
		chain_add(v, as.domain);
		rec = lookup(ctx, as.selector, as.domain, &tf);
		if (rec == NULL) {
			v->tempfail = tf;
			why = tf ? "seal key lookup failed" : "no seal key record";
			goto out;
		}
		struct dkim_sig ks;
		memset(&ks, 0, sizeof(ks));
		ks.alg = as.alg;
		snprintf(ks.domain, sizeof(ks.domain), "%s", as.domain);
		snprintf(ks.identity, sizeof(ks.identity), "@%s", as.domain);
		enum dkim_result kr;
		struct dkim_key *key = dkim_key_from_record(rec, &ks, &kr, &ws);
		free(rec);
		if (key == NULL) {
			why = ws;
			goto out;
		}
		buf_reset(&input);
		seal_input(h, s, i, NULL, NULL, NULL, &input);
		int ok = dkim_verify_data(key, input.data, input.len, as.b,
		    as.b_len);
		dkim_key_free(&key);
		if (ok != 1) {
			why = "an ARC-Seal did not verify";
			goto out;
		}
	}
	v->result = ARC_PASS;
	why = NULL;
out:
	v->why = why;
	buf_free(&input);
	free(s);
	free(h);
	return v->result;
}

/* header_read - the header block of a message file (at most
 * DKIM_HEADER_MAX bytes) */
static int
header_read(const char *path, struct buf *out, const char **why)
{
	char chunk[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*why = "cannot open the message";
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0)
			break;    /* the header ends before, or scan says */
		if (memmem(out->data, out->len, "\n\r\n", 3) != NULL ||
		    memmem(out->data, out->len, "\n\n", 2) != NULL)
			break;
	}
	close(fd);
	return 0;
}

int
arc_seal_file(const struct arc_seal_params *p, const char *path,
	      char **fields_r, const char **error_r)
{
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	struct arc_sets *s = xcalloc(1, sizeof(*s));
	struct buf head, aar, as, input;
	char *ams = NULL;
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	int rc = -1, r;

	*fields_r = NULL;
	buf_init(&head, DKIM_HEADER_MAX + 1);
	buf_init(&aar, 0);
	buf_init(&as, 0);
	buf_init(&input, 0);
	if (header_read(path, &head, error_r) < 0 ||
	    dkim_hdr_scan(head.data ? head.data : "", head.len, h, error_r) < 0)
		goto out;
	if ((r = sets_collect(h, s, error_r)) < 0)
		goto out;
	int n = s->n + 1;
	if (n > ARC_MAX_INSTANCES) {
		*error_r = "the ARC chain has 50 sets already";
		goto out;
	}
	if ((n == 1) != (p->cv == ARC_NONE)) {
		*error_r = n == 1 ? "cv= is not none for a first set" :
		    "the chain's result is not known";
		goto out;
	}
	buf_printf(&aar, "ARC-Authentication-Results: i=%d; %s\r\n", n,
	    p->authres);
	struct dkim_sign_params sp = {
		.key = p->key, .domain = p->domain, .selector = p->selector,
		.hcanon = DKIM_RELAXED, .bcanon = DKIM_RELAXED, .now = p->now,
		.arc_instance = n,
	};
	if (dkim_sign_file(&sp, path, &ams, error_r) < 0)
		goto out;
	buf_printf(&as, "ARC-Seal: i=%d; a=%s; t=%lld; cv=%s; d=%s; s=%s;\r\n"
	    " b=", n, dkim_alg_name(dkim_key_alg(p->key)), (long long)p->now,
	    arc_result_name(p->cv), p->domain, p->selector);
	seal_input(h, s, n, aar.data, ams, as.data, &input);
	if (dkim_sign_data(p->key, input.data, input.len, sig, &sig_len,
	    error_r) < 0)
		goto out;
	struct buf b64;
	buf_init(&b64, 0);
	dkim_b64_encode(sig, sig_len, &b64);
	for (size_t i = 0; i < b64.len; i += 72)
		buf_printf(&as, "%s%.*s", i ? "\r\n " : "",
		    (int)(b64.len - i < 72 ? b64.len - i : 72), b64.data + i);
	buf_free(&b64);
	buf_puts(&as, "\r\n");
	buf_append(&as, ams, strlen(ams));
	buf_append(&as, aar.data, aar.len);
	*fields_r = buf_steal(&as);
	rc = 0;
out:
	free(ams);
	buf_free(&head);
	buf_free(&aar);
	buf_free(&as);
	buf_free(&input);
	free(s);
	free(h);
	return rc;
}
