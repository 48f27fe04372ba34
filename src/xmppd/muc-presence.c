/* muc-presence - XEP-0045 presence: joining (with the history from the
 * room's archive), presence changes, leaving (part of muc, muc-int.h) */
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

/* muc_occ_presence - o's presence as t sees it (status 110 for itself);
 * codes: more status codes (0-terminated) */
struct xml_node *
muc_occ_presence(struct room *r, struct occupant *o, const struct occupant *t,
	     bool unavailable, const int *codes)
{
	struct xml_node *p = unavailable ? xml_node_new("presence", "type",
	    "unavailable", NULL) : xml_node_copy(o->presence);
	struct xml_node *x, *mx;
	char *from = xasprintf("%s/%s", r->jid, o->nick);
	const char *aff = muc_aff_of(r, o->owner);

	while ((mx = xml_node_child(p, "x", NS_MUC)) != NULL ||
	    (mx = xml_node_child(p, "x", NS_MUC_USER)) != NULL) {
		xml_node_detach(mx);
		xml_node_free(&mx);
	}
	xml_node_set_attr(p, "from", from);
	xml_node_set_attr(p, "to", t->jid);
	x = xml_node_add(p, "x", "xmlns", NS_MUC_USER, NULL);
	xml_node_add(x, "item", "affiliation", aff, "role", unavailable ?
	    "none" : muc_moderator(r, o->owner) ? "moderator" : "participant",
	    "jid", o->jid, NULL);
	/* non-anonymous room (100); this is you (110) */
	xml_node_add(x, "status", "code", "100", NULL);
	if (o == t)
		xml_node_add(x, "status", "code", "110", NULL);
	for (const int *c = codes; c != NULL && *c != 0; c++) {
		char code[8];
		snprintf(code, sizeof(code), "%d", *c);
		xml_node_add(x, "status", "code", code, NULL);
	}
	free(from);
	return p;
}

void
muc_broadcast_presence(struct room *r, struct occupant *o, bool unavailable,
		   const int *codes)
{
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		struct xml_node *p = muc_occ_presence(r, o, k, unavailable,
		    codes);
		muc_occ_send(k, p);
		xml_node_free(&p);
	}
}

/* muc_occ_leave - o leaves (codes: why, e.g. 307 kicked); a temporary room
 * goes with its last occupant */
void
muc_occ_leave(struct room *r, struct occupant *o, const int *codes)
{
	struct xml_node *p = muc_occ_presence(r, o, o, true, codes);

	for (struct occupant **pp = &r->occ; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	r->nocc--;
	muc_occ_send(o, p);
	xml_node_free(&p);
	muc_broadcast_presence(r, o, true, codes);
	muc_occ_free(o);
	if (r->occ == NULL && !r->persistent)
		muc_room_free(r, true);
}

/* muc_error - an error from the room or service (RFC 6120 8.3) */
void
muc_error(const struct who *w, const struct xml_node *n, const char *from,
	  const char *type, const char *cond, const char *text)
{
	if (w->s != NULL) {
		im_error_from(w->s, n, from, type, cond, text);
		return;
	}
	if (is(xml_node_attr(n, "type"), "error"))
		return;           /* never an error about an error */
	struct xml_node *e = xml_node_new(n->name, "type", "error", "from",
	    from, "to", w->full, NULL);
	if (xml_node_attr(n, "id") != NULL)
		xml_node_set_attr(e, "id", xml_node_attr(n, "id"));
	struct xml_node *er = xml_node_add(e, "error", "type", type, NULL);
	xml_node_add(er, cond, "xmlns", NS_STANZAS, NULL);
	if (text != NULL)
		xml_node_add_text(xml_node_add(er, "text", "xmlns",
		    NS_STANZAS, "xml:lang", "en", NULL), text);
	muc_who_send(w, e);
	xml_node_free(&e);
}

/* send_history - the room's last messages from its archive, with the
 * time each was sent (XEP-0203) */
struct hist_ctx {
	const struct who *w;
	struct room *r;
};

static void
hist_row(void *ctx, int64_t id, int64_t stamp, const char *stanza)
{
	struct hist_ctx *hc = ctx;
	char ts[32];
	struct tm tm;
	time_t t = (time_t)stamp;
	size_t len = strlen(stanza);
	static const char end[] = "</message>";

	(void)id;
	if (len < 8 + sizeof(end) - 1 || strncmp(stanza, "<message", 8) != 0 ||
	    strcmp(stanza + len - (sizeof(end) - 1), end) != 0)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, "<message to='");
	xml_escape(&b, hc->w->full);
	buf_puts(&b, "'");
	buf_append(&b, stanza + 8, len - 8 - (sizeof(end) - 1));
	buf_puts(&b, "<delay xmlns='" NS_DELAY "' from='");
	xml_escape(&b, hc->r->jid);
	buf_printf(&b, "' stamp='%s'/></message>", ts);
	if (hc->w->s != NULL)
		xsess_send_stanza_text(hc->w->s, b.data);
	else {
		struct xml_node *m = xml_node_parse(b.data, XML_STANZA_MAX);
		char *from = m ? xstrdup(xml_node_attr(m, "from")) : NULL;
		if (m != NULL && from != NULL)
			federate_send_from(from, hc->w->full, m);
		else
			xml_node_free(&m);
		free(from);
	}
	buf_free(&b);
}

static void
send_history(const struct who *w, struct room *r)
{
	struct chat_archive_query q = { .before = -1, .max = MUC_HISTORY };
	struct hist_ctx hc = { w, r };
	int64_t count;
	bool complete;
	const char *err;

	if (chat_archive_find(xsrv.store, r->jid, &q, hist_row, &hc, &count,
	    &complete, &err) < 0)
		log_warnx("xmpp %s: history: %s", r->jid, err);
}

void
muc_join(const struct who *w, struct xml_node *p, const struct jid *to,
     struct room *r, const char *room_jid, int64_t po)
{
	struct occupant *o;
	char *full = xasprintf("%s/%s", room_jid, to->resource);
	bool created = false;

	if (w->s != NULL && w->po_id != po) {
		muc_error(w, p, full, "auth", "registration-required",
		    "rooms of this service are for its post office's users");
		goto out;
	}
	if (w->s == NULL && r == NULL) {
		/* XEP-0045 10.1.1: creation restricted */
		muc_error(w, p, full, "cancel", "not-allowed", "rooms are "
		    "made by users of this server; remote users join "
		    "existing ones");
		goto out;
	}
	if (strlen(to->resource) > MUC_NAME_MAX) {
		muc_error(w, p, full, "modify", "not-acceptable",
		    "nickname too long");
		goto out;
	}
	if (r != NULL) {
		const char *aff = muc_aff_of(r, w->owner);
		if (is(aff, "outcast")) {
			muc_error(w, p, full, "auth", "forbidden",
			    "you are banned from this room");
			goto out;
		}
		if (r->members_only && is(aff, "none")) {
			muc_error(w, p, full, "auth", "registration-required",
			    "the room is for its members");
			goto out;
		}
		if (r->password != NULL && !is(aff, "owner")) {
			struct xml_node *x = xml_node_child(p, "x", NS_MUC);
			struct xml_node *pw = x ? xml_node_child(x,
			    "password", NULL) : NULL;
			char *t = pw ? xml_node_text(pw) : NULL;
			bool ok = t != NULL && passwd_verify(t, r->password);
			if (t != NULL)
				explicit_bzero(t, strlen(t));
			free(t);
			if (!ok) {
				muc_error(w, p, full, "auth", "not-authorized",
				    "the room's password is needed");
				goto out;
			}
		}
		if (muc_occ_by_nick(r, to->resource) != NULL) {
			muc_error(w, p, full, "cancel", "conflict",
			    "nickname in use");
			goto out;
		}
		if (r->nocc >= MUC_OCCUPANTS_MAX) {
			muc_error(w, p, full, "wait", "service-unavailable",
			    "the room is full");
			goto out;
		}
	}
	if (r == NULL) {
		if (muc_nrooms >= MUC_ROOMS_MAX) {
			muc_error(w, p, full, "wait", "resource-constraint",
			    "too many rooms");
			goto out;
		}
		r = muc_room_new(room_jid, po);
		muc_aff_set(r, w->owner, "owner");
		created = true;
	}
	o = xcalloc(1, sizeof(*o));
	o->s = w->s;
	o->jid = xstrdup(w->full);
	o->owner = xstrdup(w->owner);
	o->nick = xstrdup(to->resource);
	o->presence = xml_node_copy(p);
	o->tokens = MUC_FLOOD_BURST;
	clock_gettime(CLOCK_MONOTONIC, &o->refill);
	xml_node_set_attr(o->presence, "type", NULL);
	/* the others to the newcomer, then the newcomer to all, itself
	 * last (XEP-0045 7.2.3) */
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		struct xml_node *kp = muc_occ_presence(r, k, o, false, NULL);
		muc_occ_send(o, kp);
		xml_node_free(&kp);
	}
	o->next = r->occ;
	r->occ = o;
	r->nocc++;
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		if (k == o)
			continue;
		struct xml_node *kp = muc_occ_presence(r, o, k, false, NULL);
		muc_occ_send(k, kp);
		xml_node_free(&kp);
	}
	static const int created_codes[] = { 201, 0 };
	struct xml_node *self = muc_occ_presence(r, o, o, false, created ?
	    created_codes : NULL);
	muc_occ_send(o, self);
	xml_node_free(&self);
	/* history (with its delay), then the subject */
	send_history(w, r);
	struct xml_node *subj = xml_node_new("message", "type", "groupchat",
	    "from", r->jid, "to", w->full, NULL);
	xml_node_add_text(xml_node_add(subj, "subject", NULL), r->subject);
	muc_who_send(w, subj);
	xml_node_free(&subj);
	log_info("xmpp %s joined %s as %s%s", w->full, r->jid, o->nick,
	    w->s == NULL ? " (federation)" : "");
out:
	free(full);
}

void
muc_presence_who(const struct who *w, struct xml_node *p, const struct jid *to,
	     int64_t po)
{
	xsrv.state_dirty = true;      /* occupants may change */
	const char *type = xml_node_attr(p, "type");
	char *room_jid;
	struct room *r;
	struct occupant *o;

	if (to->local == NULL)
		return;
	room_jid = xasprintf("%s@%s", to->local, to->domain);
	r = muc_room_find(room_jid);
	o = r ? muc_occ_by_who(r, w) : NULL;
	if (is(type, "unavailable")) {
		if (o != NULL)
			muc_occ_leave(r, o, NULL);
	} else if (is(type, "error") && o != NULL && o->s == NULL) {
		/* a remote occupant's server says it is gone (XEP-0045
		 * 7.2.11, 333: left for technical reasons) */
		static const int gone[] = { 333, 0 };
		muc_occ_leave(r, o, gone);
	} else if (type != NULL) {
		/* subscriptions and probes to rooms are not served */
	} else if (to->resource == NULL) {
		muc_error(w, p, room_jid, "modify", "jid-malformed",
		    "join with room@service/nickname");
	} else if (o != NULL) {
		if (strcmp(o->nick, to->resource) != 0) {
			char *full = xasprintf("%s/%s", room_jid, to->resource);
			muc_error(w, p, full, "cancel", "not-acceptable",
			    "nickname changes are not supported");
			free(full);
		} else {
			xml_node_free(&o->presence);
			o->presence = xml_node_copy(p);
			muc_broadcast_presence(r, o, false, NULL);
		}
	} else
		muc_join(w, p, to, r, room_jid, po);
	free(room_jid);
}

void
muc_presence(struct xsess *s, struct xml_node *p, const struct jid *to,
	     int64_t po)
{
	struct who w = { s, s->full, s->owner, s->po_id };

	muc_presence_who(&w, p, to, po);
}

/* muc_bounce - a stanza of a room to a remote occupant could not leave
 * (its server unreachable, federate_bounce): the occupant is marked gone,
 * gets nothing more, and leaves at the next muc_sweep (not now: the
 * bounce may come from inside a loop over the room's occupants) */
void
muc_bounce(const struct jid *room, const char *to)
{
	char *room_jid = xasprintf("%s@%s", room->local, room->domain);
	struct room *r = muc_room_find(room_jid);

	for (struct occupant *o = r ? r->occ : NULL; o != NULL; o = o->next)
		if (o->s == NULL && strcmp(o->jid, to) == 0)
			o->gone = true;
	free(room_jid);
}

/* muc_sweep - each second: remote occupants found gone leave (XEP-0045
 * 7.2.11, 333: for technical reasons) */
void
muc_sweep(void)
{
	static const int gone[] = { 333, 0 };

	for (struct room *r = muc_rooms, *next; r != NULL; r = next) {
		next = r->next;
		struct occupant *o = r->occ;
		while (o != NULL) {
			if (!o->gone) {
				o = o->next;
				continue;
			}
			bool last = r->nocc == 1 && !r->persistent;
			log_info("xmpp %s: %s unreachable, out of the room",
			    r->jid, o->jid);
			xsrv.state_dirty = true;
			muc_occ_leave(r, o, gone);
			if (last)
				break;          /* r is gone */
			o = r->occ;
		}
	}
}
