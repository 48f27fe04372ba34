/* upload - HTTP file upload (XEP-0363): the service upload.<domain> of
 * each post office hands its own users slots; httpd takes the PUT and
 * serves the GET (httpd/chat-upload.c; the slot's form in
 * lib-config/chatupload.h). Checked here: the file name, the size
 * against xmpp.upload_max_size (<file-too-large/> with the limit) and
 * the mailbox's quota (resource-constraint); httpd checks them again
 * with the bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "buf.h"
#include "chatupload.h"
#include "directory.h"
#include "log.h"
#include "url.h"
#include "xalloc.h"
#include "xmppd.h"

#define NS_UPLOAD "urn:xmpp:http:upload:0"
#define UPLOAD_PREFIX "upload."

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

bool
upload_domain(const char *domain, int64_t *po_r)
{
	return im_component_domain(domain, UPLOAD_PREFIX, po_r);
}

/* too_large - XEP-0363 5: not-acceptable with the limit */
static void
too_large(struct xsess *s, const struct xml_node *iq, const char *from,
    uint64_t max)
{
	char n[32];
	struct xml_node *e = xml_node_new("iq", "type", "error", "from", from,
	    "to", s->full, NULL);
	const char *id = xml_node_attr(iq, "id");

	if (id != NULL)
		xml_node_set_attr(e, "id", id);
	struct xml_node *err = xml_node_add(e, "error", "type", "modify", NULL);
	xml_node_add(err, "not-acceptable", "xmlns", NS_STANZAS, NULL);
	xml_node_add_text(xml_node_add(err, "text", "xmlns", NS_STANZAS,
	                      "xml:lang", "en", NULL),
	    "file too large");
	snprintf(n, sizeof(n), "%" PRIu64, max);
	xml_node_add_text(xml_node_add(xml_node_add(err, "file-too-large",
	                                   "xmlns", NS_UPLOAD, NULL),
	                      "max-file-size", NULL),
	    n);
	xsess_send(s, e);
	xml_node_free(&e);
}

static void
disco_info(struct xsess *s, const struct xml_node *iq, const char *from)
{
	char n[32];
	struct xml_node *r = im_result_from(s, iq, from);
	struct xml_node *q =
	    xml_node_add(r, "query", "xmlns", NS_DISCO_INFO, NULL);

	xml_node_add(q, "identity", "category", "store", "type", "file", "name",
	    "HTTP File Upload", NULL);
	xml_node_add(q, "feature", "var", NS_UPLOAD, NULL);
	xml_node_add(q, "feature", "var", NS_DISCO_INFO, NULL);
	/* XEP-0363 7: the limit as an XEP-0128 form */
	struct xml_node *x =
	    xml_node_add(q, "x", "xmlns", NS_DATA, "type", "result", NULL);
	xml_node_add_text(xml_node_add(xml_node_add(x, "field", "var",
	                                   "FORM_TYPE", "type", "hidden", NULL),
	                      "value", NULL),
	    NS_UPLOAD);
	snprintf(n, sizeof(n), "%" PRIu64, chatupload_max(xsrv.svc->db));
	xml_node_add_text(xml_node_add(xml_node_add(x, "field", "var",
	                                   "max-file-size", NULL),
	                      "value", NULL),
	    n);
	xsess_send(s, r);
	xml_node_free(&r);
}

static void
slot(struct xsess *s, const struct xml_node *iq, const struct xml_node *req,
    const char *from)
{
	const char *name = xml_node_attr(req, "filename");
	uint64_t size, max = chatupload_max(xsrv.svc->db);
	uint64_t quota = chatupload_quota(xsrv.svc->db);
	unsigned char raw[CHATUPLOAD_SLOT_LEN / 2];
	char id[CHATUPLOAD_SLOT_LEN + 1], key[CHATUPLOAD_KEY_LEN + 1];
	const char *err;

	if (name == NULL || !chatupload_name_ok(name)) {
		im_error_from(s, iq, from, "modify", "bad-request",
		    "a file name "
		    "of 1 to 200 bytes without '/', '\\' or control characters "
		    "is needed");
		return;
	}
	if (!chatupload_number(xml_node_attr(req, "size"), &size) || size == 0) {
		im_error_from(s, iq, from, "modify", "bad-request",
		    "the size "
		    "must be a positive number of bytes");
		return;
	}
	if (size > max) {
		too_large(s, iq, from, max);
		return;
	}
	if (quota > 0 &&
	    chatupload_used(xsrv.svc->root, s->mailbox_id) + size > quota) {
		im_error_from(s, iq, from, "wait", "resource-constraint",
		    "your upload quota is used up");
		return;
	}
	char *base = chatupload_base(xsrv.svc->db);
	if (base == NULL) {
		im_error_from(s, iq, from, "cancel", "service-unavailable",
		    "no upload URL is set (xmpp.upload_url or http.public_url)");
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		free(base);
		im_error_from(s, iq, from, "wait", "internal-server-error",
		    NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	int64_t expires = (int64_t)time(NULL) + CHATUPLOAD_SLOT_SECS;
	if (chatupload_key(xsrv.svc->db, s->mailbox_id, id, name, size, expires,
	        key, &err) < 0) {
		log_warnx("xmpp: upload key: %s", err);
		free(base);
		im_error_from(s, iq, from, "wait", "internal-server-error",
		    NULL);
		return;
	}
	struct buf get, put;
	buf_init(&get, 0);
	buf_printf(&get, "%s/%" PRId64 "/%s/", base, s->mailbox_id, id);
	url_encode(&get, name);
	buf_init(&put, 0);
	buf_printf(&put, "%s?size=%" PRIu64 "&expires=%" PRId64 "&key=%s",
	    get.data, size, expires, key);
	struct xml_node *r = im_result_from(s, iq, from);
	struct xml_node *sl = xml_node_add(r, "slot", "xmlns", NS_UPLOAD, NULL);
	xml_node_add(sl, "put", "url", put.data, NULL);
	xml_node_add(sl, "get", "url", get.data, NULL);
	xsess_send(s, r);
	xml_node_free(&r);
	log_info("xmpp: %s: upload slot %s for %" PRIu64 " bytes", s->owner, id,
	    size);
	buf_free(&get);
	buf_free(&put);
	free(base);
}

void
upload_iq(struct xsess *s, struct xml_node *iq, struct xml_node *payload,
    const struct jid *to, int64_t po)
{
	const char *type = xml_node_attr(iq, "type");
	const char *ns = payload != NULL ? xml_node_xmlns(payload) : NULL;
	const char *from = to->domain;

	if (!is(type, "get") && !is(type, "set"))
		return;
	if (to->local != NULL || to->resource != NULL) {
		im_error_from(s, iq, from, "cancel", "item-not-found", NULL);
	} else if (po != s->po_id) {
		/* each post office's service is for its own users */
		im_error_from(s, iq, from, "cancel", "forbidden",
		    "this upload "
		    "service is for another organisation's users");
	} else if (is(type, "get") && is(ns, NS_DISCO_INFO)) {
		disco_info(s, iq, from);
	} else if (is(type, "get") && is(ns, NS_DISCO_ITEMS)) {
		struct xml_node *r = im_result_from(s, iq, from);
		xml_node_add(r, "query", "xmlns", NS_DISCO_ITEMS, NULL);
		xsess_send(s, r);
		xml_node_free(&r);
	} else if (is(type, "get") && is(ns, NS_UPLOAD) &&
	    strcmp(payload->name, "request") == 0) {
		slot(s, iq, payload, from);
	} else
		im_error_from(s, iq, from, "cancel", "service-unavailable",
		    NULL);
}
