#ifndef POSTERN_API_ADMIN_H
#define POSTERN_API_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "admin.h"
#include "api.h"
#include "fields.h"

/* What the families of the admin methods (api-admin-<family>.c) share:
 * argument checks, the paged query, the /set skeleton with ifInState,
 * property <-> field conversion. Internal to httpd. */

#define QUERY_LIMIT_DEFAULT 50
#define SEARCH_MAX 200

/* the web admin limits of a post office (5.3.6) */
struct po_limits {
	int64_t id;
	bool edit_mailboxes, select_size, edit_domains;
	int64_t max_mailboxes, max_kb, default_kb;
	bool edit_lists;
	int64_t max_lists, max_list_members;
	bool brand;               /* webadmin_brand: may change the logos */
};

/* query args */
struct query {
	const char *text;         /* filter.text, or NULL */
	const char *postoffice;   /* filter.postOffice, or NULL */
	const char *sort;         /* property */
	bool asc;
	int64_t position, limit;
	const char *anchor;       /* keyset paging: the id to start at */
	int64_t anchor_offset;    /* 0 or more */
	bool total;               /* calculateTotal (default false) */
	const char *pattern;      /* ?2 when set (Mailbox/query's trigram
				   * phrase), else the LIKE pattern of text */
};

/* one family's /set: each function handles one entry and fills res
 * (created/notCreated...); NULL: that part is refused */
struct api_set_ops {
	const char *type;         /* "Group": the audit's and state's type */
	void (*create)(struct api_ctx *c, const char *key, json_t *v,
		       json_t *res);
	void (*update)(struct api_ctx *c, const char *id, json_t *v,
		       json_t *res);
	void (*destroy)(struct api_ctx *c, const char *id, json_t *args,
			json_t *res);
};

bool api_account_ok(json_t *args, json_t **error_r);
bool api_sysadmin_all(const struct api_actor *a);
bool api_po_visible(const struct api_actor *a, int64_t po_id);
int api_limits_load(struct db *db, int64_t po_id, struct po_limits *l);
json_t *api_set_error(int r, const char *err, const char *prop);
const struct field_def *api_prop_field(const struct field_def *defs,
				       const char *prop);
char *api_field_input(const struct field_def *f, json_t *v,
		      const char **why_r);
json_t *api_field_json(const struct field_def *f, const char *v);
bool api_wanted(json_t *props, const char *p);
json_t *api_object_json(struct db *db, enum adm_kind kind, int64_t id,
			json_t *props);
bool api_get_ids(struct api_ctx *c, json_t *args, json_t **ids_r,
		 json_t **error_r);
bool api_query_args(struct api_ctx *c, json_t *args,
		    const char *const *sortable, struct query *q,
		    json_t **error_r);
/* api_window_args - position and limit of a /query over a list made in
 * memory (the queues, the quarantine): integers of 0 or more, limit
 * QUERY_LIMIT_DEFAULT when absent and at most maxObjectsInGet */
bool api_window_args(struct api_ctx *c, json_t *args, int64_t *position_r,
		     int64_t *limit_r, json_t **error_r);
char *api_like_pattern(const char *text);
void api_run_query(struct api_ctx *c, const struct query *q,
		   const char *id_sql, const char *from, const char *order,
		   int64_t po_id, json_t **result_r, json_t **error_r);
/* api_run_keyset - a page of a /query from q->anchor (keyset paging, so
 * page 4,000 costs what page 1 does): key_col is the unique sort key,
 * whose text is the id; from as for api_run_query (?1 scope, ?2 the
 * pattern); the page starts anchorOffset rows from the anchor, which
 * must be among the results (else anchorNotFound) */
void api_run_keyset(struct api_ctx *c, const struct query *q,
		    const char *key_col, const char *from, int64_t scope,
		    json_t **result_r, json_t **error_r);
/* api_keyset_answer - the /query answer of a keyset page from st's ids
 * (freed here): position is before + anchorOffset */
json_t *api_keyset_answer(struct db_stmt *st, const struct query *q,
			  int64_t before, int64_t total);
/* api_keyset_order - false with invalidArguments naming anchor when an
 * anchor is given with a sort other than key */
bool api_keyset_order(const struct query *q, const char *key,
		      json_t **error_r);
int64_t api_query_scope(struct api_ctx *c, const struct query *q,
			json_t **error_r);
bool api_set_args(struct api_ctx *c, json_t *args, json_t **create,
		  json_t **update, json_t **destroy, json_t **error_r);
json_t *api_set_result(void);
/* api_no_state - false with invalidArguments when a /set that keeps no
 * state (settings, sessions, tokens) is given ifInState */
bool api_no_state(json_t *args, json_t **error_r);
void api_set_fail(json_t *res, const char *what, const char *id,
		  json_t *err);
void api_set_done(json_t *res, const char *what, const char *id,
		  json_t *v);
int api_apply_fields(struct api_ctx *c, enum adm_kind kind,
		     const char *ident, json_t *patch, const char *const *skip,
		     json_t **error_r);
const char *api_patch_summary(json_t *patch);
void api_named_get(struct api_ctx *c, json_t *args, enum adm_kind kind,
		   json_t *(*one)(struct db *, int64_t, const char *, json_t *),
		   const char *all_sql, json_t **result_r, json_t **error_r);

/* api_set_run - the /set skeleton: arguments, ifInState (the whole set
 * in one transaction, checked against the type's state inside it, so two
 * admins editing the same object cannot both pass: the second gets
 * stateMismatch), then ops for each entry; oldState/newState */
void api_set_run(struct api_ctx *c, json_t *args,
		 const struct api_set_ops *ops, json_t **result_r,
		 json_t **error_r);
/* api_tx - begin one entry's transaction: 0, or -1 with its SetError
 * recorded under what/key in res */
int api_tx(struct api_ctx *c, bool *outer, json_t *res, const char *what,
	   const char *key);
/* api_tx_close - end it: e NULL commits; a failing commit becomes the
 * error; returns the error (recorded under what/key) or NULL */
json_t *api_tx_close(struct api_ctx *c, bool outer, json_t *e, json_t *res,
		     const char *what, const char *key);
/* api_state_of - the type's state string (its last change's number) */
json_t *api_state_of(struct api_ctx *c, const char *type);
/* api_changes - Type/changes for a type whose ids the audit names */
void api_changes(struct api_ctx *c, json_t *args, const char *type,
		 json_t **result_r, json_t **error_r);
/* api_destroyed - the end of one destroy: r (from adm_*_del) failed is
 * the SetError; done, the audit row (text may be "") and destroyed */
void api_destroyed(struct api_ctx *c, json_t *res, const char *type,
		   const char *ident, const char *po, int r, const char *err,
		   const char *text);
/* api_po_name - the name of post office po_id into out ("" if none) */
void api_po_name(struct db *db, int64_t po_id, char *out, size_t size);
/* api_ident_po - the post office id of a named object (0 for none) */
int api_ident_po(struct db *db, enum adm_kind kind, const char *ident,
		 int64_t *id_r, int64_t *po_r);

/* api_arrays_apply - the arrays v[keys[0]] (each item added) and
 * v[keys[1]] (removed) of ident through add/del (lib-admin): NULL or the
 * SetError naming the property and the item's index; what names an item
 * ("an address") */
json_t *api_arrays_apply(struct api_ctx *c, const char *ident, json_t *v,
			 const char *const keys[2], const char *what,
			 int (*add)(struct db *, const char *, const char *,
				    const char **),
			 int (*del)(struct db *, const char *, const char *,
				    const char **));
/* api_members_apply - addMembers/removeMembers of v on the group or list
 * ident through add/del (lib-admin): NULL or the SetError */
json_t *api_members_apply(struct api_ctx *c, const char *ident, json_t *v,
			  int (*add)(struct db *, const char *, const char *,
				     const char **),
			  int (*del)(struct db *, const char *, const char *,
				     const char **));

/* api_members_import - importMembers {csv, atomic?} of v into the group
 * or list ident (lib-admin members.h, the code of `postern group import`):
 * NULL with *summary_r {imported, failed, errors [{line, message}]} (NULL
 * when v has no importMembers), or the SetError (atomic with bad lines:
 * invalidProperties with the errors) */
#define IMPORT_ERRORS_MAX 1000
json_t *api_members_import(struct api_ctx *c, enum adm_kind kind,
			   const char *ident, json_t *v, json_t **summary_r);

/* api_import_summary - the audit text of an update with importMembers:
 * the counts instead of the file (static per thread) */
const char *api_import_summary(json_t *patch, json_t *summary);

/* api_mailbox_target - the mailbox ident within the actor's reach to
 * change (an ADMIN: webadmin_edit_mailboxes, never a SYSADMIN's): 0 with
 * its row, or -1 with the error (notFound, forbidden) */
struct dir_mailbox;
int api_mailbox_target(struct api_ctx *c, const char *ident,
		       struct dir_mailbox *mb, json_t **e);

extern const struct jmap_method api_postoffice_methods[];
extern const struct jmap_method api_domain_methods[];
extern const struct jmap_method api_mailbox_methods[];
extern const struct jmap_method api_loginsec_methods[];  /* api-admin-loginsec.c */
extern const struct jmap_method api_chat_methods[];      /* api-admin-chat.c */
extern const struct jmap_method api_setting_methods[];
extern const struct jmap_method api_session_methods[];
extern const struct jmap_method api_group_methods[];
extern const struct jmap_method api_list_methods[];
extern const struct jmap_method api_queue_methods[];
extern const struct jmap_method api_audit_methods[];
extern const struct jmap_method api_diag_methods[];
extern const struct jmap_method api_reports_methods[];
extern const struct jmap_method api_maint_methods[];
extern const struct jmap_method api_messages_methods[];
extern const struct jmap_method api_users_methods[];
extern const struct jmap_method api_traffic_methods[];  /* api-admin-traffic.c */
extern const struct jmap_method api_branding_methods[]; /* api-admin-branding.c */
extern const struct jmap_method api_filter_methods[];   /* api-admin-filter.c */
extern const struct jmap_method api_quarantine_methods[]; /* api-admin-quarantine.c */
extern const struct jmap_method api_sendlimit_methods[];  /* api-admin-sendlimit.c */
extern const struct jmap_method api_tasks_methods[];      /* api-admin-tasks.c */

/* api_mailbox_forward_all - queue every message of ident's INBOX (at
 * most 10,000) to address to through the MTA (smtp/inbound), the mail
 * staying: 0 with the count, or -1 with the error */
int api_mailbox_forward_all(struct api_ctx *c, const char *ident,
			    const char *to, int64_t *count_r, json_t **e);

#endif
