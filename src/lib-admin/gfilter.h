#ifndef POSTERN_ADMIN_GFILTER_H
#define POSTERN_ADMIN_GFILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

/* The global MTA filter rules (table global_filter; the MTA runs them:
 * src/mta/gfilter.h): the code of `postern filter global` and of the
 * API's GlobalFilter/set. Rules are numbered 1..n by position. */

struct adm_gfilter_spec {
	const char *criterion;   /* all, sender, recipient, header, size-over,
				  * size-under, attachment */
	const char *header;      /* criterion header: the field name */
	const char *pattern;     /* a glob, or a size (K default; K M G) */
	const char *action;      /* add-header, redirect, copy, quarantine,
				  * delete, reject */
	const char *argument;    /* add-header 'Name: value', an address */
	bool disabled;
	int64_t position;        /* 0: last */
};

extern const char *const adm_gfilter_criteria[];
extern const char *const adm_gfilter_actions[];

/* adm_gfilter_check - the spec's rules: ADM_OK, or ADM_INVALID with the
 * field at fault in *field_r ("criterion", "header", "pattern", "action",
 * "argument", "position") and why in *error_r (valid until the next call
 * of this thread) */
int adm_gfilter_check(const struct adm_gfilter_spec *s, const char **field_r,
		      const char **error_r);
/* adm_gfilter_add - check and add a rule: its id in *id_r */
int adm_gfilter_add(struct db *db, const struct adm_gfilter_spec *s,
		    int64_t *id_r, const char **field_r, const char **error_r);
/* adm_gfilter_del, _move (to position pos, 1 the first), _enable: ADM_OK,
 * ADM_NOTFOUND, or a failure */
int adm_gfilter_del(struct db *db, int64_t id, const char **error_r);
int adm_gfilter_move(struct db *db, int64_t id, int64_t pos,
		     const char **error_r);
int adm_gfilter_enable(struct db *db, int64_t id, bool on,
		       const char **error_r);

#endif
