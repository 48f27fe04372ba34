#ifndef POSTERN_DKIM_H
#define POSTERN_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* DKIM (RFC 6376, RFC 8463 ed25519-sha256): canonicalization, signing,
 * verification against a given key record, key generation and the DNS
 * TXT record to publish. The library does no I/O but what the caller
 * feeds it and no DNS: the caller looks up records (lib-dns) and keeps
 * keys (config store, table dkim_selector).
 *
 *   dkim-canon.c   header and body canonicalization (RFC 6376 3.4)
 *   dkim-sign.c    signer: the header list, DKIM-Signature field, folding
 *   dkim-verify.c  tag lists, signature and key records, verification
 *   dkim-key.c     keys: load, generate, public key, TXT record text
 *
 * Line ends: a bare LF counts as CRLF everywhere, as smtp-out sends it
 * (it turns a bare LF into CRLF on the wire); a lone CR is data. */

#define DKIM_HEADER_MAX (1024 * 1024)  /* header block signed or verified */
#define DKIM_FIELDS_MAX 1000           /* header fields looked at */
#define DKIM_SIG_MAX (16 * 1024)       /* a DKIM-Signature field */
#define DKIM_RECORD_MAX (8 * 1024)     /* a key record (joined strings) */
#define DKIM_HNAMES_MAX 64             /* names in h= */
#define ARC_MAX_INSTANCES 50           /* RFC 8617 4.2.1 */

enum dkim_alg { DKIM_RSA_SHA256 = 0, DKIM_ED25519_SHA256 };
enum dkim_canon { DKIM_SIMPLE = 0, DKIM_RELAXED };

/* names as in a= / c= ("rsa-sha256", "relaxed"); parse: 0 or -1 */
const char *dkim_alg_name(enum dkim_alg alg);
int dkim_alg_parse(const char *s, size_t len, enum dkim_alg *alg_r);
const char *dkim_canon_name(enum dkim_canon c);
int dkim_canon_parse(const char *s, size_t len, enum dkim_canon *c_r);

/* -- canonicalization (dkim-canon.c) -------------------------------- */

/* dkim_canon_header - append the canonical form of one raw header field
 * (name to the end of its last line, folding included; a missing line end
 * is supplied) to out, with its CRLF. */
void dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
		       struct buf *out);

/* A body canonicalizer and hash, fed in pieces of any size. limit is
 * the l= count (-1: none): only that many canonical bytes are hashed. */
struct dkim_body {
	enum dkim_canon c;
	int64_t limit;
	uint64_t hashed;        /* canonical bytes hashed */
	uint64_t total;         /* canonical bytes of the whole body */
	uint64_t eols;          /* line ends held back (maybe trailing) */
	bool wsp;               /* relaxed: white space held back */
	bool cr;                /* a CR held back (a CRLF maybe) */
	bool content;           /* anything but line ends seen */
	void *md;               /* EVP_MD_CTX */
	struct buf *copy;       /* tests, fuzzing: the canonical bytes */
};
void dkim_body_init(struct dkim_body *b, enum dkim_canon c, int64_t limit);
void dkim_body_update(struct dkim_body *b, const void *data, size_t len);
/* dkim_body_final - the SHA-256 of the canonical body (32 bytes) */
void dkim_body_final(struct dkim_body *b, unsigned char hash[32]);
void dkim_body_deinit(struct dkim_body *b);

/* -- keys (dkim-key.c) ---------------------------------------------- */

struct dkim_key;
/* dkim_key_load - a private key (PEM, PKCS#8 or PKCS#1) or, with public,
 * a public key as in p= (base64: RSA SubjectPublicKeyInfo or RSAPublicKey,
 * Ed25519 the 32 raw bytes) */
struct dkim_key *dkim_key_private(const char *pem, const char **error_r);
struct dkim_key *dkim_key_public(enum dkim_alg alg, const char *b64,
				 const char **error_r);
/* dkim_key_raw_ed25519 - a private key from its 32 byte seed (tests) */
struct dkim_key *dkim_key_raw_ed25519(const unsigned char seed[32]);
enum dkim_alg dkim_key_alg(const struct dkim_key *k);
int dkim_key_bits(const struct dkim_key *k);
void dkim_key_free(struct dkim_key **k);

/* dkim_keygen - a new key pair: RSA of bits 1024, 2048 or 4096, or
 * Ed25519 (bits ignored). *pem_r: the private key (PKCS#8 PEM), *pub_r:
 * the p= value. 0 or -1. */
int dkim_keygen(enum dkim_alg alg, int bits, char **pem_r, char **pub_r,
		const char **error_r);
/* dkim_key_p - the p= value of a key's public half (new string) */
char *dkim_key_p(const struct dkim_key *k);

/* dkim_record - the TXT record text to publish: "v=DKIM1; k=rsa;
 * [t=y; ][g=...; ]p=..." (new string). granularity may be NULL/"". */
char *dkim_record(enum dkim_alg alg, const char *p, bool test,
		  const char *granularity);
/* dkim_record_zone - the record as zone file character-strings of at
 * most 255 bytes: "\"...\" \"...\"" (new string) */
char *dkim_record_zone(const char *record);

/* -- signing (dkim-sign.c) ------------------------------------------ */

struct dkim_sign_params {
	const struct dkim_key *key;
	const char *domain;          /* d= */
	const char *selector;        /* s= */
	enum dkim_canon hcanon, bcanon;
	int64_t body_limit;          /* 0: no l= */
	const char *identity;        /* i= or NULL */
	time_t now;                  /* t= */
	int arc_instance;            /* > 0: an ARC-Message-Signature with
				      * i= this (no v=, no identity; ARC
				      * fields and Authentication-Results
				      * not signed), arc.h */
};

struct dkim_signer;
struct dkim_signer *dkim_signer_new(const struct dkim_sign_params *p);
/* dkim_signer_feed - the message, in pieces; -1 with a header block or
 * a field past the limits */
int dkim_signer_feed(struct dkim_signer *s, const void *data, size_t len,
		     const char **error_r);
/* dkim_signer_finish - the "DKIM-Signature: ...\r\n" field to put on
 * top of the message (new string in *field_r), folded at 78 columns */
int dkim_signer_finish(struct dkim_signer *s, char **field_r,
		       const char **error_r);
void dkim_signer_free(struct dkim_signer **s);
/* dkim_sign_file - the same for a message file */
int dkim_sign_file(const struct dkim_sign_params *p, const char *path,
		   char **field_r, const char **error_r);

/* dkim_signed_names - the h= list the signer uses for a header whose
 * field names are names[0..n) (top to bottom), into out as
 * "from:from:to:..." */
void dkim_signed_names(const char *const *names, size_t n, struct buf *out);

/* -- verification (dkim-verify.c) ----------------------------------- */

/* A tag list (RFC 6376 3.2): "tag=value; ...". Values point into the
 * parsed text, white space around them removed (not inside). */
#define DKIM_TAGS_MAX 32
struct dkim_tag {
	const char *name, *value;
	size_t name_len, value_len;
};
/* dkim_tags_parse - -1 for a malformed list, a duplicate tag or more
 * than max tags */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tag *tags,
		    size_t max, size_t *n_r, const char **error_r);

enum dkim_result {
	DKIM_PASS = 0,
	DKIM_FAIL,          /* signature or body hash mismatch */
	DKIM_PERMERROR,     /* malformed, unusable or revoked */
	DKIM_TEMPERROR,     /* (for callers: a DNS failure) */
	DKIM_NONE,          /* no signature */
};
const char *dkim_result_name(enum dkim_result r);

/* A parsed DKIM-Signature. */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char domain[256];
	char selector[256];
	char identity[512];
	int64_t l;                   /* -1: none */
	int64_t t, x;                /* -1: none */
	size_t nh;
	char h[DKIM_HNAMES_MAX][80];
	unsigned char bh[64];
	size_t bh_len;
	unsigned char b[1024];
	size_t b_len;
	int64_t instance;            /* ARC-Message-Signature i= */
};
/* dkim_sig_parse - the value of a DKIM-Signature field (after the colon) */
int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig,
		   const char **error_r);

/* dkim_verify - verify the n-th (0: topmost) DKIM-Signature field of the
 * message msg[0..len) with the key record text record (NULL: the
 * caller's lookup found none). *sig_r (may be NULL) gets the parsed
 * signature, for d= and s=; *why_r the reason for anything but a pass. */
enum dkim_result dkim_verify(const char *msg, size_t len, size_t n,
			     const char *record, struct dkim_sig *sig_r,
			     const char **why_r);
/* dkim_ams_parse - an ARC-Message-Signature value (i= the instance, no
 * v=) into the same struct */
int dkim_ams_parse(const char *value, size_t len, struct dkim_sig *sig,
		   const char **error_r);
/* dkim_sig_at - parse the n-th (0: topmost) DKIM-Signature field of the
 * message, to know d= and s= before the key lookup; 0 or -1 (malformed,
 * or no such field) */
int dkim_sig_at(const char *msg, size_t len, size_t n, struct dkim_sig *sig,
		const char **why_r);
/* dkim_count - how many DKIM-Signature fields the header block has */
size_t dkim_count(const char *msg, size_t len);

/* internal, shared by the signer and the verifier (and the tests) */
struct dkim_hdr {
	const char *data;            /* the header block */
	size_t nf;
	size_t start[DKIM_FIELDS_MAX], end[DKIM_FIELDS_MAX];
	size_t name_len[DKIM_FIELDS_MAX];
	size_t body;                 /* offset of the body */
	bool complete;
};
/* dkim_hdr_scan - the fields of the header block of data[0..len) */
int dkim_hdr_scan(const char *data, size_t len, struct dkim_hdr *h,
		  const char **error_r);
/* dkim_verify_field - verify the signature field h[i] (a DKIM-Signature,
 * or with ams an ARC-Message-Signature) of msg with the key record */
enum dkim_result dkim_verify_field(const char *msg, size_t len,
				   const struct dkim_hdr *h, size_t i, bool ams,
				   const char *record, struct dkim_sig *sig_r,
				   const char **why_r);
/* dkim_key_from_record - the public key of a key record for sig's a=,
 * with the record's checks (RFC 6376 3.6.1); NULL with *res and why */
struct dkim_key *dkim_key_from_record(const char *record,
				      const struct dkim_sig *sig,
				      enum dkim_result *res, const char **why_r);
/* dkim_strip_b - a signature field with the value of b= removed */
void dkim_strip_b(const char *f, size_t len, struct buf *out);
/* dkim_hash_input - the header hash input: the fields named in h (each
 * taken bottom up), then sigfield (the DKIM-Signature field, b= empty),
 * canonicalized, the last without its CRLF */
void dkim_hash_input(const struct dkim_hdr *h, enum dkim_canon c,
		     const char (*names)[80], size_t nnames,
		     const char *sigfield, size_t siglen, struct buf *out);
/* dkim_sign_data / dkim_verify_data - the signature over the hash input */
int dkim_sign_data(const struct dkim_key *k, const void *data, size_t len,
		   unsigned char *sig, size_t *sig_len, const char **error_r);
int dkim_verify_data(const struct dkim_key *k, const void *data, size_t len,
		     const unsigned char *sig, size_t sig_len);
/* base64 helpers: encode (no line breaks), decode ignoring white space */
void dkim_b64_encode(const unsigned char *in, size_t len, struct buf *out);
int dkim_b64_decode(const char *in, size_t len, unsigned char *out,
		    size_t max, size_t *out_len);

#endif
