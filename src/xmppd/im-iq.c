/* im-iq - the IQs the server answers itself (disco XEP-0030, ping
 * XEP-0199, blocking XEP-0191, vCard XEP-0054, MAM XEP-0313, ...) and
 * IQ routing (part of im, im-int.h) */
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

static void
disco_info(struct xsess *s, struct xml_node *iq, const char *from,
	   bool account)
{
	static const char *const features[] = {
		NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_ROSTER,
		"urn:xmpp:delay", NS_CARBONS, NS_BLOCKING, NS_VCARD, NS_GUEST,
		NS_COMMANDS, NULL
	};
	struct xml_node *r = im_iq_result(iq, from);
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
	if (j.local != NULL && im_resolve(&j, &owner, NULL) == DEST_USER) {
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
		struct xml_node *r = im_iq_result(iq, NULL);
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
	struct xml_node *res = im_iq_result(iq, NULL);
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
		struct xml_node *res = im_iq_result(iq, NULL);
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
		struct xml_node *r = im_iq_result(iq, NULL);
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
	struct xml_node *r = im_iq_result(iq, NULL);
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
			im_roster_get(s, iq);
		else
			im_roster_set(s, iq, payload);
	} else if (is(ns, NS_CARBONS) && is(type, "set") && (to == NULL ||
	    own) && (strcmp(payload->name, "enable") == 0 ||
	    strcmp(payload->name, "disable") == 0)) {
		s->carbons = payload->name[0] == 'e';
		struct xml_node *r = im_iq_result(iq, NULL);
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
		struct xml_node *r = im_iq_result(iq, from);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_DISCO_INFO) && is(type, "get")) {
		disco_info(s, iq, from, account);
	} else if (is(ns, NS_DISCO_ITEMS) && is(type, "get")) {
		struct xml_node *r = im_iq_result(iq, from);
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
		struct xml_node *r = im_iq_result(iq, from);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(ns, NS_BIND)) {
		im_stanza_error(s, iq, "cancel", "not-allowed", "already "
		    "bound");
	} else
		im_stanza_error(s, iq, "cancel", "service-unavailable", NULL);
}

void
im_iq(struct xsess *s, struct xml_node *iq)
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
	enum dest d = im_resolve(&j, &owner, &po);
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
	} else if (d == DEST_USER && im_blocks(s->owner, to)) {
		im_blocked_error(s, iq);
	} else if (d == DEST_USER && im_blocks(owner, s->full)) {
		if (req)
			im_stanza_error(s, iq, "cancel", "service-unavailable",
			    NULL);
	} else if (d == DEST_USER) {
		struct xsess *t = im_user_resource(xuser_find(owner), j.resource);
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
