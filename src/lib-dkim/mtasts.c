/* mtasts - MTA-STS records, policies and MX matching (mtasts.h) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "buf.h"
#include "mtasts.h"
#include "xalloc.h"

const char *
mtasts_mode_name(enum mtasts_mode m)
{
	return m == MTASTS_ENFORCE ? "enforce" : m == MTASTS_TESTING ?
	    "testing" : "none";
}

/* trim - skip blanks at both ends of [*s, *e) */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

int
mtasts_txt_parse(const char *txt, char id[MTASTS_ID_MAX + 1],
		 const char **error_r)
{
	const char *p = txt, *end = txt + strlen(txt);
	bool first = true, have_id = false;

	id[0] = '\0';
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *fe = semi ? semi : end;
		const char *eq = memchr(p, '=', (size_t)(fe - p));
		const char *ks = p, *ke = eq ? eq : fe;
		trim(&ks, &ke);
		if (first) {
			/* "v=STSv1" must come first (RFC 8461 3.1) */
			const char *vs = eq ? eq + 1 : fe, *ve = fe;
			trim(&vs, &ve);
			if (eq == NULL || ke - ks != 1 || *ks != 'v' ||
			    ve - vs != 5 || strncmp(vs, "STSv1", 5) != 0)
				return 0;
			first = false;
		} else if (ke > ks) {
			if (eq == NULL) {
				*error_r = "a field without '='";
				return -1;
			}
			const char *vs = eq + 1, *ve = fe;
			trim(&vs, &ve);
			if (ke - ks == 2 && strncmp(ks, "id", 2) == 0) {
				size_t n = (size_t)(ve - vs);
				if (n == 0 || n > MTASTS_ID_MAX) {
					*error_r = "id is empty or over 32 characters";
					return -1;
				}
				for (size_t i = 0; i < n; i++)
					if (!isalnum((unsigned char)vs[i])) {
						*error_r = "id has a character other "
						    "than letters and digits";
						return -1;
					}
				memcpy(id, vs, n);
				id[n] = '\0';
				have_id = true;
			}
		}
		p = semi ? semi + 1 : end;
	}
	if (first)
		return 0;
	if (!have_id) {
		*error_r = "no id";
		return -1;
	}
	return 1;
}

/* mx_pattern_ok - a host name, optionally "*." first, <= 253 */
static bool
mx_pattern_ok(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		if (c == '.' && i > 0 && s[i - 1] == '.')
			return false;
	}
	return true;
}

int
mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p,
		    const char **error_r)
{
	const char *s = text, *end = text + len;
	bool version = false, mode = false, age = false;

	memset(p, 0, sizeof(*p));
	if (len > MTASTS_POLICY_MAX) {
		*error_r = "policy over 64 KB";
		return -1;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (ll > 0 && s[ll - 1] == '\r')
			ll--;
		const char *le = s + ll;
		const char *colon = memchr(s, ':', ll);
		if (colon == NULL) {
			if (le > s) {
				/* a line that is not "key: value" */
				const char *a = s, *b = le;
				trim(&a, &b);
				if (b > a) {
					*error_r = "a line without ':'";
					return -1;
				}
			}
			s = nl ? nl + 1 : end;
			continue;
		}
		const char *ks = s, *ke = colon, *vs = colon + 1, *ve = le;
		trim(&ks, &ke);
		trim(&vs, &ve);
		size_t kl = (size_t)(ke - ks), vl = (size_t)(ve - vs);
		if (kl == 7 && strncmp(ks, "version", 7) == 0) {
			if (vl != 5 || strncmp(vs, "STSv1", 5) != 0) {
				*error_r = "version is not STSv1";
				return -1;
			}
			version = true;
		} else if (kl == 4 && strncmp(ks, "mode", 4) == 0) {
			if (mode) {
				*error_r = "two mode lines";
				return -1;
			}
			if (vl == 7 && strncmp(vs, "enforce", 7) == 0)
				p->mode = MTASTS_ENFORCE;
			else if (vl == 7 && strncmp(vs, "testing", 7) == 0)
				p->mode = MTASTS_TESTING;
			else if (vl == 4 && strncmp(vs, "none", 4) == 0)
				p->mode = MTASTS_NONE;
			else {
				*error_r = "mode is not enforce, testing or none";
				return -1;
			}
			mode = true;
		} else if (kl == 7 && strncmp(ks, "max_age", 7) == 0) {
			long v = 0;
			if (vl == 0 || vl > 10) {
				*error_r = "max_age is not a number of seconds";
				return -1;
			}
			for (size_t i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)vs[i])) {
					*error_r = "max_age is not a number of seconds";
					return -1;
				}
				v = v * 10 + (vs[i] - '0');
			}
			p->max_age = v > MTASTS_MAX_AGE ? MTASTS_MAX_AGE : v;
			age = true;
		} else if (kl == 2 && strncmp(ks, "mx", 2) == 0) {
			if (!mx_pattern_ok(vs, vl)) {
				*error_r = "an mx line is not a host name pattern";
				return -1;
			}
			if (p->nmx == MTASTS_MX_MAX) {
				*error_r = "more than 32 mx lines";
				return -1;
			}
			for (size_t i = 0; i < vl; i++)
				p->mx[p->nmx][i] = (char)tolower(
				    (unsigned char)vs[i]);
			p->mx[p->nmx][vl] = '\0';
			p->nmx++;
		}
		s = nl ? nl + 1 : end;
	}
	if (!version) {
		*error_r = "no version: STSv1";
		return -1;
	}
	if (!mode) {
		*error_r = "no mode";
		return -1;
	}
	if (!age) {
		*error_r = "no max_age";
		return -1;
	}
	if (p->mode != MTASTS_NONE && p->nmx == 0) {
		*error_r = "no mx";
		return -1;
	}
	return 0;
}

bool
mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	size_t hl = strlen(host);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	for (size_t i = 0; i < p->nmx; i++) {
		const char *m = p->mx[i];
		size_t ml = strlen(m);
		if (m[0] == '*' && m[1] == '.') {
			/* one label, then ".rest" */
			const char *dot = memchr(host, '.', hl);
			if (dot == NULL || dot == host)
				continue;
			size_t rl = hl - (size_t)(dot + 1 - host);
			if (rl == ml - 2 && strncasecmp(dot + 1, m + 2, rl) == 0)
				return true;
		} else if (hl == ml && strncasecmp(host, m, hl) == 0)
			return true;
	}
	return false;
}

int
mtasts_policy_text(const char *mode, const char *mx, long long max_age,
		   struct buf *out, const char **error_r)
{
	struct mtasts_policy check;
	char *copy = xstrdup(mx);

	buf_printf(out, "version: STSv1\r\nmode: %s\r\n", mode);
	for (char *save = NULL, *t = strtok_r(copy, " ,", &save); t != NULL;
	    t = strtok_r(NULL, " ,", &save))
		buf_printf(out, "mx: %s\r\n", t);
	buf_printf(out, "max_age: %lld\r\n", max_age);
	free(copy);
	/* what we publish must be what we would accept */
	return mtasts_policy_parse(out->data, out->len, &check, error_r);
}

void
mtasts_policy_id(const char *text, size_t len, char id[MTASTS_ID_MAX + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, len, md);
	for (size_t i = 0; i < 10; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
}
