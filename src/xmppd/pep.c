/* pep - entity capabilities (XEP-0115) and the personal eventing service
 * (XEP-0163: PEP, on which avatars XEP-0084 and bookmarks XEP-0402 ride),
 * and the vCard avatar hash in presence (XEP-0153) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"
#include "xmppd.h"

#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_VCARD_UPDATE "vcard-temp:x:update"

#define CAPS_CACHE_MAX 1000       /* verified hashes kept */
#define CAPS_FEATURES_MAX 500     /* features of one entity we keep */
#define PEP_NAME_MAX 256          /* a node name, an item id */

/* A verified capabilities hash and its features, "\n"-framed
 * ("\nf1\nf2\n") for a plain substring search; never freed (bounded). */
struct caps {
	struct caps *next;
	char *ver;
	char *features;
};
static struct caps *caps_cache;
static size_t caps_count;
static unsigned caps_seq;

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

static const struct caps *
caps_find(const char *ver)
{
	for (struct caps *c = caps_cache; c != NULL; c = c->next)
		if (strcmp(c->ver, ver) == 0)
			return c;
	return NULL;
}

/* ------------------------------------------------ XEP-0115 hashing */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_strs(char **v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
}

static void
str_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *
attr_or_empty(const struct xml_node *n, const char *name)
{
	const char *v = xml_node_attr(n, name);

	return v != NULL ? v : "";
}

/* caps_ver - the XEP-0115 5.1 verification string of a disco#info
 * query, hashed with SHA-1, base64 (new string); *features_r the
 * "\n"-framed features. NULL when the query is unusable (a feature or
 * identity twice, 5.4: such an answer is never cached). */
static char *
caps_ver(const struct xml_node *q, char **features_r)
{
	char **ids = NULL, **feats = NULL, **forms = NULL;
	size_t nids = 0, nfeats = 0, nforms = 0;
	struct buf s, f;
	char *ver = NULL;

	*features_r = NULL;
	for (const struct xml_node *c = q->first; c != NULL; c = c->next) {
		if (c->name == NULL)
			continue;
		if (strcmp(c->name, "identity") == 0)
			str_push(&ids, &nids, xasprintf("%s/%s/%s/%s",
			    attr_or_empty(c, "category"), attr_or_empty(c,
			    "type"), attr_or_empty(c, "xml:lang"),
			    attr_or_empty(c, "name")));
		else if (strcmp(c->name, "feature") == 0 &&
		    xml_node_attr(c, "var") != NULL &&
		    nfeats < CAPS_FEATURES_MAX)
			str_push(&feats, &nfeats, xstrdup(xml_node_attr(c,
			    "var")));
		else if (strcmp(c->name, "x") == 0 &&
		    is(xml_node_xmlns(c), NS_DATA)) {
			/* an extended form: FORM_TYPE, then each field's var
			 * and sorted values */
			char **fields = NULL;
			size_t nf = 0;
			char *ftype = NULL;
			for (const struct xml_node *fl = c->first; fl != NULL;
			    fl = fl->next) {
				if (fl->name == NULL ||
				    strcmp(fl->name, "field") != 0)
					continue;
				char **vals = NULL;
				size_t nv = 0;
				for (const struct xml_node *v = fl->first;
				    v != NULL; v = v->next)
					if (v->name != NULL &&
					    strcmp(v->name, "value") == 0)
						str_push(&vals, &nv,
						    xml_node_text(v));
				sort_strs(vals, nv);
				struct buf b;
				buf_init(&b, 0);
				if (is(xml_node_attr(fl, "var"), "FORM_TYPE")) {
					free(ftype);
					ftype = xstrdup(nv > 0 ? vals[0] : "");
				} else {
					buf_printf(&b, "%s<", attr_or_empty(fl,
					    "var"));
					for (size_t i = 0; i < nv; i++)
						buf_printf(&b, "%s<", vals[i]);
					str_push(&fields, &nf, xstrdup(b.data ?
					    b.data : ""));
				}
				buf_free(&b);
				strs_free(vals, nv);
			}
			if (ftype != NULL) {
				sort_strs(fields, nf);
				struct buf b;
				buf_init(&b, 0);
				buf_printf(&b, "%s<", ftype);
				for (size_t i = 0; i < nf; i++)
					buf_puts(&b, fields[i]);
				str_push(&forms, &nforms, xstrdup(b.data));
				buf_free(&b);
			}
			free(ftype);
			strs_free(fields, nf);
		}
	}
	sort_strs(ids, nids);
	sort_strs(feats, nfeats);
	sort_strs(forms, nforms);
	bool dup = false;
	for (size_t i = 1; i < nids; i++)
		dup |= strcmp(ids[i - 1], ids[i]) == 0;
	for (size_t i = 1; i < nfeats; i++)
		dup |= strcmp(feats[i - 1], feats[i]) == 0;
	buf_init(&s, 0);
	buf_init(&f, 0);
	buf_puts(&f, "\n");
	for (size_t i = 0; i < nids; i++)
		buf_printf(&s, "%s<", ids[i]);
	for (size_t i = 0; i < nfeats; i++) {
		buf_printf(&s, "%s<", feats[i]);
		buf_printf(&f, "%s\n", feats[i]);
	}
	for (size_t i = 0; i < nforms; i++)
		buf_puts(&s, forms[i]);
	if (!dup && nids > 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		unsigned char b64[64];
		if (EVP_Digest(s.data ? s.data : "", s.len, md, &mdlen,
		    EVP_sha1(), NULL) == 1) {
			EVP_EncodeBlock(b64, md, (int)mdlen);
			ver = xstrdup((const char *)b64);
			*features_r = xstrdup(f.data);
		}
	}
	buf_free(&s);
	buf_free(&f);
	strs_free(ids, nids);
	strs_free(feats, nfeats);
	strs_free(forms, nforms);
	return ver;
}

/* ------------------------------------------------ notify filtering */

static bool
wants(const struct xsess *t, const char *node)
{
	if (t->caps == NULL)
		return false;
	char *k = xasprintf("\n%s+notify\n", node);
	bool r = strstr(t->caps->features, k) != NULL;
	free(k);
	return r;
}

/* event - a notification of node from publisher (bare JID) with one
 * child of <items/> (an item or a retract), or a <delete/> */
static struct xml_node *
pep_event(const char *publisher, const char *node, struct xml_node **items_r)
{
	struct xml_node *m = xml_node_new("message", "from", publisher,
	    "type", "headline", NULL);
	struct xml_node *e = xml_node_add(m, "event", "xmlns", NS_PUBSUB_EVENT,
	    NULL);

	*items_r = node != NULL ? xml_node_add(e, "items", "node", node, NULL) :
	    e;
	return m;
}

/* parse_item - an item's stored text into a node (NULL on a bad row) */
static struct xml_node *
parse_item(const char *xml)
{
	struct xml_stream *xs = xml_stream_new(XML_STANZA_MAX * 2);
	static const char head[] = "<stream:stream xmlns:stream="
	    "'http://etherx.jabber.org/streams'>";
	struct xml_node *n = NULL;
	size_t used, pos = 0, len = strlen(xml);
	enum xml_event ev = xml_stream_feed(xs, head, sizeof(head) - 1, &used);

	while (ev == XML_EV_OPEN || ev == XML_EV_MORE) {
		if (ev == XML_EV_OPEN) {
			ev = xml_stream_next(xs);
			continue;
		}
		if (pos >= len)
			break;
		ev = xml_stream_feed(xs, xml + pos, len - pos, &used);
		pos += used;
	}
	if (ev == XML_EV_STANZA)
		n = xml_stream_take(xs);
	xml_stream_free(&xs);
	return n;
}

static void
add_copy(struct xml_node *parent, const struct xml_node *c)
{
	struct xml_node *k = xml_node_copy(c);

	k->parent = parent;
	if (parent->last != NULL)
		parent->last->next = k;
	else
		parent->first = k;
	parent->last = k;
}

/* may_get - whether viewer may read a node of owner's user with that
 * access model (the publisher's session stands for its user when
 * online; offline owners: by the roster and post office) */
static bool
may_get(struct xsess *viewer, const char *owner, int64_t owner_po,
	const char *access)
{
	const char *err;

	if (strcmp(owner, viewer->owner) == 0)
		return true;
	if (is(access, "whitelist"))
		return false;
	if (chat_blocked(xsrv.store, owner, viewer->full, &err) > 0 ||
	    chat_blocked(xsrv.store, viewer->owner, owner, &err) > 0)
		return false;
	if (is(access, "open") || owner_po == viewer->po_id)
		return true;
	struct roster_item it;
	bool ok = false;
	if (chat_roster_get(xsrv.store, owner, viewer->bare, &it, &err) > 0)
		ok = (it.sub & CHAT_SUB_FROM) != 0;
	chat_roster_item_clear(&it);
	return ok;
}

/* notify - an event to every available session of those who may see the
 * publisher s and asked for node's notifications (+notify in caps) */
static void
notify(struct xsess *s, const char *node, const char *access,
       const struct xml_node *ev)
{
	for (struct xuser *u = xsrv.users; u != NULL; u = u->next)
		for (struct xsess *t = u->sessions; t != NULL; t = t->unext) {
			if (!t->available || t->dead || !wants(t, node))
				continue;
			if (u != s->user && (is(access, "whitelist") ||
			    !im_may_see(t, s)))
				continue;
			im_deliver(t, ev, NULL, true);
		}
}

/* ------------------------------------------------ last items */

struct last_ctx {
	struct xsess *t;
	const char *from;         /* the owner's bare JID */
	bool own;
};

static void
last_one(void *ctx, const char *node, const char *access, const char *id,
	 const char *xml)
{
	struct last_ctx *lc = ctx;
	struct xml_node *items, *m;

	if (!wants(lc->t, node) || (!lc->own && is(access, "whitelist")))
		return;
	struct xml_node *it = parse_item(xml);
	if (it == NULL)
		return;
	m = pep_event(lc->from, node, &items);
	xml_node_set_attr(it, "id", id);
	add_copy(items, it);
	xml_node_free(&it);
	im_deliver(lc->t, m, NULL, true);
	xml_node_free(&m);
}

static void
send_last_of(struct xsess *t, const char *owner, const char *from, bool own)
{
	struct last_ctx lc = { t, from, own };
	const char *err;

	if (chat_pep_last(xsrv.store, owner, last_one, &lc, &err) < 0)
		log_warnx("xmpp %s: pep: %s", owner, err);
}

/* send_last - XEP-0163 4.3.2 on t's availability (or once its caps are
 * known): the last item of each node t wants from its own user, its
 * colleagues and the contacts whose presence it sees */
static void
send_last(struct xsess *t)
{
	char **owners = NULL;
	size_t n = 0;
	const char *err;

	if (t->caps == NULL)
		return;
	send_last_of(t, t->owner, t->bare, true);
	if (chat_pep_owners(xsrv.store, t->po, &owners, &n, &err) < 0)
		log_warnx("xmpp %s: pep: %s", t->full, err);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(owners[i], t->owner) == 0 ||
		    !may_get(t, owners[i], t->po_id, "presence"))
			continue;
		char *at = strrchr(owners[i], '@');
		char *jid = xasprintf("%.*s@%s", (int)(at - owners[i]),
		    owners[i], t->domain);
		send_last_of(t, owners[i], jid, false);
		free(jid);
	}
	strs_free(owners, n);
	/* contacts in other post offices: by t's roster */
	struct roster_item *items = NULL;
	size_t ni = 0;
	if (chat_roster_load(xsrv.store, t->owner, &items, &ni, &err) < 0)
		return;
	for (size_t i = 0; i < ni; i++) {
		if (!(items[i].sub & CHAT_SUB_TO))
			continue;
		int64_t po = 0;
		char *owner = im_owner_of(items[i].jid, &po);
		if (owner != NULL && po != t->po_id &&
		    may_get(t, owner, po, "presence"))
			send_last_of(t, owner, items[i].jid, false);
		free(owner);
	}
	chat_roster_free(&items, ni);
}

/* ------------------------------------------------ caps in presence */

void
pep_presence(struct xsess *s, struct xml_node *p, bool initial)
{
	struct xml_node *c = xml_node_child(p, "c", NS_CAPS);
	const char *ver = c ? xml_node_attr(c, "ver") : NULL;
	const char *node = c ? xml_node_attr(c, "node") : NULL;

	pep_vcard_update(s, p);
	if (c != NULL && is(xml_node_attr(c, "hash"), "sha-1") &&
	    ver != NULL && node != NULL && strlen(ver) < 64 &&
	    strlen(node) < 1024) {
		const struct caps *known = caps_find(ver);
		if (known != NULL) {
			bool changed = known != s->caps;
			s->caps = known;
			if (changed && !initial)
				send_last(s);
		} else if (s->caps_wait == NULL) {
			/* ask the client what its hash stands for */
			char id[32];
			snprintf(id, sizeof(id), "caps%u", ++caps_seq);
			s->caps_wait = xstrdup(id);
			free(s->caps_ver);
			s->caps_ver = xstrdup(ver);
			struct xml_node *iq = xml_node_new("iq", "type", "get",
			    "from", s->domain, "to", s->full, "id", id, NULL);
			char *nv = xasprintf("%s#%s", node, ver);
			xml_node_add(iq, "query", "xmlns", NS_DISCO_INFO,
			    "node", nv, NULL);
			free(nv);
			xsess_send(s, iq);
			xml_node_free(&iq);
		}
	}
	if (initial)
		send_last(s);
}

bool
pep_iq_answer(struct xsess *s, struct xml_node *iq)
{
	const char *id = xml_node_attr(iq, "id");

	if (s->caps_wait == NULL || !is(id, s->caps_wait))
		return false;
	free(s->caps_wait);
	s->caps_wait = NULL;
	struct xml_node *q = xml_node_child(iq, "query", NS_DISCO_INFO);
	if (!is(xml_node_attr(iq, "type"), "result") || q == NULL)
		return true;
	char *features;
	char *ver = caps_ver(q, &features);
	if (ver == NULL || s->caps_ver == NULL || strcmp(ver, s->caps_ver) != 0) {
		/* XEP-0115 5.4: a hash that does not verify is not used */
		log_info("xmpp %s: capabilities hash does not verify",
		    s->full);
		free(ver);
		free(features);
		return true;
	}
	const struct caps *known = caps_find(ver);
	if (known == NULL && caps_count < CAPS_CACHE_MAX) {
		struct caps *c = xcalloc(1, sizeof(*c));
		c->ver = ver;
		c->features = features;
		c->next = caps_cache;
		caps_cache = c;
		caps_count++;
		known = c;
	} else {
		free(ver);
		free(features);
	}
	s->caps = known;
	if (s->available)
		send_last(s);
	return true;
}

void
pep_session_gone(struct xsess *s)
{
	free(s->caps_wait);
	s->caps_wait = NULL;
	free(s->caps_ver);
	s->caps_ver = NULL;
	s->caps = NULL;
}

/* ------------------------------------------------ PEP IQs */

/* pep_error - a stanza error with a pubsub#errors condition too */
static void
pep_error(struct xsess *s, const struct xml_node *iq, const char *from,
	  const char *type, const char *cond, const char *app)
{
	struct xml_node *e = xml_node_new("iq", "type", "error", NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(e, "id", id);
	if (from != NULL)
		xml_node_set_attr(e, "from", from);
	struct xml_node *err = xml_node_add(e, "error", "type", type, NULL);
	xml_node_add(err, cond, "xmlns", NS_STANZAS, NULL);
	if (app != NULL)
		xml_node_add(err, app, "xmlns", NS_PUBSUB_ERRORS, NULL);
	xsess_send(s, e);
	xml_node_free(&e);
}

static char *
form_value(const struct xml_node *x, const char *var)
{
	for (const struct xml_node *f = x->first; f != NULL; f = f->next)
		if (f->name != NULL && strcmp(f->name, "field") == 0 &&
		    is(xml_node_attr(f, "var"), var)) {
			struct xml_node *v = xml_node_child(f, "value", NULL);
			return v != NULL ? xml_node_text(v) : xstrdup("");
		}
	return NULL;
}

/* publish_options - XEP-0060 7.1.5: the node configuration asked for;
 * -1 when a value is not supported (precondition-not-met) */
static int
publish_options(const struct xml_node *ps, struct pep_node *cfg, bool *given)
{
	struct xml_node *po = xml_node_child(ps, "publish-options", NULL);
	struct xml_node *x = po ? xml_node_child(po, "x", NS_DATA) : NULL;
	char *v;
	int r = 0;

	*given = false;
	snprintf(cfg->access, sizeof(cfg->access), "presence");
	cfg->max_items = 1;
	if (x == NULL)
		return 0;
	*given = true;
	if ((v = form_value(x, "pubsub#access_model")) != NULL) {
		if (is(v, "presence") || is(v, "open") || is(v, "whitelist"))
			snprintf(cfg->access, sizeof(cfg->access), "%s", v);
		else
			r = -1;
		free(v);
	}
	if ((v = form_value(x, "pubsub#max_items")) != NULL) {
		char *end;
		long n = strtol(v, &end, 10);
		if (is(v, "max"))
			cfg->max_items = CHAT_PEP_ITEMS_MAX;
		else if (*v != '\0' && *end == '\0' && n >= 1 &&
		    n <= CHAT_PEP_ITEMS_MAX)
			cfg->max_items = (int)n;
		else
			r = -1;
		free(v);
	}
	return r;
}

static bool
name_ok(const char *v)
{
	return v != NULL && *v != '\0' && strlen(v) <= PEP_NAME_MAX;
}

static void
publish(struct xsess *s, struct xml_node *iq, struct xml_node *ps,
	struct xml_node *pub)
{
	const char *node = xml_node_attr(pub, "node");
	struct xml_node *item = NULL;
	int nitems = 0, npay = 0;
	struct pep_node cfg, cur;
	bool given;
	const char *err;
	char idbuf[48];

	if (!name_ok(node)) {
		pep_error(s, iq, NULL, "modify", "bad-request",
		    "nodeid-required");
		return;
	}
	for (struct xml_node *c = pub->first; c != NULL; c = c->next)
		if (c->name != NULL && strcmp(c->name, "item") == 0) {
			item = c;
			nitems++;
		}
	for (struct xml_node *c = item ? item->first : NULL; c != NULL;
	    c = c->next)
		if (c->name != NULL)
			npay++;
	if (nitems != 1 || npay != 1) {
		pep_error(s, iq, NULL, "modify", "bad-request", nitems != 1 ?
		    "item-required" : "invalid-payload");
		return;
	}
	if (publish_options(ps, &cfg, &given) < 0) {
		pep_error(s, iq, NULL, "cancel", "conflict",
		    "precondition-not-met");
		return;
	}
	int r = chat_pep_node_get(xsrv.store, s->owner, node, &cur, &err);
	if (r < 0)
		goto fail;
	if (r > 0 && given && (strcmp(cur.access, cfg.access) != 0 ||
	    cur.max_items != cfg.max_items)) {
		pep_error(s, iq, NULL, "cancel", "conflict",
		    "precondition-not-met");
		return;
	}
	if (r > 0 && !given)
		cfg = cur;
	const char *id = xml_node_attr(item, "id");
	if (id != NULL && !name_ok(id)) {
		pep_error(s, iq, NULL, "modify", "bad-request", NULL);
		return;
	}
	if (id == NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(idbuf, sizeof(idbuf), "%" PRId64 "-%ld",
		    (int64_t)ts.tv_sec, ts.tv_nsec);
		id = idbuf;
		xml_node_set_attr(item, "id", id);
	}
	/* stored: the item without its id (kept apart) */
	struct xml_node *copy = xml_node_copy(item);
	xml_node_set_attr(copy, "id", NULL);
	xml_node_set_attr(copy, "xmlns", NS_PUBSUB_EVENT);
	struct buf b;
	buf_init(&b, 0);
	xml_node_write(copy, &b);
	xml_node_free(&copy);
	r = chat_pep_publish(xsrv.store, s->owner, node, &cfg, id, b.data,
	    &err);
	buf_free(&b);
	if (r < 0)
		goto fail;
	if (r > 0) {
		pep_error(s, iq, NULL, "cancel", "not-allowed",
		    "max-nodes-exceeded");
		return;
	}
	struct xml_node *res = xml_node_new("iq", "type", "result", "id",
	    xml_node_attr(iq, "id"), NULL);
	struct xml_node *rp = xml_node_add(xml_node_add(res, "pubsub", "xmlns",
	    NS_PUBSUB, NULL), "publish", "node", node, NULL);
	xml_node_add(rp, "item", "id", id, NULL);
	xsess_send(s, res);
	xml_node_free(&res);
	struct xml_node *items, *m = pep_event(s->bare, node, &items);
	add_copy(items, item);
	notify(s, node, cfg.access, m);
	xml_node_free(&m);
	return;
fail:
	log_warnx("xmpp %s: pep: %s", s->full, err);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

struct items_ctx {
	struct xml_node *items;
	const struct xml_node *want;    /* the <items/> asking for ids */
};

static void
items_one(void *ctx, const char *id, const char *xml)
{
	struct items_ctx *ic = ctx;
	bool any = false, hit = false;

	for (const struct xml_node *c = ic->want->first; c != NULL; c = c->next)
		if (c->name != NULL && strcmp(c->name, "item") == 0) {
			any = true;
			hit |= is(xml_node_attr(c, "id"), id);
		}
	if (any && !hit)
		return;
	struct xml_node *it = parse_item(xml);
	if (it == NULL)
		return;
	xml_node_set_attr(it, "xmlns", NULL);
	xml_node_set_attr(it, "id", id);
	add_copy(ic->items, it);
	xml_node_free(&it);
}

static void
items_get(struct xsess *s, struct xml_node *iq, struct xml_node *want,
	  const char *owner, int64_t owner_po, const char *from)
{
	const char *node = xml_node_attr(want, "node");
	const char *mx = xml_node_attr(want, "max_items");
	struct pep_node cur;
	const char *err;
	int max = CHAT_PEP_ITEMS_MAX;

	if (!name_ok(node)) {
		pep_error(s, iq, from, "modify", "bad-request",
		    "nodeid-required");
		return;
	}
	if (mx != NULL) {
		char *end;
		long n = strtol(mx, &end, 10);
		if (*mx == '\0' || *end != '\0' || n < 1) {
			pep_error(s, iq, from, "modify", "bad-request", NULL);
			return;
		}
		max = n < CHAT_PEP_ITEMS_MAX ? (int)n : CHAT_PEP_ITEMS_MAX;
	}
	int r = chat_pep_node_get(xsrv.store, owner, node, &cur, &err);
	if (r < 0) {
		im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
		return;
	}
	if (r == 0) {
		pep_error(s, iq, from, "cancel", "item-not-found", NULL);
		return;
	}
	if (!may_get(s, owner, owner_po, cur.access)) {
		if (is(cur.access, "whitelist"))
			pep_error(s, iq, from, "cancel", "not-allowed",
			    "closed-node");
		else
			pep_error(s, iq, from, "auth", "not-authorized",
			    "presence-subscription-required");
		return;
	}
	struct xml_node *res = xml_node_new("iq", "type", "result", "id",
	    xml_node_attr(iq, "id"), NULL);
	if (from != NULL)
		xml_node_set_attr(res, "from", from);
	struct xml_node *items = xml_node_add(xml_node_add(res, "pubsub",
	    "xmlns", NS_PUBSUB, NULL), "items", "node", node, NULL);
	struct items_ctx ic = { items, want };
	if (chat_pep_items(xsrv.store, owner, node, max, items_one, &ic,
	    &err) < 0) {
		xml_node_free(&res);
		im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
		return;
	}
	xsess_send(s, res);
	xml_node_free(&res);
}

static void
retract_or_delete(struct xsess *s, struct xml_node *iq, struct xml_node *op,
		  bool del)
{
	const char *node = xml_node_attr(op, "node");
	struct xml_node *item = xml_node_child(op, "item", NULL);
	const char *id = item ? xml_node_attr(item, "id") : NULL;
	const char *notify_attr = xml_node_attr(op, "notify");
	struct pep_node cur;
	const char *err;
	int r;

	if (!name_ok(node)) {
		pep_error(s, iq, NULL, "modify", "bad-request",
		    "nodeid-required");
		return;
	}
	if (!del && !name_ok(id)) {
		pep_error(s, iq, NULL, "modify", "bad-request",
		    "item-required");
		return;
	}
	if (chat_pep_node_get(xsrv.store, s->owner, node, &cur, &err) < 0)
		goto fail;
	r = del ? chat_pep_delete(xsrv.store, s->owner, node, &err) :
	    chat_pep_retract(xsrv.store, s->owner, node, id, &err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		pep_error(s, iq, NULL, "cancel", "item-not-found", NULL);
		return;
	}
	struct xml_node *res = xml_node_new("iq", "type", "result", "id",
	    xml_node_attr(iq, "id"), NULL);
	xsess_send(s, res);
	xml_node_free(&res);
	if (!del && !is(notify_attr, "true") && !is(notify_attr, "1"))
		return;
	struct xml_node *items, *m = pep_event(s->bare, del ? NULL : node,
	    &items);
	if (del)
		xml_node_add(items, "delete", "node", node, NULL);
	else
		xml_node_add(items, "retract", "id", id, NULL);
	notify(s, node, cur.access, m);
	xml_node_free(&m);
	return;
fail:
	log_warnx("xmpp %s: pep: %s", s->full, err);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}

void
pep_iq(struct xsess *s, struct xml_node *iq, struct xml_node *ps,
       const char *owner, int64_t owner_po, const char *to, bool own)
{
	const char *type = xml_node_attr(iq, "type");
	struct xml_node *op = NULL;
	int nop = 0;

	for (struct xml_node *c = ps->first; c != NULL; c = c->next)
		if (c->name != NULL && strcmp(c->name, "publish-options") != 0) {
			if (op == NULL)
				op = c;
			nop++;
		}
	if (op == NULL || nop != 1) {
		pep_error(s, iq, to, "modify", "bad-request", NULL);
		return;
	}
	if (is(xml_node_xmlns(ps), NS_PUBSUB_OWNER)) {
		if (!own)
			pep_error(s, iq, to, "auth", "forbidden", NULL);
		else if (is(type, "set") && strcmp(op->name, "delete") == 0)
			retract_or_delete(s, iq, op, true);
		else
			pep_error(s, iq, to, "cancel", "feature-not-implemented",
			    "unsupported");
		return;
	}
	if (is(type, "get") && strcmp(op->name, "items") == 0) {
		items_get(s, iq, op, owner, owner_po, to);
		return;
	}
	if (is(type, "set") && (strcmp(op->name, "publish") == 0 ||
	    strcmp(op->name, "retract") == 0) && !own) {
		pep_error(s, iq, to, "auth", "forbidden", NULL);
		return;
	}
	if (is(type, "set") && strcmp(op->name, "publish") == 0)
		publish(s, iq, ps, op);
	else if (is(type, "set") && strcmp(op->name, "retract") == 0)
		retract_or_delete(s, iq, op, false);
	else
		/* subscriptions to PEP nodes go by presence and caps
		 * (XEP-0163 4), never by <subscribe/> */
		pep_error(s, iq, to, "cancel", "feature-not-implemented",
		    "unsupported");
}

void
pep_disco_account(struct xml_node *q)
{
	static const char *const features[] = {
		NS_PUBSUB "#publish", NS_PUBSUB "#auto-create",
		NS_PUBSUB "#publish-options", NS_PUBSUB "#access-presence",
		NS_PUBSUB "#access-open", NS_PUBSUB "#access-whitelist",
		NS_PUBSUB "#retrieve-items", NS_PUBSUB "#retract-items",
		NS_PUBSUB "#delete-nodes", NS_PUBSUB "#persistent-items",
		NS_PUBSUB "#last-published", NS_PUBSUB "#item-ids",
		NS_PUBSUB "#config-node-max", NULL
	};

	xml_node_add(q, "identity", "category", "pubsub", "type", "pep", NULL);
	for (const char *const *f = features; *f; f++)
		xml_node_add(q, "feature", "var", *f, NULL);
}

/* ------------------------------------------------ XEP-0153 */

/* photo_hash - SHA-1 (hex) of a vCard's PHOTO/BINVAL, "" with no photo
 * (new string); NULL when the vCard cannot be read */
char *
pep_photo_hash(const char *vcard_xml)
{
	struct xml_node *v = parse_item(vcard_xml);
	struct xml_node *photo = v ? xml_node_child(v, "PHOTO", NULL) : NULL;
	struct xml_node *bin = photo ? xml_node_child(photo, "BINVAL", NULL) :
	    NULL;
	char *r;

	if (v == NULL)
		return NULL;
	if (bin == NULL) {
		xml_node_free(&v);
		return xstrdup("");
	}
	char *t = xml_node_text(bin);
	size_t k = 0;
	for (char *p = t; *p; p++)
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			t[k++] = *p;
	t[k] = '\0';
	unsigned char *raw = xmalloc(k / 4 * 3 + 3);
	int n = k % 4 == 0 ? EVP_DecodeBlock(raw, (unsigned char *)t,
	    (int)k) : -1;
	if (n >= 0 && k >= 1 && t[k - 1] == '=')
		n--;
	if (n >= 0 && k >= 2 && t[k - 2] == '=')
		n--;
	r = xstrdup("");
	if (n >= 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		if (EVP_Digest(raw, (size_t)n, md, &mdlen, EVP_sha1(),
		    NULL) == 1) {
			free(r);
			r = xmalloc(2 * mdlen + 1);
			for (unsigned i = 0; i < mdlen; i++)
				snprintf(r + 2 * i, 3, "%02x", md[i]);
		}
	}
	free(raw);
	free(t);
	xml_node_free(&v);
	return r;
}

void
pep_vcard_update(struct xsess *s, struct xml_node *p)
{
	struct xuser *u = s->user;
	const char *err;

	if (u == NULL || xml_node_child(p, "x", NS_VCARD_UPDATE) != NULL)
		return;
	if (u->photo == NULL) {
		char *xml = NULL;
		if (chat_vcard_get(xsrv.store, u->owner, &xml, &err) < 0)
			return;
		u->photo = xml != NULL ? pep_photo_hash(xml) : xstrdup("");
		free(xml);
		if (u->photo == NULL)
			u->photo = xstrdup("");
	}
	if (*u->photo == '\0')
		return;   /* no avatar in the vCard: say nothing (5) */
	xml_node_add_text(xml_node_add(xml_node_add(p, "x", "xmlns",
	    NS_VCARD_UPDATE, NULL), "photo", NULL), u->photo);
}
