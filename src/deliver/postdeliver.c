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

/* per process: the items being delivered (a batch of them, held until
 * their group commit: their events wait for it) */
struct post_item {
	char id[QUEUE_ID_MAX + 1];
	struct post_msg pm;
	struct pending_event *ev;
	size_t nev;
};
#define POST_ITEMS_MAX 512      /* above delivery.batch's limit (256) */
static struct post_item *items;
static size_t nitems;

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

static struct post_item *item_state(struct db *db, const char *id);

/* post_item_msg - the item's header record, filled by the caller's scan */
struct post_msg *
post_item_msg(struct db *db, const char *id)
{
	struct post_item *it = item_state(db, id);

	it->pm.read = true;
	return &it->pm;
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

/* item_state - what is remembered for item id, made when new (when
 * POST_ITEMS_MAX are held, the oldest is finished first: a caller that
 * never finishes its items) */
static struct post_item *
item_state(struct db *db, const char *id)
{
	for (size_t i = 0; i < nitems; i++)
		if (strcmp(items[i].id, id) == 0)
			return &items[i];
	if (nitems >= POST_ITEMS_MAX)
		post_item_finished(db, items[0].id);
	items = xreallocarray(items, nitems + 1, sizeof(*items));
	memset(&items[nitems], 0, sizeof(*items));
	snprintf(items[nitems].id, sizeof(items[nitems].id), "%s", id);
	return &items[nitems++];
}

/* event_remember - the mailbox's delivery event, run when the item is
 * finished */
static void
event_remember(struct db *db, struct post_item *it,
	       const struct queue_item *item, const struct dir_mailbox *mb,
	       const char *root, const char *file)
{
	char *on = NULL, *prog = NULL;
	const char *err = NULL;

	if (dir_object_field(db, "mailbox", mb->id, "delivery_event_enabled",
	    &on, &err) < 0 || on == NULL || strcmp(on, "1") != 0)
		goto out;
	if (dir_object_field(db, "mailbox", mb->id, "delivery_event_program",
	    &prog, &err) < 0 || prog == NULL || *str_trim(prog) == '\0')
		goto out;
	if (post_msg_is_bulk(&it->pm, &item->env) &&
	    settings_current(db)->delivery_event_on_bulk == 0) {
		log_info("%s: delivery event of %s@%s skipped: bulk or system "
		    "message (delivery.event_on_bulk is off)", item->id,
		    mb->name, mb->postoffice);
		goto out;
	}
	if (it->nev >= POST_EVENTS_MAX)
		goto out;
	it->ev = xreallocarray(it->ev, it->nev + 1, sizeof(*it->ev));
	it->ev[it->nev].program = xstrdup(str_trim(prog));
	it->ev[it->nev].root = xstrdup(root);
	it->ev[it->nev].file = xstrdup(file);
	it->nev++;
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
	struct post_item *it = item_state(db, item->id);

	if (!it->pm.read) {
		const char *err = NULL;
		it->pm.read = true;
		if (msghdr_scan_file(item->msg_path, on_field, &it->pm, &err) < 0)
			log_warn("%s: cannot read the header for the auto "
			    "responder", item->id);
	}
	/* a Sieve vacation action speaks for the mailbox: one auto reply */
	if (!no_autoreply)
		autoreply_consider(db, inbound, item, &it->pm, mb, address, root);
	usage_check(db, item->id, mb->postoffice_id);
	if (file != NULL)
		event_remember(db, it, item, mb, root, file);
}

/* post_item_finished - run the remembered delivery events */
void
post_item_finished(struct db *db, const char *id)
{
	size_t k;

	for (k = 0; k < nitems; k++)
		if (strcmp(items[k].id, id) == 0)
			break;
	if (k == nitems)
		return;
	struct post_item *it = &items[k];
	int64_t timeout = settings_current(db)->delivery_event_timeout;
	if (timeout < 1)
		timeout = 1;
	for (size_t i = 0; i < it->nev; i++) {
		struct pending_event *e = &it->ev[i];
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
	free(it->ev);
	post_msg_free(&it->pm);
	memmove(&items[k], &items[k + 1], (nitems - k - 1) * sizeof(*items));
	nitems--;
}
