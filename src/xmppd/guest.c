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
#include "strutil.h"
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

/* invite_as - guest_invite for s's user: the one road of the IQ and the
 * ad-hoc command. 0 with *g; -1 with a sentence for the user in *err,
 * *internal when it is the server's fault (logged here). The caller
 * answers, then calls guest_sync (the roster push after the answer). */
static int
invite_as(struct xsess *s, const char *address, long long days,
	  struct chat_guest *g, bool *internal, const char **err)
{
	struct guest_inviter inv = { s->owner, s->bare, s->domain, s->po,
	    s->po_id };

	if (guest_invite(xsrv.svc->db, xsrv.store, &inv, address, (int)days,
	    g, internal, err) < 0) {
		if (*internal)
			log_warnx("xmpp %s: guest invite: %s", s->full, *err);
		return -1;
	}
	log_info("xmpp %s: invited %s as %s for %lld days", s->full,
	    g->address, g->jid, days);
	return 0;
}

static void
invite(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	const char *address = xml_node_attr(q, "address");
	const char *dv = xml_node_attr(q, "days");
	long long days = settings_current(xsrv.svc->db)->xmpp_guest_days;
	struct chat_guest g;
	const char *err;
	bool internal;

	if (address == NULL || (dv != NULL && parse_long(dv, 1,
	    GUEST_DAYS_MAX, &days) < 0)) {
		im_stanza_error(s, iq, "modify", "bad-request", "invite needs "
		    "address='name@domain' and optionally days='1'..'90'");
		return;
	}
	if (invite_as(s, address, days, &g, &internal, &err) < 0) {
		if (internal)
			im_stanza_error(s, iq, "wait", "internal-server-error",
			    NULL);
		else
			im_stanza_error(s, iq, "modify", "not-acceptable", err);
		return;
	}
	struct xml_node *r = result(s, iq);
	guest_render(r, &g, "invite");
	xsess_send(s, r);
	xml_node_free(&r);
	chat_guest_clear(&g);
	guest_sync();           /* the roster push to the inviter */
}

/* ------------------------------------------------ XEP-0050 command */

void
guest_command_items(struct xsess *s, struct xml_node *q)
{
	if (!s->guest)
		xml_node_add(q, "item", "jid", s->domain, "node", GUEST_NODE,
		    "name", "Invite an external contact", NULL);
}

void
guest_command_info(struct xml_node *q)
{
	xml_node_add(q, "identity", "category", "automation", "type",
	    "command-node", "name", "Invite an external contact", NULL);
	xml_node_add(q, "feature", "var", NS_COMMANDS, NULL);
	xml_node_add(q, "feature", "var", NS_DATA, NULL);
}

/* command_reply - <command/> of status for sid in a result from 'from' */
static struct xml_node *
command_reply(struct xsess *s, const struct xml_node *iq, const char *from,
	      const char *sid, const char *status, struct xml_node **cmd_r)
{
	struct xml_node *r = im_result_from(s, iq, from);

	*cmd_r = xml_node_add(r, "command", "xmlns", NS_COMMANDS, "node",
	    GUEST_NODE, "sessionid", sid, "status", status, NULL);
	return r;
}

static void
form_field(struct xml_node *x, const char *var, const char *type,
	   const char *label, const char *value)
{
	struct xml_node *f = xml_node_add(x, "field", "var", var, "type", type,
	    NULL);

	if (label != NULL)
		xml_node_set_attr(f, "label", label);
	if (value != NULL)
		xml_node_add_text(xml_node_add(f, "value", NULL), value);
}

/* command_done - completed, with a note (and the result form when g) */
static void
command_done(struct xsess *s, const struct xml_node *iq, const char *from,
	     const char *sid, const char *note_type, const char *note,
	     const struct chat_guest *g)
{
	struct xml_node *cmd;
	struct xml_node *r = command_reply(s, iq, from, sid, "completed", &cmd);

	xml_node_add_text(xml_node_add(cmd, "note", "type", note_type, NULL),
	    note);
	if (g != NULL) {
		char exp[32];
		stamp_iso(g->expires, exp, sizeof(exp));
		struct xml_node *x = xml_node_add(cmd, "x", "xmlns", NS_DATA,
		    "type", "result", NULL);
		form_field(x, "jid", "jid-single", "Chat address", g->jid);
		form_field(x, "address", "text-single", "Invited", g->address);
		form_field(x, "expires", "text-single", "Until", exp);
	}
	xsess_send(s, r);
	xml_node_free(&r);
}

void
guest_command(struct xsess *s, struct xml_node *iq, struct xml_node *cmd,
	      const char *from)
{
	const char *node = xml_node_attr(cmd, "node");
	const char *action = xml_node_attr(cmd, "action");
	const char *sid = xml_node_attr(cmd, "sessionid");
	struct xml_node *x = xml_node_child(cmd, "x", NS_DATA);
	char fresh[33];

	if (node == NULL || strcmp(node, GUEST_NODE) != 0) {
		im_error_from(s, iq, from, "cancel", "item-not-found",
		    "no such command here");
		return;
	}
	if (s->guest) {
		im_error_from(s, iq, from, "cancel", "forbidden", "a guest "
		    "cannot invite");
		return;
	}
	if (action == NULL)
		action = "execute";
	if (strcmp(action, "execute") != 0 && strcmp(action, "complete") != 0 &&
	    strcmp(action, "next") != 0 && strcmp(action, "cancel") != 0) {
		im_error_from(s, iq, from, "modify", "bad-request", "action "
		    "is execute, complete or cancel");
		return;
	}
	if (sid == NULL || *sid == '\0' || strlen(sid) > 64) {
		unsigned char raw[16];
		random_bytes(raw, sizeof(raw));
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(fresh + 2 * i, 3, "%02x", raw[i]);
		sid = fresh;
	}
	if (strcmp(action, "cancel") == 0) {
		struct xml_node *c;
		struct xml_node *r = command_reply(s, iq, from, sid, "canceled",
		    &c);
		xsess_send(s, r);
		xml_node_free(&r);
		return;
	}
	if (x == NULL || xml_node_attr(x, "type") == NULL ||
	    strcmp(xml_node_attr(x, "type"), "submit") != 0) {
		/* the first stage (stateless: the submitted form holds all) */
		char dflt[24];
		struct xml_node *c;
		struct xml_node *r = command_reply(s, iq, from, sid,
		    "executing", &c);
		xml_node_add(xml_node_add(c, "actions", "execute", "complete",
		    NULL), "complete", NULL);
		struct xml_node *f = xml_node_add(c, "x", "xmlns", NS_DATA,
		    "type", "form", NULL);
		xml_node_add_text(xml_node_add(f, "title", NULL),
		    "Invite an external contact");
		xml_node_add_text(xml_node_add(f, "instructions", NULL),
		    "They get a mail with a temporary chat login; you see "
		    "each other until the invitation ends.");
		form_field(f, "address", "text-single", "Their email address",
		    NULL);
		xml_node_add(f->last, "required", NULL);
		snprintf(dflt, sizeof(dflt), "%lld", (long long)settings_current(xsrv.svc->db)->xmpp_guest_days);
		form_field(f, "days", "text-single", "Days (1 to 90)", dflt);
		xsess_send(s, r);
		xml_node_free(&r);
		return;
	}
	char *address = im_form_value(x, "address");
	char *dv = im_form_value(x, "days");
	long long days = settings_current(xsrv.svc->db)->xmpp_guest_days;
	struct chat_guest g;
	const char *err;
	bool internal;

	if (address == NULL || *address == '\0')
		command_done(s, iq, from, sid, "error", "the address is "
		    "missing: name@domain", NULL);
	else if (dv != NULL && *dv != '\0' && parse_long(dv, 1,
	    GUEST_DAYS_MAX, &days) < 0)
		command_done(s, iq, from, sid, "error", "days is a number from "
		    "1 to 90", NULL);
	else if (invite_as(s, address, days, &g, &internal, &err) < 0) {
		if (internal)
			im_error_from(s, iq, from, "wait",
			    "internal-server-error", NULL);
		else
			command_done(s, iq, from, sid, "error", err, NULL);
	} else {
		char exp[32], *note;
		stamp_iso(g.expires, exp, sizeof(exp));
		note = xasprintf("Invited %s as %s until %s; a mail with the "
		    "login is on its way.", g.address, g.jid, exp);
		command_done(s, iq, from, sid, "info", note, &g);
		free(note);
		chat_guest_clear(&g);
		guest_sync();   /* the roster push to the inviter */
	}
	free(address);
	free(dv);
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
