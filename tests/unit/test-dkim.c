/* test-dkim - canonicalization, RFC 8463 appendix A vectors, signing and
 * verifying round trips, tag lists, keys and records */
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "test.h"
#include "xalloc.h"

/* RFC 8463 appendix A: keys, records and the message signed with both */
static const char rsa_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
	"Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
	"KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
	"AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
	"6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
	"zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
	"6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
	"uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
	"WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
	"WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
	"licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
	"o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
	"uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
	"-----END RSA PRIVATE KEY-----\n";
static const char ed_seed_b64[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char ed_record[] =
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_record[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
#define ED_SIG \
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" \
	" d=football.example.com; i=@football.example.com;\r\n" \
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" \
	" subject : date : message-id : from : subject : date;\r\n" \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
#define ED_B \
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" \
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
#define RSA_SIG \
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" \
	" d=football.example.com; i=@football.example.com;\r\n" \
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n" \
	" date : message-id : from : subject : date;\r\n" \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
#define RSA_B \
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n" \
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n" \
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
#define MSG \
	"From: Joe SixPack <joe@football.example.com>\r\n" \
	"To: Suzie Q <suzie@shopping.example.net>\r\n" \
	"Subject: Is dinner ready?\r\n" \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" \
	"\r\n" \
	"Hi.\r\n" \
	"\r\n" \
	"We lost the game.  Are you hungry yet?\r\n" \
	"\r\n" \
	"Joe.\r\n"
static const char rfc8463[] = ED_SIG ED_B RSA_SIG RSA_B MSG;

static char *
body_canon(enum dkim_canon c, const char *in, size_t step)
{
	struct dkim_body b;
	struct buf out;
	unsigned char h[32];
	size_t len = strlen(in);

	buf_init(&out, 0);
	dkim_body_init(&b, c, -1);
	b.copy = &out;
	for (size_t i = 0; i < len; i += step)
		dkim_body_update(&b, in + i, len - i < step ? len - i : step);
	dkim_body_final(&b, h);
	dkim_body_deinit(&b);
	return buf_steal(&out);
}

static void
test_body(void)
{
	static const struct {
		const char *in, *simple, *relaxed;
	} v[] = {
		{ "", "\r\n", "" },
		{ "\r\n\r\n", "\r\n", "" },
		{ "a", "a\r\n", "a\r\n" },
		{ "a \t b  \r\n\r\n\r\n", "a \t b  \r\n", "a b\r\n" },
		{ " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
		{ "x\n\ny\n", "x\r\n\r\ny\r\n", "x\r\n\r\ny\r\n" },
		{ "x\ry\r", "x\ry\r\r\n", "x\ry\r\r\n" },
		{ "  \r\n \t\r\nz", "  \r\n \t\r\nz\r\n", "\r\n\r\nz\r\n" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t step = 1; step <= 7; step += 6) {
			char *s = body_canon(DKIM_SIMPLE, v[i].in, step);
			char *r = body_canon(DKIM_RELAXED, v[i].in, step);
			CHECK_STREQ(s, v[i].simple);
			CHECK_STREQ(r, v[i].relaxed);
			free(s);
			free(r);
		}
}

static void
test_header(void)
{
	struct buf b;

	buf_init(&b, 0);
	/* RFC 6376 3.4.5 example */
	dkim_canon_header(DKIM_RELAXED, "A: X\r\n", 6, &b);
	dkim_canon_header(DKIM_RELAXED, "B : Y\t\r\n\tZ  \r\n", 14, &b);
	CHECK_STREQ(b.data, "a:X\r\nb:Y Z\r\n");
	buf_reset(&b);
	dkim_canon_header(DKIM_SIMPLE, "B : Y\t\n\tZ  ", 11, &b);
	CHECK_STREQ(b.data, "B : Y\t\r\n\tZ  \r\n");
	buf_free(&b);
}

static void
test_b64(void)
{
	unsigned char out[8];
	size_t n;

	CHECK(dkim_b64_decode("YQ==", 4, out, 8, &n) == 0 && n == 1 && out[0] == 'a');
	CHECK(dkim_b64_decode("YWI=", 4, out, 8, &n) == 0 && n == 2);
	CHECK(dkim_b64_decode("Y W\r\n\tJj", 8, out, 8, &n) == 0 && n == 3);
	CHECK(dkim_b64_decode("YQ=", 3, out, 8, &n) < 0);
	CHECK(dkim_b64_decode("Y", 1, out, 8, &n) < 0);
	CHECK(dkim_b64_decode("YQ==YQ==", 8, out, 8, &n) < 0);
	CHECK(dkim_b64_decode("Y!Q=", 4, out, 8, &n) < 0);
	CHECK(dkim_b64_decode("YWJjZGVmZ2hp", 12, out, 8, &n) < 0);   /* > max */
}

static struct dkim_key *
ed_key(void)
{
	unsigned char seed[32];
	size_t n;

	CHECK(dkim_b64_decode(ed_seed_b64, strlen(ed_seed_b64), seed, 32, &n) == 0);
	return dkim_key_raw_ed25519(seed);
}

/* the RFC's signatures verify, and tampering fails them */
static void
test_rfc8463_verify(void)
{
	const char *why = NULL;
	size_t len = strlen(rfc8463);
	struct dkim_sig sig;

	CHECK(dkim_count(rfc8463, len) == 2);
	CHECK(dkim_verify(rfc8463, len, 0, ed_record, &sig, &why) == DKIM_PASS);
	CHECK_STREQ(sig.domain, "football.example.com");
	CHECK_STREQ(sig.selector, "brisbane");
	CHECK(sig.alg == DKIM_ED25519_SHA256 && sig.nh == 8);
	CHECK(dkim_verify(rfc8463, len, 1, rsa_record, NULL, &why) == DKIM_PASS);
	/* the wrong key, a key of the other type, no key, a revoked key */
	CHECK(dkim_verify(rfc8463, len, 0, "v=DKIM1; k=ed25519; "
	    "p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=", NULL, &why) == DKIM_FAIL);
	CHECK(dkim_verify(rfc8463, len, 0, rsa_record, NULL, &why) == DKIM_PERMERROR);
	CHECK(dkim_verify(rfc8463, len, 1, NULL, NULL, &why) == DKIM_PERMERROR);
	CHECK(dkim_verify(rfc8463, len, 1, "v=DKIM1; p=", NULL, &why) == DKIM_PERMERROR);
	CHECK(dkim_verify(rfc8463, len, 2, rsa_record, NULL, &why) == DKIM_NONE);

	char *m = xstrdup(rfc8463);
	char *p = strstr(m, "hungry");
	p[0] = 'H';
	CHECK(dkim_verify(m, len, 0, ed_record, NULL, &why) == DKIM_FAIL);
	CHECK_STREQ(why, "body hash did not verify");
	p[0] = 'h';
	p = strstr(m, "dinner");
	p[0] = 'D';
	CHECK(dkim_verify(m, len, 1, rsa_record, NULL, &why) == DKIM_FAIL);
	CHECK_STREQ(why, "signature did not verify");
	free(m);
	/* relaxed tolerates white space changes in the body */
	m = xstrdup(rfc8463);
	p = strstr(m, "game.  Are");
	memcpy(p, "game.\t Are", 10);
	CHECK(dkim_verify(m, len, 0, ed_record, NULL, &why) == DKIM_PASS);
	free(m);
}

/* signing the RFC's own field (b= empty) gives the RFC's b= exactly */
static void
test_rfc8463_sign(void)
{
	static const char msg[] = MSG;
	static const char (*names)[80];
	struct dkim_hdr *h = xcalloc(1, sizeof(*h));
	struct dkim_sig sig;
	struct buf in, b64;
	unsigned char s[512];
	size_t slen;
	const char *err;
	static const char ed_field[] = ED_SIG " b=\r\n";
	static const char rsa_field[] = RSA_SIG " b=\r\n";
	struct dkim_key *k;

	CHECK(dkim_hdr_scan(msg, strlen(msg), h, &err) == 0);
	CHECK(h->nf == 5 && h->complete);
	const char *colon = strchr(ed_field, ':');
	/* parse only for the h= list: b= is empty here, so take it from the
	 * signed message */
	CHECK(dkim_sig_parse(strchr(rfc8463, ':') + 1,
	    strlen(ED_SIG ED_B) - (size_t)(strchr(rfc8463, ':') + 1 - rfc8463),
	    &sig, &err) == 0);
	names = (const char (*)[80])sig.h;
	(void)colon;

	buf_init(&in, 0);
	buf_init(&b64, 0);
	dkim_hash_input(h, DKIM_RELAXED, names, sig.nh, ed_field,
	    strlen(ed_field), &in);
	k = ed_key();
	slen = sizeof(s);
	CHECK(k != NULL && dkim_sign_data(k, in.data, in.len, s, &slen, &err) == 0);
	dkim_b64_encode(s, slen, &b64);
	CHECK_STREQ(b64.data, "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
	    "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
	dkim_key_free(&k);

	buf_reset(&in);
	buf_reset(&b64);
	dkim_hash_input(h, DKIM_RELAXED, names, sig.nh, rsa_field,
	    strlen(rsa_field), &in);
	k = dkim_key_private(rsa_pem, &err);
	slen = sizeof(s);
	CHECK(k != NULL && dkim_sign_data(k, in.data, in.len, s, &slen, &err) == 0);
	dkim_b64_encode(s, slen, &b64);
	CHECK_STREQ(b64.data, "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3"
	    "DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz"
	    "dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=");
	/* the key's p= is the RFC's record */
	char *p = dkim_key_p(k);
	CHECK(strstr(rsa_record, p) != NULL);
	free(p);
	dkim_key_free(&k);
	buf_free(&in);
	buf_free(&b64);
	free(h);
}

/* sign_verify - sign msg with the signer, verify the result */
static enum dkim_result
sign_verify(const struct dkim_key *k, const char *record, enum dkim_canon hc,
	    enum dkim_canon bc, int64_t l, const char *msg, const char *tamper,
	    const char *with, char **field_r)
{
	struct dkim_sign_params p = {
		.key = k, .domain = "example.org", .selector = "sel",
		.hcanon = hc, .bcanon = bc, .body_limit = l,
		.identity = "a;b=c@example.org", .now = 1700000000,
	};
	struct dkim_signer *s = dkim_signer_new(&p);
	const char *err = NULL, *why = NULL;
	char *field = NULL;
	size_t len = strlen(msg);

	/* fed a byte at a time across the header/body boundary */
	for (size_t i = 0; i < len; i++)
		CHECK(dkim_signer_feed(s, msg + i, 1, &err) == 0);
	CHECK(dkim_signer_finish(s, &field, &err) == 0);
	dkim_signer_free(&s);
	if (field == NULL)
		return DKIM_PERMERROR;
	/* folded to 78 columns */
	for (const char *l0 = field, *e; (e = strstr(l0, "\r\n")) != NULL; l0 = e + 2)
		CHECK(e - l0 <= 78);
	char *signed_msg = xasprintf("%s%s", field, msg);
	if (tamper != NULL) {
		char *t = strstr(signed_msg, tamper);
		CHECK(t != NULL && strlen(with) == strlen(tamper));
		if (t != NULL)
			memcpy(t, with, strlen(with));
	}
	enum dkim_result r = dkim_verify(signed_msg, strlen(signed_msg), 0,
	    record, NULL, &why);
	free(signed_msg);
	if (field_r != NULL)
		*field_r = field;
	else
		free(field);
	return r;
}

static void
test_sign_roundtrip(void)
{
	static const char msg[] =
		"Received: from x\r\n"
		"From: Alice <a;b=c@example.org>\r\n"
		"To: bob@example.net,\r\n  carol@example.net\r\n"
		"Subject:  hello   there \r\n"
		"List-Unsubscribe: <https://example.org/u/1>\r\n"
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
		"\r\n"
		"Body line one  \r\n"
		"\r\n"
		"line three\r\n\r\n\r\n";
	const char *err;
	char *pem, *pub, *field = NULL;

	for (int alg = 0; alg < 2; alg++) {
		CHECK(dkim_keygen((enum dkim_alg)alg, 1024, &pem, &pub, &err) == 0);
		struct dkim_key *k = dkim_key_private(pem, &err);
		char *rec = dkim_record((enum dkim_alg)alg, pub, false, NULL);
		CHECK(k != NULL && dkim_key_alg(k) == (enum dkim_alg)alg);
		for (int hc = 0; hc < 2; hc++)
			for (int bc = 0; bc < 2; bc++)
				CHECK(sign_verify(k, rec, (enum dkim_canon)hc,
				    (enum dkim_canon)bc, 0, msg, NULL, NULL,
				    NULL) == DKIM_PASS);
		/* tampered header, body; relaxed forgives white space */
		CHECK(sign_verify(k, rec, DKIM_RELAXED, DKIM_RELAXED, 0, msg,
		    "hello", "HELLO", NULL) == DKIM_FAIL);
		CHECK(sign_verify(k, rec, DKIM_SIMPLE, DKIM_SIMPLE, 0, msg,
		    "three", "THREE", NULL) == DKIM_FAIL);
		CHECK(sign_verify(k, rec, DKIM_RELAXED, DKIM_RELAXED, 0, msg,
		    "one  ", "one\t ", NULL) == DKIM_PASS);
		CHECK(sign_verify(k, rec, DKIM_SIMPLE, DKIM_SIMPLE, 0, msg,
		    "one  ", "one\t ", NULL) == DKIM_FAIL);
		/* l=: only the first 10 canonical bytes count */
		CHECK(sign_verify(k, rec, DKIM_RELAXED, DKIM_SIMPLE, 10, msg,
		    "three", "THREE", &field) == DKIM_PASS);
		CHECK(strstr(field, " l=10;") != NULL);
		/* unfolded for the checks below */
		for (char *u; (u = strstr(field, "\r\n ")) != NULL;)
			memmove(u, u + 3, strlen(u + 3) + 1);
		/* the over-signed and one-click fields are in h=, i= is
		 * quoted-printable, Received is not signed */
		CHECK(strstr(field, "h=from:from:reply-to:subject:subject:date:to:to:") != NULL ||
		    strstr(field, "h=from:from:reply-to:") != NULL);
		CHECK(strstr(field, "list-unsubscribe:list-unsubscribe:") != NULL);
		CHECK(strstr(field, "list-unsubscribe-post:list-unsubscribe-post") != NULL);
		CHECK(strstr(field, "i=a=3Bb=3Dc@example.org;") != NULL);
		CHECK(strstr(field, "received") == NULL);
		free(field);
		/* a field added after signing breaks it (over-signing) */
		struct dkim_sign_params p = {
			.key = k, .domain = "example.org", .selector = "sel",
			.hcanon = DKIM_RELAXED, .bcanon = DKIM_RELAXED, .now = 1,
		};
		field = NULL;
		struct dkim_signer *s = dkim_signer_new(&p);
		CHECK(dkim_signer_feed(s, msg, strlen(msg), &err) == 0);
		CHECK(dkim_signer_finish(s, &field, &err) == 0);
		dkim_signer_free(&s);
		const char *why;
		char *m2 = xasprintf("%sSubject: other\r\n%s", field, msg);
		CHECK(dkim_verify(m2, strlen(m2), 0, rec, NULL, &why) == DKIM_FAIL);
		free(m2);
		m2 = xasprintf("%sX-Added: fine\r\n%s", field, msg);
		CHECK(dkim_verify(m2, strlen(m2), 0, rec, NULL, &why) == DKIM_PASS);
		free(m2);
		free(field);
		dkim_key_free(&k);
		free(rec);
		free(pem);
		free(pub);
	}
}

static void
test_sign_errors(void)
{
	const char *err;
	char *field = NULL;
	struct dkim_key *k = ed_key();
	struct dkim_sign_params p = {
		.key = k, .domain = "example.org", .selector = "sel", .now = 1,
	};
	struct dkim_signer *s = dkim_signer_new(&p);

	/* no From */
	CHECK(dkim_signer_feed(s, "To: x@y\r\n\r\nbody\r\n", 17, &err) == 0);
	CHECK(dkim_signer_finish(s, &field, &err) < 0);
	dkim_signer_free(&s);
	/* a field over the limit */
	s = dkim_signer_new(&p);
	char *big = xcalloc(1, 70000);
	memcpy(big, "From: a@b\r\nX: ", 14);
	memset(big + 14, 'a', 70000 - 15);
	CHECK(dkim_signer_feed(s, big, strlen(big), &err) < 0);
	dkim_signer_free(&s);
	free(big);
	/* a message that is all header is signed (empty body) */
	s = dkim_signer_new(&p);
	CHECK(dkim_signer_feed(s, "From: a@b", 9, &err) == 0);
	CHECK(dkim_signer_finish(s, &field, &err) == 0);
	free(field);
	dkim_signer_free(&s);
	dkim_key_free(&k);
}

static void
test_tags(void)
{
	struct dkim_tag t[8];
	size_t n;
	const char *err;
	const char *s = " v = 1 ;a=b c;\r\n\tz=;";

	CHECK(dkim_tags_parse(s, strlen(s), t, 8, &n, &err) == 0 && n == 3);
	CHECK(t[0].value_len == 1 && t[0].value[0] == '1');
	CHECK(t[1].value_len == 3 && memcmp(t[1].value, "b c", 3) == 0);
	CHECK(t[2].value_len == 0);
	CHECK(dkim_tags_parse("a=1; a=2", 8, t, 8, &n, &err) < 0);
	CHECK(dkim_tags_parse("a=1;;b=2", 8, t, 8, &n, &err) < 0);
	CHECK(dkim_tags_parse("=1", 2, t, 8, &n, &err) < 0);
	CHECK(dkim_tags_parse("a", 1, t, 8, &n, &err) < 0);
	CHECK(dkim_tags_parse("a=1;b=2;c=3", 11, t, 2, &n, &err) < 0);
	CHECK(dkim_tags_parse("a=\x01", 3, t, 8, &n, &err) < 0);
}

static void
test_records(void)
{
	const char *err;
	char *pem, *pub;

	char *r = dkim_record(DKIM_ED25519_SHA256, "AAAA", true, "bob");
	CHECK_STREQ(r, "v=DKIM1; k=ed25519; t=y; g=bob; p=AAAA");
	free(r);
	char *long_rec = xcalloc(1, 600);
	memset(long_rec, 'x', 599);
	char *z = dkim_record_zone(long_rec);
	/* 255 + 255 + 89, each quoted */
	CHECK(strlen(z) == 599 + 6 + 2);
	CHECK(z[0] == '"' && z[256] == '"' && z[257] == ' ' && z[258] == '"');
	free(z);
	free(long_rec);
	z = dkim_record_zone("a\"b");
	CHECK_STREQ(z, "\"a\\\"b\"");
	free(z);
	CHECK(dkim_keygen(DKIM_RSA_SHA256, 512, &pem, &pub, &err) < 0);
	CHECK(dkim_keygen(DKIM_RSA_SHA256, 2048, &pem, &pub, &err) == 0);
	struct dkim_key *k = dkim_key_private(pem, &err);
	CHECK(k != NULL && dkim_key_bits(k) == 2048);
	CHECK(strstr(pem, "BEGIN PRIVATE KEY") != NULL);
	struct dkim_key *pk = dkim_key_public(DKIM_RSA_SHA256, pub, &err);
	CHECK(pk != NULL);
	dkim_key_free(&pk);
	CHECK(dkim_key_public(DKIM_ED25519_SHA256, pub, &err) == NULL);
	CHECK(dkim_key_private("junk", &err) == NULL);
	dkim_key_free(&k);
	free(pem);
	free(pub);
}

int
main(void)
{
	static const struct test tests[] = {
		TEST(test_body),
		TEST(test_header),
		TEST(test_b64),
		TEST(test_rfc8463_verify),
		TEST(test_rfc8463_sign),
		TEST(test_sign_roundtrip),
		TEST(test_sign_errors),
		TEST(test_tags),
		TEST(test_records),
		{ NULL, NULL },
	};
	return test_run(tests);
}
