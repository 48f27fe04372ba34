/* muc - multi-user chat (XEP-0045), the basic form: each post office has
 * a service conference.<domain> for its own users; rooms are temporary
 * (made by the first occupant, who owns it, gone with the last),
 * non-anonymous, and kept in memory with a short history */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "directory.h"
#include "log.h"
#include "xalloc.h"
#include "xmppd.h"

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define MUC_PREFIX "conference."
#define MUC_HISTORY 20           /* messages a joining occupant gets */
#define MUC_OCCUPANTS_MAX 200
#define MUC_ROOMS_MAX 1000

struct occupant {
	struct occupant *next;
	struct xsess *s;
	char *nick;
	struct xml_node *presence;   /* its last presence, as sent */
};

struct room {
	struct room *next;
	char *jid;                   /* room@conference.domain */
	int64_t po_id;
	char *owner;                 /* the creator's "mailbox@postoffice" */
	char *subject;
	struct occupant *occ;
	size_t nocc;
	char *hist[MUC_HISTORY];     /* serialised groupchat messages */
	time_t hist_at[MUC_HISTORY];
	size_t nhist;
};

static struct room *rooms;
static size_t nrooms;

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

bool
muc_domain(const char *domain, int64_t *po_r)
{
	struct dir_domain d;
	const char *err;

	if (strncmp(domain, MUC_PREFIX, strlen(MUC_PREFIX)) != 0)
		return false;
	if (dir_domain_get(xsrv.svc->db, domain + strlen(MUC_PREFIX), &d,
	    &err) <= 0 || d.disabled || d.postoffice_disabled)
		return false;
	*po_r = d.postoffice_id;
	return true;
}

static struct room *
room_find(const char *jid)
{
	for (struct room *r = rooms; r != NULL; r = r->next)
		if (strcmp(r->jid, jid) == 0)
			return r;
	return NULL;
}

static struct occupant *
occ_by_session(struct room *r, struct xsess *s)
{
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (o->s == s)
			return o;
	return NULL;
}

static struct occupant *
occ_by_nick(struct room *r, const char *nick)
{
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (strcmp(o->nick, nick) == 0)
			return o;
	return NULL;
}

static void
room_free(struct room *r)
{
	for (struct room **pp = &rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	nrooms--;
	for (size_t i = 0; i < r->nhist; i++)
		free(r->hist[i]);
	free(r->jid);
	free(r->owner);
	free(r->subject);
	free(r);
}

/* occ_presence - o's presence as t sees it (status 110 for itself) */
static struct xml_node *
occ_presence(struct room *r, struct occupant *o, struct xsess *t,
	     bool unavailable)
{
	struct xml_node *p = unavailable ? xml_node_new("presence", "type",
	    "unavailable", NULL) : xml_node_copy(o->presence);
	struct xml_node *x, *mx;
	char *from = xasprintf("%s/%s", r->jid, o->nick);
	bool owner = strcmp(o->s->owner, r->owner) == 0;

	while ((mx = xml_node_child(p, "x", NS_MUC)) != NULL ||
	    (mx = xml_node_child(p, "x", NS_MUC_USER)) != NULL) {
		xml_node_detach(mx);
		xml_node_free(&mx);
	}
	xml_node_set_attr(p, "from", from);
	xml_node_set_attr(p, "to", t->full);
	x = xml_node_add(p, "x", "xmlns", NS_MUC_USER, NULL);
	xml_node_add(x, "item", "affiliation", owner ? "owner" : "member",
	    "role", unavailable ? "none" : owner ? "moderator" : "participant",
	    "jid", o->s->full, NULL);
	/* non-anonymous room (100); this is you (110) */
	xml_node_add(x, "status", "code", "100", NULL);
	if (o->s == t)
		xml_node_add(x, "status", "code", "110", NULL);
	free(from);
	return p;
}

static void
broadcast_presence(struct room *r, struct occupant *o, bool unavailable)
{
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		struct xml_node *p = occ_presence(r, o, k->s, unavailable);
		xsess_send(k->s, p);
		xml_node_free(&p);
	}
}

static void
occ_leave(struct room *r, struct occupant *o)
{
	struct xml_node *p = occ_presence(r, o, o->s, true);

	for (struct occupant **pp = &r->occ; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	r->nocc--;
	xsess_send(o->s, p);
	xml_node_free(&p);
	broadcast_presence(r, o, true);
	xml_node_free(&o->presence);
	free(o->nick);
	free(o);
	if (r->occ == NULL)
		room_free(r);
}

static void
muc_error(struct xsess *s, const struct xml_node *n, const char *from,
	  const char *type, const char *cond, const char *text)
{
	struct xml_node *c = xml_node_copy(n);

	/* im_stanza_error answers from the stanza's 'to' */
	xml_node_set_attr(c, "to", from);
	im_stanza_error(s, c, type, cond, text);
	xml_node_free(&c);
}

static void
join(struct xsess *s, struct xml_node *p, const struct jid *to,
     struct room *r, const char *room_jid, int64_t po)
{
	struct occupant *o;
	char *full = xasprintf("%s/%s", room_jid, to->resource);
	bool created = false;

	if (s->po_id != po) {
		muc_error(s, p, full, "auth", "registration-required",
		    "rooms of this service are for its post office's users");
		goto out;
	}
	if (r != NULL && occ_by_nick(r, to->resource) != NULL) {
		muc_error(s, p, full, "cancel", "conflict", "nickname in use");
		goto out;
	}
	if (r != NULL && r->nocc >= MUC_OCCUPANTS_MAX) {
		muc_error(s, p, full, "wait", "service-unavailable",
		    "the room is full");
		goto out;
	}
	if (r == NULL) {
		if (nrooms >= MUC_ROOMS_MAX) {
			muc_error(s, p, full, "wait", "resource-constraint",
			    "too many rooms");
			goto out;
		}
		r = xcalloc(1, sizeof(*r));
		r->jid = xstrdup(room_jid);
		r->po_id = po;
		r->owner = xstrdup(s->owner);
		r->subject = xstrdup("");
		r->next = rooms;
		rooms = r;
		nrooms++;
		created = true;
	}
	o = xcalloc(1, sizeof(*o));
	o->s = s;
	o->nick = xstrdup(to->resource);
	o->presence = xml_node_copy(p);
	xml_node_set_attr(o->presence, "type", NULL);
	/* the others to the newcomer, then the newcomer to all, itself
	 * last (XEP-0045 7.2.3) */
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		struct xml_node *kp = occ_presence(r, k, s, false);
		xsess_send(s, kp);
		xml_node_free(&kp);
	}
	o->next = r->occ;
	r->occ = o;
	r->nocc++;
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		if (k == o)
			continue;
		struct xml_node *kp = occ_presence(r, o, k->s, false);
		xsess_send(k->s, kp);
		xml_node_free(&kp);
	}
	struct xml_node *self = occ_presence(r, o, s, false);
	if (created)
		xml_node_add(xml_node_child(self, "x", NS_MUC_USER), "status",
		    "code", "201", NULL);
	xsess_send(s, self);
	xml_node_free(&self);
	/* history (with its delay), then the subject */
	for (size_t i = 0; i < r->nhist; i++) {
		char ts[32];
		struct tm tm;
		gmtime_r(&r->hist_at[i], &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		struct buf b;
		buf_init(&b, 0);
		buf_puts(&b, r->hist[i]);
		/* the stored text ends with </message> */
		buf_truncate(&b, b.len - strlen("</message>"));
		buf_printf(&b, "<delay xmlns='" NS_DELAY "' from='%s' stamp="
		    "'%s'/></message>", r->jid, ts);
		char *to_attr = xasprintf(" to='%s'", s->full);
		/* addressed to the newcomer: after "<message" */
		struct buf c;
		buf_init(&c, 0);
		buf_append(&c, b.data, 8);
		buf_puts(&c, to_attr);
		buf_puts(&c, b.data + 8);
		xsess_send_stanza_text(s, c.data);
		free(to_attr);
		buf_free(&b);
		buf_free(&c);
	}
	struct xml_node *subj = xml_node_new("message", "type", "groupchat",
	    "from", r->jid, "to", s->full, NULL);
	xml_node_add_text(xml_node_add(subj, "subject", NULL), r->subject);
	xsess_send(s, subj);
	xml_node_free(&subj);
	log_info("xmpp %s joined %s as %s", s->full, r->jid, o->nick);
out:
	free(full);
}

void
muc_presence(struct xsess *s, struct xml_node *p, const struct jid *to,
	     int64_t po)
{
	const char *type = xml_node_attr(p, "type");
	char *room_jid;
	struct room *r;
	struct occupant *o;

	if (to->local == NULL)
		return;
	room_jid = xasprintf("%s@%s", to->local, to->domain);
	r = room_find(room_jid);
	o = r ? occ_by_session(r, s) : NULL;
	if (is(type, "unavailable")) {
		if (o != NULL)
			occ_leave(r, o);
	} else if (type != NULL) {
		/* subscriptions and probes to rooms are not served */
	} else if (to->resource == NULL) {
		muc_error(s, p, room_jid, "modify", "jid-malformed",
		    "join with room@service/nickname");
	} else if (o != NULL) {
		if (strcmp(o->nick, to->resource) != 0) {
			char *full = xasprintf("%s/%s", room_jid, to->resource);
			muc_error(s, p, full, "cancel", "not-acceptable",
			    "nickname changes are not supported");
			free(full);
		} else {
			xml_node_free(&o->presence);
			o->presence = xml_node_copy(p);
			broadcast_presence(r, o, false);
		}
	} else
		join(s, p, to, r, room_jid, po);
	free(room_jid);
}

void
muc_message(struct xsess *s, struct xml_node *m, const struct jid *to,
	    int64_t po)
{
	const char *type = xml_node_attr(m, "type");
	char *room_jid;
	struct room *r;
	struct occupant *o, *k;

	(void)po;
	if (to->local == NULL || is(type, "error"))
		return;
	room_jid = xasprintf("%s@%s", to->local, to->domain);
	r = room_find(room_jid);
	o = r ? occ_by_session(r, s) : NULL;
	if (o == NULL) {
		muc_error(s, m, room_jid, "cancel", "not-acceptable",
		    "join the room first");
		goto out;
	}
	char *from = xasprintf("%s/%s", r->jid, o->nick);
	if (to->resource != NULL) {
		/* a private message to an occupant */
		k = occ_by_nick(r, to->resource);
		if (k == NULL || is(type, "groupchat"))
			muc_error(s, m, room_jid, "cancel", "item-not-found",
			    NULL);
		else {
			struct xml_node *c = xml_node_copy(m);
			xml_node_set_attr(c, "from", from);
			xml_node_set_attr(c, "to", k->s->full);
			xsess_send(k->s, c);
			xml_node_free(&c);
		}
		free(from);
		goto out;
	}
	if (!is(type, "groupchat")) {
		free(from);
		muc_error(s, m, room_jid, "modify", "bad-request",
		    "messages to a room are of type groupchat");
		goto out;
	}
	struct xml_node *subject = xml_node_child(m, "subject", NULL);
	if (subject != NULL) {
		if (strcmp(s->owner, r->owner) != 0) {
			free(from);
			muc_error(s, m, room_jid, "auth", "forbidden",
			    "only the room's owner sets the subject");
			goto out;
		}
		free(r->subject);
		r->subject = xml_node_text(subject);
	}
	struct xml_node *c = xml_node_copy(m);
	xml_node_set_attr(c, "from", from);
	xml_node_set_attr(c, "to", NULL);
	if (subject == NULL && xml_node_child(m, "body", NULL) != NULL) {
		struct buf b;
		buf_init(&b, 0);
		xml_node_write(c, &b);
		if (r->nhist == MUC_HISTORY) {
			free(r->hist[0]);
			memmove(r->hist, r->hist + 1,
			    (MUC_HISTORY - 1) * sizeof(char *));
			memmove(r->hist_at, r->hist_at + 1,
			    (MUC_HISTORY - 1) * sizeof(time_t));
			r->nhist--;
		}
		r->hist_at[r->nhist] = time(NULL);
		r->hist[r->nhist++] = buf_steal(&b);
	}
	for (k = r->occ; k != NULL; k = k->next) {
		xml_node_set_attr(c, "to", k->s->full);
		xsess_send(k->s, c);
	}
	xml_node_free(&c);
	free(from);
out:
	free(room_jid);
}

void
muc_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
       const struct jid *to, int64_t po)
{
	const char *ns = payload ? xml_node_xmlns(payload) : NULL;
	const char *type = xml_node_attr(iq, "type");
	char *target = to->local ? xasprintf("%s@%s", to->local, to->domain) :
	    xstrdup(to->domain);
	struct xml_node *r = NULL, *q;

	if (!is(type, "get") && !is(type, "set"))
		goto out;
	if (to->resource != NULL || !is(type, "get")) {
		muc_error(s, iq, target, "cancel", "service-unavailable", NULL);
		goto out;
	}
	r = xml_node_new("iq", "type", "result", "from", target, "to", s->full,
	    NULL);
	if (xml_node_attr(iq, "id") != NULL)
		xml_node_set_attr(r, "id", xml_node_attr(iq, "id"));
	if (is(ns, NS_DISCO_INFO)) {
		q = xml_node_add(r, "query", "xmlns", NS_DISCO_INFO, NULL);
		if (to->local == NULL) {
			xml_node_add(q, "identity", "category", "conference",
			    "type", "text", "name", "Chatrooms", NULL);
			xml_node_add(q, "feature", "var", NS_MUC, NULL);
		} else if (room_find(target) != NULL) {
			xml_node_add(q, "identity", "category", "conference",
			    "type", "text", NULL);
			xml_node_add(q, "feature", "var", NS_MUC, NULL);
			xml_node_add(q, "feature", "var", "muc_nonanonymous",
			    NULL);
			xml_node_add(q, "feature", "var", "muc_temporary",
			    NULL);
		} else {
			xml_node_free(&r);
			muc_error(s, iq, target, "cancel", "item-not-found",
			    NULL);
			goto out;
		}
		xml_node_add(q, "feature", "var", NS_DISCO_INFO, NULL);
	} else if (is(ns, NS_DISCO_ITEMS)) {
		q = xml_node_add(r, "query", "xmlns", NS_DISCO_ITEMS, NULL);
		if (to->local == NULL && s->po_id == po)
			for (struct room *k = rooms; k != NULL; k = k->next)
				if (strcmp(strchr(k->jid, '@') + 1,
				    to->domain) == 0)
					xml_node_add(q, "item", "jid", k->jid,
					    NULL);
	} else if (is(ns, NS_PING)) {
		/* a result as it is */
	} else {
		xml_node_free(&r);
		muc_error(s, iq, target, "cancel", "service-unavailable", NULL);
		goto out;
	}
	xsess_send(s, r);
out:
	xml_node_free(&r);
	free(target);
}

void
muc_session_gone(struct xsess *s)
{
	struct room *r = rooms, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		struct occupant *o = occ_by_session(r, s);
		if (o != NULL)
			occ_leave(r, o);  /* may free r: next is kept */
	}
}
