#ifndef POSTERN_MTASTS_H
#define POSTERN_MTASTS_H

/* MTA-STS (RFC 8461): the TXT record at _mta-sts.<domain>, the policy
 * file served at https://mta-sts.<domain>/.well-known/mta-sts.txt, and
 * the matching of MX host names against the policy's mx patterns. Pure
 * parsing with limits; the fetch, cache and enforcement are smtp-out's
 * (out-sts.c). */

#include <stdbool.h>
#include <stddef.h>

#define MTASTS_POLICY_MAX 65536   /* bytes of a policy file (RFC 8461 3.3) */
#define MTASTS_MX_MAX 32          /* mx lines kept */
#define MTASTS_ID_MAX 32          /* id: 1*32(ALPHA / DIGIT) */
#define MTASTS_MAX_AGE 31557600   /* seconds, about a year (RFC 3.2) */

enum mtasts_mode { MTASTS_NONE = 0, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	long max_age;
	size_t nmx;
	char mx[MTASTS_MX_MAX][256];     /* lower case; "*.x" wildcards */
};

/* mtasts_txt_parse - one TXT record: 1 an STSv1 record (*id filled), 0
 * not one (another v=, or none: other TXT records share the name), -1
 * malformed (*error_r). */
int mtasts_txt_parse(const char *txt, char id[MTASTS_ID_MAX + 1],
		     const char **error_r);

/* mtasts_policy_parse - the policy file (CRLF or LF lines "key: value"):
 * 0 with *p filled, -1 with *error_r (no version STSv1, no or bad mode,
 * no or bad max_age, no mx in testing/enforce, over the limits).
 * Unknown keys are ignored (RFC 8461 3.2). */
int mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p,
			const char **error_r);

/* mtasts_mx_match - host (a trailing dot allowed) matches one mx
 * pattern: equal without regard to case, or "*.rest" for exactly one
 * label followed by ".rest" */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);

const char *mtasts_mode_name(enum mtasts_mode m);

/* mtasts_policy_text - the policy Postern publishes (httpd) for mode
 * ("none", "testing", "enforce"), mx (space or comma separated patterns)
 * and max_age, CRLF lines; -1 (*error_r) when it would not parse */
struct buf;
int mtasts_policy_text(const char *mode, const char *mx, long long max_age,
		       struct buf *out, const char **error_r);
/* mtasts_policy_id - the id of a published policy text: 20 hex digits
 * of its SHA-256, so it changes whenever the policy does */
void mtasts_policy_id(const char *text, size_t len,
		      char id[MTASTS_ID_MAX + 1]);

#endif
