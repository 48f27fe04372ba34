/* muc - multi-user chat (XEP-0045): each post office has a service
 * conference.<domain> for its own users. A room is made by its first
 * occupant, who owns it; temporary until an owner makes it persistent
 * (muc#owner configuration), then kept in the chat store with its
 * affiliations and survives restarts. Members-only and password rooms,
 * mediated invitations, affiliations and kicks (muc#admin), a flood
 * limit per occupant; the history comes from the room's archive.
 * Remote users of federating servers join existing rooms (federate.c
 * hands their stanzas to muc_remote). This file: rooms, affiliations,
 * occupants; the rest in muc-presence.c, muc-message.c, muc-admin.c
 * (muc-int.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "directory.h"
#include "log.h"
#include "passwd.h"
#include "xalloc.h"
#include "xmppd.h"
#include "muc-int.h"

struct room *muc_rooms;
size_t muc_nrooms;

/* ------------------------------------------------ rooms */

bool
muc_domain(const char *domain, int64_t *po_r)
{
	return im_component_domain(domain, MUC_PREFIX, po_r);
}

struct room *
muc_room_find(const char *jid)
{
	for (struct room *r = muc_rooms; r != NULL; r = r->next)
		if (strcmp(r->jid, jid) == 0)
			return r;
	return NULL;
}

struct occupant *
muc_occ_by_session(struct room *r, struct xsess *s)
{
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (o->s == s)
			return o;
	return NULL;
}

struct occupant *
muc_occ_by_who(struct room *r, const struct who *w)
{
	if (w->s != NULL)
		return muc_occ_by_session(r, w->s);
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (o->s == NULL && strcmp(o->jid, w->full) == 0)
			return o;
	return NULL;
}

/* muc_who_send - a stanza (its 'from' and 'to' set) to a local session, or
 * over federation to a remote user */
void
muc_who_send(const struct who *w, const struct xml_node *n)
{
	if (w->s != NULL) {
		xsess_send(w->s, n);
		return;
	}
	struct xml_node *c = xml_node_copy(n);
	federate_send_from(xml_node_attr(n, "from"), w->full, c);
}

void
muc_occ_send(const struct occupant *o, const struct xml_node *n)
{
	struct who w = { o->s, o->jid, o->owner, 0 };

	if (!o->gone)
		muc_who_send(&w, n);
}

void
muc_occ_free(struct occupant *o)
{
	xml_node_free(&o->presence);
	free(o->jid);
	free(o->owner);
	free(o->nick);
	free(o);
}

struct occupant *
muc_occ_by_nick(struct room *r, const char *nick)
{
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (strcmp(o->nick, nick) == 0)
			return o;
	return NULL;
}

/* ------------------------------------------------ affiliations */

const char *
muc_aff_of(const struct room *r, const char *owner)
{
	for (const struct aff *a = r->affs; a != NULL; a = a->next)
		if (strcmp(a->owner, owner) == 0)
			return a->aff;
	return "none";
}

bool
muc_moderator(const struct room *r, const char *owner)
{
	const char *a = muc_aff_of(r, owner);

	return is(a, "owner") || is(a, "admin");
}

/* muc_aff_set - in memory, and in the store when the room is persistent
 * (aff "none" removes) */
void
muc_aff_set(struct room *r, const char *owner, const char *aff)
{
	const char *err;
	struct aff **pp;

	for (pp = &r->affs; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->owner, owner) == 0)
			break;
	if (is(aff, "none")) {
		if (*pp != NULL) {
			struct aff *a = *pp;
			*pp = a->next;
			free(a->owner);
			free(a);
			r->naff--;
		}
	} else if (*pp != NULL)
		snprintf((*pp)->aff, sizeof((*pp)->aff), "%s", aff);
	else {
		struct aff *a = xcalloc(1, sizeof(*a));
		a->owner = xstrdup(owner);
		snprintf(a->aff, sizeof(a->aff), "%s", aff);
		a->next = r->affs;
		r->affs = a;
		r->naff++;
	}
	if (r->persistent && chat_muc_aff_set(xsrv.store, r->jid, owner,
	    is(aff, "none") ? NULL : aff, &err) < 0)
		log_warnx("xmpp %s: %s", r->jid, err);
}

void
muc_room_save(struct room *r)
{
	const char *err;
	struct muc_row row = { r->jid, r->po_id, r->name, r->subject,
		r->members_only, r->password ? r->password : "" };

	if (r->persistent && chat_muc_put(xsrv.store, &row, &err) < 0)
		log_warnx("xmpp %s: %s", r->jid, err);
}

struct room *
muc_room_new(const char *jid, int64_t po)
{
	struct room *r = xcalloc(1, sizeof(*r));

	r->jid = xstrdup(jid);
	r->po_id = po;
	r->name = xstrdup("");
	r->subject = xstrdup("");
	r->next = muc_rooms;
	muc_rooms = r;
	muc_nrooms++;
	return r;
}

/* muc_room_free - gone from memory; with forget, from the store too (its
 * archive included) */
void
muc_room_free(struct room *r, bool forget)
{
	const char *err;

	for (struct room **pp = &muc_rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	muc_nrooms--;
	if (forget && chat_muc_delete(xsrv.store, r->jid, &err) < 0)
		log_warnx("xmpp %s: %s", r->jid, err);
	while (r->affs != NULL) {
		struct aff *a = r->affs;
		r->affs = a->next;
		free(a->owner);
		free(a);
	}
	free(r->jid);
	free(r->name);
	free(r->subject);
	free(r->password);
	free(r);
}

static void
load_aff(void *ctx, const char *owner, const char *aff)
{
	struct room *r = ctx;
	struct aff *a = xcalloc(1, sizeof(*a));

	a->owner = xstrdup(owner);
	snprintf(a->aff, sizeof(a->aff), "%s", aff);
	a->next = r->affs;
	r->affs = a;
	r->naff++;
}

static void
load_room(void *ctx, const struct muc_row *row)
{
	const char *err;

	(void)ctx;
	if (muc_nrooms >= MUC_ROOMS_MAX || muc_room_find(row->jid) != NULL)
		return;
	struct room *r = muc_room_new(row->jid, row->po_id);
	free(r->name);
	free(r->subject);
	r->name = xstrdup(row->name ? row->name : "");
	r->subject = xstrdup(row->subject ? row->subject : "");
	r->persistent = true;
	r->members_only = row->members_only;
	r->password = row->password && *row->password ?
	    xstrdup(row->password) : NULL;
	if (chat_muc_aff_load(xsrv.store, r->jid, load_aff, r, &err) < 0)
		log_warnx("xmpp %s: %s", r->jid, err);
}

int
muc_init(void)
{
	const char *err;

	if (chat_muc_load(xsrv.store, load_room, NULL, &err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (muc_nrooms > 0)
		log_info("%zu persistent chat room(s)", muc_nrooms);
	return 0;
}


static void
sync_room(void *ctx, const struct muc_row *row)
{
	const char *err;
	struct room *r = muc_room_find(row->jid);

	(void)ctx;
	if (r == NULL) {
		load_room(NULL, row);
		if ((r = muc_room_find(row->jid)) != NULL) {
			r->seen = true;
			log_info("xmpp %s: made by the administrator", r->jid);
		}
		return;
	}
	r->seen = true;
	if (!r->persistent) {
		/* a live temporary room the administrator made persistent:
		 * the stored owners join its affiliations */
		r->persistent = true;
		if (chat_muc_aff_load(xsrv.store, r->jid, load_aff, r, &err) < 0)
			log_warnx("xmpp %s: %s", r->jid, err);
	}
}

void
muc_sync(void)
{
	const char *err;

	for (struct room *r = muc_rooms; r != NULL; r = r->next)
		r->seen = false;
	if (chat_muc_load(xsrv.store, sync_room, NULL, &err) < 0) {
		log_warnx("%s", err);
		return;
	}
	for (struct room *r = muc_rooms, *next; r != NULL; r = next) {
		next = r->next;
		if (r->persistent && !r->seen) {
			log_info("xmpp %s: destroyed by the administrator",
			    r->jid);
			muc_kick_all(r);
			muc_room_free(r, false);
		}
	}
}

void
muc_rooms_json(json_t *a)
{
	for (struct room *r = muc_rooms; r != NULL; r = r->next) {
		json_t *o = json_object();
		json_object_set_new(o, "jid", json_string(r->jid));
		json_object_set_new(o, "persistent", json_boolean(r->persistent));
		json_object_set_new(o, "occupants",
		    json_integer((json_int_t)r->nocc));
		json_array_append_new(a, o);
	}
}

void
muc_shutdown(void)
{
	while (muc_rooms != NULL)
		muc_room_free(muc_rooms, false);
}
