/* muc-message - XEP-0045 messages: groupchat with the flood limit,
 * private messages, the subject, mediated invitations (part of muc,
 * muc-int.h) */
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

/* flood_ok - the occupant's token bucket: MUC_FLOOD_BURST at once, then
 * MUC_FLOOD_RATE a second */
static bool
flood_ok(struct occupant *o)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - o->refill.tv_sec) +
	    (double)(now.tv_nsec - o->refill.tv_nsec) / 1e9;
	o->refill = now;
	o->tokens += dt * MUC_FLOOD_RATE;
	if (o->tokens > MUC_FLOOD_BURST)
		o->tokens = MUC_FLOOD_BURST;
	if (o->tokens < 1)
		return false;
	o->tokens -= 1;
	return true;
}

/* muc_jid_of - an owner's JID in the room's domains: mailbox@domain */
char *
muc_jid_of(const struct room *r, const char *owner)
{
	const char *at = strrchr(owner, '@');
	const char *dom = strchr(r->jid, '@') + 1 + strlen(MUC_PREFIX);

	return xasprintf("%.*s@%s", (int)(at ? at - owner : (long)strlen(owner)),
	    owner, dom);
}

/* invite - XEP-0045 7.8.2: the room passes the invitation on (and in a
 * members-only room the invitee becomes a member) */
static void
invite(const struct who *w, struct xml_node *m, struct room *r,
       struct occupant *o, struct xml_node *x)
{
	int n = 0;
	const char *err;

	if (r->members_only && !muc_moderator(r, w->owner)) {
		muc_error(w, m, r->jid, "auth", "forbidden", "only the room's "
		    "owners and admins invite to a members-only room");
		return;
	}
	for (struct xml_node *inv = x->first; inv != NULL; inv = inv->next) {
		if (inv->name == NULL || strcmp(inv->name, "invite") != 0)
			continue;
		const char *to = xml_node_attr(inv, "to");
		int64_t po = 0;
		char *owner = to ? im_owner_of(to, &po) : NULL;
		if (++n > MUC_INVITES_MAX || owner == NULL || po != r->po_id) {
			muc_error(w, m, r->jid, "cancel", owner == NULL ?
			    "item-not-found" : "not-allowed", n >
			    MUC_INVITES_MAX ? "too many invitations" :
			    "invitations go to users of the room's post office");
			free(owner);
			return;
		}
		if (r->members_only && is(muc_aff_of(r, owner), "none"))
			muc_aff_set(r, owner, "member");
		struct xml_node *out = xml_node_new("message", "from", r->jid,
		    "to", to, NULL);
		struct xml_node *ox = xml_node_add(out, "x", "xmlns",
		    NS_MUC_USER, NULL);
		struct xml_node *oi = xml_node_add(ox, "invite", "from",
		    w->full, NULL);
		struct xml_node *reason = xml_node_child(inv, "reason", NULL);
		if (reason != NULL) {
			char *t = xml_node_text(reason);
			xml_node_add_text(xml_node_add(oi, "reason", NULL), t);
			free(t);
		}
		/* to the invitee's available sessions, else kept for it */
		struct xuser *u = xuser_find(owner);
		bool sent = false;
		for (struct xsess *t = u ? u->sessions : NULL; t != NULL;
		    t = t->unext)
			if (t->available && !t->dead) {
				im_deliver(t, out, NULL, true);
				sent = true;
			}
		if (!sent) {
			struct buf b;
			buf_init(&b, 0);
			xml_node_write(out, &b);
			if (chat_offline_add(xsrv.store, owner, b.data, &err) < 0)
				log_warnx("xmpp %s: offline: %s", owner, err);
			buf_free(&b);
		}
		xml_node_free(&out);
		log_info("xmpp %s invited %s to %s", w->full, to, r->jid);
		free(owner);
	}
	(void)o;
}

void
muc_message_who(const struct who *w, struct xml_node *m, const struct jid *to,
	    int64_t po)
{
	const char *type = xml_node_attr(m, "type");
	char *room_jid;
	struct room *r;
	struct occupant *o, *k;
	const char *err;

	(void)po;
	if (to->local == NULL || is(type, "error"))
		return;
	room_jid = xasprintf("%s@%s", to->local, to->domain);
	r = muc_room_find(room_jid);
	o = r ? muc_occ_by_who(r, w) : NULL;
	if (o == NULL) {
		muc_error(w, m, room_jid, "cancel", "not-acceptable",
		    "join the room first");
		goto out;
	}
	struct xml_node *ux = xml_node_child(m, "x", NS_MUC_USER);
	if (to->resource == NULL && ux != NULL &&
	    xml_node_child(ux, "invite", NULL) != NULL) {
		invite(w, m, r, o, ux);
		goto out;
	}
	if (!flood_ok(o)) {
		muc_error(w, m, room_jid, "wait", "policy-violation",
		    "too many messages: slow down");
		goto out;
	}
	char *from = xasprintf("%s/%s", r->jid, o->nick);
	if (to->resource != NULL) {
		/* a private message to an occupant */
		k = muc_occ_by_nick(r, to->resource);
		if (k == NULL || is(type, "groupchat"))
			muc_error(w, m, room_jid, "cancel", "item-not-found",
			    NULL);
		else {
			struct xml_node *c = xml_node_copy(m);
			xml_node_set_attr(c, "from", from);
			xml_node_set_attr(c, "to", k->jid);
			muc_occ_send(k, c);
			xml_node_free(&c);
		}
		free(from);
		goto out;
	}
	if (!is(type, "groupchat")) {
		free(from);
		muc_error(w, m, room_jid, "modify", "bad-request",
		    "messages to a room are of type groupchat");
		goto out;
	}
	struct xml_node *subject = xml_node_child(m, "subject", NULL);
	if (subject != NULL) {
		char *t = xml_node_text(subject);
		if (!muc_moderator(r, w->owner) || strlen(t) > MUC_SUBJECT_MAX) {
			free(t);
			free(from);
			muc_error(w, m, room_jid, muc_moderator(r, w->owner) ?
			    "modify" : "auth", muc_moderator(r, w->owner) ?
			    "not-acceptable" : "forbidden", "only the room's "
			    "owners and admins set the subject, in at most "
			    "4096 bytes");
			goto out;
		}
		free(r->subject);
		r->subject = t;
		muc_room_save(r);
	}
	struct xml_node *c = xml_node_copy(m);
	xml_node_set_attr(c, "from", from);
	xml_node_set_attr(c, "to", NULL);
	if (subject == NULL && xml_node_child(m, "body", NULL) != NULL) {
		/* the room's archive: its history */
		struct buf b;
		int64_t id;
		buf_init(&b, 0);
		xml_node_write(c, &b);
		if (chat_archive_add(xsrv.store, r->jid, from, b.data, &id,
		    &err) < 0)
			log_warnx("xmpp %s: archive: %s", r->jid, err);
		buf_free(&b);
	}
	for (k = r->occ; k != NULL; k = k->next) {
		xml_node_set_attr(c, "to", k->jid);
		muc_occ_send(k, c);
	}
	xml_node_free(&c);
	free(from);
out:
	free(room_jid);
}

void
muc_message(struct xsess *s, struct xml_node *m, const struct jid *to,
	    int64_t po)
{
	struct who w = { s, s->full, s->owner, s->po_id };

	muc_message_who(&w, m, to, po);
}
