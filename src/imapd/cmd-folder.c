/* cmd-folder - CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "log.h"
#include "settings.h"
#include "view.h"
#include "xalloc.h"

/* folder_limit - whether one more folder would pass mailbox.max_folders;
 * if so the client has its NO [LIMIT] */
static bool
folder_limit(struct session *s, const char *tag)
{
	int64_t max = settings_current(s->d->svc->db)->mailbox_max_folders;
	const char *err;
	size_t n;

	if (store_folder_count(s->mbox->root, &n, &err) < 0) {
		log_warnx("%s: counting folders: %s", s->sid, err);
		session_tagged(s, tag, "NO", "[SERVERBUG] Cannot count the "
		    "folders (logged)");
		return true;
	}
	if ((int64_t)n < max)
		return false;
	log_info("%s: folder limit reached: %zu folders, mailbox.max_folders %"
	    PRId64, s->sid, n, max);
	session_tagged(s, tag, "NO", "[LIMIT] Too many folders: this mailbox "
	    "has %zu, at most %" PRId64 " are allowed (mailbox.max_folders)", n,
	    max);
	return true;
}

void
cmd_create(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n < 1 || n > 2) {
		session_tagged(s, tag, "BAD", "Syntax: CREATE mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s %s", strstr(err, "long") != NULL ?
		    "[LIMIT]" : "[CANNOT]", err);
		return;
	}
	size_t l = strlen(name);
	if (l > 1 && name[l - 1] == '.')
		name[l - 1] = '\0';  /* "foo." announces children to come */
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (store_folder_name_check(name, &err) < 0) {
		folder_refuse(s, tag, "CREATE", name, err);
		return;
	}
	if (store_folder_exists(s->mbox->st, name) == 1) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] Mailbox exists");
		return;
	}
	if (folder_limit(s, tag))
		return;
	if (store_folder_create(s->mbox->st, name, &err) < 0) {
		folder_refuse(s, tag, "CREATE", name, err);
		return;
	}
	/* RFC 8474 3.1: the new mailbox's id */
	struct store_folder *nf = store_folder_open(s->mbox->st, name, &err);
	if (nf != NULL) {
		session_tagged(s, tag, "OK", "[MAILBOXID (%s)] CREATE completed",
		    store_folder_mailboxid(nf));
		store_folder_close(&nf);
		return;
	}
	session_tagged(s, tag, "OK", "CREATE completed");
}

void
cmd_delete(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: DELETE mailbox");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, tag, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	if (store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (s->state == ST_SELECTED &&
	    strcmp(store_folder_name(s->folder), name) == 0)
		session_deselect(s);
	if (store_folder_delete(s->mbox->st, name, &err) < 0) {
		folder_refuse(s, tag, "DELETE", name, err);
		return;
	}
	session_tagged(s, tag, "OK", "DELETE completed");
}

void
cmd_rename(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	char from[STORE_FOLDER_MAX + 1], to[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 2) {
		session_tagged(s, tag, "BAD", "Syntax: RENAME from to");
		return;
	}
	if (mailbox_name(s, &a[0], from, sizeof(from), &err) == NULL ||
	    mailbox_name(s, &a[1], to, sizeof(to), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (store_folder_exists(s->mbox->st, from) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (store_folder_exists(s->mbox->st, to) == 1) {
		session_tagged(s, tag, "NO", "[ALREADYEXISTS] Target exists");
		return;
	}
	if (store_folder_name_check(to, &err) < 0) {
		folder_refuse(s, tag, "RENAME", to, err);
		return;
	}
	/* RENAME INBOX makes a new folder (RFC 3501 6.3.5) */
	if (strcmp(from, "INBOX") == 0 && folder_limit(s, tag))
		return;
	/* a selected INBOX stays selected: its messages leave it, which
	 * the next sync reports as expunges */
	if (s->state == ST_SELECTED && strcmp(from, "INBOX") != 0 &&
	    strcmp(store_folder_name(s->folder), from) == 0)
		session_deselect(s);
	if (store_folder_rename(s->mbox->st, from, to, &err) < 0) {
		folder_refuse(s, tag, "RENAME", from, err);
		return;
	}
	if (s->state == ST_SELECTED && strcmp(from, "INBOX") == 0 &&
	    strcmp(store_folder_name(s->folder), "INBOX") == 0)
		view_sync(s, true, NULL, 0);
	session_tagged(s, tag, "OK", "RENAME completed");
}

static void
subscribe(struct session *s, const char *tag, const struct imap_arg *a,
	  size_t n, bool on)
{
	char name[STORE_FOLDER_MAX + 1];
	const char *err;

	if (n != 1) {
		session_tagged(s, tag, "BAD", "Syntax: %s mailbox",
		    on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	if (mailbox_name(s, &a[0], name, sizeof(name), &err) == NULL) {
		session_tagged(s, tag, "NO", "%s", err);
		return;
	}
	if (on && store_folder_exists(s->mbox->st, name) != 1) {
		session_tagged(s, tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (store_folder_subscribe(s->mbox->st, name, on, &err) < 0) {
		folder_refuse(s, tag, on ? "SUBSCRIBE" : "UNSUBSCRIBE", name, err);
		return;
	}
	session_tagged(s, tag, "OK", "%s completed",
	    on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

void
cmd_subscribe(struct session *s, const char *tag, const struct imap_arg *a,
	      size_t n, bool uid)
{
	subscribe(s, tag, a, n, true);
}

void
cmd_unsubscribe(struct session *s, const char *tag, const struct imap_arg *a,
		size_t n, bool uid)
{
	subscribe(s, tag, a, n, false);
}
