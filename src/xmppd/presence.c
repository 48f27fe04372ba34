/* presence - RFC 6121 3 and 4: subscriptions, presence broadcast and
 * probes, directed presence (part of im, im-int.h) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "directory.h"
#include "guest.h"
#include "log.h"
#include "xalloc.h"
#include "xmppd.h"
#include "im-int.h"

/* im_broadcast - RFC 6121 4.2.2, 4.4.2, 4.5.2: s's presence to the
 * available resources of those who may see it, and to s's own */
void
im_broadcast(struct xsess *s, const struct xml_node *p)
{
	for (struct xuser *u = xsrv.users; u != NULL; u = u->next)
		for (struct xsess *t = u->sessions; t != NULL; t = t->unext) {
			if (!t->available || t->dead)
				continue;
			if (u == s->user || im_may_see(t, s))
				im_deliver(t, p, s->full, true);
		}
}

/* may_see - whether viewer's user is subscribed to target's presence:
 * colleagues always, others by the target's roster (from or both) */
bool
im_may_see(struct xsess *viewer, struct xsess *target)
{
	struct roster_item it;
	const char *err;
	bool r;

	if (viewer->user == target->user)
		return true;
	if (im_blocks(viewer->owner, target->full) ||
	    im_blocks(target->owner, viewer->full))
		return false;
	/* a guest and its inviter only (guest.h) */
	if (viewer->guest)
		return strcmp(viewer->guest_of, target->owner) == 0;
	if (target->guest)
		return strcmp(target->guest_of, viewer->owner) == 0;
	if (viewer->po_id == target->po_id)
		return true;
	if (chat_roster_get(xsrv.store, target->owner, viewer->bare, &it,
	    &err) <= 0)
		return false;
	r = (it.sub & CHAT_SUB_FROM) != 0;
	chat_roster_item_clear(&it);
	return r;
}

/* probe_answer - the current presence of everyone s may see, to s
 * (RFC 6121 4.3.2, answered at once: all users are local) */
static void
probe_answer(struct xsess *s)
{
	for (struct xuser *u = xsrv.users; u != NULL; u = u->next)
		for (struct xsess *t = u->sessions; t != NULL; t = t->unext) {
			if (t == s || !t->available || t->dead ||
			    t->presence == NULL)
				continue;
			if (u == s->user || im_may_see(s, t))
				im_deliver(s, t->presence, t->full, true);
		}
}

static void
send_offline(void *ctx, const char *stanza, int64_t stamp)
{
	(void)stamp;
	xsess_send_stanza_text(ctx, stanza);
}

/* pending_requests - subscription requests that waited for s's user
 * (RFC 6121 3.1.3) */
static void
pending_requests(struct xsess *s)
{
	struct roster_item *items = NULL;
	size_t n = 0;
	const char *err;

	if (chat_roster_load(xsrv.store, s->owner, &items, &n, &err) < 0) {
		log_warnx("xmpp %s: roster: %s", s->full, err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!items[i].pending_in)
			continue;
		struct xml_node *p = xml_node_new("presence", "type",
		    "subscribe", "from", items[i].jid, "to", s->bare, NULL);
		xsess_send(s, p);
		xml_node_free(&p);
	}
	chat_roster_free(&items, n);
}

static int
priority_of(const struct xml_node *p)
{
	struct xml_node *pr = xml_node_child(p, "priority", NULL);
	long long v;

	if (pr == NULL)
		return 0;
	char *t = xml_node_text(pr);
	int r = parse_long(t, -128, 127, &v) < 0 ? 0 : (int)v;
	free(t);
	return r;
}

static void
presence_broadcast(struct xsess *s, struct xml_node *p, const char *type)
{
	bool initial = !s->available;

	xml_node_set_attr(p, "from", NULL);
	xml_node_set_attr(p, "to", NULL);
	xsrv.state_dirty = true;        /* postern chat sessions */
	if (is(type, "unavailable")) {
		if (s->available) {
			im_broadcast(s, p);
			federate_presence(s, p, false);
		}
		s->available = false;
		xml_node_free(&s->presence);
		return;
	}
	s->available = true;
	s->priority = priority_of(p);
	pep_vcard_update(s, p);
	xml_node_free(&s->presence);
	s->presence = xml_node_copy(p);
	im_broadcast(s, p);
	federate_presence(s, p, initial);
	if (!initial) {
		pep_presence(s, p, false);
		return;
	}
	probe_answer(s);
	pending_requests(s);
	pep_presence(s, p, true);
	if (s->priority >= 0) {
		const char *err;
		if (chat_offline_each(xsrv.store, s->owner, send_offline, s,
		    &err) < 0)
			log_warnx("xmpp %s: offline messages: %s", s->full,
			    err);
	}
}

/* presence_each - send p from s's user to the available sessions of
 * owner (all, or the one resource) */
static void
to_user(const char *owner, const char *resource, const struct xml_node *n,
	const char *from, bool available_only)
{
	struct xuser *u = xuser_find(owner);

	if (u == NULL)
		return;
	for (struct xsess *t = u->sessions; t != NULL; t = t->unext) {
		if (t->dead || (available_only && !t->available))
			continue;
		if (resource != NULL && strcmp(t->resource, resource) != 0)
			continue;
		im_deliver(t, n, from, false);
	}
}

/* presence_of_user_to - the presence (or unavailable) of every available
 * session of from_user to owner's available sessions (RFC 6121 3.1.5,
 * 3.2.3) */
static void
presence_of_user_to(struct xsess *s, const char *owner, bool unavailable)
{
	struct xuser *u = s->user;

	for (struct xsess *f = u->sessions; f != NULL; f = f->unext) {
		if (!f->available || f->presence == NULL)
			continue;
		struct xml_node *p = unavailable ? xml_node_new("presence",
		    "type", "unavailable", NULL) : xml_node_copy(f->presence);
		to_user(owner, NULL, p, f->full, true);
		xml_node_free(&p);
	}
}

int
im_item_load(const char *owner, const char *jid, struct roster_item *it)
{
	const char *err;
	int r = chat_roster_get(xsrv.store, owner, jid, it, &err);

	if (r < 0)
		log_warnx("xmpp %s: roster: %s", owner, err);
	if (r == 0)
		it->jid = xstrdup(jid);
	return r;
}

void
im_item_save(const char *owner, int64_t po_id, struct roster_item *it,
	     bool push)
{
	const char *err;

	if (chat_roster_put(xsrv.store, owner, it, &err) < 0) {
		log_warnx("xmpp %s: roster: %s", owner, err);
		return;
	}
	if (push && it->listed)
		im_roster_push_po(owner, NULL, po_id, it, false);
}

/* im_presence_subscription - RFC 6121 3: s's user sends a subscription
 * stanza of type to the bare JID contact */
void
im_presence_subscription(struct xsess *s, const char *type, const char *contact)
{
	struct roster_item mine, theirs;
	struct jid j;
	char *owner = NULL;
	int64_t po = -1;
	enum dest d;
	bool both_known;

	if (jid_parse(contact, &j) < 0)
		return;
	d = im_resolve(&j, &owner, &po);
	jid_clear(&j);
	if (im_item_load(s->owner, contact, &mine) < 0) {
		free(owner);
		return;
	}
	both_known = d == DEST_USER && po == s->po_id;
	memset(&theirs, 0, sizeof(theirs));
	if (d == DEST_USER && im_item_load(owner, s->bare, &theirs) < 0) {
		chat_roster_item_clear(&mine);
		free(owner);
		return;
	}
	struct xml_node *p = xml_node_new("presence", "type", type, "to",
	    contact, NULL);
	if (strcmp(type, "subscribe") == 0) {
		if (!(mine.sub & CHAT_SUB_TO) && !mine.ask) {
			if (!mine.stored && chat_roster_count(xsrv.store,
			    s->owner, &(const char *){ NULL }) >=
			    CHAT_ROSTER_MAX)
				goto out;
			mine.ask = true;
			mine.listed = true;
			im_item_save(s->owner, s->po_id, &mine, true);
		}
		if (d != DEST_USER) {
			/* RFC 6121 3.1.3: no such user: unsubscribed */
			struct xml_node *u = xml_node_new("presence", "type",
			    "unsubscribed", "from", contact, "to", s->bare,
			    NULL);
			mine.ask = false;
			im_item_save(s->owner, s->po_id, &mine, true);
			xsess_send(s, u);
			xml_node_free(&u);
			goto out;
		}
		if ((theirs.sub & CHAT_SUB_FROM) || both_known) {
			/* already approved: answer for the contact */
			mine.ask = false;
			mine.sub |= CHAT_SUB_TO;
			im_item_save(s->owner, s->po_id, &mine, true);
			struct xml_node *ok = xml_node_new("presence", "type",
			    "subscribed", "from", contact, "to", s->bare, NULL);
			to_user(s->owner, NULL, ok, NULL, false);
			xml_node_free(&ok);
			goto out;
		}
		if (!theirs.pending_in) {
			if (!theirs.stored && chat_roster_count(xsrv.store,
			    owner, &(const char *){ NULL }) >= CHAT_ROSTER_MAX)
				goto out;
			theirs.pending_in = true;
			if (!theirs.stored)
				theirs.listed = false;
			im_item_save(owner, po, &theirs, false);
		}
		to_user(owner, NULL, p, s->bare, true);
	} else if (strcmp(type, "subscribed") == 0) {
		if (!mine.pending_in && !both_known)
			goto out;         /* RFC 6121 3.1.5: nothing asked */
		mine.pending_in = false;
		mine.sub |= CHAT_SUB_FROM;
		mine.listed = true;
		im_item_save(s->owner, s->po_id, &mine, true);
		if (d == DEST_USER) {
			theirs.ask = false;
			theirs.sub |= CHAT_SUB_TO;
			theirs.listed = true;
			im_item_save(owner, po, &theirs, true);
			to_user(owner, NULL, p, s->bare, true);
			presence_of_user_to(s, owner, false);
		}
	} else if (strcmp(type, "unsubscribe") == 0) {
		if (mine.stored) {
			mine.sub &= ~CHAT_SUB_TO;
			mine.ask = false;
			im_item_save(s->owner, s->po_id, &mine, true);
		}
		if (d == DEST_USER && theirs.stored) {
			theirs.sub &= ~CHAT_SUB_FROM;
			theirs.pending_in = false;
			im_item_save(owner, po, &theirs, true);
			to_user(owner, NULL, p, s->bare, true);
			if (!both_known) {
				struct xuser *u = xuser_find(owner);
				/* the contact stops seeing nothing new: its
				 * resources go unavailable to us */
				for (struct xsess *t = u ? u->sessions : NULL;
				    t != NULL; t = t->unext) {
					struct xml_node *un = xml_node_new(
					    "presence", "type", "unavailable",
					    NULL);
					to_user(s->owner, NULL, un, t->full,
					    true);
					xml_node_free(&un);
				}
			}
		}
	} else {        /* unsubscribed */
		if (mine.stored) {
			mine.sub &= ~CHAT_SUB_FROM;
			mine.pending_in = false;
			im_item_save(s->owner, s->po_id, &mine, true);
		}
		if (d == DEST_USER && theirs.stored) {
			theirs.sub &= ~CHAT_SUB_TO;
			theirs.ask = false;
			im_item_save(owner, po, &theirs, true);
			to_user(owner, NULL, p, s->bare, true);
			if (!both_known)
				presence_of_user_to(s, owner, true);
		}
	}
out:
	xml_node_free(&p);
	chat_roster_item_clear(&mine);
	chat_roster_item_clear(&theirs);
	free(owner);
}

void
im_presence(struct xsess *s, struct xml_node *p)
{
	const char *type = xml_node_attr(p, "type");
	const char *to = xml_node_attr(p, "to");
	struct jid j;
	char *owner = NULL, *bare;
	enum dest d;

	if (type != NULL && !is(type, "unavailable") && !is(type, "subscribe")
	    && !is(type, "subscribed") && !is(type, "unsubscribe") &&
	    !is(type, "unsubscribed") && !is(type, "probe") &&
	    !is(type, "error")) {
		im_stanza_error(s, p, "modify", "bad-request", "unknown "
		    "presence type");
		return;
	}
	if (to == NULL) {
		if (type == NULL || is(type, "unavailable"))
			presence_broadcast(s, p, type);
		return;   /* a subscription stanza without a contact */
	}
	if (jid_parse(to, &j) < 0) {
		im_stanza_error(s, p, "modify", "jid-malformed", NULL);
		return;
	}
	bare = jid_bare(&j);
	if (im_blocks(s->owner, to)) {
		im_blocked_error(s, p);
		goto out;
	}
	int64_t po = -1;
	d = im_resolve(&j, &owner, &po);
	if (d == DEST_MUC) {
		muc_presence(s, p, &j, po);
		goto out;
	}
	if (d == DEST_USER && im_blocks(owner, s->full))
		goto out;       /* XEP-0191 3.5: dropped without a word */
	if (type != NULL && (is(type, "subscribe") || is(type, "subscribed") ||
	    is(type, "unsubscribe") || is(type, "unsubscribed"))) {
		if (d == DEST_REMOTE)
			federate_subscription(s, type, bare);
		else if (strcmp(bare, s->bare) != 0)
			im_presence_subscription(s, type, bare);
		goto out;
	}
	if (d == DEST_REMOTE) {
		federate_out(s, p, &j);   /* directed presence, probes */
		goto out;
	}
	if (d != DEST_USER)
		goto out;   /* presence to nobody is dropped (RFC 6121 4.6) */
	if (is(type, "probe")) {
		/* a client's own probe: answered if it may see them */
		struct xuser *u = xuser_find(owner);
		for (struct xsess *t = u ? u->sessions : NULL; t != NULL;
		    t = t->unext)
			if (t->available && t->presence != NULL &&
			    im_may_see(s, t))
				im_deliver(s, t->presence, t->full, true);
		goto out;
	}
	/* directed presence (RFC 6121 4.6) */
	to_user(owner, j.resource, p, s->full, j.resource == NULL);
out:
	free(bare);
	free(owner);
	jid_clear(&j);
}
