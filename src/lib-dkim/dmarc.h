#ifndef POSTERN_DMARC_H
#define POSTERN_DMARC_H

#include <stdbool.h>
#include <stddef.h>

/* DMARC (RFC 9989, which replaces RFC 7489): the policy record, the DNS
 * tree walk (4.10: policy discovery and the Organizational Domain, no
 * public suffix list), identifier alignment and the policy that applies.
 * No I/O: the caller looks up the _dmarc TXT records of the names
 * dmarc_walk gives (lib-dns) and hands the parsed records back.
 *
 * Bad records: a TXT record over DMARC_RECORD_MAX, a malformed tag list,
 * more than DMARC_TAGS_MAX tags or a bad v= is not a DMARC record
 * (dmarc_record_parse -1 with the reason): the walk goes on as if the
 * name had none (RFC 9989 4.10); unknown tags are ignored (4.7). */

#define DMARC_RECORD_MAX 4096   /* bytes of one TXT record (joined) */
#define DMARC_TAGS_MAX 32
#define DMARC_URIS_MAX 8        /* rua URIs kept */
#define DMARC_URI_MAX 256
#define DMARC_WALK_MAX 8        /* names a walk queries (4.10: at most 8) */
#define DMARC_DOMAIN_MAX 253

enum dmarc_policy {
	DMARC_P_UNSET = 0,   /* tag absent */
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};
enum dmarc_psd { DMARC_PSD_U = 0, DMARC_PSD_Y, DMARC_PSD_N };

struct dmarc_record {
	enum dmarc_policy p, sp, np;
	bool adkim_strict, aspf_strict;
	bool testing;            /* t=y (or the old pct=0) */
	int pct;                 /* RFC 7489's pct, -1 absent (9989 drops it) */
	enum dmarc_psd psd;
	size_t nrua;
	char rua[DMARC_URIS_MAX][DMARC_URI_MAX];
};

const char *dmarc_policy_name(enum dmarc_policy p);

/* dmarc_record_parse - one TXT record: 1 a DMARC record, 0 not one (does
 * not start with v=DMARC1: other TXT data at the name), -1 a record that
 * claims to be DMARC but is malformed or over the limits (*error_r). A
 * record without a valid p= is p=none when it has a valid rua, else -1
 * (RFC 9989 4.7). */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
		       const char **error_r);

/* dmarc_walk - the names whose _dmarc records the tree walk queries for
 * domain, in order (the domain, then its parents, jumping to 7 labels
 * for a longer name, down to one label): their count (0 for a name that
 * is not a domain). names[i] point into domain (lower case it first). */
size_t dmarc_walk(const char *domain, const char *names[DMARC_WALK_MAX]);

/* The records the walk found: recs[i] for names[i], NULL for none (no
 * record, several, or none valid). */
struct dmarc_walked {
	size_t n;
	const char *names[DMARC_WALK_MAX];
	const struct dmarc_record *recs[DMARC_WALK_MAX];
};

/* dmarc_policy_domain - the index of the record that applies to mail
 * from the walk's domain (the first found), -1 for none */
int dmarc_policy_domain(const struct dmarc_walked *w);
/* dmarc_org_domain - the Organizational Domain of the walk's domain
 * (4.10.2: the first psd=n; one label below the first psd=y above the
 * domain; else the found name with the fewest labels; else the domain
 * itself). Points into names[]. */
const char *dmarc_org_domain(const struct dmarc_walked *w);

/* dmarc_aligned - relaxed: the same Organizational Domain; strict: the
 * same name (case-insensitive) */
bool dmarc_aligned(const char *a, const char *a_org, const char *b,
		   const char *b_org, bool strict);

/* dmarc_applied - the policy for a failing message from from_domain,
 * given the record found at rec_domain (the domain itself: p; a parent:
 * np for a domain that does not exist, else sp, else p) */
enum dmarc_policy dmarc_applied(const struct dmarc_record *r,
				const char *from_domain,
				const char *rec_domain, bool from_exists);

#endif
