/* api-admin-chat - chat (xmppd) in the web admin API (issue 18 item 5):
 *
 *   ChatRoom/get   {"postOffice" (optional)}: the persistent rooms
 *   ChatRoom/set   {"create": {key: {"jid", "owner", "name",
 *                  "membersOnly"}}, "destroy": [jid]}
 *   ChatGuest/get  {"postOffice" (optional)}: the invitations of outside
 *                  addresses (external contacts, xmppd guest.h)
 *   ChatGuest/set  {"create": {key: {"address", "inviter", "days"}},
 *                  "revoke": [jid]}
 *
 * Rows of the chat store (<data root>/chat/chat.db), as postern chat
 * writes them: xmppd applies a change within a second (rooms made or
 * destroyed with their occupants told, guests' roster pushes, streams of
 * revoked guests closed). Within the actor's reach (an ADMIN: its post
 * office). The archive's retention and the guests' limits are global
 * settings (xmpp.archive_days, xmpp.guests_per_user, xmpp.guest_days:
 * Setting/get|set, a SYSADMIN's). Changes are audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "api-admin.h"
#include "chat-store.h"
#include "directory.h"
#include "guest.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"
#include "xmppstate.h"

#define ROOM_LOCAL_MAX 256
#define ROOM_NAME_MAX 256

static void
no_flush(void *ctx)
{
	(void)ctx;
}

/* store_open - the chat store, writes batched into one transaction
 * committed by the caller */
static struct chat_store *
store_open(struct api_ctx *c, json_t **error_r)
{
	struct chat_store *cs;
	const char *err;

	if (chat_store_open(db_root(c->db), &cs, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		return NULL;
	}
	chat_store_batch(cs, no_flush, NULL);
	return cs;
}

/* po_filter - args.postOffice within reach: its id in *po_r (0: every
 * one the actor sees); false with *error_r */
static bool
po_filter(struct api_ctx *c, json_t *args, int64_t *po_r, json_t **error_r)
{
	const char *po = json_string_value(json_object_get(args, "postOffice"));
	const char *err;

	*po_r = c->actor->scope_po;
	if (po == NULL)
		return true;
	if (adm_object_id(c->db, ADM_POSTOFFICE, po, po_r, &err) < 0 ||
	    !api_po_visible(c->actor, *po_r)) {
		*error_r = jmap_error("notFound", "no post office %s", po);
		return false;
	}
	return true;
}

static bool
po_wanted(struct api_ctx *c, int64_t want, int64_t po)
{
	return api_po_visible(c->actor, po) && (want == 0 || want == po);
}

/* ---- rooms ------------------------------------------------------------ */

struct room_list {
	struct api_ctx *c;
	struct chat_store *cs;
	int64_t po;
	json_t *list;
};

struct aff_ctx {
	json_t *owners;
	int members;
};

static void
room_aff(void *ctx, const char *owner, const char *aff)
{
	struct aff_ctx *a = ctx;

	if (strcmp(aff, "owner") == 0)
		json_array_append_new(a->owners, json_string(owner));
	else if (strcmp(aff, "member") == 0 || strcmp(aff, "admin") == 0)
		a->members++;
}

static void
room_row(void *ctx, const struct muc_row *r)
{
	struct room_list *rl = ctx;
	struct dir_postoffice po;
	const char *err;

	if (!po_wanted(rl->c, rl->po, r->po_id) ||
	    dir_postoffice_get_id(rl->c->db, r->po_id, &po, &err) <= 0)
		return;
	struct aff_ctx a = { json_array(), 0 };
	(void)chat_muc_aff_load(rl->cs, r->jid, room_aff, &a, &err);
	json_array_append_new(rl->list, json_pack("{s:s,s:s,s:s,s:b,s:b,s:o,"
	    "s:i,s:I}", "id", r->jid, "postOffice", po.name, "name",
	    r->name ? r->name : "", "membersOnly", r->members_only,
	    "password", r->password != NULL && *r->password != '\0',
	    "owners", a.owners, "members", a.members, "messages",
	    (json_int_t)chat_muc_archived(rl->cs, r->jid)));
}

static void
room_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct room_list rl = { c, NULL, 0, NULL };
	const char *err;

	if (!api_account_ok(args, error_r) || !po_filter(c, args, &rl.po,
	    error_r) || (rl.cs = store_open(c, error_r)) == NULL)
		return;
	rl.list = json_array();
	if (chat_muc_load(rl.cs, room_row, &rl, &err) < 0) {
		json_decref(rl.list);
		*error_r = jmap_error("serverFail", "%s", err);
	} else
		*result_r = json_pack("{s:s,s:o}", "accountId", API_ACCOUNT,
		    "list", rl.list);
	chat_store_close(&rl.cs);
}

struct find_ctx {
	const char *jid;
	int64_t po;
	bool found;
};

static void
find_room(void *ctx, const struct muc_row *r)
{
	struct find_ctx *f = ctx;

	if (strcmp(r->jid, f->jid) == 0) {
		f->found = true;
		f->po = r->po_id;
	}
}

/* room_jid_check - ROOM@conference.DOMAIN of a post office in reach:
 * the lower-cased JID (new) and the domain, or NULL with *why_r */
static char *
room_jid_check(struct api_ctx *c, const char *arg, struct dir_domain *d,
	       const char **why_r)
{
	static const char prefix[] = "conference.";
	const char *at = arg != NULL ? strchr(arg, '@') : NULL;
	const char *err;

	*why_r = "a room JID is ROOM@conference.DOMAIN";
	if (at == NULL || at == arg || (size_t)(at - arg) > ROOM_LOCAL_MAX ||
	    strncasecmp(at + 1, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	for (const char *p = arg; p < at; p++)
		/* RFC 7622 3.3.1: not in a localpart */
		if ((unsigned char)*p <= ' ' || strchr("\"&'/:<>@", *p) !=
		    NULL || *p == 0x7f) {
			*why_r = "a room name has no spaces, control "
			    "characters or \"&'/:<>@";
			return NULL;
		}
	if (dir_domain_get(c->db, at + sizeof(prefix), d, &err) <= 0 ||
	    !api_po_visible(c->actor, d->postoffice_id)) {
		*why_r = "the room's domain is not one of your domains";
		return NULL;
	}
	char *jid = xstrdup(arg);
	str_lower(jid);
	return jid;
}

static json_t *
room_create(struct api_ctx *c, struct chat_store *cs, json_t *v)
{
	const char *owner = json_string_value(json_object_get(v, "owner"));
	const char *name = json_string_value(json_object_get(v, "name"));
	json_t *mo = json_object_get(v, "membersOnly");
	struct dir_domain d;
	struct dir_mailbox mb;
	const char *why, *err;
	int64_t id;

	if (!json_is_object(v) || (mo != NULL && !json_is_boolean(mo)) ||
	    (json_object_get(v, "name") != NULL && name == NULL))
		return json_pack("{s:s,s:s}", "type", "invalidProperties",
		    "description", "jid, owner: strings; name: a string; "
		    "membersOnly: a boolean");
	if (name != NULL && strlen(name) > ROOM_NAME_MAX)
		return json_pack("{s:s,s:s,s:[s]}", "type",
		    "invalidProperties", "description", "the name is at most "
		    "256 bytes", "properties", "name");
	char *jid = room_jid_check(c, json_string_value(json_object_get(v,
	    "jid")), &d, &why);
	if (jid == NULL)
		return json_pack("{s:s,s:s,s:[s]}", "type",
		    "invalidProperties", "description", why, "properties",
		    "jid");
	if (owner == NULL || adm_object_id(c->db, ADM_MAILBOX, owner, &id,
	    &err) < 0 || dir_mailbox_get(c->db, id, &mb, &err) <= 0 ||
	    mb.postoffice_id != d.postoffice_id) {
		free(jid);
		return json_pack("{s:s,s:s,s:[s]}", "type",
		    "invalidProperties", "description", "the owner is a "
		    "mailbox (name@postoffice) of the room's post office",
		    "properties", "owner");
	}
	struct find_ctx f = { jid, 0, false };
	if (chat_muc_load(cs, find_room, &f, &err) < 0 || f.found) {
		free(jid);
		return f.found ? json_pack("{s:s,s:s}", "type", "alreadyExists",
		    "description", "that room exists") : json_pack("{s:s,s:s}",
		    "type", "serverFail", "description", err);
	}
	char *o = xasprintf("%s@%s", mb.name, mb.postoffice);
	str_lower(o);
	struct muc_row row = { jid, d.postoffice_id, name ? name : "", "",
	    json_is_true(mo), "" };
	json_t *res = NULL;
	if (chat_muc_put(cs, &row, &err) < 0 || chat_muc_aff_set(cs, jid, o,
	    "owner", &err) < 0 || chat_store_flush(cs, &err) < 0)
		res = json_pack("{s:s,s:s}", "type", "serverFail",
		    "description", err);
	else if (api_audit(c, "ChatRoom", jid, "create", d.postoffice,
	    "owner %s%s", o, row.members_only ? ", members only" : "") < 0)
		res = json_pack("{s:s,s:s}", "type", "serverFail",
		    "description", "the audit log could not be written");
	free(o);
	free(jid);
	return res;
}

static void
room_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create = json_object_get(args, "create");
	json_t *destroy = json_object_get(args, "destroy");
	struct chat_store *cs;
	const char *key, *err;
	json_t *v;
	size_t i;

	if (!api_account_ok(args, error_r))
		return;
	if ((create != NULL && !json_is_object(create)) ||
	    (destroy != NULL && !json_is_array(destroy))) {
		*error_r = jmap_error("invalidArguments", "create is an object, "
		    "destroy an array of room JIDs");
		return;
	}
	if ((cs = store_open(c, error_r)) == NULL)
		return;
	json_t *created = json_object(), *not_created = json_object();
	json_t *destroyed = json_array(), *not_destroyed = json_object();
	json_object_foreach(create, key, v) {
		json_t *e = room_create(c, cs, v);
		if (e != NULL)
			json_object_set_new(not_created, key, e);
		else
			json_object_set_new(created, key, json_pack("{s:s}",
			    "id", json_string_value(json_object_get(v,
			    "jid"))));
	}
	json_array_foreach(destroy, i, v) {
		const char *jid = json_string_value(v);
		struct find_ctx f = { jid, 0, false };
		struct dir_postoffice po;
		if (jid == NULL || chat_muc_load(cs, find_room, &f, &err) < 0 ||
		    !f.found || !api_po_visible(c->actor, f.po) ||
		    dir_postoffice_get_id(c->db, f.po, &po, &err) <= 0) {
			json_object_set_new(not_destroyed, jid ? jid : "",
			    json_pack("{s:s,s:s}", "type", "notFound",
			    "description", "no persistent room of yours with "
			    "that JID"));
			continue;
		}
		if (chat_muc_delete(cs, jid, &err) < 0 ||
		    chat_store_flush(cs, &err) < 0 || api_audit(c, "ChatRoom",
		    jid, "destroy", po.name, "with its archive") < 0)
			json_object_set_new(not_destroyed, jid, json_pack(
			    "{s:s,s:s}", "type", "serverFail", "description",
			    "the room could not be destroyed"));
		else
			json_array_append_new(destroyed, json_string(jid));
	}
	chat_store_close(&cs);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o}", "accountId",
	    API_ACCOUNT, "created", created, "notCreated", not_created,
	    "destroyed", destroyed, "notDestroyed", not_destroyed);
}

/* ---- guests ----------------------------------------------------------- */

static json_t *
guest_json(struct api_ctx *c, const struct chat_guest *g, int64_t now)
{
	struct dir_postoffice po;
	const char *err;

	if (dir_postoffice_get_id(c->db, g->po_id, &po, &err) <= 0)
		po.name[0] = '\0';
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "id", g->jid,
	    "postOffice", po.name, "address", g->address, "inviter",
	    g->inviter_jid, "created", (json_int_t)g->created, "expires",
	    (json_int_t)g->expires, "status", g->ended ? g->reason :
	    g->expires <= now ? "expired" : "active");
}

static void
guest_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct chat_store *cs;
	struct chat_guest *g;
	size_t n;
	int64_t po, now = (int64_t)time(NULL);
	const char *err;

	if (!api_account_ok(args, error_r) || !po_filter(c, args, &po,
	    error_r) || (cs = store_open(c, error_r)) == NULL)
		return;
	if (chat_guest_list(cs, NULL, &g, &n, &err) < 0) {
		*error_r = jmap_error("serverFail", "%s", err);
		chat_store_close(&cs);
		return;
	}
	chat_store_close(&cs);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		if (po_wanted(c, po, g[i].po_id))
			json_array_append_new(list, guest_json(c, &g[i], now));
	chat_guest_free(&g, n);
	*result_r = json_pack("{s:s,s:o}", "accountId", API_ACCOUNT, "list",
	    list);
}

static json_t *
guest_create(struct api_ctx *c, struct chat_store *cs, json_t *v,
	     json_t **created_r)
{
	const char *address = json_string_value(json_object_get(v, "address"));
	const char *by = json_string_value(json_object_get(v, "inviter"));
	json_t *dv = json_object_get(v, "days");
	int64_t days = settings_current(c->db)->xmpp_guest_days;
	const char *at = by != NULL ? strchr(by, '@') : NULL;
	struct dir_domain d;
	struct dir_mailbox mb;
	struct chat_guest g;
	const char *err;
	bool internal;

	if (address == NULL || (dv != NULL && (!json_is_integer(dv) ||
	    json_integer_value(dv) < 1 || json_integer_value(dv) >
	    GUEST_DAYS_MAX)))
		return json_pack("{s:s,s:s}", "type", "invalidProperties",
		    "description", "address: the outside address; inviter: the "
		    "user's chat address; days: 1 to 90");
	if (dv != NULL)
		days = json_integer_value(dv);
	char *local = at != NULL ? xstrndup(by, (size_t)(at - by)) : NULL;
	bool ok = local != NULL && dir_domain_get(c->db, at + 1, &d,
	    &err) > 0 && api_po_visible(c->actor, d.postoffice_id) &&
	    dir_mailbox_find(c->db, d.postoffice, local, &mb, &err) > 0;
	free(local);
	if (!ok)
		return json_pack("{s:s,s:s,s:[s]}", "type",
		    "invalidProperties", "description", "the inviter is a "
		    "user's chat address (mailbox@domain) in your reach",
		    "properties", "inviter");
	char *jid = xasprintf("%s@%s", mb.name, d.name);
	char *owner = xasprintf("%s@%s", mb.name, mb.postoffice);
	str_lower(jid);
	str_lower(owner);
	struct guest_inviter inv = { owner, jid, d.name, d.postoffice,
	    d.postoffice_id };
	json_t *res = NULL;
	if (guest_invite(c->db, cs, &inv, address, (int)days, &g, &internal,
	    &err) < 0)
		res = json_pack("{s:s,s:s}", "type", internal ? "serverFail" :
		    "invalidProperties", "description", err);
	else {
		*created_r = guest_json(c, &g, (int64_t)time(NULL));
		(void)api_audit(c, "ChatGuest", g.jid, "create", d.postoffice,
		    "%s invited for %s, %lld days", g.address, jid,
		    (long long)days);
		chat_guest_clear(&g);
	}
	free(jid);
	free(owner);
	return res;
}

static void
guest_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *create = json_object_get(args, "create");
	json_t *revoke = json_object_get(args, "revoke");
	struct chat_store *cs;
	struct chat_guest *g = NULL;
	size_t n = 0;
	const char *key, *err;
	json_t *v;
	size_t i;

	if (!api_account_ok(args, error_r))
		return;
	if ((create != NULL && !json_is_object(create)) ||
	    (revoke != NULL && !json_is_array(revoke))) {
		*error_r = jmap_error("invalidArguments", "create is an object, "
		    "revoke an array of guest JIDs");
		return;
	}
	if ((cs = store_open(c, error_r)) == NULL)
		return;
	json_t *created = json_object(), *not_created = json_object();
	json_t *revoked = json_array(), *not_revoked = json_object();
	json_object_foreach(create, key, v) {
		json_t *ok = NULL, *e = json_is_object(v) ?
		    guest_create(c, cs, v, &ok) : json_pack("{s:s}", "type",
		    "invalidProperties");
		if (e != NULL)
			json_object_set_new(not_created, key, e);
		else
			json_object_set_new(created, key, ok);
	}
	if (json_array_size(revoke) > 0 && chat_guest_list(cs, NULL, &g, &n,
	    &err) < 0) {
		chat_store_close(&cs);
		json_decref(created);
		json_decref(not_created);
		json_decref(revoked);
		json_decref(not_revoked);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_array_foreach(revoke, i, v) {
		const char *jid = json_string_value(v);
		struct chat_guest *hit = NULL;
		for (size_t k = 0; jid != NULL && k < n; k++)
			if (strcasecmp(g[k].jid, jid) == 0 && g[k].ended == 0 &&
			    api_po_visible(c->actor, g[k].po_id))
				hit = &g[k];
		struct dir_postoffice po;
		int r = hit == NULL ? 0 : chat_guest_end(cs, hit->owner,
		    "revoked", (int64_t)time(NULL), &err);
		if (r > 0 && chat_store_flush(cs, &err) < 0)
			r = -1;
		if (r <= 0) {
			json_object_set_new(not_revoked, jid ? jid : "",
			    json_pack("{s:s,s:s}", "type", r < 0 ?
			    "serverFail" : "notFound", "description", r < 0 ?
			    err : "no active invitation in your reach with "
			    "that JID"));
			continue;
		}
		if (dir_postoffice_get_id(c->db, hit->po_id, &po, &err) <= 0)
			po.name[0] = '\0';
		(void)api_audit(c, "ChatGuest", hit->jid, "revoke", po.name,
		    "%s, invited by %s", hit->address, hit->inviter_jid);
		json_array_append_new(revoked, json_string(hit->jid));
	}
	chat_guest_free(&g, n);
	chat_store_close(&cs);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o}", "accountId",
	    API_ACCOUNT, "created", created, "notCreated", not_created,
	    "revoked", revoked, "notRevoked", not_revoked);
}

/* ---- sessions and the archive ------------------------------------------ */

/* session_get - ChatSession/get {postOffice?}: the streams xmppd has
 * bound now (`postern chat sessions`, from its state file); running is
 * false when xmppd is not running. An ADMIN sees its post office's. */
static void
session_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	struct dir_postoffice po;
	int64_t want;
	const char *err;
	size_t i;
	json_t *e;

	if (!api_account_ok(args, error_r) || !po_filter(c, args, &want,
	    error_r))
		return;
	po.name[0] = '\0';
	if (want != 0 && dir_postoffice_get_id(c->db, want, &po, &err) <= 0) {
		*error_r = jmap_error("serverFail", "the post office cannot be "
		    "read");
		return;
	}
	json_t *st = adm_xmpp_state(db_root(c->db)), *list = json_array();
	json_array_foreach(json_object_get(st, "sessions"), i, e) {
		const char *owner = json_string_value(json_object_get(e,
		    "mailbox"));
		const char *at = owner != NULL ? strrchr(owner, '@') : NULL;
		if (at == NULL || (want != 0 && strcmp(at + 1, po.name) != 0))
			continue;
		if (want == 0 && c->actor->scope_po != 0 &&
		    strcmp(at + 1, c->actor->scope_name) != 0)
			continue;
		json_array_append_new(list, json_pack("{s:O,s:s,s:O,s:O,s:b,s:b,"
		    "s:b}", "id", json_object_get(e, "jid"), "mailbox", owner,
		    "address", json_object_get(e, "address"), "since",
		    json_object_get(e, "since"), "tls",
		    json_is_true(json_object_get(e, "tls")), "available",
		    json_is_true(json_object_get(e, "available")), "resumable",
		    json_is_true(json_object_get(e, "hibernating"))));
	}
	*result_r = json_pack("{s:s,s:b,s:o}", "accountId", API_ACCOUNT,
	    "running", st != NULL, "list", list);
	json_decref(st);
}

static bool
archive_sysadmin(struct api_ctx *c, json_t **error_r)
{
	if (api_sysadmin_all(c->actor))
		return true;
	*error_r = jmap_error("forbidden", "the chat archive holds every post "
	    "office's messages under one retention (xmpp.archive_days): a "
	    "SYSADMIN's");
	return false;
}

/* archive_get - ChatArchive/get: what `postern chat archive` shows */
static void
archive_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	int64_t count = 0, oldest = 0, owners = 0;
	struct chat_store *cs;
	const char *err;

	if (!api_account_ok(args, error_r) || !archive_sysadmin(c, error_r) ||
	    (cs = store_open(c, error_r)) == NULL)
		return;
	if (chat_archive_stats(cs, &count, &oldest, &owners, &err) < 0) {
		chat_store_close(&cs);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	chat_store_close(&cs);
	*result_r = json_pack("{s:s,s:I,s:I,s:I,s:I,s:i}", "accountId",
	    API_ACCOUNT, "messages", (json_int_t)count, "owners",
	    (json_int_t)owners, "oldest", (json_int_t)oldest, "retentionDays",
	    (json_int_t)settings_current(c->db)->xmpp_archive_days,
	    "maxPerOwner", CHAT_ARCHIVE_MAX);
}

/* archive_prune - ChatArchive/prune {olderThanDays, dryRun?}: `postern
 * chat archive prune --days N`; the dry run counts (the page asks with
 * the count) */
static void
archive_prune(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	json_t *days = json_object_get(args, "olderThanDays");
	json_t *dry = json_object_get(args, "dryRun");
	struct chat_store *cs;
	const char *err;
	int64_t n = 0;

	if (!api_account_ok(args, error_r) || !archive_sysadmin(c, error_r))
		return;
	if (!json_is_integer(days) || json_integer_value(days) < 0 ||
	    json_integer_value(days) > 36500 || (dry != NULL &&
	    !json_is_boolean(dry))) {
		*error_r = jmap_error_props("invalidArguments", !json_is_integer(
		    days) || json_integer_value(days) < 0 ||
		    json_integer_value(days) > 36500 ? "olderThanDays is a number "
		    "of days, 0 to 36500" : "dryRun is true or false",
		    !json_is_integer(days) || json_integer_value(days) < 0 ||
		    json_integer_value(days) > 36500 ? "olderThanDays" : "dryRun",
		    NULL);
		return;
	}
	int64_t before = (int64_t)time(NULL) - json_integer_value(days) * 86400;
	if ((cs = store_open(c, error_r)) == NULL)
		return;
	if (json_is_true(dry))
		n = chat_archive_older(cs, before);
	else if (chat_archive_prune(cs, before, &n, &err) < 0 ||
	    chat_store_flush(cs, &err) < 0) {
		chat_store_close(&cs);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	chat_store_close(&cs);
	if (!json_is_true(dry))
		(void)api_audit(c, "ChatArchive", "archive", "destroy", NULL,
		    "%lld messages older than %lld days", (long long)n,
		    (long long)json_integer_value(days));
	*result_r = json_pack("{s:s,s:I,s:b}", "accountId", API_ACCOUNT,
	    "messages", (json_int_t)n, "dryRun", json_is_true(dry));
}

const struct jmap_method api_chat_methods[] = {
	{ "ChatSession/get", API_CAPABILITY, session_get },
	{ "ChatArchive/get", API_CAPABILITY, archive_get },
	{ "ChatArchive/prune", API_CAPABILITY, archive_prune },
	{ "ChatRoom/get", API_CAPABILITY, room_get },
	{ "ChatRoom/set", API_CAPABILITY, room_set },
	{ "ChatGuest/get", API_CAPABILITY, guest_get },
	{ "ChatGuest/set", API_CAPABILITY, guest_set },
	{ NULL, NULL, NULL },
};
