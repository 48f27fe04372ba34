/* muc - multi-user chat (XEP-0045): each post office has a service
 * conference.<domain> for its own users. A room is made by its first
 * occupant, who owns it; temporary until an owner makes it persistent
 * (muc#owner configuration), then kept in the chat store with its
 * affiliations and survives restarts. Members-only and password rooms,
 * mediated invitations, affiliations and kicks (muc#admin), a flood
 * limit per occupant; the history comes from the room's archive. */
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

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"
#define NS_MUC_CONFIG "http://jabber.org/protocol/muc#roomconfig"
#define MUC_PREFIX "conference."
#define MUC_HISTORY 20           /* messages a joining occupant gets */
#define MUC_OCCUPANTS_MAX 200
#define MUC_ROOMS_MAX 1000
#define MUC_AFF_MAX 2000         /* affiliations of one room */
#define MUC_INVITES_MAX 10       /* invitations in one message */
#define MUC_NAME_MAX 256         /* room name, subject: bytes */
#define MUC_SUBJECT_MAX 4096
#define MUC_FLOOD_BURST 10       /* messages at once ... */
#define MUC_FLOOD_RATE 2         /* ... then so many a second */

struct occupant {
	struct occupant *next;
	struct xsess *s;             /* NULL: a remote user (federation) */
	char *jid;                   /* its real full JID */
	char *owner;                 /* affiliations' key: a local owner, or
	                              * "xmpp:" and a remote bare JID */
	char *nick;
	struct xml_node *presence;   /* its last presence, as sent */
	double tokens;               /* flood limit (token bucket) */
	struct timespec refill;
};

struct aff {
	struct aff *next;
	char *owner;                 /* "mailbox@postoffice" */
	char aff[8];                 /* owner, admin, member, outcast */
};

struct room {
	struct room *next;
	char *jid;                   /* room@conference.domain */
	int64_t po_id;
	char *name;
	char *subject;
	bool persistent;
	bool members_only;
	char *password;              /* crypt(3) hash or NULL */
	struct aff *affs;
	size_t naff;
	struct occupant *occ;
	size_t nocc;
	bool seen;                   /* muc_sync */
};

/* who - the sender of a stanza to a room or the service: a local
 * session, or a user of a federating server (s NULL, po_id 0) */
struct who {
	struct xsess *s;
	const char *full;
	const char *owner;
	int64_t po_id;
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
	return im_component_domain(domain, MUC_PREFIX, po_r);
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
occ_by_who(struct room *r, const struct who *w)
{
	if (w->s != NULL)
		return occ_by_session(r, w->s);
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (o->s == NULL && strcmp(o->jid, w->full) == 0)
			return o;
	return NULL;
}

/* who_send - a stanza (its 'from' and 'to' set) to a local session, or
 * over federation to a remote user */
static void
who_send(const struct who *w, const struct xml_node *n)
{
	if (w->s != NULL) {
		xsess_send(w->s, n);
		return;
	}
	struct xml_node *c = xml_node_copy(n);
	federate_send_from(xml_node_attr(n, "from"), w->full, c);
}

static void
occ_send(const struct occupant *o, const struct xml_node *n)
{
	struct who w = { o->s, o->jid, o->owner, 0 };

	who_send(&w, n);
}

static void
occ_free(struct occupant *o)
{
	xml_node_free(&o->presence);
	free(o->jid);
	free(o->owner);
	free(o->nick);
	free(o);
}

static struct occupant *
occ_by_nick(struct room *r, const char *nick)
{
	for (struct occupant *o = r->occ; o != NULL; o = o->next)
		if (strcmp(o->nick, nick) == 0)
			return o;
	return NULL;
}

/* ------------------------------------------------ affiliations */

static const char *
aff_of(const struct room *r, const char *owner)
{
	for (const struct aff *a = r->affs; a != NULL; a = a->next)
		if (strcmp(a->owner, owner) == 0)
			return a->aff;
	return "none";
}

static bool
moderator(const struct room *r, const char *owner)
{
	const char *a = aff_of(r, owner);

	return is(a, "owner") || is(a, "admin");
}

/* aff_set - in memory, and in the store when the room is persistent
 * (aff "none" removes) */
static void
aff_set(struct room *r, const char *owner, const char *aff)
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

static void
room_save(struct room *r)
{
	const char *err;
	struct muc_row row = { r->jid, r->po_id, r->name, r->subject,
		r->members_only, r->password ? r->password : "" };

	if (r->persistent && chat_muc_put(xsrv.store, &row, &err) < 0)
		log_warnx("xmpp %s: %s", r->jid, err);
}

static struct room *
room_new(const char *jid, int64_t po)
{
	struct room *r = xcalloc(1, sizeof(*r));

	r->jid = xstrdup(jid);
	r->po_id = po;
	r->name = xstrdup("");
	r->subject = xstrdup("");
	r->next = rooms;
	rooms = r;
	nrooms++;
	return r;
}

/* room_free - gone from memory; with forget, from the store too (its
 * archive included) */
static void
room_free(struct room *r, bool forget)
{
	const char *err;

	for (struct room **pp = &rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	nrooms--;
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
	if (nrooms >= MUC_ROOMS_MAX || room_find(row->jid) != NULL)
		return;
	struct room *r = room_new(row->jid, row->po_id);
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
	if (nrooms > 0)
		log_info("%zu persistent chat room(s)", nrooms);
	return 0;
}

static void kick_all(struct room *r);

static void
sync_room(void *ctx, const struct muc_row *row)
{
	const char *err;
	struct room *r = room_find(row->jid);

	(void)ctx;
	if (r == NULL) {
		load_room(NULL, row);
		if ((r = room_find(row->jid)) != NULL) {
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

	for (struct room *r = rooms; r != NULL; r = r->next)
		r->seen = false;
	if (chat_muc_load(xsrv.store, sync_room, NULL, &err) < 0) {
		log_warnx("%s", err);
		return;
	}
	for (struct room *r = rooms, *next; r != NULL; r = next) {
		next = r->next;
		if (r->persistent && !r->seen) {
			log_info("xmpp %s: destroyed by the administrator",
			    r->jid);
			kick_all(r);
			room_free(r, false);
		}
	}
}

void
muc_rooms_json(json_t *a)
{
	for (struct room *r = rooms; r != NULL; r = r->next) {
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
	while (rooms != NULL)
		room_free(rooms, false);
}

/* ------------------------------------------------ presence */

/* occ_presence - o's presence as t sees it (status 110 for itself);
 * codes: more status codes (0-terminated) */
static struct xml_node *
occ_presence(struct room *r, struct occupant *o, const struct occupant *t,
	     bool unavailable, const int *codes)
{
	struct xml_node *p = unavailable ? xml_node_new("presence", "type",
	    "unavailable", NULL) : xml_node_copy(o->presence);
	struct xml_node *x, *mx;
	char *from = xasprintf("%s/%s", r->jid, o->nick);
	const char *aff = aff_of(r, o->owner);

	while ((mx = xml_node_child(p, "x", NS_MUC)) != NULL ||
	    (mx = xml_node_child(p, "x", NS_MUC_USER)) != NULL) {
		xml_node_detach(mx);
		xml_node_free(&mx);
	}
	xml_node_set_attr(p, "from", from);
	xml_node_set_attr(p, "to", t->jid);
	x = xml_node_add(p, "x", "xmlns", NS_MUC_USER, NULL);
	xml_node_add(x, "item", "affiliation", aff, "role", unavailable ?
	    "none" : moderator(r, o->owner) ? "moderator" : "participant",
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

static void
broadcast_presence(struct room *r, struct occupant *o, bool unavailable,
		   const int *codes)
{
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		struct xml_node *p = occ_presence(r, o, k, unavailable,
		    codes);
		occ_send(k, p);
		xml_node_free(&p);
	}
}

/* occ_leave - o leaves (codes: why, e.g. 307 kicked); a temporary room
 * goes with its last occupant */
static void
occ_leave(struct room *r, struct occupant *o, const int *codes)
{
	struct xml_node *p = occ_presence(r, o, o, true, codes);

	for (struct occupant **pp = &r->occ; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	r->nocc--;
	occ_send(o, p);
	xml_node_free(&p);
	broadcast_presence(r, o, true, codes);
	occ_free(o);
	if (r->occ == NULL && !r->persistent)
		room_free(r, true);
}

/* muc_error - an error from the room or service (RFC 6120 8.3) */
static void
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
	who_send(w, e);
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

static void
join(const struct who *w, struct xml_node *p, const struct jid *to,
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
		const char *aff = aff_of(r, w->owner);
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
		if (occ_by_nick(r, to->resource) != NULL) {
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
		if (nrooms >= MUC_ROOMS_MAX) {
			muc_error(w, p, full, "wait", "resource-constraint",
			    "too many rooms");
			goto out;
		}
		r = room_new(room_jid, po);
		aff_set(r, w->owner, "owner");
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
		struct xml_node *kp = occ_presence(r, k, o, false, NULL);
		occ_send(o, kp);
		xml_node_free(&kp);
	}
	o->next = r->occ;
	r->occ = o;
	r->nocc++;
	for (struct occupant *k = r->occ; k != NULL; k = k->next) {
		if (k == o)
			continue;
		struct xml_node *kp = occ_presence(r, o, k, false, NULL);
		occ_send(k, kp);
		xml_node_free(&kp);
	}
	static const int created_codes[] = { 201, 0 };
	struct xml_node *self = occ_presence(r, o, o, false, created ?
	    created_codes : NULL);
	occ_send(o, self);
	xml_node_free(&self);
	/* history (with its delay), then the subject */
	send_history(w, r);
	struct xml_node *subj = xml_node_new("message", "type", "groupchat",
	    "from", r->jid, "to", w->full, NULL);
	xml_node_add_text(xml_node_add(subj, "subject", NULL), r->subject);
	who_send(w, subj);
	xml_node_free(&subj);
	log_info("xmpp %s joined %s as %s%s", w->full, r->jid, o->nick,
	    w->s == NULL ? " (federation)" : "");
out:
	free(full);
}

static void
presence_who(const struct who *w, struct xml_node *p, const struct jid *to,
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
	r = room_find(room_jid);
	o = r ? occ_by_who(r, w) : NULL;
	if (is(type, "unavailable")) {
		if (o != NULL)
			occ_leave(r, o, NULL);
	} else if (is(type, "error") && o != NULL && o->s == NULL) {
		/* a remote occupant's server says it is gone (XEP-0045
		 * 7.2.11, 333: left for technical reasons) */
		static const int gone[] = { 333, 0 };
		occ_leave(r, o, gone);
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
			broadcast_presence(r, o, false, NULL);
		}
	} else
		join(w, p, to, r, room_jid, po);
	free(room_jid);
}

void
muc_presence(struct xsess *s, struct xml_node *p, const struct jid *to,
	     int64_t po)
{
	struct who w = { s, s->full, s->owner, s->po_id };

	presence_who(&w, p, to, po);
}

/* ------------------------------------------------ messages */

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

/* jid_of - an owner's JID in the room's domains: mailbox@domain */
static char *
jid_of(const struct room *r, const char *owner)
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

	if (r->members_only && !moderator(r, w->owner)) {
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
		if (r->members_only && is(aff_of(r, owner), "none"))
			aff_set(r, owner, "member");
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

static void
message_who(const struct who *w, struct xml_node *m, const struct jid *to,
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
	r = room_find(room_jid);
	o = r ? occ_by_who(r, w) : NULL;
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
		k = occ_by_nick(r, to->resource);
		if (k == NULL || is(type, "groupchat"))
			muc_error(w, m, room_jid, "cancel", "item-not-found",
			    NULL);
		else {
			struct xml_node *c = xml_node_copy(m);
			xml_node_set_attr(c, "from", from);
			xml_node_set_attr(c, "to", k->jid);
			occ_send(k, c);
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
		if (!moderator(r, w->owner) || strlen(t) > MUC_SUBJECT_MAX) {
			free(t);
			free(from);
			muc_error(w, m, room_jid, moderator(r, w->owner) ?
			    "modify" : "auth", moderator(r, w->owner) ?
			    "not-acceptable" : "forbidden", "only the room's "
			    "owners and admins set the subject, in at most "
			    "4096 bytes");
			goto out;
		}
		free(r->subject);
		r->subject = t;
		room_save(r);
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
		occ_send(k, c);
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

	message_who(&w, m, to, po);
}

/* ------------------------------------------------ owner, admin */

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

/* kick_all - everyone out (destroy): unavailable with <destroy/> */
static void
kick_all(struct room *r)
{
	while (r->occ != NULL) {
		struct occupant *o = r->occ;
		struct xml_node *p = occ_presence(r, o, o, true, NULL);
		xml_node_add(xml_node_child(p, "x", NS_MUC_USER), "destroy",
		    "jid", r->jid, NULL);
		occ_send(o, p);
		xml_node_free(&p);
		r->occ = o->next;
		occ_free(o);
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
		kick_all(r);
		room_free(r, true);
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
	room_save(r);
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
	const char *mine = aff_of(r, s->owner);
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
				char *jid = jid_of(r, a->owner);
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
			const char *cur = who ? aff_of(r, who) : "none";
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
			struct occupant *o = occ_by_nick(r, nick);
			if (o == NULL) {
				im_stanza_error(s, iq, "cancel",
				    "item-not-found", "no such occupant");
				return;
			}
			if (!moderator(r, s->owner)) {
				im_stanza_error(s, iq, "auth", "forbidden",
				    NULL);
				return;
			}
			if (is(aff_of(r, o->owner), "owner") ||
			    (is(aff_of(r, o->owner), "admin") && !owner)) {
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
	    room_find(room_jid) == r; it = it->next) {
		if (it->name == NULL || strcmp(it->name, "item") != 0)
			continue;
		const char *aff = xml_node_attr(it, "affiliation");
		const char *jid = xml_node_attr(it, "jid");
		if (aff != NULL && jid != NULL) {
			int64_t po = 0;
			char *who = im_owner_of(jid, &po);
			aff_set(r, who, aff);
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
				occ_leave(r, o, is(aff, "outcast") ? banned :
				    unmember);
				if (last)
					break;   /* r is gone */
			}
			if (!out && room_find(room_jid) == r)
				for (o = r->occ; o != NULL; o = o->next)
					if (strcmp(o->owner, who) == 0)
						broadcast_presence(r, o, false,
						    NULL);
			free(who);
		} else {
			struct occupant *o = occ_by_nick(r,
			    xml_node_attr(it, "nick"));
			static const int kicked[] = { 307, 0 };
			if (o != NULL)
				occ_leave(r, o, kicked);
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
	struct room *room = to->local ? room_find(target) : NULL;

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
		if (is(ns, NS_MUC_OWNER) && !is(aff_of(room, s->owner),
		    "owner"))
			muc_error(w, iq, target, "auth", "forbidden",
			    "only the room's owners configure it");
		else if (is(ns, NS_MUC_ADMIN) && !moderator(room, s->owner))
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
			for (struct room *k = rooms; k != NULL; k = k->next)
				if (strcmp(strchr(k->jid, '@') + 1,
				    to->domain) == 0 && (!k->members_only ||
				    !is(aff_of(k, w->owner), "none")))
					xml_node_add(q, "item", "jid", k->jid,
					    NULL);
	} else if (is(ns, NS_PING)) {
		/* a result as it is */
	} else {
		xml_node_free(&r);
		muc_error(w, iq, target, "cancel", "service-unavailable", NULL);
		goto out;
	}
	who_send(w, r);
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
		presence_who(&w, n, to, po);
	else if (strcmp(n->name, "message") == 0)
		message_who(&w, n, to, po);
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
	struct room *r = rooms, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		struct occupant *o = occ_by_session(r, s);
		if (o != NULL)
			occ_leave(r, o, NULL);  /* may free r: next is kept */
	}
}
