/* muc-admin - XEP-0045 muc#owner (configuration, destroy) and muc#admin
 * (affiliations, kicks), the IQs to the service and rooms, remote
 * users' stanzas (part of muc, muc-int.h) */
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

static int
form_bool(const struct xml_node *x, const char *var, bool *v)
{
	char *t = im_form_value(x, var);
	int r = 0;

	if (t == NULL)
		return 0;
	if (is(t, "1") || is(t, "true"))
		*v = true;
	else if (is(t, "0") || is(t, "false"))
		*v = false;
	else
		r = -1;
	free(t);
	return r;
}

static void
field(struct xml_node *x, const char *var, const char *type,
      const char *label, const char *value)
{
	struct xml_node *f = xml_node_add(x, "field", "var", var, "type", type,
	    NULL);

	if (label != NULL)
		xml_node_set_attr(f, "label", label);
	xml_node_add_text(xml_node_add(f, "value", NULL), value);
}

/* muc_kick_all - everyone out (destroy): unavailable with <destroy/> */
void
muc_kick_all(struct room *r)
{
	while (r->occ != NULL) {
		struct occupant *o = r->occ;
		struct xml_node *p = muc_occ_presence(r, o, o, true, NULL);
		xml_node_add(xml_node_child(p, "x", NS_MUC_USER), "destroy",
		    "jid", r->jid, NULL);
		muc_occ_send(o, p);
		xml_node_free(&p);
		r->occ = o->next;
		muc_occ_free(o);
	}
	r->nocc = 0;
}

static void
owner_iq(struct xsess *s, struct xml_node *iq, struct xml_node *q,
	 struct room *r, struct xml_node *res)
{
	const char *type = xml_node_attr(iq, "type");
	struct xml_node *x = xml_node_child(q, "x", NS_DATA);
	const char *err;

	if (is(type, "get")) {
		struct xml_node *rq = xml_node_add(res, "query", "xmlns",
		    NS_MUC_OWNER, NULL);
		struct xml_node *f = xml_node_add(rq, "x", "xmlns", NS_DATA,
		    "type", "form", NULL);
		field(f, "FORM_TYPE", "hidden", NULL, NS_MUC_CONFIG);
		field(f, "muc#roomconfig_roomname", "text-single", "Name",
		    r->name);
		field(f, "muc#roomconfig_persistentroom", "boolean",
		    "Keep the room when it is empty", r->persistent ? "1" :
		    "0");
		field(f, "muc#roomconfig_membersonly", "boolean",
		    "Members only", r->members_only ? "1" : "0");
		field(f, "muc#roomconfig_passwordprotectedroom", "boolean",
		    "Password needed", r->password ? "1" : "0");
		field(f, "muc#roomconfig_roomsecret", "text-private",
		    "Password (stored hashed; empty keeps it)", "");
		xsess_send(s, res);
		return;
	}
	struct xml_node *d = xml_node_child(q, "destroy", NULL);
	if (d != NULL) {
		log_info("xmpp %s destroyed %s", s->full, r->jid);
		muc_kick_all(r);
		muc_room_free(r, true);
		xsess_send(s, res);
		return;
	}
	if (x == NULL || is(xml_node_attr(x, "type"), "cancel")) {
		xsess_send(s, res);   /* an instant room, or no change */
		return;
	}
	if (!is(xml_node_attr(x, "type"), "submit")) {
		im_stanza_error(s, iq, "modify", "bad-request", "a form of "
		    "type submit");
		return;
	}
	bool persistent = r->persistent, members = r->members_only;
	bool protect = r->password != NULL;
	char *name = im_form_value(x, "muc#roomconfig_roomname");
	char *secret = im_form_value(x, "muc#roomconfig_roomsecret");
	if (form_bool(x, "muc#roomconfig_persistentroom", &persistent) < 0 ||
	    form_bool(x, "muc#roomconfig_membersonly", &members) < 0 ||
	    form_bool(x, "muc#roomconfig_passwordprotectedroom",
	    &protect) < 0 || (name != NULL && strlen(name) > MUC_NAME_MAX) ||
	    (protect && r->password == NULL && (secret == NULL ||
	    *secret == '\0')) || (secret != NULL && strlen(secret) > 1024)) {
		im_stanza_error(s, iq, "modify", "not-acceptable", "a field "
		    "has a value the room cannot take (a password room needs "
		    "muc#roomconfig_roomsecret)");
		goto done;
	}
	if (protect && secret != NULL && *secret != '\0') {
		char *h = passwd_hash(secret, "sha512-crypt", &err);
		if (h == NULL) {
			im_stanza_error(s, iq, "wait", "internal-server-error",
			    NULL);
			goto done;
		}
		free(r->password);
		r->password = h;
	} else if (!protect)
		xfree(&r->password);
	if (name != NULL) {
		free(r->name);
		r->name = xstrdup(name);
	}
	r->members_only = members;
	if (persistent && !r->persistent) {
		r->persistent = true;
		for (struct aff *a = r->affs; a != NULL; a = a->next)
			if (chat_muc_aff_set(xsrv.store, r->jid, a->owner,
			    a->aff, &err) < 0)
				log_warnx("xmpp %s: %s", r->jid, err);
	} else if (!persistent && r->persistent) {
		if (chat_muc_delete(xsrv.store, r->jid, &err) < 0)
			log_warnx("xmpp %s: %s", r->jid, err);
		r->persistent = false;
	}
	muc_room_save(r);
	xsess_send(s, res);
done:
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	free(name);
}

static bool
aff_valid(const char *a)
{
	return is(a, "owner") || is(a, "admin") || is(a, "member") ||
	    is(a, "outcast") || is(a, "none");
}

/* admin_iq - muc#admin: affiliation lists (get), affiliations and kicks
 * (set); all items are checked before any applies */
static void
admin_iq(struct xsess *s, struct xml_node *iq, struct xml_node *q,
	 struct room *r, struct xml_node *res)
{
	const char *type = xml_node_attr(iq, "type");
	const char *mine = muc_aff_of(r, s->owner);
	bool owner = is(mine, "owner");

	if (is(type, "get")) {
		struct xml_node *it = xml_node_child(q, "item", NULL);
		const char *want = it ? xml_node_attr(it, "affiliation") : NULL;
		if (want == NULL || !aff_valid(want) || is(want, "none")) {
			im_stanza_error(s, iq, "modify", "bad-request", "an "
			    "item with an affiliation");
			return;
		}
		struct xml_node *rq = xml_node_add(res, "query", "xmlns",
		    NS_MUC_ADMIN, NULL);
		for (struct aff *a = r->affs; a != NULL; a = a->next)
			if (is(a->aff, want)) {
				char *jid = muc_jid_of(r, a->owner);
				xml_node_add(rq, "item", "affiliation", a->aff,
				    "jid", jid, NULL);
				free(jid);
			}
		xsess_send(s, res);
		return;
	}
	/* check every item */
	int n = 0;
	for (struct xml_node *it = q->first; it != NULL; it = it->next) {
		if (it->name == NULL || strcmp(it->name, "item") != 0)
			continue;
		const char *aff = xml_node_attr(it, "affiliation");
		const char *role = xml_node_attr(it, "role");
		const char *jid = xml_node_attr(it, "jid");
		const char *nick = xml_node_attr(it, "nick");
		n++;
		if (aff != NULL && jid != NULL && aff_valid(aff)) {
			int64_t po = 0;
			char *who = im_owner_of(jid, &po);
			const char *cur = who ? muc_aff_of(r, who) : "none";
			bool ok = who != NULL && po == r->po_id;
			if (!ok) {
				free(who);
				im_stanza_error(s, iq, "cancel",
				    "item-not-found", "not a user of the "
				    "room's post office");
				return;
			}
			/* owners change anything; admins only members,
			 * outcasts and none of those below them */
			bool allowed = owner || (is(mine, "admin") &&
			    !is(cur, "owner") && !is(cur, "admin") &&
			    !is(aff, "owner") && !is(aff, "admin"));
			if (allowed && owner && strcmp(who, s->owner) == 0 &&
			    !is(aff, "owner")) {
				size_t owners = 0;
				for (struct aff *a = r->affs; a; a = a->next)
					owners += is(a->aff, "owner");
				if (owners <= 1) {
					free(who);
					im_stanza_error(s, iq, "cancel",
					    "conflict", "a room keeps one "
					    "owner at least");
					return;
				}
			}
			free(who);
			if (!allowed) {
				im_stanza_error(s, iq, "auth", "forbidden",
				    NULL);
				return;
			}
		} else if (is(role, "none") && nick != NULL) {
			struct occupant *o = muc_occ_by_nick(r, nick);
			if (o == NULL) {
				im_stanza_error(s, iq, "cancel",
				    "item-not-found", "no such occupant");
				return;
			}
			if (!muc_moderator(r, s->owner)) {
				im_stanza_error(s, iq, "auth", "forbidden",
				    NULL);
				return;
			}
			if (is(muc_aff_of(r, o->owner), "owner") ||
			    (is(muc_aff_of(r, o->owner), "admin") && !owner)) {
				im_stanza_error(s, iq, "cancel", "not-allowed",
				    "owners and admins are not kicked");
				return;
			}
		} else {
			im_stanza_error(s, iq, "modify", "bad-request",
			    "items set an affiliation (with jid) or the role "
			    "none (with nick)");
			return;
		}
	}
	if (n == 0 || n > 100) {
		im_stanza_error(s, iq, "modify", "bad-request", "1 to 100 items");
		return;
	}
	/* apply; a temporary room may go with its last occupant */
	char *room_jid = xstrdup(r->jid);
	for (struct xml_node *it = q->first; it != NULL &&
	    muc_room_find(room_jid) == r; it = it->next) {
		if (it->name == NULL || strcmp(it->name, "item") != 0)
			continue;
		const char *aff = xml_node_attr(it, "affiliation");
		const char *jid = xml_node_attr(it, "jid");
		if (aff != NULL && jid != NULL) {
			int64_t po = 0;
			char *who = im_owner_of(jid, &po);
			muc_aff_set(r, who, aff);
			/* banned, or no longer a member of a members-only
			 * room: out (301, 321) */
			static const int banned[] = { 301, 0 };
			static const int unmember[] = { 321, 0 };
			bool out = is(aff, "outcast") || (r->members_only &&
			    is(aff, "none"));
			struct occupant *o;
			while ((o = r->occ) != NULL) {
				while (o != NULL && strcmp(o->owner, who) != 0)
					o = o->next;
				if (o == NULL || !out)
					break;
				bool last = r->nocc == 1 && !r->persistent;
				muc_occ_leave(r, o, is(aff, "outcast") ? banned :
				    unmember);
				if (last)
					break;   /* r is gone */
			}
			if (!out && muc_room_find(room_jid) == r)
				for (o = r->occ; o != NULL; o = o->next)
					if (strcmp(o->owner, who) == 0)
						muc_broadcast_presence(r, o, false,
						    NULL);
			free(who);
		} else {
			struct occupant *o = muc_occ_by_nick(r,
			    xml_node_attr(it, "nick"));
			static const int kicked[] = { 307, 0 };
			if (o != NULL)
				muc_occ_leave(r, o, kicked);
		}
	}
	free(room_jid);
	xsess_send(s, res);
}

static void
iq_who(const struct who *w, struct xml_node *iq, struct xml_node *payload,
       const struct jid *to, int64_t po)
{
	const char *ns = payload ? xml_node_xmlns(payload) : NULL;
	const char *type = xml_node_attr(iq, "type");
	char *target = to->local ? xasprintf("%s@%s", to->local, to->domain) :
	    xstrdup(to->domain);
	struct xml_node *r = NULL, *q;
	struct room *room = to->local ? muc_room_find(target) : NULL;

	if (!is(type, "get") && !is(type, "set"))
		goto out;
	r = xml_node_new("iq", "type", "result", "from", target, "to", w->full,
	    NULL);
	if (xml_node_attr(iq, "id") != NULL)
		xml_node_set_attr(r, "id", xml_node_attr(iq, "id"));
	struct xsess *s = w->s;         /* owners and admins are local */
	if (to->resource == NULL && room != NULL && s != NULL &&
	    s->po_id == po &&
	    (is(ns, NS_MUC_OWNER) || is(ns, NS_MUC_ADMIN)) &&
	    strcmp(payload->name, "query") == 0) {
		if (is(ns, NS_MUC_OWNER) && !is(muc_aff_of(room, s->owner),
		    "owner"))
			muc_error(w, iq, target, "auth", "forbidden",
			    "only the room's owners configure it");
		else if (is(ns, NS_MUC_ADMIN) && !muc_moderator(room, s->owner))
			muc_error(w, iq, target, "auth", "forbidden",
			    "only the room's owners and admins");
		else if (is(ns, NS_MUC_OWNER))
			owner_iq(s, iq, payload, room, r);
		else
			admin_iq(s, iq, payload, room, r);
		goto out;
	}
	if (to->resource != NULL || !is(type, "get")) {
		muc_error(w, iq, target, "cancel", "service-unavailable", NULL);
		goto out;
	}
	if (is(ns, NS_DISCO_INFO)) {
		q = xml_node_add(r, "query", "xmlns", NS_DISCO_INFO, NULL);
		if (to->local == NULL) {
			xml_node_add(q, "identity", "category", "conference",
			    "type", "text", "name", "Chatrooms", NULL);
			xml_node_add(q, "feature", "var", NS_MUC, NULL);
		} else if (room != NULL) {
			xml_node_add(q, "identity", "category", "conference",
			    "type", "text", "name", room->name, NULL);
			xml_node_add(q, "feature", "var", NS_MUC, NULL);
			xml_node_add(q, "feature", "var", "muc_nonanonymous",
			    NULL);
			xml_node_add(q, "feature", "var", room->persistent ?
			    "muc_persistent" : "muc_temporary", NULL);
			xml_node_add(q, "feature", "var", room->members_only ?
			    "muc_membersonly" : "muc_open", NULL);
			xml_node_add(q, "feature", "var", room->password ?
			    "muc_passwordprotected" : "muc_unsecured", NULL);
		} else {
			xml_node_free(&r);
			muc_error(w, iq, target, "cancel", "item-not-found",
			    NULL);
			goto out;
		}
		xml_node_add(q, "feature", "var", NS_DISCO_INFO, NULL);
	} else if (is(ns, NS_DISCO_ITEMS)) {
		q = xml_node_add(r, "query", "xmlns", NS_DISCO_ITEMS, NULL);
		if (to->local == NULL && (s == NULL || s->po_id == po))
			for (struct room *k = muc_rooms; k != NULL; k = k->next)
				if (strcmp(strchr(k->jid, '@') + 1,
				    to->domain) == 0 && (!k->members_only ||
				    !is(muc_aff_of(k, w->owner), "none")))
					xml_node_add(q, "item", "jid", k->jid,
					    NULL);
	} else if (is(ns, NS_PING)) {
		/* a result as it is */
	} else {
		xml_node_free(&r);
		muc_error(w, iq, target, "cancel", "service-unavailable", NULL);
		goto out;
	}
	muc_who_send(w, r);
out:
	xml_node_free(&r);
	free(target);
}

void
muc_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
       const struct jid *to, int64_t po)
{
	struct who w = { s, s->full, s->owner, s->po_id };

	iq_who(&w, iq, payload, to, po);
}

/* muc_remote - a stanza of a remote user (federation, its server's
 * domains proven) to the service or a room: from its full JID */
void
muc_remote(struct xml_node *n, const struct jid *from, const struct jid *to,
	   int64_t po)
{
	char *full = xml_node_attr(n, "from") ? xstrdup(xml_node_attr(n,
	    "from")) : NULL;
	char *bare = jid_bare(from);
	char *owner = xasprintf("xmpp:%s", bare);
	struct who w = { NULL, full, owner, 0 };

	if (full == NULL)
		goto out;
	if (strcmp(n->name, "presence") == 0)
		muc_presence_who(&w, n, to, po);
	else if (strcmp(n->name, "message") == 0)
		muc_message_who(&w, n, to, po);
	else if (strcmp(n->name, "iq") == 0) {
		struct xml_node *payload = n->first;
		while (payload != NULL && payload->name == NULL)
			payload = payload->next;
		iq_who(&w, n, payload, to, po);
	}
out:
	free(full);
	free(bare);
	free(owner);
}

void
muc_session_gone(struct xsess *s)
{
	struct room *r = muc_rooms, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		struct occupant *o = muc_occ_by_session(r, s);
		if (o != NULL)
			muc_occ_leave(r, o, NULL);  /* may free r: next is kept */
	}
}
