/* im - instant messaging on the bound streams (RFC 6121): rosters,
 * subscriptions, presence, messages, and the IQs the server answers
 * itself (RFC 6120 bind aside: disco XEP-0030, ping XEP-0199) */
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

/* ------------------------------------------------------------ JIDs */

void
jid_clear(struct jid *j)
{
	free(j->local);
	free(j->domain);
	free(j->resource);
	memset(j, 0, sizeof(*j));
}

int
jid_parse(const char *s, struct jid *j)
{
	const char *slash, *at;
	size_t hl;

	memset(j, 0, sizeof(*j));
	if (s == NULL || *s == '\0' || strlen(s) > 3 * JID_PART_MAX + 2)
		return -1;
	slash = strchr(s, '/');
	hl = slash ? (size_t)(slash - s) : strlen(s);
	at = memchr(s, '@', hl);
	if (slash != NULL) {
		if (slash[1] == '\0' || strlen(slash + 1) > JID_PART_MAX)
			return -1;
		j->resource = xstrdup(slash + 1);
	}
	if (at != NULL) {
		if (at == s || (size_t)(at - s) > JID_PART_MAX)
			goto bad;
		j->local = xstrndup(s, (size_t)(at - s));
		for (const unsigned char *p = (const unsigned char *)j->local;
		    *p; p++)
			if (*p <= 0x20 || *p == 0x7f || strchr("\"&'/:<>@",
			    *p) != NULL)
				goto bad;
		str_lower(j->local);
		hl -= (size_t)(at - s) + 1;
		s = at + 1;
	}
	if (hl == 0 || hl > JID_PART_MAX)
		goto bad;
	j->domain = xstrndup(s, hl);
	if (j->domain[hl - 1] == '.')
		j->domain[hl - 1] = '\0';
	for (const unsigned char *p = (const unsigned char *)j->domain; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("\"&'/:<>@", *p) != NULL)
			goto bad;
	if (*j->domain == '\0')
		goto bad;
	str_lower(j->domain);
	return 0;
bad:
	jid_clear(j);
	return -1;
}

char *
jid_bare(const struct jid *j)
{
	return j->local ? xasprintf("%s@%s", j->local, j->domain) :
	    xstrdup(j->domain);
}

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

/* The answers of resolve_dir: every stanza resolves its 'to', and two
 * config store queries per message were most of xmppd's time per message
 * (bench/RESULTS.md). They are forgotten when the config store changes
 * (xmppd.c on_tick: PRAGMA data_version, within a second, as the
 * services' login revocation) or the guests do (guest.c), and after
 * RESOLVE_TTL seconds in any case. */
#define RESOLVE_SLOTS 4096
#define RESOLVE_TTL 300
struct resolved {
	char *key;                /* "local@domain" or "domain" */
	enum dest d;
	char *owner;
	int64_t po;
	time_t until;             /* monotonic seconds */
};
static struct resolved rcache[RESOLVE_SLOTS];

static enum dest resolve_dir(const struct jid *j, char **owner_r,
			     int64_t *po_r);

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* resolve - where a JID points; *owner_r for DEST_USER */
static enum dest
resolve(const struct jid *j, char **owner_r, int64_t *po_r)
{
	char *key = j->local != NULL ? xasprintf("%s@%s", j->local, j->domain) :
	    xstrdup(j->domain);
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct resolved *e = &rcache[h % RESOLVE_SLOTS];
	time_t now = mono_now();
	int64_t po = 0;
	enum dest d;

	if (e->key != NULL && e->until > now && strcmp(e->key, key) == 0) {
		free(key);
		*owner_r = e->owner != NULL ? xstrdup(e->owner) : NULL;
		if (po_r != NULL)
			*po_r = e->po;
		return e->d;
	}
	d = resolve_dir(j, owner_r, &po);
	if (po_r != NULL)
		*po_r = po;
	if (d == DEST_ERROR) {
		free(key);
		return d;
	}
	free(e->key);
	free(e->owner);
	e->key = key;
	e->d = d;
	e->owner = *owner_r != NULL ? xstrdup(*owner_r) : NULL;
	e->po = po;
	e->until = now + RESOLVE_TTL;
	return d;
}

bool
im_domain_remote(const char *domain)
{
	struct jid j = { NULL, (char *)domain, NULL };
	char *owner = NULL;
	enum dest d = resolve(&j, &owner, NULL);

	free(owner);
	return d == DEST_REMOTE;
}

void
im_resolve_forget(void)
{
	for (size_t i = 0; i < RESOLVE_SLOTS; i++) {
		xfree(&rcache[i].key);
		xfree(&rcache[i].owner);
	}
}

char *
im_owner_of(const char *jid, int64_t *po_r)
{
	struct jid j;
	char *owner = NULL;

	if (jid_parse(jid, &j) < 0)
		return NULL;
	/* the services (rooms' invitations and affiliations, PEP) do not
	 * address guests: only their inviter does (guest.h) */
	if (j.local == NULL || j.resource != NULL || guest_is_local(j.local) ||
	    resolve(&j, &owner, po_r) != DEST_USER) {
		free(owner);
		owner = NULL;
	}
	jid_clear(&j);
	return owner;
}

/* resolve_dir - resolve from the config store */
static enum dest
resolve_dir(const struct jid *j, char **owner_r, int64_t *po_r)
{
	struct dir_domain d;
	struct dir_mailbox mb;
	const char *err;
	int r;

	*owner_r = NULL;
	int64_t mpo;
	if (muc_domain(j->domain, &mpo)) {
		if (po_r != NULL)
			*po_r = mpo;
		return DEST_MUC;
	}
	if (upload_domain(j->domain, &mpo)) {
		if (po_r != NULL)
			*po_r = mpo;
		return DEST_UPLOAD;
	}
	if (proxy_domain(j->domain, &mpo)) {
		if (po_r != NULL)
			*po_r = mpo;
		return DEST_PROXY;
	}
	r = dir_domain_get(xsrv.svc->db, j->domain, &d, &err);
	if (r < 0) {
		log_warnx("xmpp: domain %s: %s", j->domain, err);
		return DEST_ERROR;
	}
	if (r == 0 || d.disabled || d.postoffice_disabled)
		return DEST_REMOTE;
	if (po_r != NULL)
		*po_r = d.postoffice_id;
	if (j->local == NULL)
		return DEST_SERVER;
	r = dir_mailbox_find(xsrv.svc->db, d.postoffice, j->local, &mb, &err);
	if (r < 0) {
		log_warnx("xmpp: mailbox %s: %s", j->local, err);
		return DEST_ERROR;
	}
	if (r == 0 && guest_is_local(j->local)) {
		/* an external contact (guest.c), while invited */
		struct chat_guest g;
		char *gowner = xasprintf("%s@%s", j->local, d.postoffice);
		char *gjid = xasprintf("%s@%s", j->local, j->domain);
		str_lower(gowner);
		str_lower(gjid);
		r = chat_guest_get(xsrv.store, gowner, &g, &err);
		if (r > 0 && g.ended == 0 && g.expires > (int64_t)time(NULL) &&
		    strcmp(g.jid, gjid) == 0) {
			*owner_r = gowner;
			gowner = NULL;
		}
		chat_guest_clear(&g);
		free(gowner);
		free(gjid);
		if (r < 0) {
			log_warnx("xmpp: guest %s: %s", j->local, err);
			return DEST_ERROR;
		}
		return *owner_r != NULL ? DEST_USER : DEST_NO_USER;
	}
	if (r == 0 || mb.disabled)
		return DEST_NO_USER;
	*owner_r = xasprintf("%s@%s", mb.name, mb.postoffice);
	str_lower(*owner_r);
	return DEST_USER;
}

/* ------------------------------------------------------------ helpers */

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

void
im_stanza_error(struct xsess *s, const struct xml_node *n, const char *type,
		const char *cond, const char *text)
{
	struct xml_node *e, *err;
	const char *id = xml_node_attr(n, "id");
	const char *to = xml_node_attr(n, "to");

	if (is(xml_node_attr(n, "type"), "error"))
		return;           /* never an error about an error */
	e = xml_node_new(n->name, "type", "error", NULL);
	if (id != NULL)
		xml_node_set_attr(e, "id", id);
	xml_node_set_attr(e, "from", to != NULL ? to : s->domain);
	if (s->full != NULL)
		xml_node_set_attr(e, "to", s->full);
	err = xml_node_add(e, "error", "type", type, NULL);
	xml_node_add(err, cond, "xmlns", NS_STANZAS, NULL);
	if (text != NULL)
		xml_node_add_text(xml_node_add(err, "text", "xmlns",
		    NS_STANZAS, "xml:lang", "en", NULL), text);
	xsess_send(s, e);
	xml_node_free(&e);
}

bool
im_component_domain(const char *domain, const char *prefix, int64_t *po_r)
{
	struct dir_domain d;
	const char *err;
	size_t n = strlen(prefix);

	if (strncmp(domain, prefix, n) != 0)
		return false;
	if (dir_domain_get(xsrv.svc->db, domain + n, &d, &err) <= 0 ||
	    d.disabled || d.postoffice_disabled)
		return false;
	*po_r = d.postoffice_id;
	return true;
}

void
im_error_from(struct xsess *s, const struct xml_node *n, const char *from,
	      const char *type, const char *cond, const char *text)
{
	struct xml_node *c = xml_node_copy(n);

	/* im_stanza_error answers from the stanza's 'to' */
	xml_node_set_attr(c, "to", from);
	im_stanza_error(s, c, type, cond, text);
	xml_node_free(&c);
}

struct xml_node *
im_result_from(struct xsess *s, const struct xml_node *iq, const char *from)
{
	struct xml_node *r = xml_node_new("iq", "type", "result", "from", from,
	    "to", s->full, NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(r, "id", id);
	return r;
}

/* blocks - whether owner blocks the entity jid (XEP-0191) */
static bool
blocks(const char *owner, const char *jid)
{
	const char *err;
	int r = chat_blocked(xsrv.store, owner, jid, &err);

	if (r < 0)
		log_warnx("xmpp %s: blocklist: %s", owner, err);
	return r > 0;
}

/* blocked_error - XEP-0191 3.6: a stanza to someone the user blocks */
static void
blocked_error(struct xsess *s, const struct xml_node *n)
{
	struct xml_node *e, *err;
	const char *id = xml_node_attr(n, "id");

	if (is(xml_node_attr(n, "type"), "error"))
		return;
	e = xml_node_new(n->name, "type", "error", "to", s->full, NULL);
	if (id != NULL)
		xml_node_set_attr(e, "id", id);
	if (xml_node_attr(n, "to") != NULL)
		xml_node_set_attr(e, "from", xml_node_attr(n, "to"));
	err = xml_node_add(e, "error", "type", "cancel", NULL);
	xml_node_add(err, "not-acceptable", "xmlns", NS_STANZAS, NULL);
	xml_node_add(err, "blocked", "xmlns", NS_BLOCKING_ERRORS, NULL);
	xsess_send(s, e);
	xml_node_free(&e);
}

static void
held_flush(struct xsess *t)
{
	for (size_t i = 0; i < t->nheld; i++) {
		xsess_send(t, t->held[i]);
		xml_node_free(&t->held[i]);
	}
	t->nheld = 0;
}

void
im_csi(struct xsess *s, bool active)
{
	s->inactive = !active;
	if (active)
		held_flush(s);
}

/* deliver - send a copy of n to session t, addressed to it; for an
 * inactive client (XEP-0352) availability presences wait, the latest of
 * each sender only, and leave before anything else */
void
im_deliver(struct xsess *t, const struct xml_node *n, const char *from,
	   bool set_to)
{
	struct xml_node *c = xml_node_copy(n);
	const char *type = xml_node_attr(n, "type");

	if (from != NULL)
		xml_node_set_attr(c, "from", from);
	if (set_to)
		xml_node_set_attr(c, "to", t->full);
	if (t->inactive && strcmp(c->name, "presence") == 0 &&
	    (type == NULL || is(type, "unavailable"))) {
		const char *f = xml_node_attr(c, "from");
		for (size_t i = 0; i < t->nheld; i++)
			if (is(xml_node_attr(t->held[i], "from"), f)) {
				xml_node_free(&t->held[i]);
				t->held[i] = c;
				return;
			}
		if (t->nheld == CSI_HELD_MAX)
			held_flush(t);
		t->held = xreallocarray(t->held, t->nheld + 1,
		    sizeof(*t->held));
		t->held[t->nheld++] = c;
		return;
	}
	if (t->nheld > 0)
		held_flush(t);
	xsess_send(t, c);
	xml_node_free(&c);
}

static struct xsess *
user_resource(struct xuser *u, const char *resource)
{
	if (u == NULL || resource == NULL)
		return NULL;
	for (struct xsess *t = u->sessions; t != NULL; t = t->unext)
		if (!t->dead && strcmp(t->resource, resource) == 0)
			return t;
	return NULL;
}

static struct xml_node *
iq_result(const struct xml_node *iq, const char *from)
{
	struct xml_node *r = xml_node_new("iq", "type", "result", NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(r, "id", id);
	if (from != NULL)
		xml_node_set_attr(r, "from", from);
	return r;
}

/* colleague - whether a JID is a user of s's own post office (the
 * shared roster group: subscribed both ways without asking) */
static bool
colleague(struct xsess *s, const char *jid)
{
	struct jid j;
	int64_t po = -1;
	char *owner = NULL;
	bool r;

	if (s->guest || jid_parse(jid, &j) < 0)
		return false;
	/* a guest is nobody's colleague (guest.h) */
	r = resolve(&j, &owner, &po) == DEST_USER && po == s->po_id &&
	    strcmp(owner, s->owner) != 0 && !guest_is_local(owner);
	free(owner);
	jid_clear(&j);
	return r;
}

/* ------------------------------------------------------------ roster */

static const char *const sub_names[] = { "none", "to", "from", "both" };

static void
item_render(struct xml_node *query, const struct roster_item *it, int sub,
	    bool remove)
{
	struct xml_node *x = xml_node_add(query, "item", "jid", it->jid,
	    "subscription", remove ? "remove" : sub_names[sub & 3], NULL);

	if (remove)
		return;
	if (it->name != NULL && *it->name)
		xml_node_set_attr(x, "name", it->name);
	if (it->ask)
		xml_node_set_attr(x, "ask", "subscribe");
	for (const char *g = it->groups; g != NULL && *g;) {
		const char *nl = strchr(g, '\n');
		size_t n = nl ? (size_t)(nl - g) : strlen(g);
		char *name = xstrndup(g, n);
		xml_node_add_text(xml_node_add(x, "group", NULL), name);
		free(name);
		g = nl ? nl + 1 : g + n;
	}
}

static bool
groups_have(const char *groups, const char *g)
{
	size_t gl = strlen(g);

	for (const char *p = groups; p != NULL && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n == gl && memcmp(p, g, n) == 0)
			return true;
		p = nl ? nl + 1 : p + n;
	}
	return false;
}

/* roster_push - RFC 6121 2.1.6: the changed item to every interested
 * resource of the owner */
static void
roster_push(const char *owner, const char *self_po, int64_t po_id,
	    const struct roster_item *it, bool remove)
{
	struct xuser *u = xuser_find(owner);

	(void)self_po;
	if (u == NULL)
		return;
	for (struct xsess *t = u->sessions; t != NULL; t = t->unext) {
		if (!t->interested || t->dead)
			continue;
		struct roster_item view = *it;
		int sub = it->sub;
		char *groups = NULL;
		if (u->po_id == po_id && colleague(t, it->jid)) {
			sub = CHAT_SUB_BOTH;
			view.ask = false;
			if (!groups_have(it->groups, t->po)) {
				groups = (it->groups && *it->groups) ?
				    xasprintf("%s\n%s", it->groups, t->po) :
				    xstrdup(t->po);
				view.groups = groups;
			}
		}
		struct xml_node *iq = xml_node_new("iq", "type", "set", "id",
		    "push", "to", t->full, NULL);
		struct xml_node *q = xml_node_add(iq, "query", "xmlns",
		    NS_ROSTER, NULL);
		item_render(q, &view, sub, remove);
		xsess_send(t, iq);
		xml_node_free(&iq);
		free(groups);
	}
}

void
im_roster_push(const char *owner, const struct roster_item *it, bool remove)
{
	roster_push(owner, NULL, -1, it, remove);
}

/* roster_get - RFC 6121 2.1.3: the stored items and the post office's
 * users (group: the post office's name) */
static void
roster_get(struct xsess *s, struct xml_node *iq)
{
	struct roster_item *items = NULL;
	struct dir_strings names = { 0 };
	size_t n = 0;
	const char *err;
	struct xml_node *r, *q;

	/* a guest's roster is its inviter (stored), not the post office */
	if (chat_roster_load(xsrv.store, s->owner, &items, &n, &err) < 0 ||
	    (!s->guest && dir_postoffice_mailboxes(xsrv.svc->db, s->po_id,
	    &names, &err) < 0)) {
		log_warnx("xmpp %s: roster: %s", s->full, err);
		chat_roster_free(&items, n);
		im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
		return;
	}
	r = iq_result(iq, NULL);
	xml_node_set_attr(r, "to", s->full);
	q = xml_node_add(r, "query", "xmlns", NS_ROSTER, NULL);
	bool *used = xcalloc(n ? n : 1, sizeof(bool));
	for (size_t i = 0; i < names.n; i++) {
		char *jid = xasprintf("%s@%s", names.v[i], s->domain);
		str_lower(jid);
		if (strcmp(jid, s->bare) == 0) {
			free(jid);
			continue;
		}
		struct roster_item view = { .jid = jid, .name = "",
		    .groups = s->po };
		char *groups = NULL;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(items[k].jid, jid) != 0)
				continue;
			used[k] = true;
			view.name = items[k].name;
			if (*items[k].groups && !groups_have(items[k].groups,
			    s->po)) {
				groups = xasprintf("%s\n%s", items[k].groups,
				    s->po);
				view.groups = groups;
			} else if (*items[k].groups)
				view.groups = items[k].groups;
		}
		item_render(q, &view, CHAT_SUB_BOTH, false);
		free(groups);
		free(jid);
	}
	for (size_t k = 0; k < n; k++)
		if (!used[k] && items[k].listed)
			item_render(q, &items[k], items[k].sub, false);
	free(used);
	s->interested = true;
	xsess_send(s, r);
	xml_node_free(&r);
	chat_roster_free(&items, n);
	dir_strings_free(&names);
}

static void presence_subscription(struct xsess *s, const char *type,
				  const char *contact);

/* roster_set - RFC 6121 2.1.5 and 2.5 (remove) */
static void
roster_set(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	struct xml_node *item = NULL;
	struct roster_item it;
	struct jid j;
	struct buf groups;
	const char *err;
	int nitems = 0, r;

	if (s->guest) {
		im_stanza_error(s, iq, "cancel", "not-allowed", "a guest's "
		    "roster is the person who invited them");
		return;
	}
	for (struct xml_node *c = q->first; c != NULL; c = c->next)
		if (c->name != NULL) {
			nitems++;
			item = c;
		}
	if (nitems != 1 || strcmp(item->name, "item") != 0) {
		im_stanza_error(s, iq, "modify", "bad-request", "one item");
		return;
	}
	if (jid_parse(xml_node_attr(item, "jid"), &j) < 0 ||
	    j.resource != NULL) {
		jid_clear(&j);
		im_stanza_error(s, iq, "modify", "jid-malformed", NULL);
		return;
	}
	char *bare = jid_bare(&j);
	jid_clear(&j);
	if (strcmp(bare, s->bare) == 0) {
		free(bare);
		im_stanza_error(s, iq, "cancel", "not-allowed", "not "
		    "yourself");
		return;
	}
	r = chat_roster_get(xsrv.store, s->owner, bare, &it, &err);
	if (r < 0)
		goto fail;
	if (is(xml_node_attr(item, "subscription"), "remove")) {
		if (r == 1) {
			int sub = it.sub;
			if (chat_roster_delete(xsrv.store, s->owner, bare,
			    &err) < 0)
				goto fail;
			/* RFC 6121 2.5.2: cancel both ways */
			if (sub & CHAT_SUB_TO || it.ask)
				presence_subscription(s, "unsubscribe", bare);
			if (sub & CHAT_SUB_FROM)
				presence_subscription(s, "unsubscribed", bare);
			roster_push(s->owner, s->po, s->po_id, &it, true);
		} else if (!colleague(s, bare)) {
			chat_roster_item_clear(&it);
			free(bare);
			im_stanza_error(s, iq, "cancel", "item-not-found", NULL);
			return;
		}
		goto done;
	}
	if (r == 0) {
		if (chat_roster_count(xsrv.store, s->owner, &err) >=
		    CHAT_ROSTER_MAX) {
			free(bare);
			im_stanza_error(s, iq, "cancel", "policy-violation",
			    "the roster is full");
			return;
		}
		it.jid = xstrdup(bare);
	}
	buf_init(&groups, 0);
	for (struct xml_node *g = item->first; g != NULL; g = g->next) {
		if (g->name == NULL || strcmp(g->name, "group") != 0)
			continue;
		char *name = xml_node_text(g);
		if (*name == '\0' || strlen(name) > JID_PART_MAX ||
		    strchr(name, '\n') != NULL ||
		    groups_have(groups.data, name)) {
			free(name);
			buf_free(&groups);
			chat_roster_item_clear(&it);
			free(bare);
			im_stanza_error(s, iq, "modify", "not-acceptable",
			    "empty, too long or repeated group");
			return;
		}
		if (groups.len > 0)
			buf_putc(&groups, '\n');
		buf_puts(&groups, name);
		free(name);
	}
	free(it.name);
	free(it.groups);
	const char *name = xml_node_attr(item, "name");
	it.name = xstrdup(name && strlen(name) <= JID_PART_MAX ? name : "");
	it.groups = buf_steal(&groups);
	it.listed = true;
	if (chat_roster_put(xsrv.store, s->owner, &it, &err) < 0)
		goto fail;
	roster_push(s->owner, s->po, s->po_id, &it, false);
done:
	chat_roster_item_clear(&it);
	free(bare);
	struct xml_node *res = iq_result(iq, NULL);
	xsess_send(s, res);
	xml_node_free(&res);
	return;
fail:
	log_warnx("xmpp %s: roster: %s", s->full, err);
	chat_roster_item_clear(&it);
	free(bare);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

/* ------------------------------------------------------------ presence */


/* broadcast - RFC 6121 4.2.2, 4.4.2, 4.5.2: s's presence to the
 * available resources of those who may see it, and to s's own */
static void
broadcast(struct xsess *s, const struct xml_node *p)
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
	if (blocks(viewer->owner, target->full) ||
	    blocks(target->owner, viewer->full))
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
			broadcast(s, p);
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
	broadcast(s, p);
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
		roster_push(owner, NULL, po_id, it, false);
}

/* presence_subscription - RFC 6121 3: s's user sends a subscription
 * stanza of type to the bare JID contact */
static void
presence_subscription(struct xsess *s, const char *type, const char *contact)
{
	struct roster_item mine, theirs;
	struct jid j;
	char *owner = NULL;
	int64_t po = -1;
	enum dest d;
	bool both_known;

	if (jid_parse(contact, &j) < 0)
		return;
	d = resolve(&j, &owner, &po);
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

static void
presence(struct xsess *s, struct xml_node *p)
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
	if (blocks(s->owner, to)) {
		blocked_error(s, p);
		goto out;
	}
	int64_t po = -1;
	d = resolve(&j, &owner, &po);
	if (d == DEST_MUC) {
		muc_presence(s, p, &j, po);
		goto out;
	}
	if (d == DEST_USER && blocks(owner, s->full))
		goto out;       /* XEP-0191 3.5: dropped without a word */
	if (type != NULL && (is(type, "subscribe") || is(type, "subscribed") ||
	    is(type, "unsubscribe") || is(type, "unsubscribed"))) {
		if (d == DEST_REMOTE)
			federate_subscription(s, type, bare);
		else if (strcmp(bare, s->bare) != 0)
			presence_subscription(s, type, bare);
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

/* ------------------------------------------------------------ messages */

/* archive - XEP-0313: a message in both users' archives; the copy the
 * recipient gets carries its archive id (XEP-0359 <stanza-id/>, any a
 * client put there removed first) */
static void
archive(struct xsess *s, struct xml_node *m, const char *owner,
	const char *peer)
{
	struct xml_node *sid;
	struct buf b;
	int64_t id;
	const char *err;
	char idtext[32];

	while ((sid = xml_node_child(m, "stanza-id", NS_SID)) != NULL) {
		xml_node_detach(sid);
		xml_node_free(&sid);
	}
	struct xml_node *c = xml_node_copy(m);
	xml_node_set_attr(c, "xmlns", NS_CLIENT);
	buf_init(&b, 0);
	xml_node_write(c, &b);
	xml_node_free(&c);
	if (chat_archive_add(xsrv.store, owner, s->bare, b.data, &id,
	    &err) < 0)
		log_warnx("xmpp %s: archive: %s", owner, err);
	else {
		snprintf(idtext, sizeof(idtext), "%" PRId64, id);
		xml_node_add(m, "stanza-id", "xmlns", NS_SID, "by", peer, "id",
		    idtext, NULL);
	}
	if (strcmp(owner, s->owner) != 0 && chat_archive_add(xsrv.store,
	    s->owner, peer, b.data, &id, &err) < 0)
		log_warnx("xmpp %s: archive: %s", s->owner, err);
	buf_free(&b);
}

/* carbon_eligible - XEP-0280 6: chat messages, and normal ones with a
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

/* carbons_sent - the sender's other resources with carbons see what it
 * sent */
void
im_carbons_sent(struct xsess *s, const struct xml_node *m)
{
	for (struct xsess *t = s->user->sessions; t != NULL; t = t->unext)
		if (t != s && t->carbons && !t->dead)
			carbon(t, "sent", m, s->bare);
}

/* carbons_received - the recipient's resources with carbons that did not
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

static void
message(struct xsess *s, struct xml_node *m)
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
	d = resolve(&j, &owner, &po);
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
	if (blocks(s->owner, to)) {
		blocked_error(s, m);
		goto out;
	}
	if (blocks(owner, s->full)) {
		if (!is(type, "error") && !is(type, "headline"))
			im_stanza_error(s, m, "cancel", "service-unavailable",
			    NULL);
		goto out;
	}
	if ((is(type, "chat") || is(type, "normal")) &&
	    xml_node_child(m, "body", NULL) != NULL) {
		char *peer = jid_bare(&j);
		archive(s, m, owner, peer);
		free(peer);
	}
	struct xuser *u = xuser_find(owner);
	struct xsess *t = user_resource(u, j.resource);
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

/* ------------------------------------------------------------ IQ */

static void
disco_info(struct xsess *s, struct xml_node *iq, const char *from,
	   bool account)
{
	static const char *const features[] = {
		NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_ROSTER,
		"urn:xmpp:delay", NS_CARBONS, NS_BLOCKING, NS_VCARD, NS_GUEST,
		NS_COMMANDS, NULL
	};
	struct xml_node *r = iq_result(iq, from);
	struct xml_node *q = xml_node_add(r, "query", "xmlns", NS_DISCO_INFO,
	    NULL);
	const char *node = xml_node_attr(xml_node_child(iq, "query",
	    NS_DISCO_INFO), "node");

	if (!account && node != NULL && strcmp(node, GUEST_NODE) == 0 &&
	    !s->guest) {
		/* the ad-hoc command (XEP-0050 2.3) */
		xml_node_set_attr(q, "node", node);
		guest_command_info(q);
	} else if (!account && node != NULL && strcmp(node, NS_COMMANDS) == 0) {
		xml_node_set_attr(q, "node", node);
		xml_node_add(q, "identity", "category", "automation", "type",
		    "command-list", "name", "Commands", NULL);
	} else if (account) {
		xml_node_add(q, "identity", "category", "account", "type",
		    "registered", NULL);
		pep_disco_account(q);
		xml_node_add(q, "feature", "var", NS_MAM, NULL);
		xml_node_add(q, "feature", "var", NS_VCARD, NULL);
	}
	else {
		xml_node_add(q, "identity", "category", "server", "type", "im",
		    "name", "Postern", NULL);
		for (const char *const *f = features; *f; f++)
			xml_node_add(q, "feature", "var", *f, NULL);
		if (turn_enabled())     /* XEP-0215 (turn.c) */
			xml_node_add(q, "feature", "var", NS_EXTDISCO, NULL);
	}
	xsess_send(s, r);
	xml_node_free(&r);
}

/* block_presence - after a block (unavailable) or an unblock (the
 * current presence, when the contact may see it), XEP-0191 3.3, 3.4 */
static void
block_presence(struct xsess *s, const char *jid, bool blocked)
{
	struct jid j;
	char *owner = NULL;

	if (jid_parse(jid, &j) < 0)
		return;
	if (j.local != NULL && resolve(&j, &owner, NULL) == DEST_USER) {
		struct xuser *u = xuser_find(owner);
		for (struct xsess *t = u ? u->sessions : NULL; t != NULL;
		    t = t->unext) {
			if (!t->available || (!blocked && !im_may_see(t, s)))
				continue;
			for (struct xsess *f = s->user->sessions; f != NULL;
			    f = f->unext) {
				if (!f->available || f->presence == NULL)
					continue;
				struct xml_node *p = blocked ?
				    xml_node_new("presence", "type",
				    "unavailable", NULL) :
				    xml_node_copy(f->presence);
				im_deliver(t, p, f->full, true);
				xml_node_free(&p);
			}
		}
	}
	free(owner);
	jid_clear(&j);
}

/* blocking - XEP-0191: the blocklist, block and unblock with pushes */
static void
blocking(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	const char *type = xml_node_attr(iq, "type");
	const char *err;
	char **jids = NULL;
	size_t n = 0;

	if (is(type, "get") && strcmp(q->name, "blocklist") == 0) {
		if (chat_block_list(xsrv.store, s->owner, &jids, &n, &err) < 0)
			goto fail;
		struct xml_node *r = iq_result(iq, NULL);
		struct xml_node *l = xml_node_add(r, "blocklist", "xmlns",
		    NS_BLOCKING, NULL);
		for (size_t i = 0; i < n; i++) {
			xml_node_add(l, "item", "jid", jids[i], NULL);
			free(jids[i]);
		}
		free(jids);
		s->blocklist_wanted = true;
		xsess_send(s, r);
		xml_node_free(&r);
		return;
	}
	bool add = strcmp(q->name, "block") == 0;
	if (!is(type, "set") || (!add && strcmp(q->name, "unblock") != 0)) {
		im_stanza_error(s, iq, "modify", "bad-request", NULL);
		return;
	}
	/* the items, normalised; all checked before any is applied */
	for (struct xml_node *c = q->first; c != NULL; c = c->next) {
		struct jid j;
		if (c->name == NULL)
			continue;
		if (strcmp(c->name, "item") != 0 ||
		    jid_parse(xml_node_attr(c, "jid"), &j) < 0) {
			for (size_t i = 0; i < n; i++)
				free(jids[i]);
			free(jids);
			im_stanza_error(s, iq, "modify", "jid-malformed", NULL);
			return;
		}
		char *b = jid_bare(&j);
		jids = xreallocarray(jids, n + 1, sizeof(char *));
		jids[n++] = j.resource ? xasprintf("%s/%s", b, j.resource) :
		    xstrdup(b);
		free(b);
		jid_clear(&j);
	}
	if (add && n == 0) {
		im_stanza_error(s, iq, "modify", "bad-request", "no item");
		return;
	}
	int r = 0;
	if (!add && n == 0)
		r = chat_block_set(xsrv.store, s->owner, NULL, false, &err);
	for (size_t i = 0; i < n && r == 0; i++)
		r = chat_block_set(xsrv.store, s->owner, jids[i], add, &err);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			free(jids[i]);
		free(jids);
		if (r > 0) {
			im_stanza_error(s, iq, "cancel", "resource-constraint",
			    "the blocklist is full");
			return;
		}
		goto fail;
	}
	struct xml_node *res = iq_result(iq, NULL);
	xsess_send(s, res);
	xml_node_free(&res);
	for (struct xsess *t = s->user->sessions; t != NULL; t = t->unext) {
		if (!t->blocklist_wanted || t->dead)
			continue;
		struct xml_node *p = xml_node_new("iq", "type", "set", "id",
		    "push", "to", t->full, NULL);
		struct xml_node *l = xml_node_add(p, q->name, "xmlns",
		    NS_BLOCKING, NULL);
		for (size_t i = 0; i < n; i++)
			xml_node_add(l, "item", "jid", jids[i], NULL);
		xsess_send(t, p);
		xml_node_free(&p);
	}
	for (size_t i = 0; i < n; i++) {
		block_presence(s, jids[i], add);
		free(jids[i]);
	}
	free(jids);
	return;
fail:
	log_warnx("xmpp %s: blocklist: %s", s->full, err);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

/* vcard - XEP-0054: one's own vCard set and read, anyone's read */
static void
vcard(struct xsess *s, struct xml_node *iq, struct xml_node *v,
      const char *owner, const char *from)
{
	const char *err;
	char *xml = NULL;
	int r;

	if (is(xml_node_attr(iq, "type"), "set")) {
		struct buf b;
		if (strcmp(owner, s->owner) != 0) {
			im_stanza_error(s, iq, "auth", "forbidden", "only your "
			    "own vCard");
			return;
		}
		buf_init(&b, 0);
		xml_node_write(v, &b);
		r = chat_vcard_set(xsrv.store, owner, b.data, &err);
		buf_free(&b);
		if (r < 0)
			goto fail;
		if (s->user != NULL)
			xfree(&s->user->photo);   /* XEP-0153: hash again */
		struct xml_node *res = iq_result(iq, NULL);
		xsess_send(s, res);
		xml_node_free(&res);
		return;
	}
	if (chat_vcard_get(xsrv.store, owner, &xml, &err) < 0)
		goto fail;
	struct buf b;
	const char *id = xml_node_attr(iq, "id");
	buf_init(&b, 0);
	buf_puts(&b, "<iq type='result' id='");
	xml_escape(&b, id ? id : "");
	buf_puts(&b, "' to='");
	xml_escape(&b, s->full);
	if (from != NULL) {
		buf_puts(&b, "' from='");
		xml_escape(&b, from);
	}
	buf_puts(&b, "'>");
	buf_puts(&b, xml ? xml : "<vCard xmlns='" NS_VCARD "'/>");
	buf_puts(&b, "</iq>");
	xsess_send_stanza_text(s, b.data);
	buf_free(&b);
	free(xml);
	return;
fail:
	log_warnx("xmpp %s: vcard: %s", owner, err);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

/* stamp_parse - XEP-0082 date-time (UTC) to seconds; -1 if malformed */
static int64_t
stamp_parse(const char *t)
{
	struct tm tm;
	const char *rest;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return -1;
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			;
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return -1;
	return (int64_t)timegm(&tm);
}

struct mam_ctx {
	struct xsess *s;
	const char *queryid;
	int64_t first, last;
	int n;
};

static void
mam_row(void *ctx, int64_t id, int64_t stamp, const char *stanza)
{
	struct mam_ctx *mc = ctx;
	struct buf b;
	char ts[32];
	time_t t = (time_t)stamp;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (mc->n++ == 0)
		mc->first = id;
	mc->last = id;
	buf_init(&b, 0);
	buf_puts(&b, "<message to='");
	xml_escape(&b, mc->s->full);
	buf_puts(&b, "' from='");
	xml_escape(&b, mc->s->bare);
	buf_puts(&b, "'><result xmlns='" NS_MAM "'");
	if (mc->queryid != NULL) {
		buf_puts(&b, " queryid='");
		xml_escape(&b, mc->queryid);
		buf_putc(&b, '\'');
	}
	buf_printf(&b, " id='%" PRId64 "'><forwarded xmlns='" NS_FORWARD
	    "'><delay xmlns='" NS_DELAY "' stamp='%s'/>", id, ts);
	buf_puts(&b, stanza);
	buf_puts(&b, "</forwarded></result></message>");
	xsess_send_stanza_text(mc->s, b.data);
	buf_free(&b);
}

char *
im_form_value(const struct xml_node *x, const char *var)
{
	for (struct xml_node *f = x ? x->first : NULL; f != NULL; f = f->next) {
		if (f->name == NULL || strcmp(f->name, "field") != 0 ||
		    !is(xml_node_attr(f, "var"), var))
			continue;
		struct xml_node *v = xml_node_child(f, "value", NULL);
		return v ? xml_node_text(v) : xstrdup("");
	}
	return NULL;
}

static bool
id_parse(const char *t, int64_t *id)
{
	long long v;

	if (parse_long(t, 1, INT64_MAX, &v) < 0)
		return false;
	*id = v;
	return true;
}

/* mam - XEP-0313 queries of one's own archive, paged by RSM
 * (XEP-0059): with, start and end; max, after, before (empty: the last
 * page) */
static void
mam(struct xsess *s, struct xml_node *iq, struct xml_node *q)
{
	struct chat_archive_query aq = { .max = 50 };
	struct xml_node *x = xml_node_child(q, "x", NS_DATA);
	struct xml_node *set = xml_node_child(q, "set", NS_RSM);
	struct mam_ctx mc = { .s = s, .queryid = xml_node_attr(q, "queryid") };
	char *with = im_form_value(x, "with"), *start = im_form_value(x, "start");
	char *end = im_form_value(x, "end"), *bare = NULL;
	const char *bad = NULL, *err;
	int64_t count;
	bool complete;
	struct jid j;

	if (!is(xml_node_attr(iq, "type"), "set")) {
		/* the form (XEP-0313 5.1) */
		struct xml_node *r = iq_result(iq, NULL);
		struct xml_node *f = xml_node_add(xml_node_add(r, "query",
		    "xmlns", NS_MAM, NULL), "x", "xmlns", NS_DATA, "type",
		    "form", NULL);
		xml_node_add_text(xml_node_add(xml_node_add(f, "field", "var",
		    "FORM_TYPE", "type", "hidden", NULL), "value", NULL),
		    NS_MAM);
		xml_node_add(f, "field", "var", "with", "type", "jid-single",
		    NULL);
		xml_node_add(f, "field", "var", "start", "type", "text-single",
		    NULL);
		xml_node_add(f, "field", "var", "end", "type", "text-single",
		    NULL);
		xsess_send(s, r);
		xml_node_free(&r);
		goto out;
	}
	if (with != NULL && *with) {
		if (jid_parse(with, &j) < 0)
			bad = "malformed 'with'";
		else {
			bare = jid_bare(&j);
			jid_clear(&j);
			aq.with = bare;
		}
	}
	if (start != NULL && *start && (aq.start = stamp_parse(start)) < 0)
		bad = "malformed 'start'";
	if (end != NULL && *end && (aq.end = stamp_parse(end)) < 0)
		bad = "malformed 'end'";
	if (aq.start < 0)
		aq.start = 0;
	if (aq.end < 0)
		aq.end = 0;
	if (set != NULL) {
		struct xml_node *mx = xml_node_child(set, "max", NULL);
		struct xml_node *af = xml_node_child(set, "after", NULL);
		struct xml_node *bf = xml_node_child(set, "before", NULL);
		char *t;
		long long v;
		if (mx != NULL) {
			t = xml_node_text(mx);
			if (parse_long(t, 0, 1000000, &v) < 0)
				bad = "malformed <max/>";
			else
				aq.max = v > MAM_MAX_PAGE ? MAM_MAX_PAGE : (int)v;
			free(t);
		}
		if (af != NULL) {
			t = xml_node_text(af);
			if (!id_parse(t, &aq.after))
				bad = "unknown <after/> id";
			free(t);
		}
		if (bf != NULL) {
			t = xml_node_text(bf);
			if (*t == '\0')
				aq.before = -1;
			else if (!id_parse(t, &aq.before))
				bad = "unknown <before/> id";
			free(t);
		}
	}
	if (bad != NULL) {
		im_stanza_error(s, iq, "modify", "bad-request", bad);
		goto out;
	}
	if (chat_archive_find(xsrv.store, s->owner, &aq, mam_row, &mc, &count,
	    &complete, &err) < 0) {
		log_warnx("xmpp %s: archive: %s", s->full, err);
		im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
		goto out;
	}
	struct xml_node *r = iq_result(iq, NULL);
	struct xml_node *fin = xml_node_add(r, "fin", "xmlns", NS_MAM, NULL);
	if (complete)
		xml_node_set_attr(fin, "complete", "true");
	struct xml_node *rs = xml_node_add(fin, "set", "xmlns", NS_RSM, NULL);
	char num[32];
	if (mc.n > 0) {
		snprintf(num, sizeof(num), "%" PRId64, mc.first);
		xml_node_add_text(xml_node_add(rs, "first", NULL), num);
		snprintf(num, sizeof(num), "%" PRId64, mc.last);
		xml_node_add_text(xml_node_add(rs, "last", NULL), num);
	}
	snprintf(num, sizeof(num), "%" PRId64, count);
	xml_node_add_text(xml_node_add(rs, "count", NULL), num);
	xsess_send(s, r);
	xml_node_free(&r);
out:
	free(with);
	free(start);
	free(end);
	free(bare);
}

/* iq_server - an IQ to the server or the user's own account */
static void
iq_server(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
	  const char *to, bool account, bool own, const char *vcard_owner,
	  int64_t owner_po)
{
	const char *type = xml_node_attr(iq, "type");
	const char *ns = xml_node_xmlns(payload);
	const char *from = to;

	if (is(type, "result") || is(type, "error"))
		return;
	if (is(ns, NS_ROSTER) && strcmp(payload->name, "query") == 0 &&
	    (to == NULL || own)) {
		if (is(type, "get"))
			roster_get(s, iq);
		else
			roster_set(s, iq, payload);
	} else if (is(ns, NS_CARBONS) && is(type, "set") && (to == NULL ||
	    own) && (strcmp(payload->name, "enable") == 0 ||
	    strcmp(payload->name, "disable") == 0)) {
		s->carbons = payload->name[0] == 'e';
		struct xml_node *r = iq_result(iq, NULL);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_GUEST) && (to == NULL || !account)) {
		guest_iq(s, iq, payload);
	} else if (is(ns, NS_EXTDISCO) && (to == NULL || !account)) {
		turn_iq(s, iq, payload, from);           /* turn.c */
	} else if (is(ns, NS_COMMANDS) && strcmp(payload->name, "command") ==
	    0 && is(type, "set") && (to == NULL || !account)) {
		guest_command(s, iq, payload, from);
	} else if (is(ns, NS_BLOCKING) && (to == NULL || own)) {
		blocking(s, iq, payload);
	} else if (is(ns, NS_MAM) && strcmp(payload->name, "query") == 0 &&
	    (to == NULL || own)) {
		mam(s, iq, payload);
	} else if ((is(ns, NS_PUBSUB) || is(ns, NS_PUBSUB_OWNER)) &&
	    strcmp(payload->name, "pubsub") == 0 && (to == NULL || account)) {
		pep_iq(s, iq, payload, vcard_owner, owner_po, to, own);
	} else if (is(ns, NS_VCARD) && strcmp(payload->name, "vCard") == 0 &&
	    (to == NULL || account)) {
		vcard(s, iq, payload, vcard_owner, to);
	} else if (is(ns, NS_PING) && is(type, "get")) {
		struct xml_node *r = iq_result(iq, from);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_DISCO_INFO) && is(type, "get")) {
		disco_info(s, iq, from, account);
	} else if (is(ns, NS_DISCO_ITEMS) && is(type, "get")) {
		struct xml_node *r = iq_result(iq, from);
		struct xml_node *q = xml_node_add(r, "query", "xmlns",
		    NS_DISCO_ITEMS, NULL);
		const char *node = xml_node_attr(payload, "node");
		if (!account && is(node, NS_COMMANDS)) {
			/* the ad-hoc commands (XEP-0050 2.2) */
			xml_node_set_attr(q, "node", node);
			guest_command_items(s, q);
		} else if (!account) {
			/* the chat room service (muc.c) */
			char *conf = xasprintf("conference.%s", s->domain);
			xml_node_add(q, "item", "jid", conf, "name",
			    "Chatrooms", NULL);
			free(conf);
			/* HTTP file upload (upload.c) */
			conf = xasprintf("upload.%s", s->domain);
			xml_node_add(q, "item", "jid", conf, "name",
			    "HTTP File Upload", NULL);
			free(conf);
			if (proxy_enabled()) {
				/* the SOCKS5 proxy (socks5.c) */
				conf = xasprintf("proxy.%s", s->domain);
				xml_node_add(q, "item", "jid", conf, "name",
				    "SOCKS5 Bytestreams", NULL);
				free(conf);
			}
		}
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_SESSION) && is(type, "set")) {
		struct xml_node *r = iq_result(iq, from);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_BIND)) {
		im_stanza_error(s, iq, "cancel", "not-allowed", "already "
		    "bound");
	} else
		im_stanza_error(s, iq, "cancel", "service-unavailable", NULL);
}

static void
iq(struct xsess *s, struct xml_node *iq)
{
	const char *type = xml_node_attr(iq, "type");
	const char *to = xml_node_attr(iq, "to");
	struct xml_node *payload = NULL;
	int nchild = 0;
	struct jid j;
	char *owner = NULL;

	for (struct xml_node *c = iq->first; c != NULL; c = c->next)
		if (c->name != NULL) {
			nchild++;
			if (payload == NULL)
				payload = c;
		}
	if (xml_node_attr(iq, "id") == NULL || type == NULL ||
	    ((is(type, "get") || is(type, "set")) && nchild != 1) ||
	    (is(type, "result") && nchild > 1) || (!is(type, "get") &&
	    !is(type, "set") && !is(type, "result") && !is(type, "error"))) {
		/* RFC 6120 8.2.3 */
		im_stanza_error(s, iq, "modify", "bad-request", NULL);
		return;
	}
	if ((is(type, "result") || is(type, "error")) && pep_iq_answer(s, iq))
		return;   /* the answer to our capabilities query */
	if (to == NULL) {
		if (payload != NULL)
			iq_server(s, iq, payload, NULL, false, true, s->owner,
			    s->po_id);
		return;
	}
	if (jid_parse(to, &j) < 0) {
		im_stanza_error(s, iq, "modify", "jid-malformed", NULL);
		return;
	}
	int64_t po = -1;
	enum dest d = resolve(&j, &owner, &po);
	bool req = is(type, "get") || is(type, "set");
	if (d == DEST_MUC) {
		muc_iq(s, iq, payload, &j, po);
	} else if (d == DEST_UPLOAD) {
		upload_iq(s, iq, payload, &j, po);
	} else if (d == DEST_PROXY) {
		proxy_iq(s, iq, payload, &j, po);
	} else if (d == DEST_SERVER && j.resource == NULL) {
		if (payload != NULL)
			iq_server(s, iq, payload, to, false, false, NULL, 0);
	} else if (d == DEST_USER && j.resource == NULL) {
		/* to a bare JID: the server answers for the account */
		if (payload != NULL)
			iq_server(s, iq, payload, to, true,
			    strcmp(owner, s->owner) == 0, owner, po);
	} else if (d == DEST_USER && blocks(s->owner, to)) {
		blocked_error(s, iq);
	} else if (d == DEST_USER && blocks(owner, s->full)) {
		if (req)
			im_stanza_error(s, iq, "cancel", "service-unavailable",
			    NULL);
	} else if (d == DEST_USER) {
		struct xsess *t = user_resource(xuser_find(owner), j.resource);
		if (t != NULL)
			im_deliver(t, iq, s->full, false);
		else if (req)
			im_stanza_error(s, iq, "cancel", "service-unavailable",
			    NULL);
	} else if (d == DEST_REMOTE) {
		federate_out(s, iq, &j);        /* federate.c */
	} else if (req) {
		if (d == DEST_ERROR)
			im_stanza_error(s, iq, "wait",
			    "internal-server-error", NULL);
		else
			im_stanza_error(s, iq, "cancel", "service-unavailable",
			    NULL);
	}
	free(owner);
	jid_clear(&j);
}

/* ------------------------------------------------------------ entry */

/* from_ok - RFC 6120 8.1.2.1: a 'from' the client gave must be its own
 * full or bare JID */
static bool
from_ok(struct xsess *s, const char *from)
{
	struct jid j;
	bool ok;

	if (from == NULL)
		return true;
	if (jid_parse(from, &j) < 0)
		return false;
	char *bare = jid_bare(&j);
	ok = strcmp(bare, s->bare) == 0 && (j.resource == NULL ||
	    strcmp(j.resource, s->resource) == 0);
	free(bare);
	jid_clear(&j);
	return ok;
}

/* guest_fenced - guest.h: a guest reaches its inviter, itself and the
 * server, nothing else; nobody but the inviter reaches a guest. true
 * when n stops here (answered as if nobody were there) */
static bool
guest_fenced(struct xsess *s, struct xml_node *n)
{
	const char *to = xml_node_attr(n, "to");
	const char *type = xml_node_attr(n, "type");
	struct jid j;
	char *owner = NULL;
	bool fenced = false;

	if (to == NULL || jid_parse(to, &j) < 0)
		return false;     /* one's own account; or the usual error */
	if (!s->guest && (j.local == NULL || !guest_is_local(j.local))) {
		jid_clear(&j);
		return false;     /* the common case: no lookup */
	}
	enum dest d = resolve(&j, &owner, NULL);
	if (s->guest)
		fenced = !(d == DEST_SERVER && j.resource == NULL &&
		    strcmp(j.domain, s->domain) == 0) && !(d == DEST_USER &&
		    (strcmp(owner, s->owner) == 0 ||
		    strcmp(owner, s->guest_of) == 0));
	else if (d == DEST_USER && guest_is_local(owner)) {
		struct chat_guest g;
		const char *err;
		fenced = chat_guest_get(xsrv.store, owner, &g, &err) <= 0 ||
		    strcmp(g.inviter, s->owner) != 0;
		chat_guest_clear(&g);
	}
	free(owner);
	jid_clear(&j);
	if (!fenced)
		return false;
	if (strcmp(n->name, "presence") != 0 && !is(type, "error") &&
	    !is(type, "result") && !is(type, "headline"))
		im_stanza_error(s, n, "cancel", "service-unavailable",
		    s->guest ? "a guest can chat only with the person who "
		    "invited them" : NULL);
	return true;
}

void
im_stanza(struct xsess *s, struct xml_node *n)
{
	if (!from_ok(s, xml_node_attr(n, "from"))) {
		stream_error(s, "invalid-from", "'from' is not your JID");
		xml_node_free(&n);
		return;
	}
	if (guest_fenced(s, n)) {
		xml_node_free(&n);
		return;
	}
	xml_node_set_attr(n, "from", s->full);
	if (strcmp(n->name, "message") == 0)
		message(s, n);
	else if (strcmp(n->name, "presence") == 0)
		presence(s, n);
	else
		iq(s, n);
	xml_node_free(&n);
}

void
im_session_gone(struct xsess *s)
{
	muc_session_gone(s);
	if (!s->available)
		return;
	struct xml_node *p = xml_node_new("presence", "type", "unavailable",
	    NULL);
	s->available = false;
	/* still in its user's list: broadcast reaches the others */
	for (struct xuser *u = xsrv.users; u != NULL; u = u->next)
		for (struct xsess *t = u->sessions; t != NULL; t = t->unext)
			if (t != s && t->available && !t->dead &&
			    (u == s->user || im_may_see(t, s)))
				im_deliver(t, p, s->full, true);
	federate_presence(s, p, false);
	xml_node_free(&p);
}
