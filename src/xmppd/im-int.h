#ifndef POSTERN_XMPPD_IM_INT_H
#define POSTERN_XMPPD_IM_INT_H

/* im-int - what im.c (JIDs, routing, helpers, the entry), roster.c,
 * presence.c, message.c and im-iq.c share: RFC 6121 on bound streams,
 * one file per section of the old im.c */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xmppd.h"

enum dest {
	DEST_ERROR = -1,
	DEST_REMOTE,              /* a domain not served here */
	DEST_SERVER,              /* one of our domains itself */
	DEST_USER,                /* a mailbox of one of our domains */
	DEST_NO_USER,             /* our domain, no such user */
	DEST_MUC,                 /* conference.<our domain> (muc.c) */
	DEST_UPLOAD,              /* upload.<our domain> (upload.c) */
	DEST_PROXY,               /* proxy.<our domain> (socks5.c) */
};

/* is - a (maybe NULL) string equals b */
static inline bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

void im_blocked_error(struct xsess *s, const struct xml_node *n);
bool im_blocks(const char *owner, const char *jid);
bool im_colleague(struct xsess *s, const char *jid);
struct xml_node *im_iq_result(const struct xml_node *iq, const char *from);
enum dest im_resolve(const struct jid *j, char **owner_r, int64_t *po_r);
struct xsess *im_user_resource(struct xuser *u, const char *resource);
void im_roster_get(struct xsess *s, struct xml_node *iq);
void im_roster_push_po(const char *owner, const char *self_po, int64_t po_id,
		       const struct roster_item *it, bool remove);
void im_roster_set(struct xsess *s, struct xml_node *iq,
		   struct xml_node *q);
void im_broadcast(struct xsess *s, const struct xml_node *p);
void im_presence(struct xsess *s, struct xml_node *p);
void im_presence_subscription(struct xsess *s, const char *type,
			      const char *contact);
void im_archive(struct xsess *s, struct xml_node *m, const char *owner,
		const char *peer);
void im_message(struct xsess *s, struct xml_node *m);
void im_iq(struct xsess *s, struct xml_node *iq);

#endif
