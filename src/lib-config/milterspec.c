/* milterspec - the setting milter.list: its syntax, checked when it is
 * set (fields.c) and read by the MTA's milter client (lib-filter) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "milterspec.h"
#include "xalloc.h"

static _Thread_local char ms_err[512];

static int
merr(const char **error_r, const char *fmt, const char *a, const char *b)
{
	snprintf(ms_err, sizeof(ms_err), fmt, a, b);
	*error_r = ms_err;
	return -1;
}

const char *
milter_default_name(enum milter_default d)
{
	return d == MILTER_DEF_ACCEPT ? "accept" :
	    d == MILTER_DEF_REJECT ? "reject" : "tempfail";
}

void
milter_spec_free(struct milter_spec *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].addr);
	free(v);
}

/* spec_one - one entry "ADDR;opt=val;..." (trimmed, non-empty) */
static int
spec_one(char *e, struct milter_spec *m, const char **error_r)
{
	char *save = NULL, *tok = strtok_r(e, ";", &save);

	m->timeout_s = 30;
	m->dflt = MILTER_DEF_TEMPFAIL;
	if (strncmp(tok, "unix:/", 6) != 0 && strncmp(tok, "inet:", 5) != 0)
		return merr(error_r, "%s: give unix:/path or inet:host:port%s",
		    tok, "");
	if (strncmp(tok, "inet:", 5) == 0 && strrchr(tok + 5, ':') == NULL)
		return merr(error_r, "%s: no port%s", tok, "");
	m->addr = xstrdup(tok);
	while ((tok = strtok_r(NULL, ";", &save)) != NULL) {
		while (isspace((unsigned char)*tok))
			tok++;
		if (strncmp(tok, "timeout=", 8) == 0) {
			long long t = parse_duration(tok + 8);
			if (t < 1 || t > 3600)
				return merr(error_r, "%s: timeout must be 1s to "
				    "1h%s", tok, "");
			m->timeout_s = t;
		} else if (strcmp(tok, "default=tempfail") == 0) {
			m->dflt = MILTER_DEF_TEMPFAIL;
		} else if (strcmp(tok, "default=accept") == 0) {
			m->dflt = MILTER_DEF_ACCEPT;
		} else if (strcmp(tok, "default=reject") == 0) {
			m->dflt = MILTER_DEF_REJECT;
		} else {
			return merr(error_r, "%s: unknown option (timeout=, "
			    "default=tempfail|accept|reject)%s", tok, "");
		}
	}
	return 0;
}

int
milter_spec_parse(const char *list, struct milter_spec **v_r, size_t *n_r,
		  const char **error_r)
{
	char *copy = xstrdup(list), *save = NULL, *e;
	struct milter_spec *v = NULL;
	size_t n = 0;

	for (e = strtok_r(copy, ",", &save); e != NULL;
	    e = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*e))
			e++;
		size_t l = strlen(e);
		while (l > 0 && isspace((unsigned char)e[l - 1]))
			e[--l] = '\0';
		if (l == 0)
			continue;
		if (n >= 32) {
			merr(error_r, "more than 32 milters%s%s", "", "");
			goto fail;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		n++;
		if (spec_one(e, &v[n - 1], error_r) < 0)
			goto fail;
	}
	free(copy);
	*v_r = v;
	*n_r = n;
	return 0;
fail:
	free(copy);
	milter_spec_free(v, n);
	*v_r = NULL;
	*n_r = 0;
	return -1;
}

