#ifndef POSTERN_SIEVE_RUN_PRIVATE_H
#define POSTERN_SIEVE_RUN_PRIVATE_H

/* sieve-run-private - what the interpreter's files share: sieve-run.c
 * (header, variables, tests, actions) and sieve-match.c (comparators,
 * match types, address parts) */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime.h"
#include "sieve-private.h"
#include "strutil.h"
#include "xalloc.h"

/* store.h flag bits, repeated so this library needs no lib-store */
#define F_SEEN     0x01u
#define F_ANSWERED 0x02u
#define F_FLAGGED  0x04u
#define F_DELETED  0x08u
#define F_DRAFT    0x10u

#define HDR_FIELDS_MAX 1000
#define MATCH_VARS 10

struct hfield {
	char *name;
	char *value;             /* unfolded, trimmed, not decoded */
};

struct var {
	char *name;
	char *value;
};

struct run {
	const struct sieve_script *s;
	const struct sieve_message *m;
	struct sieve_result *res;
	struct hfield *hf;
	size_t nhf;
	size_t body_off;         /* where the body starts */
	struct var *vars;
	size_t nvars;
	char *mv[MATCH_VARS];    /* match variables ${0}..${9} */
	char *flags;             /* the internal flags variable */
	bool implicit_keep;
	bool stopped;
	bool mime_done;
	struct mime_message mime;
	long steps;
	long work;               /* byte comparisons left (matching) */
	int nredirects;
	char *err;
};

/* sr_expand - a string with ${name} and ${N} replaced (variables only);
 * new string */
char *sr_expand(struct run *r, const char *s);

void sr_mv_clear(struct run *r);

/* sr_match_values - any value against any key (keys expanded), or :count */
bool sr_match_values(struct run *r, const struct sv_spec *sp, char **values,
		     size_t nvalues, const struct sv_strlist *keys);

void sr_strv_push(char ***v, size_t *n, char *s);

void sr_strv_free(char **v, size_t n);

/* sr_addr_list - the addr-specs of an address-list header value: for each
 * element the text in <>, else the element without comments and blanks */
void sr_addr_list(const char *v, char ***out, size_t *n);

/* sr_addr_part - the part of an address a test looks at; NULL when it has
 * none (:detail without a separator); new string */
char *sr_addr_part(const char *a, int part);

#endif
