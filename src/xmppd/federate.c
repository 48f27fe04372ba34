/* federate - local users and remote XMPP domains (RFC 6121 across
 * servers): which of our domains federate (xmpp.federation_domains),
 * stanzas of local users to remote JIDs (handed to s2s.c), remote
 * stanzas to local users (messages, presence, subscriptions, probes,
 * IQs), presence to and probes of remote contacts, and the errors of
 * stanzas that could not leave */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "directory.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"
#include "xmppd.h"

static char *fed_domains;         /* the setting, lower case */
static time_t fed_read;           /* monotonic second it was read */

static time_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

/* federate_enabled - whether our domain may talk to other servers:
 * listed in xmpp.federation_domains (or "*"), and served here */
bool
federate_enabled(const char *domain)
{
	if (fed_domains == NULL || mono() != fed_read) {
		free(fed_domains);
		fed_domains = xstrdup(settings_current(xsrv.svc->db)->xmpp_federation_domains);
		if (fed_domains == NULL)
			fed_domains = xstrdup("");
		str_lower(fed_domains);
		fed_read = mono();
	}
	bool listed = false;
	/* a service domain (conference.<domain>) federates with its domain:
	 * remote users reach its rooms (muc.c) */
	if (strncasecmp(domain, "conference.", 11) == 0 && muc_domain(domain,
	    &(int64_t){ 0 }))
		domain += 11;
	size_t dl = strlen(domain);
	for (const char *p = fed_domains; *p != '\0';) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, " \t,");
		if ((n == 1 && p[0] == '*') || (n == dl &&
		    strncasecmp(p, domain, n) == 0))
			listed = true;
		p += n;
	}
	if (!listed)
		return false;
	struct dir_domain d;
	const char *err;
	int r = dir_domain_get(xsrv.svc->db, domain, &d, &err);
	if (r < 0)
		log_warnx("xmpp: domain %s: %s", domain, err);
	return r > 0 && !d.disabled && !d.postoffice_disabled;
}

/* federate_remote - whether a domain is someone else's (not served
 * here, nor one of our services' domains) */
bool
federate_remote(const char *domain)
{
	return im_domain_remote(domain);
}

/* error_of - the error stanza answering n (RFC 6120 8.3), from its 'to'
 * back to its 'from' */
static struct xml_node *
error_of(const struct xml_node *n, const char *type, const char *cond,
	 const char *text)
{
	struct xml_node *e = xml_node_copy(n);
	const char *from = xml_node_attr(n, "from");
	const char *to = xml_node_attr(n, "to");

	xml_node_set_attr(e, "from", to);
	xml_node_set_attr(e, "to", from);
	xml_node_set_attr(e, "type", "error");
	struct xml_node *er = xml_node_add(e, "error", "type", type, NULL);
	xml_node_add(er, cond, "xmlns", NS_STANZAS, NULL);
	if (text != NULL)
		xml_node_add_text(xml_node_add(er, "text", "xmlns",
		    NS_STANZAS, NULL), text);
	return e;
}

/* answerable - whether n may be answered with an error (never an error
 * or a result, RFC 6120 8.3.1; presences other than subscriptions are
 * not) */
static bool
answerable(const struct xml_node *n)
{
	const char *type = xml_node_attr(n, "type");

	if (is(type, "error") || is(type, "result"))
		return false;
	if (strcmp(n->name, "presence") == 0)
		return is(type, "subscribe");
	return !(strcmp(n->name, "message") == 0 && is(type, "headline"));
}

/* to_local - deliver a stanza whose 'to' is a local user's JID, from
 * whoever (a remote JID): a full JID to that session, a bare one to the
 * available resources (messages: of non-negative priority, else
 * offline storage). false when nobody took it and it is not kept */
static bool
to_local(const char *owner, const struct jid *to, const struct xml_node *n)
{
	struct xuser *u = xuser_find(owner);
	bool sent = false;
	bool msg = strcmp(n->name, "message") == 0;

	for (struct xsess *t = u ? u->sessions : NULL; t != NULL;
	    t = t->unext) {
		if (t->dead)
			continue;
		if (to->resource != NULL) {
			if (strcmp(t->resource, to->resource) != 0)
				continue;
		} else if (!t->available || (msg && t->priority < 0))
			continue;
		im_deliver(t, n, NULL, false);
		sent = true;
	}
	return sent;
}

/* archive_remote - XEP-0313: a chat message with a body between a
 * local user and a remote JID, in the local user's archive; the copy
 * the user gets carries the archive id */
static void
archive_remote(const char *owner, struct xml_node *m, const char *peer,
	       const char *by, bool incoming)
{
	const char *type = xml_node_attr(m, "type");

	if (!(type == NULL || is(type, "chat") || is(type, "normal")) ||
	    xml_node_child(m, "body", NULL) == NULL)
		return;
	im_archive_one(owner, m, peer, incoming ? by : NULL);
}

/* federate_out - a stanza of local session s to a remote JID (from
 * already stamped with s's full JID) */
void
federate_out(struct xsess *s, struct xml_node *n, const struct jid *to)
{
	if (s->guest) {
		im_stanza_error(s, n, "cancel", "service-unavailable", NULL);
		return;
	}
	if (!federate_enabled(s->domain)) {
		if (strcmp(n->name, "presence") != 0)
			im_stanza_error(s, n, "cancel",
			    "remote-server-not-found", "federation with other "
			    "XMPP servers is off for this domain");
		return;
	}
	if (strcmp(n->name, "message") == 0) {
		char *peer = jid_bare(to);
		archive_remote(s->owner, n, peer, s->bare, false);
		free(peer);
		/* XEP-0280: the sender's other resources see it */
		if (im_carbon_eligible(n, xml_node_attr(n, "type") ?
		    xml_node_attr(n, "type") : "normal"))
			im_carbons_sent(s, n);
	}
	struct xml_node *c = xml_node_copy(n);
	xml_node_set_attr(c, "from", s->full);
	s2s_send(s->domain, to->domain, c);
}

/* federate_send_from - a stanza built here from a local JID (a user's,
 * a room's) to a remote one (consumes n) */
void
federate_send_from(const char *from, const char *to, struct xml_node *n)
{
	struct jid jf, jt;

	if (jid_parse(from, &jf) < 0) {
		xml_node_free(&n);
		return;
	}
	if (jid_parse(to, &jt) < 0) {
		jid_clear(&jf);
		xml_node_free(&n);
		return;
	}
	xml_node_set_attr(n, "from", from);
	xml_node_set_attr(n, "to", to);
	s2s_send(jf.domain, jt.domain, n);
	jid_clear(&jf);
	jid_clear(&jt);
}

/* presences_to - the presence of each available session of the user to
 * a remote JID (or unavailable from each) */
static void
presences_to(struct xuser *u, const char *to, bool unavailable)
{
	for (struct xsess *f = u ? u->sessions : NULL; f != NULL;
	    f = f->unext) {
		if (!f->available || f->presence == NULL || f->dead)
			continue;
		struct xml_node *p = unavailable ? xml_node_new("presence",
		    "type", "unavailable", NULL) : xml_node_copy(f->presence);
		federate_send_from(f->full, to, p);
	}
}

/* federate_subscription - RFC 6121 3 with a remote contact: our side of
 * the roster, then the stanza to the contact's server */
void
federate_subscription(struct xsess *s, const char *type, const char *contact)
{
	struct roster_item mine;

	if (!federate_enabled(s->domain) || s->guest)
		return;
	if (im_item_load(s->owner, contact, &mine) < 0)
		return;
	if (is(type, "subscribe")) {
		if (!mine.stored && chat_roster_count(xsrv.store, s->owner,
		    &(const char *){ NULL }) >= CHAT_ROSTER_MAX)
			goto out;
		if (!(mine.sub & CHAT_SUB_TO) && !mine.ask) {
			mine.ask = true;
			mine.listed = true;
			im_item_save(s->owner, -1, &mine, true);
		}
	} else if (is(type, "subscribed")) {
		if (!mine.pending_in)
			goto out;       /* RFC 6121 3.1.5: nothing asked */
		mine.pending_in = false;
		mine.sub |= CHAT_SUB_FROM;
		mine.listed = true;
		im_item_save(s->owner, -1, &mine, true);
	} else if (is(type, "unsubscribe")) {
		if (!mine.stored)
			goto out;
		mine.sub &= ~CHAT_SUB_TO;
		mine.ask = false;
		im_item_save(s->owner, -1, &mine, true);
	} else {                /* unsubscribed */
		if (!mine.stored)
			goto out;
		mine.sub &= ~CHAT_SUB_FROM;
		mine.pending_in = false;
		im_item_save(s->owner, -1, &mine, true);
	}
	federate_send_from(s->bare, contact, xml_node_new("presence", "type", type,
	    NULL));
	if (is(type, "subscribed"))
		presences_to(s->user, contact, false);
	else if (is(type, "unsubscribed"))
		presences_to(s->user, contact, true);
out:
	chat_roster_item_clear(&mine);
}

/* federate_presence - s's broadcast presence (p: its availability, or
 * type unavailable) to the remote contacts subscribed to it; an initial
 * one also probes those it is subscribed to (RFC 6121 4.2.2, 4.3) */
void
federate_presence(struct xsess *s, const struct xml_node *p, bool initial)
{
	struct roster_item *items = NULL;
	size_t n = 0;
	const char *err;

	if (s->guest || !federate_enabled(s->domain))
		return;
	if (chat_roster_load(xsrv.store, s->owner, &items, &n, &err) < 0) {
		log_warnx("xmpp %s: roster: %s", s->full, err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *at = strchr(items[i].jid, '@');
		const char *dom = at != NULL ? at + 1 : items[i].jid;
		if (!(items[i].sub & (CHAT_SUB_FROM | CHAT_SUB_TO)) ||
		    !federate_remote(dom))
			continue;
		if (items[i].sub & CHAT_SUB_FROM) {
			struct xml_node *c = xml_node_copy(p);
			federate_send_from(s->full, items[i].jid, c);
		}
		if (initial && (items[i].sub & CHAT_SUB_TO))
			federate_send_from(s->bare, items[i].jid, xml_node_new(
			    "presence", "type", "probe", NULL));
	}
	chat_roster_free(&items, n);
}

/* incoming_subscription - RFC 6121 3 from a remote contact to owner */
static void
incoming_subscription(const char *owner, const char *to_bare,
		      const char *from_bare, struct xml_node *p,
		      const char *type)
{
	struct roster_item it;
	struct jid to;

	if (im_item_load(owner, from_bare, &it) < 0)
		return;
	if (jid_parse(to_bare, &to) < 0) {
		chat_roster_item_clear(&it);
		return;
	}
	xml_node_set_attr(p, "from", from_bare);
	if (is(type, "subscribe")) {
		if (it.sub & CHAT_SUB_FROM) {
			/* RFC 6121 3.1.3: approved before: answered here */
			federate_send_from(to_bare, from_bare, xml_node_new("presence",
			    "type", "subscribed", NULL));
			goto out;
		}
		if (!it.pending_in) {
			if (!it.stored && chat_roster_count(xsrv.store, owner,
			    &(const char *){ NULL }) >= CHAT_ROSTER_MAX)
				goto out;
			it.pending_in = true;
			if (!it.stored)
				it.listed = false;
			im_item_save(owner, -1, &it, true);
		}
		(void)to_local(owner, &to, p);   /* else at the next login */
	} else if (is(type, "subscribed")) {
		if (!it.ask)
			goto out;       /* RFC 6121 3.1.5: not asked: ignored */
		it.ask = false;
		it.sub |= CHAT_SUB_TO;
		it.listed = true;
		im_item_save(owner, -1, &it, true);
		(void)to_local(owner, &to, p);
	} else if (is(type, "unsubscribe")) {
		if (!it.stored)
			goto out;
		it.sub &= ~CHAT_SUB_FROM;
		it.pending_in = false;
		im_item_save(owner, -1, &it, true);
		(void)to_local(owner, &to, p);
	} else {                        /* unsubscribed */
		if (!it.stored)
			goto out;
		it.sub &= ~CHAT_SUB_TO;
		it.ask = false;
		im_item_save(owner, -1, &it, true);
		(void)to_local(owner, &to, p);
	}
out:
	jid_clear(&to);
	chat_roster_item_clear(&it);
}

/* incoming_probe - a remote contact asks for owner's presence: given
 * when its roster says the contact may see it */
static void
incoming_probe(const char *owner, const char *from_bare, const char *from)
{
	struct roster_item it;

	if (im_item_load(owner, from_bare, &it) <= 0)
		return;
	if (it.sub & CHAT_SUB_FROM)
		presences_to(xuser_find(owner), from, false);
	chat_roster_item_clear(&it);
}

/* incoming_iq_server - an IQ to a local account's bare JID or our
 * domain from a remote entity: ping and the disco#info of the server
 * and accounts; the rest is service-unavailable */
static void
incoming_iq_server(struct xml_node *iq, bool account)
{
	const char *type = xml_node_attr(iq, "type");
	struct xml_node *q = iq->first;

	while (q != NULL && q->name == NULL)
		q = q->next;
	if (!is(type, "get") && !is(type, "set"))
		return;
	const char *ns = q != NULL ? xml_node_xmlns(q) : NULL;
	struct xml_node *r = xml_node_new("iq", "type", "result", "id",
	    xml_node_attr(iq, "id"), NULL);
	if (is(type, "get") && q != NULL && is(q->name, "ping") &&
	    is(ns, NS_PING)) {
		/* XEP-0199: an empty result */
	} else if (is(type, "get") && q != NULL && is(q->name, "query") &&
	    is(ns, NS_DISCO_INFO) && xml_node_attr(q, "node") == NULL) {
		struct xml_node *a = xml_node_add(r, "query", "xmlns",
		    NS_DISCO_INFO, NULL);
		if (account)
			xml_node_add(a, "identity", "category", "account",
			    "type", "registered", NULL);
		else
			xml_node_add(a, "identity", "category", "server",
			    "type", "im", "name", "Postern", NULL);
		xml_node_add(a, "feature", "var", NS_DISCO_INFO, NULL);
		xml_node_add(a, "feature", "var", NS_PING, NULL);
	} else {
		xml_node_free(&r);
		r = error_of(iq, "cancel", "service-unavailable", NULL);
		federate_send_from(xml_node_attr(r, "from"), xml_node_attr(r, "to"), r);
		return;
	}
	federate_send_from(xml_node_attr(iq, "to"), xml_node_attr(iq, "from"), r);
}

/* answer_error - a stanza error to the remote sender of n */
static void
answer_error(const struct xml_node *n, const char *type, const char *cond,
	     const char *text)
{
	if (!answerable(n))
		return;
	struct xml_node *e = error_of(n, type, cond, text);
	federate_send_from(xml_node_attr(e, "from"), xml_node_attr(e, "to"), e);
}

/* federate_incoming - a stanza from a remote server, its domains
 * proven (s2s.c): to the local user it names (consumes n) */
void
federate_incoming(struct xml_node *n)
{
	const char *from = xml_node_attr(n, "from");
	const char *to = xml_node_attr(n, "to");
	const char *type = xml_node_attr(n, "type");
	struct jid jf, jt;
	char *owner = NULL, *from_bare = NULL, *to_bare = NULL;

	if (jid_parse(from, &jf) < 0) {
		xml_node_free(&n);
		return;
	}
	if (jid_parse(to, &jt) < 0) {
		jid_clear(&jf);
		xml_node_free(&n);
		return;
	}
	xml_node_set_attr(n, "xmlns", NULL);
	from_bare = jid_bare(&jf);
	to_bare = jid_bare(&jt);
	int64_t mpo;
	if (muc_domain(jt.domain, &mpo)) {
		/* a room or the MUC service (XEP-0045) */
		muc_remote(n, &jf, &jt, mpo);
		goto out;
	}
	if (jt.local == NULL) {
		if (strcmp(n->name, "iq") == 0)
			incoming_iq_server(n, false);
		else
			answer_error(n, "cancel", "service-unavailable", NULL);
		goto out;
	}
	owner = im_owner_of(to_bare, NULL);
	if (owner == NULL) {
		/* no such user (or a guest: only its inviter reaches it) */
		if (strcmp(n->name, "presence") == 0 && is(type, "subscribe"))
			federate_send_from(to_bare, from_bare, xml_node_new("presence",
			    "type", "unsubscribed", NULL));
		else if (strcmp(n->name, "presence") != 0)
			answer_error(n, "cancel", "service-unavailable", NULL);
		goto out;
	}
	int br = chat_blocked(xsrv.store, owner, from, &(const char *){ NULL });
	if (br != 0) {
		/* XEP-0191 3.5: as if the user did not exist */
		if (strcmp(n->name, "presence") != 0)
			answer_error(n, "cancel", "service-unavailable", NULL);
		goto out;
	}
	if (strcmp(n->name, "message") == 0) {
		if (is(type, "groupchat")) {
			/* from a remote room to an occupant's session (RFC
			 * 6121 8.5.3.2.1: none online, or a bare JID: an
			 * error) */
			if (jt.resource == NULL || !to_local(owner, &jt, n))
				answer_error(n, "cancel", "service-unavailable",
				    NULL);
			goto out;
		}
		archive_remote(owner, n, from_bare, to_bare, true);
		bool sent = to_local(owner, &jt, n);
		struct xuser *u = xuser_find(owner);
		const struct xsess *direct = NULL;
		if (sent && jt.resource != NULL)
			for (direct = u ? u->sessions : NULL; direct != NULL &&
			    (direct->dead || strcmp(direct->resource,
			    jt.resource) != 0); direct = direct->unext)
				;
		if (!sent && jt.resource != NULL && !is(type, "error")) {
			/* RFC 6121 8.5.3.2.1: a resource not online */
			struct jid bare = { jt.local, jt.domain, NULL };
			sent = to_local(owner, &bare, n);
		}
		/* XEP-0280: the user's other resources with carbons on */
		if (im_carbon_eligible(n, type ? type : "normal"))
			im_carbons_received(u, n, direct);
		if (sent || is(type, "error") || is(type, "headline"))
			goto out;
		if (im_offline_store(owner, n, from) != 0)
			answer_error(n, "cancel", "service-unavailable",
			    "the recipient's offline storage is full");
	} else if (strcmp(n->name, "presence") == 0) {
		if (is(type, "subscribe") || is(type, "subscribed") ||
		    is(type, "unsubscribe") || is(type, "unsubscribed"))
			incoming_subscription(owner, to_bare, from_bare, n,
			    type);
		else if (is(type, "probe"))
			incoming_probe(owner, from_bare, from);
		else
			(void)to_local(owner, &jt, n);
	} else {                        /* iq */
		if (jt.resource == NULL) {
			incoming_iq_server(n, true);
			goto out;
		}
		if (!to_local(owner, &jt, n) && (is(type, "get") ||
		    is(type, "set")))
			answer_error(n, "cancel", "service-unavailable", NULL);
	}
out:
	free(owner);
	free(from_bare);
	free(to_bare);
	jid_clear(&jf);
	jid_clear(&jt);
	xml_node_free(&n);
}

/* federate_bounce - a stanza of a local user that could not leave: its
 * error back to the sender (RFC 6120 8.3.3.13-14) */
void
federate_bounce(const struct xml_node *n, const char *cond, const char *text)
{
	const char *from = xml_node_attr(n, "from");
	struct jid jf;
	char *owner, *bare;

	if (from == NULL || jid_parse(from, &jf) < 0)
		return;
	int64_t mpo;
	if (jf.local != NULL && muc_domain(jf.domain, &mpo)) {
		/* from a room to a remote occupant */
		if (xml_node_attr(n, "to") != NULL)
			muc_bounce(&jf, xml_node_attr(n, "to"));
		jid_clear(&jf);
		return;
	}
	if (!answerable(n)) {
		jid_clear(&jf);
		return;
	}
	bare = jid_bare(&jf);
	owner = im_owner_of(bare, NULL);
	if (owner != NULL) {
		struct xml_node *e = error_of(n, is(cond, "remote-server-timeout")
		    || is(cond, "resource-constraint") ? "wait" : "cancel",
		    cond, text);
		(void)to_local(owner, &jf, e);
		xml_node_free(&e);
	}
	free(owner);
	free(bare);
	jid_clear(&jf);
}
