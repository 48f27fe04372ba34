/* im - instant messaging on the bound streams (RFC 6121): JIDs, routing
 * (resolve, with its cache), the helpers and the entry of a stanza; the
 * rest in roster.c, presence.c, message.c and im-iq.c (im-int.h) */
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

/* im_resolve - where a JID points; *owner_r for DEST_USER */
enum dest
im_resolve(const struct jid *j, char **owner_r, int64_t *po_r)
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
	enum dest d = im_resolve(&j, &owner, NULL);

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
	    im_resolve(&j, &owner, po_r) != DEST_USER) {
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

/* im_blocks - whether owner blocks the entity jid (XEP-0191) */
bool
im_blocks(const char *owner, const char *jid)
{
	const char *err;
	int r = chat_blocked(xsrv.store, owner, jid, &err);

	if (r < 0)
		log_warnx("xmpp %s: blocklist: %s", owner, err);
	return r > 0;
}

/* im_blocked_error - XEP-0191 3.6: a stanza to someone the user blocks */
void
im_blocked_error(struct xsess *s, const struct xml_node *n)
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

struct xsess *
im_user_resource(struct xuser *u, const char *resource)
{
	if (u == NULL || resource == NULL)
		return NULL;
	for (struct xsess *t = u->sessions; t != NULL; t = t->unext)
		if (!t->dead && strcmp(t->resource, resource) == 0)
			return t;
	return NULL;
}

struct xml_node *
im_iq_result(const struct xml_node *iq, const char *from)
{
	struct xml_node *r = xml_node_new("iq", "type", "result", NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(r, "id", id);
	if (from != NULL)
		xml_node_set_attr(r, "from", from);
	return r;
}

/* im_colleague - whether a JID is a user of s's own post office (the
 * shared roster group: subscribed both ways without asking) */
bool
im_colleague(struct xsess *s, const char *jid)
{
	struct jid j;
	int64_t po = -1;
	char *owner = NULL;
	bool r;

	if (s->guest || jid_parse(jid, &j) < 0)
		return false;
	/* a guest is nobody's colleague (guest.h) */
	r = im_resolve(&j, &owner, &po) == DEST_USER && po == s->po_id &&
	    strcmp(owner, s->owner) != 0 && !guest_is_local(owner);
	free(owner);
	jid_clear(&j);
	return r;
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
	enum dest d = im_resolve(&j, &owner, NULL);
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
		im_message(s, n);
	else if (strcmp(n->name, "presence") == 0)
		im_presence(s, n);
	else
		im_iq(s, n);
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
