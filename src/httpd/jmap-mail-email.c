/* jmap-mail-email - the JMAP Email methods but query (RFC 8621
 * 4): get, changes, set, import, parse; the account's blobs (jmap-mail.h) */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "http-response.h"
#include "imap-parser.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-store.h"
#include "settings.h"
#include "store.h"
#include "xalloc.h"
#include "jmap-mail-private.h"

/* --------------------------------------------------------------- Email */

static json_t *
mailbox_ids_json(struct jms *j, const struct jms_msg *m)
{
	return json_pack("{s:b}", jms_folder(j, m->folder)->id, 1);
}

static bool
props_need_body(json_t *props)
{
	size_t i;
	json_t *v;

	if (props == NULL || json_is_null(props))
		return true;
	json_array_foreach(props, i, v) {
		const char *s = json_string_value(v);
		if (strcmp(s, "bodyStructure") == 0 || strcmp(s, "bodyValues") == 0 ||
		    strcmp(s, "textBody") == 0 || strcmp(s, "htmlBody") == 0 ||
		    strcmp(s, "attachments") == 0 || strcmp(s, "preview") == 0 ||
		    strcmp(s, "hasAttachment") == 0)
			return true;
	}
	return false;
}

/* email_props - the Email/get and Email/parse arguments of what to
 * render: false with invalidArguments */
static bool
email_props(json_t *args, struct je_props *p, json_t **error_r)
{
	json_t *mbv = json_object_get(args, "maxBodyValueBytes");

	*p = (struct je_props){
		.props = json_object_get(args, "properties"),
		.body_props = json_object_get(args, "bodyProperties"),
		.fetch_text = json_is_true(json_object_get(args,
		    "fetchTextBodyValues")),
		.fetch_html = json_is_true(json_object_get(args,
		    "fetchHTMLBodyValues")),
		.fetch_all = json_is_true(json_object_get(args,
		    "fetchAllBodyValues")),
	};
	if (!je_props_check(p->props, p->body_props, error_r))
		return false;
	if (mbv != NULL && !json_is_null(mbv)) {
		if (!json_is_integer(mbv) || json_integer_value(mbv) <= 0) {
			*error_r = jmap_error_props("invalidArguments",
			    "maxBodyValueBytes must be a positive integer",
			    "maxBodyValueBytes", NULL);
			return false;
		}
		p->max_body_value_bytes = (size_t)json_integer_value(mbv);
	}
	return true;
}

void
email_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    "bodyProperties", "fetchTextBodyValues", "fetchHTMLBodyValues",
	    "fetchAllBodyValues", "maxBodyValueBytes", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "ids", c->lim->max_objects_in_get,
	    &ids, error_r))
		return;
	struct je_props p;
	if (!email_props(args, &p, error_r))
		return;
	json_t *all = NULL;
	if (ids == NULL) {
		/* every Email: bounded by maxObjectsInGet (5.1) */
		all = json_array();
		for (size_t f = 0; f < jms_nfolders(j); f++) {
			const struct jms_msg *m;
			size_t n;
			if (jms_msgs(j, f, &m, &n, &err) < 0) {
				json_decref(all);
				*error_r = server_fail(c, err);
				return;
			}
			for (size_t k = 0; k < n; k++)
				json_array_append_new(all, json_string(m[k].id));
		}
		if (json_array_size(all) > c->lim->max_objects_in_get) {
			json_decref(all);
			*error_r = jmap_error("requestTooLarge", "the account has "
			    "more Emails than maxObjectsInGet: ask by ids");
			return;
		}
		ids = all;
	}
	bool body = props_need_body(p.props);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const struct jms_msg *m;
		const char *id = json_string_value(v);
		int r = jms_msg_find(j, id, &m, &err);
		struct buf data;
		if (r == 0) {
			json_array_append(nf, v);
			continue;
		}
		/* the body: the whole file mapped (no limit, no copy); the
		 * header alone: its first HEADER_READ bytes */
		struct jms_map map;
		buf_init(&data, MESSAGE_READ_MAX);
		if (r < 0 || (body ? jms_msg_map(j, m, &map, &err) :
		    jms_msg_read(j, m, HEADER_READ, &data, &err)) < 0) {
			buf_free(&data);
			json_array_append(nf, v);   /* gone meanwhile */
			continue;
		}
		if (!body) {
			memset(&map, 0, sizeof(map));
			map.data = data.data != NULL ? data.data : "";
			map.len = data.len;
		}
		char bid[40];
		snprintf(bid, sizeof(bid), "B%s", m->id);
		json_t *mb = mailbox_ids_json(j, m), *kw = keywords_json(m);
		struct je_meta meta = { .id = m->id, .blob_id = bid,
		    .thread_id = m->threadid, .mailbox_ids = mb, .keywords = kw,
		    .size = m->size, .received = m->received };
		json_t *e = je_email(map.data, map.len, &meta, &p);
		if (body)
			jms_msg_unmap(&map);
		if (p.props != NULL && json_is_array(p.props))
			json_object_set_new(e, "id", json_string(m->id));
		json_array_append_new(list, e);
		json_decref(mb);
		json_decref(kw);
		buf_free(&data);
	}
	json_decref(all);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", jmap_mail_state(j, 'E'), "list", list, "notFound", nf);
}

void
email_changes(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "sinceState",
	    "maxChanges", NULL };
	const char *since;
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);

	if (j == NULL || !changes_args(args, &since, error_r))
		return;
	changes_run(c, j, 'E', args, since, result_r, error_r);
}

/* jmap_mail_email_update - one Email/set update: keywords and mailboxIds (full or
 * by patch paths); 0, or -1 with a SetError in *serr */
int
jmap_mail_email_update(struct jms *j, const char *id, json_t *patch, json_t **serr,
	     char new_id[32])
{
	const struct jms_msg *m;
	const char *err, *k;
	json_t *v;
	int r = jms_msg_find(j, id, &m, &err);

	new_id[0] = '\0';
	if (r <= 0) {
		*serr = json_pack("{s:s}", "type", "notFound");
		return -1;
	}
	json_t *kw = keywords_json(m);
	json_t *mb = mailbox_ids_json(j, m);
	bool kw_changed = false, mb_changed = false;
	const char *bad = NULL;
	json_object_foreach(patch, k, v) {
		if (strcmp(k, "keywords") == 0 && json_is_object(v)) {
			json_decref(kw);
			kw = json_deep_copy(v);
			kw_changed = true;
		} else if (strncmp(k, "keywords/", 9) == 0 && k[9] != '\0' &&
		    (json_is_true(v) || json_is_null(v))) {
			char *lk = xstrdup(k + 9);
			for (char *q = lk; *q != '\0'; q++)
				*q = (char)tolower((unsigned char)*q);
			if (json_is_true(v))
				json_object_set_new(kw, lk, json_true());
			else
				json_object_del(kw, lk);
			free(lk);
			kw_changed = true;
		} else if (strcmp(k, "mailboxIds") == 0 && json_is_object(v)) {
			json_decref(mb);
			mb = json_deep_copy(v);
			mb_changed = true;
		} else if (strncmp(k, "mailboxIds/", 11) == 0 &&
		    (json_is_true(v) || json_is_null(v))) {
			if (json_is_true(v))
				json_object_set_new(mb, k + 11, json_true());
			else
				json_object_del(mb, k + 11);
			mb_changed = true;
		} else
			bad = k;
	}
	struct buf rest;
	unsigned int flags;
	buf_init(&rest, 0);
	if (bad == NULL && kw_changed && keywords_split(kw, &flags, &rest) < 0)
		bad = "keywords";
	long to = -1;
	if (bad == NULL && mb_changed) {
		const char *mid;
		json_t *x;
		json_object_foreach(mb, mid, x) {
			if (!json_is_true(x) || (to = jms_folder_find(j, mid)) < 0) {
				bad = "mailboxIds";
				break;
			}
		}
		if (bad == NULL && json_object_size(mb) != 1) {
			*serr = json_pack("{s:s,s:s,s:[s]}", "type",
			    "invalidProperties", "description", json_object_size(mb) ?
			    "this server keeps an Email in exactly one Mailbox "
			    "(provisional until the store has account-wide ids)" :
			    "an Email must be in a Mailbox", "properties",
			    "mailboxIds");
			goto fail;
		}
	}
	if (bad != NULL) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", "only keywords and mailboxIds can be changed, "
		    "with valid values", "properties", bad);
		goto fail;
	}
	if (kw_changed && jms_keywords_set(j, m, flags | (m->flags &
	    STORE_DELETED), rest.data, &err) < 0) {
		*serr = json_pack("{s:s,s:s}", "type", "forbidden", "description",
		    err);
		goto fail;
	}
	if (mb_changed && (size_t)to != m->folder &&
	    jms_msg_move(j, m, (size_t)to, new_id, &err) < 0) {
		*serr = json_pack("{s:s,s:s}", "type", "forbidden", "description",
		    err);
		goto fail;
	}
	json_decref(kw);
	json_decref(mb);
	buf_free(&rest);
	return 0;
fail:
	json_decref(kw);
	json_decref(mb);
	buf_free(&rest);
	return -1;
}

/* the room left in a message for its header and text parts */
#define MESSAGE_TEXT_ROOM ((size_t)64 * 1024)

size_t
jmap_mail_max_attachments(struct db *db)
{
	size_t max = (size_t)settings_current(db)->smtp_max_message_size * 1024;

	return max > MESSAGE_TEXT_ROOM ? (max - MESSAGE_TEXT_ROOM) / 78 * 57 : 0;
}

/* a create's blobs: read from the account, their bytes counted */
struct blob_count {
	struct jmap_mail_ctx *c;
	size_t total;
};

static int
blob_of(void *ctx, const char *blob_id, struct buf *out)
{
	struct blob_count *bc = ctx;
	const char *err;
	size_t before = out->len;

	int r = jmap_mail_blob(bc->c, blob_id, out, &err);
	if (r > 0)
		bc->total += out->len - before;
	return r;
}

/* email_create - one Email/set create (a draft, RFC 8621 4.6) */
static void
email_create(struct jmap_mail_ctx *c, struct jms *j, json_t *v,
	     json_t **created_r, json_t **serr)
{
	json_t *mbs = json_object_get(v, "mailboxIds");
	json_t *kws = json_object_get(v, "keywords");
	const char *recv = json_string_value(json_object_get(v, "receivedAt"));
	const char *why, *prop = NULL, *err;
	unsigned int flags = 0;
	time_t when = 0;
	long to = -1;
	struct buf rest, msg;

	if (json_is_object(mbs) && json_object_size(mbs) == 1 &&
	    json_is_true(json_object_iter_value(json_object_iter(mbs))))
		to = jms_folder_find(j, json_object_iter_key(json_object_iter(mbs)));
	buf_init(&rest, 0);
	buf_init(&msg, MESSAGE_READ_MAX);
	if (to < 0) {
		prop = "mailboxIds";
		why = "mailboxIds must name one Mailbox of the account "
		    "(provisional: one per Email)";
	} else if (kws != NULL && (!json_is_object(kws) ||
	    keywords_split(kws, &flags, &rest) < 0)) {
		prop = "keywords";
		why = "keywords are {keyword: true} of IMAP atoms";
	} else if (recv != NULL && je_parse_date(recv, &when) < 0) {
		prop = "receivedAt";
		why = "receivedAt is a UTCDate";
	} else {
		struct blob_count bc = { c, 0 };
		char *host = settings_hostname(c->db);
		if (je_compose(v, blob_of, &bc, host, &msg, &why, &prop) < 0)
			prop = prop != NULL ? prop : "bodyValues";
		free(host);
		size_t max = jmap_mail_max_attachments(c->db);
		if (prop == NULL && bc.total > max) {
			char *d = xasprintf("the attachments come to %zu bytes: "
			    "at most %zu fit in a message here "
			    "(maxSizeAttachmentsPerEmail)", bc.total, max);
			*serr = json_pack("{s:s,s:s,s:[s]}", "type", "tooLarge",
			    "description", d, "properties", "attachments");
			free(d);
			goto out;
		}
	}
	if (prop != NULL) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", why, "properties", prop);
		goto out;
	}
	char id[32], bid[40], tid[24];
	int r = jms_msg_append(j, (size_t)to, msg.data, msg.len, flags, rest.data,
	    when, id, tid, &err);
	if (r != 0) {
		*serr = json_pack("{s:s,s:s}", "type", r == 1 ? "overQuota" :
		    "forbidden", "description", r == 1 ? "the mailbox is full" : err);
		goto out;
	}
	snprintf(bid, sizeof(bid), "B%s", id);
	*created_r = json_pack("{s:s,s:s,s:s,s:I}", "id", id, "blobId", bid,
	    "threadId", tid, "size", (json_int_t)msg.len);
out:
	buf_free(&rest);
	buf_free(&msg);
}

void
email_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *create = json_object_get(args, "create");
	json_t *update = json_object_get(args, "update");
	json_t *destroy = json_object_get(args, "destroy");
	const char *key, *err;
	json_t *v;

	if (j == NULL || !if_in_state(args, j, 'E', error_r))
		return;
	if (!jmap_set_args(args, c->lim->max_objects_in_set, error_r))
		return;
	json_t *old = jmap_mail_state(j, 'E');
	json_t *updated = json_object(), *destroyed = json_array(),
	    *nc = json_object(), *nu = json_object(), *nd = json_object();
	json_t *created = json_object();
	json_object_foreach(create, key, v) {
		json_t *serr = NULL, *cr = NULL;
		if (!json_is_object(v))
			serr = json_pack("{s:s}", "type", "invalidProperties");
		else
			email_create(c, j, v, &cr, &serr);
		if (serr != NULL)
			json_object_set_new(nc, key, serr);
		else
			json_object_set_new(created, key, cr);
		(void)jms_reload(j, &err);
	}
	json_object_foreach(update, key, v) {
		json_t *serr = NULL;
		char nid[32];
		if (!json_is_object(v))
			serr = json_pack("{s:s}", "type", "invalidPatch");
		else if (jmap_mail_email_update(j, key, v, &serr, nid) == 0) {
			json_object_set_new(updated, key, json_null());
			(void)jms_reload(j, &err);
			continue;
		}
		json_object_set_new(nu, key, serr);
	}
	size_t i;
	json_array_foreach(destroy, i, v) {
		const struct jms_msg *m;
		const char *id = json_string_value(v);
		if (id == NULL || jms_msg_find(j, id, &m, &err) <= 0) {
			json_object_set_new(nd, id != NULL ? id : "", json_pack("{s:s}",
			    "type", "notFound"));
			continue;
		}
		if (jms_msg_destroy(j, m, &err) < 0) {
			json_object_set_new(nd, id, json_pack("{s:s,s:s}", "type",
			    "forbidden", "description", err));
			continue;
		}
		json_array_append(destroyed, v);
		(void)jms_reload(j, &err);
	}
	(void)jms_reload(j, &err);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", old, "newState",
	    jmap_mail_state(j, 'E'), "created", created, "updated", updated,
	    "destroyed",
	    destroyed, "notCreated", nc, "notUpdated", nu, "notDestroyed", nd);
}

int
jmap_mail_blob(struct jmap_mail_ctx *c, const char *blob_id, struct buf *out,
	       const char **error_r)
{
	struct jms *j = jmap_mail_store(c);

	if (j == NULL) {
		*error_r = c->store_error;
		return -1;
	}
	if (blob_id[0] == 'U')
		return jms_upload_read(j, blob_id, out, error_r);
	if (blob_id[0] == 'V')
		return jmap_sieve_blob(c, blob_id, out, error_r);
	if (blob_id[0] != 'B')
		return 0;
	char id[64];
	const char *part = strchr(blob_id, '_');
	size_t n = part != NULL ? (size_t)(part - blob_id - 1) : strlen(blob_id + 1);
	if (n >= sizeof(id))
		return 0;
	memcpy(id, blob_id + 1, n);
	id[n] = '\0';
	const struct jms_msg *m;
	int r = jms_msg_find(j, id, &m, error_r);
	if (r <= 0)
		return r;
	if (part == NULL) {
		size_t start = out->len;
		if (jms_msg_read(j, m, 0, out, error_r) < 0)
			return -1;
		if (out->len - start < m->size) {
			*error_r = "the message is larger than a blob can be here";
			return -1;
		}
		return 1;
	}
	struct jms_map whole;
	if (jms_msg_map(j, m, &whole, error_r) < 0)
		return -1;
	r = je_part_blob(whole.data, whole.len, part + 1, out) < 0 ? 0 : 1;
	jms_msg_unmap(&whole);
	return r;
}

/* blob_tmpfile - bytes into an unlinked temporary file of the mailbox
 * (so that the answer does not hold them while the client reads) */
static int
blob_tmpfile(const char *root, const struct buf *b, const char **error_r)
{
	int fd = open(root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		*error_r = "cannot make a temporary file";
		return -1;
	}
	for (size_t off = 0; off < b->len; ) {
		ssize_t n = write(fd, b->data + off, b->len - off);
		if (n <= 0) {
			close(fd);
			*error_r = "cannot write a temporary file";
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

int
jmap_mail_blob_fd(struct jmap_mail_ctx *c, const char *blob_id, int *fd_r,
		  size_t *len_r, const char **error_r)
{
	struct jms *j = jmap_mail_store(c);
	struct stat sb;
	int fd = -1;

	if (j == NULL) {
		*error_r = c->store_error;
		return -1;
	}
	if (blob_id[0] == 'U') {
		int r = jms_upload_fd(j, blob_id, &fd, error_r);
		if (r <= 0)
			return r;
	} else if (blob_id[0] == 'B' && strchr(blob_id, '_') == NULL &&
	    strlen(blob_id) < 64) {
		const struct jms_msg *m;
		int r = jms_msg_find(j, blob_id + 1, &m, error_r);
		if (r <= 0)
			return r;
		if ((fd = jms_msg_fd(j, m, error_r)) < 0)
			return -1;
	} else {
		/* a body part (decoded) or a Sieve script: made here, then
		 * sent from a temporary file */
		struct buf b;
		buf_init(&b, MESSAGE_READ_MAX);
		int r = jmap_mail_blob(c, blob_id, &b, error_r);
		if (r > 0 && (fd = blob_tmpfile(c->root, &b, error_r)) < 0)
			r = -1;
		buf_free(&b);
		if (r <= 0)
			return r;
	}
	if (fstat(fd, &sb) < 0) {
		close(fd);
		*error_r = "cannot read the blob";
		return -1;
	}
	*fd_r = fd;
	*len_r = (size_t)sb.st_size;
	return 1;
}

void
email_import(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "emails", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *emails = json_object_get(args, "emails");
	const char *key, *err;
	json_t *v;

	if (j == NULL || !if_in_state(args, j, 'E', error_r))
		return;
	if (!json_is_object(emails)) {
		*error_r = jmap_error_props("invalidArguments", "emails must be an "
		    "object", "emails", NULL);
		return;
	}
	if (json_object_size(emails) > c->lim->max_objects_in_set) {
		*error_r = jmap_error("requestTooLarge", "more than "
		    "maxObjectsInSet emails");
		return;
	}
	json_t *old = jmap_mail_state(j, 'E'), *created = json_object(),
	    *nc = json_object();
	json_object_foreach(emails, key, v) {
		const char *blob = json_string_value(json_object_get(v, "blobId"));
		json_t *mbs = json_object_get(v, "mailboxIds");
		json_t *kws = json_object_get(v, "keywords");
		const char *recv = json_string_value(json_object_get(v, "receivedAt"));
		time_t when = 0;
		unsigned int flags = 0;
		struct buf rest, data;
		buf_init(&rest, 0);
		buf_init(&data, MESSAGE_READ_MAX);
		long to = -1;
		if (json_is_object(mbs) && json_object_size(mbs) == 1)
			to = jms_folder_find(j, json_object_iter_key(
			    json_object_iter(mbs)));
		const char *why = NULL, *type = "invalidProperties";
		if (blob == NULL)
			why = "blobId is required";
		else if (to < 0)
			why = "mailboxIds must name one Mailbox of the account "
			    "(provisional: one per Email)";
		else if (kws != NULL && (!json_is_object(kws) ||
		    keywords_split(kws, &flags, &rest) < 0))
			why = "keywords";
		else if (recv != NULL && je_parse_date(recv, &when) < 0)
			why = "receivedAt";
		else {
			int r = jmap_mail_blob(c, blob, &data, &err);
			if (r <= 0) {
				type = "blobNotFound";
				why = "no such blob";
			} else {
				char id[32], tid[24];
				r = jms_msg_append(j, (size_t)to, data.data != NULL ?
				    data.data : "", data.len, flags, rest.data, when,
				    id, tid, &err);
				if (r == 1)
					type = "overQuota", why = "the mailbox is full";
				else if (r < 0)
					type = "forbidden", why = err;
				else {
					char bid[40];
					snprintf(bid, sizeof(bid), "B%s", id);
					json_object_set_new(created, key, json_pack(
					    "{s:s,s:s,s:s,s:I}", "id", id, "blobId", bid,
					    "threadId", tid, "size", (json_int_t)data.len));
				}
			}
		}
		if (why != NULL)
			json_object_set_new(nc, key, json_pack("{s:s,s:s}", "type",
			    type, "description", why));
		buf_free(&rest);
		buf_free(&data);
	}
	(void)jms_reload(j, &err);
	*result_r = json_pack("{s:s,s:o,s:o,s:o,s:o}", "accountId",
	    c->account_id, "oldState", old, "newState", jmap_mail_state(j, 'E'),
	    "created", created, "notCreated", nc);
}

void
email_parse(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "blobIds",
	    "properties", "bodyProperties", "fetchTextBodyValues",
	    "fetchHTMLBodyValues", "fetchAllBodyValues", "maxBodyValueBytes",
	    NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *ids;
	const char *err;

	if (j == NULL || !jmap_ids_arg(args, "blobIds",
	    c->lim->max_objects_in_get, &ids, error_r))
		return;
	struct je_props p;
	if (ids == NULL) {
		*error_r = jmap_error_props("invalidArguments", "blobIds is "
		    "required", "blobIds", NULL);
		return;
	}
	if (!email_props(args, &p, error_r))
		return;
	json_t *parsed = json_object(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct buf data;
		buf_init(&data, MESSAGE_READ_MAX);
		if (jmap_mail_blob(c, json_string_value(v), &data, &err) <= 0) {
			json_array_append(nf, v);
			buf_free(&data);
			continue;
		}
		struct je_meta meta = { .blob_id = json_string_value(v),
		    .size = data.len, .received = time(NULL) };
		json_t *e = je_email(data.data != NULL ? data.data : "", data.len,
		    &meta, &p);
		json_object_del(e, "id");
		json_object_del(e, "mailboxIds");
		json_object_del(e, "keywords");
		json_object_del(e, "receivedAt");
		json_object_del(e, "threadId");
		json_object_set_new(parsed, json_string_value(v), e);
		buf_free(&data);
	}
	*result_r = json_pack("{s:s,s:o,s:o,s:[]}", "accountId", c->account_id,
	    "parsed", parsed, "notFound", nf, "notParsable");
}
