#ifndef POSTERN_XMPPD_MUC_INT_H
#define POSTERN_XMPPD_MUC_INT_H

/* muc-int - what muc.c (rooms, affiliations, occupants), muc-presence.c,
 * muc-message.c and muc-admin.c share: one file per section of the old
 * muc.c */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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
	bool gone;                   /* remote, unreachable: muc_sweep */
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
extern struct room *muc_rooms;      /* muc.c */
extern size_t muc_nrooms;

/* is - a (maybe NULL) string equals b */
static inline bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

const char *muc_aff_of(const struct room *r, const char *owner);
void muc_aff_set(struct room *r, const char *owner, const char *aff);
bool muc_moderator(const struct room *r, const char *owner);
struct occupant *muc_occ_by_nick(struct room *r, const char *nick);
struct occupant *muc_occ_by_session(struct room *r, struct xsess *s);
struct occupant *muc_occ_by_who(struct room *r, const struct who *w);
void muc_occ_free(struct occupant *o);
void muc_occ_send(const struct occupant *o, const struct xml_node *n);
struct room *muc_room_find(const char *jid);
void muc_room_free(struct room *r, bool forget);
struct room *muc_room_new(const char *jid, int64_t po);
void muc_room_save(struct room *r);
void muc_who_send(const struct who *w, const struct xml_node *n);
void muc_broadcast_presence(struct room *r, struct occupant *o,
			    bool unavailable, const int *codes);
void muc_join(const struct who *w, struct xml_node *p, const struct jid *to,
	      struct room *r, const char *room_jid, int64_t po);
void muc_error(const struct who *w, const struct xml_node *n, const char *from,
	       const char *type, const char *cond, const char *text);
void muc_occ_leave(struct room *r, struct occupant *o, const int *codes);
struct xml_node *muc_occ_presence(struct room *r, struct occupant *o,
				  const struct occupant *t, bool unavailable,
				  const int *codes);
void muc_presence_who(const struct who *w, struct xml_node *p,
		      const struct jid *to, int64_t po);
char *muc_jid_of(const struct room *r, const char *owner);
void muc_message_who(const struct who *w, struct xml_node *m,
		     const struct jid *to, int64_t po);
void muc_kick_all(struct room *r);

#endif
