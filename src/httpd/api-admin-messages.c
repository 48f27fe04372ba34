/* api-admin-messages - a mailbox's messages in the web admin (manual
 * 5.5.7): MailboxMessage/query lists the latest 200 of its INBOX (from,
 * subject, date, size, read from each message's header by lib-mime's
 * scanner, RFC 2047 words decoded), and Mailbox/set
 * "forwardAll" (api-admin-mailbox.c) sends every one of them on to
 * another address through the MTA, as a mail client would, the mail
 * staying in the mailbox. Within the actor's reach like any mailbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "buf.h"
#include "api.h"
#include "api-admin.h"
#include "directory.h"
#include "mime.h"
#include "msghdr.h"
#include "queue.h"
#include "settings.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

#define MESSAGES_SHOWN 200
#define HEADER_READ_MAX (64 * 1024)
#define FORWARD_MAX 10000

/* inbox_open - the INBOX of mailbox ident (synced): 0, or -1 with *e */
static int
inbox_open(struct api_ctx *c, const char *ident, struct dir_mailbox *mb,
	   struct store **st, struct store_folder **f, json_t **e)
{
	const char *err;
	int64_t id;

	if (adm_object_id(c->db, ADM_MAILBOX, ident, &id, &err) < 0 ||
	    dir_mailbox_get(c->db, id, mb, &err) <= 0 ||
	    !api_po_visible(c->actor, mb->postoffice_id)) {
		*e = jmap_error("notFound", "no mailbox %s", ident);
		return -1;
	}
	if (!c->actor->sysadmin && strcmp(mb->type, "SYSADMIN") == 0) {
		*e = jmap_error("forbidden", "only a SYSADMIN reads a SYSADMIN "
		    "mailbox's messages");
		return -1;
	}
	char *root = dir_mailbox_path(c->db, mb);
	*st = store_open(root, &err);
	free(root);
	*f = *st != NULL ? store_folder_open(*st, "INBOX", &err) : NULL;
	if (*f == NULL || store_sync(*f, &err) < 0) {
		store_folder_close(f);
		store_close(st);
		*e = jmap_error("serverFail", "the mailbox cannot be read: %s", err);
		return -1;
	}
	return 0;
}

/* the fields a message list shows, from lib-mime's header scanner */
struct summary {
	char *from, *subject, *date;
};

/* summary_field - keep the first From, Subject and Date, RFC 2047 words
 * decoded to UTF-8, at most 300 bytes each */
static void
summary_field(void *ctx, const struct msghdr_field *f)
{
	struct summary *s = ctx;
	char **slot = strcasecmp(f->name, "From") == 0 ? &s->from :
	    strcasecmp(f->name, "Subject") == 0 ? &s->subject :
	    strcasecmp(f->name, "Date") == 0 ? &s->date : NULL;

	if (slot == NULL || *slot != NULL)
		return;
	struct buf b;
	buf_init(&b, 0);
	mime_decode_words(f->value, strlen(f->value), &b);
	*slot = xstrndup(b.data ? b.data : "", b.len > 300 ? 300 : b.len);
	buf_free(&b);
}

/* summary_read - the summary of the message file at path (its header
 * read up to HEADER_READ_MAX) */
static void
summary_read(const char *path, struct summary *s)
{
	struct msghdr_parser p;
	char chunk[8192];
	size_t got = 0, used;
	const char *err;
	FILE *fp = fopen(path, "r");

	memset(s, 0, sizeof(*s));
	msghdr_parser_init(&p, HEADER_READ_MAX, summary_field, s);
	while (fp != NULL && got < HEADER_READ_MAX) {
		size_t n = fread(chunk, 1, sizeof(chunk), fp);
		if (n == 0) {
			msghdr_parser_finish(&p);
			break;
		}
		got += n;
		if (msghdr_parser_feed(&p, chunk, n, &used, &err) != 0)
			break;
	}
	if (fp != NULL)
		fclose(fp);
	msghdr_parser_deinit(&p);
}

/* text_json - s as a JSON string, bytes that are not UTF-8 replaced */
static json_t *
text_json(const char *s)
{
	if (s == NULL)
		return json_string("");
	json_t *v = json_string(s);
	if (v == NULL) {
		char *c = xstrdup(s);
		for (char *p = c; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		v = json_string(c);
		free(c);
	}
	return v;
}

static void
messages_query(void *ctx, json_t *args, json_t **result_r, json_t **error_r)
{
	struct api_ctx *c = ctx;
	const char *ident = json_string_value(json_object_get(json_object_get(
	    args, "filter"), "mailbox"));
	struct dir_mailbox mb;
	struct store *st;
	struct store_folder *f;
	struct store_msg *msgs;
	size_t n;
	const char *err;

	if (!api_account_ok(args, error_r))
		return;
	if (ident == NULL) {
		*error_r = jmap_error_props("invalidArguments", "filter.mailbox "
		    "names the mailbox (name@postoffice)", "filter", NULL);
		return;
	}
	if (inbox_open(c, ident, &mb, &st, &f, error_r) < 0)
		return;
	if (store_msgs_load(f, &msgs, &n, &err) < 0) {
		store_folder_close(&f);
		store_close(&st);
		*error_r = jmap_error("serverFail", "%s", err);
		return;
	}
	json_t *list = json_array(), *ids = json_array();
	/* newest first: the highest UIDs */
	for (size_t k = 0; k < n && k < MESSAGES_SHOWN; k++) {
		const struct store_msg *m = &msgs[n - 1 - k];
		char *path = store_msg_path(f, m);
		struct summary s;
		summary_read(path, &s);
		free(path);
		char id[32];
		snprintf(id, sizeof(id), "%u", m->uid);
		json_array_append_new(ids, json_string(id));
		json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:o,s:I,s:I,"
		    "s:b}", "id", id, "from", text_json(s.from), "subject",
		    text_json(s.subject), "date", text_json(s.date), "received",
		    (json_int_t)m->internal_date, "size", (json_int_t)m->size,
		    "seen", (m->flags & STORE_SEEN) != 0));
		free(s.from);
		free(s.subject);
		free(s.date);
	}
	store_msgs_free(msgs, n);
	store_folder_close(&f);
	store_close(&st);
	*result_r = json_pack("{s:s,s:s,s:b,s:i,s:o,s:I,s:o}", "accountId",
	    API_ACCOUNT, "queryState", "0", "canCalculateChanges", 0,
	    "position", 0, "ids", ids, "total", (json_int_t)n, "list", list);
}

int
api_mailbox_forward_all(struct api_ctx *c, const char *ident, const char *to,
			int64_t *count_r, json_t **e)
{
	struct dir_mailbox mb;
	struct store *st;
	struct store_folder *f;
	struct store_msg *msgs;
	size_t n;
	const char *err;

	char *rcpt = address_normalize(to, &err);
	if (rcpt == NULL) {
		char b[300];
		snprintf(b, sizeof(b), "forwardAll.to: %s", err);
		*e = jmap_error_props("invalidProperties", b, "forwardAll", NULL);
		return -1;
	}
	if (inbox_open(c, ident, &mb, &st, &f, e) < 0) {
		free(rcpt);
		return -1;
	}
	if (store_msgs_load(f, &msgs, &n, &err) < 0) {
		*e = jmap_error("serverFail", "%s", err);
		store_folder_close(&f);
		store_close(&st);
		free(rcpt);
		return -1;
	}
	/* the envelope sender is the mailbox's first address, as its own
	 * mail client would send */
	struct dir_strings a = { 0 };
	(void)dir_mailbox_addresses(c->db, mb.id, &a, &err);
	char *qroot = settings_queue_path(c->db);
	char *q = queue_path(qroot, "smtp", QUEUE_INBOUND);
	free(qroot);
	int64_t done = 0;
	int r = 0;
	for (size_t k = 0; k < n && k < FORWARD_MAX && r == 0; k++) {
		struct queue_env env;
		char qid[QUEUE_ID_MAX + 1];
		queue_new_id(qid);
		queue_env_init(&env, qid);
		env.arrival = time(NULL);
		queue_env_set(&env.sender, a.n > 0 ? a.v[0] : "");
		queue_env_set(&env.auth_user, ident);
		queue_env_set(&env.origin, mb.postoffice);
		queue_env_add_rcpt(&env, rcpt, NULL, 0);
		char *path = store_msg_path(f, &msgs[k]);
		if (queue_put_file(q, path, &env, &err) < 0) {
			*e = jmap_error("serverFail", "forwarding stopped after %lld "
			    "messages: %s", (long long)done, err);
			r = -1;
		} else
			done++;
		free(path);
		queue_env_free(&env);
	}
	free(q);
	dir_strings_free(&a);
	store_msgs_free(msgs, n);
	store_folder_close(&f);
	store_close(&st);
	free(rcpt);
	*count_r = done;
	return r;
}

const struct jmap_method api_messages_methods[] = {
	{ "MailboxMessage/query", API_CAPABILITY, messages_query },
	{ NULL, NULL, NULL },
};
