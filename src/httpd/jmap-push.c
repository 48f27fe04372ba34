/* jmap-push - JMAP EventSource push on httpd streams (jmap-push.h) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "jmap-mail.h"
#include "jmap-push.h"
#include "log.h"
#include "xalloc.h"

#define PUSH_WATCHES_MAX 1024      /* folders watched per account */

struct push_client;

struct push_acct {
	struct push_acct *next;
	int64_t mailbox_id, quota_kb;
	char account_id[32];
	char *root;
	int *wds;                    /* wds[0]: the root (-1: none) */
	size_t nwds;
	json_t *dirs;                /* the new/ directories watched */
	json_t *states;              /* the newest known */
	struct push_client *clients;
	unsigned nclients;
	struct event *timer;         /* the coalescing delay */
	bool checking, dirty;
};

struct push_client {
	struct push_client *next;
	struct push_acct *a;
	struct httpd_stream *s;
	char *types;                 /* NULL: every type */
	bool closeafter;
	int ping;
	struct event *ping_ev;
	json_t *sent;                /* the (filtered) states last sent */
};

struct push_check {
	struct httpd_job job;        /* first */
	struct push_acct *a;
	int64_t mailbox_id, quota_kb;
	char account_id[32];
	char *root;
	json_t *states;              /* result, NULL on error */
	json_t *dirs;                /* folder directories to watch */
	char error[160];
};

static struct {
	struct event_base *base;
	int fd;                      /* the inotify instance, -1 */
	struct event *ev;
	struct push_acct *accts;
} push = { .fd = -1 };

static void acct_kick(struct push_acct *a);

/* ------------------------------------------------------------- events */

json_t *
jmap_push_filter(json_t *states, const char *types)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;

	json_object_foreach(states, k, v) {
		bool want = types == NULL || strcmp(types, "*") == 0;
		size_t kl = strlen(k);
		for (const char *p = types; !want && p != NULL && *p != '\0'; ) {
			size_t n = strcspn(p, ",");
			want = n == kl && strncmp(p, k, n) == 0;
			p += n;
			if (*p == ',')
				p++;
		}
		if (want)
			json_object_set(out, k, v);
	}
	return out;
}

void
jmap_push_event(const char *account_id, json_t *states, struct buf *out,
		char id_r[24])
{
	json_t *ev = json_pack("{s:s,s:{s:O}}", "@type", "StateChange",
	    "changed", account_id, states);
	char *data = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ULL;

	/* the id is a digest of the states: a client reconnecting with
	 * Last-Event-ID tells which states it saw last */
	for (const char *p = data; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(id_r, 24, "S%016llx", (unsigned long long)h);
	buf_printf(out, "id: %s\nevent: state\ndata: %s\n\n", id_r, data);
	free(data);
	json_decref(ev);
}

/* client_send - a StateChange when the client's types changed; with
 * closeafter=state the stream ends after it */
static void
client_send(struct push_client *c, json_t *states)
{
	json_t *f = jmap_push_filter(states, c->types);

	if (json_object_size(f) == 0 || (c->sent != NULL &&
	    json_equal(f, c->sent))) {
		json_decref(f);
		return;
	}
	struct buf out;
	char id[24];
	buf_init(&out, 0);
	jmap_push_event(c->a->account_id, f, &out, id);
	json_decref(c->sent);
	c->sent = f;
	int r = httpd_stream_write(c->s, out.data, out.len);
	buf_free(&out);
	if (r == 0 && c->closeafter)
		httpd_stream_end(c->s);
}

static void
on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct push_client *c = arg;
	char text[64];

	(void)fd;
	(void)what;
	int n = snprintf(text, sizeof(text), "event: ping\ndata: "
	    "{\"interval\":%d}\n\n", c->ping);
	(void)httpd_stream_write(c->s, text, (size_t)n);
}

/* ------------------------------------------------------------ watches */

static void
acct_unwatch(struct push_acct *a)
{
	for (size_t i = 0; i < a->nwds; i++) {
		if (a->wds[i] < 0)
			continue;
		/* another account never shares a directory (roots differ),
		 * but a folder removed and made again may reuse a wd */
		bool shared = false;
		for (struct push_acct *b = push.accts; b != NULL && !shared;
		    b = b->next)
			for (size_t k = 0; b != a && k < b->nwds; k++)
				shared |= b->wds[k] == a->wds[i];
		if (!shared && push.fd >= 0)
			inotify_rm_watch(push.fd, a->wds[i]);
	}
	free(a->wds);
	a->wds = NULL;
	a->nwds = 0;
}

/* acct_watch - watch the root (the index, its log, folders made or
 * removed) and each folder's new/ (deliveries) */
static void
acct_watch(struct push_acct *a, json_t *dirs)
{
	size_t i;
	json_t *d;

	if (push.fd < 0 || (a->dirs != NULL && json_equal(a->dirs, dirs)))
		return;
	acct_unwatch(a);
	json_decref(a->dirs);
	a->dirs = json_incref(dirs);
	a->wds = xcalloc(json_array_size(dirs) + 1, sizeof(*a->wds));
	/* wds[0] is the root's (-1: none) */
	a->wds[a->nwds++] = inotify_add_watch(push.fd, a->root, IN_MODIFY |
	    IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
	int wd;
	json_array_foreach(dirs, i, d) {
		wd = inotify_add_watch(push.fd, json_string_value(d), IN_CREATE |
		    IN_MOVED_TO);
		if (wd >= 0)
			a->wds[a->nwds++] = wd;
	}
}

/* root_event - whether an event in the mailbox root tells of a change:
 * a write of the index (its write-ahead log, or the file itself when
 * checkpointed) or a folder made, removed or renamed. Not the log's
 * creation and removal, the shared-memory file or postern-notify: every
 * open and close of the store, the checks' own included, makes those. */
static bool
root_event(const struct inotify_event *ev)
{
	if (ev->len == 0)
		return false;
	if (ev->mask & IN_MODIFY)
		return strcmp(ev->name, "postern-index.db-wal") == 0 ||
		    strcmp(ev->name, "postern-index.db") == 0;
	if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM))
		return ev->name[0] == '.' && (ev->mask & IN_ISDIR);
	return false;
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	char b[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	(void)what;
	(void)arg;
	for (int rounds = 0; rounds < 64; rounds++) {
		len = read(fd, b, sizeof(b));
		if (len <= 0)
			break;
		for (char *p = b; p < b + len; ) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (struct push_acct *a = push.accts; a != NULL; a = a->next)
				for (size_t i = 0; i < a->nwds; i++)
					if ((a->wds[i] == ev->wd && (i > 0 ||
					    root_event(ev))) || (ev->mask & IN_Q_OVERFLOW))
						acct_kick(a);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* push_init - the inotify instance, once; without one push still sends
 * the first event and pings (logged) */
static void
push_init(struct service *svc)
{
	if (push.base != NULL)
		return;
	push.base = svc->base;
	push.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (push.fd < 0) {
		log_warn("jmap push: inotify");
		return;
	}
	push.ev = event_new(push.base, push.fd, EV_READ | EV_PERSIST, on_inotify,
	    NULL);
	event_add(push.ev, NULL);
}

/* -------------------------------------------------------------- checks */

/* folder_dirs - the new/ directories of the root's folders (Maildir++:
 * the root is INBOX, ".Name" the others) */
static json_t *
folder_dirs(const char *root)
{
	json_t *dirs = json_array();
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(root);

	snprintf(path, sizeof(path), "%s/new", root);
	json_array_append_new(dirs, json_string(path));
	if (d == NULL)
		return dirs;
	while ((de = readdir(d)) != NULL &&
	    json_array_size(dirs) < PUSH_WATCHES_MAX) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/new", root, de->d_name);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			json_array_append_new(dirs, json_string(path));
	}
	closedir(d);
	return dirs;
}

static void
check_run(struct httpd_job *hj, struct db *db)
{
	struct push_check *k = (struct push_check *)hj;
	struct jmap_mail_ctx c = { .db = db, .mailbox_id = k->mailbox_id,
	    .quota_kb = k->quota_kb, .root = k->root };

	snprintf(c.account_id, sizeof(c.account_id), "%s", k->account_id);
	k->states = jmap_mail_states(&c);
	if (k->states == NULL)
		snprintf(k->error, sizeof(k->error), "%s", c.store_error != NULL ?
		    c.store_error : "the store failed");
	jmap_mail_ctx_free(&c);
	k->dirs = folder_dirs(k->root);
}

static void acct_free(struct push_acct *a);

static void
check_done(struct httpd_job *hj)
{
	struct push_check *k = (struct push_check *)hj;
	struct push_acct *a = k->a;

	k->a = NULL;       /* handled here, not in check_free */
	a->checking = false;
	if (a->nclients == 0) {
		acct_free(a);
		return;
	}
	if (k->states == NULL)
		log_warnx("jmap push %s: %s", a->account_id, k->error);
	else {
		acct_watch(a, k->dirs);
		json_decref(a->states);
		a->states = json_incref(k->states);
		/* client_send may end a stream: its closed() runs later,
		 * from the connection's teardown, never in this walk */
		for (struct push_client *c = a->clients; c != NULL; c = c->next)
			client_send(c, a->states);
	}
	if (a->dirty) {
		a->dirty = false;
		acct_kick(a);
	}
}

static void
check_free(struct httpd_job *hj)
{
	struct push_check *k = (struct push_check *)hj;

	if (k->a != NULL) {
		/* skipped (the service stops): the account goes with it */
		k->a->checking = false;
		if (k->a->nclients == 0)
			acct_free(k->a);
	}
	http_response_free(&k->job.resp);
	json_decref(k->states);
	json_decref(k->dirs);
	free(k->root);
	free(k);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct push_acct *a = arg;
	struct push_check *k = xcalloc(1, sizeof(*k));

	(void)fd;
	(void)what;
	k->job.run = check_run;
	k->job.done = check_done;
	k->job.free = check_free;
	k->a = a;
	k->mailbox_id = a->mailbox_id;
	k->quota_kb = a->quota_kb;
	snprintf(k->account_id, sizeof(k->account_id), "%s", a->account_id);
	k->root = xstrdup(a->root);
	a->checking = true;
	httpd_background(&k->job);
}

/* acct_kick - something changed: one check soon, or one more after the
 * running one */
static void
acct_kick(struct push_acct *a)
{
	struct timeval tv = { 0, JMAP_PUSH_DELAY_MS * 1000 };

	if (a->checking) {
		a->dirty = true;
		return;
	}
	if (!evtimer_pending(a->timer, NULL))
		evtimer_add(a->timer, &tv);
}

/* ----------------------------------------------------------- accounts */

static void
acct_free(struct push_acct *a)
{
	if (a->checking)
		return;      /* check_done frees it */
	for (struct push_acct **pp = &push.accts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	acct_unwatch(a);
	event_free(a->timer);
	json_decref(a->states);
	json_decref(a->dirs);
	free(a->root);
	free(a);
}

static void
client_closed(void *ctx)
{
	struct push_client *c = ctx;
	struct push_acct *a = c->a;

	for (struct push_client **pp = &a->clients; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	a->nclients--;
	if (c->ping_ev != NULL)
		event_free(c->ping_ev);
	json_decref(c->sent);
	free(c->types);
	free(c);
	if (a->nclients == 0)
		acct_free(a);
}

static struct push_acct *
acct_get(const struct jmap_push_req *r, bool *full_r)
{
	struct push_acct *a;

	*full_r = false;
	for (a = push.accts; a != NULL; a = a->next)
		if (a->mailbox_id == r->mailbox_id && strcmp(a->root, r->root) == 0) {
			*full_r = a->nclients >= JMAP_PUSH_PER_ACCOUNT;
			return a;
		}
	a = xcalloc(1, sizeof(*a));
	a->mailbox_id = r->mailbox_id;
	a->quota_kb = r->quota_kb;
	snprintf(a->account_id, sizeof(a->account_id), "%s", r->account_id);
	a->root = xstrdup(r->root);
	a->states = json_incref(r->states);
	a->timer = evtimer_new(push.base, on_delay, a);
	a->next = push.accts;
	push.accts = a;
	json_t *dirs = folder_dirs(a->root);
	acct_watch(a, dirs);
	json_decref(dirs);
	return a;
}

static void
limit_answer(struct http_response *resp, int status, const char *detail)
{
	json_t *p = json_pack("{s:s,s:i,s:s}", "type",
	    "urn:ietf:params:jmap:error:limit", "status", status, "detail",
	    detail);
	char *s = json_dumps(p, JSON_COMPACT);

	resp->status = status;
	buf_reset(&resp->body);
	buf_puts(&resp->body, s);
	free(s);
	json_decref(p);
	http_response_field(resp, "Content-Type", "application/problem+json");
	http_response_field(resp, "Retry-After", "30");
}

int
jmap_push_attach(struct httpd_job *j, const struct jmap_push_req *r)
{
	struct http_response *resp = &j->resp;
	bool full;

	push_init(j->svc);
	struct push_acct *a = acct_get(r, &full);
	if (full) {
		limit_answer(resp, 429, "Too many event sources for this account.");
		return 0;
	}
	struct push_client *c = xcalloc(1, sizeof(*c));
	c->s = httpd_stream_open(j, client_closed, c);
	if (c->s == NULL) {
		free(c);
		if (a->nclients == 0)
			acct_free(a);
		limit_answer(resp, 503, "Too many event sources on this server.");
		return 0;
	}
	c->a = a;
	c->types = r->types != NULL && strcmp(r->types, "*") != 0 ?
	    xstrdup(r->types) : NULL;
	c->closeafter = r->closeafter;
	c->next = a->clients;
	a->clients = c;
	a->nclients++;

	/* the first piece: the current states, unless the client asked to
	 * close after one and the states are those it saw last (it then
	 * waits for a change) */
	json_t *f = jmap_push_filter(r->states, c->types);
	struct buf ev;
	char id[24];
	buf_init(&ev, 0);
	jmap_push_event(a->account_id, f, &ev, id);
	bool seen = r->last_event_id != NULL && strcmp(r->last_event_id, id) == 0;
	resp->status = 200;
	buf_reset(&resp->body);
	if (r->closeafter && seen) {
		buf_puts(&resp->body, ": waiting for a change\n\n");
		c->sent = f;
	} else if (r->closeafter) {
		buf_append(&resp->body, ev.data, ev.len);
		json_decref(f);
		c->sent = NULL;
	} else {
		buf_append(&resp->body, ev.data, ev.len);
		c->sent = f;
	}
	buf_free(&ev);
	http_response_field(resp, "Content-Type", "text/event-stream");
	http_response_field(resp, "Cache-Control", "no-store");
	http_response_field(resp, "X-Accel-Buffering", "no");
	if (r->ping > 0) {
		c->ping = r->ping < JMAP_PUSH_PING_MIN ? JMAP_PUSH_PING_MIN :
		    r->ping > JMAP_PUSH_PING_MAX ? JMAP_PUSH_PING_MAX : r->ping;
		struct timeval tv = { c->ping, 0 };
		c->ping_ev = event_new(push.base, -1, EV_PERSIST, on_ping, c);
		event_add(c->ping_ev, &tv);
	}
	if (r->closeafter && !seen)
		httpd_stream_end(c->s);   /* right after the head */
	/* a change between the states read and now is caught up */
	acct_kick(a);
	return 1;
}
