/* roster - RFC 6121 2: roster get, set and pushes, with the post
 * office's shared group (part of im, im-int.h) */
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

/* im_roster_push_po - RFC 6121 2.1.6: the changed item to every interested
 * resource of the owner */
void
im_roster_push_po(const char *owner, const char *self_po, int64_t po_id,
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
		if (u->po_id == po_id && im_colleague(t, it->jid)) {
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
	im_roster_push_po(owner, NULL, -1, it, remove);
}

/* im_roster_get - RFC 6121 2.1.3: the stored items and the post office's
 * users (group: the post office's name) */
void
im_roster_get(struct xsess *s, struct xml_node *iq)
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
	r = im_iq_result(iq, NULL);
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


/* im_roster_set - RFC 6121 2.1.5 and 2.5 (remove) */
void
im_roster_set(struct xsess *s, struct xml_node *iq, struct xml_node *q)
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
				im_presence_subscription(s, "unsubscribe", bare);
			if (sub & CHAT_SUB_FROM)
				im_presence_subscription(s, "unsubscribed", bare);
			im_roster_push_po(s->owner, s->po, s->po_id, &it, true);
		} else if (!im_colleague(s, bare)) {
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
	im_roster_push_po(s->owner, s->po, s->po_id, &it, false);
done:
	chat_roster_item_clear(&it);
	free(bare);
	struct xml_node *res = im_iq_result(iq, NULL);
	xsess_send(s, res);
	xml_node_free(&res);
	return;
fail:
	log_warnx("xmpp %s: roster: %s", s->full, err);
	chat_roster_item_clear(&it);
	free(bare);
	im_stanza_error(s, iq, "wait", "internal-server-error", NULL);
}
