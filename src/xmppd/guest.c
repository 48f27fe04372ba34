/* guest - external contacts in xmppd (guest.h): the guest's login, the
 * inviter's IQ (invite, list, revoke: NS_GUEST) and the invitations'
 * ends (expiry, revocation by the inviter or postern chat guest revoke).
 * What a guest may reach is im.c's guest fence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest.h"
#include "log.h"
#include "settings.h"
#include "xalloc.h"
#include "xmppd.h"

bool
guest_login(struct xsess *s, const char *authcid, const char *pass,
	    bool *ok_r)
{
	const char *at = strchr(authcid, '@');
	char *local = at != NULL ? xstrndup(authcid, (size_t)(at - authcid)) :
	    xstrdup(authcid);
	struct chat_guest g;
	const char *err;

	str_lower(local);
	*ok_r = false;
	if (!guest_is_local(local)) {
		free(local);
		return false;
	}
	if (strlen(local) > NAME_MAX_LEN || (at != NULL &&
	    !str_eq_ci(at + 1, s->domain))) {
		free(local);
		return true;
	}
	char *owner = xasprintf("%s@%s", local, s->po);
	char *jid = xasprintf("%s@%s", local, s->domain);
	str_lower(owner);
	str_lower(jid);
	int r = chat_guest_get(xsrv.store, owner, &g, &err);
	if (r < 0)
		log_warnx("xmpp c%" PRIu64 " guest %s: %s", s->c->id, owner,
		    err);
	if (r > 0 && g.ended == 0 && g.expires > (int64_t)time(NULL) &&
	    strcmp(g.jid, jid) == 0 && guest_secret_ok(pass, g.secret)) {
		*ok_r = true;
		s->guest = true;
		s->guest_of = xstrdup(g.inviter);
		s->guest_expires = g.expires;
		s->local = local;
		s->owner = owner;
		s->bare = jid;
		s->mailbox_id = 0;
		log_info("xmpp c%" PRIu64 " %s: guest of %s (invited %s)",
		    s->c->id, jid, g.inviter, g.address);
	} else {
		free(local);
		free(owner);
		free(jid);
	}
	chat_guest_clear(&g);
	return true;
}

static void
stamp_iso(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
guest_status(const struct chat_guest *g, int64_t now)
{
	if (g->ended != 0)
		return g->reason;
	return g->expires <= now ? "expired" : "active";
}

static void
guest_render(struct xml_node *parent, const struct chat_guest *g,
	     const char *name)
{
	char exp[32];

	stamp_iso(g->expires, exp, sizeof(exp));
	struct xml_node *x = xml_node_add(parent, name, "jid", g->jid,
	    "address", g->address, "expires", exp, "status",
	    guest_status(g, (int64_t)time(NULL)), NULL);
	if (strcmp(name, "invite") == 0)
		xml_node_set_attr(x, "xmlns", NS_GUEST);
}

static struct xml_node *
result(struct xsess *s, const struct xml_node *iq)
{
	struct xml_node *r = xml_node_new("iq", "type", "result", "to",
	    s->full, NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(r, "id", id);
	return r;
}

static void
invite(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	const char *address = xml_node_attr(q, "address");
	const char *dv = xml_node_attr(q, "days");
	long long days = settings_get_int(xsrv.svc->db, "xmpp.guest_days", 7);
	struct chat_guest g;
	const char *err;
	bool internal;

	if (address == NULL || (dv != NULL && parse_long(dv, 1,
	    GUEST_DAYS_MAX, &days) < 0)) {
		im_stanza_error(s, iq, "modify", "bad-request", "invite needs "
		    "address='name@domain' and optionally days='1'..'90'");
		return;
	}
	struct guest_inviter inv = { s->owner, s->bare, s->domain, s->po,
	    s->po_id };
	if (guest_invite(xsrv.svc->db, xsrv.store, &inv, address, (int)days,
	    &g, &internal, &err) < 0) {
		if (internal) {
			log_warnx("xmpp %s: guest invite: %s", s->full, err);
			im_stanza_error(s, iq, "wait", "internal-server-error",
			    NULL);
		} else
			im_stanza_error(s, iq, "modify", "not-acceptable", err);
		return;
	}
	log_info("xmpp %s: invited %s as %s for %lld days", s->full,
	    g.address, g.jid, days);
	struct xml_node *r = result(s, iq);
	guest_render(r, &g, "invite");
	xsess_send(s, r);
	xml_node_free(&r);
	chat_guest_clear(&g);
	guest_sync();           /* the roster push to the inviter */
}

static void
list(struct xsess *s, struct xml_node *iq)
{
	struct chat_guest *g;
	size_t n;
	const char *err;

	if (chat_guest_list(xsrv.store, s->owner, &g, &n, &err) < 0) {
		log_warnx("xmpp %s: guests: %s", s->full, err);
		im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
		return;
	}
	struct xml_node *r = result(s, iq);
	struct xml_node *gs = xml_node_add(r, "guests", "xmlns", NS_GUEST,
	    NULL);
	for (size_t i = 0; i < n; i++)
		guest_render(gs, &g[i], "guest");
	xsess_send(s, r);
	xml_node_free(&r);
	chat_guest_free(&g, n);
}

static void
revoke(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	const char *jid = xml_node_attr(q, "jid");
	struct chat_guest *g;
	size_t n;
	const char *err;
	int r = 0;

	if (jid == NULL) {
		im_stanza_error(s, iq, "modify", "bad-request", "revoke needs "
		    "jid='guest~...@domain'");
		return;
	}
	if (chat_guest_list(xsrv.store, s->owner, &g, &n, &err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (str_eq_ci(g[i].jid, jid) && g[i].ended == 0) {
			r = chat_guest_end(xsrv.store, g[i].owner, "revoked",
			    (int64_t)time(NULL), &err);
			if (r > 0)
				log_info("xmpp %s: revoked guest %s", s->full,
				    g[i].jid);
		}
	chat_guest_free(&g, n);
	if (r < 0)
		goto fail;
	if (r == 0) {
		im_stanza_error(s, iq, "cancel", "item-not-found", "no active "
		    "invitation of yours with that JID");
		return;
	}
	struct xml_node *res = result(s, iq);
	xsess_send(s, res);
	xml_node_free(&res);
	guest_sync();
	return;
fail:
	log_warnx("xmpp %s: guest revoke: %s", s->full, err);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

void
guest_iq(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	const char *type = xml_node_attr(iq, "type");

	if (s->guest) {
		im_stanza_error(s, iq, "cancel", "not-allowed", "a guest cannot "
		    "invite");
		return;
	}
	if (strcmp(q->name, "invite") == 0 && type != NULL &&
	    strcmp(type, "set") == 0)
		invite(s, iq, q);
	else if (strcmp(q->name, "guests") == 0 && type != NULL &&
	    strcmp(type, "get") == 0)
		list(s, iq);
	else if (strcmp(q->name, "revoke") == 0 && type != NULL &&
	    strcmp(type, "set") == 0)
		revoke(s, iq, q);
	else
		im_stanza_error(s, iq, "modify", "bad-request", "set <invite/>, "
		    "get <guests/> or set <revoke/>");
}

void
guest_sync(void)
{
	struct chat_guest *g;
	size_t n;
	const char *err;

	if (chat_guest_due(xsrv.store, (int64_t)time(NULL), &g, &n, &err) <
	    0) {
		log_warnx("guests: %s", err);
		return;
	}
	if (n == 0)
		return;
	im_resolve_forget();
	for (size_t i = 0; i < n; i++) {
		struct roster_item it = { .jid = g[i].jid, .name =
		    g[i].address, .groups = "Guests", .sub = CHAT_SUB_BOTH,
		    .listed = true, .stored = true };
		if (g[i].ended == 0) {
			im_roster_push(g[i].inviter, &it, false);
			continue;
		}
		log_info("guest %s of %s: %s", g[i].jid, g[i].inviter,
		    g[i].reason);
		im_roster_push(g[i].inviter, &it, true);
		for (struct xsess *s = xsrv.sessions; s != NULL; s = s->next)
			if (s->guest && !s->dead &&
			    strcmp(s->owner, g[i].owner) == 0)
				stream_error(s, "not-authorized",
				    strcmp(g[i].reason, "expired") == 0 ?
				    "your chat invitation expired" :
				    "your chat invitation was withdrawn");
	}
	chat_guest_free(&g, n);
	xmpp_store_flush();
}
