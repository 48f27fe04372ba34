/* admin-addr - changes to the address map: addresses, groups and
 * their members, lists and their members (admin.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include "admin.h"
#include "branding.h"
#include "directory.h"
#include "fsutil.h"
#include "idn.h"
#include "passwd.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"
#include "admin-private.h"

/* local_address - validate an address that must live on a domain of the
 * post office po_id; gives the normalized address and the domain id. */
static int
local_address(struct db *db, const char *address, int64_t po_id, char **norm_r,
	      int64_t *domain_id_r, const char **error_r)
{
	struct dir_domain d;
	const char *err;
	char *a;
	int r;

	if ((a = address_normalize(address, &err)) == NULL)
		return adm_invalid(db, error_r, "address '%s': %s", address, err);
	r = dir_domain_get(db, strrchr(a, '@') + 1, &d, error_r);
	if (r < 0) {
		free(a);
		return adm_status_of(db);
	}
	if (r == 0 || d.postoffice_id != po_id) {
		db_errorf(db, error_r,
		    "'%s': the domain is not a domain of the post office (manual 5.5.4)",
		    address);
		free(a);
		return ADM_INVALID;
	}
	int64_t n;
	if (db_query_int(db, &n, 0, error_r,
	    "SELECT count(*) FROM address WHERE address = ?", "t", a) < 0) {
		free(a);
		return adm_status_of(db);
	}
	if (n > 0) {
		db_errorf(db, error_r, "address '%s' is already in use", a);
		free(a);
		return ADM_EXISTS;
	}
	*norm_r = a;
	*domain_id_r = d.id;
	return ADM_OK;
}

int
adm_address_add(struct db *db, const char *address, const char *mailbox,
		const char **error_r)
{
	struct dir_mailbox mb;
	int64_t id, domain_id;
	char *a;
	int r;

	if ((r = adm_object_id(db, ADM_MAILBOX, mailbox, &id, error_r)) < 0)
		return r;
	if (dir_mailbox_get(db, id, &mb, error_r) != 1)
		return adm_status_of(db);
	if ((r = local_address(db, address, mb.postoffice_id, &a, &domain_id,
	    error_r)) < 0)
		return r;
	TX(r = db_exec(db, error_r,
	    "INSERT INTO address (address, postoffice_id, domain_id, kind, target_id) "
	    "VALUES (?, ?, ?, 'mailbox', ?)", "tiii", a, mb.postoffice_id, domain_id,
	    id) < 0 ? adm_status_of(db) : ADM_OK);
	free(a);
	return r;
}

int
adm_address_del(struct db *db, const char *address, const char **error_r)
{
	char *kind = NULL;
	int r;

	if (db_query_text(db, &kind, error_r,
	    "SELECT kind FROM address WHERE address = ?", "t", address) < 0)
		return adm_status_of(db);
	if (kind == NULL) {
		db_errorf(db, error_r, "address '%s' does not exist", address);
		return ADM_NOTFOUND;
	}
	if (strcmp(kind, "mailbox") != 0) {
		db_errorf(db, error_r, "'%s' is the address of a %s; delete the %s instead",
		    address, kind, kind);
		free(kind);
		return ADM_INVALID;
	}
	free(kind);
	TX(r = db_exec(db, error_r, "DELETE FROM address WHERE address = ?", "t",
	    address) < 0 ? adm_status_of(db) : ADM_OK);
	return r;
}

int
adm_group_add(struct db *db, const char *address, const char *postoffice,
	      const char *name, const char **error_r)
{
	int64_t po_id, domain_id, id;
	char *a;
	int r;

	if ((r = adm_object_id(db, ADM_POSTOFFICE, postoffice, &po_id, error_r)) < 0)
		return r;
	if ((r = local_address(db, address, po_id, &a, &domain_id, error_r)) < 0)
		return r;
	if (name != NULL && (strlen(name) > 200 || strpbrk(name, "\r\n"))) {
		free(a);
		return adm_invalid(db, error_r, "group name '%s': %s", name,
		    "must be one line of at most 200 bytes");
	}
	TX({
		r = db_exec(db, error_r,
		    "INSERT INTO grp (postoffice_id, name, address, created) VALUES "
		    "(?, ?, ?, ?)", "itti", po_id, name ? name : a, a,
		    (int64_t)time(NULL)) < 0 ? adm_status_of(db) : ADM_OK;
		id = db_last_id(db);
		if (r == ADM_OK)
			r = db_exec(db, error_r,
			    "INSERT INTO address (address, postoffice_id, domain_id, kind, "
			    "target_id) VALUES (?, ?, ?, 'group', ?)", "tiii", a, po_id,
			    domain_id, id) < 0 ? adm_status_of(db) : ADM_OK;
	});
	free(a);
	return r;
}

int
adm_group_del(struct db *db, const char *address, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_GROUP, address, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM address WHERE kind = 'group' AND target_id = ?", "i",
		    id) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = db_exec(db, error_r, "DELETE FROM grp WHERE id = ?", "i", id) < 0 ?
			    adm_status_of(db) : ADM_OK;
	});
	return r;
}

int
adm_group_member_add(struct db *db, const char *group, const char *member,
		     const char **error_r)
{
	const char *err;
	int64_t id;
	char *a;
	int r;

	if ((r = adm_object_id(db, ADM_GROUP, group, &id, error_r)) < 0)
		return r;
	if ((a = address_normalize(member, &err)) == NULL)
		return adm_invalid(db, error_r, "member '%s': %s", member, err);
	if (strcasecmp(a, group) == 0) {
		free(a);
		return adm_invalid(db, error_r, "group '%s' cannot be a member of itself%s",
		    group, "");
	}
	TX(r = db_exec(db, error_r,
	    "INSERT INTO grp_member (group_id, address) VALUES (?, ?)", "it", id, a) < 0 ?
	    adm_status_of(db) : ADM_OK);
	if (r == ADM_EXISTS)
		db_errorf(db, error_r, "'%s' is already a member of %s", a, group);
	free(a);
	return r;
}

int
adm_group_member_del(struct db *db, const char *group, const char *member,
		     const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_GROUP, group, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM grp_member WHERE group_id = ? AND address = ?", "it",
		    id, member) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK && db_changes(db) == 0) {
			db_errorf(db, error_r, "'%s' is not a member of %s", member, group);
			r = ADM_NOTFOUND;
		}
	});
	return r;
}

int
adm_list_add(struct db *db, const char *address, const char *postoffice,
	     const char *owner, const char **error_r)
{
	int64_t po_id, domain_id, id;
	char *a, *o = NULL, *local;
	const char *err;
	int r;

	if ((r = adm_object_id(db, ADM_POSTOFFICE, postoffice, &po_id, error_r)) < 0)
		return r;
	if (owner != NULL && *owner != '\0') {
		if ((o = address_normalize(owner, &err)) == NULL)
			return adm_invalid(db, error_r, "owner '%s': %s", owner, err);
		char *sys = adm_notification_address(db);
		bool same = strcmp(sys, o) == 0;
		free(sys);
		if (same) {
			free(o);
			return adm_invalid(db, error_r,
			    "the list moderator cannot be the system notification address %s%s",
			    "(manual 5.7.2)", "");
		}
	}
	if ((r = local_address(db, address, po_id, &a, &domain_id, error_r)) < 0) {
		free(o);
		return r;
	}
	local = xstrndup(a, (size_t)(strrchr(a, '@') - a));
	TX({
		r = db_exec(db, error_r,
		    "INSERT INTO list (postoffice_id, domain_id, name, address, created, "
		    "owner) VALUES (?, ?, ?, ?, ?, ?)", "iittit", po_id, domain_id, local,
		    a, (int64_t)time(NULL), o ? o : "") < 0 ? adm_status_of(db) : ADM_OK;
		id = db_last_id(db);
		if (r == ADM_OK)
			r = db_exec(db, error_r,
			    "INSERT INTO address (address, postoffice_id, domain_id, kind, "
			    "target_id) VALUES (?, ?, ?, 'list', ?)", "tiii", a, po_id,
			    domain_id, id) < 0 ? adm_status_of(db) : ADM_OK;
	});
	free(local);
	free(a);
	free(o);
	return r;
}

int
adm_list_del(struct db *db, const char *address, const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_LIST, address, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM address WHERE kind = 'list' AND target_id = ?", "i",
		    id) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK)
			r = db_exec(db, error_r, "DELETE FROM list WHERE id = ?", "i", id) < 0 ?
			    adm_status_of(db) : ADM_OK;
	});
	return r;
}

int
adm_list_member_add(struct db *db, const char *list, const char *member,
		    const char *name, const char **error_r)
{
	const char *err;
	int64_t id;
	char *a;
	int r;

	if ((r = adm_object_id(db, ADM_LIST, list, &id, error_r)) < 0)
		return r;
	if ((a = address_normalize(member, &err)) == NULL)
		return adm_invalid(db, error_r, "member '%s': %s", member, err);
	if (strcasecmp(a, list) == 0) {
		free(a);
		return adm_invalid(db, error_r, "list '%s' cannot be a member of itself%s",
		    list, "");
	}
	if (name != NULL && (strlen(name) > 200 || strpbrk(name, "\r\n"))) {
		free(a);
		return adm_invalid(db, error_r, "member name '%s': %s", name,
		    "must be one line of at most 200 bytes");
	}
	TX(r = db_exec(db, error_r,
	    "INSERT INTO list_member (list_id, address, name, created) VALUES "
	    "(?, ?, ?, ?)", "itti", id, a, name ? name : "", (int64_t)time(NULL)) < 0 ?
	    adm_status_of(db) : ADM_OK);
	if (r == ADM_EXISTS)
		db_errorf(db, error_r, "'%s' is already a member of %s", a, list);
	free(a);
	return r;
}

int
adm_list_member_del(struct db *db, const char *list, const char *member,
		    const char **error_r)
{
	int64_t id;
	int r;

	if ((r = adm_object_id(db, ADM_LIST, list, &id, error_r)) < 0)
		return r;
	TX({
		r = db_exec(db, error_r,
		    "DELETE FROM list_member WHERE list_id = ? AND address = ?", "it",
		    id, member) < 0 ? adm_status_of(db) : ADM_OK;
		if (r == ADM_OK && db_changes(db) == 0) {
			db_errorf(db, error_r, "'%s' is not a member of %s", member, list);
			r = ADM_NOTFOUND;
		}
	});
	return r;
}
