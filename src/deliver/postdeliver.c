/* postdeliver - after a durable delivery: auto reply, usage notification,
 * delivery event (see postdeliver.h) */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msghdr.h"
#include "postdeliver.h"
#include "progevent.h"
#include "settings.h"
#include "strutil.h"
#include "xalloc.h"

#define POST_EVENTS_MAX 1000   /* delivery events remembered per item */
#define POST_FIELD_KEEP 998    /* bytes kept of one header value */

struct pending_event {
	char *program;
	char *root;
	char *file;
};

/* per process: the item being delivered */
static struct {
	char id[QUEUE_ID_MAX + 1];
	struct post_msg pm;
	struct pending_event *ev;
	size_t nev;
} cur;

static void
keep(char **dst, const char *v)
{
	if (*dst != NULL)
		return;   /* the first one counts */
	size_t n = strlen(v);
	if (n > POST_FIELD_KEEP)
		n = POST_FIELD_KEEP;
	*dst = xstrndup(v, n);
}

/* on_field - collect the fields the decisions need */
static void
on_field(void *ctx, const struct msghdr_field *f)
{
	struct post_msg *pm = ctx;
	if (str_eq_ci(f->name, "Subject"))
		keep(&pm->subject, f->value);
	else if (str_eq_ci(f->name, "Message-ID"))
		keep(&pm->message_id, f->value);
	else if (str_eq_ci(f->name, "References"))
		keep(&pm->references, f->value);
	else if (str_eq_ci(f->name, "Auto-Submitted"))
		keep(&pm->auto_submitted, f->value);
	else if (str_eq_ci(f->name, "Precedence"))
		keep(&pm->precedence, f->value);
	else if (str_eq_ci(f->name, "X-Auto-Response-Suppress"))
		keep(&pm->x_auto_response_suppress, f->value);
	else if (strncasecmp(f->name, "List-", 5) == 0)
		pm->list = true;
}

/* post_msg_field - one header field into pm */
void
post_msg_field(struct post_msg *pm, const struct msghdr_field *f)
{
	pm->read = true;
	on_field(pm, f);
}

static void cur_switch(struct db *db, const char *id);

/* post_item_msg - the item's header record, filled by the caller's scan */
struct post_msg *
post_item_msg(struct db *db, const char *id)
{
	cur_switch(db, id);
	cur.pm.read = true;
	return &cur.pm;
}

void
post_msg_free(struct post_msg *pm)
{
	free(pm->subject);
	free(pm->message_id);
	free(pm->references);
	free(pm->auto_submitted);
	free(pm->precedence);
	free(pm->x_auto_response_suppress);
	memset(pm, 0, sizeof(*pm));
}

/* first_token_is - whether the value's first word (before ';', blanks,
 * comments) equals word */
static bool
first_token_is(const char *v, const char *word)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strcspn(v, " \t;(");
	return n == strlen(word) && strncasecmp(v, word, n) == 0;
}

/* post_msg_is_bulk - RFC 3834 2 and manual 5.5.6 */
bool
post_msg_is_bulk(const struct post_msg *pm, const struct queue_env *env)
{
	if (env->bulk || env->sender == NULL || *env->sender == '\0')
		return true;
	if (pm->auto_submitted != NULL && !first_token_is(pm->auto_submitted, "no"))
		return true;
	if (pm->precedence != NULL && (first_token_is(pm->precedence, "bulk") ||
	    first_token_is(pm->precedence, "list") ||
	    first_token_is(pm->precedence, "junk")))
		return true;
	return pm->list;
}

/* event_file_path - the delivered file: in new/, or in cur/ under its
 * name with the flags a client added (new string, NULL if gone) */
static char *
event_file_path(const char *root, const char *file)
{
	char *p = xasprintf("%s/new/%s", root, file);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	char *dir = xasprintf("%s/cur", root);
	DIR *d = opendir(dir);
	size_t fl = strlen(file);
	p = NULL;
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (strncmp(e->d_name, file, fl) == 0 &&
			    (e->d_name[fl] == '\0' || e->d_name[fl] == ':')) {
				p = xasprintf("%s/%s", dir, e->d_name);
				break;
			}
		closedir(d);
	}
	free(dir);
	return p;
}

/* cur_switch - start remembering for item id */
static void
cur_switch(struct db *db, const char *id)
{
	if (strcmp(cur.id, id) == 0)
		return;
	post_item_finished(db, cur.id);
	snprintf(cur.id, sizeof(cur.id), "%s", id);
}

/* event_remember - the mailbox's delivery event, run when the item is
 * finished */
static void
event_remember(struct db *db, const struct queue_item *item,
	       const struct dir_mailbox *mb, const char *root, const char *file)
{
	char *on = NULL, *prog = NULL;
	const char *err = NULL;

	if (dir_object_field(db, "mailbox", mb->id, "delivery_event_enabled",
	    &on, &err) < 0 || on == NULL || strcmp(on, "1") != 0)
		goto out;
	if (dir_object_field(db, "mailbox", mb->id, "delivery_event_program",
	    &prog, &err) < 0 || prog == NULL || *str_trim(prog) == '\0')
		goto out;
	if (post_msg_is_bulk(&cur.pm, &item->env) &&
	    settings_get_int(db, "delivery.event_on_bulk", 0) == 0) {
		log_info("%s: delivery event of %s@%s skipped: bulk or system "
		    "message (delivery.event_on_bulk is off)", item->id,
		    mb->name, mb->postoffice);
		goto out;
	}
	if (cur.nev >= POST_EVENTS_MAX)
		goto out;
	cur.ev = xreallocarray(cur.ev, cur.nev + 1, sizeof(*cur.ev));
	cur.ev[cur.nev].program = xstrdup(str_trim(prog));
	cur.ev[cur.nev].root = xstrdup(root);
	cur.ev[cur.nev].file = xstrdup(file);
	cur.nev++;
out:
	free(on);
	free(prog);
}

/* post_delivered - the actions after one delivery */
void
post_delivered(struct db *db, const char *inbound,
	       const struct queue_item *item, const struct dir_mailbox *mb,
	       const char *address, const char *root, const char *file,
	       bool no_autoreply)
{
	cur_switch(db, item->id);
	if (!cur.pm.read) {
		const char *err = NULL;
		cur.pm.read = true;
		if (msghdr_scan_file(item->msg_path, on_field, &cur.pm, &err) < 0)
			log_warn("%s: cannot read the header for the auto "
			    "responder", item->id);
	}
	/* a Sieve vacation action speaks for the mailbox: one auto reply */
	if (!no_autoreply)
		autoreply_consider(db, inbound, item, &cur.pm, mb, address, root);
	usage_check(db, item->id, mb->postoffice_id);
	if (file != NULL)
		event_remember(db, item, mb, root, file);
}

/* post_item_finished - run the remembered delivery events */
void
post_item_finished(struct db *db, const char *id)
{
	if (cur.id[0] == '\0' || strcmp(cur.id, id) != 0)
		return;
	int64_t timeout = settings_get_int(db, "delivery.event_timeout", 30);
	if (timeout < 1)
		timeout = 1;
	for (size_t i = 0; i < cur.nev; i++) {
		struct pending_event *e = &cur.ev[i];
		char *path = event_file_path(e->root, e->file);
		if (path == NULL)
			log_warnx("%s: delivery event: %s was removed before the "
			    "event ran: not run", id, e->file);
		else
			progevent_run("delivery event", id, e->program, path,
			    "SF", (int)timeout);
		free(path);
		free(e->program);
		free(e->root);
		free(e->file);
	}
	free(cur.ev);
	cur.ev = NULL;
	cur.nev = 0;
	post_msg_free(&cur.pm);
	cur.id[0] = '\0';
}
