/* jmap-submit - Identity, EmailSubmission (RFC 8621 6, 7) and
 * VacationResponse (RFC 8621 8) for the JMAP mail account (jmap-mail.h).
 *
 * Identities are the mailbox's addresses (dir_mailbox_addresses); their
 * methods are in jmap-identity.c.
 *
 * EmailSubmission/set puts the Email into the inbound queue of the SMTP
 * connector as an authenticated submission from the mailbox (auth_user),
 * the way smtpd's submission port does: the envelope sender and the
 * From:/Sender: addresses must pass dir_send_as (sender binding, as
 * smtpd checks them), and the MTA then applies the relay rules, global
 * filters and footers, and smtp-out signs with DKIM as for any
 * submission. The message is queued with CRLF lines and without its Bcc
 * field. A copy goes to the Sent mailbox unless onSuccessUpdateEmail
 * puts the Email there itself. Submissions are not kept after the
 * answer: EmailSubmission/get finds none (undoStatus is "final" at once).
 *
 * VacationResponse is the mailbox's auto responder (the mailbox fields
 * autoresponder_*, manual 5.5.6); an htmlBody is kept in the safe subset
 * of lib/htmlsafe.h (the kept form comes back in "updated") and sent
 * beside the text. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "directory.h"
#include "htmlsafe.h"
#include "jmap-email.h"
#include "jmap-mail.h"
#include "jmap-settings.h"
#include "jmap-store.h"
#include "queue.h"
#include "settings.h"
#include "store.h"
#include "xalloc.h"

#define SUBMIT_RCPT_MAX 100
#define SUBMIT_SIZE_MAX ((size_t)64 * 1024 * 1024)

/* ------------------------------------------------------------ Identity */

/* identities - the mailbox's addresses as Identity objects (a new
 * array), NULL on error */
static json_t *
identities(struct jmap_mail_ctx *c, const char **error_r)
{
	struct dir_strings a = { 0 };

	if (dir_mailbox_addresses(c->db, c->mailbox_id, &a, error_r) < 0)
		return NULL;
	json_t *list = json_array();
	for (size_t i = 0; i < a.n; i++) {
		char id[24];
		jmap_identity_id(a.v[i], id);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:n,s:n,s:s,"
		    "s:s,s:b}", "id", id, "name", "", "email", a.v[i], "replyTo",
		    "bcc", "textSignature", "", "htmlSignature", "", "mayDelete",
		    0));
	}
	dir_strings_free(&a);
	return list;
}

/* ------------------------------------------------------ EmailSubmission */

static bool
address_ok(const char *a)
{
	const char *at = strrchr(a, '@');

	if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 320)
		return false;
	for (const char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
			return false;
	return true;
}

/* header_addresses - the addresses of a header field (asAddresses) */
static json_t *
header_addresses(const char *data, size_t len, const char *field)
{
	char prop[80];
	snprintf(prop, sizeof(prop), "header:%s:asAddresses:all", field);
	struct je_props p = { .props = json_pack("[s]", prop) };
	struct je_meta meta = { .blob_id = "x" };
	json_t *e = je_email(data, len, &meta, &p);
	json_t *out = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(e, prop), i, v)
		json_array_extend(out, v);
	json_decref(e);
	json_decref(p.props);
	return out;
}

/* queue_message - the message as queued: a Received field, the
 * original without Bcc fields, CRLF lines */
static void
queue_message(const char *data, size_t len, const char *client,
	      const char *host, const char *login, const char *qid,
	      struct buf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	bool in_header = true, skip = false;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out, "Received: from [%s] by %s with HTTP (JMAP, "
	    "authenticated as %s)\r\n\tid %s; %s\r\n", client, host, login, qid,
	    date);
	for (size_t i = 0; i < len; ) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl != NULL ? (size_t)(nl - data) : len;
		size_t l = e > i && data[e - 1] == '\r' ? e - 1 - i : e - i;
		const char *line = data + i;
		if (in_header) {
			if (l == 0)
				in_header = false;
			else if (line[0] != ' ' && line[0] != '\t')
				skip = l >= 4 && strncasecmp(line, "bcc:", 4) == 0;
		}
		if (!(in_header && skip)) {
			buf_append(out, line, l);
			if (nl != NULL)
				buf_puts(out, "\r\n");
		}
		i = nl != NULL ? e + 1 : len;
	}
}

/* submit_one - one EmailSubmission create: 0 with the submission in
 * *created_r, or -1 with a SetError in *serr */
static int
submit_one(struct jmap_mail_ctx *c, struct jms *j, json_t *sub,
	   json_t *idents, json_t **created_r, json_t **serr)
{
	const char *ident = json_string_value(json_object_get(sub, "identityId"));
	const char *eid = json_string_value(json_object_get(sub, "emailId"));
	json_t *env = json_object_get(sub, "envelope");
	const char *err, *key;
	json_t *v;
	const char *from_addr = NULL;
	size_t i;

	json_object_foreach(sub, key, v)
		if (strcmp(key, "identityId") != 0 && strcmp(key, "emailId") != 0 &&
		    strcmp(key, "envelope") != 0) {
			*serr = json_pack("{s:s,s:[s]}", "type", "invalidProperties",
			    "properties", key);
			return -1;
		}
	json_array_foreach(idents, i, v)
		if (ident != NULL && strcmp(json_string_value(json_object_get(v,
		    "id")), ident) == 0)
			from_addr = json_string_value(json_object_get(v, "email"));
	if (from_addr == NULL) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", "no such identityId", "properties", "identityId");
		return -1;
	}
	const struct jms_msg *m;
	if (eid == NULL || jms_msg_find(j, eid, &m, &err) <= 0) {
		*serr = json_pack("{s:s,s:s,s:[s]}", "type", "invalidProperties",
		    "description", "no such emailId", "properties", "emailId");
		return -1;
	}
	struct buf data;
	buf_init(&data, SUBMIT_SIZE_MAX);
	if (jms_msg_read(j, m, 0, &data, &err) < 0 || data.len < m->size) {
		buf_free(&data);
		*serr = json_pack("{s:s,s:s}", "type", "tooLarge", "description",
		    "the Email is too large to submit");
		return -1;
	}
	if (data.data == NULL)
		buf_puts(&data, "");
	/* the envelope: given, or the identity and To/Cc/Bcc */
	json_t *rcpts = json_array();
	const char *mail_from = from_addr;
	if (env != NULL && !json_is_null(env)) {
		mail_from = json_string_value(json_object_get(json_object_get(env,
		    "mailFrom"), "email"));
		json_array_foreach(json_object_get(env, "rcptTo"), i, v)
			json_array_append(rcpts, json_object_get(v, "email"));
		if (mail_from == NULL) {
			buf_free(&data);
			json_decref(rcpts);
			*serr = json_pack("{s:s,s:[s]}", "type", "invalidProperties",
			    "properties", "envelope");
			return -1;
		}
	} else {
		static const char *const fields[] = { "To", "Cc", "Bcc" };
		for (size_t f = 0; f < 3; f++) {
			json_t *a = header_addresses(data.data, data.len, fields[f]);
			json_array_foreach(a, i, v)
				json_array_append(rcpts, json_object_get(v, "email"));
			json_decref(a);
		}
	}
	json_t *bad = json_array();
	json_array_foreach(rcpts, i, v)
		if (!json_is_string(v) || !address_ok(json_string_value(v)))
			json_array_append(bad, v);
	const char *type = NULL, *why = NULL;
	if (json_array_size(rcpts) == 0)
		type = "noRecipients", why = "the Email has no recipients";
	else if (json_array_size(bad) > 0)
		type = "invalidRecipients", why = "invalid recipient addresses";
	else if (json_array_size(rcpts) > SUBMIT_RCPT_MAX)
		type = "tooManyRecipients", why = "too many recipients";
	/* sender binding: the envelope sender and From:/Sender: */
	if (type == NULL && (*mail_from != '\0' && (!address_ok(mail_from) ||
	    dir_send_as(c->db, c->mailbox_id, mail_from, &err) != 1)))
		type = "forbiddenMailFrom", why = "the envelope sender is not "
		    "one this mailbox may use";
	static const char *const who[] = { "From", "Sender" };
	for (size_t f = 0; f < 2 && type == NULL; f++) {
		json_t *a = header_addresses(data.data, data.len, who[f]);
		if (f == 0 && json_array_size(a) == 0)
			type = "invalidEmail", why = "the Email has no From field";
		json_array_foreach(a, i, v) {
			const char *addr = json_string_value(json_object_get(v,
			    "email"));
			if (type == NULL && (addr == NULL ||
			    dir_send_as(c->db, c->mailbox_id, addr, &err) != 1))
				type = "forbiddenFrom", why = "a From or Sender address "
				    "is not one this mailbox may use";
		}
		json_decref(a);
	}
	if (type != NULL) {
		*serr = json_pack("{s:s,s:s}", "type", type, "description", why);
		if (json_array_size(bad) > 0)
			json_object_set(*serr, "invalidRecipients", bad);
		json_decref(bad);
		json_decref(rcpts);
		buf_free(&data);
		return -1;
	}
	json_decref(bad);
	/* into the SMTP connector's inbound queue */
	struct queue_env qe;
	char qid[QUEUE_ID_MAX + 1];
	struct buf msg;
	char *host = settings_hostname(c->db);
	char *qroot = settings_queue_path(c->db);
	char *qpath = queue_path(qroot, "smtp", QUEUE_INBOUND);
	queue_new_id(qid);
	queue_env_init(&qe, qid);
	queue_env_set(&qe.sender, mail_from);
	queue_env_set(&qe.auth_user, c->login);
	queue_env_set(&qe.client_addr, c->client != NULL ? c->client : "local");
	queue_env_set(&qe.client_helo, "jmap");
	queue_env_set(&qe.body_type, "8BITMIME");
	json_array_foreach(rcpts, i, v)
		queue_env_add_rcpt(&qe, json_string_value(v), NULL, 0);
	buf_init(&msg, 0);
	queue_message(data.data, data.len, c->client != NULL ? c->client :
	    "local", host, c->login, qid, &msg);
	int r = -1;
	struct queue_writer *w = NULL;
	if (queue_ensure(qpath) == 0 &&
	    (w = queue_writer_open(qpath, qid, &err)) != NULL) {
		if (queue_writer_write(w, msg.data, msg.len) < 0)
			queue_writer_abort(&w);
		else
			r = queue_writer_commit(&w, &qe, &err);
	}
	queue_env_free(&qe);
	free(host);
	free(qroot);
	free(qpath);
	buf_free(&msg);
	buf_free(&data);
	if (r < 0) {
		json_decref(rcpts);
		*serr = json_pack("{s:s,s:s}", "type", "forbidden", "description",
		    "the message could not be queued; try again");
		return -1;
	}
	char sid[48], now[32];
	snprintf(sid, sizeof(sid), "s%s", qid);
	je_rfc3339(time(NULL), now, sizeof(now));
	json_t *rc = json_array();
	json_array_foreach(rcpts, i, v)
		json_array_append_new(rc, json_pack("{s:O,s:n}", "email", v,
		    "parameters"));
	*created_r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:s,s:n},s:o}}",
	    "id", sid, "identityId", ident, "emailId", eid, "sendAt", now,
	    "undoStatus", "final", "envelope", "mailFrom", "email", mail_from,
	    "parameters", "rcptTo", rc);
	json_decref(rcpts);
	return 0;
}

/* sent_copy - a copy of Email eid in the Sent mailbox ($seen) */
static void
sent_copy(struct jms *j, const char *eid)
{
	const struct jms_msg *m;
	const char *err;
	long sent = -1;
	char id[32];

	for (size_t i = 0; i < jms_nfolders(j); i++)
		if (jms_folder(j, i)->special_use & STORE_SU_SENT)
			sent = (long)i;
	if (sent < 0 || jms_msg_find(j, eid, &m, &err) <= 0 ||
	    m->folder == (size_t)sent)
		return;
	struct buf data;
	buf_init(&data, SUBMIT_SIZE_MAX);
	if (jms_msg_read(j, m, 0, &data, &err) == 0 && data.len == m->size)
		(void)jms_msg_append(j, (size_t)sent, data.data != NULL ?
		    data.data : "", data.len, STORE_SEEN, NULL, 0, id, NULL,
		    &err);
	buf_free(&data);
}

/* puts_in_sent - whether an onSuccessUpdateEmail patch puts the Email in
 * the Sent mailbox */
static bool
puts_in_sent(struct jms *j, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach(patch, k, v) {
		const char *id = NULL;
		if (strncmp(k, "mailboxIds/", 11) == 0 && json_is_true(v))
			id = k + 11;
		if (strcmp(k, "mailboxIds") == 0 && json_is_object(v)) {
			const char *mk;
			json_t *mv;
			json_object_foreach(v, mk, mv) {
				long f = jms_folder_find(j, mk);
				if (f >= 0 && (jms_folder(j, (size_t)f)->special_use &
				    STORE_SU_SENT))
					return true;
			}
		}
		long f = id != NULL ? jms_folder_find(j, id) : -1;
		if (f >= 0 && (jms_folder(j, (size_t)f)->special_use & STORE_SU_SENT))
			return true;
	}
	return false;
}

static void
submission_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", "onSuccessUpdateEmail",
	    "onSuccessDestroyEmail", NULL };
	struct jms *j = jmap_mail_begin(c, args, allowed, error_r);
	json_t *create = json_object_get(args, "create");
	json_t *onup = json_object_get(args, "onSuccessUpdateEmail");
	json_t *ondel = json_object_get(args, "onSuccessDestroyEmail");
	const char *key, *err;
	json_t *v;
	size_t i;

	if (j == NULL)
		return;
	json_t *ifs = json_object_get(args, "ifInState");
	if (ifs != NULL && !json_is_null(ifs)) {
		*error_r = jmap_error("stateMismatch", "EmailSubmissions are not "
		    "kept: there is no state to match");
		return;
	}
	if ((create != NULL && !json_is_object(create)) ||
	    (onup != NULL && !json_is_object(onup) && !json_is_null(onup)) ||
	    (ondel != NULL && !json_is_array(ondel) && !json_is_null(ondel))) {
		*error_r = jmap_error("invalidArguments", "create and "
		    "onSuccessUpdateEmail are objects, onSuccessDestroyEmail an "
		    "array");
		return;
	}
	if (json_object_size(create) > c->lim->max_objects_in_set) {
		*error_r = jmap_error("requestTooLarge", "more than "
		    "maxObjectsInSet submissions");
		return;
	}
	json_t *idents = identities(c, &err);
	if (idents == NULL) {
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *created = json_object(), *nc = json_object(),
	    *nu = json_object(), *nd = json_object();
	json_t *email_updated = json_object(), *email_nu = json_object(),
	    *email_destroyed = json_array(), *email_nd = json_object();
	json_t *old_email = jmap_mail_state(j, 'E');
	json_object_foreach(create, key, v) {
		json_t *sub = NULL, *serr = NULL;
		if (!json_is_object(v))
			serr = json_pack("{s:s}", "type", "invalidProperties");
		else
			(void)submit_one(c, j, v, idents, &sub, &serr);
		if (serr != NULL) {
			json_object_set_new(nc, key, serr);
			continue;
		}
		json_object_set_new(created, key, sub);
		const char *eid = json_string_value(json_object_get(v, "emailId"));
		char ref[300];
		snprintf(ref, sizeof(ref), "#%s", key);
		json_t *patch = onup != NULL ? json_object_get(onup, ref) : NULL;
		if (patch == NULL && onup != NULL)
			patch = json_object_get(onup, json_string_value(json_object_get(
			    sub, "id")));
		if (patch == NULL || !puts_in_sent(j, patch))
			sent_copy(j, eid);
		if (patch != NULL) {
			char nid[32];
			json_t *perr = NULL;
			if (jmap_mail_email_update(j, eid, patch, &perr, nid) == 0)
				json_object_set_new(email_updated, eid, json_null());
			else
				json_object_set_new(email_nu, eid, perr);
			(void)jms_reload(j, &err);
		}
		json_array_foreach(ondel, i, v) {
			const char *r = json_string_value(v);
			const struct jms_msg *m;
			if (r == NULL || strcmp(r, ref) != 0)
				continue;
			if (jms_msg_find(j, eid, &m, &err) > 0 &&
			    jms_msg_destroy(j, m, &err) == 0)
				json_array_append_new(email_destroyed, json_string(eid));
			else
				json_object_set_new(email_nd, eid, json_pack("{s:s}",
				    "type", "notFound"));
			(void)jms_reload(j, &err);
		}
	}
	json_object_foreach(json_object_get(args, "update"), key, v)
		json_object_set_new(nu, key, json_pack("{s:s,s:s}", "type",
		    "notFound", "description", "submissions are final at once and "
		    "not kept"));
	json_array_foreach(json_object_get(args, "destroy"), i, v)
		if (json_is_string(v))
			json_object_set_new(nd, json_string_value(v), json_pack(
			    "{s:s}", "type", "notFound"));
	json_decref(idents);
	*result_r = json_pack("{s:s,s:s,s:s,s:o,s:{},s:[],s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", "S0", "newState", "S0",
	    "created", created, "updated", "destroyed", "notCreated", nc,
	    "notUpdated", nu, "notDestroyed", nd);
	if (json_object_size(email_updated) + json_object_size(email_nu) +
	    json_array_size(email_destroyed) + json_object_size(email_nd) > 0) {
		(void)jms_reload(j, &err);
		json_t *es = json_pack("{s:s,s:o,s:o,s:{},s:o,s:o,s:{},s:o,s:o}",
		    "accountId", c->account_id, "oldState", old_email, "newState",
		    jmap_mail_state(j, 'E'), "created", "updated", email_updated,
		    "destroyed", email_destroyed, "notCreated", "notUpdated",
		    email_nu, "notDestroyed", email_nd);
		json_object_set_new(*result_r, "@then", json_pack("[[s,o]]",
		    "Email/set", es));
	} else {
		json_decref(old_email);
		json_decref(email_updated);
		json_decref(email_nu);
		json_decref(email_destroyed);
		json_decref(email_nd);
	}
}

static void
submission_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	json_t *ids;

	if (!jmap_mail_account(c, args, allowed, error_r) || !jmap_ids_arg(args,
	    "ids", c->lim->max_objects_in_get, &ids, error_r))
		return;
	*result_r = json_pack("{s:s,s:s,s:[],s:O}", "accountId", c->account_id,
	    "state", "S0", "list", "notFound", ids != NULL ? ids : json_array());
}

/* ---------------------------------------------------- VacationResponse */

static void
vacation_get(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ids", "properties",
	    NULL };
	json_t *ids;
	const char *err;

	if (!jmap_mail_account(c, args, allowed, error_r) || !jmap_ids_arg(args,
	    "ids", c->lim->max_objects_in_get, &ids, error_r))
		return;
	struct db_stmt *s = db_query(c->db, &err, "SELECT autoresponder_enabled, "
	    "autoresponder_subject, autoresponder_body, autoresponder_start, "
	    "autoresponder_end, autoresponder_html FROM mailbox WHERE id = ?",
	    "i", c->mailbox_id);
	if (s == NULL || db_step(s, NULL) != DB_ROW) {
		db_stmt_free(&s);
		*error_r = jmap_error("serverFail", "the mailbox could not be read");
		return;
	}
	char from[32], to[32];
	int64_t st = db_col_int(s, 3), en = db_col_int(s, 4);
	je_rfc3339((time_t)st, from, sizeof(from));
	je_rfc3339((time_t)en, to, sizeof(to));
	const char *subj = db_col_text(s, 1);
	const char *body = db_col_text(s, 2);
	const char *hbody = db_col_text(s, 5);
	json_t *vr = json_pack("{s:s,s:b,s:s?,s:s?,s:s?,s:s?,s:s?}", "id",
	    "singleton", "isEnabled", db_col_int(s, 0) != 0, "fromDate",
	    st ? from : NULL, "toDate", en ? to : NULL, "subject",
	    subj != NULL && *subj ? subj : NULL, "textBody",
	    body != NULL && *body ? body : NULL, "htmlBody",
	    hbody != NULL && *hbody ? hbody : NULL);
	db_stmt_free(&s);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	if (ids == NULL)
		json_array_append(list, vr);
	else
		json_array_foreach(ids, i, v)
			json_array_append(strcmp(json_string_value(v), "singleton") ?
			    nf : list, strcmp(json_string_value(v), "singleton") ?
			    v : vr);
	char *dump = json_dumps(vr, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = dump; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	free(dump);
	json_decref(vr);
	*result_r = json_pack("{s:s,s:o,s:o,s:o}", "accountId", c->account_id,
	    "state", json_sprintf("V%016" PRIx64, h), "list", list, "notFound",
	    nf);
}

/* vacation_field - set one auto responder field: NULL or why not */
static const char *
vacation_field(struct jmap_mail_ctx *c, const char *field, const char *value,
	       const char **err)
{
	int r = adm_object_set(c->db, ADM_MAILBOX, c->login, field, value, err);

	return r == ADM_OK ? NULL : *err != NULL ? *err : "refused";
}

static void
vacation_set(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct jmap_mail_ctx *c = ctx;
	static const char *const allowed[] = { "accountId", "ifInState",
	    "create", "update", "destroy", NULL };
	json_t *update = json_object_get(args, "update");
	const char *key, *err = NULL;
	json_t *v;
	size_t i;

	if (!jmap_mail_account(c, args, allowed, error_r))
		return;
	json_t *before = NULL, *e = NULL;
	json_t *gargs = json_pack("{s:s}", "accountId", c->account_id);
	vacation_get(c, gargs, &before, &e);
	json_decref(gargs);
	if (before == NULL) {
		*error_r = e;
		return;
	}
	json_t *old = json_incref(json_object_get(before, "state"));
	json_decref(before);
	json_t *ifs = json_object_get(args, "ifInState");
	if (ifs != NULL && !json_is_null(ifs) && !json_equal(ifs, old)) {
		json_decref(old);
		*error_r = jmap_error("stateMismatch", "ifInState does not match");
		return;
	}
	json_t *updated = json_object(), *nu = json_object(),
	    *nc = json_object(), *nd = json_object();
	json_object_foreach(json_object_get(args, "create"), key, v)
		json_object_set_new(nc, key, json_pack("{s:s}", "type",
		    "singleton"));
	json_array_foreach(json_object_get(args, "destroy"), i, v)
		if (json_is_string(v))
			json_object_set_new(nd, json_string_value(v), json_pack(
			    "{s:s}", "type", "singleton"));
	json_object_foreach(update, key, v) {
		const char *why = NULL, *k;
		json_t *x;
		if (strcmp(key, "singleton") != 0) {
			json_object_set_new(nu, key, json_pack("{s:s}", "type",
			    "notFound"));
			continue;
		}
		bool outer;
		json_t *kept = json_object();
		if (adm_tx_begin(c->db, &outer, &err) < 0) {
			json_decref(kept);
			json_object_set_new(nu, key, json_pack("{s:s}", "type",
			    "forbidden"));
			continue;
		}
		json_object_foreach(v, k, x) {
			if (why != NULL)
				break;
			if (strcmp(k, "isEnabled") == 0 && json_is_boolean(x))
				why = vacation_field(c, "autoresponder_enabled",
				    json_is_true(x) ? "1" : "0", &err);
			else if (strcmp(k, "subject") == 0 &&
			    (json_is_string(x) || json_is_null(x)))
				why = vacation_field(c, "autoresponder_subject",
				    json_is_null(x) ? "" : json_string_value(x), &err);
			else if (strcmp(k, "textBody") == 0 &&
			    (json_is_string(x) || json_is_null(x)))
				why = vacation_field(c, "autoresponder_body",
				    json_is_null(x) ? "" : json_string_value(x), &err);
			else if ((strcmp(k, "fromDate") == 0 ||
			    strcmp(k, "toDate") == 0) && (json_is_null(x) ||
			    json_is_string(x))) {
				time_t t = 0;
				char val[32] = "0";
				if (json_is_string(x) && je_parse_date(
				    json_string_value(x), &t) < 0)
					why = "dates are UTCDates (2026-12-24T00:00:00Z)";
				else if (t != 0) {
					struct tm tm;
					gmtime_r(&t, &tm);
					strftime(val, sizeof(val), "%Y-%m-%d %H:%M", &tm);
				}
				if (why == NULL)
					why = vacation_field(c, k[0] == 'f' ?
					    "autoresponder_start" : "autoresponder_end",
					    val, &err);
			} else if (strcmp(k, "htmlBody") == 0 && json_is_null(x)) {
				why = vacation_field(c, "autoresponder_html", "", &err);
			} else if (strcmp(k, "htmlBody") == 0 && json_is_string(x)) {
				struct buf hb;
				buf_init(&hb, 0);
				if (htmlsafe_clean(json_string_value(x),
				    json_string_length(x), &hb, &err) < 0) {
					why = err;
				} else {
					buf_putc(&hb, '\0');
					why = vacation_field(c, "autoresponder_html",
					    hb.data, &err);
					if (why == NULL && strcmp(hb.data,
					    json_string_value(x)) != 0)
						json_object_set_new(kept, "htmlBody",
						    json_string(hb.data));
				}
				buf_free(&hb);
			} else
				why = "unknown or badly typed property";
			if (why != NULL)
				json_object_set_new(nu, key, json_pack("{s:s,s:s,s:[s]}",
				    "type", "invalidProperties", "description", why,
				    "properties", k));
		}
		(void)adm_tx_end(c->db, outer, why == NULL, &err);
		if (why == NULL)
			json_object_set_new(updated, key, json_object_size(kept) > 0 ?
			    json_incref(kept) : json_null());
		json_decref(kept);
	}
	json_t *after = NULL;
	gargs = json_pack("{s:s}", "accountId", c->account_id);
	vacation_get(c, gargs, &after, &e);
	json_decref(gargs);
	json_t *now = after != NULL ? json_incref(json_object_get(after,
	    "state")) : json_incref(old);
	json_decref(after);
	json_decref(e);
	*result_r = json_pack("{s:s,s:o,s:o,s:{},s:o,s:[],s:o,s:o,s:o}",
	    "accountId", c->account_id, "oldState", old, "newState", now,
	    "created", "updated", updated, "destroyed", "notCreated", nc,
	    "notUpdated", nu, "notDestroyed", nd);
}

const struct jmap_method jmap_submit_methods[] = {
	{ "EmailSubmission/get", JMAP_SUBMISSION, submission_get },
	{ "EmailSubmission/set", JMAP_SUBMISSION, submission_set },
	{ "VacationResponse/get", JMAP_VACATION, vacation_get },
	{ "VacationResponse/set", JMAP_VACATION, vacation_set },
	{ NULL, NULL, NULL },
};
