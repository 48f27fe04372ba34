/* message - RFC 6121 5 and 8.5: messages to local users and services,
 * carbons (XEP-0280), the archive (XEP-0313), offline storage (part of
 * im, im-int.h) */
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

/* im_archive_one - XEP-0313: message m in owner's archive (peer: the
 * other side's bare JID); with by (the archive's JID), any <stanza-id/>
 * in m is removed first (a client's cannot stand, XEP-0359) and m then
 * carries the new one */
void
im_archive_one(const char *owner, struct xml_node *m, const char *peer,
	       const char *by)
{
	struct xml_node *sid;
	struct buf b;
	int64_t id;
	const char *err;
	char idtext[32];

	while (by != NULL && (sid = xml_node_child(m, "stanza-id", NS_SID)) !=
	    NULL) {
		xml_node_detach(sid);
		xml_node_free(&sid);
	}
	struct xml_node *c = xml_node_copy(m);
	xml_node_set_attr(c, "xmlns", NS_CLIENT);
	buf_init(&b, 0);
	xml_node_write(c, &b);
	xml_node_free(&c);
	if (chat_archive_add(xsrv.store, owner, peer, b.data, &id, &err) < 0)
		log_warnx("xmpp %s: archive: %s", owner, err);
	else if (by != NULL) {
		snprintf(idtext, sizeof(idtext), "%" PRId64, id);
		xml_node_add(m, "stanza-id", "xmlns", NS_SID, "by", by, "id",
		    idtext, NULL);
	}
	buf_free(&b);
}

/* im_archive - XEP-0313: a message in both users' archives; the copy the
 * recipient gets carries its archive id (XEP-0359 <stanza-id/>, any a
 * client put there removed first) */
void
im_archive(struct xsess *s, struct xml_node *m, const char *owner,
	   const char *peer)
{
	struct xml_node *sid;

	while ((sid = xml_node_child(m, "stanza-id", NS_SID)) != NULL) {
		xml_node_detach(sid);
		xml_node_free(&sid);
	}
	if (strcmp(owner, s->owner) != 0)
		im_archive_one(s->owner, m, peer, NULL);
	im_archive_one(owner, m, s->bare, peer);
}

/* im_carbon_eligible - XEP-0280 6: chat messages, and normal ones with a
 * body, unless marked private or no-copy, and never a carbon itself */
bool
im_carbon_eligible(const struct xml_node *m, const char *type)
{
	if (!is(type, "chat") && !(is(type, "normal") &&
	    xml_node_child(m, "body", NULL) != NULL))
		return false;
	return xml_node_child(m, "private", NS_CARBONS) == NULL &&
	    xml_node_child(m, "no-copy", NS_HINTS) == NULL &&
	    xml_node_child(m, "sent", NS_CARBONS) == NULL &&
	    xml_node_child(m, "received", NS_CARBONS) == NULL;
}

/* carbon - m wrapped in <sent/> or <received/> for session t of the user
 * with bare JID bare */
static void
carbon(struct xsess *t, const char *kind, const struct xml_node *m,
       const char *bare)
{
	const char *type = xml_node_attr(m, "type");
	struct xml_node *w = xml_node_new("message", "from", bare, "to",
	    t->full, "type", type ? type : "normal", NULL);
	struct xml_node *f = xml_node_add(xml_node_add(w, kind, "xmlns",
	    NS_CARBONS, NULL), "forwarded", "xmlns", NS_FORWARD, NULL);
	struct xml_node *c = xml_node_copy(m);

	xml_node_set_attr(c, "xmlns", NS_CLIENT);
	c->parent = f;
	if (f->last != NULL)
		f->last->next = c;
	else
		f->first = c;
	f->last = c;
	xsess_send(t, w);
	xml_node_free(&w);
}

/* im_carbons_sent - the sender's other resources with carbons see what it
 * sent */
void
im_carbons_sent(struct xsess *s, const struct xml_node *m)
{
	for (struct xsess *t = s->user->sessions; t != NULL; t = t->unext)
		if (t != s && t->carbons && !t->dead)
			carbon(t, "sent", m, s->bare);
}

/* im_carbons_received - the recipient's resources with carbons that did not
 * get m itself (direct: the one that did, or NULL for a bare JID's
 * delivery to the available non-negative resources) */
void
im_carbons_received(struct xuser *u, const struct xml_node *m,
		    const struct xsess *direct)
{
	for (struct xsess *t = u ? u->sessions : NULL; t != NULL;
	    t = t->unext) {
		if (t == direct || !t->carbons || t->dead)
			continue;
		if (direct == NULL && t->available && t->priority >= 0)
			continue;
		carbon(t, "received", m, t->bare);
	}
}

int
im_offline_store(const char *owner, const struct xml_node *m,
		 const char *from)
{
	struct buf b;
	char stamp[32];
	time_t now = time(NULL);
	const char *err;
	struct tm tm;
	char *dom = strchr(from, '@') ? xstrdup(strchr(from, '@') + 1) :
	    xstrdup(from);

	dom[strcspn(dom, "/")] = '\0';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct xml_node *c = xml_node_copy(m);
	xml_node_set_attr(c, "from", from);
	xml_node_set_attr(c, "xmlns", NS_CLIENT);
	xml_node_add_text(xml_node_add(c, "delay", "xmlns", NS_DELAY, "from",
	    dom, "stamp", stamp, NULL), "Offline storage");
	free(dom);
	buf_init(&b, 0);
	xml_node_write(c, &b);
	xml_node_free(&c);
	int r = chat_offline_add(xsrv.store, owner, b.data, &err);
	buf_free(&b);
	if (r < 0)
		log_warnx("xmpp %s: offline store: %s", owner, err);
	return r;
}

static void
message_store(struct xsess *s, struct xml_node *m, const char *owner)
{
	int r = im_offline_store(owner, m, s->full);

	if (r < 0)
		im_stanza_error(s, m, "wait", "internal-server-error", NULL);
	else if (r > 0)
		im_stanza_error(s, m, "cancel", "service-unavailable",
		    "the recipient's offline storage is full");
}

void
im_message(struct xsess *s, struct xml_node *m)
{
	const char *type = xml_node_attr(m, "type");
	const char *to = xml_node_attr(m, "to");
	struct jid j;
	char *owner = NULL;
	enum dest d;

	if (type == NULL)
		type = "normal";
	if (!is(type, "normal") && !is(type, "chat") && !is(type, "headline")
	    && !is(type, "groupchat") && !is(type, "error")) {
		im_stanza_error(s, m, "modify", "bad-request", "unknown "
		    "message type");
		return;
	}
	if (to == NULL)
		to = s->bare;   /* RFC 6120 8.1.1.1: the sender's account */
	if (jid_parse(to, &j) < 0) {
		im_stanza_error(s, m, "modify", "jid-malformed", NULL);
		return;
	}
	int64_t po = -1;
	d = im_resolve(&j, &owner, &po);
	switch (d) {
	case DEST_MUC:
		muc_message(s, m, &j, po);
		goto out;
	case DEST_ERROR:
		im_stanza_error(s, m, "wait", "internal-server-error", NULL);
		goto out;
	case DEST_REMOTE:
		federate_out(s, m, &j);         /* federate.c */
		goto out;
	case DEST_SERVER:
	case DEST_NO_USER:
	case DEST_UPLOAD:
	case DEST_PROXY:
		if (!is(type, "error") && !is(type, "headline"))
			im_stanza_error(s, m, "cancel", "service-unavailable",
			    NULL);
		goto out;
	case DEST_USER:
		break;
	}
	if (im_blocks(s->owner, to)) {
		im_blocked_error(s, m);
		goto out;
	}
	if (im_blocks(owner, s->full)) {
		if (!is(type, "error") && !is(type, "headline"))
			im_stanza_error(s, m, "cancel", "service-unavailable",
			    NULL);
		goto out;
	}
	if ((is(type, "chat") || is(type, "normal")) &&
	    xml_node_child(m, "body", NULL) != NULL) {
		char *peer = jid_bare(&j);
		im_archive(s, m, owner, peer);
		free(peer);
	}
	struct xuser *u = xuser_find(owner);
	struct xsess *t = im_user_resource(u, j.resource);
	bool cc = im_carbon_eligible(m, type);
	if (cc)
		im_carbons_sent(s, m);
	if (t != NULL) {
		im_deliver(t, m, s->full, false);
		if (cc)
			im_carbons_received(u, m, t);
		goto out;
	}
	/* RFC 6121 8.5.2: a bare JID, or a full one that is not online */
	if (is(type, "groupchat")) {
		im_stanza_error(s, m, "cancel", "service-unavailable", NULL);
		goto out;
	}
	if (is(type, "error"))
		goto out;
	bool sent = false;
	for (t = u ? u->sessions : NULL; t != NULL; t = t->unext) {
		if (t->dead || !t->available || t->priority < 0)
			continue;
		im_deliver(t, m, s->full, false);
		sent = true;
	}
	if (cc)
		im_carbons_received(u, m, NULL);
	if (!sent && !is(type, "headline"))
		message_store(s, m, owner);
out:
	free(owner);
	jid_clear(&j);
}
