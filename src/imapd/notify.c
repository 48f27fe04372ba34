/* notify - NOTIFY (RFC 5465): the events a client asked for, pushed as
 * they happen, from this process or any other (delivery, another imapd),
 * through the store's change notification (store_notify_*): each watched
 * folder's files and notify stamp, and the account (folders made,
 * deleted or renamed, every index commit: subscriptions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "fetch.h"
#include "imapd.h"
#include "log.h"
#include "notify.h"
#include "search.h"
#include "view.h"
#include "xalloc.h"

#define NE_NEW      0x01u   /* MessageNew */
#define NE_EXPUNGE  0x02u   /* MessageExpunge */
#define NE_FLAGS    0x04u   /* FlagChange */
#define NE_NAME     0x08u   /* MailboxName */
#define NE_SUB      0x10u   /* SubscriptionChange */
#define NE_MESSAGE  (NE_NEW | NE_EXPUNGE | NE_FLAGS)

#define NOTIFY_FILTERS_MAX 32    /* event groups in one NOTIFY SET */
#define NOTIFY_NAMES_MAX   100   /* mailboxes of one SUBTREE/MAILBOXES */
#define NOTIFY_WATCH_MAX   256   /* folders watched for message events */

enum filter_kind {
	NF_SELECTED, NF_SELECTED_DELAYED, NF_INBOXES, NF_PERSONAL,
	NF_SUBSCRIBED, NF_SUBTREE, NF_MAILBOXES,
};

struct notify_filter {
	enum filter_kind kind;
	char **names;             /* store names (SUBTREE, MAILBOXES) */
	size_t nnames;
	unsigned events;
	bool has_fetch;
	struct imap_fetch fetch;  /* MessageNew's attributes (selected) */
};

/* a folder other than the selected one, watched for message events */
struct notify_watch {
	struct notify_set *set;
	char *name;
	struct store_folder *f;
	int handle;
	unsigned events;
	struct store_folder_status st;   /* as last told */
};

struct notify_set {
	struct session *s;
	struct notify_filter *filters;
	size_t nfilters;
	struct notify_watch **w;
	size_t nw;
	int sel_handle;           /* the selected folder (SELECTED filters) */
	int acct_handle;          /* the account: names, subscriptions */
	struct store_folder_info *list;  /* the folders as last seen */
	size_t nlist;
	bool overflow;
};

static const char supported_events[] = "MessageNew MessageExpunge "
    "FlagChange MailboxName SubscriptionChange";

static void
filter_clear(struct notify_filter *f)
{
	for (size_t i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	if (f->has_fetch)
		imap_fetch_free(&f->fetch);
}

static void
watches_drop(struct notify_set *n)
{
	struct imapd *d = n->s->d;

	for (size_t i = 0; i < n->nw; i++) {
		struct notify_watch *w = n->w[i];
		if (w->handle > 0 && d->notify != NULL)
			store_notify_unwatch(d->notify, w->handle);
		store_folder_close(&w->f);
		free(w->name);
		free(w);
	}
	xfree(&n->w);
	n->nw = 0;
	if (n->sel_handle > 0 && d->notify != NULL)
		store_notify_unwatch(d->notify, n->sel_handle);
	n->sel_handle = 0;
}

/* notify_free - see notify.h */
void
notify_free(struct session *s)
{
	struct notify_set *n = s->notify;

	if (n == NULL)
		return;
	watches_drop(n);
	if (n->acct_handle > 0 && s->d->notify != NULL)
		store_notify_unwatch(s->d->notify, n->acct_handle);
	for (size_t i = 0; i < n->nfilters; i++)
		filter_clear(&n->filters[i]);
	free(n->filters);
	if (n->list != NULL)
		store_folder_list_free(n->list, n->nlist);
	free(n);
	s->notify = NULL;
}

static bool
name_under(const char *name, const char *top)
{
	size_t l = strlen(top);

	return strncmp(name, top, l) == 0 && (name[l] == '\0' || name[l] == '.');
}

static bool
subscribed_in(const struct notify_set *n, const char *name)
{
	for (size_t i = 0; i < n->nlist; i++)
		if (strcmp(n->list[i].name, name) == 0)
			return n->list[i].subscribed;
	return false;
}

/* filter_of - the filter that governs events of the folder name: for the
 * selected folder its SELECTED filter, for any other the first filter
 * that names it (RFC 5465 6); NULL for none */
static const struct notify_filter *
filter_of(const struct notify_set *n, const char *name)
{
	const struct session *s = n->s;
	bool selected = s->folder != NULL &&
	    strcmp(store_folder_name(s->folder), name) == 0;

	for (size_t i = 0; i < n->nfilters; i++) {
		const struct notify_filter *f = &n->filters[i];
		switch (f->kind) {
		case NF_SELECTED:
		case NF_SELECTED_DELAYED:
			if (selected)
				return f;
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < n->nfilters; i++) {
		const struct notify_filter *f = &n->filters[i];
		switch (f->kind) {
		case NF_SELECTED:
		case NF_SELECTED_DELAYED:
			break;
		case NF_INBOXES:
			if (strcmp(name, "INBOX") == 0)
				return f;
			break;
		case NF_PERSONAL:
			return f;
		case NF_SUBSCRIBED:
			if (subscribed_in(n, name))
				return f;
			break;
		case NF_SUBTREE:
		case NF_MAILBOXES:
			for (size_t k = 0; k < f->nnames; k++)
				if (f->kind == NF_SUBTREE ?
				    name_under(name, f->names[k]) :
				    strcmp(name, f->names[k]) == 0)
					return f;
			break;
		}
	}
	return NULL;
}

/* status_line - "* STATUS name (...)" with the items the events call for
 * (RFC 5465 5.1-5.3: MESSAGES for new and expunged messages, UIDNEXT and
 * UIDVALIDITY for new ones, HIGHESTMODSEQ for flag changes) */
static void
status_line(struct session *s, const char *name, unsigned ev,
	    const struct store_folder_status *st)
{
	struct buf b;
	size_t mark;

	buf_init(&b, 0);
	buf_puts(&b, "* STATUS ");
	quote_name(s, &b, name);
	buf_puts(&b, " (");
	mark = b.len;
#define ITEM(...) do { if (b.len > mark) buf_putc(&b, ' '); \
	buf_printf(&b, __VA_ARGS__); } while (0)
	if (ev & (NE_NEW | NE_EXPUNGE))
		ITEM("MESSAGES %u", st->messages);
	if (ev & NE_NEW)
		ITEM("UIDNEXT %u", st->uidnext);
	if (ev & (NE_NEW | NE_FLAGS))
		ITEM("UIDVALIDITY %u", st->uidvalidity);
	if (ev & NE_FLAGS)
		ITEM("HIGHESTMODSEQ %llu",
		    (unsigned long long)st->highestmodseq);
#undef ITEM
	buf_puts(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

static int
folder_status(struct store_folder *f, struct store_folder_status *st,
	      const char **error_r)
{
	if (store_sync(f, error_r) < 0)
		return -1;
	return store_folder_status(f, st, error_r);
}

/* overflow - more than we can tell (the client does not read, or too
 * many folders): say so, and stop (RFC 5465 5.8: as NOTIFY NONE) */
static void
overflow(struct session *s)
{
	session_printf(s, "* OK [NOTIFICATIONOVERFLOW] Too many notifications; "
	    "NOTIFY is off\r\n");
	s->notify->overflow = true;
}

static bool
output_full(const struct session *s)
{
	return s->bev != NULL && evbuffer_get_length(
	    bufferevent_get_output(s->bev)) > SESSION_OUTPUT_HIGH;
}

/* on_folder - a watched folder changed: its new STATUS, for the events
 * the client asked for */
static void
on_folder(void *ctx)
{
	struct notify_watch *w = ctx;
	struct session *s = w->set->s;
	struct store_folder_status st;
	const char *err;
	unsigned ev = 0;

	if (s->notify == NULL || s->notify->overflow || s->in == IN_CLOSING)
		return;
	if (folder_status(w->f, &st, &err) < 0) {
		log_warnx("%s: notify %s: %s", s->sid, w->name, err);
		return;
	}
	if (st.uidvalidity != w->st.uidvalidity)
		ev = w->events & NE_MESSAGE;
	if (st.uidnext != w->st.uidnext)
		ev |= w->events & NE_NEW;
	if (st.messages != w->st.messages)
		ev |= w->events & (NE_NEW | NE_EXPUNGE);
	if (st.highestmodseq != w->st.highestmodseq &&
	    st.uidnext == w->st.uidnext && st.messages == w->st.messages)
		ev |= w->events & NE_FLAGS;
	w->st = st;
	if (ev == 0)
		return;
	if (output_full(s)) {
		session_hold(s);
		overflow(s);
		notify_free(s);
		(void)session_release(s);
		return;
	}
	status_line(s, w->name, ev, &st);
}

/* command_running - a command is being answered: the selected folder's
 * changes wait for its end (it reports them itself, RFC 5465 5.2 keeps
 * the rules of RFC 3501 7) */
static bool
command_running(const struct session *s)
{
	return s->in != IN_CMD || s->job != NULL || s->wjob != NULL ||
	    s->sjob != NULL || imap_parser_busy(&s->parser) ||
	    (s->c != NULL && s->c->in_auth);
}

/* on_selected - the selected folder changed: with SELECTED its changes
 * are told at once, expunges too; with SELECTED-DELAYED expunges wait
 * for a command that allows them. MessageNew's attributes follow the
 * EXISTS. */
static void
on_selected(void *ctx)
{
	struct session *s = ctx;
	struct notify_set *n = s->notify;

	if (n == NULL || n->overflow || s->folder == NULL ||
	    command_running(s))
		return;   /* IDLE (its own watch) or a command reports them */
	const struct notify_filter *f = filter_of(n, store_folder_name(s->folder));
	if (f == NULL || (f->events & NE_MESSAGE) == 0)
		return;
	if (output_full(s)) {
		session_hold(s);
		overflow(s);
		notify_free(s);
		(void)session_release(s);
		return;
	}
	session_hold(s);
	uint32_t last = s->nmsgs ? s->msgs[s->nmsgs - 1].uid : 0;
	view_sync(s, f->kind == NF_SELECTED, NULL, 0);
	search_ctx_refresh(s);
	if (f->has_fetch && s->in == IN_CMD) {
		struct buf out;
		buf_init(&out, 0);
		for (size_t i = 0; i < s->nmsgs; i++) {
			if (s->msgs[i].uid <= last || s->msgs[i].gone)
				continue;
			buf_reset(&out);
			if (fetch_message(s, i, &f->fetch, &out) == 0)
				session_write(s, out.data, out.len);
		}
		buf_free(&out);
	}
	(void)session_release(s);
}

/* list_line - "* LIST (attrs) "." name [("OLDNAME" (old))]" */
static void
list_line(struct session *s, const char *attrs, const char *name,
	  const char *oldname)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "* LIST (%s) \".\" ", attrs);
	quote_name(s, &b, name);
	if (oldname != NULL) {
		buf_puts(&b, " (\"OLDNAME\" (");
		quote_name(s, &b, oldname);
		buf_puts(&b, "))");
	}
	buf_puts(&b, "\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

static const struct store_folder_info *
info_find(const struct store_folder_info *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static const struct store_folder_info *
info_by_id(const struct store_folder_info *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n && *id != '\0'; i++)
		if (strcmp(v[i].mailboxid, id) == 0)
			return &v[i];
	return NULL;
}

static bool
wants(const struct notify_set *n, const char *name, unsigned ev)
{
	const struct notify_filter *f = filter_of(n, name);

	return f != NULL && (f->events & ev) != 0;
}

/* names_diff - tell MailboxName and SubscriptionChange events between
 * the folder list as last seen (n->list) and now (v) */
static void
names_diff(struct notify_set *n, const struct store_folder_info *v,
	   size_t nv)
{
	struct session *s = n->s;

	for (size_t i = 0; i < n->nlist; i++) {
		const struct store_folder_info *o = &n->list[i];
		if (info_find(v, nv, o->name) != NULL)
			continue;
		const struct store_folder_info *r = info_by_id(v, nv,
		    o->mailboxid);
		if (r != NULL && info_find(n->list, n->nlist, r->name) == NULL) {
			if (wants(n, r->name, NE_NAME) ||
			    wants(n, o->name, NE_NAME))
				list_line(s, "", r->name, o->name);
		} else if (wants(n, o->name, NE_NAME)) {
			list_line(s, "\\NonExistent", o->name, NULL);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		const struct store_folder_info *o = info_find(n->list, n->nlist,
		    v[i].name);
		if (o == NULL) {
			const struct store_folder_info *r = info_by_id(n->list,
			    n->nlist, v[i].mailboxid);
			bool renamed = r != NULL &&
			    info_find(v, nv, r->name) == NULL;
			if (!renamed && wants(n, v[i].name, NE_NAME))
				list_line(s, v[i].subscribed ? "\\Subscribed" :
				    "", v[i].name, NULL);
		} else if (o->subscribed != v[i].subscribed &&
		    wants(n, v[i].name, NE_SUB)) {
			list_line(s, v[i].subscribed ? "\\Subscribed" : "",
			    v[i].name, NULL);
		}
	}
}

static int watches_build(struct notify_set *n, const char **error_r);

/* on_account - folders or the index changed: names and subscriptions
 * told, then the watches follow the new folder set */
static void
on_account(void *ctx)
{
	struct session *s = ctx;
	struct notify_set *n = s->notify;
	struct store_folder_info *v;
	size_t nv;
	const char *err;

	if (n == NULL || n->overflow || s->in == IN_CLOSING)
		return;
	if (store_folder_list(s->mbox->st, &v, &nv, &err) < 0) {
		log_warnx("%s: notify: %s", s->sid, err);
		return;
	}
	bool same = nv == n->nlist;
	for (size_t i = 0; i < nv && same; i++)
		same = strcmp(v[i].name, n->list[i].name) == 0 &&
		    v[i].subscribed == n->list[i].subscribed;
	if (same) {
		store_folder_list_free(v, nv);
		return;
	}
	session_hold(s);
	if (output_full(s)) {
		store_folder_list_free(v, nv);
		overflow(s);
		notify_free(s);
		(void)session_release(s);
		return;
	}
	names_diff(n, v, nv);
	store_folder_list_free(n->list, n->nlist);
	n->list = v;
	n->nlist = nv;
	if (watches_build(n, &err) < 0) {
		log_warnx("%s: notify: %s", s->sid, err);
		overflow(s);
		notify_free(s);
	}
	(void)session_release(s);
}

/* watches_build - watch the selected folder (SELECTED filters) and every
 * other folder a filter asks message events of. Folders watched before
 * keep their last STATUS (nothing is told twice). -1: too many folders */
static int
watches_build(struct notify_set *n, const char **error_r)
{
	struct session *s = n->s;
	struct imapd *d = s->d;
	struct notify_watch **old = n->w;
	size_t nold = n->nw;

	n->w = NULL;
	n->nw = 0;
	if (n->sel_handle > 0 && d->notify != NULL)
		store_notify_unwatch(d->notify, n->sel_handle);
	n->sel_handle = 0;
	const char *sel = s->folder != NULL ? store_folder_name(s->folder) : NULL;
	if (sel != NULL && d->notify != NULL) {
		const struct notify_filter *f = filter_of(n, sel);
		if (f != NULL && (f->kind == NF_SELECTED ||
		    f->kind == NF_SELECTED_DELAYED) && (f->events & NE_MESSAGE)) {
			n->sel_handle = store_notify_watch(d->notify, s->folder,
			    on_selected, s, error_r);
			if (n->sel_handle < 0)
				n->sel_handle = 0;
		}
	}
	int rc = 0;
	for (size_t i = 0; i < n->nlist && rc == 0; i++) {
		const char *name = n->list[i].name;
		if (sel != NULL && strcmp(name, sel) == 0)
			continue;
		const struct notify_filter *f = filter_of(n, name);
		if (f == NULL || (f->events & NE_MESSAGE) == 0)
			continue;
		struct notify_watch *w = NULL;
		for (size_t k = 0; k < nold; k++)
			if (old[k] != NULL && strcmp(old[k]->name, name) == 0) {
				w = old[k];
				old[k] = NULL;
				break;
			}
		if (w == NULL) {
			const char *err;
			if (n->nw >= NOTIFY_WATCH_MAX) {
				*error_r = "NOTIFY watches at most 256 mailboxes";
				rc = -1;
				break;
			}
			w = xcalloc(1, sizeof(*w));
			w->set = n;
			w->name = xstrdup(name);
			w->f = store_folder_open(s->mbox->st, name, &err);
			if (w->f == NULL || folder_status(w->f, &w->st, &err) < 0) {
				store_folder_close(&w->f);
				free(w->name);
				free(w);
				continue;   /* gone meanwhile */
			}
			if (d->notify != NULL)
				w->handle = store_notify_watch(d->notify, w->f,
				    on_folder, w, &err);
		}
		w->events = f->events & NE_MESSAGE;
		n->w = xreallocarray(n->w, n->nw + 1, sizeof(*n->w));
		n->w[n->nw++] = w;
	}
	for (size_t k = 0; k < nold; k++) {
		struct notify_watch *w = old[k];
		if (w == NULL)
			continue;
		if (w->handle > 0 && d->notify != NULL)
			store_notify_unwatch(d->notify, w->handle);
		store_folder_close(&w->f);
		free(w->name);
		free(w);
	}
	free(old);
	return rc;
}

/* notify_reselect - see notify.h */
void
notify_reselect(struct session *s)
{
	const char *err;

	if (s->notify == NULL)
		return;
	if (watches_build(s->notify, &err) < 0) {
		overflow(s);
		notify_free(s);
	}
}

/* ---- the command ---------------------------------------------------- */

static int
event_bit(const char *name)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ev[] = {
		{ "MessageNew", NE_NEW }, { "MessageExpunge", NE_EXPUNGE },
		{ "FlagChange", NE_FLAGS }, { "MailboxName", NE_NAME },
		{ "SubscriptionChange", NE_SUB },
	};

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (strcasecmp(name, ev[i].name) == 0)
			return (int)ev[i].bit;
	return 0;
}

/* parse_group - one "(filter events)"; 0, -1 BAD, -2 NO [BADEVENT] */
static int
parse_group(struct session *s, const struct imap_arg *g,
	    struct notify_filter *f, const char **error_r)
{
	static const char *const kinds[] = { "SELECTED", "SELECTED-DELAYED",
	    "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES" };
	size_t k, at = 1;

	memset(f, 0, sizeof(*f));
	*error_r = "Syntax: NOTIFY SET [STATUS] (filter events) ...";
	if (g->type != IMAP_ARG_LIST || g->count < 2 ||
	    g->list[0].type != IMAP_ARG_ATOM)
		return -1;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcasecmp(g->list[0].str, kinds[k]) == 0)
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0])) {
		*error_r = "Unknown NOTIFY mailbox filter";
		return -1;
	}
	f->kind = (enum filter_kind)k;
	if (f->kind == NF_SUBTREE || f->kind == NF_MAILBOXES) {
		const struct imap_arg *m = &g->list[1];
		const struct imap_arg *one = m->type == IMAP_ARG_LIST ?
		    m->list : m;
		size_t cnt = m->type == IMAP_ARG_LIST ? m->count : 1;
		if (g->count != 3 || cnt == 0 || cnt > NOTIFY_NAMES_MAX) {
			*error_r = "SUBTREE and MAILBOXES take 1 to 100 mailboxes";
			return -1;
		}
		f->names = xcalloc(cnt, sizeof(*f->names));
		for (size_t i = 0; i < cnt; i++) {
			char name[STORE_FOLDER_MAX + 1];
			if (mailbox_name(s, &one[i], name, sizeof(name),
			    error_r) == NULL)
				return -1;
			f->names[f->nnames++] = xstrdup(name);
		}
		at = 2;
	}
	if (g->count != at + 1)
		return -1;
	const struct imap_arg *e = &g->list[at];
	if (imap_arg_is_atom(e, "NONE"))
		return 0;
	if (e->type != IMAP_ARG_LIST || e->count == 0)
		return -1;
	bool selected = f->kind == NF_SELECTED || f->kind == NF_SELECTED_DELAYED;
	for (size_t i = 0; i < e->count; i++) {
		const struct imap_arg *a = &e->list[i];
		if (a->type != IMAP_ARG_ATOM)
			return -1;
		int bit = event_bit(a->str);
		if (bit == 0) {
			/* AnnotationChange, the METADATA events (no METADATA
			 * here) and any extension: RFC 5465 5.9 */
			*error_r = "Unsupported NOTIFY event";
			return -2;
		}
		f->events |= (unsigned)bit;
		if (bit == NE_NEW && i + 1 < e->count &&
		    e->list[i + 1].type == IMAP_ARG_LIST) {
			if (!selected) {
				*error_r = "MessageNew attributes are for the "
				    "selected mailbox only";
				return -1;
			}
			if (imap_fetch_parse(&e->list[++i], &f->fetch,
			    error_r) < 0)
				return -1;
			f->has_fetch = true;
		}
	}
	/* RFC 5465 5.2: sequence numbers stay right only if the client
	 * hears of new and expunged messages together */
	if (selected && (f->events & (NE_NEW | NE_EXPUNGE)) != 0 &&
	    (f->events & (NE_NEW | NE_EXPUNGE)) != (NE_NEW | NE_EXPUNGE)) {
		*error_r = "MessageNew and MessageExpunge go together for the "
		    "selected mailbox";
		return -1;
	}
	if (selected && (f->events & NE_FLAGS) &&
	    (f->events & (NE_NEW | NE_EXPUNGE)) == 0) {
		*error_r = "FlagChange needs MessageNew and MessageExpunge for "
		    "the selected mailbox";
		return -1;
	}
	return 0;
}

void
cmd_notify(struct session *s, const char *tag, const struct imap_arg *a,
	   size_t n, bool uid)
{
	const char *err;

	if (n == 1 && imap_arg_is_atom(&a[0], "NONE")) {
		notify_free(s);
		session_tagged(s, tag, "OK", "NOTIFY completed");
		return;
	}
	if (n < 2 || !imap_arg_is_atom(&a[0], "SET")) {
		session_tagged(s, tag, "BAD", "Syntax: NOTIFY NONE | NOTIFY SET "
		    "[STATUS] (filter events) ...");
		return;
	}
	size_t at = 1;
	bool status = false;
	if (imap_arg_is_atom(&a[1], "STATUS")) {
		status = true;
		at = 2;
	}
	if (at >= n || n - at > NOTIFY_FILTERS_MAX) {
		session_tagged(s, tag, "BAD", "NOTIFY SET takes 1 to %d event "
		    "groups", NOTIFY_FILTERS_MAX);
		return;
	}
	struct notify_set *set = xcalloc(1, sizeof(*set));
	set->s = s;
	set->filters = xcalloc(n - at, sizeof(*set->filters));
	for (size_t i = at; i < n; i++) {
		int r = parse_group(s, &a[i], &set->filters[set->nfilters], &err);
		set->nfilters++;
		if (r < 0) {
			struct notify_set *keep = s->notify;
			s->notify = set;
			notify_free(s);
			s->notify = keep;   /* a failed NOTIFY changes nothing */
			if (r == -2)
				session_tagged(s, tag, "NO", "[BADEVENT (%s)] %s",
				    supported_events, err);
			else
				session_tagged(s, tag, "BAD", "%s", err);
			return;
		}
	}
	notify_free(s);
	s->notify = set;
	if (store_folder_list(s->mbox->st, &set->list, &set->nlist, &err) < 0 ||
	    watches_build(set, &err) < 0) {
		notify_free(s);
		session_tagged(s, tag, "NO", "[LIMIT] %s", err);
		return;
	}
	bool names = false;
	for (size_t i = 0; i < set->nfilters; i++)
		if (set->filters[i].kind != NF_SELECTED &&
		    set->filters[i].kind != NF_SELECTED_DELAYED)
			names = true;
	if (s->d->notify != NULL && names) {
		set->acct_handle = store_notify_watch_account(s->d->notify,
		    s->mbox->st, on_account, s, &err);
		if (set->acct_handle < 0) {
			log_warnx("%s: notify: %s", s->sid, err);
			set->acct_handle = 0;
		}
	}
	if (status)
		for (size_t i = 0; i < set->nw; i++)
			status_line(s, set->w[i]->name, set->w[i]->events,
			    &set->w[i]->st);
	session_tagged(s, tag, "OK", "NOTIFY completed");
}
