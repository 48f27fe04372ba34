/* members - the member import of groups and lists (members.h) */
#include <string.h>

#include "admin.h"
#include "csv.h"
#include "members.h"
#include "strutil.h"

int
adm_members_import(struct db *db, enum adm_kind kind, const char *target,
		   const char *data, size_t len, bool atomic,
		   adm_members_bad_fn *bad, void *ctx, size_t *ok_r,
		   size_t *bad_r, const char **error_r)
{
	struct csv_record rec = { 0 };
	size_t pos = 0, line = 1, ok = 0, nbad = 0;
	const char *err;
	bool outer;
	int64_t id;
	int r;

	*ok_r = *bad_r = 0;
	if (kind != ADM_GROUP && kind != ADM_LIST) {
		*error_r = "members are imported into a group or a list";
		return ADM_INVALID;
	}
	if ((r = adm_object_id(db, kind, target, &id, error_r)) < 0)
		return r;
	if ((r = adm_tx_begin(db, &outer, error_r)) < 0)
		return r;
	/* skip a UTF-8 byte order mark, as spreadsheets write it */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	for (;;) {
		r = csv_next(data, len, &pos, &line, ',', &rec, &err);
		if (r == 0)
			break;
		if (r < 0) {
			bad(ctx, rec.line, err);
			nbad++;
			if (pos >= len)
				break;
			continue;
		}
		const char *addr = str_trim(rec.fields[0]);
		if (*addr == '\0' || *addr == '#')
			continue;
		const char *name = rec.n > 1 ? str_trim(rec.fields[1]) : NULL;
		r = kind == ADM_GROUP ?
		    adm_group_member_add(db, target, addr, &err) :
		    adm_list_member_add(db, target, addr, name, &err);
		if (r == ADM_FAIL || r == ADM_BUSY) {
			(void)adm_tx_end(db, outer, false, error_r);
			csv_record_free(&rec);
			*error_r = err;
			return r;
		}
		if (r < 0) {
			bad(ctx, rec.line, err);
			nbad++;
		} else {
			ok++;
		}
	}
	csv_record_free(&rec);
	*bad_r = nbad;
	if (atomic && nbad > 0) {
		(void)adm_tx_end(db, outer, false, &err);
		return ADM_OK;
	}
	if ((r = adm_tx_end(db, outer, true, error_r)) < 0)
		return r;
	*ok_r = ok;
	return ADM_OK;
}
