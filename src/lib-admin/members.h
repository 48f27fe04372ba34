#ifndef POSTERN_ADMIN_MEMBERS_H
#define POSTERN_ADMIN_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>

#include "admin.h"

/* Member import of groups and lists (manual 5.6.1.2, 5.7): the code of
 * `postern group import`, `postern list member import` and the API's
 * importMembers, so both take the same lines the same way. */

/* adm_members_bad_fn - one refused line: its number and why */
typedef void adm_members_bad_fn(void *ctx, size_t line, const char *why);

/* adm_members_import - add the members of CSV text data[0..len) to the
 * group or list target (kind ADM_GROUP or ADM_LIST): the first field of
 * each record is the address, a list's second field the display name; a
 * UTF-8 byte order mark, blank lines and lines starting with # are
 * skipped. One transaction (a savepoint inside the caller's): each bad
 * line is told to bad(ctx, line, why) and skipped, or with atomic one bad
 * line keeps nothing. Returns ADM_OK with the counts in *ok_r and *bad_r
 * (atomic and *bad_r > 0: nothing was kept), or a negative adm_status
 * with *error_r (nothing was kept). */
int adm_members_import(struct db *db, enum adm_kind kind, const char *target,
		       const char *data, size_t len, bool atomic,
		       adm_members_bad_fn *bad, void *ctx, size_t *ok_r,
		       size_t *bad_r, const char **error_r);

#endif
